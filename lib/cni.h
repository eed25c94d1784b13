/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_CNI_H
#define LIVEBIND_CNI_H 1

/* CNI protocol logic shared by the `livebind` plugin and the agent: the
 * runtime's environment and network configuration, the request the plugin
 * forwards to the agent, the agent's response, CNI results and CNI errors.
 * Pure: no I/O, so that it is tested directly.  docs/cni.md describes the
 * protocol.
 *
 * Supported CNI versions: 0.4.0, 1.0.0 and 1.1.0 (the default). */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/compiler.h"
#include "smap.h"
#include "svec.h"

#define CNI_DEFAULT_SOCKET "/run/livebind/cni.sock"
#define CNI_DEFAULT_TIMEOUT_MS 30000
#define CNI_MAX_TIMEOUT_MS 600000

/* Largest request or response on the agent socket, and largest network
 * configuration accepted on stdin. */
#define CNI_MAX_MESSAGE (1024 * 1024)

enum cni_command {
    CNI_CMD_ADD,
    CNI_CMD_DEL,
    CNI_CMD_CHECK,
    CNI_CMD_VERSION,
    CNI_CMD_STATUS,
    CNI_CMD_GC,
};

const char *cni_command_to_string(enum cni_command);
bool cni_command_from_string(const char *, enum cni_command *);

enum cni_version {
    CNI_V040,                   /* "0.4.0": ips[] carry "version". */
    CNI_V100,                   /* "1.0.0". */
    CNI_V110,                   /* "1.1.0": STATUS, GC, interface "mtu". */
};
#define CNI_VERSION_DEFAULT CNI_V110

const char *cni_version_to_string(enum cni_version);
bool cni_version_from_string(const char *, enum cni_version *);

/* CNI error codes: 1..99 are the spec's, 100 and up livebind's own. */
enum cni_error_code {
    CNI_ERR_INCOMPATIBLE_VERSION = 1,
    CNI_ERR_UNSUPPORTED_FIELD = 2,
    CNI_ERR_UNKNOWN_CONTAINER = 3,
    CNI_ERR_INVALID_ENV = 4,
    CNI_ERR_IO = 5,
    CNI_ERR_DECODE = 6,
    CNI_ERR_INVALID_CONFIG = 7,
    CNI_ERR_TRY_AGAIN = 11,
    CNI_ERR_NOT_AVAILABLE = 50,
    CNI_ERR_LIMITED_CONNECTIVITY = 51,

    CNI_ERR_IP_EXHAUSTED = 100,     /* No free address in the switch. */
    CNI_ERR_PORT_CONFLICT = 101,    /* Port owned by another live pod. */
    CNI_ERR_PLUMBING = 102,         /* veth/OVS/flows failed (undone). */
    CNI_ERR_KUBE_API = 103,         /* Kubernetes API request failed. */
    CNI_ERR_AGENT = 104,            /* Agent internal or protocol error. */
    CNI_ERR_PERMISSION = 105,       /* Peer not allowed on the socket. */
};

const char *cni_error_code_name(int code);

/* An error for the runtime: 'msg' says what is wrong (it names the variable
 * or field at fault), 'details' (may be NULL) adds context. */
struct cni_error {
    int code;
    char *msg;
    char *details;
};

struct cni_error *cni_error_create(int code, const char *msg,
                                   const char *details);
struct cni_error *cni_error_createf(int code, const char *msg_fmt, ...)
    OVS_PRINTF_FORMAT(2, 3);
void cni_error_destroy(struct cni_error *);

/* CNI error JSON for stdout: {"cniVersion","code","msg"[,"details"]}. */
char *cni_error_to_json(const struct cni_error *, enum cni_version);

/* VERSION output. */
char *cni_version_info_json(void);

/* ---------------------------------------------------------------- results */

struct cni_interface {
    char *name;
    char *mac;                  /* NULL if not applicable. */
    char *sandbox;              /* Netns path, NULL for host interfaces. */
    unsigned int mtu;           /* 0 if unknown; shown from 1.1.0 on. */
};

struct cni_ip {
    char *address;              /* CIDR: "10.244.0.5/16". */
    char *gateway;              /* NULL if none. */
    int interface;              /* Index in 'interfaces', -1 if none. */
};

struct cni_route {
    char *dst;                  /* CIDR. */
    char *gw;                   /* NULL if none. */
};

struct cni_dns {
    struct svec nameservers;
    char *domain;               /* NULL if none. */
    struct svec search;
    struct svec options;
};

/* A CNI result, independent of the version it is formatted for. */
struct cni_result {
    struct cni_interface *interfaces;
    size_t n_interfaces;
    struct cni_ip *ips;
    size_t n_ips;
    struct cni_route *routes;
    size_t n_routes;
    struct cni_dns dns;         /* Set members directly (xstrdup, svec). */
};

struct cni_result *cni_result_create(void);
struct cni_result *cni_result_clone(const struct cni_result *);
void cni_result_destroy(struct cni_result *);

size_t cni_result_add_interface(struct cni_result *, const char *name,
                                const char *mac, const char *sandbox,
                                unsigned int mtu);
void cni_result_add_ip(struct cni_result *, const char *address,
                       const char *gateway, int interface);
void cni_result_add_route(struct cni_result *, const char *dst,
                          const char *gw);
void cni_result_append(struct cni_result *, const struct cni_result *);

struct cni_error *cni_result_validate(const struct cni_result *)
    OVS_WARN_UNUSED_RESULT;
char *cni_result_to_json(const struct cni_result *, enum cni_version);
struct cni_error *cni_result_from_json(const char *, size_t len,
                                       struct cni_result **)
    OVS_WARN_UNUSED_RESULT;

/* ----------------------------------------------------------- configuration */

enum cni_log_level {
    CNI_LOG_OFF,
    CNI_LOG_ERROR,
    CNI_LOG_WARN,
    CNI_LOG_INFO,
    CNI_LOG_DEBUG,
};

const char *cni_log_level_to_string(enum cni_log_level);

/* One entry of GC's "cni.dev/valid-attachments". */
struct cni_attachment {
    char *container_id;
    char *ifname;
};

/* The network configuration the runtime passed on stdin. */
struct cni_config {
    enum cni_version version;
    char *name;                 /* Network name. */
    char *agent_socket;         /* "agentSocket". */
    int timeout_ms;             /* "timeoutMs". */
    enum cni_log_level log_level;   /* "logLevel". */
    char *logical_switch;       /* "logicalSwitch": a secondary network's
                                 * switch (NULL: the network's name). */
    struct cni_result *prev_result; /* "prevResult", NULL if absent. */
    struct cni_attachment *valid_attachments;   /* GC only. */
    size_t n_valid_attachments;
    char *json;                 /* The whole configuration, compact. */
};

/* ---------------------------------------------------------------- requests */

/* The version of the request the plugin sends the agent.  2: the plugin
 * opens CNI_NETNS itself and passes the descriptor beside the request (see
 * netns-fd.h); requests of version 1 had none. */
#define CNI_AGENT_PROTOCOL 2

/* One CNI invocation: what the plugin forwards to the agent. */
struct cni_request {
    enum cni_command command;
    int protocol;               /* CNI_AGENT_PROTOCOL, or the request's. */
    char *container_id;         /* CNI_CONTAINERID, NULL if not given. */
    char *netns;                /* CNI_NETNS, NULL if not given.  The agent
                                 * only names it in messages. */
    bool netns_gone;            /* The plugin found nothing at 'netns'. */
    char *ifname;               /* CNI_IFNAME, NULL if not given. */
    char *path;                 /* CNI_PATH, NULL if not given. */
    struct smap args;           /* CNI_ARGS. */

    /* From 'args', NULL if absent.  ADD and CHECK require the first two. */
    const char *pod_namespace;      /* K8S_POD_NAMESPACE. */
    const char *pod_name;           /* K8S_POD_NAME. */
    const char *pod_uid;            /* K8S_POD_UID. */
    const char *infra_container_id; /* K8S_POD_INFRA_CONTAINER_ID. */

    struct cni_config config;
};

void cni_request_init(struct cni_request *);
void cni_request_destroy(struct cni_request *);

struct cni_error *cni_request_from_env(const struct smap *env,
                                       const char *config, size_t len,
                                       struct cni_request *)
    OVS_WARN_UNUSED_RESULT;
char *cni_request_to_json(const struct cni_request *);
struct cni_error *cni_request_from_json(const char *, size_t len,
                                        struct cni_request *)
    OVS_WARN_UNUSED_RESULT;
struct cni_error *cni_request_check_netns_fd(const struct cni_request *,
                                             bool has_fd, bool *keep_fdp)
    OVS_WARN_UNUSED_RESULT;

/* --------------------------------------------------------------- responses */

char *cni_response_result_json(const struct cni_result *, enum cni_version);
char *cni_response_error_json(const struct cni_error *);
struct cni_error *cni_response_parse(const char *, size_t len,
                                     struct cni_result **)
    OVS_WARN_UNUSED_RESULT;

#endif /* lib/cni.h */
