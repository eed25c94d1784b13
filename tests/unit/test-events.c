/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "events.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/util.h"
#include "util.h"
#include "lb-json.h"

/* 2026-12-04T22:30:01.123Z */
#define T0 1796423401123LL

static const struct lb_event_object vmi = {
    .api_version = "kubevirt.io/v1",
    .kind = "VirtualMachineInstance",
    .namespace = "default",
    .name = "testvm",
    .uid = "5f2c6b8e-8a36-4d5e-9f0a-3c1b2d4e6f70",
};

static const char *
body_str(const struct lb_event_write *w, const char *path)
{
    const char *value = NULL;
    char *copy = xstrdup(path);
    json_t *node = w->body;
    char *save;
    for (char *p = strtok_r(copy, ".", &save); p && node;
         p = strtok_r(NULL, ".", &save)) {
        node = json_object_get(node, p);
    }
    value = node ? json_string_value(node) : NULL;
    free(copy);
    return value;
}

static void
test_micro_time(void **state OVS_UNUSED)
{
    char buf[32];
    lb_event_format_micro_time(T0, buf);
    assert_string_equal(buf, "2026-12-04T22:30:01.123000Z");
    lb_event_format_micro_time(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
}

static void
test_create(void **state OVS_UNUSED)
{
    struct lb_event_recorder rec;
    lb_event_recorder_init(&rec, "livebind.io/agent", "livebind-agent-n2");

    struct lb_event_write w;
    assert_true(lb_event_record(&rec, T0, &vmi, LB_EVENT_NORMAL,
                                "LiveMigrationActivated", "Activate",
                                "unblocked on node n2", &w));
    assert_int_equal(w.kind, LB_EVENT_WRITE_CREATE);
    assert_string_equal(w.path,
                        "/apis/events.k8s.io/v1/namespaces/default/events");
    assert_string_equal(body_str(&w, "apiVersion"), "events.k8s.io/v1");
    assert_string_equal(body_str(&w, "kind"), "Event");
    assert_string_equal(body_str(&w, "metadata.namespace"), "default");
    assert_true(!strncmp(body_str(&w, "metadata.name"), "testvm.", 7));
    assert_string_equal(body_str(&w, "eventTime"),
                        "2026-12-04T22:30:01.123000Z");
    assert_string_equal(body_str(&w, "reportingController"),
                        "livebind.io/agent");
    assert_string_equal(body_str(&w, "reportingInstance"),
                        "livebind-agent-n2");
    assert_string_equal(body_str(&w, "reason"), "LiveMigrationActivated");
    assert_string_equal(body_str(&w, "action"), "Activate");
    assert_string_equal(body_str(&w, "type"), "Normal");
    assert_string_equal(body_str(&w, "note"), "unblocked on node n2");
    assert_string_equal(body_str(&w, "regarding.kind"),
                        "VirtualMachineInstance");
    assert_string_equal(body_str(&w, "regarding.uid"), vmi.uid);
    assert_null(json_object_get(w.body, "series"));
    char *first_name = xstrdup(body_str(&w, "metadata.name"));
    lb_event_write_destroy(&w);

    /* Another reason at the same instant: another Event, another name. */
    assert_true(lb_event_record(&rec, T0, &vmi, LB_EVENT_WARNING,
                                "LiveMigrationRolledBack", "RollBack",
                                "VMIM failed", &w));
    assert_int_equal(w.kind, LB_EVENT_WRITE_CREATE);
    assert_string_equal(body_str(&w, "type"), "Warning");
    assert_string_not_equal(body_str(&w, "metadata.name"), first_name);
    lb_event_write_destroy(&w);
    free(first_name);

    assert_int_equal(rec.n_created, 2);
    lb_event_recorder_destroy(&rec);
    lb_event_recorder_destroy(NULL);
}

static void
test_series(void **state OVS_UNUSED)
{
    struct lb_event_recorder rec;
    lb_event_recorder_init(&rec, "livebind.io/agent", "n1");
    struct lb_event_write w;

    assert_true(lb_event_record(&rec, T0, &vmi, LB_EVENT_NORMAL, "R", "A",
                                "first", &w));
    char *path = xasprintf("%s/%s", w.path, body_str(&w, "metadata.name"));
    lb_event_write_destroy(&w);
    assert_int_equal(lb_event_recorder_next_run(&rec),
                     T0 + LB_EVENT_SERIES_WINDOW_MS + 1);

    /* The second (the note may differ, as in client-go) patches the series
     * at once. */
    assert_true(lb_event_record(&rec, T0 + 1000, &vmi, LB_EVENT_NORMAL, "R",
                                "A", "second", &w));
    assert_int_equal(w.kind, LB_EVENT_WRITE_PATCH);
    assert_string_equal(w.path, path);
    json_t *series = json_object_get(w.body, "series");
    assert_int_equal(json_integer_value(json_object_get(series, "count")),
                     2);
    assert_string_equal(
        json_string_value(json_object_get(series, "lastObservedTime")),
        "2026-12-04T22:30:02.123000Z");
    lb_event_write_destroy(&w);

    /* Later ones only count ... */
    for (int i = 0; i < 10; i++) {
        assert_false(lb_event_record(&rec, T0 + 2000 + i, &vmi,
                                     LB_EVENT_NORMAL, "R", "A", "more",
                                     &w));
    }
    assert_int_equal(lb_event_recorder_next_run(&rec),
                     T0 + 1000 + LB_EVENT_SERIES_FLUSH_MS);
    struct lb_event_write *writes;
    assert_int_equal(lb_event_recorder_run(&rec, T0 + 5000, &writes), 0);
    free(writes);

    /* ... and are patched at the flush. */
    long long int flush = T0 + 1000 + LB_EVENT_SERIES_FLUSH_MS;
    assert_int_equal(lb_event_recorder_run(&rec, flush, &writes), 1);
    assert_string_equal(writes[0].path, path);
    series = json_object_get(writes[0].body, "series");
    assert_int_equal(json_integer_value(json_object_get(series, "count")),
                     12);
    lb_event_write_destroy(&writes[0]);
    free(writes);
    assert_int_equal(lb_event_recorder_run(&rec, flush + 1, &writes), 0);
    free(writes);

    /* Quiet for the window: forgotten, and the next one is a new Event. */
    long long int later = T0 + 2009 + LB_EVENT_SERIES_WINDOW_MS + 1;
    assert_int_equal(lb_event_recorder_run(&rec, later, &writes), 0);
    free(writes);
    assert_int_equal(lb_event_recorder_next_run(&rec), LLONG_MAX);
    assert_true(lb_event_record(&rec, later, &vmi, LB_EVENT_NORMAL, "R",
                                "A", "again", &w));
    assert_int_equal(w.kind, LB_EVENT_WRITE_CREATE);
    lb_event_write_destroy(&w);

    free(path);
    lb_event_recorder_destroy(&rec);
}

static void
test_rate_limit(void **state OVS_UNUSED)
{
    struct lb_event_recorder rec;
    lb_event_recorder_init(&rec, "livebind.io/agent", "n1");
    struct lb_event_write w;

    /* A burst of distinct events about one object: 25 pass, the rest are
     * dropped and counted. */
    size_t written = 0;
    for (int i = 0; i < 40; i++) {
        char reason[32];
        snprintf(reason, sizeof reason, "Reason%d", i);
        if (lb_event_record(&rec, T0, &vmi, LB_EVENT_NORMAL, reason, "A",
                            "n", &w)) {
            written++;
            lb_event_write_destroy(&w);
        }
    }
    assert_int_equal(written, LB_EVENT_BURST);
    assert_int_equal(rec.n_dropped, 40 - LB_EVENT_BURST);

    /* Another object has its own bucket. */
    struct lb_event_object other = vmi;
    other.name = "othervm";
    other.uid = "0000";
    assert_true(lb_event_record(&rec, T0, &other, LB_EVENT_NORMAL, "R", "A",
                                "n", &w));
    lb_event_write_destroy(&w);

    /* One token comes back per refill period. */
    assert_false(lb_event_record(&rec, T0 + LB_EVENT_REFILL_MS - 1, &vmi,
                                 LB_EVENT_NORMAL, "X", "A", "n", &w));
    assert_true(lb_event_record(&rec, T0 + LB_EVENT_REFILL_MS, &vmi,
                                LB_EVENT_NORMAL, "Y", "A", "n", &w));
    lb_event_write_destroy(&w);
    assert_false(lb_event_record(&rec, T0 + LB_EVENT_REFILL_MS, &vmi,
                                 LB_EVENT_NORMAL, "Z", "A", "n", &w));
    lb_event_recorder_destroy(&rec);
}

static void
test_limits(void **state OVS_UNUSED)
{
    struct lb_event_recorder rec;
    lb_event_recorder_init(&rec, "livebind.io/agent", "n1");
    struct lb_event_write w;

    /* A note past the API's limit is cut at a character boundary. */
    char note[LB_EVENT_NOTE_MAX + 8];
    memset(note, 'a', LB_EVENT_NOTE_MAX - 1);
    strcpy(note + LB_EVENT_NOTE_MAX - 1, "\xc3\xa9tc");   /* "étc" */
    struct lb_event_object cluster_scoped = {
        .api_version = "v1", .kind = "Node", .name = "n1",
    };
    assert_true(lb_event_record(&rec, T0, &cluster_scoped, LB_EVENT_WARNING,
                                "R", "A", note, &w));
    assert_int_equal(strlen(body_str(&w, "note")), LB_EVENT_NOTE_MAX - 1);
    /* Cluster-scoped objects' events go to "default", as kubectl's. */
    assert_string_equal(w.path,
                        "/apis/events.k8s.io/v1/namespaces/default/events");
    assert_null(json_object_get(json_object_get(w.body, "regarding"),
                                "namespace"));
    lb_event_write_destroy(&w);
    lb_event_write_destroy(NULL);
    lb_event_recorder_destroy(&rec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_micro_time),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
