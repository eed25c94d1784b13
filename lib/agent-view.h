/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_VIEW_H
#define LIVEBIND_AGENT_VIEW_H 1

/* What the agent core (agent.c) shows its parts: the state they read.
 *
 * The core owns the loop and the state (the model, the desired flows, the
 * switch's database and OpenFlow connection, the Kubernetes client) and is
 * the only one that calls the parts: agent-k8s.c (the Kubernetes objects),
 * agent-cni.c (CNI requests), agent-migration.c (activation, migration
 * logs), agent-ra.c (router advertisements) and agent-writes.c (writes to
 * the Kubernetes API).  It gives the CNI, migration and RA parts a pointer
 * to its view at creation and keeps the view current; the parts read it,
 * never keep what it points to, and hand anything they want done back to
 * the core: a result they return, or a write to the API on the list in
 * 'writes'. */

#include <stdbool.h>
#include <stdint.h>

struct lb_cluster;
struct lb_model;
struct ofctrl;
struct ovs_bridge;
struct ovs_list;

struct lb_agent_view {
    const char *chassis;                /* This node's name. */
    const struct lb_model *model;       /* The derived model. */
    const uint64_t *flows_seqno;        /* Of the desired flows. */
    struct ovs_bridge *bridge;          /* Interfaces on br-int. */
    struct ofctrl *ofctrl;              /* Installed seqno, packet-outs. */

    /* Kubernetes mode. */
    const struct lb_cluster *cluster;   /* The objects; NULL with --model. */
    bool synced;                        /* Every collection listed. */
    bool ready;                         /* Also OVSDB read, br-int found. */
    struct ovs_list *writes;            /* "struct lb_write"s to send. */
};

#endif /* lib/agent-view.h */
