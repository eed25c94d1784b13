/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "k8s-client.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include "hash.h"
#include "k8s-config.h"
#include "k8s-stream.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "timeval.h"
#include "util.h"

#include "lb-json.h"

VLOG_DEFINE_THIS_MODULE(k8s_client);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A watch stream that ends by itself this soon without delivering anything
 * counts as a failure, so that a server that closes watches at once cannot
 * make us loop. */
#define K8S_WATCH_MIN_MS 1000

/* Bound on the body of a failed watch request (a Status). */
#define K8S_ERROR_BODY_MAX (64 * 1024)

#ifndef LIVEBIND_VERSION
#define LIVEBIND_VERSION "0"
#endif
#define K8S_USER_AGENT "livebind/" LIVEBIND_VERSION

/* One HTTP request in flight. */
enum k8s_http_kind {
    K8S_HTTP_LIST,              /* A list page for a watch. */
    K8S_HTTP_WATCH,             /* A watch stream. */
    K8S_HTTP_OP,                /* A get or a write. */
};

struct k8s_http {
    struct k8s_client *client;
    enum k8s_http_kind kind;
    void *owner;                /* struct k8s_watch or struct k8s_op. */
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;                 /* Request body, or NULL. */

    /* The response body.  For a watch that got 200 OK, bytes of the stream
     * not yet parsed (k8s_client_run() drains it after each read). */
    struct ds response;
    bool too_large;             /* Aborted: body over the bound. */
    bool status_checked;
    bool is_stream;
    long long int started;
    char errbuf[CURL_ERROR_SIZE];
};

/* A watch. */
enum k8s_watch_state {
    K8S_WATCH_WAITING,          /* Until 'retry_at', then list or watch. */
    K8S_WATCH_LISTING,          /* List request in flight. */
    K8S_WATCH_WATCHING,         /* Watch stream open. */
};

/* An object the consumer has been told about. */
struct k8s_cached {
    struct hmap_node node;      /* In struct k8s_watch's 'cache'. */
    char *namespace;            /* NULL if cluster-scoped. */
    char *name;
    char *rv;
    uint64_t list_gen;          /* Last (re-)list that had it. */
};

struct k8s_watch {
    struct ovs_list node;       /* In struct k8s_client's 'watches'. */
    struct k8s_client *client;
    char *path;
    char *label_selector;       /* NULL if none. */
    char *field_selector;       /* NULL if none. */
    k8s_watch_cb *cb;
    void *aux;
    bool destroyed;             /* Freed at the end of k8s_client_run(). */

    enum k8s_watch_state state;
    long long int state_since;
    long long int retry_at;     /* In K8S_WATCH_WAITING. */
    int backoff_ms;             /* Base of the next retry delay. */
    struct k8s_http *http;

    char *rv;                   /* Where to watch from; NULL: list first. */
    char *continue_token;       /* Next list page, if listing. */
    uint64_t list_gen;
    bool synced;                /* A list has completed. */
    bool got_event;             /* Current watch stream delivered events. */

    struct hmap cache;          /* Contains struct k8s_cached. */
    struct k8s_stream stream;

    /* Statistics. */
    unsigned long long int n_requests;
    unsigned long long int n_lists;
    unsigned long long int n_relists;
    unsigned long long int n_events;
    unsigned long long int n_bookmarks;
    unsigned long long int n_errors;
    char *last_error;
    long long int last_error_time;
};

/* A request started through the public API. */
enum k8s_op_phase {
    K8S_OP_PLAIN,               /* One request. */
    K8S_OP_RMW_GET,             /* Read-modify-write: reading. */
    K8S_OP_RMW_PUT,             /* Read-modify-write: writing. */
};

struct k8s_op {
    struct hmap_node node;      /* In struct k8s_client's 'ops', by id. */
    struct ovs_list done_node;  /* In 'done_ops', if completed early. */
    struct k8s_client *client;
    uint64_t id;
    k8s_done_cb *cb;
    void *aux;
    struct k8s_http *http;
    struct k8s_result result;   /* If completed early. */
    bool in_mutate;
    bool cancelled;

    enum k8s_op_phase phase;
    char *path;                 /* For read-modify-write. */
    k8s_mutate_cb *mutate;
    void *mutate_aux;
    int attempts_left;
};

/* A socket libcurl wants us to watch. */
struct k8s_socket {
    struct hmap_node node;      /* In struct k8s_client's 'sockets'. */
    curl_socket_t fd;
    int what;                   /* CURL_POLL_*. */
};

struct k8s_client {
    struct k8s_config *config;
    struct k8s_client_options opts;
    CURLM *multi;
    struct hmap sockets;        /* Contains struct k8s_socket. */
    long long int timer_deadline;   /* LLONG_MAX if none. */
    bool in_run;

    struct ovs_list watches;    /* Contains struct k8s_watch. */
    struct hmap ops;            /* Contains struct k8s_op. */
    struct ovs_list done_ops;   /* Contains struct k8s_op. */
    uint64_t next_op_id;

    char *last_token;           /* Last token read successfully. */
    unsigned long long int n_requests;
};

static void k8s_watch_free(struct k8s_watch *);
static void k8s_watch_start(struct k8s_watch *);
static void k8s_op_free(struct k8s_op *);
static uint64_t k8s_rmw_start(struct k8s_client *, const char *path,
                              int max_attempts, k8s_mutate_cb *,
                              void *mutate_aux, k8s_done_cb *, void *aux);

/* Helpers. */

static bool
k8s_path_is_valid(const char *path, char **errorp)
{
    size_t len = path ? strlen(path) : 0;

    if (!len || path[0] != '/' || len > 4096) {
        *errorp = xasprintf("invalid API path \"%s\" (must start with '/')",
                            path ? path : "");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = path[i];
        if (c <= ' ' || c == 0x7f || c == '?' || c == '#') {
            *errorp = xasprintf("invalid API path \"%s\" (byte 0x%02x)",
                                path, c);
            return false;
        }
    }
    return true;
}

/* Appends '&key=value' (or '?key=value' first) to 'query', escaped. */
static void
k8s_query_add(struct ds *query, const char *key, const char *value)
{
    ds_put_char(query, query->length ? '&' : '?');
    ds_put_format(query, "%s=", key);
    for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            ds_put_char(query, *p);
        } else {
            ds_put_format(query, "%%%02X", *p);
        }
    }
}

static uint32_t
k8s_key_hash(const char *namespace, const char *name)
{
    return hash_string(name, namespace ? hash_string(namespace, 1) : 0);
}

/* Returns 'ms' with +-20% jitter. */
static long long int
k8s_jitter(int ms)
{
    return ms * (80LL + random_range(41)) / 100;
}

static double
k8s_seconds_since(long long int then)
{
    return (time_msec() - then) / 1000.0;
}

/* libcurl plumbing. */

static struct k8s_socket *
k8s_socket_find(const struct k8s_client *client, curl_socket_t fd)
{
    struct k8s_socket *sock;

    HMAP_FOR_EACH_WITH_HASH (sock, node, hash_int(fd, 0), &client->sockets) {
        if (sock->fd == fd) {
            return sock;
        }
    }
    return NULL;
}

static int
k8s_socket_cb(CURL *easy OVS_UNUSED, curl_socket_t fd, int what,
              void *client_, void *socketp OVS_UNUSED)
{
    struct k8s_client *client = client_;
    struct k8s_socket *sock = k8s_socket_find(client, fd);

    if (what == CURL_POLL_REMOVE) {
        if (sock) {
            hmap_remove(&client->sockets, &sock->node);
            free(sock);
        }
    } else {
        if (!sock) {
            sock = xmalloc(sizeof *sock);
            sock->fd = fd;
            hmap_insert(&client->sockets, &sock->node, hash_int(fd, 0));
        }
        sock->what = what;
    }
    return 0;
}

static int
k8s_timer_cb(CURLM *multi OVS_UNUSED, long timeout_ms, void *client_)
{
    struct k8s_client *client = client_;

    client->timer_deadline = (timeout_ms < 0 ? LLONG_MAX
                              : time_msec() + timeout_ms);
    return 0;
}

static size_t
k8s_http_write_cb(char *data, size_t size, size_t nmemb, void *http_)
{
    struct k8s_http *http = http_;
    size_t n = size * nmemb;

    if (!http->status_checked) {
        long status = 0;
        curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &status);
        http->is_stream = http->kind == K8S_HTTP_WATCH && status == 200;
        http->status_checked = true;
    }

    /* A watch stream is parsed by k8s_client_run() as it arrives, so its
     * buffer holds at most what one read brings; other bodies are bounded
     * here. */
    size_t max = (http->is_stream ? SIZE_MAX
                  : http->kind == K8S_HTTP_WATCH ? K8S_ERROR_BODY_MAX
                  : http->client->opts.max_body);
    if (n > max - http->response.length) {
        http->too_large = true;
        return 0;
    }
    ds_put_buffer(&http->response, data, n);
    return n;
}

static void
k8s_http_destroy(struct k8s_http *http)
{
    if (http) {
        curl_multi_remove_handle(http->client->multi, http->easy);
        curl_easy_cleanup(http->easy);
        curl_slist_free_all(http->headers);
        free(http->url);
        free(http->body);
        ds_destroy(&http->response);
        free(http);
    }
}

/* Stores in '*headerp' the Authorization header to send, or NULL for none.
 * Returns false, with '*errorp' set, if no token can be had. */
static bool
k8s_client_auth_header(struct k8s_client *client, char **headerp,
                       char **errorp)
{
    char *token;
    char *error;

    *headerp = NULL;
    if (k8s_config_read_token(client->config, &token, &error)) {
        if (!client->last_token) {
            *errorp = error;
            return false;
        }
        VLOG_WARN_RL(&rl, "%s; using the token read before", error);
        free(error);
        token = xstrdup(client->last_token);
    } else if (token && (!client->last_token
                         || strcmp(token, client->last_token))) {
        free(client->last_token);
        client->last_token = xstrdup(token);
    }
    if (token) {
        *headerp = xasprintf("Authorization: Bearer %s", token);
        explicit_bzero(token, strlen(token));
        free(token);
    }
    return true;
}

static void
k8s_http_set_tls(struct k8s_http *http)
{
    const struct k8s_config *cfg = http->client->config;
    CURL *easy = http->easy;

    if (cfg->ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->ca_data.data) {
        struct curl_blob blob = { cfg->ca_data.data, cfg->ca_data.size,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (cfg->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cfg->cert_file) {
        curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->cert_file);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (cfg->cert_data.data) {
        struct curl_blob blob = { cfg->cert_data.data, cfg->cert_data.size,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (cfg->key_file) {
        curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->key_file);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (cfg->key_data.data) {
        struct curl_blob blob = { cfg->key_data.data, cfg->key_data.size,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

/* Starts a request: 'method' on 'path' with 'query' (may be empty) and, if
 * 'body' is nonnull, that body (which this function takes) of type
 * 'content_type'.  Returns the request, or NULL with '*errorp' set. */
static struct k8s_http *
k8s_http_start(struct k8s_client *client, enum k8s_http_kind kind,
               void *owner, const char *method, const char *path,
               const char *query, const char *content_type, char *body,
               long timeout_ms, char **errorp)
{
    char *auth;

    if (!k8s_path_is_valid(path, errorp)) {
        free(body);
        return NULL;
    }
    if (!k8s_client_auth_header(client, &auth, errorp)) {
        free(body);
        return NULL;
    }

    struct k8s_http *http = xzalloc(sizeof *http);
    http->client = client;
    http->kind = kind;
    http->owner = owner;
    http->url = xasprintf("%s%s%s", client->config->server, path, query);
    http->body = body;
    http->started = time_msec();
    ds_init(&http->response);

    http->headers = curl_slist_append(NULL, "Accept: application/json");
    http->headers = curl_slist_append(http->headers, "Expect:");
    if (body) {
        char *ct = xasprintf("Content-Type: %s", content_type);
        http->headers = curl_slist_append(http->headers, ct);
        free(ct);
    }
    if (auth) {
        http->headers = curl_slist_append(http->headers, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }

    CURL *easy = http->easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_PRIVATE, http);
    curl_easy_setopt(easy, CURLOPT_URL, http->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, K8S_USER_AGENT);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, http->headers);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, http->errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, k8s_http_write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, http);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    if (strcmp(method, "GET")) {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) strlen(body));
    }
    k8s_http_set_tls(http);

    CURLMcode mc = curl_multi_add_handle(client->multi, easy);
    if (mc != CURLM_OK) {
        *errorp = xasprintf("cannot start request: %s",
                            curl_multi_strerror(mc));
        k8s_http_destroy(http);
        return NULL;
    }
    client->n_requests++;
    VLOG_DBG("%s %s", method, http->url);
    return http;
}

/* Returns a message for a request that ended with 'cc' and HTTP 'status'
 * and response body 'body' (may be NULL), or NULL if it succeeded. */
static char *
k8s_http_error(const struct k8s_http *http, CURLcode cc, long status,
               const json_t *body)
{
    if (http->too_large) {
        return xasprintf("response body larger than %"PRIuSIZE" bytes",
                         (http->kind == K8S_HTTP_WATCH ? K8S_ERROR_BODY_MAX
                          : http->client->opts.max_body));
    } else if (cc == CURLE_PEER_FAILED_VERIFICATION) {
        /* Says which trust was used, since the fix is usually there: a
         * kubeconfig's or the service account's CA that is not the one
         * that signed the API server's certificate. */
        const struct k8s_config *cfg = http->client->config;
        return xasprintf("TLS: the API server's certificate is not trusted "
                         "by %s%s (%s)",
                         cfg->ca_file ? "the CA in " :
                         cfg->ca_data.data ? "the kubeconfig's "
                                             "certificate-authority-data"
                                           : "the system's CAs",
                         cfg->ca_file ? cfg->ca_file : "",
                         http->errbuf[0] ? http->errbuf
                                         : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        return xasprintf("%s%s%s", curl_easy_strerror(cc),
                         http->errbuf[0] ? ": " : "", http->errbuf);
    } else if (status < 200 || status > 299) {
        const char *message = k8s_status_message(body);
        return (message
                ? xasprintf("HTTP %ld: %s", status, message)
                : xasprintf("HTTP %ld", status));
    }
    return NULL;
}

/* Client. */

static void
k8s_client_options_init(struct k8s_client_options *opts,
                        const struct k8s_client_options *user)
{
    static const struct k8s_client_options defaults = {
        .max_event = K8S_STREAM_MAX_EVENT,
        .max_body = 64 * 1024 * 1024,
        .list_page_size = 500,
        .watch_timeout_s = 0,
        .request_timeout_ms = 30000,
        .backoff_min_ms = 100,
        .backoff_max_ms = 30000,
    };

    *opts = defaults;
    if (user) {
#define K8S_OPT(NAME) if (user->NAME > 0) { opts->NAME = user->NAME; }
        K8S_OPT(max_event);
        K8S_OPT(max_body);
        K8S_OPT(list_page_size);
        K8S_OPT(watch_timeout_s);
        K8S_OPT(request_timeout_ms);
        K8S_OPT(backoff_min_ms);
        K8S_OPT(backoff_max_ms);
#undef K8S_OPT
    }
    opts->backoff_max_ms = MAX(opts->backoff_max_ms, opts->backoff_min_ms);
}

/* Creates a client for the server in 'config' (which is copied), with
 * options 'opts' (NULL for defaults). */
struct k8s_client *
k8s_client_create(const struct k8s_config *config,
                  const struct k8s_client_options *opts)
{
    static bool curl_initialized;
    if (!curl_initialized) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_initialized = true;
    }

    struct k8s_client *client = xzalloc(sizeof *client);
    client->config = k8s_config_clone(config);
    k8s_client_options_init(&client->opts, opts);
    hmap_init(&client->sockets);
    client->timer_deadline = LLONG_MAX;
    ovs_list_init(&client->watches);
    hmap_init(&client->ops);
    ovs_list_init(&client->done_ops);
    client->next_op_id = 1;

    client->multi = curl_multi_init();
    if (!client->multi) {
        ovs_abort(0, "curl_multi_init failed");
    }
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, k8s_socket_cb);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, k8s_timer_cb);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    return client;
}

/* Destroys 'client', its watches and its pending requests, whose callbacks
 * are not called.  Must not be called from a callback. */
void
k8s_client_destroy(struct k8s_client *client)
{
    if (!client) {
        return;
    }
    ovs_assert(!client->in_run);

    struct k8s_watch *watch;
    LIST_FOR_EACH_POP (watch, node, &client->watches) {
        k8s_watch_free(watch);
    }

    struct k8s_op *op;
    HMAP_FOR_EACH_POP (op, node, &client->ops) {
        if (!op->http) {
            ovs_list_remove(&op->done_node);
        }
        k8s_op_free(op);
    }
    hmap_destroy(&client->ops);

    curl_multi_cleanup(client->multi);

    struct k8s_socket *sock;
    HMAP_FOR_EACH_POP (sock, node, &client->sockets) {
        free(sock);
    }
    hmap_destroy(&client->sockets);

    k8s_config_destroy(client->config);
    if (client->last_token) {
        explicit_bzero(client->last_token, strlen(client->last_token));
        free(client->last_token);
    }
    free(client);
}

const char *
k8s_client_server(const struct k8s_client *client)
{
    return client->config->server;
}

/* Watches. */

const char *
k8s_change_to_string(enum k8s_change change)
{
    switch (change) {
    case K8S_CHANGE_UPSERT: return "UPSERT";
    case K8S_CHANGE_REMOVE: return "REMOVE";
    case K8S_CHANGE_SYNCED: return "SYNCED";
    }
    return "<unknown>";
}

static const char *
k8s_watch_state_to_string(enum k8s_watch_state state)
{
    switch (state) {
    case K8S_WATCH_WAITING: return "waiting";
    case K8S_WATCH_LISTING: return "listing";
    case K8S_WATCH_WATCHING: return "watching";
    }
    return "<unknown>";
}

/* Starts keeping the objects under 'path' (a collection, e.g.
 * "/api/v1/pods"), optionally restricted by 'label_selector' and
 * 'field_selector' (NULL or "" for none), and reporting changes to 'cb'.
 * The first request goes out from the next k8s_client_run(). */
struct k8s_watch *
k8s_watch_create(struct k8s_client *client, const char *path,
                 const char *label_selector, const char *field_selector,
                 k8s_watch_cb *cb, void *aux)
{
    struct k8s_watch *watch = xzalloc(sizeof *watch);

    watch->client = client;
    watch->path = xstrdup(path);
    watch->label_selector = (label_selector && label_selector[0]
                             ? xstrdup(label_selector) : NULL);
    watch->field_selector = (field_selector && field_selector[0]
                             ? xstrdup(field_selector) : NULL);
    watch->cb = cb;
    watch->aux = aux;
    watch->state = K8S_WATCH_WAITING;
    watch->state_since = time_msec();
    watch->retry_at = LLONG_MIN;
    watch->backoff_ms = client->opts.backoff_min_ms;
    hmap_init(&watch->cache);
    k8s_stream_init(&watch->stream, client->opts.max_event);
    ovs_list_push_back(&client->watches, &watch->node);
    poll_immediate_wake();
    return watch;
}

static void
k8s_cached_free(struct k8s_cached *c)
{
    free(c->namespace);
    free(c->name);
    free(c->rv);
    free(c);
}

static void
k8s_watch_stop(struct k8s_watch *watch)
{
    k8s_http_destroy(watch->http);
    watch->http = NULL;
    k8s_stream_reset(&watch->stream);
}

static void
k8s_watch_free(struct k8s_watch *watch)
{
    k8s_watch_stop(watch);

    struct k8s_cached *c;
    HMAP_FOR_EACH_POP (c, node, &watch->cache) {
        k8s_cached_free(c);
    }
    hmap_destroy(&watch->cache);
    k8s_stream_destroy(&watch->stream);
    free(watch->path);
    free(watch->label_selector);
    free(watch->field_selector);
    free(watch->rv);
    free(watch->continue_token);
    free(watch->last_error);
    free(watch);
}

/* Stops and destroys 'watch'.  Its callback is not called again. */
void
k8s_watch_destroy(struct k8s_watch *watch)
{
    if (!watch || watch->destroyed) {
        return;
    }
    if (watch->client->in_run) {
        /* k8s_client_run() may be iterating over the watches (or be inside
         * this watch's callback): free it when it is done. */
        k8s_watch_stop(watch);
        watch->cb = NULL;
        watch->destroyed = true;
    } else {
        ovs_list_remove(&watch->node);
        k8s_watch_free(watch);
    }
}

/* Returns true once the watch has completed its first list. */
bool
k8s_watch_is_synced(const struct k8s_watch *watch)
{
    return watch->synced;
}

/* Returns the number of objects the consumer currently knows of. */
size_t
k8s_watch_count(const struct k8s_watch *watch)
{
    return hmap_count(&watch->cache);
}

/* Returns the resourceVersion the watch would resume from, or NULL if it
 * must list first. */
const char *
k8s_watch_resource_version(const struct k8s_watch *watch)
{
    return watch->rv;
}

void
k8s_watch_get_stats(const struct k8s_watch *watch,
                    struct k8s_watch_stats *stats)
{
    *stats = (struct k8s_watch_stats) {
        .n_lists = watch->n_lists,
        .n_relists = watch->n_relists,
        .n_events = watch->n_events,
        .n_errors = watch->n_errors,
    };
}

static struct k8s_cached *
k8s_watch_find(const struct k8s_watch *watch, const char *namespace,
               const char *name)
{
    struct k8s_cached *c;

    HMAP_FOR_EACH_WITH_HASH (c, node, k8s_key_hash(namespace, name),
                             &watch->cache) {
        if (!strcmp(c->name, name)
            && (namespace ? c->namespace && !strcmp(c->namespace, namespace)
                : !c->namespace)) {
            return c;
        }
    }
    return NULL;
}

/* Calls the consumer.  Returns false if it destroyed 'watch'. */
static bool
k8s_watch_notify(struct k8s_watch *watch, enum k8s_change change,
                 const char *namespace, const char *name,
                 const json_t *object)
{
    if (watch->cb && !watch->destroyed) {
        watch->cb(watch->aux, change, namespace, name, object);
    }
    return !watch->destroyed;
}

static void
k8s_watch_set_rv(struct k8s_watch *watch, const char *rv)
{
    if (!watch->rv || strcmp(watch->rv, rv)) {
        free(watch->rv);
        watch->rv = xstrdup(rv);
    }
}

static void
k8s_watch_set_state(struct k8s_watch *watch, enum k8s_watch_state state)
{
    watch->state = state;
    watch->state_since = time_msec();
}

/* Records that 'object' is current and tells the consumer, unless it
 * already has this version.  Returns false if the watch was destroyed.
 *
 * Only the object's key and version are kept, not the object: the
 * consumer keeps what it parsed of it, and a cluster's pods, as JSON
 * trees, would cost every node's agent hundreds of megabytes. */
static bool
k8s_watch_upsert(struct k8s_watch *watch, const char *namespace,
                 const char *name, const char *rv, const json_t *object)
{
    struct k8s_cached *c = k8s_watch_find(watch, namespace, name);

    if (c) {
        c->list_gen = watch->list_gen;
        if (!strcmp(c->rv, rv)) {
            return true;
        }
        free(c->rv);
        c->rv = xstrdup(rv);
    } else {
        c = xmalloc(sizeof *c);
        c->namespace = nullable_xstrdup(namespace);
        c->name = xstrdup(name);
        c->rv = xstrdup(rv);
        c->list_gen = watch->list_gen;
        hmap_insert(&watch->cache, &c->node, k8s_key_hash(namespace, name));
    }
    return k8s_watch_notify(watch, K8S_CHANGE_UPSERT, c->namespace, c->name,
                            object);
}

/* Forgets 'c' and tells the consumer, with 'object' as the object's final
 * state: the server's, or NULL if a relist found it gone.  Returns false if
 * the watch was destroyed. */
static bool
k8s_watch_remove(struct k8s_watch *watch, struct k8s_cached *c,
                 const json_t *object)
{
    hmap_remove(&watch->cache, &c->node);
    bool alive = k8s_watch_notify(watch, K8S_CHANGE_REMOVE, c->namespace,
                                  c->name, object);
    k8s_cached_free(c);
    return alive;
}

/* Schedules the next request of 'watch' 'delay_ms' from now. */
static void
k8s_watch_schedule(struct k8s_watch *watch, long long int delay_ms)
{
    k8s_watch_stop(watch);
    k8s_watch_set_state(watch, K8S_WATCH_WAITING);
    watch->retry_at = time_msec() + delay_ms;
}

static void
k8s_watch_backoff_reset(struct k8s_watch *watch)
{
    watch->backoff_ms = watch->client->opts.backoff_min_ms;
}

/* Records an error and retries after a backoff delay, or after 'min_ms'
 * if that is longer (for a server's Retry-After). */
static void OVS_PRINTF_FORMAT(3, 4)
k8s_watch_fail(struct k8s_watch *watch, long long int min_ms,
               const char *format, ...)
{
    const struct k8s_client_options *opts = &watch->client->opts;
    va_list args;

    free(watch->last_error);
    va_start(args, format);
    watch->last_error = xvasprintf(format, args);
    va_end(args);
    watch->last_error_time = time_msec();
    watch->n_errors++;

    /* A server's Retry-After wins over the backoff's cap: retrying sooner
     * than asked only earns another 429. */
    long long int delay = MIN(k8s_jitter(watch->backoff_ms),
                              opts->backoff_max_ms);
    delay = MAX(delay, min_ms);
    watch->backoff_ms = MIN(watch->backoff_ms * 2, opts->backoff_max_ms);

    VLOG_WARN_RL(&rl, "%s: %s (%s; retrying in %lld ms)", watch->path,
                 watch->last_error, k8s_watch_state_to_string(watch->state),
                 delay);
    k8s_watch_schedule(watch, delay);
}

/* Forgets the resourceVersion and lists again at once. */
static void
k8s_watch_relist(struct k8s_watch *watch, const char *why)
{
    VLOG_INFO("%s: %s; listing again", watch->path, why);
    free(watch->rv);
    watch->rv = NULL;
    free(watch->continue_token);
    watch->continue_token = NULL;
    watch->n_relists++;
    k8s_watch_schedule(watch, 0);
}

static void
k8s_watch_add_selectors(const struct k8s_watch *watch, struct ds *query)
{
    if (watch->label_selector) {
        k8s_query_add(query, "labelSelector", watch->label_selector);
    }
    if (watch->field_selector) {
        k8s_query_add(query, "fieldSelector", watch->field_selector);
    }
}

static void
k8s_watch_start_list(struct k8s_watch *watch)
{
    struct k8s_client *client = watch->client;
    struct ds query = DS_EMPTY_INITIALIZER;
    char *error;

    if (!watch->continue_token) {
        watch->list_gen++;
    }
    ds_put_format(&query, "?limit=%d", client->opts.list_page_size);
    k8s_watch_add_selectors(watch, &query);
    if (watch->continue_token) {
        k8s_query_add(&query, "continue", watch->continue_token);
    }

    k8s_watch_set_state(watch, K8S_WATCH_LISTING);
    watch->http = k8s_http_start(client, K8S_HTTP_LIST, watch, "GET",
                                 watch->path, ds_cstr(&query), NULL, NULL,
                                 MAX(60000, client->opts.request_timeout_ms),
                                 &error);
    ds_destroy(&query);
    watch->n_requests++;
    if (!watch->http) {
        k8s_watch_fail(watch, 0, "list: %s", error);
        free(error);
    }
}

static void
k8s_watch_start_watch(struct k8s_watch *watch)
{
    struct k8s_client *client = watch->client;
    struct ds query = DS_EMPTY_INITIALIZER;
    char *error;

    /* Like client-go, spread the server-side timeouts so that watches do
     * not all restart at once. */
    int timeout_s = (client->opts.watch_timeout_s
                     ? client->opts.watch_timeout_s
                     : 300 + random_range(300));

    ds_put_cstr(&query, "?watch=1&allowWatchBookmarks=true");
    k8s_query_add(&query, "resourceVersion", watch->rv);
    ds_put_format(&query, "&timeoutSeconds=%d", timeout_s);
    k8s_watch_add_selectors(watch, &query);

    k8s_stream_reset(&watch->stream);
    watch->got_event = false;
    k8s_watch_set_state(watch, K8S_WATCH_WATCHING);
    watch->http = k8s_http_start(client, K8S_HTTP_WATCH, watch, "GET",
                                 watch->path, ds_cstr(&query), NULL, NULL,
                                 (timeout_s + 60) * 1000L, &error);
    ds_destroy(&query);
    watch->n_requests++;
    if (!watch->http) {
        k8s_watch_fail(watch, 0, "watch: %s", error);
        free(error);
    }
}

static void
k8s_watch_start(struct k8s_watch *watch)
{
    if (watch->rv) {
        k8s_watch_start_watch(watch);
    } else {
        k8s_watch_start_list(watch);
    }
}

/* Handles one event of the watch stream.  Returns true if the stream goes
 * on, false if it was stopped (or the watch destroyed). */
/* Records that the stream got to 'rv'.  Only progress counts as success:
 * a server that sends the same thing again and again must not make us
 * reconnect without backoff. */
static void
k8s_watch_advance(struct k8s_watch *watch, const char *rv)
{
    if (!watch->rv || strcmp(watch->rv, rv)) {
        watch->got_event = true;
        k8s_watch_backoff_reset(watch);
        k8s_watch_set_rv(watch, rv);
    }
}

static bool
k8s_watch_handle_event(struct k8s_watch *watch, struct k8s_event *ev)
{
    switch (ev->type) {
    case K8S_EVENT_ADDED:
    case K8S_EVENT_MODIFIED:
        watch->n_events++;
        k8s_watch_advance(watch, ev->resource_version);
        return k8s_watch_upsert(watch, ev->namespace, ev->name,
                                ev->resource_version, ev->object);

    case K8S_EVENT_DELETED: {
        watch->n_events++;
        k8s_watch_advance(watch, ev->resource_version);
        struct k8s_cached *c = k8s_watch_find(watch, ev->namespace, ev->name);
        return !c || k8s_watch_remove(watch, c, ev->object);
    }

    case K8S_EVENT_BOOKMARK:
        watch->n_bookmarks++;
        k8s_watch_advance(watch, ev->resource_version);
        return true;

    case K8S_EVENT_ERROR:
        if (ev->code == 410) {
            k8s_watch_relist(watch, ev->error);
        } else {
            k8s_watch_fail(watch, 0, "watch ERROR event (code %d): %s",
                           ev->code, ev->error);
        }
        return false;

    case K8S_EVENT_INVALID:
    default:
        /* We may have lost an event, so resume from the last version that
         * we know we processed. */
        k8s_watch_fail(watch, 0, "bad watch stream: %s", ev->error);
        return false;
    }
}

/* Parses and dispatches the stream bytes buffered for 'watch'.  Returns
 * false if the stream was stopped (or the watch destroyed). */
static bool
k8s_watch_process_stream(struct k8s_watch *watch)
{
    struct k8s_http *http = watch->http;

    if (!http || http->kind != K8S_HTTP_WATCH || !http->is_stream) {
        return true;
    }

    const char *data = http->response.string;
    size_t n = http->response.length;
    size_t ofs = 0;
    while (ofs < n) {
        ofs += k8s_stream_feed(&watch->stream, data + ofs, n - ofs);

        struct k8s_event ev;
        if (k8s_stream_take(&watch->stream, &ev)) {
            bool alive = k8s_watch_handle_event(watch, &ev);
            k8s_event_destroy(&ev);
            if (!alive || watch->destroyed) {
                return false;
            }
        }
    }
    ds_clear(&http->response);
    return true;
}

/* A list page request ended. */
static void
k8s_watch_list_done(struct k8s_watch *watch, CURLcode cc, long status)
{
    struct k8s_http *http = watch->http;
    json_t *body = NULL;

    if (cc == CURLE_OK && http->response.length) {
        body = json_loadb(http->response.string, http->response.length, 0,
                          NULL);
    }
    char *error = k8s_http_error(http, cc, status, body);
    if (error) {
        free(watch->continue_token);
        watch->continue_token = NULL;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(http->easy, CURLINFO_RETRY_AFTER, &retry_after);
        k8s_watch_fail(watch, MIN(retry_after, 3600) * 1000, "list: %s",
                       error);
        free(error);
        json_decref(body);
        return;
    }
    k8s_watch_stop(watch);

    const json_t *items = json_object_get(body, "items");
    const json_t *metadata = json_object_get(body, "metadata");
    const json_t *rv_json = json_object_get(metadata, "resourceVersion");
    const json_t *cont = json_object_get(metadata, "continue");
    if (!body) {
        k8s_watch_fail(watch, 0, "list: response is not valid JSON");
        goto exit;
    } else if (!json_is_array(items)) {
        k8s_watch_fail(watch, 0, "list: response has no 'items' array");
        goto exit;
    } else if (!json_is_string(rv_json) || !json_string_length(rv_json)
               || json_string_length(rv_json) > K8S_RV_MAX) {
        k8s_watch_fail(watch, 0,
                       "list: response has no valid resourceVersion");
        goto exit;
    } else if (cont && !json_is_string(cont) && !json_is_null(cont)) {
        k8s_watch_fail(watch, 0, "list: 'continue' is not a string");
        goto exit;
    }

    /* Validate every item before applying any, so that a bad list changes
     * nothing. */
    json_t *item;
    size_t i;
    json_array_foreach (items, i, item) {
        if (!k8s_object_key(item, NULL, NULL, NULL, &error)) {
            k8s_watch_fail(watch, 0, "list: item %"PRIuSIZE": %s", i, error);
            free(error);
            goto exit;
        }
    }

    /* Built-in kinds' list items lack kind and apiVersion; add them so
     * that consumers see objects as a watch shows them. */
    const char *list_kind = json_string_value(json_object_get(body, "kind"));
    char *kind = NULL;
    if (list_kind && strlen(list_kind) > 4
        && !strcmp(list_kind + strlen(list_kind) - 4, "List")) {
        kind = xmemdup0(list_kind, strlen(list_kind) - 4);
    }
    json_t *api_version = json_object_get(body, "apiVersion");

    json_array_foreach (items, i, item) {
        const char *namespace, *name, *rv;
        k8s_object_key(item, &namespace, &name, &rv, NULL);
        if (kind && !json_object_get(item, "kind")) {
            json_object_set_new(item, "kind",
                                json_stringn(kind, strlen(kind)));
        }
        if (json_is_string(api_version)
            && !json_object_get(item, "apiVersion")) {
            json_object_set(item, "apiVersion", api_version);
        }
        if (!k8s_watch_upsert(watch, namespace, name, rv, item)) {
            free(kind);
            goto exit;
        }
    }
    free(kind);

    if (json_is_string(cont) && json_string_length(cont)) {
        free(watch->continue_token);
        watch->continue_token = xstrdup(json_string_value(cont));
        k8s_watch_start_list(watch);
        goto exit;
    }
    free(watch->continue_token);
    watch->continue_token = NULL;

    /* The list is complete: whatever it did not have is gone. */
    struct k8s_cached *c;
    HMAP_FOR_EACH_SAFE (c, node, &watch->cache) {
        if (c->list_gen != watch->list_gen
            && !k8s_watch_remove(watch, c, NULL)) {
            goto exit;
        }
    }

    k8s_watch_set_rv(watch, json_string_value(rv_json));
    watch->n_lists++;
    watch->synced = true;
    k8s_watch_backoff_reset(watch);
    if (k8s_watch_notify(watch, K8S_CHANGE_SYNCED, NULL, NULL, NULL)) {
        k8s_watch_start_watch(watch);
    }

exit:
    json_decref(body);
}

/* A watch request ended. */
static void
k8s_watch_watch_done(struct k8s_watch *watch, CURLcode cc, long status)
{
    if (!k8s_watch_process_stream(watch)) {
        return;
    }

    struct k8s_http *http = watch->http;
    if (cc == CURLE_OK && status == 200) {
        if (!k8s_stream_is_idle(&watch->stream)) {
            k8s_watch_fail(watch, 0, "watch stream ended inside an event");
        } else if (!watch->got_event
                   && time_msec() - http->started < K8S_WATCH_MIN_MS) {
            k8s_watch_fail(watch, 0, "watch stream ended at once");
        } else {
            VLOG_DBG("%s: watch ended; resuming from %s", watch->path,
                     watch->rv);
            k8s_watch_stop(watch);
            k8s_watch_start_watch(watch);
        }
        return;
    }

    json_t *body = NULL;
    if (cc == CURLE_OK && http->response.length) {
        body = json_loadb(http->response.string, http->response.length, 0,
                          NULL);
    }
    if (cc == CURLE_OK && status == 410) {
        char *error = k8s_http_error(http, cc, status, body);
        k8s_watch_relist(watch, error);
        free(error);
    } else {
        char *error = k8s_http_error(http, cc, status, body);
        curl_off_t retry_after = 0;
        curl_easy_getinfo(http->easy, CURLINFO_RETRY_AFTER, &retry_after);
        k8s_watch_fail(watch, MIN(retry_after, 3600) * 1000, "watch: %s",
                       error ? error : "failed");
        free(error);
    }
    json_decref(body);
}

/* Requests. */

void
k8s_result_destroy(struct k8s_result *result)
{
    if (result) {
        json_decref(result->body);
        free(result->error);
        memset(result, 0, sizeof *result);
    }
}

static void
k8s_op_free(struct k8s_op *op)
{
    if (op) {
        k8s_http_destroy(op->http);
        k8s_result_destroy(&op->result);
        free(op->path);
        free(op);
    }
}

static struct k8s_op *
k8s_op_find(const struct k8s_client *client, uint64_t id)
{
    struct k8s_op *op;

    HMAP_FOR_EACH_WITH_HASH (op, node, hash_uint64(id), &client->ops) {
        if (op->id == id) {
            return op;
        }
    }
    return NULL;
}

static struct k8s_op *
k8s_op_create(struct k8s_client *client, k8s_done_cb *cb, void *aux)
{
    struct k8s_op *op = xzalloc(sizeof *op);

    op->client = client;
    op->id = client->next_op_id++;
    op->cb = cb;
    op->aux = aux;
    op->phase = K8S_OP_PLAIN;
    hmap_insert(&client->ops, &op->node, hash_uint64(op->id));
    return op;
}

/* Completes 'op' from the next k8s_client_run() with an error. */
static void
k8s_op_fail_later(struct k8s_op *op, char *error)
{
    k8s_http_destroy(op->http);
    op->http = NULL;
    k8s_result_destroy(&op->result);
    op->result.error = error;
    ovs_list_push_back(&op->client->done_ops, &op->done_node);
    poll_immediate_wake();
}

/* Sends 'method' 'path' with 'body' for 'op'; on failure completes 'op' with
 * an error from the next k8s_client_run(). */
static void
k8s_op_send(struct k8s_op *op, const char *method, const char *path,
            const char *content_type, char *body)
{
    struct k8s_client *client = op->client;
    char *error;

    op->http = k8s_http_start(client, K8S_HTTP_OP, op, method, path, "",
                              content_type, body,
                              client->opts.request_timeout_ms, &error);
    if (!op->http) {
        k8s_op_fail_later(op, error);
    }
}

/* Removes 'op', calls its callback with 'result' and frees both. */
static void
k8s_op_complete(struct k8s_op *op, struct k8s_result *result)
{
    hmap_remove(&op->client->ops, &op->node);
    if (op->cb) {
        op->cb(op->aux, result);
    }
    k8s_result_destroy(result);
    k8s_op_free(op);
}

static char *
k8s_dump(const json_t *json)
{
    return json ? json_dumps(json, JSON_COMPACT) : NULL;
}

/* Starts 'method' on 'path' with 'body' (NULL for none) of type
 * 'content_type' (NULL means application/json).  Returns the request's id,
 * never 0.  'cb' (may be NULL) is called from k8s_client_run() when it
 * completes. */
uint64_t
k8s_request(struct k8s_client *client, const char *method, const char *path,
            const char *content_type, const json_t *body, k8s_done_cb *cb,
            void *aux)
{
    struct k8s_op *op = k8s_op_create(client, cb, aux);
    char *text = k8s_dump(body);

    if (body && !text) {
        k8s_op_fail_later(op, xstrdup("cannot serialize request body"));
    } else {
        k8s_op_send(op, method, path,
                    content_type ? content_type : "application/json", text);
    }
    return op->id;
}

/* GETs the object at 'path'. */
uint64_t
k8s_get(struct k8s_client *client, const char *path, k8s_done_cb *cb,
        void *aux)
{
    return k8s_request(client, "GET", path, NULL, NULL, cb, aux);
}

/* POSTs 'object' to 'collection_path'.  409 means it already exists. */
uint64_t
k8s_create(struct k8s_client *client, const char *collection_path,
           const json_t *object, k8s_done_cb *cb, void *aux)
{
    return k8s_request(client, "POST", collection_path, NULL, object, cb,
                       aux);
}

/* PUTs 'object' at 'path'.  If it has a metadata.resourceVersion, the
 * server accepts it only if that is still current (else 409). */
uint64_t
k8s_update(struct k8s_client *client, const char *path,
           const json_t *object, k8s_done_cb *cb, void *aux)
{
    return k8s_request(client, "PUT", path, NULL, object, cb, aux);
}

/* Applies JSON merge patch (RFC 7386) 'patch' to the object at 'path'. */
uint64_t
k8s_merge_patch(struct k8s_client *client, const char *path,
                const json_t *patch, k8s_done_cb *cb, void *aux)
{
    return k8s_request(client, "PATCH", path, "application/merge-patch+json",
                       patch, cb, aux);
}

/* Applies JSON patch (RFC 6902) 'operations' (an array) to the object at
 * 'path'. */
uint64_t
k8s_json_patch(struct k8s_client *client, const char *path,
               const json_t *operations, k8s_done_cb *cb, void *aux)
{
    return k8s_request(client, "PATCH", path, "application/json-patch+json",
                       operations, cb, aux);
}

/* Deletes the object at 'path', if 'resource_version' is nonnull only if
 * that is its current version (else 409). */
uint64_t
k8s_delete(struct k8s_client *client, const char *path,
           const char *resource_version, k8s_done_cb *cb, void *aux)
{
    if (!resource_version) {
        return k8s_request(client, "DELETE", path, NULL, NULL, cb, aux);
    }

    json_t *options = json_pack("{s:s, s:s, s:{s:s}}",
                                "kind", "DeleteOptions",
                                "apiVersion", "v1",
                                "preconditions",
                                "resourceVersion", resource_version);
    uint64_t id = k8s_request(client, "DELETE", path, NULL, options, cb, aux);
    json_decref(options);
    return id;
}

static void
k8s_op_rmw_read(struct k8s_op *op)
{
    op->phase = K8S_OP_RMW_GET;
    k8s_op_send(op, "GET", op->path, NULL, NULL);
}

/* Reads the object at 'path', passes it to 'mutate' and writes back what
 * that returns with a PUT conditional on the version read.  On 409 Conflict
 * does it all again, up to 'max_attempts' times in all (0 for
 * K8S_RMW_DEFAULT_ATTEMPTS).  'cb' gets the result of the last request. */
uint64_t
k8s_read_modify_write(struct k8s_client *client, const char *path,
                      int max_attempts, k8s_mutate_cb *mutate,
                      k8s_done_cb *cb, void *aux)
{
    return k8s_rmw_start(client, path, max_attempts, mutate, aux, cb, aux);
}

static uint64_t
k8s_rmw_start(struct k8s_client *client, const char *path,
              int max_attempts, k8s_mutate_cb *mutate, void *mutate_aux,
              k8s_done_cb *cb, void *aux)
{
    struct k8s_op *op = k8s_op_create(client, cb, aux);

    op->path = xstrdup(path);
    op->mutate = mutate;
    op->mutate_aux = mutate_aux;
    op->attempts_left = (max_attempts > 0 ? max_attempts
                         : K8S_RMW_DEFAULT_ATTEMPTS);
    k8s_op_rmw_read(op);
    return op->id;
}

/* The GET of a read-modify-write succeeded with 'current'.  Returns true if
 * the PUT is on its way, false if 'op' is to be completed with 'result'
 * (updated here if the mutation failed). */
static bool
k8s_op_rmw_mutate(struct k8s_op *op, struct k8s_result *result)
{
    const json_t *current = result->body;
    char *error = NULL;

    op->in_mutate = true;
    json_t *new = op->mutate(op->mutate_aux, current, &error);
    op->in_mutate = false;
    if (op->cancelled) {
        json_decref(new);
        free(error);
        return true;
    }
    if (!new) {
        if (error) {
            result->status = 0;
            free(result->error);
            result->error = error;
        }
        return false;
    }

    json_t *metadata = json_object_get(new, "metadata");
    if (!json_is_object(metadata)) {
        metadata = json_pack("{}");
        json_object_set_new(new, "metadata", metadata);
    }
    if (!json_object_get(metadata, "resourceVersion")) {
        json_object_set(metadata, "resourceVersion",
                        json_object_get(json_object_get(current, "metadata"),
                                        "resourceVersion"));
    }

    char *text = k8s_dump(new);
    json_decref(new);
    if (!text) {
        result->status = 0;
        free(result->error);
        result->error = xstrdup("cannot serialize the mutated object");
        return false;
    }
    op->phase = K8S_OP_RMW_PUT;
    k8s_op_send(op, "PUT", op->path, "application/json", text);
    return true;
}

/* The HTTP request of 'op' ended. */
static void
k8s_op_http_done(struct k8s_op *op, CURLcode cc, long status)
{
    struct k8s_http *http = op->http;
    struct k8s_result result = { .status = cc == CURLE_OK ? status : 0 };

    if (cc == CURLE_OK && http->response.length) {
        json_error_t jerror;
        result.body = json_loadb(http->response.string, http->response.length,
                                 0, &jerror);
        if (!result.body && status >= 200 && status <= 299) {
            result.error = xasprintf("HTTP %ld with malformed JSON body: %s",
                                     status, jerror.text);
        }
    }
    if (!result.error) {
        result.error = k8s_http_error(http, cc, status, result.body);
    }
    if (http->too_large) {
        result.status = 0;
    }
    k8s_http_destroy(http);
    op->http = NULL;

    if (op->phase == K8S_OP_RMW_GET && !result.error
        && json_is_object(result.body)) {
        if (k8s_op_rmw_mutate(op, &result)) {
            k8s_result_destroy(&result);
            if (op->cancelled) {
                k8s_op_free(op);
            }
            return;
        }
    } else if (op->phase == K8S_OP_RMW_PUT && result.status == 409
               && --op->attempts_left > 0) {
        VLOG_DBG("%s: conflict, reading again (%d attempts left)",
                 op->path, op->attempts_left);
        k8s_result_destroy(&result);
        k8s_op_rmw_read(op);
        return;
    }
    k8s_op_complete(op, &result);
}

/* Cancels request 'id', if it is still pending: its callback will not be
 * called. */
void
k8s_cancel(struct k8s_client *client, uint64_t id)
{
    struct k8s_op *op = k8s_op_find(client, id);

    if (op) {
        hmap_remove(&client->ops, &op->node);
        if (op->in_mutate) {
            /* k8s_op_rmw_mutate() frees it. */
            op->cancelled = true;
            op->cb = NULL;
            return;
        }
        if (!op->http) {
            ovs_list_remove(&op->done_node);
        }
        k8s_op_free(op);
    }
}

/* Returns true if request 'id' has not completed (nor been cancelled). */
bool
k8s_is_pending(const struct k8s_client *client, uint64_t id)
{
    return k8s_op_find(client, id) != NULL;
}

/* Poll loop integration. */

static void
k8s_client_socket_actions(struct k8s_client *client)
{
    size_t n = hmap_count(&client->sockets);
    int running;

    if (n) {
        struct pollfd *pfds = xmalloc(n * sizeof *pfds);
        struct k8s_socket *sock;
        size_t i = 0;

        /* The OVS poll loop does not say which fds woke it, so ask. */
        HMAP_FOR_EACH (sock, node, &client->sockets) {
            pfds[i].fd = sock->fd;
            pfds[i].events = ((sock->what & CURL_POLL_IN ? POLLIN : 0)
                              | (sock->what & CURL_POLL_OUT ? POLLOUT : 0));
            pfds[i].revents = 0;
            i++;
        }
        if (poll(pfds, n, 0) > 0) {
            for (i = 0; i < n; i++) {
                short int revents = pfds[i].revents;
                int bits = 0;
                if (revents & (POLLIN | POLLHUP | POLLERR)) {
                    bits |= CURL_CSELECT_IN;
                }
                if (revents & POLLOUT) {
                    bits |= CURL_CSELECT_OUT;
                }
                if (revents & (POLLERR | POLLNVAL)) {
                    bits |= CURL_CSELECT_ERR;
                }
                if (bits) {
                    curl_multi_socket_action(client->multi, pfds[i].fd, bits,
                                             &running);
                }
            }
        }
        free(pfds);
    }

    if (time_msec() >= client->timer_deadline) {
        client->timer_deadline = LLONG_MAX;
        curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0,
                                 &running);
    }
}

static void
k8s_client_handle_done(struct k8s_client *client)
{
    CURLMsg *msg;
    int n;

    /* One message at a time: callbacks may remove other handles, which
     * takes their messages off the queue. */
    while ((msg = curl_multi_info_read(client->multi, &n))) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = msg->easy_handle;
        CURLcode cc = msg->data.result;
        struct k8s_http *http = NULL;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &http);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (!http) {
            continue;
        }

        switch (http->kind) {
        case K8S_HTTP_LIST:
            k8s_watch_list_done(http->owner, cc, status);
            break;
        case K8S_HTTP_WATCH:
            k8s_watch_watch_done(http->owner, cc, status);
            break;
        case K8S_HTTP_OP:
            k8s_op_http_done(http->owner, cc, status);
            break;
        }
    }
}

/* Does the client's I/O and calls callbacks.  Call it from the main loop's
 * run phase. */
void
k8s_client_run(struct k8s_client *client)
{
    struct k8s_watch *watch;

    ovs_assert(!client->in_run);
    client->in_run = true;

    k8s_client_socket_actions(client);

    /* Events that arrived, before the ends of the streams they came on. */
    LIST_FOR_EACH (watch, node, &client->watches) {
        if (!watch->destroyed) {
            k8s_watch_process_stream(watch);
        }
    }
    k8s_client_handle_done(client);

    /* Requests that failed before they were sent. */
    while (!ovs_list_is_empty(&client->done_ops)) {
        struct k8s_op *op = CONTAINER_OF(ovs_list_pop_front(
                                             &client->done_ops),
                                         struct k8s_op, done_node);
        struct k8s_result result = op->result;
        memset(&op->result, 0, sizeof op->result);
        k8s_op_complete(op, &result);
    }

    /* Watches whose wait is over. */
    long long int now = time_msec();
    LIST_FOR_EACH (watch, node, &client->watches) {
        if (!watch->destroyed && watch->state == K8S_WATCH_WAITING
            && now >= watch->retry_at) {
            k8s_watch_start(watch);
        }
    }

    struct k8s_watch *next;
    LIST_FOR_EACH_SAFE (watch, next, node, &client->watches) {
        if (watch->destroyed) {
            ovs_list_remove(&watch->node);
            k8s_watch_free(watch);
        }
    }
    client->in_run = false;
}

/* Arranges for poll_block() to wake up when k8s_client_run() has work. */
void
k8s_client_wait(struct k8s_client *client)
{
    const struct k8s_socket *sock;
    const struct k8s_watch *watch;

    HMAP_FOR_EACH (sock, node, &client->sockets) {
        short int events = ((sock->what & CURL_POLL_IN ? POLLIN : 0)
                            | (sock->what & CURL_POLL_OUT ? POLLOUT : 0));
        if (events) {
            poll_fd_wait(sock->fd, events);
        }
    }
    if (client->timer_deadline != LLONG_MAX) {
        poll_timer_wait_until(client->timer_deadline);
    }
    LIST_FOR_EACH (watch, node, &client->watches) {
        if (watch->state == K8S_WATCH_WAITING) {
            poll_timer_wait_until(watch->retry_at);
        }
    }
    if (!ovs_list_is_empty(&client->done_ops)) {
        poll_immediate_wake();
    }
}

/* Status. */

static void
k8s_format_ago(struct ds *s, long long int then)
{
    ds_put_format(s, "%.1f s", k8s_seconds_since(then));
}

/* Appends to 's' a human-readable description of the state of 'client' and
 * its watches, for livebind-ctl. */
void
k8s_client_format_status(const struct k8s_client *client, struct ds *s)
{
    const struct k8s_watch *watch;

    ds_put_format(s, "server: %s\n", client->config->server);
    ds_put_format(s, "requests: %llu sent, %"PRIuSIZE" in flight (not "
                  "counting watches)\n", client->n_requests,
                  hmap_count(&client->ops));
    LIST_FOR_EACH (watch, node, &client->watches) {
        if (watch->destroyed) {
            continue;
        }
        ds_put_format(s, "watch %s", watch->path);
        if (watch->label_selector) {
            ds_put_format(s, " labelSelector=%s", watch->label_selector);
        }
        if (watch->field_selector) {
            ds_put_format(s, " fieldSelector=%s", watch->field_selector);
        }
        ds_put_cstr(s, "\n  state: ");
        if (watch->state == K8S_WATCH_WAITING) {
            long long int left = watch->retry_at - time_msec();
            if (watch->n_errors && left > 0) {
                ds_put_format(s, "backoff, retrying in %.1f s",
                              left / 1000.0);
            } else {
                ds_put_cstr(s, "starting");
            }
        } else {
            ds_put_format(s, "%s for ",
                          k8s_watch_state_to_string(watch->state));
            k8s_format_ago(s, watch->state_since);
        }
        ds_put_format(s, "%s\n", watch->synced ? ", synced" : ", not synced");
        ds_put_format(s, "  resource version: %s\n",
                      watch->rv ? watch->rv : "(none, must list)");
        ds_put_format(s, "  objects: %"PRIuSIZE"\n",
                      hmap_count(&watch->cache));
        ds_put_format(s, "  requests: %llu, lists: %llu, relists: %llu, "
                      "events: %llu, bookmarks: %llu, errors: %llu\n",
                      watch->n_requests, watch->n_lists, watch->n_relists,
                      watch->n_events, watch->n_bookmarks, watch->n_errors);
        if (watch->last_error) {
            ds_put_cstr(s, "  last error (");
            k8s_format_ago(s, watch->last_error_time);
            ds_put_format(s, " ago): %s\n", watch->last_error);
        }
    }
}

/* Blocking conveniences. */

/* Runs a poll loop until request 'id' completes or 'timeout_ms' (negative
 * for no limit) passes.  Returns true if it completed.  Must not be called
 * from a callback. */
bool
k8s_client_wait_for(struct k8s_client *client, uint64_t id,
                    long long int timeout_ms)
{
    long long int deadline = (timeout_ms < 0 ? LLONG_MAX
                              : time_msec() + timeout_ms);

    if (client->in_run) {
        VLOG_ERR("k8s_client_wait_for() called from a callback");
        return false;
    }
    for (;;) {
        k8s_client_run(client);
        if (!k8s_is_pending(client, id)) {
            return true;
        } else if (time_msec() >= deadline) {
            return false;
        }
        k8s_client_wait(client);
        if (deadline != LLONG_MAX) {
            poll_timer_wait_until(deadline);
        }
        poll_block();
    }
}

static void
k8s_capture_cb(void *result_, const struct k8s_result *result)
{
    struct k8s_result *out = result_;

    out->status = result->status;
    out->body = json_incref(result->body);
    out->error = nullable_xstrdup(result->error);
}

static int
k8s_wait_result(struct k8s_client *client, uint64_t id,
                long long int timeout_ms, struct k8s_result *result)
{
    if (!k8s_client_wait_for(client, id, timeout_ms)) {
        k8s_cancel(client, id);
        k8s_result_destroy(result);
        result->error = xstrdup("timed out");
        return ETIMEDOUT;
    }
    return 0;
}

/* Sends a request like k8s_request() and waits for it, at most
 * 'timeout_ms'.  Returns 0 if it completed ('result' says how: check
 * 'result->error'), ETIMEDOUT otherwise.  The caller must
 * k8s_result_destroy() 'result' in any case. */
int
k8s_request_sync(struct k8s_client *client, const char *method,
                 const char *path, const char *content_type,
                 const json_t *body, long long int timeout_ms,
                 struct k8s_result *result)
{
    memset(result, 0, sizeof *result);
    uint64_t id = k8s_request(client, method, path, content_type, body,
                              k8s_capture_cb, result);
    return k8s_wait_result(client, id, timeout_ms, result);
}

/* Like k8s_read_modify_write(), but waits for the result, like
 * k8s_request_sync(). */
int
k8s_read_modify_write_sync(struct k8s_client *client, const char *path,
                           int max_attempts, k8s_mutate_cb *mutate,
                           void *aux, long long int timeout_ms,
                           struct k8s_result *result)
{
    memset(result, 0, sizeof *result);
    uint64_t id = k8s_rmw_start(client, path, max_attempts, mutate, aux,
                                k8s_capture_cb, result);
    return k8s_wait_result(client, id, timeout_ms, result);
}
