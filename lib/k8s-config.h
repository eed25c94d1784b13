/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_K8S_CONFIG_H
#define LIVEBIND_K8S_CONFIG_H 1

/* How to reach the Kubernetes API server: its URL, the TLS trust and client
 * credentials, and the bearer token.  Built from the in-cluster service
 * account, from a kubeconfig file (YAML or JSON), or from a plain URL (e.g.
 * "http://127.0.0.1:8080" for the test double).
 *
 * PEM data embedded in a kubeconfig (*-data fields) is kept in memory and
 * handed to libcurl as blobs, so no secrets are written to disk. */

#include <stdbool.h>
#include <stddef.h>

/* Binary data, e.g. a decoded PEM certificate. */
struct k8s_blob {
    char *data;                 /* NULL if unset. */
    size_t size;
};

struct k8s_config {
    char *server;               /* "https://host:port" (no trailing '/'). */

    /* Server trust. */
    char *ca_file;              /* PEM bundle path, or NULL. */
    struct k8s_blob ca_data;    /* PEM bundle, or unset. */
    bool insecure;              /* Skip server certificate checks. */

    /* Client credentials. */
    char *token;                /* Static bearer token, or NULL. */
    char *token_file;           /* Re-read for every request, or NULL. */
    char *cert_file;            /* Client certificate (PEM), or NULL. */
    struct k8s_blob cert_data;
    char *key_file;             /* Client key (PEM), or NULL. */
    struct k8s_blob key_data;

    char *namespace;            /* Default namespace, or NULL. */
};

/* Default location of the service account's files in a pod. */
#define K8S_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bounds on files we read, so that a wrong path cannot exhaust memory. */
#define K8S_CONFIG_FILE_MAX (16 * 1024 * 1024)
#define K8S_TOKEN_FILE_MAX (64 * 1024)

struct k8s_config *k8s_config_create(const char *server);
struct k8s_config *k8s_config_clone(const struct k8s_config *);
void k8s_config_destroy(struct k8s_config *);

int k8s_config_from_url(const char *url, struct k8s_config **,
                        char **errorp);
int k8s_config_in_cluster(const char *host, const char *port,
                          const char *sa_dir, struct k8s_config **,
                          char **errorp);
int k8s_config_parse_kubeconfig(const char *text, size_t size,
                                const char *base_dir, const char *context,
                                struct k8s_config **, char **errorp);
int k8s_config_read_kubeconfig(const char *file_name, const char *context,
                               struct k8s_config **, char **errorp);
int k8s_config_load(const char *kubeconfig, const char *server,
                    struct k8s_config **, char **errorp);

int k8s_config_read_token(const struct k8s_config *, char **tokenp,
                          char **errorp);
int k8s_read_file(const char *file_name, size_t max, struct k8s_blob *,
                  char **errorp);
bool k8s_base64_decode(const char *in, size_t len, struct k8s_blob *);

#endif /* k8s-config.h */
