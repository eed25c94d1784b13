/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_POLICY_H
#define LIVEBIND_POLICY_H 1

/* NetworkPolicy (networking.k8s.io/v1) compiled into OpenFlow.  Pure: no
 * I/O.
 *
 * Inputs: NetworkPolicies, Namespaces (their labels) and endpoints (one
 * per logical port: its namespace, the labels of its pod, which for a VM
 * are the virt-launcher pod's, i.e. the VMI's, its addresses and named
 * ports).  The engine keeps them and, for each policy, what it
 * contributes: which ports it isolates in which direction, and its rules
 * as conjunctive matches (one conjunction id per rule, dimensions "this
 * port", "peer address", "L4 port"), so that a rule over N ports and M
 * peers is N + M flows, never N * M.  Flows with the same match that
 * different rules contribute are merged into one flow with several
 * conjunction() actions, as OVS requires.
 *
 * Incremental: a change to a policy recompiles that policy; to an endpoint
 * or a namespace, the policies whose selectors match it before or after.
 * lb_policy_engine_run() then rewrites only the merged flows whose
 * contributions changed, and says which ports' isolation changed (their
 * per-port flows, lb_policy_local_port_flows(), come from the pipeline).
 * The result equals a full compile of the same inputs.
 *
 * docs/policy.md describes the tables and the flows. */

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <jansson.h>
#include "openvswitch/compiler.h"
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"
#include "smap.h"

struct ds;
struct lb_cluster;
struct lb_model;
struct lb_flow_table;
struct lb_port;
struct simap;
struct sset;

/* A label selector (metav1.LabelSelector).  No labels and no expressions
 * select everything. */
enum lb_selector_op {
    LB_SEL_IN,
    LB_SEL_NOT_IN,
    LB_SEL_EXISTS,
    LB_SEL_DOES_NOT_EXIST,
};

struct lb_selector_expr {
    char *key;
    enum lb_selector_op op;
    char **values;
    size_t n_values;
};

struct lb_selector {
    struct smap match_labels;
    struct lb_selector_expr *exprs;
    size_t n_exprs;
};

bool lb_selector_matches(const struct lb_selector *, const struct smap *);

/* An address prefix of either family.  IPv4 is held as an IPv4-mapped
 * IPv6 address, 'plen' counting from the IPv4 address's first bit. */
struct lb_cidr {
    bool v4;
    struct in6_addr addr;
    unsigned int plen;
};

char *lb_cidr_parse(const char *, struct lb_cidr *) OVS_WARN_UNUSED_RESULT;
void lb_cidr_format(const struct lb_cidr *, struct ds *);
bool lb_cidr_contains(const struct lb_cidr *outer,
                      const struct lb_cidr *inner);
size_t lb_cidr_subtract(const struct lb_cidr *, const struct lb_cidr *except,
                        size_t n_except, struct lb_cidr **out);

/* A port range as value/mask pairs for a 16-bit field: at most 30. */
struct lb_port_mask {
    uint16_t value;
    uint16_t mask;
};
size_t lb_port_range_masks(uint16_t lo, uint16_t hi,
                           struct lb_port_mask out[32]);

/* A NetworkPolicy. */
struct lb_policy_peer {
    struct lb_selector *pod_sel;        /* NULL: absent. */
    struct lb_selector *ns_sel;         /* NULL: absent. */
    bool has_ip_block;
    struct lb_cidr cidr;
    struct lb_cidr *except;
    size_t n_except;
};

struct lb_policy_port {
    uint8_t proto;                      /* IPPROTO_TCP, _UDP or _SCTP. */
    uint16_t port;                      /* 0 with no 'name': every port. */
    uint16_t end_port;                  /* 0: just 'port'. */
    char *name;                         /* A named port, or NULL. */
};

struct lb_policy_rule {
    struct lb_policy_peer *peers;       /* None: every peer. */
    size_t n_peers;
    struct lb_policy_port *ports;       /* None: every port. */
    size_t n_ports;
    char *key;                          /* Canonical text of the peers and
                                         * ports: rules with the same key
                                         * share their conjunction. */
};

struct lb_network_policy {
    char *ns;
    char *name;
    char *uid;
    struct lb_selector pod_sel;
    bool ingress;                       /* policyTypes includes Ingress. */
    bool egress;                        /* ...Egress. */
    struct lb_policy_rule *rules[2];    /* [LB_POLICY_INGRESS/_EGRESS]. */
    size_t n_rules[2];
    char *spec;                         /* Canonical text of the spec, for
                                         * comparisons (jansson's
                                         * json_equal() is shadowed by
                                         * libopenvswitch's). */
};

enum lb_policy_dir {
    LB_POLICY_INGRESS,
    LB_POLICY_EGRESS,
};

char *lb_network_policy_from_json(const json_t *,
                                  struct lb_network_policy **)
    OVS_WARN_UNUSED_RESULT;
void lb_network_policy_destroy(struct lb_network_policy *);
bool lb_network_policy_equal(const struct lb_network_policy *,
                             const struct lb_network_policy *);

/* A Namespace: only its labels matter. */
struct lb_namespace {
    char *name;
    char *uid;
    struct smap labels;
};

char *lb_namespace_from_json(const json_t *, struct lb_namespace **)
    OVS_WARN_UNUSED_RESULT;
void lb_namespace_destroy(struct lb_namespace *);
bool lb_namespace_equal(const struct lb_namespace *,
                        const struct lb_namespace *);

/* A logical port as policies see it. */
struct lb_named_port {
    char *name;
    uint8_t proto;
    uint16_t port;
};

#define LB_POLICY_MAX_ADDRS 8

struct lb_policy_endpoint {
    char *port_name;                    /* The logical port's. */
    char *ns;
    uint32_t key;                       /* The logical port's key. */
    struct smap labels;
    ovs_be32 ipv4[LB_POLICY_MAX_ADDRS];
    size_t n_ipv4;
    struct in6_addr ipv6[LB_POLICY_MAX_ADDRS];
    size_t n_ipv6;
    struct lb_named_port *named_ports;
    size_t n_named_ports;
};

struct lb_policy_endpoint *lb_policy_endpoint_create(const char *port_name,
                                                     const char *ns,
                                                     uint32_t key);
void lb_policy_endpoint_add_named_port(struct lb_policy_endpoint *,
                                       const char *name, uint8_t proto,
                                       uint16_t port);
void lb_policy_endpoint_destroy(struct lb_policy_endpoint *);
bool lb_policy_endpoint_equal(const struct lb_policy_endpoint *,
                              const struct lb_policy_endpoint *);

/* The engine. */
struct lb_policy_engine *lb_policy_engine_create(void);
void lb_policy_engine_destroy(struct lb_policy_engine *);

/* Each takes ownership of the object and returns true if anything
 * changed. */
bool lb_policy_set_namespace(struct lb_policy_engine *,
                             struct lb_namespace *);
bool lb_policy_remove_namespace(struct lb_policy_engine *, const char *name);
bool lb_policy_set_policy(struct lb_policy_engine *,
                          struct lb_network_policy *);
bool lb_policy_remove_policy(struct lb_policy_engine *, const char *ns,
                             const char *name);
bool lb_policy_set_endpoint(struct lb_policy_engine *,
                            struct lb_policy_endpoint *);
bool lb_policy_remove_endpoint(struct lb_policy_engine *,
                               const char *port_name);

/* Recompiles what changed.  Rewrites in 'ft' (if nonnull) the rule flows
 * whose contributions changed, and adds to 'changed_ports' (if nonnull)
 * the ports whose isolation changed, whose per-port flows the caller must
 * compute again. */
void lb_policy_engine_run(struct lb_policy_engine *, struct lb_flow_table *,
                          struct sset *changed_ports);
/* Every rule flow and the tables' defaults, for a full compute. */
void lb_policy_put_flows(const struct lb_policy_engine *,
                         struct lb_flow_table *);

/* A port's isolation: whether some policy selects it for ingress and for
 * egress.  Either makes its traffic go through conntrack. */
void lb_policy_port_isolation(const struct lb_policy_engine *,
                              const char *port_name, bool *ingress,
                              bool *egress);
bool lb_policy_port_isolated(const struct lb_policy_engine *,
                             const char *port_name);

/* Per-port flows of a port bound here, through ofport 'ofport' (also its
 * conntrack zone). */
void lb_policy_local_port_flows(const struct lb_policy_engine *,
                                const struct lb_port *, unsigned int ofport,
                                struct lb_flow_table *);

void lb_policy_put_into_zone(struct ds *actions, unsigned int ofport,
                             uint8_t next_table);

/* The endpoints of the model's ports, from the cluster's objects
 * (policy-derive.c): for 'ports' only, or (NULL) all of them, removing
 * those of ports gone from the model. */
void lb_policy_sync_endpoints(struct lb_policy_engine *,
                              const struct lb_cluster *,
                              const struct lb_model *,
                              const struct sset *ports);
void lb_policy_endpoint_names(const struct lb_policy_engine *,
                              struct sset *);

/* Conntrack handover of a migrating port (policy-handover.c). */
void lb_policy_handover_flows(const struct lb_policy_engine *,
                              const struct lb_port *, uint32_t switch_key,
                              unsigned int ofport, const char *chassis,
                              const struct simap *tunnel_ofports,
                              struct lb_flow_table *);
const char *lb_policy_blocked_delivery(const struct lb_policy_engine *,
                                       const struct lb_port *);

/* The policies that select a port, one a line, for livebind-ctl. */
void lb_policy_format_port(const struct lb_policy_engine *,
                           const char *port_name, struct ds *);
void lb_policy_format_stats(const struct lb_policy_engine *, struct ds *);
size_t lb_policy_count(const struct lb_policy_engine *);
uint64_t lb_policy_compiles(const struct lb_policy_engine *);

#endif /* lib/policy.h */
