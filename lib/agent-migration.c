/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Live migration on the agent's side.
 *
 * Binding a port to two chassis, mirroring and blocking are derived from
 * the cluster's objects (derive.c) and turned into flows (pipeline.c).  What
 * cannot wait for the API server is here: when the VM, resumed on this
 * node, announces itself (RARP, gratuitous ARP or IPv6 NA from its own MAC
 * on the blocked port), the agent unblocks the port at once, in one bundle,
 * then announces the VM's new location into the logical switch (RARP and a
 * gratuitous ARP for each IPv4 address), and only then records the
 * activation in the API, so that a restarted agent and the other nodes see
 * it.  It also records the outcome of each migration in the port's
 * ownership, and logs every migration state transition with its cause. */

#include <config.h>
#include "agent.h"
#include "agent-private.h"

#include <string.h>
#include <time.h>
#include "announce.h"
#include "byte-order.h"
#include "derive.h"
#include "flow.h"
#include "k8s-client.h"
#include "model.h"
#include "ofctrl.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "packets.h"
#include "pipeline.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_migration);

#define MAX_ACTIVATIONS 64          /* Kept for livebind-ctl. */

/* One activation of a port on this chassis. */
struct lb_activation {
    struct ovs_list list_node;      /* In lb_agent's 'activations'. */
    char *port;
    char *migration_uid;
    char *cause;                    /* e.g. "RARP on ofport 11". */
    long long int seen_usec;        /* Announcement received. */
    long long int installed_usec;   /* Unblocking flows in the switch. */
    uint64_t seqno;                 /* Flows seqno that unblocks. */
};

/* A packet to send through the pipeline as if from 'in_port'. */
struct announcement {
    struct ovs_list list_node;
    ofp_port_t in_port;
    uint8_t packet[LB_ANNOUNCE_FRAME_LEN];
};

void
lb_agent_migration_init(struct lb_agent *agent)
{
    ovs_list_init(&agent->activations);
    ovs_list_init(&agent->announcements);
    shash_init(&agent->logged);
    sset_init(&agent->owner_writes);
    sset_init(&agent->not_opted_in);
}

static void
activation_free(struct lb_activation *a)
{
    if (a) {
        free(a->port);
        free(a->migration_uid);
        free(a->cause);
        free(a);
    }
}

void
lb_agent_migration_destroy(struct lb_agent *agent)
{
    struct lb_activation *a;
    LIST_FOR_EACH_POP (a, list_node, &agent->activations) {
        activation_free(a);
    }
    struct announcement *an;
    LIST_FOR_EACH_POP (an, list_node, &agent->announcements) {
        free(an);
    }
    shash_destroy_free_data(&agent->logged);
    sset_destroy(&agent->owner_writes);
    sset_destroy(&agent->not_opted_in);
}

/* The LogicalPort object behind logical port 'port_name'. */
static const struct lb_logical_port *
find_logical_port(const struct lb_agent *agent, const char *port_name)
{
    return (agent->k8s
            ? lb_cluster_find_logical_port_by_port_name(&agent->cluster,
                                                        port_name)
            : NULL);
}

/* Announcements: what QEMU sends after a migration, and what we send on
 * the VM's behalf once the port is unblocked. */

static void
queue_announcement(struct lb_agent *agent, ofp_port_t in_port,
                   struct eth_addr mac, bool rarp, ovs_be32 ip)
{
    struct announcement *an = xzalloc(sizeof *an);
    an->in_port = in_port;
    if (rarp) {
        lb_announce_compose_rarp(mac, an->packet);
    } else {
        lb_announce_compose_garp(mac, ip, an->packet);
    }
    ovs_list_push_back(&agent->announcements, &an->list_node);
}

/* Activation. */

static json_t *
set_activation(void *aux, const json_t *current, char **errorp OVS_UNUSED)
{
    const json_t *activation = aux;
    json_t *obj = json_deep_copy(current);
    json_t *status = json_object_get(obj, "status");
    if (!json_is_object(status)) {
        status = json_pack("{}");
        json_object_set_new(obj, "status", status);
    }
    json_object_set(status, "activation", CONST_CAST(json_t *, activation));
    return obj;
}

static void
activation_written(void *aux, const struct k8s_result *result)
{
    json_t *activation = aux;
    if (result->error) {
        VLOG_WARN("recording an activation failed: %s", result->error);
    }
    json_decref(activation);
}

static void
record_activation(struct lb_agent *agent, const struct lb_port *port,
                  const char *migration_uid, const char *cause)
{
    const struct lb_logical_port *lp = find_logical_port(agent, port->name);
    if (!lp) {
        return;
    }
    char now[32];
    time_t t = time_wall_msec() / 1000;
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));

    json_t *activation = json_pack("{s:s, s:s, s:s, s:s}",
                                   "node", agent->chassis,
                                   "migrationUID", migration_uid,
                                   "time", now, "cause", cause);
    char *path = xasprintf("/apis/livebind.io/v1alpha1/namespaces/%s/"
                           "logicalports/%s/status", lp->ns, lp->name);
    /* The callback owns the only reference left: set_activation() takes
     * its own with json_object_set(). */
    k8s_read_modify_write(agent->k8s, path, K8S_RMW_DEFAULT_ATTEMPTS,
                          set_activation, activation_written, activation);
    free(path);
}

/* The migration this node's copy of 'port' belongs to, or "". */
static const char *
port_migration_uid(const struct lb_agent *agent, const struct lb_port *port)
{
    if (!agent->k8s) {
        return "";
    }
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &agent->cluster.objects[LB_KIND_POD]) {
        const struct lb_pod *pod = node->data;
        if (pod->migration_job_uid && pod->node_name
            && !strcmp(pod->node_name, agent->chassis)
            && lb_pod_logical_port_name(pod)
            && !strcmp(lb_pod_logical_port_name(pod), port->name)
            && !lb_pod_is_finished(pod)) {
            return pod->migration_job_uid;
        }
    }
    return "";
}

static void
activate(struct lb_agent *agent, struct lb_port *port, ofp_port_t in_port,
         const char *kind, long long int seen_usec)
{
    const char *uid = port_migration_uid(agent, port);

    /* Unblock now, without waiting for the API server: the derived model
     * keeps the port unblocked (apply_local_activations) until the API
     * shows the activation or the migration ends. */
    free(shash_replace(&agent->local_activations, port->name,
                       xstrdup(uid)));
    port->additional_blocked = false;
    struct lb_pipeline_ctx ctx;
    lb_agent_pipeline_ctx(agent, &ctx);
    lb_pipeline_update_port(&ctx, port->name, port->key, port->switch_name,
                            &agent->flows);
    agent->flows_seqno++;

    struct lb_activation *a = xzalloc(sizeof *a);
    a->port = xstrdup(port->name);
    a->migration_uid = xstrdup(uid);
    a->cause = xasprintf("%s on ofport %"PRIu32, kind,
                         ofp_to_u16(in_port));
    a->seen_usec = seen_usec;
    a->seqno = agent->flows_seqno;
    ovs_list_push_front(&agent->activations, &a->list_node);
    if (++agent->n_activations > MAX_ACTIVATIONS) {
        struct lb_activation *old = CONTAINER_OF(
            ovs_list_pop_back(&agent->activations), struct lb_activation,
            list_node);
        activation_free(old);
        agent->n_activations--;
    }
    VLOG_INFO("port %s: %s from the VM on ofport %"PRIu32": unblocking "
              "(migration %s)", port->name, kind, ofp_to_u16(in_port),
              uid[0] ? uid : "unknown");

    /* Tell every L2 table where the VM is now, once the flows are in. */
    queue_announcement(agent, in_port, port->mac, true, 0);
    for (size_t i = 0; i < port->n_ipv4; i++) {
        queue_announcement(agent, in_port, port->mac, false, port->ipv4[i]);
    }
    if (agent->k8s) {
        record_activation(agent, port, uid, a->cause);
    }
}

void
lb_agent_packet_in(struct lb_agent *agent,
                   const struct ofputil_packet_in *pin)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    long long int now = time_usec();

    ovs_be32 reason = 0;
    if (pin->userdata_len == sizeof reason) {
        memcpy(&reason, pin->userdata, sizeof reason);
    }
    if (ntohl(reason) != LB_PIN_ANNOUNCE) {
        VLOG_DBG_RL(&rl, "packet-in with unknown userdata ignored");
        return;
    }
    uint32_t key = pin->flow_metadata.flow.regs[14];
    ofp_port_t in_port = pin->flow_metadata.flow.in_port.ofp_port;
    struct lb_port *port = lb_model_find_port_by_key(&agent->model, key);

    if (!port || !port->additional_chassis
        || strcmp(port->additional_chassis, agent->chassis)
        || simap_get(ovs_bridge_iface_ofports(agent->bridge), port->name)
           != ofp_to_u16(in_port)) {
        VLOG_WARN_RL(&rl, "announcement on ofport %"PRIu32" for port key "
                     "%#"PRIx32", which does not migrate to this node: "
                     "ignored", ofp_to_u16(in_port), key);
        return;
    }
    /* The flows match announcements only roughly; the packet-in is what
     * moves a VM's traffic, so check it fully. */
    struct lb_announce_port ap = {
        .mac = port->mac, .ipv4 = port->ipv4, .n_ipv4 = port->n_ipv4,
    };
    enum lb_announce_kind kind = lb_announce_classify(pin->packet,
                                                      pin->packet_len, &ap);
    if (kind == LB_ANNOUNCE_NONE) {
        VLOG_WARN_RL(&rl, "port %s: not an announcement of its own MAC "
                     "and addresses: ignored", port->name);
        return;
    }
    if (!port->additional_blocked) {
        return;                 /* Already active: a later QEMU round. */
    }
    activate(agent, port, in_port, lb_announce_kind_to_string(kind), now);
}

/* After the flows are sent: announcements, and activation latencies. */
void
lb_agent_migration_run(struct lb_agent *agent)
{
    uint64_t installed = ofctrl_get_installed_seqno(agent->ofctrl);
    struct announcement *an;
    LIST_FOR_EACH_POP (an, list_node, &agent->announcements) {
        int error = ofctrl_packet_out(agent->ofctrl, an->packet,
                                      sizeof an->packet, an->in_port,
                                      "resubmit(,0)");
        if (error) {
            VLOG_WARN("sending an announcement failed (%s)",
                      ovs_strerror(error));
        }
        free(an);
    }

    struct lb_activation *a;
    LIST_FOR_EACH (a, list_node, &agent->activations) {
        if (!a->installed_usec && installed >= a->seqno) {
            a->installed_usec = time_usec();
            VLOG_INFO("port %s: unblocked in the switch %lld us after the "
                      "VM's %s", a->port, a->installed_usec - a->seen_usec,
                      a->cause);
        }
    }
}

static void
owner_written(void *aux, const struct k8s_result *result)
{
    char *port = aux;
    if (result->error) {
        VLOG_WARN("port %s: recording the migration's outcome failed: %s",
                  port, result->error);
    }
    free(port);
}

/* Records the outcome of migrations to this node in the ports' ownership:
 * on success the target pod becomes the active owner; on failure it stops
 * being the alternate one. */
static void
record_outcomes(struct lb_agent *agent)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &agent->cluster.objects[LB_KIND_LOGICAL_PORT]) {
        const struct lb_logical_port *lp = node->data;
        if (!lp->alternate_node
            || strcmp(lp->alternate_node, agent->chassis)
            || sset_contains(&agent->owner_writes, lp->port_name)) {
            continue;
        }
        struct lb_migration_facts f;
        lb_derive_migration_facts(&agent->cluster, lp, &f);
        if (!f.migration_uid || !lp->alternate_migration_uid
            || strcmp(f.migration_uid, lp->alternate_migration_uid)) {
            continue;
        }
        if (f.outcome == LB_OUTCOME_SUCCEEDED) {
            VLOG_INFO("port %s: migration %s succeeded; %s is now the "
                      "active owner", lp->port_name, f.migration_uid,
                      lp->alternate_pod);
            lb_agent_record_owner(agent, lp->ns, lp->name, lp->alternate_pod,
                                  lp->alternate_pod_uid, agent->chassis,
                                  NULL);
        } else if (f.outcome == LB_OUTCOME_FAILED
                   || f.outcome == LB_OUTCOME_CANCELLED) {
            VLOG_INFO("port %s: migration %s %s; dropping the alternate "
                      "owner", lp->port_name, f.migration_uid,
                      lb_migration_outcome_to_string(f.outcome));
            json_t *patch = json_pack("{s:{s:n}}", "status",
                                      "alternateOwner");
            char *path = xasprintf("/apis/livebind.io/v1alpha1/namespaces/%s/"
                                   "logicalports/%s/status", lp->ns,
                                   lp->name);
            k8s_merge_patch(agent->k8s, path, patch, owner_written,
                            xstrdup(lp->port_name));
            free(path);
            json_decref(patch);
        } else {
            continue;
        }
        /* Once per migration: the watch brings the new status back. */
        sset_add(&agent->owner_writes, lp->port_name);
    }

    /* Forget ports whose write has landed. */
    const char *port;
    SSET_FOR_EACH_SAFE (port, &agent->owner_writes) {
        const struct lb_logical_port *lp = find_logical_port(agent, port);
        if (!lp || !lp->alternate_node
            || strcmp(lp->alternate_node, agent->chassis)) {
            sset_delete(&agent->owner_writes, SSET_NODE_FROM_NAME(port));
        }
    }
}

static void
log_record_transitions(struct lb_agent *agent,
                       const struct lb_migration_record *rec)
{
    char *key = xasprintf("%s %s", rec->port,
                          rec->migration_uid ? rec->migration_uid : "");
    size_t *logged = shash_find_data(&agent->logged, key);
    if (!logged) {
        logged = xzalloc(sizeof *logged);
        shash_add(&agent->logged, key, logged);
    }
    for (size_t i = *logged; i < rec->n_transitions; i++) {
        const struct lb_migration_transition *t = &rec->transitions[i];
        VLOG_INFO("migration %s of port %s (%s -> %s): %s -> %s: %s",
                  rec->vmim ? rec->vmim : "?", rec->port,
                  rec->source ? rec->source : "?",
                  rec->target ? rec->target : "?",
                  lb_migration_state_to_string(t->from),
                  lb_migration_state_to_string(t->to),
                  t->cause ? t->cause : "");
    }
    *logged = rec->n_transitions;
    free(key);
}

/* Logs the migration state transitions not logged yet, of the ports in
 * 'ports' or of all if NULL. */
static void
log_transitions(struct lb_agent *agent, const struct sset *ports)
{
    if (ports) {
        const char *name;
        SSET_FOR_EACH (name, ports) {
            const struct lb_migration_record *rec
                = lb_migration_table_find(&agent->migrations, name);
            if (rec) {
                log_record_transitions(agent, rec);
            }
        }
    } else {
        const struct lb_migration_record *rec;
        HMAP_FOR_EACH (rec, hmap_node, &agent->migrations.current) {
            log_record_transitions(agent, rec);
        }
    }
}

/* A VM that did not opt in migrates without livebind's help: its port
 * moves only when the migration has succeeded.  Says so once per
 * migration.  Looks at the ports in 'ports', or all if NULL, whose
 * migration is under way. */
static void
log_not_opted_in(struct lb_agent *agent, const struct sset *ports)
{
    const struct lb_migration_record *rec;
    HMAP_FOR_EACH (rec, hmap_node, &agent->migrations.current) {
        if (rec->state == LB_MIGRATION_IDLE
            || lb_migration_state_is_final(rec->state)
            || (ports && !sset_contains(ports, rec->port))) {
            continue;
        }
        const struct lb_logical_port *lp = find_logical_port(agent,
                                                             rec->port);
        if (!lp || !lp->vm) {
            continue;
        }
        struct lb_migration_facts f;
        lb_derive_migration_facts(&agent->cluster, lp, &f);
        if (!f.migration_uid || f.opted_in
            || f.outcome != LB_OUTCOME_IN_PROGRESS) {
            continue;
        }
        char *key = xasprintf("%s %s", lp->port_name, f.migration_uid);
        if (sset_add(&agent->not_opted_in, key)) {
            VLOG_INFO("port %s: VM %s/%s migrates (%s) without the "
                      "annotation kubevirt.io/allow-pod-bridge-network-"
                      "live-migration=\"true\": single-chassis binding, "
                      "the port moves only when the migration succeeds",
                      lp->port_name, lp->ns, lp->vm,
                      f.vmim ? f.vmim : f.migration_uid);
        }
        free(key);
    }
}

/* Called after each derivation of the model. */
void
lb_agent_migration_derived(struct lb_agent *agent, const struct sset *ports)
{
    log_transitions(agent, ports);
    log_not_opted_in(agent, ports);
    record_outcomes(agent);
}

void
lb_agent_migration_format(const struct lb_agent *agent, struct ds *s)
{
    const struct lb_activation *a;
    if (ovs_list_is_empty(&agent->activations)) {
        return;
    }
    ds_put_cstr(s, "\nactivations on this node (newest first):\n");
    LIST_FOR_EACH (a, list_node, &agent->activations) {
        ds_put_format(s, "  %s migration %s: %s", a->port,
                      a->migration_uid[0] ? a->migration_uid : "?",
                      a->cause);
        if (a->installed_usec) {
            ds_put_format(s, ", unblocked in the switch after %lld us\n",
                          a->installed_usec - a->seen_usec);
        } else {
            ds_put_cstr(s, ", unblocking\n");
        }
    }
}
