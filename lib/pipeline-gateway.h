/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_PIPELINE_GATEWAY_H
#define LIVEBIND_PIPELINE_GATEWAY_H 1

/* The distributed gateway of overlay switches, called by pipeline.c only:
 * every chassis answers for each overlay switch's gateway addresses with
 * the switch's gateway MAC, locally, and hands what pods send to that MAC
 * to its own host stack through the gateway port on br-int; what the host
 * routes to a port's address comes back through the same port and enters
 * the switch as if the gateway had sent it.  Pure, like pipeline.c.  The
 * design (and why host-to-pod traffic leaves with the node's own address)
 * is in docs/pipeline.md, "Distributed gateway". */

#include <stdbool.h>
#include "openvswitch/types.h"
#include "packets.h"

struct lb_flow_table;
struct lb_pipeline_ctx;
struct lb_port;
struct lb_switch;

/* The MAC of the host end of the gateway port, the same on every node:
 * packets to the host get it as destination, and with the port set NOARP
 * the host sends every packet to it too (lib/gateway-host.c).  0a:59 like
 * the switches' gateway MACs, with switch key 0, which no switch has. */
#define LB_GATEWAY_HOST_MAC_INIT { .ea = { 0x0a, 0x59, 0, 0, 0, 0 } }

/* reg14 of a packet that came from the host stack through the gateway
 * port: above every port key, and not LB_INPORT_PHYSNET. */
#define LB_INPORT_GATEWAY 0x80000001u

/* The conntrack zone of switch 'key''s gateway connections: above every
 * ofport (OFPP_MAX is 0xff00), so that it never meets a zone named after
 * a port, as NetworkPolicy's are. */
#define LB_GATEWAY_CT_ZONE(KEY) (0xff00u + (KEY))

/* Bit 0 of this register: the packet was looked up in its switch's
 * gateway zone already (or came from the host), so that L2 lookup does not
 * send it there again; whatever other conntrack lookup (NetworkPolicy's)
 * it went through before. */
#define LB_REG_GATEWAY "reg12"

/* The iface-id (external_ids) of the gateway port's Interface, so that
 * its ofport shows in the agent's map of interfaces.  No logical port can
 * have the name: theirs are "<namespace>_<name>". */
#define LB_GATEWAY_IFACE_ID "livebind-gateway"

bool lb_gateway_switch_has_gateway(const struct lb_switch *);
struct eth_addr lb_gateway_mac(const struct lb_switch *);
ovs_be32 lb_gateway_default4(ovs_be32 network, int prefix_len);
void lb_gateway_default6(const struct in6_addr *prefix, struct in6_addr *);

void lb_gateway_default_flows(const struct lb_pipeline_ctx *,
                              struct lb_flow_table *);
void lb_gateway_switch_flows(const struct lb_pipeline_ctx *,
                             const struct lb_switch *,
                             struct lb_flow_table *);
void lb_gateway_port_flows(const struct lb_pipeline_ctx *,
                           const struct lb_port *, const struct lb_switch *,
                           struct lb_flow_table *);

#endif /* lib/pipeline-gateway.h */
