/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "k8s-stream.h"

#include <ctype.h>
#include <string.h>
#include "openvswitch/util.h"
#include "util.h"

#include "lb-json.h"

const char *
k8s_event_type_to_string(enum k8s_event_type type)
{
    switch (type) {
    case K8S_EVENT_ADDED: return "ADDED";
    case K8S_EVENT_MODIFIED: return "MODIFIED";
    case K8S_EVENT_DELETED: return "DELETED";
    case K8S_EVENT_BOOKMARK: return "BOOKMARK";
    case K8S_EVENT_ERROR: return "ERROR";
    case K8S_EVENT_INVALID: return "INVALID";
    }
    return "<unknown>";
}

void
k8s_event_destroy(struct k8s_event *ev)
{
    if (ev) {
        json_decref(ev->object);
        free(ev->error);
        memset(ev, 0, sizeof *ev);
    }
}

/* Sets 'ev' to an INVALID event whose message is formatted from 'format'. */
static void OVS_PRINTF_FORMAT(2, 3)
k8s_event_set_invalid(struct k8s_event *ev, const char *format, ...)
{
    va_list args;

    memset(ev, 0, sizeof *ev);
    ev->type = K8S_EVENT_INVALID;
    va_start(args, format);
    ev->error = xvasprintf(format, args);
    va_end(args);
}

/* Checks that 'value' is a string usable as a name, namespace or
 * resourceVersion: 1 to 'max' bytes, no control characters or '/'.  Returns
 * the string, or NULL with '*errorp' set to a message naming 'what'. */
static const char *
k8s_check_string(const json_t *value, const char *what, size_t max,
                 char **errorp)
{
    if (!json_is_string(value)) {
        *errorp = xasprintf("%s is %s, not a string", what,
                            value ? "of the wrong type" : "missing");
        return NULL;
    }

    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    if (!len || len > max) {
        *errorp = xasprintf("%s has length %"PRIuSIZE" (must be 1 to "
                            "%"PRIuSIZE")", what, len, max);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == 0x7f || c == '/') {
            *errorp = xasprintf("%s contains the invalid byte 0x%02x",
                                what, c);
            return NULL;
        }
    }
    return s;
}

/* Extracts the identity of Kubernetes 'object': metadata.namespace (NULL if
 * absent or empty, i.e. cluster-scoped), metadata.name and
 * metadata.resourceVersion.  Any of the output pointers may be NULL.  Returns
 * true on success; otherwise false with '*errorp' set to a message (the
 * caller frees it). */
bool
k8s_object_key(const json_t *object, const char **namespacep,
               const char **namep, const char **rvp, char **errorp)
{
    char *error = NULL;
    const char *namespace = NULL;
    const char *name = NULL;
    const char *rv = NULL;

    const json_t *metadata = json_object_get(object, "metadata");
    if (!json_is_object(object)) {
        error = xstrdup("object is not a JSON object");
        goto error;
    } else if (!json_is_object(metadata)) {
        error = xstrdup("object has no 'metadata' object");
        goto error;
    }

    name = k8s_check_string(json_object_get(metadata, "name"),
                            "metadata.name", K8S_NAME_MAX, &error);
    if (!name) {
        goto error;
    }

    const json_t *ns = json_object_get(metadata, "namespace");
    if (ns && !json_is_null(ns)
        && !(json_is_string(ns) && !json_string_length(ns))) {
        namespace = k8s_check_string(ns, "metadata.namespace", K8S_NAME_MAX,
                                     &error);
        if (!namespace) {
            goto error;
        }
    }

    rv = k8s_check_string(json_object_get(metadata, "resourceVersion"),
                          "metadata.resourceVersion", K8S_RV_MAX, &error);
    if (!rv) {
        goto error;
    }

    if (namespacep) {
        *namespacep = namespace;
    }
    if (namep) {
        *namep = name;
    }
    if (rvp) {
        *rvp = rv;
    }
    if (errorp) {
        *errorp = NULL;
    }
    return true;

error:
    if (errorp) {
        *errorp = error;
    } else {
        free(error);
    }
    return false;
}

/* If 'json' is a Kubernetes Status object (kind "Status", or no kind) with an
 * integer "code", returns the code, otherwise 0. */
int
k8s_status_code(const json_t *json)
{
    const json_t *kind = json_object_get(json, "kind");
    const json_t *code = json_object_get(json, "code");

    if (json_is_object(json) && json_is_integer(code)
        && (!kind || (json_is_string(kind)
                      && !strcmp(json_string_value(kind), "Status")))) {
        json_int_t value = json_integer_value(code);
        return value >= 100 && value <= 999 ? value : 0;
    }
    return 0;
}

/* Returns the "message" of Status 'json', or NULL if it has none. */
const char *
k8s_status_message(const json_t *json)
{
    return json_string_value(json_object_get(json, "message"));
}

static bool
k8s_event_type_from_string(const char *s, enum k8s_event_type *type)
{
    static const enum k8s_event_type types[] = {
        K8S_EVENT_ADDED, K8S_EVENT_MODIFIED, K8S_EVENT_DELETED,
        K8S_EVENT_BOOKMARK, K8S_EVENT_ERROR,
    };

    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        if (!strcmp(s, k8s_event_type_to_string(types[i]))) {
            *type = types[i];
            return true;
        }
    }
    return false;
}

/* Validates watch event 'json' and fills in 'ev' from it.  Takes ownership of
 * 'json'.  Returns true if 'ev' is a valid event; otherwise 'ev' is an INVALID
 * event that says why and the function returns false. */
bool
k8s_event_parse(json_t *json, struct k8s_event *ev)
{
    enum k8s_event_type type;
    char *error;

    memset(ev, 0, sizeof *ev);
    if (!json_is_object(json)) {
        k8s_event_set_invalid(ev, "watch event is not a JSON object");
        goto error;
    }

    const json_t *type_json = json_object_get(json, "type");
    if (!json_is_string(type_json)) {
        k8s_event_set_invalid(ev, "watch event has no string 'type'");
        goto error;
    }
    if (!k8s_event_type_from_string(json_string_value(type_json), &type)) {
        k8s_event_set_invalid(ev, "watch event has unknown type \"%.32s\"%s",
                              json_string_value(type_json),
                              json_string_length(type_json) > 32 ? "..." : "");
        goto error;
    }

    json_t *object = json_object_get(json, "object");
    if (type == K8S_EVENT_ERROR) {
        const char *message = k8s_status_message(object);
        ev->type = type;
        ev->object = json_is_object(object) ? json_incref(object) : NULL;
        ev->code = k8s_status_code(object);
        ev->error = xstrdup(message ? message
                            : "ERROR event without a Status message");
        json_decref(json);
        return true;
    }

    if (!json_is_object(object)) {
        k8s_event_set_invalid(ev, "%s watch event has no 'object' object",
                              k8s_event_type_to_string(type));
        goto error;
    }

    if (type == K8S_EVENT_BOOKMARK) {
        const char *rv = k8s_check_string(
            json_object_get(json_object_get(object, "metadata"),
                            "resourceVersion"),
            "metadata.resourceVersion", K8S_RV_MAX, &error);
        if (!rv) {
            k8s_event_set_invalid(ev, "BOOKMARK watch event: %s", error);
            free(error);
            goto error;
        }
        ev->resource_version = rv;
    } else if (!k8s_object_key(object, &ev->namespace, &ev->name,
                               &ev->resource_version, &error)) {
        k8s_event_set_invalid(ev, "%s watch event: %s",
                              k8s_event_type_to_string(type), error);
        free(error);
        goto error;
    }

    /* The pointers above point into 'object', which we keep. */
    ev->type = type;
    ev->object = json_incref(object);
    json_decref(json);
    return true;

error:
    json_decref(json);
    return false;
}

void
k8s_stream_init(struct k8s_stream *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_event = max_event ? max_event : K8S_STREAM_MAX_EVENT;
}

void
k8s_stream_destroy(struct k8s_stream *s)
{
    if (s) {
        free(s->buf);
        k8s_event_destroy(&s->event);
    }
}

/* Forgets everything buffered, e.g. for a new HTTP response.  Keeps the
 * buffer's memory unless it grew large. */
void
k8s_stream_reset(struct k8s_stream *s)
{
    size_t max_event = s->max_event;
    char *buf = s->buf;
    size_t alloc = s->alloc;

    k8s_event_destroy(&s->event);
    if (alloc > 64 * 1024) {
        free(buf);
        buf = NULL;
        alloc = 0;
    }
    memset(s, 0, sizeof *s);
    s->max_event = max_event;
    s->buf = buf;
    s->alloc = alloc;
}

/* True if no event is partially buffered and none is waiting to be taken. */
bool
k8s_stream_is_idle(const struct k8s_stream *s)
{
    return !s->depth && !s->ready;
}

static void
k8s_stream_append(struct k8s_stream *s, char c)
{
    if (s->len >= s->alloc) {
        size_t alloc = s->alloc ? s->alloc * 2 : 1024;
        s->alloc = MIN(alloc, s->max_event);
        s->buf = xrealloc(s->buf, s->alloc);
    }
    s->buf[s->len++] = c;
}

/* Parses the complete event buffered in 's'. */
static void
k8s_stream_finish_event(struct k8s_stream *s)
{
    json_error_t error;
    json_t *json = json_loadb(s->buf, s->len, 0, &error);

    if (!json) {
        k8s_event_set_invalid(&s->event,
                              "malformed JSON in watch event ending at "
                              "byte %"PRIu64": %s (line %d, column %d)",
                              s->offset, error.text, error.line,
                              error.column);
    } else {
        k8s_event_parse(json, &s->event);
    }
    s->len = 0;
    s->ready = true;
}

/* Feeds the 'n' bytes in 'data' to 's' until an event (or an error) is ready.
 * Returns the number of bytes consumed: the caller should then call
 * k8s_stream_take() and feed the rest.  Consumes nothing while an event is
 * waiting to be taken. */
size_t
k8s_stream_feed(struct k8s_stream *s, const char *data, size_t n)
{
    size_t i;

    for (i = 0; i < n && !s->ready; i++) {
        unsigned char c = data[i];
        s->offset++;

        if (!s->depth) {
            if (c == '{') {
                s->in_garbage = false;
                s->depth = 1;
                s->in_string = s->escape = s->discarding = false;
                s->len = 0;
                k8s_stream_append(s, c);
            } else if (!s->in_garbage && !isspace(c)) {
                /* Report once per run of garbage, then skip it up to the next
                 * opening brace. */
                s->in_garbage = true;
                k8s_event_set_invalid(&s->event,
                                      "unexpected byte 0x%02x at byte %"PRIu64
                                      " of the watch stream, outside any "
                                      "event", c, s->offset);
                s->ready = true;
            }
            continue;
        }

        /* The API server ends every event with a newline, and JSON has no
         * raw newline inside a string, so a newline inside an event means
         * that the event was bad (unbalanced brackets or an unterminated
         * string).  Start afresh after it: counting brackets on would take
         * every later event for part of this one. */
        if (c == '\n') {
            if (!s->discarding) {
                k8s_event_set_invalid(&s->event,
                                      "watch event starting at byte "
                                      "%"PRIu64" ends at a newline before "
                                      "it is complete (unbalanced brackets "
                                      "or an unterminated string); "
                                      "skipping it",
                                      s->offset - s->len);
                s->ready = true;
            }
            s->depth = 0;
            s->len = 0;
            s->discarding = false;
            continue;
        }

        if (!s->discarding) {
            if (s->len >= s->max_event) {
                k8s_event_set_invalid(&s->event,
                                      "watch event starting at byte %"PRIu64
                                      " is larger than the limit of "
                                      "%"PRIuSIZE" bytes; skipping it",
                                      s->offset - s->len, s->max_event);
                s->ready = true;
                s->discarding = true;
                s->len = 0;
                if (s->alloc > 64 * 1024) {
                    free(s->buf);
                    s->buf = NULL;
                    s->alloc = 0;
                }
            } else {
                k8s_stream_append(s, c);
            }
        }

        if (s->in_string) {
            if (s->escape) {
                s->escape = false;
            } else if (c == '\\') {
                s->escape = true;
            } else if (c == '"') {
                s->in_string = false;
            }
        } else if (c == '"') {
            s->in_string = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if (c == '}' || c == ']') {
            if (!--s->depth) {
                if (s->discarding) {
                    s->discarding = false;
                } else {
                    k8s_stream_finish_event(s);
                }
            }
        }
    }
    return i;
}

/* If an event (or an INVALID event describing bad input) is ready, moves it
 * into 'ev' and returns true; the caller must k8s_event_destroy() it.
 * Otherwise returns false. */
bool
k8s_stream_take(struct k8s_stream *s, struct k8s_event *ev)
{
    if (!s->ready) {
        return false;
    }
    *ev = s->event;
    memset(&s->event, 0, sizeof s->event);
    s->ready = false;
    return true;
}
