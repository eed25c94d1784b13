/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The Service handover (lib/svc-ct-handover.c): conntrack entries as
 * ctnetlink dumps them (built here attribute by attribute as the kernel's
 * ctnetlink_fill_info() lays them out), the creation request, the packet
 * that carries a record to the target, and the target's flows, each parsed
 * as ofctrl parses it. */

#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "dp-packet.h"
#include "flow.h"
#include "flow-table.h"
#include "model.h"
#include "netlink.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "svc-ct-handover.h"
#include "test-flows.h"
#include "util.h"

static struct in6_addr
addr(const char *s)
{
    struct in6_addr a;
    if (strchr(s, ':')) {
        assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
    } else {
        ovs_be32 ip;
        assert_int_equal(inet_pton(AF_INET, s, &ip), 1);
        in6_addr_set_mapped_ipv4(&a, ip);
    }
    return a;
}

/* An entry as the kernel dumps it. */
struct entry {
    bool v6;
    uint8_t proto;
    const char *osrc, *odst, *rsrc, *rdst;
    uint16_t osport, odport, rsport, rdport;
    uint32_t status;
    uint16_t zone;
    uint8_t tcp_state;
    uint32_t timeout;
};

static void
put_tuple(struct ofpbuf *b, uint16_t type, const struct entry *e,
          const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
    size_t t = nl_msg_start_nested(b, type | NLA_F_NESTED);
    size_t ip = nl_msg_start_nested(b, CTA_TUPLE_IP | NLA_F_NESTED);
    struct in6_addr s = addr(src), d = addr(dst);
    if (e->v6) {
        nl_msg_put_in6_addr(b, CTA_IP_V6_SRC, &s);
        nl_msg_put_in6_addr(b, CTA_IP_V6_DST, &d);
    } else {
        nl_msg_put_be32(b, CTA_IP_V4_SRC, in6_addr_get_mapped_ipv4(&s));
        nl_msg_put_be32(b, CTA_IP_V4_DST, in6_addr_get_mapped_ipv4(&d));
    }
    nl_msg_end_nested(b, ip);
    size_t p = nl_msg_start_nested(b, CTA_TUPLE_PROTO | NLA_F_NESTED);
    nl_msg_put_u8(b, CTA_PROTO_NUM, e->proto);
    if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) {
        nl_msg_put_be16(b, CTA_PROTO_SRC_PORT, htons(sport));
        nl_msg_put_be16(b, CTA_PROTO_DST_PORT, htons(dport));
    }
    nl_msg_end_nested(b, p);
    if (e->zone) {
        nl_msg_put_be16(b, CTA_TUPLE_ZONE, htons(e->zone));
    }
    nl_msg_end_nested(b, t);
}

static void
put_entry(const struct entry *e, struct ofpbuf *b)
{
    ofpbuf_clear(b);
    nl_msg_put_nlmsghdr(b, 0, (NFNL_SUBSYS_CTNETLINK << 8)
                        | IPCTNL_MSG_CT_NEW, NLM_F_MULTI);
    struct nfgenmsg *nfg = nl_msg_put_uninit(b, sizeof *nfg);
    nfg->nfgen_family = e->v6 ? AF_INET6 : AF_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    put_tuple(b, CTA_TUPLE_ORIG, e, e->osrc, e->odst, e->osport, e->odport);
    put_tuple(b, CTA_TUPLE_REPLY, e, e->rsrc, e->rdst, e->rsport,
              e->rdport);
    if (e->zone) {
        nl_msg_put_be16(b, CTA_ZONE, htons(e->zone));
    }
    nl_msg_put_be32(b, CTA_STATUS, htonl(e->status));
    nl_msg_put_be32(b, CTA_TIMEOUT, htonl(e->timeout));
    if (e->proto == IPPROTO_TCP) {
        size_t pi = nl_msg_start_nested(b, CTA_PROTOINFO | NLA_F_NESTED);
        size_t tcp = nl_msg_start_nested(b, CTA_PROTOINFO_TCP
                                         | NLA_F_NESTED);
        nl_msg_put_u8(b, CTA_PROTOINFO_TCP_STATE, e->tcp_state);
        nl_msg_put_u8(b, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, 7);
        nl_msg_put_u8(b, CTA_PROTOINFO_TCP_WSCALE_REPLY, 7);
        struct nf_ct_tcp_flags f = { 0x23, 0x23 };
        nl_msg_put_unspec(b, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &f, sizeof f);
        nl_msg_put_unspec(b, CTA_PROTOINFO_TCP_FLAGS_REPLY, &f, sizeof f);
        nl_msg_end_nested(b, tcp);
        nl_msg_end_nested(b, pi);
    }
    nl_msg_put_be32(b, CTA_USE, htonl(1));
    nl_msg_put_be32(b, CTA_ID, htonl(0x12345678));
    nl_msg_nlmsghdr(b)->nlmsg_len = b->size;
}

#define KUBE_STATUS (IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED \
                     | IPS_DST_NAT | IPS_DST_NAT_DONE | IPS_SRC_NAT_DONE)

/* A VM's connection to a ClusterIP that kube-proxy DNATed. */
static const struct entry dnat4 = {
    .proto = IPPROTO_TCP,
    .osrc = "10.40.0.5", .odst = "10.96.0.111",
    .rsrc = "10.40.0.9", .rdst = "10.40.0.5",
    .osport = 43358, .odport = 80, .rsport = 7010, .rdport = 43358,
    .status = KUBE_STATUS, .tcp_state = TCP_CONNTRACK_ESTABLISHED,
    .timeout = 299,
};
static const struct entry dnat6 = {
    .v6 = true, .proto = IPPROTO_UDP,
    .osrc = "fd00:40::5", .odst = "fd00:96::111",
    .rsrc = "fd00:40::9", .rdst = "fd00:40::5",
    .osport = 5353, .odport = 53, .rsport = 5300, .rdport = 5353,
    .status = KUBE_STATUS, .timeout = 120,
};

static enum lb_svc_ct_parse_result
parse_entry(const struct entry *e, struct lb_svc_ct *ct)
{
    struct ofpbuf b;
    ofpbuf_init(&b, 0);
    put_entry(e, &b);
    enum lb_svc_ct_parse_result r = lb_svc_ct_parse_nl(b.data, b.size, ct);
    ofpbuf_uninit(&b);
    return r;
}

static void
assert_ct(const struct lb_svc_ct *ct, const char *want)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_svc_ct_format(ct, &s);
    assert_string_equal(ds_cstr(&s), want);
    ds_destroy(&s);
}

static void
test_parse(void **state OVS_UNUSED)
{
    struct lb_svc_ct ct;
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    assert_ct(&ct, "tcp 10.40.0.5:43358 -> 10.96.0.111:80 DNAT "
              "10.40.0.9:7010 timeout 299s");
    assert_int_equal(ct.tcp_state, TCP_CONNTRACK_ESTABLISHED);
    assert_false(ct.v6);

    assert_int_equal(parse_entry(&dnat6, &ct), LB_SVC_CT_OK);
    assert_ct(&ct, "udp [fd00:40::5]:5353 -> [fd00:96::111]:53 DNAT "
              "[fd00:40::9]:5300 timeout 120s");
    assert_true(ct.v6);

    /* A port change alone is a DNAT too (a NodePort to a host port). */
    struct entry e = dnat4;
    e.rsrc = e.odst;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_OK);
    /* Half-closed still carries data. */
    e = dnat4;
    e.tcp_state = TCP_CONNTRACK_CLOSE_WAIT;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_OK);
}

static void
test_parse_skips(void **state OVS_UNUSED)
{
    struct lb_svc_ct ct;
    struct entry e;

    /* Masqueraded too: the SNAT address is the source node's. */
    e = dnat4;
    e.status |= IPS_SRC_NAT;
    e.rdst = "172.31.0.1";
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    e = dnat4;
    e.rdport = 1000;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    /* No DNAT. */
    e = dnat4;
    e.status &= ~IPS_DST_NAT;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    e = dnat4;
    e.rsrc = e.odst;
    e.rsport = e.odport;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    /* OVS's zones (the gateway's), not the host's. */
    e = dnat4;
    e.zone = 65281;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    /* Over, or about to be. */
    e = dnat4;
    e.tcp_state = TCP_CONNTRACK_TIME_WAIT;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    e = dnat4;
    e.timeout = 0;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
    /* ICMP. */
    e = dnat4;
    e.proto = IPPROTO_ICMP;
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_SKIP);
}

static void
test_parse_errors(void **state OVS_UNUSED)
{
    struct lb_svc_ct ct;
    struct ofpbuf b;
    ofpbuf_init(&b, 0);
    put_entry(&dnat4, &b);

    /* Every truncation: never an entry, never a read beyond. */
    for (size_t len = 0; len < b.size; len++) {
        uint8_t *copy = xmemdup(b.data, len);
        assert_int_not_equal(lb_svc_ct_parse_nl(copy, len, &ct),
                             LB_SVC_CT_OK);
        free(copy);
    }
    /* At an odd address (after a message whose length is not a multiple
     * of 4, from elsewhere than the kernel): read as well, copied. */
    uint8_t *odd = xmalloc(b.size + 1);
    memcpy(odd + 1, b.data, b.size);
    assert_int_equal(lb_svc_ct_parse_nl(odd + 1, b.size, &ct), LB_SVC_CT_OK);
    free(odd);

    /* A message that says it is longer than it is. */
    nl_msg_nlmsghdr(&b)->nlmsg_len = b.size + 4;
    assert_int_equal(lb_svc_ct_parse_nl(b.data, b.size, &ct),
                     LB_SVC_CT_ERROR);
    /* Another message type. */
    put_entry(&dnat4, &b);
    nl_msg_nlmsghdr(&b)->nlmsg_type = NLMSG_DONE;
    assert_int_equal(lb_svc_ct_parse_nl(b.data, b.size, &ct),
                     LB_SVC_CT_ERROR);
    ofpbuf_uninit(&b);
}

/* The attribute 'type' nested in 'a' (or the message, with NULL). */
static const struct nlattr *
find(const struct ofpbuf *msg, const struct nlattr *a, uint16_t type)
{
    const struct nlattr *r = (a ? nl_attr_find_nested(a, type)
                              : nl_attr_find(msg, NLMSG_HDRLEN
                                             + sizeof(struct nfgenmsg),
                                             type));
    assert_non_null(r);
    return r;
}

static void
test_create(void **state OVS_UNUSED)
{
    struct lb_svc_ct ct;
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    struct ofpbuf b;
    ofpbuf_init(&b, 0);
    lb_svc_ct_put_create(&ct, 42, &b);

    const struct nlmsghdr *nlh = b.data;
    assert_int_equal(nlh->nlmsg_len, b.size);
    assert_int_equal(nlh->nlmsg_seq, 42);
    assert_int_equal(nlh->nlmsg_type,
                     (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);
    assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE
                     | NLM_F_EXCL | NLM_F_ACK);
    const struct nfgenmsg *nfg = (const void *) (nlh + 1);
    assert_int_equal(nfg->nfgen_family, AF_INET);

    /* The original tuple; the reply as if not NATed (the kernel NATs it
     * from CTA_NAT_DST). */
    const struct nlattr *o = find(&b, NULL, CTA_TUPLE_ORIG);
    const struct nlattr *oip = find(NULL, o, CTA_TUPLE_IP);
    assert_int_equal(nl_attr_get_be32(find(NULL, oip, CTA_IP_V4_SRC)),
                     htonl(0x0a280005));
    assert_int_equal(nl_attr_get_be32(find(NULL, oip, CTA_IP_V4_DST)),
                     htonl(0x0a60006f));
    const struct nlattr *op = find(NULL, o, CTA_TUPLE_PROTO);
    assert_int_equal(nl_attr_get_u8(find(NULL, op, CTA_PROTO_NUM)),
                     IPPROTO_TCP);
    assert_int_equal(nl_attr_get_be16(find(NULL, op, CTA_PROTO_SRC_PORT)),
                     htons(43358));
    assert_int_equal(nl_attr_get_be16(find(NULL, op, CTA_PROTO_DST_PORT)),
                     htons(80));
    const struct nlattr *r = find(&b, NULL, CTA_TUPLE_REPLY);
    const struct nlattr *rip = find(NULL, r, CTA_TUPLE_IP);
    assert_int_equal(nl_attr_get_be32(find(NULL, rip, CTA_IP_V4_SRC)),
                     htonl(0x0a60006f));
    assert_int_equal(nl_attr_get_be32(find(NULL, rip, CTA_IP_V4_DST)),
                     htonl(0x0a280005));
    const struct nlattr *rp = find(NULL, r, CTA_TUPLE_PROTO);
    assert_int_equal(nl_attr_get_be16(find(NULL, rp, CTA_PROTO_SRC_PORT)),
                     htons(80));

    const struct nlattr *nat = find(&b, NULL, CTA_NAT_DST);
    assert_int_equal(nl_attr_get_be32(find(NULL, nat, CTA_NAT_V4_MINIP)),
                     htonl(0x0a280009));
    assert_int_equal(nl_attr_get_be32(find(NULL, nat, CTA_NAT_V4_MAXIP)),
                     htonl(0x0a280009));
    const struct nlattr *np = find(NULL, nat, CTA_NAT_PROTO);
    assert_int_equal(nl_attr_get_be16(find(NULL, np, CTA_PROTONAT_PORT_MIN)),
                     htons(7010));
    assert_int_equal(nl_attr_get_be16(find(NULL, np, CTA_PROTONAT_PORT_MAX)),
                     htons(7010));

    assert_int_equal(nl_attr_get_be32(find(&b, NULL, CTA_TIMEOUT)),
                     htonl(299));
    assert_int_equal(nl_attr_get_be32(find(&b, NULL, CTA_STATUS)),
                     htonl(IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED));
    const struct nlattr *pi = find(&b, NULL, CTA_PROTOINFO);
    const struct nlattr *tcp = find(NULL, pi, CTA_PROTOINFO_TCP);
    assert_int_equal(nl_attr_get_u8(find(NULL, tcp, CTA_PROTOINFO_TCP_STATE)),
                     TCP_CONNTRACK_ESTABLISHED);
    const struct nf_ct_tcp_flags *f = nl_attr_get_unspec(
        find(NULL, tcp, CTA_PROTOINFO_TCP_FLAGS_REPLY), sizeof *f);
    assert_int_equal(f->flags, IP_CT_TCP_FLAG_BE_LIBERAL);
    assert_int_equal(f->mask, IP_CT_TCP_FLAG_BE_LIBERAL);

    /* IPv6, UDP: no TCP protoinfo. */
    assert_int_equal(parse_entry(&dnat6, &ct), LB_SVC_CT_OK);
    lb_svc_ct_put_create(&ct, 43, &b);
    nfg = (const void *) ((const struct nlmsghdr *) b.data + 1);
    assert_int_equal(nfg->nfgen_family, AF_INET6);
    nat = find(&b, NULL, CTA_NAT_DST);
    struct in6_addr be = nl_attr_get_in6_addr(find(NULL, nat,
                                                   CTA_NAT_V6_MINIP));
    assert_true(ipv6_addr_equals(&be, &ct.backend));
    assert_null(nl_attr_find(&b, NLMSG_HDRLEN + sizeof(struct nfgenmsg),
                             CTA_PROTOINFO));

    /* The dump request: DNATed entries. */
    lb_svc_ct_put_dump_request(7, &b);
    nlh = b.data;
    assert_int_equal(nlh->nlmsg_len, b.size);
    assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert_int_equal(nlh->nlmsg_type,
                     (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET);
    assert_int_equal(nl_attr_get_be32(find(&b, NULL, CTA_STATUS)),
                     htonl(IPS_DST_NAT));
    assert_int_equal(nl_attr_get_be32(find(&b, NULL, CTA_STATUS_MASK)),
                     htonl(IPS_DST_NAT));
    ofpbuf_uninit(&b);
}

static const struct eth_addr vm_mac = ETH_ADDR_C(0a, 58, 0a, 28, 00, 05);

static void
test_packet(void **state OVS_UNUSED)
{
    const struct entry *entries[] = { &dnat4, &dnat6 };
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        struct lb_svc_ct ct, back;
        const char *error = NULL;
        assert_int_equal(parse_entry(entries[i], &ct), LB_SVC_CT_OK);
        struct ofpbuf b;
        ofpbuf_init(&b, 0);
        lb_svc_ct_packet(&ct, vm_mac, &b);

        /* As the switch sees it: UDP from the VM to the Service. */
        struct dp_packet *p = dp_packet_clone_data(b.data, b.size);
        struct flow flow;
        flow_extract(p, &flow);
        dp_packet_delete(p);
        assert_int_equal(flow.nw_proto, IPPROTO_UDP);
        if (ct.v6) {
            assert_int_equal(flow.dl_type, htons(ETH_TYPE_IPV6));
            assert_true(ipv6_addr_equals(&flow.ipv6_src, &ct.vm));
            assert_true(ipv6_addr_equals(&flow.ipv6_dst, &ct.service));
        } else {
            assert_int_equal(flow.dl_type, htons(ETH_TYPE_IP));
            assert_int_equal(flow.nw_src, in6_addr_get_mapped_ipv4(&ct.vm));
        }

        assert_true(lb_svc_ct_packet_parse(b.data, b.size, &back, &error));
        assert_memory_equal(&ct, &back, sizeof ct);

        /* Every truncation, every byte flipped: an error or a record that
         * is still well-formed, never a read beyond. */
        for (size_t len = 0; len < b.size; len++) {
            uint8_t *copy = xmemdup(b.data, len);
            assert_false(lb_svc_ct_packet_parse(copy, len, &back, &error));
            assert_non_null(error);
            free(copy);
        }
        for (size_t j = 0; j < b.size; j++) {
            uint8_t *copy = xmemdup(b.data, b.size);
            copy[j] ^= 0xff;
            if (lb_svc_ct_packet_parse(copy, b.size, &back, &error)) {
                assert_true(back.proto == IPPROTO_TCP
                            || back.proto == IPPROTO_UDP);
                assert_true(back.vm_port && back.backend_port);
            }
            free(copy);
        }
        ofpbuf_uninit(&b);
    }

    /* An IPv4 record with an IPv6 backend. */
    struct lb_svc_ct ct, back;
    const char *error;
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    ct.backend = addr("fd00:40::9");
    struct ofpbuf b;
    ofpbuf_init(&b, 0);
    lb_svc_ct_packet(&ct, vm_mac, &b);
    assert_false(lb_svc_ct_packet_parse(b.data, b.size, &back, &error));
    assert_string_equal(error,
                        "an address is not a unicast address of the family");
    /* No timeout. */
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    ct.timeout = 0;
    lb_svc_ct_packet(&ct, vm_mac, &b);
    assert_false(lb_svc_ct_packet_parse(b.data, b.size, &back, &error));
    assert_string_equal(error, "timeout out of range");
    ofpbuf_uninit(&b);

    struct ds a = DS_EMPTY_INITIALIZER;
    lb_svc_ct_packet_out_actions(1, 4, &a);
    assert_string_equal(ds_cstr(&a), "set_field:0x100001->tun_id,output:4");
    ds_destroy(&a);
}

static void
test_port(void **state OVS_UNUSED)
{
    struct lb_port port = { .key = 0x1006c89 };
    port.ipv4[port.n_ipv4++] = htonl(0x0a280005);
    port.ipv6[port.n_ipv6++] = addr("fd00:40::5");

    struct lb_svc_ct ct;
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    assert_true(lb_svc_ct_is_ports(&port, &ct));
    assert_int_equal(parse_entry(&dnat6, &ct), LB_SVC_CT_OK);
    assert_true(lb_svc_ct_is_ports(&port, &ct));
    struct entry e = dnat4;
    e.osrc = e.rdst = "10.40.0.6";
    assert_int_equal(parse_entry(&e, &ct), LB_SVC_CT_OK);
    assert_false(lb_svc_ct_is_ports(&port, &ct));
    /* The IPv4 address, mapped, as an IPv6 record's: not the port's. */
    assert_int_equal(parse_entry(&dnat4, &ct), LB_SVC_CT_OK);
    ct.v6 = true;
    assert_false(lb_svc_ct_is_ports(&port, &ct));

    struct lb_flow_table table;
    struct lb_flow_table *ft = &table;
    lb_flow_table_init(ft);
    lb_svc_ct_port_flows(&port, 1, 2, ft);
    static const char *const want[] = {
        "cookie=0x4800000001006c89, table=0, priority=150,"
        "udp,in_port=2,tun_id=0x100001,nw_src=10.40.0.5 "
        "actions=controller(userdata=00.00.00.0a)",
        "cookie=0x4800000001006c89, table=0, priority=150,"
        "udp6,in_port=2,tun_id=0x100001,ipv6_src=fd00:40::5 "
        "actions=controller(userdata=00.00.00.0a)",
        NULL,
    };
    assert_flows(ft, want);
    assert_all_parse(ft);
    lb_flow_table_destroy(ft);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_skips),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_packet),
        cmocka_unit_test(test_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
