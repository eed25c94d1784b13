/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The check of incremental updates against full ones
 * (incremental-check.h): equal models and flow tables compare equal
 * whatever their insertion order, and each difference is reported once, on
 * the side that has it. */

#include <config.h>
#include "incremental-check.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "flow-table.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"

static void
add_port(struct lb_model *m, const char *name, uint32_t key,
         const char *chassis)
{
    struct lb_port *p = lb_model_add_port(m, name, key, "sw");
    p->ipv4[0] = htonl(0x0a000000 | key);
    p->n_ipv4 = 1;
    lb_port_set_chassis(p, chassis, NULL);
}

static void
test_models(void **state OVS_UNUSED)
{
    struct lb_model a, b;
    lb_model_init(&a);
    lb_model_init(&b);
    lb_model_add_switch(&a, "sw", 1);
    lb_model_add_switch(&b, "sw", 1);
    add_port(&a, "default_vm1", 5, "node1");
    add_port(&a, "default_vm2", 6, "node1");
    add_port(&b, "default_vm2", 6, "node1");
    add_port(&b, "default_vm1", 5, "node1");

    struct ds diff = DS_EMPTY_INITIALIZER;
    assert_int_equal(lb_incremental_check_models(&a, &b, &diff, 10), 0);
    assert_string_equal(ds_cstr(&diff), "");

    /* The kept model lost a port's binding; the full one has it. */
    lb_port_set_chassis(lb_model_find_port(&a, "default_vm1"), NULL, NULL);
    assert_int_equal(lb_incremental_check_models(&a, &b, &diff, 10), 2);
    assert_non_null(strstr(ds_cstr(&diff),
                           "- default_vm1 key=5 switch=sw"));
    assert_non_null(strstr(ds_cstr(&diff), "chassis=(unbound)\n+ "));
    assert_non_null(strstr(ds_cstr(&diff), "chassis=node1\n"));
    assert_null(strstr(ds_cstr(&diff), "default_vm2"));

    /* At most 'max_lines' lines, then how many more. */
    ds_clear(&diff);
    assert_int_equal(lb_incremental_check_models(&a, &b, &diff, 1), 2);
    assert_non_null(strstr(ds_cstr(&diff), "... and 1 more lines\n"));

    ds_destroy(&diff);
    lb_model_destroy(&a);
    lb_model_destroy(&b);
}

static void
test_flows(void **state OVS_UNUSED)
{
    struct lb_flow_table a, b;
    lb_flow_table_init(&a);
    lb_flow_table_init(&b);
    lb_flow_table_set_tracking(&a, true);
    lb_flow_table_add(&a, 30, 100, 0x5, "dl_dst=0a:58:0a:00:00:05",
                      "output:3");
    lb_flow_table_add(&a, 0, 0, 0, "", "drop");
    lb_flow_table_add(&b, 0, 0, 0, "", "drop");
    lb_flow_table_add(&b, 30, 100, 0x5, "dl_dst=0a:58:0a:00:00:05",
                      "output:3");

    struct ds diff = DS_EMPTY_INITIALIZER;
    assert_int_equal(lb_incremental_check_flows(&a, &b, &diff, 10), 0);

    /* A flow removed from the kept table (tracked, so still in memory)
     * counts as gone; different actions count on both sides. */
    lb_flow_table_remove(&a, lb_flow_table_find(&a, 0, 0, ""));
    lb_flow_table_add(&b, 30, 100, 0x5, "dl_dst=0a:58:0a:00:00:05",
                      "set_field:0x1->tun_id,output:1");
    assert_int_equal(lb_incremental_check_flows(&a, &b, &diff, 10), 3);
    assert_non_null(strstr(ds_cstr(&diff), "- cookie=0x5, table=30, "
                           "priority=100,dl_dst=0a:58:0a:00:00:05 "
                           "actions=output:3\n"));
    assert_non_null(strstr(ds_cstr(&diff), "+ cookie=0, table=0, "
                           "priority=0 actions=drop\n"));
    assert_non_null(strstr(ds_cstr(&diff), "+ cookie=0x5, table=30, "
                           "priority=100,dl_dst=0a:58:0a:00:00:05 "
                           "actions=set_field:0x1->tun_id,output:1\n"));

    /* Meters count too. */
    ds_clear(&diff);
    lb_flow_table_remove(&b, lb_flow_table_find(&b, 0, 0, ""));
    lb_flow_table_add(&b, 30, 100, 0x5, "dl_dst=0a:58:0a:00:00:05",
                      "output:3");
    lb_flow_table_add_meter(&b, 7, 0x5, "pktps burst stats bands=type=drop"
                            ",rate=100,burst_size=10");
    assert_int_equal(lb_incremental_check_flows(&a, &b, &diff, 10), 1);
    assert_non_null(strstr(ds_cstr(&diff), "+ meter=7,pktps"));

    ds_destroy(&diff);
    lb_flow_table_destroy(&a);
    lb_flow_table_destroy(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
