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
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline-provider.h"
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
         * own announcements to the agent, which activates the port. */
        uint64_t mcookie = port_cookie(port, true);
        char to_agent[80];
        snprintf(to_agent, sizeof to_agent,
                 "controller(userdata=%02x.%02x.%02x.%02x,meter_id=%"PRIu32
                 ")", (LB_PIN_ANNOUNCE >> 24) & 0xff,
                 (LB_PIN_ANNOUNCE >> 16) & 0xff,
                 (LB_PIN_ANNOUNCE >> 8) & 0xff, LB_PIN_ANNOUNCE & 0xff,
                 port->key);

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

        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32, port->key);
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION, mcookie, fb);

        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",rarp,dl_src="
                      ETH_ADDR_FMT",arp_sha="ETH_ADDR_FMT, port->key,
                      ETH_ADDR_ARGS(port->mac), ETH_ADDR_ARGS(port->mac));
        ds_put_cstr(&fb->actions, to_agent);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                 mcookie, fb);

        for (size_t i = 0; i < port->n_ipv4; i++) {
            ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",arp,dl_src="
                          ETH_ADDR_FMT",arp_spa="IP_FMT",arp_tpa="IP_FMT
                          ",arp_sha="ETH_ADDR_FMT, port->key,
                          ETH_ADDR_ARGS(port->mac), IP_ARGS(port->ipv4[i]),
                          IP_ARGS(port->ipv4[i]), ETH_ADDR_ARGS(port->mac));
            ds_put_cstr(&fb->actions, to_agent);
            add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                     mcookie, fb);
        }

        ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",icmp6,dl_src="
                      ETH_ADDR_FMT",icmp_type=136,icmp_code=0", port->key,
                      ETH_ADDR_ARGS(port->mac));
        ds_put_cstr(&fb->actions, to_agent);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION_EXCEPTION,
                 mcookie, fb);
        return;
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
        ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
        add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);
    }
    ds_put_format(&fb->match, LB_REG_INPORT"=%#"PRIx32",rarp,dl_src="
                  ETH_ADDR_FMT",arp_sha="ETH_ADDR_FMT, port->key,
                  ETH_ADDR_ARGS(port->mac), ETH_ADDR_ARGS(port->mac));
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_PORT_SECURITY, PRIO_PORT, cookie, fb);
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
        ds_put_format(&fb->actions,
                      "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                      "set_field:"ETH_ADDR_FMT"->eth_src,"
                      "set_field:2->arp_op,"
                      "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                      "set_field:"ETH_ADDR_FMT"->arp_sha,"
                      "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                      "set_field:"IP_FMT"->arp_spa,"
                      "IN_PORT",
                      ETH_ADDR_ARGS(port->mac), ETH_ADDR_ARGS(port->mac),
                      IP_ARGS(port->ipv4[i]));
        add_flow(ft, OFTABLE_ARP_RESPONDER, PRIO_PORT, cookie, fb);
    }

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
            if (ofport && !blocked_here(ctx, port)) {
                ds_put_format(&local, "output:%u,", ofport);
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

/* Broadcast and multicast in 'sw': to its local ports and, when it came
 * from a local port, to the other chassis that bind a port of 'sw'. */
static void
add_switch_flows(const struct lb_pipeline_ctx *ctx, const struct lb_switch *sw,
                 struct flow_buf *fb, struct lb_flow_table *ft)
{
    uint64_t cookie = lb_cookie(LB_COOKIE_SWITCH, sw->tunnel_key, false);
    size_t n_local = 0, n_tun = 0, alloc_local = 0, alloc_tun = 0;
    unsigned int *locals = NULL, *tunnels = NULL;

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
        locals[n_local++] = sn->data;
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
        qsort(locals, n_local, sizeof *locals, compare_uints);
    }
    if (n_tun) {
        qsort(tunnels, n_tun, sizeof *tunnels, compare_uints);
    }

    struct ds local = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n_local; i++) {
        ds_put_format(&local, "output:%u,", locals[i]);
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
        OFTABLE_CLASSIFY, OFTABLE_PORT_SECURITY, OFTABLE_L2_LOOKUP,
        OFTABLE_OUTPUT, OFTABLE_FLOOD,
    };
    uint64_t cookie = lb_cookie(LB_COOKIE_GLOBAL, 0, false);

    for (size_t i = 0; i < ARRAY_SIZE(drop_tables); i++) {
        ds_put_cstr(&fb->actions, "drop");
        add_flow(ft, drop_tables[i], PRIO_TABLE_MISS, cookie, fb);
    }
    ds_put_format(&fb->actions, "resubmit(,%d)", OFTABLE_L2_LOOKUP);
    add_flow(ft, OFTABLE_ARP_RESPONDER, PRIO_TABLE_MISS, cookie, fb);
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
    add_chassis_flows(ctx, &fb, ft);

    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &ctx->model->switches) {
        add_switch_flows(ctx, sw, &fb, ft);
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

    if (old_key) {
        lb_flow_table_remove_cookie(ft, lb_cookie(LB_COOKIE_PORT, old_key,
                                                  false));
        lb_flow_table_remove_cookie(ft, lb_cookie(LB_COOKIE_PORT, old_key,
                                                  true));
    }

    const struct lb_port *port = lb_model_find_port(ctx->model, port_name);
    if (port) {
        add_port_flows(ctx, port, &fb, ft);
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
            lb_flow_table_remove_cookie(
                ft, lb_cookie(LB_COOKIE_SWITCH, sw->tunnel_key, false));
            add_switch_flows(ctx, sw, &fb, ft);
        }
    }
    flow_buf_destroy(&fb);
}
