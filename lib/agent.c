/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent core.
 *
 * Owns the loop and the state: the model, the desired flows, the
 * connections to the switch (OVSDB: ovs-bridge.c; OpenFlow: ofctrl.c) and
 * to the Kubernetes API (k8s-client.c), and the parts, which it alone
 * calls, and which never call one another (agent-view.h):
 *
 *   agent-k8s.c        Kubernetes objects: watches, cache, what changed
 *   agent-cni.c        CNI requests: pods plumbed onto their ports
 *   agent-migration.c  activation on a VM's announcement; migrations' logs
 *                      and outcomes
 *   agent-ra.c         IPv6 router advertisements of the switches' gateways
 *   agent-writes.c     every write to the Kubernetes API
 *
 * Data flows one way, top to bottom of lb_agent_run(): objects -> cache
 * (agent-k8s.c) -> derived model (derive.c, here) -> desired flows
 * (pipeline.c, here) -> ofctrl -> OVS.  Packet-ins and CNI requests come in
 * at the side; what the parts want written to the API goes out through the
 * writer, and the outcomes the CNI part awaits come back through here.
 * The metrics endpoint, when configured, asks the core for a page, which
 * the core assembles from its own state and each part's. */

#include <config.h>
#include "agent.h"

#include <errno.h>
#include <string.h>
#include "agent-admit.h"
#include "agent-svc-ct.h"
#include "agent-cni.h"
#include "agent-k8s.h"
#include "agent-migration.h"
#include "agent-ra.h"
#include "agent-view.h"
#include "agent-writes.h"
#include "cookie.h"
#include "derive.h"
#include "dirs.h"
#include "flow-table.h"
#include "incremental-check.h"
#include "k8s-client.h"
#include "k8s-config.h"
#include "metrics.h"
#include "metrics-server.h"
#include "model.h"
#include "ofctrl.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/vlog.h"
#include "gateway-host.h"
#include "egress-gateway.h"
#include "egress-gateway-host.h"
#include "ovs-bridge.h"
#include "process-metrics.h"
#include "simap.h"
#include "pipeline.h"
#include "port-gate.h"
#include "openvswitch/poll-loop.h"
#include "policy.h"
#include "policy-admit.h"
#include "sset.h"
#include "svec.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent);

struct lb_agent {
    char *chassis;
    char *model_file;

    struct lb_model model;
    bool model_changed;         /* Recompute at the next run. */
    uint64_t bridge_seqno;      /* ovs_bridge_seqno() last computed at. */

    struct lb_flow_table flows; /* Desired. */
    uint64_t flows_seqno;       /* Bumped at each change of 'flows'. */
    long long int last_compute_usec;
    long long int last_update_usec;
    long long int last_derive_usec;

    struct ovs_bridge *bridge;
    struct ofctrl *ofctrl;

    /* Kubernetes mode (no model file). */
    struct k8s_client *k8s;
    struct lb_agent_k8s *objects;
    struct lb_agent_writes *writes;
    struct ovs_list outbox;     /* "struct lb_write"s the parts ask for. */
    struct lb_agent_cni *cni;   /* NULL without a CNI socket. */

    struct lb_agent_migration *migration;
    struct lb_agent_ra *ra;             /* Router advertisements. */
    struct lb_agent_view view;  /* What the parts read. */

    struct lb_metrics_server *metrics;  /* NULL: not configured. */
    bool ct_handover;           /* Conntrack handover (policy-handover.c). */
    struct simap ct_zones;      /* Policed local port -> its conntrack zone
                                 * (ofport), as of 'zones_seqno'. */
    uint64_t zones_seqno;       /* 'flows_seqno' 'ct_zones' is of. */
    uint64_t n_zone_flushes;
    struct shash handovers;     /* Port name -> struct handover. */
    struct lb_agent_admit *admit;   /* Idle connections (agent-admit.c). */
    struct lb_agent_svc_ct *svc_ct; /* Service handover (agent-svc-ct.c);
                                     * NULL: off. */
    long long int next_handover_poll;
    bool handover_polling;      /* A port is a migration target here. */
    long long int last_compute_wall;    /* Time of the last full compute. */

    /* The distributed gateway's port (gateway-host.c); NULL: none.  Its
     * host end is checked after each full compute and every few seconds
     * (a restarted ovs-vswitchd makes it anew). */
    char *gateway_port;
    long long int gateway_next_sync;    /* Monotonic msec; 0: now. */

    /* The gates of this node's blocked copies (port-gate.h); NULL: off. */
    struct port_gates *gates;
    bool gates_scanned;         /* The gates a predecessor left are known. */
    struct sset gated_ports;    /* Port names behind a closed gate, as the
                                 * flows were last computed with. */
    uint64_t gates_flows_seqno; /* 'flows_seqno' and the installed seqno */
    uint64_t gates_installed;   /* the gates were last synced at. */

    /* The egress gateway (egress-gateway.c), with the gateway port: the
     * plan last derived (for status and to log a change once; never an
     * input to the next one) and how many writes the host needed. */
    struct lb_egress_plan egress;
    unsigned int egress_writes;

    /* --check-incremental (incremental-check.h). */
    bool check_incremental;
    uint64_t checked_seqno;     /* 'flows_seqno' last checked. */
    uint64_t n_checks;          /* Incremental updates checked, */
    uint64_t n_check_failures;  /* and those a full one contradicted. */
};

static lb_metrics_render_cb agent_put_metrics;

static ofctrl_packet_in_cb agent_packet_in;
static bool agent_unblock(struct lb_agent *, const struct svec *);
static void agent_takeovers_run(struct lb_agent *);
static ofctrl_aggregate_cb agent_handover_count;

/* Connects to the Kubernetes API and starts the parts that need it. */
static char *
agent_k8s_start(struct lb_agent *agent, const struct lb_agent_config *cfg)
{
    struct k8s_config *kcfg;
    char *error = NULL;

    if (k8s_config_load(cfg->kubeconfig, cfg->k8s_server, &kcfg, &error)) {
        return error ? error : xstrdup("no Kubernetes configuration");
    }
    agent->k8s = k8s_client_create(kcfg, NULL);
    k8s_config_destroy(kcfg);

    agent->objects = lb_agent_k8s_create(agent->k8s, !cfg->no_mirror);
    agent->ct_handover = !cfg->no_ct_handover;
    agent->writes = lb_agent_writes_create(agent->k8s, agent->chassis);
    agent->view.cluster = lb_agent_k8s_cluster(agent->objects);
    return (cfg->cni_socket
            ? lb_agent_cni_create(&agent->view, cfg->cni_socket, &agent->cni)
            : NULL);
}

struct lb_agent *
lb_agent_create(const struct lb_agent_config *cfg, char **errorp)
{
    *errorp = NULL;
    if (!cfg->chassis || !cfg->chassis[0]) {
        *errorp = xstrdup("the node (chassis) name is required");
        return NULL;
    }

    struct smap mappings = SMAP_INITIALIZER(&mappings);
    if (cfg->bridge_mappings) {
        *errorp = ovs_bridge_parse_mappings(cfg->bridge_mappings, &mappings);
        if (*errorp) {
            smap_destroy(&mappings);
            return NULL;
        }
    }

    struct lb_agent *agent = xzalloc(sizeof *agent);
    agent->chassis = xstrdup(cfg->chassis);
    agent->model_file = nullable_xstrdup(cfg->model_file);
    lb_model_init(&agent->model);
    lb_flow_table_init(&agent->flows);
    simap_init(&agent->ct_zones);
    shash_init(&agent->handovers);
    lb_flow_table_set_tracking(&agent->flows, true);
    agent->model_changed = true;    /* Nothing computed yet. */
    agent->check_incremental = cfg->check_incremental;
    ovs_list_init(&agent->outbox);

    const char *bridge = cfg->bridge ? cfg->bridge : "br-int";
    struct ovs_bridge_config bcfg = {
        .db_remote = cfg->db_remote,
        .bridge = bridge,
        .datapath_type = cfg->datapath_type ? cfg->datapath_type : "system",
        .chassis = cfg->chassis,
        .bridge_mappings = &mappings,
        .gateway_port = cfg->gateway_port,
    };
    agent->gateway_port = nullable_xstrdup(cfg->gateway_port);
    agent->bridge = ovs_bridge_create(&bcfg);
    smap_destroy(&mappings);

    char *target = (cfg->openflow_target
                    ? xstrdup(cfg->openflow_target)
                    : xasprintf("unix:%s/%s.mgmt", ovs_rundir(), bridge));
    agent->ofctrl = ofctrl_create(target, agent_packet_in, agent);
    ofctrl_set_aggregate_cb(agent->ofctrl, agent_handover_count, agent);
    free(target);

    agent->view = (struct lb_agent_view) {
        .chassis = agent->chassis,
        .model = &agent->model,
        .flows_seqno = &agent->flows_seqno,
        .bridge = agent->bridge,
        .ofctrl = agent->ofctrl,
        .writes = &agent->outbox,
    };
    agent->migration = lb_agent_migration_create(&agent->view);
    agent->ra = lb_agent_ra_create(&agent->view);
    sset_init(&agent->gated_ports);
    if (!cfg->no_port_gate) {
        agent->gates = port_gates_create(!cfg->no_self_activation);
    }
    agent->admit = lb_agent_admit_create(&agent->view, NULL);
    if (cfg->gateway_port && !cfg->no_svc_ct_handover) {
        agent->svc_ct = lb_agent_svc_ct_create(&agent->view);
    }

    char *error = (agent->model_file
                   ? lb_agent_reload_model(agent)
                   : agent_k8s_start(agent, cfg));
    if (!error && cfg->metrics_address) {
        error = lb_metrics_server_create(cfg->metrics_address,
                                         agent_put_metrics, agent,
                                         &agent->metrics);
        if (!error) {
            VLOG_INFO("serving metrics on %s, port %"PRIu16,
                      cfg->metrics_address,
                      lb_metrics_server_port(agent->metrics));
        }
    }
    if (error) {
        *errorp = error;
        lb_agent_destroy(agent);
        return NULL;
    }
    return agent;
}

void
lb_agent_destroy(struct lb_agent *agent)
{
    if (agent) {
        lb_metrics_server_destroy(agent->metrics);
        lb_agent_cni_destroy(agent->cni);
        lb_agent_migration_destroy(agent->migration);
        lb_agent_ra_destroy(agent->ra);
        lb_agent_admit_destroy(agent->admit);
        lb_agent_svc_ct_destroy(agent->svc_ct);
        /* The client goes, with every request in flight: what the parts
         * still asked for, cancellations included, is moot. */
        struct lb_write *w;
        LIST_FOR_EACH_POP (w, list_node, &agent->outbox) {
            lb_write_destroy(w);
        }
        lb_agent_k8s_destroy(agent->objects);
        k8s_client_destroy(agent->k8s);
        lb_agent_writes_destroy(agent->writes);
        ofctrl_destroy(agent->ofctrl);
        ovs_bridge_destroy(agent->bridge);
        lb_flow_table_destroy(&agent->flows);
        simap_destroy(&agent->ct_zones);
        port_gates_destroy(agent->gates);
        sset_destroy(&agent->gated_ports);
        shash_destroy_free_data(&agent->handovers);
        lb_model_destroy(&agent->model);
        lb_egress_plan_destroy(&agent->egress);
        free(agent->chassis);
        free(agent->gateway_port);
        free(agent->model_file);
        free(agent);
    }
}

/* Re-reads the model file.  On error the current model stays. */
char *
lb_agent_reload_model(struct lb_agent *agent)
{
    if (!agent->model_file) {
        return xstrdup("no model file configured");
    }
    struct lb_model model;
    lb_model_init(&model);
    char *error = lb_model_from_json_file(agent->model_file, &model);
    if (error) {
        lb_model_destroy(&model);
        return error;
    }
    VLOG_INFO("model loaded from %s: %"PRIuSIZE" chassis, %"PRIuSIZE
              " switches, %"PRIuSIZE" ports", agent->model_file,
              hmap_count(&model.chassis), hmap_count(&model.switches),
              hmap_count(&model.ports));
    lb_agent_set_model(agent, &model);
    lb_model_destroy(&model);
    return NULL;
}

static void agent_pipeline_ctx(const struct lb_agent *,
                               struct lb_pipeline_ctx *);

static bool
chassis_equal(const struct lb_model *a, const struct lb_model *b)
{
    if (hmap_count(&a->chassis) != hmap_count(&b->chassis)) {
        return false;
    }
    const struct lb_chassis *ca;
    HMAP_FOR_EACH (ca, node, &a->chassis) {
        const struct lb_chassis *cb = lb_model_find_chassis(b, ca->name);
        if (!cb || cb->tunnel_ip != ca->tunnel_ip) {
            return false;
        }
    }
    return true;
}

static bool
switches_equal(const struct lb_model *a, const struct lb_model *b)
{
    if (hmap_count(&a->switches) != hmap_count(&b->switches)) {
        return false;
    }
    const struct lb_switch *sa;
    HMAP_FOR_EACH (sa, node, &a->switches) {
        const struct lb_switch *sb = lb_model_find_switch(b, sa->name);
        if (!sb || !lb_switch_equal(sa, sb)) {
            return false;
        }
    }
    return true;
}

/* A port that changed between two models, as it was before. */
struct port_change {
    char *name;
    uint32_t old_key;
    char *old_switch;
};

/* Takes the contents of 'model', leaving it empty.  When only ports
 * changed, the desired flows are updated port by port; otherwise they are
 * recomputed. */
void
lb_agent_set_model(struct lb_agent *agent, struct lb_model *model)
{
    bool incremental = (!agent->model_changed
                        && chassis_equal(&agent->model, model)
                        && switches_equal(&agent->model, model));
    struct port_change *changes = NULL;
    size_t n_changes = 0, allocated = 0;

    if (incremental) {
        const struct lb_port *port, *old;
        HMAP_FOR_EACH (port, node, &model->ports) {
            old = lb_model_find_port(&agent->model, port->name);
            if (!old || !lb_port_equal(old, port)) {
                if (n_changes >= allocated) {
                    changes = x2nrealloc(changes, &allocated,
                                         sizeof *changes);
                }
                changes[n_changes++] = (struct port_change) {
                    .name = xstrdup(port->name),
                    .old_key = old ? old->key : 0,
                    .old_switch = old ? xstrdup(old->switch_name) : NULL,
                };
            }
        }
        HMAP_FOR_EACH (old, node, &agent->model.ports) {
            if (!lb_model_find_port(model, old->name)) {
                if (n_changes >= allocated) {
                    changes = x2nrealloc(changes, &allocated,
                                         sizeof *changes);
                }
                changes[n_changes++] = (struct port_change) {
                    .name = xstrdup(old->name),
                    .old_key = old->key,
                    .old_switch = xstrdup(old->switch_name),
                };
            }
        }
    }

    lb_model_swap(&agent->model, model);
    lb_model_clear(model);

    if (!incremental) {
        agent->model_changed = true;
    } else if (n_changes) {
        struct lb_pipeline_ctx ctx;
        agent_pipeline_ctx(agent, &ctx);
        long long int start = time_usec();
        for (size_t i = 0; i < n_changes; i++) {
            lb_pipeline_update_port(&ctx, changes[i].name,
                                    changes[i].old_key,
                                    changes[i].old_switch, &agent->flows);
        }
        agent->last_update_usec = time_usec() - start;
        agent->flows_seqno++;
        VLOG_DBG("updated %"PRIuSIZE" ports in %lld us", n_changes,
                 agent->last_update_usec);
    }
    for (size_t i = 0; i < n_changes; i++) {
        free(changes[i].name);
        free(changes[i].old_switch);
    }
    free(changes);
}

static void
agent_pipeline_ctx(const struct lb_agent *agent, struct lb_pipeline_ctx *ctx)
{
    *ctx = (struct lb_pipeline_ctx) {
        .model = &agent->model,
        .chassis = agent->chassis,
        .iface_ofports = ovs_bridge_iface_ofports(agent->bridge),
        .tunnel_ofports = ovs_bridge_tunnel_ofports(agent->bridge),
        .physnet_ofports = ovs_bridge_physnet_ofports(agent->bridge),
        .policy = agent->objects ? lb_agent_k8s_policy(agent->objects) : NULL,
        .ct_handover = agent->ct_handover,
        .gated_ports = agent->gates ? &agent->gated_ports : NULL,
        .self_activation = agent->gates && port_gates_self_open(agent->gates),
    };
}

/* NetworkPolicy: the endpoints of the ports that changed ('dirty', or all
 * with NULL), then the rule flows that changed, then the flows of the
 * ports whose isolation changed. */
static void
agent_policy(struct lb_agent *agent, const struct sset *dirty)
{
    struct lb_policy_engine *pe = lb_agent_k8s_policy(agent->objects);
    lb_policy_sync_endpoints(pe, agent->view.cluster, &agent->model, dirty);

    struct sset changed = SSET_INITIALIZER(&changed);
    lb_policy_engine_run(pe, &agent->flows, &changed);
    struct lb_pipeline_ctx ctx;
    agent_pipeline_ctx(agent, &ctx);
    const char *name;
    SSET_FOR_EACH (name, &changed) {
        const struct lb_port *port = lb_model_find_port(&agent->model, name);
        if (port) {
            lb_pipeline_update_port(&ctx, name, port->key, port->switch_name,
                                    &agent->flows);
        }
    }
    sset_destroy(&changed);
    agent->flows_seqno++;
}

/* Full recompute.  Only the flows that differ from the current desired
 * ones end up tracked, so the switch sees only real changes. */
static void
agent_compute(struct lb_agent *agent)
{
    struct lb_pipeline_ctx ctx;
    agent_pipeline_ctx(agent, &ctx);

    long long int start = time_usec();
    struct lb_flow_table scratch;
    lb_flow_table_init(&scratch);
    lb_pipeline_compute(&ctx, &scratch);
    lb_flow_table_replace(&agent->flows, &scratch);
    lb_flow_table_destroy(&scratch);
    agent->last_compute_usec = time_usec() - start;
    agent->last_compute_wall = time_wall_msec();
    agent->flows_seqno++;
    VLOG_DBG("computed %"PRIuSIZE" flows in %lld us",
             lb_flow_table_count(&agent->flows), agent->last_compute_usec);
}

/* Computes again, with 'ctx', the flows of the model's ports named in
 * 'names' and their switches' flood flows. */
static void
agent_update_ports(struct lb_agent *agent, const struct lb_pipeline_ctx *ctx,
                   const struct sset *names)
{
    bool changed = false;
    const char *name;
    SSET_FOR_EACH (name, names) {
        const struct lb_port *port = lb_model_find_port(&agent->model, name);
        if (port) {
            lb_pipeline_update_port(ctx, port->name, port->key,
                                    port->switch_name, &agent->flows);
            changed = true;
        }
    }
    if (changed) {
        agent->flows_seqno++;
    }
}

/* The interfaces in 'ifaces' (iface-ids) came, went or changed ofport on
 * the bridge, and nothing else did: a pod's veth plugged or unplugged, a
 * migration's target among them.  Only their ports' flows and their
 * switches' flood flows name them, so only those are computed again, not
 * every flow of the node (tens of thousands) for each pod of a burst. */
static void
agent_update_ifaces(struct lb_agent *agent, const struct sset *ifaces)
{
    struct lb_pipeline_ctx ctx;
    agent_pipeline_ctx(agent, &ctx);
    agent_update_ports(agent, &ctx, ifaces);
}

/* With --check-incremental: the model and the desired flows kept up to
 * date port by port must be those a full derivation and computation give,
 * which are what a freshly started agent installs.  A difference is a bug:
 * it is logged with what differs, counted, and repaired by the full ones
 * before the flows go to the switch. */
static void
agent_check_incremental(struct lb_agent *agent)
{
    if (!agent->check_incremental
        || agent->checked_seqno == agent->flows_seqno
        || (agent->objects && lb_agent_k8s_changed(agent->objects))) {
        return;
    }
    agent->checked_seqno = agent->flows_seqno;
    agent->n_checks++;

    struct ds diff = DS_EMPTY_INITIALIZER;
    size_t n_model = 0;
    if (agent->k8s) {
        struct lb_model full;
        lb_model_init(&full);
        lb_derive_model(agent->view.cluster, &full);
        lb_agent_migration_apply_local(agent->migration, &full);
        n_model = lb_incremental_check_models(&agent->model, &full, &diff,
                                              20);
        if (n_model) {
            /* The flows follow the model: put the full one in first. */
            lb_model_swap(&agent->model, &full);
        }
        lb_model_destroy(&full);
    }

    struct lb_pipeline_ctx ctx;
    agent_pipeline_ctx(agent, &ctx);
    struct lb_flow_table full_flows;
    lb_flow_table_init(&full_flows);
    lb_pipeline_compute(&ctx, &full_flows);
    size_t n_flows = (n_model ? 0
                      : lb_incremental_check_flows(&agent->flows,
                                                   &full_flows, &diff, 40));
    if (n_model || n_flows) {
        agent->n_check_failures++;
        VLOG_ERR("incremental update differs from a full one (%s: "
                 "%"PRIuSIZE" lines; \"-\" kept, \"+\" full); repaired\n%s",
                 n_model ? "model" : "flows", n_model ? n_model : n_flows,
                 ds_cstr(&diff));
        lb_flow_table_replace(&agent->flows, &full_flows);
        agent->flows_seqno++;
        agent->checked_seqno = agent->flows_seqno;
    }
    lb_flow_table_destroy(&full_flows);
    ds_destroy(&diff);
}

/* Derives the whole model again from the objects. */
static void
derive_all(struct lb_agent *agent, const struct lb_cluster *cluster)
{
    struct lb_model model;
    lb_model_init(&model);
    lb_derive_model(cluster, &model);
    lb_agent_migration_apply_local(agent->migration, &model);
    lb_agent_set_model(agent, &model);
    lb_model_destroy(&model);
}

/* Derives again only the ports in 'dirty', and updates their flows.
 * Returns false if that cannot be done port by port. */
static bool
derive_dirty(struct lb_agent *agent, const struct lb_cluster *cluster,
             const struct sset *dirty)
{
    struct port_was {
        uint32_t key;
        char *switch_name;
    };
    size_t n = sset_count(dirty);
    struct port_was *was = xcalloc(n ? n : 1, sizeof *was);
    const char *name;
    size_t i = 0;
    SSET_FOR_EACH (name, dirty) {
        const struct lb_port *port = lb_model_find_port(&agent->model, name);
        was[i].key = port ? port->key : 0;
        was[i].switch_name = port ? xstrdup(port->switch_name) : NULL;
        i++;
    }

    bool ok = lb_derive_ports(cluster, dirty, &agent->model);
    if (ok) {
        lb_agent_migration_apply_local(agent->migration, &agent->model);
        struct lb_pipeline_ctx ctx;
        agent_pipeline_ctx(agent, &ctx);
        i = 0;
        SSET_FOR_EACH (name, dirty) {
            lb_pipeline_update_port(&ctx, name, was[i].key,
                                    was[i].switch_name, &agent->flows);
            i++;
        }
        agent->flows_seqno++;
    }
    for (i = 0; i < n; i++) {
        free(was[i].switch_name);
    }
    free(was);
    return ok;
}

/* Objects -> model (and the flows of the ports that changed), once every
 * collection is listed and whenever the objects change. */
static void
agent_derive(struct lb_agent *agent)
{
    if (!lb_agent_k8s_changed(agent->objects) || !agent->view.synced) {
        return;
    }
    const struct lb_cluster *cluster = agent->view.cluster;
    const struct sset *dirty = lb_agent_k8s_dirty_ports(agent->objects);

    long long int start = time_usec();
    bool full = (lb_agent_k8s_needs_full(agent->objects)
                 || agent->model_changed);
    if (full || !derive_dirty(agent, cluster, dirty)) {
        derive_all(agent, cluster);
        full = true;
    }
    agent_policy(agent, full ? NULL : dirty);
    agent->last_derive_usec = time_usec() - start;
    VLOG_DBG("derived %s in %lld us", full ? "the model"
             : "the changed ports", agent->last_derive_usec);
    lb_agent_migration_derived(agent->migration, full ? NULL : dirty);
    lb_agent_k8s_clear_changes(agent->objects);
}

/* Flushes the conntrack zone of each policed port whose interface left
 * this node (or that is no longer policed), once the flows that used it
 * are gone: its connections are over here.  Only ever by zone, which holds
 * that one port's connections on this node: the VM's connections on a
 * migration's target are in the target's own conntrack, and a source pod's
 * CNI DEL cannot touch them. */
static void
agent_flush_zones(struct lb_agent *agent)
{
    if (!agent->objects || agent->zones_seqno == agent->flows_seqno) {
        return;
    }
    const struct lb_policy_engine *pe = lb_agent_k8s_policy(agent->objects);
    struct simap now = SIMAP_INITIALIZER(&now);
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ovs_bridge_iface_ofports(agent->bridge)) {
        const struct lb_port *port = lb_model_find_port(&agent->model,
                                                        sn->name);
        if (port && lb_port_bound_to(port, agent->chassis)
            && lb_policy_port_isolated(pe, sn->name)) {
            simap_put(&now, sn->name, sn->data);
        }
    }
    SIMAP_FOR_EACH (sn, &agent->ct_zones) {
        const struct simap_node *still = simap_find(&now, sn->name);
        if ((!still || still->data != sn->data)
            && ofctrl_ct_flush_zone(agent->ofctrl, sn->data)) {
            lb_agent_admit_port_gone(agent->admit, sn->name);
            agent->n_zone_flushes++;
            VLOG_INFO("%s: flushed conntrack zone %u", sn->name, sn->data);
        }
    }
    simap_swap(&now, &agent->ct_zones);
    simap_destroy(&now);
    agent->zones_seqno = agent->flows_seqno;
}

/* The conntrack handover as this node, a migration's target, sees it: how
 * many of the VM's packets the source handed over (committed here, the
 * count of the handover flows of table 0), and over how long. */
struct handover {
    uint64_t packets;
    long long int first_msec;   /* When the count was first nonzero. */
    long long int last_msec;    /* When it last grew. */
};

static void
agent_handover_count(void *agent_, uint64_t cookie, uint64_t n_packets,
                     uint64_t n_flows)
{
    struct lb_agent *agent = agent_;
    if (lb_cookie_kind(cookie) == LB_COOKIE_ADMIT) {
        lb_agent_admit_count(agent->admit, cookie, n_flows);
        return;
    }
    const struct lb_port *port = lb_model_find_port_by_key(
        &agent->model, lb_cookie_key(cookie));
    if (!port || !n_packets || n_packets == UINT64_MAX) {
        return;
    }
    struct handover *h = shash_find_data(&agent->handovers, port->name);
    if (!h) {
        h = xzalloc(sizeof *h);
        shash_add(&agent->handovers, port->name, h);
    }
    long long int now = time_msec();
    if (n_packets < h->packets || !h->packets) {
        h->first_msec = now;        /* A new migration's flows. */
    }
    if (n_packets != h->packets) {
        h->last_msec = now;
    }
    h->packets = n_packets;
}

/* Twice a second, while a policed port migrates to this node, asks for its
 * handover flows' counts. */
static void
agent_poll_handover(struct lb_agent *agent)
{
    if (!agent->objects || !agent->ct_handover
        || time_msec() < agent->next_handover_poll) {
        return;
    }
    agent->next_handover_poll = time_msec() + 500;
    agent->handover_polling = false;
    const struct lb_policy_engine *pe = lb_agent_k8s_policy(agent->objects);
    /* A target's handover flows need its interface here: walk this node's
     * interfaces, not every port of the cluster. */
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ovs_bridge_iface_ofports(agent->bridge)) {
        const struct lb_port *port = lb_model_find_port(&agent->model,
                                                        sn->name);
        if (port && port->additional_chassis
            && !strcmp(port->additional_chassis, agent->chassis)
            && lb_policy_port_isolated(pe, port->name)) {
            agent->handover_polling = true;
            ofctrl_request_aggregate(agent->ofctrl, OFTABLE_CLASSIFY,
                                     lb_cookie(LB_COOKIE_PORT, port->key,
                                               true));
            ofctrl_request_aggregate(agent->ofctrl,
                                     OFTABLE_POLICY_INGRESS_ADMIT,
                                     lb_admit_cookie(port->key));
        }
    }
}

/* Sends what the parts asked to write, and hands the outcomes the CNI part
 * awaits back to it. */
static void
agent_writes_run(struct lb_agent *agent)
{
    if (!agent->writes) {
        /* Without Kubernetes no part asks for writes; none could go. */
        struct lb_write *w;
        LIST_FOR_EACH_POP (w, list_node, &agent->outbox) {
            lb_write_destroy(w);
        }
        return;
    }
    struct lb_write_result result;
    while (lb_agent_writes_pop_result(agent->writes, &result)) {
        if (agent->cni) {
            lb_agent_cni_write_done(agent->cni, &result);
        }
        free(result.error);
    }
    lb_agent_writes_submit(agent->writes, &agent->outbox);
}

/* The egress gateway's rules on this node, derived afresh from the
 * objects and written where they differ.  Returns false on an error. */
static bool
agent_egress_run(struct lb_agent *agent)
{
    if (!agent->view.cluster) {
        return true;
    }
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 30);
    struct lb_egress_plan plan;
    lb_egress_derive(agent->view.cluster, &agent->model, agent->chassis,
                     &plan);
    if (!lb_egress_plan_equal(&plan, &agent->egress)) {
        /* A bad field is the administrator's to fix: said once, loudly. */
        bool invalid = false;
        for (size_t i = 0; i < plan.n; i++) {
            invalid |= plan.switches[i].mode == LB_EGRESS_INVALID;
        }
        struct ds s = DS_EMPTY_INITIALIZER;
        lb_egress_plan_format(&plan, &s);
        VLOG(invalid ? VLL_WARN : VLL_INFO, "egress gateway: %s",
             s.length ? ds_cstr(&s) : "no switch has spec.egressGateway\n");
        ds_destroy(&s);
    }
    lb_egress_plan_destroy(&agent->egress);
    agent->egress = plan;

    char *error = NULL;
    unsigned int n = 0;
    int retval = lb_egress_host_sync(&agent->egress, &n, &error);
    if (retval) {
        VLOG_WARN_RL(&rl, "%s", error);
    }
    if (n) {
        VLOG_INFO("egress gateway: %u change(s) written", n);
    }
    agent->egress_writes += n;
    free(error);
    return !retval;
}

/* The gateway port's host end, brought to what the model asks for. */
static void
agent_gateway_run(struct lb_agent *agent)
{
    if (!agent->gateway_port || time_msec() < agent->gateway_next_sync) {
        return;
    }
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 30);
    char *error = NULL;
    int retval = lb_gateway_host_sync(agent->gateway_port, &agent->model,
                                      &error);
    if (retval == ENODEV) {
        VLOG_DBG("gateway port %s: no such interface yet",
                 agent->gateway_port);
    } else if (retval) {
        VLOG_WARN_RL(&rl, "%s", error);
    }
    free(error);
    retval = agent_egress_run(agent) ? retval : EAGAIN;
    agent->gateway_next_sync = time_msec() + (retval ? 1000 : 5000);
}

/* The gates of this node's blocked copies (port-gate.h), brought to what
 * the model asks for.  A gate is closed before the flows deliver to its
 * copy: the flows are recomputed with the copy behind it only once it is
 * known closed.  It is opened only once the switch has every flow the
 * agent sent, the bundle that unblocked the copy among them: the VM's own
 * traffic is let out in the flow table before anything reaches it, so
 * that no answer of the VM's meets the old drop (and the datapath caches
 * none).  A restarted agent first finds the gates it left, so that it
 * computes the same flows. */
static void
agent_gates_run(struct lb_agent *agent)
{
    if (!agent->gates || !agent->view.ready) {
        return;
    }
    uint64_t installed = ofctrl_get_installed_seqno(agent->ofctrl);
    if (agent->gates_scanned && agent->gates_flows_seqno == agent->flows_seqno
        && agent->gates_installed == installed) {
        return;
    }

    const struct smap *names = ovs_bridge_iface_names(agent->bridge);
    const struct smap_node *node;
    if (!agent->gates_scanned) {
        struct sset all = SSET_INITIALIZER(&all);
        SMAP_FOR_EACH (node, names) {
            sset_add(&all, node->value);
        }
        port_gates_scan(agent->gates, &all);
        sset_destroy(&all);
        agent->gates_scanned = true;
    }

    /* A gate comes off once its copy is the port's active one here.  An
     * interface whose port is not active here (a failed or cancelled
     * migration's target, or a pod already gone from the API) keeps the
     * gate it has until the interface itself goes: the flow table stopped
     * delivering to it, but the datapath's cached flows may still do so
     * until the switch revalidates them, and that copy's VM never
     * resumed. */
    struct lb_pipeline_ctx ctx;
    agent_pipeline_ctx(agent, &ctx);
    struct shash want = SHASH_INITIALIZER(&want);
    struct sset keep = SSET_INITIALIZER(&keep);
    SMAP_FOR_EACH (node, names) {
        const struct lb_port *port = lb_model_find_port(&agent->model,
                                                        node->key);
        if (port && lb_pipeline_port_wants_gate(&ctx, port)) {
            shash_add_once(&want, node->value, &port->mac);
        } else if (!port || !lb_pipeline_port_active_here(&ctx, port)) {
            sset_add(&keep, node->value);
        }
    }
    port_gates_sync(agent->gates, &want, &keep,
                    installed >= agent->flows_seqno);
    shash_destroy(&want);
    sset_destroy(&keep);

    const struct sset *closed = port_gates_closed(agent->gates);
    struct sset now = SSET_INITIALIZER(&now);
    SMAP_FOR_EACH (node, names) {
        if (sset_contains(closed, node->value)) {
            sset_add(&now, node->key);
        }
    }
    struct sset changed = SSET_INITIALIZER(&changed);
    const char *name;
    SSET_FOR_EACH (name, &now) {
        if (!sset_contains(&agent->gated_ports, name)) {
            sset_add(&changed, name);
        }
    }
    SSET_FOR_EACH (name, &agent->gated_ports) {
        if (!sset_contains(&now, name)) {
            sset_add(&changed, name);
        }
    }
    sset_swap(&now, &agent->gated_ports);
    sset_destroy(&now);

    /* 'ctx' points at 'gated_ports', which now says what changed. */
    agent_update_ports(agent, &ctx, &changed);
    sset_destroy(&changed);
    agent->gates_flows_seqno = agent->flows_seqno;
    agent->gates_installed = installed;
}

/* The switch's messages first: a VM's announcement unblocks its port in a
 * bundle sent before anything else in this iteration (the API server's
 * events, derivation, the CNI socket), so that no other work stands
 * between a resumed VM and its traffic; the announcements of many VMs
 * resuming at once, read together, go in one bundle. */
static void
agent_run_switch_first(struct lb_agent *agent)
{
    if (ofctrl_run(agent->ofctrl) && agent->view.ready) {
        ofctrl_put(agent->ofctrl, &agent->flows, agent->flows_seqno);
        agent_gates_run(agent);
        lb_agent_migration_run(agent->migration);
    }
}

void
lb_agent_run(struct lb_agent *agent)
{
    agent_run_switch_first(agent);
    if (agent->k8s) {
        k8s_client_run(agent->k8s);
        agent->view.synced = lb_agent_k8s_synced(agent->objects);
        agent_writes_run(agent);
        agent_derive(agent);
    }
    /* Until Kubernetes has been listed, the model is not the cluster's:
     * tunnels must not be reconciled against it. */
    bool model_known = !agent->k8s || agent->view.synced;
    ovs_bridge_run(agent->bridge, model_known ? &agent->model : NULL);
    ofctrl_run(agent->ofctrl);

    /* Flows computed before the database was read would miss the local
     * interfaces, and before Kubernetes was listed they would miss ports:
     * a restarted agent would then remove and re-add them. */
    agent->view.ready = ovs_bridge_is_ready(agent->bridge) && model_known;
    if (agent->view.ready) {
        uint64_t bridge_seqno = ovs_bridge_seqno(agent->bridge);
        if (agent->model_changed || bridge_seqno != agent->bridge_seqno) {
            struct sset ifaces = SSET_INITIALIZER(&ifaces);
            bool only_ifaces = ovs_bridge_take_changed_ifaces(agent->bridge,
                                                              &ifaces);
            if (agent->model_changed || !only_ifaces) {
                agent_compute(agent);
            } else {
                agent_update_ifaces(agent, &ifaces);
            }
            sset_destroy(&ifaces);
            agent->model_changed = false;
            agent->bridge_seqno = bridge_seqno;
            agent->gateway_next_sync = 0;
        }
        agent_gateway_run(agent);
        agent_takeovers_run(agent);
        agent_gates_run(agent);
        agent_check_incremental(agent);
        ofctrl_put(agent->ofctrl, &agent->flows, agent->flows_seqno);
        agent_flush_zones(agent);
        agent_poll_handover(agent);
        if (agent->objects && agent->ct_handover) {
            lb_agent_admit_run(agent->admit,
                               lb_agent_k8s_policy(agent->objects));
        }
        lb_agent_migration_run(agent->migration);
        lb_agent_ra_run(agent->ra);
        if (agent->svc_ct) {
            lb_agent_svc_ct_run(agent->svc_ct);
        }
    }
    /* Served even when not ready: STATUS is how the runtime learns that,
     * and lb_agent_wait() waits on the CNI socket in any case. */
    if (agent->cni) {
        lb_agent_cni_run(agent->cni);
    }
    agent_writes_run(agent);
    if (agent->metrics) {
        lb_metrics_server_run(agent->metrics);
    }
}

void
lb_agent_wait(struct lb_agent *agent)
{
    if (agent->k8s) {
        k8s_client_wait(agent->k8s);
    }
    if (agent->cni) {
        lb_agent_cni_wait(agent->cni);
    }
    if (agent->writes) {
        lb_agent_writes_wait(agent->writes);
    }
    if (agent->metrics) {
        lb_metrics_server_wait(agent->metrics);
    }
    ovs_bridge_wait(agent->bridge);
    ofctrl_wait(agent->ofctrl);
    if (agent->handover_polling) {
        poll_timer_wait_until(agent->next_handover_poll);
    }
    if (agent->view.ready) {
        long long int next = lb_agent_migration_next_takeover(
            agent->migration);
        if (next != LLONG_MAX) {
            poll_timer_wait_until(next);
        }
    }
    lb_agent_ra_wait(agent->ra);
    lb_agent_admit_wait(agent->admit);
    if (agent->svc_ct) {
        lb_agent_svc_ct_wait(agent->svc_ct);
    }
    if (agent->gateway_port && agent->view.ready) {
        poll_timer_wait_until(agent->gateway_next_sync);
    }
}

/* The metrics page: the core's own figures, then each part's. */
static void
agent_put_metrics(void *agent_, struct ds *page)
{
    const struct lb_agent *agent = agent_;

    size_t n_local = 0;
    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &agent->model.ports) {
        n_local += ((port->chassis && !strcmp(port->chassis, agent->chassis))
                    || (port->additional_chassis
                        && !strcmp(port->additional_chassis,
                                   agent->chassis)));
    }
    struct ofctrl_stats st;
    ofctrl_get_stats(agent->ofctrl, &st);

    static const char *const all[] = { "bound", "anywhere", NULL };
    static const char *const here[] = { "bound", "this_node", NULL };
    lb_metrics_family(page, "livebind_logical_ports", LB_METRIC_GAUGE,
                      "Logical ports in the model, and those bound to this "
                      "node (as main or additional chassis).");
    lb_metrics_sample(page, "livebind_logical_ports", all,
                      hmap_count(&agent->model.ports));
    lb_metrics_sample(page, "livebind_logical_ports", here, n_local);

    static const char *const desired[] = { "state", "desired", NULL };
    static const char *const installed[] = { "state", "installed", NULL };
    lb_metrics_family(page, "livebind_flows", LB_METRIC_GAUGE,
                      "OpenFlow flows the agent wants, and those it "
                      "believes installed in the switch.");
    lb_metrics_sample(page, "livebind_flows", desired,
                      lb_flow_table_count(&agent->flows));
    lb_metrics_sample(page, "livebind_flows", installed, st.n_installed);

    static const struct {
        const char *name, *help;
    } counters[] = {
        { "livebind_openflow_flow_mods_total", "Flow-mods sent to the "
          "switch, in all bundles." },
        { "livebind_openflow_bundles_total", "OpenFlow bundles committed." },
        { "livebind_openflow_errors_total", "Error replies from the "
          "switch." },
        { "livebind_openflow_packet_ins_total", "Packet-ins received." },
        { "livebind_openflow_connects_total", "Connections made to the "
          "switch." },
    };
    const uint64_t values[] = {
        st.n_flow_mods, st.n_bundles, st.n_errors, st.n_packet_ins,
        st.n_connects,
    };
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
        lb_metrics_family(page, counters[i].name, LB_METRIC_COUNTER,
                          counters[i].help);
        lb_metrics_sample(page, counters[i].name, NULL, values[i]);
    }
    lb_metrics_family(page, "livebind_openflow_connected", LB_METRIC_GAUGE,
                      "1 while connected to the switch's OpenFlow "
                      "management socket.");
    lb_metrics_sample(page, "livebind_openflow_connected", NULL,
                      ofctrl_is_connected(agent->ofctrl));

    lb_metrics_family(page, "livebind_last_full_recompute_timestamp_seconds",
                      LB_METRIC_GAUGE, "When the flows were last computed "
                      "in full (Unix time; 0: never).");
    lb_metrics_sample(page, "livebind_last_full_recompute_timestamp_seconds",
                      NULL, agent->last_compute_wall / 1e3);
    lb_metrics_family(page, "livebind_last_full_recompute_duration_seconds",
                      LB_METRIC_GAUGE, "How long the last full compute of "
                      "the flows took.");
    lb_metrics_sample(page, "livebind_last_full_recompute_duration_seconds",
                      NULL, agent->last_compute_usec / 1e6);
    lb_metrics_family(page, "livebind_ready", LB_METRIC_GAUGE,
                      "1 once OVSDB is read, br-int found and every "
                      "Kubernetes collection listed.");
    lb_metrics_sample(page, "livebind_ready", NULL, agent->view.ready);

    if (agent->objects) {
        lb_agent_k8s_put_metrics(agent->objects, page);
    }
    if (agent->k8s) {
        lb_agent_migration_put_metrics(agent->migration, page);
    }
    if (agent->cni) {
        lb_agent_cni_put_metrics(agent->cni, page);
    }
    if (agent->writes) {
        lb_agent_writes_put_metrics(agent->writes, page);
    }
    lb_process_put_metrics(page);
}

/* What the agent holds, for OVS's memory module ("memory/show", and its log
 * line when the peak RSS grows): the counts its memory grows with. */
void
lb_agent_get_memory_usage(const struct lb_agent *agent, struct simap *usage)
{
    struct ofctrl_stats st;
    ofctrl_get_stats(agent->ofctrl, &st);
    simap_increase(usage, "desired-flows",
                   lb_flow_table_count(&agent->flows));
    simap_increase(usage, "installed-flows", st.n_installed);
    simap_increase(usage, "ports", hmap_count(&agent->model.ports));
    simap_increase(usage, "switches", hmap_count(&agent->model.switches));
    simap_increase(usage, "chassis", hmap_count(&agent->model.chassis));
    if (agent->objects) {
        const struct lb_cluster *cluster
            = lb_agent_k8s_cluster(agent->objects);
        for (int kind = 0; kind < LB_N_KINDS; kind++) {
            char *name = xasprintf("k8s-%s", lb_kind_to_string(kind));
            simap_increase(usage, name, lb_cluster_count(cluster, kind));
            free(name);
        }
    }
}

/* A packet-in: the migration part says which port, if any, a VM's
 * announcement activates; unblocked here at once, in a bundle sent before
 * the agent does anything else (returns true then). */
static bool
agent_packet_in(void *agent_, const struct ofputil_packet_in *pin)
{
    struct lb_agent *agent = agent_;
    if (lb_agent_ra_packet_in(agent->ra, pin)
        || (agent->svc_ct
            && lb_agent_svc_ct_packet_in(agent->svc_ct, pin))) {
        return false;
    }
    struct svec unblock = SVEC_EMPTY_INITIALIZER;
    lb_agent_migration_packet_in(agent->migration, pin, &unblock);
    bool unblocked = agent_unblock(agent, &unblock);
    svec_destroy(&unblock);
    return unblocked;
}

/* Unblocks the ports named in 'unblock' in the desired flows, for the
 * migration part (lb_agent_migration_unblocked()).  Returns true if any
 * was. */
static bool
agent_unblock(struct lb_agent *agent, const struct svec *unblock)
{
    bool unblocked = false;
    for (size_t i = 0; i < unblock->n; i++) {
        struct lb_port *port = lb_model_find_port(&agent->model,
                                                  unblock->names[i]);
        if (port && port->additional_blocked) {
            port->additional_blocked = false;
            struct lb_pipeline_ctx ctx;
            agent_pipeline_ctx(agent, &ctx);
            lb_pipeline_update_port(&ctx, port->name, port->key,
                                    port->switch_name, &agent->flows);
            unblocked = true;
        }
    }
    if (unblocked) {
        agent->flows_seqno++;
        lb_agent_migration_unblocked(agent->migration, agent->flows_seqno);
    }
    return unblocked;
}

/* The copies that unblocked themselves in the switch and that the API
 * server has not shown activated in time: taken over in the flows. */
static void
agent_takeovers_run(struct lb_agent *agent)
{
    struct svec unblock = SVEC_EMPTY_INITIALIZER;
    lb_agent_migration_takeovers_due(agent->migration, &unblock);
    if (unblock.n) {
        VLOG_INFO("taking over %"PRIuSIZE" self-activated port(s) the API "
                  "server has not shown activated", unblock.n);
        agent_unblock(agent, &unblock);
    }
    svec_destroy(&unblock);
}

void
lb_agent_format_status(const struct lb_agent *agent, struct ds *s)
{
    ds_put_format(s, "chassis: %s\n", agent->chassis);
    ds_put_format(s, "model: %"PRIuSIZE" chassis, %"PRIuSIZE" switches, %"
                  PRIuSIZE" ports\n", hmap_count(&agent->model.chassis),
                  hmap_count(&agent->model.switches),
                  hmap_count(&agent->model.ports));
    ds_put_format(s, "desired flows: %"PRIuSIZE" (seqno %"PRIu64
                  ", last full compute %lld us, last update %lld us)\n",
                  lb_flow_table_count(&agent->flows), agent->flows_seqno,
                  agent->last_compute_usec, agent->last_update_usec);
    if (agent->check_incremental) {
        ds_put_format(s, "incremental updates checked: %"PRIu64
                      ", differing from a full one: %"PRIu64"\n",
                      agent->n_checks, agent->n_check_failures);
    }
    ovs_bridge_format_status(agent->bridge, s);
    if (agent->gates) {
        port_gates_format(agent->gates, s);
    }

    /* A provider switch whose physical network this node cannot reach:
     * its ports here reach only each other. */
    const struct simap *physnets = ovs_bridge_physnet_ofports(agent->bridge);
    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &agent->model.switches) {
        if (sw->physnet && !simap_contains(physnets, sw->physnet)) {
            ds_put_format(s, "  switch %s: physical network %s is not "
                          "connected on this node (--bridge-mappings)\n",
                          sw->name, sw->physnet);
        }
    }
    ofctrl_format_status(agent->ofctrl, s);
    lb_egress_plan_format(&agent->egress, s);
}

/* unixctl commands: "ovs-appctl -t livebind-agent CMD" or livebind-ctl. */

static void
cmd_status(struct unixctl_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *agent_)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_agent_format_status(agent_, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_ports(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_model_format(&agent->model, &s);
    if (agent->objects) {
        lb_agent_k8s_format_owners(agent->objects, &s);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_chassis(struct unixctl_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    const struct simap *tunnels = ovs_bridge_tunnel_ofports(agent->bridge);
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct lb_chassis *ch;
    HMAP_FOR_EACH (ch, node, &agent->model.chassis) {
        bool self = !strcmp(ch->name, agent->chassis);
        ds_put_format(&s, "%s "IP_FMT"%s", ch->name, IP_ARGS(ch->tunnel_ip),
                      self ? " (this node)" : "");
        if (!self) {
            ds_put_format(&s, " tunnel ofport %u",
                          simap_get(tunnels, ch->name));
        }
        ds_put_char(&s, '\n');
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_egress(struct unixctl_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_egress_plan_format(&agent->egress, &s);
    ds_put_format(&s, "egress writes: %u\n", agent->egress_writes);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_flows(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_flow_table_format(&agent->flows, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cmd_recompute(struct unixctl_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    agent->model_changed = true;
    unixctl_command_reply(conn, NULL);
}

static void
cmd_reload(struct unixctl_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *agent_)
{
    char *error = lb_agent_reload_model(agent_);
    if (error) {
        unixctl_command_reply_error(conn, error);
        free(error);
    } else {
        unixctl_command_reply(conn, NULL);
    }
}

/* "DESIRED INSTALLED" sequence numbers: the flows desired now are in the
 * switch once both are equal. */
static void
cmd_installed_seqno(struct unixctl_conn *conn, int argc OVS_UNUSED,
                    const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    char *s = xasprintf("%"PRIu64" %"PRIu64, agent->flows_seqno,
                        ofctrl_get_installed_seqno(agent->ofctrl));
    unixctl_command_reply(conn, s);
    free(s);
}

static void
cmd_k8s(struct unixctl_conn *conn, int argc OVS_UNUSED,
        const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "last derivation of the model: %lld us\n",
                  agent->last_derive_usec);
    lb_agent_k8s_format(agent->objects, &s);
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
    lb_agent_migration_format(agent->migration, verbose, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* "svc-handover": the Service handover's figures (agent-svc-ct.c). */
static void
cmd_svc_handover(struct unixctl_conn *conn, int argc OVS_UNUSED,
                 const char *argv[] OVS_UNUSED, void *agent_)
{
    struct lb_agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    if (agent->svc_ct) {
        lb_agent_svc_ct_format(agent->svc_ct, &s);
    } else {
        ds_put_cstr(&s, "off (no gateway port, or --no-svc-ct-handover)\n");
    }
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
    lb_derive_model_explain(agent->view.cluster, &model, &s);
    lb_model_destroy(&model);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* "policies [PORT]": the NetworkPolicies that select each port (or PORT),
 * and the engine's figures. */
static void
cmd_policies(struct unixctl_conn *conn, int argc, const char *argv[],
             void *agent_)
{
    struct lb_agent *agent = agent_;
    const struct lb_policy_engine *pe = lb_agent_k8s_policy(agent->objects);
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_policy_format_stats(pe, &s);
    ds_put_format(&s, "conntrack zones flushed: %"PRIu64"\n",
                  agent->n_zone_flushes);
    struct lb_port *port;
    struct sset names = SSET_INITIALIZER(&names);
    HMAP_FOR_EACH (port, node, &agent->model.ports) {
        if (argc < 2 || !strcmp(argv[1], port->name)) {
            sset_add(&names, port->name);
        }
    }
    const char **sorted = sset_sort(&names);
    for (size_t i = 0; i < sset_count(&names); i++) {
        struct ds sel = DS_EMPTY_INITIALIZER;
        lb_policy_format_port(pe, sorted[i], &sel);
        if (sel.length || argc > 1) {
            bool in, out;
            lb_policy_port_isolation(pe, sorted[i], &in, &out);
            ds_put_format(&s, "%s: isolated%s%s%s\n", sorted[i],
                          in ? " ingress" : "", out ? " egress" : "",
                          !in && !out ? " no" : "");
            ds_put_cstr(&s, ds_cstr(&sel));
            const struct handover *h = shash_find_data(&agent->handovers,
                                                       sorted[i]);
            if (h) {
                ds_put_format(&s, "  conntrack handover to this node: "
                              "%"PRIu64" packets of its connections "
                              "committed, over %lld ms\n", h->packets,
                              h->last_msec - h->first_msec);
            }
            lb_agent_admit_format_port(agent->admit, sorted[i], &s);
        }
        ds_destroy(&sel);
    }
    free(sorted);
    sset_destroy(&names);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

void
lb_agent_register_commands(struct lb_agent *agent)
{
    unixctl_command_register("status", "", 0, 0, cmd_status, agent);
    unixctl_command_register("ports", "", 0, 0, cmd_ports, agent);
    unixctl_command_register("chassis", "", 0, 0, cmd_chassis, agent);
    unixctl_command_register("svc-handover", "", 0, 0, cmd_svc_handover,
                             agent);
    unixctl_command_register("flows", "", 0, 0, cmd_flows, agent);
    unixctl_command_register("recompute", "", 0, 0, cmd_recompute, agent);
    if (agent->model_file) {
        unixctl_command_register("model/reload", "", 0, 0, cmd_reload,
                                 agent);
    }
    unixctl_command_register("seqno", "", 0, 0, cmd_installed_seqno, agent);
    if (agent->k8s) {
        unixctl_command_register("k8s", "", 0, 0, cmd_k8s, agent);
        unixctl_command_register("migrations", "[-v]", 0, 1, cmd_migrations,
                                 agent);
        unixctl_command_register("explain", "", 0, 0, cmd_explain, agent);
        unixctl_command_register("egress", "", 0, 0, cmd_egress, agent);
        unixctl_command_register("policies", "[PORT]", 0, 1, cmd_policies,
                                 agent);
    }
}
