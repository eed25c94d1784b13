/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "agent.h"
#include "agent-private.h"

#include <errno.h>
#include <string.h>
#include "dirs.h"
#include "flow-table.h"
#include "model.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "pipeline.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent);


static ofctrl_packet_in_cb agent_packet_in;


struct lb_agent *
lb_agent_create(const struct lb_agent_config *cfg, char **errorp)
{
    *errorp = NULL;
    if (!cfg->chassis || !cfg->chassis[0]) {
        *errorp = xstrdup("the node (chassis) name is required");
        return NULL;
    }

    struct lb_agent *agent = xzalloc(sizeof *agent);
    agent->chassis = xstrdup(cfg->chassis);
    agent->model_file = nullable_xstrdup(cfg->model_file);
    lb_model_init(&agent->model);
    lb_flow_table_init(&agent->flows);
    lb_flow_table_set_tracking(&agent->flows, true);
    agent->model_changed = true;    /* Nothing computed yet. */

    shash_init(&agent->local_activations);
    sset_init(&agent->dirty_ports);
    lb_agent_migration_init(agent);
    char *error = (agent->model_file
                   ? lb_agent_reload_model(agent)
                   : lb_agent_k8s_start(agent, cfg));
    if (!error && agent->k8s && cfg->cni_socket) {
        error = lb_agent_cni_start(agent, cfg->cni_socket);
    }
    if (error) {
        *errorp = error;
        lb_agent_destroy(agent);
        return NULL;
    }

    const char *bridge = cfg->bridge ? cfg->bridge : "br-int";
    struct ovs_bridge_config bcfg = {
        .db_remote = cfg->db_remote,
        .bridge = bridge,
        .datapath_type = cfg->datapath_type ? cfg->datapath_type : "system",
        .chassis = cfg->chassis,
    };
    agent->bridge = ovs_bridge_create(&bcfg);

    char *target = (cfg->openflow_target
                    ? xstrdup(cfg->openflow_target)
                    : xasprintf("unix:%s/%s.mgmt", ovs_rundir(), bridge));
    agent->ofctrl = ofctrl_create(target, agent_packet_in, agent);
    free(target);
    return agent;
}

void
lb_agent_destroy(struct lb_agent *agent)
{
    if (agent) {
        lb_agent_cni_stop(agent);
        lb_agent_k8s_stop(agent);
        shash_destroy_free_data(&agent->local_activations);
        sset_destroy(&agent->dirty_ports);
        lb_agent_migration_destroy(agent);
        ofctrl_destroy(agent->ofctrl);
        ovs_bridge_destroy(agent->bridge);
        lb_flow_table_destroy(&agent->flows);
        lb_model_destroy(&agent->model);
        free(agent->chassis);
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
        if (!sb || sb->tunnel_key != sa->tunnel_key
            || sb->subnet != sa->subnet || sb->prefix_len != sa->prefix_len
            || sb->gateway != sa->gateway || sb->mtu != sa->mtu) {
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
        lb_agent_pipeline_ctx(agent, &ctx);
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

void
lb_agent_pipeline_ctx(const struct lb_agent *agent,
                      struct lb_pipeline_ctx *ctx)
{
    *ctx = (struct lb_pipeline_ctx) {
        .model = &agent->model,
        .chassis = agent->chassis,
        .iface_ofports = ovs_bridge_iface_ofports(agent->bridge),
        .tunnel_ofports = ovs_bridge_tunnel_ofports(agent->bridge),
    };
}

/* Full recompute.  Only the flows that differ from the current desired
 * ones end up tracked, so the switch sees only real changes. */
static void
agent_compute(struct lb_agent *agent)
{
    struct lb_pipeline_ctx ctx;
    lb_agent_pipeline_ctx(agent, &ctx);

    long long int start = time_usec();
    struct lb_flow_table scratch;
    lb_flow_table_init(&scratch);
    lb_pipeline_compute(&ctx, &scratch);
    lb_flow_table_replace(&agent->flows, &scratch);
    lb_flow_table_destroy(&scratch);
    agent->last_compute_usec = time_usec() - start;
    agent->flows_seqno++;
    VLOG_DBG("computed %"PRIuSIZE" flows in %lld us",
             lb_flow_table_count(&agent->flows), agent->last_compute_usec);
}

void
lb_agent_run(struct lb_agent *agent)
{
    lb_agent_k8s_run(agent);
    /* Until Kubernetes has been listed, the model is not the cluster's:
     * tunnels must not be reconciled against it. */
    bool model_known = !agent->k8s || lb_agent_k8s_synced(agent);
    ovs_bridge_run(agent->bridge, model_known ? &agent->model : NULL);
    ofctrl_run(agent->ofctrl);

    /* Flows computed before the database was read would miss the local
     * interfaces, and before Kubernetes was listed they would miss ports:
     * a restarted agent would then remove and re-add them. */
    bool ready = (ovs_bridge_is_ready(agent->bridge)
                  && (!agent->k8s || lb_agent_k8s_synced(agent)));
    if (ready) {
        uint64_t bridge_seqno = ovs_bridge_seqno(agent->bridge);
        if (agent->model_changed || bridge_seqno != agent->bridge_seqno) {
            agent->model_changed = false;
            agent->bridge_seqno = bridge_seqno;
            agent_compute(agent);
        }
        ofctrl_put(agent->ofctrl, &agent->flows, agent->flows_seqno);
        lb_agent_migration_run(agent);
    }
    /* Served even when not ready: STATUS is how the runtime learns that,
     * and lb_agent_wait() waits on the CNI socket in any case. */
    lb_agent_cni_run(agent, ready);
}

void
lb_agent_wait(struct lb_agent *agent)
{
    lb_agent_k8s_wait(agent);
    lb_agent_cni_wait(agent);
    ovs_bridge_wait(agent->bridge);
    ofctrl_wait(agent->ofctrl);
}

static void
agent_packet_in(void *agent, const struct ofputil_packet_in *pin)
{
    lb_agent_packet_in(agent, pin);
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
    ovs_bridge_format_status(agent->bridge, s);
    ofctrl_format_status(agent->ofctrl, s);
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
    if (agent->k8s) {
        lb_agent_format_owners(agent, &s);
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

void
lb_agent_register_commands(struct lb_agent *agent)
{
    unixctl_command_register("status", "", 0, 0, cmd_status, agent);
    unixctl_command_register("ports", "", 0, 0, cmd_ports, agent);
    unixctl_command_register("chassis", "", 0, 0, cmd_chassis, agent);
    unixctl_command_register("flows", "", 0, 0, cmd_flows, agent);
    unixctl_command_register("recompute", "", 0, 0, cmd_recompute, agent);
    if (agent->model_file) {
        unixctl_command_register("model/reload", "", 0, 0, cmd_reload,
                                 agent);
    }
    unixctl_command_register("seqno", "", 0, 0, cmd_installed_seqno, agent);
    lb_agent_k8s_register_commands(agent);
}
