/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "agent-admit.h"

#include <errno.h>
#include <string.h>
#include "agent-view.h"
#include "cookie.h"
#include "ct-dump.h"
#include "ct-dump-client.h"
#include "model.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "policy-admit.h"
#include "policy.h"
#include "simap.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_admit);

/* How long a dump may take before it is given up. */
#define DUMP_TIMEOUT_MS 5000

/* The tuples go out paced, ADMIT_BATCH every ADMIT_BATCH_MS (3,200 a
 * second), and each twice (ADMIT_PASSES): a burst of thousands of small
 * packets into a tunnel loses some on a loaded node (the bed lost a fifth
 * of 400 sent at once), and a lost tuple is a connection that breaks.
 * Learning a tuple twice only refreshes its flow. */
#define ADMIT_BATCH 32
#define ADMIT_BATCH_MS 10
#define ADMIT_PASSES 2

/* One port, as a migration's source or target here. */
struct admit_port {
    char *name;
    uint32_t key;

    /* Source. */
    char *target;               /* Sent (or sending) to, this migration;
                                 * NULL when not migrating. */
    bool queued;                /* Waiting for the unixctl connection. */
    uint16_t zone;

    /* The zone as the mirroring started (the baseline): a connection
     * whose entry was refreshed since, or that was opened since, had
     * traffic in the mirroring window, which handed it over; only the
     * others need their tuples sent. */
    char *baseline_target;      /* The migration's target it is for. */
    bool want_baseline;         /* Waiting for the unixctl connection. */
    bool have_baseline;
    struct lb_ct_entry *baseline;
    size_t n_baseline;
    long long int baseline_msec;
    size_t n_active;            /* Entries with traffic in the window. */
    long long int activated_msec;   /* When the target was seen active. */
    long long int dumped_msec;      /* When the dump's reply came. */
    long long int sent_msec;        /* When the last tuple was sent. */
    size_t n_entries;           /* In the dump. */
    size_t n_sent;              /* Tuples sent. */
    size_t n_errors;            /* Lines of the dump that were no entry. */
    char *last_error;

    /* Target. */
    uint64_t n_admitted;        /* Tuples the switch learned (last count). */
    long long int first_admitted_msec;  /* When first counted, nonzero. */
    long long int last_admitted_msec;   /* When the count last changed. */
};

struct lb_agent_admit {
    const struct lb_agent_view *view;
    struct shash ports;         /* Contains "struct admit_port". */
    struct lb_ct_dumper *dumper;
    char *dumping;              /* The port whose zone is being read. */
    bool dumping_baseline;      /* ...for its baseline. */
    uint64_t watched_seqno;     /* The flows' seqno the sources were last
                                 * looked for at. */

    /* The tuples being sent, of one port at a time. */
    char *sending;              /* Its port. */
    struct lb_admit_tuple *tuples;
    size_t n_tuples, next, pass;
    struct eth_addr mac;
    char *actions;              /* The packet-out's. */
    long long int next_batch;
};

struct lb_agent_admit *
lb_agent_admit_create(const struct lb_agent_view *view,
                      const char *unixctl_path)
{
    struct lb_agent_admit *a = xzalloc(sizeof *a);
    a->view = view;
    shash_init(&a->ports);
    a->dumper = lb_ct_dumper_create(unixctl_path, DUMP_TIMEOUT_MS);
    return a;
}

static void
admit_port_destroy(struct admit_port *ap)
{
    if (ap) {
        free(ap->name);
        free(ap->target);
        free(ap->baseline_target);
        free(ap->baseline);
        free(ap->last_error);
        free(ap);
    }
}

void
lb_agent_admit_destroy(struct lb_agent_admit *a)
{
    if (a) {
        lb_ct_dumper_destroy(a->dumper);
        free(a->dumping);
        free(a->sending);
        free(a->tuples);
        free(a->actions);
        struct shash_node *node;
        SHASH_FOR_EACH_SAFE (node, &a->ports) {
            admit_port_destroy(node->data);
            shash_delete(&a->ports, node);
        }
        shash_destroy(&a->ports);
        free(a);
    }
}

static struct admit_port *
admit_port_get(struct lb_agent_admit *a, const struct lb_port *port)
{
    struct admit_port *ap = shash_find_data(&a->ports, port->name);
    if (!ap) {
        ap = xzalloc(sizeof *ap);
        ap->name = xstrdup(port->name);
        shash_add(&a->ports, port->name, ap);
    }
    ap->key = port->key;
    return ap;
}

static void
admit_fail(struct admit_port *ap, char *error)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    VLOG_WARN_RL(&rl, "%s: no conntrack tuples sent to the target: %s",
                 ap->name, error);
    free(ap->last_error);
    ap->last_error = error;
}

struct base_node {
    struct hmap_node node;
    const struct lb_ct_entry *e;
};

/* Whether 'e' was in the baseline 'base', dumped 'elapsed_ms' before it,
 * and idle since. */
static bool
baseline_idle(const struct hmap *base, const struct lb_ct_entry *e,
              long long int elapsed_ms)
{
    const struct base_node *b;
    HMAP_FOR_EACH_WITH_HASH (b, node, lb_ct_entry_hash(e), base) {
        if (lb_ct_entry_same_conn(b->e, e)) {
            return lb_admit_entry_idle(b->e, e, elapsed_ms);
        }
    }
    return false;               /* Opened in the window. */
}

/* The dump of 'ap's zone is 'text': its tuples, to be sent to the
 * target. */
static void
admit_queue_tuples(struct lb_agent_admit *a, struct admit_port *ap,
                   const char *text)
{
    const struct lb_agent_view *v = a->view;
    const struct lb_port *port = lb_model_find_port(v->model, ap->name);
    size_t n;
    struct lb_ct_entry *entries = lb_ct_dump_parse(text, &n, &ap->n_errors);

    ap->dumped_msec = time_msec();
    ap->n_entries = n;
    ap->n_sent = 0;
    unsigned int tun = (port && port->sw && ap->target
                        ? simap_get(ovs_bridge_tunnel_ofports(v->bridge),
                                    ap->target)
                        : 0);
    if (!tun) {
        admit_fail(ap, xasprintf("no tunnel to %s", ap->target
                                 ? ap->target : "the target"));
        free(entries);
        return;
    }
    struct hmap base = HMAP_INITIALIZER(&base);
    struct base_node *nodes = NULL;
    bool baseline = (ap->have_baseline && ap->baseline_target
                     && !strcmp(ap->baseline_target, ap->target));
    if (baseline) {
        nodes = xmalloc(MAX(ap->n_baseline, 1) * sizeof *nodes);
        for (size_t i = 0; i < ap->n_baseline; i++) {
            nodes[i].e = &ap->baseline[i];
            hmap_insert(&base, &nodes[i].node,
                        lb_ct_entry_hash(&ap->baseline[i]));
        }
    }
    free(a->tuples);
    a->tuples = xmalloc(MAX(n, 1) * sizeof *a->tuples);
    a->n_tuples = 0;
    ap->n_active = 0;
    for (size_t i = 0; i < n; i++) {
        if (baseline && !baseline_idle(&base, &entries[i],
                                       ap->dumped_msec - ap->baseline_msec)) {
            ap->n_active++;
            continue;
        }
        if (lb_admit_tuple_from_entry(port, &entries[i],
                                      &a->tuples[a->n_tuples])) {
            a->n_tuples++;
        }
    }
    hmap_destroy(&base);
    free(nodes);
    free(entries);

    struct ds actions = DS_EMPTY_INITIALIZER;
    lb_admit_packet_out_actions(port->sw->tunnel_key, tun, &actions);
    free(a->actions);
    a->actions = ds_steal_cstr(&actions);
    a->mac = port->mac;
    a->next = a->pass = 0;
    a->next_batch = 0;
    free(a->sending);
    a->sending = xstrdup(ap->name);
}

/* The next batch of the tuples being sent. */
static void
admit_send_batch(struct lb_agent_admit *a)
{
    if (time_msec() < a->next_batch) {
        return;
    }
    struct admit_port *ap = shash_find_data(&a->ports, a->sending);
    struct ofpbuf packet;
    ofpbuf_init(&packet, 128);
    for (size_t i = 0; i < ADMIT_BATCH && a->next < a->n_tuples; i++) {
        lb_admit_packet(&a->tuples[a->next++], a->mac, &packet);
        if (!ofctrl_packet_out(a->view->ofctrl, packet.data, packet.size,
                               OFPP_CONTROLLER, a->actions)
            && ap && !a->pass) {
            ap->n_sent++;
        }
    }
    ofpbuf_uninit(&packet);
    a->next_batch = time_msec() + ADMIT_BATCH_MS;
    if (a->next < a->n_tuples) {
        return;
    }
    if (ap && !a->pass) {
        ap->sent_msec = time_msec();
        free(ap->last_error);
        ap->last_error = NULL;
        VLOG_INFO("%s: sent %s %"PRIuSIZE" conntrack tuples (of %"PRIuSIZE
                  " entries in zone %"PRIu16", %"PRIuSIZE" with traffic in "
                  "the mirroring window%s) %lld ms after its activation "
                  "(dump %lld ms)", ap->name, ap->target, ap->n_sent,
                  ap->n_entries, ap->zone, ap->n_active,
                  ap->n_errors ? ", some unreadable" : "",
                  ap->sent_msec - ap->activated_msec,
                  ap->dumped_msec - ap->activated_msec);
    }
    if (++a->pass < ADMIT_PASSES) {
        a->next = 0;
        return;
    }
    free(a->sending);
    a->sending = NULL;
    free(a->tuples);
    a->tuples = NULL;
    a->n_tuples = 0;
}

/* The dump under way: its reply, its failure or its timeout. */
static void
admit_poll_dump(struct lb_agent_admit *a)
{
    char *text, *error;
    int retval = lb_ct_dumper_poll(a->dumper, &text, &error);
    if (retval == EAGAIN) {
        return;
    }
    struct admit_port *ap = shash_find_data(&a->ports, a->dumping);
    if (ap && !retval && a->dumping_baseline) {
        size_t n_errors;
        free(ap->baseline);
        ap->baseline = lb_ct_dump_parse(text, &ap->n_baseline, &n_errors);
        ap->baseline_msec = time_msec();
        ap->have_baseline = true;
    } else if (ap && !retval) {
        admit_queue_tuples(a, ap, text);
    } else if (ap) {
        admit_fail(ap, error);
        error = NULL;
    }
    free(text);
    free(error);
    free(a->dumping);
    a->dumping = NULL;
}

/* As the migration's source: a policed port here whose target is active
 * gets its tuples sent, once per migration. */
static void
admit_watch_sources(struct lb_agent_admit *a,
                    const struct lb_policy_engine *pe)
{
    const struct lb_agent_view *v = a->view;
    /* An activation, like any change of the model or the interfaces,
     * makes new flows. */
    if (*v->flows_seqno == a->watched_seqno) {
        return;
    }
    a->watched_seqno = *v->flows_seqno;
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ovs_bridge_iface_ofports(v->bridge)) {
        const struct lb_port *port = lb_model_find_port(v->model, sn->name);
        if (!port || !port->chassis || strcmp(port->chassis, v->chassis)) {
            continue;
        }
        struct admit_port *ap = shash_find_data(&a->ports, port->name);
        if (!port->additional_chassis) {
            if (ap && (ap->target || ap->baseline_target)) {
                /* The migration is over. */
                free(ap->target);
                ap->target = NULL;
                ap->queued = false;
                free(ap->baseline_target);
                ap->baseline_target = NULL;
                ap->want_baseline = ap->have_baseline = false;
                free(ap->baseline);
                ap->baseline = NULL;
                ap->n_baseline = 0;
            }
            continue;
        }
        if (port->additional_blocked && port->mirror
            && lb_policy_port_isolated(pe, port->name)
            && (!ap || !ap->baseline_target
                || strcmp(ap->baseline_target, port->additional_chassis))) {
            /* Mirroring to a new target: the baseline. */
            ap = admit_port_get(a, port);
            free(ap->baseline_target);
            ap->baseline_target = xstrdup(port->additional_chassis);
            ap->have_baseline = false;
            ap->want_baseline = true;
            ap->zone = sn->data;
            continue;
        }
        if (port->additional_blocked
            || !lb_policy_port_isolated(pe, port->name)
            || (ap && ap->target
                && !strcmp(ap->target, port->additional_chassis))) {
            continue;
        }
        ap = admit_port_get(a, port);
        free(ap->target);
        ap->target = xstrdup(port->additional_chassis);
        ap->zone = sn->data;
        ap->queued = true;
        ap->activated_msec = time_msec();
        ap->dumped_msec = ap->sent_msec = 0;
        ap->n_entries = ap->n_sent = ap->n_errors = 0;
    }
}

void
lb_agent_admit_run(struct lb_agent_admit *a,
                   const struct lb_policy_engine *pe)
{
    admit_watch_sources(a, pe);
    if (a->sending) {
        admit_send_batch(a);
    }
    if (lb_ct_dumper_busy(a->dumper)) {
        admit_poll_dump(a);
    }
    if (lb_ct_dumper_busy(a->dumper) || a->sending) {
        return;
    }
    /* The cutovers' dumps before the baselines. */
    for (int baseline = 0; baseline < 2; baseline++) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &a->ports) {
            struct admit_port *ap = node->data;
            bool *want = baseline ? &ap->want_baseline : &ap->queued;
            if (!*want) {
                continue;
            }
            char *error;
            *want = false;
            if (lb_ct_dumper_start(a->dumper, ap->zone, &error)) {
                admit_fail(ap, error);
                continue;
            }
            a->dumping = xstrdup(ap->name);
            a->dumping_baseline = baseline;
            admit_poll_dump(a);
            if (a->sending) {
                admit_send_batch(a);
            }
            return;
        }
    }
}

void
lb_agent_admit_wait(struct lb_agent_admit *a)
{
    lb_ct_dumper_wait(a->dumper);
    if (a->sending) {
        poll_timer_wait_until(a->next_batch);
        return;
    }
    if (lb_ct_dumper_busy(a->dumper)) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &a->ports) {
        const struct admit_port *ap = node->data;
        if (ap->queued || ap->want_baseline) {
            poll_immediate_wake();
            break;
        }
    }
}

void
lb_agent_admit_count(struct lb_agent_admit *a, uint64_t cookie,
                     uint64_t n_flows)
{
    const struct lb_port *port = lb_model_find_port_by_key(
        a->view->model, lb_cookie_key(cookie));
    if (!port || n_flows == UINT32_MAX || n_flows == UINT64_MAX) {
        return;
    }
    struct admit_port *ap = admit_port_get(a, port);
    long long int now = time_msec();
    if (n_flows && !ap->n_admitted) {
        ap->first_admitted_msec = now;
    }
    if (n_flows != ap->n_admitted) {
        ap->last_admitted_msec = now;
    }
    ap->n_admitted = n_flows;
}

void
lb_agent_admit_port_gone(struct lb_agent_admit *a, const char *name)
{
    const struct lb_port *port = lb_model_find_port(a->view->model, name);
    struct admit_port *ap = shash_find_data(&a->ports, name);
    uint32_t key = port ? port->key : ap ? ap->key : 0;
    if (key && ofctrl_delete_learned(a->view->ofctrl,
                                     lb_admit_cookie(key))) {
        VLOG_DBG("%s: deleted its admitted conntrack tuples", name);
        if (ap) {
            ap->n_admitted = 0;
        }
    }
    /* A port gone from the model keeps no figures here: there are never
     * more than the model's ports. */
    if (ap && !port && (!a->dumping || strcmp(a->dumping, name))
        && (!a->sending || strcmp(a->sending, name))) {
        shash_find_and_delete(&a->ports, name);
        admit_port_destroy(ap);
    }
}

void
lb_agent_admit_format_port(const struct lb_agent_admit *a, const char *name,
                           struct ds *s)
{
    const struct admit_port *ap = shash_find_data(&a->ports, name);
    if (!ap) {
        return;
    }
    if (ap->activated_msec) {
        ds_put_format(s, "  idle connections' tuples sent to %s: %"PRIuSIZE
                      " (of %"PRIuSIZE" conntrack entries, %"PRIuSIZE
                      " with traffic in the mirroring window)", ap->target
                      ? ap->target : "the last target", ap->n_sent,
                      ap->n_entries, ap->n_active);
        if (ap->sent_msec) {
            ds_put_format(s, ", %lld ms after the activation",
                          ap->sent_msec - ap->activated_msec);
        }
        if (ap->last_error) {
            ds_put_format(s, "; failed: %s", ap->last_error);
        }
        ds_put_char(s, '\n');
    }
    if (ap->n_admitted || ap->first_admitted_msec) {
        ds_put_format(s, "  idle connections admitted on this node: %"PRIu64
                      " tuples\n", ap->n_admitted);
    }
}
