/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* CNI (lib/cni): what the runtime and the plugin send.
 *
 * Input: optionally environment variables, one "NAME=VALUE" a line, ended
 * by an empty line; then bytes that are tried as the network configuration
 * (with those variables, or an ADD's if there were none), as a request on
 * the agent's socket, as a CNI result and as the agent's response.
 *
 * Invariants: what parses formats, and what it formats parses again to the
 * same text (request, result in every version, response); a result that
 * parses validates; errors have a code and a message; nothing leaks.  For
 * a request, with and without a namespace descriptor beside it: ADD and
 * CHECK are refused without one, and one is kept only if it came and the
 * request is not refused. */

#include <config.h>
#include <string.h>
#include "cni.h"
#include "fuzz.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

static void
check_error(struct cni_error *error)
{
    FUZZ_ASSERT(error->code > 0 && error->msg && error->msg[0],
                "error %d \"%s\"", error->code,
                error->msg ? error->msg : "(null)");
    for (int v = CNI_V040; v <= CNI_V110; v++) {
        free(cni_error_to_json(error, v));
    }
    cni_error_destroy(error);
}

static void
check_request_round_trip(const struct cni_request *req)
{
    char *json = cni_request_to_json(req);
    struct cni_request again;
    struct cni_error *error = cni_request_from_json(json, strlen(json),
                                                    &again);
    FUZZ_ASSERT(!error, "request does not parse back: %s\n%s",
                error->msg, json);
    char *json2 = cni_request_to_json(&again);
    FUZZ_ASSERT(!strcmp(json, json2), "request changes:\n%s\n%s", json,
                json2);
    free(json2);
    cni_request_destroy(&again);
    free(json);
}

static void
check_netns_fd_rule(const struct cni_request *req)
{
    for (int has_fd = 0; has_fd < 2; has_fd++) {
        bool keep;
        struct cni_error *error = cni_request_check_netns_fd(req, has_fd,
                                                             &keep);
        bool needs = (req->command == CNI_CMD_ADD
                      || req->command == CNI_CMD_CHECK);
        FUZZ_ASSERT(!keep || (has_fd && !error), "keeps a descriptor that "
                    "%s", has_fd ? "goes with an error" : "did not come");
        FUZZ_ASSERT(has_fd || !needs || error, "%s without a descriptor "
                    "accepted", cni_command_to_string(req->command));
        if (error) {
            check_error(error);
        }
    }
}

static void
check_result(const struct cni_result *result)
{
    struct cni_error *error = cni_result_validate(result);
    FUZZ_ASSERT(!error, "parsed result does not validate: %s", error->msg);

    for (int v = CNI_V040; v <= CNI_V110; v++) {
        char *json = cni_result_to_json(result, v);
        struct cni_result *again;
        error = cni_result_from_json(json, strlen(json), &again);
        FUZZ_ASSERT(!error, "result %s does not parse back: %s\n%s",
                    cni_version_to_string(v), error->msg, json);
        char *json2 = cni_result_to_json(again, v);
        FUZZ_ASSERT(!strcmp(json, json2), "result changes:\n%s\n%s", json,
                    json2);
        free(json2);
        cni_result_destroy(again);
        free(json);
    }

    char *response = cni_response_result_json(result, CNI_VERSION_DEFAULT);
    struct cni_result *again;
    error = cni_response_parse(response, strlen(response), &again);
    FUZZ_ASSERT(!error && again, "response does not parse back:\n%s",
                response);
    cni_result_destroy(again);
    free(response);
}

/* Splits "NAME=VALUE" lines ended by an empty line off the front of 'data'
 * into 'env'.  Returns the number of bytes taken, 0 if there was no empty
 * line. */
static size_t
parse_env(const char *data, size_t size, struct smap *env)
{
    const char *end = NULL;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == '\n' && data[i + 1] == '\n') {
            end = data + i + 1;
            break;
        }
    }
    if (!end && size && data[0] == '\n') {
        end = data;
    }
    if (!end) {
        return 0;
    }

    const char *p = data;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *eq = memchr(p, '=', nl - p);
        if (eq) {
            char *name = xmemdup0(p, eq - p);
            char *value = xmemdup0(eq + 1, nl - eq - 1);
            smap_replace(env, name, value);
            free(name);
            free(value);
        }
        p = nl + 1;
    }
    return end + 1 - data;
}

static void
add_env(struct smap *env)
{
    smap_add(env, "CNI_COMMAND", "ADD");
    smap_add(env, "CNI_CONTAINERID", "c0ffee01");
    smap_add(env, "CNI_NETNS", "/var/run/netns/pod1");
    smap_add(env, "CNI_IFNAME", "eth0");
    smap_add(env, "CNI_PATH", "/opt/cni/bin");
    smap_add(env, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
             "K8S_POD_NAME=pod1");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data_, size_t size)
{
    const char *data = (const char *) data_;
    struct smap env = SMAP_INITIALIZER(&env);
    struct cni_request req;
    struct cni_result *result;
    struct cni_error *error;

    size_t n = parse_env(data, size, &env);
    if (!n) {
        add_env(&env);
    }
    error = cni_request_from_env(&env, data + n, size - n, &req);
    if (error) {
        check_error(error);
    } else {
        /* The plugin answers VERSION itself: it never reaches the agent. */
        if (req.command != CNI_CMD_VERSION) {
            check_request_round_trip(&req);
        }
        if (req.config.prev_result) {
            check_result(req.config.prev_result);
        }
    }
    cni_request_destroy(&req);
    smap_destroy(&env);

    error = cni_request_from_json(data, size, &req);
    if (error) {
        check_error(error);
    } else {
        check_request_round_trip(&req);
        check_netns_fd_rule(&req);
    }
    cni_request_destroy(&req);

    error = cni_result_from_json(data, size, &result);
    if (error) {
        check_error(error);
    } else {
        check_result(result);
        cni_result_destroy(result);
    }

    result = NULL;
    error = cni_response_parse(data, size, &result);
    if (error) {
        check_error(error);
        FUZZ_ASSERT(!result, "result with an error");
    } else if (result) {
        check_result(result);
        cni_result_destroy(result);
    }
    return 0;
}
