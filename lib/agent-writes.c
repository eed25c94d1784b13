/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's writes to the Kubernetes API (see agent-writes.h): IP
 * allocations, LogicalPorts and their status (owners, activation), pods'
 * annotations, and Kubernetes Events (events.c aggregates and rate-limits
 * them as Kubernetes' own recorders do).
 *
 * Owns the writes in flight: for each, what it needs until it completes
 * (its tag, the Kubernetes request, what to log), and the outcomes of
 * tagged writes until the core collects them, and the Events recorder.
 * Borrows the core's Kubernetes client. */

#include <config.h>
#include "agent-writes.h"

#include <limits.h>
#include <string.h>
#include <time.h>
#include "events.h"
#include "ipam.h"
#include "k8s-client.h"
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "lb-json.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "timeval.h"

VLOG_DEFINE_THIS_MODULE(agent_writes);

#define PORTS_PATH "/apis/livebind.io/v1alpha1/namespaces/%s/logicalports"
#define ALLOCATIONS_PATH "/apis/livebind.io/v1alpha1/ipallocations"

struct lb_agent_writes {
    struct k8s_client *k8s;
    struct ovs_list in_flight;  /* Contains "struct write_op"s. */
    struct hmap by_tag;         /* Tagged "struct write_op"s, by tag. */
    struct ovs_list results;    /* Contains "struct result_node"s. */
    struct lb_event_recorder events;
    uint64_t n_failed[LB_WRITE_CANCEL];     /* Writes the API refused. */
};

/* A write sent, until its callback. */
struct write_op {
    struct ovs_list list_node;  /* In 'in_flight'. */
    struct hmap_node tag_node;  /* In 'by_tag', if 'write->tag'. */
    struct lb_agent_writes *writes;
    struct lb_write *write;
    uint64_t request_id;
    struct lb_event_write event;    /* LB_WRITE_EVENT: what to send. */
};

struct result_node {
    struct ovs_list list_node;
    struct lb_write_result result;
};

struct lb_agent_writes *
lb_agent_writes_create(struct k8s_client *k8s, const char *chassis)
{
    struct lb_agent_writes *w = xzalloc(sizeof *w);
    w->k8s = k8s;
    char *instance = xasprintf("livebind-agent-%s", chassis);
    lb_event_recorder_init(&w->events, "livebind.io/livebind-agent",
                           instance);
    free(instance);
    ovs_list_init(&w->in_flight);
    hmap_init(&w->by_tag);
    ovs_list_init(&w->results);
    return w;
}

void
lb_write_destroy(struct lb_write *w)
{
    if (w) {
        free(w->ns);
        free(w->name);
        free(w->switch_name);
        free(w->owner);
        free(w->interface);
        free(w->pod);
        free(w->pod_uid);
        free(w->node);
        free(w->migration_uid);
        free(w->cause);
        free(w->port_name);
        free(w->uid);
        free(w->note);
        free(w);
    }
}

static void
op_free(struct write_op *op)
{
    ovs_list_remove(&op->list_node);
    if (op->write->tag) {
        hmap_remove(&op->writes->by_tag, &op->tag_node);
    }
    lb_event_write_destroy(&op->event);
    lb_write_destroy(op->write);
    free(op);
}

/* Call after the Kubernetes client is destroyed: no callback comes any
 * more. */
void
lb_agent_writes_destroy(struct lb_agent_writes *w)
{
    if (w) {
        struct write_op *op;
        LIST_FOR_EACH_SAFE (op, list_node, &w->in_flight) {
            op_free(op);
        }
        struct result_node *r;
        LIST_FOR_EACH_POP (r, list_node, &w->results) {
            free(r->result.error);
            free(r);
        }
        hmap_destroy(&w->by_tag);
        lb_event_recorder_destroy(&w->events);
        free(w);
    }
}

/* Takes the outcome of a tagged write that completed, if any, into
 * '*result' (the caller frees 'result->error'). */
bool
lb_agent_writes_pop_result(struct lb_agent_writes *w,
                           struct lb_write_result *result)
{
    if (ovs_list_is_empty(&w->results)) {
        return false;
    }
    struct result_node *r = CONTAINER_OF(ovs_list_pop_front(&w->results),
                                         struct result_node, list_node);
    *result = r->result;
    free(r);
    return true;
}

static const char *
format_ip(ovs_be32 ip, char buf[INET_ADDRSTRLEN])
{
    snprintf(buf, INET_ADDRSTRLEN, IP_FMT, IP_ARGS(ip));
    return buf;
}

/* Completion of every write. */
static void
op_done(void *op_, const struct k8s_result *result)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct write_op *op = op_;
    const struct lb_write *w = op->write;

    if (w->tag) {
        struct result_node *r = xzalloc(sizeof *r);
        r->result.tag = w->tag;
        r->result.status = result->status;
        r->result.error = nullable_xstrdup(result->error);
        ovs_list_push_back(&op->writes->results, &r->list_node);
    } else if (result->error) {
        op->writes->n_failed[w->kind]++;
        switch (w->kind) {
        case LB_WRITE_OWNER:
            VLOG_WARN("recording %s as owner failed: %s", w->pod,
                      result->error);
            break;
        case LB_WRITE_ACTIVATION:
            VLOG_WARN("recording an activation failed: %s", result->error);
            break;
        case LB_WRITE_DROP_ALTERNATE:
            VLOG_WARN("port %s_%s: dropping the alternate owner failed: %s",
                      w->ns, w->name, result->error);
            break;
        case LB_WRITE_ANNOTATE_POD:
            VLOG_WARN_RL(&rl, "annotating a pod failed: %s", result->error);
            break;
        case LB_WRITE_EVENT:
            VLOG_WARN_RL(&rl, "recording an Event (%s) failed: %s",
                         op->event.path, result->error);
            break;
        case LB_WRITE_DELETE_PORT:
        case LB_WRITE_DELETE_ALLOCATION:
            if (result->status != 404) {
                VLOG_WARN_RL(&rl, "releasing a port: %s", result->error);
            }
            break;
        case LB_WRITE_ALLOCATE:
        case LB_WRITE_CREATE_PORT:
        case LB_WRITE_CANCEL:
        default:
            break;
        }
    }
    op_free(op);
}

/* Ownership, recorded in the port's status as Calico records a VM's IP
 * handle: the active owner, and during a migration the alternate one. */
static json_t *
set_owner(void *op_, const json_t *current, char **errorp OVS_UNUSED)
{
    const struct write_op *op = op_;
    const struct lb_write *w = op->write;
    json_t *obj = json_deep_copy(current);
    json_t *status = json_object_get(obj, "status");
    if (!json_is_object(status)) {
        status = json_pack("{}");
        json_object_set_new(obj, "status", status);
    }
    json_t *owner = json_pack("{s:s, s:s, s:s}", "pod", w->pod,
                              "podUID", w->pod_uid ? w->pod_uid : "",
                              "node", w->node);
    if (w->migration_uid) {
        json_object_set_new(owner, "migrationUID",
                            json_pack("s", w->migration_uid));
        json_object_set_new(status, "alternateOwner", owner);
    } else {
        json_object_set_new(status, "activeOwner", owner);
        json_object_del(status, "alternateOwner");
    }
    return obj;
}

/* The name of the IPAllocation object of 'w''s address. */
static char *
allocation_name(const struct lb_write *w)
{
    return (w->has_ip6
            ? lb_ipam_allocation_name6(w->switch_name, &w->ip6)
            : lb_ipam_allocation_name(w->switch_name, w->ip));
}

/* 'w''s address, IPv6 if it has one, else IPv4. */
static const char *
format_write_ip(const struct lb_write *w, char buf[INET6_ADDRSTRLEN])
{
    return (w->has_ip6 ? ipv6_string_mapped(buf, &w->ip6)
            : format_ip(w->ip, buf));
}

static json_t *
allocation_json(const struct lb_write *w)
{
    char ipbuf[INET6_ADDRSTRLEN];
    char *name = allocation_name(w);
    char *owner = xasprintf("%s/%s", w->ns, w->name);
    json_t *obj = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}}",
        "apiVersion", "livebind.io/v1alpha1", "kind", "IPAllocation",
        "metadata", "name", name,
        "spec", "switch", w->switch_name, "ip", format_write_ip(w, ipbuf),
        "port", owner);
    free(owner);
    free(name);
    return obj;
}

/* The owner goes to the status subresource once the port exists (an API
 * server drops 'status' from a create): LB_WRITE_OWNER. */
static json_t *
port_json(const struct lb_write *w)
{
    char ip[INET6_ADDRSTRLEN], mac[ETH_ADDR_STRLEN + 1];
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(w->mac));
    json_t *ips = lb_json_arr();
    if (w->ip) {
        json_array_append_new(ips, lb_json_str(format_ip(w->ip, ip)));
    }
    if (w->has_ip6) {
        json_array_append_new(ips,
                               lb_json_str(ipv6_string_mapped(ip, &w->ip6)));
    }
    json_t *obj = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, "
        "s:{s:s, s:I, s:s, s:o, s:s}}",
        "apiVersion", "livebind.io/v1alpha1", "kind", "LogicalPort",
        "metadata", "name", w->name, "namespace", w->ns,
        "spec", "switch", w->switch_name,
        "tunnelKey", (json_int_t) w->tunnel_key,
        "mac", mac, "ips", ips,
        w->vm ? "vm" : "pod", w->owner ? w->owner : w->name);
    if (w->interface) {
        json_object_set_new(json_object_get(obj, "spec"), "interface",
                            lb_json_str(w->interface));
    }
    return obj;
}

static json_t *
activation_json(const struct lb_write *w)
{
    char now[32];
    time_t t = time_wall_msec() / 1000;
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    return json_pack("{s:s, s:s, s:s, s:s}", "node", w->node,
                     "migrationUID", w->migration_uid, "time", now,
                     "cause", w->cause);
}

static json_t *
annotations_json(const struct lb_write *w)
{
    char ipbuf[INET6_ADDRSTRLEN], macbuf[ETH_ADDR_STRLEN + 1];
    snprintf(macbuf, sizeof macbuf, ETH_ADDR_FMT, ETH_ADDR_ARGS(w->mac));
    json_t *obj = json_pack(
        "{s:{s:{s:s, s:s}}}", "metadata", "annotations",
        "livebind.io/logical-port", w->port_name,
        "livebind.io/mac", macbuf);
    json_t *annotations = json_object_get(json_object_get(obj, "metadata"),
                                          "annotations");
    if (w->ip) {
        json_object_set_new(annotations, "livebind.io/ip",
                            lb_json_str(format_ip(w->ip, ipbuf)));
    }
    if (w->has_ip6) {
        json_object_set_new(annotations, "livebind.io/ipv6",
                            lb_json_str(ipv6_string_mapped(ipbuf, &w->ip6)));
    }
    return obj;
}

/* Sends 'write', which 'op' now owns. */
static void
op_start(struct write_op *op)
{
    struct k8s_client *k8s = op->writes->k8s;
    const struct lb_write *w = op->write;
    char *path = NULL;
    json_t *obj = NULL;

    switch (w->kind) {
    case LB_WRITE_ALLOCATE:
        obj = allocation_json(w);
        op->request_id = k8s_create(k8s, ALLOCATIONS_PATH, obj, op_done, op);
        break;
    case LB_WRITE_DELETE_ALLOCATION: {
        char *name = allocation_name(w);
        path = xasprintf(ALLOCATIONS_PATH"/%s", name);
        free(name);
        op->request_id = k8s_delete(k8s, path, NULL, op_done, op);
        break;
    }
    case LB_WRITE_CREATE_PORT:
        obj = port_json(w);
        path = xasprintf(PORTS_PATH, w->ns);
        op->request_id = k8s_create(k8s, path, obj, op_done, op);
        break;
    case LB_WRITE_DELETE_PORT:
        path = xasprintf(PORTS_PATH"/%s", w->ns, w->name);
        op->request_id = k8s_delete(k8s, path, NULL, op_done, op);
        break;
    case LB_WRITE_OWNER:
        /* Read-modify-write: the status holds more than we write, and the
         * active owner's write also drops the alternate one. */
        path = xasprintf(PORTS_PATH"/%s/status", w->ns, w->name);
        op->request_id = k8s_read_modify_write(
            k8s, path, K8S_RMW_DEFAULT_ATTEMPTS, set_owner, op_done, op);
        break;
    case LB_WRITE_ACTIVATION:
        /* One merge patch, not a read and a write: the activation's four
         * fields replace the last one's whatever else the status holds,
         * and when many VMs resume at once (tests/bench/README.md, 100
         * VMs) half as many requests wait on a busy API server, none of
         * them on a conflict. */
        obj = json_pack("{s:{s:o}}", "status", "activation",
                        activation_json(w));
        path = xasprintf(PORTS_PATH"/%s/status", w->ns, w->name);
        op->request_id = k8s_merge_patch(k8s, path, obj, op_done, op);
        break;
    case LB_WRITE_DROP_ALTERNATE:
        obj = json_pack("{s:{s:n}}", "status", "alternateOwner");
        path = xasprintf(PORTS_PATH"/%s/status", w->ns, w->name);
        op->request_id = k8s_merge_patch(k8s, path, obj, op_done, op);
        break;
    case LB_WRITE_ANNOTATE_POD:
        obj = annotations_json(w);
        path = xasprintf("/api/v1/namespaces/%s/pods/%s", w->ns, w->name);
        op->request_id = k8s_merge_patch(k8s, path, obj, op_done, op);
        break;
    case LB_WRITE_EVENT:
        if (op->event.kind == LB_EVENT_WRITE_CREATE) {
            op->request_id = k8s_create(k8s, op->event.path, op->event.body,
                                        op_done, op);
        } else {
            op->request_id = k8s_merge_patch(k8s, op->event.path,
                                             op->event.body, op_done, op);
        }
        break;
    case LB_WRITE_CANCEL:
    default:
        OVS_NOT_REACHED();
    }
    free(path);
    json_decref(obj);
}

static void
cancel(struct lb_agent_writes *writes, uint64_t tag)
{
    struct write_op *op;
    HMAP_FOR_EACH_WITH_HASH (op, tag_node, hash_uint64(tag),
                             &writes->by_tag) {
        if (op->write->tag == tag) {
            k8s_cancel(writes->k8s, op->request_id);
            op_free(op);
            return;
        }
    }
}

static void
send_write(struct lb_agent_writes *writes, struct lb_write *w,
           struct lb_event_write *event)
{
    struct write_op *op = xzalloc(sizeof *op);
    op->writes = writes;
    op->write = w;
    if (event) {
        op->event = *event;
    }
    ovs_list_push_back(&writes->in_flight, &op->list_node);
    if (w->tag) {
        hmap_insert(&writes->by_tag, &op->tag_node, hash_uint64(w->tag));
    }
    op_start(op);
}

/* An Event about 'w''s object, if the recorder lets one be written now. */
static void
send_event(struct lb_agent_writes *writes, struct lb_write *w)
{
    const struct lb_event_object vmi = {
        .api_version = "kubevirt.io/v1",
        .kind = "VirtualMachineInstance",
        .namespace = w->ns,
        .name = w->name,
        .uid = w->uid,
    };
    struct lb_event_write event;
    if (lb_event_record(&writes->events, time_wall_msec(), &vmi,
                        w->warning ? LB_EVENT_WARNING : LB_EVENT_NORMAL,
                        w->reason, w->action, w->note, &event)) {
        send_write(writes, w, &event);
    } else {
        lb_write_destroy(w);
    }
}

/* Sends the writes in 'list', in order, emptying it, and the counts of
 * Event series that are due. */
void
lb_agent_writes_submit(struct lb_agent_writes *writes, struct ovs_list *list)
{
    struct lb_write *w;
    LIST_FOR_EACH_POP (w, list_node, list) {
        if (w->kind == LB_WRITE_CANCEL) {
            cancel(writes, w->tag);
            lb_write_destroy(w);
        } else if (w->kind == LB_WRITE_EVENT) {
            send_event(writes, w);
        } else {
            send_write(writes, w, NULL);
        }
    }

    long long int now = time_wall_msec();
    if (lb_event_recorder_next_run(&writes->events) <= now) {
        struct lb_event_write *events;
        size_t n = lb_event_recorder_run(&writes->events, now, &events);
        for (size_t i = 0; i < n; i++) {
            send_write(writes, lb_write_new(LB_WRITE_EVENT, NULL, NULL),
                       &events[i]);
        }
        free(events);
    }
}

void
lb_agent_writes_wait(const struct lb_agent_writes *writes)
{
    long long int next = lb_event_recorder_next_run(&writes->events);
    if (next != LLONG_MAX) {
        poll_timer_wait(MAX(next - time_wall_msec(), 0));
    }
}

void
lb_agent_writes_put_metrics(const struct lb_agent_writes *writes,
                            struct ds *page)
{
    static const char *const kinds[] = {
        [LB_WRITE_ALLOCATE] = "ip_allocation",
        [LB_WRITE_DELETE_ALLOCATION] = "ip_release",
        [LB_WRITE_CREATE_PORT] = "port_create",
        [LB_WRITE_DELETE_PORT] = "port_delete",
        [LB_WRITE_OWNER] = "owner",
        [LB_WRITE_DROP_ALTERNATE] = "drop_alternate",
        [LB_WRITE_ACTIVATION] = "activation",
        [LB_WRITE_ANNOTATE_POD] = "pod_annotation",
        [LB_WRITE_EVENT] = "event",
    };
    BUILD_ASSERT_DECL(ARRAY_SIZE(kinds) == LB_WRITE_CANCEL);

    const char *name = "livebind_api_write_failures_total";
    lb_metrics_family(page, name, LB_METRIC_COUNTER,
                      "Writes to the Kubernetes API that failed, by kind "
                      "(tagged writes, whose failures the CNI part handles, "
                      "are not counted).");
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        const char *labels[] = { "kind", kinds[i], NULL };
        lb_metrics_sample(page, name, labels, writes->n_failed[i]);
    }

    const struct lb_event_recorder *rec = &writes->events;
    name = "livebind_events_total";
    lb_metrics_family(page, name, LB_METRIC_COUNTER,
                      "Kubernetes Events: created, patched (a series' "
                      "count), or dropped by the rate limit.");
    const char *created[] = { "outcome", "created", NULL };
    const char *patched[] = { "outcome", "patched", NULL };
    const char *dropped[] = { "outcome", "dropped", NULL };
    lb_metrics_sample(page, name, created, rec->n_created);
    lb_metrics_sample(page, name, patched, rec->n_patched);
    lb_metrics_sample(page, name, dropped, rec->n_dropped);
}
