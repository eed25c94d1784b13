/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "k8s-config.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" */
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIB\n" \
                 "-----END CERTIFICATE-----\n"
#define CERT_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQg" \
                 "Q0VSVElGSUNBVEUtLS0tLQo="
/* "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" */
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nMIIE\n" \
                "-----END PRIVATE KEY-----\n"
#define KEY_B64 "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQg" \
                "UFJJVkFURSBLRVktLS0tLQo="

static char tmpdir[] = "/tmp/test-k8s-config.XXXXXX";

static int
setup(void **state OVS_UNUSED)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state OVS_UNUSED)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int retval = system(cmd);
    free(cmd);
    return retval;
}

static char *
write_file(const char *name, const char *content)
{
    char *file_name = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(file_name, "w");

    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
    return file_name;
}

static struct k8s_config *
parse_ok(const char *text)
{
    struct k8s_config *cfg;
    char *error;

    int retval = k8s_config_parse_kubeconfig(text, strlen(text), tmpdir,
                                             NULL, &cfg, &error);
    if (retval) {
        fail_msg("unexpected error: %s", error);
    }
    assert_non_null(cfg);
    return cfg;
}

static void
parse_error(const char *text, const char *context, const char *expected)
{
    struct k8s_config *cfg;
    char *error;

    int retval = k8s_config_parse_kubeconfig(text, strlen(text), tmpdir,
                                             context, &cfg, &error);
    assert_int_equal(retval, EINVAL);
    assert_null(cfg);
    if (!strstr(error, expected)) {
        fail_msg("error \"%s\" does not contain \"%s\"", error, expected);
    }
    free(error);
}

static void
test_token(void **state OVS_UNUSED)
{
    static const char text[] =
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: other\n"
        "  cluster:\n"
        "    server: https://other.example:6443\n"
        "- name: kind-livebind\n"
        "  cluster:\n"
        "    certificate-authority-data: " CERT_B64 "\n"
        "    server: https://127.0.0.1:6443/\n"
        "contexts:\n"
        "- context:\n"
        "    cluster: kind-livebind\n"
        "    user: admin\n"
        "    namespace: kubevirt\n"
        "  name: kind-livebind\n"
        "current-context: kind-livebind\n"
        "preferences: {}\n"
        "users:\n"
        "- name: admin\n"
        "  user:\n"
        "    token: \"abc.def-ghi\"\n";
    struct k8s_config *cfg = parse_ok(text);
    char *token, *error;

    assert_string_equal(cfg->server, "https://127.0.0.1:6443");
    assert_string_equal(cfg->namespace, "kubevirt");
    assert_string_equal(cfg->token, "abc.def-ghi");
    assert_null(cfg->token_file);
    assert_false(cfg->insecure);
    assert_null(cfg->ca_file);
    assert_int_equal(cfg->ca_data.size, strlen(CERT_PEM));
    assert_memory_equal(cfg->ca_data.data, CERT_PEM, strlen(CERT_PEM));
    assert_null(cfg->cert_data.data);

    assert_int_equal(k8s_config_read_token(cfg, &token, &error), 0);
    assert_string_equal(token, "abc.def-ghi");
    free(token);

    /* A clone is independent and equal. */
    struct k8s_config *clone = k8s_config_clone(cfg);
    k8s_config_destroy(cfg);
    assert_string_equal(clone->token, "abc.def-ghi");
    assert_memory_equal(clone->ca_data.data, CERT_PEM, strlen(CERT_PEM));
    k8s_config_destroy(clone);

    /* The other context, chosen explicitly; no user means no token. */
    static const char text2[] =
        "clusters: [{name: c, cluster: {server: 'http://h:8080',"
        " insecure-skip-tls-verify: true}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\n";
    struct k8s_config *cfg2;
    assert_int_equal(k8s_config_parse_kubeconfig(text2, strlen(text2), NULL,
                                                 "x", &cfg2, &error), 0);
    assert_string_equal(cfg2->server, "http://h:8080");
    assert_true(cfg2->insecure);
    assert_null(cfg2->token);
    assert_int_equal(k8s_config_read_token(cfg2, &token, &error), 0);
    assert_null(token);
    k8s_config_destroy(cfg2);
}

static void
test_token_file(void **state OVS_UNUSED)
{
    char *token_file = write_file("token", "  first-token\n");
    char *ca_file = write_file("ca.crt", CERT_PEM);
    static const char text[] =
        "clusters:\n"
        "- name: c\n"
        "  cluster:\n"
        "    server: https://k8s:443\n"
        "    certificate-authority: ca.crt\n"
        "contexts:\n"
        "- name: ctx\n"
        "  context: {cluster: c, user: u}\n"
        "current-context: ctx\n"
        "users:\n"
        "- name: u\n"
        "  user:\n"
        "    tokenFile: token\n";
    struct k8s_config *cfg = parse_ok(text);
    char *token, *error;

    /* Relative names are relative to the kubeconfig's directory. */
    assert_string_equal(cfg->token_file, token_file);
    assert_string_equal(cfg->ca_file, ca_file);

    assert_int_equal(k8s_config_read_token(cfg, &token, &error), 0);
    assert_string_equal(token, "first-token");
    free(token);

    /* The token rotates: the next read sees the new one. */
    free(write_file("token", "second-token"));
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), 0);
    assert_string_equal(token, "second-token");
    free(token);

    /* Empty, binary and missing token files are errors. */
    free(write_file("token", " \n"));
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), EINVAL);
    assert_null(token);
    assert_non_null(strstr(error, "token file is empty"));
    free(error);

    free(write_file("token", "ab cd"));
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), EINVAL);
    assert_non_null(strstr(error, "invalid byte 0x20"));
    free(error);

    unlink(token_file);
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), ENOENT);
    assert_non_null(strstr(error, token_file));
    free(error);

    /* Read through a file, with the server overridden. */
    free(write_file("token", "third"));
    char *kubeconfig = write_file("kubeconfig", text);
    k8s_config_destroy(cfg);
    assert_int_equal(k8s_config_load(kubeconfig, "http://127.0.0.1:1/",
                                     &cfg, &error), 0);
    assert_string_equal(cfg->server, "http://127.0.0.1:1");
    assert_string_equal(cfg->token_file, token_file);
    k8s_config_destroy(cfg);

    free(kubeconfig);
    free(token_file);
    free(ca_file);
}

static void
test_client_cert_data(void **state OVS_UNUSED)
{
    static const char text[] =
        "current-context: admin@kind\n"
        "contexts:\n"
        "- name: admin@kind\n"
        "  context:\n"
        "    cluster: kind\n"
        "    user: admin\n"
        "clusters:\n"
        "- name: kind\n"
        "  cluster:\n"
        "    server: https://[::1]:6443\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n"
        "- name: admin\n"
        "  user:\n"
        "    client-certificate-data: >-\n"
        "      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQg\n"
        "      Q0VSVElGSUNBVEUtLS0tLQo=\n"
        "    client-key-data: " KEY_B64 "\n";
    struct k8s_config *cfg = parse_ok(text);

    assert_string_equal(cfg->server, "https://[::1]:6443");
    assert_true(cfg->insecure);
    assert_null(cfg->token);
    assert_int_equal(cfg->cert_data.size, strlen(CERT_PEM));
    assert_memory_equal(cfg->cert_data.data, CERT_PEM, strlen(CERT_PEM));
    assert_int_equal(cfg->key_data.size, strlen(KEY_PEM));
    assert_memory_equal(cfg->key_data.data, KEY_PEM, strlen(KEY_PEM));
    k8s_config_destroy(cfg);

    /* Files instead of data; an absolute name stays as it is. */
    static const char files[] =
        "{\"current-context\": \"c\","
        " \"contexts\": [{\"name\": \"c\","
        "                \"context\": {\"cluster\": \"k\", \"user\": \"u\"}}],"
        " \"clusters\": [{\"name\": \"k\","
        "                \"cluster\": {\"server\": \"https://k:1\"}}],"
        " \"users\": [{\"name\": \"u\","
        "             \"user\": {\"client-certificate\": \"/etc/u.crt\","
        "                        \"client-key\": \"u.key\"}}]}";
    cfg = parse_ok(files);
    assert_string_equal(cfg->cert_file, "/etc/u.crt");
    char *key_file = xasprintf("%s/u.key", tmpdir);
    assert_string_equal(cfg->key_file, key_file);
    free(key_file);
    k8s_config_destroy(cfg);
}

static void
test_errors(void **state OVS_UNUSED)
{
#define CLUSTERS "clusters: [{name: k, cluster: {server: 'https://k:1'}}]\n"
#define CONTEXTS "contexts: [{name: c, context: {cluster: k, user: u}}]\n"

    parse_error(CLUSTERS CONTEXTS "users: [{name: u, user: {token: t}}]\n",
                NULL, "kubeconfig sets no current-context");
    parse_error(CLUSTERS CONTEXTS "current-context: \"\"\n", NULL,
                "no current-context");
    parse_error(CLUSTERS CONTEXTS "current-context: [a]\n", NULL,
                "'current-context' must be a string");
    parse_error(CLUSTERS CONTEXTS "current-context: nope\n", NULL,
                "context \"nope\" not found in 'contexts'");
    parse_error(CLUSTERS CONTEXTS, "nope", "context \"nope\" not found");
    parse_error(CLUSTERS CONTEXTS "current-context: c\n", NULL,
                "user \"u\" not found in 'users'");
    parse_error(CONTEXTS "current-context: c\n", NULL,
                "cluster \"k\" not found in 'clusters'");
    parse_error("clusters: {k: 1}\n" CONTEXTS "current-context: c\n", NULL,
                "'clusters' must be a list");
    parse_error("clusters: [{name: k, cluster: {server: 'ftp://k'}}]\n"
                CONTEXTS "current-context: c\n", NULL,
                "cluster \"k\": 'server' must be an http:// or https:// URL");
    parse_error("clusters: [{name: k, cluster: {}}]\n"
                CONTEXTS "current-context: c\n", NULL,
                "'server' must be an http:// or https:// URL");
    parse_error("clusters: [{name: k, cluster: {server: 'https://k',"
                " certificate-authority-data: '!!notbase64'}}]\n"
                CONTEXTS "current-context: c\n", NULL,
                "'certificate-authority-data' is not valid base64");
    parse_error("clusters: [{name: k, cluster: {server: 'https://k',"
                " insecure-skip-tls-verify: maybe}}]\n"
                CONTEXTS "current-context: c\n", NULL,
                "'insecure-skip-tls-verify' must be true or false");
    parse_error(CLUSTERS CONTEXTS "current-context: c\n"
                "users: [{name: u, user: {client-certificate-data: "
                CERT_B64 "}}]\n", NULL,
                "user \"u\" has a client certificate but no client key");
    parse_error(CLUSTERS CONTEXTS "current-context: c\n"
                "users: [{name: u, user: {exec: {command: aws}}}]\n", NULL,
                "'exec' credentials are not supported");
    parse_error(CLUSTERS CONTEXTS "current-context: c\n"
                "users: [{name: u, user: {token: [1, 2]}}]\n", NULL,
                "user \"u\": 'token' must be a string");
    parse_error(CLUSTERS "contexts: [{name: c, context: {user: u}}]\n"
                "current-context: c\n", NULL, "names no cluster");
    parse_error("- just\n- a list\n", NULL, "must be a mapping");
    parse_error("", NULL, "the file is empty");
    parse_error("clusters: [\n  {name: k,\n   cluster: {server: x}\n", NULL,
                "YAML syntax error at line");
    parse_error("a: \"\\x01\\0\"\n", NULL, "NUL");

    /* An alias bomb is refused quickly rather than expanded. */
    parse_error("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
                NULL, "more than 100000 nodes");

    /* Within the node bound but not the byte bound: 10^4 copies of a 4 KiB
     * string through nested aliases would be 40 MB from a 4 KiB file (with
     * longer strings and deeper nesting, gigabytes). */
    struct ds laughs = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&laughs, CLUSTERS CONTEXTS "current-context: c\n"
                "users: [{name: u, user: {token: t}}]\n"
                "preferences:\n  lol: &l0 \"");
    for (int i = 0; i < 4096; i++) {
        ds_put_char(&laughs, 'a' + i % 26);
    }
    ds_put_cstr(&laughs, "\"\n");
    for (int level = 1; level <= 4; level++) {
        ds_put_format(&laughs, "  l%d: &l%d [", level, level);
        for (int i = 0; i < 10; i++) {
            ds_put_format(&laughs, "%s*l%d", i ? ", " : "", level - 1);
        }
        ds_put_cstr(&laughs, "]\n");
    }
    parse_error(ds_cstr(&laughs), NULL, "more than 16777216 bytes");
    ds_destroy(&laughs);

    /* Aliases themselves are fine, as they are for kubectl. */
    struct k8s_config *aliased = parse_ok(
        "clusters: [{name: k, cluster: {server: &s 'https://k:1'}}]\n"
        "contexts: [{name: c, context: &ctx {cluster: k, user: u}},"
        " {name: d, context: *ctx}]\n"
        "users: [{name: u, user: {token: *s}}]\n"
        "current-context: d\n");
    assert_string_equal(aliased->server, "https://k:1");
    assert_string_equal(aliased->token, "https://k:1");
    k8s_config_destroy(aliased);

    /* Deep nesting. */
    struct ds deep = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < 200; i++) {
        ds_put_char(&deep, '[');
    }
    for (int i = 0; i < 200; i++) {
        ds_put_char(&deep, ']');
    }
    parse_error(ds_cstr(&deep), NULL, "nested deeper than");
    ds_destroy(&deep);

    /* Files. */
    struct k8s_config *cfg;
    char *error;
    assert_int_equal(k8s_config_read_kubeconfig("/nonexistent/kubeconfig",
                                                NULL, &cfg, &error), ENOENT);
    assert_non_null(strstr(error, "/nonexistent/kubeconfig: open failed"));
    free(error);

    char *file_name = write_file("bad-kubeconfig", "current-context: c\n");
    assert_int_equal(k8s_config_read_kubeconfig(file_name, NULL, &cfg,
                                                &error), EINVAL);
    assert_non_null(strstr(error, file_name));
    assert_non_null(strstr(error, "context \"c\" not found"));
    free(error);
    free(file_name);

    assert_int_equal(k8s_config_read_kubeconfig(tmpdir, NULL, &cfg, &error),
                     EINVAL);
    assert_non_null(strstr(error, "not a regular file"));
    free(error);
}

static void
test_in_cluster(void **state OVS_UNUSED)
{
    char *sa_dir = xasprintf("%s/sa", tmpdir);
    struct k8s_config *cfg;
    char *token, *error;

    assert_int_equal(mkdir(sa_dir, 0700), 0);

    /* No token yet. */
    assert_int_equal(k8s_config_in_cluster("10.96.0.1", "443", sa_dir, &cfg,
                                           &error), ENOENT);
    assert_non_null(strstr(error, "cannot read service account token"));
    free(error);

    free(write_file("sa/token", "sa-token-1\n"));
    free(write_file("sa/ca.crt", CERT_PEM));
    free(write_file("sa/namespace", "livebind"));

    assert_int_equal(k8s_config_in_cluster("10.96.0.1", "443", sa_dir, &cfg,
                                           &error), 0);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    char *ca_file = xasprintf("%s/ca.crt", sa_dir);
    assert_string_equal(cfg->ca_file, ca_file);
    free(ca_file);
    assert_string_equal(cfg->namespace, "livebind");
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), 0);
    assert_string_equal(token, "sa-token-1");
    free(token);

    /* Rotation. */
    free(write_file("sa/token", "sa-token-2\n"));
    assert_int_equal(k8s_config_read_token(cfg, &token, &error), 0);
    assert_string_equal(token, "sa-token-2");
    free(token);
    k8s_config_destroy(cfg);

    assert_int_equal(k8s_config_in_cluster("fd00::1", "6443", sa_dir, &cfg,
                                           &error), 0);
    assert_string_equal(cfg->server, "https://[fd00::1]:6443");
    k8s_config_destroy(cfg);

    assert_int_equal(k8s_config_in_cluster(NULL, "443", sa_dir, &cfg,
                                           &error), EINVAL);
    assert_non_null(strstr(error, "KUBERNETES_SERVICE_HOST"));
    free(error);
    assert_int_equal(k8s_config_in_cluster("h", "44x", sa_dir, &cfg,
                                           &error), EINVAL);
    assert_non_null(strstr(error, "is not a port"));
    free(error);
    free(sa_dir);
}

static void
test_url(void **state OVS_UNUSED)
{
    struct k8s_config *cfg;
    char *error;

    assert_int_equal(k8s_config_from_url("http://127.0.0.1:8080//", &cfg,
                                         &error), 0);
    assert_string_equal(cfg->server, "http://127.0.0.1:8080");
    assert_null(cfg->token);
    k8s_config_destroy(cfg);

    const char *bad[] = { "ftp://h", "127.0.0.1:80", "http://", "http:///x",
                          "http://h x", "" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(k8s_config_from_url(bad[i], &cfg, &error), EINVAL);
        assert_null(cfg);
        assert_non_null(strstr(error, "is not an http:// or https://"));
        free(error);
    }

    assert_int_equal(k8s_config_load(NULL, "https://api:6443", &cfg,
                                     &error), 0);
    assert_string_equal(cfg->server, "https://api:6443");
    k8s_config_destroy(cfg);
}

static void
test_base64(void **state OVS_UNUSED)
{
    const struct {
        const char *in;
        const char *out;
    } good[] = {
        { "", "" },
        { "Zg==", "f" },
        { "Zm8=", "fo" },
        { "Zm9v", "foo" },
        { "Zm9vYg", "foob" },
        { " Zm9v\nYmFy\r\n", "foobar" },
    };
    struct k8s_blob blob;

    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        assert_true(k8s_base64_decode(good[i].in, strlen(good[i].in), &blob));
        assert_int_equal(blob.size, strlen(good[i].out));
        assert_memory_equal(blob.data, good[i].out, blob.size);
        free(blob.data);
    }

    const char *bad[] = { "Z", "Zm9vY", "Zm=9", "Zm9v!", "Zg===" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (k8s_base64_decode(bad[i], strlen(bad[i]), &blob)) {
            fail_msg("\"%s\" decoded", bad[i]);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_client_cert_data),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
