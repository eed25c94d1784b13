/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "svc-ct-handover.h"

#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include "cookie.h"
#include "csum.h"
#include "flow-table.h"
#include "model.h"
#include "netlink.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

/* The payload of a handover packet, after its UDP header.  The VM's and
 * the Service's addresses are the IP header's source and destination. */
struct svc_ct_record {
    uint8_t magic[4];           /* SVC_CT_MAGIC. */
    uint8_t version;            /* SVC_CT_VERSION. */
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    uint8_t tcp_state;          /* TCP: 1..6; UDP: 0. */
    uint8_t pad;
    ovs_16aligned_be32 timeout; /* Seconds. */
    ovs_be16 vm_port, service_port, backend_port, pad2;
    uint8_t backend[16];        /* IPv4 mapped for IPv4. */
};
BUILD_ASSERT_DECL(sizeof(struct svc_ct_record) == 36);

static const uint8_t svc_ct_magic[4] = { 'L', 'B', 'S', 'C' };
#define SVC_CT_VERSION 1

/* The UDP ports of a handover packet: they name nothing. */
#define SVC_CT_UDP_PORT 0x4c42

/* The longest timeout taken from a peer: five days (kube-proxy's TCP
 * established timeout is one). */
#define SVC_CT_TIMEOUT_MAX (5 * 24 * 3600)

/* TCP states that still carry data: SYN_SENT .. LAST_ACK. */
static bool
tcp_state_ok(uint8_t state)
{
    return (state >= TCP_CONNTRACK_SYN_SENT
            && state <= TCP_CONNTRACK_LAST_ACK);
}

static bool
addr_ok(bool v6, const struct in6_addr *a)
{
    if (v6) {
        return (!IN6_IS_ADDR_V4MAPPED(a) && !ipv6_is_zero(a)
                && !IN6_IS_ADDR_MULTICAST(a));
    }
    ovs_be32 ip = in6_addr_get_mapped_ipv4(a);
    return (IN6_IS_ADDR_V4MAPPED(a) && ip && !ip_is_multicast(ip)
            && ip != OVS_BE32_MAX);
}

/* ---- ctnetlink. */

static void
put_nfgen(struct ofpbuf *b, size_t payload, uint16_t type, uint16_t flags,
          uint32_t seq, uint8_t family)
{
    nl_msg_put_nlmsghdr(b, payload, (NFNL_SUBSYS_CTNETLINK << 8) | type,
                        flags);
    nl_msg_nlmsghdr(b)->nlmsg_seq = seq;
    struct nfgenmsg *nfg = nl_msg_put_uninit(b, sizeof *nfg);
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
}

void
lb_svc_ct_put_dump_request(uint32_t seq, struct ofpbuf *b)
{
    ofpbuf_clear(b);
    put_nfgen(b, 32, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq,
              AF_UNSPEC);
    nl_msg_put_be32(b, CTA_STATUS, htonl(IPS_DST_NAT));
    nl_msg_put_be32(b, CTA_STATUS_MASK, htonl(IPS_DST_NAT));
    nl_msg_nlmsghdr(b)->nlmsg_len = b->size;
}

static const struct nl_policy ct_policy[] = {
    [CTA_TUPLE_ORIG] = { .type = NL_A_NESTED },
    [CTA_TUPLE_REPLY] = { .type = NL_A_NESTED },
    [CTA_STATUS] = { .type = NL_A_BE32 },
    [CTA_PROTOINFO] = { .type = NL_A_NESTED, .optional = true },
    [CTA_TIMEOUT] = { .type = NL_A_BE32, .optional = true },
    [CTA_ZONE] = { .type = NL_A_BE16, .optional = true },
};

static const struct nl_policy tuple_policy[] = {
    [CTA_TUPLE_IP] = { .type = NL_A_NESTED },
    [CTA_TUPLE_PROTO] = { .type = NL_A_NESTED },
    [CTA_TUPLE_ZONE] = { .type = NL_A_BE16, .optional = true },
};

static const struct nl_policy ip_policy[] = {
    [CTA_IP_V4_SRC] = { .type = NL_A_BE32, .optional = true },
    [CTA_IP_V4_DST] = { .type = NL_A_BE32, .optional = true },
    [CTA_IP_V6_SRC] = { NL_POLICY_FOR(struct in6_addr), .optional = true },
    [CTA_IP_V6_DST] = { NL_POLICY_FOR(struct in6_addr), .optional = true },
};

static const struct nl_policy proto_policy[] = {
    [CTA_PROTO_NUM] = { .type = NL_A_U8 },
    [CTA_PROTO_SRC_PORT] = { .type = NL_A_BE16, .optional = true },
    [CTA_PROTO_DST_PORT] = { .type = NL_A_BE16, .optional = true },
};

static const struct nl_policy protoinfo_policy[] = {
    [CTA_PROTOINFO_TCP] = { .type = NL_A_NESTED, .optional = true },
};

static const struct nl_policy tcp_policy[] = {
    [CTA_PROTOINFO_TCP_STATE] = { .type = NL_A_U8, .optional = true },
};

struct nl_tuple {
    bool v6;
    struct in6_addr src, dst;
    uint8_t proto;
    uint16_t sport, dport;
};

static bool
parse_tuple(const struct nlattr *attr, struct nl_tuple *t)
{
    struct nlattr *a[ARRAY_SIZE(tuple_policy)];
    struct nlattr *ip[ARRAY_SIZE(ip_policy)];
    struct nlattr *pr[ARRAY_SIZE(proto_policy)];

    if (!nl_parse_nested(attr, tuple_policy, a, ARRAY_SIZE(a))
        || !nl_parse_nested(a[CTA_TUPLE_IP], ip_policy, ip, ARRAY_SIZE(ip))
        || !nl_parse_nested(a[CTA_TUPLE_PROTO], proto_policy, pr,
                            ARRAY_SIZE(pr))) {
        return false;
    }
    if (ip[CTA_IP_V4_SRC] && ip[CTA_IP_V4_DST]) {
        t->v6 = false;
        in6_addr_set_mapped_ipv4(&t->src,
                                 nl_attr_get_be32(ip[CTA_IP_V4_SRC]));
        in6_addr_set_mapped_ipv4(&t->dst,
                                 nl_attr_get_be32(ip[CTA_IP_V4_DST]));
    } else if (ip[CTA_IP_V6_SRC] && ip[CTA_IP_V6_DST]) {
        t->v6 = true;
        t->src = nl_attr_get_in6_addr(ip[CTA_IP_V6_SRC]);
        t->dst = nl_attr_get_in6_addr(ip[CTA_IP_V6_DST]);
    } else {
        return false;
    }
    t->proto = nl_attr_get_u8(pr[CTA_PROTO_NUM]);
    t->sport = (pr[CTA_PROTO_SRC_PORT]
                ? ntohs(nl_attr_get_be16(pr[CTA_PROTO_SRC_PORT])) : 0);
    t->dport = (pr[CTA_PROTO_DST_PORT]
                ? ntohs(nl_attr_get_be16(pr[CTA_PROTO_DST_PORT])) : 0);
    return true;
}

static enum lb_svc_ct_parse_result
parse_nl__(const void *msg, size_t len, struct lb_svc_ct *ct)
{
    const struct nlmsghdr *nlh = msg;
    size_t hdr_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));

    memset(ct, 0, sizeof *ct);
    if (len < hdr_len || nlh->nlmsg_len < hdr_len || nlh->nlmsg_len > len
        || nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8)
                               | IPCTNL_MSG_CT_NEW)) {
        return LB_SVC_CT_ERROR;
    }

    struct ofpbuf b;
    struct nlattr *a[ARRAY_SIZE(ct_policy)];
    struct nl_tuple orig, reply;
    ofpbuf_use_const(&b, msg, nlh->nlmsg_len);
    if (!nl_policy_parse(&b, hdr_len, ct_policy, a, ARRAY_SIZE(a))
        || !parse_tuple(a[CTA_TUPLE_ORIG], &orig)
        || !parse_tuple(a[CTA_TUPLE_REPLY], &reply)
        || orig.v6 != reply.v6 || orig.proto != reply.proto) {
        return LB_SVC_CT_ERROR;
    }

    uint32_t status = ntohl(nl_attr_get_be32(a[CTA_STATUS]));
    if ((orig.proto != IPPROTO_TCP && orig.proto != IPPROTO_UDP)
        || !(status & IPS_DST_NAT) || (status & IPS_SRC_NAT)
        || (a[CTA_ZONE] && nl_attr_get_be16(a[CTA_ZONE]))) {
        return LB_SVC_CT_SKIP;
    }
    /* Only the destination was rewritten: the reply goes back to the
     * VM's own address and port, from another address or port. */
    if (!ipv6_addr_equals(&reply.dst, &orig.src)
        || reply.dport != orig.sport
        || (ipv6_addr_equals(&reply.src, &orig.dst)
            && reply.sport == orig.dport)
        || !orig.sport || !orig.dport || !reply.sport
        || !addr_ok(orig.v6, &orig.src) || !addr_ok(orig.v6, &orig.dst)
        || !addr_ok(orig.v6, &reply.src)) {
        return LB_SVC_CT_SKIP;
    }

    if (orig.proto == IPPROTO_TCP) {
        struct nlattr *pi[ARRAY_SIZE(protoinfo_policy)];
        struct nlattr *tcp[ARRAY_SIZE(tcp_policy)];
        if (!a[CTA_PROTOINFO]
            || !nl_parse_nested(a[CTA_PROTOINFO], protoinfo_policy, pi,
                                ARRAY_SIZE(pi))
            || !pi[CTA_PROTOINFO_TCP]
            || !nl_parse_nested(pi[CTA_PROTOINFO_TCP], tcp_policy, tcp,
                                ARRAY_SIZE(tcp))
            || !tcp[CTA_PROTOINFO_TCP_STATE]) {
            return LB_SVC_CT_SKIP;
        }
        ct->tcp_state = nl_attr_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
        if (!tcp_state_ok(ct->tcp_state)) {
            return LB_SVC_CT_SKIP;
        }
    }

    ct->v6 = orig.v6;
    ct->proto = orig.proto;
    ct->vm = orig.src;
    ct->service = orig.dst;
    ct->backend = reply.src;
    ct->vm_port = orig.sport;
    ct->service_port = orig.dport;
    ct->backend_port = reply.sport;
    ct->timeout = (a[CTA_TIMEOUT]
                   ? MIN(ntohl(nl_attr_get_be32(a[CTA_TIMEOUT])),
                         SVC_CT_TIMEOUT_MAX)
                   : 0);
    if (!ct->timeout) {
        return LB_SVC_CT_SKIP;  /* About to go. */
    }
    return LB_SVC_CT_OK;
}

enum lb_svc_ct_parse_result
lb_svc_ct_parse_nl(const void *msg, size_t len, struct lb_svc_ct *ct)
{
    /* The kernel aligns its messages; bytes from elsewhere (a message
     * length not a multiple of 4 before this one) may not be. */
    if ((uintptr_t) msg % NLMSG_ALIGNTO) {
        void *copy = xmemdup(msg, len);
        enum lb_svc_ct_parse_result r = parse_nl__(copy, len, ct);
        free(copy);
        return r;
    }
    return parse_nl__(msg, len, ct);
}

static void
put_ip(struct ofpbuf *b, bool v6, uint16_t type, const struct in6_addr *a)
{
    if (v6) {
        nl_msg_put_in6_addr(b, type, a);
    } else {
        nl_msg_put_be32(b, type, in6_addr_get_mapped_ipv4(a));
    }
}

static void
put_tuple(struct ofpbuf *b, uint16_t type, const struct lb_svc_ct *ct,
          const struct in6_addr *src, uint16_t sport,
          const struct in6_addr *dst, uint16_t dport)
{
    size_t tuple = nl_msg_start_nested(b, type);
    size_t ip = nl_msg_start_nested(b, CTA_TUPLE_IP);
    put_ip(b, ct->v6, ct->v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, src);
    put_ip(b, ct->v6, ct->v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, dst);
    nl_msg_end_nested(b, ip);
    size_t proto = nl_msg_start_nested(b, CTA_TUPLE_PROTO);
    nl_msg_put_u8(b, CTA_PROTO_NUM, ct->proto);
    nl_msg_put_be16(b, CTA_PROTO_SRC_PORT, htons(sport));
    nl_msg_put_be16(b, CTA_PROTO_DST_PORT, htons(dport));
    nl_msg_end_nested(b, proto);
    nl_msg_end_nested(b, tuple);
}

void
lb_svc_ct_put_create(const struct lb_svc_ct *ct, uint32_t seq,
                     struct ofpbuf *b)
{
    ofpbuf_clear(b);
    put_nfgen(b, 256, IPCTNL_MSG_CT_NEW,
              NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq,
              ct->v6 ? AF_INET6 : AF_INET);

    /* The reply tuple as if nothing were NATed; CTA_NAT_DST then makes
     * the kernel rewrite it to the backend's and mark the entry DNATed
     * (nf_nat_setup_info()), as kube-proxy's rule did on the source. */
    put_tuple(b, CTA_TUPLE_ORIG, ct, &ct->vm, ct->vm_port, &ct->service,
              ct->service_port);
    put_tuple(b, CTA_TUPLE_REPLY, ct, &ct->service, ct->service_port,
              &ct->vm, ct->vm_port);

    size_t nat = nl_msg_start_nested(b, CTA_NAT_DST);
    put_ip(b, ct->v6, ct->v6 ? CTA_NAT_V6_MINIP : CTA_NAT_V4_MINIP,
           &ct->backend);
    put_ip(b, ct->v6, ct->v6 ? CTA_NAT_V6_MAXIP : CTA_NAT_V4_MAXIP,
           &ct->backend);
    size_t nat_proto = nl_msg_start_nested(b, CTA_NAT_PROTO);
    nl_msg_put_be16(b, CTA_PROTONAT_PORT_MIN, htons(ct->backend_port));
    nl_msg_put_be16(b, CTA_PROTONAT_PORT_MAX, htons(ct->backend_port));
    nl_msg_end_nested(b, nat_proto);
    nl_msg_end_nested(b, nat);

    nl_msg_put_be32(b, CTA_TIMEOUT, htonl(ct->timeout));
    /* CONFIRMED: the kernel sets it on what it creates, and refuses
     * (EBUSY) a status that would clear it. */
    nl_msg_put_be32(b, CTA_STATUS, htonl(IPS_CONFIRMED | IPS_SEEN_REPLY
                                         | IPS_ASSURED));
    if (ct->proto == IPPROTO_TCP) {
        static const struct nf_ct_tcp_flags liberal = {
            .flags = IP_CT_TCP_FLAG_BE_LIBERAL,
            .mask = IP_CT_TCP_FLAG_BE_LIBERAL,
        };
        size_t pi = nl_msg_start_nested(b, CTA_PROTOINFO);
        size_t tcp = nl_msg_start_nested(b, CTA_PROTOINFO_TCP);
        nl_msg_put_u8(b, CTA_PROTOINFO_TCP_STATE, ct->tcp_state);
        nl_msg_put_unspec(b, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &liberal,
                          sizeof liberal);
        nl_msg_put_unspec(b, CTA_PROTOINFO_TCP_FLAGS_REPLY, &liberal,
                          sizeof liberal);
        nl_msg_end_nested(b, tcp);
        nl_msg_end_nested(b, pi);
    }
    nl_msg_nlmsghdr(b)->nlmsg_len = b->size;
}

/* ---- The channel. */

void
lb_svc_ct_packet(const struct lb_svc_ct *ct, struct eth_addr mac,
                 struct ofpbuf *b)
{
    size_t l4_len = UDP_HEADER_LEN + sizeof(struct svc_ct_record);

    ofpbuf_clear(b);
    struct eth_header *eth = ofpbuf_put_zeros(b, sizeof *eth);
    eth->eth_dst = mac;
    eth->eth_src = mac;
    struct ovs_16aligned_ip6_hdr *ip6 = NULL;
    if (!ct->v6) {
        eth->eth_type = htons(ETH_TYPE_IP);
        struct ip_header *ip = ofpbuf_put_zeros(b, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + l4_len);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_UDP;
        put_16aligned_be32(&ip->ip_src, in6_addr_get_mapped_ipv4(&ct->vm));
        put_16aligned_be32(&ip->ip_dst,
                           in6_addr_get_mapped_ipv4(&ct->service));
        ip->ip_csum = csum(ip, sizeof *ip);
    } else {
        eth->eth_type = htons(ETH_TYPE_IPV6);
        ip6 = ofpbuf_put_zeros(b, sizeof *ip6);
        put_16aligned_be32(&ip6->ip6_ctlun.ip6_un1.ip6_un1_flow,
                           htonl(0x60000000));
        ip6->ip6_ctlun.ip6_un1.ip6_un1_plen = htons(l4_len);
        ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt = IPPROTO_UDP;
        ip6->ip6_ctlun.ip6_un1.ip6_un1_hlim = 64;
        memcpy(&ip6->ip6_src, &ct->vm, sizeof ct->vm);
        memcpy(&ip6->ip6_dst, &ct->service, sizeof ct->service);
    }
    struct udp_header *udp = ofpbuf_put_zeros(b, sizeof *udp);
    udp->udp_src = htons(SVC_CT_UDP_PORT);
    udp->udp_dst = htons(SVC_CT_UDP_PORT);
    udp->udp_len = htons(l4_len);

    struct svc_ct_record *r = ofpbuf_put_zeros(b, sizeof *r);
    memcpy(r->magic, svc_ct_magic, sizeof r->magic);
    r->version = SVC_CT_VERSION;
    r->proto = ct->proto;
    r->tcp_state = ct->proto == IPPROTO_TCP ? ct->tcp_state : 0;
    put_16aligned_be32(&r->timeout, htonl(ct->timeout));
    r->vm_port = htons(ct->vm_port);
    r->service_port = htons(ct->service_port);
    r->backend_port = htons(ct->backend_port);
    memcpy(r->backend, &ct->backend, sizeof r->backend);

    if (ip6) {
        /* Mandatory in IPv6 (RFC 8200 8.1). */
        ip6 = (struct ovs_16aligned_ip6_hdr *) ((struct eth_header *)
                                                b->data + 1);
        udp = (struct udp_header *) (ip6 + 1);
        udp->udp_csum = packet_csum_upperlayer6(ip6, udp, IPPROTO_UDP,
                                                l4_len);
        if (!udp->udp_csum) {
            udp->udp_csum = htons(0xffff);
        }
    }
}

bool
lb_svc_ct_packet_parse(const void *packet, size_t len, struct lb_svc_ct *ct,
                       const char **error)
{
    const uint8_t *p = packet;
    const uint8_t *end = p + len;
    struct eth_header eth;
    struct udp_header udp;
    struct svc_ct_record r;

    memset(ct, 0, sizeof *ct);
    if (len < sizeof eth) {
        *error = "shorter than an Ethernet header";
        return false;
    }
    memcpy(&eth, p, sizeof eth);
    p += sizeof eth;
    if (eth.eth_type == htons(ETH_TYPE_IP)) {
        struct ip_header ip;
        if (end - p < sizeof ip) {
            *error = "truncated IPv4 header";
            return false;
        }
        memcpy(&ip, p, sizeof ip);
        if (ip.ip_ihl_ver != IP_IHL_VER(5, 4)) {
            *error = "not IPv4 without options";
            return false;
        }
        if (ip.ip_proto != IPPROTO_UDP) {
            *error = "not UDP";
            return false;
        }
        if (ip.ip_frag_off & htons(IP_MORE_FRAGMENTS | IP_FRAG_OFF_MASK)) {
            *error = "a fragment";
            return false;
        }
        if (ntohs(ip.ip_tot_len) < IP_HEADER_LEN + UDP_HEADER_LEN + sizeof r
            || ntohs(ip.ip_tot_len) > end - p) {
            *error = "bad IPv4 total length";
            return false;
        }
        end = p + ntohs(ip.ip_tot_len);
        in6_addr_set_mapped_ipv4(&ct->vm, get_16aligned_be32(&ip.ip_src));
        in6_addr_set_mapped_ipv4(&ct->service,
                                 get_16aligned_be32(&ip.ip_dst));
        p += sizeof ip;
    } else if (eth.eth_type == htons(ETH_TYPE_IPV6)) {
        struct ovs_16aligned_ip6_hdr ip6;
        if (end - p < sizeof ip6) {
            *error = "truncated IPv6 header";
            return false;
        }
        memcpy(&ip6, p, sizeof ip6);
        if ((ntohl(get_16aligned_be32(&ip6.ip6_ctlun.ip6_un1.ip6_un1_flow))
             >> 28) != 6) {
            *error = "not IPv6";
            return false;
        }
        if (ip6.ip6_ctlun.ip6_un1.ip6_un1_nxt != IPPROTO_UDP) {
            *error = "not UDP";
            return false;
        }
        size_t plen = ntohs(ip6.ip6_ctlun.ip6_un1.ip6_un1_plen);
        p += sizeof ip6;
        if (plen < UDP_HEADER_LEN + sizeof r || plen > end - p) {
            *error = "bad IPv6 payload length";
            return false;
        }
        end = p + plen;
        ct->v6 = true;
        memcpy(&ct->vm, &ip6.ip6_src, sizeof ct->vm);
        memcpy(&ct->service, &ip6.ip6_dst, sizeof ct->service);
    } else {
        *error = "neither IPv4 nor IPv6";
        return false;
    }

    memcpy(&udp, p, sizeof udp);
    p += sizeof udp;
    if (ntohs(udp.udp_len) != UDP_HEADER_LEN + sizeof r
        || end - p < sizeof r) {
        *error = "bad UDP length";
        return false;
    }
    memcpy(&r, p, sizeof r);
    if (memcmp(r.magic, svc_ct_magic, sizeof r.magic)
        || r.version != SVC_CT_VERSION) {
        *error = "not a Service handover record of this version";
        return false;
    }
    if (r.proto != IPPROTO_TCP && r.proto != IPPROTO_UDP) {
        *error = "protocol neither TCP nor UDP";
        return false;
    }
    if (r.proto == IPPROTO_TCP ? !tcp_state_ok(r.tcp_state)
        : r.tcp_state != 0) {
        *error = "bad TCP state";
        return false;
    }
    ct->proto = r.proto;
    ct->tcp_state = r.tcp_state;
    ct->timeout = ntohl(get_16aligned_be32(&r.timeout));
    ct->vm_port = ntohs(r.vm_port);
    ct->service_port = ntohs(r.service_port);
    ct->backend_port = ntohs(r.backend_port);
    memcpy(&ct->backend, r.backend, sizeof ct->backend);
    if (!ct->timeout || ct->timeout > SVC_CT_TIMEOUT_MAX) {
        *error = "timeout out of range";
        return false;
    }
    if (!ct->vm_port || !ct->service_port || !ct->backend_port) {
        *error = "a port is zero";
        return false;
    }
    if (!addr_ok(ct->v6, &ct->vm) || !addr_ok(ct->v6, &ct->service)
        || !addr_ok(ct->v6, &ct->backend)) {
        *error = "an address is not a unicast address of the family";
        return false;
    }
    if (ipv6_addr_equals(&ct->service, &ct->backend)
        && ct->service_port == ct->backend_port) {
        *error = "no DNAT";
        return false;
    }
    return true;
}

void
lb_svc_ct_packet_out_actions(uint32_t switch_key, unsigned int tun,
                             struct ds *actions)
{
    ds_put_format(actions, "set_field:%#"PRIx32"->tun_id,output:%u",
                  switch_key | LB_TUN_SVC_CT, tun);
}

bool
lb_svc_ct_is_ports(const struct lb_port *port, const struct lb_svc_ct *ct)
{
    if (!ct->v6) {
        ovs_be32 ip = in6_addr_get_mapped_ipv4(&ct->vm);
        for (size_t i = 0; i < port->n_ipv4; i++) {
            if (port->ipv4[i] == ip) {
                return IN6_IS_ADDR_V4MAPPED(&ct->vm);
            }
        }
        return false;
    }
    for (size_t i = 0; i < port->n_ipv6; i++) {
        if (ipv6_addr_equals(&port->ipv6[i], &ct->vm)) {
            return true;
        }
    }
    return false;
}

void
lb_svc_ct_port_flows(const struct lb_port *port, uint32_t switch_key,
                     unsigned int tun, struct lb_flow_table *ft)
{
    /* The port's migration cookie: the flows come and go with its other
     * migration flows (lb_pipeline_update_port()). */
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, true);
    uint32_t reason = LB_PIN_SVC_CT;
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;
    size_t n = port->n_ipv4 + port->n_ipv6;

    for (size_t i = 0; i < n; i++) {
        bool v6 = i >= port->n_ipv4;
        ds_put_format(&match, "%s,in_port=%u,tun_id=%#"PRIx32",",
                      v6 ? "udp6" : "udp", tun, switch_key | LB_TUN_SVC_CT);
        if (v6) {
            ds_put_cstr(&match, "ipv6_src=");
            ipv6_format_addr(&port->ipv6[i - port->n_ipv4], &match);
        } else {
            ds_put_format(&match, "nw_src="IP_FMT, IP_ARGS(port->ipv4[i]));
        }
        ds_put_format(&actions, "controller(userdata=%02x.%02x.%02x.%02x)",
                      (reason >> 24) & 0xff, (reason >> 16) & 0xff,
                      (reason >> 8) & 0xff, reason & 0xff);
        lb_flow_table_add_ds(ft, OFTABLE_CLASSIFY, PRIO_MIGRATION, cookie,
                             &match, &actions);
    }
    ds_destroy(&match);
    ds_destroy(&actions);
}

void
lb_svc_ct_format(const struct lb_svc_ct *ct, struct ds *s)
{
    ds_put_format(s, "%s ", ct->proto == IPPROTO_TCP ? "tcp" : "udp");
    const struct in6_addr *addrs[] = { &ct->vm, &ct->service, &ct->backend };
    const uint16_t ports[] = { ct->vm_port, ct->service_port,
                               ct->backend_port };
    static const char *const seps[] = { " -> ", " DNAT ", "" };
    for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
        if (ct->v6) {
            ds_put_char(s, '[');
            ipv6_format_addr(addrs[i], s);
            ds_put_char(s, ']');
        } else {
            ds_put_format(s, IP_FMT,
                          IP_ARGS(in6_addr_get_mapped_ipv4(addrs[i])));
        }
        ds_put_format(s, ":%"PRIu16"%s", ports[i], seps[i]);
    }
    ds_put_format(s, " timeout %"PRIu32"s", ct->timeout);
}
