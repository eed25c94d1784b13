/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ct-dump-client.h"

#include <errno.h>
#include "daemon.h"
#include "dirs.h"
#include "jsonrpc.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "socket-util.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

struct lb_ct_dumper {
    char *unixctl_path;         /* NULL: ovs-vswitchd's default. */
    int timeout_ms;
    struct jsonrpc *rpc;        /* The dump under way, if any. */
    struct json *request_id;
    long long int deadline;
};

struct lb_ct_dumper *
lb_ct_dumper_create(const char *unixctl_path, int timeout_ms)
{
    struct lb_ct_dumper *d = xzalloc(sizeof *d);
    d->unixctl_path = nullable_xstrdup(unixctl_path);
    d->timeout_ms = timeout_ms;
    return d;
}

static void
dumper_close(struct lb_ct_dumper *d)
{
    jsonrpc_close(d->rpc);
    d->rpc = NULL;
    json_destroy(d->request_id);
    d->request_id = NULL;
}

void
lb_ct_dumper_destroy(struct lb_ct_dumper *d)
{
    if (d) {
        dumper_close(d);
        free(d->unixctl_path);
        free(d);
    }
}

/* The unixctl socket: as ovs-appctl finds it, from the pid file. */
static char *
unixctl_target(const struct lb_ct_dumper *d, char **errorp)
{
    if (d->unixctl_path) {
        return xasprintf("unix:%s", d->unixctl_path);
    }
    char *pidfile = xasprintf("%s/ovs-vswitchd.pid", ovs_rundir());
    pid_t pid = read_pidfile(pidfile);
    free(pidfile);
    if (pid < 0) {
        *errorp = xasprintf("cannot read ovs-vswitchd's pid file in %s (%s)",
                            ovs_rundir(), ovs_strerror(-pid));
        return NULL;
    }
    return xasprintf("unix:%s/ovs-vswitchd.%ld.ctl", ovs_rundir(),
                     (long int) pid);
}

int
lb_ct_dumper_start(struct lb_ct_dumper *d, uint16_t zone, char **errorp)
{
    if (d->rpc) {
        *errorp = xstrdup("a dump is under way");
        return EBUSY;
    }
    char *target = unixctl_target(d, errorp);
    if (!target) {
        return ENOENT;
    }
    /* Non-blocking: the connection completes in later polls. */
    struct stream *stream;
    int error = stream_open(target, &stream, DSCP_DEFAULT);
    if (error) {
        *errorp = xasprintf("%s: %s", target, ovs_strerror(error));
        free(target);
        return error;
    }
    free(target);
    d->rpc = jsonrpc_open(stream);
    struct json *params = json_array_create_2(
        json_string_create("-s"),
        json_string_create_nocopy(xasprintf("zone=%"PRIu16, zone)));
    error = jsonrpc_send(d->rpc, jsonrpc_create_request(
                             "dpctl/dump-conntrack", params,
                             &d->request_id));
    if (error) {
        *errorp = xasprintf("sending the request: %s", ovs_strerror(error));
        dumper_close(d);
        return error;
    }
    d->deadline = time_msec() + d->timeout_ms;
    return 0;
}

bool
lb_ct_dumper_busy(const struct lb_ct_dumper *d)
{
    return d->rpc != NULL;
}

int
lb_ct_dumper_poll(struct lb_ct_dumper *d, char **textp, char **errorp)
{
    *textp = NULL;
    *errorp = NULL;
    if (!d->rpc) {
        *errorp = xstrdup("no dump under way");
        return EINVAL;
    }
    jsonrpc_run(d->rpc);
    struct jsonrpc_msg *msg = NULL;
    int error = jsonrpc_recv(d->rpc, &msg);
    if (error == EAGAIN) {
        if (time_msec() < d->deadline) {
            return EAGAIN;
        }
        *errorp = xstrdup("ovs-vswitchd did not answer in time");
        error = ETIMEDOUT;
    } else if (error) {
        *errorp = xasprintf("reading the reply: %s",
                            ovs_retval_to_string(error));
    } else if (msg->type == JSONRPC_REPLY
               && json_equal(msg->id, d->request_id)
               && msg->result->type == JSON_STRING) {
        *textp = xstrdup(json_string(msg->result));
    } else {
        char *s = (msg->error ? json_to_string(msg->error, 0)
                   : xstrdup("unexpected reply"));
        *errorp = xasprintf("dpctl/dump-conntrack failed: %s", s);
        free(s);
        error = EPROTO;
    }
    jsonrpc_msg_destroy(msg);
    dumper_close(d);
    return error;
}

void
lb_ct_dumper_wait(struct lb_ct_dumper *d)
{
    if (d->rpc) {
        jsonrpc_wait(d->rpc);
        jsonrpc_recv_wait(d->rpc);
        poll_timer_wait_until(d->deadline);
    }
}
