/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "k8s-config.h"
#include "k8s-stream.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* The events of tests/fixtures/kubevirt/21-watch-stream.jsonl. */
static const struct {
    enum k8s_event_type type;
    const char *name;
    const char *rv;
    int code;
} fixture21[] = {
    { K8S_EVENT_ADDED, "virt-launcher-testvm-fghij", "5010", 0 },
    { K8S_EVENT_MODIFIED, "virt-launcher-testvm-fghij", "5040", 0 },
    { K8S_EVENT_BOOKMARK, NULL, "5100", 0 },
    { K8S_EVENT_DELETED, "virt-launcher-testvm-abcde", "5060", 0 },
    { K8S_EVENT_ERROR, NULL, NULL, 410 },
};

static char *
read_fixture(const char *name, size_t *sizep)
{
    const char *dir = getenv("LB_FIXTURES");
    char *file_name = xasprintf("%s/kubevirt/%s",
                                dir && dir[0] ? dir : LB_FIXTURES_DEFAULT,
                                name);
    struct k8s_blob blob;
    char *error;

    int retval = k8s_read_file(file_name, 1 << 20, &blob, &error);
    if (retval) {
        fail_msg("%s", error);
    }
    free(file_name);
    *sizep = blob.size;
    return blob.data;
}

/* Collected output of a stream. */
struct collected {
    struct k8s_event events[64];
    size_t n;
};

static void
collected_destroy(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++) {
        k8s_event_destroy(&c->events[i]);
    }
    c->n = 0;
}

/* Feeds 'data' to 's' in pieces of the sizes that 'next_size' returns and
 * collects the events. */
static void
feed_split(struct k8s_stream *s, const char *data, size_t size,
           size_t (*next_size)(size_t left), struct collected *out)
{
    while (size > 0) {
        size_t piece = next_size(size);
        piece = MIN(piece, size);
        const char *p = data;
        size_t n = piece;

        while (n > 0) {
            size_t used = k8s_stream_feed(s, p, n);
            p += used;
            n -= used;

            struct k8s_event ev;
            if (k8s_stream_take(s, &ev)) {
                assert_true(out->n < ARRAY_SIZE(out->events));
                out->events[out->n++] = ev;
            }
        }
        data += piece;
        size -= piece;
    }
}

static size_t
one_byte(size_t left OVS_UNUSED)
{
    return 1;
}

static size_t
everything(size_t left)
{
    return left;
}

static size_t
random_size(size_t left OVS_UNUSED)
{
    /* Mostly small pieces, sometimes large ones. */
    return rand() % 4 ? 1 + rand() % 64 : 1 + rand() % 4096;
}

static void
check_fixture21(const struct collected *c)
{
    assert_int_equal(c->n, ARRAY_SIZE(fixture21));
    for (size_t i = 0; i < c->n; i++) {
        const struct k8s_event *ev = &c->events[i];
        assert_int_equal(ev->type, fixture21[i].type);
        if (fixture21[i].name) {
            assert_string_equal(ev->name, fixture21[i].name);
            assert_string_equal(ev->namespace, "default");
            assert_non_null(ev->object);
        }
        if (fixture21[i].rv) {
            assert_string_equal(ev->resource_version, fixture21[i].rv);
        }
        assert_int_equal(ev->code, fixture21[i].code);
    }
    assert_non_null(strstr(c->events[4].error, "too old resource version"));
}

static void
test_fixture_byte_by_byte(void **state OVS_UNUSED)
{
    struct collected c = { .n = 0 };
    struct k8s_stream s;
    size_t size;
    char *data = read_fixture("21-watch-stream.jsonl", &size);

    k8s_stream_init(&s, 0);
    feed_split(&s, data, size, one_byte, &c);
    check_fixture21(&c);
    assert_true(k8s_stream_is_idle(&s));
    collected_destroy(&c);
    k8s_stream_destroy(&s);
    free(data);
}

static void
test_fixture_whole(void **state OVS_UNUSED)
{
    struct collected c = { .n = 0 };
    struct k8s_stream s;
    size_t size;
    char *data = read_fixture("21-watch-stream.jsonl", &size);

    k8s_stream_init(&s, 0);
    feed_split(&s, data, size, everything, &c);
    check_fixture21(&c);
    collected_destroy(&c);
    k8s_stream_destroy(&s);
    free(data);
}

static void
test_fixture_random_splits(void **state OVS_UNUSED)
{
    size_t size;
    char *data = read_fixture("21-watch-stream.jsonl", &size);

    srand(12345);
    for (int i = 0; i < 500; i++) {
        struct collected c = { .n = 0 };
        struct k8s_stream s;

        k8s_stream_init(&s, 0);
        feed_split(&s, data, size, random_size, &c);
        check_fixture21(&c);
        collected_destroy(&c);
        k8s_stream_destroy(&s);
    }
    free(data);
}

/* Without newlines between events, and with CRLF, the split still works. */
static void
test_separators(void **state OVS_UNUSED)
{
    static const char text[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
        "\"resourceVersion\":\"1\"}}}"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\","
        "\"resourceVersion\":\"2\"}}}\r\n\t "
        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
        "\"namespace\":\"\",\"resourceVersion\":\"3\"}}}";
    struct collected c = { .n = 0 };
    struct k8s_stream s;

    k8s_stream_init(&s, 0);
    feed_split(&s, text, strlen(text), one_byte, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.events[1].name, "b");
    assert_null(c.events[1].namespace);
    assert_int_equal(c.events[2].type, K8S_EVENT_DELETED);
    assert_null(c.events[2].namespace);
    collected_destroy(&c);
    k8s_stream_destroy(&s);
}

/* Braces, brackets, quotes and backslashes inside strings do not confuse
 * the splitter. */
static void
test_strings_with_brackets(void **state OVS_UNUSED)
{
    static const char text[] =
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"x\","
        "\"resourceVersion\":\"7\",\"annotations\":{\"a\":\"}}]]\\\"{{\\\\\","
        "\"b\":\"\\\\\\\"}\"}}}}\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
        "{\"resourceVersion\":\"8\"}}}\n";
    struct collected c = { .n = 0 };
    struct k8s_stream s;

    k8s_stream_init(&s, 0);
    feed_split(&s, text, strlen(text), one_byte, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events[0].type, K8S_EVENT_MODIFIED);
    const json_t *annotations = json_object_get(
        json_object_get(c.events[0].object, "metadata"), "annotations");
    assert_string_equal(json_string_value(json_object_get(annotations, "a")),
                        "}}]]\"{{\\");
    assert_int_equal(c.events[1].type, K8S_EVENT_BOOKMARK);
    assert_string_equal(c.events[1].resource_version, "8");
    collected_destroy(&c);
    k8s_stream_destroy(&s);
}

static void
test_error_410(void **state OVS_UNUSED)
{
    size_t size;
    char *status = read_fixture("18-status-410-expired.json", &size);
    /* The fixture is pretty-printed; on the wire an event is one line. */
    json_t *compact = json_loads(status, 0, NULL);
    char *line = json_dumps(compact, JSON_COMPACT);
    char *text = xasprintf("{\"type\":\"ERROR\",\"object\":%s}\n", line);
    free(line);
    json_decref(compact);
    struct collected c = { .n = 0 };
    struct k8s_stream s;

    k8s_stream_init(&s, 0);
    feed_split(&s, text, strlen(text), random_size, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.events[0].type, K8S_EVENT_ERROR);
    assert_int_equal(c.events[0].code, 410);
    assert_string_equal(c.events[0].error,
                        "too old resource version: 4100 (5120)");
    collected_destroy(&c);
    k8s_stream_destroy(&s);
    free(text);

    /* The Status parser on its own, on 410 and 409. */
    json_t *json = json_loads(status, 0, NULL);
    assert_int_equal(k8s_status_code(json), 410);
    json_decref(json);
    free(status);

    status = read_fixture("19-status-409-conflict.json", &size);
    json = json_loads(status, 0, NULL);
    assert_int_equal(k8s_status_code(json), 409);
    assert_non_null(strstr(k8s_status_message(json), "has been modified"));
    json_decref(json);
    free(status);

    /* Not a Status. */
    json = json_pack("{s:s, s:i}", "kind", "Pod", "code", 410);
    assert_int_equal(k8s_status_code(json), 0);
    json_decref(json);
    assert_int_equal(k8s_status_code(NULL), 0);

    /* An ERROR event without a Status object is still an ERROR. */
    static const char bare[] = "{\"type\":\"ERROR\",\"object\":42}";
    k8s_stream_init(&s, 0);
    feed_split(&s, bare, strlen(bare), everything, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.events[0].type, K8S_EVENT_ERROR);
    assert_int_equal(c.events[0].code, 0);
    assert_null(c.events[0].object);
    collected_destroy(&c);
    k8s_stream_destroy(&s);
}

static void
test_oversize(void **state OVS_UNUSED)
{
    struct ds text = DS_EMPTY_INITIALIZER;
    struct collected c = { .n = 0 };
    struct k8s_stream s;

    ds_put_cstr(&text, "{\"type\":\"ADDED\",\"object\":{\"metadata\":"
                "{\"name\":\"big\",\"resourceVersion\":\"1\"},\"data\":\"");
    for (int i = 0; i < 100000; i++) {
        ds_put_cstr(&text, i % 7 ? "x" : "{[\\\"");
    }
    ds_put_cstr(&text, "\"}}\n{\"type\":\"ADDED\",\"object\":{\"metadata\":"
                "{\"name\":\"small\",\"resourceVersion\":\"2\"}}}\n");

    k8s_stream_init(&s, 4096);
    feed_split(&s, text.string, text.length, random_size, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events[0].type, K8S_EVENT_INVALID);
    assert_non_null(strstr(c.events[0].error, "larger than the limit of "
                           "4096 bytes"));
    assert_int_equal(c.events[1].type, K8S_EVENT_ADDED);
    assert_string_equal(c.events[1].name, "small");
    /* The big event was never buffered whole. */
    assert_true(s.alloc <= 4096);
    collected_destroy(&c);

    /* The same stream fed at once. */
    k8s_stream_reset(&s);
    feed_split(&s, text.string, text.length, everything, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events[0].type, K8S_EVENT_INVALID);
    assert_string_equal(c.events[1].name, "small");
    collected_destroy(&c);

    /* Exactly at the limit is fine. */
    k8s_stream_destroy(&s);
    static const char ok[] = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
                             "{\"resourceVersion\":\"9\"}}}";
    k8s_stream_init(&s, strlen(ok));
    feed_split(&s, ok, strlen(ok), one_byte, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.events[0].type, K8S_EVENT_BOOKMARK);
    collected_destroy(&c);
    k8s_stream_destroy(&s);
    ds_destroy(&text);
}

static void
test_garbage(void **state OVS_UNUSED)
{
    static const char text[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
        "\"resourceVersion\":\"1\"}}}\n"
        "<html>502 Bad Gateway</html>\n]]]\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\","
        "\"resourceVersion\":\"2\"}}}\n"
        "\x01\xff";
    struct collected c = { .n = 0 };
    struct k8s_stream s;

    for (int split = 0; split < 2; split++) {
        k8s_stream_init(&s, 0);
        feed_split(&s, text, strlen(text), split ? one_byte : everything,
                   &c);
        /* One error per run of garbage, not one per byte. */
        assert_int_equal(c.n, 4);
        assert_string_equal(c.events[0].name, "a");
        assert_int_equal(c.events[1].type, K8S_EVENT_INVALID);
        assert_non_null(strstr(c.events[1].error, "unexpected byte 0x3c"));
        assert_string_equal(c.events[2].name, "b");
        assert_int_equal(c.events[3].type, K8S_EVENT_INVALID);
        collected_destroy(&c);
        k8s_stream_destroy(&s);
    }
}

/* Each bad event gives one INVALID event with a clear message, and the
 * events after it still parse. */
static void
test_bad_events(void **state OVS_UNUSED)
{
    char *long_name = xmalloc(1001);
    memset(long_name, 'n', 1000);
    long_name[1000] = '\0';
    char *long_name_event = xasprintf(
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"%s\","
        "\"resourceVersion\":\"1\"}}}", long_name);

    const struct {
        const char *text;
        const char *error;
    } cases[] = {
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
          "\"resourceVersion\":\"1\"},}}", "malformed JSON" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
          "\"resourceVersion\":\"1\"}}]", "malformed JSON" },
        { "{\"type\":7,\"object\":{}}", "no string 'type'" },
        { "{\"object\":{}}", "no string 'type'" },
        { "{\"type\":\"ADDDED\",\"object\":{}}", "unknown type \"ADDDED\"" },
        { "{\"type\":\"ADDED\",\"object\":\"pod\"}", "no 'object' object" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":[]}}",
          "no 'metadata' object" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":5,"
          "\"resourceVersion\":\"1\"}}}",
          "metadata.name is of the wrong type" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\","
          "\"resourceVersion\":\"1\"}}}", "metadata.name has length 0" },
        { long_name_event, "metadata.name has length 1000" },
        { "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a/b\","
          "\"resourceVersion\":\"1\"}}}", "invalid byte 0x2f" },
        { "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
          "\"namespace\":[],\"resourceVersion\":\"1\"}}}",
          "metadata.namespace is of the wrong type" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
          "metadata.resourceVersion is missing" },
        { "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
          "BOOKMARK watch event: metadata.resourceVersion is missing" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":"
          "{\"name\":\"a\\u0000\",\"resourceVersion\":\"1\"}}}",
          "malformed JSON" },
        { "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\xff\","
          "\"resourceVersion\":\"1\"}}}", "malformed JSON" },
    };
    static const char good[] =
        "\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\","
        "\"resourceVersion\":\"5\"}}}\n";

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text = xasprintf("%s%s", cases[i].text, good);
        struct collected c = { .n = 0 };
        struct k8s_stream s;

        k8s_stream_init(&s, 0);
        feed_split(&s, text, strlen(text), random_size, &c);
        if (c.n != 2 || c.events[0].type != K8S_EVENT_INVALID
            || !strstr(c.events[0].error, cases[i].error)) {
            fail_msg("case %"PRIuSIZE": got %"PRIuSIZE" events, first %s "
                     "\"%s\", wanted INVALID \"%s\"", i, c.n,
                     c.n ? k8s_event_type_to_string(c.events[0].type) : "-",
                     c.n && c.events[0].error ? c.events[0].error : "",
                     cases[i].error);
        }
        assert_string_equal(c.events[1].name, "ok");
        collected_destroy(&c);
        k8s_stream_destroy(&s);
        free(text);
    }
    free(long_name);
    free(long_name_event);
}

/* An event whose brackets do not balance, or with an unterminated string,
 * costs only itself: the newline that ends it ends it, it is reported as one
 * INVALID event, and the events after it parse, however the bytes are
 * split. */
static void
test_unbalanced(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        /* A closing brace missing. */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
        "\"resourceVersion\":\"1\"}}\n",
        /* An unterminated string: its quote would flip every later one. */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a}}}\n",
        /* Nothing but openings. */
        "{[[[[{{{{[\r\n",
        /* An escaped quote ends no string. */
        "{\"type\":\"MODIFIED\",\"x\":\"\\\"}\n",
    };
    static const char good[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\","
        "\"resourceVersion\":\"2\"}}}\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
        "{\"resourceVersion\":\"3\"}}}\n";
    size_t (*splits[])(size_t) = { one_byte, everything, random_size };

    srand(4242);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(splits); j++) {
            char *text = xasprintf("%s%s", bad[i], good);
            struct collected c = { .n = 0 };
            struct k8s_stream s;

            k8s_stream_init(&s, 0);
            feed_split(&s, text, strlen(text), splits[j], &c);
            if (c.n != 3 || c.events[0].type != K8S_EVENT_INVALID
                || !strstr(c.events[0].error, "ends at a newline before it "
                           "is complete")) {
                fail_msg("case %"PRIuSIZE" split %"PRIuSIZE": got "
                         "%"PRIuSIZE" events, first %s \"%s\"", i, j, c.n,
                         c.n ? k8s_event_type_to_string(c.events[0].type)
                             : "-",
                         c.n && c.events[0].error ? c.events[0].error : "");
            }
            assert_non_null(strstr(c.events[0].error, "starting at byte 1 "));
            assert_int_equal(c.events[1].type, K8S_EVENT_ADDED);
            assert_string_equal(c.events[1].name, "b");
            assert_int_equal(c.events[2].type, K8S_EVENT_BOOKMARK);
            assert_string_equal(c.events[2].resource_version, "3");
            assert_true(k8s_stream_is_idle(&s));
            collected_destroy(&c);
            k8s_stream_destroy(&s);
            free(text);
        }
    }

    /* An oversized unbalanced event: one error (its size), not two, and
     * the next line parses. */
    struct ds text = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&text, "{\"type\":\"ADDED\",\"data\":\"");
    for (int i = 0; i < 10000; i++) {
        ds_put_char(&text, '[');
    }
    ds_put_format(&text, "\n%s", good);
    for (size_t j = 0; j < ARRAY_SIZE(splits); j++) {
        struct collected c = { .n = 0 };
        struct k8s_stream s;

        k8s_stream_init(&s, 4096);
        feed_split(&s, text.string, text.length, splits[j], &c);
        assert_int_equal(c.n, 3);
        assert_int_equal(c.events[0].type, K8S_EVENT_INVALID);
        assert_non_null(strstr(c.events[0].error, "larger than the limit"));
        assert_string_equal(c.events[1].name, "b");
        assert_int_equal(c.events[2].type, K8S_EVENT_BOOKMARK);
        collected_destroy(&c);
        k8s_stream_destroy(&s);
    }
    ds_destroy(&text);
}

/* Nothing is consumed while an event waits to be taken. */
static void
test_feed_stops_at_event(void **state OVS_UNUSED)
{
    static const char text[] =
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
        "{\"resourceVersion\":\"1\"}}}"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
        "{\"resourceVersion\":\"2\"}}}";
    struct k8s_stream s;
    struct k8s_event ev;

    k8s_stream_init(&s, 0);
    size_t used = k8s_stream_feed(&s, text, strlen(text));
    assert_int_equal(used, strlen(text) / 2);
    assert_int_equal(k8s_stream_feed(&s, text + used, strlen(text) - used),
                     0);
    assert_true(k8s_stream_take(&s, &ev));
    assert_string_equal(ev.resource_version, "1");
    k8s_event_destroy(&ev);
    assert_false(k8s_stream_take(&s, &ev));

    /* A partial event stays buffered; reset drops it. */
    used = k8s_stream_feed(&s, text + used, 10);
    assert_int_equal(used, 10);
    assert_false(k8s_stream_is_idle(&s));
    k8s_stream_reset(&s);
    assert_true(k8s_stream_is_idle(&s));
    k8s_stream_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_byte_by_byte),
        cmocka_unit_test(test_fixture_whole),
        cmocka_unit_test(test_fixture_random_splits),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_strings_with_brackets),
        cmocka_unit_test(test_error_410),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bad_events),
        cmocka_unit_test(test_unbalanced),
        cmocka_unit_test(test_feed_stops_at_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
