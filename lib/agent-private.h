/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_PRIVATE_H
#define LIVEBIND_AGENT_PRIVATE_H 1

/* The agent's state, shared by agent.c (model -> flows), agent-k8s.c
 * (Kubernetes -> model), agent-cni.c (CNI requests) and agent-migration.c
 * (activation). */

#include "derive.h"
#include "flow-table.h"
#include "migration.h"
#include "model.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "sset.h"

struct cni_server;
struct ds;
struct lb_agent_cni;
struct k8s_client;
struct k8s_watch;
struct lb_pipeline_ctx;
struct ofctrl;
struct ovs_bridge;

struct lb_agent_k8s_watch {
    struct lb_agent *agent;
    enum lb_kind kind;
    struct k8s_watch *watch;
    bool synced;                /* Listed at least once. */
};

struct lb_agent {
    char *chassis;
    char *model_file;

    struct lb_model model;
    bool model_changed;         /* Recompute at the next run. */
    uint64_t bridge_seqno;      /* ovs_bridge_seqno() last computed at. */

    struct lb_flow_table flows; /* Desired. */
    uint64_t flows_seqno;       /* Bumped at each change of 'flows'. */
    long long int last_compute_usec;
    long long int last_update_usec;

    struct ovs_bridge *bridge;
    struct ofctrl *ofctrl;

    /* Kubernetes mode (no model file). */
    struct k8s_client *k8s;
    struct lb_agent_k8s_watch watches[LB_N_KINDS];
    struct lb_cluster cluster;
    bool cluster_changed;       /* Derive the model again. */
    bool full_derive;           /* All of it, not just 'dirty_ports'. */
    struct sset dirty_ports;    /* Ports that changed objects bear on. */
    long long int last_derive_usec;
    struct lb_migration_table migrations;

    /* Ports this agent unblocked on a VM's announcement, before the API
     * server says so: port name -> migration UID (or ""). */
    struct shash local_activations;

    /* CNI requests (agent-cni.c). */
    struct lb_agent_cni *cni;

    /* Activation (agent-migration.c). */
    struct ovs_list activations;    /* "struct lb_activation", newest first. */
    size_t n_activations;
    struct ovs_list announcements;  /* Packet-outs to send after the flows. */
    struct shash logged;            /* Port -> transitions already logged. */
    struct sset owner_writes;       /* Ports with an owner write pending. */
    struct sset not_opted_in;       /* "port uid" already logged. */
};

void lb_agent_pipeline_ctx(const struct lb_agent *, struct lb_pipeline_ctx *);

/* agent-k8s.c */
char *lb_agent_k8s_start(struct lb_agent *, const struct lb_agent_config *)
    OVS_WARN_UNUSED_RESULT;
void lb_agent_k8s_stop(struct lb_agent *);
void lb_agent_k8s_run(struct lb_agent *);
void lb_agent_k8s_wait(struct lb_agent *);
bool lb_agent_k8s_synced(const struct lb_agent *);
void lb_agent_k8s_register_commands(struct lb_agent *);
void lb_agent_format_owners(const struct lb_agent *, struct ds *);

/* agent-cni.c */
char *lb_agent_cni_start(struct lb_agent *, const char *socket_path)
    OVS_WARN_UNUSED_RESULT;
void lb_agent_cni_stop(struct lb_agent *);
void lb_agent_cni_run(struct lb_agent *, bool ready);
void lb_agent_cni_wait(struct lb_agent *);
size_t lb_agent_cni_n_pending(const struct lb_agent *);
void lb_agent_record_owner(struct lb_agent *, const char *ns,
                           const char *cr_name, const char *pod,
                           const char *pod_uid, const char *node,
                           const char *migration_uid);

/* agent-migration.c */
struct ofputil_packet_in;
void lb_agent_migration_init(struct lb_agent *);
void lb_agent_migration_destroy(struct lb_agent *);
void lb_agent_packet_in(struct lb_agent *, const struct ofputil_packet_in *);
void lb_agent_migration_run(struct lb_agent *);
void lb_agent_migration_derived(struct lb_agent *, const struct sset *);
void lb_agent_migration_format(const struct lb_agent *, struct ds *);

#endif /* lib/agent-private.h */
