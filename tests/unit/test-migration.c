/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "migration.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"

#define UID_X "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
#define UID_Y "11111111-2222-4333-8444-555555555555"

/* Facts for migration X of the fixture VM at a given step. */
static struct lb_migration_facts
facts(enum lb_migration_outcome outcome, enum lb_vmim_phase phase,
      bool target, bool activated)
{
    return (struct lb_migration_facts) {
        .migration_uid = UID_X,
        .vmim = "kubevirt-migrate-vm-x7k2p",
        .phase = phase,
        .outcome = outcome,
        .opted_in = true,
        .source_node = "node-a",
        .target_node = target ? "node-b" : NULL,
        .target_pod = target ? "virt-launcher-testvm-fghij" : NULL,
        .activated = activated,
        .activation_cause = activated ? "garp" : NULL,
    };
}

static enum lb_migration_state
state_of(const struct lb_migration_facts *f, const char *cause_needle)
{
    char *cause;
    enum lb_migration_state state = lb_migration_state_from_facts(f, &cause);
    assert_non_null(cause);
    if (cause_needle && !strstr(cause, cause_needle)) {
        fail_msg("cause \"%s\" lacks \"%s\"", cause, cause_needle);
    }
    free(cause);
    return state;
}

static void
test_state_from_facts(void **state OVS_UNUSED)
{
    struct lb_migration_facts none = { .outcome = LB_OUTCOME_NONE };
    assert_int_equal(state_of(&none, "no migration"), LB_MIGRATION_IDLE);

    struct lb_migration_facts f;
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_PENDING, false, false);
    assert_int_equal(state_of(&f, "Pending"), LB_MIGRATION_PREPARING);
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_NONE, false, false);
    assert_int_equal(state_of(&f, "phase none"), LB_MIGRATION_PREPARING);
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_SCHEDULING, true, false);
    assert_int_equal(state_of(&f, "blocked"), LB_MIGRATION_MIRRORING);
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, true, true);
    assert_int_equal(state_of(&f, "garp"), LB_MIGRATION_ACTIVATED);
    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_SUCCEEDED, true, true);
    assert_int_equal(state_of(&f, "succeeded"), LB_MIGRATION_COMPLETED);
    /* The VMI's migrationState runs ahead of the VMIM's phase: the cause
     * says which one told. */
    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_RUNNING, true, true);
    assert_int_equal(state_of(&f, "succeeded (its migration state says "
                              "completed; VMIM phase Running), bound to "
                              "node-b alone"), LB_MIGRATION_COMPLETED);
    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_SUCCEEDED, true, true);
    assert_int_equal(state_of(&f, "succeeded (VMIM phase Succeeded)"),
                     LB_MIGRATION_COMPLETED);
    f = facts(LB_OUTCOME_FAILED, LB_VMIM_FAILED, true, false);
    assert_int_equal(state_of(&f, "failed (VMIM phase Failed)"),
                     LB_MIGRATION_ROLLED_BACK);
    f = facts(LB_OUTCOME_FAILED, LB_VMIM_RUNNING, true, false);
    assert_int_equal(state_of(&f, "failed (its migration state says "
                              "failed; VMIM phase Running)"),
                     LB_MIGRATION_ROLLED_BACK);
    f = facts(LB_OUTCOME_CANCELLED, LB_VMIM_RUNNING, true, false);
    assert_int_equal(state_of(&f, "cancelled"), LB_MIGRATION_ROLLED_BACK);
    f = facts(LB_OUTCOME_GONE, LB_VMIM_NONE, false, false);
    assert_int_equal(state_of(&f, "gone"), LB_MIGRATION_ROLLED_BACK);

    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, false, false);
    f.target_pod_gone = true;
    f.target_pod = "virt-launcher-testvm-fghij";
    assert_int_equal(state_of(&f, "fghij deleted"),
                     LB_MIGRATION_ROLLED_BACK);

    /* Without the opt-in, the port never has two chassis. */
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, true, true);
    f.opted_in = false;
    assert_int_equal(state_of(&f, "not opted in"), LB_MIGRATION_PREPARING);

    assert_int_equal(lb_migration_state_from_facts(&f, NULL),
                     LB_MIGRATION_PREPARING);
    assert_string_equal(lb_migration_state_to_string(
                            LB_MIGRATION_ROLLED_BACK), "rolled-back");
    assert_string_equal(lb_migration_outcome_to_string(LB_OUTCOME_GONE),
                        "gone");
}

static enum lb_migration_state
next(enum lb_migration_state current, const struct lb_migration_facts *f,
     bool expect_change)
{
    char *cause;
    enum lb_migration_state state = lb_migration_next(current, f, &cause);
    if (expect_change) {
        assert_int_not_equal(state, current);
        assert_non_null(cause);
    } else {
        assert_int_equal(state, current);
        assert_null(cause);
    }
    free(cause);
    return state;
}

static void
test_next(void **state OVS_UNUSED)
{
    struct lb_migration_facts f;
    enum lb_migration_state s = LB_MIGRATION_IDLE;

    /* The whole way. */
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_PENDING, false, false);
    s = next(s, &f, true);
    assert_int_equal(s, LB_MIGRATION_PREPARING);
    s = next(s, &f, false);
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_SCHEDULING, true, false);
    s = next(s, &f, true);
    assert_int_equal(s, LB_MIGRATION_MIRRORING);
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, true, true);
    s = next(s, &f, true);
    assert_int_equal(s, LB_MIGRATION_ACTIVATED);

    /* Activation is not undone. */
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, true, false);
    s = next(s, &f, false);
    assert_int_equal(s, LB_MIGRATION_ACTIVATED);

    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_SUCCEEDED, true, true);
    s = next(s, &f, true);
    assert_int_equal(s, LB_MIGRATION_COMPLETED);

    /* Final states stay. */
    f = facts(LB_OUTCOME_FAILED, LB_VMIM_FAILED, true, false);
    s = next(s, &f, false);
    struct lb_migration_facts none = { .outcome = LB_OUTCOME_NONE };
    s = next(s, &none, false);
    assert_int_equal(s, LB_MIGRATION_COMPLETED);

    /* Phases may be skipped: a restarted agent sees only the end. */
    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_SUCCEEDED, true, true);
    assert_int_equal(next(LB_MIGRATION_IDLE, &f, true),
                     LB_MIGRATION_COMPLETED);
    f = facts(LB_OUTCOME_CANCELLED, LB_VMIM_FAILED, true, false);
    assert_int_equal(next(LB_MIGRATION_PREPARING, &f, true),
                     LB_MIGRATION_ROLLED_BACK);

    /* A migration whose objects vanish rolls back. */
    assert_int_equal(next(LB_MIGRATION_MIRRORING, &none, true),
                     LB_MIGRATION_ROLLED_BACK);
    assert_int_equal(next(LB_MIGRATION_IDLE, &none, false),
                     LB_MIGRATION_IDLE);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) {
        fail_msg("\"%s\" lacks \"%s\"", haystack, needle);
    }
}

static void
test_table(void **state OVS_UNUSED)
{
    struct lb_migration_table table;
    struct lb_migration_facts f;
    const long long int t0 = 1795251600000LL;   /* 2026-11-21T09:00:00Z */

    lb_migration_table_init(&table);

    /* No migration: no record. */
    struct lb_migration_facts none = { .outcome = LB_OUTCOME_NONE };
    assert_false(lb_migration_table_update(&table, "default_testvm", &none,
                                           t0));
    assert_null(lb_migration_table_find(&table, "default_testvm"));

    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_PENDING, false, false);
    assert_true(lb_migration_table_update(&table, "default_testvm", &f,
                                          t0));
    assert_false(lb_migration_table_update(&table, "default_testvm", &f,
                                           t0 + 100));
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_SCHEDULING, true, false);
    assert_true(lb_migration_table_update(&table, "default_testvm", &f,
                                          t0 + 4000));
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_RUNNING, true, true);
    assert_true(lb_migration_table_update(&table, "default_testvm", &f,
                                          t0 + 11250));
    f = facts(LB_OUTCOME_SUCCEEDED, LB_VMIM_SUCCEEDED, true, true);
    assert_true(lb_migration_table_update(&table, "default_testvm", &f,
                                          t0 + 12000));

    const struct lb_migration_record *rec = lb_migration_table_find(
        &table, "default_testvm");
    assert_non_null(rec);
    assert_int_equal(rec->state, LB_MIGRATION_COMPLETED);
    assert_int_equal(rec->n_transitions, 4);
    assert_int_equal(rec->started, t0);
    assert_int_equal(rec->mirroring, t0 + 4000);
    assert_int_equal(rec->activated, t0 + 11250);
    assert_int_equal(rec->finished, t0 + 12000);
    assert_int_equal(lb_migration_record_latency(rec), 7250);
    assert_string_equal(rec->source, "node-a");
    assert_string_equal(rec->target, "node-b");
    assert_string_equal(rec->vmim, "kubevirt-migrate-vm-x7k2p");

    struct ds s = DS_EMPTY_INITIALIZER;
    lb_migration_table_format(&table, true, &s);
    assert_contains(ds_cstr(&s), "default_testvm vmim=kubevirt-migrate-vm-"
                    "x7k2p uid="UID_X" source=node-a target=node-b "
                    "state=completed started=2026-11-21T09:00:00.000Z "
                    "activated=2026-11-21T09:00:11.250Z "
                    "finished=2026-11-21T09:00:12.000Z blocked-for=7250ms\n");
    assert_contains(ds_cstr(&s), "2026-11-21T09:00:04.000Z preparing -> "
                    "mirroring: target pod virt-launcher-testvm-fghij on "
                    "node-b, blocked until activation\n");
    assert_contains(ds_cstr(&s), "mirroring -> activated: activated on "
                    "node-b (garp)\n");
    ds_clear(&s);

    /* After success, the facts no longer describe a migration: the record
     * stays completed. */
    assert_false(lb_migration_table_update(&table, "default_testvm", &none,
                                           t0 + 60000));

    /* A new migration (back) retires the old record. */
    f = facts(LB_OUTCOME_IN_PROGRESS, LB_VMIM_SCHEDULING, false, false);
    f.migration_uid = UID_Y;
    f.vmim = "kubevirt-migrate-vm-back";
    f.source_node = "node-b";
    assert_true(lb_migration_table_update(&table, "default_testvm", &f,
                                          t0 + 70000));
    rec = lb_migration_table_find(&table, "default_testvm");
    assert_string_equal(rec->migration_uid, UID_Y);
    assert_int_equal(rec->state, LB_MIGRATION_PREPARING);
    assert_int_equal(lb_migration_record_latency(rec), -1);
    assert_int_equal(table.n_history, 1);

    lb_migration_table_format(&table, false, &s);
    assert_contains(ds_cstr(&s), "default_testvm vmim=kubevirt-migrate-vm-"
                    "back uid="UID_Y" source=node-b target=- "
                    "state=preparing");
    assert_contains(ds_cstr(&s), "activated=- finished=- blocked-for=-\n"
                    "earlier:\ndefault_testvm vmim=kubevirt-migrate-vm-x7k2p");
    ds_destroy(&s);

    /* Removing the port retires the record. */
    assert_true(lb_migration_table_remove(&table, "default_testvm",
                                          t0 + 80000));
    assert_false(lb_migration_table_remove(&table, "default_testvm",
                                           t0 + 80000));
    assert_null(lb_migration_table_find(&table, "default_testvm"));
    assert_int_equal(table.n_history, 2);

    /* The history is bounded. */
    table.max_history = 3;
    for (int i = 0; i < 10; i++) {
        char port[32];
        snprintf(port, sizeof port, "default_vm%d", i);
        f = facts(LB_OUTCOME_FAILED, LB_VMIM_FAILED, true, false);
        lb_migration_table_update(&table, port, &f, t0 + i);
        lb_migration_table_remove(&table, port, t0 + i);
    }
    assert_int_equal(table.n_history, 3);

    lb_migration_table_destroy(&table);
}

static void
test_many_migrations(void **state OVS_UNUSED)
{
    struct lb_migration_table table;
    lb_migration_table_init(&table);

    /* Every new UID retires the previous record. */
    char uid[64];
    for (int i = 0; i < 3 * LB_MIGRATION_MAX_TRANSITIONS; i++) {
        snprintf(uid, sizeof uid, "uid-%d", i);
        struct lb_migration_facts f = facts(LB_OUTCOME_IN_PROGRESS,
                                            LB_VMIM_RUNNING, true, i % 2);
        f.migration_uid = uid;
        lb_migration_table_update(&table, "default_testvm", &f, 1000 + i);
    }
    assert_int_equal(table.n_history, 3 * LB_MIGRATION_MAX_TRANSITIONS - 1);
    assert_int_equal(hmap_count(&table.current), 1);
    lb_migration_table_destroy(&table);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_from_facts),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_many_migrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
