/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The distributed gateway: the way out of an overlay switch.
 *
 * Every overlay switch has a gateway address per family (spec.gateway and
 * spec.gateway6, by default the first address of the subnet and prefix)
 * and a gateway MAC (lb_ipam_gateway6_mac() of its key), the same on every
 * node.  Every node with a gateway port (an internal port on br-int whose
 * host end is in the node's own network stack) does, for every overlay
 * switch:
 *
 *   - OFTABLE_ARP_RESPONDER: answers ARP for the IPv4 gateway with the
 *     gateway MAC, on the asker's chassis (the IPv6 gateway's neighbour
 *     solicitations are answered by pipeline.c's ND responder already).
 *     A VM's ARP and neighbour entries for its gateway stay valid on any
 *     node it migrates to: same address, same MAC, answered everywhere.
 *
 *   - OFTABLE_L2_LOOKUP -> OFTABLE_GATEWAY_OUT: IP sent to the gateway MAC
 *     by a local port goes to this node's host stack, with the host end's
 *     MAC as destination.  Never through a tunnel: a frame to the gateway
 *     MAC that arrives from one is dropped (its sender's node is its
 *     gateway).
 *
 *   - OFTABLE_CLASSIFY -> OFTABLE_GATEWAY_IN: what the host routes into the
 *     gateway port (every packet to the host end's own MAC: the port is
 *     NOARP) is looked up by destination address, one flow per address of
 *     every port of an overlay switch, gets the switch, the gateway MAC as
 *     source and the port's MAC as destination, and goes on to L2 lookup
 *     as if the gateway had sent it (reg14 = LB_INPORT_GATEWAY): local, or
 *     through the tunnel, or mirrored to both copies of a migrating port.
 *     Anything else from the host (its multicast, addresses no port has)
 *     is dropped.
 *
 *   - Replies go back through the host that sent: what enters a switch
 *     from the gateway port is committed to conntrack (its zone is
 *     LB_GATEWAY_CT_ZONE(the switch's key)) with ct_mark bit 0 set, and
 *     every IP packet of the switch on its way to L2 lookup is looked up
 *     there first (OFTABLE_GATEWAY_REPLY):
 *     a reply of such a connection goes to the host instead of straight to
 *     its destination.  That is what a Service needs: a pod's packet to a
 *     ClusterIP is DNATed by its own node's kube-proxy to a backend on
 *     another node, and the backend's reply, addressed to the pod on the
 *     same switch, would otherwise reach it over L2 with the backend's
 *     address as source, past the conntrack entry that undoes the DNAT.
 *     Antrea does the same with its gateway's conntrack marks.
 *
 * The gateway's addresses are not the host's: the host routes the switch's
 * subnet into the gateway port and sends from its own address, so a remote
 * pod's reply to the host goes to that node, not to whichever node the
 * pod's gateway is (docs/pipeline.md, "Distributed gateway"). */

#include <config.h>
#include "pipeline-gateway.h"

#include <string.h>
#include "cookie.h"
#include "flow-table.h"
#include "ipam.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline.h"
#include "simap.h"
#include "svc-ct-handover.h"

static const struct eth_addr host_mac = LB_GATEWAY_HOST_MAC_INIT;

/* In OFTABLE_L2_LOOKUP, above every other flow of a gateway switch: IP not
 * yet looked up in conntrack goes through it first. */
#define PRIO_GATEWAY_CT 130

/* ct_mark bit of a connection the host started through the gateway. */
#define GATEWAY_CT_MARK "0x1/0x1"

/* ct_mark of a connection a migrating VM's source host started, committed
 * on the target from the source's copies (bit 1) and not yet seen from
 * this node's own host: its replies wait, dropped, until the VM's next
 * packet has gone through this host and set up its DNAT (committed by
 * OFTABLE_GATEWAY_IN with bit 1 cleared). */
#define GATEWAY_CT_MARK_SYNCED "0x3"
#define GATEWAY_CT_SYNCED_BIT "0x2/0x2"
#define GATEWAY_CT_MARK_OWN "0x1/0x3"

/* In OFTABLE_GATEWAY_REPLY: a reply of a synced connection, between the
 * replies to the host (PRIO_PORT) and what the host sent
 * (PRIO_PORT_EXCEPTION). */
#define PRIO_GATEWAY_SYNCED 105
/* On a migration's target, per migrating port: the replies of its synced
 * connections that a local port sent (a backend on this node) go to the
 * source (add_gateway_handover_flows()); those from a tunnel stay dropped,
 * above them. */
#define PRIO_GATEWAY_SYNCED_LOCAL 106
#define PRIO_GATEWAY_SYNCED_TUNNEL 107

/* reg12 bit of a packet from the host already copied to a migration's
 * target (OFTABLE_GATEWAY_IN looks it up again). */
#define GATEWAY_REG_COPIED "0x2"

static const char *const families[] = { "ip", "ipv6" };

/* The gateway port's ofport on this chassis, 0 if it has none. */
static unsigned int
gateway_ofport(const struct lb_pipeline_ctx *ctx)
{
    return simap_get(ctx->iface_ofports, LB_GATEWAY_IFACE_ID);
}

/* Whether 'sw' has a distributed gateway: an overlay switch (a provider
 * network's router is on the fabric) with a gateway address. */
bool
lb_gateway_switch_has_gateway(const struct lb_switch *sw)
{
    return (!sw->physnet
            && ((sw->prefix_len && sw->gateway)
                || (sw->has_prefix6 && !ipv6_is_zero(&sw->gateway6))));
}

/* The gateway MAC of 'sw', on every node: the one its router
 * advertisements come from. */
struct eth_addr
lb_gateway_mac(const struct lb_switch *sw)
{
    return lb_ipam_gateway6_mac(sw->tunnel_key);
}

/* The default IPv4 gateway of a subnet: its first host address.  0 for no
 * subnet. */
ovs_be32
lb_gateway_default4(ovs_be32 network, int prefix_len)
{
    return prefix_len ? htonl(ntohl(network) + 1) : 0;
}

/* The default IPv6 gateway of a /64: its "::1". */
void
lb_gateway_default6(const struct in6_addr *prefix, struct in6_addr *gw)
{
    *gw = *prefix;
    memset(&gw->s6_addr[8], 0, 8);
    gw->s6_addr[15] = 1;
}

/* The gateway port into OFTABLE_GATEWAY_IN, whose miss drops, and
 * OFTABLE_GATEWAY_OUT's miss. */
void
lb_gateway_default_flows(const struct lb_pipeline_ctx *ctx,
                         struct lb_flow_table *ft)
{
    unsigned int gw = gateway_ofport(ctx);
    if (!gw) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_GATEWAY, 0, false);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    ds_put_format(&match, "in_port=%u", gw);
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_GATEWAY_IN);
    lb_flow_table_add_ds(ft, OFTABLE_CLASSIFY, PRIO_PORT, cookie, &match,
                         &actions);

    ds_put_cstr(&actions, "drop");
    lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_IN, PRIO_TABLE_MISS, cookie,
                         &match, &actions);
    ds_put_cstr(&actions, "drop");
    lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_OUT, PRIO_TABLE_MISS, cookie,
                         &match, &actions);

    /* The host's ICMPv6 redirects, above the ports' addresses that would
     * take them in.  A node's host that forwards a packet back out of the
     * gateway port it came from (a backend's reply to its Service's client
     * on the same switch, a pod's packet to another overlay switch) tells
     * its sender that the destination is on-link, at the MAC of its
     * neighbour entry on this NOARP port: the port's own.  The sender (a
     * Linux pod believes it) then sends there, which L2 lookup drops
     * unless OFTABLE_GATEWAY_REPLY happens to take the packet to this
     * node's host, until neighbour unreachability detection asks
     * OFTABLE_ND_RESPONDER again (after DELAY's 5 s): a backend's replies
     * to a VM that migrated away from its host went silent for seconds.
     * The pipeline, not the host, is the switch's router; nothing here
     * needs a redirect.  (No IPv4 equivalent: an ICMP redirect names a
     * gateway, not a MAC, and a host takes it only from the gateway it
     * uses for that destination, none for an on-link peer.) */
    ds_put_cstr(&match, "icmp6,icmp_type=137");
    ds_put_cstr(&actions, "drop");
    lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_IN, PRIO_PORT_EXCEPTION, cookie,
                         &match, &actions);

    /* Replies of connections the host started: back to the host.  The
     * rest, now tracked, to L2 lookup again.
     *
     * Also what conntrack finds invalid in such a connection: it then
     * reports no direction, but a packet of it that is looked up here is a
     * reply (the other direction comes from the host, committed by
     * OFTABLE_GATEWAY_IN, never looked up here).  A VM that comes back to
     * a node after a migration meets that node's entry of its connection
     * with sequence numbers far behind: the userspace datapath's TCP
     * tracking calls its replies invalid, which straight to the VM would
     * reach it with the backend's address and reset the connection. */
    static const char *const states[] = { "+trk+rpl", "+trk+inv" };

    /* What the host sent, committed by OFTABLE_GATEWAY_IN, never goes
     * back to it, whatever conntrack thinks of it (a stale entry makes it
     * invalid too). */
    ds_put_format(&match, LB_REG_INPORT"=%#"PRIx32, LB_INPORT_GATEWAY);
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY, PRIO_PORT_EXCEPTION,
                         cookie, &match, &actions);
    for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(states); j++) {
            ds_put_format(&match, "ct_state=%s,ct_mark="GATEWAY_CT_MARK
                          ",%s", states[j], families[i]);
            ds_put_format(&actions, "resubmit(,%d)", OFTABLE_GATEWAY_OUT);
            lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY, PRIO_PORT, cookie,
                                 &match, &actions);
        }
    }
    /* A migrated VM's connection its source's host started: its
     * backend's replies reach this node raw (the backend's address) until
     * the VM's own next packet has gone through this node's host; raw,
     * the VM would answer them with a reset.  Dropped, they are sent
     * again (and while the migration lasts the source still sends the
     * VM the replies its host turned back).  Replies only (and what
     * conntrack calls invalid, which has no direction): the source's
     * host's own packets of the connection, on their way to a backend on
     * this node, go on. */
    for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(states); j++) {
            ds_put_format(&match, "ct_state=%s,ct_mark="
                          GATEWAY_CT_SYNCED_BIT",%s", states[j],
                          families[i]);
            ds_put_cstr(&actions, "drop");
            lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY,
                                 PRIO_GATEWAY_SYNCED, cookie, &match,
                                 &actions);
            /* The same from a tunnel, above a migrating port's own
             * (PRIO_GATEWAY_SYNCED_LOCAL). */
            ds_put_format(&match, "ct_state=%s,ct_mark="
                          GATEWAY_CT_SYNCED_BIT",%s,"LB_REG_INPORT"=0",
                          states[j], families[i]);
            ds_put_cstr(&actions, "drop");
            lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY,
                                 PRIO_GATEWAY_SYNCED_TUNNEL, cookie, &match,
                                 &actions);
        }
    }
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY, PRIO_TABLE_MISS, cookie,
                         &match, &actions);

    ds_destroy(&match);
    ds_destroy(&actions);
}

/* Per overlay switch with a gateway: its IPv4 gateway answered, and IP to
 * its gateway MAC to the host. */
void
lb_gateway_switch_flows(const struct lb_pipeline_ctx *ctx,
                        const struct lb_switch *sw, struct lb_flow_table *ft)
{
    unsigned int gw = gateway_ofport(ctx);
    if (!gw || !lb_gateway_switch_has_gateway(sw)) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_GATEWAY, sw->tunnel_key, false);
    struct eth_addr mac = lb_gateway_mac(sw);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    if (sw->prefix_len && sw->gateway) {
        ds_put_format(&match, "metadata=%#"PRIx32",arp,arp_op=1,arp_tpa="
                      IP_FMT, sw->tunnel_key, IP_ARGS(sw->gateway));
        lb_pipeline_put_arp_reply(&actions, mac, sw->gateway);
        lb_flow_table_add_ds(ft, OFTABLE_ARP_RESPONDER, PRIO_PORT, cookie,
                             &match, &actions);
    }

    ds_put_format(&match, "metadata=%#"PRIx32",dl_dst="ETH_ADDR_FMT,
                  sw->tunnel_key, ETH_ADDR_ARGS(mac));
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_GATEWAY_OUT);
    lb_flow_table_add_ds(ft, OFTABLE_L2_LOOKUP, PRIO_PORT, cookie, &match,
                         &actions);

    /* From a tunnel: the sender's own node was its gateway. */
    ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_INPORT"=0,dl_dst="
                  ETH_ADDR_FMT, sw->tunnel_key, ETH_ADDR_ARGS(mac));
    ds_put_cstr(&actions, "drop");
    lb_flow_table_add_ds(ft, OFTABLE_L2_LOOKUP, PRIO_PORT_EXCEPTION, cookie,
                         &match, &actions);

    for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
        ds_put_format(&match, "%s,metadata=%#"PRIx32, families[i],
                      sw->tunnel_key);
        ds_put_format(&actions, "set_field:"ETH_ADDR_FMT"->eth_dst,"
                      "output:%u", ETH_ADDR_ARGS(host_mac), gw);
        lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_OUT, PRIO_PORT, cookie,
                             &match, &actions);

        /* Every IP packet of the switch, from a local port or a tunnel:
         * is it a reply of a connection the host started here? */
        ds_put_format(&match, "%s,metadata=%#"PRIx32","LB_REG_GATEWAY
                      "=0/0x1", families[i], sw->tunnel_key);
        ds_put_format(&actions, "set_field:0x1/0x1->"LB_REG_GATEWAY","
                      "ct(table=%d,zone=%u)", OFTABLE_GATEWAY_REPLY,
                      LB_GATEWAY_CT_ZONE(sw->tunnel_key));
        lb_flow_table_add_ds(ft, OFTABLE_L2_LOOKUP, PRIO_GATEWAY_CT, cookie,
                             &match, &actions);
    }

    ds_destroy(&match);
    ds_destroy(&actions);
}

static void
put_gateway_in_actions(struct ds *actions, const struct lb_switch *sw,
                       const struct lb_port *port)
{
    /* Committed, so that the replies come back here (to
     * OFTABLE_GATEWAY_REPLY, which sends this original direction on to L2
     * lookup). */
    ds_put_format(actions, "set_field:%#"PRIx32"->metadata,"
                  "set_field:%#"PRIx32"->"LB_REG_INPORT","
                  "set_field:"ETH_ADDR_FMT"->eth_src,"
                  "set_field:"ETH_ADDR_FMT"->eth_dst,"
                  "set_field:0x1/0x1->"LB_REG_GATEWAY","
                  "ct(commit,table=%d,zone=%u,"
                  "exec(set_field:"GATEWAY_CT_MARK_OWN"->ct_mark))",
                  sw->tunnel_key, LB_INPORT_GATEWAY,
                  ETH_ADDR_ARGS(lb_gateway_mac(sw)),
                  ETH_ADDR_ARGS(port->mac), OFTABLE_GATEWAY_REPLY,
                  LB_GATEWAY_CT_ZONE(sw->tunnel_key));
}

/* A migrating port's connections through its source's host (a Service's
 * DNAT by the source's kube-proxy), made known to the target's gateway
 * zone while the VM still runs on the source: the source copies what its
 * host sends from the VM's addresses into the overlay to the target
 * (LB_TUN_GW_SYNC), which commits it with GATEWAY_CT_MARK_SYNCED.  On the
 * target, the backends' raw replies of those connections are then dropped
 * (OFTABLE_GATEWAY_REPLY) instead of reaching the VM with the backend's
 * address, until the VM's next packet has gone through the target's own
 * host, whose kube-proxy takes the connection up; its commit clears the
 * bit, and the replies go to that host like any other. */
static void
add_gateway_handover_flows(const struct lb_pipeline_ctx *ctx,
                           const struct lb_port *port,
                           const struct lb_switch *sw,
                           struct lb_flow_table *ft)
{
    if (!lb_port_is_migrating(port) || !port->mirror
        || !port->additional_chassis) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, true);
    uint32_t sync_key = sw->tunnel_key | LB_TUN_GW_SYNC;
    bool source = !strcmp(port->chassis, ctx->chassis);
    bool target = !strcmp(port->additional_chassis, ctx->chassis);
    unsigned int tun = (source ? simap_get(ctx->tunnel_ofports,
                                           port->additional_chassis)
                        : target ? simap_get(ctx->tunnel_ofports,
                                             port->chassis)
                        : 0);
    if (!tun) {
        return;
    }
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;
    size_t n = port->n_ipv4 + port->n_ipv6;
    for (size_t i = 0; i < n; i++) {
        bool v6 = i >= port->n_ipv4;
        ds_put_cstr(&match, v6 ? "ipv6," : "ip,");
        if (source) {
            ds_put_format(&match, LB_REG_GATEWAY"=0/"GATEWAY_REG_COPIED",");
        } else {
            ds_put_format(&match, "in_port=%u,tun_id=%#"PRIx32",", tun,
                          sync_key);
        }
        if (v6) {
            ds_put_cstr(&match, "ipv6_src=");
            ipv6_format_addr(&port->ipv6[i - port->n_ipv4], &match);
        } else {
            ds_put_format(&match, "nw_src="IP_FMT, IP_ARGS(port->ipv4[i]));
        }
        if (source) {
            ds_put_format(&actions, "set_field:"GATEWAY_REG_COPIED"/"
                          GATEWAY_REG_COPIED"->"LB_REG_GATEWAY","
                          "clone(set_field:%#"PRIx32"->tun_id,output:%u),"
                          "resubmit(,%d)", sync_key, tun,
                          OFTABLE_GATEWAY_IN);
            lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_IN, PRIO_MIGRATION,
                                 cookie, &match, &actions);
        } else {
            ds_put_format(&actions, "ct(commit,zone=%u,exec(set_field:"
                          GATEWAY_CT_MARK_SYNCED"->ct_mark))",
                          LB_GATEWAY_CT_ZONE(sw->tunnel_key));
            lb_flow_table_add_ds(ft, OFTABLE_CLASSIFY, PRIO_MIGRATION,
                                 cookie, &match, &actions);
        }
    }
    if (target) {
        /* A backend on this node answers the VM's connection that the
         * source's host DNATed: dropped as a raw reply, it would never
         * reach the source's host either, and the connection would stall
         * until the VM's own packet comes through this host (seconds of
         * TCP backoff).  To the source instead, over the tunnel, where
         * its gateway zone sends it to the host that turns it back into
         * the Service's: as the mirror would, without the raw local copy
         * the VM must not get.  (Those from a tunnel are dropped above,
         * PRIO_GATEWAY_SYNCED_TUNNEL.) */
        for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
            ds_put_format(&match, "ct_state=+trk,ct_mark="
                          GATEWAY_CT_SYNCED_BIT",%s,metadata=%#"PRIx32","
                          "dl_dst="ETH_ADDR_FMT, families[i], sw->tunnel_key,
                          ETH_ADDR_ARGS(port->mac));
            ds_put_format(&actions, "set_field:%#"PRIx32"->tun_id,"
                          "output:%u", sw->tunnel_key, tun);
            lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_REPLY,
                                 PRIO_GATEWAY_SYNCED_LOCAL, cookie, &match,
                                 &actions);
        }
        /* Its connections' DNAT on the source's host (agent-svc-ct.c). */
        lb_svc_ct_port_flows(port, sw->tunnel_key, tun, ft);
    }
    ds_destroy(&match);
    ds_destroy(&actions);
}

/* Per port of an overlay switch with a gateway, on every chassis with a
 * gateway port: the host's packets to its addresses enter its switch.
 * The port's cookie, so that they come and go with its other flows. */
void
lb_gateway_port_flows(const struct lb_pipeline_ctx *ctx,
                      const struct lb_port *port, const struct lb_switch *sw,
                      struct lb_flow_table *ft)
{
    if (!gateway_ofport(ctx) || !lb_gateway_switch_has_gateway(sw)) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, false);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < port->n_ipv4; i++) {
        ds_put_format(&match, "ip,nw_dst="IP_FMT, IP_ARGS(port->ipv4[i]));
        put_gateway_in_actions(&actions, sw, port);
        lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_IN, PRIO_PORT, cookie, &match,
                             &actions);
    }
    for (size_t i = 0; i < port->n_ipv6; i++) {
        ds_put_cstr(&match, "ipv6,ipv6_dst=");
        ipv6_format_addr(&port->ipv6[i], &match);
        put_gateway_in_actions(&actions, sw, port);
        lb_flow_table_add_ds(ft, OFTABLE_GATEWAY_IN, PRIO_PORT, cookie, &match,
                             &actions);
    }

    ds_destroy(&match);
    ds_destroy(&actions);
    add_gateway_handover_flows(ctx, port, sw, ft);
}
