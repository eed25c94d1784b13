/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_MULTINIC_H
#define LIVEBIND_MULTINIC_H 1

/* Several NICs per pod or VM (pure: no I/O).
 *
 * A pod asks Multus for secondary networks with the annotation
 * k8s.v1.cni.cncf.io/networks, each naming a NetworkAttachmentDefinition
 * (k8s.cni.cncf.io/v1); KubeVirt's virt-controller writes it for a VM from
 * the VMI's spec.networks[].multus.networkName.  Multus then runs each
 * network's plugin as a delegate with CNI_IFNAME set to the interface the
 * selection asks for, else "net<N>" (N: the network's position in the
 * list, from 1: the cluster's default network, on eth0, is delegate 0).
 * When the plugin is livebind, each NIC is a logical port of its own:
 *
 *   - eth0 (the pod network): "<owner>", as with one NIC;
 *   - any other interface I: "<owner>.<I>",
 *
 * where <owner> is the VM (VirtualMachineInstance) or, for a pod without
 * a VM, the pod.  A migration target pod gets the same annotation as the
 * source, so it reuses each NIC's port by its interface name. */

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "openvswitch/compiler.h"

#define LB_ANNOTATION_NETWORKS "k8s.v1.cni.cncf.io/networks"
#define LB_PRIMARY_IFNAME "eth0"
#define LB_NICS_MAX 32

/* One network selection element: a secondary NIC. */
struct lb_nic {
    char *network_ns;           /* The NAD's namespace (default: the
                                 * pod's). */
    char *network;              /* The NAD's name. */
    char *ifname;               /* The interface in the pod. */
};

char *lb_nics_parse(const char *annotation, const char *pod_ns,
                    struct lb_nic **nicsp, size_t *n_nicsp)
    OVS_WARN_UNUSED_RESULT;
void lb_nics_free(struct lb_nic *, size_t n);
bool lb_nics_equal(const struct lb_nic *, size_t n_a,
                   const struct lb_nic *, size_t n_b);
const struct lb_nic *lb_nics_find(const struct lb_nic *, size_t n,
                                  const char *ifname);

bool lb_ifname_is_primary(const char *ifname);
char *lb_nic_object_name(const char *owner, const char *ifname);
char *lb_nic_port_name_check(const char *owner, const char *ifname)
    OVS_WARN_UNUSED_RESULT;

/* KubeVirt: the Multus networks of a VMI, "ns/name" each. */
char *lb_vmi_multus_networks(const json_t *vmi, const char *vmi_ns,
                             char ***namesp, size_t *np)
    OVS_WARN_UNUSED_RESULT;

#endif /* lib/multinic.h */
