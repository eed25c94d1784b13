/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_EVENTS_H
#define LIVEBIND_EVENTS_H 1

/* Kubernetes Events (events.k8s.io/v1) as an operator's kubectl shows them:
 * which Event objects to create or patch, aggregated and rate-limited the
 * way Kubernetes' own recorders do, so that a thousand migrations do not
 * flood the API server.  Pure: no I/O, the caller passes the time and sends
 * the writes this returns.
 *
 * Aggregation (client-go's tools/events): events with the same regarding
 * object, reason, action, type and reporting controller are isomorphic.
 * The first is created; the second within LB_EVENT_SERIES_WINDOW_MS makes
 * it a series (count 2) with a patch; later ones only count, and the count
 * is patched at most once per LB_EVENT_SERIES_FLUSH_MS.  A series not seen
 * for the window is forgotten, and the next one starts a new Event.
 *
 * Rate limit (client-go's EventCorrelator spam filter): a token bucket per
 * regarding object, LB_EVENT_BURST events, then one per
 * LB_EVENT_REFILL_MS.  What it drops is counted, never queued. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "openvswitch/hmap.h"

#define LB_EVENT_SERIES_WINDOW_MS (6 * 60 * 1000)
#define LB_EVENT_SERIES_FLUSH_MS (30 * 1000)
#define LB_EVENT_BURST 25
#define LB_EVENT_REFILL_MS (5 * 60 * 1000)

/* events.k8s.io/v1 validation limits. */
#define LB_EVENT_NOTE_MAX 1024
#define LB_EVENT_REASON_MAX 128

/* The object an Event is about.  Strings are borrowed. */
struct lb_event_object {
    const char *api_version;
    const char *kind;
    const char *namespace;
    const char *name;
    const char *uid;
};

enum lb_event_type {
    LB_EVENT_NORMAL,
    LB_EVENT_WARNING,
};

struct lb_event_recorder {
    char *controller;           /* reportingController. */
    char *instance;             /* reportingInstance. */
    struct hmap series;         /* "struct lb_event_series" by key. */
    struct hmap buckets;        /* "struct lb_event_bucket" by object. */
    uint64_t seq;               /* Makes Event names unique. */
    uint64_t n_created;
    uint64_t n_patched;
    uint64_t n_dropped;         /* By the rate limit. */

    /* When lb_event_recorder_run() has something to do: kept up to date
     * by the two functions that change the series, because the agent asks
     * for it on every iteration of its loop. */
    long long int next_run;
};

/* One write for the caller to send to the API server. */
enum lb_event_write_kind {
    LB_EVENT_WRITE_CREATE,      /* POST 'body' to 'path'. */
    LB_EVENT_WRITE_PATCH,       /* Merge-patch 'path' with 'body'. */
};

struct lb_event_write {
    enum lb_event_write_kind kind;
    char *path;
    json_t *body;
};

void lb_event_write_destroy(struct lb_event_write *);

void lb_event_recorder_init(struct lb_event_recorder *,
                            const char *controller, const char *instance);
void lb_event_recorder_destroy(struct lb_event_recorder *);

/* Records one occurrence at 'now' (wall clock, msec since the epoch).
 * Returns true and fills '*write' if something must be written now; false
 * if the occurrence was only counted (a series) or dropped (rate limit). */
bool lb_event_record(struct lb_event_recorder *, long long int now,
                     const struct lb_event_object *regarding,
                     enum lb_event_type, const char *reason,
                     const char *action, const char *note,
                     struct lb_event_write *write);

/* Series counts due to be patched at 'now', and series to forget.  Returns
 * the number of writes appended to '*writes' (an array the caller frees
 * with lb_event_write_destroy() on each and free()). */
size_t lb_event_recorder_run(struct lb_event_recorder *, long long int now,
                             struct lb_event_write **writes);

/* When lb_event_recorder_run() has something to do, or LLONG_MAX. */
long long int lb_event_recorder_next_run(const struct lb_event_recorder *);

/* RFC 3339 with microseconds, as metav1.MicroTime: "...T22:30:01.123000Z".
 * 'buf' holds at least 32 bytes. */
void lb_event_format_micro_time(long long int msec, char buf[32]);

#endif /* lib/events.h */
