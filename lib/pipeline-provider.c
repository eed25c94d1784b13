/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Provider networks: a logical switch that is a VLAN (or the untagged
 * segment) of a physical network.  Its ports send and receive through the
 * node's uplink, like ports of an OVN logical switch with a localnet port:
 *
 *   - From the uplink (OFTABLE_CLASSIFY): frames of the switch's VLAN lose
 *     the tag and enter the switch with reg14 = LB_INPORT_PHYSNET, straight
 *     to L2 lookup.  Not to the ARP responder: every node receives the
 *     fabric's broadcasts, so every node answering would send the VM's MAC
 *     from nodes that do not host it and teach the fabric a wrong place.
 *     The VM answers its own ARP.  They reach only local copies: each node
 *     gets the fabric's frames on its own uplink.
 *
 *   - To the uplink (OFTABLE_PROVIDER_OUT): a local port's frames to a port
 *     bound elsewhere, to an unknown MAC (the router, external hosts) and
 *     broadcasts get the tag and leave by the uplink, never by a tunnel.
 *     Frames from the uplink or from a tunnel never go back to it.
 *
 *   - While a port migrates, it is reached through tunnels, as OVN forces
 *     a multichassis port's traffic through tunnels: every node sends to
 *     both copies, and the main (source) chassis relays what the fabric
 *     sends it to the target as well, so the target copy has the traffic
 *     the instant it is unblocked.  Nothing from the blocked target copy
 *     reaches the uplink (port security drops it, announcements go to the
 *     agent); once activated, the agent's RARP/GARP leave the target's
 *     uplink through the flood flow, and the source copy may no longer
 *     send: the fabric must not learn the VM's MAC back at the source. */

#include <config.h>
#include "pipeline-provider.h"

#include <string.h>
#include "cookie.h"
#include "flow-table.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline.h"
#include "simap.h"

/* The uplink's ofport on br-int for 'sw' on this chassis: the patch port
 * to the bridge of the switch's physical network, or 0 if 'sw' is not a
 * provider network or this chassis has no mapping for it. */
unsigned int
lb_provider_uplink(const struct lb_pipeline_ctx *ctx,
                   const struct lb_switch *sw)
{
    if (!sw->physnet || !ctx->physnet_ofports) {
        return 0;
    }
    return simap_get(ctx->physnet_ofports, sw->physnet);
}

static void
add(struct lb_flow_table *ft, uint8_t table, uint16_t priority,
    uint64_t cookie, struct ds *match, struct ds *actions)
{
    if (!actions->length) {
        ds_put_cstr(actions, "drop");
    }
    ds_chomp(actions, ',');
    lb_flow_table_add(ft, table, priority, cookie, ds_cstr(match),
                      ds_cstr(actions));
    ds_clear(match);
    ds_clear(actions);
}

/* The table miss of OFTABLE_PROVIDER_OUT, when there is a provider
 * switch. */
void
lb_provider_default_flows(const struct lb_pipeline_ctx *ctx,
                          struct lb_flow_table *ft)
{
    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &ctx->model->switches) {
        if (sw->physnet) {
            lb_flow_table_add(ft, OFTABLE_PROVIDER_OUT, PRIO_TABLE_MISS,
                              lb_cookie(LB_COOKIE_GLOBAL, 0, false), "",
                              "drop");
            return;
        }
    }
}

/* Per provider switch: classification of the uplink's frames, the way out
 * to the uplink, unknown unicast, and flooding.  'local_outputs' is the
 * "output:N," list of the switch's local ports that receive broadcasts. */
void
lb_provider_switch_flows(const struct lb_pipeline_ctx *ctx,
                         const struct lb_switch *sw,
                         const char *local_outputs,
                         struct lb_flow_table *ft)
{
    uint64_t cookie = lb_cookie(LB_COOKIE_SWITCH, sw->tunnel_key, false);
    unsigned int uplink = lb_provider_uplink(ctx, sw);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    if (uplink) {
        if (sw->vlan) {
            ds_put_format(&match, "in_port=%u,dl_vlan=%u", uplink,
                          sw->vlan);
            ds_put_cstr(&actions, "pop_vlan,");
        } else {
            ds_put_format(&match, "in_port=%u,vlan_tci=0x0000/0x1000",
                          uplink);
        }
        ds_put_format(&actions, "set_field:%#"PRIx32"->metadata,"
                      "set_field:%#"PRIx32"->"LB_REG_INPORT",resubmit(,%d)",
                      sw->tunnel_key, LB_INPORT_PHYSNET, OFTABLE_L2_LOOKUP);
        add(ft, OFTABLE_CLASSIFY, PRIO_PORT, cookie, &match, &actions);

        /* Out to the fabric: only what a local port sent. */
        ds_put_format(&match, "metadata=%#"PRIx32, sw->tunnel_key);
        if (sw->vlan) {
            ds_put_format(&actions, "push_vlan:0x8100,"
                          "set_field:%u->vlan_vid,", 0x1000 | sw->vlan);
        }
        ds_put_format(&actions, "output:%u", uplink);
        add(ft, OFTABLE_PROVIDER_OUT, PRIO_SWITCH, cookie, &match,
            &actions);

        const uint32_t not_local[] = { 0, LB_INPORT_PHYSNET };
        for (size_t i = 0; i < ARRAY_SIZE(not_local); i++) {
            ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_INPORT"=%#"
                          PRIx32, sw->tunnel_key, not_local[i]);
            add(ft, OFTABLE_PROVIDER_OUT, PRIO_SWITCH_TUNNEL, cookie,
                &match, &actions);
        }

        /* The router and hosts outside the cluster: their MACs are not
         * ports of the switch. */
        ds_put_format(&match, "metadata=%#"PRIx32, sw->tunnel_key);
        ds_put_format(&actions, "resubmit(,%d)", OFTABLE_PROVIDER_OUT);
        add(ft, OFTABLE_L2_LOOKUP, PRIO_SWITCH_UNKNOWN, cookie, &match,
            &actions);
    }

    /* Broadcast from a local port: local ports and the fabric, which
     * carries it to the other nodes; no tunnels.  The uplink comes last:
     * its VLAN push must not reach the local outputs. */
    ds_put_format(&match, "metadata=%#"PRIx32, sw->tunnel_key);
    ds_put_cstr(&actions, local_outputs);
    if (uplink) {
        ds_put_format(&actions, "resubmit(,%d)", OFTABLE_PROVIDER_OUT);
    }
    add(ft, OFTABLE_FLOOD, PRIO_SWITCH, cookie, &match, &actions);

    /* A RARP from a local port: to the fabric only, whose switches'
     * tables it is for (an endpoint drops it unread; see pipeline.c).
     * From the fabric, it reaches no pod either. */
    ds_put_format(&match, "metadata=%#"PRIx32",rarp", sw->tunnel_key);
    if (uplink) {
        ds_put_format(&actions, "resubmit(,%d)", OFTABLE_PROVIDER_OUT);
    } else {
        ds_put_cstr(&actions, "drop");
    }
    add(ft, OFTABLE_FLOOD, PRIO_SWITCH_RARP, cookie, &match, &actions);

    /* Broadcast from the fabric: local ports only. */
    ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_INPORT"=%#"PRIx32,
                  sw->tunnel_key, LB_INPORT_PHYSNET);
    ds_put_cstr(&actions, local_outputs);
    add(ft, OFTABLE_FLOOD, PRIO_SWITCH_TUNNEL, cookie, &match, &actions);

    ds_destroy(&match);
    ds_destroy(&actions);
}

/* Port security additions for a port of a provider switch bound here. */
void
lb_provider_local_port_flows(const struct lb_pipeline_ctx *ctx,
                             const struct lb_port *port,
                             const struct lb_switch *sw,
                             struct lb_flow_table *ft)
{
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    /* A VM's own 802.1Q tag would let it reach other VLANs through the
     * uplink's trunk. */
    ds_put_format(&match, LB_REG_INPORT"=%#"PRIx32",vlan_tci=0x1000/0x1000",
                  port->key);
    add(ft, OFTABLE_PORT_SECURITY, PRIO_PORT_EXCEPTION,
        lb_cookie(LB_COOKIE_PORT, port->key, false), &match, &actions);

    /* The source copy once the target is activated: the VM runs there now,
     * and a late frame from here would move the fabric's MAC entry back. */
    if (lb_port_is_migrating(port) && !port->additional_blocked
        && port->chassis && !strcmp(port->chassis, ctx->chassis)) {
        ds_put_format(&match, LB_REG_INPORT"=%#"PRIx32, port->key);
        add(ft, OFTABLE_PORT_SECURITY, PRIO_MIGRATION,
            lb_cookie(LB_COOKIE_PORT, port->key, true), &match, &actions);
    }
    (void) sw;
    ds_destroy(&match);
    ds_destroy(&actions);
}

/* OFTABLE_OUTPUT for a port of a provider switch.  'local_outputs' is the
 * "output:N," to the port's copy here, if it receives; 'tunnel_outputs'
 * the tunnel outputs to its other destinations (with the tun_id). */
void
lb_provider_port_output_flows(const struct lb_pipeline_ctx *ctx,
                              const struct lb_port *port,
                              const struct lb_switch *sw,
                              const char *local_outputs,
                              const char *tunnel_outputs,
                              struct lb_flow_table *ft)
{
    bool mig = lb_port_is_migrating(port);
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, mig);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    /* From a local port (and, harmlessly, from a tunnel: the uplink's
     * table drops those). */
    ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_OUTPORT"=%#"PRIx32,
                  sw->tunnel_key, port->key);
    if (mig) {
        ds_put_format(&actions, "%s%s", local_outputs, tunnel_outputs);
    } else if (!strcmp(port->chassis, ctx->chassis)) {
        ds_put_cstr(&actions, local_outputs);
    } else if (lb_provider_uplink(ctx, sw)) {
        ds_put_format(&actions, "resubmit(,%d)", OFTABLE_PROVIDER_OUT);
    }
    add(ft, OFTABLE_OUTPUT, mig ? PRIO_MIGRATION : PRIO_PORT, cookie,
        &match, &actions);

    /* From a tunnel: the local copy only. */
    if (mig) {
        ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_INPORT"=0,"
                      LB_REG_OUTPORT"=%#"PRIx32, sw->tunnel_key, port->key);
        ds_put_cstr(&actions, local_outputs);
        add(ft, OFTABLE_OUTPUT, PRIO_MIGRATION_EXCEPTION, cookie, &match,
            &actions);
    }

    /* From the fabric: the local copy, and while the port migrates the
     * main chassis relays to the other copy, where the fabric does not
     * send (yet). */
    ds_put_format(&match, "metadata=%#"PRIx32","LB_REG_INPORT"=%#"PRIx32","
                  LB_REG_OUTPORT"=%#"PRIx32, sw->tunnel_key,
                  LB_INPORT_PHYSNET, port->key);
    ds_put_cstr(&actions, local_outputs);
    if (mig && !strcmp(port->chassis, ctx->chassis)) {
        ds_put_cstr(&actions, tunnel_outputs);
    }
    add(ft, OFTABLE_OUTPUT, mig ? PRIO_MIGRATION_EXCEPTION
        : PRIO_PORT_EXCEPTION, cookie, &match, &actions);

    ds_destroy(&match);
    ds_destroy(&actions);
}
