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
#define OFTABLE_ARP_RESPONDER 20  /* Answer ARP for known IPs locally. */
#define OFTABLE_ND_RESPONDER  25  /* Answer IPv6 NS locally, RS to agent. */
#define OFTABLE_ND_REPLY      26  /* Finish an NS turned into an NA. */
#define OFTABLE_L2_LOOKUP     30  /* Destination MAC -> logical out port. */
#define OFTABLE_GATEWAY_OUT   31  /* To the host stack, by the gateway MAC. */
#define OFTABLE_GATEWAY_IN    32  /* From the host: destination IP -> port. */
#define OFTABLE_GATEWAY_REPLY 33  /* Replies of what the host sent: back to
                                   * it (conntrack). */
#define OFTABLE_OUTPUT        40  /* Out port -> ofport(s), tunnel(s). */
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
#define PRIO_PORT            100  /* A port's normal flows. */
#define PRIO_PORT_EXCEPTION  110  /* Narrower cases of a port's flows. */
#define PRIO_PORT_ND         120  /* A port's own NAs and NSes, above its
                                   * exceptions (drops of other NAs). */
#define PRIO_MIGRATION       150  /* A port's flows while it migrates. */
#define PRIO_MIGRATION_EXCEPTION 160 /* Narrower cases of migration flows. */

/* Registers.  metadata holds the logical switch's tunnel key (24 bits, the
 * Geneve VNI).  reg14 holds the logical input port's key, 0 when the packet
 * came from a tunnel; reg15 the logical output port's key. */
#define LB_REG_INPORT  "reg14"
#define LB_REG_OUTPORT "reg15"

/* reg14 of a packet that came in from a provider network's uplink: above
 * every port key (LB_PORT_KEY_MAX), so that it names no port. */
#define LB_INPORT_PHYSNET 0x80000000u

/* Packet-in reasons, carried in the controller action's userdata as 4
 * bytes, big-endian. */
#define LB_PIN_ANNOUNCE 1     /* RARP/GARP/NA from a blocked port. */
#define LB_PIN_RS       2     /* IPv6 router solicitation: the agent
                               * answers with the switch's RA. */

#endif /* lib/oftable.h */
