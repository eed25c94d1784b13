/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* NetworkPolicy and Namespace objects, parsed and checked (policy.h).
 * Pure.  A policy the parser rejects is ignored whole, with an error that
 * names the field: half a policy could admit what the whole one denies. */

#include <config.h>
#include "policy.h"

#include <string.h>
#include "k8s-objects.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

#define MAX_ITEMS 1024          /* Rules, peers, ports, expressions... */

static void
selector_destroy(struct lb_selector *sel)
{
    smap_destroy(&sel->match_labels);
    for (size_t i = 0; i < sel->n_exprs; i++) {
        struct lb_selector_expr *x = &sel->exprs[i];
        free(x->key);
        for (size_t j = 0; j < x->n_values; j++) {
            free(x->values[j]);
        }
        free(x->values);
    }
    free(sel->exprs);
}

static char *
selector_parse(const json_t *j, const char *what, struct lb_selector *sel)
{
    smap_init(&sel->match_labels);
    sel->exprs = NULL;
    sel->n_exprs = 0;
    if (!j || json_is_null(j)) {
        return NULL;
    }
    if (!json_is_object(j)) {
        return xasprintf("%s: must be an object", what);
    }
    const json_t *ml = json_object_get(j, "matchLabels");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml)) {
            return xasprintf("%s.matchLabels: must be an object", what);
        }
        const char *key;
        const json_t *value;
        json_object_foreach ((json_t *) ml, key, value) {
            if (!json_is_string(value)) {
                return xasprintf("%s.matchLabels[\"%s\"]: must be a string",
                                 what, key);
            }
            smap_replace(&sel->match_labels, key, json_string_value(value));
        }
    }
    const json_t *me = json_object_get(j, "matchExpressions");
    if (me && !json_is_null(me)) {
        if (!json_is_array(me) || json_array_size(me) > MAX_ITEMS) {
            return xasprintf("%s.matchExpressions: must be an array", what);
        }
        sel->exprs = xcalloc(json_array_size(me) + 1, sizeof *sel->exprs);
        size_t i;
        const json_t *x;
        json_array_foreach (me, i, x) {
            const char *key = json_string_value(json_object_get(x, "key"));
            const char *op = json_string_value(json_object_get(x,
                                                               "operator"));
            if (!key || !op) {
                return xasprintf("%s.matchExpressions[%zu]: key and operator "
                                 "are required", what, i);
            }
            struct lb_selector_expr *e = &sel->exprs[sel->n_exprs++];
            e->key = xstrdup(key);
            if (!strcmp(op, "In")) {
                e->op = LB_SEL_IN;
            } else if (!strcmp(op, "NotIn")) {
                e->op = LB_SEL_NOT_IN;
            } else if (!strcmp(op, "Exists")) {
                e->op = LB_SEL_EXISTS;
            } else if (!strcmp(op, "DoesNotExist")) {
                e->op = LB_SEL_DOES_NOT_EXIST;
            } else {
                return xasprintf("%s.matchExpressions[%zu].operator: \"%s\" "
                                 "is not In, NotIn, Exists or DoesNotExist",
                                 what, i, op);
            }
            const json_t *values = json_object_get(x, "values");
            if (values && !json_is_null(values)) {
                if (!json_is_array(values)
                    || json_array_size(values) > MAX_ITEMS) {
                    return xasprintf("%s.matchExpressions[%zu].values: must "
                                     "be an array", what, i);
                }
                e->values = xcalloc(json_array_size(values) + 1,
                                    sizeof *e->values);
                size_t k;
                const json_t *v;
                json_array_foreach (values, k, v) {
                    if (!json_is_string(v)) {
                        return xasprintf("%s.matchExpressions[%zu].values: "
                                         "must be strings", what, i);
                    }
                    e->values[e->n_values++] = xstrdup(json_string_value(v));
                }
            }
            if ((e->op == LB_SEL_IN || e->op == LB_SEL_NOT_IN)
                && !e->n_values) {
                return xasprintf("%s.matchExpressions[%zu].values: required "
                                 "for %s", what, i, op);
            }
        }
    }
    return NULL;
}

static char *
selector_new(const json_t *j, const char *what, struct lb_selector **selp)
{
    *selp = NULL;
    if (!j || json_is_null(j)) {
        return NULL;
    }
    struct lb_selector *sel = xmalloc(sizeof *sel);
    char *error = selector_parse(j, what, sel);
    *selp = sel;
    return error;
}

static void
rule_destroy(struct lb_policy_rule *rule)
{
    for (size_t i = 0; i < rule->n_peers; i++) {
        struct lb_policy_peer *p = &rule->peers[i];
        if (p->pod_sel) {
            selector_destroy(p->pod_sel);
            free(p->pod_sel);
        }
        if (p->ns_sel) {
            selector_destroy(p->ns_sel);
            free(p->ns_sel);
        }
        free(p->except);
    }
    free(rule->peers);
    for (size_t i = 0; i < rule->n_ports; i++) {
        free(rule->ports[i].name);
    }
    free(rule->ports);
    free(rule->key);
}

void
lb_network_policy_destroy(struct lb_network_policy *np)
{
    if (np) {
        free(np->ns);
        free(np->name);
        free(np->uid);
        selector_destroy(&np->pod_sel);
        for (int d = 0; d < 2; d++) {
            for (size_t i = 0; i < np->n_rules[d]; i++) {
                rule_destroy(&np->rules[d][i]);
            }
            free(np->rules[d]);
        }
        free(np->spec);
        free(np);
    }
}

static char *
peer_parse(const json_t *j, const char *what, struct lb_policy_peer *peer)
{
    if (!json_is_object(j)) {
        return xasprintf("%s: must be an object", what);
    }
    char *error;
    char *w = xasprintf("%s.podSelector", what);
    error = selector_new(json_object_get(j, "podSelector"), w,
                         &peer->pod_sel);
    free(w);
    if (error) {
        return error;
    }
    w = xasprintf("%s.namespaceSelector", what);
    error = selector_new(json_object_get(j, "namespaceSelector"), w,
                         &peer->ns_sel);
    free(w);
    if (error) {
        return error;
    }
    const json_t *ib = json_object_get(j, "ipBlock");
    if (ib && !json_is_null(ib)) {
        if (peer->pod_sel || peer->ns_sel) {
            return xasprintf("%s: ipBlock excludes the selectors", what);
        }
        const char *cidr = json_string_value(json_object_get(ib, "cidr"));
        if (!cidr) {
            return xasprintf("%s.ipBlock.cidr: required", what);
        }
        error = lb_cidr_parse(cidr, &peer->cidr);
        if (error) {
            char *e = xasprintf("%s.ipBlock.cidr: %s", what, error);
            free(error);
            return e;
        }
        peer->has_ip_block = true;
        const json_t *ex = json_object_get(ib, "except");
        if (ex && !json_is_null(ex)) {
            if (!json_is_array(ex) || json_array_size(ex) > MAX_ITEMS) {
                return xasprintf("%s.ipBlock.except: must be an array", what);
            }
            peer->except = xcalloc(json_array_size(ex) + 1,
                                   sizeof *peer->except);
            size_t i;
            const json_t *x;
            json_array_foreach (ex, i, x) {
                struct lb_cidr *c = &peer->except[peer->n_except];
                error = (json_is_string(x)
                         ? lb_cidr_parse(json_string_value(x), c)
                         : xstrdup("must be a string"));
                if (!error && (c->v4 != peer->cidr.v4
                               || !lb_cidr_contains(&peer->cidr, c))) {
                    error = xasprintf("\"%s\" is not within the cidr",
                                      json_string_value(x));
                }
                if (error) {
                    char *e = xasprintf("%s.ipBlock.except[%zu]: %s", what,
                                        i, error);
                    free(error);
                    return e;
                }
                peer->n_except++;
            }
        }
    } else if (!peer->pod_sel && !peer->ns_sel) {
        return xasprintf("%s: needs podSelector, namespaceSelector or "
                         "ipBlock", what);
    }
    return NULL;
}

static char *
port_parse(const json_t *j, const char *what, struct lb_policy_port *port)
{
    if (!json_is_object(j)) {
        return xasprintf("%s: must be an object", what);
    }
    const json_t *proto = json_object_get(j, "protocol");
    const char *p = (proto && !json_is_null(proto)
                     ? json_string_value(proto) : "TCP");
    if (!p) {
        return xasprintf("%s.protocol: must be a string", what);
    } else if (!strcmp(p, "TCP")) {
        port->proto = IPPROTO_TCP;
    } else if (!strcmp(p, "UDP")) {
        port->proto = IPPROTO_UDP;
    } else if (!strcmp(p, "SCTP")) {
        port->proto = IPPROTO_SCTP;
    } else {
        return xasprintf("%s.protocol: \"%s\" is not TCP, UDP or SCTP", what,
                         p);
    }
    const json_t *pn = json_object_get(j, "port");
    if (json_is_integer(pn)) {
        json_int_t v = json_integer_value(pn);
        if (v < 1 || v > 65535) {
            return xasprintf("%s.port: %lld is not 1 to 65535", what,
                             (long long int) v);
        }
        port->port = v;
    } else if (json_is_string(pn)) {
        const char *name = json_string_value(pn);
        if (!name[0] || strlen(name) > 15) {
            return xasprintf("%s.port: \"%s\" is no port name", what, name);
        }
        port->name = xstrdup(name);
    } else if (pn && !json_is_null(pn)) {
        return xasprintf("%s.port: must be a number or a name", what);
    }
    const json_t *ep = json_object_get(j, "endPort");
    if (ep && !json_is_null(ep)) {
        if (!json_is_integer(ep) || !port->port) {
            return xasprintf("%s.endPort: needs a numeric port", what);
        }
        json_int_t v = json_integer_value(ep);
        if (v < port->port || v > 65535) {
            return xasprintf("%s.endPort: %lld is not %u to 65535", what,
                             (long long int) v, port->port);
        }
        port->end_port = v;
    }
    return NULL;
}

/* Parses the array at 'key' of 'parent' (absent or null: none) into
 * '*itemsp', '*np' items of 'size' bytes each, with 'parse'.  On error,
 * the items parsed so far (and the failed one) are in '*itemsp' and '*np',
 * for the caller to free. */
typedef char *item_parse_fn(const json_t *, const char *what, void *item);

static char *
array_parse(const json_t *parent, const char *key, const char *what,
            size_t size, item_parse_fn *parse, void *itemsp, size_t *np)
{
    const json_t *a = json_object_get(parent, key);
    if (!a || json_is_null(a)) {
        return NULL;
    }
    if (!json_is_array(a) || json_array_size(a) > MAX_ITEMS) {
        return xasprintf("%s.%s: must be an array", what, key);
    }
    char *items = xcalloc(json_array_size(a) + 1, size);
    memcpy(itemsp, &items, sizeof items);
    size_t i;
    const json_t *x;
    json_array_foreach (a, i, x) {
        char *w = xasprintf("%s.%s[%zu]", what, key, i);
        char *error = parse(x, w, items + (*np)++ * size);
        free(w);
        if (error) {
            return error;
        }
    }
    return NULL;
}

static char *
peer_parse_item(const json_t *j, const char *what, void *peer)
{
    return peer_parse(j, what, peer);
}

static char *
port_parse_item(const json_t *j, const char *what, void *port)
{
    return port_parse(j, what, port);
}

static char *
rule_parse(const json_t *j, const char *what, const char *peers_key,
           struct lb_policy_rule *rule)
{
    if (!json_is_object(j)) {
        return xasprintf("%s: must be an object", what);
    }
    const json_t *peers = json_object_get(j, peers_key);
    const json_t *ports = json_object_get(j, "ports");
    char *pk = peers ? json_dumps(peers, JSON_COMPACT | JSON_SORT_KEYS
                                  | JSON_ENCODE_ANY) : NULL;
    char *ptk = ports ? json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS
                                   | JSON_ENCODE_ANY) : NULL;
    rule->key = xasprintf("%s|%s", pk ? pk : "null", ptk ? ptk : "null");
    free(pk);
    free(ptk);
    char *error = array_parse(j, peers_key, what, sizeof *rule->peers,
                              peer_parse_item, &rule->peers, &rule->n_peers);
    if (!error) {
        error = array_parse(j, "ports", what, sizeof *rule->ports,
                            port_parse_item, &rule->ports, &rule->n_ports);
    }
    return error;
}

static char *
ingress_rule_parse(const json_t *j, const char *what, void *rule)
{
    return rule_parse(j, what, "from", rule);
}

static char *
egress_rule_parse(const json_t *j, const char *what, void *rule)
{
    return rule_parse(j, what, "to", rule);
}

static char *
policy_parse(const json_t *j, struct lb_network_policy *np)
{
    const json_t *spec = json_object_get(j, "spec");
    if (!json_is_object(spec)) {
        return xstrdup("spec: must be an object");
    }
    np->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    char *error = selector_parse(json_object_get(spec, "podSelector"),
                                 "spec.podSelector", &np->pod_sel);
    if (error) {
        return error;
    }

    const json_t *types = json_object_get(spec, "policyTypes");
    const json_t *egress = json_object_get(spec, "egress");
    if (types && !json_is_null(types)) {
        if (!json_is_array(types)) {
            return xstrdup("spec.policyTypes: must be an array");
        }
        size_t i;
        const json_t *t;
        json_array_foreach (types, i, t) {
            const char *s = json_string_value(t);
            if (s && !strcmp(s, "Ingress")) {
                np->ingress = true;
            } else if (s && !strcmp(s, "Egress")) {
                np->egress = true;
            } else {
                return xasprintf("spec.policyTypes[%zu]: not Ingress or "
                                 "Egress", i);
            }
        }
    } else {
        /* Kubernetes' default: Ingress, and Egress if it has egress
         * rules. */
        np->ingress = true;
        np->egress = egress && !json_is_null(egress);
    }

    static const char *const keys[2][2] = {
        [LB_POLICY_INGRESS] = { "ingress", "from" },
        [LB_POLICY_EGRESS] = { "egress", "to" },
    };
    static item_parse_fn *const parsers[2] = {
        [LB_POLICY_INGRESS] = ingress_rule_parse,
        [LB_POLICY_EGRESS] = egress_rule_parse,
    };
    for (int d = 0; d < 2; d++) {
        error = array_parse(spec, keys[d][0], "spec", sizeof *np->rules[d],
                            parsers[d], &np->rules[d], &np->n_rules[d]);
        if (error) {
            return error;
        }
    }
    return NULL;
}

char *
lb_network_policy_from_json(const json_t *j, struct lb_network_policy **npp)
{
    struct lb_network_policy *np = xzalloc(sizeof *np);
    smap_init(&np->pod_sel.match_labels);
    char *error = lb_k8s_metadata_from_json(j, &np->ns, &np->name, &np->uid);
    if (!error && !np->ns) {
        error = xstrdup("metadata.namespace: missing");
    }
    if (!error) {
        error = policy_parse(j, np);
    }
    if (error) {
        char *e = xasprintf("NetworkPolicy %s/%s: %s",
                            np->ns ? np->ns : "", np->name ? np->name : "",
                            error);
        free(error);
        lb_network_policy_destroy(np);
        return e;
    }
    *npp = np;
    return NULL;
}

/* The same spec is the same policy. */
bool
lb_network_policy_equal(const struct lb_network_policy *a,
                        const struct lb_network_policy *b)
{
    return (!strcmp(a->ns, b->ns) && !strcmp(a->name, b->name)
            && nullable_string_is_equal(a->uid, b->uid)
            && nullable_string_is_equal(a->spec, b->spec));
}

/* Namespaces. */

char *
lb_namespace_from_json(const json_t *j, struct lb_namespace **nsp)
{
    struct lb_namespace *ns = xzalloc(sizeof *ns);
    smap_init(&ns->labels);
    char *dummy = NULL;
    char *error = lb_k8s_metadata_from_json(j, &dummy, &ns->name, &ns->uid);
    free(dummy);
    const json_t *labels = json_object_get(json_object_get(j, "metadata"),
                                           "labels");
    if (!error && labels && !json_is_null(labels)) {
        if (!json_is_object(labels)) {
            error = xstrdup("metadata.labels: must be an object");
        } else {
            const char *key;
            const json_t *value;
            json_object_foreach ((json_t *) labels, key, value) {
                if (json_is_string(value)) {
                    smap_replace(&ns->labels, key, json_string_value(value));
                }
            }
        }
    }
    if (error) {
        char *e = xasprintf("Namespace %s: %s", ns->name ? ns->name : "",
                            error);
        free(error);
        lb_namespace_destroy(ns);
        return e;
    }
    *nsp = ns;
    return NULL;
}

void
lb_namespace_destroy(struct lb_namespace *ns)
{
    if (ns) {
        free(ns->name);
        free(ns->uid);
        smap_destroy(&ns->labels);
        free(ns);
    }
}

bool
lb_namespace_equal(const struct lb_namespace *a, const struct lb_namespace *b)
{
    return (!strcmp(a->name, b->name)
            && nullable_string_is_equal(a->uid, b->uid)
            && smap_equal(&a->labels, &b->labels));
}
