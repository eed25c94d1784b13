/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_K8S_CLIENT_H
#define LIVEBIND_K8S_CLIENT_H 1

/* Kubernetes API client for a single-threaded OVS poll loop.
 *
 * All I/O is asynchronous (libcurl's multi interface).  Call k8s_client_run()
 * in the main loop's run phase (it does the I/O and invokes callbacks) and
 * k8s_client_wait() in its wait phase, before poll_block().
 *
 * Watches
 * -------
 *
 * k8s_watch_create() keeps a local copy of a collection (e.g. the pods on one
 * node) in step with the API server: it lists the collection (paginated),
 * then watches from the list's resourceVersion with bookmarks, resumes from
 * the last resourceVersion seen after a dropped stream, and lists again when
 * the server says that version has expired (410 Gone).  The client keeps the
 * objects it has reported, so the callback sees only state changes:
 *
 *   K8S_CHANGE_UPSERT: 'object' was added or changed.
 *   K8S_CHANGE_REMOVE: 'object' (the last version seen) is gone, whether a
 *                      DELETED event said so or a re-list no longer had it.
 *   K8S_CHANGE_SYNCED: a (re-)list has been fully applied: the consumer's
 *                      view now equals the server's.  Sent after the first
 *                      list and after every re-list.
 *
 * An object is removed only if it was upserted before, and a duplicate of the
 * version last reported is not reported again, so a consumer that applies
 * UPSERT and REMOVE to its own state is always consistent with the server.
 *
 * Errors (connection failures, HTTP errors, malformed or oversized events)
 * are retried with exponential backoff and jitter; see
 * k8s_client_format_status() for the state of each watch.
 *
 * Writes
 * ------
 *
 * k8s_get(), k8s_create(), k8s_update(), k8s_merge_patch(), k8s_json_patch()
 * and k8s_delete() start one request and return its id; the callback gets a
 * struct k8s_result from a later k8s_client_run().  Writes are not retried
 * (a retried create could wrongly see its own success as a conflict), except
 * that k8s_read_modify_write() re-reads and retries on 409 Conflict.
 *
 * Paths are API paths such as "/api/v1/namespaces/default/pods/foo" or
 * "/apis/livebind.io/v1alpha1/ipallocations".
 *
 * Callbacks may start and cancel requests and destroy watches, but must not
 * destroy the client. */

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct ds;
struct k8s_client;
struct k8s_config;
struct k8s_watch;

/* Tunables.  Zero members take the defaults shown. */
struct k8s_client_options {
    size_t max_event;           /* Watch event size bound, 16 MiB. */
    size_t max_body;            /* Response body bound, 64 MiB. */
    int list_page_size;         /* Items per list page, 500. */
    int watch_timeout_s;        /* Server-side watch length, 300..600 s. */
    int request_timeout_ms;     /* Bound on non-watch requests, 30 s. */
    int backoff_min_ms;         /* First retry delay, 100 ms. */
    int backoff_max_ms;         /* Largest retry delay, 30 s. */
};

struct k8s_client *k8s_client_create(const struct k8s_config *,
                                     const struct k8s_client_options *);
void k8s_client_destroy(struct k8s_client *);
void k8s_client_run(struct k8s_client *);
void k8s_client_wait(struct k8s_client *);
void k8s_client_format_status(const struct k8s_client *, struct ds *);
const char *k8s_client_server(const struct k8s_client *);

/* Watches. */

enum k8s_change {
    K8S_CHANGE_UPSERT,
    K8S_CHANGE_REMOVE,
    K8S_CHANGE_SYNCED,
};

const char *k8s_change_to_string(enum k8s_change);

/* 'namespace' is NULL for cluster-scoped objects.  For K8S_CHANGE_SYNCED,
 * 'namespace', 'name' and 'object' are NULL.  For K8S_CHANGE_REMOVE,
 * 'object' is the final state the server sent, or NULL if a relist found
 * the object gone (the watch keeps no object, only its key and version).
 * 'object' is valid only during the call (json_incref() it to keep it) and
 * must not be modified. */
typedef void k8s_watch_cb(void *aux, enum k8s_change,
                          const char *namespace, const char *name,
                          const json_t *object);

struct k8s_watch *k8s_watch_create(struct k8s_client *, const char *path,
                                   const char *label_selector,
                                   const char *field_selector,
                                   k8s_watch_cb *, void *aux);
void k8s_watch_destroy(struct k8s_watch *);
bool k8s_watch_is_synced(const struct k8s_watch *);
size_t k8s_watch_count(const struct k8s_watch *);
const char *k8s_watch_resource_version(const struct k8s_watch *);

struct k8s_watch_stats {
    unsigned long long int n_lists;     /* Lists completed or started. */
    unsigned long long int n_relists;   /* After 410 Gone or errors. */
    unsigned long long int n_events;    /* Watch events received. */
    unsigned long long int n_errors;
};
void k8s_watch_get_stats(const struct k8s_watch *, struct k8s_watch_stats *);

/* Requests. */

/* The outcome of a request.  'status' is the HTTP status, or 0 if there was
 * no HTTP response (connection failure, timeout, bad argument).  'body' is
 * the parsed JSON response body, if any.  'error' is NULL on success (2xx),
 * otherwise a message: the Status message the server sent, or what went
 * wrong locally. */
struct k8s_result {
    long status;
    json_t *body;
    char *error;
};

void k8s_result_destroy(struct k8s_result *);

/* Called once per request, from k8s_client_run(), unless the request was
 * cancelled or the client destroyed first.  'result' and its members belong
 * to the client. */
typedef void k8s_done_cb(void *aux, const struct k8s_result *result);

uint64_t k8s_request(struct k8s_client *, const char *method,
                     const char *path, const char *content_type,
                     const json_t *body, k8s_done_cb *, void *aux);
uint64_t k8s_get(struct k8s_client *, const char *path,
                 k8s_done_cb *, void *aux);
uint64_t k8s_create(struct k8s_client *, const char *collection_path,
                    const json_t *object, k8s_done_cb *, void *aux);
uint64_t k8s_update(struct k8s_client *, const char *path,
                    const json_t *object, k8s_done_cb *, void *aux);
uint64_t k8s_merge_patch(struct k8s_client *, const char *path,
                         const json_t *patch, k8s_done_cb *, void *aux);
uint64_t k8s_json_patch(struct k8s_client *, const char *path,
                        const json_t *operations, k8s_done_cb *, void *aux);
uint64_t k8s_delete(struct k8s_client *, const char *path,
                    const char *resource_version, k8s_done_cb *, void *aux);

/* Read-modify-write.  Called with the current object; returns the object to
 * store (a new reference, which the client takes), or NULL to write nothing:
 * with '*errorp' NULL the operation then completes successfully with the
 * current object, otherwise it fails with message '*errorp' (which the client
 * frees).  The update is conditional on the resourceVersion read: it is set
 * in the returned object unless that already has one. */
typedef json_t *k8s_mutate_cb(void *aux, const json_t *current,
                              char **errorp);

#define K8S_RMW_DEFAULT_ATTEMPTS 5

uint64_t k8s_read_modify_write(struct k8s_client *, const char *path,
                               int max_attempts, k8s_mutate_cb *,
                               k8s_done_cb *, void *aux);

void k8s_cancel(struct k8s_client *, uint64_t id);
bool k8s_is_pending(const struct k8s_client *, uint64_t id);

/* Blocking conveniences for tools and tests: they run their own poll loop
 * (which also runs watches' callbacks) until the request completes. */
bool k8s_client_wait_for(struct k8s_client *, uint64_t id,
                         long long int timeout_ms);
int k8s_request_sync(struct k8s_client *, const char *method,
                     const char *path, const char *content_type,
                     const json_t *body, long long int timeout_ms,
                     struct k8s_result *);
int k8s_read_modify_write_sync(struct k8s_client *, const char *path,
                               int max_attempts, k8s_mutate_cb *, void *aux,
                               long long int timeout_ms,
                               struct k8s_result *);

#endif /* k8s-client.h */
