/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "k8s-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <yaml.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

#include "lb-json.h"

/* Bounds on the YAML document tree, against "billion laughs" alias bombs
 * and absurd nesting.
 *
 * client-go reads kubeconfig with sigs.k8s.io/yaml, that is go-yaml, which
 * accepts anchors and aliases (it refuses only "excessive aliasing", by the
 * ratio of aliases to decoded values), so a kubeconfig may use them and we
 * accept them too.  But every alias is expanded into a copy, so bound what
 * the expansion makes: its nodes, and the bytes of its strings and keys (a
 * few long strings reached through nested aliases would otherwise make
 * gigabytes of a small file within the node bound).  A real kubeconfig,
 * embedded certificates and all, is far below both. */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000
#define YAML_MAX_BYTES (16 * 1024 * 1024)

/* What is left of the bounds above while a document is being expanded. */
struct yaml_budget {
    size_t nodes;
    size_t bytes;
};

static void
k8s_blob_free(struct k8s_blob *blob)
{
    free(blob->data);
    blob->data = NULL;
    blob->size = 0;
}

static void
k8s_blob_clone(struct k8s_blob *dst, const struct k8s_blob *src)
{
    dst->data = src->data ? xmemdup(src->data, src->size) : NULL;
    dst->size = src->size;
}

/* Returns a new configuration for 'server' with no credentials. */
struct k8s_config *
k8s_config_create(const char *server)
{
    struct k8s_config *cfg = xzalloc(sizeof *cfg);
    size_t len = strlen(server);

    while (len > 0 && server[len - 1] == '/') {
        len--;
    }
    cfg->server = xmemdup0(server, len);
    return cfg;
}

struct k8s_config *
k8s_config_clone(const struct k8s_config *old)
{
    struct k8s_config *cfg = k8s_config_create(old->server);

    cfg->ca_file = nullable_xstrdup(old->ca_file);
    k8s_blob_clone(&cfg->ca_data, &old->ca_data);
    cfg->insecure = old->insecure;
    cfg->token = nullable_xstrdup(old->token);
    cfg->token_file = nullable_xstrdup(old->token_file);
    cfg->cert_file = nullable_xstrdup(old->cert_file);
    k8s_blob_clone(&cfg->cert_data, &old->cert_data);
    cfg->key_file = nullable_xstrdup(old->key_file);
    k8s_blob_clone(&cfg->key_data, &old->key_data);
    cfg->namespace = nullable_xstrdup(old->namespace);
    return cfg;
}

void
k8s_config_destroy(struct k8s_config *cfg)
{
    if (cfg) {
        free(cfg->server);
        free(cfg->ca_file);
        k8s_blob_free(&cfg->ca_data);
        if (cfg->token) {
            explicit_bzero(cfg->token, strlen(cfg->token));
            free(cfg->token);
        }
        free(cfg->token_file);
        free(cfg->cert_file);
        k8s_blob_free(&cfg->cert_data);
        free(cfg->key_file);
        if (cfg->key_data.data) {
            explicit_bzero(cfg->key_data.data, cfg->key_data.size);
        }
        k8s_blob_free(&cfg->key_data);
        free(cfg->namespace);
        free(cfg);
    }
}

static bool
k8s_server_url_is_valid(const char *url)
{
    const char *host = (!strncmp(url, "https://", 8) ? url + 8
                        : !strncmp(url, "http://", 7) ? url + 7
                        : NULL);
    if (!host || !*host || *host == '/') {
        return false;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char) *p <= ' ' || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Makes '*cfgp' a configuration for the server at 'url' ("http://..." or
 * "https://..."), with no credentials and system CAs.  Returns 0 or EINVAL
 * with '*errorp' set. */
int
k8s_config_from_url(const char *url, struct k8s_config **cfgp,
                    char **errorp)
{
    *cfgp = NULL;
    *errorp = NULL;
    if (!url || !k8s_server_url_is_valid(url)) {
        *errorp = xasprintf("\"%s\" is not an http:// or https:// server URL",
                            url ? url : "");
        return EINVAL;
    }
    *cfgp = k8s_config_create(url);
    return 0;
}

/* Reads at most 'max' bytes of file 'file_name' into 'blob' (NUL-terminated,
 * the terminator not counted in its size).  Returns 0 or a positive errno
 * value with '*errorp' set. */
int
k8s_read_file(const char *file_name, size_t max, struct k8s_blob *blob,
              char **errorp)
{
    struct stat st;
    int error;

    blob->data = NULL;
    blob->size = 0;
    *errorp = NULL;

    int fd = open(file_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = errno;
        *errorp = xasprintf("%s: open failed (%s)", file_name,
                            ovs_strerror(error));
        return error;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        error = EINVAL;
        *errorp = xasprintf("%s: not a regular file", file_name);
        goto exit;
    }

    struct ds data = DS_EMPTY_INITIALIZER;
    for (;;) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = errno;
            *errorp = xasprintf("%s: read failed (%s)", file_name,
                                ovs_strerror(error));
            ds_destroy(&data);
            goto exit;
        } else if (!n) {
            break;
        } else if (data.length + n > max) {
            error = EFBIG;
            *errorp = xasprintf("%s: larger than the limit of %"PRIuSIZE
                                " bytes", file_name, max);
            ds_destroy(&data);
            goto exit;
        }
        ds_put_buffer(&data, buf, n);
    }
    blob->size = data.length;
    blob->data = ds_steal_cstr(&data);
    error = 0;

exit:
    close(fd);
    return error;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Stores in '*tokenp' the bearer token to send with the next request, or
 * NULL if 'cfg' has none.  A token file is read anew each time, because
 * service account tokens rotate.  Returns 0 or a positive errno value with
 * '*errorp' set. */
int
k8s_config_read_token(const struct k8s_config *cfg, char **tokenp,
                      char **errorp)
{
    *tokenp = NULL;
    *errorp = NULL;
    if (!cfg->token_file) {
        *tokenp = nullable_xstrdup(cfg->token);
        return 0;
    }

    struct k8s_blob blob;
    int error = k8s_read_file(cfg->token_file, K8S_TOKEN_FILE_MAX, &blob,
                              errorp);
    if (error) {
        return error;
    }

    char *start = blob.data;
    char *end = blob.data + blob.size;
    while (start < end && is_space(*start)) {
        start++;
    }
    while (end > start && is_space(end[-1])) {
        end--;
    }
    for (const char *p = start; p < end; p++) {
        if ((unsigned char) *p < 0x21 || *p == 0x7f) {
            *errorp = xasprintf("%s: token contains the invalid byte 0x%02x",
                                cfg->token_file, (unsigned char) *p);
            error = EINVAL;
            break;
        }
    }
    if (!error && start == end) {
        *errorp = xasprintf("%s: token file is empty", cfg->token_file);
        error = EINVAL;
    }
    if (!error) {
        *tokenp = xmemdup0(start, end - start);
    }
    explicit_bzero(blob.data, blob.size);
    free(blob.data);
    return error;
}

static int
base64_value(unsigned char c)
{
    return (c >= 'A' && c <= 'Z' ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+' ? 62
            : c == '/' ? 63
            : -1);
}

/* Decodes the 'len' bytes of base64 (standard alphabet, whitespace ignored,
 * padding optional) in 'in' into 'out', which is NUL-terminated for
 * convenience.  Returns false on invalid input, with 'out' unset. */
bool
k8s_base64_decode(const char *in, size_t len, struct k8s_blob *out)
{
    char *data = xmalloc(len / 4 * 3 + 4);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    int pad = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (is_space(c)) {
            continue;
        } else if (c == '=') {
            pad++;
            continue;
        }

        int v = base64_value(c);
        if (v < 0 || pad) {
            free(data);
            return false;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            data[n++] = acc >> bits;
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || pad > 2) {
        /* A lone sextet cannot encode a byte. */
        free(data);
        return false;
    }
    data[n] = '\0';
    out->data = data;
    out->size = n;
    return true;
}

/* YAML to JSON. */

static bool
yaml_plain_is(const char *s, const char *a, const char *b, const char *c)
{
    return !strcmp(s, a) || !strcmp(s, b) || !strcmp(s, c);
}

/* Takes 'len' bytes from 'budget'.  Returns false, with '*errorp' set, if
 * there were not that many left. */
static bool
yaml_budget_take_bytes(struct yaml_budget *budget, size_t len,
                       char **errorp)
{
    if (len > budget->bytes) {
        *errorp = xasprintf("YAML expands to more than %d bytes of strings "
                            "(through aliases?)", YAML_MAX_BYTES);
        return false;
    }
    budget->bytes -= len;
    return true;
}

static json_t *
yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth,
                  struct yaml_budget *budget, char **errorp)
{
    if (!node) {
        *errorp = xstrdup("YAML refers to a missing node");
        return NULL;
    } else if (depth > YAML_MAX_DEPTH) {
        *errorp = xasprintf("YAML nested deeper than %d levels",
                            YAML_MAX_DEPTH);
        return NULL;
    } else if (!budget->nodes) {
        *errorp = xasprintf("YAML expands to more than %d nodes",
                            YAML_MAX_NODES);
        return NULL;
    }
    budget->nodes--;

    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *) node->data.scalar.value;
        size_t len = node->data.scalar.length;
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (yaml_plain_is(s, "true", "True", "TRUE")) {
                return json_true();
            } else if (yaml_plain_is(s, "false", "False", "FALSE")) {
                return json_false();
            } else if (!len || yaml_plain_is(s, "null", "Null", "~")) {
                return json_null();
            }
        }
        if (!yaml_budget_take_bytes(budget, len, errorp)) {
            return NULL;
        }
        if (memchr(s, '\0', len)) {
            *errorp = xstrdup("YAML string contains a NUL byte");
            return NULL;
        }
        json_t *json = json_stringn(s, len);
        if (!json) {
            *errorp = xstrdup("YAML string is not valid UTF-8");
        }
        return json;
    }

    case YAML_SEQUENCE_NODE: {
        json_t *array = json_pack("[]");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
            json_t *elem = yaml_node_to_json(doc,
                                             yaml_document_get_node(doc,
                                                                    *item),
                                             depth + 1, budget, errorp);
            if (!elem) {
                json_decref(array);
                return NULL;
            }
            json_array_append_new(array, elem);
        }
        return array;
    }

    case YAML_MAPPING_NODE: {
        json_t *object = json_pack("{}");
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
            yaml_node_t *key = yaml_document_get_node(doc, pair->key);
            if (!key || key->type != YAML_SCALAR_NODE
                || strlen((char *) key->data.scalar.value)
                   != key->data.scalar.length) {
                *errorp = xstrdup("YAML mapping key is not a string");
                json_decref(object);
                return NULL;
            }
            if (!yaml_budget_take_bytes(budget, key->data.scalar.length,
                                        errorp)) {
                json_decref(object);
                return NULL;
            }
            json_t *value = yaml_node_to_json(
                doc, yaml_document_get_node(doc, pair->value), depth + 1,
                budget, errorp);
            if (!value) {
                json_decref(object);
                return NULL;
            }
            if (json_object_set_new(object,
                                    (const char *) key->data.scalar.value,
                                    value)) {
                *errorp = xstrdup("YAML mapping key is not valid UTF-8");
                json_decref(object);
                return NULL;
            }
        }
        return object;
    }

    case YAML_NO_NODE:
    default:
        *errorp = xstrdup("empty YAML node");
        return NULL;
    }
}

/* Parses the first document of YAML (or JSON) 'text' into a JSON tree.
 * Returns it, or NULL with '*errorp' set. */
static json_t *
yaml_to_json(const char *text, size_t size, char **errorp)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *json = NULL;

    *errorp = NULL;
    if (!yaml_parser_initialize(&parser)) {
        *errorp = xstrdup("out of memory initializing the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, size);
    if (!yaml_parser_load(&parser, &doc)) {
        *errorp = xasprintf("YAML syntax error at line %zu, column %zu: %s",
                            parser.problem_mark.line + 1,
                            parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return NULL;
    }

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        *errorp = xstrdup("the file is empty");
    } else {
        struct yaml_budget budget = {
            .nodes = YAML_MAX_NODES,
            .bytes = YAML_MAX_BYTES,
        };
        json = yaml_node_to_json(&doc, root, 0, &budget, errorp);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return json;
}

/* Kubeconfig interpretation. */

/* Returns the string member 'key' of 'object', NULL if it is absent, null
 * or empty.  Sets '*errorp' (if not already set) if it has another type. */
static const char *
kc_string(const json_t *object, const char *key, const char *where,
          char **errorp)
{
    const json_t *value = json_object_get(object, key);

    if (!value || json_is_null(value)) {
        return NULL;
    } else if (!json_is_string(value)) {
        if (!*errorp) {
            *errorp = xasprintf("%s: '%s' must be a string", where, key);
        }
        return NULL;
    } else if (!json_string_length(value)) {
        return NULL;
    } else if (strlen(json_string_value(value)) != json_string_length(value)) {
        if (!*errorp) {
            *errorp = xasprintf("%s: '%s' contains a NUL byte", where, key);
        }
        return NULL;
    }
    return json_string_value(value);
}

static bool
kc_bool(const json_t *object, const char *key, const char *where,
        char **errorp)
{
    const json_t *value = json_object_get(object, key);

    if (!value || json_is_null(value)) {
        return false;
    } else if (json_is_boolean(value)) {
        return json_is_true(value);
    } else if (json_is_string(value)
               && (!strcmp(json_string_value(value), "true")
                   || !strcmp(json_string_value(value), "false"))) {
        return !strcmp(json_string_value(value), "true");
    }
    if (!*errorp) {
        *errorp = xasprintf("%s: '%s' must be true or false", where, key);
    }
    return false;
}

/* Finds the entry named 'name' in list 'key' of 'root' (e.g. "clusters") and
 * returns its member 'member' (e.g. "cluster"). */
static const json_t *
kc_find(const json_t *root, const char *key, const char *member,
        const char *name, char **errorp)
{
    const json_t *list = json_object_get(root, key);
    const json_t *entry;
    size_t i;

    if (list && !json_is_array(list) && !json_is_null(list)) {
        *errorp = xasprintf("'%s' must be a list", key);
        return NULL;
    }
    json_array_foreach (list, i, entry) {
        const json_t *entry_name = json_object_get(entry, "name");
        if (json_is_string(entry_name)
            && !strcmp(json_string_value(entry_name), name)) {
            const json_t *value = json_object_get(entry, member);
            if (!json_is_object(value)) {
                *errorp = xasprintf("%s entry \"%s\" has no '%s' mapping",
                                    key, name, member);
                return NULL;
            }
            return value;
        }
    }
    *errorp = xasprintf("%s \"%s\" not found in '%s'", member, name, key);
    return NULL;
}

/* Returns 'path' made absolute relative to 'base_dir' (kubectl resolves paths
 * in a kubeconfig relative to the file's directory). */
static char *
kc_path(const char *path, const char *base_dir)
{
    if (path[0] == '/' || !base_dir || !base_dir[0]) {
        return xstrdup(path);
    }
    return xasprintf("%s/%s", base_dir, path);
}

/* Decodes base64 member 'key' of 'object' into 'blob', if present. */
static void
kc_data(const json_t *object, const char *key, const char *where,
        struct k8s_blob *blob, char **errorp)
{
    const char *b64 = kc_string(object, key, where, errorp);

    if (b64 && !*errorp && !k8s_base64_decode(b64, strlen(b64), blob)) {
        *errorp = xasprintf("%s: '%s' is not valid base64", where, key);
    }
}

/* Parses kubeconfig 'text' ('size' bytes, YAML or JSON) and makes '*cfgp' the
 * configuration of its context 'context' (NULL for its current-context).
 * Relative file names in it are taken relative to 'base_dir' (may be NULL).
 * Returns 0 or EINVAL with '*errorp' set. */
int
k8s_config_parse_kubeconfig(const char *text, size_t size,
                            const char *base_dir, const char *context,
                            struct k8s_config **cfgp, char **errorp)
{
    struct k8s_config *cfg = NULL;
    char *error = NULL;
    char *where = NULL;

    *cfgp = NULL;
    *errorp = NULL;

    json_t *root = yaml_to_json(text, size, &error);
    if (!root) {
        goto exit;
    } else if (!json_is_object(root)) {
        error = xstrdup("a kubeconfig must be a mapping");
        goto exit;
    }

    if (!context) {
        context = kc_string(root, "current-context", "kubeconfig", &error);
        if (!context) {
            if (!error) {
                error = xstrdup("kubeconfig sets no current-context (and no "
                                "context was requested)");
            }
            goto exit;
        }
    }

    const json_t *ctx = kc_find(root, "contexts", "context", context, &error);
    if (!ctx) {
        goto exit;
    }
    where = xasprintf("context \"%s\"", context);
    const char *cluster_name = kc_string(ctx, "cluster", where, &error);
    const char *user_name = kc_string(ctx, "user", where, &error);
    const char *namespace = kc_string(ctx, "namespace", where, &error);
    if (error) {
        goto exit;
    } else if (!cluster_name) {
        error = xasprintf("%s names no cluster", where);
        goto exit;
    }

    /* The cluster: server and trust. */
    const json_t *cluster = kc_find(root, "clusters", "cluster", cluster_name,
                                    &error);
    if (!cluster) {
        goto exit;
    }
    free(where);
    where = xasprintf("cluster \"%s\"", cluster_name);
    const char *server = kc_string(cluster, "server", where, &error);
    if (error) {
        goto exit;
    } else if (!server || !k8s_server_url_is_valid(server)) {
        error = xasprintf("%s: 'server' must be an http:// or https:// URL",
                          where);
        goto exit;
    }
    cfg = k8s_config_create(server);
    cfg->namespace = nullable_xstrdup(namespace);
    cfg->insecure = kc_bool(cluster, "insecure-skip-tls-verify", where,
                            &error);
    const char *ca_file = kc_string(cluster, "certificate-authority", where,
                                    &error);
    if (ca_file) {
        cfg->ca_file = kc_path(ca_file, base_dir);
    }
    kc_data(cluster, "certificate-authority-data", where, &cfg->ca_data,
            &error);
    if (error) {
        goto exit;
    }

    /* The user: credentials.  A context without a user is anonymous. */
    if (user_name) {
        const json_t *user = kc_find(root, "users", "user", user_name,
                                     &error);
        if (!user) {
            goto exit;
        }
        free(where);
        where = xasprintf("user \"%s\"", user_name);

        cfg->token = nullable_xstrdup(kc_string(user, "token", where,
                                                &error));
        const char *token_file = kc_string(user, "tokenFile", where, &error);
        if (token_file) {
            cfg->token_file = kc_path(token_file, base_dir);
        }
        const char *cert_file = kc_string(user, "client-certificate", where,
                                          &error);
        if (cert_file) {
            cfg->cert_file = kc_path(cert_file, base_dir);
        }
        kc_data(user, "client-certificate-data", where, &cfg->cert_data,
                &error);
        const char *key_file = kc_string(user, "client-key", where, &error);
        if (key_file) {
            cfg->key_file = kc_path(key_file, base_dir);
        }
        kc_data(user, "client-key-data", where, &cfg->key_data, &error);
        if (error) {
            goto exit;
        }

        bool has_cert = cfg->cert_file || cfg->cert_data.data;
        bool has_key = cfg->key_file || cfg->key_data.data;
        if (has_cert != has_key) {
            error = xasprintf("%s has a client %s but no client %s", where,
                              has_cert ? "certificate" : "key",
                              has_cert ? "key" : "certificate");
            goto exit;
        }
        if (!cfg->token && !cfg->token_file && !has_cert) {
            static const char *unsupported[] = {
                "exec", "auth-provider", "username", "password"
            };
            for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
                if (json_object_get(user, unsupported[i])) {
                    error = xasprintf("%s: '%s' credentials are not "
                                      "supported (use a token, tokenFile "
                                      "or client certificate)",
                                      where, unsupported[i]);
                    goto exit;
                }
            }
        }
    }

exit:
    json_decref(root);
    free(where);
    if (error) {
        k8s_config_destroy(cfg);
        *errorp = error;
        return EINVAL;
    }
    *cfgp = cfg;
    return 0;
}

/* Reads kubeconfig file 'file_name' and makes '*cfgp' the configuration of
 * its context 'context' (NULL for the current one).  Returns 0 or a positive
 * errno value with '*errorp' set (the message names the file). */
int
k8s_config_read_kubeconfig(const char *file_name, const char *context,
                           struct k8s_config **cfgp, char **errorp)
{
    struct k8s_blob text;
    char *error;

    *cfgp = NULL;
    int retval = k8s_read_file(file_name, K8S_CONFIG_FILE_MAX, &text, errorp);
    if (retval) {
        return retval;
    }

    char *base_dir = dir_name(file_name);
    retval = k8s_config_parse_kubeconfig(text.data, text.size, base_dir,
                                         context, cfgp, &error);
    if (retval) {
        *errorp = xasprintf("%s: %s", file_name, error);
        free(error);
    }
    free(base_dir);
    explicit_bzero(text.data, text.size);
    free(text.data);
    return retval;
}

/* Makes '*cfgp' the in-cluster configuration: server 'host':'port' (from
 * KUBERNETES_SERVICE_HOST/PORT), token file, CA and namespace from directory
 * 'sa_dir'.  Returns 0 or a positive errno value with '*errorp' set. */
int
k8s_config_in_cluster(const char *host, const char *port, const char *sa_dir,
                      struct k8s_config **cfgp, char **errorp)
{
    *cfgp = NULL;
    *errorp = NULL;
    if (!host || !host[0] || !port || !port[0]) {
        *errorp = xstrdup("not running in a pod: KUBERNETES_SERVICE_HOST "
                          "and KUBERNETES_SERVICE_PORT must be set");
        return EINVAL;
    }
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5) {
        *errorp = xasprintf("KUBERNETES_SERVICE_PORT \"%s\" is not a port",
                            port);
        return EINVAL;
    }

    char *url = (strchr(host, ':')
                 ? xasprintf("https://[%s]:%s", host, port)
                 : xasprintf("https://%s:%s", host, port));
    int retval = k8s_config_from_url(url, cfgp, errorp);
    free(url);
    if (retval) {
        return retval;
    }

    struct k8s_config *cfg = *cfgp;
    cfg->token_file = xasprintf("%s/token", sa_dir);
    if (access(cfg->token_file, R_OK)) {
        retval = errno;
        *errorp = xasprintf("%s: cannot read service account token (%s)",
                            cfg->token_file, ovs_strerror(retval));
        k8s_config_destroy(cfg);
        *cfgp = NULL;
        return retval;
    }

    char *ca_file = xasprintf("%s/ca.crt", sa_dir);
    if (!access(ca_file, R_OK)) {
        cfg->ca_file = ca_file;
    } else {
        free(ca_file);
    }

    char *ns_file = xasprintf("%s/namespace", sa_dir);
    struct k8s_blob ns;
    char *ignore;
    if (!k8s_read_file(ns_file, 256, &ns, &ignore)) {
        size_t len = strcspn(ns.data, " \t\r\n");
        if (len) {
            cfg->namespace = xmemdup0(ns.data, len);
        }
        free(ns.data);
    } else {
        free(ignore);
    }
    free(ns_file);
    return 0;
}

/* Makes '*cfgp' the configuration to use, in order of preference: kubeconfig
 * file 'kubeconfig' (if nonnull, with its server replaced by 'server' if that
 * is nonnull too), server URL 'server' without credentials, the in-cluster
 * service account, the first file in $KUBECONFIG.  Returns 0 or a positive
 * errno value with '*errorp' set. */
int
k8s_config_load(const char *kubeconfig, const char *server,
                struct k8s_config **cfgp, char **errorp)
{
    int retval;

    *cfgp = NULL;
    *errorp = NULL;
    if (kubeconfig) {
        retval = k8s_config_read_kubeconfig(kubeconfig, NULL, cfgp, errorp);
        if (!retval && server) {
            if (!k8s_server_url_is_valid(server)) {
                *errorp = xasprintf("\"%s\" is not an http:// or https:// "
                                    "server URL", server);
                k8s_config_destroy(*cfgp);
                *cfgp = NULL;
                return EINVAL;
            }
            struct k8s_config *tmp = k8s_config_create(server);
            free((*cfgp)->server);
            (*cfgp)->server = tmp->server;
            tmp->server = NULL;
            k8s_config_destroy(tmp);
        }
        return retval;
    } else if (server) {
        return k8s_config_from_url(server, cfgp, errorp);
    }

    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && host[0]) {
        return k8s_config_in_cluster(host, getenv("KUBERNETES_SERVICE_PORT"),
                                     K8S_SERVICE_ACCOUNT_DIR, cfgp, errorp);
    }

    const char *env = getenv("KUBECONFIG");
    if (env && env[0]) {
        char *first = xmemdup0(env, strcspn(env, ":"));
        retval = k8s_config_read_kubeconfig(first, NULL, cfgp, errorp);
        free(first);
        return retval;
    }

    *errorp = xstrdup("no Kubernetes API server configured: give a "
                      "kubeconfig or a server URL, set $KUBECONFIG, or run "
                      "in a pod");
    return ENOENT;
}
