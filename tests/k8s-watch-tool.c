/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* k8s-watch-tool: drives lib/k8s-client from the command line, for
 * tests/system/test-k8s-client.sh.
 *
 *   k8s-watch-tool [OPTIONS] watch PATH
 *       Lists and watches PATH, printing one line per change:
 *           UPSERT <ns>/<name> <rv>     REMOVE <ns>/<name> <rv>
 *           SYNCED <count>
 *       (cluster-scoped objects print just <name>).  SIGUSR1 prints the
 *       client status between "STATUS-BEGIN" and "STATUS-END"; SIGTERM,
 *       SIGINT or the end of --duration print it too, then "CPU-MS <ms>",
 *       and exit 0.
 *
 *   k8s-watch-tool [OPTIONS] get PATH
 *   k8s-watch-tool [OPTIONS] create|update|merge-patch|json-patch PATH JSON
 *   k8s-watch-tool [OPTIONS] delete PATH [RESOURCE-VERSION]
 *       (with grace period 0, as a kubelet's final delete)
 *   k8s-watch-tool [OPTIONS] rmw PATH MERGE-JSON
 *       One request (rmw: read-modify-write that merges MERGE-JSON into the
 *       object, retried on conflict).  Prints "STATUS <http status>", then
 *       "BODY <json>" if there is a body and "ERROR <message>" on failure
 *       (rmw also prints "ATTEMPTS <n>").  Exits 0 on success, 1 on failure,
 *       2 on timeout. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <jansson.h>
#include "k8s-client.h"
#include "k8s-config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"

#pragma GCC poison json_object json_array json_string json_integer
#pragma GCC poison json_real json_equal

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t exit_requested;
static volatile sig_atomic_t status_requested;

static void
signal_handler(int sig)
{
    int save_errno = errno;

    if (sig == SIGUSR1) {
        status_requested = 1;
    } else {
        exit_requested = 1;
    }
    ignore(write(signal_pipe[1], "x", 1));
    errno = save_errno;
}

static void
setup_signals(void)
{
    struct sigaction sa;

    xpipe_nonblocking(signal_pipe);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static void
drain_signal_pipe(void)
{
    char buf[64];

    while (read(signal_pipe[0], buf, sizeof buf) > 0) {
        continue;
    }
}

static void
print_status(const struct k8s_client *client)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    k8s_client_format_status(client, &s);
    printf("STATUS-BEGIN\n%sSTATUS-END\n", ds_cstr(&s));
    ds_destroy(&s);
}

static void
print_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    long long int ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL
                       + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    printf("CPU-MS %lld\n", ms);
}

/* Watch. */

struct watcher {
    struct k8s_watch *watch;
};

static void
watch_cb(void *watcher_, enum k8s_change change, const char *namespace,
         const char *name, const json_t *object)
{
    struct watcher *watcher = watcher_;

    if (change == K8S_CHANGE_SYNCED) {
        printf("SYNCED %"PRIuSIZE"\n", k8s_watch_count(watcher->watch));
        return;
    }
    const char *rv = json_string_value(json_object_get(
        json_object_get(object, "metadata"), "resourceVersion"));
    printf("%s %s%s%s %s\n", k8s_change_to_string(change),
           namespace ? namespace : "", namespace ? "/" : "", name,
           rv ? rv : "?");
}

static int
do_watch(struct k8s_client *client, const char *path,
         const char *label_selector, const char *field_selector,
         double duration)
{
    struct watcher watcher;
    long long int end = (duration > 0
                         ? time_msec() + (long long int) (duration * 1000)
                         : LLONG_MAX);

    setup_signals();
    watcher.watch = k8s_watch_create(client, path, label_selector,
                                     field_selector, watch_cb, &watcher);
    for (;;) {
        k8s_client_run(client);
        if (status_requested) {
            status_requested = 0;
            print_status(client);
        }
        if (exit_requested || time_msec() >= end) {
            break;
        }
        k8s_client_wait(client);
        poll_fd_wait(signal_pipe[0], POLLIN);
        if (end != LLONG_MAX) {
            poll_timer_wait_until(end);
        }
        poll_block();
        drain_signal_pipe();
    }
    print_status(client);
    print_cpu();
    k8s_watch_destroy(watcher.watch);
    return 0;
}

/* Requests. */

static json_t *
parse_json_arg(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);

    if (!json) {
        ovs_fatal(0, "invalid JSON argument: %s", error.text);
    }
    return json;
}

/* Applies RFC 7386 merge patch 'patch' to 'target' (both objects). */
static void
merge_patch(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;

    json_object_foreach ((json_t *) patch, key, value) {
        json_t *old = json_object_get(target, key);
        if (json_is_null(value)) {
            json_object_del(target, key);
        } else if (json_is_object(value) && json_is_object(old)) {
            merge_patch(old, value);
        } else if (json_is_object(value)) {
            json_t *new = json_pack("{}");
            merge_patch(new, value);
            json_object_set_new(target, key, new);
        } else {
            json_object_set(target, key, value);
        }
    }
}

struct rmw_ctx {
    struct k8s_client *client;
    const char *path;
    json_t *merge;
    json_t *interfere;          /* Patch sent concurrently, once, or NULL. */
    int attempts;
};

static json_t *
rmw_mutate(void *ctx_, const json_t *current, char **errorp OVS_UNUSED)
{
    struct rmw_ctx *ctx = ctx_;

    ctx->attempts++;
    if (ctx->interfere) {
        /* A concurrent writer, to provoke a conflict. */
        k8s_merge_patch(ctx->client, ctx->path, ctx->interfere, NULL, NULL);
        json_decref(ctx->interfere);
        ctx->interfere = NULL;
    }

    json_t *new = json_deep_copy(current);
    merge_patch(new, ctx->merge);
    return new;
}

static int
print_result(int retval, const struct k8s_result *result)
{
    printf("STATUS %ld\n", result->status);
    if (result->body) {
        char *text = json_dumps(result->body, JSON_COMPACT | JSON_SORT_KEYS);
        printf("BODY %s\n", text);
        free(text);
    }
    if (result->error) {
        printf("ERROR %s\n", result->error);
    }
    return retval ? 2 : result->error ? 1 : 0;
}

static void
usage(void)
{
    printf("%s: drives the livebind Kubernetes client\n"
           "usage: %s [OPTIONS] COMMAND ARGS...\n"
           "commands:\n"
           "  watch PATH\n"
           "  get PATH\n"
           "  create|update|merge-patch|json-patch PATH JSON\n"
           "  delete PATH [RESOURCE-VERSION]\n"
           "  rmw PATH MERGE-JSON\n"
           "options:\n"
           "  --server=URL            API server URL\n"
           "  --kubeconfig=FILE       kubeconfig file\n"
           "  --label-selector=SEL    for watch\n"
           "  --field-selector=SEL    for watch\n"
           "  --duration=SECONDS      watch: exit after this long\n"
           "  --watch-timeout=SECONDS server-side watch timeout\n"
           "  --backoff-max=MS        largest retry delay\n"
           "  --max-event=BYTES       largest watch event\n"
           "  --page-size=N           list page size\n"
           "  --timeout=MS            request timeout (default 30000)\n"
           "  --attempts=N            rmw: attempts on conflict\n"
           "  --interfere=JSON        rmw: concurrently merge-patch the\n"
           "                          object after the first read\n"
           "  -v, --verbose           log the client's debug messages\n",
           program_name, program_name);
    exit(EXIT_SUCCESS);
}

int
main(int argc, char *argv[])
{
    enum {
        OPT_SERVER = UCHAR_MAX + 1, OPT_KUBECONFIG, OPT_LABEL, OPT_FIELD,
        OPT_DURATION, OPT_WATCH_TIMEOUT, OPT_BACKOFF_MAX, OPT_MAX_EVENT,
        OPT_PAGE_SIZE, OPT_TIMEOUT, OPT_ATTEMPTS, OPT_INTERFERE,
    };
    static const struct option long_options[] = {
        {"server", required_argument, NULL, OPT_SERVER},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"label-selector", required_argument, NULL, OPT_LABEL},
        {"field-selector", required_argument, NULL, OPT_FIELD},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT},
        {"backoff-max", required_argument, NULL, OPT_BACKOFF_MAX},
        {"max-event", required_argument, NULL, OPT_MAX_EVENT},
        {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"attempts", required_argument, NULL, OPT_ATTEMPTS},
        {"interfere", required_argument, NULL, OPT_INTERFERE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct k8s_client_options opts;
    const char *server = NULL;
    const char *kubeconfig = NULL;
    const char *label_selector = NULL;
    const char *field_selector = NULL;
    const char *interfere = NULL;
    double duration = 0;
    long long int timeout_ms = 30000;
    int attempts = 0;

    set_program_name(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&opts, 0, sizeof opts);
    for (;;) {
        int c = getopt_long(argc, argv, "vh", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_SERVER: server = optarg; break;
        case OPT_KUBECONFIG: kubeconfig = optarg; break;
        case OPT_LABEL: label_selector = optarg; break;
        case OPT_FIELD: field_selector = optarg; break;
        case OPT_DURATION: duration = atof(optarg); break;
        case OPT_WATCH_TIMEOUT: opts.watch_timeout_s = atoi(optarg); break;
        case OPT_BACKOFF_MAX: opts.backoff_max_ms = atoi(optarg); break;
        case OPT_MAX_EVENT: opts.max_event = atol(optarg); break;
        case OPT_PAGE_SIZE: opts.list_page_size = atoi(optarg); break;
        case OPT_TIMEOUT: timeout_ms = atoll(optarg); break;
        case OPT_ATTEMPTS: attempts = atoi(optarg); break;
        case OPT_INTERFERE: interfere = optarg; break;
        case 'v':
            vlog_set_levels_from_string_assert("k8s_client:console:dbg");
            break;
        case 'h':
            usage();
            break;
        default:
            exit(EXIT_FAILURE);
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 2) {
        ovs_fatal(0, "need a command and a path (use --help for help)");
    }
    const char *command = argv[0];
    const char *path = argv[1];

    struct k8s_config *config;
    char *error;
    if (k8s_config_load(kubeconfig, server, &config, &error)) {
        ovs_fatal(0, "%s", error);
    }
    opts.request_timeout_ms = timeout_ms;
    struct k8s_client *client = k8s_client_create(config, &opts);
    k8s_config_destroy(config);

    struct k8s_result result;
    int status;
    if (!strcmp(command, "watch")) {
        status = do_watch(client, path, label_selector, field_selector,
                          duration);
    } else if (!strcmp(command, "get")) {
        status = print_result(k8s_request_sync(client, "GET", path, NULL,
                                               NULL, timeout_ms, &result),
                              &result);
        k8s_result_destroy(&result);
    } else if (!strcmp(command, "delete")) {
        /* Grace period 0: a pod on a node is otherwise only marked for
         * deletion, waiting for a kubelet that the bed does not run. */
        json_t *body = json_pack("{s:s, s:s, s:i}", "kind", "DeleteOptions",
                                 "apiVersion", "v1",
                                 "gracePeriodSeconds", 0);
        if (argc > 2) {
            json_object_set_new(body, "preconditions",
                                json_pack("{s:s}", "resourceVersion",
                                          argv[2]));
        }
        status = print_result(k8s_request_sync(client, "DELETE", path, NULL,
                                               body, timeout_ms, &result),
                              &result);
        json_decref(body);
        k8s_result_destroy(&result);
    } else if (!strcmp(command, "rmw")) {
        if (argc < 3) {
            ovs_fatal(0, "rmw needs PATH and MERGE-JSON");
        }
        struct rmw_ctx ctx = {
            .client = client,
            .path = path,
            .merge = parse_json_arg(argv[2]),
            .interfere = interfere ? parse_json_arg(interfere) : NULL,
        };
        int retval = k8s_read_modify_write_sync(client, path, attempts,
                                                rmw_mutate, &ctx, timeout_ms,
                                                &result);
        printf("ATTEMPTS %d\n", ctx.attempts);
        status = print_result(retval, &result);
        k8s_result_destroy(&result);
        json_decref(ctx.merge);
        json_decref(ctx.interfere);
    } else {
        static const struct {
            const char *command;
            const char *method;
            const char *content_type;
        } writes[] = {
            { "create", "POST", "application/json" },
            { "update", "PUT", "application/json" },
            { "merge-patch", "PATCH", "application/merge-patch+json" },
            { "json-patch", "PATCH", "application/json-patch+json" },
        };
        size_t i;
        for (i = 0; i < ARRAY_SIZE(writes); i++) {
            if (!strcmp(command, writes[i].command)) {
                break;
            }
        }
        if (i >= ARRAY_SIZE(writes)) {
            ovs_fatal(0, "unknown command \"%s\"", command);
        } else if (argc < 3) {
            ovs_fatal(0, "%s needs PATH and JSON", command);
        }
        json_t *body = parse_json_arg(argv[2]);
        status = print_result(k8s_request_sync(client, writes[i].method, path,
                                               writes[i].content_type, body,
                                               timeout_ms, &result),
                              &result);
        json_decref(body);
        k8s_result_destroy(&result);
    }

    k8s_client_destroy(client);
    return status;
}
