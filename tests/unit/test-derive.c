/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "derive.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "sset.h"
#include "util.h"

#define UID_X "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
#define UID_Y "4d5e6f70-8192-4a3b-8c4d-5e6f70819203"
#define PORT "default_testvm key=16777226 switch=pods " \
    "mac=0a:58:0a:10:00:0a ips=10.16.0.10"
#define ON_A PORT " chassis=node-a\n"
#define ON_B PORT " chassis=node-b\n"
#define A_TO_B_BLOCKED PORT " chassis=node-a additional=node-b (blocked) " \
    "mirror\n"
#define A_TO_B_ACTIVE PORT " chassis=node-a additional=node-b mirror\n"
#define B_TO_A_BLOCKED PORT " chassis=node-b additional=node-a (blocked) " \
    "mirror\n"
#define B_TO_A_ACTIVE PORT " chassis=node-b additional=node-a mirror\n"
#define UNBOUND PORT " chassis=(unbound)\n"

#include "lb-json.h"
#include "test-fixtures.h"



static json_t *
node_a(void)
{
    json_t *j = fixture("kubevirt/17-node.json");
    jset(j, "metadata>name", lb_json_str("node-a"));
    jset(j, "status>addresses", json_pack("[{s:s, s:s}]", "type",
                                         "InternalIP", "address",
                                         "192.168.50.11"));
    return j;
}

static json_t *
deleting(json_t *j)
{
    return jset(j, "metadata>deletionTimestamp",
               lb_json_str("2026-11-21T09:00:08Z"));
}

static json_t *
not_opted_in(json_t *j)
{
    return jset(j, "metadata>annotations>kubevirt.io/allow-pod-bridge-"
               "network-live-migration", NULL);
}

/* The VMI during a migration, once the target domain is ready. */
static json_t *
vmi_target_ready(void)
{
    json_t *j = fixture("kubevirt/15-vmi-migrating.json");
    return jset(j, "status>migrationState>targetNodeDomainReadyTimestamp",
               lb_json_str("2026-11-21T09:00:11Z"));
}

/* A second migration, back from node-b to node-a, with a new UID. */
static json_t *
back_migration_state(json_t *j, const char *path)
{
    json_t *ms = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                           "migrationUid", UID_Y,
                           "sourceNode", "node-b",
                           "sourcePod", "virt-launcher-testvm-fghij",
                           "targetNode", "node-a",
                           "targetPod", "virt-launcher-testvm-klmno",
                           "mode", "PreCopy");
    return jset(j, path, ms);
}

static json_t *
vmi_back(void)
{
    json_t *j = fixture("kubevirt/16-vmi-migrated.json");
    return back_migration_state(j, "status>migrationState");
}

static json_t *
vmim_back(const char *file)
{
    json_t *j = fixture(file);
    jset(j, "metadata>name", lb_json_str("kubevirt-migrate-vm-back1"));
    jset(j, "metadata>uid", lb_json_str(UID_Y));
    jset(j, "metadata>creationTimestamp", lb_json_str("2026-11-21T10:00:00Z"));
    json_t *old = json_object_get(json_object_get(j, "status"),
                                  "migrationState");
    json_t *completed = json_object_get(old, "completed");
    json_t *failed = json_object_get(old, "failed");
    bool c = json_is_true(completed), f = json_is_true(failed);
    back_migration_state(j, "status>migrationState");
    if (c) {
        jset(j, "status>migrationState>completed", json_true());
    }
    if (f) {
        jset(j, "status>migrationState>failed", json_true());
    }
    return j;
}

static json_t *
pod_back_target(const char *file)
{
    json_t *j = fixture(file);
    jset(j, "metadata>name", lb_json_str("virt-launcher-testvm-klmno"));
    jset(j, "metadata>uid",
         lb_json_str("8d9eafb0-c1d2-4e3f-8a4b-5c6d7e8f9a01"));
    jset(j, "metadata>creationTimestamp", lb_json_str("2026-11-21T10:00:00Z"));
    jset(j, "metadata>labels>kubevirt.io/migrationJobUID", lb_json_str(UID_Y));
    jset(j, "metadata>labels>kubevirt.io/nodeName", lb_json_str("node-a"));
    jset(j, "metadata>annotations>kubevirt.io/migrationJobName",
        lb_json_str("kubevirt-migrate-vm-back1"));
    jset(j, "spec>nodeName", lb_json_str("node-a"));
    return j;
}

/* Scenarios: a set of objects, inserted in some order. */

struct object {
    enum lb_kind kind;
    json_t *json;
};

struct scenario {
    struct object objs[32];
    size_t n;
};

static void
add(struct scenario *sc, enum lb_kind kind, json_t *json)
{
    assert_true(sc->n < ARRAY_SIZE(sc->objs));
    sc->objs[sc->n++] = (struct object) { kind, json };
}

static void
add_file(struct scenario *sc, enum lb_kind kind, const char *file)
{
    add(sc, kind, fixture(file));
}

static void
scenario_destroy(struct scenario *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        json_decref(sc->objs[i].json);
    }
    sc->n = 0;
}

/* The objects every scenario has: switch, nodes and the VM's port. */
static void
base(struct scenario *sc, const char *port_file)
{
    sc->n = 0;
    add_file(sc, LB_KIND_LOGICAL_SWITCH, "livebind/logicalswitch-pods.json");
    add(sc, LB_KIND_NODE, node_a());
    add_file(sc, LB_KIND_NODE, "kubevirt/17-node.json");
    add_file(sc, LB_KIND_LOGICAL_PORT, port_file);
}

static void
fill(struct lb_cluster *cluster, const struct scenario *sc,
     const size_t *order)
{
    for (size_t i = 0; i < sc->n; i++) {
        const struct object *o = &sc->objs[order ? order[i] : i];
        bool changed;
        char *error = lb_cluster_upsert_json(cluster, o->kind, o->json,
                                             &changed);
        if (error) {
            fail_msg("%s", error);
        }
    }
}

static char *
derive_string(const struct scenario *sc, const size_t *order, bool mirror)
{
    struct lb_cluster cluster;
    struct lb_model model;
    struct ds s = DS_EMPTY_INITIALIZER;

    lb_cluster_init(&cluster);
    cluster.options.mirror = mirror;
    fill(&cluster, sc, order);
    lb_model_init(&model);
    lb_derive_model(&cluster, &model);
    lb_model_format(&model, &s);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
    return ds_steal_cstr(&s);
}

static void
shuffle(size_t *order, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = random() % i;
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

/* Derives the model of 'sc' in insertion order, in reverse, and in many
 * random orders; all must format as 'expected'.  Consumes 'sc'. */
static void
expect(struct scenario *sc, const char *expected)
{
    size_t order[ARRAY_SIZE(sc->objs)];
    for (size_t i = 0; i < sc->n; i++) {
        order[i] = sc->n - 1 - i;
    }
    for (int round = 0; round < 25; round++) {
        char *s = derive_string(sc, round ? order : NULL, true);
        if (strcmp(s, expected)) {
            fail_msg("round %d:\nexpected: %sactual:   %s", round, expected,
                     s);
        }
        free(s);
        shuffle(order, sc->n);
    }
    scenario_destroy(sc);
}

/* Single chassis. */

static void
test_source_only(void **state OVS_UNUSED)
{
    struct scenario sc;

    /* A port with no status yet, a VMI and its pod. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    expect(&sc, ON_A);

    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    expect(&sc, ON_A);

    /* No pod yet, no status: unbound. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    expect(&sc, UNBOUND);

    /* The pod unscheduled, or terminated. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add(&sc, LB_KIND_POD, jset(fixture("kubevirt/02-pod-source.json"),
                              "spec>nodeName", NULL));
    expect(&sc, UNBOUND);
    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/14-pod-source-completed.json");
    expect(&sc, UNBOUND);

    /* Only the status (the agent does not hold the pod). */
    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    expect(&sc, ON_A);
}

/* A newer pod on node-b, as the source pod but named 'name', with
 * 'ownerReferences' (NULL: none). */
static json_t *
pod_on_b(const char *name, json_t *owner_refs)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");
    jset(j, "metadata>name", lb_json_str(name));
    jset(j, "metadata>uid",
         lb_json_str("0badc0de-0000-4000-8000-000000000001"));
    jset(j, "metadata>creationTimestamp", lb_json_str("2026-11-22T10:00:00Z"));
    jset(j, "spec>nodeName", lb_json_str("node-b"));
    jset(j, "metadata>ownerReferences",
         owner_refs ? owner_refs : lb_json_arr());
    return j;
}

/* Only the VM's own virt-launcher pods move its port: a newer pod on
 * another node that merely looks like one, or names the port, does not. */
static void
test_hostile_pods(void **state OVS_UNUSED)
{
    json_t *vmi = fixture("kubevirt/01-vmi-running.json");
    const char *vmi_uid = json_string_value(json_object_get(
        json_object_get(vmi, "metadata"), "uid"));
    json_t *hostile[] = {
        /* KubeVirt's labels and domain annotation, no controller. */
        pod_on_b("evil-label", NULL),
        /* A controller reference to the VM, with another UID. */
        pod_on_b("evil-owner", json_pack(
                     "[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion",
                     "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                     "name", "testvm", "uid",
                     "0badc0de-0000-4000-8000-0000000000ff",
                     "controller", true)),
        /* The VM's name. */
        pod_on_b("testvm", NULL),
        /* The port named in the annotation. */
        jset(pod_on_b("evil-annotation", NULL),
             "metadata>annotations>livebind.io/logical-port",
             lb_json_str("testvm")),
    };
    struct scenario sc;

    for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
        base(&sc, "livebind/logicalport-testvm-new.json");
        add(&sc, LB_KIND_VMI, json_deep_copy(vmi));
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add(&sc, LB_KIND_POD, hostile[i]);
        expect(&sc, ON_A);
    }

    /* The control: the VM's own newer pod on node-b does move it. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add(&sc, LB_KIND_VMI, json_deep_copy(vmi));
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add(&sc, LB_KIND_POD, pod_on_b("virt-launcher-testvm-fghij", json_pack(
                                   "[{s:s, s:s, s:s, s:s, s:b}]",
                                   "apiVersion", "kubevirt.io/v1", "kind",
                                   "VirtualMachineInstance", "name",
                                   "testvm", "uid", vmi_uid, "controller",
                                   true)));
    expect(&sc, ON_B);
    json_decref(vmi);
}

/* Each VMIM phase, with and without the target pod. */
static void
test_phases(void **state OVS_UNUSED)
{
    static const char *const in_progress[] = {
        "kubevirt/03-vmim-pending.json",
        "kubevirt/04-vmim-scheduling.json",
        "kubevirt/05-vmim-scheduled.json",
        "kubevirt/06-vmim-preparingtarget.json",
        "kubevirt/07-vmim-targetready.json",
        "kubevirt/08-vmim-running.json",
    };
    struct scenario sc;

    for (size_t i = 0; i < ARRAY_SIZE(in_progress); i++) {
        /* No target pod yet: the source alone. */
        base(&sc, "livebind/logicalport-testvm.json");
        add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add_file(&sc, LB_KIND_VMIM, in_progress[i]);
        expect(&sc, ON_A);

        /* The target pod exists: both, blocked (the VMI's migrationState
         * may be absent or present). */
        for (int vmi = 0; vmi < 2; vmi++) {
            base(&sc, "livebind/logicalport-testvm-new.json");
            add_file(&sc, LB_KIND_VMI, vmi ? "kubevirt/15-vmi-migrating.json"
                                           : "kubevirt/01-vmi-running.json");
            add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
            add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
            add_file(&sc, LB_KIND_VMIM, in_progress[i]);
            expect(&sc, A_TO_B_BLOCKED);
        }

        /* The alternate owner recorded in the status. */
        base(&sc, "livebind/logicalport-testvm-migrating.json");
        add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
        add_file(&sc, LB_KIND_VMIM, in_progress[i]);
        expect(&sc, A_TO_B_BLOCKED);

        /* The target pod's ready timestamp activates it. */
        base(&sc, "livebind/logicalport-testvm-new.json");
        add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add_file(&sc, LB_KIND_VMIM, in_progress[i]);
        expect(&sc, A_TO_B_ACTIVE);

        /* So do the VMI's targetNodeDomainReadyTimestamp... */
        base(&sc, "livebind/logicalport-testvm-new.json");
        add(&sc, LB_KIND_VMI, vmi_target_ready());
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
        add_file(&sc, LB_KIND_VMIM, in_progress[i]);
        expect(&sc, A_TO_B_ACTIVE);

        /* ...and the activation recorded in the status. */
        base(&sc, "livebind/logicalport-testvm-activated.json");
        add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
        add_file(&sc, LB_KIND_VMIM, in_progress[i]);
        expect(&sc, A_TO_B_ACTIVE);
    }

    /* A newer KubeVirt mirrors the ready timestamp in the VMIM. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add(&sc, LB_KIND_VMIM,
        jset(fixture("kubevirt/08-vmim-running.json"),
            "status>migrationState>targetNodeDomainReadyTimestamp",
            lb_json_str("2026-11-21T09:00:11Z")));
    expect(&sc, A_TO_B_ACTIVE);

    /* Activation for another migration does not count. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    json_t *lp = sc.objs[sc.n - 1].json;
    jset(lp, "status>activation", json_pack("{s:s, s:s}", "node", "node-b",
                                           "migrationUID", UID_Y));
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, A_TO_B_BLOCKED);

    /* Mirroring may be turned off. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    char *s = derive_string(&sc, NULL, false);
    assert_string_equal(s, PORT " chassis=node-a additional=node-b "
                        "(blocked)\n");
    free(s);
    scenario_destroy(&sc);
}

static void
test_succeeded(void **state OVS_UNUSED)
{
    struct scenario sc;

    /* VMIM Succeeded: the target alone, whatever the source pod and the
     * status still say. */
    const char *sources[] = { "kubevirt/02-pod-source.json",
                              "kubevirt/14-pod-source-completed.json",
                              NULL };
    const char *ports[] = { "livebind/logicalport-testvm-new.json",
                            "livebind/logicalport-testvm.json",
                            "livebind/logicalport-testvm-activated.json" };
    for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
        for (size_t p = 0; p < ARRAY_SIZE(ports); p++) {
            base(&sc, ports[p]);
            add_file(&sc, LB_KIND_VMI, "kubevirt/16-vmi-migrated.json");
            if (sources[i]) {
                add_file(&sc, LB_KIND_POD, sources[i]);
            }
            add_file(&sc, LB_KIND_POD,
                     "kubevirt/13-pod-target-domain-ready.json");
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
            expect(&sc, ON_B);
        }
    }

    /* The VMI's migrationState may say completed before the VMIM. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/16-vmi-migrated.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_B);

    /* Long after: the VMIM garbage collected, the VMI on node-b. */
    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/16-vmi-migrated.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    expect(&sc, ON_B);
    base(&sc, "livebind/logicalport-testvm.json");
    add(&sc, LB_KIND_VMI, jset(fixture("kubevirt/16-vmi-migrated.json"),
                              "status>migrationState", NULL));
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    expect(&sc, ON_B);

    /* The agent holds neither pod: the status's alternate owner, whose
     * migration succeeded. */
    base(&sc, "livebind/logicalport-testvm-activated.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/16-vmi-migrated.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
    expect(&sc, ON_B);
    base(&sc, "livebind/logicalport-testvm-activated.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
    expect(&sc, ON_B);
}

static void
test_failed_and_cancelled(void **state OVS_UNUSED)
{
    struct scenario sc;
    const char *ends[] = { "kubevirt/10-vmim-failed.json",
                           "kubevirt/11-vmim-cancelled.json" };

    for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
        for (int status = 0; status < 2; status++) {
            base(&sc, status ? "livebind/logicalport-testvm-activated.json"
                             : "livebind/logicalport-testvm-new.json");
            add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
            add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
            add_file(&sc, LB_KIND_POD,
                     "kubevirt/13-pod-target-domain-ready.json");
            add_file(&sc, LB_KIND_VMIM, ends[i]);
            expect(&sc, ON_A);
        }
    }

    /* Abort succeeded while the VMIM still says Running. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add(&sc, LB_KIND_VMIM,
        jset(fixture("kubevirt/08-vmim-running.json"),
            "status>migrationState>abortStatus", lb_json_str("Succeeded")));
    expect(&sc, ON_A);

    /* The VMI's migrationState failed before the VMIM. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add(&sc, LB_KIND_VMI, jset(fixture("kubevirt/15-vmi-migrating.json"),
                              "status>migrationState>failed", json_true()));
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_A);

    /* The VMIM deleted before success: being deleted, or gone. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    add(&sc, LB_KIND_VMIM, deleting(fixture("kubevirt/08-vmim-running.json")));
    expect(&sc, ON_A);
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    expect(&sc, ON_A);

    /* The target pod deleted, or failed. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add(&sc, LB_KIND_POD,
        deleting(fixture("kubevirt/13-pod-target-domain-ready.json")));
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_A);
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add(&sc, LB_KIND_POD, jset(fixture("kubevirt/12-pod-target-created.json"),
                              "status>phase", lb_json_str("Failed")));
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_A);
}

static void
test_not_opted_in(void **state OVS_UNUSED)
{
    struct scenario sc;

    /* Single-chassis behaviour: the port moves at the end. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add(&sc, LB_KIND_VMI,
        not_opted_in(fixture("kubevirt/15-vmi-migrating.json")));
    add(&sc, LB_KIND_POD,
        not_opted_in(fixture("kubevirt/02-pod-source.json")));
    add(&sc, LB_KIND_POD,
        not_opted_in(fixture("kubevirt/13-pod-target-domain-ready.json")));
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_A);

    base(&sc, "livebind/logicalport-testvm-new.json");
    add(&sc, LB_KIND_VMI,
        not_opted_in(fixture("kubevirt/16-vmi-migrated.json")));
    add(&sc, LB_KIND_POD,
        not_opted_in(fixture("kubevirt/02-pod-source.json")));
    add(&sc, LB_KIND_POD,
        not_opted_in(fixture("kubevirt/13-pod-target-domain-ready.json")));
    add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
    expect(&sc, ON_B);

    /* The VMI decides, not the pods' annotation. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add(&sc, LB_KIND_VMI,
        not_opted_in(fixture("kubevirt/15-vmi-migrating.json")));
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, ON_A);

    /* Without a VMI, the pods' annotation. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, A_TO_B_BLOCKED);
}

/* The status alone, for an agent that does not hold the pods. */
static void
test_status_only(void **state OVS_UNUSED)
{
    struct scenario sc;

    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, A_TO_B_BLOCKED);

    base(&sc, "livebind/logicalport-testvm-activated.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, A_TO_B_ACTIVE);

    /* Only the target pod held (the target node's view). */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    expect(&sc, A_TO_B_BLOCKED);

    /* An alternate owner whose migration is over, or whose VMIM is not
     * known, is not bound. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/10-vmim-failed.json");
    expect(&sc, ON_A);
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    expect(&sc, ON_A);

    /* A cached pod overrides the status: the active owner has
     * terminated. */
    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/14-pod-source-completed.json");
    expect(&sc, UNBOUND);
}

/* The second migration, back to node-a, with a new VMIM UID. */
static void
test_migration_back(void **state OVS_UNUSED)
{
    struct scenario sc;

    for (int keep_old_vmim = 0; keep_old_vmim < 2; keep_old_vmim++) {
        /* Scheduling: target pod not yet there. */
        base(&sc, "livebind/logicalport-testvm.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/14-pod-source-completed.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/04-vmim-scheduling.json"));
        expect(&sc, ON_B);

        /* Running: both, blocked, although the old target pod (now the
         * source) still carries the old migration's label and the old
         * target-ready annotation. */
        base(&sc, "livebind/logicalport-testvm.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/14-pod-source-completed.json");
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add(&sc, LB_KIND_POD,
            pod_back_target("kubevirt/12-pod-target-created.json"));
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/08-vmim-running.json"));
        expect(&sc, B_TO_A_BLOCKED);

        /* The old activation in the status is for the old migration. */
        base(&sc, "livebind/logicalport-testvm-activated.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add(&sc, LB_KIND_POD,
            pod_back_target("kubevirt/12-pod-target-created.json"));
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/08-vmim-running.json"));
        expect(&sc, B_TO_A_BLOCKED);

        /* Activated. */
        base(&sc, "livebind/logicalport-testvm.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add(&sc, LB_KIND_POD,
            pod_back_target("kubevirt/13-pod-target-domain-ready.json"));
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/08-vmim-running.json"));
        expect(&sc, B_TO_A_ACTIVE);

        /* Succeeded: node-a alone. */
        base(&sc, "livebind/logicalport-testvm.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add(&sc, LB_KIND_POD,
            pod_back_target("kubevirt/13-pod-target-domain-ready.json"));
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/09-vmim-succeeded.json"));
        expect(&sc, ON_A);

        /* Failed: node-b alone. */
        base(&sc, "livebind/logicalport-testvm.json");
        add(&sc, LB_KIND_VMI, vmi_back());
        add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
        add(&sc, LB_KIND_POD,
            pod_back_target("kubevirt/13-pod-target-domain-ready.json"));
        if (keep_old_vmim) {
            add_file(&sc, LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json");
        }
        add(&sc, LB_KIND_VMIM, vmim_back("kubevirt/10-vmim-failed.json"));
        expect(&sc, ON_B);
    }
}

/* A provider network's physical network and VLAN reach the model, and its
 * ports show them. */
static void
test_provider_switch(void **state OVS_UNUSED)
{
    struct scenario sc;
    base(&sc, "livebind/logicalport-testvm-new.json");
    jset(sc.objs[0].json, "spec>provider",
         json_pack("{s:s, s:i}", "physicalNetwork", "physnet1", "vlan", 100));

    char *s = derive_string(&sc, NULL, true);
    assert_non_null(strstr(s, " switch=pods network=physnet1 vlan=100 "));
    free(s);
    scenario_destroy(&sc);
}

/* Ports of ordinary pods, derived keys and MACs, bad ports. */
static void
test_ports(void **state OVS_UNUSED)
{
    struct scenario sc;

    /* An ordinary pod; its port's key and MAC derived from the IP. */
    base(&sc, "livebind/logicalswitch-pods.json");
    sc.n--;
    json_decref(sc.objs[sc.n].json);
    json_t *lp = fixture("livebind/logicalport-testvm-new.json");
    jset(lp, "metadata>name", lb_json_str("web"));
    jset(lp, "spec>vm", NULL);
    jset(lp, "spec>pod", lb_json_str("web"));
    jset(lp, "spec>tunnelKey", NULL);
    jset(lp, "spec>mac", NULL);
    jset(lp, "spec>ips", json_pack("[s]", "10.16.1.2"));
    add(&sc, LB_KIND_LOGICAL_PORT, lp);
    json_t *pod = fixture("kubevirt/02-pod-source.json");
    jset(pod, "metadata>name", lb_json_str("web"));
    jset(pod, "metadata>ownerReferences", NULL);
    jset(pod, "metadata>labels", NULL);
    jset(pod, "metadata>annotations", NULL);
    add(&sc, LB_KIND_POD, pod);
    expect(&sc, "default_web key=16777474 switch=pods mac=0a:58:0a:10:01:02 "
           "ips=10.16.1.2 chassis=node-a\n");

    /* The fixture VM's port without key and MAC: the same ones. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    jset(sc.objs[sc.n - 1].json, "spec>tunnelKey", NULL);
    jset(sc.objs[sc.n - 1].json, "spec>mac", NULL);
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    expect(&sc, ON_A);

    /* Conflicting keys: the port first by name wins, in any order;
     * unknown switches and addresses outside the subnet are left out. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    lp = fixture("livebind/logicalport-testvm-new.json");
    jset(lp, "metadata>name", lb_json_str("zzz"));
    add(&sc, LB_KIND_LOGICAL_PORT, lp);
    lp = fixture("livebind/logicalport-testvm-new.json");
    jset(lp, "metadata>name", lb_json_str("other"));
    jset(lp, "spec>switch", lb_json_str("nope"));
    add(&sc, LB_KIND_LOGICAL_PORT, lp);
    lp = fixture("livebind/logicalport-testvm-new.json");
    jset(lp, "metadata>name", lb_json_str("outside"));
    jset(lp, "spec>tunnelKey", NULL);
    jset(lp, "spec>ips", json_pack("[s]", "10.99.0.1"));
    add(&sc, LB_KIND_LOGICAL_PORT, lp);

    struct lb_cluster cluster;
    struct lb_model model;
    struct ds notes = DS_EMPTY_INITIALIZER;
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);
    lb_model_init(&model);
    lb_derive_model_explain(&cluster, &model, &notes);
    assert_string_equal(ds_cstr(&notes),
                        "port default_other: unknown switch nope, skipped\n"
                        "port default_outside: 10.99.0.1 is not a host "
                        "address of switch pods, skipped\n"
                        "port default_zzz: key 16777226 already used by "
                        "port default_testvm, skipped\n");
    assert_int_equal(hmap_count(&model.ports), 1);
    assert_int_equal(hmap_count(&model.chassis), 2);
    const struct lb_chassis *ch = lb_model_find_chassis(&model, "node-a");
    assert_non_null(ch);
    ovs_be32 addr;
    assert_true(ip_parse("192.168.50.11", &addr));
    assert_int_equal(ch->tunnel_ip, addr);
    const struct lb_switch *sw = lb_model_find_switch(&model, "pods");
    assert_non_null(sw);
    assert_int_equal(sw->tunnel_key, 1);
    assert_int_equal(sw->prefix_len, 16);
    assert_int_equal(sw->mtu, 1400);
    ds_destroy(&notes);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
    expect(&sc, ON_A);

    /* Switches with the same key: the first by name wins; nodes without a
     * tunnel IP are not chassis. */
    base(&sc, "livebind/logicalport-testvm-new.json");
    json_t *sw2 = fixture("livebind/logicalswitch-pods.json");
    jset(sw2, "metadata>name", lb_json_str("aaa"));
    add(&sc, LB_KIND_LOGICAL_SWITCH, sw2);
    json_t *node = fixture("kubevirt/17-node.json");
    jset(node, "metadata>name", lb_json_str("node-c"));
    jset(node, "status>addresses", NULL);
    add(&sc, LB_KIND_NODE, node);
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);
    lb_model_init(&model);
    ds_init(&notes);
    lb_derive_model_explain(&cluster, &model, &notes);
    assert_string_equal(ds_cstr(&notes),
                        "switch pods: tunnel key 1 already used by switch "
                        "aaa, skipped\n"
                        "port default_testvm: unknown switch pods, "
                        "skipped\n");
    assert_int_equal(hmap_count(&model.chassis), 2);
    assert_null(lb_model_find_chassis(&model, "node-c"));
    ds_destroy(&notes);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
    expect(&sc, "");
}

/* Derivation depends only on the current objects: an agent that saw every
 * update computes what one that starts now from the same objects does. */

static const char *
object_name(const json_t *j, char *buf, size_t size)
{
    const json_t *md = json_object_get(j, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    snprintf(buf, size, "%s/%s", ns ? ns : "(null)",
             json_string_value(json_object_get(md, "name")));
    return buf;
}

/* Applies an upsert ('json' nonnull) or a deletion to the scenario 'sc'
 * (taking ownership of 'json') and to 'cluster'. */
static void
apply(struct scenario *sc, struct lb_cluster *cluster, enum lb_kind kind,
      json_t *json, const char *ns, const char *name)
{
    char key[512], other[512];
    if (json) {
        object_name(json, key, sizeof key);
    } else {
        snprintf(key, sizeof key, "%s/%s", ns ? ns : "(null)", name);
    }

    for (size_t i = 0; i < sc->n; i++) {
        if (sc->objs[i].kind == kind
            && !strcmp(object_name(sc->objs[i].json, other, sizeof other),
                       key)) {
            json_decref(sc->objs[i].json);
            sc->objs[i] = sc->objs[--sc->n];
            break;
        }
    }
    if (json) {
        add(sc, kind, json);
        bool changed;
        char *error = lb_cluster_upsert_json(cluster, kind, json, &changed);
        if (error) {
            fail_msg("%s", error);
        }
    } else {
        lb_cluster_remove(cluster, kind, ns, name);
    }
}

static void
test_history_independence(void **state OVS_UNUSED)
{
    struct {
        enum lb_kind kind;
        const char *file;       /* NULL: use 'json' or delete. */
        json_t *(*make)(void);
        const char *delete_ns, *delete_name;
        const char *expected;   /* NULL: not checked here. */
    } steps[] = {
#define KV "kubevirt/"
#define LB "livebind/"
        { .kind = LB_KIND_LOGICAL_SWITCH,
          .file = LB "logicalswitch-pods.json" },
        { .kind = LB_KIND_NODE, .make = node_a },
        { .kind = LB_KIND_NODE, .file = KV "17-node.json" },
        { .kind = LB_KIND_LOGICAL_PORT,
          .file = LB "logicalport-testvm-new.json" },
        { .kind = LB_KIND_VMI, .file = KV "01-vmi-running.json" },
        { .kind = LB_KIND_POD, .file = KV "02-pod-source.json",
          .expected = ON_A },
        { .kind = LB_KIND_LOGICAL_PORT, .file = LB "logicalport-testvm.json" },
        { .kind = LB_KIND_VMIM, .file = KV "03-vmim-pending.json" },
        { .kind = LB_KIND_VMIM, .file = KV "04-vmim-scheduling.json",
          .expected = ON_A },
        { .kind = LB_KIND_POD, .file = KV "12-pod-target-created.json",
          .expected = A_TO_B_BLOCKED },
        { .kind = LB_KIND_LOGICAL_PORT,
          .file = LB "logicalport-testvm-migrating.json" },
        { .kind = LB_KIND_VMIM, .file = KV "05-vmim-scheduled.json" },
        { .kind = LB_KIND_VMIM, .file = KV "06-vmim-preparingtarget.json" },
        { .kind = LB_KIND_VMIM, .file = KV "07-vmim-targetready.json" },
        { .kind = LB_KIND_VMI, .file = KV "15-vmi-migrating.json" },
        { .kind = LB_KIND_VMIM, .file = KV "08-vmim-running.json",
          .expected = A_TO_B_BLOCKED },
        { .kind = LB_KIND_POD, .file = KV "13-pod-target-domain-ready.json",
          .expected = A_TO_B_ACTIVE },
        { .kind = LB_KIND_LOGICAL_PORT,
          .file = LB "logicalport-testvm-activated.json" },
        { .kind = LB_KIND_VMI, .file = KV "16-vmi-migrated.json",
          .expected = ON_B },
        { .kind = LB_KIND_VMIM, .file = KV "09-vmim-succeeded.json" },
        { .kind = LB_KIND_POD, .file = KV "14-pod-source-completed.json" },
        { .kind = LB_KIND_POD, .delete_ns = "default",
          .delete_name = "virt-launcher-testvm-abcde", .expected = ON_B },
        { .kind = LB_KIND_VMIM, .delete_ns = "default",
          .delete_name = "kubevirt-migrate-vm-x7k2p", .expected = ON_B },
        { .kind = LB_KIND_VMI, .make = vmi_back, .expected = ON_B },
        /* The migration back; its target pod before its VMIM is not
         * bound yet. */
        { .kind = LB_KIND_POD, .expected = ON_B },
        { .kind = LB_KIND_VMIM, .expected = B_TO_A_BLOCKED },
        { .kind = LB_KIND_POD, .expected = B_TO_A_ACTIVE },
        { .kind = LB_KIND_VMIM, .expected = ON_A },
        { .kind = LB_KIND_POD, .delete_ns = "default",
          .delete_name = "virt-launcher-testvm-fghij", .expected = ON_A },
#undef KV
#undef LB
    };
    struct scenario sc = { .n = 0 };
    struct lb_cluster cluster;
    lb_cluster_init(&cluster);
    /* Kept across steps and updated port by port, as the agent does. */
    struct lb_model kept;
    lb_model_init(&kept);
    struct sset dirty = SSET_INITIALIZER(&dirty);
    sset_add(&dirty, "default_testvm");

    int back_step = 0;
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        json_t *json = NULL;
        if (steps[i].file) {
            json = fixture(steps[i].file);
        } else if (steps[i].make) {
            json = steps[i].make();
        } else if (!steps[i].delete_name) {
            /* The migration back, step by step. */
            static const char *const back[] = {
                "kubevirt/12-pod-target-created.json",
                "kubevirt/08-vmim-running.json",
                "kubevirt/13-pod-target-domain-ready.json",
                "kubevirt/09-vmim-succeeded.json",
            };
            const char *file = back[back_step++];
            json = (steps[i].kind == LB_KIND_POD ? pod_back_target(file)
                    : vmim_back(file));
        }
        apply(&sc, &cluster, steps[i].kind, json, steps[i].delete_ns,
              steps[i].delete_name);

        struct lb_model model;
        struct ds incremental = DS_EMPTY_INITIALIZER;
        lb_model_init(&model);
        lb_derive_model(&cluster, &model);
        lb_model_format(&model, &incremental);
        lb_model_destroy(&model);

        if (steps[i].kind == LB_KIND_NODE
            || steps[i].kind == LB_KIND_LOGICAL_SWITCH) {
            lb_derive_model(&cluster, &kept);
        } else {
            assert_true(lb_derive_ports(&cluster, &dirty, &kept));
        }
        struct ds by_port = DS_EMPTY_INITIALIZER;
        lb_model_format(&kept, &by_port);
        if (strcmp(ds_cstr(&incremental), ds_cstr(&by_port))) {
            fail_msg("step %zu: full\n%sport by port\n%s", i,
                     ds_cstr(&incremental), ds_cstr(&by_port));
        }
        ds_destroy(&by_port);

        size_t order[ARRAY_SIZE(sc.objs)];
        for (size_t k = 0; k < sc.n; k++) {
            order[k] = k;
        }
        shuffle(order, sc.n);
        char *fresh = derive_string(&sc, order, true);
        if (strcmp(ds_cstr(&incremental), fresh)) {
            fail_msg("step %zu: incremental\n%sfresh\n%s", i,
                     ds_cstr(&incremental), fresh);
        }
        if (steps[i].expected && strcmp(fresh, steps[i].expected)) {
            fail_msg("step %zu: expected\n%sactual\n%s", i,
                     steps[i].expected, fresh);
        }
        free(fresh);
        ds_destroy(&incremental);
    }
    lb_model_destroy(&kept);
    sset_destroy(&dirty);
    lb_cluster_destroy(&cluster);
    scenario_destroy(&sc);
}

/* The cache. */

static void
test_cache(void **state OVS_UNUSED)
{
    struct lb_cluster cluster;
    bool changed;
    lb_cluster_init(&cluster);

    json_t *pod = fixture("kubevirt/02-pod-source.json");
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, pod,
                                       &changed));
    assert_true(changed);
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, pod,
                                       &changed));
    assert_false(changed);

    /* Irrelevant changes are not changes. */
    json_t *pod2 = json_deep_copy(pod);
    jset(pod2, "metadata>resourceVersion", lb_json_str("4051"));
    jset(pod2, "status>podIP", lb_json_str("10.16.0.11"));
    jset(pod2, "metadata>annotations>unrelated", lb_json_str("x"));
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, pod2,
                                       &changed));
    assert_false(changed);
    const struct lb_pod *cached = lb_cluster_find_pod(
        &cluster, "default", "virt-launcher-testvm-abcde");
    assert_non_null(cached);
    assert_string_equal(cached->resource_version, "4050");

    jset(pod2, "metadata>annotations>kubevirt.io/migration-target-ready-"
        "timestamp", lb_json_str("2026-11-21T09:00:11Z"));
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, pod2,
                                       &changed));
    assert_true(changed);
    cached = lb_cluster_find_pod(&cluster, "default",
                                 "virt-launcher-testvm-abcde");
    assert_string_equal(cached->resource_version, "4051");
    /* Labels are not irrelevant: NetworkPolicies select by them. */
    struct lb_cluster labelled;
    lb_cluster_init(&labelled);
    json_t *pod3 = json_deep_copy(pod2);
    jset(pod3, "metadata>labels>role", lb_json_str("server"));
    assert_null(lb_cluster_upsert_json(&labelled, LB_KIND_POD, pod2,
                                       &changed));
    assert_null(lb_cluster_upsert_json(&labelled, LB_KIND_POD, pod3,
                                       &changed));
    assert_true(changed);
    json_decref(pod3);
    lb_cluster_destroy(&labelled);

    /* Bad objects: a clear error, the cache unchanged. */
    json_t *bad = json_deep_copy(pod);
    jset(bad, "spec>nodeName", lb_json_int(12));
    char *error = lb_cluster_upsert_json(&cluster, LB_KIND_POD, bad,
                                         &changed);
    assert_non_null(error);
    assert_string_equal(error, "Pod default/virt-launcher-testvm-abcde: "
                        "spec.nodeName: must be a string");
    free(error);
    assert_false(changed);
    assert_true(cached == lb_cluster_find_pod(&cluster, "default",
                                              "virt-launcher-testvm-abcde"));
    assert_string_equal(cached->node_name, "node-a");
    json_decref(bad);

    json_error_t jerr;
    json_t *garbage = json_loads("[1, 2, 3]", 0, &jerr);
    error = lb_cluster_upsert_json(&cluster, LB_KIND_VMIM, garbage,
                                   &changed);
    assert_string_equal(error, "VirtualMachineInstanceMigration: not a JSON "
                        "object");
    free(error);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_VMIM), 0);
    json_decref(garbage);

    char *huge = xmalloc(100001);
    memset(huge, 'x', 100000);
    huge[100000] = '\0';
    bad = json_deep_copy(pod);
    jset(bad, "metadata>name", lb_json_str(huge));
    error = lb_cluster_upsert_json(&cluster, LB_KIND_POD, bad, &changed);
    assert_non_null(strstr(error, "string of 100000 bytes exceeds the limit "
                           "of 253"));
    assert_true(strlen(error) < 200);
    free(error);
    json_decref(bad);
    free(huge);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_POD), 1);

    /* Deletion: only the same incarnation. */
    json_t *old = json_deep_copy(pod);
    jset(old, "metadata>uid", lb_json_str("another-uid"));
    assert_null(lb_cluster_remove_json(&cluster, LB_KIND_POD, old,
                                       &changed));
    assert_false(changed);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_POD), 1);
    json_decref(old);
    assert_null(lb_cluster_remove_json(&cluster, LB_KIND_POD, pod,
                                       &changed));
    assert_true(changed);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_POD), 0);
    assert_null(lb_cluster_remove_json(&cluster, LB_KIND_POD, pod,
                                       &changed));
    assert_false(changed);
    json_t *no_ns = jset(lb_json_obj(), "metadata>name", lb_json_str("x"));
    error = lb_cluster_remove_json(&cluster, LB_KIND_POD, no_ns, &changed);
    assert_string_equal(error, "Pod x: metadata.namespace: missing");
    free(error);
    json_decref(no_ns);

    /* Relist: good items replace the kind, bad ones are skipped. */
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, pod,
                                       &changed));
    json_t *stale = jset(json_deep_copy(pod), "metadata>name",
                        lb_json_str("stale"));
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, stale,
                                       &changed));
    json_decref(stale);
    json_t *items = lb_json_arr();
    json_array_append(items, pod);
    json_array_append_new(items,
                          fixture("kubevirt/12-pod-target-created.json"));
    json_array_append_new(items, lb_json_str("not an object"));
    error = lb_cluster_replace_json(&cluster, LB_KIND_POD, items, &changed);
    assert_string_equal(error, "Pod list: skipped 1 of 3 items; first: Pod: "
                        "not a JSON object");
    free(error);
    assert_true(changed);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_POD), 2);
    assert_null(lb_cluster_find_pod(&cluster, "default", "stale"));
    assert_non_null(lb_cluster_find_pod(&cluster, "default",
                                        "virt-launcher-testvm-fghij"));
    json_array_remove(items, 2);
    assert_null(lb_cluster_replace_json(&cluster, LB_KIND_POD, items,
                                        &changed));
    assert_false(changed);
    error = lb_cluster_replace_json(&cluster, LB_KIND_POD, pod, &changed);
    assert_non_null(error);
    free(error);
    assert_int_equal(lb_cluster_count(&cluster, LB_KIND_POD), 2);
    json_decref(items);

    /* Parsed objects, other kinds, lookups. */
    struct lb_node *node;
    json_t *nj = fixture("kubevirt/17-node.json");
    assert_null(lb_node_from_json(nj, &node));
    assert_true(lb_cluster_upsert_node(&cluster, node));
    assert_null(lb_node_from_json(nj, &node));
    assert_false(lb_cluster_upsert_node(&cluster, node));
    assert_non_null(lb_cluster_find_node(&cluster, "node-b"));
    assert_true(lb_cluster_remove(&cluster, LB_KIND_NODE, NULL, "node-b"));
    assert_false(lb_cluster_remove(&cluster, LB_KIND_NODE, NULL, "node-b"));
    json_decref(nj);

    enum lb_kind kind;
    assert_true(lb_kind_from_string("VirtualMachineInstanceMigration",
                                    &kind));
    assert_int_equal(kind, LB_KIND_VMIM);
    assert_true(lb_kind_from_string("LogicalPort", &kind));
    assert_int_equal(kind, LB_KIND_LOGICAL_PORT);
    assert_false(lb_kind_from_string("Service", &kind));
    assert_false(lb_kind_from_string(NULL, &kind));
    assert_string_equal(lb_kind_to_string(LB_KIND_NODE), "Node");

    json_decref(pod);
    json_decref(pod2);
    lb_cluster_destroy(&cluster);
}

/* Bad input never changes the derived model. */
static void
test_bad_updates_keep_model(void **state OVS_UNUSED)
{
    struct scenario sc;
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");

    struct lb_cluster cluster;
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);

    struct {
        enum lb_kind kind;
        const char *file;
        const char *path;
        json_t *value;
    } bad[] = {
        { LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json", "spec>vmiName",
          lb_json_int(1) },
        { LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json",
          "status>migrationState>completed", lb_json_str("yes") },
        { LB_KIND_VMI, "kubevirt/16-vmi-migrated.json", "status",
          lb_json_arr() },
        { LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json",
          "metadata>annotations", lb_json_str("x") },
        { LB_KIND_LOGICAL_PORT, "livebind/logicalport-testvm.json",
          "spec>ips", json_pack("[s]", "300.1.1.1") },
        { LB_KIND_LOGICAL_SWITCH, "livebind/logicalswitch-pods.json",
          "spec>subnet", lb_json_str("10.16.0.0/33") },
        { LB_KIND_NODE, "kubevirt/17-node.json",
          "metadata>annotations>livebind.io/tunnel-ip",
          lb_json_str("nope") },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *j = jset(fixture(bad[i].file), bad[i].path, bad[i].value);
        bool changed = true;
        char *error = lb_cluster_upsert_json(&cluster, bad[i].kind, j,
                                             &changed);
        assert_non_null(error);
        assert_false(changed);
        free(error);
        json_decref(j);

        struct lb_model model;
        struct ds s = DS_EMPTY_INITIALIZER;
        lb_model_init(&model);
        lb_derive_model(&cluster, &model);
        lb_model_format(&model, &s);
        assert_string_equal(ds_cstr(&s), A_TO_B_BLOCKED);
        ds_destroy(&s);
        lb_model_destroy(&model);
    }
    lb_cluster_destroy(&cluster);
    scenario_destroy(&sc);
}

/* The migration state machine driven by the objects, step by step, and a
 * restarted agent that sees only the end. */
static void
test_migration_states(void **state OVS_UNUSED)
{
    struct lb_cluster cluster;
    struct lb_migration_table table;
    long long int now = 1795251600000LL;
    bool changed;

    lb_cluster_init(&cluster);
    lb_migration_table_init(&table);

    struct scenario sc;
    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    fill(&cluster, &sc, NULL);
    scenario_destroy(&sc);

    struct {
        enum lb_kind kind;
        const char *file;
        enum lb_migration_state state;
    } steps[] = {
        { LB_KIND_VMIM, NULL, LB_MIGRATION_IDLE },
        { LB_KIND_VMIM, "kubevirt/03-vmim-pending.json",
          LB_MIGRATION_PREPARING },
        { LB_KIND_VMIM, "kubevirt/04-vmim-scheduling.json",
          LB_MIGRATION_PREPARING },
        { LB_KIND_POD, "kubevirt/12-pod-target-created.json",
          LB_MIGRATION_MIRRORING },
        { LB_KIND_VMIM, "kubevirt/07-vmim-targetready.json",
          LB_MIGRATION_MIRRORING },
        { LB_KIND_VMI, "kubevirt/15-vmi-migrating.json",
          LB_MIGRATION_MIRRORING },
        { LB_KIND_VMIM, "kubevirt/08-vmim-running.json",
          LB_MIGRATION_MIRRORING },
        { LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json",
          LB_MIGRATION_ACTIVATED },
        { LB_KIND_VMI, "kubevirt/16-vmi-migrated.json",
          LB_MIGRATION_COMPLETED },
        { LB_KIND_VMIM, "kubevirt/09-vmim-succeeded.json",
          LB_MIGRATION_COMPLETED },
        { LB_KIND_POD, "kubevirt/14-pod-source-completed.json",
          LB_MIGRATION_COMPLETED },
    };
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        if (steps[i].file) {
            json_t *j = fixture(steps[i].file);
            assert_null(lb_cluster_upsert_json(&cluster, steps[i].kind, j,
                                               &changed));
            json_decref(j);
        }
        now += 1000;
        lb_derive_migrations(&cluster, &table, now);
        const struct lb_migration_record *rec = lb_migration_table_find(
            &table, "default_testvm");
        enum lb_migration_state s = rec ? rec->state : LB_MIGRATION_IDLE;
        if (s != steps[i].state) {
            fail_msg("step %zu (%s): state %s, expected %s", i,
                     steps[i].file, lb_migration_state_to_string(s),
                     lb_migration_state_to_string(steps[i].state));
        }
    }

    const struct lb_migration_record *rec = lb_migration_table_find(
        &table, "default_testvm");
    assert_string_equal(rec->vmim, "kubevirt-migrate-vm-x7k2p");
    assert_string_equal(rec->source, "node-a");
    assert_string_equal(rec->target, "node-b");
    assert_int_equal(lb_migration_record_latency(rec), 4000);
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_migration_table_format(&table, true, &s);
    if (!strstr(ds_cstr(&s), "mirroring -> activated: activated on node-b "
                "(target pod ready timestamp)")) {
        fail_msg("%s", ds_cstr(&s));
    }
    ds_destroy(&s);

    /* A restarted agent computes the same state from the objects. */
    struct lb_migration_table fresh;
    lb_migration_table_init(&fresh);
    assert_true(lb_derive_migrations(&cluster, &fresh, now));
    assert_false(lb_derive_migrations(&cluster, &fresh, now + 1));
    assert_int_equal(lb_migration_table_find(&fresh, "default_testvm")->state,
                     LB_MIGRATION_COMPLETED);
    lb_migration_table_destroy(&fresh);

    /* Migrating back: a new record. */
    json_t *j = vmim_back("kubevirt/04-vmim-scheduling.json");
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_VMIM, j, &changed));
    json_decref(j);
    j = vmi_back();
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_VMI, j, &changed));
    json_decref(j);
    j = pod_back_target("kubevirt/12-pod-target-created.json");
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, j, &changed));
    json_decref(j);
    lb_derive_migrations(&cluster, &table, now += 1000);
    rec = lb_migration_table_find(&table, "default_testvm");
    assert_string_equal(rec->migration_uid, UID_Y);
    assert_int_equal(rec->state, LB_MIGRATION_MIRRORING);
    assert_string_equal(rec->source, "node-b");
    assert_string_equal(rec->target, "node-a");
    assert_int_equal(table.n_history, 1);

    /* Cancelled by deleting the target pod. */
    j = deleting(pod_back_target("kubevirt/12-pod-target-created.json"));
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_POD, j, &changed));
    json_decref(j);
    lb_derive_migrations(&cluster, &table, now += 1000);
    rec = lb_migration_table_find(&table, "default_testvm");
    assert_int_equal(rec->state, LB_MIGRATION_ROLLED_BACK);

    /* The port goes away. */
    assert_true(lb_cluster_remove(&cluster, LB_KIND_LOGICAL_PORT, "default",
                                  "testvm"));
    assert_true(lb_derive_migrations(&cluster, &table, now += 1000));
    assert_null(lb_migration_table_find(&table, "default_testvm"));
    assert_int_equal(table.n_history, 2);

    lb_migration_table_destroy(&table);
    lb_cluster_destroy(&cluster);
}

static void
test_facts(void **state OVS_UNUSED)
{
    struct scenario sc;
    struct lb_cluster cluster;
    struct lb_migration_facts f;

    base(&sc, "livebind/logicalport-testvm.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/13-pod-target-domain-ready.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);
    scenario_destroy(&sc);

    const struct lb_logical_port *lp = lb_cluster_find_logical_port(
        &cluster, "default", "testvm");
    assert_non_null(lp);
    lb_derive_migration_facts(&cluster, lp, &f);
    assert_string_equal(f.migration_uid, UID_X);
    assert_string_equal(f.vmim, "kubevirt-migrate-vm-x7k2p");
    assert_int_equal(f.phase, LB_VMIM_RUNNING);
    assert_int_equal(f.outcome, LB_OUTCOME_IN_PROGRESS);
    assert_true(f.opted_in);
    assert_string_equal(f.source_node, "node-a");
    assert_string_equal(f.target_node, "node-b");
    assert_string_equal(f.target_pod, "virt-launcher-testvm-fghij");
    assert_false(f.target_pod_gone);
    assert_true(f.activated);
    assert_string_equal(f.activation_cause, "target pod ready timestamp");

    /* Cancelled: the final facts name both ends. */
    json_t *j = fixture("kubevirt/11-vmim-cancelled.json");
    bool changed;
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_VMIM, j, &changed));
    json_decref(j);
    lb_derive_migration_facts(&cluster, lp, &f);
    assert_int_equal(f.outcome, LB_OUTCOME_CANCELLED);
    assert_int_equal(f.phase, LB_VMIM_FAILED);
    assert_string_equal(f.source_node, "node-a");
    assert_string_equal(f.target_node, "node-b");
    assert_false(f.activated);

    lb_cluster_destroy(&cluster);
}

/* The fixture switch and VM port, with the switch made dual-stack (or
 * IPv6-only) and the port's addresses 'ips'. */
static void
base6(struct scenario *sc, bool ipv4, json_t *ips)
{
    base(sc, "livebind/logicalport-testvm-new.json");
    json_t *sw = sc->objs[0].json;
    if (!ipv4) {
        jset(sw, "spec>subnet", NULL);
        jset(sw, "spec>gateway", NULL);
    }
    jset(sw, "spec>ipv6Prefix", lb_json_str("fd00:10:16::/64"));
    jset(sw, "spec>gateway6", lb_json_str("fd00:10:16::1"));
    json_t *lp = sc->objs[sc->n - 1].json;
    jset(lp, "spec>ips", ips);
    if (!ipv4) {
        jset(lp, "spec>tunnelKey", NULL);
        jset(lp, "spec>mac", NULL);
    }
    add_file(sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
}

/* A dual-stack switch: a port listing only its IPv4 address (made before
 * the switch had a prefix) gets prefix + EUI-64 of its MAC, one listing
 * both keeps both; an IPv6-only port's key and MAC come from the host
 * number in its address. */
static void
test_dual_stack_ports(void **state OVS_UNUSED)
{
    struct scenario sc;

    base6(&sc, true, json_pack("[s]", "10.16.0.10"));
    expect(&sc, PORT ",fd00:10:16:0:858:aff:fe10:a chassis=node-a\n");
    base6(&sc, true, json_pack("[s,s]", "10.16.0.10", "fd00:10:16::a"));
    expect(&sc, PORT ",fd00:10:16::a chassis=node-a\n");

    base6(&sc, false, json_pack("[s]", "fd00:10:16::858:ff:fe01:203"));
    expect(&sc, "default_testvm key=16843267 switch=pods "
           "mac=0a:58:00:01:02:03 ips=fd00:10:16:0:858:ff:fe01:203 "
           "chassis=node-a\n");

    /* An address that is no host number of ours, without a key: left
     * out, with a note. */
    base6(&sc, false, json_pack("[s]", "fd00:10:16::5"));
    jset(sc.objs[sc.n - 2].json, "spec>mac",
         lb_json_str("0a:58:00:00:00:05"));
    struct lb_cluster cluster;
    struct lb_model model;
    struct ds notes = DS_EMPTY_INITIALIZER;
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);
    lb_model_init(&model);
    lb_derive_model_explain(&cluster, &model, &notes);
    assert_string_equal(ds_cstr(&notes),
                        "port default_testvm: fd00:10:16::5 is not an "
                        "address IPv6-only switch pods gives out, "
                        "skipped\n");
    assert_int_equal(hmap_count(&model.ports), 0);
    const struct lb_switch *sw = lb_model_find_switch(&model, "pods");
    assert_int_equal(sw->prefix_len, 0);
    assert_true(sw->has_prefix6);
    ds_destroy(&notes);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
    scenario_destroy(&sc);
}

/* A LogicalPort need not be named after its VM: derivation port by port
 * (lb_derive_ports, lb_derive_migration_facts) finds the VM's migrations as
 * full derivation does.  Found by tests/fuzz/fuzz-derive. */
static void
test_port_named_apart_from_vm(void **state OVS_UNUSED)
{
    struct scenario sc;
    struct lb_cluster cluster;

    base(&sc, "livebind/logicalport-testvm-migrating.json");
    jset(sc.objs[sc.n - 1].json, "metadata>name", lb_json_str("web"));
    add_file(&sc, LB_KIND_VMI, "kubevirt/16-vmi-migrated.json");
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);

    struct lb_model kept;
    lb_model_init(&kept);
    lb_derive_model(&cluster, &kept);

    json_t *j = fixture("kubevirt/09-vmim-succeeded.json");
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_VMIM, j, NULL));
    json_decref(j);
    struct sset ports = SSET_INITIALIZER(&ports);
    sset_add(&ports, "default_web");
    assert_true(lb_derive_ports(&cluster, &ports, &kept));
    sset_destroy(&ports);

    struct lb_model fresh;
    lb_model_init(&fresh);
    lb_derive_model(&cluster, &fresh);
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
    lb_model_format(&fresh, &a);
    lb_model_format(&kept, &b);
    assert_string_equal(ds_cstr(&b), ds_cstr(&a));
    assert_non_null(strstr(ds_cstr(&a), "default_web "));
    assert_non_null(strstr(ds_cstr(&a), "chassis=node-b"));

    struct lb_migration_facts f;
    const struct lb_logical_port *lp = lb_cluster_find_logical_port(
        &cluster, "default", "web");
    lb_derive_migration_facts(&cluster, lp, &f);
    assert_string_equal(f.migration_uid, UID_X);
    assert_string_equal(f.vmim, "kubevirt-migrate-vm-x7k2p");
    assert_int_equal(f.outcome, LB_OUTCOME_SUCCEEDED);

    ds_destroy(&a);
    ds_destroy(&b);
    lb_model_destroy(&fresh);
    lb_model_destroy(&kept);
    lb_cluster_destroy(&cluster);
    scenario_destroy(&sc);
}

/* Adds to 'ports' the ports pod 'name' plugs into. */
static void
pod_ports(const struct lb_cluster *cluster, const char *name,
          struct sset *ports)
{
    const struct lb_pod *pod = lb_cluster_find_pod(cluster, "default", name);
    for (size_t i = 0; pod && i < lb_pod_n_port_names(pod); i++) {
        sset_add(ports, lb_pod_port_name_at(pod, i));
    }
}

static void
index_step(struct lb_cluster *cluster, struct lb_model *kept, json_t *pod,
           const char *delete_name, const char *expected)
{
    struct sset dirty = SSET_INITIALIZER(&dirty);
    char *name = xstrdup(pod ? json_string_value(json_object_get(
                                 json_object_get(pod, "metadata"), "name"))
                         : delete_name);
    pod_ports(cluster, name, &dirty);
    if (pod) {
        assert_null(lb_cluster_upsert_json(cluster, LB_KIND_POD, pod, NULL));
        json_decref(pod);
    } else {
        assert_true(lb_cluster_remove(cluster, LB_KIND_POD, "default",
                                      delete_name));
    }
    pod_ports(cluster, name, &dirty);
    assert_true(lb_derive_ports(cluster, &dirty, kept));

    struct lb_model fresh;
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
    lb_model_init(&fresh);
    lb_derive_model(cluster, &fresh);
    lb_model_format(&fresh, &a);
    lb_model_format(kept, &b);
    assert_string_equal(ds_cstr(&b), ds_cstr(&a));
    assert_string_equal(ds_cstr(&a), expected);

    /* The migration facts, port by port, as from a full pass. */
    struct lb_migration_table t1, t2;
    lb_migration_table_init(&t1);
    lb_migration_table_init(&t2);
    lb_derive_migrations(cluster, &t1, 0);
    struct sset all = SSET_INITIALIZER(&all);
    sset_add(&all, "default_testvm");
    sset_add(&all, "default_othervm");
    lb_derive_migrations_of(cluster, &all, &t2, 0);
    sset_destroy(&all);
    struct ds f1 = DS_EMPTY_INITIALIZER, f2 = DS_EMPTY_INITIALIZER;
    lb_migration_table_format(&t1, true, &f1);
    lb_migration_table_format(&t2, true, &f2);
    assert_string_equal(ds_cstr(&f2), ds_cstr(&f1));
    ds_destroy(&f1);
    ds_destroy(&f2);
    lb_migration_table_destroy(&t1);
    lb_migration_table_destroy(&t2);

    ds_destroy(&a);
    ds_destroy(&b);
    lb_model_destroy(&fresh);
    sset_destroy(&dirty);
    free(name);
}

/* The cache's indexes (pods by port, VMIMs and LogicalPorts by VM) follow
 * every change of a pod: added, relabelled, given another owner, removed.
 * After each, deriving only the ports the pod named before and after, as
 * the agent does, gives what a full derivation gives, and nothing is left
 * indexed once the objects are gone. */
static void
test_index_follows_pods(void **state OVS_UNUSED)
{
#define OTHER "default_othervm key=16777236 switch=pods " \
    "mac=0a:58:0a:10:00:14 ips=10.16.0.20"
    struct scenario sc;
    struct lb_cluster cluster;

    base(&sc, "livebind/logicalport-testvm-new.json");
    json_t *lp = fixture("livebind/logicalport-testvm-new.json");
    jset(lp, "metadata>name", lb_json_str("othervm"));
    jset(lp, "spec>vm", lb_json_str("othervm"));
    jset(lp, "spec>tunnelKey", NULL);
    jset(lp, "spec>mac", NULL);
    jset(lp, "spec>ips", json_pack("[s]", "10.16.0.20"));
    add(&sc, LB_KIND_LOGICAL_PORT, lp);
    add_file(&sc, LB_KIND_VMI, "kubevirt/01-vmi-running.json");
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);

    struct sset names = SSET_INITIALIZER(&names);
    lb_cluster_vm_port_names(&cluster, "default", "othervm", &names);
    assert_int_equal(sset_count(&names), 1);
    assert_true(sset_contains(&names, "default_othervm"));
    sset_destroy(&names);

    struct lb_model kept;
    lb_model_init(&kept);
    lb_derive_model(&cluster, &kept);

    /* Added: the VM's source pod, then a newer pod on node-b that is the
     * target of a migration with no VMIM (ignored: the VMI runs on
     * node-a). */
    index_step(&cluster, &kept, fixture("kubevirt/02-pod-source.json"),
               NULL, OTHER " chassis=(unbound)\n" ON_A);
    index_step(&cluster, &kept,
               fixture("kubevirt/12-pod-target-created.json"), NULL,
               OTHER " chassis=(unbound)\n" ON_A);

    /* Relabelled: no longer a migration target, so the newest settled
     * pod. */
    json_t *pod = fixture("kubevirt/12-pod-target-created.json");
    jset(pod, "metadata>labels>kubevirt.io/migrationJobUID", NULL);
    index_step(&cluster, &kept, json_incref(pod), NULL,
               OTHER " chassis=(unbound)\n" ON_B);

    /* Owner changed: the pod now plugs into the other VM's port only. */
    jset(pod, "metadata>ownerReferences", json_pack(
             "[{s:s, s:s, s:s, s:b}]", "kind", "VirtualMachineInstance",
             "name", "othervm", "uid", "0ddba11-0000-4000-8000-000000000002",
             "controller", true));
    index_step(&cluster, &kept, pod, NULL,
               OTHER " chassis=node-b\n" ON_A);

    /* Removed, one after the other. */
    index_step(&cluster, &kept, NULL, "virt-launcher-testvm-fghij",
               OTHER " chassis=(unbound)\n" ON_A);
    index_step(&cluster, &kept, NULL, "virt-launcher-testvm-abcde",
               OTHER " chassis=(unbound)\n" UNBOUND);
    assert_int_equal(shash_count(&cluster.pods_by_port), 0);

    /* VMIMs and LogicalPorts are indexed by VM, and leave with them. */
    json_t *j = fixture("kubevirt/08-vmim-running.json");
    assert_null(lb_cluster_upsert_json(&cluster, LB_KIND_VMIM, j, NULL));
    json_decref(j);
    assert_int_equal(shash_count(&cluster.vmims_by_vm), 1);
    assert_int_equal(shash_count(&cluster.ports_by_vm), 2);
    lb_cluster_clear(&cluster);
    assert_int_equal(shash_count(&cluster.vmims_by_vm), 0);
    assert_int_equal(shash_count(&cluster.ports_by_vm), 0);

    lb_model_destroy(&kept);
    lb_cluster_destroy(&cluster);
    scenario_destroy(&sc);
#undef OTHER
}

/* Two VMIMs claiming one UID, in two namespaces or for two VMs: the port's
 * own VM's counts, whatever the order of insertion and whether derived
 * port by port.  Found by tests/fuzz/fuzz-derive (the choice between them
 * depended on the order, or on which VMIMs were indexed). */
static void
test_vmim_uid_in_two_namespaces(void **state OVS_UNUSED)
{
    struct scenario sc;

    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    char *without = derive_string(&sc, NULL, true);

    json_t *elsewhere = fixture("kubevirt/09-vmim-succeeded.json");
    jset(elsewhere, "metadata>namespace", lb_json_str("other"));
    add(&sc, LB_KIND_VMIM, elsewhere);

    struct lb_cluster cluster;
    struct lb_migration_facts f;
    lb_cluster_init(&cluster);
    fill(&cluster, &sc, NULL);
    lb_derive_migration_facts(&cluster, lb_cluster_find_logical_port(
                                  &cluster, "default", "testvm"), &f);
    assert_int_equal(f.phase, LB_VMIM_RUNNING);
    assert_int_equal(f.outcome, LB_OUTCOME_IN_PROGRESS);
    lb_cluster_destroy(&cluster);

    expect(&sc, without);

    /* And one of another VM of the same namespace, named to sort after the
     * port's own. */
    base(&sc, "livebind/logicalport-testvm-migrating.json");
    add_file(&sc, LB_KIND_VMI, "kubevirt/15-vmi-migrating.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/02-pod-source.json");
    add_file(&sc, LB_KIND_POD, "kubevirt/12-pod-target-created.json");
    add_file(&sc, LB_KIND_VMIM, "kubevirt/08-vmim-running.json");
    json_t *other_vm = fixture("kubevirt/09-vmim-succeeded.json");
    jset(other_vm, "metadata>name", lb_json_str("zzz-other"));
    jset(other_vm, "spec>vmiName", lb_json_str("othervm"));
    add(&sc, LB_KIND_VMIM, other_vm);
    expect(&sc, without);
    free(without);
}

int
main(void)
{
    srandom(42);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_only),
        cmocka_unit_test(test_provider_switch),
        cmocka_unit_test(test_hostile_pods),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_succeeded),
        cmocka_unit_test(test_failed_and_cancelled),
        cmocka_unit_test(test_not_opted_in),
        cmocka_unit_test(test_status_only),
        cmocka_unit_test(test_migration_back),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_dual_stack_ports),
        cmocka_unit_test(test_history_independence),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_bad_updates_keep_model),
        cmocka_unit_test(test_migration_states),
        cmocka_unit_test(test_facts),
        cmocka_unit_test(test_port_named_apart_from_vm),
        cmocka_unit_test(test_vmim_uid_in_two_namespaces),
        cmocka_unit_test(test_index_follows_pods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
