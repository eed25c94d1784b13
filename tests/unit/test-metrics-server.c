/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "metrics-server.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

static enum lb_http_parse
parse(const char *s, struct lb_http_request *req)
{
    return lb_http_request_parse(s, strlen(s), req);
}

static void
test_parse(void **state OVS_UNUSED)
{
    struct lb_http_request req;
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req),
                     LB_HTTP_OK);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/metrics");
    assert_int_equal(parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &req),
                     LB_HTTP_OK);
    assert_string_equal(req.method, "HEAD");
    assert_string_equal(req.path, "/metrics");

    /* Not yet whole. */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &req),
                     LB_HTTP_INCOMPLETE);
    assert_int_equal(parse("", &req), LB_HTTP_INCOMPLETE);

    static const char *const bad[] = {
        "GET /metrics\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "VERYLONGMETHODNAMEXX /metrics HTTP/1.1\r\n\r\n",
        "GET /met\x01rics HTTP/1.1\r\n\r\n",
        " /metrics HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (parse(bad[i], &req) != LB_HTTP_BAD) {
            fail_msg("accepted: %s", bad[i]);
        }
    }

    /* A request line longer than any valid one is refused before its end
     * arrives. */
    struct ds long_line = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&long_line, "GET /");
    for (int i = 0; i < 400; i++) {
        ds_put_char(&long_line, 'a');
    }
    ds_put_cstr(&long_line, " HTTP/1.1\r\nHost:");
    assert_int_equal(parse(ds_cstr(&long_line), &req), LB_HTTP_BAD);
    ds_destroy(&long_line);
}

static void
render(void *aux, struct ds *page)
{
    int *n = aux;
    (*n)++;
    ds_put_cstr(page, "# HELP a A.\n# TYPE a gauge\na 1\n");
}

static void
test_respond(void **state OVS_UNUSED)
{
    int n_rendered = 0;
    struct lb_http_request req = { .method = "GET", .path = "/metrics" };
    struct ds out = DS_EMPTY_INITIALIZER;
    lb_http_respond(&req, render, &n_rendered, &out);
    assert_int_equal(n_rendered, 1);
    assert_string_equal(ds_cstr(&out),
                        "HTTP/1.1 200 OK\r\n"
                        "Content-Type: text/plain; version=0.0.4; "
                        "charset=utf-8\r\n"
                        "Content-Length: 31\r\n"
                        "Connection: close\r\n\r\n"
                        "# HELP a A.\n# TYPE a gauge\na 1\n");

    ds_clear(&out);
    strcpy(req.method, "HEAD");
    lb_http_respond(&req, render, &n_rendered, &out);
    assert_non_null(strstr(ds_cstr(&out), "Content-Length: 31\r\n"));
    assert_true(ds_cstr(&out)[out.length - 1] == '\n'
                && strstr(ds_cstr(&out), "\r\n\r\n")
                   == ds_cstr(&out) + out.length - 4);

    ds_clear(&out);
    strcpy(req.method, "POST");
    lb_http_respond(&req, render, &n_rendered, &out);
    assert_true(!strncmp(ds_cstr(&out), "HTTP/1.1 405 ", 13));
    assert_non_null(strstr(ds_cstr(&out), "Allow: GET, HEAD\r\n"));

    ds_clear(&out);
    strcpy(req.method, "GET");
    strcpy(req.path, "/");
    lb_http_respond(&req, render, &n_rendered, &out);
    assert_true(!strncmp(ds_cstr(&out), "HTTP/1.1 404 ", 13));
    assert_int_equal(n_rendered, 2);
    ds_destroy(&out);
}

static void
test_bad_address(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        "9477", ":9477", "127.0.0.1:", "127.0.0.1:http", "[::1]",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct lb_metrics_server *server;
        char *error = lb_metrics_server_create(bad[i], render, NULL,
                                               &server);
        if (!error) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_null(server);
        free(error);
    }
    lb_metrics_server_destroy(NULL);
}

/* Both families, with and without brackets, on the loopback. */
static void
test_listen(void **state OVS_UNUSED)
{
    static const char *const good[] = { "127.0.0.1:0", "[::1]:0", "::1:0" };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        struct lb_metrics_server *server;
        char *error = lb_metrics_server_create(good[i], render, NULL,
                                               &server);
        if (error && strstr(good[i], "::")
            && access("/proc/net/if_inet6", R_OK)) {
            free(error);        /* No IPv6 on this machine. */
            continue;
        }
        if (error) {
            fail_msg("%s: %s", good[i], error);
        }
        assert_true(lb_metrics_server_port(server) > 0);
        lb_metrics_server_destroy(server);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_respond),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
