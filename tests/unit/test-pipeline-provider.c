/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The provider-network flows (pipeline-provider.c): a switch on VLAN 100
 * of physnet1, whose uplink is the patch port at ofport 20 on every
 * chassis. */

#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "flow-table.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "ovs-bridge.h"
#include "packets.h"
#include "pipeline.h"
#include "simap.h"
#include "test-flows.h"
#include "util.h"

/* v1 on n1 (ofport 1), v2 on n2 (tunnel ofport 10 from n1, 11 from n3). */
static const char provider_model[] =
    "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"172.31.0.1\"},"
    "               {\"name\": \"n2\", \"ip\": \"172.31.0.2\"},"
    "               {\"name\": \"n3\", \"ip\": \"172.31.0.3\"}],"
    " \"switches\": [{\"name\": \"vlan100\", \"key\": 2,"
    "                 \"subnet\": \"192.0.2.0/24\","
    "                 \"gateway\": \"192.0.2.1\","
    "                 \"mtu\": 1500,"
    "                 \"provider\": {\"physnet\": \"physnet1\","
    "                              \"vlan\": 100}}],"
    " \"ports\": [{\"name\": \"v1\", \"key\": 33554442,"
    "              \"switch\": \"vlan100\","
    "              \"mac\": \"0a:58:c0:00:02:0a\", \"ips\": [\"192.0.2.10\"],"
    "              \"chassis\": \"n1\"},"
    "             {\"name\": \"v2\", \"key\": 33554443,"
    "              \"switch\": \"vlan100\","
    "              \"mac\": \"0a:58:c0:00:02:0b\", \"ips\": [\"192.0.2.11\"],"
    "              \"chassis\": \"n2\"}]}";

struct fixture {
    struct lb_model model;
    struct simap ifaces;
    struct simap tunnels;
    struct simap physnets;
    struct lb_pipeline_ctx ctx;
    struct lb_flow_table flows;
};

/* Makes 'f' compute for 'chassis', with v1 local if it is bound there. */
static void
set_chassis(struct fixture *f, const char *chassis)
{
    simap_clear(&f->ifaces);
    simap_clear(&f->tunnels);
    const struct lb_port *v1 = lb_model_find_port(&f->model, "v1");
    if (v1 && lb_port_bound_to(v1, chassis)) {
        simap_put(&f->ifaces, "v1", 1);
    }
    const char *others[] = { "n1", "n2", "n3" };
    for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
        if (strcmp(others[i], chassis)) {
            simap_put(&f->tunnels, others[i], 10 + i);
        }
    }
    f->ctx.chassis = chassis;
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    lb_model_init(&f->model);
    char *error = lb_model_from_json_string(provider_model, &f->model);
    assert_null(error);
    simap_init(&f->ifaces);
    simap_init(&f->tunnels);
    simap_init(&f->physnets);
    simap_put(&f->physnets, "physnet1", 20);
    f->ctx = (struct lb_pipeline_ctx) {
        .model = &f->model,
        .iface_ofports = &f->ifaces,
        .tunnel_ofports = &f->tunnels,
        .physnet_ofports = &f->physnets,
    };
    set_chassis(f, "n1");
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
    simap_destroy(&f->physnets);
    lb_model_destroy(&f->model);
    free(f);
    return 0;
}



/* On n1, v1 local: the uplink's VLAN 100 enters the switch as
 * reg14=0x80000000 straight to L2 lookup (table 30, no ARP responder); v2
 * (on n2) and unknown MACs are reached through table 45, which tags and
 * sends out of the uplink only what local ports sent. */
static void
test_exact_flows(void **state)
{
    struct fixture *f = *state;
    static const char *const expected[] = {
        "cookie=0x400000000200000a, table=0, priority=100,in_port=1 "
        "actions=set_field:0x2->metadata,set_field:0x200000a->reg14,"
        "resubmit(,10)",
        "cookie=0x30000000ed1ecb60, table=0, priority=100,in_port=11 "
        "actions=move:NXM_NX_TUN_ID[0..23]->OXM_OF_METADATA[0..23],"
        "resubmit(,30)",
        "cookie=0x300000000c0699eb, table=0, priority=100,in_port=12 "
        "actions=move:NXM_NX_TUN_ID[0..23]->OXM_OF_METADATA[0..23],"
        "resubmit(,30)",
        "cookie=0x2000000000000002, table=0, priority=100,in_port=20,"
        "dl_vlan=100 actions=pop_vlan,set_field:0x2->metadata,"
        "set_field:0x80000000->reg14,resubmit(,30)",
        "cookie=0x1000000000000000, table=0, priority=0 actions=drop",
        "cookie=0x400000000200000a, table=10, priority=110,reg14=0x200000a,"
        "vlan_tci=0x1000/0x1000 actions=drop",
        "cookie=0x400000000200000a, table=10, priority=100,reg14=0x200000a,"
        "arp,dl_src=0a:58:c0:00:02:0a,arp_spa=192.0.2.10,"
        "arp_sha=0a:58:c0:00:02:0a actions=resubmit(,20)",
        "cookie=0x400000000200000a, table=10, priority=100,reg14=0x200000a,"
        "ip,dl_src=0a:58:c0:00:02:0a,nw_src=192.0.2.10 actions=resubmit(,"
        "30)",
        "cookie=0x400000000200000a, table=10, priority=100,reg14=0x200000a,"
        "rarp,dl_src=0a:58:c0:00:02:0a,arp_sha=0a:58:c0:00:02:0a "
        "actions=resubmit(,30)",
        "cookie=0x1000000000000000, table=10, priority=0 actions=drop",
        "cookie=0x400000000200000a, table=20, priority=110,metadata=0x2,"
        "reg14=0x200000a,arp,arp_op=1,arp_tpa=192.0.2.10 actions=resubmit(,"
        "30)",
        "cookie=0x400000000200000b, table=20, priority=110,metadata=0x2,"
        "reg14=0x200000b,arp,arp_op=1,arp_tpa=192.0.2.11 actions=resubmit(,"
        "30)",
        "cookie=0x400000000200000a, table=20, priority=100,metadata=0x2,"
        "arp,arp_op=1,arp_tpa=192.0.2.10 "
        "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "set_field:0a:58:c0:00:02:0a->eth_src,set_field:2->arp_op,"
        "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "set_field:0a:58:c0:00:02:0a->arp_sha,"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        "set_field:192.0.2.10->arp_spa,IN_PORT",
        "cookie=0x400000000200000b, table=20, priority=100,metadata=0x2,"
        "arp,arp_op=1,arp_tpa=192.0.2.11 "
        "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "set_field:0a:58:c0:00:02:0b->eth_src,set_field:2->arp_op,"
        "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "set_field:0a:58:c0:00:02:0b->arp_sha,"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        "set_field:192.0.2.11->arp_spa,IN_PORT",
        "cookie=0x1000000000000000, table=20, priority=0 actions=resubmit(,"
        "30)",
        "cookie=0x1000000000000000, table=25, priority=0 actions=resubmit(,"
        "30)",
        "cookie=0x1000000000000000, table=26, priority=100,icmp6,"
        "icmp_type=136,icmp_code=0 "
        "actions=move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT",
        "cookie=0x1000000000000000, table=26, priority=0 actions=drop",
        "cookie=0x400000000200000a, table=30, priority=100,metadata=0x2,"
        "dl_dst=0a:58:c0:00:02:0a actions=set_field:0x200000a->reg15,"
        "resubmit(,40)",
        "cookie=0x400000000200000b, table=30, priority=100,metadata=0x2,"
        "dl_dst=0a:58:c0:00:02:0b actions=set_field:0x200000b->reg15,"
        "resubmit(,40)",
        "cookie=0x2000000000000002, table=30, priority=50,metadata=0x2,"
        "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,50)",
        "cookie=0x2000000000000002, table=30, priority=40,metadata=0x2 "
        "actions=resubmit(,45)",
        "cookie=0x1000000000000000, table=30, priority=0 actions=drop",
        "cookie=0x400000000200000a, table=40, priority=110,metadata=0x2,"
        "reg14=0x80000000,reg15=0x200000a actions=output:1",
        "cookie=0x400000000200000b, table=40, priority=110,metadata=0x2,"
        "reg14=0x80000000,reg15=0x200000b actions=drop",
        "cookie=0x400000000200000a, table=40, priority=100,metadata=0x2,"
        "reg15=0x200000a actions=output:1",
        "cookie=0x400000000200000b, table=40, priority=100,metadata=0x2,"
        "reg15=0x200000b actions=resubmit(,45)",
        "cookie=0x1000000000000000, table=40, priority=0 actions=drop",
        "cookie=0x2000000000000002, table=45, priority=60,metadata=0x2,"
        "reg14=0 actions=drop",
        "cookie=0x2000000000000002, table=45, priority=60,metadata=0x2,"
        "reg14=0x80000000 actions=drop",
        "cookie=0x2000000000000002, table=45, priority=50,metadata=0x2 "
        "actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:20",
        "cookie=0x1000000000000000, table=45, priority=0 actions=drop",
        "cookie=0x2000000000000002, table=50, priority=70,metadata=0x2,"
        "rarp actions=resubmit(,45)",
        "cookie=0x2000000000000002, table=50, priority=60,metadata=0x2,"
        "reg14=0 actions=output:1",
        "cookie=0x2000000000000002, table=50, priority=60,metadata=0x2,"
        "reg14=0x80000000 actions=output:1",
        "cookie=0x2000000000000002, table=50, priority=50,metadata=0x2 "
        "actions=output:1,resubmit(,45)",
        "cookie=0x1000000000000000, table=50, priority=0 actions=drop",
        NULL,
    };

    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_flows(&f->flows, expected);
}

#define T_CLASSIFY 0
#define T_PORT_SECURITY 10
#define T_OUTPUT 40
#define T_FLOOD 50
#define V1_OUT "metadata=0x2,reg15=0x200000a"
#define V1_FROM_TUNNEL "metadata=0x2,reg14=0,reg15=0x200000a"
#define V1_FROM_FABRIC "metadata=0x2,reg14=0x80000000,reg15=0x200000a"
#define TUN(N) "set_field:0x2->tun_id,output:" #N

/* v1 migrates from n1 to n2.  On n1 (the source) what the fabric sends to
 * v1 is also relayed to n2; on n2 (the target, blocked) nothing from v1
 * reaches the uplink; on n3 other ports reach v1 through tunnels only,
 * never through the fabric. */
static void
test_migration(void **state)
{
    struct fixture *f = *state;
    struct lb_port *v1 = lb_model_find_port(&f->model, "v1");
    lb_port_set_chassis(v1, "n1", "n2");
    v1->additional_blocked = true;

    /* Source: local copy and the target, from everywhere; from a tunnel
     * only locally. */
    set_chassis(f, "n1");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_OUTPUT, 150, V1_OUT, "output:1," TUN(11));
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_FABRIC,
                   "output:1," TUN(11));
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_TUNNEL, "output:1");
    assert_null(actions_of(&f->flows, T_PORT_SECURITY, 150,
                           "reg14=0x200000a"));

    /* Target, blocked: v1's frames are dropped (announcements go to the
     * agent), the fabric's and the tunnel's are not delivered, and
     * broadcasts leave by the uplink without v1. */
    set_chassis(f, "n2");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_PORT_SECURITY, 150, "reg14=0x200000a",
                   "drop");
    assert_actions(&f->flows, T_OUTPUT, 150, V1_OUT, TUN(10));
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_FABRIC, "drop");
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_TUNNEL, "drop");
    assert_actions(&f->flows, T_FLOOD, 50, "metadata=0x2",
                   "resubmit(,45)");

    /* A third node: to both copies through tunnels; the fabric's copy is
     * the source's to relay. */
    set_chassis(f, "n3");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_OUTPUT, 150, V1_OUT,
                   "set_field:0x2->tun_id,output:10,output:11");
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_FABRIC, "drop");

    /* Activated: the source copy may no longer send; the target delivers
     * what the fabric sends it and floods v1's announcements out of the
     * uplink. */
    v1->additional_blocked = false;
    set_chassis(f, "n1");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_PORT_SECURITY, 150, "reg14=0x200000a",
                   "drop");
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_FABRIC,
                   "output:1," TUN(11));
    set_chassis(f, "n2");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_null(actions_of(&f->flows, T_PORT_SECURITY, 150,
                           "reg14=0x200000a"));
    assert_actions(&f->flows, T_OUTPUT, 160, V1_FROM_FABRIC, "output:1");
    assert_actions(&f->flows, T_FLOOD, 50, "metadata=0x2",
                   "output:1,resubmit(,45)");

    /* Completed on n2: no migration flows anywhere, v1 reached through
     * the fabric from n1. */
    lb_port_set_chassis(v1, "n2", NULL);
    const char *const all[] = { "n1", "n2", "n3" };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        set_chassis(f, all[i]);
        lb_pipeline_compute(&f->ctx, &f->flows);
        const struct lb_flow *flow;
        LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
            assert_true(flow->priority < 150);
        }
    }
    set_chassis(f, "n1");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_OUTPUT, 100, V1_OUT, "resubmit(,45)");
}

/* An untagged provider network, and a chassis without a mapping for it. */
static void
test_untagged_and_unmapped(void **state)
{
    struct fixture *f = *state;
    struct lb_switch *sw = lb_model_find_switch(&f->model, "vlan100");
    lb_switch_set_provider(sw, "physnet1", 0);
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_CLASSIFY, 100,
                   "in_port=20,vlan_tci=0x0000/0x1000",
                   "set_field:0x2->metadata,set_field:0x80000000->reg14,"
                   "resubmit(,30)");
    assert_actions(&f->flows, 45, 50, "metadata=0x2", "output:20");

    simap_clear(&f->physnets);
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_actions(&f->flows, T_OUTPUT, 100, "metadata=0x2,reg15=0x200000b",
                   "drop");
    assert_actions(&f->flows, T_FLOOD, 50, "metadata=0x2", "output:1");
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
        assert_null(strstr(flow->actions, "tun_id"));
        assert_null(strstr(flow->match, "in_port=20"));
    }
}

/* A dual-stack provider network: the router on the fabric owns the
 * gateway and advertises, so the switch has no virtual gateway (no answers
 * for gateway6 or the 0a:59 link-local address, no solicitations to the
 * agent); a solicitation for an address no port has goes to the fabric
 * (table 45 takes only what local ports sent) instead of being dropped;
 * the ports' own addresses are answered as on an overlay switch, and a
 * local port's multicast, the agent's NAs after a cutover among it, leaves
 * by the uplink. */
static void
test_dual_stack(void **state)
{
    struct fixture *f = *state;
    struct lb_switch *sw = lb_model_find_switch(&f->model, "vlan100");
    sw->has_prefix6 = true;
    assert_true(ipv6_parse("fd00:100::", &sw->prefix6));
    assert_true(ipv6_parse("fd00:100::1", &sw->gateway6));
    struct lb_port *v1 = lb_model_find_port(&f->model, "v1");
    assert_true(ipv6_parse("fd00:100::858:c0ff:fe00:20a", &v1->ipv6[0]));
    v1->n_ipv6 = 1;
    lb_pipeline_compute(&f->ctx, &f->flows);

    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
        const char *t = strstr(flow->match, "nd_target=");
        assert_false(flow->table_id == OFTABLE_ND_RESPONDER
                     && strstr(flow->match, "icmp_type=133"));
        assert_false(t && (!strcmp(t, "nd_target=fd00:100::1")
                           || !strcmp(t, "nd_target=fe80::859:ff:fe00:2")));
        assert_null(strstr(flow->actions, "0a:59:"));
    }
    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 60,
                   "metadata=0x2,icmp6,icmp_type=135", "resubmit(,45)");
    assert_non_null(actions_of(&f->flows, OFTABLE_ND_RESPONDER, 100,
                               "metadata=0x2,icmp6,icmp_type=135,"
                               "icmp_code=0,"
                               "nd_target=fd00:100::858:c0ff:fe00:20a"));
    assert_actions(&f->flows, OFTABLE_L2_LOOKUP, 50, "metadata=0x2,"
                   "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
                   "resubmit(,50)");
    assert_actions(&f->flows, T_FLOOD, 50, "metadata=0x2",
                   "output:1,resubmit(,45)");
}

/* Port changes applied one by one give the flows of a full compute, on
 * each chassis. */
static void
test_incremental_equals_full(void **state)
{
    struct fixture *f = *state;
    const char *const all[] = { "n1", "n2", "n3" };

    for (size_t c = 0; c < ARRAY_SIZE(all); c++) {
        struct lb_flow_table full;
        lb_flow_table_init(&full);
        struct lb_port *v1 = lb_model_find_port(&f->model, "v1");
        lb_port_set_chassis(v1, "n1", NULL);
        v1->additional_blocked = false;
        set_chassis(f, all[c]);
        lb_pipeline_compute(&f->ctx, &f->flows);

        for (int step = 0; step < 5; step++) {
            switch (step) {
            case 0:                 /* Migration to n2 starts. */
                lb_port_set_chassis(v1, "n1", "n2");
                v1->additional_blocked = true;
                break;
            case 1:                 /* Activated. */
                v1->additional_blocked = false;
                break;
            case 2:                 /* Completed. */
                lb_port_set_chassis(v1, "n2", NULL);
                break;
            case 3:                 /* Back to n1, failed. */
                lb_port_set_chassis(v1, "n2", "n1");
                v1->additional_blocked = true;
                break;
            case 4:
                lb_port_set_chassis(v1, "n2", NULL);
                break;
            }
            /* The interface is there on whichever chassis binds v1. */
            simap_find_and_delete(&f->ifaces, "v1");
            if (lb_port_bound_to(v1, all[c])) {
                simap_put(&f->ifaces, "v1", 1);
            }
            lb_pipeline_update_port(&f->ctx, "v1", v1->key, "vlan100",
                                    &f->flows);
            lb_pipeline_compute(&f->ctx, &full);
            char *a = format_flows(&f->flows);
            char *b = format_flows(&full);
            assert_string_equal(a, b);
            free(a);
            free(b);
        }
        lb_flow_table_destroy(&full);
    }
}

static void
test_model_errors(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        "{\"switches\": [{\"name\": \"s\", \"key\": 1, \"provider\": 1}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1,"
        " \"provider\": {\"vlan\": 5}}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1,"
        " \"provider\": {\"physnet\": \"p\", \"vlan\": 4095}}]}",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        struct lb_model model;
        lb_model_init(&model);
        char *error = lb_model_from_json_string(bad[i], &model);
        assert_non_null(error);
        assert_int_equal(hmap_count(&model.switches), 0);
        free(error);
        lb_model_destroy(&model);
    }
}

/* livebind-ctl ports shows a provider port's network and VLAN. */
static void
test_format(void **state)
{
    struct fixture *f = *state;
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_model_format(&f->model, &s);
    assert_string_equal(ds_cstr(&s),
        "v1 key=33554442 switch=vlan100 network=physnet1 vlan=100 "
        "mac=0a:58:c0:00:02:0a ips=192.0.2.10 chassis=n1\n"
        "v2 key=33554443 switch=vlan100 network=physnet1 vlan=100 "
        "mac=0a:58:c0:00:02:0b ips=192.0.2.11 chassis=n2\n");
    ds_clear(&s);
    lb_switch_set_provider(lb_model_find_switch(&f->model, "vlan100"),
                           "physnet1", 0);
    lb_model_format(&f->model, &s);
    assert_non_null(strstr(ds_cstr(&s), "network=physnet1 vlan=untagged "));
    ds_destroy(&s);
}

static void
test_bridge_mappings(void **state OVS_UNUSED)
{
    struct smap m = SMAP_INITIALIZER(&m);
    assert_null(ovs_bridge_parse_mappings("physnet1:br-phys, dmz:br-dmz",
                                          &m));
    assert_string_equal(smap_get(&m, "physnet1"), "br-phys");
    assert_string_equal(smap_get(&m, "dmz"), "br-dmz");
    smap_clear(&m);

    static const char *const bad[] = {
        "physnet1", ":br", "p:", "p:a:b", "p:a,p:b",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *error = ovs_bridge_parse_mappings(bad[i], &m);
        assert_non_null(error);
        assert_int_equal(smap_count(&m), 0);
        free(error);
    }
    smap_destroy(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untagged_and_unmapped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dual_stack, setup, teardown),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_bridge_mappings),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
