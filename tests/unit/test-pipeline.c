/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The same, on a dual-stack switch with an IPv6 gateway. */
static const char ds_model[] =
    "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"172.31.0.1\"},"
    "               {\"name\": \"n2\", \"ip\": \"172.31.0.2\"}],"
    " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
    "                 \"subnet\": \"10.0.0.0/24\","
    "                 \"ipv6_prefix\": \"fd00::/64\","
    "                 \"gateway6\": \"fd00::1\"}],"
    " \"ports\": [{\"name\": \"p1\", \"key\": 5, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:05\","
    "              \"ips\": [\"10.0.0.5\", \"fd00::858:aff:fe00:5\"],"
    "              \"chassis\": \"n1\"},"
    "             {\"name\": \"p2\", \"key\": 6, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:0a:00:00:06\","
    "              \"ips\": [\"10.0.0.6\", \"fd00::858:aff:fe00:6\"],"
    "              \"chassis\": \"n2\"}]}";

/* IPv6-only: host numbers 0.0.0.5 and 0.0.0.6 (lib/ipam.h). */
static const char v6_model[] =
    "{\"chassis\": [{\"name\": \"n1\", \"ip\": \"172.31.0.1\"},"
    "               {\"name\": \"n2\", \"ip\": \"172.31.0.2\"}],"
    " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
    "                 \"ipv6_prefix\": \"fd00::/64\"}],"
    " \"ports\": [{\"name\": \"p1\", \"key\": 5, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:00:00:00:05\","
    "              \"ips\": [\"fd00::858:ff:fe00:5\"],"
    "              \"chassis\": \"n1\"},"
    "             {\"name\": \"p2\", \"key\": 6, \"switch\": \"pods\","
    "              \"mac\": \"0a:58:00:00:00:06\","
    "              \"ips\": [\"fd00::858:ff:fe00:6\"],"
    "              \"chassis\": \"n2\"}]}";

struct fixture {
    struct lb_model model;
    struct simap ifaces;
    struct simap tunnels;
    struct lb_pipeline_ctx ctx;
    struct lb_flow_table flows;
};

static int
setup_model(void **state, const char *model)
{
    struct fixture *f = xzalloc(sizeof *f);
    lb_model_init(&f->model);
    char *error = lb_model_from_json_string(model, &f->model);
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
setup(void **state)
{
    return setup_model(state, base_model);
}

static int
setup_ds(void **state)
{
    return setup_model(state, ds_model);
}

static int
setup_v6(void **state)
{
    return setup_model(state, v6_model);
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
        "cookie=0x1000000000000000, table=25, priority=0 "
        "actions=resubmit(,30)",
        "cookie=0x1000000000000000, table=26, priority=100,icmp6,"
        "icmp_type=136,icmp_code=0 actions=move:NXM_OF_ETH_SRC[]->"
        "NXM_NX_ND_TLL[],IN_PORT",
        "cookie=0x1000000000000000, table=26, priority=0 actions=drop",
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
        "cookie=0x2000000000000001, table=50, priority=70,metadata=0x1,"
        "rarp actions=drop",
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
        "dl_src=0a:58:0a:00:00:05,arp_op=3,arp_sha=0a:58:0a:00:00:05 "
        "actions=controller(userdata=00.00.00.01,meter_id=5)\n"));
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=10, priority=150,reg14=0x5 "
        "actions=drop\n"));
    /* The ordinary port security stays underneath, below the drop, so that
     * the activation only removes flows.  Nothing of the port's is above
     * the drop but the announcements to the agent. */
    assert_non_null(strstr(got, "priority=100,reg14=0x5,ip,"));
    char *copy = xstrdup(got), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *t10 = strstr(line, "table=10, priority=");
        if (t10 && atoi(t10 + strlen("table=10, priority=")) > 150
            && strstr(line, "reg14=0x5,")) {
            assert_non_null(strstr(line, "actions=controller("));
        }
    }
    free(copy);
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
        case 4:                 /* New addresses. */
            p1->ipv4[p1->n_ipv4++] = htonl(0x0a000063);
            p1->ipv6[p1->n_ipv6] = in6addr_loopback;
            p1->ipv6[p1->n_ipv6].s6_addr[0] = 0xfd;
            p1->ipv6[p1->n_ipv6++].s6_addr[15] = 0x63;
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
        /* Step 1 blocks p1 on n1: its meter for its announcements.  On a
         * switch with an IPv6 prefix p1 keeps it while it is here and
         * unblocked (steps 2 to 4), for its router solicitations. */
        bool v6 = lb_model_find_switch(&f->model, "pods")->has_prefix6;
        assert_int_equal(!!a[0], step == 1 || (v6 && step >= 2 && step <= 4));
        free(a);
        free(b);
        assert_false(ovs_list_is_empty(&f->flows.tracked));
        lb_flow_table_clear_tracked(&f->flows);
    }
    lb_flow_table_destroy(&full);
}

/* Activating a blocked copy changes as few flows as can be: it removes the
 * blocking ones (table 10) and rewrites the outputs (tables 40 and 50),
 * and adds nothing to table 10, whose ordinary flows were there all along.
 * An update that changes nothing tracks nothing. */
static void
test_activation_changes_little(void **state)
{
    struct fixture *f = *state;
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    lb_port_set_chassis(p1, "n2", "n1");
    p1->additional_blocked = true;
    p1->mirror = true;
    lb_flow_table_set_tracking(&f->flows, true);
    lb_pipeline_compute(&f->ctx, &f->flows);
    lb_flow_table_clear_tracked(&f->flows);

    lb_pipeline_update_port(&f->ctx, "p1", p1->key, "pods", &f->flows);
    assert_true(ovs_list_is_empty(&f->flows.tracked));

    p1->additional_blocked = false;
    lb_pipeline_update_port(&f->ctx, "p1", p1->key, "pods", &f->flows);
    size_t n_removed = 0, n_outputs = 0;
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH_TRACKED (flow, &f->flows) {
        if (flow->table_id == 10) {
            /* Only removals: the drop and the announcements' flows. */
            assert_true(flow->deleted);
            assert_true(flow->priority >= 150);
            n_removed++;
        } else {
            assert_true(flow->table_id == 40 || flow->table_id == 50);
            n_outputs += !flow->deleted;
        }
    }
    assert_true(n_removed >= 2);    /* The drop and the RARP's at least. */
    assert_true(n_outputs >= 2);    /* Both output flows deliver here. */
    lb_flow_table_clear_tracked(&f->flows);
}

static void
assert_has_flow(const char *flows, const char *flow)
{
    if (!strstr(flows, flow)) {
        fail_msg("missing flow: %s\n--- in\n%s", flow, flows);
    }
}

static size_t
count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

/* Behind its closed gate (port-gate.h), the blocked copy gets what an
 * active one gets, so that activating it leaves table 40 as it is: the
 * datapath's cached actions already deliver.  Everything it sends is still
 * dropped but its announcements; a copy not
 * (or no longer) blocked here ignores the gate. */
static void
test_gated_blocked_copy(void **state)
{
    struct fixture *f = *state;
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    struct sset gated = SSET_INITIALIZER(&gated);
    lb_port_set_chassis(p1, "n2", "n1");
    p1->additional_blocked = true;
    p1->mirror = true;

    assert_true(lb_pipeline_port_wants_gate(&f->ctx, p1));
    sset_add(&gated, "p1");
    f->ctx.gated_ports = &gated;
    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=40, priority=150,metadata=0x1,"
        "reg15=0x5 actions=output:1,set_field:0x1->tun_id,output:10\n"));
    assert_non_null(strstr(got,
        "cookie=0x4800000000000005, table=10, priority=150,reg14=0x5 "
        "actions=drop\n"));
    assert_null(strstr(got, "learn("));
    free(got);

    /* Self-activating (the default of a gated copy): the VM's RARP learns
     * the copy's activation in table 15 and goes on at once; every other
     * packet asks table 15 once, then is dropped unless activated. */
    f->ctx.self_activation = true;
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_flows(&f->flows);
    assert_has_flow(got,
        "cookie=0x4800000000000005, table=10, priority=150,reg14=0x5,"
        "reg10=0/0x2 actions=set_field:0x2/0x2->reg10,resubmit(,15),"
        "resubmit(,10)\n");
    assert_has_flow(got,
        "cookie=0x4800000000000005, table=10, priority=155,reg14=0x5,"
        "reg10=0x2/0x3 actions=drop\n");
    assert_has_flow(got,
        "cookie=0x4800000000000005, table=10, priority=160,reg14=0x5,"
        "reg10=0/0x2,rarp,dl_src=0a:58:0a:00:00:05,arp_op=3,"
        "arp_sha=0a:58:0a:00:00:05 actions=learn(table=15,priority=100,"
        "cookie=0x9000000000000005,delete_learned,NXM_NX_REG14[],"
        "load:0x1->NXM_NX_REG10[0]),controller(userdata=00.00.00.03,"
        "meter_id=5),set_field:0x3/0x3->reg10,resubmit(,10)\n");
    /* A GARP activates nothing by itself: the agent checks it. */
    assert_has_flow(got,
        "cookie=0x4800000000000005, table=10, priority=160,reg14=0x5,"
        "reg10=0/0x2,arp,dl_src=0a:58:0a:00:00:05,arp_spa=10.0.0.5,"
        "arp_tpa=10.0.0.5,arp_sha=0a:58:0a:00:00:05 actions=controller("
        "userdata=00.00.00.01,meter_id=5),set_field:0x2/0x2->reg10,"
        "resubmit(,15),resubmit(,10)\n");
    assert_int_equal(count_substr(got, "learn("), 1);
    free(got);
    f->ctx.self_activation = false;
    lb_pipeline_compute(&f->ctx, &f->flows);

    /* Activation: no output flow changes. */
    lb_flow_table_set_tracking(&f->flows, true);
    lb_flow_table_clear_tracked(&f->flows);
    p1->additional_blocked = false;
    assert_false(lb_pipeline_port_wants_gate(&f->ctx, p1));
    lb_pipeline_update_port(&f->ctx, "p1", p1->key, "pods", &f->flows);
    const struct lb_flow *flow;
    size_t n = 0;
    LB_FLOW_TABLE_FOR_EACH_TRACKED (flow, &f->flows) {
        assert_true(flow->table_id != 40);
        n++;
    }
    assert_true(n >= 2);
    lb_flow_table_clear_tracked(&f->flows);

    /* The source's copy (blocked elsewhere) wants no gate here. */
    lb_port_set_chassis(p1, "n1", "n2");
    p1->additional_blocked = true;
    assert_false(lb_pipeline_port_wants_gate(&f->ctx, p1));
    sset_destroy(&gated);
}


#define ND_REPLY(MAC, IP, FLAGS)                                        \
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:" MAC            \
    "->eth_src,move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:" IP \
    "->ipv6_src,set_field:136->icmpv6_type,set_field:" FLAGS            \
    "->nd_reserved,set_field:2->nd_options_type,resubmit(,26)"

/* A dual-stack switch: IPv6 port security, the ND responder for ports and
 * gateway, solicitations to their owner only, RS to the agent. */
static void
test_dual_stack_flows(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);

    /* IPv4 as before. */
    assert_has_flow(got, "table=10, priority=100,reg14=0x5,ip,"
                    "dl_src=0a:58:0a:00:00:05,nw_src=10.0.0.5 "
                    "actions=resubmit(,30)\n");
    /* Sources: global and link-local, MAC-bound. */
    assert_has_flow(got, "cookie=0x4000000000000005, table=10, priority=100,"
                    "reg14=0x5,ipv6,dl_src=0a:58:0a:00:00:05,"
                    "ipv6_src=fd00::858:aff:fe00:5 actions=resubmit(,25)\n");
    assert_has_flow(got, "table=10, priority=100,reg14=0x5,ipv6,"
                    "dl_src=0a:58:0a:00:00:05,ipv6_src=fe80::858:aff:fe00:5 "
                    "actions=resubmit(,25)\n");
    /* NAs only for its own addresses; no RA, redirect or other NA. */
    assert_has_flow(got, "table=10, priority=120,reg14=0x5,icmp6,"
                    "dl_src=0a:58:0a:00:00:05,icmp_type=136,icmp_code=0,"
                    "nd_target=fd00::858:aff:fe00:5,"
                    "nd_tll=0a:58:0a:00:00:05 actions=resubmit(,25)\n");
    assert_has_flow(got, "table=10, priority=120,reg14=0x5,icmp6,"
                    "dl_src=0a:58:0a:00:00:05,icmp_type=136,icmp_code=0,"
                    "nd_target=fd00::858:aff:fe00:5,"
                    "nd_tll=00:00:00:00:00:00 actions=resubmit(,25)\n");
    assert_has_flow(got, "table=10, priority=110,reg14=0x5,icmp6,"
                    "icmp_type=134 actions=drop\n");
    assert_has_flow(got, "table=10, priority=110,reg14=0x5,icmp6,"
                    "icmp_type=136 actions=drop\n");
    assert_has_flow(got, "table=10, priority=110,reg14=0x5,icmp6,"
                    "icmp_type=137 actions=drop\n");
    assert_has_flow(got, "table=10, priority=120,reg14=0x5,icmp6,"
                    "dl_src=0a:58:0a:00:00:05,ipv6_src=::,icmp_type=135 "
                    "actions=resubmit(,25)\n");
    assert_null(strstr(got, "nd_target=fd00::858:aff:fe00:6,nd_tll"));

    /* The responder answers for every port, local or not... */
    assert_has_flow(got, "cookie=0x4000000000000006, table=25, priority=100,"
                    "metadata=0x1,icmp6,icmp_type=135,icmp_code=0,"
                    "nd_target=fd00::858:aff:fe00:6 actions="
                    ND_REPLY("0a:58:0a:00:00:06", "fd00::858:aff:fe00:6",
                             "1610612736") "\n");
    /* ...and for the gateway, as a router. */
    assert_has_flow(got, "cookie=0x2000000000000001, table=25, priority=100,"
                    "metadata=0x1,icmp6,icmp_type=135,icmp_code=0,"
                    "nd_target=fd00::1 actions="
                    ND_REPLY("0a:59:00:00:00:01", "fd00::1", "3758096384")
                    "\n");
    assert_has_flow(got, "table=25, priority=100,metadata=0x1,icmp6,"
                    "icmp_type=135,icmp_code=0,nd_target=fe80::859:ff:fe00:1 "
                    "actions=");
    /* Without a source link-layer option: on to the owner alone. */
    assert_has_flow(got, "table=25, priority=110,metadata=0x1,icmp6,"
                    "icmp_type=135,icmp_code=0,nd_target=fd00::858:aff:fe00:6,"
                    "nd_sll=00:00:00:00:00:00 actions=resubmit(,30)\n");
    assert_has_flow(got, "table=25, priority=120,metadata=0x1,reg14=0x6,"
                    "icmp6,icmp_type=135,nd_target=fd00::858:aff:fe00:6 "
                    "actions=drop\n");
    assert_has_flow(got, "cookie=0x4000000000000006, table=30, priority=110,"
                    "metadata=0x1,icmp6,icmp_type=135,"
                    "nd_target=fd00::858:aff:fe00:6 actions="
                    "set_field:0x6->reg15,resubmit(,40)\n");
    assert_has_flow(got, "table=30, priority=60,metadata=0x1,icmp6,"
                    "icmp_type=135 actions=drop\n");
    /* Router solicitations: each local port's through its own meter;
     * any other dropped, never flooded. */
    assert_has_flow(got, "cookie=0x4000000000000005, table=25, priority=100,"
                    "reg14=0x5,icmp6,icmp_type=133,icmp_code=0 "
                    "actions=controller(userdata=00.00.00.02,meter_id=5)\n");
    assert_null(strstr(got, "reg14=0x6,icmp6,icmp_type=133"));
    assert_has_flow(got, "table=25, priority=50,metadata=0x1,icmp6,"
                    "icmp_type=133,icmp_code=0 actions=drop\n");
    free(got);
    got = format_meters(&f->flows);
    assert_string_equal(got, "meter=5,pktps,burst,stats,bands=type=drop,"
                        "rate=20,burst_size=10\n");
    assert_int_equal(lb_flow_table_find_meter(&f->flows, 5)->cookie,
                     0x4000000000000005ULL);
    free(got);

    /* A blocked copy sends only its own NAs, and only to the agent. */
    struct lb_port *p1 = lb_model_find_port(&f->model, "p1");
    lb_port_set_chassis(p1, "n2", "n1");
    p1->additional_blocked = true;
    lb_pipeline_compute(&f->ctx, &f->flows);
    got = format_flows(&f->flows);
    assert_has_flow(got, "cookie=0x4800000000000005, table=10, priority=160,"
                    "reg14=0x5,icmp6,dl_src=0a:58:0a:00:00:05,icmp_type=136,"
                    "icmp_code=0,nd_target=fd00::858:aff:fe00:5 "
                    "actions=controller(userdata=00.00.00.01,meter_id=5)\n");
    assert_has_flow(got, "table=10, priority=160,reg14=0x5,icmp6,"
                    "dl_src=0a:58:0a:00:00:05,icmp_type=136,icmp_code=0,"
                    "nd_target=fe80::858:aff:fe00:5 actions=controller");
    /* Its ordinary IPv6 flows, its solicitations' to the agent included,
     * wait underneath the priority-150 drop, which drops those with
     * everything else it sends; the meter is its announcements' now. */
    assert_has_flow(got, "table=10, priority=150,reg14=0x5 actions=drop\n");
    assert_non_null(strstr(got, "priority=100,reg14=0x5,ipv6"));
    assert_int_equal(lb_flow_table_find_meter(&f->flows, 5)->cookie,
                     0x4800000000000005ULL);
    free(got);
}

/* An IPv4-only switch has no IPv6 flows but the blocked copy's NA. */
static void
test_ipv4_only_no_ipv6(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);
    assert_null(strstr(got, "ipv6"));
    assert_null(strstr(got, "nd_target"));
    assert_null(strstr(got, "icmp_type=133"));
    assert_null(strstr(got, "icmp_type=134"));
    assert_null(strstr(got, "icmp_type=135"));
    assert_null(strstr(got, "table=25, priority=1"));
    free(got);
}

/* An IPv6-only switch: no ARP, IPv6 as on a dual-stack one; no gateway but
 * its link-local address, the RAs' source. */
static void
test_ipv6_only_flows(void **state)
{
    struct fixture *f = *state;
    lb_pipeline_compute(&f->ctx, &f->flows);
    char *got = format_flows(&f->flows);
    assert_null(strstr(got, "arp_spa"));
    assert_null(strstr(got, "arp_tpa"));
    assert_has_flow(got, "table=10, priority=100,reg14=0x5,ipv6,"
                    "dl_src=0a:58:00:00:00:05,ipv6_src=fd00::858:ff:fe00:5 "
                    "actions=resubmit(,25)\n");
    assert_has_flow(got, "table=25, priority=100,metadata=0x1,icmp6,"
                    "icmp_type=135,icmp_code=0,nd_target=fd00::858:ff:fe00:6 "
                    "actions=" ND_REPLY("0a:58:00:00:00:06",
                                        "fd00::858:ff:fe00:6", "1610612736"));
    assert_has_flow(got, "nd_target=fe80::859:ff:fe00:1 actions=");
    assert_null(strstr(got, "nd_target=fd00::1 "));
    assert_has_flow(got, "reg14=0x5,icmp6,icmp_type=133,icmp_code=0 "
                    "actions=controller(userdata=00.00.00.02,meter_id=5)\n");
    free(got);
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
        cmocka_unit_test_setup_teardown(test_gated_blocked_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_target_blocked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_meters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_tunnel_to_tunnel,
                                        setup, teardown),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test_setup_teardown(test_dual_stack_flows, setup_ds,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ipv4_only_no_ipv6, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_only_flows, setup_v6,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full,
                                        setup_ds, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_equals_full,
                                        setup_v6, teardown),
        cmocka_unit_test_setup_teardown(test_activation_changes_little,
                                        setup_ds, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
