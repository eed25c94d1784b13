/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_K8S_STREAM_H
#define LIVEBIND_K8S_STREAM_H 1

/* Kubernetes watch stream parser.
 *
 * A watch response body is a sequence of JSON objects ("events"), each
 * {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}},
 * each ended by a newline.  HTTP chunk and read() boundaries do not line up
 * with the objects, so this module turns an arbitrarily split byte stream
 * back into complete, validated events.  It does no I/O.
 *
 * A bad event costs only itself: the parser reports it as an INVALID event
 * and starts afresh at the newline that ends it, even if its brackets do not
 * balance.  Memory is bounded: an event larger than 'max_event' bytes is not
 * buffered; the parser reports an error and skips to the end of that object
 * or line.
 *
 * Usage:
 *
 *     while (n > 0) {
 *         size_t used = k8s_stream_feed(&s, data, n);
 *         data += used;
 *         n -= used;
 *
 *         struct k8s_event ev;
 *         if (k8s_stream_take(&s, &ev)) {
 *             ...use 'ev'...
 *             k8s_event_destroy(&ev);
 *         }
 *     }
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Default bound on one event's size. */
#define K8S_STREAM_MAX_EVENT (16 * 1024 * 1024)

/* Bounds on strings in object metadata: Kubernetes names are at most 253
 * bytes; a resourceVersion is an opaque but short string. */
#define K8S_NAME_MAX 253
#define K8S_RV_MAX 64

enum k8s_event_type {
    K8S_EVENT_ADDED,
    K8S_EVENT_MODIFIED,
    K8S_EVENT_DELETED,
    K8S_EVENT_BOOKMARK,     /* Only 'resource_version' is meaningful. */
    K8S_EVENT_ERROR,        /* The server sent an ERROR event (a Status). */
    K8S_EVENT_INVALID,      /* The stream had bad input; see 'error'. */
};

const char *k8s_event_type_to_string(enum k8s_event_type);

/* One parsed event.  For ADDED, MODIFIED and DELETED, 'object' is a JSON
 * object whose metadata.name is a valid string, and 'namespace' (NULL for
 * cluster-scoped objects), 'name' and 'resource_version' point into it.  For
 * BOOKMARK, 'resource_version' is set.  For ERROR, 'object' is the Status (if
 * it was an object), 'code' its HTTP code (e.g. 410, or 0 if it had none) and
 * 'error' its message.  For INVALID, 'error' says what was wrong. */
struct k8s_event {
    enum k8s_event_type type;
    json_t *object;             /* Owned reference, or NULL. */
    const char *namespace;
    const char *name;
    const char *resource_version;
    int code;
    char *error;                /* Owned, or NULL. */
};

void k8s_event_destroy(struct k8s_event *);

/* Byte-stream splitter and parser state. */
struct k8s_stream {
    size_t max_event;           /* Bound on one event's size in bytes. */

    /* Bytes of the event being accumulated (from its opening brace). */
    char *buf;
    size_t len;
    size_t alloc;

    /* Lexical state of the scanner, carried across feeds. */
    size_t depth;               /* Nesting depth; 0 between events. */
    bool in_string;
    bool escape;
    bool discarding;            /* Skipping the rest of an oversized event. */
    bool in_garbage;            /* Skipping bytes that are not an event. */
    uint64_t offset;            /* Total bytes fed, for error messages. */

    /* Result ready for k8s_stream_take(). */
    bool ready;
    struct k8s_event event;
};

void k8s_stream_init(struct k8s_stream *, size_t max_event);
void k8s_stream_destroy(struct k8s_stream *);
void k8s_stream_reset(struct k8s_stream *);
size_t k8s_stream_feed(struct k8s_stream *, const char *data, size_t n);
bool k8s_stream_take(struct k8s_stream *, struct k8s_event *);
bool k8s_stream_is_idle(const struct k8s_stream *);

/* Helpers shared with the client and its tests. */
bool k8s_event_parse(json_t *json, struct k8s_event *);
int k8s_status_code(const json_t *);
const char *k8s_status_message(const json_t *);
bool k8s_object_key(const json_t *object, const char **namespace,
                    const char **name, const char **resource_version,
                    char **errorp);

#endif /* k8s-stream.h */
