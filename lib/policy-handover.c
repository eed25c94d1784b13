/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Conntrack handover of a migrating, policed VM (docs/policy.md).
 *
 * The target's conntrack must know the VM's connections before the VM runs
 * there, or it judges the first reply of each as a new inbound connection
 * (which a default-deny ingress policy drops).  It learns them from the
 * data plane itself, the only channel there is besides the Kubernetes API:
 *
 *   - on the source (main chassis), every IP packet the VM sends, and
 *     every one sent to it, that its conntrack admitted (established, or
 *     new and allowed by the rules) also goes, as a copy, to the target
 *     through the tunnel with the "conntrack sync" bit (LB_TUN_CT_SYNC) in
 *     the Geneve VNI: the source's verdict travels with the copy;
 *   - the target commits those copies into the VM's conntrack zone, and
 *     delivers them nowhere;
 *   - the mirrored copies of traffic to the VM, which the blocked target
 *     drops, first go through the same zone without a commit, so that the
 *     connections' state (the TCP handshake and windows) follows.
 *
 * The replies to the VM are then "established" on the target the instant
 * it is unblocked.  A connection idle all through the mirroring is handed
 * over by its first packet after the cutover: mirroring goes on until the
 * migration completes, so the source still sees it, judges it by its
 * conntrack, and sends the target the copy that admits its
 * retransmission.  One still idle when the migration completes is
 * admitted by its exact tuple instead (policy-admit.c).  Only the
 * migrating port's zone is written, only with packets from its own MAC
 * that came through the tunnel from its main chassis; the entries are the
 * VM's own connections, and age out with them.  Pure, like pipeline.c. */

#include <config.h>
#include "policy.h"

#include <string.h>
#include "cookie.h"
#include "flow-table.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "simap.h"
#include "util.h"

void
lb_policy_handover_flows(const struct lb_policy_engine *e,
                         const struct lb_port *port, uint32_t switch_key,
                         unsigned int ofport, const char *chassis,
                         const struct simap *tunnel_ofports,
                         struct lb_flow_table *ft)
{
    if (!lb_port_is_migrating(port) || !port->mirror
        || !lb_policy_port_isolated(e, port->name)) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, true);
    uint32_t sync_key = switch_key | LB_TUN_CT_SYNC;
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    if (!strcmp(port->chassis, chassis)) {
        /* The source: what the VM's conntrack admits, also to the
         * target. */
        unsigned int tun = simap_get(tunnel_ofports,
                                     port->additional_chassis);
        if (tun) {
            static const struct {
                const char *reg;
                uint8_t rules, commit, next;
            } ways[] = {
                { LB_REG_INPORT, OFTABLE_POLICY_EGRESS,
                  OFTABLE_POLICY_EGRESS_COMMIT, OFTABLE_L2_LOOKUP },
                { LB_REG_OUTPORT, OFTABLE_POLICY_INGRESS,
                  OFTABLE_POLICY_INGRESS_COMMIT, OFTABLE_POLICY_INGRESS_OUT },
            };
            for (size_t w = 0; w < ARRAY_SIZE(ways); w++) {
                ds_put_format(&match, "ct_state=-new+est+trk,%s=%#"PRIx32,
                              ways[w].reg, port->key);
                ds_put_format(&actions, "clone(set_field:%#"PRIx32
                              "->tun_id,output:%u),resubmit(,%d)", sync_key,
                              tun, ways[w].next);
                lb_flow_table_add_ds(ft, ways[w].rules, PRIO_POLICY_SYNC,
                                     cookie, &match, &actions);
                for (int v6 = 0; v6 < 2; v6++) {
                    ds_put_format(&match, "%s,%s=%#"PRIx32,
                                  v6 ? "ipv6" : "ip", ways[w].reg,
                                  port->key);
                    ds_put_format(&actions,
                                  "ct(commit,zone=NXM_NX_REG13[0..15]),"
                                  "clone(set_field:%#"PRIx32"->tun_id,"
                                  "output:%u),resubmit(,%d)", sync_key, tun,
                                  ways[w].next);
                    lb_flow_table_add_ds(ft, ways[w].commit,
                                         PRIO_PORT_EXCEPTION, cookie, &match,
                                         &actions);
                }
            }
        }
    } else if (!strcmp(port->additional_chassis, chassis)) {
        /* The target: the source's copies committed, into the VM's zone
         * only: what the VM sent (its MAC the source), and what was sent
         * to it (its MAC the destination). */
        unsigned int tun = simap_get(tunnel_ofports, port->chassis);
        for (int i = 0; tun && i < 4; i++) {
            ds_put_format(&match, "%s,in_port=%u,tun_id=%#"PRIx32
                          ",%s="ETH_ADDR_FMT, i & 1 ? "ipv6" : "ip", tun,
                          sync_key, i & 2 ? "dl_dst" : "dl_src",
                          ETH_ADDR_ARGS(port->mac));
            ds_put_format(&actions, "set_field:%u->"LB_REG_ZONE","
                          "ct(commit,zone=NXM_NX_REG13[0..15])", ofport);
            lb_flow_table_add_ds(ft, OFTABLE_CLASSIFY, PRIO_POLICY_SYNC,
                                 cookie, &match, &actions);
        }
        /* The mirrored traffic to the VM, which the blocked copy drops,
         * tracked (not committed) on the way. */
        for (int v6 = 0; v6 < 2; v6++) {
            ds_put_format(&match, "%s,"LB_REG_OUTPORT"=%#"PRIx32,
                          v6 ? "ipv6" : "ip", port->key);
            ds_put_format(&actions, "set_field:%u->"LB_REG_ZONE","
                          "ct(zone=NXM_NX_REG13[0..15])", ofport);
            lb_flow_table_add_ds(ft, OFTABLE_POLICY_SYNC_TRACK, PRIO_PORT,
                                 cookie, &match, &actions);
        }
    }
    ds_destroy(&match);
    ds_destroy(&actions);
}

/* The actions that stand for delivery to the blocked copy of 'port' on
 * the target, "" if none: its mirrored traffic goes through its conntrack
 * zone, and no further. */
const char *
lb_policy_blocked_delivery(const struct lb_policy_engine *e,
                           const struct lb_port *port)
{
    if (lb_port_is_migrating(port) && port->mirror
        && lb_policy_port_isolated(e, port->name)) {
        return "resubmit(,16),";
    }
    return "";
}
