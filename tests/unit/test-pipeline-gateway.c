/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The distributed gateway's flows (pipeline-gateway.c), dual-stack: switch
 * "pods" (key 1, 10.0.0.0/24 gateway 10.0.0.1, fd00::/64 gateway fd00::1),
 * pod p1 on n1 and p2 on n2; the gateway port is ofport 5 on every chassis
 * that has one.  And the gateway addresses' defaults. */

#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "cookie.h"
#include "flow-table.h"
#include "k8s-objects.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "pipeline.h"
#include "pipeline-gateway.h"
#include "simap.h"
#include "test-flows.h"
#include "util.h"

static const char gateway_model[] =
    "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"172.31.0.1\"},"
    "               {\"name\": \"n2\", \"ip\": \"172.31.0.2\"}],"
    " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
    "                 \"subnet\": \"10.0.0.0/24\", \"gateway\": \"10.0.0.1\","
    "                 \"ipv6_prefix\": \"fd00::/64\","
    "                 \"gateway6\": \"fd00::1\", \"mtu\": 1400},"
    "                {\"name\": \"vlan100\", \"key\": 2,"
    "                 \"subnet\": \"192.0.2.0/24\","
    "                 \"gateway\": \"192.0.2.1\", \"mtu\": 1500,"
    "                 \"provider\": {\"physnet\": \"physnet1\","
    "                              \"vlan\": 100}}],"
    " \"ports\": [{\"name\": \"p1\", \"key\": 16777226, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:0a\","
    "              \"ips\": [\"10.0.0.10\", \"fd00::858:aff:fe00:a\"],"
    "              \"chassis\": \"n1\"},"
    "             {\"name\": \"p2\", \"key\": 16777227, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:0b\","
    "              \"ips\": [\"10.0.0.11\", \"fd00::858:aff:fe00:b\"],"
    "              \"chassis\": \"n2\"},"
    "             {\"name\": \"v1\", \"key\": 33554442,"
    "              \"switch\": \"vlan100\","
    "              \"mac\": \"0a:58:c0:00:02:0a\", \"ips\": [\"192.0.2.10\"],"
    "              \"chassis\": \"n1\"}]}";

struct fixture {
    struct lb_model model;
    struct simap ifaces;
    struct simap tunnels;
    struct lb_pipeline_ctx ctx;
    struct lb_flow_table flows;
};

/* Computes for 'chassis': its pods local, the tunnel to the other at
 * ofport 10, the gateway port at ofport 5 if 'gateway'. */
static void
set_chassis(struct fixture *f, const char *chassis, bool gateway)
{
    simap_clear(&f->ifaces);
    simap_clear(&f->tunnels);
    static const char *const ports[] = { "p1", "p2", "v1" };
    for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
        const struct lb_port *p = lb_model_find_port(&f->model, ports[i]);
        if (p && lb_port_bound_to(p, chassis)) {
            simap_put(&f->ifaces, ports[i], 1 + i);
        }
    }
    if (gateway) {
        simap_put(&f->ifaces, LB_GATEWAY_IFACE_ID, 5);
    }
    simap_put(&f->tunnels, strcmp(chassis, "n1") ? "n1" : "n2", 10);
    f->ctx.chassis = chassis;
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    lb_model_init(&f->model);
    char *error = lb_model_from_json_string(gateway_model, &f->model);
    assert_null(error);
    simap_init(&f->ifaces);
    simap_init(&f->tunnels);
    f->ctx = (struct lb_pipeline_ctx) {
        .model = &f->model,
        .iface_ofports = &f->ifaces,
        .tunnel_ofports = &f->tunnels,
    };
    set_chassis(f, "n1", true);
    lb_flow_table_init(&f->flows);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    lb_flow_table_destroy(&f->flows);
    simap_destroy(&f->ifaces);
    simap_destroy(&f->tunnels);
    lb_model_destroy(&f->model);
    free(f);
    return 0;
}

static size_t
count_gateway_flows(const struct lb_flow_table *ft)
{
    size_t n = 0;
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, ft) {
        if (lb_cookie_kind(flow->cookie) == LB_COOKIE_GATEWAY
            || flow->table_id == OFTABLE_GATEWAY_IN
            || flow->table_id == OFTABLE_GATEWAY_OUT
            || flow->table_id == OFTABLE_GATEWAY_REPLY) {
            n++;
        }
    }
    return n;
}

/* A chassis without a gateway port has none of the gateway's flows. */
static void
test_no_gateway_port(void **state)
{
    struct fixture *f = *state;
    set_chassis(f, "n1", false);
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_int_equal(count_gateway_flows(&f->flows), 0);
    assert_null(actions_of(&f->flows, OFTABLE_ARP_RESPONDER, 100,
                           "metadata=0x1,arp,arp_op=1,arp_tpa=10.0.0.1"));
}

/* Both families, on n1: the gateway answered here, to the host by the
 * gateway MAC, the host's packets to each port's addresses (local p1 and
 * remote p2) into the switch. */
static void
test_flows(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);

    assert_actions(&f->flows, OFTABLE_CLASSIFY, 100, "in_port=5",
                   "resubmit(,32)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_IN, 0, "", "drop");
    assert_actions(&f->flows, OFTABLE_GATEWAY_OUT, 0, "", "drop");
    /* The host's ICMPv6 redirects never reach a port: they would name
     * the gateway port's own MAC as the destination's. */
    assert_actions(&f->flows, OFTABLE_GATEWAY_IN, 110, "icmp6,icmp_type=137",
                   "drop");

    assert_actions(&f->flows, OFTABLE_ARP_RESPONDER, 100,
                   "metadata=0x1,arp,arp_op=1,arp_tpa=10.0.0.1",
                   "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                   "set_field:0a:59:00:00:00:01->eth_src,set_field:2->arp_op,"
                   "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                   "set_field:0a:59:00:00:00:01->arp_sha,"
                   "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                   "set_field:10.0.0.1->arp_spa,IN_PORT");
    /* The IPv6 gateway: pipeline.c's ND responder, with the same MAC. */
    assert_non_null(actions_of(&f->flows, OFTABLE_ND_RESPONDER, 100,
                               "metadata=0x1,icmp6,icmp_type=135,icmp_code=0,"
                               "nd_target=fd00::1"));
    assert_non_null(strstr(actions_of(&f->flows, OFTABLE_ND_RESPONDER, 100,
                                      "metadata=0x1,icmp6,icmp_type=135,"
                                      "icmp_code=0,nd_target=fd00::1"),
                           "set_field:0a:59:00:00:00:01->eth_src"));

    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 100,
                   "metadata=0x1,dl_dst=0a:59:00:00:00:01", "resubmit(,31)");
    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 110,
                   "metadata=0x1,reg14=0,dl_dst=0a:59:00:00:00:01", "drop");
    assert_actions(&f->flows, OFTABLE_GATEWAY_OUT, 100, "ip,metadata=0x1",
                   "set_field:0a:59:00:00:00:00->eth_dst,output:5");
    assert_actions(&f->flows, OFTABLE_GATEWAY_OUT, 100, "ipv6,metadata=0x1",
                   "set_field:0a:59:00:00:00:00->eth_dst,output:5");

    static const char *const addrs[][3] = {
        { "ip,nw_dst=10.0.0.10", "0a:58:0a:00:00:0a", "0x100000a" },
        { "ipv6,ipv6_dst=fd00::858:aff:fe00:a", "0a:58:0a:00:00:0a",
          "0x100000a" },
        { "ip,nw_dst=10.0.0.11", "0a:58:0a:00:00:0b", "0x100000b" },
        { "ipv6,ipv6_dst=fd00::858:aff:fe00:b", "0a:58:0a:00:00:0b",
          "0x100000b" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
        char *want = xasprintf("set_field:0x1->metadata,"
                               "set_field:0x80000001->reg14,"
                               "set_field:0a:59:00:00:00:01->eth_src,"
                               "set_field:%s->eth_dst,"
                               "set_field:0x1/0x1->reg12,"
                               "ct(commit,table=33,zone=65281,"
                               "exec(set_field:0x1/0x3->ct_mark))",
                               addrs[i][1]);
        assert_actions(&f->flows, OFTABLE_GATEWAY_IN, 100, addrs[i][0], want);
        free(want);
    }

    /* Every IP packet of the switch is looked up in its zone first; a
     * reply of what the host sent goes back to the host. */
    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 130,
                   "ip,metadata=0x1,reg12=0/0x1",
                   "set_field:0x1/0x1->reg12,ct(table=33,zone=65281)");
    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 130,
                   "ipv6,metadata=0x1,reg12=0/0x1",
                   "set_field:0x1/0x1->reg12,ct(table=33,zone=65281)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 100,
                   "ct_state=+trk+rpl,ct_mark=0x1/0x1,ip", "resubmit(,31)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 100,
                   "ct_state=+trk+rpl,ct_mark=0x1/0x1,ipv6", "resubmit(,31)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 100,
                   "ct_state=+trk+inv,ct_mark=0x1/0x1,ip", "resubmit(,31)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 100,
                   "ct_state=+trk+inv,ct_mark=0x1/0x1,ipv6", "resubmit(,31)");
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 0, "", "resubmit(,30)");
    /* What the host sent never goes back to it. */
    assert_actions(&f->flows, OFTABLE_GATEWAY_REPLY, 110,
                   "reg14=0x80000001", "resubmit(,30)");

    /* Per-port flows carry the port's cookie, per-switch ones kind 6,
     * the redirects' drop (for every switch) kind 6 of no switch. */
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
        if (flow->table_id == OFTABLE_GATEWAY_IN
            && flow->priority == PRIO_PORT_EXCEPTION) {
            assert_int_equal(flow->cookie,
                             lb_cookie(LB_COOKIE_GATEWAY, 0, false));
        } else if (flow->table_id == OFTABLE_GATEWAY_IN && flow->priority) {
            assert_int_equal(lb_cookie_kind(flow->cookie), LB_COOKIE_PORT);
        } else if (flow->table_id == OFTABLE_GATEWAY_OUT && flow->priority) {
            assert_int_equal(flow->cookie,
                             lb_cookie(LB_COOKIE_GATEWAY, 1, false));
        }
    }
}

/* A provider network's gateway is the physical router: no flow of the
 * distributed gateway names its switch, its port or its gateway. */
static void
test_provider_switch_has_none(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
        assert_false(lb_cookie_kind(flow->cookie) == LB_COOKIE_GATEWAY
                     && lb_cookie_key(flow->cookie) == 2);
        assert_null(strstr(flow->match, "192.0.2.1,"));
        assert_false(flow->table_id == OFTABLE_GATEWAY_IN
                     && strstr(flow->match, "192.0.2."));
        assert_null(strstr(flow->actions, "0a:59:00:00:00:02"));
    }
    /* Defaults: in_port, two misses, the host's redirects, table 33's
     * fourteen; switch "pods": ARP, two in table 30, two to the host, two
     * conntrack lookups; p1's and p2's addresses. */
    assert_int_equal(count_gateway_flows(&f->flows), 18 + 7 + 4);
}

/* A port's updates (a migration there and back) give the same flows as a
 * full computation, on both chassis. */
static void
test_incremental_equals_full(void **state)
{
    struct fixture *f = *state;
    const char *const all[] = { "n1", "n2" };

    for (size_t c = 0; c < ARRAY_SIZE(all); c++) {
        struct lb_flow_table full;
        lb_flow_table_init(&full);
        struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
        lb_port_set_chassis(p1, "n1", NULL);
        p1->additional_blocked = false;
        set_chassis(f, all[c], true);
        lb_pipeline_compute(&f->ctx, &f->flows);

        for (int step = 0; step < 4; step++) {
            switch (step) {
            case 0:
                lb_port_set_chassis(p1, "n1", "n2");
                p1->additional_blocked = true;
                p1->mirror = true;
                break;
            case 1:
                p1->additional_blocked = false;
                break;
            case 2:
                lb_port_set_chassis(p1, "n2", NULL);
                break;
            case 3:
                lb_port_set_chassis(p1, "n1", NULL);
                break;
            }
            simap_find_and_delete(&f->ifaces, "p1");
            if (lb_port_bound_to(p1, all[c])) {
                simap_put(&f->ifaces, "p1", 1);
            }
            lb_pipeline_update_port(&f->ctx, "p1", p1->key, "pods",
                                    &f->flows);
            lb_pipeline_compute(&f->ctx, &full);
            char *a = format_flows(&f->flows);
            char *b = format_flows(&full);
            assert_string_equal(a, b);
            /* The host reaches p1 from either node at every step. */
            assert_non_null(strstr(a, "table=32, priority=100,"
                                   "ip,nw_dst=10.0.0.10 "));
            free(a);
            free(b);
        }
        lb_flow_table_destroy(&full);
    }
}

/* p1 migrates n1 -> n2: the source copies what its host sends from p1's
 * addresses to the target, which commits it as synced; every node drops
 * the replies of synced connections; the host's own commit clears the
 * bit.  Nothing of it once the migration is over, or on a third node. */
static void
test_migration_handover(void **state)
{
    struct fixture *f = *state;
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    lb_port_set_chassis(p1, "n1", "n2");
    p1->additional_blocked = true;
    p1->mirror = true;

    set_chassis(f, "n1", true);
    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);
    assert_non_null(strstr(got,
        "table=32, priority=150,ip,reg12=0/0x2,nw_src=10.0.0.10 "
        "actions=set_field:0x2/0x2->reg12,clone(set_field:0x200001->tun_id,"
        "output:10),resubmit(,32)\n"));
    assert_non_null(strstr(got,
        "table=32, priority=150,ipv6,reg12=0/0x2,"
        "ipv6_src=fd00::858:aff:fe00:a actions="));
    assert_non_null(strstr(got, "table=33, priority=105,ct_state=+trk+rpl,"
                           "ct_mark=0x2/0x2,ip actions=drop\n"));
    assert_non_null(strstr(got, "table=33, priority=105,ct_state=+trk+inv,"
                           "ct_mark=0x2/0x2,ipv6 actions=drop\n"));
    /* Not the source host's own packets to a backend on the target. */
    assert_null(strstr(got, "priority=105,ct_state=+trk,"));
    assert_non_null(strstr(got, "exec(set_field:0x1/0x3->ct_mark)"));
    assert_null(strstr(got, "tun_id=0x200001,"));
    free(got);

    set_chassis(f, "n2", true);
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_flows(&f->flows);
    assert_non_null(strstr(got,
        "table=0, priority=150,ip,in_port=10,tun_id=0x200001,"
        "nw_src=10.0.0.10 actions=ct(commit,zone=65281,"
        "exec(set_field:0x3->ct_mark))\n"));
    assert_non_null(strstr(got,
        "table=0, priority=150,ipv6,in_port=10,tun_id=0x200001,"
        "ipv6_src=fd00::858:aff:fe00:a actions=ct(commit,"));
    assert_null(strstr(got, "clone(set_field:0x200001"));
    /* A local backend's replies of synced connections to the source; a
     * tunnel's dropped. */
    assert_non_null(strstr(got,
        "table=33, priority=106,ct_state=+trk,ct_mark=0x2/0x2,ip,"
        "metadata=0x1,dl_dst=0a:58:0a:00:00:0a "
        "actions=set_field:0x1->tun_id,output:10\n"));
    assert_non_null(strstr(got,
        "table=33, priority=107,ct_state=+trk+rpl,ct_mark=0x2/0x2,ip,"
        "reg14=0 actions=drop\n"));
    free(got);

    /* Over: none of it. */
    lb_port_set_chassis(p1, "n2", NULL);
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_flows(&f->flows);
    assert_null(strstr(got, "0x200001"));
    free(got);
}

static void
test_defaults(void **state OVS_UNUSED)
{
    ovs_be32 net;
    assert_true(ip_parse("10.244.0.0", &net));
    ovs_be32 gw = lb_gateway_default4(net, 16);
    char s[INET6_ADDRSTRLEN];
    snprintf(s, sizeof s, IP_FMT, IP_ARGS(gw));
    assert_string_equal(s, "10.244.0.1");
    assert_int_equal(lb_gateway_default4(0, 0), 0);

    struct in6_addr prefix, gw6;
    assert_true(ipv6_parse("fd00:10:244::", &prefix));
    lb_gateway_default6(&prefix, &gw6);
    ipv6_string_mapped(s, &gw6);
    assert_string_equal(s, "fd00:10:244::1");
}

/* A LogicalSwitch without gateways gets the default ones; explicit ones
 * stay; a provider network's are never assumed. */
static void
test_switch_defaults(void **state OVS_UNUSED)
{
    static const struct {
        const char *spec;
        const char *gw4;        /* NULL: none. */
        const char *gw6;
    } cases[] = {
        { "{\"tunnelKey\": 3, \"subnet\": \"10.30.0.0/16\","
          " \"ipv6Prefix\": \"fd00:30::/64\"}", "10.30.0.1", "fd00:30::1" },
        { "{\"tunnelKey\": 3, \"subnet\": \"10.30.0.0/16\","
          " \"gateway\": \"10.30.255.254\", \"ipv6Prefix\": \"fd00:30::/64\","
          " \"gateway6\": \"fd00:30::fe\"}", "10.30.255.254", "fd00:30::fe" },
        { "{\"tunnelKey\": 3, \"ipv6Prefix\": \"fd00:30::/64\"}",
          NULL, "fd00:30::1" },
        { "{\"tunnelKey\": 3, \"subnet\": \"10.30.0.0/16\","
          " \"ipv6Prefix\": \"fd00:30::/64\","
          " \"provider\": {\"physicalNetwork\": \"physnet1\"}}", NULL, NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text = xasprintf("{\"apiVersion\": \"livebind.io/v1alpha1\","
                               " \"kind\": \"LogicalSwitch\","
                               " \"metadata\": {\"name\": \"s%"PRIuSIZE"\","
                               " \"uid\": \"u\", \"resourceVersion\": \"1\"},"
                               " \"spec\": %s}", i, cases[i].spec);
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        assert_non_null(j);
        struct lb_logical_switch *sw = NULL;
        char *error = lb_logical_switch_from_json(j, &sw);
        if (error) {
            fprintf(stderr, "%s: %s\n", text, error);
        }
        assert_null(error);

        char s[INET6_ADDRSTRLEN];
        if (cases[i].gw4) {
            snprintf(s, sizeof s, IP_FMT, IP_ARGS(sw->gateway));
            assert_string_equal(s, cases[i].gw4);
        } else {
            assert_int_equal(sw->gateway, 0);
        }
        if (cases[i].gw6) {
            ipv6_string_mapped(s, &sw->gateway6);
            assert_string_equal(s, cases[i].gw6);
        } else {
            assert_true(ipv6_is_zero(&sw->gateway6));
        }
        lb_logical_switch_destroy(sw);
        json_decref(j);
        free(text);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_gateway_port, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_switch_has_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_handover, setup,
                                        teardown),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_switch_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
