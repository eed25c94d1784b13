/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's writes to the Kubernetes API (see agent-writes.h): IP
 * allocations, LogicalPorts and their status (owners, activation), pods'
 * annotations.
 *
 * Owns the writes in flight: for each, what it needs until it completes
 * (its tag, the Kubernetes request, what to log), and the outcomes of
 * tagged writes until the core collects them.  Borrows the core's
 * Kubernetes client. */

#include <config.h>
#include "agent-writes.h"

#include <string.h>
#include <time.h>
#include "ipam.h"
#include "k8s-client.h"
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
};

/* A write sent, until its callback. */
struct write_op {
    struct ovs_list list_node;  /* In 'in_flight'. */
    struct hmap_node tag_node;  /* In 'by_tag', if 'write->tag'. */
    struct lb_agent_writes *writes;
    struct lb_write *write;
    uint64_t request_id;
    json_t *activation;         /* LB_WRITE_ACTIVATION: status.activation. */
};

struct result_node {
    struct ovs_list list_node;
    struct lb_write_result result;
};

struct lb_agent_writes *
lb_agent_writes_create(struct k8s_client *k8s)
{
    struct lb_agent_writes *w = xzalloc(sizeof *w);
    w->k8s = k8s;
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
        free(w->pod);
        free(w->pod_uid);
        free(w->node);
        free(w->migration_uid);
        free(w->cause);
        free(w->port_name);
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
    json_decref(op->activation);
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

static json_t *
set_activation(void *op_, const json_t *current, char **errorp OVS_UNUSED)
{
    const struct write_op *op = op_;
    json_t *obj = json_deep_copy(current);
    json_t *status = json_object_get(obj, "status");
    if (!json_is_object(status)) {
        status = json_pack("{}");
        json_object_set_new(obj, "status", status);
    }
    json_object_set(status, "activation", op->activation);
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
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s}, "
        "s:{s:s, s:I, s:s, s:o, s:s}}",
        "apiVersion", "livebind.io/v1alpha1", "kind", "LogicalPort",
        "metadata", "name", w->name, "namespace", w->ns,
        "spec", "switch", w->switch_name,
        "tunnelKey", (json_int_t) w->tunnel_key,
        "mac", mac, "ips", ips,
        w->vm ? "vm" : "pod", w->name);
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
    case LB_WRITE_ACTIVATION:
        /* Read-modify-write: the status holds more than we write. */
        if (w->kind == LB_WRITE_ACTIVATION) {
            op->activation = activation_json(w);
        }
        path = xasprintf(PORTS_PATH"/%s/status", w->ns, w->name);
        op->request_id = k8s_read_modify_write(
            k8s, path, K8S_RMW_DEFAULT_ATTEMPTS,
            w->kind == LB_WRITE_OWNER ? set_owner : set_activation,
            op_done, op);
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

/* Sends the writes in 'list', in order, emptying it. */
void
lb_agent_writes_submit(struct lb_agent_writes *writes, struct ovs_list *list)
{
    struct lb_write *w;
    LIST_FOR_EACH_POP (w, list_node, list) {
        if (w->kind == LB_WRITE_CANCEL) {
            cancel(writes, w->tag);
            lb_write_destroy(w);
            continue;
        }
        struct write_op *op = xzalloc(sizeof *op);
        op->writes = writes;
        op->write = w;
        ovs_list_push_back(&writes->in_flight, &op->list_node);
        if (w->tag) {
            hmap_insert(&writes->by_tag, &op->tag_node, hash_uint64(w->tag));
        }
        op_start(op);
    }
}
