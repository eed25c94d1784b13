/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_CNI_SERVER_H
#define LIVEBIND_CNI_SERVER_H 1

/* Both ends of the agent's CNI socket (docs/cni.md, "Agent protocol").
 *
 * Agent side: a Unix socket server run from the agent's poll loop.  Each
 * connection carries one request, a line of JSON that lib/cni.c validates,
 * with the descriptor of its network namespace beside it (SCM_RIGHTS; see
 * netns-fd.h), and gets one reply line.  Valid requests go to a handler,
 * which may reply at once or later (once flows are installed, say):
 *
 *     static void
 *     handle(void *aux, struct cni_request *req, struct cni_reply_ctx *ctx)
 *     {
 *         ...start the work, keep 'ctx'...
 *     }
 *     ...later:
 *         cni_server_reply_result(ctx, result);   (or _reply_error())
 *
 * Rules for handlers:
 *   - Answer every 'ctx' exactly once, with cni_server_reply_result() or
 *     cni_server_reply_error().  That frees 'ctx' and the request.
 *   - If the client goes away first (the plugin timed out, the runtime was
 *     killed), the optional 'closed' callback says so; the handler may stop
 *     early, but must still answer 'ctx' (the answer is discarded).
 *     cni_reply_ctx_is_closed() tells the same.  cni_server_destroy()
 *     closes all connections the same way.
 *   - Do not call cni_server_destroy() from a callback.
 *
 * Plugin side: cni_client_transact() sends one request and waits for the
 * reply. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "cni.h"
#include "metrics.h"

struct cni_server;
struct cni_reply_ctx;

typedef void cni_handle_func(void *aux, struct cni_request *,
                             struct cni_reply_ctx *);
typedef void cni_closed_func(void *aux, struct cni_reply_ctx *);

/* Limits: see cni-server.c for the defaults and their reasons. */
struct cni_server_options {
    uid_t allowed_uid;          /* Peer uid allowed to connect (0: root). */
    size_t max_connections;     /* Requests read or replies sent at once. */
    size_t max_pending;         /* Requests with the handler at once. */
    int io_timeout_ms;          /* Time to receive a request, send a reply. */
};

void cni_server_options_init(struct cni_server_options *);

int cni_server_create(const char *socket_path,
                      const struct cni_server_options *,
                      cni_handle_func *, cni_closed_func *, void *aux,
                      struct cni_server **);
void cni_server_run(struct cni_server *);
void cni_server_wait(struct cni_server *);
void cni_server_destroy(struct cni_server *);

const char *cni_server_get_path(const struct cni_server *);

/* Requests answered, by command and result, and how long each took from
 * its arrival to its answer. */
#define CNI_N_COMMANDS (CNI_CMD_GC + 1)
#define CNI_STATS_MAX_CODE 127  /* Higher codes are counted here. */
struct cni_server_stats {
    uint64_t results[CNI_N_COMMANDS][CNI_STATS_MAX_CODE + 1];  /* By code;
                                                              * 0: ok. */
    struct lb_histogram latency[CNI_N_COMMANDS];   /* Seconds. */
};
const struct cni_server_stats *cni_server_get_stats(
    const struct cni_server *);
size_t cni_server_n_pending(const struct cni_server *);

struct cni_request *cni_reply_ctx_request(const struct cni_reply_ctx *);
int cni_reply_ctx_netns_fd(const struct cni_reply_ctx *);
bool cni_reply_ctx_is_closed(const struct cni_reply_ctx *);
void cni_server_reply_result(struct cni_reply_ctx *,
                             const struct cni_result *);
void cni_server_reply_error(struct cni_reply_ctx *, int code,
                            const char *msg, const char *details);

struct cni_error *cni_client_transact(const char *socket_path,
                                      const char *request, int netns_fd,
                                      int timeout_ms,
                                      char **replyp, size_t *reply_lenp)
    OVS_WARN_UNUSED_RESULT;

#endif /* lib/cni-server.h */
