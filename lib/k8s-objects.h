/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_K8S_OBJECTS_H
#define LIVEBIND_K8S_OBJECTS_H 1

/* Compact, validated copies of the Kubernetes, KubeVirt and livebind objects
 * livebind derives its model from.  Pure: no I/O.
 *
 * Each parser takes the object as the API server returns it (jansson), keeps
 * only the fields livebind uses and checks their types and lengths.  On
 * success it returns NULL and stores a new object in '*objp'; on error it
 * returns a malloc()ed message naming the object and the field, and leaves
 * '*objp' untouched.  Bad input never crashes.
 *
 * Optional strings that are absent (or JSON null) are NULL; present strings
 * are never NULL but may be empty.  Every destroy function accepts NULL. */

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "openvswitch/compiler.h"
#include "openvswitch/types.h"
#include "model.h"
#include "smap.h"
#include "multinic.h"
#include "egress-gateway.h"

struct lb_ip_range;

/* Length limits.  Kubernetes' own: object names are DNS subdomains (253),
 * namespaces DNS labels (63), label values 63.  Annotation values are only
 * bounded by the object's total annotation size (256 KiB); we accept 64 KiB
 * per value we read. */
#define LB_K8S_NAME_MAX 253
#define LB_K8S_NAMESPACE_MAX 63
#define LB_K8S_LABEL_VALUE_MAX 63
#define LB_K8S_ANNOTATION_VALUE_MAX (64 * 1024)
#define LB_K8S_SHORT_MAX 128    /* UIDs, phases, timestamps, versions. */

/* Label, annotation and other well-known keys. */
#define LB_LABEL_MIGRATION_JOB_UID "kubevirt.io/migrationJobUID"
#define LB_LABEL_VM_NAME "vm.kubevirt.io/name"
#define LB_LABEL_KUBEVIRT "kubevirt.io"
#define LB_LABEL_CREATED_BY "kubevirt.io/created-by"
#define LB_ANNOTATION_DOMAIN "kubevirt.io/domain"
#define LB_ANNOTATION_MIGRATION_JOB_NAME "kubevirt.io/migrationJobName"
#define LB_ANNOTATION_TARGET_READY \
    "kubevirt.io/migration-target-ready-timestamp"
#define LB_ANNOTATION_ALLOW_MIGRATION \
    "kubevirt.io/allow-pod-bridge-network-live-migration"
#define LB_ANNOTATION_LOGICAL_PORT "livebind.io/logical-port"
#define LB_ANNOTATION_TUNNEL_IP "livebind.io/tunnel-ip"
#define LB_ANNOTATION_LOGICAL_SWITCH "livebind.io/logical-switch"

/* Pod. */

/* A named container port (spec.containers[].ports[]), which a
 * NetworkPolicy may name. */
struct lb_pod_port {
    char *name;
    uint8_t proto;              /* IPPROTO_TCP, _UDP or _SCTP. */
    uint16_t port;
};

struct lb_pod {
    char *ns;
    char *name;
    char *uid;
    char *resource_version;
    char *creation_timestamp;   /* RFC 3339, orders a VM's pods. */
    char *node_name;            /* spec.nodeName, NULL until scheduled. */
    char *phase;                /* status.phase, e.g. "Running". */
    bool deleting;              /* metadata.deletionTimestamp is set. */
    bool host_network;          /* spec.hostNetwork. */

    /* Labels. */
    char *migration_job_uid;    /* Set on migration target pods. */
    char *vm_name_label;        /* vm.kubevirt.io/name */
    bool virt_launcher;         /* kubevirt.io=virt-launcher */
    char *created_by;           /* kubevirt.io/created-by (VMI UID). */

    /* Annotations. */
    char *domain;               /* kubevirt.io/domain */
    char *migration_job_name;
    char *target_ready_timestamp;
    bool allow_live_migration;  /* The opt-in annotation is "true". */
    char *logical_switch;       /* livebind.io/logical-switch: the switch
                                 * of the pod's NIC; NULL: "pods". */
    char *networks;             /* k8s.v1.cni.cncf.io/networks, as is. */

    /* Controller ownerReference, all NULL if none. */
    char *owner_kind;
    char *owner_name;
    char *owner_uid;

    /* Derived at parse time: see lb_pod_logical_port_name(). */
    char *port_name;

    /* For NetworkPolicy (lib/policy.h): every label (a virt-launcher pod
     * carries its VMI's), and the named container ports. */
    struct smap labels;
    struct lb_pod_port *ports;
    size_t n_ports;
    /* Secondary NICs (multinic.h), from 'networks': each NIC's interface
     * and the name of its logical port ("<ns>_<owner>.<ifname>").  If the
     * annotation is bad, none, and 'nics_error' says why (the pod keeps
     * its pod network: one bad annotation must not cut it off). */
    struct lb_nic *nics;
    char **nic_port_names;
    size_t n_nics;
    char *nics_error;
};

char *lb_pod_from_json(const json_t *, struct lb_pod **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_pod_destroy(struct lb_pod *);
bool lb_pod_equal(const struct lb_pod *, const struct lb_pod *);

const char *lb_pod_vm_name(const struct lb_pod *);
bool lb_pod_is_migration_target(const struct lb_pod *);
const char *lb_pod_logical_port_name(const struct lb_pod *);
bool lb_pod_is_finished(const struct lb_pod *);
size_t lb_pod_n_port_names(const struct lb_pod *);
const char *lb_pod_port_name_at(const struct lb_pod *, size_t);

/* Node. */

struct lb_node {
    char *name;
    ovs_be32 tunnel_ip;         /* 0 if the node has none. */
    /* For the egress gateway (egress-gateway.h): the Ready condition is
     * "True", and the first InternalIP of each family (0 or !has_ip6 if
     * none). */
    bool ready;
    ovs_be32 ip4;
    bool has_ip6;
    struct in6_addr ip6;
};

char *lb_node_from_json(const json_t *, struct lb_node **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_node_destroy(struct lb_node *);
bool lb_node_equal(const struct lb_node *, const struct lb_node *);

/* KubeVirt's status.migrationState, in a VMI and (newer KubeVirt) in a
 * VMIM. */
struct lb_kv_migration_state {
    char *migration_uid;
    char *source_node;
    char *target_node;
    char *source_pod;
    char *target_pod;
    char *target_node_domain_ready_timestamp;
    bool completed;
    bool failed;
    bool abort_requested;
    char *abort_status;         /* "Succeeded", "Failed", "Aborting"... */
    char *mode;                 /* "PreCopy", "PostCopy"... */
};

void lb_kv_migration_state_destroy(struct lb_kv_migration_state *);
bool lb_kv_migration_state_equal(const struct lb_kv_migration_state *,
                                 const struct lb_kv_migration_state *);
bool lb_kv_migration_state_aborted(const struct lb_kv_migration_state *);

/* VirtualMachineInstance. */

struct lb_vmi {
    char *ns;
    char *name;
    char *uid;
    char *node_name;            /* status.nodeName: where the VM runs. */
    bool allow_live_migration;  /* The opt-in annotation is "true". */
    struct lb_kv_migration_state *migration_state;  /* NULL if absent. */
    char **multus_networks;     /* spec.networks[].multus.networkName, as
                                 * "ns/name" (multinic.h). */
    size_t n_multus_networks;
};

char *lb_vmi_from_json(const json_t *, struct lb_vmi **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_vmi_destroy(struct lb_vmi *);
bool lb_vmi_equal(const struct lb_vmi *, const struct lb_vmi *);

/* VirtualMachineInstanceMigration. */

enum lb_vmim_phase {
    LB_VMIM_NONE,               /* "" or absent: not yet processed. */
    LB_VMIM_PENDING,
    LB_VMIM_SCHEDULING,
    LB_VMIM_SCHEDULED,
    LB_VMIM_PREPARING_TARGET,
    LB_VMIM_TARGET_READY,
    LB_VMIM_RUNNING,
    LB_VMIM_SUCCEEDED,
    LB_VMIM_FAILED,
    LB_VMIM_UNKNOWN,            /* A phase this code does not know. */
};

const char *lb_vmim_phase_to_string(enum lb_vmim_phase);
enum lb_vmim_phase lb_vmim_phase_from_string(const char *);
bool lb_vmim_phase_is_final(enum lb_vmim_phase);

struct lb_vmim {
    char *ns;
    char *name;
    char *uid;
    char *creation_timestamp;
    char *vmi_name;             /* spec.vmiName */
    enum lb_vmim_phase phase;
    bool deleting;
    struct lb_kv_migration_state *migration_state;  /* NULL if absent. */
};

char *lb_vmim_from_json(const json_t *, struct lb_vmim **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_vmim_destroy(struct lb_vmim *);
bool lb_vmim_equal(const struct lb_vmim *, const struct lb_vmim *);
bool lb_vmim_abort_succeeded(const struct lb_vmim *);

/* livebind.io/v1alpha1 LogicalSwitch (cluster-scoped). */

#define LB_SWITCH_TUNNEL_KEY_MAX 127

#define LB_SWITCH_EXCLUDE_MAX 64

struct lb_logical_switch {
    char *name;
    uint32_t tunnel_key;        /* 1..LB_SWITCH_TUNNEL_KEY_MAX. */
    ovs_be32 subnet;            /* Network address. */
    int prefix_len;             /* 8..30, 0 if no IPv4 subnet. */
    ovs_be32 gateway;           /* 0 if none. */
    bool has_prefix6;           /* spec.ipv6Prefix, a /64... */
    struct in6_addr prefix6;
    struct in6_addr gateway6;   /* ...and spec.gateway6, zero if none. */
    int mtu;

    /* spec.provider: a VLAN of a physical network (pipeline-provider.c). */
    char *physnet;              /* physicalNetwork; NULL: overlay. */
    uint16_t vlan;              /* 0: untagged. */
    /* spec.excludeIPs: never allocated (the router, outside hosts). */
    struct lb_ip_range *exclude;
    size_t n_exclude;
    /* spec.egressGateway (egress-gateway.h); a bad one is kept with its
     * error, never rejects the switch. */
    struct lb_egress_spec egress;
};

char *lb_logical_switch_from_json(const json_t *,
                                  struct lb_logical_switch **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_logical_switch_destroy(struct lb_logical_switch *);
bool lb_logical_switch_equal(const struct lb_logical_switch *,
                             const struct lb_logical_switch *);

/* livebind.io/v1alpha1 LogicalPort (namespaced).  Its port's name in the
 * model is "<namespace>_<name>". */

struct lb_logical_port {
    char *ns;
    char *name;
    char *uid;
    char *port_name;            /* "<ns>_<name>". */

    /* spec.  Exactly one of 'vm' and 'pod' is nonnull. */
    char *switch_name;
    char *interface;            /* A secondary NIC's interface in the pod
                                 * (multinic.h), NULL for the pod
                                 * network's. */
    uint32_t tunnel_key;        /* 0 if absent: derived from the IP. */
    bool has_mac;
    struct eth_addr mac;        /* If absent, derived from the IP. */
    ovs_be32 ips[LB_MAX_IPS];   /* spec.ips's IPv4 addresses... */
    size_t n_ips;
    struct in6_addr ips6[LB_MAX_IPS];   /* ...and its IPv6 ones. */
    size_t n_ips6;
    char *vm;
    char *pod;

    /* status, all optional. */
    char *active_pod;
    char *active_pod_uid;
    char *active_node;
    char *alternate_pod;
    char *alternate_pod_uid;
    char *alternate_node;
    char *alternate_migration_uid;
    char *activation_node;
    char *activation_migration_uid;
    char *activation_time;
    char *activation_cause;
};

char *lb_logical_port_from_json(const json_t *,
                                struct lb_logical_port **objp)
    OVS_WARN_UNUSED_RESULT;
void lb_logical_port_destroy(struct lb_logical_port *);
bool lb_logical_port_equal(const struct lb_logical_port *,
                           const struct lb_logical_port *);

/* Object identity from metadata only (for deletions): '*nsp' is NULL for a
 * cluster-scoped object, '*uidp' NULL if absent.  Strings are malloc()ed. */
char *lb_k8s_metadata_from_json(const json_t *, char **nsp, char **namep,
                                char **uidp) OVS_WARN_UNUSED_RESULT;

#endif /* lib/k8s-objects.h */
