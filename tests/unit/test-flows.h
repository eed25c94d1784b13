/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_TEST_FLOWS_H
#define LIVEBIND_TEST_FLOWS_H 1

/* Comparing a pipeline's flows with expected ones, for the pipeline unit
 * tests.  Include after <cmocka.h>. */

#include <stdio.h>
#include <string.h>
#include "flow-table.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "util.h"

static inline char *
format_flows(const struct lb_flow_table *ft)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_flow_table_format(ft, &s);
    return ds_steal_cstr(&s);
}

static inline char *
format_meters(const struct lb_flow_table *ft)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_flow_table_format_meters(ft, &s);
    return ds_steal_cstr(&s);
}

/* Asserts that 'ft' holds exactly 'expected' (NULL-terminated, in
 * lb_flow_table_format() order); prints both on a mismatch. */
static inline void
assert_flows(const struct lb_flow_table *ft, const char *const expected[])
{
    struct ds want = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; expected[i]; i++) {
        ds_put_format(&want, "%s\n", expected[i]);
    }
    char *got = format_flows(ft);
    if (strcmp(got, ds_cstr(&want))) {
        fprintf(stderr, "--- expected\n%s--- got\n%s", ds_cstr(&want), got);
    }
    assert_string_equal(got, ds_cstr(&want));
    free(got);
    ds_destroy(&want);
}

/* The actions of the flow of 'ft' in 'table' at 'priority' whose match is
 * exactly 'match', or NULL if there is none. */
static inline const char *
actions_of(const struct lb_flow_table *ft, int table, int priority,
           const char *match)
{
    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, ft) {
        if (flow->table_id == table && flow->priority == priority
            && !strcmp(flow->match, match)) {
            return flow->actions;
        }
    }
    return NULL;
}

/* Asserts that that flow exists with 'actions'; prints every flow if
 * not. */
static inline void
assert_actions(const struct lb_flow_table *ft, int table, int priority,
               const char *match, const char *actions)
{
    const char *got = actions_of(ft, table, priority, match);
    if (!got || strcmp(got, actions)) {
        char *all = format_flows(ft);
        fprintf(stderr, "table=%d priority=%d %s: want %s, got %s in\n%s",
                table, priority, match, actions, got ? got : "(none)", all);
        free(all);
    }
    assert_non_null(got);
    assert_string_equal(got, actions);
}

/* Every flow parses as ofctrl parses it (learn()'s specs included, whose
 * prerequisites OVS checks). */
static inline void
assert_all_parse(const struct lb_flow_table *ft)
{
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, ft) {
        char *s = xasprintf("table=%d,priority=%d,cookie=%#"PRIx64"%s%s,"
                            "actions=%s", f->table_id, f->priority,
                            f->cookie, f->match[0] ? "," : "", f->match,
                            f->actions);
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_str(&fm, OFPFC_ADD, s, NULL, NULL, &usable);
        if (error) {
            fail_msg("%s: %s", s, error);
        }
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
        free(s);
    }
}

#endif /* tests/unit/test-flows.h */
