/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* A stand-in for livebind-agent's CNI server, for test-cni-plugin.sh: the
 * real lib/cni-server.c with a canned handler.
 *
 *   cni-test-server --socket=PATH [--allow-uid=UID] [--delay-ms=N]
 *                   [--error=CODE] [--record=FILE] [--ready-file=FILE]
 *
 * ADD gets a fixed result (10.244.0.5/16 on the requested interface),
 * other commands succeed; --error=CODE fails every request with CODE;
 * --delay-ms answers only after N ms (asynchronously).  --record appends a
 * line per request and per client that went away before its answer; its
 * "fd=" is what the descriptor that came with the request is ("net:[...]"
 * for a network namespace, as /proc/self/fd shows it), "-" for none, and
 * "gone" marks a DEL whose namespace the plugin found gone. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cni.h"
#include "cni-server.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

struct pending {
    struct ovs_list node;
    struct cni_reply_ctx *ctx;
    long long int due;
};

static struct ovs_list pending = OVS_LIST_INITIALIZER(&pending);
static int delay_ms;
static int error_code;
static FILE *record;

static void
record_line(const char *line)
{
    if (record) {
        fprintf(record, "%s\n", line);
        fflush(record);
    }
}

static void
answer(struct cni_reply_ctx *ctx)
{
    const struct cni_request *req = cni_reply_ctx_request(ctx);

    if (error_code) {
        cni_server_reply_error(ctx, error_code, "canned failure",
                               "cni-test-server --error");
        return;
    } else if (req->command != CNI_CMD_ADD) {
        cni_server_reply_result(ctx, NULL);
        return;
    }

    struct cni_result *result = cni_result_create();
    size_t iface = cni_result_add_interface(result, req->ifname,
                                            "0a:58:0a:f4:00:05", req->netns,
                                            1400);
    cni_result_add_ip(result, "10.244.0.5/16", "10.244.0.1", iface);
    cni_result_add_route(result, "0.0.0.0/0", "10.244.0.1");
    svec_add(&result->dns.nameservers, "10.96.0.10");
    cni_server_reply_result(ctx, result);
    cni_result_destroy(result);
}

/* What descriptor 'fd' is, as /proc/self/fd shows it; "-" for -1. */
static char *
describe_fd(int fd)
{
    if (fd < 0) {
        return xstrdup("-");
    }
    char *link = xasprintf("/proc/self/fd/%d", fd);
    char target[256];
    ssize_t n = readlink(link, target, sizeof target - 1);
    free(link);
    target[MAX(n, 0)] = '\0';
    return xstrdup(n > 0 ? target : "?");
}

static void
handle(void *aux OVS_UNUSED, struct cni_request *req,
       struct cni_reply_ctx *ctx)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    char *fd = describe_fd(cni_reply_ctx_netns_fd(ctx));

    ds_put_format(&ds, "%s id=%s netns=%s%s fd=%s ifname=%s ns=%s pod=%s "
                  "uid=%s "
                  "infra=%s path=%s net=%s version=%s socket=%s timeout=%d "
                  "prev=%s",
                  cni_command_to_string(req->command),
                  req->container_id ? req->container_id : "-",
                  req->netns ? req->netns : "-",
                  req->netns_gone ? " gone" : "", fd,
                  req->ifname ? req->ifname : "-",
                  req->pod_namespace ? req->pod_namespace : "-",
                  req->pod_name ? req->pod_name : "-",
                  req->pod_uid ? req->pod_uid : "-",
                  req->infra_container_id ? req->infra_container_id : "-",
                  req->path ? req->path : "-",
                  req->config.name,
                  cni_version_to_string(req->config.version),
                  req->config.agent_socket, req->config.timeout_ms,
                  req->config.prev_result ? "yes" : "no");
    for (size_t i = 0; i < req->config.n_valid_attachments; i++) {
        ds_put_format(&ds, " valid=%s/%s",
                      req->config.valid_attachments[i].container_id,
                      req->config.valid_attachments[i].ifname);
    }
    record_line(ds_cstr(&ds));
    ds_destroy(&ds);
    free(fd);

    if (delay_ms) {
        struct pending *p = xmalloc(sizeof *p);
        p->ctx = ctx;
        p->due = time_msec() + delay_ms;
        ovs_list_push_back(&pending, &p->node);
    } else {
        answer(ctx);
    }
}

static void
closed(void *aux OVS_UNUSED, struct cni_reply_ctx *ctx)
{
    const struct cni_request *req = cni_reply_ctx_request(ctx);
    char *line = xasprintf("closed id=%s", req->container_id
                           ? req->container_id : "-");
    record_line(line);
    free(line);
}

static void usage(void) OVS_NO_RETURN;

static void
usage(void)
{
    printf("usage: %s --socket=PATH [--allow-uid=UID] [--delay-ms=N]\n"
           "       [--error=CODE] [--record=FILE] [--ready-file=FILE]\n",
           program_name);
    exit(EXIT_SUCCESS);
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "allow-uid", required_argument, NULL, 'u' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "error", required_argument, NULL, 'e' },
        { "record", required_argument, NULL, 'r' },
        { "ready-file", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct cni_server_options options;
    const char *socket_path = NULL;
    const char *ready_file = NULL;

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_INFO);
    cni_server_options_init(&options);
    options.allowed_uid = getuid();

    for (;;) {
        int c = getopt_long(argc, argv, "", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 's':
            socket_path = optarg;
            break;
        case 'u':
            options.allowed_uid = atoi(optarg);
            break;
        case 'd':
            delay_ms = atoi(optarg);
            break;
        case 'e':
            error_code = atoi(optarg);
            break;
        case 'r':
            record = fopen(optarg, "a");
            if (!record) {
                ovs_fatal(errno, "%s", optarg);
            }
            break;
        case 'R':
            ready_file = optarg;
            break;
        case 'h':
            usage();
        default:
            exit(EXIT_FAILURE);
        }
    }
    if (!socket_path) {
        ovs_fatal(0, "--socket is required (--help for help)");
    }

    struct cni_server *server;
    int error = cni_server_create(socket_path, &options, handle, closed,
                                  NULL, &server);
    if (error) {
        ovs_fatal(error, "%s", socket_path);
    }
    if (ready_file) {
        FILE *f = fopen(ready_file, "w");
        if (!f) {
            ovs_fatal(errno, "%s", ready_file);
        }
        fprintf(f, "%ld\n", (long int) getpid());
        fclose(f);
    }

    for (;;) {
        cni_server_run(server);

        struct pending *p;
        LIST_FOR_EACH_SAFE (p, node, &pending) {
            if (time_msec() >= p->due) {
                ovs_list_remove(&p->node);
                answer(p->ctx);
                free(p);
            }
        }

        cni_server_wait(server);
        LIST_FOR_EACH (p, node, &pending) {
            poll_timer_wait_until(p->due);
        }
        poll_block();
    }
}
