/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's Kubernetes side: one watch per kind of object livebind uses,
 * a cache of the parsed objects, and the model derived from them. */

#include <config.h>
#include "agent.h"
#include "agent-private.h"

#include <string.h>
#include "derive.h"
#include "ipam.h"
#include "pipeline.h"
#include "k8s-client.h"
#include "k8s-config.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "unixctl.h"
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

/* Notes which ports an object of 'kind' named 'ns'/'name' bears on, as it
 * is now in the cache: called before and after each change, so that both
 * the old and the new version count. */
static void
mark_dirty(struct lb_agent *agent, enum lb_kind kind, const char *ns,
           const char *name)
{
    switch (kind) {
    case LB_KIND_NODE:
    case LB_KIND_LOGICAL_SWITCH:
    case LB_N_KINDS:
        agent->full_derive = true;
        break;
    case LB_KIND_POD: {
        const struct lb_pod *pod = lb_cluster_find_pod(&agent->cluster, ns,
                                                       name);
        if (pod && lb_pod_logical_port_name(pod)) {
            sset_add(&agent->dirty_ports, lb_pod_logical_port_name(pod));
        }
        break;
    }
    case LB_KIND_VMI:
    case LB_KIND_LOGICAL_PORT:
        if (ns) {
            sset_add_and_free(&agent->dirty_ports,
                              lb_ipam_port_name(ns, name));
        }
        break;
    case LB_KIND_VMIM: {
        const struct lb_vmim *vmim = lb_cluster_find_vmim(&agent->cluster,
                                                          ns, name);
        if (vmim && vmim->vmi_name) {
            sset_add_and_free(&agent->dirty_ports,
                              lb_ipam_port_name(ns, vmim->vmi_name));
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
    struct lb_agent_k8s_watch *w = aux;
    struct lb_agent *agent = w->agent;
    bool changed = false;

    if (change != K8S_CHANGE_SYNCED) {
        mark_dirty(agent, w->kind, ns, name);
    }
    switch (change) {
    case K8S_CHANGE_UPSERT: {
        char *error = lb_cluster_upsert_json(&agent->cluster, w->kind,
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
        changed = lb_cluster_remove(&agent->cluster, w->kind, ns, name);
        break;
    case K8S_CHANGE_SYNCED:
        if (!w->synced) {
            VLOG_INFO("%s: synced (%"PRIuSIZE" objects)",
                      lb_kind_to_string(w->kind),
                      lb_cluster_count(&agent->cluster, w->kind));
        }
        w->synced = true;
        agent->full_derive = true;
        changed = true;
        break;
    }
    if (change != K8S_CHANGE_SYNCED) {
        mark_dirty(agent, w->kind, ns, name);
    }
    if (changed) {
        agent->cluster_changed = true;
    }
}

char *
lb_agent_k8s_start(struct lb_agent *agent, const struct lb_agent_config *cfg)
{
    struct k8s_config *kcfg;
    char *error = NULL;

    if (k8s_config_load(cfg->kubeconfig, cfg->k8s_server, &kcfg, &error)) {
        return error ? error : xstrdup("no Kubernetes configuration");
    }
    agent->k8s = k8s_client_create(kcfg, NULL);
    k8s_config_destroy(kcfg);

    lb_cluster_init(&agent->cluster);
    agent->cluster.options.mirror = !cfg->no_mirror;
    lb_migration_table_init(&agent->migrations);
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        struct lb_agent_k8s_watch *w = &agent->watches[kind];
        w->agent = agent;
        w->kind = kind;
        w->watch = k8s_watch_create(agent->k8s, watch_paths[kind], NULL,
                                    NULL, watch_cb, w);
    }
    VLOG_INFO("watching the Kubernetes API at %s",
              k8s_client_server(agent->k8s));
    return NULL;
}

void
lb_agent_k8s_stop(struct lb_agent *agent)
{
    if (!agent->k8s) {
        return;
    }
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        k8s_watch_destroy(agent->watches[kind].watch);
    }
    k8s_client_destroy(agent->k8s);
    agent->k8s = NULL;
    lb_cluster_destroy(&agent->cluster);
    lb_migration_table_destroy(&agent->migrations);
}

/* True once every collection has been listed: a model derived earlier would
 * lack objects, and its flows would remove what the switch rightly has. */
bool
lb_agent_k8s_synced(const struct lb_agent *agent)
{
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        if (!agent->watches[kind].synced) {
            return false;
        }
    }
    return true;
}

/* Unblocks, in 'model', the ports this agent activated itself and the API
 * does not show as activated yet. */
static void
apply_local_activations(struct lb_agent *agent, struct lb_model *model)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &agent->local_activations) {
        struct lb_port *port = lb_model_find_port(model, node->name);
        if (!port || !port->additional_chassis
            || strcmp(port->additional_chassis, agent->chassis)) {
            /* The migration moved on (completed or rolled back): the API's
             * view is authoritative again. */
            free(shash_steal(&agent->local_activations, node));
            continue;
        }
        port->additional_blocked = false;
    }
}

/* Derives the whole model again. */
static void
derive_all(struct lb_agent *agent)
{
    struct lb_model model;
    lb_model_init(&model);
    lb_derive_model(&agent->cluster, &model);
    apply_local_activations(agent, &model);
    lb_agent_set_model(agent, &model);
    lb_model_destroy(&model);
    lb_derive_migrations(&agent->cluster, &agent->migrations,
                         time_wall_msec());
}

/* Derives again only the ports that changed objects bear on, and updates
 * their flows.  Returns false if that cannot be done port by port. */
static bool
derive_dirty(struct lb_agent *agent)
{
    struct port_was {
        uint32_t key;
        char *switch_name;
    };
    size_t n = sset_count(&agent->dirty_ports);
    struct port_was *was = xcalloc(n ? n : 1, sizeof *was);
    const char *name;
    size_t i = 0;
    SSET_FOR_EACH (name, &agent->dirty_ports) {
        const struct lb_port *port = lb_model_find_port(&agent->model, name);
        was[i].key = port ? port->key : 0;
        was[i].switch_name = port ? xstrdup(port->switch_name) : NULL;
        i++;
    }

    bool ok = lb_derive_ports(&agent->cluster, &agent->dirty_ports,
                              &agent->model);
    if (ok) {
        apply_local_activations(agent, &agent->model);
        struct lb_pipeline_ctx ctx;
        lb_agent_pipeline_ctx(agent, &ctx);
        i = 0;
        SSET_FOR_EACH (name, &agent->dirty_ports) {
            lb_pipeline_update_port(&ctx, name, was[i].key,
                                    was[i].switch_name, &agent->flows);
            i++;
        }
        agent->flows_seqno++;
        lb_derive_migrations_of(&agent->cluster, &agent->dirty_ports,
                                &agent->migrations, time_wall_msec());
    }
    for (i = 0; i < n; i++) {
        free(was[i].switch_name);
    }
    free(was);
    return ok;
}

void
lb_agent_k8s_run(struct lb_agent *agent)
{
    if (!agent->k8s) {
        return;
    }
    k8s_client_run(agent->k8s);
    if (!agent->cluster_changed || !lb_agent_k8s_synced(agent)) {
        return;
    }
    agent->cluster_changed = false;

    long long int start = time_usec();
    bool full = agent->full_derive || agent->model_changed;
    if (full || !derive_dirty(agent)) {
        derive_all(agent);
        full = true;
    }
    agent->last_derive_usec = time_usec() - start;
    VLOG_DBG("derived %s in %lld us", full ? "the model"
             : "the changed ports", agent->last_derive_usec);
    lb_agent_migration_derived(agent, full ? NULL : &agent->dirty_ports);
    sset_clear(&agent->dirty_ports);
    agent->full_derive = false;
}

void
lb_agent_k8s_wait(struct lb_agent *agent)
{
    if (agent->k8s) {
        k8s_client_wait(agent->k8s);
    }
}

static void
cmd_k8s(struct unixctl_conn *conn, int argc OVS_UNUSED,
        const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "last derivation of the model: %lld us\n",
                  agent->last_derive_usec);
    k8s_client_format_status(agent->k8s, &s);
    for (int kind = 0; kind < LB_N_KINDS; kind++) {
        ds_put_format(&s, "%s: %"PRIuSIZE" cached%s\n",
                      lb_kind_to_string(kind),
                      lb_cluster_count(&agent->cluster, kind),
                      agent->watches[kind].synced ? "" : " (not synced)");
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_migrations(struct unixctl_conn *conn, int argc, const char *argv[],
               void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    bool verbose = argc > 1 && !strcmp(argv[1], "-v");
    lb_migration_table_format(&agent->migrations, verbose, &s);
    lb_agent_migration_format(agent, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_explain(struct unixctl_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    struct lb_model model;
    lb_model_init(&model);
    lb_derive_model_explain(&agent->cluster, &model, &s);
    lb_model_destroy(&model);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

void
lb_agent_k8s_register_commands(struct lb_agent *agent)
{
    if (agent->k8s) {
        unixctl_command_register("k8s", "", 0, 0, cmd_k8s, agent);
        unixctl_command_register("migrations", "[-v]", 0, 1, cmd_migrations,
                                 agent);
        unixctl_command_register("explain", "", 0, 0, cmd_explain, agent);
    }
}

/* The ports' owners as recorded in the API, as Calico records a VM's
 * address handle: the active owner, and during a migration the alternate
 * one. */
void
lb_agent_format_owners(const struct lb_agent *agent, struct ds *s)
{
    const struct shash *ports = &agent->cluster.objects[LB_KIND_LOGICAL_PORT];
    const struct shash_node **nodes = shash_sort(ports);

    ds_put_cstr(s, "\nowners:\n");
    for (size_t i = 0; i < shash_count(ports); i++) {
        const struct lb_logical_port *lp = nodes[i]->data;
        ds_put_format(s, "%s active=%s@%s", lp->port_name,
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
