/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_METRICS_SERVER_H
#define LIVEBIND_METRICS_SERVER_H 1

/* The agent's metrics endpoint: a small HTTP/1.1 server for Prometheus
 * scrapes, run from the agent's poll loop like its other sockets (no
 * thread touches the agent's state).  GET /metrics renders the page at
 * that moment through a callback; every response closes its connection.
 *
 * Nothing a client does can hold the loop: sockets are non-blocking, a
 * request must arrive whole within LB_METRICS_REQUEST_TIMEOUT_MS and in at
 * most LB_METRICS_MAX_REQUEST bytes, a response must be taken within
 * LB_METRICS_RESPONSE_TIMEOUT_MS, and at most LB_METRICS_MAX_CONNS clients
 * are served at once (the oldest is closed for a new one). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/compiler.h"

struct ds;

#define LB_METRICS_MAX_CONNS 16
#define LB_METRICS_MAX_REQUEST 8192
#define LB_METRICS_REQUEST_TIMEOUT_MS 5000
#define LB_METRICS_RESPONSE_TIMEOUT_MS 10000

/* Appends the page to 'page'. */
typedef void lb_metrics_render_cb(void *aux, struct ds *page);

struct lb_metrics_server;

/* 'address' is "IP:PORT", "[IPv6]:PORT" or "IPv6:PORT"; port 0 picks one
 * (see lb_metrics_server_port()). */
char *lb_metrics_server_create(const char *address, lb_metrics_render_cb *,
                               void *aux, struct lb_metrics_server **)
    OVS_WARN_UNUSED_RESULT;
void lb_metrics_server_destroy(struct lb_metrics_server *);
void lb_metrics_server_run(struct lb_metrics_server *);
void lb_metrics_server_wait(struct lb_metrics_server *);
uint16_t lb_metrics_server_port(const struct lb_metrics_server *);
uint64_t lb_metrics_server_n_scrapes(const struct lb_metrics_server *);

/* The request head, parsed (pure, for the server and the fuzzer). */
enum lb_http_parse {
    LB_HTTP_INCOMPLETE,         /* No blank line yet. */
    LB_HTTP_OK,
    LB_HTTP_BAD,                /* Not an HTTP/1.x request line. */
};

struct lb_http_request {
    char method[16];
    char path[256];             /* Without the query string. */
};

enum lb_http_parse lb_http_request_parse(const char *data, size_t len,
                                         struct lb_http_request *);

/* The whole response to 'req' (status line, headers, body) into 'out'. */
void lb_http_respond(const struct lb_http_request *,
                     lb_metrics_render_cb *, void *aux, struct ds *out);

#endif /* lib/metrics-server.h */
