/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* livebind: the CNI plugin.  It creates nothing itself: it validates what
 * the runtime passed, opens the pod's network namespace, forwards both to
 * the node's livebind-agent over a Unix socket and prints the agent's
 * answer.  The agent does the plumbing and undoes it on failure.
 * docs/cni.md has the details. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cni.h"
#include "cni-server.h"
#include "netns-fd.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(livebind_cni);

static const char *const cni_env_vars[] = {
    "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS",
    "CNI_PATH",
};

/* Writes 'json' and a newline to stdout; returns false if that failed. */
static bool
print_json(const char *json)
{
    return (printf("%s\n", json) >= 0 && !fflush(stdout)
            && !ferror(stdout));
}

/* Reads all of stdin, at most CNI_MAX_MESSAGE bytes, into 'ds'. */
static struct cni_error *
read_config(struct ds *ds)
{
    for (;;) {
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            ds_put_buffer(ds, buf, n);
            if (ds->length > CNI_MAX_MESSAGE) {
                return cni_error_createf(CNI_ERR_DECODE, "network "
                                         "configuration longer than %d "
                                         "bytes", CNI_MAX_MESSAGE);
            }
        } else if (!n) {
            return NULL;
        } else if (errno != EINTR) {
            return cni_error_createf(CNI_ERR_IO, "reading the network "
                                     "configuration from stdin: %s",
                                     ovs_strerror(errno));
        }
    }
}

static void
set_log_level(enum cni_log_level level)
{
    static const enum vlog_level levels[] = {
        [CNI_LOG_OFF] = VLL_OFF,
        [CNI_LOG_ERROR] = VLL_ERR,
        [CNI_LOG_WARN] = VLL_WARN,
        [CNI_LOG_INFO] = VLL_INFO,
        [CNI_LOG_DEBUG] = VLL_DBG,
    };

    /* Only stderr: the runtime collects it.  stdout is for the result. */
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, levels[level]);
}

/* Opens CNI_NETNS of 'req', for the agent, which never opens a path a
 * request names (netns-fd.h says why): stores the descriptor in '*fdp', or
 * -1 if there is none to send.  A DEL whose namespace is gone says so in
 * 'req' and succeeds, as CNI wants: the namespace took its interfaces with
 * it, and the agent deletes the host end by its name. */
static struct cni_error *
open_netns(struct cni_request *req, int *fdp)
{
    enum cni_command cmd = req->command;
    char *msg = NULL;

    *fdp = -1;
    if (!req->netns || (cmd != CNI_CMD_ADD && cmd != CNI_CMD_CHECK
                        && cmd != CNI_CMD_DEL)) {
        return NULL;
    }
    int error = netns_fd_open(req->netns, fdp, &msg);
    struct cni_error *cni_error = NULL;
    if (!error) {
        /* Sent as it is. */
    } else if (cmd != CNI_CMD_DEL) {
        cni_error = cni_error_createf(CNI_ERR_INVALID_ENV, "CNI_NETNS: %s",
                                      msg);
    } else if (error == ENOENT) {
        req->netns_gone = true;
    } else {
        VLOG_WARN("DEL without the pod's namespace: %s", msg);
    }
    free(msg);
    return cni_error;
}

/* Sends 'req' to the agent; for ADD, stores the result in '*resultp'. */
static struct cni_error *
forward(struct cni_request *req, struct cni_result **resultp)
{
    int netns_fd;
    struct cni_error *error = open_netns(req, &netns_fd);
    if (error) {
        return error;
    }

    char *request = cni_request_to_json(req);
    char *reply;
    size_t reply_len;

    VLOG_DBG("request: %s", request);
    error = cni_client_transact(req->config.agent_socket, request, netns_fd,
                                req->config.timeout_ms, &reply, &reply_len);
    if (netns_fd >= 0) {
        close(netns_fd);
    }
    free(request);
    if (error) {
        return error;
    }

    VLOG_DBG("reply: %s", reply);
    error = cni_response_parse(reply, reply_len, resultp);
    free(reply);
    if (!error && req->command == CNI_CMD_ADD && !*resultp) {
        error = cni_error_createf(CNI_ERR_AGENT, "the livebind agent "
                                  "returned no result for ADD");
    }
    return error;
}

int
main(int argc, char *argv[])
{
    struct cni_request req;
    struct cni_result *result = NULL;
    struct cni_error *error = NULL;
    struct ds config = DS_EMPTY_INITIALIZER;
    struct smap env = SMAP_INITIALIZER(&env);
    bool ok;

    set_program_name(argv[0]);
    set_log_level(CNI_LOG_WARN);
    if (argc > 1) {
        fprintf(stderr, "%s: a CNI plugin takes no arguments; the container "
                "runtime runs it (see docs/cni.md)\n", program_name);
        return 1;
    }

    for (size_t i = 0; i < ARRAY_SIZE(cni_env_vars); i++) {
        const char *value = getenv(cni_env_vars[i]);
        if (value) {
            smap_add(&env, cni_env_vars[i], value);
        }
    }

    /* Like the reference plugins, VERSION ignores stdin. */
    const char *command = smap_get(&env, "CNI_COMMAND");
    if (command && !strcmp(command, "VERSION")) {
        char *json = cni_version_info_json();
        ok = print_json(json);
        free(json);
        smap_destroy(&env);
        return ok ? 0 : 1;
    }
    if (!command && isatty(STDIN_FILENO)) {
        fprintf(stderr, "%s: livebind CNI plugin, CNI versions 0.4.0, 1.0.0, "
                "1.1.0 (CNI_COMMAND is not set)\n", program_name);
    }

    /* Never block on a terminal; a configuration helps report even a
     * missing CNI_COMMAND in the right version. */
    error = command || !isatty(STDIN_FILENO) ? read_config(&config) : NULL;
    if (error) {
        cni_request_init(&req);
    } else {
        error = cni_request_from_env(&env, config.string, config.length,
                                     &req);
    }
    if (!error) {
        set_log_level(req.config.log_level);
        error = forward(&req, &result);
    }

    if (error) {
        VLOG_INFO("%s container %s: error %d: %s%s%s",
                  cni_command_to_string(req.command),
                  req.container_id ? req.container_id : "-", error->code,
                  error->msg, error->details ? ": " : "",
                  error->details ? error->details : "");
        char *json = cni_error_to_json(error, req.config.version);
        print_json(json);
        free(json);
        ok = false;
    } else {
        VLOG_INFO("%s container %s: ok", cni_command_to_string(req.command),
                  req.container_id ? req.container_id : "-");
        ok = true;
        if (req.command == CNI_CMD_ADD) {
            char *json = cni_result_to_json(result, req.config.version);
            ok = print_json(json);
            free(json);
        }
    }

    cni_result_destroy(result);
    cni_error_destroy(error);
    cni_request_destroy(&req);
    ds_destroy(&config);
    smap_destroy(&env);
    return ok ? 0 : 1;
}
