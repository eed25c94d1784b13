/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The admission of idle connections at a migration's cutover: the
 * conntrack dump parser (lib/ct-dump.c), the tuples and the packets that
 * carry them, and their flows (lib/policy-admit.c), each flow parsed as
 * ofctrl parses it before it goes to the switch. */

#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "cookie.h"
#include "ct-dump.h"
#include "dp-packet.h"
#include "flow.h"
#include "flow-table.h"
#include "lb-json.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "pipeline.h"
#include "policy.h"
#include "policy-admit.h"
#include "simap.h"
#include "test-flows.h"
#include "util.h"

/* Lines as ovs-vswitchd 3.1 writes them ("dpctl/dump-conntrack -s"). */
static const char dump[] =
    "tcp,orig=(src=10.0.0.11,dst=10.0.0.20,sport=40000,dport=9101,"
    "packets=3,bytes=180),reply=(src=10.0.0.20,dst=10.0.0.11,sport=9101,"
    "dport=40000,packets=2,bytes=120),zone=7,timeout=86395,"
    "protoinfo=(state=ESTABLISHED)\n"
    "udp,orig=(src=fd00::20,dst=fd00::b,sport=53,dport=5353),"
    "reply=(src=fd00::b,dst=fd00::20,sport=5353,dport=53),zone=7,"
    "timeout=25\n"
    "icmp,orig=(src=10.0.0.11,dst=10.0.0.20,id=7,type=8,code=0),"
    "reply=(src=10.0.0.20,dst=10.0.0.11,id=7,type=0,code=0),zone=7,"
    "timeout=29\n"
    "tcp,orig=(src=10.0.0.11,dst=10.0.0.20,sport=40001,dport=9101),"
    "reply=(src=10.0.0.20,dst=10.0.0.11,sport=9101,dport=40001),zone=7,"
    "timeout=119,protoinfo=(state=TIME_WAIT)\n"
    "tcp,orig=(src=10.0.0.12,dst=10.0.0.20,sport=1,dport=2),"
    "reply=(src=10.0.0.20,dst=10.0.0.12,sport=2,dport=1),zone=7,"
    "start=2026-12-05T05:00:00.000,timeout=3000,mark=5,"
    "labels=0x1,protoinfo=(state=SYN_SENT)\n"
    "not an entry\n"
    "\n"
    "tcp,orig=(src=10.0.0.11,dst=fd00::1,sport=1,dport=2),reply=(),"
    "zone=7\n";

static void
test_parse_dump(void **state OVS_UNUSED)
{
    size_t n, n_errors;
    struct lb_ct_entry *e = lb_ct_dump_parse(dump, &n, &n_errors);
    assert_int_equal(n, 4);
    assert_int_equal(n_errors, 2);     /* The text, the mixed families. */

    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        lb_ct_entry_format(&e[i], &s);
        ds_put_char(&s, '\n');
    }
    assert_string_equal(ds_cstr(&s),
        "tcp,src=10.0.0.11,dst=10.0.0.20,sport=40000,dport=9101,zone=7,"
        "timeout=86395\n"
        "udp,src=fd00::20,dst=fd00::b,sport=53,dport=5353,zone=7,"
        "timeout=25\n"
        "tcp,src=10.0.0.11,dst=10.0.0.20,sport=40001,dport=9101,zone=7,"
        "timeout=119,closing\n"
        "tcp,src=10.0.0.12,dst=10.0.0.20,sport=1,dport=2,zone=7,"
        "timeout=3000\n");
    ds_destroy(&s);
    free(e);

    /* Malformed lines: errors, never entries. */
    static const char *const bad[] = {
        "tcp",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2)",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1),reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=70000),reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2,reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2)),reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),reply=(),",
        "tcp,orig=(src=10.0.0.300,dst=10.0.0.2,sport=1,dport=2),reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=-1,dport=2),reply=()",
        "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),reply=(),"
        "timeout=99999999999",
        "tcp,orig=src,reply=()",
        "orig=(src=10.0.0.1),reply=()",
        ",",
        "",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct lb_ct_entry x;
        assert_int_equal(lb_ct_dump_parse_line(bad[i], strlen(bad[i]), &x),
                         LB_CT_ERROR);
    }
}

static struct lb_port *
vm_port(struct lb_model *model)
{
    char *error = lb_model_from_json_string(
        "{\"chassis\": [{\"name\": \"n2\", \"ip\": \"172.16.0.2\"},"
        "              {\"name\": \"n3\", \"ip\": \"172.16.0.3\"}],"
        " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
        "                \"subnet\": \"10.0.0.0/24\"}],"
        " \"ports\": [{\"name\": \"default_vm1\", \"key\": 16777227,"
        "             \"switch\": \"pods\", \"mac\": \"0a:58:0a:00:00:0b\","
        "             \"ips\": [\"10.0.0.11\"], \"chassis\": \"n2\"}]}",
        model);
    assert_null(error);
    struct lb_port *vm = lb_model_find_port(model, "default_vm1");
    inet_pton(AF_INET6, "fd00::b", &vm->ipv6[0]);
    vm->n_ipv6 = 1;
    return vm;
}

static void
test_tuples(void **state OVS_UNUSED)
{
    struct lb_model model;
    lb_model_init(&model);
    const struct lb_port *vm = vm_port(&model);

    size_t n, n_errors;
    struct lb_ct_entry *e = lb_ct_dump_parse(dump, &n, &n_errors);
    assert_int_equal(n, 4);
    struct lb_admit_tuple t;

    /* The VM opened it: the peer is the destination. */
    assert_true(lb_admit_tuple_from_entry(vm, &e[0], &t));
    assert_false(t.v6);
    assert_int_equal(t.proto, IPPROTO_TCP);
    assert_int_equal(in6_addr_get_mapped_ipv4(&t.peer), htonl(0x0a000014));
    assert_int_equal(in6_addr_get_mapped_ipv4(&t.vm), htonl(0x0a00000b));
    assert_int_equal(t.peer_port, 9101);
    assert_int_equal(t.vm_port, 40000);
    assert_int_equal(t.timeout, 86395);

    /* The peer opened it, over IPv6. */
    assert_true(lb_admit_tuple_from_entry(vm, &e[1], &t));
    assert_true(t.v6);
    assert_int_equal(t.proto, IPPROTO_UDP);
    assert_int_equal(t.peer_port, 53);
    assert_int_equal(t.vm_port, 5353);
    assert_int_equal(t.vm.s6_addr[15], 0xb);

    /* Over: nothing to carry. */
    assert_false(lb_admit_tuple_from_entry(vm, &e[2], &t));
    /* Not the VM's (neither end its address). */
    assert_false(lb_admit_tuple_from_entry(vm, &e[3], &t));
    free(e);
    lb_model_destroy(&model);
}

/* Idle in the mirroring window, as two dumps' timeouts tell. */
static void
test_idle(void **state OVS_UNUSED)
{
    size_t n, n_errors;
    struct lb_ct_entry *e = lb_ct_dump_parse(dump, &n, &n_errors);
    struct lb_ct_entry later = e[0];

    assert_true(lb_ct_entry_same_conn(&e[0], &later));
    assert_int_equal(lb_ct_entry_hash(&e[0]), lb_ct_entry_hash(&later));
    later.sport++;
    assert_false(lb_ct_entry_same_conn(&e[0], &later));
    later.sport--;

    /* 86395 s left, then 10 s later: 86385 (idle), 86386 (rounding), or
     * 86399 (refreshed 14 s after). */
    later.timeout = 86385;
    assert_true(lb_admit_entry_idle(&e[0], &later, 10000));
    later.timeout = 86386;
    assert_true(lb_admit_entry_idle(&e[0], &later, 10500));
    later.timeout = 86399;
    assert_false(lb_admit_entry_idle(&e[0], &later, 10000));
    /* A long-idle entry refreshed: its timeout back to its full length. */
    struct lb_ct_entry earlier = e[0];
    earlier.timeout = 3600;
    later.timeout = 86390;
    assert_false(lb_admit_entry_idle(&earlier, &later, 10000));
    /* Too close to tell: idle. */
    later.timeout = 86395;
    assert_true(lb_admit_entry_idle(&e[0], &later, 500));
    free(e);
}

static void
test_buckets(void **state OVS_UNUSED)
{
    assert_int_equal(lb_admit_bucket(0), 5);
    assert_int_equal(lb_admit_bucket(32), 5);
    assert_int_equal(lb_admit_bucket(33), 6);
    assert_int_equal(lb_admit_bucket(3600), 12);
    assert_int_equal(lb_admit_bucket(86400), 16);
    assert_int_equal(lb_admit_bucket(UINT32_MAX), 16);
    assert_int_equal(lb_admit_bucket_seconds(12), 4096);
    assert_int_equal(lb_admit_bucket_seconds(16), 65535);
    /* Never shorter than the source's entry, up to OpenFlow's limit. */
    for (uint32_t t = 0; t < 70000; t += 7) {
        assert_true(lb_admit_bucket_seconds(lb_admit_bucket(t))
                    >= MIN(t, 65535));
    }
}

/* The packet of 't', as the switch extracts it. */
static void
extract(const struct lb_admit_tuple *t, struct flow *flow)
{
    struct ofpbuf b;
    ofpbuf_init(&b, 0);
    lb_admit_packet(t, (struct eth_addr) ETH_ADDR_C(0a, 58, 0a, 00, 00, 0b),
                    &b);
    struct dp_packet *p = dp_packet_clone_data(b.data, b.size);
    flow_extract(p, flow);
    dp_packet_delete(p);
    ofpbuf_uninit(&b);
}

static void
test_packets(void **state OVS_UNUSED)
{
    struct lb_admit_tuple t = {
        .proto = IPPROTO_TCP,
        .peer = in6_addr_mapped_ipv4(htonl(0x0a000014)),
        .vm = in6_addr_mapped_ipv4(htonl(0x0a00000b)),
        .peer_port = 9101, .vm_port = 40000, .timeout = 86395,
    };
    struct flow flow;
    extract(&t, &flow);
    assert_int_equal(flow.dl_type, htons(ETH_TYPE_IP));
    assert_int_equal(flow.nw_proto, IPPROTO_TCP);
    assert_int_equal(flow.nw_src, htonl(0x0a000014));
    assert_int_equal(flow.nw_dst, htonl(0x0a00000b));
    assert_int_equal(flow.tp_src, htons(9101));
    assert_int_equal(flow.tp_dst, htons(40000));
    assert_int_equal(flow.nw_ttl, 16);
    assert_int_equal(flow.tcp_flags, 0);

    t.v6 = true;
    t.proto = IPPROTO_UDP;
    inet_pton(AF_INET6, "fd00::20", &t.peer);
    inet_pton(AF_INET6, "fd00::b", &t.vm);
    t.timeout = 25;
    extract(&t, &flow);
    assert_int_equal(flow.dl_type, htons(ETH_TYPE_IPV6));
    assert_int_equal(flow.nw_proto, IPPROTO_UDP);
    assert_true(ipv6_addr_equals(&flow.ipv6_src, &t.peer));
    assert_true(ipv6_addr_equals(&flow.ipv6_dst, &t.vm));
    assert_int_equal(flow.tp_src, htons(9101));
    assert_int_equal(flow.nw_ttl, 5);

    struct ds a = DS_EMPTY_INITIALIZER;
    lb_admit_packet_out_actions(1, 4, &a);
    assert_string_equal(ds_cstr(&a), "set_field:0x400001->tun_id,output:4");
    ds_destroy(&a);
}

static size_t
count_flows(const struct lb_flow_table *ft, int table, const char *match,
            const char *actions)
{
    size_t n = 0;
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, ft) {
        n += (f->table_id == table && strstr(f->match, match)
              && strstr(f->actions, actions));
    }
    return n;
}

static void
test_flows(void **state OVS_UNUSED)
{
    struct lb_model model;
    lb_model_init(&model);
    struct lb_port *vm = vm_port(&model);
    lb_port_set_chassis(vm, "n2", "n3");
    vm->mirror = true;

    struct lb_policy_engine *e = lb_policy_engine_create();
    struct lb_policy_endpoint *ep = lb_policy_endpoint_create(
        "default_vm1", "default", vm->key);
    smap_add(&ep->labels, "vm.kubevirt.io/name", "vm1");
    ep->ipv4[ep->n_ipv4++] = vm->ipv4[0];
    ep->ipv6[ep->n_ipv6++] = vm->ipv6[0];
    lb_policy_set_endpoint(e, ep);
    json_t *j = json_loads(
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"deny\"},"
        "\"spec\":{\"podSelector\":{}}}", 0, NULL);
    struct lb_network_policy *np;
    assert_null(lb_network_policy_from_json(j, &np));
    json_decref(j);
    lb_policy_set_policy(e, np);
    lb_policy_engine_run(e, NULL, NULL);

    struct simap ifaces = SIMAP_INITIALIZER(&ifaces);
    struct simap tunnels = SIMAP_INITIALIZER(&tunnels);
    simap_put(&ifaces, "default_vm1", 7);
    simap_put(&tunnels, "n2", 1);
    struct lb_pipeline_ctx ctx = {
        .model = &model, .chassis = "n3", .iface_ofports = &ifaces,
        .tunnel_ofports = &tunnels, .policy = e, .ct_handover = true,
    };
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);

    /* The target, activated: the tuples from n2's tunnel are learned, for
     * each address of the VM, protocol and timeout bucket. */
    lb_pipeline_compute(&ctx, &ft);
    assert_all_parse(&ft);
    size_t n_buckets = LB_ADMIT_BUCKET_MAX - LB_ADMIT_BUCKET_MIN + 1;
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN,
                                 "tun_id=0x400001", "learn("),
                     2 * 2 * n_buckets);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN,
                                 "in_port=1,", "learn("), 2 * 2 * n_buckets);
    /* Table 0 sends every tuple there, where the others drop. */
    assert_actions(&ft, OFTABLE_CLASSIFY, PRIO_POLICY_SYNC,
                   "tun_id=0x400000/0x400000", "resubmit(,18)");
    assert_actions(&ft, OFTABLE_POLICY_ADMIT_LEARN, PRIO_TABLE_MISS, "",
                   "drop");
    assert_actions(&ft, OFTABLE_POLICY_ADMIT_LEARN, PRIO_PORT,
                   "in_port=1,tun_id=0x400001,tcp,nw_dst=10.0.0.11,nw_ttl=16",
                   "learn(table=46,priority=100,hard_timeout=65535,"
                   "fin_hard_timeout=1,cookie=0x800000000100000b,"
                   "reg15=0x100000b,eth_type=0x800,nw_proto=6,"
                   "NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],"
                   "NXM_OF_TCP_DST[],load:1->NXM_NX_REG11[1]),"
                   "learn(table=17,priority=100,hard_timeout=65535,"
                   "fin_hard_timeout=1,cookie=0x800000000100000b,"
                   "reg14=0x100000b,eth_type=0x800,nw_proto=6,"
                   "NXM_OF_IP_SRC[]=NXM_OF_IP_DST[],"
                   "NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],"
                   "NXM_OF_TCP_SRC[]=NXM_OF_TCP_DST[],"
                   "NXM_OF_TCP_DST[]=NXM_OF_TCP_SRC[],"
                   "load:1->NXM_NX_REG11[0])");
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN,
                                 "udp6,ipv6_dst=fd00::b,nw_ttl=5",
                                 "hard_timeout=32,"), 1);
    /* Into the zone past the lookup, both ways, both families. */
    assert_actions(&ft, OFTABLE_POLICY_INGRESS_CT, PRIO_POLICY_ADMIT_LOOKUP,
                   "ipv6,reg15=0x100000b",
                   "set_field:0/0x2->reg11,resubmit(,46),"
                   "set_field:7->reg13,ct(table=42,zone=NXM_NX_REG13[0..15])");
    assert_actions(&ft, OFTABLE_POLICY_EGRESS_CT, PRIO_POLICY_ADMIT_LOOKUP,
                   "ip,reg14=0x100000b",
                   "set_field:0/0x1->reg11,resubmit(,17),"
                   "set_field:7->reg13,ct(table=12,zone=NXM_NX_REG13[0..15])");
    /* A marked new connection: committed and delivered. */
    assert_actions(&ft, OFTABLE_POLICY_INGRESS, PRIO_POLICY_ADMIT,
                   "ct_state=+new-est+trk,reg11=0x2/0x2", "resubmit(,43)");
    assert_actions(&ft, OFTABLE_POLICY_EGRESS, PRIO_POLICY_ADMIT,
                   "ct_state=+new-est+trk,reg11=0x1/0x1", "resubmit(,13)");

    /* The tunnel from another chassis learns nothing. */
    simap_put(&tunnels, "n4", 5);
    lb_pipeline_compute(&ctx, &ft);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN,
                                 "in_port=5,", ""), 0);

    /* The source learns nothing; it keeps its lookups. */
    ctx.chassis = "n2";
    simap_put(&tunnels, "n3", 2);
    lb_pipeline_compute(&ctx, &ft);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN, "",
                                 "learn("), 0);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_INGRESS_CT, "",
                                 "resubmit(,46)"), 2);

    /* Migrated: the lookups stay (the learned flows outlive the
     * migration), the learning goes. */
    lb_port_set_chassis(vm, "n3", NULL);
    ctx.chassis = "n3";
    lb_pipeline_compute(&ctx, &ft);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN, "",
                                 "learn("), 0);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_EGRESS_CT, "",
                                 "resubmit(,17)"), 2);

    /* --no-ct-handover: none of it. */
    lb_port_set_chassis(vm, "n2", "n3");
    ctx.ct_handover = false;
    lb_pipeline_compute(&ctx, &ft);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN, "",
                                 "learn("), 0);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_INGRESS_CT, "",
                                 "resubmit(,46)"), 0);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_INGRESS,
                                 "reg11", ""), 0);

    /* Not policed: none of it either. */
    ctx.ct_handover = true;
    lb_policy_remove_policy(e, "default", "deny");
    lb_policy_engine_run(e, NULL, NULL);
    lb_pipeline_compute(&ctx, &ft);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_ADMIT_LEARN, "",
                                 "learn("), 0);
    assert_int_equal(count_flows(&ft, OFTABLE_POLICY_INGRESS_CT, "",
                                 "resubmit(,46)"), 0);

    lb_flow_table_destroy(&ft);
    simap_destroy(&ifaces);
    simap_destroy(&tunnels);
    lb_policy_engine_destroy(e);
    lb_model_destroy(&model);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_dump),
        cmocka_unit_test(test_tuples),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
