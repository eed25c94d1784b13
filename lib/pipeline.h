/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_PIPELINE_H
#define LIVEBIND_PIPELINE_H 1

/* Computes the desired OpenFlow flows of one chassis from the logical model:
 * model in, flows out, no I/O.  docs/pipeline.md describes the result. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/types.h"
#include "sset.h"

struct ds;
struct lb_flow_table;
struct lb_model;
struct lb_policy_engine;
struct lb_port;
struct simap;

/* What the pipeline needs to know about the chassis it computes for. */
struct lb_pipeline_ctx {
    const struct lb_model *model;
    const char *chassis;                /* This chassis's name. */
    const struct simap *iface_ofports;  /* iface-id -> ofport, local. */
    const struct simap *tunnel_ofports; /* Remote chassis -> tunnel ofport. */
    const struct simap *physnet_ofports; /* Physical network -> the ofport
                                          * of its patch port on br-int;
                                          * NULL: none. */
    const struct lb_policy_engine *policy; /* NetworkPolicy (policy.h);
                                            * NULL: none. */
    bool ct_handover;                   /* Hand a migrating policed VM's
                                         * conntrack over to the target. */
    const struct sset *gated_ports;     /* Ports whose blocked copy here is
                                         * behind its closed gate
                                         * (port-gate.h); NULL: none. */
    bool self_activation;               /* The gates open themselves on the
                                         * VM's announcement, and the
                                         * copies' flows learn() their own
                                         * unblocking. */
};

/* Whether this chassis holds the blocked copy of 'port' and would gate it
 * (port-gate.h): an unpoliced port's copy with its interface here.  (A
 * policed copy's delivery tracks the mirrored traffic for the conntrack
 * handover, policy-handover.c, and is left as it is.) */
struct lb_port;
bool lb_pipeline_port_wants_gate(const struct lb_pipeline_ctx *,
                                 const struct lb_port *);

/* Whether 'port' is active on this chassis: bound here (main or additional
 * chassis) and not a blocked copy. */
bool lb_pipeline_port_active_here(const struct lb_pipeline_ctx *,
                                  const struct lb_port *);

/* The meter that rate-limits a local port's packet-ins in the switch: a
 * blocked port's announcements, an unblocked one's router solicitations.
 * One a port (its id is the port's key) so that one port's flood cannot use
 * up another's allowance.  See pipeline.c for the figures. */
#define LB_ANNOUNCE_METER_SPEC \
    "pktps,burst,stats,bands=type=drop,rate=20,burst_size=10"

void lb_pipeline_compute(const struct lb_pipeline_ctx *,
                         struct lb_flow_table *);

/* Incremental update after one port changed.  'old_key' and 'old_switch'
 * describe the port as it was before the change (0 and NULL if it is new);
 * 'port_name' names it now, and need not be in the model any more if it was
 * deleted.  Gives the same flows as lb_pipeline_compute() would. */
void lb_pipeline_update_port(const struct lb_pipeline_ctx *,
                             const char *port_name, uint32_t old_key,
                             const char *old_switch,
                             struct lb_flow_table *);

/* The actions that turn an ARP request into the reply of 'mac' for 'ip'
 * and send it back out of its input port (also the gateway's,
 * pipeline-gateway.c). */
void lb_pipeline_put_arp_reply(struct ds *actions, struct eth_addr mac,
                               ovs_be32 ip);

#endif /* lib/pipeline.h */
