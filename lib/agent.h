/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_H
#define LIVEBIND_AGENT_H 1

/* The node agent: the model (from a file, or derived from Kubernetes
 * objects) -> pipeline -> OpenFlow engine, and the OVS database.  Kept in
 * the library, so that ovn-agent/main.c holds only option parsing and
 * wiring, and tests can drive an agent directly.  agent.c is its core;
 * its parts and how they talk are described there. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"

struct ds;
struct lb_model;
struct simap;

struct lb_agent_config {
    const char *chassis;          /* This node's name. */
    const char *db_remote;        /* OVS database. */
    const char *bridge;           /* Integration bridge. */
    const char *datapath_type;    /* "system" or "netdev". */
    const char *bridge_mappings;  /* "physnet:bridge,...", NULL: none. */
    const char *gateway_port;     /* Distributed gateway's port; NULL:
                                   * none (pipeline-gateway.c). */
    const char *openflow_target;  /* NULL: the bridge's mgmt socket. */
    const char *model_file;       /* Standalone mode: model from a file. */

    /* Kubernetes mode (without 'model_file'). */
    const char *kubeconfig;       /* NULL: in-cluster configuration. */
    const char *k8s_server;       /* Overrides the server URL. */
    bool no_mirror;               /* Only re-point traffic on activation. */
    bool no_ct_handover;          /* No conntrack handover (policy). */
    bool no_port_gate;            /* No tc gate on blocked copies. */
    bool no_self_activation;      /* Blocked copies wait for the agent to
                                   * unblock them (no self-opening gate,
                                   * no learned activation). */
    bool no_svc_ct_handover;      /* No Service handover (agent-svc-ct.c). */
    const char *cni_socket;       /* Where the CNI plugin reaches us. */

    const char *metrics_address;  /* "IP:PORT" for Prometheus; NULL: off. */
    bool check_incremental;       /* Check each incremental update against
                                   * a full one (incremental-check.h). */
};

struct lb_agent *lb_agent_create(const struct lb_agent_config *,
                                 char **errorp);
void lb_agent_destroy(struct lb_agent *);

void lb_agent_run(struct lb_agent *);
void lb_agent_wait(struct lb_agent *);

char *lb_agent_reload_model(struct lb_agent *) OVS_WARN_UNUSED_RESULT;
void lb_agent_set_model(struct lb_agent *, struct lb_model *);
void lb_agent_register_commands(struct lb_agent *);

void lb_agent_format_status(const struct lb_agent *, struct ds *);
void lb_agent_get_memory_usage(const struct lb_agent *, struct simap *);

#endif /* lib/agent.h */
