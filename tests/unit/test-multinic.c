/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Several NICs per VM (lib/multinic.c): Multus's network selections, the
 * VMI's Multus networks, and the model derived for a VM with the pod
 * network and two secondary NICs on provider networks (one dual-stack),
 * before, during and after a live migration. */

#include <config.h>
#include "multinic.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "derive.h"
#include "k8s-objects.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "sset.h"
#include "util.h"

#include "lb-json.h"
#include "test-fixtures.h"

#define UID_X "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"

/* Parses 'annotation' in namespace "default" and formats the NICs as
 * "ns/name@ifname ...", or "error: MSG". */
static char *
nics_string(const char *annotation)
{
    struct lb_nic *nics;
    size_t n;
    char *error = lb_nics_parse(annotation, "default", &nics, &n);
    if (error) {
        char *s = xasprintf("error: %s", error);
        free(error);
        return s;
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s%s/%s@%s", i ? " " : "", nics[i].network_ns,
                      nics[i].network, nics[i].ifname);
    }
    lb_nics_free(nics, n);
    return ds_steal_cstr(&s);
}

static void
expect_nics(const char *annotation, const char *expected)
{
    char *s = nics_string(annotation);
    if (strcmp(s, expected)) {
        fail_msg("%s\nexpected: %s\nactual:   %s", annotation, expected, s);
    }
    free(s);
}

static void
test_network_selections(void **state OVS_UNUSED)
{
    /* The forms Multus accepts; "net<N>" by position when not named. */
    expect_nics("vlan100", "default/vlan100@net1");
    expect_nics("vlan100, other/vlan200@eth9 ,vlan300",
                "default/vlan100@net1 other/vlan200@eth9 "
                "default/vlan300@net3");
    expect_nics("[{\"name\":\"vlan100\"},{\"name\":\"vlan200\","
                "\"namespace\":\"infra\",\"interface\":\"pod1a2b3c\","
                "\"mac\":\"02:00:00:00:00:01\",\"ips\":[\"10.0.0.1/24\"]}]",
                "default/vlan100@net1 infra/vlan200@pod1a2b3c");
    expect_nics(" [] ", "");
    expect_nics("", "");

    /* Bad input: a clear message, nothing stored. */
    expect_nics("[{\"name\":\"a\"}", "error: k8s.v1.cni.cncf.io/networks: "
                "not JSON: ']' expected near end of file");
    expect_nics("{\"name\":\"a\"}", "error: k8s.v1.cni.cncf.io/networks: "
                "network 1: name \"{\"name\":\"a\"}\" is not a DNS-1123 "
                "subdomain");
    expect_nics("[{\"namespace\":\"a\"}]", "error: "
                "k8s.v1.cni.cncf.io/networks: network 1: must be an object "
                "with a string \"name\" and optional string \"namespace\" "
                "and \"interface\"");
    expect_nics("[7]", "error: k8s.v1.cni.cncf.io/networks: network 1: "
                "must be an object with a string \"name\" and optional "
                "string \"namespace\" and \"interface\"");
    expect_nics("a@net2,b", "error: k8s.v1.cni.cncf.io/networks: network "
                "2 (default/b): interface net2 is already network 1's");
    expect_nics("a@eth0", "error: k8s.v1.cni.cncf.io/networks: network 1 "
                "(default/a): interface \"eth0\" is not a valid secondary "
                "interface name");
    expect_nics("a@averyveryverylongname", "error: "
                "k8s.v1.cni.cncf.io/networks: network 1 (default/a): "
                "interface \"averyveryverylongname\" is not a valid "
                "secondary interface name");
    expect_nics("Vlan100", "error: k8s.v1.cni.cncf.io/networks: network 1: "
                "name \"Vlan100\" is not a DNS-1123 subdomain");
    expect_nics("a_b/c", "error: k8s.v1.cni.cncf.io/networks: network 1: "
                "namespace \"a_b\" is not a DNS-1123 label");

    struct ds many = DS_EMPTY_INITIALIZER;
    for (int i = 0; i <= LB_NICS_MAX; i++) {
        ds_put_format(&many, "%sn%d", i ? "," : "", i);
    }
    expect_nics(ds_cstr(&many), "error: k8s.v1.cni.cncf.io/networks: more "
                "than 32 networks");
    ds_destroy(&many);

    /* Port names. */
    char *name = lb_nic_object_name("testvm", "net1");
    assert_string_equal(name, "testvm.net1");
    free(name);
    name = lb_nic_object_name("testvm", "eth0");
    assert_string_equal(name, "testvm");
    free(name);
    assert_null(lb_nic_port_name_check("testvm", "net1"));
    char *error = lb_nic_port_name_check("testvm", "Net_1");
    assert_string_equal(error, "interface \"Net_1\": its logical port "
                        "\"testvm.Net_1\" is not a Kubernetes object name "
                        "(lower-case letters, digits, '-' and '.')");
    free(error);
}

static void
test_fixture_objects(void **state OVS_UNUSED)
{
    /* The VMI's Multus networks, namespaced as virt-controller asks. */
    json_t *j = fixture("multus/vmi-multinic.json");
    struct lb_vmi *vmi;
    char *error = lb_vmi_from_json(j, &vmi);
    assert_null(error);
    assert_int_equal(vmi->n_multus_networks, 2);
    assert_string_equal(vmi->multus_networks[0], "default/vlan100");
    assert_string_equal(vmi->multus_networks[1], "default/vlan200");
    lb_vmi_destroy(vmi);

    /* A Multus network marked "default" replaces the pod network. */
    json_t *nets = json_object_get(json_object_get(j, "spec"), "networks");
    jset(json_array_get(nets, 1), "multus>default", json_true());
    assert_null(lb_vmi_from_json(j, &vmi));
    assert_int_equal(vmi->n_multus_networks, 1);
    lb_vmi_destroy(vmi);
    jset(json_array_get(nets, 1), "multus>networkName", lb_json_int(5));
    error = lb_vmi_from_json(j, &vmi);
    assert_non_null(error);
    assert_non_null(strstr(error, "spec.networks[1].multus: needs a string "
                           "\"networkName\""));
    free(error);
    json_decref(j);

    /* The launcher pod: a port per NIC. */
    j = fixture("multus/pod-multinic-source.json");
    struct lb_pod *pod;
    assert_null(lb_pod_from_json(j, &pod));
    assert_int_equal(lb_pod_n_port_names(pod), 3);
    assert_string_equal(lb_pod_port_name_at(pod, 0), "default_testvm");
    assert_string_equal(lb_pod_port_name_at(pod, 1), "default_testvm.net1");
    assert_string_equal(lb_pod_port_name_at(pod, 2), "default_testvm.net2");
    assert_string_equal(pod->nics[1].network, "vlan200");
    lb_pod_destroy(pod);

    /* A bad annotation: the pod keeps its pod network, and says why it
     * has no other NIC. */
    jset(j, "metadata>annotations>k8s.v1.cni.cncf.io/networks",
         lb_json_str("[{\"name\": 1}]"));
    assert_null(lb_pod_from_json(j, &pod));
    assert_int_equal(lb_pod_n_port_names(pod), 1);
    assert_non_null(pod->nics_error);
    lb_pod_destroy(pod);
    json_decref(j);
}

/* The objects of a VM with three NICs: "pods" (overlay), "vlan100"
 * (provider, dual-stack) and "vlan200" (provider). */

static json_t *
provider_switch(const char *name, int key, const char *subnet,
                const char *gateway, int vlan)
{
    json_t *j = fixture("livebind/logicalswitch-pods.json");
    jset(j, "metadata>name", lb_json_str(name));
    jset(j, "spec>tunnelKey", lb_json_int(key));
    jset(j, "spec>subnet", lb_json_str(subnet));
    jset(j, "spec>gateway", lb_json_str(gateway));
    jset(j, "spec>mtu", lb_json_int(1500));
    jset(j, "spec>provider", json_pack("{s:s, s:i}", "physicalNetwork",
                                       "physnet1", "vlan", vlan));
    return j;
}

static json_t *
nic_port(const char *file, const char *ifname, const char *sw,
         json_t *ips)
{
    json_t *j = fixture(file);
    char *name = lb_nic_object_name("testvm", ifname);
    jset(j, "metadata>name", lb_json_str(name));
    free(name);
    jset(j, "spec>switch", lb_json_str(sw));
    jset(j, "spec>interface", lb_json_str(ifname));
    jset(j, "spec>tunnelKey", NULL);
    jset(j, "spec>mac", NULL);
    jset(j, "spec>ips", ips);
    return j;
}

struct objects {
    enum lb_kind kind[24];
    json_t *json[24];
    size_t n;
};

static void
put(struct objects *o, enum lb_kind kind, json_t *json)
{
    assert_true(o->n < ARRAY_SIZE(o->json));
    o->kind[o->n] = kind;
    o->json[o->n++] = json;
}

static void
vm_objects(struct objects *o, const char *port_file)
{
    o->n = 0;
    json_t *sw100 = provider_switch("vlan100", 2, "10.100.0.0/16",
                                    "10.100.0.1", 100);
    jset(sw100, "spec>ipv6Prefix", lb_json_str("fd00:100::/64"));
    put(o, LB_KIND_LOGICAL_SWITCH, sw100);
    put(o, LB_KIND_LOGICAL_SWITCH, provider_switch("vlan200", 3,
                                                   "10.200.0.0/16",
                                                   "10.200.0.1", 200));
    put(o, LB_KIND_LOGICAL_SWITCH,
        fixture("livebind/logicalswitch-pods.json"));
    json_t *node_a = fixture("kubevirt/17-node.json");
    jset(node_a, "metadata>name", lb_json_str("node-a"));
    jset(node_a, "status>addresses", json_pack("[{s:s, s:s}]", "type",
                                               "InternalIP", "address",
                                               "192.168.50.11"));
    put(o, LB_KIND_NODE, node_a);
    put(o, LB_KIND_NODE, fixture("kubevirt/17-node.json"));
    put(o, LB_KIND_LOGICAL_PORT, fixture(port_file));
    put(o, LB_KIND_LOGICAL_PORT,
        nic_port(port_file, "net1", "vlan100",
                 json_pack("[s, s]", "10.100.0.20",
                           "fd00:100::858:aff:fe64:14")));
    put(o, LB_KIND_LOGICAL_PORT,
        nic_port(port_file, "net2", "vlan200",
                 json_pack("[s]", "10.200.0.20")));
    put(o, LB_KIND_POD, fixture("multus/pod-multinic-source.json"));
}

static void
objects_destroy(struct objects *o)
{
    for (size_t i = 0; i < o->n; i++) {
        json_decref(o->json[i]);
    }
    o->n = 0;
}

/* The model of 'o' inserted in order and in reverse (derivation does not
 * depend on the order), formatted. */
static char *
model_of(const struct objects *o)
{
    char *result = NULL;
    for (int reverse = 0; reverse < 2; reverse++) {
        struct lb_cluster cluster;
        lb_cluster_init(&cluster);
        for (size_t i = 0; i < o->n; i++) {
            size_t k = reverse ? o->n - 1 - i : i;
            char *error = lb_cluster_upsert_json(&cluster, o->kind[k],
                                                 o->json[k], NULL);
            if (error) {
                fail_msg("%s", error);
            }
        }
        struct lb_model model;
        struct ds s = DS_EMPTY_INITIALIZER;
        lb_model_init(&model);
        lb_derive_model(&cluster, &model);
        lb_model_format(&model, &s);

        /* Deriving the VM's ports alone gives the same. */
        struct sset ports = SSET_INITIALIZER(&ports);
        lb_cluster_vm_port_names(&cluster, "default", "testvm", &ports);
        assert_int_equal(sset_count(&ports), 3);
        assert_true(lb_derive_ports(&cluster, &ports, &model));
        struct ds s2 = DS_EMPTY_INITIALIZER;
        lb_model_format(&model, &s2);
        assert_string_equal(ds_cstr(&s), ds_cstr(&s2));
        ds_destroy(&s2);
        sset_destroy(&ports);

        lb_model_destroy(&model);
        lb_cluster_destroy(&cluster);
        if (result) {
            assert_string_equal(result, ds_cstr(&s));
            ds_destroy(&s);
        } else {
            result = ds_steal_cstr(&s);
        }
    }
    return result;
}

#define NIC0 "default_testvm key=16777226 switch=pods mac=0a:58:0a:10:00:0a " \
    "ips=10.16.0.10"
#define NIC1 "default_testvm.net1 key=33554452 switch=vlan100 " \
    "network=physnet1 vlan=100 mac=0a:58:0a:64:00:14 " \
    "ips=10.100.0.20,fd00:100::858:aff:fe64:14"
#define NIC2 "default_testvm.net2 key=50331668 switch=vlan200 " \
    "network=physnet1 vlan=200 mac=0a:58:0a:c8:00:14 ips=10.200.0.20"

static void
expect_model(const struct objects *o, const char *binding)
{
    char *expected = xasprintf(NIC0"%s\n"NIC1"%s\n"NIC2"%s\n", binding,
                               binding, binding);
    char *actual = model_of(o);
    if (strcmp(actual, expected)) {
        fail_msg("expected:\n%sactual:\n%s", expected, actual);
    }
    free(actual);
    free(expected);
}

/* The VMI of 'file' (a migration's status) with the three NICs' spec. */
static json_t *
multinic_vmi(const char *file)
{
    json_t *vmi = fixture(file);
    json_t *mvmi = fixture("multus/vmi-multinic.json");
    jset(vmi, "spec", json_incref(json_object_get(mvmi, "spec")));
    json_decref(mvmi);
    return vmi;
}

/* Every NIC follows the VM: on its source node, then bound to both nodes
 * with the target copy blocked, activated, and on the target alone. */
static void
test_every_nic_migrates(void **state OVS_UNUSED)
{
    struct objects o;

    vm_objects(&o, "livebind/logicalport-testvm.json");
    put(&o, LB_KIND_VMI, fixture("multus/vmi-multinic.json"));
    expect_model(&o, " chassis=node-a");
    objects_destroy(&o);

    /* Mirroring: the target pod (same networks annotation) reuses each
     * NIC's port. */
    vm_objects(&o, "livebind/logicalport-testvm.json");
    json_t *vmi = multinic_vmi("kubevirt/15-vmi-migrating.json");
    put(&o, LB_KIND_VMI, vmi);
    put(&o, LB_KIND_VMIM, fixture("kubevirt/08-vmim-running.json"));
    put(&o, LB_KIND_POD, fixture("multus/pod-multinic-target.json"));
    expect_model(&o, " chassis=node-a additional=node-b (blocked) mirror");

    /* Activated (the target domain ready), for every NIC at once. */
    jset(vmi, "status>migrationState>targetNodeDomainReadyTimestamp",
         lb_json_str("2026-11-21T09:00:11Z"));
    expect_model(&o, " chassis=node-a additional=node-b mirror");

    /* A target pod that does not ask for the secondary networks has none
     * of the VM's secondary NICs: only the pod network's port moves. */
    jset(o.json[o.n - 1], "metadata>annotations>k8s.v1.cni.cncf.io/"
         "networks", NULL);
    char *actual = model_of(&o);
    assert_string_equal(actual,
                        NIC0" chassis=node-a additional=node-b mirror\n"
                        NIC1" chassis=node-a\n"NIC2" chassis=node-a\n");
    free(actual);

    /* Nor does one whose network on net1 is not one of the VMI's. */
    jset(o.json[o.n - 1], "metadata>annotations>k8s.v1.cni.cncf.io/"
         "networks", lb_json_str("other,vlan200"));
    actual = model_of(&o);
    assert_string_equal(actual,
                        NIC0" chassis=node-a additional=node-b mirror\n"
                        NIC1" chassis=node-a\n"
                        NIC2" chassis=node-a additional=node-b mirror\n");
    free(actual);
    objects_destroy(&o);

    /* Completed: on node-b alone. */
    vm_objects(&o, "livebind/logicalport-testvm.json");
    vmi = multinic_vmi("kubevirt/16-vmi-migrated.json");
    put(&o, LB_KIND_VMI, vmi);
    put(&o, LB_KIND_VMIM, fixture("kubevirt/09-vmim-succeeded.json"));
    put(&o, LB_KIND_POD, fixture("multus/pod-multinic-target.json"));
    jset(o.json[o.n - 4], "status>phase", lb_json_str("Succeeded"));
    expect_model(&o, " chassis=node-b");
    objects_destroy(&o);

    /* Failed: back on node-a alone, every NIC. */
    vm_objects(&o, "livebind/logicalport-testvm.json");
    vmi = multinic_vmi("kubevirt/15-vmi-migrating.json");
    jset(vmi, "status>migrationState>failed", json_true());
    put(&o, LB_KIND_VMI, vmi);
    put(&o, LB_KIND_VMIM, fixture("kubevirt/10-vmim-failed.json"));
    put(&o, LB_KIND_POD, fixture("multus/pod-multinic-target.json"));
    expect_model(&o, " chassis=node-a");
    objects_destroy(&o);
}

/* A pod's secondary NIC and a LogicalPort's interface must agree: a port
 * for net1 is not taken by a pod that has no net1, even of the same VM. */
static void
test_may_bind(void **state OVS_UNUSED)
{
    json_t *j = fixture("multus/pod-multinic-source.json");
    struct lb_pod *pod;
    assert_null(lb_pod_from_json(j, &pod));
    json_t *pj = nic_port("livebind/logicalport-testvm.json", "net3",
                          "vlan100", json_pack("[s]", "10.100.0.20"));
    struct lb_logical_port *lp;
    assert_null(lb_logical_port_from_json(pj, &lp));
    struct lb_cluster cluster;
    lb_cluster_init(&cluster);
    assert_false(lb_pod_may_bind(&cluster, pod, lp));
    lb_logical_port_destroy(lp);
    json_decref(pj);

    pj = nic_port("livebind/logicalport-testvm.json", "net1", "vlan100",
                  json_pack("[s]", "10.100.0.20"));
    assert_null(lb_logical_port_from_json(pj, &lp));
    assert_string_equal(lp->port_name, "default_testvm.net1");
    assert_true(lb_pod_may_bind(&cluster, pod, lp));
    lb_logical_port_destroy(lp);
    json_decref(pj);

    lb_cluster_destroy(&cluster);
    lb_pod_destroy(pod);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_selections),
        cmocka_unit_test(test_fixture_objects),
        cmocka_unit_test(test_every_nic_migrates),
        cmocka_unit_test(test_may_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
