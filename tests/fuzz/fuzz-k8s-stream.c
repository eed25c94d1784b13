/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The watch stream (lib/k8s-stream): bytes from the API server, split as
 * the network splits them.
 *
 * Input: one byte choosing how to split and the event size bound, then the
 * stream.  Invariants: every event keeps the promises of k8s-stream.h, and
 * the events do not depend on how the stream is split (fed whole, and in
 * pieces of 1 to 16 bytes); and, as every event ends with its line, a bad
 * line costs only itself: the valid events are those of each line parsed on
 * its own (issue 15, defect 4). */

#include <config.h>
#include <string.h>
#include "fuzz.h"
#include "k8s-stream.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

static void
check_event(const struct k8s_event *ev)
{
    switch (ev->type) {
    case K8S_EVENT_ADDED:
    case K8S_EVENT_MODIFIED:
    case K8S_EVENT_DELETED:
        FUZZ_ASSERT(json_is_object(ev->object) && ev->name
                    && ev->resource_version && !ev->error,
                    "%s event", k8s_event_type_to_string(ev->type));
        FUZZ_ASSERT(strlen(ev->name) <= K8S_NAME_MAX
                    && !strchr(ev->name, '/'), "name \"%s\"", ev->name);
        break;
    case K8S_EVENT_BOOKMARK:
        FUZZ_ASSERT(ev->resource_version
                    && strlen(ev->resource_version) <= K8S_RV_MAX,
                    "BOOKMARK event");
        break;
    case K8S_EVENT_ERROR:
    case K8S_EVENT_INVALID:
        FUZZ_ASSERT(ev->error, "%s event without a message",
                    k8s_event_type_to_string(ev->type));
        break;
    default:
        FUZZ_ASSERT(false, "event type %d", ev->type);
    }
}

/* Feeds 'data' to a fresh stream in pieces of 'piece' bytes (all at once if
 * 0), cycling through 1...'piece' if 'vary', and describes the events in
 * 'out' and the valid ones (not INVALID) in 'valid' if nonnull. */
static void
run(const char *data, size_t size, size_t max_event, size_t piece, bool vary,
    struct ds *out, struct ds *valid)
{
    struct k8s_stream s;
    size_t next = 1;

    k8s_stream_init(&s, max_event);
    while (size > 0) {
        size_t n = !piece ? size : vary ? next : piece;
        n = MIN(n, size);
        if (piece) {
            next = next % piece + 1;
        }

        const char *p = data;
        size_t left = n;
        while (left > 0) {
            size_t used = k8s_stream_feed(&s, p, left);
            p += used;
            left -= used;

            struct k8s_event ev;
            if (k8s_stream_take(&s, &ev)) {
                check_event(&ev);
                ds_put_format(out, "%s %s/%s rv=%s code=%d: %s\n",
                              k8s_event_type_to_string(ev.type),
                              ev.namespace ? ev.namespace : "",
                              ev.name ? ev.name : "",
                              ev.resource_version ? ev.resource_version : "",
                              ev.code, ev.error ? ev.error : "");
                if (valid && ev.type != K8S_EVENT_INVALID) {
                    ds_put_format(valid, "%s %s/%s rv=%s\n",
                                  k8s_event_type_to_string(ev.type),
                                  ev.namespace ? ev.namespace : "",
                                  ev.name ? ev.name : "",
                                  ev.resource_version
                                  ? ev.resource_version : "");
                }
                k8s_event_destroy(&ev);
            } else {
                FUZZ_ASSERT(!left, "stopped without an event");
            }
        }
        data += n;
        size -= n;
    }
    ds_put_format(out, "idle=%d\n", k8s_stream_is_idle(&s));
    k8s_stream_destroy(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    uint8_t control = data[0];
    const char *stream = (const char *) data + 1;
    size--;

    /* A small bound sometimes, so that oversized events are exercised. */
    size_t max_event = control & 0x80 ? 64 + (control & 0x70) * 4 : 0;
    size_t piece = (control & 0x0f) + 1;

    struct ds whole = DS_EMPTY_INITIALIZER;
    struct ds split = DS_EMPTY_INITIALIZER;
    struct ds valid = DS_EMPTY_INITIALIZER;
    run(stream, size, max_event, 0, false, &whole, &valid);
    run(stream, size, max_event, piece, control & 0x10, &split, NULL);
    FUZZ_ASSERT(!strcmp(ds_cstr(&whole), ds_cstr(&split)),
                "split in pieces of %zu%s, events differ:\n--- whole\n%s"
                "--- split\n%s", piece, control & 0x10 ? " (varying)" : "",
                ds_cstr(&whole), ds_cstr(&split));

    /* Every event ends with its line, so a bad line costs only itself: the
     * valid events are those of each line parsed on its own. */
    struct ds by_line = DS_EMPTY_INITIALIZER;
    struct ds scratch = DS_EMPTY_INITIALIZER;
    for (const char *p = stream, *end = stream + size; p < end;) {
        const char *nl = memchr(p, '\n', end - p);
        size_t len = nl ? nl + 1 - p : end - p;
        run(p, len, max_event, 0, false, &scratch, &by_line);
        ds_clear(&scratch);
        p += len;
    }
    FUZZ_ASSERT(!strcmp(ds_cstr(&valid), ds_cstr(&by_line)),
                "a line changed the events of others:\n--- whole\n%s"
                "--- line by line\n%s", ds_cstr(&valid), ds_cstr(&by_line));

    ds_destroy(&whole);
    ds_destroy(&split);
    ds_destroy(&valid);
    ds_destroy(&by_line);
    ds_destroy(&scratch);
    return 0;
}
