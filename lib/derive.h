/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_DERIVE_H
#define LIVEBIND_DERIVE_H 1

/* The cluster objects livebind watches, and the model derived from them.
 *
 * struct lb_cluster caches the parsed objects of each kind by "ns/name"
 * (cluster-scoped kinds by "name").  Updates say whether anything livebind
 * uses changed, so that the caller recomputes only then.
 *
 * lb_derive_model() is a pure function of the cached objects: the same
 * objects, inserted in any order, give the same model.  It never depends on
 * having seen intermediate states (a restarted agent, or one that missed
 * watch events, computes the same bindings).  See derive.c for the rules. */

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "openvswitch/compiler.h"
#include "openvswitch/shash.h"
#include "k8s-objects.h"
#include "migration.h"

struct ds;
struct lb_model;
struct sset;

enum lb_kind {
    LB_KIND_POD,
    LB_KIND_NODE,
    LB_KIND_VMI,
    LB_KIND_VMIM,
    LB_KIND_LOGICAL_SWITCH,
    LB_KIND_LOGICAL_PORT,
    LB_N_KINDS
};

const char *lb_kind_to_string(enum lb_kind);
bool lb_kind_from_string(const char *, enum lb_kind *);

struct lb_derive_options {
    bool mirror;        /* Migrating ports' traffic goes to both copies. */
};

/* Besides the objects, the cache indexes what derivation looks objects up
 * by, so that deriving one port costs the objects that bear on it, not a
 * walk over every pod (tens of thousands) or VMIM.  Each index maps a name
 * to the sset of the keys (in 'objects') of the objects that bear it, and
 * is kept in step by every update. */
struct lb_cluster {
    struct shash objects[LB_N_KINDS];   /* Key "ns/name" or "name". */
    struct shash pods_by_port;  /* Logical port name -> pod keys. */
    struct shash vmims_by_vm;   /* "ns/vmiName" -> VMIM keys. */
    struct shash ports_by_vm;   /* "ns/vm" -> LogicalPort keys. */
    struct lb_derive_options options;
};

void lb_cluster_init(struct lb_cluster *);
void lb_cluster_destroy(struct lb_cluster *);
void lb_cluster_clear(struct lb_cluster *);

/* Updates from JSON (watch events, list items). */
char *lb_cluster_upsert_json(struct lb_cluster *, enum lb_kind,
                             const json_t *, bool *changed)
    OVS_WARN_UNUSED_RESULT;
char *lb_cluster_remove_json(struct lb_cluster *, enum lb_kind,
                             const json_t *, bool *changed)
    OVS_WARN_UNUSED_RESULT;
char *lb_cluster_replace_json(struct lb_cluster *, enum lb_kind,
                              const json_t *items, bool *changed)
    OVS_WARN_UNUSED_RESULT;

/* Updates from parsed objects: take ownership, return true if changed. */
bool lb_cluster_upsert_pod(struct lb_cluster *, struct lb_pod *);
bool lb_cluster_upsert_node(struct lb_cluster *, struct lb_node *);
bool lb_cluster_upsert_vmi(struct lb_cluster *, struct lb_vmi *);
bool lb_cluster_upsert_vmim(struct lb_cluster *, struct lb_vmim *);
bool lb_cluster_upsert_logical_switch(struct lb_cluster *,
                                      struct lb_logical_switch *);
bool lb_cluster_upsert_logical_port(struct lb_cluster *,
                                    struct lb_logical_port *);
bool lb_cluster_remove(struct lb_cluster *, enum lb_kind, const char *ns,
                       const char *name);

/* Lookups ('ns' is ignored for cluster-scoped kinds). */
const struct lb_pod *lb_cluster_find_pod(const struct lb_cluster *,
                                         const char *ns, const char *name);
const struct lb_node *lb_cluster_find_node(const struct lb_cluster *,
                                           const char *name);
const struct lb_vmi *lb_cluster_find_vmi(const struct lb_cluster *,
                                         const char *ns, const char *name);
const struct lb_vmim *lb_cluster_find_vmim(const struct lb_cluster *,
                                           const char *ns, const char *name);
const struct lb_logical_switch *lb_cluster_find_logical_switch(
    const struct lb_cluster *, const char *name);
const struct lb_logical_port *lb_cluster_find_logical_port(
    const struct lb_cluster *, const char *ns, const char *name);
const struct lb_logical_port *lb_cluster_find_logical_port_by_port_name(
    const struct lb_cluster *, const char *port_name);
size_t lb_cluster_count(const struct lb_cluster *, enum lb_kind);
void lb_cluster_vm_port_names(const struct lb_cluster *, const char *ns,
                              const char *vm, struct sset *port_names);

/* A port's MAC and IPv6 addresses, when the object leaves them out. */
bool lb_logical_port_mac(const struct lb_logical_port *, struct eth_addr *);
size_t lb_logical_port_ipv6(const struct lb_logical_port *,
                            const struct in6_addr *prefix6, struct eth_addr,
                            struct in6_addr addrs[LB_MAX_IPS]);

/* Derivation. */
bool lb_pod_may_bind(const struct lb_cluster *, const struct lb_pod *,
                     const struct lb_logical_port *);
void lb_derive_model(const struct lb_cluster *, struct lb_model *);
void lb_derive_model_explain(const struct lb_cluster *, struct lb_model *,
                             struct ds *notes);
void lb_derive_migration_facts(const struct lb_cluster *,
                               const struct lb_logical_port *,
                               struct lb_migration_facts *);
bool lb_derive_migrations(const struct lb_cluster *,
                          struct lb_migration_table *, long long int now);

/* Incremental: only the named ports. */
bool lb_derive_ports(const struct lb_cluster *, const struct sset *ports,
                     struct lb_model *);
bool lb_derive_migrations_of(const struct lb_cluster *,
                             const struct sset *ports,
                             struct lb_migration_table *,
                             long long int now);

#endif /* lib/derive.h */
