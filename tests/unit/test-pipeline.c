/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "flow-table.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline.h"
#include "simap.h"
#include "test-flows.h"
#include "util.h"

/* Two chassis, one switch, a port on each; computed for chassis n1, where
 * p1 is ofport 1 and the tunnel to n2 is ofport 10. */
static const char base_model[] =
    "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"172.31.0.1\"},"
    "               {\"name\": \"n2\", \"ip\": \"172.31.0.2\"}],"
    " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
    "                 \"subnet\": \"10.0.0.0/24\"}],"
    " \"ports\": [{\"name\": \"p1\", \"key\": 5, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:05\", \"ips\": [\"10.0.0.5\"],"
    "              \"chassis\": \"n1\"},"
    "             {\"name\": \"p2\", \"key\": 6, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:06\", \"ips\": [\"10.0.0.6\"],"
    "              \"chassis\": \"n2\"}]}";

struct fixture {
    struct lb_model model;
    struct simap ifaces;
    struct simap tunnels;
    struct lb_pipeline_ctx ctx;
    struct lb_flow_table flows;
};

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    lb_model_init(&f->model);
    char *error = lb_model_from_json_string(base_model, &f->model);
    assert_null(error);
    simap_init(&f->ifaces);
    simap_init(&f->tunnels);
    simap_put(&f->ifaces, "p1", 1);
    simap_put(&f->tunnels, "n2", 10);
    f->ctx = (struct lb_pipeline_ctx) {
        .model = &f->model,
        .chassis = "n1",
        .iface_ofports = &f->ifaces,
        .tunnel_ofports = &f->tunnels,
    };
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




#define ARP_REPLY(MAC, IP)                                              \
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:" MAC            \
    "->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->"             \
    "NXM_NX_ARP_THA[],set_field:" MAC "->arp_sha,move:NXM_OF_ARP_SPA[]" \
    "->NXM_OF_ARP_TPA[],set_field:" IP "->arp_spa,IN_PORT"

static void
test_exact_flows(void **state)
{
    struct fixture *f = *state;
    static const char *const expected[] = {
        "cookie=0x4000000000000005, table=0, priority=100,in_port=1 "
        "actions=set_field:0x1->metadata,set_field:0x5->reg14,"
        "resubmit(,10)",
        "cookie=0x30000000ed1ecb60, table=0, priority=100,in_port=10 "
        "actions=move:NXM_NX_TUN_ID[0..23]->OXM_OF_METADATA[0..23],"
        "resubmit(,30)",
        "cookie=0x1000000000000000, table=0, priority=0 actions=drop",
        "cookie=0x4000000000000005, table=10, priority=100,reg14=0x5,arp,"
        "dl_src=0a:58:0a:00:00:05,arp_spa=10.0.0.5,"
        "arp_sha=0a:58:0a:00:00:05 actions=resubmit(,20)",
        "cookie=0x4000000000000005, table=10, priority=100,reg14=0x5,ip,"
        "dl_src=0a:58:0a:00:00:05,nw_src=10.0.0.5 actions=resubmit(,30)",
        "cookie=0x4000000000000005, table=10, priority=100,reg14=0x5,rarp,"
        "dl_src=0a:58:0a:00:00:05,arp_sha=0a:58:0a:00:00:05 "
        "actions=resubmit(,30)",
        "cookie=0x1000000000000000, table=10, priority=0 actions=drop",
        "cookie=0x4000000000000005, table=20, priority=110,metadata=0x1,"
        "reg14=0x5,arp,arp_op=1,arp_tpa=10.0.0.5 actions=resubmit(,30)",
        "cookie=0x4000000000000006, table=20, priority=110,metadata=0x1,"
        "reg14=0x6,arp,arp_op=1,arp_tpa=10.0.0.6 actions=resubmit(,30)",
        "cookie=0x4000000000000005, table=20, priority=100,metadata=0x1,"
        "arp,arp_op=1,arp_tpa=10.0.0.5 actions="
        ARP_REPLY("0a:58:0a:00:00:05", "10.0.0.5"),
        "cookie=0x4000000000000006, table=20, priority=100,metadata=0x1,"
        "arp,arp_op=1,arp_tpa=10.0.0.6 actions="
        ARP_REPLY("0a:58:0a:00:00:06", "10.0.0.6"),
        "cookie=0x1000000000000000, table=20, priority=0 "
        "actions=resubmit(,30)",
        "cookie=0x4000000000000005, table=30, priority=100,metadata=0x1,"
        "dl_dst=0a:58:0a:00:00:05 actions=set_field:0x5->reg15,"
        "resubmit(,40)",
        "cookie=0x4000000000000006, table=30, priority=100,metadata=0x1,"
        "dl_dst=0a:58:0a:00:00:06 actions=set_field:0x6->reg15,"
        "resubmit(,40)",
        "cookie=0x2000000000000001, table=30, priority=50,metadata=0x1,"
        "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,50)",
        "cookie=0x1000000000000000, table=30, priority=0 actions=drop",
        "cookie=0x4000000000000006, table=40, priority=110,metadata=0x1,"
        "reg14=0,reg15=0x6 actions=drop",
        "cookie=0x4000000000000005, table=40, priority=100,metadata=0x1,"
        "reg15=0x5 actions=output:1",
        "cookie=0x4000000000000006, table=40, priority=100,metadata=0x1,"
        "reg15=0x6 actions=set_field:0x1->tun_id,output:10",
        "cookie=0x1000000000000000, table=40, priority=0 actions=drop",
        "cookie=0x2000000000000001, table=50, priority=60,metadata=0x1,"
        "reg14=0 actions=output:1",
        "cookie=0x2000000000000001, table=50, priority=50,metadata=0x1 "
        "actions=output:1,set_field:0x1->tun_id,output:10",
        "cookie=0x1000000000000000, table=50, priority=0 actions=drop",
        NULL,
    };

    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_flows(&f->flows, expected);
}

/* p1 migrates from n2 to n1 (this chassis) and is still blocked here:
 * migration flows override the normal ones. */
static void
test_migration_target_blocked(void **state)
{
    struct fixture *f = *state;
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    lb_port_set_chassis(p1, "n2", "n1");
    p1->additional_blocked = true;
    p1->mirror = true;

    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);

    /* Blocked: announcements to the agent, everything else dropped. */
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=10, priority=160,reg14=0x5,rarp,"
        "dl_src=0a:58:0a:00:00:05,arp_sha=0a:58:0a:00:00:05 "
        "actions=controller(userdata=00.00.00.01,meter_id=5)\n"));
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=10, priority=150,reg14=0x5 "
        "actions=drop\n"));
    assert_null(strstr(got, "priority=100,reg14=0x5,ip,"));
    /* Every packet-in of the blocked port goes through its own meter. */
    for (const char *p = got; (p = strstr(p, "controller(")); p++) {
        assert_true(!strncmp(strchr(p, ')') - strlen(",meter_id=5"),
                             ",meter_id=5", strlen(",meter_id=5")));
    }
    /* Mirrored: to the source through the tunnel, not to the blocked local
     * copy; from a tunnel, nowhere. */
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=40, priority=150,metadata=0x1,"
        "reg15=0x5 actions=set_field:0x1->tun_id,output:10\n"));
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=40, priority=160,metadata=0x1,"
        "reg14=0,reg15=0x5 actions=drop\n"));
    free(got);

    /* Activated: delivered locally too, and from tunnels. */
    p1->additional_blocked = false;
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_flows(&f->flows);
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=40, priority=150,metadata=0x1,"
        "reg15=0x5 actions=output:1,set_field:0x1->tun_id,output:10\n"));
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=40, priority=160,metadata=0x1,"
        "reg14=0,reg15=0x5 actions=output:1\n"));
    assert_non_null(strstr(got, "priority=100,reg14=0x5,ip,"));
    assert_null(strstr(got, "priority=150,reg14=0x5 actions=drop"));
    free(got);
}

/* The meters are exactly one a port blocked on this chassis, keyed by the
 * port's key, and none for a port blocked elsewhere or activated. */
static void
test_meters(void **state)
{
    struct fixture *f = *state;
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    struct lb_port *p2 = lb_model_find_port(&f->model, "p2");
    char *got;

    /* No migration: no meter. */
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_int_equal(lb_flow_table_count_meters(&f->flows), 0);

    /* p1 migrates n2 -> n1 (blocked here), p2 n2 -> n1 too but its
     * interface is not here yet: one meter, p1's. */
    lb_port_set_chassis(p1, "n2", "n1");
    p1->additional_blocked = true;
    lb_port_set_chassis(p2, "n2", "n1");
    p2->additional_blocked = true;
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_meters(&f->flows);
    assert_string_equal(got, "meter=5,pktps,burst,stats,bands=type=drop,"
                        "rate=20,burst_size=10\n");
    free(got);
    assert_int_equal(lb_flow_table_find_meter(&f->flows, 5)->cookie,
                     0x4800000000000005ULL);

    /* p2's interface arrives: its own meter besides p1's. */
    simap_put(&f->ifaces, "p2", 2);
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_meters(&f->flows);
    assert_string_equal(got,
        "meter=5,pktps,burst,stats,bands=type=drop,rate=20,burst_size=10\n"
        "meter=6,pktps,burst,stats,bands=type=drop,rate=20,burst_size=10\n");
    free(got);

    /* A recompute of the same model changes no meter (so the engine sends
     * no meter-mod). */
    struct lb_flow_table scratch;
    lb_flow_table_init(&scratch);
    uint64_t seqno = f->flows.meters_seqno;
    lb_pipeline_compute(&f->ctx, &scratch);
    lb_flow_table_replace(&f->flows, &scratch);
    assert_int_equal(f->flows.meters_seqno, seqno);
    assert_int_equal(lb_flow_table_count_meters(&f->flows), 2);
    assert_int_equal(lb_flow_table_count_meters(&scratch), 0);

    /* p1 activated, p2 blocked on the other chassis: p2's alone, then
     * none. */
    p1->additional_blocked = false;
    lb_pipeline_compute(&f->ctx, &scratch);
    lb_flow_table_replace(&f->flows, &scratch);
    assert_int_not_equal(f->flows.meters_seqno, seqno);
    got = format_meters(&f->flows);
    assert_string_equal(got, "meter=6,pktps,burst,stats,bands=type=drop,"
                        "rate=20,burst_size=10\n");
    free(got);
    lb_port_set_chassis(p2, "n1", "n2");
    lb_pipeline_compute(&f->ctx, &f->flows);
    assert_int_equal(lb_flow_table_count_meters(&f->flows), 0);
    lb_flow_table_destroy(&scratch);
}

/* Applies a sequence of port changes incrementally and compares with a
 * full recompute after each. */
static void
test_incremental_equals_full(void **state)
{
    struct fixture *f = *state;
    struct lb_flow_table full;
    lb_flow_table_init(&full);
    lb_flow_table_set_tracking(&f->flows, true);
    lb_pipeline_compute(&f->ctx, &f->flows);

    for (int step = 0; step < 6; step++) {
        struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
        uint32_t old_key = p1 ? p1->key : 0;
        const char *name = "p1";

        switch (step) {
        case 0:                 /* Move to n2. */
            lb_port_set_chassis(p1, "n2", NULL);
            break;
        case 1:                 /* Migrate back, blocked on n1. */
            lb_port_set_chassis(p1, "n2", "n1");
            p1->additional_blocked = true;
            break;
        case 2:                 /* Activated. */
            p1->additional_blocked = false;
            break;
        case 3:                 /* Completed. */
            lb_port_set_chassis(p1, "n1", NULL);
            break;
        case 4:                 /* New address. */
            p1->ipv4[p1->n_ipv4++] = htonl(0x0a000063);
            break;
        case 5:                 /* Deleted. */
            lb_model_remove_port(&f->model, p1);
            break;
        }
        lb_pipeline_update_port(&f->ctx, name, old_key, "pods", &f->flows);
        lb_pipeline_compute(&f->ctx, &full);

        char *a = format_flows(&f->flows);
        char *b = format_flows(&full);
        assert_string_equal(a, b);
        free(a);
        free(b);
        a = format_meters(&f->flows);
        b = format_meters(&full);
        assert_string_equal(a, b);
        /* Step 1 blocks p1 on n1: its meter; step 2 activates it. */
        assert_int_equal(!!a[0], step == 1);
        free(a);
        free(b);
        assert_false(ovs_list_is_empty(&f->flows.tracked));
        lb_flow_table_clear_tracked(&f->flows);
    }
    lb_flow_table_destroy(&full);
}

/* Nothing that came from a tunnel goes back into a tunnel. */
static void
test_no_tunnel_to_tunnel(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);

    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, &f->flows) {
        size_t n = strlen(flow->match);
        bool from_tunnel = (strstr(flow->match, "reg14=0,")
                            || (n >= 7 && !strcmp(flow->match + n - 7,
                                                  "reg14=0")));
        if (from_tunnel) {
            assert_null(strstr(flow->actions, "tun_id"));
        }
    }
}

static void
test_model_errors(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        "[",
        "[]",
        "{\"chassis\": [{\"name\": \"n1\"}]}",
        "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"300.1.1.1\"}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 0}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 16777216}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1, \"subnet\": \"x\"}]}",
        "{\"ports\": [{\"name\": \"p\", \"key\": 1, \"switch\": \"s\","
        " \"mac\": \"0a:58:0a:00:00:05\"}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1}],"
        " \"ports\": [{\"name\": \"p\", \"key\": 1, \"switch\": \"s\","
        " \"mac\": \"ff:ff:ff:ff:ff:ff\"}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1}],"
        " \"ports\": [{\"name\": \"p\", \"key\": 1, \"switch\": \"s\","
        " \"mac\": \"0a:58:0a:00:00:05\", \"ips\": [\"10.0.0.1\", 7]}]}",
        "{\"switches\": [{\"name\": \"s\", \"key\": 1}],"
        " \"ports\": [{\"name\": \"p\", \"key\": 1, \"switch\": \"s\","
        " \"mac\": \"0a:58:0a:00:00:05\"},"
        " {\"name\": \"p\", \"key\": 2, \"switch\": \"s\","
        " \"mac\": \"0a:58:0a:00:00:06\"}]}",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        struct lb_model model;
        lb_model_init(&model);
        char *error = lb_model_from_json_string(bad[i], &model);
        assert_non_null(error);
        assert_int_equal(hmap_count(&model.ports), 0);
        assert_int_equal(hmap_count(&model.switches), 0);
        free(error);
        lb_model_destroy(&model);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_target_blocked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_meters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_tunnel_to_tunnel,
                                        setup, teardown),
        cmocka_unit_test(test_model_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
