/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "egress-gateway.h"

#include <string.h>
#include "derive.h"
#include "k8s-objects.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "pipeline-gateway.h"
#include "util.h"

/* A node name as Kubernetes allows it: a DNS subdomain (RFC 1123), lower
 * case, at most 253 characters. */
static bool
is_node_name(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > 253) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '-' && c != '.') || !i || i == len - 1)) {
            return false;
        }
    }
    return true;
}

static void
spec_clear_nodes(struct lb_egress_spec *spec)
{
    for (size_t i = 0; i < spec->n_nodes; i++) {
        free(spec->nodes[i]);
    }
    free(spec->nodes);
    spec->nodes = NULL;
    spec->n_nodes = 0;
}

/* Parses spec.egressGateway ('eg', NULL if absent) into 'spec', which it
 * initializes.  Never fails: a bad field is kept with its error. */
void
lb_egress_spec_parse(const json_t *eg, struct lb_egress_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    if (!eg || json_is_null(eg)) {
        return;
    }
    spec->present = true;

    const json_t *nodes = json_is_object(eg)
                          ? json_object_get(eg, "nodes") : NULL;
    if (!json_is_object(eg)) {
        spec->error = xstrdup("spec.egressGateway: must be an object");
    } else if (!json_is_array(nodes) || !json_array_size(nodes)) {
        spec->error = xstrdup("spec.egressGateway.nodes: must be a "
                              "non-empty array of node names");
    } else if (json_array_size(nodes) > LB_EGRESS_NODES_MAX) {
        spec->error = xasprintf("spec.egressGateway.nodes: at most %d "
                                "nodes", LB_EGRESS_NODES_MAX);
    }
    if (spec->error) {
        return;
    }

    spec->nodes = xcalloc(json_array_size(nodes), sizeof *spec->nodes);
    size_t i;
    const json_t *n;
    json_array_foreach (nodes, i, n) {
        const char *name = json_string_value(n);
        if (!name || !is_node_name(name)) {
            spec->error = xasprintf("spec.egressGateway.nodes[%zu]: not a "
                                    "node name", i);
        } else {
            for (size_t j = 0; j < spec->n_nodes; j++) {
                if (!strcmp(spec->nodes[j], name)) {
                    spec->error = xasprintf("spec.egressGateway.nodes[%zu]: "
                                            "\"%s\" is listed twice", i,
                                            name);
                    break;
                }
            }
        }
        if (spec->error) {
            spec_clear_nodes(spec);
            return;
        }
        spec->nodes[spec->n_nodes++] = xstrdup(name);
    }
}

void
lb_egress_spec_destroy(struct lb_egress_spec *spec)
{
    if (spec) {
        spec_clear_nodes(spec);
        free(spec->error);
        spec->error = NULL;
        spec->present = false;
    }
}

static bool
nodes_equal(char **a, size_t n_a, char **b, size_t n_b)
{
    if (n_a != n_b) {
        return false;
    }
    for (size_t i = 0; i < n_a; i++) {
        if (strcmp(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

bool
lb_egress_spec_equal(const struct lb_egress_spec *a,
                     const struct lb_egress_spec *b)
{
    return (a->present == b->present
            && nullable_string_is_equal(a->error, b->error)
            && nodes_equal(a->nodes, a->n_nodes, b->nodes, b->n_nodes));
}

const char *
lb_egress_mode_to_string(enum lb_egress_mode mode)
{
    switch (mode) {
    case LB_EGRESS_ROUTED:
        return "routed";
    case LB_EGRESS_GATEWAY:
        return "gateway";
    case LB_EGRESS_INVALID:
        return "invalid";
    }
    return "?";
}

/* The first listed node that exists and is Ready, or NULL. */
static const struct lb_node *
active_node(const struct lb_cluster *cluster,
            const struct lb_egress_spec *spec)
{
    for (size_t i = 0; i < spec->n_nodes; i++) {
        const struct lb_node *node = lb_cluster_find_node(cluster,
                                                          spec->nodes[i]);
        if (node && node->ready) {
            return node;
        }
    }
    return NULL;
}

static void
derive_switch(const struct lb_cluster *cluster, const struct lb_switch *sw,
              const struct lb_logical_switch *ls, const char *chassis,
              struct lb_egress_switch *es)
{
    memset(es, 0, sizeof *es);
    es->name = xstrdup(sw->name);
    es->key = sw->tunnel_key;
    es->subnet = sw->subnet;
    es->prefix_len = sw->prefix_len;
    es->has_prefix6 = sw->has_prefix6;
    es->prefix6 = sw->prefix6;

    const struct lb_egress_spec *spec = &ls->egress;
    if (spec->error) {
        es->mode = LB_EGRESS_INVALID;
        es->error = xstrdup(spec->error);
        return;
    }
    /* Only an overlay switch's traffic reaches a node's host stack (the
     * distributed gateway); a provider network's leaves through its own
     * router. */
    if (!lb_gateway_switch_has_gateway(sw)) {
        es->mode = LB_EGRESS_INVALID;
        es->error = xstrdup(sw->physnet
                            ? "spec.egressGateway: only for an overlay "
                              "switch (this one is a provider network)"
                            : "spec.egressGateway: the switch has no "
                              "gateway");
        return;
    }

    es->mode = LB_EGRESS_GATEWAY;
    es->nodes = xcalloc(spec->n_nodes, sizeof *es->nodes);
    for (size_t i = 0; i < spec->n_nodes; i++) {
        es->nodes[i] = xstrdup(spec->nodes[i]);
    }
    es->n_nodes = spec->n_nodes;

    const struct lb_node *node = active_node(cluster, spec);
    if (node) {
        es->active = xstrdup(node->name);
        es->snat = !strcmp(node->name, chassis);
        es->via4 = node->ip4;
        es->has_via6 = node->has_ip6;
        es->via6 = node->ip6;
    }
}

static int
compare_by_name(const void *a_, const void *b_)
{
    const struct lb_egress_switch *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

/* What node 'chassis' must hold for the egress of every switch in 'model'
 * (derived from 'cluster'), into 'plan', which it initializes.  A switch
 * without spec.egressGateway is routed; one with a bad field is invalid;
 * both need nothing written.  A pure function of the objects: the same
 * objects give the same plan on any node, restarted or not, whatever it
 * held before. */
void
lb_egress_derive(const struct lb_cluster *cluster,
                 const struct lb_model *model, const char *chassis,
                 struct lb_egress_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    if (!cluster) {
        return;
    }
    size_t allocated = 0;
    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &model->switches) {
        const struct lb_logical_switch *ls
            = lb_cluster_find_logical_switch(cluster, sw->name);
        if (!ls || !ls->egress.present) {
            continue;
        }
        if (plan->n >= allocated) {
            plan->switches = x2nrealloc(plan->switches, &allocated,
                                        sizeof *plan->switches);
        }
        derive_switch(cluster, sw, ls, chassis, &plan->switches[plan->n++]);
    }
    if (plan->n) {
        qsort(plan->switches, plan->n, sizeof *plan->switches,
              compare_by_name);
    }
}

void
lb_egress_plan_destroy(struct lb_egress_plan *plan)
{
    if (!plan) {
        return;
    }
    for (size_t i = 0; i < plan->n; i++) {
        struct lb_egress_switch *es = &plan->switches[i];
        free(es->name);
        free(es->error);
        for (size_t j = 0; j < es->n_nodes; j++) {
            free(es->nodes[j]);
        }
        free(es->nodes);
        free(es->active);
    }
    free(plan->switches);
    plan->switches = NULL;
    plan->n = 0;
}

static bool
switch_equal(const struct lb_egress_switch *a,
             const struct lb_egress_switch *b)
{
    return (!strcmp(a->name, b->name)
            && a->key == b->key
            && a->mode == b->mode
            && nullable_string_is_equal(a->error, b->error)
            && a->subnet == b->subnet
            && a->prefix_len == b->prefix_len
            && a->has_prefix6 == b->has_prefix6
            && ipv6_addr_equals(&a->prefix6, &b->prefix6)
            && nodes_equal(a->nodes, a->n_nodes, b->nodes, b->n_nodes)
            && nullable_string_is_equal(a->active, b->active)
            && a->snat == b->snat
            && a->via4 == b->via4
            && a->has_via6 == b->has_via6
            && ipv6_addr_equals(&a->via6, &b->via6));
}

bool
lb_egress_plan_equal(const struct lb_egress_plan *a,
                     const struct lb_egress_plan *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!switch_equal(&a->switches[i], &b->switches[i])) {
            return false;
        }
    }
    return true;
}

/* One line per switch with spec.egressGateway: its mode, the active node
 * and this node's part. */
void
lb_egress_plan_format(const struct lb_egress_plan *plan, struct ds *s)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct lb_egress_switch *es = &plan->switches[i];
        ds_put_format(s, "switch %s: egress %s", es->name,
                      lb_egress_mode_to_string(es->mode));
        if (es->mode == LB_EGRESS_INVALID) {
            ds_put_format(s, " (%s)\n", es->error);
            continue;
        }
        ds_put_cstr(s, ", nodes");
        for (size_t j = 0; j < es->n_nodes; j++) {
            ds_put_format(s, "%c%s", j ? ',' : ' ', es->nodes[j]);
        }
        if (!es->active) {
            ds_put_cstr(s, ", active none (no listed node is Ready: "
                        "the switch's traffic to the world is "
                        "unreachable)\n");
            continue;
        }
        ds_put_format(s, ", active %s", es->active);
        if (es->snat) {
            ds_put_cstr(s, " (this node: SNAT)");
        } else {
            ds_put_cstr(s, " via");
            if (es->prefix_len) {
                if (es->via4) {
                    ds_put_format(s, " "IP_FMT, IP_ARGS(es->via4));
                } else {
                    ds_put_cstr(s, " (no IPv4 address)");
                }
            }
            if (es->has_prefix6) {
                if (es->has_via6) {
                    ds_put_char(s, ' ');
                    ipv6_format_addr(&es->via6, s);
                } else {
                    ds_put_cstr(s, " (no IPv6 address)");
                }
            }
            ds_put_format(s, " (table %"PRIu32")",
                          lb_egress_table(es->key));
        }
        ds_put_char(s, '\n');
    }
}
