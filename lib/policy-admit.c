/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Conntrack handover of the connections idle until a migration completes:
 * the target admits the first real packet of each connection the source's
 * conntrack holds, by its exact tuple (docs/policy.md, "Connections idle
 * until the migration completes").
 *
 * The source's entries cannot be copied (a dump has no sequence numbers,
 * and an entry made from a made-up segment has a wrong window); what
 * crosses is the right to commit the entry from the connection's own next
 * packet.  The learning happens in the target's switch (learn()): no
 * round trip through the agent, nothing the agent must remember, and the
 * learned flows age out by themselves.  Only tuples whose one end is the
 * port's own address, from its main chassis's tunnel, while the port
 * migrates to this node, are learned, and a learned flow marks only that
 * port's packets (reg14 or reg15 its key): nothing admits anything for
 * anyone but the migrating VM.  Pure, like pipeline.c. */

#include <config.h>
#include "policy-admit.h"

#include <string.h>
#include "cookie.h"
#include "csum.h"
#include "ct-dump.h"
#include "flow-table.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "policy.h"
#include "simap.h"
#include "util.h"

static bool
port_has_addr(const struct lb_port *port, bool v6, const struct in6_addr *a)
{
    if (v6) {
        for (size_t i = 0; i < port->n_ipv6; i++) {
            if (ipv6_addr_equals(&port->ipv6[i], a)) {
                return true;
            }
        }
    } else {
        ovs_be32 ip = in6_addr_get_mapped_ipv4(a);
        for (size_t i = 0; i < port->n_ipv4; i++) {
            if (port->ipv4[i] == ip) {
                return true;
            }
        }
    }
    return false;
}

bool
lb_admit_tuple_from_entry(const struct lb_port *port,
                          const struct lb_ct_entry *e,
                          struct lb_admit_tuple *t)
{
    if ((e->proto != IPPROTO_TCP && e->proto != IPPROTO_UDP) || e->closing) {
        return false;
    }
    memset(t, 0, sizeof *t);
    t->v6 = e->v6;
    t->proto = e->proto;
    t->timeout = e->timeout;
    if (port_has_addr(port, e->v6, &e->dst)) {
        /* The peer opened it (or the VM talks to itself). */
        t->peer = e->src;
        t->peer_port = e->sport;
        t->vm = e->dst;
        t->vm_port = e->dport;
    } else if (port_has_addr(port, e->v6, &e->src)) {
        /* The VM opened it. */
        t->peer = e->dst;
        t->peer_port = e->dport;
        t->vm = e->src;
        t->vm_port = e->sport;
    } else {
        return false;
    }
    return true;
}

bool
lb_admit_entry_idle(const struct lb_ct_entry *earlier,
                    const struct lb_ct_entry *later, long long int elapsed_ms)
{
    /* A packet at 't' after 'earlier' leaves 'later' with a timeout of
     * earlier->timeout - elapsed + t at least (the timeouts are whole
     * seconds, rounded down). */
    long long int elapsed = elapsed_ms / 1000;
    return (long long int) later->timeout + elapsed
           < (long long int) earlier->timeout + 2;
}

unsigned int
lb_admit_bucket(uint32_t timeout)
{
    unsigned int k = LB_ADMIT_BUCKET_MIN;
    while (k < LB_ADMIT_BUCKET_MAX && (UINT64_C(1) << k) < timeout) {
        k++;
    }
    return k;
}

unsigned int
lb_admit_bucket_seconds(unsigned int k)
{
    k = MIN(MAX(k, LB_ADMIT_BUCKET_MIN), LB_ADMIT_BUCKET_MAX);
    return k >= 16 ? 65535 : 1u << k;
}

void
lb_admit_packet(const struct lb_admit_tuple *t, struct eth_addr mac,
                struct ofpbuf *b)
{
    size_t l4_len = (t->proto == IPPROTO_TCP ? TCP_HEADER_LEN
                     : UDP_HEADER_LEN);
    uint8_t ttl = lb_admit_bucket(t->timeout);

    ofpbuf_clear(b);
    struct eth_header *eth = ofpbuf_put_zeros(b, sizeof *eth);
    eth->eth_dst = mac;
    eth->eth_src = mac;
    if (!t->v6) {
        eth->eth_type = htons(ETH_TYPE_IP);
        struct ip_header *ip = ofpbuf_put_zeros(b, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + l4_len);
        ip->ip_ttl = ttl;
        ip->ip_proto = t->proto;
        put_16aligned_be32(&ip->ip_src, in6_addr_get_mapped_ipv4(&t->peer));
        put_16aligned_be32(&ip->ip_dst, in6_addr_get_mapped_ipv4(&t->vm));
        ip->ip_csum = csum(ip, sizeof *ip);
    } else {
        eth->eth_type = htons(ETH_TYPE_IPV6);
        struct ovs_16aligned_ip6_hdr *ip6 = ofpbuf_put_zeros(b, sizeof *ip6);
        put_16aligned_be32(&ip6->ip6_ctlun.ip6_un1.ip6_un1_flow,
                           htonl(0x60000000));
        ip6->ip6_ctlun.ip6_un1.ip6_un1_plen = htons(l4_len);
        ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt = t->proto;
        ip6->ip6_ctlun.ip6_un1.ip6_un1_hlim = ttl;
        memcpy(&ip6->ip6_src, &t->peer, sizeof t->peer);
        memcpy(&ip6->ip6_dst, &t->vm, sizeof t->vm);
    }
    if (t->proto == IPPROTO_TCP) {
        /* No flags: no stack takes it for a segment of the connection,
         * should it ever reach one. */
        struct tcp_header *tcp = ofpbuf_put_zeros(b, sizeof *tcp);
        tcp->tcp_src = htons(t->peer_port);
        tcp->tcp_dst = htons(t->vm_port);
        tcp->tcp_ctl = TCP_CTL(0, 5);
    } else {
        struct udp_header *udp = ofpbuf_put_zeros(b, sizeof *udp);
        udp->udp_src = htons(t->peer_port);
        udp->udp_dst = htons(t->vm_port);
        udp->udp_len = htons(UDP_HEADER_LEN);
    }
}

void
lb_admit_packet_out_actions(uint32_t switch_key, unsigned int tun,
                            struct ds *actions)
{
    ds_put_format(actions, "set_field:%#"PRIx32"->tun_id,output:%u",
                  switch_key | LB_TUN_CT_ADMIT, tun);
}

uint64_t
lb_admit_cookie(uint32_t key)
{
    return lb_cookie(LB_COOKIE_ADMIT, key, false);
}

/* One learn() action: a flow in 'table' for the tuple of the packet being
 * learned from (peer -> VM), matching it in the direction 'egress' says,
 * on the port with key 'key', that sets its bit of LB_REG_ADMIT. */
static void
put_learn(struct ds *a, bool egress, bool v6, uint8_t proto, uint32_t key,
          unsigned int seconds)
{
    const char *ip = v6 ? "NXM_NX_IPV6_" : "NXM_OF_IP_";
    const char *l4 = proto == IPPROTO_TCP ? "NXM_OF_TCP_" : "NXM_OF_UDP_";

    ds_put_format(a, "learn(table=%d,priority=%d,hard_timeout=%u,"
                  "fin_hard_timeout=1,cookie=%#"PRIx64",%s=%#"PRIx32","
                  "eth_type=%#x,nw_proto=%u,",
                  egress ? OFTABLE_POLICY_EGRESS_ADMIT
                  : OFTABLE_POLICY_INGRESS_ADMIT, PRIO_PORT, seconds,
                  lb_admit_cookie(key),
                  egress ? LB_REG_INPORT : LB_REG_OUTPORT, key,
                  v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP, proto);
    if (egress) {
        /* The VM's packets: the learned packet's source the
         * destination. */
        ds_put_format(a, "%sSRC[]=%sDST[],%sDST[]=%sSRC[],"
                      "%sSRC[]=%sDST[],%sDST[]=%sSRC[],",
                      ip, ip, ip, ip, l4, l4, l4, l4);
    } else {
        ds_put_format(a, "%sSRC[],%sDST[],%sSRC[],%sDST[],", ip, ip, l4, l4);
    }
    ds_put_format(a, "load:1->"LB_REG_ADMIT_NXM"[%d])", egress ? 0 : 1);
}

/* The target: the tuples the port's main chassis sends are learned, one
 * flow per family, protocol, address of the port and timeout bucket (the
 * learned flows' hard timeout cannot come from the packet, so the TTL
 * picks the flow that has it).  In a table of their own, so that table
 * 0's counts are those of the mirroring window's copies alone. */
static void
add_learn_flows(const struct lb_port *port, uint32_t switch_key,
                unsigned int tun, uint64_t cookie, struct lb_flow_table *ft)
{
    static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;
    size_t n_addrs = port->n_ipv4 + port->n_ipv6;

    for (size_t i = 0; i < n_addrs; i++) {
        bool v6 = i >= port->n_ipv4;
        for (size_t p = 0; p < ARRAY_SIZE(protos); p++) {
            for (unsigned int k = LB_ADMIT_BUCKET_MIN;
                 k <= LB_ADMIT_BUCKET_MAX; k++) {
                ds_put_format(&match, "in_port=%u,tun_id=%#"PRIx32",%s%s,",
                              tun, switch_key | LB_TUN_CT_ADMIT,
                              protos[p] == IPPROTO_TCP ? "tcp" : "udp",
                              v6 ? "6" : "");
                if (v6) {
                    ds_put_cstr(&match, "ipv6_dst=");
                    ipv6_format_addr(&port->ipv6[i - port->n_ipv4], &match);
                } else {
                    ds_put_format(&match, "nw_dst="IP_FMT,
                                  IP_ARGS(port->ipv4[i]));
                }
                ds_put_format(&match, ",nw_ttl=%u", k);
                unsigned int seconds = lb_admit_bucket_seconds(k);
                put_learn(&actions, false, v6, protos[p], port->key,
                          seconds);
                ds_put_char(&actions, ',');
                put_learn(&actions, true, v6, protos[p], port->key, seconds);
                lb_flow_table_add_ds(ft, OFTABLE_POLICY_ADMIT_LEARN, PRIO_PORT,
                                     cookie, &match, &actions);
            }
        }
    }
    ds_destroy(&match);
    ds_destroy(&actions);
}

void
lb_policy_admit_port_flows(const struct lb_policy_engine *e,
                           const struct lb_port *port, uint32_t switch_key,
                           unsigned int ofport, const char *chassis,
                           const struct simap *tunnel_ofports,
                           struct lb_flow_table *ft)
{
    if (!lb_policy_port_isolated(e, port->name)) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, false);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    /* Into the zone past the tuples admitted for the port: the same as
     * lb_policy_local_port_flows()'s way in, one priority up, with the
     * lookup first.  Every policed port has it, not only one migrating:
     * a migrated port's learned flows outlive its migration. */
    static const struct admit_way {
        const char *reg;
        uint8_t table, admit, next;
        int bit;
    } ways[] = {
        { LB_REG_INPORT, OFTABLE_POLICY_EGRESS_CT,
          OFTABLE_POLICY_EGRESS_ADMIT, OFTABLE_POLICY_EGRESS, 0 },
        { LB_REG_OUTPORT, OFTABLE_POLICY_INGRESS_CT,
          OFTABLE_POLICY_INGRESS_ADMIT, OFTABLE_POLICY_INGRESS, 1 },
    };
    for (size_t i = 0; i < 2 * ARRAY_SIZE(ways); i++) {
        const struct admit_way *w = &ways[i / 2];
        ds_put_format(&match, "%s,%s=%#"PRIx32, i & 1 ? "ipv6" : "ip",
                      w->reg, port->key);
        /* The bit cleared first: a flood's copies for several ports, or
         * a packet from one policed port to another, look up again. */
        ds_put_format(&actions, "set_field:0/%#x->"LB_REG_ADMIT","
                      "resubmit(,%d),", 1u << w->bit, w->admit);
        lb_policy_put_into_zone(&actions, ofport, w->next);
        lb_flow_table_add_ds(ft, w->table, PRIO_POLICY_ADMIT_LOOKUP, cookie,
                             &match, &actions);
    }
    ds_destroy(&match);
    ds_destroy(&actions);

    /* The target: the tuples from the port's main chassis, while the
     * port migrates here. */
    if (lb_port_is_migrating(port) && port->additional_chassis
        && !strcmp(port->additional_chassis, chassis)) {
        unsigned int tun = simap_get(tunnel_ofports, port->chassis);
        if (tun) {
            add_learn_flows(port, switch_key, tun,
                            lb_cookie(LB_COOKIE_PORT, port->key, true), ft);
        }
    }
}

void
lb_policy_admit_default_flows(struct lb_flow_table *ft)
{
    uint64_t cookie = lb_cookie(LB_COOKIE_GLOBAL, 0, false);
    char *a;

    /* A tuple, from whichever tunnel: table 18 learns it if it is from
     * the main chassis of a port migrating here, for that port, and drops
     * it in any case. */
    char *m = xasprintf("tun_id=%#x/%#x", LB_TUN_CT_ADMIT, LB_TUN_CT_ADMIT);
    a = xasprintf("resubmit(,%d)", OFTABLE_POLICY_ADMIT_LEARN);
    lb_flow_table_add(ft, OFTABLE_CLASSIFY, PRIO_POLICY_SYNC, cookie, m, a);
    free(m);
    free(a);
    lb_flow_table_add(ft, OFTABLE_POLICY_ADMIT_LEARN, PRIO_TABLE_MISS,
                      cookie, "", "drop");

    a = xasprintf("resubmit(,%d)", OFTABLE_POLICY_EGRESS_COMMIT);
    lb_flow_table_add(ft, OFTABLE_POLICY_EGRESS, PRIO_POLICY_ADMIT, cookie,
                      "ct_state=+new-est+trk,"LB_REG_ADMIT"=0x1/0x1", a);
    free(a);
    a = xasprintf("resubmit(,%d)", OFTABLE_POLICY_INGRESS_COMMIT);
    lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS, PRIO_POLICY_ADMIT, cookie,
                      "ct_state=+new-est+trk,"LB_REG_ADMIT"=0x2/0x2", a);
    free(a);
}
