/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Live migration on the agent's side (agent-migration.h).
 *
 * Binding a port to two chassis, mirroring and blocking are derived from
 * the cluster's objects (derive.c) and turned into flows (pipeline.c).  What
 * cannot wait for the API server is here: when the VM, resumed on this
 * node, announces itself (RARP, gratuitous ARP or IPv6 NA from its own MAC
 * on the blocked port: announce.c), this part tells the core to unblock the
 * port at once, in one bundle, then, on a provider network, announces the
 * VM's new location into it for the fabric (RARP, a gratuitous ARP for each
 * IPv4 address, an NA for each IPv6 one), and
 * asks for the activation to be recorded in the API, so that a restarted
 * agent and the other nodes see it.  It also asks for the outcome of each
 * migration to be recorded in the port's ownership, and logs every
 * migration state transition with its cause.  On the node that reports a
 * migration (its target, or its source until there is one), each step is
 * also a Kubernetes Event on the VMI and counts in the metrics.
 *
 * Owns: the ports this node unblocked before the API says so (local
 * activations, which the core applies to each derived model), the recent
 * activations and their latencies, the announcements to send, the
 * migrations' states derived from the objects, and what was logged and
 * asked for already; the activation latencies and outcomes as metrics. */

#include <config.h>
#include "agent-migration.h"

#include <string.h>
#include "agent-view.h"
#include "agent-writes.h"
#include "announce.h"
#include "derive.h"
#include "flow.h"
#include "metrics.h"
#include "migration.h"
#include "model.h"
#include "ofctrl.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "packets.h"
#include "sset.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_migration);

#define MAX_ACTIVATIONS 64          /* Kept for livebind-ctl. */

struct lb_agent_migration {
    const struct lb_agent_view *view;   /* The core's. */

    /* Ports this agent unblocked on a VM's announcement, before the API
     * server says so: port name -> migration UID (or ""). */
    struct shash local_activations;

    /* Ports whose copy here the switch unblocked itself on the VM's RARP
     * (self-activation, pipeline.c), which the agent has yet to take over
     * in its own flows: port name -> when it does at the latest
     * (time_msec(), a long long int).  See
     * lb_agent_migration_packet_in(). */
    struct shash deferred;

    struct ovs_list activations;    /* "struct lb_activation", newest first. */
    size_t n_activations;
    struct ovs_list announcements;  /* Packet-outs to send after the flows. */
    struct lb_migration_table migrations;
    struct shash logged;            /* Port -> transitions already logged. */
    struct sset owner_writes;       /* Ports with an owner write pending. */
    struct sset not_opted_in;       /* "port uid" already logged. */

    /* Events are for what this agent sees happen: the transitions found by
     * its first derivation are history (a restarted agent must not record
     * them again). */
    bool seen_first_derivation;

    /* Metrics. */
    struct lb_histogram activation_latency[LB_ANNOUNCE_NA + 1];
    uint64_t n_completed;
    uint64_t n_rolled_back;
};

/* One activation of a port on this chassis. */
struct lb_activation {
    struct ovs_list list_node;      /* In 'activations'. */
    char *port;
    char *migration_uid;
    char *cause;                    /* e.g. "RARP on ofport 11". */
    enum lb_announce_kind kind;
    ofp_port_t in_port;             /* Where the announcement came in. */
    char *with;                     /* The VM's port that announced, if
                                     * another NIC's (multinic.h). */
    long long int seen_usec;        /* Announcement received. */
    long long int sent_usec;        /* Unblocking bundle sent. */
    long long int installed_usec;   /* Unblocking flows in the switch. */
    uint64_t seqno;                 /* Flows seqno that unblocks. */
    bool told;                      /* Logged and recorded (after the
                                     * unblocking bundle went out). */
    bool self_unblocked;            /* The switch unblocked it itself on
                                     * the RARP; no bundle of the agent's
                                     * was needed. */
};

/* How long at most the agent leaves a copy that unblocked itself in the
 * switch before it takes it over in its own flows, if the API server has
 * not shown the activation by then (lb_agent_migration_packet_in()). */
#define TAKEOVER_SETTLE_MSEC 250

/* A packet to send through the pipeline as if from 'in_port', once the
 * flows numbered 'seqno' are in the switch (0: at once). */
struct announcement {
    struct ovs_list list_node;
    uint64_t seqno;
    ofp_port_t in_port;
    size_t len;
    uint8_t packet[MAX(LB_ANNOUNCE_FRAME_LEN, LB_ANNOUNCE_NA_FRAME_LEN)];
};

struct lb_agent_migration *
lb_agent_migration_create(const struct lb_agent_view *view)
{
    struct lb_agent_migration *mig = xzalloc(sizeof *mig);
    mig->view = view;
    shash_init(&mig->local_activations);
    shash_init(&mig->deferred);
    ovs_list_init(&mig->activations);
    ovs_list_init(&mig->announcements);
    lb_migration_table_init(&mig->migrations);
    shash_init(&mig->logged);
    sset_init(&mig->owner_writes);
    sset_init(&mig->not_opted_in);
    for (size_t i = 0; i < ARRAY_SIZE(mig->activation_latency); i++) {
        lb_histogram_init(&mig->activation_latency[i],
                          lb_histogram_latency_bounds,
                          lb_histogram_n_latency_bounds);
    }
    return mig;
}

static void
activation_free(struct lb_activation *a)
{
    if (a) {
        free(a->port);
        free(a->migration_uid);
        free(a->cause);
        free(a->with);
        free(a);
    }
}

void
lb_agent_migration_destroy(struct lb_agent_migration *mig)
{
    if (!mig) {
        return;
    }
    struct lb_activation *a;
    LIST_FOR_EACH_POP (a, list_node, &mig->activations) {
        activation_free(a);
    }
    struct announcement *an;
    LIST_FOR_EACH_POP (an, list_node, &mig->announcements) {
        free(an);
    }
    shash_destroy_free_data(&mig->local_activations);
    shash_destroy_free_data(&mig->deferred);
    lb_migration_table_destroy(&mig->migrations);
    shash_destroy_free_data(&mig->logged);
    sset_destroy(&mig->owner_writes);
    sset_destroy(&mig->not_opted_in);
    free(mig);
}

/* The LogicalPort object behind logical port 'port_name'. */
static const struct lb_logical_port *
find_logical_port(const struct lb_agent_migration *mig,
                  const char *port_name)
{
    return (mig->view->cluster
            ? lb_cluster_find_logical_port_by_port_name(mig->view->cluster,
                                                        port_name)
            : NULL);
}

/* Announcements: what QEMU sends after a migration, and what we send on
 * the VM's behalf once the port is unblocked. */

/* Queues a RARP (if 'rarp'), or a GARP for 'ip' (if nonzero), or else an
 * unsolicited NA for 'ip6', from 'mac' on 'in_port'. */
static void
queue_announcement(struct lb_agent_migration *mig, ofp_port_t in_port,
                   struct eth_addr mac, bool rarp, ovs_be32 ip,
                   const struct in6_addr *ip6)
{
    struct announcement *an = xzalloc(sizeof *an);
    an->in_port = in_port;
    an->len = LB_ANNOUNCE_FRAME_LEN;
    if (rarp) {
        lb_announce_compose_rarp(mac, an->packet);
    } else if (ip) {
        lb_announce_compose_garp(mac, ip, an->packet);
    } else {
        lb_announce_compose_na(mac, ip6, an->packet);
        an->len = LB_ANNOUNCE_NA_FRAME_LEN;
    }
    ovs_list_push_back(&mig->announcements, &an->list_node);
}

/* Activation. */

static void
record_activation(struct lb_agent_migration *mig, const struct lb_port *port,
                  const char *migration_uid, const char *cause)
{
    const struct lb_logical_port *lp = find_logical_port(mig, port->name);
    if (!lp) {
        return;
    }
    struct lb_write *w = lb_write_new(LB_WRITE_ACTIVATION, lp->ns, lp->name);
    w->node = xstrdup(mig->view->chassis);
    w->migration_uid = xstrdup(migration_uid);
    w->cause = xstrdup(cause);
    ovs_list_push_back(mig->view->writes, &w->list_node);
}

/* True if 'pod' is a migration target pod of 'port' on this node. */
static bool
is_target_pod_here(const struct lb_agent_migration *mig,
                   const struct lb_port *port, const struct lb_pod *pod)
{
    if (!pod || !pod->migration_job_uid || !pod->node_name
        || strcmp(pod->node_name, mig->view->chassis)
        || lb_pod_is_finished(pod)) {
        return false;
    }
    for (size_t i = 0; i < lb_pod_n_port_names(pod); i++) {
        if (!strcmp(lb_pod_port_name_at(pod, i), port->name)) {
            return true;
        }
    }
    return false;
}

/* The migration this node's copy of 'port' belongs to, or "". */
static const char *
port_migration_uid(const struct lb_agent_migration *mig,
                   const struct lb_port *port)
{
    const struct lb_cluster *cluster = mig->view->cluster;
    if (!cluster) {
        return "";
    }
    /* The port's alternate owner is that pod, as a rule: no walk over every
     * pod of the cluster (tens of thousands) for each of a burst of
     * activations. */
    const struct lb_logical_port *lp = find_logical_port(mig, port->name);
    if (lp && lp->alternate_pod) {
        const struct lb_pod *pod = lb_cluster_find_pod(cluster, lp->ns,
                                                       lp->alternate_pod);
        if (is_target_pod_here(mig, port, pod)) {
            return pod->migration_job_uid;
        }
    }
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_POD]) {
        const struct lb_pod *pod = node->data;
        if (is_target_pod_here(mig, port, pod)) {
            return pod->migration_job_uid;
        }
    }
    return "";
}

/* Records the activation of 'port', which the core is to unblock now,
 * without waiting for the API server: the derived model keeps the port
 * unblocked (lb_agent_migration_apply_local()) until the API shows the
 * activation or the migration ends.  Only what the unblocking needs is
 * done here; the rest (which migration, the log line, the write to the
 * API) waits until the bundle is out (tell_activations()). */
static void
activate(struct lb_agent_migration *mig, const struct lb_port *port,
         ofp_port_t in_port, enum lb_announce_kind announcement,
         long long int seen_usec, const char *with, bool self_unblocked)
{
    const char *kind = lb_announce_kind_to_string(announcement);

    if (self_unblocked) {
        long long int *due = xmalloc(sizeof *due);
        *due = time_msec() + TAKEOVER_SETTLE_MSEC;
        free(shash_replace(&mig->deferred, port->name, due));
    } else {
        free(shash_replace(&mig->local_activations, port->name,
                           xstrdup("")));
    }

    struct lb_activation *a = xzalloc(sizeof *a);
    a->port = xstrdup(port->name);
    a->migration_uid = xstrdup("");
    a->cause = (with
                ? xasprintf("%s of the same VM's port %s", kind, with)
                : xasprintf("%s on ofport %"PRIu32, kind,
                            ofp_to_u16(in_port)));
    a->seen_usec = seen_usec;
    a->kind = announcement;
    a->in_port = in_port;
    a->with = nullable_xstrdup(with);
    a->self_unblocked = self_unblocked;
    ovs_list_push_front(&mig->activations, &a->list_node);
    if (++mig->n_activations > MAX_ACTIVATIONS) {
        struct lb_activation *old = CONTAINER_OF(
            ovs_list_pop_back(&mig->activations), struct lb_activation,
            list_node);
        activation_free(old);
        mig->n_activations--;
    }

    /* Tell the tables outside the pipeline where the VM is now, once the
     * flows are in (lb_agent_migration_unblocked() says which flows): on a
     * provider network, the fabric's MAC tables (the RARP) and its
     * routers' and hosts' neighbour caches (gratuitous ARPs and NAs, which
     * the pipeline sends as it would the VM's own: table 50).  An
     * overlay has no such table: the flows are its only MAC table, and
     * the VM keeps its MAC, so no neighbour entry of a pod or host changes
     * when it moves.  There the agent sends nothing: flooded to every pod
     * of the switch on every node, one VM's announcements cost each node's
     * switch a frame through each pod's stack, which with 100 VMs
     * resuming at once made the switches drop frames
     * (tests/bench/README.md); the VM's own RARP, gratuitous ARP and NA
     * still go where the pipeline sends them. */
    if (!port->sw || !port->sw->physnet) {
        return;
    }
    queue_announcement(mig, in_port, port->mac, true, 0, NULL);
    for (size_t i = 0; i < port->n_ipv4; i++) {
        queue_announcement(mig, in_port, port->mac, false, port->ipv4[i],
                           NULL);
    }
    /* IPv6 neighbours learn from unsolicited NAs (RFC 4861 7.2.6): one for
     * each address, and for the link-local one, which the port security
     * lets through only where the port has IPv6 flows. */
    if (port->n_ipv6) {
        struct in6_addr lla;
        in6_generate_lla(port->mac, &lla);
        queue_announcement(mig, in_port, port->mac, false, 0, &lla);
    }
    for (size_t i = 0; i < port->n_ipv6; i++) {
        queue_announcement(mig, in_port, port->mac, false, 0,
                           &port->ipv6[i]);
    }
}

/* What activate() left for after the unblocking bundle: the migration the
 * activation belongs to, the log line and the activation's record in the
 * API. */
static void
tell_activations(struct lb_agent_migration *mig)
{
    struct lb_activation *a;
    LIST_FOR_EACH (a, list_node, &mig->activations) {
        if (a->told) {
            break;              /* Newest first: the rest are told. */
        }
        a->told = true;
        a->sent_usec = time_usec();
        const struct lb_port *port = lb_model_find_port(mig->view->model,
                                                        a->port);
        if (!port) {
            continue;
        }
        const char *uid = port_migration_uid(mig, port);
        free(a->migration_uid);
        a->migration_uid = xstrdup(uid);
        struct shash_node *node = shash_find(&mig->local_activations,
                                             a->port);
        if (node) {
            free(node->data);
            node->data = xstrdup(uid);
        }
        const char *kind = lb_announce_kind_to_string(a->kind);
        if (a->with) {
            VLOG_INFO("port %s: %s of the same VM's port %s: unblocking "
                      "(migration %s)", a->port, kind, a->with,
                      uid[0] ? uid : "unknown");
        } else {
            VLOG_INFO("port %s: %s from the VM on ofport %"PRIu32": "
                      "unblocking (migration %s)", a->port, kind,
                      ofp_to_u16(a->in_port), uid[0] ? uid : "unknown");
        }
        if (mig->view->cluster) {
            record_activation(mig, port, uid, a->cause);
        }
    }
}

/* The ofport of 'port''s interface on this node, 0 if none. */
static int
iface_ofport(const struct lb_agent_migration *mig, const struct lb_port *port)
{
    return simap_get(ovs_bridge_iface_ofports(mig->view->bridge),
                     port->name);
}

/* The VM resumed on this node, as 'port''s announcement shows: its other
 * NICs' copies here, blocked for the same migration, are to be unblocked
 * too (multinic.h).  Stores their names in 'siblings'.  The VM runs with
 * all of its NICs at once: none should wait for its own announcement,
 * which a guest or a lossy moment could hold back. */
static void
blocked_siblings(const struct lb_agent_migration *mig,
                 const struct lb_port *port, struct svec *siblings)
{
    const struct lb_logical_port *lp = find_logical_port(mig, port->name);
    if (!lp || !lp->vm) {
        return;
    }
    const char *uid = port_migration_uid(mig, port);
    const struct lb_port *other;
    HMAP_FOR_EACH (other, node, &mig->view->model->ports) {
        if (other == port || !other->additional_blocked
            || !other->additional_chassis
            || strcmp(other->additional_chassis, mig->view->chassis)) {
            continue;
        }
        const struct lb_logical_port *olp = find_logical_port(mig,
                                                              other->name);
        if (!olp || !olp->vm || strcmp(olp->vm, lp->vm)
            || strcmp(olp->ns, lp->ns) || !iface_ofport(mig, other)
            || strcmp(port_migration_uid(mig, other), uid)) {
            continue;
        }
        svec_add(siblings, other->name);
    }
}

/* Handles a packet-in.  Stores in 'unblock' the names of the ports the core
 * must unblock now (then call lb_agent_migration_unblocked()).
 *
 * A self-activating copy's RARP comes with its own reason,
 * LB_PIN_ANNOUNCE_LEARNED, from the very flow that has just unblocked the
 * copy in the switch (pipeline.c, self-activation).  Such a copy on an
 * overlay, alone of its VM's NICs to migrate here, is not unblocked in a
 * bundle at once: in the userspace datapath the switch's main thread,
 * which commits the bundle, also forwards, and the resumed VM's first
 * frames would wait in its sockets for the commit (tests/bench/README.md,
 * "Where the client's first frame waits").  The agent takes the copy over
 * in its flows when it next derives the port with the activation (its own
 * write of it, back from the API server) or TAKEOVER_SETTLE_MSEC later
 * (lb_agent_migration_takeovers_due()).  A provider network's copy is
 * unblocked at once: the agent's announcements to the fabric wait for
 * that bundle. */
void
lb_agent_migration_packet_in(struct lb_agent_migration *mig,
                             const struct ofputil_packet_in *pin,
                             struct svec *unblock)
{
    const struct lb_agent_view *view = mig->view;
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    long long int now = time_usec();

    ovs_be32 reason = 0;
    if (pin->userdata_len == sizeof reason) {
        memcpy(&reason, pin->userdata, sizeof reason);
    }
    bool learned = ntohl(reason) == LB_PIN_ANNOUNCE_LEARNED;
    if (ntohl(reason) != LB_PIN_ANNOUNCE && !learned) {
        VLOG_DBG_RL(&rl, "packet-in with unknown userdata ignored");
        return;
    }
    uint32_t key = pin->flow_metadata.flow.regs[14];
    ofp_port_t in_port = pin->flow_metadata.flow.in_port.ofp_port;
    const struct lb_port *port = lb_model_find_port_by_key(view->model, key);

    if (!port || !port->additional_chassis
        || strcmp(port->additional_chassis, view->chassis)
        || iface_ofport(mig, port) != ofp_to_u16(in_port)) {
        VLOG_WARN_RL(&rl, "announcement on ofport %"PRIu32" for port key "
                     "%#"PRIx32", which does not migrate to this node: "
                     "ignored", ofp_to_u16(in_port), key);
        return;
    }
    /* The flows match announcements only roughly; the packet-in is what
     * moves a VM's traffic, so check it fully. */
    struct lb_announce_port ap = {
        .mac = port->mac, .ipv4 = port->ipv4, .n_ipv4 = port->n_ipv4,
        .ipv6 = port->ipv6, .n_ipv6 = port->n_ipv6,
    };
    enum lb_announce_kind kind = lb_announce_classify(pin->packet,
                                                      pin->packet_len, &ap);
    if (kind == LB_ANNOUNCE_NONE) {
        VLOG_WARN_RL(&rl, "port %s: not an announcement of its own MAC "
                     "and addresses: ignored", port->name);
        return;
    }
    if (!port->additional_blocked || shash_find(&mig->deferred, port->name)) {
        return;                 /* Already active: a later QEMU round. */
    }
    struct svec siblings = SVEC_EMPTY_INITIALIZER;
    blocked_siblings(mig, port, &siblings);
    bool self_unblocked = (learned && kind == LB_ANNOUNCE_RARP
                           && (!port->sw || !port->sw->physnet)
                           && !siblings.n);
    activate(mig, port, in_port, kind, now, NULL, self_unblocked);
    if (!self_unblocked) {
        svec_add(unblock, port->name);
        for (size_t i = 0; i < siblings.n; i++) {
            const struct lb_port *other = lb_model_find_port(
                mig->view->model, siblings.names[i]);
            activate(mig, other, u16_to_ofp(iface_ofport(mig, other)), kind,
                     now, port->name, false);
            svec_add(unblock, other->name);
        }
    }
    svec_destroy(&siblings);
}

/* Stores in 'unblock' the ports that unblocked themselves in the switch
 * and that the API server has not shown activated within
 * TAKEOVER_SETTLE_MSEC: the core unblocks them in its flows now (then
 * call lb_agent_migration_unblocked()), and the derived model keeps them
 * so (lb_agent_migration_apply_local()). */
void
lb_agent_migration_takeovers_due(struct lb_agent_migration *mig,
                                 struct svec *unblock)
{
    long long int now = time_msec();
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &mig->deferred) {
        const long long int *due = node->data;
        if (*due <= now) {
            svec_add(unblock, node->name);
            free(shash_replace(&mig->local_activations, node->name,
                               xstrdup("")));
            free(node->data);
            shash_delete(&mig->deferred, node);
        }
    }
}

/* When lb_agent_migration_takeovers_due() has something to do next
 * (time_msec()), LLONG_MAX if never. */
long long int
lb_agent_migration_next_takeover(const struct lb_agent_migration *mig)
{
    long long int next = LLONG_MAX;
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &mig->deferred) {
        const long long int *due = node->data;
        next = MIN(next, *due);
    }
    return next;
}

/* The core has unblocked the port of the latest activation in the desired
 * flows numbered 'flows_seqno'. */
void
lb_agent_migration_unblocked(struct lb_agent_migration *mig,
                             uint64_t flows_seqno)
{
    /* The latest activations: one announcement's, its VM's NICs'. */
    struct lb_activation *a;
    LIST_FOR_EACH (a, list_node, &mig->activations) {
        if (a->self_unblocked) {
            continue;           /* No bundle of the agent's unblocked it. */
        }
        if (a->seqno) {
            break;
        }
        a->seqno = flows_seqno;
    }
    struct announcement *an;
    LIST_FOR_EACH (an, list_node, &mig->announcements) {
        if (!an->seqno) {
            an->seqno = flows_seqno;
        }
    }
}

/* Unblocks, in 'model', the ports this agent activated itself and the API
 * does not show as activated yet. */
void
lb_agent_migration_apply_local(struct lb_agent_migration *mig,
                               struct lb_model *model)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &mig->local_activations) {
        struct lb_port *port = lb_model_find_port(model, node->name);
        if (!port || !port->additional_chassis
            || strcmp(port->additional_chassis, mig->view->chassis)) {
            /* The migration moved on (completed or rolled back): the API's
             * view is authoritative again.  The data, the migration's
             * UID, is ours to free. */
            free(node->data);
            shash_delete(&mig->local_activations, node);
            continue;
        }
        port->additional_blocked = false;
    }
    /* A copy that unblocked itself is the API's to show activated; once it
     * does (or the migration moved on), there is nothing left to take
     * over. */
    SHASH_FOR_EACH_SAFE (node, &mig->deferred) {
        const struct lb_port *port = lb_model_find_port(model, node->name);
        if (!port || !port->additional_chassis
            || strcmp(port->additional_chassis, mig->view->chassis)
            || !port->additional_blocked) {
            free(node->data);
            shash_delete(&mig->deferred, node);
        }
    }
}

/* Events. */

/* Asks for an Event on the VMI behind 'port_name', if there is one. */
static void
ask_event(struct lb_agent_migration *mig, const char *port_name,
             bool warning, const char *reason, const char *action,
             char *note)
{
    const struct lb_logical_port *lp = find_logical_port(mig, port_name);
    const struct lb_vmi *vmi = (lp && lp->vm
                                ? lb_cluster_find_vmi(mig->view->cluster,
                                                      lp->ns, lp->vm)
                                : NULL);
    if (!vmi || !mig->seen_first_derivation) {
        free(note);
        return;
    }
    struct lb_write *w = lb_write_new(LB_WRITE_EVENT, vmi->ns, vmi->name);
    w->uid = nullable_xstrdup(vmi->uid);
    w->warning = warning;
    w->reason = reason;
    w->action = action;
    w->note = note;
    ovs_list_push_back(mig->view->writes, &w->list_node);
}

/* The node that records a migration's Events and counts its outcome: the
 * target, where the VM's copy is blocked and activated, or the source
 * while there is no target.  One node, so that each step is told once. */
static bool
reports(const struct lb_agent_migration *mig,
        const struct lb_migration_record *rec)
{
    const char *node = rec->target ? rec->target : rec->source;
    return node && !strcmp(node, mig->view->chassis);
}

/* This node's latest activation of 'port' in migration 'uid', if any. */
static const struct lb_activation *
find_activation(const struct lb_agent_migration *mig, const char *port,
                const char *uid)
{
    const struct lb_activation *a;
    LIST_FOR_EACH (a, list_node, &mig->activations) {
        if (!strcmp(a->port, port)
            && !strcmp(a->migration_uid, uid ? uid : "")) {
            return a;
        }
    }
    return NULL;
}

/* The Events and counts of one transition of 'rec'. */
static void
record_transition(struct lb_agent_migration *mig,
                  const struct lb_migration_record *rec,
                  const struct lb_migration_transition *t)
{
    const char *src = rec->source ? rec->source : "?";
    const char *dst = rec->target ? rec->target : "?";
    const char *cause = t->cause ? t->cause : "";

    switch (t->to) {
    case LB_MIGRATION_MIRRORING:
        ask_event(mig, rec->port, false, "LiveMigrationMirroring",
                     "Mirror", xasprintf(
                         "port %s bound to %s and %s: its traffic goes to "
                         "both nodes while memory is copied (%s)",
                         rec->port, src, dst, cause));
        ask_event(mig, rec->port, false, "LiveMigrationTargetBlocked",
                     "Block", xasprintf(
                         "the VM's copy on %s is blocked: nothing reaches "
                         "or leaves it but the VM's own announcements, "
                         "until it resumes there", dst));
        break;
    case LB_MIGRATION_ACTIVATED:
        /* An activation this node saw is told when the switch has it
         * (lb_agent_migration_run()), with its latency. */
        if (!find_activation(mig, rec->port, rec->migration_uid)) {
            ask_event(mig, rec->port, false, "LiveMigrationActivated",
                         "Activate", xasprintf(
                             "the VM's copy on %s is unblocked: %s",
                             dst, cause));
        }
        break;
    case LB_MIGRATION_COMPLETED:
        mig->n_completed++;
        if (t->from == LB_MIGRATION_MIRRORING) {
            ask_event(mig, rec->port, true,
                         "LiveMigrationActivationMissing", "Activate",
                         xasprintf("the migration completed but no "
                                   "announcement of the VM reached %s "
                                   "before: its traffic moved only at "
                                   "completion; check that the VM sends "
                                   "RARP, GARP or NA on resume", dst));
        }
        ask_event(mig, rec->port, false, "LiveMigrationCompleted",
                     "Complete", xasprintf(
                         "port %s: migration flows removed; %s",
                         rec->port, cause));
        break;
    case LB_MIGRATION_ROLLED_BACK:
        mig->n_rolled_back++;
        ask_event(mig, rec->port, true, "LiveMigrationRolledBack",
                     "RollBack", xasprintf(
                         "port %s is back on %s alone, the flows to %s "
                         "removed: %s", rec->port, src, dst, cause));
        break;
    case LB_MIGRATION_IDLE:
    case LB_MIGRATION_PREPARING:
    default:
        break;
    }
}

/* After the flows are sent: the activations' log lines and records, the
 * announcements once their port is unblocked in the switch, and the
 * activation latencies. */
void
lb_agent_migration_run(struct lb_agent_migration *mig)
{
    struct ofctrl *ofctrl = mig->view->ofctrl;
    uint64_t installed = ofctrl_get_installed_seqno(ofctrl);

    tell_activations(mig);

    /* Not before the barrier reply: the switch's main thread, which in the
     * userspace datapath also forwards, first commits the unblocking
     * bundle and answers the barrier, then forwards what waits for the VM,
     * and only then floods these. */
    struct announcement *an;
    LIST_FOR_EACH_SAFE (an, list_node, &mig->announcements) {
        if (an->seqno > installed) {
            continue;
        }
        ovs_list_remove(&an->list_node);
        int error = ofctrl_packet_out(ofctrl, an->packet,
                                      an->len, an->in_port,
                                      "resubmit(,0)");
        if (error) {
            VLOG_WARN("sending an announcement failed (%s)",
                      ovs_strerror(error));
        }
        free(an);
    }

    struct lb_activation *a;
    LIST_FOR_EACH (a, list_node, &mig->activations) {
        if (!a->installed_usec && a->self_unblocked) {
            /* The switch did it as it sent the packet-in: there is no
             * round trip of the agent's to measure, and the latency from
             * the packet-in to the unblocked switch is 0. */
            a->installed_usec = time_usec();
            VLOG_INFO("port %s: unblocked in the switch by the VM's %s "
                      "itself (self-activation); the agent takes it over "
                      "in its flows once the API server shows it, or "
                      "within %d ms", a->port, a->cause,
                      TAKEOVER_SETTLE_MSEC);
            lb_histogram_observe(&mig->activation_latency[a->kind], 0);
            ask_event(mig, a->port, false, "LiveMigrationActivated",
                      "Activate", xasprintf(
                          "the VM's copy on %s is unblocked on its %s: 0 us "
                          "from the announcement to the unblocked switch "
                          "(the switch unblocked it itself, "
                          "self-activation)", mig->view->chassis,
                          a->cause));
        } else if (!a->installed_usec && installed >= a->seqno) {
            a->installed_usec = time_usec();
            long long int latency = a->installed_usec - a->seen_usec;
            VLOG_INFO("port %s: unblocked in the switch %lld us after the "
                      "VM's %s (the bundle left after %lld us)", a->port,
                      latency, a->cause, a->sent_usec - a->seen_usec);
            lb_histogram_observe(&mig->activation_latency[a->kind],
                                 latency / 1e6);
            ask_event(mig, a->port, false, "LiveMigrationActivated",
                         "Activate", xasprintf(
                             "the VM's copy on %s is unblocked on its %s: "
                             "%lld us from the announcement to the "
                             "unblocked switch", mig->view->chassis,
                             a->cause, latency));
        }
    }
}

/* Records the outcome of the migration to this node of 'lp' in the port's
 * ownership: on success the target pod becomes the active owner; on
 * failure it stops being the alternate one. */
static void
record_outcome(struct lb_agent_migration *mig,
               const struct lb_logical_port *lp)
{
    const struct lb_cluster *cluster = mig->view->cluster;
    const char *chassis = mig->view->chassis;
    if (!lp->alternate_node
        || strcmp(lp->alternate_node, chassis)
        || sset_contains(&mig->owner_writes, lp->port_name)) {
        return;
    }
    struct lb_migration_facts f;
    lb_derive_migration_facts(cluster, lp, &f);
    if (!f.migration_uid || !lp->alternate_migration_uid
        || strcmp(f.migration_uid, lp->alternate_migration_uid)) {
        return;
    }
    if (f.outcome == LB_OUTCOME_SUCCEEDED) {
        VLOG_INFO("port %s: migration %s succeeded; %s is now the "
                  "active owner", lp->port_name, f.migration_uid,
                  lp->alternate_pod);
        struct lb_write *w = lb_write_new(LB_WRITE_OWNER, lp->ns,
                                          lp->name);
        w->pod = xstrdup(lp->alternate_pod);
        w->pod_uid = nullable_xstrdup(lp->alternate_pod_uid);
        w->node = xstrdup(chassis);
        ovs_list_push_back(mig->view->writes, &w->list_node);
    } else if (f.outcome == LB_OUTCOME_FAILED
               || f.outcome == LB_OUTCOME_CANCELLED) {
        VLOG_INFO("port %s: migration %s %s; dropping the alternate "
                  "owner", lp->port_name, f.migration_uid,
                  lb_migration_outcome_to_string(f.outcome));
        struct lb_write *w = lb_write_new(LB_WRITE_DROP_ALTERNATE,
                                          lp->ns, lp->name);
        ovs_list_push_back(mig->view->writes, &w->list_node);
    } else {
        return;
    }
    /* Once per migration: the watch brings the new status back. */
    sset_add(&mig->owner_writes, lp->port_name);
}

/* Records the outcomes of migrations to this node (record_outcome()) of
 * the ports in 'ports', or of all if NULL.  A port's outcome follows only
 * from objects whose change marks it for derivation, so after an
 * incremental derivation only those are looked at: not every LogicalPort
 * of the cluster (tens of thousands) for each VMIM phase or pod of a
 * burst of migrations. */
static void
record_outcomes(struct lb_agent_migration *mig, const struct sset *ports)
{
    const struct lb_cluster *cluster = mig->view->cluster;
    const char *chassis = mig->view->chassis;
    if (ports) {
        const char *name;
        SSET_FOR_EACH (name, ports) {
            const struct lb_logical_port *lp = find_logical_port(mig, name);
            if (lp) {
                record_outcome(mig, lp);
            }
        }
    } else {
        const struct shash_node *node;
        SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_LOGICAL_PORT]) {
            record_outcome(mig, node->data);
        }
    }

    /* Forget ports whose write has landed. */
    const char *port;
    SSET_FOR_EACH_SAFE (port, &mig->owner_writes) {
        const struct lb_logical_port *lp = find_logical_port(mig, port);
        if (!lp || !lp->alternate_node
            || strcmp(lp->alternate_node, chassis)) {
            sset_delete(&mig->owner_writes, SSET_NODE_FROM_NAME(port));
        }
    }
}

static void
log_record_transitions(struct lb_agent_migration *mig,
                       const struct lb_migration_record *rec)
{
    char *key = xasprintf("%s %s", rec->port,
                          rec->migration_uid ? rec->migration_uid : "");
    size_t *logged = shash_find_data(&mig->logged, key);
    if (!logged) {
        logged = xzalloc(sizeof *logged);
        shash_add(&mig->logged, key, logged);
    }
    for (size_t i = *logged; i < rec->n_transitions; i++) {
        const struct lb_migration_transition *t = &rec->transitions[i];
        if (reports(mig, rec)) {
            record_transition(mig, rec, t);
        }
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
log_transitions(struct lb_agent_migration *mig, const struct sset *ports)
{
    if (ports) {
        const char *name;
        SSET_FOR_EACH (name, ports) {
            const struct lb_migration_record *rec
                = lb_migration_table_find(&mig->migrations, name);
            if (rec) {
                log_record_transitions(mig, rec);
            }
        }
    } else {
        const struct lb_migration_record *rec;
        HMAP_FOR_EACH (rec, hmap_node, &mig->migrations.current) {
            log_record_transitions(mig, rec);
        }
    }
}

/* A VM that did not opt in migrates without livebind's help: its port
 * moves only when the migration has succeeded.  Says so once per
 * migration, of 'rec''s port if its migration is under way. */
static void
log_not_opted_in_record(struct lb_agent_migration *mig,
                        const struct lb_migration_record *rec)
{
    if (rec->state == LB_MIGRATION_IDLE
        || lb_migration_state_is_final(rec->state)) {
        return;
    }
    const struct lb_logical_port *lp = find_logical_port(mig, rec->port);
    if (!lp || !lp->vm) {
        return;
    }
    struct lb_migration_facts f;
    lb_derive_migration_facts(mig->view->cluster, lp, &f);
    if (!f.migration_uid || f.opted_in
        || f.outcome != LB_OUTCOME_IN_PROGRESS) {
        return;
    }
    char *key = xasprintf("%s %s", lp->port_name, f.migration_uid);
    if (sset_add(&mig->not_opted_in, key)) {
        VLOG_INFO("port %s: VM %s/%s migrates (%s) without the "
                  "annotation kubevirt.io/allow-pod-bridge-network-"
                  "live-migration=\"true\": single-chassis binding, "
                  "the port moves only when the migration succeeds",
                  lp->port_name, lp->ns, lp->vm,
                  f.vmim ? f.vmim : f.migration_uid);
    }
    free(key);
}

/* log_not_opted_in_record() for the ports in 'ports', or all if NULL. */
static void
log_not_opted_in(struct lb_agent_migration *mig, const struct sset *ports)
{
    const struct lb_migration_record *rec;
    if (ports) {
        const char *name;
        SSET_FOR_EACH (name, ports) {
            rec = lb_migration_table_find(&mig->migrations, name);
            if (rec) {
                log_not_opted_in_record(mig, rec);
            }
        }
    } else {
        HMAP_FOR_EACH (rec, hmap_node, &mig->migrations.current) {
            log_not_opted_in_record(mig, rec);
        }
    }
}

/* Called in Kubernetes mode after each derivation of the model from the
 * objects: of the ports in 'ports', or of all if NULL.  Derives the
 * migrations' states of those ports, logs their transitions, and asks for
 * the outcomes to be recorded. */
void
lb_agent_migration_derived(struct lb_agent_migration *mig,
                           const struct sset *ports)
{
    const struct lb_cluster *cluster = mig->view->cluster;
    if (ports) {
        lb_derive_migrations_of(cluster, ports, &mig->migrations,
                                time_wall_msec());
    } else {
        lb_derive_migrations(cluster, &mig->migrations, time_wall_msec());
    }
    log_transitions(mig, ports);
    log_not_opted_in(mig, ports);
    record_outcomes(mig, ports);
    mig->seen_first_derivation = true;
}

void
lb_agent_migration_put_metrics(const struct lb_agent_migration *mig,
                               struct ds *page)
{
    const char *name = "livebind_activation_latency_seconds";
    lb_metrics_family(page, name, LB_METRIC_HISTOGRAM,
                      "On the target node: from the VM's announcement "
                      "(packet-in) to the switch's barrier reply for the "
                      "flows that unblock its port, by announcement; 0 "
                      "when the switch unblocked it itself on the VM's "
                      "RARP (self-activation).");
    for (int kind = LB_ANNOUNCE_RARP; kind <= LB_ANNOUNCE_NA; kind++) {
        const char *labels[] = {
            "announcement", lb_announce_kind_to_string(kind), NULL
        };
        lb_metrics_histogram(page, name, labels,
                             &mig->activation_latency[kind]);
    }

    name = "livebind_migrations_total";
    lb_metrics_family(page, name, LB_METRIC_COUNTER,
                      "Migrations this node reported (as their target, or "
                      "their source while there was no target), by "
                      "outcome.");
    const char *completed[] = { "outcome", "completed", NULL };
    const char *rolled_back[] = { "outcome", "rolled-back", NULL };
    lb_metrics_sample(page, name, completed, mig->n_completed);
    lb_metrics_sample(page, name, rolled_back, mig->n_rolled_back);

    size_t n_in_progress = 0;
    const struct lb_migration_record *rec;
    HMAP_FOR_EACH (rec, hmap_node, &mig->migrations.current) {
        n_in_progress += (rec->state != LB_MIGRATION_IDLE
                          && !lb_migration_state_is_final(rec->state));
    }
    name = "livebind_migrations_in_progress";
    lb_metrics_family(page, name, LB_METRIC_GAUGE,
                      "Ports whose migration is under way, as derived on "
                      "this node.");
    lb_metrics_sample(page, name, NULL, n_in_progress);
}

/* The migrations' states and this node's activations. */
/* The ports bound to two chassis now, with the addresses (both families)
 * that their announcements and the target's blocking are about. */
static void
format_migrating_ports(const struct lb_agent_migration *mig, struct ds *s)
{
    const struct lb_model *model = mig->view->model;
    struct sset names = SSET_INITIALIZER(&names);
    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        if (lb_port_is_migrating(port)) {
            sset_add(&names, port->name);
        }
    }
    if (!sset_is_empty(&names)) {
        ds_put_cstr(s, "\nports bound to two chassis:\n");
    }
    const char **sorted = sset_sort(&names);
    for (size_t i = 0; i < sset_count(&names); i++) {
        const char *name = sorted[i];
        port = lb_model_find_port(model, name);
        ds_put_format(s, "  %s %s -> %s%s mac="ETH_ADDR_FMT" ips=", name,
                      port->chassis, port->additional_chassis,
                      port->additional_blocked ? " (blocked)" : "",
                      ETH_ADDR_ARGS(port->mac));
        lb_port_format_ips(port, s);
        ds_put_char(s, '\n');
    }
    free(sorted);
    sset_destroy(&names);
}

void
lb_agent_migration_format(const struct lb_agent_migration *mig,
                          bool verbose, struct ds *s)
{
    lb_migration_table_format(&mig->migrations, verbose, s);
    format_migrating_ports(mig, s);

    const struct lb_activation *a;
    if (ovs_list_is_empty(&mig->activations)) {
        return;
    }
    ds_put_cstr(s, "\nactivations on this node (newest first):\n");
    LIST_FOR_EACH (a, list_node, &mig->activations) {
        ds_put_format(s, "  %s migration %s: %s", a->port,
                      a->migration_uid[0] ? a->migration_uid : "?",
                      a->cause);
        if (a->self_unblocked) {
            ds_put_cstr(s, ", unblocked by it in the switch "
                        "(self-activation)\n");
        } else if (a->installed_usec) {
            ds_put_format(s, ", switch latency %lld us (announcement to "
                          "unblocked)\n", a->installed_usec - a->seen_usec);
        } else {
            ds_put_cstr(s, ", unblocking\n");
        }
    }
}
