/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's Kubernetes objects (agent-k8s.h).
 *
 * Owns the watches (one per kind of object livebind uses, on the core's
 * client), the cache of parsed objects ('struct lb_cluster'), and the
 * record of what changed since the core last derived the model from it:
 * whether anything did, the ports that changed objects bear on, and
 * whether only a full derivation will do.  Writes nothing. */

#include <config.h>
#include "agent-k8s.h"

#include <stddef.h>
#include <string.h>
#include "derive.h"
#include "ipam.h"
#include "k8s-client.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "policy.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_k8s);

/* The collections livebind watches, by kind. */
static const char *const watch_paths[LB_N_KINDS] = {
    [LB_KIND_POD] = "/api/v1/pods",
    [LB_KIND_NODE] = "/api/v1/nodes",
    [LB_KIND_VMI] = "/apis/kubevirt.io/v1/virtualmachineinstances",
    [LB_KIND_VMIM] = "/apis/kubevirt.io/v1/virtualmachineinstancemigrations",
    [LB_KIND_LOGICAL_SWITCH] = "/apis/livebind.io/v1alpha1/logicalswitches",
    [LB_KIND_LOGICAL_PORT] = "/apis/livebind.io/v1alpha1/logicalports",
};

struct k8s_part_watch {
    struct lb_agent_k8s *k8s;
    enum lb_kind kind;
    struct k8s_watch *watch;
    bool synced;                /* Listed at least once. */
};

/* NetworkPolicies and Namespaces go straight into the policy engine,
 * which is their cache (lib/policy.h). */
enum policy_kind {
    POLICY_KIND_NETWORK_POLICY,
    POLICY_KIND_NAMESPACE,
    N_POLICY_KINDS
};

static const char *const policy_watch_paths[N_POLICY_KINDS] = {
    [POLICY_KIND_NETWORK_POLICY]
        = "/apis/networking.k8s.io/v1/networkpolicies",
    [POLICY_KIND_NAMESPACE] = "/api/v1/namespaces",
};

static const char *const policy_kind_names[N_POLICY_KINDS] = {
    [POLICY_KIND_NETWORK_POLICY] = "NetworkPolicy",
    [POLICY_KIND_NAMESPACE] = "Namespace",
};

struct policy_watch {
    struct lb_agent_k8s *k8s;
    enum policy_kind kind;
    struct k8s_watch *watch;
    bool synced;
};

struct lb_agent_k8s {
    struct k8s_client *client;  /* The core's. */
    struct k8s_part_watch watches[LB_N_KINDS];
    struct policy_watch policy_watches[N_POLICY_KINDS];
    struct lb_policy_engine *policy;
    struct lb_cluster cluster;
    bool cluster_changed;       /* Derive the model again. */
    bool full_derive;           /* All of it, not just 'dirty_ports'. */
    struct sset dirty_ports;    /* Ports that changed objects bear on. */
};

/* Notes which ports an object of 'kind' named 'ns'/'name' bears on, as it
 * is now in the cache: called before and after each change, so that both
 * the old and the new version count. */
static void
mark_dirty(struct lb_agent_k8s *k8s, enum lb_kind kind, const char *ns,
           const char *name)
{
    switch (kind) {
    case LB_KIND_NODE:
    case LB_KIND_LOGICAL_SWITCH:
    case LB_N_KINDS:
        k8s->full_derive = true;
        break;
    case LB_KIND_POD: {
        const struct lb_pod *pod = lb_cluster_find_pod(&k8s->cluster, ns,
                                                       name);
        for (size_t i = 0; pod && i < lb_pod_n_port_names(pod); i++) {
            sset_add(&k8s->dirty_ports, lb_pod_port_name_at(pod, i));
        }
        break;
    }
    case LB_KIND_LOGICAL_PORT:
        if (ns) {
            sset_add_and_free(&k8s->dirty_ports,
                              lb_ipam_port_name(ns, name));
        }
        break;
    case LB_KIND_VMI:
        /* Every NIC's port of the VM. */
        if (ns) {
            lb_cluster_vm_port_names(&k8s->cluster, ns, name,
                                     &k8s->dirty_ports);
        }
        break;
    case LB_KIND_VMIM: {
        const struct lb_vmim *vmim = lb_cluster_find_vmim(&k8s->cluster,
                                                          ns, name);
        if (vmim && vmim->vmi_name) {
            lb_cluster_vm_port_names(&k8s->cluster, ns, vmim->vmi_name,
                                     &k8s->dirty_ports);
        }
        break;
    }
    }
}

static void
watch_cb(void *aux, enum k8s_change change, const char *ns, const char *name,
         const json_t *object)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 20);
    struct k8s_part_watch *w = aux;
    struct lb_agent_k8s *k8s = w->k8s;
    bool changed = false;

    if (change != K8S_CHANGE_SYNCED) {
        mark_dirty(k8s, w->kind, ns, name);
    }
    switch (change) {
    case K8S_CHANGE_UPSERT: {
        char *error = lb_cluster_upsert_json(&k8s->cluster, w->kind,
                                             object, &changed);
        if (error) {
            /* A bad object is ignored (and the cache keeps its previous
             * version), so one broken object cannot stop the node. */
            VLOG_WARN_RL(&rl, "%s %s%s%s: ignored: %s",
                         lb_kind_to_string(w->kind), ns ? ns : "",
                         ns ? "/" : "", name, error);
            free(error);
        }
        break;
    }
    case K8S_CHANGE_REMOVE:
        changed = lb_cluster_remove(&k8s->cluster, w->kind, ns, name);
        break;
    case K8S_CHANGE_SYNCED:
        if (!w->synced) {
            VLOG_INFO("%s: synced (%"PRIuSIZE" objects)",
                      lb_kind_to_string(w->kind),
                      lb_cluster_count(&k8s->cluster, w->kind));
        }
        w->synced = true;
        k8s->full_derive = true;
        changed = true;
        break;
    }
    if (change != K8S_CHANGE_SYNCED) {
        mark_dirty(k8s, w->kind, ns, name);
    }
    if (changed) {
        k8s->cluster_changed = true;
    }
}

static void
policy_watch_cb(void *aux, enum k8s_change change, const char *ns,
                const char *name, const json_t *object)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 20);
    struct policy_watch *w = aux;
    struct lb_agent_k8s *k8s = w->k8s;
    bool changed = false;
    char *error = NULL;

    switch (change) {
    case K8S_CHANGE_UPSERT:
        if (w->kind == POLICY_KIND_NETWORK_POLICY) {
            struct lb_network_policy *np;
            error = lb_network_policy_from_json(object, &np);
            if (!error) {
                changed = lb_policy_set_policy(k8s->policy, np);
            } else if (ns && name) {
                /* A policy that cannot be read is dropped whole rather
                 * than kept as it was: its author changed it, and half of
                 * it could admit what the whole denies.  Its pods stay
                 * isolated by the others; say so loudly. */
                changed = lb_policy_remove_policy(k8s->policy, ns, name);
            }
        } else {
            struct lb_namespace *n;
            error = lb_namespace_from_json(object, &n);
            if (!error) {
                changed = lb_policy_set_namespace(k8s->policy, n);
            }
        }
        break;
    case K8S_CHANGE_REMOVE:
        changed = (w->kind == POLICY_KIND_NETWORK_POLICY
                   ? ns && lb_policy_remove_policy(k8s->policy, ns, name)
                   : lb_policy_remove_namespace(k8s->policy, name));
        break;
    case K8S_CHANGE_SYNCED:
        if (!w->synced) {
            VLOG_INFO("%s: synced", policy_kind_names[w->kind]);
        }
        w->synced = true;
        changed = true;
        break;
    }
    if (error) {
        VLOG_WARN_RL(&rl, "%s: ignored: %s", policy_kind_names[w->kind],
                     error);
        free(error);
    }
    if (changed) {
        k8s->cluster_changed = true;
    }
}

/* Starts watching, on 'client', every kind of object livebind uses.
 * 'mirror' is the derivation's option (see derive.h). */
struct lb_agent_k8s *
lb_agent_k8s_create(struct k8s_client *client, bool mirror)
{
    struct lb_agent_k8s *k8s = xzalloc(sizeof *k8s);
    k8s->client = client;
    lb_cluster_init(&k8s->cluster);
    k8s->cluster.options.mirror = mirror;
    sset_init(&k8s->dirty_ports);
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        struct k8s_part_watch *w = &k8s->watches[kind];
        w->k8s = k8s;
        w->kind = kind;
        w->watch = k8s_watch_create(client, watch_paths[kind], NULL, NULL,
                                    watch_cb, w);
    }
    k8s->policy = lb_policy_engine_create();
    for (int kind = 0; kind < N_POLICY_KINDS; kind++) {
        struct policy_watch *w = &k8s->policy_watches[kind];
        w->k8s = k8s;
        w->kind = kind;
        w->watch = k8s_watch_create(client, policy_watch_paths[kind], NULL,
                                    NULL, policy_watch_cb, w);
    }
    VLOG_INFO("watching the Kubernetes API at %s",
              k8s_client_server(client));
    return k8s;
}

/* Call before destroying the client. */
void
lb_agent_k8s_destroy(struct lb_agent_k8s *k8s)
{
    if (k8s) {
        for (int kind = 0; kind < LB_N_KINDS; kind++) {
            k8s_watch_destroy(k8s->watches[kind].watch);
        }
        for (int kind = 0; kind < N_POLICY_KINDS; kind++) {
            k8s_watch_destroy(k8s->policy_watches[kind].watch);
        }
        lb_policy_engine_destroy(k8s->policy);
        lb_cluster_destroy(&k8s->cluster);
        sset_destroy(&k8s->dirty_ports);
        free(k8s);
    }
}

/* True once every collection has been listed: a model derived earlier would
 * lack objects, and its flows would remove what the switch rightly has. */
bool
lb_agent_k8s_synced(const struct lb_agent_k8s *k8s)
{
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        if (!k8s->watches[kind].synced) {
            return false;
        }
    }
    /* Policies too: flows derived without them would leave policed ports
     * open until they came. */
    for (int kind = 0; kind < N_POLICY_KINDS; kind++) {
        if (!k8s->policy_watches[kind].synced) {
            return false;
        }
    }
    return true;
}

const struct lb_cluster *
lb_agent_k8s_cluster(const struct lb_agent_k8s *k8s)
{
    return &k8s->cluster;
}

/* The policy engine, fed by the NetworkPolicy and Namespace watches; the
 * core adds the endpoints and runs it. */
struct lb_policy_engine *
lb_agent_k8s_policy(struct lb_agent_k8s *k8s)
{
    return k8s->policy;
}

/* Whether the cache changed in a way that bears on the model. */
bool
lb_agent_k8s_changed(const struct lb_agent_k8s *k8s)
{
    return k8s->cluster_changed;
}

/* Whether the changes bear on more than the ports in
 * lb_agent_k8s_dirty_ports() (nodes, switches, a new listing). */
bool
lb_agent_k8s_needs_full(const struct lb_agent_k8s *k8s)
{
    return k8s->full_derive;
}

const struct sset *
lb_agent_k8s_dirty_ports(const struct lb_agent_k8s *k8s)
{
    return &k8s->dirty_ports;
}

void
lb_agent_k8s_clear_changes(struct lb_agent_k8s *k8s)
{
    k8s->cluster_changed = false;
    k8s->full_derive = false;
    sset_clear(&k8s->dirty_ports);
}

/* The client's state and each watch's. */
void
lb_agent_k8s_format(const struct lb_agent_k8s *k8s, struct ds *s)
{
    k8s_client_format_status(k8s->client, s);
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        ds_put_format(s, "%s: %"PRIuSIZE" cached%s\n",
                      lb_kind_to_string(kind),
                      lb_cluster_count(&k8s->cluster, kind),
                      k8s->watches[kind].synced ? "" : " (not synced)");
    }
    for (int kind = 0; kind < N_POLICY_KINDS; kind++) {
        ds_put_format(s, "%s:%s\n", policy_kind_names[kind],
                      k8s->policy_watches[kind].synced ? " synced"
                      : " (not synced)");
    }
    lb_policy_format_stats(k8s->policy, s);
}

void
lb_agent_k8s_put_metrics(const struct lb_agent_k8s *k8s, struct ds *page)
{
    struct k8s_watch_stats stats[LB_N_KINDS];
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        k8s_watch_get_stats(k8s->watches[kind].watch, &stats[kind]);
    }
    static const struct {
        const char *name;
        const char *help;
        size_t offset;
    } counters[] = {
        { "livebind_k8s_lists_total", "Lists of a collection (the first, "
          "relists, and their pages' requests).",
          offsetof(struct k8s_watch_stats, n_lists) },
        { "livebind_k8s_relists_total", "Lists again after 410 Gone or an "
          "error.", offsetof(struct k8s_watch_stats, n_relists) },
        { "livebind_k8s_watch_events_total", "Watch events received.",
          offsetof(struct k8s_watch_stats, n_events) },
        { "livebind_k8s_watch_errors_total", "Failed list or watch "
          "requests.", offsetof(struct k8s_watch_stats, n_errors) },
    };
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
        lb_metrics_family(page, counters[i].name, LB_METRIC_COUNTER,
                          counters[i].help);
        for (int kind = 0; kind < LB_N_KINDS; kind++) {
            const char *labels[] = { "kind", lb_kind_to_string(kind), NULL };
            const unsigned long long int *n = (const void *)
                ((const char *) &stats[kind] + counters[i].offset);
            lb_metrics_sample(page, counters[i].name, labels, *n);
        }
    }

    const char *name = "livebind_k8s_watch_synced";
    lb_metrics_family(page, name, LB_METRIC_GAUGE,
                      "1 once the collection has been listed, else 0.");
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        const char *labels[] = { "kind", lb_kind_to_string(kind), NULL };
        lb_metrics_sample(page, name, labels, k8s->watches[kind].synced);
    }
    name = "livebind_k8s_objects";
    lb_metrics_family(page, name, LB_METRIC_GAUGE,
                      "Objects in the agent's cache.");
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        const char *labels[] = { "kind", lb_kind_to_string(kind), NULL };
        lb_metrics_sample(page, name, labels,
                          lb_cluster_count(&k8s->cluster, kind));
    }

    name = "livebind_network_policies";
    lb_metrics_family(page, name, LB_METRIC_GAUGE,
                      "NetworkPolicies compiled into this node's flows.");
    lb_metrics_sample(page, name, NULL, lb_policy_count(k8s->policy));
    name = "livebind_network_policy_compiles_total";
    lb_metrics_family(page, name, LB_METRIC_COUNTER,
                      "NetworkPolicies compiled, each time one was: what "
                      "the cluster's policy, pod and namespace changes "
                      "cost this node.");
    lb_metrics_sample(page, name, NULL, lb_policy_compiles(k8s->policy));
}

/* The ports' owners as recorded in the API, as Calico records a VM's
 * address handle: the active owner, and during a migration the alternate
 * one. */
void
lb_agent_k8s_format_owners(const struct lb_agent_k8s *k8s, struct ds *s)
{
    const struct shash *ports = &k8s->cluster.objects[LB_KIND_LOGICAL_PORT];
    const struct shash_node **nodes = shash_sort(ports);

    ds_put_cstr(s, "\nowners:\n");
    for (size_t i = 0; i < shash_count(ports); i++) {
        const struct lb_logical_port *lp = nodes[i]->data;
        /* Which NIC of which VM or pod (multinic.h). */
        ds_put_format(s, "%s %s=%s nic=%s active=%s@%s", lp->port_name,
                      lp->vm ? "vm" : "pod",
                      lp->vm ? lp->vm : lp->pod ? lp->pod : "-",
                      lp->interface ? lp->interface : LB_PRIMARY_IFNAME,
                      lp->active_pod ? lp->active_pod : "-",
                      lp->active_node ? lp->active_node : "-");
        if (lp->alternate_pod) {
            ds_put_format(s, " alternate=%s@%s (migration %s)",
                          lp->alternate_pod,
                          lp->alternate_node ? lp->alternate_node : "-",
                          lp->alternate_migration_uid
                          ? lp->alternate_migration_uid : "?");
        }
        if (lp->activation_node) {
            ds_put_format(s, " activated on %s (%s)", lp->activation_node,
                          lp->activation_cause ? lp->activation_cause : "");
        }
        ds_put_char(s, '\n');
    }
    free(nodes);
}
