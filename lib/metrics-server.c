/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "metrics-server.h"

#include <errno.h>
#include <string.h>
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(metrics_server);

struct metrics_conn {
    struct ovs_list node;       /* In 'conns', oldest first. */
    struct stream *stream;
    struct ds request;
    struct ds response;         /* Being sent, from 'sent'. */
    size_t sent;
    bool responding;
    long long int deadline;     /* Closed then, whatever its state. */
};

struct lb_metrics_server {
    struct pstream *listener;
    lb_metrics_render_cb *render;
    void *aux;
    struct ovs_list conns;
    size_t n_conns;
    uint64_t n_scrapes;
};

enum lb_http_parse
lb_http_request_parse(const char *data, size_t len,
                      struct lb_http_request *req)
{
    memset(req, 0, sizeof *req);
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end) {
        end = memmem(data, len, "\n\n", 2);
    }
    const char *eol = memchr(data, '\n', len);
    if (!end) {
        /* A request line that cannot be valid need not wait for more. */
        return eol && eol - data > 2 + sizeof req->method + sizeof req->path
               ? LB_HTTP_BAD : LB_HTTP_INCOMPLETE;
    }

    /* METHOD SP PATH[?QUERY] SP HTTP/1.x */
    size_t line = eol - data;
    if (line && data[line - 1] == '\r') {
        line--;
    }
    const char *sp1 = memchr(data, ' ', line);
    if (!sp1 || sp1 == data || sp1 - data >= sizeof req->method) {
        return LB_HTTP_BAD;
    }
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line - (target - data));
    if (!sp2 || sp2 == target || *target != '/') {
        return LB_HTTP_BAD;
    }
    const char *version = sp2 + 1;
    size_t version_len = line - (version - data);
    if (version_len != 8 || memcmp(version, "HTTP/1.", 7)
        || (version[7] != '0' && version[7] != '1')) {
        return LB_HTTP_BAD;
    }
    const char *query = memchr(target, '?', sp2 - target);
    size_t path_len = (query ? query : sp2) - target;
    if (path_len >= sizeof req->path) {
        return LB_HTTP_BAD;
    }
    for (const char *p = data; p < sp2; p++) {
        if ((unsigned char) *p < 0x21 && p != sp1) {
            return LB_HTTP_BAD;
        }
    }
    memcpy(req->method, data, sp1 - data);
    memcpy(req->path, target, path_len);
    return LB_HTTP_OK;
}

static void
put_response(struct ds *out, int status, const char *reason,
             const char *content_type, const char *body, bool head)
{
    ds_put_format(out, "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %"PRIuSIZE"\r\n"
                  "Connection: close\r\n", status, reason, content_type,
                  strlen(body));
    if (status == 405) {
        ds_put_cstr(out, "Allow: GET, HEAD\r\n");
    }
    ds_put_cstr(out, "\r\n");
    if (!head) {
        ds_put_cstr(out, body);
    }
}

void
lb_http_respond(const struct lb_http_request *req,
                lb_metrics_render_cb *render, void *aux, struct ds *out)
{
    bool head = !strcmp(req->method, "HEAD");
    if (!head && strcmp(req->method, "GET")) {
        put_response(out, 405, "Method Not Allowed", "text/plain",
                     "only GET and HEAD\n", false);
    } else if (!strcmp(req->path, "/metrics")) {
        struct ds page = DS_EMPTY_INITIALIZER;
        render(aux, &page);
        put_response(out, 200, "OK", LB_METRICS_CONTENT_TYPE,
                     ds_cstr(&page), head);
        ds_destroy(&page);
    } else if (!strcmp(req->path, "/healthz")) {
        put_response(out, 200, "OK", "text/plain", "ok\n", head);
    } else {
        put_response(out, 404, "Not Found", "text/plain",
                     "not found; the metrics are at /metrics\n", head);
    }
}

char *
lb_metrics_server_create(const char *address, lb_metrics_render_cb *render,
                         void *aux, struct lb_metrics_server **serverp)
{
    *serverp = NULL;

    /* "IP:PORT" or "[IPv6]:PORT" -> OVS's "ptcp:PORT:IP". */
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || !colon[1]
        || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        return xasprintf("metrics address \"%s\": expected IP:PORT "
                         "or [IPv6]:PORT", address);
    }
    /* An IPv6 address without brackets ("$(NODE_IP):9477" with an IPv6
     * node address) gets them: the last colon is the port's. */
    char *host = xmemdup0(address, colon - address);
    bool bracket = strchr(host, ':') && host[0] != '[';
    char *name = xasprintf("ptcp:%s:%s%s%s", colon + 1, bracket ? "[" : "",
                           host, bracket ? "]" : "");
    free(host);

    struct pstream *listener;
    int error = pstream_open(name, &listener, 0);
    free(name);
    if (error) {
        return xasprintf("metrics address \"%s\": %s", address,
                         ovs_strerror(error));
    }
    struct lb_metrics_server *server = xzalloc(sizeof *server);
    server->listener = listener;
    server->render = render;
    server->aux = aux;
    ovs_list_init(&server->conns);
    *serverp = server;
    return NULL;
}

static void
conn_close(struct lb_metrics_server *server, struct metrics_conn *conn)
{
    ovs_list_remove(&conn->node);
    server->n_conns--;
    stream_close(conn->stream);
    ds_destroy(&conn->request);
    ds_destroy(&conn->response);
    free(conn);
}

void
lb_metrics_server_destroy(struct lb_metrics_server *server)
{
    if (!server) {
        return;
    }
    struct metrics_conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        conn_close(server, conn);
    }
    pstream_close(server->listener);
    free(server);
}

uint16_t
lb_metrics_server_port(const struct lb_metrics_server *server)
{
    return ntohs(pstream_get_bound_port(server->listener));
}

uint64_t
lb_metrics_server_n_scrapes(const struct lb_metrics_server *server)
{
    return server->n_scrapes;
}

static void
accept_conns(struct lb_metrics_server *server)
{
    for (int i = 0; i < 16; i++) {
        struct stream *stream;
        int error = pstream_accept(server->listener, &stream);
        if (error) {
            if (error != EAGAIN) {
                static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
                VLOG_WARN_RL(&rl, "metrics: accept failed: %s",
                             ovs_strerror(error));
            }
            return;
        }
        if (server->n_conns >= LB_METRICS_MAX_CONNS) {
            /* A slow or idle client must not lock out the scraper. */
            conn_close(server, CONTAINER_OF(ovs_list_front(&server->conns),
                                            struct metrics_conn, node));
        }
        struct metrics_conn *conn = xzalloc(sizeof *conn);
        conn->stream = stream;
        ds_init(&conn->request);
        ds_init(&conn->response);
        conn->deadline = time_msec() + LB_METRICS_REQUEST_TIMEOUT_MS;
        ovs_list_push_back(&server->conns, &conn->node);
        server->n_conns++;
    }
}

/* Returns false when 'conn' is done (to close). */
static bool
conn_run(struct lb_metrics_server *server, struct metrics_conn *conn)
{
    stream_run(conn->stream);
    if (time_msec() >= conn->deadline) {
        return false;
    }
    if (!conn->responding) {
        char buf[1024];
        int n = stream_recv(conn->stream, buf, sizeof buf);
        if (n == -EAGAIN) {
            return true;
        } else if (n <= 0) {
            return false;
        }
        ds_put_buffer(&conn->request, buf, n);

        struct lb_http_request req;
        enum lb_http_parse parse = lb_http_request_parse(
            conn->request.string, conn->request.length, &req);
        if (parse == LB_HTTP_INCOMPLETE
            && conn->request.length < LB_METRICS_MAX_REQUEST) {
            return true;
        }
        if (parse == LB_HTTP_OK) {
            lb_http_respond(&req, server->render, server->aux,
                            &conn->response);
            server->n_scrapes += !strcmp(req.path, "/metrics");
        } else {
            put_response(&conn->response, 400, "Bad Request", "text/plain",
                         "bad request\n", false);
        }
        conn->responding = true;
        conn->deadline = time_msec() + LB_METRICS_RESPONSE_TIMEOUT_MS;
    }
    while (conn->sent < conn->response.length) {
        int n = stream_send(conn->stream, conn->response.string + conn->sent,
                            conn->response.length - conn->sent);
        if (n == -EAGAIN) {
            return true;
        } else if (n < 0) {
            return false;
        }
        conn->sent += n;
    }
    return false;
}

void
lb_metrics_server_run(struct lb_metrics_server *server)
{
    accept_conns(server);
    struct metrics_conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        if (!conn_run(server, conn)) {
            conn_close(server, conn);
        }
    }
}

void
lb_metrics_server_wait(struct lb_metrics_server *server)
{
    pstream_wait(server->listener);
    struct metrics_conn *conn;
    LIST_FOR_EACH (conn, node, &server->conns) {
        stream_run_wait(conn->stream);
        if (conn->responding) {
            stream_send_wait(conn->stream);
        } else {
            stream_recv_wait(conn->stream);
        }
        poll_timer_wait_until(conn->deadline);
    }
}
