/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "pipeline.h"

#include <string.h>
#include "cookie.h"
#include "flow-table.h"
#include "hash.h"
#include "ipam.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline-gateway.h"
#include "pipeline-provider.h"
#include "policy.h"
#include "policy-admit.h"
#include "openvswitch/util.h"
#include "simap.h"
#include "util.h"

/* Scratch buffers for one flow's match and actions, reused so that
 * computing tens of thousands of flows does not allocate for each. */
struct flow_buf {
    struct ds match;
    struct ds actions;
};

static void
flow_buf_init(struct flow_buf *fb)
{
    ds_init(&fb->match);
    ds_init(&fb->actions);
}

static void
flow_buf_destroy(struct flow_buf *fb)
{
    ds_destroy(&fb->match);
    ds_destroy(&fb->actions);
}

static void
flow_buf_clear(struct flow_buf *fb)
{
    ds_clear(&fb->match);
    ds_clear(&fb->actions);
}

static void
add_flow(struct lb_flow_table *ft, uint8_t table_id, uint16_t priority,
         uint64_t cookie, struct flow_buf *fb)
{
    ovs_assert(table_id <= OFTABLE_MAX);
    lb_flow_table_add(ft, table_id, priority, cookie, ds_cstr(&fb->match),
                      ds_cstr(&fb->actions));
    flow_buf_clear(fb);
}

static uint64_t
port_cookie(const struct lb_port *port, bool migration)
{
    return lb_cookie(LB_COOKIE_PORT, port->key, migration);
}

/* The ofport of 'port' on this chassis, or 0 if the port is not bound here
 * or its interface is not (yet) on br-int. */
static unsigned int
local_ofport(const struct lb_pipeline_ctx *ctx, const struct lb_port *port)
{
    if (!lb_port_bound_to(port, ctx->chassis)) {
        return 0;
    }
    return simap_get(ctx->iface_ofports, port->name);
}

/* True if this chassis holds the blocked (not yet activated) copy of a
 * migrating 'port'. */
static bool
blocked_here(const struct lb_pipeline_ctx *ctx, const struct lb_port *port)
{
    return (port->additional_chassis && port->additional_blocked
            && !strcmp(port->additional_chassis, ctx->chassis));
}

/* Whether a NetworkPolicy isolates 'port' (lib/policy.c): its IP goes
 * through the policy tables, on the way out after port security and on
 * the way in to a local copy. */
static bool
policed(const struct lb_pipeline_ctx *ctx, const struct lb_port *port)
{
    return ctx->policy && lb_policy_port_isolated(ctx->policy, port->name);
}

bool
lb_pipeline_port_wants_gate(const struct lb_pipeline_ctx *ctx,
                            const struct lb_port *port)
{
    return (blocked_here(ctx, port) && !policed(ctx, port)
            && local_ofport(ctx, port));
}

bool
lb_pipeline_port_active_here(const struct lb_pipeline_ctx *ctx,
                             const struct lb_port *port)
{
    return (lb_port_bound_to(port, ctx->chassis)
            && !blocked_here(ctx, port));
}

/* Whether the blocked copy of 'port' here is behind its closed gate
 * (port-gate.h), so that the flow table may deliver to it. */
static bool
gated(const struct lb_pipeline_ctx *ctx, const struct lb_port *port)
{
    return (ctx->gated_ports && sset_contains(ctx->gated_ports, port->name)
            && lb_pipeline_port_wants_gate(ctx, port));
}

/* A controller action carrying packet-in reason 'reason' (oftable.h),
 * through meter 'meter_id' unless it is 0. */
static void
put_to_agent(struct ds *actions, uint32_t reason, uint32_t meter_id)
{
    ds_put_format(actions, "controller(userdata=%02x.%02x.%02x.%02x",
                  (reason >> 24) & 0xff, (reason >> 16) & 0xff,
                  (reason >> 8) & 0xff, reason & 0xff);
    if (meter_id) {
        ds_put_format(actions, ",meter_id=%"PRIu32, meter_id);
    }
    ds_put_char(actions, ')');
}

/* Whether the blocked copy of 'port' here activates itself: behind its
 * self-opening gate, its VM's first announcement also unblocks it in the
 * flow table, by learn(), without waiting for the agent. */
static bool
self_activating(const struct lb_pipeline_ctx *ctx, const struct lb_port *port)
{
    return ctx->self_activation && gated(ctx, port);
}

/* The match of a blocked copy's announcement flows: the copy's
 * announcements, on their first pass through the table when the copy
 * activates itself (LB_REG_ACTIVATION bit 1 clear). */
static void
put_announcement_match(const struct lb_pipeline_ctx *ctx,
                       const struct lb_port *port, struct ds *match)
{
    ds_put_format(match, LB_REG_INPORT"=%#"PRIx32",", port->key);
    if (self_activating(ctx, port)) {
        ds_put_cstr(match, LB_REG_ACTIVATION"=0/0x2,");
    }
}

/* The actions of a blocked copy's announcement flows: to the agent, which
 * checks the announcement fully and activates the copy.  A self-activating
 * copy's RARP, which QEMU sends the moment the VM resumes, also activates
 * it in the switch: it learns the activation (table OFTABLE_ACTIVATED) and
 * goes on as the active copy's would, at once.  Its other announcements go
 * on as the copy's other traffic does, if it is activated. */
static void
put_announcement_actions(const struct lb_pipeline_ctx *ctx,
                         const struct lb_port *port, bool rarp,
                         struct ds *actions)
{
    bool self = self_activating(ctx, port);
    if (self && rarp) {
        /* delete_learned: the learned flow goes with the last flow that
         * learns it, when the agent unblocks the copy or the migration
         * ends, so that no later migration to this node finds it. */
        ds_put_format(actions, "learn(table=%d,priority=%d,cookie=%#"PRIx64
                      ",delete_learned,NXM_NX_REG14[],load:0x1->"
                      LB_REG_ACTIVATION_NXM"[0]),", OFTABLE_ACTIVATED,
                      PRIO_PORT, lb_cookie(LB_COOKIE_ACTIVATED, port->key,
                                           false));
    }
    /* Its own reason: the agent then knows the switch has unblocked the
     * copy already (agent-migration.c). */
    put_to_agent(actions, self && rarp ? LB_PIN_ANNOUNCE_LEARNED
                 : LB_PIN_ANNOUNCE, port->key);
    if (self && rarp) {
        /* The flow just learned is not visible to this packet. */
        ds_put_format(actions, ",set_field:0x3/0x3->"LB_REG_ACTIVATION
                      ",resubmit(,%d)", OFTABLE_PORT_SECURITY);
    } else if (self) {
        ds_put_format(actions, ",set_field:0x2/0x2->"LB_REG_ACTIVATION
                      ",resubmit(,%d),resubmit(,%d)", OFTABLE_ACTIVATED,
                      OFTABLE_PORT_SECURITY);
    }
}

/* Whether 'port' has migration flows: while bound to two chassis. */
static bool
migrating(const struct lb_port *port)
{
    return lb_port_is_migrating(port);
}

static void
put_tunnel_output(struct ds *actions, uint32_t switch_key,
                  unsigned int tun_ofport, bool *tun_id_set)
{
    if (!*tun_id_set) {
        ds_put_format(actions, "set_field:%#"PRIx32"->tun_id,", switch_key);
        *tun_id_set = true;
    }
    ds_put_format(actions, "output:%u,", tun_ofport);
}

static void
ds_append(struct ds *dst, const struct ds *src)
{
    ds_put_buffer(dst, src->string ? src->string : "", src->length);
}

static void
finish_actions(struct ds *actions)
{
    if (actions->length) {
        ds_chomp(actions, ',');
    } else {
        ds_put_cstr(actions, "drop");
    }
}

/* Whether 'port' has IPv6 flows: if it or its switch has IPv6 addresses.
 * A port of an IPv4-only switch sends no IPv6 at all. */
static bool
has_ipv6(const struct lb_port *port, const struct lb_switch *sw)
{
    return port->n_ipv6 || sw->has_prefix6;
}

/* The addresses a port may use as IPv6 source and NA target: its own and
 * the link-local one of its MAC.  Returns how many are in 'addrs'. */
static size_t
port_ipv6_addrs(const struct lb_port *port,
                struct in6_addr addrs[LB_MAX_IPS + 1])
{
    in6_generate_lla(port->mac, &addrs[0]);
    memcpy(&addrs[1], port->ipv6, port->n_ipv6 * sizeof port->ipv6[0]);
    return port->n_ipv6 + 1;
}

static void
put_ipv6(struct ds *s, const struct in6_addr *addr)
{
    ipv6_format_addr(addr, s);
}

/* The blocked copy of a migrating port: its unsolicited NAs for its own
 * addresses go to the agent (lib/announce.c checks them again). */
static void
add_blocked_port_flows6(const struct lb_pipeline_ctx *ctx,
                        const struct lb_port *port, uint64_t mcookie,
                        struct flow_buf *fb, struct lb_flow_table *ft)
{
    struct in6_addr addrs[LB_MAX_IPS + 1];
    size_t n = port_ipv6_addrs(port, addrs);
    for (size_t i = 0; i < n; i++) {
        put_announcement_match(ctx, port, &fb->match);
        ds_put_format(&fb->match, "icmp6,dl_src="ETH_ADDR_FMT",icmp_type=136,"
                      "icmp_code=0,nd_target=", ETH_ADDR_ARGS(port->mac));
        put_ipv6(&fb->match, &addrs[i]);
        put_announcement_actions(ctx, port, false, &fb->actions);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                 mcookie, fb);
    }
}

/* IPv6 port security of a port bound here: its MAC and its addresses as
 * source, NAs only for its own addresses with its own MAC, and no router
 * advertisements or redirects at all.  Duplicate address detection and
 * router solicitation from the unspecified address, and MLD reports, which
 * may come from it too (RFC 3590), are let through. */
static void
add_local_port_flows6(const struct lb_port *port, const struct lb_switch *sw,
                      bool blocked, struct flow_buf *fb,
                      struct lb_flow_table *ft)
{
    if (!has_ipv6(port, sw)) {
        return;
    }
    uint64_t cookie = port_cookie(port, false);
    struct in6_addr addrs[LB_MAX_IPS + 1];
    size_t n = port_ipv6_addrs(port, addrs);

    for (size_t i = 0; i < n; i++) {
        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",ipv6,dl_src="
                      ETH_ADDR_FMT",ipv6_src=", port->key,
                      ETH_ADDR_ARGS(port->mac));
        put_ipv6(&fb->match, &addrs[i]);
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_ND_RESPONDER);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);

        /* Its NAs, with its MAC as target link-layer address or none. */
        for (int tll = 0; tll < 2; tll++) {
            ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",icmp6,"
                          "dl_src="ETH_ADDR_FMT",icmp_type=136,icmp_code=0,"
                          "nd_target=", port->key, ETH_ADDR_ARGS(port->mac));
            put_ipv6(&fb->match, &addrs[i]);
            ds_put_format(&fb->match, ",nd_tll="ETH_ADDR_FMT,
                          ETH_ADDR_ARGS(tll ? port->mac : eth_addr_zero));
            ds_put_format(&fb->actions, "resubmit(,%d)",
                          OFTABLE_ND_RESPONDER);
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT_ND, cookie, fb);
        }
    }

    /* From the unspecified address: DAD (NS), RS, MLDv1/v2 reports. */
    static const int from_unspecified[] = { 131, 133, 135, 143 };
    for (size_t i = 0; i < ARRAY_SIZE(from_unspecified); i++) {
        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",icmp6,dl_src="
                      ETH_ADDR_FMT",ipv6_src=::,icmp_type=%d", port->key,
                      ETH_ADDR_ARGS(port->mac), from_unspecified[i]);
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_ND_RESPONDER);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT_ND, cookie, fb);
    }

    /* Its router solicitations to the agent, which answers with the
     * switch's RA (agent-ra.c), through the port's meter in the switch (the
     * one a blocked copy's announcements use; a port is never both here):
     * a guest solicits a few times when its interface comes up, so 10 at
     * once and 20 a second is plenty, and a port flooding solicitations
     * costs the agent no more than that, and no other port its answer.  A
     * provider network's router answers for itself. */
    if (sw->has_prefix6 && !sw->physnet) {
        if (!blocked) {
            /* A blocked copy's solicitations cannot get here (its
             * priority-150 drop is above the flows that lead here), and
             * the meter is its announcements' meanwhile. */
            lb_flow_table_add_meter(ft, port->key, cookie,
                                    LB_ANNOUNCE_METER_SPEC);
        }
        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",icmp6,"
                      "icmp_type=133,icmp_code=0", port->key);
        put_to_agent(&fb->actions, LB_PIN_RS, port->key);
        add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_PORT, cookie, fb);
    }

    /* Any other NA, and every RA (134) and redirect (137): a pod is no
     * router and speaks only for its own addresses. */
    static const int never[] = { 134, 136, 137 };
    for (size_t i = 0; i < ARRAY_SIZE(never); i++) {
        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",icmp6,"
                      "icmp_type=%d", port->key, never[i]);
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT_EXCEPTION, cookie, fb);
    }
}

/* The actions that turn a neighbour solicitation for 'target' into the
 * advertisement of 'mac' (S and O flags, and R for a router), the
 * solicitation's source link-layer address option turned into the target
 * one, and send it back.  Only for solicitations that carry that option:
 * OVS rewrites the option in place and cannot add one.
 *
 * The option's address is set in OFTABLE_ND_REPLY: OVS checks a set-field's
 * prerequisites against the flow's match, and nd_tll needs a match on an
 * advertisement, which the packet is only once icmpv6_type is set. */
static void
put_nd_reply(struct ds *actions, struct eth_addr mac,
             const struct in6_addr *target, bool router)
{
    ds_put_format(actions,
                  "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                  "set_field:"ETH_ADDR_FMT"->eth_src,"
                  "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                  "set_field:", ETH_ADDR_ARGS(mac));
    put_ipv6(actions, target);
    ds_put_format(actions, "->ipv6_src,set_field:136->icmpv6_type,"
                  "set_field:%"PRIu32"->nd_reserved,"
                  "set_field:2->nd_options_type,resubmit(,%d)",
                  router ? 0xe0000000u : 0x60000000u, OFTABLE_ND_REPLY);
}

/* OFTABLE_ND_REPLY: the advertisement put_nd_reply() made gets the
 * answering MAC (its Ethernet source by now) as target link-layer address
 * and goes back where the solicitation came from. */
static void
add_nd_reply_flows(uint64_t cookie, struct flow_buf *fb,
                   struct lb_flow_table *ft)
{
    ds_put_cstr(&fb->match, "icmp6,icmp_type=136,icmp_code=0");
    ds_put_cstr(&fb->actions,
                "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT");
    add_flow(ft, OFTABLE_ND_REPLY, PRIO_PORT, cookie, fb);
}

/* The ND responder's flows for 'target', owned by the port with key
 * 'owner_key' (0 for the switch's gateway) and MAC 'mac':
 *
 *   - a solicitation with a source link-layer address option is answered
 *     here, on the asker's chassis;
 *   - one without (duplicate address detection from ::, or a unicast
 *     probe without the option) goes on to L2 lookup, which sends it to
 *     the owner alone (add_nd_owner_flow());
 *   - the owner's own solicitations for its address are dropped: nobody
 *     else may hold it, so its DAD must succeed. */
static void
add_nd_responder_flows(uint32_t sw_key, uint32_t owner_key,
                       struct eth_addr mac, const struct in6_addr *target,
                       uint64_t cookie, struct flow_buf *fb,
                       struct lb_flow_table *ft)
{
    ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=135,"
                  "icmp_code=0,nd_target=", sw_key);
    put_ipv6(&fb->match, target);
    put_nd_reply(&fb->actions, mac, target, !owner_key);
    add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_PORT, cookie, fb);

    ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=135,"
                  "icmp_code=0,nd_target=", sw_key);
    put_ipv6(&fb->match, target);
    ds_put_cstr(&fb->match, ",nd_sll=00:00:00:00:00:00");
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_PORT_EXCEPTION, cookie, fb);

    if (owner_key) {
        ds_put_format(&fb->match, "metadata=%#"PRIx32","LB_REG_INPORT
                      "=%#"PRIx32",icmp6,icmp_type=135,nd_target=", sw_key,
                      owner_key);
        put_ipv6(&fb->match, target);
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_PORT_ND, cookie, fb);
    }
}

/* L2 lookup of a solicitation for 'target', whichever its destination MAC
 * (mostly the solicited-node group's): to port 'owner_key' alone, local or
 * through the tunnel, never flooded. */
static void
add_nd_owner_flow(uint32_t sw_key, uint32_t owner_key,
                  const struct in6_addr *target, uint64_t cookie,
                  struct flow_buf *fb, struct lb_flow_table *ft)
{
    ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=135,"
                  "nd_target=", sw_key);
    put_ipv6(&fb->match, target);
    ds_put_format(&fb->actions, "set_field:%#"PRIx32"->"LB_REG_OUTPORT
                  ",resubmit(,%d)", owner_key, OFTABLE_OUTPUT);
    add_flow(ft, OFTABLE_L2_LOOKUP, PRIO_PORT_EXCEPTION, cookie, fb);
}

/* The ND flows every chassis has for 'port's addresses. */
static void
add_port_flows6(const struct lb_port *port, const struct lb_switch *sw,
                struct flow_buf *fb, struct lb_flow_table *ft)
{
    if (!has_ipv6(port, sw)) {
        return;
    }
    uint64_t cookie = port_cookie(port, false);
    struct in6_addr addrs[LB_MAX_IPS + 1];
    size_t n = port_ipv6_addrs(port, addrs);
    for (size_t i = 0; i < n; i++) {
        add_nd_responder_flows(sw->tunnel_key, port->key, port->mac,
                               &addrs[i], cookie, fb, ft);
        add_nd_owner_flow(sw->tunnel_key, port->key, &addrs[i], cookie, fb,
                          ft);
    }
}

/* A switch's IPv6 flows: the gateway's addresses answered (its link-local
 * one, the source of router advertisements, always), router solicitations
 * to the agent, which answers with the switch's RA (agent-ra.c), and
 * solicitations for addresses nobody has dropped rather than flooded.
 *
 * A provider network's router is on the fabric: it owns the gateway's
 * addresses and sends the RAs, so the switch has no virtual gateway, a
 * solicitation goes to the fabric like any multicast, and one for an
 * address no port has goes out by the uplink (OFTABLE_PROVIDER_OUT takes
 * only what a local port sent). */
static void
add_switch_flows6(const struct lb_switch *sw, uint64_t cookie,
                  struct flow_buf *fb, struct lb_flow_table *ft)
{
    if (!sw->has_prefix6) {
        return;
    }
    if (sw->physnet) {
        ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=135",
                      sw->tunnel_key);
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_PROVIDER_OUT);
        add_flow(ft, OFTABLE_L2_LOOKUP, PRIO_SWITCH_TUNNEL, cookie, fb);
        return;
    }
    struct eth_addr gw_mac = lb_ipam_gateway6_mac(sw->tunnel_key);
    struct in6_addr gw[2];
    size_t n_gw = 0;
    in6_generate_lla(gw_mac, &gw[n_gw++]);
    if (!ipv6_is_zero(&sw->gateway6)) {
        gw[n_gw++] = sw->gateway6;
    }
    for (size_t i = 0; i < n_gw; i++) {
        add_nd_responder_flows(sw->tunnel_key, 0, gw_mac, &gw[i], cookie,
                               fb, ft);
    }

    /* Router solicitations go to the agent through each port's own flow
     * (add_local_port_flows6()); any other is dropped, never flooded. */
    ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=133,"
                  "icmp_code=0", sw->tunnel_key);
    ds_put_cstr(&fb->actions, "drop");
    add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_SWITCH, cookie, fb);

    ds_put_format(&fb->match, "metadata=%#"PRIx32",icmp6,icmp_type=135",
                  sw->tunnel_key);
    ds_put_cstr(&fb->actions, "drop");
    add_flow(ft, OFTABLE_L2_LOOKUP, PRIO_SWITCH_TUNNEL, cookie, fb);
}

/* OFTABLE_CLASSIFY and OFTABLE_PORT_SECURITY for a port bound here. */
static void
add_local_port_flows(const struct lb_pipeline_ctx *ctx,
                     const struct lb_port *port, const struct lb_switch *sw,
                     unsigned int ofport, struct flow_buf *fb,
                     struct lb_flow_table *ft)
{
    uint64_t cookie = port_cookie(port, false);

    ds_put_format(&fb->match, "in_port=%u", ofport);
    ds_put_format(&fb->actions, "set_field:%#"PRIx32"->metadata,"
                  "set_field:%#"PRIx32"->"LB_REG_INPORT",resubmit(,%d)",
                  sw->tunnel_key, port->key, OFTABLE_PORT_SECURITY);
    add_flow(ft, OFTABLE_CLASSIFY, PRIO_PORT, cookie, fb);

    if (blocked_here(ctx, port)) {
        /* The target copy of a migrating VM: drop everything, but hand its
         * own announcements to the agent, which activates the port.  Its
         * ordinary flows below stay installed underneath, shadowed by the
         * priority-150 drop, so that activating it removes these flows and
         * adds none: the fewer flow-mods in that bundle, the sooner the
         * switch has committed it (docs/pipeline.md). */
        uint64_t mcookie = port_cookie(port, true);
        /* The packet-ins are metered in the switch, so that whatever sends
         * on this port, or how fast, costs the agent at most 20 packet-ins
         * a second from it (a burst of 10 first).  A real VM needs one:
         * QEMU sends 5 RARPs over about 1.5 s after the VM resumes, and the
         * guest a GARP and an NA for each address after each, so 10 in a
         * burst lets the first round through whole, and 20/s is several
         * times the rest, while the first frame that passes activates the
         * port and takes these flows away.  One meter a port (the port's
         * key is its id, unique in the model): a flood from one port uses
         * only its own allowance, never another VM's.  A switch-wide
         * ceiling through OVS's "controller" meter would not apply to
         * these actions, which name their own meter, and would be shared
         * with every other controller of the bridge, so none is set. */
        lb_flow_table_add_meter(ft, port->key, mcookie,
                                LB_ANNOUNCE_METER_SPEC);

        if (self_activating(ctx, port)) {
            /* Behind its self-opening gate (port-gate.h), the copy's
             * traffic passes once its VM has resumed here: the RARP flow
             * below learns a flow in table 15 that sets bit 0 of
             * LB_REG_ACTIVATION for the copy's packets.  Each packet asks
             * table 15 once (bit 1), then comes back here: dropped below
             * if not activated, past these flows to the port's own if
             * activated. */
            ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32","
                          LB_REG_ACTIVATION"=0/0x2", port->key);
            ds_put_format(&fb->actions, "set_field:0x2/0x2->"
                          LB_REG_ACTIVATION",resubmit(,%d),resubmit(,%d)",
                          OFTABLE_ACTIVATED, OFTABLE_PORT_SECURITY);
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION, mcookie, fb);

            ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32","
                          LB_REG_ACTIVATION"=0x2/0x3", port->key);
            ds_put_cstr(&fb->actions, "drop");
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_HELD, mcookie,
                     fb);
        } else {
            ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32, port->key);
            ds_put_cstr(&fb->actions, "drop");
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION, mcookie, fb);
        }

        put_announcement_match(ctx, port, &fb->match);
        ds_put_format(&fb->match, "rarp,dl_src="ETH_ADDR_FMT",arp_op=3,"
                      "arp_sha="ETH_ADDR_FMT, ETH_ADDR_ARGS(port->mac),
                      ETH_ADDR_ARGS(port->mac));
        put_announcement_actions(ctx, port, true, &fb->actions);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                 mcookie, fb);

        for (size_t i = 0; i < port->n_ipv4; i++) {
            put_announcement_match(ctx, port, &fb->match);
            ds_put_format(&fb->match, "arp,dl_src="ETH_ADDR_FMT",arp_spa="
                          IP_FMT",arp_tpa="IP_FMT",arp_sha="ETH_ADDR_FMT,
                          ETH_ADDR_ARGS(port->mac), IP_ARGS(port->ipv4[i]),
                          IP_ARGS(port->ipv4[i]), ETH_ADDR_ARGS(port->mac));
            put_announcement_actions(ctx, port, false, &fb->actions);
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                     mcookie, fb);
        }
        add_blocked_port_flows6(ctx, port, mcookie, fb, ft);
    }

    /* Port security: the port's own MAC, and its own IPs for ARP and IP.
     * RARP carries no IP; its sender MAC must be the port's. */
    for (size_t i = 0; i < port->n_ipv4; i++) {
        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",arp,dl_src="
                      ETH_ADDR_FMT",arp_spa="IP_FMT",arp_sha="ETH_ADDR_FMT,
                      port->key, ETH_ADDR_ARGS(port->mac),
                      IP_ARGS(port->ipv4[i]), ETH_ADDR_ARGS(port->mac));
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_ARP_RESPONDER);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);

        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",ip,dl_src="
                      ETH_ADDR_FMT",nw_src="IP_FMT, port->key,
                      ETH_ADDR_ARGS(port->mac), IP_ARGS(port->ipv4[i]));
        ds_put_format(&fb->actions, "resubmit(,%d)",
                      policed(ctx, port) ? OFTABLE_POLICY_EGRESS_CT
                      : OFTABLE_L2_LOOKUP);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);
    }
    ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",rarp,dl_src="
                  ETH_ADDR_FMT",arp_sha="ETH_ADDR_FMT, port->key,
                  ETH_ADDR_ARGS(port->mac), ETH_ADDR_ARGS(port->mac));
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);

    add_local_port_flows6(port, sw, blocked_here(ctx, port), fb, ft);
}

/* The chassis that receive traffic sent to 'port': its main chassis, and
 * while it migrates also the target (mirroring), or only the target once
 * activated when mirroring is off. */
static size_t
port_destinations(const struct lb_port *port, const char *dsts[2])
{
    if (!port->chassis) {
        return 0;
    }
    if (!port->additional_chassis) {
        dsts[0] = port->chassis;
        return 1;
    }
    if (port->mirror) {
        dsts[0] = port->chassis;
        dsts[1] = port->additional_chassis;
        return 2;
    }
    dsts[0] = (port->additional_blocked ? port->chassis
               : port->additional_chassis);
    return 1;
}

void
lb_pipeline_put_arp_reply(struct ds *actions, struct eth_addr mac,
                          ovs_be32 ip)
{
    ds_put_format(actions,
                  "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                  "set_field:"ETH_ADDR_FMT"->eth_src,"
                  "set_field:2->arp_op,"
                  "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                  "set_field:"ETH_ADDR_FMT"->arp_sha,"
                  "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                  "set_field:"IP_FMT"->arp_spa,"
                  "IN_PORT",
                  ETH_ADDR_ARGS(mac), ETH_ADDR_ARGS(mac), IP_ARGS(ip));
}

/* Flows that every chassis has for 'port': ARP responder, L2 lookup and
 * output. */
static void
add_port_flows(const struct lb_pipeline_ctx *ctx, const struct lb_port *port,
               struct flow_buf *fb, struct lb_flow_table *ft)
{
    const struct lb_switch *sw = lb_model_find_switch(ctx->model,
                                                      port->switch_name);
    if (!sw || !port->chassis) {
        return;
    }
    uint64_t cookie = port_cookie(port, false);

    unsigned int ofport = local_ofport(ctx, port);
    if (ofport) {
        add_local_port_flows(ctx, port, sw, ofport, fb, ft);
        /* Also on the blocked copy of a migration target: its policy is
         * staged before the VM runs there. */
        if (ctx->policy) {
            lb_policy_local_port_flows(ctx->policy, port, ofport, ft);
            if (ctx->ct_handover) {
                lb_policy_handover_flows(ctx->policy, port, sw->tunnel_key,
                                         ofport, ctx->chassis,
                                         ctx->tunnel_ofports, ft);
                lb_policy_admit_port_flows(ctx->policy, port, sw->tunnel_key,
                                           ofport, ctx->chassis,
                                           ctx->tunnel_ofports, ft);
            }
        }
        if (sw->physnet) {
            lb_provider_local_port_flows(ctx, port, sw, ft);
        }
    }

    for (size_t i = 0; i < port->n_ipv4; i++) {
        /* The port's own ARP requests for its IP (gratuitous ARP, probes)
         * pass through as broadcast; everyone else's are answered. */
        ds_put_format(&fb->match, "metadata=%#"PRIx32","LB_REG_INPORT
                      "=%#"PRIx32",arp,arp_op=1,arp_tpa="IP_FMT,
                      sw->tunnel_key, port->key, IP_ARGS(port->ipv4[i]));
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
        add_flow(ft, OFTABLE_ARP_RESPONDER, PRIO_PORT_EXCEPTION, cookie, fb);

        ds_put_format(&fb->match, "metadata=%#"PRIx32",arp,arp_op=1,arp_tpa="
                      IP_FMT, sw->tunnel_key, IP_ARGS(port->ipv4[i]));
        lb_pipeline_put_arp_reply(&fb->actions, port->mac, port->ipv4[i]);
        add_flow(ft, OFTABLE_ARP_RESPONDER, PRIO_PORT, cookie, fb);
    }

    add_port_flows6(port, sw, fb, ft);
    lb_gateway_port_flows(ctx, port, sw, ft);

    ds_put_format(&fb->match, "metadata=%#"PRIx32",dl_dst="ETH_ADDR_FMT,
                  sw->tunnel_key, ETH_ADDR_ARGS(port->mac));
    ds_put_format(&fb->actions, "set_field:%#"PRIx32"->"LB_REG_OUTPORT
                  ",resubmit(,%d)", port->key, OFTABLE_OUTPUT);
    add_flow(ft, OFTABLE_L2_LOOKUP, PRIO_PORT, cookie, fb);

    /* Output: to every chassis that should receive the port's traffic.
     * Packets from a tunnel (reg14=0) go to local copies only. */
    const char *dsts[2];
    size_t n_dsts = port_destinations(port, dsts);
    bool mig = migrating(port);
    struct ds local = DS_EMPTY_INITIALIZER;
    bool tun_id_set = false;
    bool any_tunnel = false;
    for (size_t i = 0; i < n_dsts; i++) {
        if (!strcmp(dsts[i], ctx->chassis)) {
            if (ofport && (!blocked_here(ctx, port) || gated(ctx, port))) {
                /* A blocked copy behind its closed gate gets what an
                 * active one gets, so that what the datapath caches for it
                 * is already right when the gate opens. */
                if (policed(ctx, port)) {
                    ds_put_format(&local, "resubmit(,%d),",
                                  OFTABLE_POLICY_INGRESS_CT);
                } else {
                    ds_put_format(&local, "output:%u,", ofport);
                }
            } else if (ofport && ctx->policy && ctx->ct_handover) {
                ds_put_cstr(&local, lb_policy_blocked_delivery(ctx->policy,
                                                               port));
            }
        } else {
            unsigned int tun = simap_get(ctx->tunnel_ofports, dsts[i]);
            if (tun) {
                put_tunnel_output(&fb->actions, sw->tunnel_key, tun,
                                  &tun_id_set);
                any_tunnel = true;
            }
        }
    }
    if (sw->physnet) {
        lb_provider_port_output_flows(ctx, port, sw, ds_cstr(&local),
                                      ds_cstr(&fb->actions), ft);
        flow_buf_clear(fb);
        ds_destroy(&local);
        return;
    }
    ds_put_format(&fb->match, "metadata=%#"PRIx32","LB_REG_OUTPORT"=%#"PRIx32,
                  sw->tunnel_key, port->key);
    struct ds all = DS_EMPTY_INITIALIZER;
    ds_append(&all, &local);
    ds_append(&all, &fb->actions);
    ds_swap(&all, &fb->actions);
    ds_destroy(&all);
    finish_actions(&fb->actions);
    add_flow(ft, OFTABLE_OUTPUT, mig ? PRIO_MIGRATION : PRIO_PORT,
             port_cookie(port, mig), fb);

    if (any_tunnel) {
        ds_put_format(&fb->match, "metadata=%#"PRIx32","LB_REG_INPORT"=0,"
                      LB_REG_OUTPORT"=%#"PRIx32, sw->tunnel_key, port->key);
        ds_append(&fb->actions, &local);
        finish_actions(&fb->actions);
        add_flow(ft, OFTABLE_OUTPUT,
                 mig ? PRIO_MIGRATION_EXCEPTION : PRIO_PORT_EXCEPTION,
                 port_cookie(port, mig), fb);
    }
    ds_destroy(&local);
}

static int
compare_uints(const void *a_, const void *b_)
{
    const unsigned int *a = a_;
    const unsigned int *b = b_;
    return *a < *b ? -1 : *a > *b;
}

/* A local port of a switch's flood: its ofport, and its key if a
 * NetworkPolicy isolates it (0 if not). */
struct flood_port {
    unsigned int ofport;
    uint32_t policed_key;
};

static int
compare_flood_ports(const void *a_, const void *b_)
{
    const struct flood_port *a = a_, *b = b_;
    return a->ofport < b->ofport ? -1 : a->ofport > b->ofport;
}

/* Broadcast and multicast in 'sw': to its local ports and, when it came
 * from a local port, to the other chassis that bind a port of 'sw'. */
static void
add_switch_flows(const struct lb_pipeline_ctx *ctx, const struct lb_switch *sw,
                 struct flow_buf *fb, struct lb_flow_table *ft)
{
    uint64_t cookie = lb_cookie(LB_COOKIE_SWITCH, sw->tunnel_key, false);
    size_t n_local = 0, n_tun = 0, alloc_local = 0, alloc_tun = 0;
    struct flood_port *locals = NULL;
    unsigned int *tunnels = NULL;

    /* Local ports: walk this chassis's interfaces, not every port. */
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ctx->iface_ofports) {
        const struct lb_port *port = lb_model_find_port(ctx->model,
                                                        sn->name);
        if (!port || port->sw != sw || !port->chassis
            || !local_ofport(ctx, port) || blocked_here(ctx, port)) {
            continue;
        }
        if (n_local >= alloc_local) {
            locals = x2nrealloc(locals, &alloc_local, sizeof *locals);
        }
        locals[n_local++] = (struct flood_port) {
            .ofport = sn->data,
            .policed_key = policed(ctx, port) ? port->key : 0,
        };
    }

    /* Remote chassis that bind a port of this switch. */
    SIMAP_FOR_EACH (sn, &sw->chassis_refs) {
        unsigned int tun = (strcmp(sn->name, ctx->chassis)
                            ? simap_get(ctx->tunnel_ofports, sn->name) : 0);
        if (tun) {
            if (n_tun >= alloc_tun) {
                tunnels = x2nrealloc(tunnels, &alloc_tun, sizeof *tunnels);
            }
            tunnels[n_tun++] = tun;
        }
    }

    /* Sorted and unique, so that the same model gives the same actions
     * whatever the hash order. */
    if (n_local) {
        qsort(locals, n_local, sizeof *locals, compare_flood_ports);
    }
    if (n_tun) {
        qsort(tunnels, n_tun, sizeof *tunnels, compare_uints);
    }

    /* A port that a NetworkPolicy isolates gets broadcast and multicast
     * through its ingress policy, as it gets unicast (table 40): a peer
     * that may not reach it must not do so by sending to 255.255.255.255
     * or a multicast group.  Non-IP (ARP) and neighbour discovery pass
     * that policy untouched. */
    struct ds local = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n_local; i++) {
        if (locals[i].policed_key) {
            ds_put_format(&local, "set_field:%#"PRIx32"->"LB_REG_OUTPORT
                          ",resubmit(,%d),", locals[i].policed_key,
                          OFTABLE_POLICY_INGRESS_CT);
        } else {
            ds_put_format(&local, "output:%u,", locals[i].ofport);
        }
    }

    if (sw->physnet) {
        /* A provider network floods through the fabric, not tunnels. */
        lb_provider_switch_flows(ctx, sw, ds_cstr(&local), ft);
    } else {
        ds_put_format(&fb->match, "metadata=%#"PRIx32, sw->tunnel_key);
        ds_append(&fb->actions, &local);
        bool tun_id_set = false;
        for (size_t i = 0; i < n_tun; i++) {
            if (!i || tunnels[i] != tunnels[i - 1]) {
                put_tunnel_output(&fb->actions, sw->tunnel_key, tunnels[i],
                                  &tun_id_set);
            }
        }
        finish_actions(&fb->actions);
        add_flow(ft, OFTABLE_FLOOD, PRIO_SWITCH, cookie, fb);

        /* A RARP is for L2 tables: an endpoint's kernel drops it unread,
         * and a VM keeps its MAC, so no pod's neighbour or bridge table
         * changes when one moves.  On an overlay the only L2 tables are
         * these flows, which place every MAC already, so it goes nowhere
         * from here; flooded, 100 VMs' cutovers (QEMU's five RARPs each,
         * and the agents') cost each node's switch a copy per pod per
         * RARP, and the VMs' traffic waited behind them (tests/bench/
         * README.md).  Its job at the cutover is done by then: the target
         * activated its copy on it (table 10).  A provider switch sends
         * it to the fabric only (pipeline-provider.c). */
        ds_put_format(&fb->match, "metadata=%#"PRIx32",rarp",
                      sw->tunnel_key);
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, OFTABLE_FLOOD, PRIO_SWITCH_RARP, cookie, fb);
    }

    ds_put_format(&fb->match, "metadata=%#"PRIx32","LB_REG_INPORT"=0",
                  sw->tunnel_key);
    ds_append(&fb->actions, &local);
    finish_actions(&fb->actions);
    add_flow(ft, OFTABLE_FLOOD, PRIO_SWITCH_TUNNEL, cookie, fb);

    ds_put_format(&fb->match, "metadata=%#"PRIx32
                  ",dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
                  sw->tunnel_key);
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_FLOOD);
    add_flow(ft, OFTABLE_L2_LOOKUP, PRIO_SWITCH, cookie, fb);

    add_switch_flows6(sw, cookie, fb, ft);

    ds_destroy(&local);
    free(locals);
    free(tunnels);
}

/* Packets from each remote chassis enter the switch named by the tunnel
 * key, with no logical input port (reg14=0), straight to L2 lookup: port
 * security and ARP answers were done on the sending chassis. */
static void
add_chassis_flows(const struct lb_pipeline_ctx *ctx, struct flow_buf *fb,
                  struct lb_flow_table *ft)
{
    const struct lb_chassis *ch;
    HMAP_FOR_EACH (ch, node, &ctx->model->chassis) {
        unsigned int tun = simap_get(ctx->tunnel_ofports, ch->name);
        if (!tun || !strcmp(ch->name, ctx->chassis)) {
            continue;
        }
        ds_put_format(&fb->match, "in_port=%u", tun);
        ds_put_format(&fb->actions,
                      "move:NXM_NX_TUN_ID[0..23]->OXM_OF_METADATA[0..23],"
                      "resubmit(,%d)", OFTABLE_L2_LOOKUP);
        add_flow(ft, OFTABLE_CLASSIFY, PRIO_PORT,
                 lb_cookie(LB_COOKIE_CHASSIS, hash_string(ch->name, 0),
                           false), fb);
    }
}

static void
add_default_flows(struct flow_buf *fb, struct lb_flow_table *ft)
{
    static const uint8_t drop_tables[] = {
        OFTABLE_CLASSIFY, OFTABLE_PORT_SECURITY, OFTABLE_ND_REPLY,
        OFTABLE_L2_LOOKUP, OFTABLE_OUTPUT, OFTABLE_FLOOD,
    };
    uint64_t cookie = lb_cookie(LB_COOKIE_GLOBAL, 0, false);

    for (size_t i = 0; i < ARRAY_SIZE(drop_tables); i++) {
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, drop_tables[i], PRIO_TABLE_MISS, cookie, fb);
    }
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_ARP_RESPONDER, PRIO_TABLE_MISS, cookie, fb);
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_ND_RESPONDER, PRIO_TABLE_MISS, cookie, fb);
    add_nd_reply_flows(cookie, fb, ft);
}

void
lb_pipeline_compute(const struct lb_pipeline_ctx *ctx,
                    struct lb_flow_table *ft)
{
    struct flow_buf fb;
    flow_buf_init(&fb);

    lb_flow_table_clear(ft);
    add_default_flows(&fb, ft);
    lb_provider_default_flows(ctx, ft);
    if (ctx->policy) {
        lb_policy_put_flows(ctx->policy, ft);
        if (ctx->ct_handover) {
            lb_policy_admit_default_flows(ft);
        }
    }
    lb_gateway_default_flows(ctx, ft);
    add_chassis_flows(ctx, &fb, ft);

    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &ctx->model->switches) {
        add_switch_flows(ctx, sw, &fb, ft);
        /* Not in add_switch_flows(): they do not depend on the switch's
         * ports, so a port's update leaves them be. */
        lb_gateway_switch_flows(ctx, sw, ft);
    }
    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &ctx->model->ports) {
        add_port_flows(ctx, port, &fb, ft);
    }
    flow_buf_destroy(&fb);
}

void
lb_pipeline_update_port(const struct lb_pipeline_ctx *ctx,
                        const char *port_name, uint32_t old_key,
                        const char *old_switch, struct lb_flow_table *ft)
{
    struct flow_buf fb;
    flow_buf_init(&fb);

    /* The port's and its switches' flows are computed anew into 'scratch'
     * and replace those with the same cookies in 'ft', so that only what
     * really changed is tracked: on a VM's activation, that is the bundle
     * the resumed VM waits for. */
    struct lb_flow_table scratch;
    lb_flow_table_init(&scratch);
    uint64_t cookies[4];
    size_t n_cookies = 0;
    if (old_key) {
        cookies[n_cookies++] = lb_cookie(LB_COOKIE_PORT, old_key, false);
        cookies[n_cookies++] = lb_cookie(LB_COOKIE_PORT, old_key, true);
    }

    const struct lb_port *port = lb_model_find_port(ctx->model, port_name);
    if (port) {
        add_port_flows(ctx, port, &fb, &scratch);
    }

    /* The port's switch(es) flood to a different set of ports now. */
    const char *switches[2] = { old_switch, port ? port->switch_name : NULL };
    for (size_t i = 0; i < 2; i++) {
        if (!switches[i] || (i && old_switch
                             && !strcmp(switches[0], switches[1]))) {
            continue;
        }
        const struct lb_switch *sw = lb_model_find_switch(ctx->model,
                                                          switches[i]);
        if (sw) {
            cookies[n_cookies++] = lb_cookie(LB_COOKIE_SWITCH,
                                             sw->tunnel_key, false);
            add_switch_flows(ctx, sw, &fb, &scratch);
        }
    }
    lb_flow_table_replace_cookies(ft, &scratch, cookies, n_cookies);
    lb_flow_table_destroy(&scratch);
    flow_buf_destroy(&fb);
}
