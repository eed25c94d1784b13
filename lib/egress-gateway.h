/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_EGRESS_GATEWAY_H
#define LIVEBIND_EGRESS_GATEWAY_H 1

/* An egress gateway that does not move with the VM (docs/pipeline.md,
 * "Egress: routed, or through an egress gateway"): a LogicalSwitch's
 * spec.egressGateway.nodes, an ordered preference list of nodes, makes the
 * switch's traffic to the world leave through the first of them that
 * exists and is Ready (the active one), which SNATs it to its own address;
 * every other node policy-routes the switch's sources to that node.
 *
 * This file is the pure part: the field's parser and validation, and the
 * derivation of what one node must hold from the cluster's objects
 * (LogicalSwitch and Node) alone, with no memory of what it held before,
 * so that every agent, restarted or not, computes the same answer.
 * egress-gateway-host.c writes it (rtnetlink, nftables). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <jansson.h>
#include "openvswitch/types.h"

struct ds;
struct lb_cluster;
struct lb_model;

/* At most this many nodes in spec.egressGateway.nodes. */
#define LB_EGRESS_NODES_MAX 16

/* spec.egressGateway as written.  A bad one never makes the switch itself
 * bad (its ports keep their network): it is kept with 'error' set, and the
 * switch's egress is then neither routed nor through a gateway but
 * "invalid" (no rules for it anywhere; see lb_egress_derive()). */
struct lb_egress_spec {
    bool present;               /* The field is there. */
    char **nodes;               /* Preference order. */
    size_t n_nodes;
    char *error;                /* Why the field is bad, or NULL. */
};

void lb_egress_spec_parse(const json_t *egress_gateway,
                          struct lb_egress_spec *);
void lb_egress_spec_destroy(struct lb_egress_spec *);
bool lb_egress_spec_equal(const struct lb_egress_spec *,
                          const struct lb_egress_spec *);

enum lb_egress_mode {
    LB_EGRESS_ROUTED,           /* No field: no NAT, nothing to write. */
    LB_EGRESS_GATEWAY,          /* Through the active egress node. */
    LB_EGRESS_INVALID,          /* Bad field: nothing written, 'error'. */
};

const char *lb_egress_mode_to_string(enum lb_egress_mode);

/* What one node must hold for one switch. */
struct lb_egress_switch {
    char *name;
    uint32_t key;               /* The switch's tunnel key. */
    enum lb_egress_mode mode;
    char *error;                /* LB_EGRESS_INVALID: why. */

    /* The sources: the switch's IPv4 subnet and IPv6 prefix. */
    ovs_be32 subnet;
    int prefix_len;             /* 0: no IPv4 subnet. */
    bool has_prefix6;
    struct in6_addr prefix6;    /* A /64. */

    /* LB_EGRESS_GATEWAY. */
    char **nodes;               /* The preference list, as written. */
    size_t n_nodes;
    char *active;               /* First listed node that is Ready, or NULL
                                 * if none is. */
    bool snat;                  /* This node is the active one: SNAT.
                                 * Otherwise route to the active one. */
    ovs_be32 via4;              /* The active node's IPv4 InternalIP; 0:
                                 * none (the switch's IPv4 traffic to the
                                 * world is then unreachable). */
    bool has_via6;              /* Its IPv6 InternalIP, likewise. */
    struct in6_addr via6;
};

/* Everything one node must hold, by switch name. */
struct lb_egress_plan {
    struct lb_egress_switch *switches;  /* Sorted by name. */
    size_t n;
};

void lb_egress_derive(const struct lb_cluster *, const struct lb_model *,
                      const char *chassis, struct lb_egress_plan *);
void lb_egress_plan_destroy(struct lb_egress_plan *);
bool lb_egress_plan_equal(const struct lb_egress_plan *,
                          const struct lb_egress_plan *);
void lb_egress_plan_format(const struct lb_egress_plan *, struct ds *);

/* The routing table of a switch's egress on a non-egress node (its
 * default route goes to the active egress node), and the priorities of
 * the two rules for its sources: the main table without its default route
 * first, then that table.  The rules and routes carry protocol
 * LB_EGRESS_RTPROT, which is how the agent finds its own. */
#define LB_EGRESS_TABLE_BASE 10800
#define LB_EGRESS_RULE_PREF_MAIN 10800
#define LB_EGRESS_RULE_PREF_TABLE 10801
#define LB_EGRESS_RTPROT 108

static inline uint32_t
lb_egress_table(uint32_t switch_key)
{
    return LB_EGRESS_TABLE_BASE + switch_key;
}

/* The nftables table all of livebind's NAT rules live in; nothing else is
 * ever touched. */
#define LB_EGRESS_NFT_FAMILY "inet"
#define LB_EGRESS_NFT_TABLE "livebind"

#endif /* lib/egress-gateway.h */
