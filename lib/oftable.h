/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_OFTABLE_H
#define LIVEBIND_OFTABLE_H 1

/* The OpenFlow tables of livebind's pipeline on br-int, in the order a packet
 * visits them.  docs/pipeline.md describes each one with real dump lines.
 * Gaps leave room for tables added later without renumbering. */
#define OFTABLE_CLASSIFY       0  /* in_port -> logical switch and port. */
#define OFTABLE_PORT_SECURITY 10  /* Source MAC/IP must be the port's own. */
/* NetworkPolicy (lib/policy.c, docs/policy.md): egress after port security
 * on the sending chassis, ingress where a local port is delivered to. */
#define OFTABLE_POLICY_EGRESS_CT      11  /* Into the port's ct zone. */
#define OFTABLE_POLICY_EGRESS         12  /* Egress rules. */
#define OFTABLE_POLICY_EGRESS_COMMIT  13  /* Commit what they admit. */
#define OFTABLE_ACTIVATED     15  /* A self-activated blocked copy: learned
                                   * in the switch from its VM's first
                                   * announcement (pipeline.c). */
#define OFTABLE_POLICY_SYNC_TRACK     16  /* Conntrack handover: a blocked
                                           * copy's mirrored traffic. */
#define OFTABLE_POLICY_EGRESS_ADMIT   17  /* Conntrack handover: the idle
                                           * connections' tuples admitted
                                           * (learned, policy-admit.c). */
#define OFTABLE_POLICY_ADMIT_LEARN    18  /* ...learned from the source's
                                           * tuples, here. */
#define OFTABLE_ARP_RESPONDER 20  /* Answer ARP for known IPs locally. */
#define OFTABLE_ND_RESPONDER  25  /* Answer IPv6 NS locally, RS to agent. */
#define OFTABLE_ND_REPLY      26  /* Finish an NS turned into an NA. */
#define OFTABLE_L2_LOOKUP     30  /* Destination MAC -> logical out port. */
#define OFTABLE_GATEWAY_OUT   31  /* To the host stack, by the gateway MAC. */
#define OFTABLE_GATEWAY_IN    32  /* From the host: destination IP -> port. */
#define OFTABLE_GATEWAY_REPLY 33  /* Replies of what the host sent: back to
                                   * it (conntrack). */
#define OFTABLE_OUTPUT        40  /* Out port -> ofport(s), tunnel(s). */
#define OFTABLE_POLICY_INGRESS_CT     41  /* Into the port's ct zone. */
#define OFTABLE_POLICY_INGRESS        42  /* Ingress rules. */
#define OFTABLE_POLICY_INGRESS_COMMIT 43  /* Commit what they admit. */
#define OFTABLE_POLICY_INGRESS_OUT    44  /* To the local port. */
#define OFTABLE_POLICY_INGRESS_ADMIT  46  /* As 17, the other way. */
#define OFTABLE_PROVIDER_OUT  45  /* To a provider network's uplink. */
#define OFTABLE_FLOOD         50  /* Broadcast and multicast. */
#define OFTABLE_MAX           OFTABLE_FLOOD

/* Flow priorities.  A port's migration flows sit above its normal flows, so
 * that during a handover `ovs-ofctl dump-flows` shows the override, the way
 * Calico raises a route's priority while a VM moves. */
#define PRIO_TABLE_MISS        0  /* Default action of a table. */
#define PRIO_SWITCH_UNKNOWN   40  /* Unknown unicast to a provider uplink. */
#define PRIO_SWITCH           50  /* Per-switch flows (flood). */
#define PRIO_SWITCH_TUNNEL    60  /* The same, for packets from a tunnel. */
#define PRIO_SWITCH_RARP      70  /* RARP, for L2 tables only: not flooded
                                   * to pods (pipeline.c). */
#define PRIO_PORT            100  /* A port's normal flows. */
#define PRIO_PORT_EXCEPTION  110  /* Narrower cases of a port's flows. */
#define PRIO_PORT_ND         120  /* A port's own NAs and NSes, above its
                                   * exceptions (drops of other NAs). */
#define PRIO_MIGRATION       150  /* A port's flows while it migrates. */
#define PRIO_MIGRATION_HELD  155  /* A self-activating blocked copy that its
                                   * VM has not activated: drop. */
#define PRIO_MIGRATION_EXCEPTION 160 /* Narrower cases of migration flows. */

/* Priorities of the policy tables (11-13, 41-44), and of the flow that
 * takes a policed port's IPv6 from the ND responder to egress policy. */
#define PRIO_POLICY_ND_OUT       1  /* Table 25, below every ND answer. */
#define PRIO_POLICY_OPEN        50  /* Not isolated this way: admit. */
#define PRIO_POLICY_NOT_IP      90  /* ARP to a policed port. */
#define PRIO_POLICY_RULE       100  /* Conjunctive rule flows. */
#define PRIO_POLICY_ADMIT_LOOKUP 105 /* A policed port's way into its
                                     * zone past the admitted tuples
                                     * (policy-admit.c), below ND's. */
#define PRIO_POLICY_ALLOW_ALL  110  /* A rule of one dimension. */
#define PRIO_POLICY_EXEMPT     110  /* ND and MLD: never policed. */
#define PRIO_POLICY_ESTABLISHED 190 /* Replies, related: pass. */
#define PRIO_POLICY_ADMIT      185  /* New, but an admitted tuple. */
#define PRIO_POLICY_SYNC       195  /* Conntrack handover of a migrating
                                     * port (policy-handover.c). */
#define PRIO_POLICY_INVALID    200  /* Invalid per conntrack: drop. */

/* Registers.  metadata holds the logical switch's tunnel key (24 bits, the
 * Geneve VNI).  reg14 holds the logical input port's key, 0 when the packet
 * came from a tunnel; reg15 the logical output port's key. */
#define LB_REG_INPORT  "reg14"
#define LB_REG_OUTPORT "reg15"
/* A policed local port's conntrack zone, which is its ofport, set before
 * conntrack and kept across it (lib/policy.c). */
#define LB_REG_ZONE "reg13"
/* Bit 0: the egress lookup of the admitted tuples matched; bit 1: the
 * ingress one (policy-admit.c).  Each lookup clears its bit first. */
#define LB_REG_ADMIT "reg11"
/* A self-activating blocked copy's packets in table 10 (pipeline.c): bit 0,
 * its VM has activated it (table 15 said so, or this is the announcement
 * that does); bit 1, table 15 has been asked. */
#define LB_REG_ACTIVATION "reg10"
#define LB_REG_ACTIVATION_NXM "NXM_NX_REG10"
#define LB_REG_ADMIT_NXM "NXM_NX_REG11"

/* reg14 of a packet that came in from a provider network's uplink: above
 * every port key (LB_PORT_KEY_MAX), so that it names no port. */
#define LB_INPORT_PHYSNET 0x80000000u

/* The Geneve VNI bit of a conntrack handover copy (policy-handover.c):
 * above every switch key (LB_SWITCH_KEY_MAX is 24 bits, but switches have
 * at most 7), so that no switch's traffic carries it. */
#define LB_TUN_CT_SYNC 0x800000u
/* The Geneve VNI bit of a tuple the source sends its migration's target
 * at the cutover, for the target to admit that connection's first packet
 * (policy-admit.c). */
#define LB_TUN_CT_ADMIT 0x400000u

/* The Geneve VNI bit of a gateway handover copy (pipeline-gateway.c): a
 * migrating VM's packet that the source's host DNATed into the overlay,
 * committed by the target into its gateway zone. */
#define LB_TUN_GW_SYNC 0x200000u

/* The Geneve VNI bit of a Service handover record (svc-ct-handover.c): a
 * migrating VM's connection through a Service's DNAT on the source's
 * host, for the target's agent to create in its host's conntrack. */
#define LB_TUN_SVC_CT 0x100000u

/* Packet-in reasons, carried in the controller action's userdata as 4
 * bytes, big-endian. */
#define LB_PIN_ANNOUNCE 1     /* RARP/GARP/NA from a blocked port. */
#define LB_PIN_ANNOUNCE_LEARNED 3 /* A self-activating blocked copy's RARP,
                                   * which has just activated the copy in
                                   * the switch (learn()). */
#define LB_PIN_RS       2     /* IPv6 router solicitation: the agent
                               * answers with the switch's RA. */
#define LB_PIN_SVC_CT   10    /* A Service handover record from a
                               * migration's source (svc-ct-handover.c). */

#endif /* lib/oftable.h */
