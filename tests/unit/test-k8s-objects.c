/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "k8s-objects.h"
#include "ipam.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/util.h"
#include "util.h"

#define UID_X "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"

#include "lb-json.h"
#include "test-fixtures.h"


static ovs_be32
ip(const char *s)
{
    ovs_be32 addr;
    assert_true(ip_parse(s, &addr));
    return addr;
}


static void
del_path(json_t *root, const char *path)
{
    char *copy = xstrdup(path);
    char *last = strrchr(copy, '>');
    json_t *obj = root;
    if (last) {
        *last = '\0';
        char *save = NULL;
        for (char *key = strtok_r(copy, ">", &save); key && obj;
             key = strtok_r(NULL, ">", &save)) {
            obj = json_object_get(obj, key);
        }
        json_object_del(obj, last + 1);
    } else {
        json_object_del(obj, copy);
    }
    free(copy);
}

/* Pods. */

static void
test_pod_source(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");
    struct lb_pod *pod = NULL;
    assert_null(lb_pod_from_json(j, &pod));

    assert_string_equal(pod->ns, "default");
    assert_string_equal(pod->name, "virt-launcher-testvm-abcde");
    assert_string_equal(pod->uid, "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
    assert_string_equal(pod->resource_version, "4050");
    assert_string_equal(pod->creation_timestamp, "2026-11-20T10:00:01Z");
    assert_string_equal(pod->node_name, "node-a");
    assert_string_equal(pod->phase, "Running");
    assert_false(pod->deleting);
    assert_false(pod->host_network);
    assert_null(pod->migration_job_uid);
    assert_string_equal(pod->vm_name_label, "testvm");
    assert_true(pod->virt_launcher);
    assert_string_equal(pod->created_by,
                        "5a1c4b0e-7d2f-4f7e-9a53-1c2d3e4f5a6b");
    assert_string_equal(pod->domain, "testvm");
    assert_null(pod->migration_job_name);
    assert_null(pod->target_ready_timestamp);
    assert_true(pod->allow_live_migration);
    assert_string_equal(pod->owner_kind, "VirtualMachineInstance");
    assert_string_equal(pod->owner_name, "testvm");
    assert_string_equal(pod->owner_uid,
                        "5a1c4b0e-7d2f-4f7e-9a53-1c2d3e4f5a6b");

    assert_string_equal(lb_pod_vm_name(pod), "testvm");
    assert_false(lb_pod_is_migration_target(pod));
    assert_string_equal(lb_pod_logical_port_name(pod), "default_testvm");
    assert_false(lb_pod_is_finished(pod));

    /* A change only to resourceVersion is not a change. */
    json_t *j2 = json_deep_copy(j);
    jset(j2, "metadata>resourceVersion", lb_json_str("9999"));
    jset(j2, "status>conditions", lb_json_arr());
    struct lb_pod *pod2;
    assert_null(lb_pod_from_json(j2, &pod2));
    assert_true(lb_pod_equal(pod, pod2));
    lb_pod_destroy(pod2);

    jset(j2, "metadata>deletionTimestamp",
             lb_json_str("2026-11-21T10:00:00Z"));
    assert_null(lb_pod_from_json(j2, &pod2));
    assert_true(pod2->deleting);
    assert_false(lb_pod_equal(pod, pod2));
    lb_pod_destroy(pod2);

    json_decref(j2);
    json_decref(j);
    lb_pod_destroy(pod);
    lb_pod_destroy(NULL);
}

static void
test_pod_target(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/12-pod-target-created.json");
    struct lb_pod *pod;
    assert_null(lb_pod_from_json(j, &pod));
    assert_string_equal(pod->node_name, "node-b");
    assert_string_equal(pod->phase, "Pending");
    assert_string_equal(pod->migration_job_uid, UID_X);
    assert_string_equal(pod->migration_job_name,
                        "kubevirt-migrate-vm-x7k2p");
    assert_null(pod->target_ready_timestamp);
    assert_true(lb_pod_is_migration_target(pod));
    assert_string_equal(lb_pod_logical_port_name(pod), "default_testvm");
    lb_pod_destroy(pod);
    json_decref(j);

    j = fixture("kubevirt/13-pod-target-domain-ready.json");
    assert_null(lb_pod_from_json(j, &pod));
    assert_string_equal(pod->target_ready_timestamp, "2026-11-21T09:00:11Z");
    assert_string_equal(pod->phase, "Running");
    lb_pod_destroy(pod);
    json_decref(j);

    j = fixture("kubevirt/14-pod-source-completed.json");
    assert_null(lb_pod_from_json(j, &pod));
    assert_true(lb_pod_is_finished(pod));
    lb_pod_destroy(pod);
    json_decref(j);
}

static char *
port_name_of(json_t *j)
{
    struct lb_pod *pod;
    char *error = lb_pod_from_json(j, &pod);
    if (error) {
        fail_msg("%s", error);
    }
    char *name = nullable_xstrdup(lb_pod_logical_port_name(pod));
    lb_pod_destroy(pod);
    return name;
}

static void
assert_port_name(json_t *j, const char *expected)
{
    char *name = port_name_of(j);
    if (expected) {
        assert_non_null(name);
        assert_string_equal(name, expected);
    } else {
        assert_null(name);
    }
    free(name);
}

static void
test_pod_port_names(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");

    /* The VM name comes from the controller reference alone: KubeVirt's
     * labels and annotations are any pod's to set. */
    assert_port_name(j, "default_testvm");
    json_t *vm = json_deep_copy(j);
    json_array_clear(json_object_get(json_object_get(vm, "metadata"),
                                     "ownerReferences"));
    assert_port_name(vm, "default_virt-launcher-testvm-abcde");
    jset(vm, "metadata>labels>vm.kubevirt.io/name", lb_json_str("lbl"));
    jset(vm, "metadata>annotations>kubevirt.io/domain",
             lb_json_str("dom"));
    assert_port_name(vm, "default_virt-launcher-testvm-abcde");
    json_decref(vm);

    /* A controller that is not a VMI does not make a VM pod. */
    json_t *plain = json_deep_copy(j);
    json_t *ref = json_array_get(json_object_get(json_object_get(
                                     plain, "metadata"), "ownerReferences"),
                                 0);
    json_object_set_new(ref, "kind", lb_json_str("ReplicaSet"));
    assert_port_name(plain, "default_virt-launcher-testvm-abcde");

    /* The livebind.io/logical-port annotation is the agent's output: it
     * names no port, in the pod's namespace or another. */
    const char *const annotations[] = {
        "web", "default_web2", "default_testvm", "testvm",
        "kube-system_coredns", "default_",
    };
    for (size_t i = 0; i < ARRAY_SIZE(annotations); i++) {
        jset(plain, "metadata>annotations>livebind.io/logical-port",
             lb_json_str(annotations[i]));
        assert_port_name(plain, "default_virt-launcher-testvm-abcde");
    }

    /* Host-network pods have no port. */
    jset(plain, "spec>hostNetwork", json_true());
    assert_port_name(plain, NULL);
    json_decref(plain);

    /* Not "virt-launcher" in the kubevirt.io label. */
    json_t *other = json_deep_copy(j);
    jset(other, "metadata>labels>kubevirt.io", lb_json_str("handler"));
    struct lb_pod *pod;
    assert_null(lb_pod_from_json(other, &pod));
    assert_false(pod->virt_launcher);
    lb_pod_destroy(pod);
    json_decref(other);

    json_decref(j);
}

/* Parses 'j' as 'kind' expecting an error that contains 'needle'. */
enum kind { POD, NODE, VMI, VMIM, SWITCH, PORT };

static void
expect_error(enum kind kind, const json_t *j, const char *needle)
{
    void *const sentinel = (void *) 0x1;
    void *obj = sentinel;
    char *error = NULL;

    switch (kind) {
    case POD:
        error = lb_pod_from_json(j, (struct lb_pod **) &obj);
        break;
    case NODE:
        error = lb_node_from_json(j, (struct lb_node **) &obj);
        break;
    case VMI:
        error = lb_vmi_from_json(j, (struct lb_vmi **) &obj);
        break;
    case VMIM:
        error = lb_vmim_from_json(j, (struct lb_vmim **) &obj);
        break;
    case SWITCH:
        error = lb_logical_switch_from_json(
            j, (struct lb_logical_switch **) &obj);
        break;
    case PORT:
        error = lb_logical_port_from_json(j,
                                          (struct lb_logical_port **) &obj);
        break;
    }
    if (!error) {
        fail_msg("expected an error containing \"%s\"", needle);
    }
    if (!strstr(error, needle)) {
        fail_msg("error \"%s\" lacks \"%s\"", error, needle);
    }
    assert_true(obj == sentinel);
    free(error);
}

/* Copies 'j', sets 'path' to 'value', expects an error with 'needle'. */
static void
expect_error_with(enum kind kind, const json_t *j, const char *path,
                  json_t *value, const char *needle)
{
    json_t *copy = json_deep_copy(j);
    if (value) {
        jset(copy, path, value);
    } else {
        del_path(copy, path);
    }
    expect_error(kind, copy, needle);
    json_decref(copy);
}

static char *
long_string(size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    return s;
}

static void
test_pod_errors(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");
    char *s254 = long_string(254);
    char *s64 = long_string(64);
    char *s64k = long_string(64 * 1024 + 1);

    json_t *array = lb_json_arr();
    expect_error(POD, array, "Pod: not a JSON object");
    json_decref(array);

    expect_error_with(POD, j, "metadata>name", NULL,
                      "Pod: metadata.name: missing");
    expect_error_with(POD, j, "metadata>name", lb_json_int(3),
                      "Pod: metadata.name: must be a string");
    expect_error_with(POD, j, "metadata>name", lb_json_str(""),
                      "metadata.name: empty");
    expect_error_with(POD, j, "metadata>name", lb_json_str(s254),
                      "Pod: metadata.name: string of 254 bytes exceeds the "
                      "limit of 253");
    expect_error_with(POD, j, "metadata>namespace", lb_json_str(s64),
                      "metadata.namespace: string of 64 bytes");
    expect_error_with(POD, j, "metadata>namespace", NULL,
                      "metadata.namespace: missing");
    expect_error_with(POD, j, "metadata", lb_json_str("x"),
                      "metadata: must be an object");
    expect_error_with(POD, j, "metadata>uid", NULL,
                      "Pod default/virt-launcher-testvm-abcde: "
                      "metadata.uid: missing");
    expect_error_with(POD, j, "metadata>labels", lb_json_arr(),
                      "metadata.labels: must be an object");
    expect_error_with(POD, j, "metadata>labels>vm.kubevirt.io/name",
                      lb_json_int(1),
                      "metadata.labels[\"vm.kubevirt.io/name\"]: must be a "
                      "string");
    expect_error_with(POD, j, "metadata>labels>kubevirt.io/migrationJobUID",
                      lb_json_str(s64), "string of 64 bytes exceeds the "
                      "limit of 63");
    expect_error_with(POD, j,
                      "metadata>annotations>kubevirt.io/allow-pod-bridge-"
                      "network-live-migration", lb_json_str(s64k),
                      "exceeds the limit of 65536");
    expect_error_with(POD, j,
                      "metadata>annotations>kubevirt.io/allow-pod-bridge-"
                      "network-live-migration", json_true(),
                      "must be a string");
    expect_error_with(POD, j, "metadata>namespace", lb_json_str("a_b"),
                      "metadata.namespace: \"a_b\" is not a namespace name");
    expect_error_with(POD, j, "metadata>ownerReferences", lb_json_obj(),
                      "metadata.ownerReferences: must be an array");
    expect_error_with(POD, j, "spec>hostNetwork", lb_json_str("true"),
                      "spec.hostNetwork: must be true or false");
    expect_error_with(POD, j, "spec>nodeName", lb_json_str(s254),
                      "spec.nodeName: string of 254 bytes");
    expect_error_with(POD, j, "status", lb_json_int(7),
                      "status: must be an object");
    expect_error_with(POD, j, "metadata>deletionTimestamp", lb_json_int(7),
                      "metadata.deletionTimestamp: must be a string");
    expect_error_with(POD, j, "spec>nodeName",
                      json_stringn("node\0a", 6), "contains a NUL byte");

    json_t *bad = json_deep_copy(j);
    json_t *refs = json_object_get(json_object_get(bad, "metadata"),
                                   "ownerReferences");
    json_array_append_new(refs, lb_json_str("x"));
    expect_error(POD, bad, "metadata.ownerReferences.1: must be an object");
    json_object_set_new(json_array_get(refs, 0), "controller",
                        lb_json_str("yes"));
    expect_error(POD, bad, "ownerReferences.0.controller: must be true or "
                 "false");
    json_object_set_new(json_array_get(refs, 0), "controller", json_true());
    json_object_set_new(json_array_get(refs, 0), "name", lb_json_str(s254));
    expect_error(POD, bad, "ownerReferences.0.name: must be a string");
    json_decref(bad);

    /* Null is the same as absent. */
    json_t *nulls = json_deep_copy(j);
    jset(nulls, "spec>nodeName", json_null());
    jset(nulls, "metadata>labels", json_null());
    jset(nulls, "status", json_null());
    struct lb_pod *pod;
    assert_null(lb_pod_from_json(nulls, &pod));
    assert_null(pod->node_name);
    assert_null(pod->phase);
    assert_null(pod->vm_name_label);
    lb_pod_destroy(pod);
    json_decref(nulls);

    free(s254);
    free(s64);
    free(s64k);
    json_decref(j);
}

/* Two controller ownerReferences, the first without a kind: the first
 * counts, and nothing of the second leaks (the unit run detects leaks). */
static void
test_pod_two_controllers(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");
    json_t *refs = json_object_get(json_object_get(j, "metadata"),
                                   "ownerReferences");
    json_t *first = json_array_get(refs, 0);
    json_t *second = json_deep_copy(first);

    json_object_del(first, "kind");
    json_object_set_new(second, "kind", lb_json_str("ReplicaSet"));
    json_object_set_new(second, "name", lb_json_str("other"));
    json_object_set_new(second, "uid", lb_json_str("uid-2"));
    json_array_append_new(refs, second);

    struct lb_pod *pod;
    assert_null(lb_pod_from_json(j, &pod));
    assert_null(pod->owner_kind);
    assert_string_equal(pod->owner_name, "testvm");
    assert_string_equal(pod->owner_uid,
                        "5a1c4b0e-7d2f-4f7e-9a53-1c2d3e4f5a6b");
    lb_pod_destroy(pod);
    json_decref(j);
}

/* Nodes. */

static void
test_node(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/17-node.json");
    struct lb_node *node, *node2;

    assert_null(lb_node_from_json(j, &node));
    assert_string_equal(node->name, "node-b");
    assert_int_equal(node->tunnel_ip, ip("192.168.50.12"));

    /* The annotation overrides the InternalIP. */
    json_t *j2 = json_deep_copy(j);
    jset(j2, "metadata>annotations>livebind.io/tunnel-ip",
             lb_json_str("172.31.0.2"));
    assert_null(lb_node_from_json(j2, &node2));
    assert_int_equal(node2->tunnel_ip, ip("172.31.0.2"));
    assert_false(lb_node_equal(node, node2));
    lb_node_destroy(node2);
    expect_error_with(NODE, j2, "metadata>annotations>livebind.io/tunnel-ip",
                      lb_json_str("fe80::1"),
                      "[\"livebind.io/tunnel-ip\"]: \"fe80::1\" is not an "
                      "IPv4 address");
    json_decref(j2);

    /* IPv6 InternalIPs are no tunnel IP, but the egress gateway's next
     * hop (egress-gateway.h), so a change; no address means no tunnel
     * IP. */
    assert_int_equal(node->ip4, ip("192.168.50.12"));
    assert_false(node->has_ip6);
    assert_true(node->ready);
    j2 = json_deep_copy(j);
    json_t *addrs = json_object_get(json_object_get(j2, "status"),
                                    "addresses");
    json_t *v6 = json_pack("{s:s, s:s}", "type", "InternalIP",
                           "address", "fd00::12");
    json_array_insert_new(addrs, 0, v6);
    assert_null(lb_node_from_json(j2, &node2));
    assert_int_equal(node2->tunnel_ip, ip("192.168.50.12"));
    assert_int_equal(node2->ip4, ip("192.168.50.12"));
    assert_true(node2->has_ip6);
    assert_false(lb_node_equal(node, node2));
    lb_node_destroy(node2);
    del_path(j2, "status>addresses");
    assert_null(lb_node_from_json(j2, &node2));
    assert_int_equal(node2->tunnel_ip, 0);
    lb_node_destroy(node2);

    expect_error_with(NODE, j2, "status>addresses", lb_json_str("x"),
                      "status.addresses: must be an array");
    jset(j2, "status>addresses", json_pack("[{s:i}]", "type", 1));
    expect_error(NODE, j2, "status.addresses.0: \"type\" and \"address\" "
                 "must be strings");
    json_decref(j2);

    lb_node_destroy(node);
    lb_node_destroy(NULL);
    json_decref(j);
}

/* VMIs. */

static void
test_vmi(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/01-vmi-running.json");
    struct lb_vmi *vmi;

    assert_null(lb_vmi_from_json(j, &vmi));
    assert_string_equal(vmi->ns, "default");
    assert_string_equal(vmi->name, "testvm");
    assert_string_equal(vmi->uid, "5a1c4b0e-7d2f-4f7e-9a53-1c2d3e4f5a6b");
    assert_string_equal(vmi->node_name, "node-a");
    assert_true(vmi->allow_live_migration);
    assert_null(vmi->migration_state);
    lb_vmi_destroy(vmi);
    json_decref(j);

    j = fixture("kubevirt/15-vmi-migrating.json");
    assert_null(lb_vmi_from_json(j, &vmi));
    const struct lb_kv_migration_state *ms = vmi->migration_state;
    assert_non_null(ms);
    assert_string_equal(ms->migration_uid, UID_X);
    assert_string_equal(ms->source_node, "node-a");
    assert_string_equal(ms->target_node, "node-b");
    assert_string_equal(ms->source_pod, "virt-launcher-testvm-abcde");
    assert_string_equal(ms->target_pod, "virt-launcher-testvm-fghij");
    assert_null(ms->target_node_domain_ready_timestamp);
    assert_false(ms->completed);
    assert_false(ms->failed);
    assert_string_equal(ms->mode, "PreCopy");
    lb_vmi_destroy(vmi);

    expect_error_with(VMI, j, "status>migrationState", lb_json_str("x"),
                      "status.migrationState: must be an object");
    expect_error_with(VMI, j, "status>migrationState>completed",
                      lb_json_str("true"),
                      "status.migrationState.completed: must be true or "
                      "false");
    expect_error_with(VMI, j, "status>migrationState>migrationUid",
                      lb_json_int(5),
                      "status.migrationState.migrationUid: must be a "
                      "string");
    json_decref(j);

    j = fixture("kubevirt/16-vmi-migrated.json");
    assert_null(lb_vmi_from_json(j, &vmi));
    assert_string_equal(vmi->node_name, "node-b");
    ms = vmi->migration_state;
    assert_true(ms->completed);
    assert_false(ms->failed);
    assert_string_equal(ms->target_node_domain_ready_timestamp,
                        "2026-11-21T09:00:11Z");

    /* Opt-in needs "true". */
    jset(j, "metadata>annotations>kubevirt.io/allow-pod-bridge-network-"
             "live-migration", lb_json_str("false"));
    struct lb_vmi *vmi2;
    assert_null(lb_vmi_from_json(j, &vmi2));
    assert_false(vmi2->allow_live_migration);
    assert_false(lb_vmi_equal(vmi, vmi2));
    lb_vmi_destroy(vmi2);
    lb_vmi_destroy(vmi);
    lb_vmi_destroy(NULL);
    json_decref(j);
}

/* VMIMs. */

static void
test_vmim_phases(void **state OVS_UNUSED)
{
    static const struct {
        const char *file;
        enum lb_vmim_phase phase;
        bool has_ms;
        bool deleting;
    } cases[] = {
        { "kubevirt/03-vmim-pending.json", LB_VMIM_PENDING, false, false },
        { "kubevirt/04-vmim-scheduling.json", LB_VMIM_SCHEDULING, true,
          false },
        { "kubevirt/05-vmim-scheduled.json", LB_VMIM_SCHEDULED, true,
          false },
        { "kubevirt/06-vmim-preparingtarget.json", LB_VMIM_PREPARING_TARGET,
          true, false },
        { "kubevirt/07-vmim-targetready.json", LB_VMIM_TARGET_READY, true,
          false },
        { "kubevirt/08-vmim-running.json", LB_VMIM_RUNNING, true, false },
        { "kubevirt/09-vmim-succeeded.json", LB_VMIM_SUCCEEDED, true,
          false },
        { "kubevirt/10-vmim-failed.json", LB_VMIM_FAILED, true, false },
        { "kubevirt/11-vmim-cancelled.json", LB_VMIM_FAILED, true, true },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *j = fixture(cases[i].file);
        struct lb_vmim *vmim;
        assert_null(lb_vmim_from_json(j, &vmim));
        assert_string_equal(vmim->ns, "default");
        assert_string_equal(vmim->name, "kubevirt-migrate-vm-x7k2p");
        assert_string_equal(vmim->uid, UID_X);
        assert_string_equal(vmim->vmi_name, "testvm");
        assert_string_equal(vmim->creation_timestamp,
                            "2026-11-21T09:00:00Z");
        assert_int_equal(vmim->phase, cases[i].phase);
        assert_int_equal(!!vmim->migration_state, cases[i].has_ms);
        assert_int_equal(vmim->deleting, cases[i].deleting);
        assert_int_equal(lb_vmim_phase_is_final(vmim->phase),
                         vmim->phase == LB_VMIM_SUCCEEDED
                         || vmim->phase == LB_VMIM_FAILED);
        if (vmim->migration_state) {
            assert_string_equal(vmim->migration_state->migration_uid, UID_X);
            assert_string_equal(vmim->migration_state->source_node,
                                "node-a");
        }
        lb_vmim_destroy(vmim);
        json_decref(j);
    }

    json_t *j = fixture("kubevirt/11-vmim-cancelled.json");
    struct lb_vmim *vmim;
    assert_null(lb_vmim_from_json(j, &vmim));
    assert_true(vmim->migration_state->abort_requested);
    assert_string_equal(vmim->migration_state->abort_status, "Succeeded");
    assert_true(lb_vmim_abort_succeeded(vmim));
    assert_true(vmim->migration_state->failed);
    lb_vmim_destroy(vmim);

    /* Unknown phases are not errors. */
    jset(j, "status>phase", lb_json_str("WaitingForSync"));
    assert_null(lb_vmim_from_json(j, &vmim));
    assert_int_equal(vmim->phase, LB_VMIM_UNKNOWN);
    assert_false(lb_vmim_phase_is_final(vmim->phase));
    lb_vmim_destroy(vmim);
    jset(j, "status>phase", lb_json_str(""));
    assert_null(lb_vmim_from_json(j, &vmim));
    assert_int_equal(vmim->phase, LB_VMIM_NONE);
    lb_vmim_destroy(vmim);
    del_path(j, "status");
    assert_null(lb_vmim_from_json(j, &vmim));
    assert_int_equal(vmim->phase, LB_VMIM_NONE);
    assert_null(vmim->migration_state);
    lb_vmim_destroy(vmim);

    expect_error_with(VMIM, j, "spec>vmiName", NULL,
                      "VirtualMachineInstanceMigration default/kubevirt-"
                      "migrate-vm-x7k2p: spec.vmiName: missing");
    expect_error_with(VMIM, j, "status>phase", lb_json_int(3),
                      "status.phase: must be a string");
    json_decref(j);

    assert_string_equal(lb_vmim_phase_to_string(LB_VMIM_PREPARING_TARGET),
                        "PreparingTarget");
    assert_int_equal(lb_vmim_phase_from_string("TargetReady"),
                     LB_VMIM_TARGET_READY);
    assert_int_equal(lb_vmim_phase_from_string(NULL), LB_VMIM_NONE);
    lb_vmim_destroy(NULL);
}

/* livebind objects. */

static void
test_logical_switch(void **state OVS_UNUSED)
{
    json_t *j = fixture("livebind/logicalswitch-pods.json");
    struct lb_logical_switch *sw;

    assert_null(lb_logical_switch_from_json(j, &sw));
    assert_string_equal(sw->name, "pods");
    assert_int_equal(sw->tunnel_key, 1);
    assert_int_equal(sw->subnet, ip("10.16.0.0"));
    assert_int_equal(sw->prefix_len, 16);
    assert_int_equal(sw->gateway, ip("10.16.0.1"));
    assert_int_equal(sw->mtu, 1400);
    lb_logical_switch_destroy(sw);
    lb_logical_switch_destroy(NULL);

    expect_error_with(SWITCH, j, "spec>tunnelKey", NULL,
                      "LogicalSwitch pods: spec.tunnelKey: missing");
    expect_error_with(SWITCH, j, "spec>tunnelKey", lb_json_int(0),
                      "spec.tunnelKey: must be an integer in [1, 127]");
    expect_error_with(SWITCH, j, "spec>tunnelKey", lb_json_int(128),
                      "[1, 127]");
    expect_error_with(SWITCH, j, "spec>tunnelKey", lb_json_str("1"),
                      "[1, 127]");
    expect_error_with(SWITCH, j, "spec>mtu", lb_json_int(100000),
                      "spec.mtu: must be an integer in [576, 9000]");
    expect_error_with(SWITCH, j, "spec>subnet", NULL,
                      "spec: needs \"subnet\", \"ipv6Prefix\" or both");
    expect_error_with(SWITCH, j, "spec>subnet", lb_json_str("10.16.0.0"),
                      "spec.subnet: subnet \"10.16.0.0\": prefix length "
                      "required");
    expect_error_with(SWITCH, j, "spec>subnet", lb_json_str("10.16.0.1/16"),
                      "host bits");
    expect_error_with(SWITCH, j, "spec>subnet", lb_json_str("10.16.0.0/31"),
                      "outside [8, 30]");
    expect_error_with(SWITCH, j, "spec>gateway", lb_json_str("10.17.0.1"),
                      "spec.gateway: gateway \"10.17.0.1\" is not a host "
                      "address in 10.16.0.0/16");

    /* The gateway is optional: an overlay switch's is then the subnet's
     * first address (the distributed gateway, pipeline-gateway.c). */
    json_t *j2 = json_deep_copy(j);
    del_path(j2, "spec>gateway");
    del_path(j2, "spec>mtu");
    assert_null(lb_logical_switch_from_json(j2, &sw));
    assert_int_equal(sw->gateway, ip("10.16.0.1"));
    assert_int_equal(sw->mtu, 1400);
    lb_logical_switch_destroy(sw);

    /* Dual-stack, then IPv6-only. */
    jset(j2, "spec>ipv6Prefix", lb_json_str("fd00:10:16::/64"));
    jset(j2, "spec>gateway6", lb_json_str("fd00:10:16::1"));
    assert_null(lb_logical_switch_from_json(j2, &sw));
    assert_int_equal(sw->prefix_len, 16);
    assert_true(sw->has_prefix6);
    char buf[INET6_ADDRSTRLEN];
    assert_string_equal(ipv6_string_mapped(buf, &sw->prefix6),
                        "fd00:10:16::");
    assert_string_equal(ipv6_string_mapped(buf, &sw->gateway6),
                        "fd00:10:16::1");
    struct lb_logical_switch *sw2;
    del_path(j2, "spec>subnet");
    assert_null(lb_logical_switch_from_json(j2, &sw2));
    assert_int_equal(sw2->prefix_len, 0);
    assert_int_equal(sw2->subnet, 0);
    assert_true(sw2->has_prefix6);
    assert_false(lb_logical_switch_equal(sw, sw2));
    lb_logical_switch_destroy(sw);
    lb_logical_switch_destroy(sw2);

    expect_error_with(SWITCH, j2, "spec>ipv6Prefix",
                      lb_json_str("fd00:10:16::/48"),
                      "spec.ipv6Prefix: IPv6 prefix \"fd00:10:16::/48\": "
                      "prefix length must be 64");
    expect_error_with(SWITCH, j2, "spec>ipv6Prefix",
                      lb_json_str("fd00:10:16::5/64"), "host bits");
    expect_error_with(SWITCH, j2, "spec>ipv6Prefix",
                      lb_json_str("fd00:10:16::"), "prefix length required");
    expect_error_with(SWITCH, j2, "spec>ipv6Prefix", lb_json_str("x/64"),
                      "spec.ipv6Prefix: IPv6 prefix \"x/64\"");
    expect_error_with(SWITCH, j2, "spec>gateway6",
                      lb_json_str("fd00:10:17::1"),
                      "spec.gateway6: gateway6 \"fd00:10:17::1\" is not a "
                      "host address in fd00:10:16::/64");
    expect_error_with(SWITCH, j2, "spec>gateway6", lb_json_str("nope"),
                      "spec.gateway6: gateway6 \"nope\" is not an IPv6 "
                      "address");
    expect_error_with(SWITCH, j, "spec>gateway6", lb_json_str("fd00::1"),
                      "spec.gateway6: needs \"ipv6Prefix\"");
    json_decref(j2);
    json_decref(j);
}

/* A provider network: spec.provider and spec.excludeIPs. */
static void
test_logical_switch_provider(void **state OVS_UNUSED)
{
    json_t *j = fixture("livebind/logicalswitch-pods.json");
    struct lb_logical_switch *sw;

    assert_null(lb_logical_switch_from_json(j, &sw));
    assert_null(sw->physnet);
    assert_int_equal(sw->n_exclude, 0);
    lb_logical_switch_destroy(sw);

    jset(j, "spec>provider", json_pack("{s:s, s:i}", "physicalNetwork",
                                       "physnet1", "vlan", 100));
    jset(j, "spec>excludeIPs", json_pack("[s,s,s]", "10.16.0.2",
                                         "10.16.0.200-10.16.0.250",
                                         "fd00::1-fd00::9"));
    assert_null(lb_logical_switch_from_json(j, &sw));
    assert_string_equal(sw->physnet, "physnet1");
    assert_int_equal(sw->vlan, 100);
    assert_int_equal(sw->n_exclude, 3);
    assert_true(lb_ip_range_contains_ipv4(&sw->exclude[0], ip("10.16.0.2")));
    assert_false(lb_ip_range_contains_ipv4(&sw->exclude[0],
                                           ip("10.16.0.3")));
    assert_true(lb_ip_range_contains_ipv4(&sw->exclude[1],
                                          ip("10.16.0.250")));
    assert_false(lb_ip_range_contains_ipv4(&sw->exclude[2],
                                           ip("10.16.0.2")));

    struct lb_logical_switch *sw2;
    assert_null(lb_logical_switch_from_json(j, &sw2));
    assert_true(lb_logical_switch_equal(sw, sw2));
    sw2->vlan = 200;
    assert_false(lb_logical_switch_equal(sw, sw2));
    lb_logical_switch_destroy(sw2);
    lb_logical_switch_destroy(sw);

    expect_error_with(SWITCH, j, "spec>provider>vlan", lb_json_int(4095),
                      "spec.provider.vlan: must be an integer in [0, 4094]");
    expect_error_with(SWITCH, j, "spec>provider>physicalNetwork", NULL,
                      "spec.provider.physicalNetwork: missing");
    expect_error_with(SWITCH, j, "spec>excludeIPs",
                      json_pack("[s]", "10.16.0.9-10.16.0.1"),
                      "spec.excludeIPs: [0]: \"10.16.0.9-10.16.0.1\": the "
                      "first address is above the last");
    expect_error_with(SWITCH, j, "spec>excludeIPs",
                      json_pack("[s]", "10.16.0.1-fd00::1"),
                      "both ends must be of one family");
    expect_error_with(SWITCH, j, "spec>excludeIPs", json_pack("[i]", 7),
                      "spec.excludeIPs: [0]: must be a string");
    expect_error_with(SWITCH, j, "spec>excludeIPs", lb_json_str("x"),
                      "spec.excludeIPs: must be an array");
    json_decref(j);
}

static void
test_logical_port(void **state OVS_UNUSED)
{
    json_t *j = fixture("livebind/logicalport-testvm-activated.json");
    struct lb_logical_port *lp;

    assert_null(lb_logical_port_from_json(j, &lp));
    assert_string_equal(lp->ns, "default");
    assert_string_equal(lp->name, "testvm");
    assert_string_equal(lp->port_name, "default_testvm");
    assert_string_equal(lp->switch_name, "pods");
    assert_int_equal(lp->tunnel_key, (1 << 24) | 10);
    assert_true(lp->has_mac);
    struct eth_addr mac;
    assert_true(eth_addr_from_string("0a:58:0a:10:00:0a", &mac));
    assert_true(eth_addr_equals(lp->mac, mac));
    assert_int_equal(lp->n_ips, 1);
    assert_int_equal(lp->ips[0], ip("10.16.0.10"));
    assert_string_equal(lp->vm, "testvm");
    assert_null(lp->pod);
    assert_string_equal(lp->active_pod, "virt-launcher-testvm-abcde");
    assert_string_equal(lp->active_pod_uid,
                        "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
    assert_string_equal(lp->active_node, "node-a");
    assert_string_equal(lp->alternate_pod, "virt-launcher-testvm-fghij");
    assert_string_equal(lp->alternate_node, "node-b");
    assert_string_equal(lp->alternate_migration_uid, UID_X);
    assert_string_equal(lp->activation_node, "node-b");
    assert_string_equal(lp->activation_migration_uid, UID_X);
    assert_string_equal(lp->activation_cause, "garp");
    assert_string_equal(lp->activation_time, "2026-11-21T09:00:11.250000Z");

    json_t *j2 = fixture("livebind/logicalport-testvm-new.json");
    struct lb_logical_port *lp2;
    assert_null(lb_logical_port_from_json(j2, &lp2));
    assert_null(lp2->active_pod);
    assert_null(lp2->alternate_node);
    assert_false(lb_logical_port_equal(lp, lp2));
    lb_logical_port_destroy(lp2);
    lb_logical_port_destroy(lp);
    lb_logical_port_destroy(NULL);

    /* Key and MAC may be left to be derived from the address. */
    del_path(j2, "spec>tunnelKey");
    del_path(j2, "spec>mac");
    assert_null(lb_logical_port_from_json(j2, &lp2));
    assert_int_equal(lp2->tunnel_key, 0);
    assert_false(lp2->has_mac);
    lb_logical_port_destroy(lp2);
    expect_error_with(PORT, j2, "spec>ips", lb_json_arr(),
                      "spec.ips: required when \"tunnelKey\" or \"mac\" is "
                      "absent");
    json_decref(j2);

    expect_error_with(PORT, j, "spec>switch", NULL, "LogicalPort default/"
                      "testvm: spec.switch: missing");
    expect_error_with(PORT, j, "spec>pod", lb_json_str("x"),
                      "spec: exactly one of \"vm\" and \"pod\" must be set");
    expect_error_with(PORT, j, "spec>vm", NULL, "exactly one of");
    expect_error_with(PORT, j, "spec>vm", lb_json_str(""),
                      "owner name is empty");
    expect_error_with(PORT, j, "spec>mac", lb_json_str("01:00:5e:00:00:01"),
                      "spec.mac: \"01:00:5e:00:00:01\" is not a unicast MAC");
    expect_error_with(PORT, j, "spec>mac", lb_json_str("zz"),
                      "is not a unicast MAC");
    expect_error_with(PORT, j, "spec>tunnelKey", lb_json_int(-1),
                      "spec.tunnelKey: must be an integer in [1, "
                      "2147483647]");
    expect_error_with(PORT, j, "spec>tunnelKey",
                      lb_json_int(INT64_C(1) << 31), "2147483647");
    expect_error_with(PORT, j, "spec>tunnelKey", lb_json_real(1.5),
                      "2147483647");
    expect_error_with(PORT, j, "spec>ips", lb_json_str("10.16.0.10"),
                      "spec.ips: must be an array of at most 8");
    expect_error_with(PORT, j, "spec>ips", json_pack("[s]", "10.16.0"),
                      "spec.ips: element 0 is not an IPv4 or IPv6 address");
    expect_error_with(PORT, j, "spec>ips", json_pack("[i]", 5),
                      "element 0 is not an IPv4 or IPv6 address");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s]", "10.16.0.10", "fd00::1::2"),
                      "spec.ips: element 1 is not an IPv4 or IPv6 address");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s]", "10.16.0.10", "fe80::1"),
                      "element 1 (fe80::1) is not a global or unique local "
                      "IPv6 address");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s]", "10.16.0.10", "ff02::1"),
                      "is not a global or unique local");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s,s]", "10.16.0.10", "fd00::5",
                                "fd00:0::5"),
                      "duplicate address fd00:0::5");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s]", "10.16.0.10", "10.16.0.10"),
                      "duplicate address 10.16.0.10");
    expect_error_with(PORT, j, "spec>ips",
                      json_pack("[s,s,s,s,s,s,s,s,s]", "10.0.0.1",
                                "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                "10.0.0.5", "10.0.0.6", "10.0.0.7",
                                "10.0.0.8", "10.0.0.9"),
                      "at most 8");

    /* Dual-stack and IPv6-only ports. */
    jset(j, "spec>ips", json_pack("[s,s]", "10.16.0.10",
                                  "fd00:10:16::858:aff:fe10:a"));
    assert_null(lb_logical_port_from_json(j, &lp));
    assert_int_equal(lp->n_ips, 1);
    assert_int_equal(lp->n_ips6, 1);
    struct lb_logical_port *lp3;
    jset(j, "spec>ips", json_pack("[s]", "fd00:10:16::858:aff:fe10:a"));
    assert_null(lb_logical_port_from_json(j, &lp3));
    assert_int_equal(lp3->n_ips, 0);
    assert_int_equal(lp3->n_ips6, 1);
    assert_false(lb_logical_port_equal(lp, lp3));
    lb_logical_port_destroy(lp);
    lb_logical_port_destroy(lp3);
    jset(j, "spec>ips", json_pack("[s]", "10.16.0.10"));

    expect_error_with(PORT, j, "status>alternateOwner", lb_json_int(1),
                      "status.alternateOwner: must be an object");
    expect_error_with(PORT, j, "status>activation>migrationUID",
                      json_false(),
                      "status.activation.migrationUID: must be a string");
    json_decref(j);
}

static void
test_metadata(void **state OVS_UNUSED)
{
    json_t *j = fixture("kubevirt/02-pod-source.json");
    char *ns, *name, *uid;
    assert_null(lb_k8s_metadata_from_json(j, &ns, &name, &uid));
    assert_string_equal(ns, "default");
    assert_string_equal(name, "virt-launcher-testvm-abcde");
    assert_string_equal(uid, "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
    free(ns);
    free(name);
    free(uid);
    json_decref(j);

    j = fixture("kubevirt/17-node.json");
    assert_null(lb_k8s_metadata_from_json(j, &ns, &name, &uid));
    assert_null(ns);
    assert_string_equal(name, "node-b");
    free(name);
    free(uid);

    jset(j, "metadata>name", json_true());
    char *error = lb_k8s_metadata_from_json(j, &ns, &name, &uid);
    assert_non_null(error);
    assert_non_null(strstr(error, "metadata.name: must be a string"));
    free(error);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_source),
        cmocka_unit_test(test_pod_target),
        cmocka_unit_test(test_pod_port_names),
        cmocka_unit_test(test_pod_errors),
        cmocka_unit_test(test_pod_two_controllers),
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_vmi),
        cmocka_unit_test(test_vmim_phases),
        cmocka_unit_test(test_logical_switch),
        cmocka_unit_test(test_logical_switch_provider),
        cmocka_unit_test(test_logical_port),
        cmocka_unit_test(test_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
