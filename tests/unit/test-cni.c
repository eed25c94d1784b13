/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "cni.h"
#include "cni-server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

/* ---------------------------------------------------------------- helpers */

#define CONF_ADD "{\"cniVersion\":\"1.1.0\",\"name\":\"pods\"," \
                 "\"type\":\"livebind\"}"

/* Sets up the CNI environment of an ADD for pod default/pod1. */
static void
env_add(struct smap *env)
{
    smap_init(env);
    smap_add(env, "CNI_COMMAND", "ADD");
    smap_add(env, "CNI_CONTAINERID", "c0ffee01");
    smap_add(env, "CNI_NETNS", "/var/run/netns/pod1");
    smap_add(env, "CNI_IFNAME", "eth0");
    smap_add(env, "CNI_PATH", "/opt/cni/bin");
    smap_add(env, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
             "K8S_POD_NAME=pod1;K8S_POD_UID=0b9a5e46-6c5e-4a4e-9b2f-"
             "3f1c6c1d2e3f;K8S_POD_INFRA_CONTAINER_ID=c0ffee01");
}

/* Parses 'env' and 'conf' and checks the outcome: 'code' 0 for success,
 * otherwise the error code, with 'needle' (if nonnull) in the message. */
static void
expect_env(const struct smap *env, const char *conf, int code,
           const char *needle)
{
    struct cni_request req;
    struct cni_error *error = cni_request_from_env(env, conf,
                                                   conf ? strlen(conf) : 0,
                                                   &req);
    if (!code) {
        if (error) {
            fail_msg("unexpected error %d: %s", error->code, error->msg);
        }
    } else {
        if (!error) {
            fail_msg("expected error %d, got success", code);
        }
        if (error->code != code) {
            fail_msg("expected error %d, got %d: %s", code, error->code,
                     error->msg);
        }
        if (needle && !strstr(error->msg, needle)) {
            fail_msg("message \"%s\" lacks \"%s\"", error->msg, needle);
        }
    }
    cni_error_destroy(error);
    cni_request_destroy(&req);
}

/* An ADD with the standard environment and configuration 'conf'. */
static void
expect_conf(const char *conf, int code, const char *needle)
{
    struct smap env;
    env_add(&env);
    expect_env(&env, conf, code, needle);
    smap_destroy(&env);
}

/* The standard ADD with 'var' set to 'value' (NULL: removed). */
static void
expect_var(const char *var, const char *value, int code, const char *needle)
{
    struct smap env;
    env_add(&env);
    smap_remove(&env, var);
    if (value) {
        smap_add(&env, var, value);
    }
    expect_env(&env, CONF_ADD, code, needle);
    smap_destroy(&env);
}

/* A configuration CONF_ADD with 'members' appended. */
static char *
conf_with(const char *members)
{
    return xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"pods\","
                     "\"type\":\"livebind\",%s}", members);
}

static void
expect_conf_with(const char *members, int code, const char *needle)
{
    char *conf = conf_with(members);
    expect_conf(conf, code, needle);
    free(conf);
}

/* ------------------------------------------------------------ name tables */

static void
test_names(void **state OVS_UNUSED)
{
    enum cni_command cmd;
    enum cni_version version;

    for (int i = CNI_CMD_ADD; i <= CNI_CMD_GC; i++) {
        assert_true(cni_command_from_string(cni_command_to_string(i), &cmd));
        assert_int_equal(cmd, i);
    }
    assert_false(cni_command_from_string("add", &cmd));
    for (int i = CNI_V040; i <= CNI_V110; i++) {
        assert_true(cni_version_from_string(cni_version_to_string(i),
                                            &version));
        assert_int_equal(version, i);
    }
    assert_false(cni_version_from_string("0.3.1", &version));
    assert_string_equal(cni_error_code_name(7),
                        "invalid network configuration");
    assert_string_equal(cni_error_code_name(100),
                        "IP address pool exhausted");
    assert_string_equal(cni_error_code_name(999), "unknown error");

    char *json = cni_version_info_json();
    assert_string_equal(json, "{\"cniVersion\":\"1.1.0\",\"supportedVersions\""
                        ":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}");
    free(json);
}

/* ------------------------------------------------------------ environment */

static void
test_env_valid_add(void **state OVS_UNUSED)
{
    struct smap env;
    struct cni_request req;

    env_add(&env);
    struct cni_error *error = cni_request_from_env(&env, CONF_ADD,
                                                   strlen(CONF_ADD), &req);
    assert_null(error);
    assert_int_equal(req.command, CNI_CMD_ADD);
    assert_string_equal(req.container_id, "c0ffee01");
    assert_string_equal(req.netns, "/var/run/netns/pod1");
    assert_string_equal(req.ifname, "eth0");
    assert_string_equal(req.path, "/opt/cni/bin");
    assert_string_equal(req.pod_namespace, "default");
    assert_string_equal(req.pod_name, "pod1");
    assert_string_equal(req.pod_uid, "0b9a5e46-6c5e-4a4e-9b2f-3f1c6c1d2e3f");
    assert_string_equal(req.infra_container_id, "c0ffee01");
    assert_string_equal(smap_get(&req.args, "IgnoreUnknown"), "1");
    assert_int_equal(req.config.version, CNI_V110);
    assert_string_equal(req.config.name, "pods");
    assert_string_equal(req.config.agent_socket, CNI_DEFAULT_SOCKET);
    assert_int_equal(req.config.timeout_ms, CNI_DEFAULT_TIMEOUT_MS);
    assert_int_equal(req.config.log_level, CNI_LOG_WARN);
    assert_null(req.config.prev_result);
    assert_string_equal(req.config.json, CONF_ADD);
    cni_request_destroy(&req);
    smap_destroy(&env);
}

static void
test_env_missing(void **state OVS_UNUSED)
{
    /* Each variable ADD requires. */
    expect_var("CNI_COMMAND", NULL, CNI_ERR_INVALID_ENV, "CNI_COMMAND");
    expect_var("CNI_CONTAINERID", NULL, CNI_ERR_INVALID_ENV,
               "CNI_CONTAINERID");
    expect_var("CNI_NETNS", NULL, CNI_ERR_INVALID_ENV, "CNI_NETNS");
    expect_var("CNI_IFNAME", NULL, CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    /* Empty counts as missing, as for the reference plugins. */
    expect_var("CNI_NETNS", "", CNI_ERR_INVALID_ENV, "CNI_NETNS");
    /* CNI_ARGS must name the pod for ADD. */
    expect_var("CNI_ARGS", NULL, CNI_ERR_INVALID_ENV, "K8S_POD_NAMESPACE");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=default", CNI_ERR_INVALID_ENV,
               "K8S_POD_NAME");
    /* Optional ones. */
    expect_var("CNI_PATH", NULL, 0, NULL);
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod1",
               0, NULL);

    /* All missing ones are named at once. */
    struct smap env;
    env_add(&env);
    smap_remove(&env, "CNI_CONTAINERID");
    smap_remove(&env, "CNI_IFNAME");
    expect_env(&env, CONF_ADD, CNI_ERR_INVALID_ENV,
               "CNI_CONTAINERID, CNI_IFNAME");
    smap_destroy(&env);
}

static void
test_env_per_command(void **state OVS_UNUSED)
{
    struct smap env;

    /* DEL: no netns, no CNI_ARGS needed. */
    env_add(&env);
    smap_replace(&env, "CNI_COMMAND", "DEL");
    smap_remove(&env, "CNI_NETNS");
    smap_remove(&env, "CNI_ARGS");
    expect_env(&env, CONF_ADD, 0, NULL);
    smap_remove(&env, "CNI_IFNAME");
    expect_env(&env, CONF_ADD, CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    smap_destroy(&env);

    /* CHECK is like ADD. */
    env_add(&env);
    smap_replace(&env, "CNI_COMMAND", "CHECK");
    expect_env(&env, CONF_ADD, 0, NULL);
    smap_remove(&env, "CNI_NETNS");
    expect_env(&env, CONF_ADD, CNI_ERR_INVALID_ENV, "CNI_NETNS");
    smap_destroy(&env);

    /* STATUS needs only CNI_COMMAND. */
    smap_init(&env);
    smap_add(&env, "CNI_COMMAND", "STATUS");
    expect_env(&env, CONF_ADD, 0, NULL);
    smap_destroy(&env);

    /* GC needs CNI_PATH and the valid attachments. */
    static const char gc_conf[] =
        "{\"cniVersion\":\"1.1.0\",\"name\":\"pods\",\"type\":\"livebind\","
        "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\","
        "\"ifname\":\"eth0\"}]}";
    smap_init(&env);
    smap_add(&env, "CNI_COMMAND", "GC");
    expect_env(&env, gc_conf, CNI_ERR_INVALID_ENV, "CNI_PATH");
    smap_add(&env, "CNI_PATH", "/opt/cni/bin");
    expect_env(&env, gc_conf, 0, NULL);
    expect_env(&env, CONF_ADD, CNI_ERR_INVALID_CONFIG, "valid-attachments");

    struct cni_request req;
    assert_null(cni_request_from_env(&env, gc_conf, strlen(gc_conf), &req));
    assert_int_equal(req.config.n_valid_attachments, 1);
    assert_string_equal(req.config.valid_attachments[0].container_id, "c1");
    assert_string_equal(req.config.valid_attachments[0].ifname, "eth0");
    cni_request_destroy(&req);
    smap_destroy(&env);

    /* VERSION needs nothing else and no configuration. */
    smap_init(&env);
    smap_add(&env, "CNI_COMMAND", "VERSION");
    expect_env(&env, NULL, 0, NULL);
    smap_destroy(&env);

    /* Unknown commands. */
    expect_var("CNI_COMMAND", "add", CNI_ERR_INVALID_ENV, "CNI_COMMAND");
    expect_var("CNI_COMMAND", "INIT", CNI_ERR_INVALID_ENV, "CNI_COMMAND");
}

static void
test_env_invalid(void **state OVS_UNUSED)
{
    expect_var("CNI_CONTAINERID", "-abc", CNI_ERR_INVALID_ENV,
               "CNI_CONTAINERID");
    expect_var("CNI_CONTAINERID", "a/b", CNI_ERR_INVALID_ENV,
               "CNI_CONTAINERID");
    expect_var("CNI_CONTAINERID", "Ab_c.d-9", 0, NULL);
    expect_var("CNI_IFNAME", "eth0:1", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_IFNAME", "a b", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_IFNAME", ".", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_IFNAME", "..", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_IFNAME", "a/b", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_IFNAME", "0123456789abcdef", CNI_ERR_INVALID_ENV,
               "CNI_IFNAME");
    expect_var("CNI_IFNAME", "0123456789abcde", 0, NULL);
    expect_var("CNI_IFNAME", "eth\xff", CNI_ERR_INVALID_ENV, "CNI_IFNAME");
    expect_var("CNI_NETNS", "var/run/netns/x", CNI_ERR_INVALID_ENV,
               "CNI_NETNS");
    expect_var("CNI_NETNS", "/var/run/\xff", CNI_ERR_INVALID_ENV,
               "CNI_NETNS");

    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod1;oops",
               CNI_ERR_INVALID_ENV, "oops");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=default;=x;K8S_POD_NAME=p",
               CNI_ERR_INVALID_ENV, "KEY=VALUE");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=p;"
               "K8S_POD_NAMESPACE=b", CNI_ERR_INVALID_ENV, "duplicate");
    expect_var("CNI_ARGS", ";K8S_POD_NAMESPACE=a;;K8S_POD_NAME=p;", 0, NULL);
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=Default;K8S_POD_NAME=p",
               CNI_ERR_INVALID_ENV, "K8S_POD_NAMESPACE");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=-p",
               CNI_ERR_INVALID_ENV, "K8S_POD_NAME");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=p.q-1.r", 0,
               NULL);
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=p;"
               "K8S_POD_UID=not a uid", CNI_ERR_INVALID_ENV, "K8S_POD_UID");
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=p;"
               "K8S_POD_INFRA_CONTAINER_ID=/x", CNI_ERR_INVALID_ENV,
               "K8S_POD_INFRA_CONTAINER_ID");
    /* Values may contain '='. */
    expect_var("CNI_ARGS", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=p;X=a=b", 0,
               NULL);
}

/* An environment error is reported in the configuration's version. */
static void
test_env_error_version(void **state OVS_UNUSED)
{
    static const char conf[] = "{\"cniVersion\":\"0.4.0\",\"name\":\"pods\","
                               "\"type\":\"livebind\"}";
    struct smap env;
    struct cni_request req;

    env_add(&env);
    smap_remove(&env, "CNI_NETNS");
    struct cni_error *error = cni_request_from_env(&env, conf, strlen(conf),
                                                   &req);
    assert_non_null(error);
    assert_int_equal(req.config.version, CNI_V040);
    char *json = cni_error_to_json(error, req.config.version);
    assert_string_equal(json, "{\"cniVersion\":\"0.4.0\",\"code\":4,\"msg\":"
                        "\"required environment variable missing for ADD: "
                        "CNI_NETNS\"}");
    free(json);
    cni_error_destroy(error);
    cni_request_destroy(&req);
    smap_destroy(&env);
}

/* ---------------------------------------------------------- configuration */

static void
test_config_decode(void **state OVS_UNUSED)
{
    expect_conf("{\"cniVersion\":", CNI_ERR_DECODE, "not valid JSON");
    expect_conf("", CNI_ERR_DECODE, "no network configuration");
    expect_conf(NULL, CNI_ERR_DECODE, "no network configuration");
    expect_conf("   ", CNI_ERR_DECODE, NULL);
    expect_conf("[1]", CNI_ERR_DECODE, "not a JSON object");
    expect_conf("\"x\"", CNI_ERR_DECODE, NULL);
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"a\",\"name\":\"b\","
                "\"type\":\"livebind\"}", CNI_ERR_DECODE, "duplicate");
    expect_conf(CONF_ADD " trailing", CNI_ERR_DECODE, NULL);
}

static void
test_config_version(void **state OVS_UNUSED)
{
    expect_conf("{\"name\":\"pods\",\"type\":\"livebind\"}",
                CNI_ERR_INVALID_CONFIG, "cniVersion");
    expect_conf("{\"cniVersion\":\"0.3.1\",\"name\":\"pods\","
                "\"type\":\"livebind\"}", CNI_ERR_INCOMPATIBLE_VERSION,
                "0.3.1");
    expect_conf("{\"cniVersion\":\"2.0.0\",\"name\":\"pods\","
                "\"type\":\"livebind\"}", CNI_ERR_INCOMPATIBLE_VERSION, NULL);
    expect_conf("{\"cniVersion\":\"banana\",\"name\":\"pods\","
                "\"type\":\"livebind\"}", CNI_ERR_INVALID_CONFIG, "banana");
    expect_conf("{\"cniVersion\":1,\"name\":\"pods\","
                "\"type\":\"livebind\"}", CNI_ERR_INVALID_CONFIG,
                "must be a string");
    expect_conf("{\"cniVersion\":\"0.4.0\",\"name\":\"pods\","
                "\"type\":\"livebind\"}", 0, NULL);
    expect_conf("{\"cniVersion\":\"1.0.0\",\"name\":\"pods\","
                "\"type\":\"livebind\"}", 0, NULL);

    /* STATUS and GC came with 1.1.0. */
    struct smap env;
    smap_init(&env);
    smap_add(&env, "CNI_COMMAND", "STATUS");
    expect_env(&env, "{\"cniVersion\":\"1.0.0\",\"name\":\"pods\","
               "\"type\":\"livebind\"}", CNI_ERR_INCOMPATIBLE_VERSION,
               "STATUS");
    smap_destroy(&env);
}

static void
test_config_fields(void **state OVS_UNUSED)
{
    expect_conf("{\"cniVersion\":\"1.1.0\",\"type\":\"livebind\"}",
                CNI_ERR_INVALID_CONFIG, "name");
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"a b\","
                "\"type\":\"livebind\"}", CNI_ERR_INVALID_CONFIG, "a b");
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"-a\","
                "\"type\":\"livebind\"}", CNI_ERR_INVALID_CONFIG, NULL);
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"pods\"}",
                CNI_ERR_INVALID_CONFIG, "type");
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"pods\",\"plugins\":[]}",
                CNI_ERR_INVALID_CONFIG, "configuration list");
    expect_conf("{\"cniVersion\":\"1.1.0\",\"name\":\"pods\","
                "\"type\":\"bridge\"}", CNI_ERR_INVALID_CONFIG, "bridge");

    expect_conf_with("\"agentSocket\":\"run/x.sock\"",
                     CNI_ERR_INVALID_CONFIG, "agentSocket");
    expect_conf_with("\"agentSocket\":\"/run/livebind/"
                     "0123456789012345678901234567890123456789012345678901234"
                     "5678901234567890123456789012345678901234567890.sock\"",
                     CNI_ERR_INVALID_CONFIG, "agentSocket");
    expect_conf_with("\"agentSocket\":5", CNI_ERR_INVALID_CONFIG,
                     "agentSocket");
    expect_conf_with("\"timeoutMs\":0", CNI_ERR_INVALID_CONFIG, "timeoutMs");
    expect_conf_with("\"timeoutMs\":600001", CNI_ERR_INVALID_CONFIG,
                     "600001");
    expect_conf_with("\"timeoutMs\":\"30\"", CNI_ERR_INVALID_CONFIG,
                     "timeoutMs");
    expect_conf_with("\"timeoutMs\":1.5", CNI_ERR_INVALID_CONFIG,
                     "timeoutMs");
    expect_conf_with("\"logLevel\":\"loud\"", CNI_ERR_INVALID_CONFIG, "loud");

    struct smap env;
    struct cni_request req;
    char *conf = conf_with("\"agentSocket\":\"/tmp/a.sock\","
                           "\"timeoutMs\":600000,\"logLevel\":\"debug\"");
    env_add(&env);
    assert_null(cni_request_from_env(&env, conf, strlen(conf), &req));
    assert_string_equal(req.config.agent_socket, "/tmp/a.sock");
    assert_int_equal(req.config.timeout_ms, 600000);
    assert_int_equal(req.config.log_level, CNI_LOG_DEBUG);
    cni_request_destroy(&req);
    smap_destroy(&env);
    free(conf);
}

static void
test_config_unknown_fields(void **state OVS_UNUSED)
{
    /* CNI's own fields and other tools' fields are accepted. */
    expect_conf_with("\"foo\":1,\"bar\":{\"x\":[1]}", 0, NULL);
    expect_conf_with("\"runtimeConfig\":{\"mac\":\"0a:58:00:00:00:01\"},"
                     "\"capabilities\":{\"mac\":true},\"args\":{\"a\":1},"
                     "\"ipMasq\":false,"
                     "\"dns\":{\"nameservers\":[\"1.1.1.1\"]},"
                     "\"cniVersions\":[\"1.0.0\"],\"disableCheck\":true,"
                     "\"cni.dev/whatever\":1", 0, NULL);
    expect_conf_with("\"ipam\":{}", 0, NULL);

    /* Evident misspellings of livebind's own options are not. */
    expect_conf_with("\"timeout_ms\":500", CNI_ERR_UNSUPPORTED_FIELD,
                     "\"timeout_ms\": 500 (did you mean \"timeoutMs\"?)");
    expect_conf_with("\"TimeoutMS\":500", CNI_ERR_UNSUPPORTED_FIELD,
                     "timeoutMs");
    expect_conf_with("\"timeout\":5", CNI_ERR_UNSUPPORTED_FIELD,
                     "timeoutMs");
    expect_conf_with("\"AgentSocket\":\"/x\"", CNI_ERR_UNSUPPORTED_FIELD,
                     "agentSocket");
    expect_conf_with("\"agent-socket\":\"/x\"", CNI_ERR_UNSUPPORTED_FIELD,
                     "\"/x\"");
    expect_conf_with("\"socket\":\"/x\"", CNI_ERR_UNSUPPORTED_FIELD,
                     "agentSocket");
    expect_conf_with("\"log_level\":\"debug\"", CNI_ERR_UNSUPPORTED_FIELD,
                     "logLevel");
    /* livebind assigns addresses itself. */
    expect_conf_with("\"ipam\":{\"type\":\"host-local\"}",
                     CNI_ERR_UNSUPPORTED_FIELD, "host-local");
}

static void
test_config_prev_result(void **state OVS_UNUSED)
{
    struct smap env;
    struct cni_request req;

    char *conf = conf_with(
        "\"prevResult\":{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":"
        "\"eth0\",\"sandbox\":\"/var/run/netns/pod1\",\"socketPath\":\"/x\"}],"
        "\"ips\":[{\"version\":\"4\",\"address\":\"10.244.0.5/16\","
        "\"gateway\":\"10.244.0.1\",\"interface\":0}]}");
    env_add(&env);
    smap_replace(&env, "CNI_COMMAND", "CHECK");
    assert_null(cni_request_from_env(&env, conf, strlen(conf), &req));
    assert_non_null(req.config.prev_result);
    assert_int_equal(req.config.prev_result->n_interfaces, 1);
    assert_string_equal(req.config.prev_result->interfaces[0].sandbox,
                        "/var/run/netns/pod1");
    assert_int_equal(req.config.prev_result->n_ips, 1);
    assert_string_equal(req.config.prev_result->ips[0].address,
                        "10.244.0.5/16");
    assert_int_equal(req.config.prev_result->ips[0].interface, 0);
    cni_request_destroy(&req);
    smap_destroy(&env);
    free(conf);

    expect_conf_with("\"prevResult\":{\"ips\":[{\"address\":\"x\"}]}",
                     CNI_ERR_INVALID_CONFIG, "prevResult: ips[0].address");
    expect_conf_with("\"prevResult\":{\"ips\":[{\"address\":\"10.0.0.1/8\","
                     "\"interface\":3}]}", CNI_ERR_INVALID_CONFIG,
                     "interface");
    expect_conf_with("\"prevResult\":[]", CNI_ERR_INVALID_CONFIG,
                     "prevResult");
    expect_conf_with("\"prevResult\":null", 0, NULL);
}

static void
test_config_valid_attachments(void **state OVS_UNUSED)
{
    struct smap env;
    smap_init(&env);
    smap_add(&env, "CNI_COMMAND", "GC");
    smap_add(&env, "CNI_PATH", "/opt/cni/bin");

    char *conf = conf_with("\"cni.dev/valid-attachments\":{}");
    expect_env(&env, conf, CNI_ERR_INVALID_CONFIG, "must be a list");
    free(conf);
    conf = conf_with("\"cni.dev/valid-attachments\":[{\"containerID\":1}]");
    expect_env(&env, conf, CNI_ERR_INVALID_CONFIG, "containerID");
    free(conf);
    /* An empty list is a list: every attachment is stale. */
    conf = conf_with("\"cni.dev/valid-attachments\":[]");
    expect_env(&env, conf, 0, NULL);
    free(conf);
    smap_destroy(&env);
}

/* ---------------------------------------------------------------- results */

static struct cni_result *
sample_result(void)
{
    struct cni_result *r = cni_result_create();
    size_t i = cni_result_add_interface(r, "eth0", "0a:58:0a:f4:00:05",
                                        "/var/run/netns/p", 1400);
    cni_result_add_ip(r, "10.244.0.5/16", "10.244.0.1", i);
    cni_result_add_ip(r, "fd00::5/64", NULL, i);
    cni_result_add_route(r, "0.0.0.0/0", "10.244.0.1");
    cni_result_add_route(r, "fd00::/64", NULL);
    svec_add(&r->dns.nameservers, "10.96.0.10");
    r->dns.domain = xstrdup("cluster.local");
    svec_add(&r->dns.search, "default.svc.cluster.local");
    svec_add(&r->dns.options, "ndots:5");
    return r;
}

#define DNS_JSON "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":" \
    "\"cluster.local\",\"search\":[\"default.svc.cluster.local\"]," \
    "\"options\":[\"ndots:5\"]}"

static const char result_110[] =
    "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\","
    "\"mac\":\"0a:58:0a:f4:00:05\",\"mtu\":1400,\"sandbox\":"
    "\"/var/run/netns/p\"}],\"ips\":[{\"interface\":0,\"address\":"
    "\"10.244.0.5/16\",\"gateway\":\"10.244.0.1\"},{\"interface\":0,"
    "\"address\":\"fd00::5/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
    "\"gw\":\"10.244.0.1\"},{\"dst\":\"fd00::/64\"}]," DNS_JSON "}";

static const char result_100[] =
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
    "\"mac\":\"0a:58:0a:f4:00:05\",\"sandbox\":\"/var/run/netns/p\"}],"
    "\"ips\":[{\"interface\":0,\"address\":\"10.244.0.5/16\",\"gateway\":"
    "\"10.244.0.1\"},{\"interface\":0,\"address\":\"fd00::5/64\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.0.1\"},"
    "{\"dst\":\"fd00::/64\"}]," DNS_JSON "}";

static const char result_040[] =
    "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\","
    "\"mac\":\"0a:58:0a:f4:00:05\",\"sandbox\":\"/var/run/netns/p\"}],"
    "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":"
    "\"10.244.0.5/16\",\"gateway\":\"10.244.0.1\"},{\"version\":\"6\","
    "\"interface\":0,\"address\":\"fd00::5/64\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.0.1\"},"
    "{\"dst\":\"fd00::/64\"}]," DNS_JSON "}";

static void
test_result_format(void **state OVS_UNUSED)
{
    struct cni_result *r = sample_result();
    assert_null(cni_result_validate(r));

    static const struct {
        enum cni_version version;
        const char *json;
    } cases[] = {
        { CNI_V110, result_110 },
        { CNI_V100, result_100 },
        { CNI_V040, result_040 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *json = cni_result_to_json(r, cases[i].version);
        assert_string_equal(json, cases[i].json);

        /* Parsing gives back the same result. */
        struct cni_result *r2;
        assert_null(cni_result_from_json(json, strlen(json), &r2));
        char *json2 = cni_result_to_json(r2, cases[i].version);
        assert_string_equal(json2, cases[i].json);
        free(json2);
        cni_result_destroy(r2);
        free(json);
    }
    cni_result_destroy(r);

    /* An empty result still has its version and "dns". */
    r = cni_result_create();
    char *json = cni_result_to_json(r, CNI_V100);
    assert_string_equal(json, "{\"cniVersion\":\"1.0.0\",\"dns\":{}}");
    free(json);
    cni_result_destroy(r);
}

static void
expect_invalid_result(struct cni_result *r, const char *needle)
{
    struct cni_error *error = cni_result_validate(r);
    assert_non_null(error);
    assert_int_equal(error->code, CNI_ERR_AGENT);
    if (!strstr(error->msg, needle)) {
        fail_msg("message \"%s\" lacks \"%s\"", error->msg, needle);
    }
    cni_error_destroy(error);
    cni_result_destroy(r);
}

static void
test_result_validate(void **state OVS_UNUSED)
{
    struct cni_result *r;

    r = cni_result_create();
    cni_result_add_interface(r, "eth0", "0a:58:0a:f4:00", NULL, 0);
    expect_invalid_result(r, "interfaces[0].mac");

    r = cni_result_create();
    cni_result_add_interface(r, "", NULL, NULL, 0);
    expect_invalid_result(r, "interfaces[0].name");

    r = cni_result_create();
    cni_result_add_ip(r, "10.0.0.1/33", NULL, -1);
    expect_invalid_result(r, "ips[0].address");

    r = cni_result_create();
    cni_result_add_ip(r, "10.0.0.1", NULL, -1);
    expect_invalid_result(r, "ips[0].address");

    r = cni_result_create();
    cni_result_add_ip(r, "10.0.0.1/24", "10.0.0.300", -1);
    expect_invalid_result(r, "ips[0].gateway");

    r = cni_result_create();
    cni_result_add_ip(r, "10.0.0.1/24", NULL, 0);
    expect_invalid_result(r, "ips[0].interface");

    r = cni_result_create();
    cni_result_add_route(r, "default", NULL);
    expect_invalid_result(r, "routes[0].dst");

    r = cni_result_create();
    cni_result_add_route(r, "0.0.0.0/0", "gw");
    expect_invalid_result(r, "routes[0].gw");

    r = cni_result_create();
    svec_add(&r->dns.nameservers, "dns.example");
    expect_invalid_result(r, "nameservers[0]");

    r = cni_result_create();
    cni_result_add_ip(r, "fd00::1/128", "fd00::ff", -1);
    cni_result_add_route(r, "::/0", "fe80::1");
    assert_null(cni_result_validate(r));
    cni_result_destroy(r);
}

static void
test_result_parse_errors(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        "[]",
        "{\"interfaces\":{}}",
        "{\"interfaces\":[{\"mac\":\"0a:58:0a:f4:00:05\"}]}",
        "{\"interfaces\":[{\"name\":\"eth0\",\"mtu\":-1}]}",
        "{\"ips\":[{\"gateway\":\"10.0.0.1\"}]}",
        "{\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":\"0\"}]}",
        "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}",
        "{\"dns\":{\"nameservers\":\"10.0.0.1\"}}",
        "{\"dns\":{\"search\":[1]}}",
        "{\"dns\":[]}",
        "{",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct cni_result *r;
        struct cni_error *error = cni_result_from_json(bad[i], strlen(bad[i]),
                                                       &r);
        if (!error) {
            fail_msg("%s: parsed", bad[i]);
        }
        assert_null(r);
        assert_int_equal(error->code, CNI_ERR_DECODE);
        cni_error_destroy(error);
    }
}

static void
test_result_append(void **state OVS_UNUSED)
{
    struct cni_result *prev = cni_result_create();
    size_t i = cni_result_add_interface(prev, "tap0", NULL, NULL, 0);
    cni_result_add_ip(prev, "192.168.0.2/24", NULL, i);
    cni_result_add_ip(prev, "192.168.1.2/24", NULL, -1);
    svec_add(&prev->dns.nameservers, "1.1.1.1");

    struct cni_result *r = cni_result_clone(prev);
    struct cni_result *ours = sample_result();
    cni_result_append(r, ours);
    assert_int_equal(r->n_interfaces, 2);
    assert_string_equal(r->interfaces[1].name, "eth0");
    assert_int_equal(r->n_ips, 4);
    assert_int_equal(r->ips[0].interface, 0);
    assert_int_equal(r->ips[1].interface, -1);
    assert_int_equal(r->ips[2].interface, 1);
    assert_int_equal(r->ips[3].interface, 1);
    assert_int_equal(r->n_routes, 2);
    /* DNS settings of the earlier plugin win. */
    assert_int_equal(r->dns.nameservers.n, 1);
    assert_string_equal(r->dns.nameservers.names[0], "1.1.1.1");
    assert_string_equal(r->dns.domain, "cluster.local");
    assert_null(cni_result_validate(r));
    cni_result_destroy(r);
    cni_result_destroy(ours);
    cni_result_destroy(prev);
}

/* ----------------------------------------------------------------- errors */

static void
test_error_json(void **state OVS_UNUSED)
{
    struct cni_error *error = cni_error_create(7, "bad \"thing\"",
                                               "line 1\ndetails");
    char *json = cni_error_to_json(error, CNI_V110);
    assert_string_equal(json, "{\"cniVersion\":\"1.1.0\",\"code\":7,\"msg\":"
                        "\"bad \\\"thing\\\"\",\"details\":\"line 1\\n"
                        "details\"}");
    free(json);
    cni_error_destroy(error);

    /* No details: no "details". */
    error = cni_error_createf(CNI_ERR_NOT_AVAILABLE, "agent %s", "down");
    json = cni_error_to_json(error, CNI_V040);
    assert_string_equal(json, "{\"cniVersion\":\"0.4.0\",\"code\":50,"
                        "\"msg\":\"agent down\"}");
    free(json);
    cni_error_destroy(error);

    /* A message quoting bad bytes stays valid JSON. */
    error = cni_error_create(4, "bad \xff\xfe value", "");
    assert_null(error->details);
    json = cni_error_to_json(error, CNI_V110);
    assert_string_equal(json, "{\"cniVersion\":\"1.1.0\",\"code\":4,\"msg\":"
                        "\"bad ?? value\"}");
    free(json);
    cni_error_destroy(error);

    /* No message: the code's name. */
    error = cni_error_create(CNI_ERR_TRY_AGAIN, NULL, NULL);
    assert_string_equal(error->msg, "try again later");
    cni_error_destroy(error);

    /* Long bad input is shortened in messages. */
    char *long_id = xmalloc(2001);
    memset(long_id, 'x', 2000);
    long_id[0] = '-';
    long_id[2000] = '\0';
    struct smap env;
    struct cni_request req;
    env_add(&env);
    smap_replace(&env, "CNI_CONTAINERID", long_id);
    error = cni_request_from_env(&env, CONF_ADD, strlen(CONF_ADD), &req);
    assert_non_null(error);
    assert_true(strlen(error->msg) < 300);
    assert_non_null(strstr(error->msg, "...\""));
    cni_error_destroy(error);
    cni_request_destroy(&req);
    smap_destroy(&env);
    free(long_id);
}

/* --------------------------------------------------- requests, responses */

static void
test_request_round_trip(void **state OVS_UNUSED)
{
    struct smap env;
    struct cni_request req, req2;

    env_add(&env);
    char *conf = conf_with("\"timeoutMs\":1234,\"extra\":{\"a\":[1,2]}");
    assert_null(cni_request_from_env(&env, conf, strlen(conf), &req));
    char *json = cni_request_to_json(&req);
    assert_string_equal(
        json,
        "{\"protocol\":2,\"command\":\"ADD\",\"containerID\":\"c0ffee01\","
        "\"netns\":"
        "\"/var/run/netns/pod1\",\"ifName\":\"eth0\",\"args\":{"
        "\"IgnoreUnknown\":\"1\",\"K8S_POD_INFRA_CONTAINER_ID\":\"c0ffee01\","
        "\"K8S_POD_NAME\":\"pod1\",\"K8S_POD_NAMESPACE\":\"default\","
        "\"K8S_POD_UID\":\"0b9a5e46-6c5e-4a4e-9b2f-3f1c6c1d2e3f\"},"
        "\"path\":\"/opt/cni/bin\",\"config\":{\"cniVersion\":\"1.1.0\","
        "\"name\":\"pods\",\"type\":\"livebind\",\"timeoutMs\":1234,"
        "\"extra\":{\"a\":[1,2]}}}");

    assert_null(cni_request_from_json(json, strlen(json), &req2));
    assert_int_equal(req2.command, CNI_CMD_ADD);
    assert_int_equal(req2.protocol, CNI_AGENT_PROTOCOL);
    assert_false(req2.netns_gone);
    assert_string_equal(req2.container_id, req.container_id);
    assert_string_equal(req2.netns, req.netns);
    assert_string_equal(req2.ifname, req.ifname);
    assert_string_equal(req2.path, req.path);
    assert_string_equal(req2.pod_namespace, "default");
    assert_string_equal(req2.pod_name, "pod1");
    assert_string_equal(req2.pod_uid, req.pod_uid);
    assert_string_equal(req2.infra_container_id, "c0ffee01");
    assert_int_equal(req2.config.timeout_ms, 1234);
    assert_string_equal(req2.config.json, req.config.json);
    assert_true(smap_equal(&req.args, &req2.args));

    cni_request_destroy(&req2);
    cni_request_destroy(&req);
    free(json);
    free(conf);
    smap_destroy(&env);
}

/* Parses 'json' (which must be valid) and checks what the agent does with
 * a descriptor beside it ('has_fd'): error 'code' (0: none) and whether it
 * keeps the descriptor. */
static void
expect_fd_rule(const char *json, bool has_fd, int code, bool keep)
{
    struct cni_request req;
    bool keep_fd = !keep;
    assert_null(cni_request_from_json(json, strlen(json), &req));
    struct cni_error *error = cni_request_check_netns_fd(&req, has_fd,
                                                         &keep_fd);
    if (code ? !error || error->code != code : error != NULL) {
        fail_msg("%s (fd: %d): got %d %s", json, has_fd,
                 error ? error->code : 0, error ? error->msg : "");
    }
    assert_int_equal(keep_fd, keep);
    cni_error_destroy(error);
    cni_request_destroy(&req);
}

#define REQ(CMD, MEMBERS)                                               \
    "{\"command\":\"" CMD "\",\"containerID\":\"c\",\"ifName\":\"eth0\","    \
    "\"args\":{\"K8S_POD_NAMESPACE\":\"default\",\"K8S_POD_NAME\":\"p\"},"  \
    MEMBERS "\"config\":" CONF_ADD "}"

static void
test_request_netns_fd(void **state OVS_UNUSED)
{
    /* ADD and CHECK need the descriptor of their namespace. */
    expect_fd_rule(REQ("ADD", "\"protocol\":2,\"netns\":\"/n\","), true, 0,
                   true);
    expect_fd_rule(REQ("CHECK", "\"protocol\":2,\"netns\":\"/n\","), true,
                   0, true);
    expect_fd_rule(REQ("ADD", "\"protocol\":2,\"netns\":\"/n\","), false,
                   CNI_ERR_INVALID_ENV, false);
    expect_fd_rule(REQ("CHECK", "\"protocol\":2,\"netns\":\"/n\","), false,
                   CNI_ERR_INVALID_ENV, false);
    expect_fd_rule(REQ("ADD", "\"protocol\":2,\"netns\":\"/n\","
                       "\"netnsGone\":true,"), true, CNI_ERR_INVALID_ENV,
                   false);
    /* A plugin of protocol 1 (no "protocol") sent none: said so. */
    expect_fd_rule(REQ("ADD", "\"netns\":\"/n\","), false, CNI_ERR_AGENT,
                   false);

    /* DEL uses one if it came; none if the namespace is gone. */
    expect_fd_rule(REQ("DEL", "\"protocol\":2,\"netns\":\"/n\","), true, 0,
                   true);
    expect_fd_rule(REQ("DEL", "\"protocol\":2,\"netns\":\"/n\","), false,
                   0, false);
    expect_fd_rule(REQ("DEL", "\"protocol\":2,\"netns\":\"/n\","
                       "\"netnsGone\":true,"), false, 0, false);
    expect_fd_rule(REQ("DEL", "\"protocol\":2,\"netns\":\"/n\","
                       "\"netnsGone\":true,"), true, 0, false);
    expect_fd_rule(REQ("DEL", "\"protocol\":2,"), true, 0, false);
    expect_fd_rule(REQ("DEL", ""), false, 0, false);

    /* STATUS and GC never keep one. */
    expect_fd_rule("{\"protocol\":2,\"command\":\"STATUS\",\"config\":"
                   CONF_ADD "}", true, 0, false);
    expect_fd_rule("{\"command\":\"STATUS\",\"config\":" CONF_ADD "}",
                   false, 0, false);
}

static void
expect_bad_request(const char *json, int code, const char *needle)
{
    struct cni_request req;
    struct cni_error *error = cni_request_from_json(json, strlen(json), &req);
    if (!error) {
        fail_msg("%s: accepted", json);
    }
    if (error->code != code || (needle && !strstr(error->msg, needle))) {
        fail_msg("%s: got error %d: %s", json, error->code, error->msg);
    }
    cni_error_destroy(error);
    cni_request_destroy(&req);
}

static void
test_request_from_json_errors(void **state OVS_UNUSED)
{
    expect_bad_request("{", CNI_ERR_DECODE, "not valid JSON");
    expect_bad_request("[]", CNI_ERR_DECODE, NULL);
    expect_bad_request("{\"config\":" CONF_ADD "}", CNI_ERR_DECODE,
                       "command");
    expect_bad_request("{\"command\":\"VERSION\",\"config\":" CONF_ADD "}",
                       CNI_ERR_INVALID_ENV, "VERSION");
    expect_bad_request("{\"command\":\"DEL\",\"containerID\":\"c\","
                       "\"ifName\":\"eth0\"}", CNI_ERR_DECODE, "config");
    expect_bad_request("{\"command\":\"DEL\",\"containerID\":\"c\","
                       "\"ifName\":\"eth0\",\"args\":{\"a\":1},\"config\":"
                       CONF_ADD "}", CNI_ERR_DECODE, "args.a");
    expect_bad_request("{\"command\":\"DEL\",\"containerID\":7,"
                       "\"ifName\":\"eth0\",\"config\":" CONF_ADD "}",
                       CNI_ERR_DECODE, "containerID");
    expect_bad_request("{\"command\":\"ADD\",\"containerID\":\"c\","
                       "\"ifName\":\"eth0\",\"netns\":\"/n\",\"config\":"
                       CONF_ADD "}", CNI_ERR_INVALID_ENV, "K8S_POD");
    expect_bad_request("{\"command\":\"DEL\",\"containerID\":\"c\","
                       "\"ifName\":\"eth0\",\"config\":{\"cniVersion\":"
                       "\"1.1.0\"}}", CNI_ERR_INVALID_CONFIG, "name");
    expect_bad_request(REQ("DEL", "\"protocol\":3,"), CNI_ERR_AGENT,
                       "one release");
    expect_bad_request(REQ("DEL", "\"protocol\":0,"), CNI_ERR_AGENT,
                       "protocol 0");
    expect_bad_request(REQ("DEL", "\"protocol\":\"2\","), CNI_ERR_DECODE,
                       "protocol");
    expect_bad_request(REQ("DEL", "\"netnsGone\":1,"), CNI_ERR_DECODE,
                       "netnsGone");

    /* Unknown members are ignored, for newer plugins. */
    struct cni_request req;
    static const char ok[] = "{\"command\":\"DEL\",\"containerID\":\"c\","
                             "\"ifName\":\"eth0\",\"future\":1,\"config\":"
                             CONF_ADD "}";
    assert_null(cni_request_from_json(ok, strlen(ok), &req));
    cni_request_destroy(&req);
}

static void
test_response(void **state OVS_UNUSED)
{
    struct cni_result *r = sample_result(), *r2;
    struct cni_error *error;

    char *json = cni_response_result_json(r, CNI_V110);
    assert_null(cni_response_parse(json, strlen(json), &r2));
    assert_non_null(r2);
    char *a = cni_result_to_json(r, CNI_V110);
    char *b = cni_result_to_json(r2, CNI_V110);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(json);
    cni_result_destroy(r2);
    cni_result_destroy(r);

    json = cni_response_result_json(NULL, CNI_V110);
    assert_string_equal(json, "{\"result\":null}");
    assert_null(cni_response_parse(json, strlen(json), &r2));
    assert_null(r2);
    free(json);

    error = cni_error_create(CNI_ERR_IP_EXHAUSTED, "switch pods is full",
                             "10.244.0.0/16");
    json = cni_response_error_json(error);
    assert_string_equal(json, "{\"error\":{\"code\":100,\"msg\":\"switch pods "
                        "is full\",\"details\":\"10.244.0.0/16\"}}");
    cni_error_destroy(error);
    error = cni_response_parse(json, strlen(json), &r2);
    assert_non_null(error);
    assert_null(r2);
    assert_int_equal(error->code, CNI_ERR_IP_EXHAUSTED);
    assert_string_equal(error->msg, "switch pods is full");
    assert_string_equal(error->details, "10.244.0.0/16");
    cni_error_destroy(error);
    free(json);

    static const char *const bad[] = {
        "", "x", "[]", "{}", "{\"error\":{\"code\":\"1\",\"msg\":\"m\"}}",
        "{\"error\":{\"code\":0,\"msg\":\"m\"}}",
        "{\"error\":{\"code\":100}}",
        "{\"error\":{\"code\":101,\"msg\":\"\",\"details\":\"d\"}}",
        "{\"result\":{\"ips\":[{\"address\":\"bad\"}]}}",
        "{\"result\":5}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        error = cni_response_parse(bad[i], strlen(bad[i]), &r2);
        if (!error) {
            fail_msg("%s: parsed", bad[i]);
        }
        assert_null(r2);
        assert_int_equal(error->code, CNI_ERR_AGENT);
        cni_error_destroy(error);
    }
}

/* ----------------------------------------------------------------- server */

/* What the test handler does with a request. */
enum handler_mode {
    REPLY_RESULT,               /* At once, sample_result(). */
    REPLY_ERROR,                /* At once, CNI_ERR_PORT_CONFLICT. */
    KEEP,                       /* Keep 'ctx' in 'kept' for later. */
    KEEP_ALL,                   /* Keep every 'ctx' in 'kept_all'. */
};

#define MAX_KEPT 128

struct handler_state {
    enum handler_mode mode;
    int n_handled;
    int n_closed;
    struct cni_reply_ctx *kept;
    struct cni_reply_ctx *kept_all[MAX_KEPT];
    size_t n_kept_all;
    char *last_pod;
    bool last_had_fd;           /* Whether the last request had one. */
};

static void
test_handle(void *aux, struct cni_request *req, struct cni_reply_ctx *ctx)
{
    struct handler_state *hs = aux;

    hs->n_handled++;
    free(hs->last_pod);
    hs->last_pod = xasprintf("%s/%s", req->pod_namespace ? req->pod_namespace
                             : "-", req->pod_name ? req->pod_name : "-");
    assert_ptr_equal(cni_reply_ctx_request(ctx), req);
    assert_false(cni_reply_ctx_is_closed(ctx));
    hs->last_had_fd = cni_reply_ctx_netns_fd(ctx) >= 0;

    switch (hs->mode) {
    case REPLY_RESULT: {
        struct cni_result *r = sample_result();
        cni_server_reply_result(ctx, r);
        cni_result_destroy(r);
        break;
    }
    case REPLY_ERROR:
        cni_server_reply_error(ctx, CNI_ERR_PORT_CONFLICT, "port in use",
                               NULL);
        break;
    case KEEP:
        hs->kept = ctx;
        break;
    case KEEP_ALL:
        assert_true(hs->n_kept_all < MAX_KEPT);
        hs->kept_all[hs->n_kept_all++] = ctx;
        break;
    }
}

static void
test_closed(void *aux, struct cni_reply_ctx *ctx)
{
    struct handler_state *hs = aux;
    if (hs->mode == KEEP_ALL) {
        return;
    }
    assert_ptr_equal(ctx, hs->kept);
    assert_true(cni_reply_ctx_is_closed(ctx));
    hs->n_closed++;
}

struct server_fixture {
    char *dir;
    char *path;
    struct handler_state hs;
    struct cni_server *server;
};

static int
server_setup(void **state)
{
    struct server_fixture *f = xzalloc(sizeof *f);
    char template[] = "/tmp/lb-cni-unit.XXXXXX";

    assert_non_null(mkdtemp(template));
    f->dir = xstrdup(template);
    f->path = xasprintf("%s/run/cni.sock", f->dir);

    struct cni_server_options options;
    cni_server_options_init(&options);
    options.allowed_uid = getuid();
    assert_int_equal(cni_server_create(f->path, &options, test_handle,
                                       test_closed, &f->hs, &f->server), 0);
    *state = f;
    return 0;
}

static int
server_teardown(void **state)
{
    struct server_fixture *f = *state;

    cni_server_destroy(f->server);
    if (f->hs.kept) {
        cni_server_reply_error(f->hs.kept, CNI_ERR_AGENT, "shutdown", NULL);
    }
    for (size_t i = 0; i < f->hs.n_kept_all; i++) {
        cni_server_reply_error(f->hs.kept_all[i], CNI_ERR_AGENT, "shutdown",
                               NULL);
    }
    free(f->hs.last_pod);
    char *run_dir = xasprintf("%s/run", f->dir);
    rmdir(run_dir);
    rmdir(f->dir);
    free(run_dir);
    free(f->path);
    free(f->dir);
    free(f);
    return 0;
}

/* Serves 'f' until child 'pid' has closed the write end of 'pipefd' (which
 * it must have after at most 10 s) and exited 0; returns what it wrote. */
static char *
serve_child(struct server_fixture *f, int pipefd[2], pid_t pid)
{
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    struct ds out = DS_EMPTY_INITIALIZER;
    long long int deadline = time_msec() + 10000;
    for (;;) {
        cni_server_run(f->server);

        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n > 0) {
            ds_put_buffer(&out, buf, n);
            continue;
        } else if (!n) {
            break;
        }
        assert_true(time_msec() < deadline);

        cni_server_wait(f->server);
        poll_fd_wait(pipefd[0], POLLIN);
        poll_timer_wait_until(deadline);
        poll_block();
    }
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && !WEXITSTATUS(status));
    return ds_steal_cstr(&out);
}

/* Runs cni_client_transact('request') in a child process while serving it
 * here; returns what the child got: the reply, or "error CODE: MSG". */
static char *
transact_in_child(struct server_fixture *f, const char *request,
                  int timeout_ms)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char *reply;
        size_t len;
        close(pipefd[0]);
        /* The server carries the descriptor to the handler without
         * looking at it: any file will do. */
        int netns_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct cni_error *error = cni_client_transact(f->path, request,
                                                      netns_fd, timeout_ms,
                                                      &reply, &len);
        char *s = (error ? xasprintf("error %d: %s", error->code, error->msg)
                   : reply);
        ignore(write(pipefd[1], s, strlen(s)));
        _exit(0);
    }

    return serve_child(f, pipefd, pid);
}

/* Serves until 'cond' holds or 2 s have passed. */
#define SERVE_UNTIL(F, COND)                                    \
    do {                                                        \
        long long int deadline_ = time_msec() + 2000;           \
        while (!(COND) && time_msec() < deadline_) {            \
            cni_server_run((F)->server);                        \
            cni_server_wait((F)->server);                       \
            poll_timer_wait_until(deadline_);                   \
            poll_block();                                       \
        }                                                       \
        assert_true(COND);                                      \
    } while (0)

static char *
add_request_json(void)
{
    struct smap env;
    struct cni_request req;

    env_add(&env);
    assert_null(cni_request_from_env(&env, CONF_ADD, strlen(CONF_ADD),
                                     &req));
    char *json = cni_request_to_json(&req);
    cni_request_destroy(&req);
    smap_destroy(&env);
    return json;
}

static void
test_server_permissions(void **state)
{
    struct server_fixture *f = *state;
    struct stat st;

    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    char *run_dir = xasprintf("%s/run", f->dir);
    assert_int_equal(stat(run_dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    /* A second server on a live socket fails, and leaves it alone. */
    struct cni_server *s2;
    assert_int_equal(cni_server_create(f->path, NULL, test_handle, NULL,
                                       NULL, &s2), EADDRINUSE);
    assert_null(s2);
    assert_int_equal(stat(f->path, &st), 0);

    /* A directory others can enter is refused, not changed. */
    char *open_dir = xasprintf("%s/open", f->dir);
    char *open_path = xasprintf("%s/cni.sock", open_dir);
    assert_int_equal(mkdir(open_dir, 0755), 0);
    assert_int_equal(chmod(open_dir, 0755), 0);
    assert_int_equal(cni_server_create(open_path, NULL, test_handle, NULL,
                                       NULL, &s2), EPERM);
    assert_int_equal(stat(open_dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    rmdir(open_dir);

    /* Something that is not a socket is not removed. */
    char *file = xasprintf("%s/file", run_dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cni_server_create(file, NULL, test_handle, NULL, NULL,
                                       &s2), EEXIST);
    unlink(file);

    /* Too long for sun_path. */
    char *long_path = xasprintf("%s/%0200d", run_dir, 0);
    assert_int_equal(cni_server_create(long_path, NULL, test_handle, NULL,
                                       NULL, &s2), ENAMETOOLONG);

    free(long_path);
    free(file);
    free(open_path);
    free(open_dir);
    free(run_dir);
}

static void
test_server_reply(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();

    f->hs.mode = REPLY_RESULT;
    char *reply = transact_in_child(f, request, 5000);
    struct cni_result *r;
    struct cni_error *error = cni_response_parse(reply, strlen(reply), &r);
    assert_null(error);
    char *json = cni_result_to_json(r, CNI_V110);
    assert_string_equal(json, result_110);
    assert_int_equal(f->hs.n_handled, 1);
    assert_string_equal(f->hs.last_pod, "default/pod1");
    assert_true(f->hs.last_had_fd);
    assert_int_equal(cni_server_n_pending(f->server), 0);
    free(json);
    cni_result_destroy(r);
    free(reply);

    f->hs.mode = REPLY_ERROR;
    reply = transact_in_child(f, request, 5000);
    assert_string_equal(reply, "{\"error\":{\"code\":101,\"msg\":\"port in "
                        "use\"}}");
    free(reply);

    /* Invalid requests never reach the handler. */
    reply = transact_in_child(f, "{\"command\":\"ADD\"}", 5000);
    assert_non_null(strstr(reply, "\"code\":4"));
    free(reply);
    reply = transact_in_child(f, "not json", 5000);
    assert_non_null(strstr(reply, "\"code\":6"));
    free(reply);
    assert_int_equal(f->hs.n_handled, 2);

    free(request);
}

/* Number of descriptors this process has open. */
static int
count_fds(void)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    while (readdir(dir)) {
        n++;
    }
    closedir(dir);
    return n;
}

/* A client that is not the plugin, in a child process: sends 'request'
 * with 'n_fds' descriptors (of /dev/null) beside it, in one message, then,
 * unless 'hang_up', waits for the reply.  Serves meanwhile; returns the
 * reply ("" if none). */
static char *
raw_transact_in_child(struct server_fixture *f, const char *request,
                      int n_fds, bool hang_up)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        close(pipefd[0]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        ovs_strlcpy(sun.sun_path, f->path, sizeof sun.sun_path);
        if (connect(s, (struct sockaddr *) &sun, sizeof sun)) {
            _exit(1);
        }
        int fds[8];
        union {
            char buf[CMSG_SPACE(sizeof fds)];
            struct cmsghdr align;
        } control;
        /* A complete request ends in a newline; a client hanging up
         * ends it by EOF. */
        char *line = xasprintf("%s%s", request, hang_up ? "" : "\n");
        struct iovec iov = { .iov_base = line, .iov_len = strlen(line) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_fds) {
            for (int i = 0; i < n_fds; i++) {
                fds[i] = open("/dev/null", O_RDONLY);
            }
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
            memcpy(CMSG_DATA(cmsg), fds, n_fds * sizeof(int));
        }
        if (sendmsg(s, &msg, 0) != iov.iov_len) {
            _exit(1);
        }
        if (!hang_up) {
            char buf[4096];
            ssize_t n;
            while ((n = read(s, buf, sizeof buf)) > 0) {
                ignore(write(pipefd[1], buf, n));
            }
        }
        _exit(0);
    }

    return serve_child(f, pipefd, pid);
}

static void
test_server_netns_fd(void **state)
{
    struct server_fixture *f = *state;
    char *add = add_request_json();
    char *reply;

    /* Settle the descriptors the server and libc open on first use. */
    f->hs.mode = REPLY_RESULT;
    free(raw_transact_in_child(f, add, 1, false));
    int before = count_fds();

    /* ADD without a descriptor: refused, never handled. */
    reply = raw_transact_in_child(f, add, 0, false);
    assert_non_null(strstr(reply, "\"code\":4"));
    assert_non_null(strstr(reply, "carries no descriptor of CNI_NETNS"));
    free(reply);
    assert_int_equal(f->hs.n_handled, 1);

    /* Three descriptors: the handler gets one, the others are closed. */
    reply = raw_transact_in_child(f, add, 3, false);
    assert_non_null(strstr(reply, "10.244.0.5"));
    assert_true(f->hs.last_had_fd);
    free(reply);

    /* A STATUS uses none: the one that came is closed. */
    static const char status[] = "{\"protocol\":2,\"command\":\"STATUS\","
                                 "\"config\":" CONF_ADD "}";
    reply = raw_transact_in_child(f, status, 1, false);
    assert_false(f->hs.last_had_fd);
    free(reply);

    /* Invalid requests with descriptors; a client that hangs up halfway
     * through its request, and one that hangs up once it is sent. */
    reply = raw_transact_in_child(f, "not json", 2, false);
    assert_non_null(strstr(reply, "\"code\":6"));
    free(reply);
    free(raw_transact_in_child(f, "{\"command\":", 2, true));
    f->hs.mode = KEEP;
    free(raw_transact_in_child(f, add, 1, true));
    SERVE_UNTIL(f, f->hs.n_closed == 1);
    cni_server_reply_error(f->hs.kept, CNI_ERR_AGENT, "gone", NULL);
    f->hs.kept = NULL;
    SERVE_UNTIL(f, count_fds() == before);
    assert_int_equal(count_fds(), before);
    free(add);
}

static void
test_server_async(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();

    /* The handler answers later: the client waits. */
    f->hs.mode = KEEP;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char *reply;
        size_t len;
        close(pipefd[0]);
        int netns_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct cni_error *error = cni_client_transact(f->path, request,
                                                      netns_fd, 5000, &reply,
                                                      &len);
        ignore(write(pipefd[1], error ? "error" : reply,
                     strlen(error ? "error" : reply)));
        _exit(0);
    }
    close(pipefd[1]);
    SERVE_UNTIL(f, f->hs.kept != NULL);
    assert_int_equal(cni_server_n_pending(f->server), 1);

    struct cni_reply_ctx *ctx = f->hs.kept;
    f->hs.kept = NULL;
    struct cni_result *r = sample_result();
    cni_server_reply_result(ctx, r);
    cni_result_destroy(r);
    assert_int_equal(cni_server_n_pending(f->server), 0);

    struct ds out = DS_EMPTY_INITIALIZER;
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n > 0) {
            ds_put_buffer(&out, buf, n);
            continue;
        } else if (!n) {
            break;
        }
        cni_server_run(f->server);
        cni_server_wait(f->server);
        poll_fd_wait(pipefd[0], POLLIN);
        poll_block();
    }
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    assert_non_null(strstr(ds_cstr(&out), "\"result\":{\"cniVersion\":"
                           "\"1.1.0\""));
    ds_destroy(&out);
    free(request);
}

static void
test_server_client_gone(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();

    f->hs.mode = KEEP;
    char *reply = transact_in_child(f, request, 200);
    char *expected = xasprintf("error 11: no reply from the livebind agent "
                               "at %s within 200 ms", f->path);
    assert_string_equal(reply, expected);
    free(expected);
    free(reply);

    assert_non_null(f->hs.kept);
    SERVE_UNTIL(f, f->hs.n_closed == 1);
    assert_true(cni_reply_ctx_is_closed(f->hs.kept));
    assert_int_equal(cni_server_n_pending(f->server), 1);

    cni_server_reply_error(f->hs.kept, CNI_ERR_AGENT, "too late", NULL);
    f->hs.kept = NULL;
    assert_int_equal(cni_server_n_pending(f->server), 0);
    free(request);
}

static void
test_server_destroy_pending(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();

    /* Destroying the server with a request pending: 'closed' is called,
     * the handler answers afterwards (teardown does), safely. */
    f->hs.mode = KEEP;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char *reply;
        size_t len;
        close(pipefd[0]);
        int netns_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct cni_error *error = cni_client_transact(f->path, request,
                                                      netns_fd, 5000, &reply,
                                                      &len);
        char *s = (error ? xasprintf("error %d", error->code) : reply);
        ignore(write(pipefd[1], s, strlen(s)));
        _exit(0);
    }
    close(pipefd[1]);
    SERVE_UNTIL(f, f->hs.kept != NULL);

    cni_server_destroy(f->server);
    f->server = NULL;
    assert_int_equal(f->hs.n_closed, 1);

    char buf[64] = "";
    ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    /* The agent went away without replying: try again later. */
    assert_string_equal(buf, "error 11");
    close(pipefd[0]);
    waitpid(pid, NULL, 0);

    /* The socket file is gone. */
    struct stat st;
    assert_int_equal(stat(f->path, &st), -1);
    free(request);
}

static void
test_server_wrong_uid(void **state OVS_UNUSED)
{
    struct server_fixture f;
    char template[] = "/tmp/lb-cni-unit.XXXXXX";

    memset(&f, 0, sizeof f);
    assert_non_null(mkdtemp(template));
    f.path = xasprintf("%s/cni.sock", template);

    struct cni_server_options options;
    cni_server_options_init(&options);
    options.allowed_uid = getuid() + 4242;
    assert_int_equal(cni_server_create(f.path, &options, test_handle,
                                       test_closed, &f.hs, &f.server), 0);
    char *request = add_request_json();
    char *reply = transact_in_child(&f, request, 5000);
    if (!strstr(reply, "\"code\":105")) {
        fail_msg("reply: %s", reply);
    }
    assert_int_equal(f.hs.n_handled, 0);
    free(reply);
    free(request);
    cni_server_destroy(f.server);
    rmdir(template);
    free(f.path);
}

static void
test_server_too_long(void **state)
{
    struct server_fixture *f = *state;
    char *big = xmalloc(CNI_MAX_MESSAGE + 2);
    memset(big, 'x', CNI_MAX_MESSAGE + 1);
    big[CNI_MAX_MESSAGE + 1] = '\0';

    char *reply = transact_in_child(f, big, 5000);
    /* The server may close before reading all: either it said why, or the
     * client saw the connection close. */
    assert_true(strstr(reply, "\"code\":6") || strstr(reply, "error 11"));
    assert_int_equal(f->hs.n_handled, 0);
    free(reply);
    free(big);
}

/* Connects 'n' clients to the server of 'f', serving it meanwhile (the
 * listen backlog is smaller than 'n'); each sends 'request' with a newline
 * unless it is NULL.  Returns the sockets. */
static int *
connect_clients(struct server_fixture *f, size_t n, const char *request)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, f->path, sizeof sun.sun_path);
    int *fds = xcalloc(n, sizeof *fds);
    long long int deadline = time_msec() + 5000;

    for (size_t i = 0; i < n; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fds[i] >= 0);
        while (connect(fds[i], (struct sockaddr *) &sun, sizeof sun)) {
            assert_int_equal(errno, EAGAIN);    /* Backlog full. */
            assert_true(time_msec() < deadline);
            cni_server_run(f->server);
            cni_server_wait(f->server);
            poll_timer_wait(10);
            poll_block();
        }
        if (request) {
            char *line = xasprintf("%s\n", request);
            assert_int_equal(send(fds[i], line, strlen(line), 0),
                             strlen(line));
            free(line);
        }
    }
    return fds;
}

static void
close_clients(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        close(fds[i]);
    }
    free(fds);
}

/* Idle clients, more than the server has slots, do not keep a real
 * request waiting: they give way once slots are short. */
static void
test_server_idle_clients(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();
    enum { N_IDLE = 80 };

    int *idle = connect_clients(f, N_IDLE, NULL);
    f->hs.mode = REPLY_RESULT;
    long long int start = time_msec();
    char *reply = transact_in_child(f, request, 3000);
    assert_non_null(strstr(reply, "\"result\":{\"cniVersion\":"));
    printf("request answered in %lld ms with %d idle clients\n",
           time_msec() - start, N_IDLE);
    free(reply);
    close_clients(idle, N_IDLE);
    free(request);
}

/* Requests with the handler (ADDs waiting for their flows) hold no slot:
 * more of them than there are slots are all handled, and a request after
 * them is answered. */
static void
test_server_pending_hold_no_slot(void **state)
{
    struct server_fixture *f = *state;
    char *request = add_request_json();
    enum { N_PENDING = 100 };

    /* Requests that need no namespace descriptor, which these clients
     * do not send. */
    static const char status[] = "{\"protocol\":2,\"command\":\"STATUS\","
                                 "\"config\":" CONF_ADD "}";
    f->hs.mode = KEEP_ALL;
    int *clients = connect_clients(f, N_PENDING, status);
    SERVE_UNTIL(f, f->hs.n_handled == N_PENDING);
    assert_int_equal(cni_server_n_pending(f->server), N_PENDING);

    f->hs.mode = REPLY_RESULT;
    char *reply = transact_in_child(f, request, 3000);
    assert_non_null(strstr(reply, "\"result\":{\"cniVersion\":"));
    free(reply);

    /* The waiting clients still get their answers. */
    for (size_t i = 0; i < f->hs.n_kept_all; i++) {
        cni_server_reply_error(f->hs.kept_all[i], CNI_ERR_TRY_AGAIN, "later",
                               NULL);
    }
    f->hs.n_kept_all = 0;
    size_t n_answered = 0;
    long long int deadline = time_msec() + 2000;
    while (n_answered < N_PENDING && time_msec() < deadline) {
        cni_server_run(f->server);
        n_answered = 0;
        for (size_t i = 0; i < N_PENDING; i++) {
            char buf[256];
            ssize_t n = recv(clients[i], buf, sizeof buf, MSG_PEEK);
            n_answered += n > 0 && memchr(buf, '\n', n);
        }
        cni_server_wait(f->server);
        poll_timer_wait(10);
        poll_block();
    }
    assert_int_equal(n_answered, N_PENDING);
    close_clients(clients, N_PENDING);
    free(request);
}

static void
test_client_no_agent(void **state OVS_UNUSED)
{
    char *reply;
    size_t len;
    struct cni_error *error = cni_client_transact(
        "/nonexistent/livebind/cni.sock", "{}", -1, 1000, &reply, &len);
    assert_non_null(error);
    assert_int_equal(error->code, CNI_ERR_NOT_AVAILABLE);
    assert_non_null(strstr(error->msg, "/nonexistent/livebind/cni.sock"));
    assert_null(reply);
    cni_error_destroy(error);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    signal(SIGPIPE, SIG_IGN);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_env_valid_add),
        cmocka_unit_test(test_env_missing),
        cmocka_unit_test(test_env_per_command),
        cmocka_unit_test(test_env_invalid),
        cmocka_unit_test(test_env_error_version),
        cmocka_unit_test(test_config_decode),
        cmocka_unit_test(test_config_version),
        cmocka_unit_test(test_config_fields),
        cmocka_unit_test(test_config_unknown_fields),
        cmocka_unit_test(test_config_prev_result),
        cmocka_unit_test(test_config_valid_attachments),
        cmocka_unit_test(test_result_format),
        cmocka_unit_test(test_result_validate),
        cmocka_unit_test(test_result_parse_errors),
        cmocka_unit_test(test_result_append),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_netns_fd),
        cmocka_unit_test(test_request_from_json_errors),
        cmocka_unit_test(test_response),
        cmocka_unit_test_setup_teardown(test_server_permissions,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_netns_fd,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_reply,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_async,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_client_gone,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_destroy_pending,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_too_long,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_idle_clients,
                                        server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_server_pending_hold_no_slot,
                                        server_setup, server_teardown),
        cmocka_unit_test(test_server_wrong_uid),
        cmocka_unit_test(test_client_no_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
