/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "events.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hash.h"
#include "util.h"
#include "lb-json.h"

/* An Event created, with what is needed to count its recurrences. */
struct lb_event_series {
    struct hmap_node hmap_node;
    char *key;
    char *path;                 /* The Event object's path. */
    long long int last_seen;
    long long int last_written;
    int64_t count;              /* Occurrences, the first included. */
    int64_t written_count;      /* Count the API server has. */
};

/* The rate limit's state for one regarding object. */
struct lb_event_bucket {
    struct hmap_node hmap_node;
    char *object;
    double tokens;
    long long int updated;
};

static void update_next_run(struct lb_event_recorder *);

void
lb_event_write_destroy(struct lb_event_write *w)
{
    if (w) {
        free(w->path);
        json_decref(w->body);
        w->path = NULL;
        w->body = NULL;
    }
}

void
lb_event_recorder_init(struct lb_event_recorder *rec, const char *controller,
                       const char *instance)
{
    memset(rec, 0, sizeof *rec);
    rec->controller = xstrdup(controller);
    rec->instance = xstrdup(instance);
    hmap_init(&rec->series);
    hmap_init(&rec->buckets);
    rec->next_run = LLONG_MAX;
}

static void
series_destroy(struct lb_event_series *s)
{
    free(s->key);
    free(s->path);
    free(s);
}

void
lb_event_recorder_destroy(struct lb_event_recorder *rec)
{
    if (!rec) {
        return;
    }
    struct lb_event_series *s;
    HMAP_FOR_EACH_POP (s, hmap_node, &rec->series) {
        series_destroy(s);
    }
    hmap_destroy(&rec->series);
    struct lb_event_bucket *b;
    HMAP_FOR_EACH_POP (b, hmap_node, &rec->buckets) {
        free(b->object);
        free(b);
    }
    hmap_destroy(&rec->buckets);
    free(rec->controller);
    free(rec->instance);
}

void
lb_event_format_micro_time(long long int msec, char buf[32])
{
    time_t secs = msec / 1000;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%06dZ", (int) (msec % 1000) * 1000);
}

static const char *
object_key(const struct lb_event_object *o)
{
    return o->uid && o->uid[0] ? o->uid : o->name;
}

/* Takes a token from the regarding object's bucket, if it has one. */
static bool
take_token(struct lb_event_recorder *rec, const struct lb_event_object *o,
           long long int now)
{
    const char *key = object_key(o);
    uint32_t hash = hash_string(key, 0);
    struct lb_event_bucket *b = NULL, *iter;
    HMAP_FOR_EACH_WITH_HASH (iter, hmap_node, hash, &rec->buckets) {
        if (!strcmp(iter->object, key)) {
            b = iter;
            break;
        }
    }
    if (!b) {
        b = xzalloc(sizeof *b);
        b->object = xstrdup(key);
        b->tokens = LB_EVENT_BURST;
        b->updated = now;
        hmap_insert(&rec->buckets, &b->hmap_node, hash);
    } else if (now > b->updated) {
        b->tokens += (double) (now - b->updated) / LB_EVENT_REFILL_MS;
        b->tokens = MIN(b->tokens, LB_EVENT_BURST);
        b->updated = now;
    }
    if (b->tokens < 1) {
        return false;
    }
    b->tokens -= 1;
    return true;
}

static struct lb_event_series *
find_series(const struct lb_event_recorder *rec, const char *key,
            uint32_t hash)
{
    struct lb_event_series *s;
    HMAP_FOR_EACH_WITH_HASH (s, hmap_node, hash, &rec->series) {
        if (!strcmp(s->key, key)) {
            return s;
        }
    }
    return NULL;
}

static json_t *
series_patch(const struct lb_event_series *s)
{
    char when[32];
    lb_event_format_micro_time(s->last_seen, when);
    return json_pack("{s:{s:I,s:s}}", "series", "count",
                     (json_int_t) s->count, "lastObservedTime", when);
}

/* Copies at most 'max' bytes of 's', cut at a UTF-8 character boundary. */
static char *
truncate_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        return xstrdup(s);
    }
    n = max;
    while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80) {
        n--;
    }
    return xmemdup0(s, n);
}

static bool
record__(struct lb_event_recorder *rec, long long int now,
         const struct lb_event_object *regarding, enum lb_event_type type,
         const char *reason, const char *action, const char *note,
         struct lb_event_write *write)
{
    const char *type_s = type == LB_EVENT_WARNING ? "Warning" : "Normal";
    char *key = xasprintf("%s/%s/%s/%s/%s\n%s\n%s\n%s",
                          regarding->api_version, regarding->kind,
                          regarding->namespace ? regarding->namespace : "",
                          regarding->name, regarding->uid ? regarding->uid
                          : "", reason, action, type_s);
    uint32_t hash = hash_string(key, 0);
    struct lb_event_series *s = find_series(rec, key, hash);
    if (s && now - s->last_seen > LB_EVENT_SERIES_WINDOW_MS) {
        hmap_remove(&rec->series, &s->hmap_node);
        series_destroy(s);
        s = NULL;
    }

    if (!take_token(rec, regarding, now)) {
        rec->n_dropped++;
        free(key);
        return false;
    }

    if (s) {
        /* Isomorphic: count it.  The second occurrence turns the Event
         * into a series at once; later ones wait for the flush. */
        free(key);
        s->count++;
        s->last_seen = now;
        if (s->written_count > 1) {
            return false;
        }
        write->kind = LB_EVENT_WRITE_PATCH;
        write->path = xstrdup(s->path);
        write->body = series_patch(s);
        s->written_count = s->count;
        s->last_written = now;
        rec->n_patched++;
        return true;
    }

    char *name = xasprintf("%s.%llx%04"PRIx64, regarding->name,
                           (unsigned long long) now, rec->seq++ & 0xffff);
    const char *ns = regarding->namespace && regarding->namespace[0]
                     ? regarding->namespace : "default";
    char when[32];
    lb_event_format_micro_time(now, when);
    char *reason_cut = truncate_utf8(reason, LB_EVENT_REASON_MAX);
    char *note_cut = truncate_utf8(note ? note : "", LB_EVENT_NOTE_MAX);

    json_t *object = json_pack("{s:s,s:s,s:s}",
                               "apiVersion", regarding->api_version,
                               "kind", regarding->kind,
                               "name", regarding->name);
    if (regarding->namespace && regarding->namespace[0]) {
        json_object_set_new(object, "namespace",
                            lb_json_str(regarding->namespace));
    }
    if (regarding->uid && regarding->uid[0]) {
        json_object_set_new(object, "uid", lb_json_str(regarding->uid));
    }
    write->kind = LB_EVENT_WRITE_CREATE;
    write->path = xasprintf("/apis/events.k8s.io/v1/namespaces/%s/events",
                            ns);
    write->body = json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}",
        "apiVersion", "events.k8s.io/v1", "kind", "Event",
        "metadata", "name", name, "namespace", ns,
        "eventTime", when,
        "reportingController", rec->controller,
        "reportingInstance", rec->instance,
        "action", action, "reason", reason_cut, "type", type_s,
        "note", note_cut, "regarding", object);
    free(reason_cut);
    free(note_cut);

    s = xzalloc(sizeof *s);
    s->key = key;
    s->path = xasprintf("%s/%s", write->path, name);
    s->last_seen = s->last_written = now;
    s->count = s->written_count = 1;
    hmap_insert(&rec->series, &s->hmap_node, hash);
    free(name);
    rec->n_created++;
    return true;
}

bool
lb_event_record(struct lb_event_recorder *rec, long long int now,
                const struct lb_event_object *regarding,
                enum lb_event_type type, const char *reason,
                const char *action, const char *note,
                struct lb_event_write *write)
{
    bool wrote = record__(rec, now, regarding, type, reason, action, note,
                          write);
    update_next_run(rec);
    return wrote;
}

size_t
lb_event_recorder_run(struct lb_event_recorder *rec, long long int now,
                      struct lb_event_write **writesp)
{
    struct lb_event_write *writes = NULL;
    size_t n = 0, allocated = 0;

    struct lb_event_series *s;
    HMAP_FOR_EACH_SAFE (s, hmap_node, &rec->series) {
        if (s->count > s->written_count
            && now - s->last_written >= LB_EVENT_SERIES_FLUSH_MS) {
            if (n >= allocated) {
                writes = x2nrealloc(writes, &allocated, sizeof *writes);
            }
            writes[n].kind = LB_EVENT_WRITE_PATCH;
            writes[n].path = xstrdup(s->path);
            writes[n].body = series_patch(s);
            n++;
            s->written_count = s->count;
            s->last_written = now;
            rec->n_patched++;
        }
        if (s->count == s->written_count
            && now - s->last_seen > LB_EVENT_SERIES_WINDOW_MS) {
            hmap_remove(&rec->series, &s->hmap_node);
            series_destroy(s);
        }
    }
    update_next_run(rec);
    *writesp = writes;
    return n;
}

/* Recomputes 'rec->next_run' after the series changed. */
static void
update_next_run(struct lb_event_recorder *rec)
{
    long long int next = LLONG_MAX;
    const struct lb_event_series *s;
    HMAP_FOR_EACH (s, hmap_node, &rec->series) {
        long long int when = (s->count > s->written_count
                              ? s->last_written + LB_EVENT_SERIES_FLUSH_MS
                              : s->last_seen + LB_EVENT_SERIES_WINDOW_MS
                                + 1);
        next = MIN(next, when);
    }
    rec->next_run = next;
}

long long int
lb_event_recorder_next_run(const struct lb_event_recorder *rec)
{
    return rec->next_run;
}
