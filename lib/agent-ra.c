/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's router advertisements (agent-ra.h). */

#include <config.h>
#include "agent-ra.h"

#include <string.h>
#include "agent-view.h"
#include "announce.h"
#include "flow.h"
#include "ipam.h"
#include "model.h"
#include "ofctrl.h"
#include "oftable.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "packets.h"
#include "simap.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_ra);

/* Answers to router solicitations, at most RS_BURST at once and RS_RATE a
 * second after that (a token bucket), all ports together.  The switch
 * meters each port's solicitations (pipeline.c: 20 a second), so a pod
 * that floods them reaches the agent at no more than that; this bound is
 * for many ports at once (or a switch without meters), so that they never
 * cost a flood of packet-outs.  It is five ports' worth: one flooding port
 * must not use up the answers another port's guest needs when its
 * interface comes up (it solicits a few times). */
#define RS_RATE 100
#define RS_BURST 100

struct lb_agent_ra {
    const struct lb_agent_view *view;   /* The core's. */
    long long int next_periodic;        /* time_msec() of the next round. */
    long long int rs_refilled;          /* time_msec() of the last refill. */
    int rs_tokens;                      /* Answers allowed now. */
};

struct lb_agent_ra *
lb_agent_ra_create(const struct lb_agent_view *view)
{
    struct lb_agent_ra *ra = xzalloc(sizeof *ra);
    ra->view = view;
    ra->next_periodic = time_msec() + LB_RA_INTERVAL_S * 1000LL;
    ra->rs_refilled = time_msec();
    ra->rs_tokens = RS_BURST;
    return ra;
}

void
lb_agent_ra_destroy(struct lb_agent_ra *ra)
{
    free(ra);
}

/* Sends 'sw''s RA to 'dst_mac' out of 'ofport' only (no pipeline). */
static void
send_ra(const struct lb_agent_ra *ra, const struct lb_switch *sw,
        struct eth_addr dst_mac, unsigned int ofport)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    uint8_t frame[LB_RA_FRAME_LEN];
    uint16_t lifetime = (ipv6_is_zero(&sw->gateway6) ? 0
                         : LB_RA_ROUTER_LIFETIME_S);

    lb_announce_compose_ra(lb_ipam_gateway6_mac(sw->tunnel_key), dst_mac,
                           &sw->prefix6, sw->mtu ? sw->mtu : 1400, lifetime,
                           frame);
    int error = ofctrl_packet_out(ra->view->ofctrl, frame, sizeof frame,
                                  u16_to_ofp(ofport), "IN_PORT");
    if (error) {
        VLOG_WARN_RL(&rl, "sending a router advertisement on ofport %u "
                     "failed (%s)", ofport, ovs_strerror(error));
    }
}

/* The switch of a local, unblocked port on 'ofport' with key 'key', if it
 * has an IPv6 prefix and is not a provider network (whose router on the
 * fabric advertises: pipeline.c sends no solicitation here for it). */
static const struct lb_switch *
advertising_switch(const struct lb_agent_ra *ra, uint32_t key,
                   unsigned int ofport)
{
    const struct lb_agent_view *view = ra->view;
    const struct lb_port *port = lb_model_find_port_by_key(view->model, key);
    if (!port || !port->sw || !port->sw->has_prefix6 || port->sw->physnet
        || !lb_port_bound_to(port, view->chassis)
        || (port->additional_blocked && port->additional_chassis
            && !strcmp(port->additional_chassis, view->chassis))
        || simap_get(ovs_bridge_iface_ofports(view->bridge), port->name)
           != ofport) {
        return NULL;
    }
    return port->sw;
}

/* Takes a token for one answer, if there is one. */
static bool
rs_allowed(struct lb_agent_ra *ra)
{
    long long int now = time_msec();
    long long int refill = (now - ra->rs_refilled) * RS_RATE / 1000;
    if (refill > 0) {
        ra->rs_tokens = MIN(RS_BURST, ra->rs_tokens + refill);
        ra->rs_refilled += refill * 1000 / RS_RATE;
    }
    if (ra->rs_tokens > 0) {
        ra->rs_tokens--;
        return true;
    }
    return false;
}

/* Answers a router solicitation.  Returns false if 'pin' is none. */
bool
lb_agent_ra_packet_in(struct lb_agent_ra *ra,
                      const struct ofputil_packet_in *pin)
{
    ovs_be32 reason = 0;
    if (pin->userdata_len == sizeof reason) {
        memcpy(&reason, pin->userdata, sizeof reason);
    }
    if (ntohl(reason) != LB_PIN_RS) {
        return false;
    }

    uint32_t key = pin->flow_metadata.flow.regs[14];
    unsigned int ofport = ofp_to_u16(pin->flow_metadata.flow.in_port.ofp_port);
    const struct lb_switch *sw = advertising_switch(ra, key, ofport);
    if (sw && pin->packet_len >= ETH_ADDR_LEN * 2 && !rs_allowed(ra)) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "router solicitations beyond %d/s: not answered "
                     "(ofport %u)", RS_RATE, ofport);
    } else if (sw && pin->packet_len >= ETH_ADDR_LEN * 2) {
        /* Unicast to the soliciting MAC (RFC 4861 6.2.6 allows it), all
         * nodes at the IPv6 layer. */
        struct eth_addr src;
        memcpy(src.ea, (const uint8_t *) pin->packet + ETH_ADDR_LEN,
               ETH_ADDR_LEN);
        send_ra(ra, sw, src, ofport);
    }
    return true;
}

/* Every LB_RA_INTERVAL_S, an unsolicited RA to every local port. */
void
lb_agent_ra_run(struct lb_agent_ra *ra)
{
    const struct lb_agent_view *view = ra->view;
    if (time_msec() < ra->next_periodic || !view->ready
        || !ofctrl_is_connected(view->ofctrl)) {
        return;
    }
    ra->next_periodic = time_msec() + LB_RA_INTERVAL_S * 1000LL;

    static const struct eth_addr all_nodes = {
        .ea = { 0x33, 0x33, 0, 0, 0, 1 },
    };
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ovs_bridge_iface_ofports(view->bridge)) {
        const struct lb_port *port = lb_model_find_port(view->model,
                                                        sn->name);
        const struct lb_switch *sw = (port
                                      ? advertising_switch(ra, port->key,
                                                           sn->data)
                                      : NULL);
        if (sw) {
            send_ra(ra, sw, all_nodes, sn->data);
        }
    }
}

void
lb_agent_ra_wait(const struct lb_agent_ra *ra)
{
    poll_timer_wait_until(ra->next_periodic);
}
