/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The egress gateway's derivation (lib/egress-gateway.c): the field's
 * validation, the active node's choice from Node objects, failover and
 * back, both families, and what each node holds. */

#include <config.h>
#include "egress-gateway.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "derive.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

struct bed {
    struct lb_cluster cluster;
    struct lb_model model;
    struct lb_egress_plan plan;
};

static void
upsert(struct bed *bed, enum lb_kind kind, const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    bool changed;
    char *error = lb_cluster_upsert_json(&bed->cluster, kind, j, &changed);
    if (error) {
        fail_msg("%s", error);
    }
    json_decref(j);
}

/* A switch "pods", dual-stack, with 'egress' as its spec.egressGateway
 * (JSON; NULL: none). */
static void
put_switch(struct bed *bed, const char *name, int key, const char *egress,
           const char *extra)
{
    char *text = xasprintf(
        "{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":\"LogicalSwitch\","
        "\"metadata\":{\"name\":\"%s\"},"
        "\"spec\":{\"tunnelKey\":%d,\"subnet\":\"10.%d.0.0/16\","
        "\"ipv6Prefix\":\"fd00:%d::/64\"%s%s%s}}",
        name, key, 40 + key, 40 + key, egress ? ",\"egressGateway\":" : "",
        egress ? egress : "", extra ? extra : "");
    upsert(bed, LB_KIND_LOGICAL_SWITCH, text);
    free(text);
}

/* Node "nodeN" with addresses 172.31.0.N and (if 'v6') fd31::N, Ready
 * "True" if 'ready' (absent if 'ready' is NULL). */
static void
put_node(struct bed *bed, int n, const char *ready, bool v6)
{
    char *cond = (ready
                  ? xasprintf(",\"conditions\":[{\"type\":\"MemoryPressure\","
                              "\"status\":\"False\"},{\"type\":\"Ready\","
                              "\"status\":\"%s\"}]", ready)
                  : xstrdup(""));
    char *addr6 = (v6
                   ? xasprintf(",{\"type\":\"InternalIP\","
                               "\"address\":\"fd31::%d\"}", n)
                   : xstrdup(""));
    char *text = xasprintf(
        "{\"apiVersion\":\"v1\",\"kind\":\"Node\","
        "\"metadata\":{\"name\":\"node%d\"},"
        "\"status\":{\"addresses\":[{\"type\":\"Hostname\","
        "\"address\":\"node%d\"},{\"type\":\"InternalIP\","
        "\"address\":\"172.31.0.%d\"}%s]%s}}", n, n, n, addr6, cond);
    upsert(bed, LB_KIND_NODE, text);
    free(text);
    free(addr6);
    free(cond);
}

static void
del_node(struct bed *bed, int n)
{
    char *name = xasprintf("node%d", n);
    assert_true(lb_cluster_remove(&bed->cluster, LB_KIND_NODE, NULL, name));
    free(name);
}

/* Derives for 'chassis' and returns the plan's text. */
static char *
derive(struct bed *bed, const char *chassis)
{
    lb_egress_plan_destroy(&bed->plan);
    lb_model_clear(&bed->model);
    lb_derive_model(&bed->cluster, &bed->model);
    lb_egress_derive(&bed->cluster, &bed->model, chassis, &bed->plan);
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_egress_plan_format(&bed->plan, &s);
    return ds_steal_cstr(&s);
}

static void
expect(struct bed *bed, const char *chassis, const char *want)
{
    char *got = derive(bed, chassis);
    assert_string_equal(got, want);
    free(got);
}

static int
setup(void **state)
{
    struct bed *bed = xzalloc(sizeof *bed);
    lb_cluster_init(&bed->cluster);
    lb_model_init(&bed->model);
    for (int n = 1; n <= 3; n++) {
        put_node(bed, n, "True", true);
    }
    *state = bed;
    return 0;
}

static int
teardown(void **state)
{
    struct bed *bed = *state;
    lb_egress_plan_destroy(&bed->plan);
    lb_model_destroy(&bed->model);
    lb_cluster_destroy(&bed->cluster);
    free(bed);
    return 0;
}

#define ROUTE_VIA3 "switch pods: egress gateway, nodes node3,node2, " \
    "active node3 via 172.31.0.3 fd31::3 (table 10801)\n"
#define ROUTE_VIA2 "switch pods: egress gateway, nodes node3,node2, " \
    "active node2 via 172.31.0.2 fd31::2 (table 10801)\n"

/* No field: routed, nothing for any node. */
static void
test_routed(void **state)
{
    struct bed *bed = *state;
    put_switch(bed, "pods", 1, NULL, NULL);
    expect(bed, "node1", "");
    assert_int_equal(bed->plan.n, 0);
}

/* The first listed node that is Ready is active: it SNATs, the others
 * (the standby among them) route to both of its addresses. */
static void
test_active_and_roles(void **state)
{
    struct bed *bed = *state;
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node3\",\"node2\"]}", NULL);
    expect(bed, "node1", ROUTE_VIA3);
    expect(bed, "node2", ROUTE_VIA3);
    expect(bed, "node3", "switch pods: egress gateway, nodes node3,node2, "
           "active node3 (this node: SNAT)\n");
    const struct lb_egress_switch *es = &bed->plan.switches[0];
    assert_int_equal(es->mode, LB_EGRESS_GATEWAY);
    assert_true(es->snat);
    assert_int_equal(es->key, 1);
    assert_int_equal(es->prefix_len, 16);
    assert_true(es->has_prefix6);
}

/* Failover: NotReady, Unknown, no condition at all, or deleted; and back
 * to the first when it is Ready again (the list is a preference). */
static void
test_failover(void **state)
{
    struct bed *bed = *state;
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node3\",\"node2\"]}", NULL);
    const char *states[] = { "False", "Unknown", NULL };
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        put_node(bed, 3, states[i], true);
        expect(bed, "node1", ROUTE_VIA2);
        expect(bed, "node3", ROUTE_VIA2);
        expect(bed, "node2", "switch pods: egress gateway, nodes "
               "node3,node2, active node2 (this node: SNAT)\n");
    }
    del_node(bed, 3);
    expect(bed, "node1", ROUTE_VIA2);

    put_node(bed, 3, "True", true);
    expect(bed, "node1", ROUTE_VIA3);

    /* None Ready: unreachable, on every node. */
    put_node(bed, 3, "False", true);
    put_node(bed, 2, "False", true);
    expect(bed, "node1", "switch pods: egress gateway, nodes node3,node2, "
           "active none (no listed node is Ready: the switch's traffic to "
           "the world is unreachable)\n");
    assert_null(bed->plan.switches[0].active);
}

/* A node without an IPv6 address: IPv4 goes through it, IPv6 is
 * unreachable (never routed around the gateway). */
static void
test_families(void **state)
{
    struct bed *bed = *state;
    put_node(bed, 3, "True", false);
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node3\"]}", NULL);
    expect(bed, "node1", "switch pods: egress gateway, nodes node3, active "
           "node3 via 172.31.0.3 (no IPv6 address) (table 10801)\n");
    assert_false(bed->plan.switches[0].has_via6);

    /* An IPv6-only switch needs only the IPv6 address. */
    put_node(bed, 3, "True", true);
    upsert(bed, LB_KIND_LOGICAL_SWITCH,
           "{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":"
           "\"LogicalSwitch\",\"metadata\":{\"name\":\"v6\"},\"spec\":{"
           "\"tunnelKey\":7,\"ipv6Prefix\":\"fd00:77::/64\","
           "\"egressGateway\":{\"nodes\":[\"node3\"]}}}");
    expect(bed, "node1", "switch pods: egress gateway, nodes node3, active "
           "node3 via 172.31.0.3 fd31::3 (table 10801)\n"
           "switch v6: egress gateway, nodes node3, active node3 via "
           "fd31::3 (table 10807)\n");
    assert_int_equal(bed->plan.switches[1].prefix_len, 0);
}

/* Bad input: the switch stays (its ports keep their network), its egress
 * is invalid with the reason, and nothing is written for it. */
static void
test_bad_input(void **state)
{
    struct bed *bed = *state;
    static const struct {
        const char *field;
        const char *error;
    } cases[] = {
        { "[\"node3\"]", "spec.egressGateway: must be an object" },
        { "{}", "spec.egressGateway.nodes: must be a non-empty array of "
          "node names" },
        { "{\"nodes\":[]}", "spec.egressGateway.nodes: must be a non-empty "
          "array of node names" },
        { "{\"nodes\":\"node3\"}", "spec.egressGateway.nodes: must be a "
          "non-empty array of node names" },
        { "{\"nodes\":[\"node3\",7]}", "spec.egressGateway.nodes[1]: not a "
          "node name" },
        { "{\"nodes\":[\"Node3\"]}", "spec.egressGateway.nodes[0]: not a "
          "node name" },
        { "{\"nodes\":[\"-x\"]}", "spec.egressGateway.nodes[0]: not a node "
          "name" },
        { "{\"nodes\":[\"\"]}", "spec.egressGateway.nodes[0]: not a node "
          "name" },
        { "{\"nodes\":[\"node3\",\"node2\",\"node3\"]}",
          "spec.egressGateway.nodes[2]: \"node3\" is listed twice" },
        { "{\"nodes\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\","
          "\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
          "spec.egressGateway.nodes: at most 16 nodes" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        put_switch(bed, "pods", 1, cases[i].field, NULL);
        char *want = xasprintf("switch pods: egress invalid (%s)\n",
                               cases[i].error);
        expect(bed, "node1", want);
        free(want);
        assert_non_null(lb_model_find_switch(&bed->model, "pods"));
    }

    /* A provider network's traffic never reaches a node's host. */
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node3\"]}",
               ",\"provider\":{\"physicalNetwork\":\"physnet1\"}");
    expect(bed, "node1", "switch pods: egress invalid (spec.egressGateway: "
           "only for an overlay switch (this one is a provider network))\n");

    /* Nodes that do not exist (yet) are no error: none is active. */
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node9\"]}", NULL);
    expect(bed, "node1", "switch pods: egress gateway, nodes node9, active "
           "none (no listed node is Ready: the switch's traffic to the "
           "world is unreachable)\n");

    /* And the field going away makes it routed again. */
    put_switch(bed, "pods", 1, NULL, NULL);
    expect(bed, "node1", "");
}

/* Derived, never remembered: the same objects give equal plans, whatever
 * the order they came in; a change of the field is a change. */
static void
test_pure(void **state)
{
    struct bed *bed = *state;
    put_switch(bed, "pods", 1, "{\"nodes\":[\"node3\",\"node2\"]}", NULL);
    free(derive(bed, "node1"));
    struct lb_egress_plan first = bed->plan;
    memset(&bed->plan, 0, sizeof bed->plan);

    struct bed other = { .plan = { NULL, 0 } };
    lb_cluster_init(&other.cluster);
    lb_model_init(&other.model);
    put_switch(&other, "pods", 1, "{\"nodes\":[\"node3\",\"node2\"]}", NULL);
    for (int n = 3; n >= 1; n--) {
        put_node(&other, n, "True", true);
    }
    free(derive(&other, "node1"));
    assert_true(lb_egress_plan_equal(&first, &other.plan));

    put_switch(&other, "pods", 1, "{\"nodes\":[\"node2\",\"node3\"]}", NULL);
    free(derive(&other, "node1"));
    assert_false(lb_egress_plan_equal(&first, &other.plan));

    const struct lb_logical_switch *a
        = lb_cluster_find_logical_switch(&bed->cluster, "pods");
    const struct lb_logical_switch *b
        = lb_cluster_find_logical_switch(&other.cluster, "pods");
    assert_false(lb_logical_switch_equal(a, b));

    lb_egress_plan_destroy(&first);
    lb_egress_plan_destroy(&other.plan);
    lb_model_destroy(&other.model);
    lb_cluster_destroy(&other.cluster);
}

/* The Node fields it reads, and that a change of readiness is a change. */
static void
test_node_fields(void **state)
{
    struct bed *bed = *state;
    const struct lb_node *n = lb_cluster_find_node(&bed->cluster, "node2");
    assert_true(n->ready);
    assert_int_equal(n->ip4, htonl(0xac1f0002));
    assert_true(n->has_ip6);
    assert_int_equal(n->tunnel_ip, htonl(0xac1f0002));

    json_error_t jerr;
    json_t *j = json_loads(
        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
        "\"node2\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
        "\"address\":\"172.31.0.2\"},{\"type\":\"InternalIP\","
        "\"address\":\"fd31::2\"}],\"conditions\":[{\"type\":\"Ready\","
        "\"status\":\"False\"}]}}", 0, &jerr);
    bool changed = false;
    char *error = lb_cluster_upsert_json(&bed->cluster, LB_KIND_NODE, j,
                                         &changed);
    assert_null(error);
    assert_true(changed);
    json_decref(j);
    assert_false(lb_cluster_find_node(&bed->cluster, "node2")->ready);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_and_roles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_families, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_fields, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
