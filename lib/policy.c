/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "policy.h"

#include <arpa/inet.h>
#include <string.h>
#include "cookie.h"
#include "flow-table.h"
#include "hash.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "sset.h"
#include "util.h"

/* Selectors. */

static bool
expr_matches(const struct lb_selector_expr *x, const struct smap *labels)
{
    const char *value = smap_get(labels, x->key);
    switch (x->op) {
    case LB_SEL_EXISTS:
        return value != NULL;
    case LB_SEL_DOES_NOT_EXIST:
        return value == NULL;
    case LB_SEL_IN:
    case LB_SEL_NOT_IN:
        for (size_t i = 0; value && i < x->n_values; i++) {
            if (!strcmp(value, x->values[i])) {
                return x->op == LB_SEL_IN;
            }
        }
        return x->op == LB_SEL_NOT_IN;
    }
    return false;
}

bool
lb_selector_matches(const struct lb_selector *sel, const struct smap *labels)
{
    const struct smap_node *node;
    SMAP_FOR_EACH (node, &sel->match_labels) {
        const char *value = smap_get(labels, node->key);
        if (!value || strcmp(value, node->value)) {
            return false;
        }
    }
    for (size_t i = 0; i < sel->n_exprs; i++) {
        if (!expr_matches(&sel->exprs[i], labels)) {
            return false;
        }
    }
    return true;
}

/* Prefixes. */

static unsigned int
cidr_bits(const struct lb_cidr *c)
{
    return c->v4 ? 32 : 128;
}

/* Bit 'i' of 'c', counting from the family's first bit. */
static bool
cidr_bit(const struct lb_cidr *c, unsigned int i)
{
    unsigned int b = i + (c->v4 ? 96 : 0);
    return (c->addr.s6_addr[b / 8] >> (7 - b % 8)) & 1;
}

static void
cidr_set_bit(struct lb_cidr *c, unsigned int i, bool value)
{
    unsigned int b = i + (c->v4 ? 96 : 0);
    uint8_t m = 1u << (7 - b % 8);
    if (value) {
        c->addr.s6_addr[b / 8] |= m;
    } else {
        c->addr.s6_addr[b / 8] &= ~m;
    }
}

/* Clears the bits past the prefix. */
static void
cidr_normalize(struct lb_cidr *c)
{
    for (unsigned int i = c->plen; i < cidr_bits(c); i++) {
        cidr_set_bit(c, i, false);
    }
}

char *
lb_cidr_parse(const char *s, struct lb_cidr *c)
{
    memset(c, 0, sizeof *c);
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t len = slash ? slash - s : strlen(s);
    c->v4 = !memchr(s, ':', len);
    unsigned int max = c->v4 ? 32 : 128;

    bool ok = len < sizeof addr;
    if (ok) {
        memcpy(addr, s, len);
        addr[len] = '\0';
        if (c->v4) {
            ovs_be32 ip;
            ok = inet_pton(AF_INET, addr, &ip) == 1;
            in6_addr_set_mapped_ipv4(&c->addr, ip);
        } else {
            ok = inet_pton(AF_INET6, addr, &c->addr) == 1;
        }
    }
    c->plen = max;
    if (ok && slash) {
        char *end;
        unsigned long plen = strtoul(slash + 1, &end, 10);
        ok = slash[1] >= '0' && slash[1] <= '9' && !*end && plen <= max;
        c->plen = plen;
    }
    if (!ok) {
        return xasprintf("\"%s\": not an IPv%d CIDR", s, c->v4 ? 4 : 6);
    }
    cidr_normalize(c);
    return NULL;
}

/* A host prefix is printed without its length, so that a pod's address and
 * an ipBlock naming the same host give the same match. */
void
lb_cidr_format(const struct lb_cidr *c, struct ds *s)
{
    if (c->v4) {
        ds_put_format(s, IP_FMT, IP_ARGS(in6_addr_get_mapped_ipv4(&c->addr)));
    } else {
        ipv6_format_addr(&c->addr, s);
    }
    if (c->plen < cidr_bits(c)) {
        ds_put_format(s, "/%u", c->plen);
    }
}

bool
lb_cidr_contains(const struct lb_cidr *outer, const struct lb_cidr *inner)
{
    if (outer->v4 != inner->v4 || outer->plen > inner->plen) {
        return false;
    }
    for (unsigned int i = 0; i < outer->plen; i++) {
        if (cidr_bit(outer, i) != cidr_bit(inner, i)) {
            return false;
        }
    }
    return true;
}

static void
cidrs_push(struct lb_cidr **v, size_t *n, size_t *alloc,
           const struct lb_cidr *c)
{
    if (*n >= *alloc) {
        *v = x2nrealloc(*v, alloc, sizeof **v);
    }
    (*v)[(*n)++] = *c;
}

/* 'c' without 'x' (which it contains), as the prefixes that split off on
 * the way from 'c' down to 'x': one per bit of difference. */
static void
subtract_one(const struct lb_cidr *c, const struct lb_cidr *x,
             struct lb_cidr **v, size_t *n, size_t *alloc)
{
    struct lb_cidr cur = *x;
    for (unsigned int len = x->plen; len > c->plen; len--) {
        struct lb_cidr sibling = cur;
        sibling.plen = len;
        cidr_set_bit(&sibling, len - 1, !cidr_bit(&cur, len - 1));
        cidr_normalize(&sibling);
        cidrs_push(v, n, alloc, &sibling);
        cur.plen = len - 1;
        cidr_normalize(&cur);
    }
}

/* Sets '*out' to the prefixes that cover 'c' minus every 'except' (an
 * ipBlock), and returns how many.  Excepts outside 'c' or of the other
 * family are ignored. */
size_t
lb_cidr_subtract(const struct lb_cidr *c, const struct lb_cidr *except,
                 size_t n_except, struct lb_cidr **out)
{
    struct lb_cidr *v = NULL;
    size_t n = 0, alloc = 0;
    cidrs_push(&v, &n, &alloc, c);
    for (size_t i = 0; i < n_except; i++) {
        const struct lb_cidr *x = &except[i];
        struct lb_cidr *next = NULL;
        size_t n_next = 0, alloc_next = 0;
        for (size_t j = 0; j < n; j++) {
            if (lb_cidr_contains(x, &v[j])) {
                continue;               /* Wholly excepted. */
            } else if (lb_cidr_contains(&v[j], x)) {
                subtract_one(&v[j], x, &next, &n_next, &alloc_next);
            } else {
                cidrs_push(&next, &n_next, &alloc_next, &v[j]);
            }
        }
        free(v);
        v = next;
        n = n_next;
        alloc = alloc_next;
    }
    *out = v;
    return n;
}

/* Ports. */

/* Splits [lo, hi] into aligned blocks, each a value/mask pair, the way OVN
 * turns a port range into matches.  At most 2 * 16 - 2 of them. */
size_t
lb_port_range_masks(uint16_t lo, uint16_t hi, struct lb_port_mask out[32])
{
    size_t n = 0;
    uint32_t cur = lo;
    while (cur <= hi) {
        unsigned int size = 0;
        /* The largest aligned block that starts at 'cur' and fits. */
        while (size < 16 && !(cur & (1u << size))
               && cur + (2u << size) - 1 <= hi) {
            size++;
        }
        out[n].value = cur;
        out[n].mask = 0xffff & ~((1u << size) - 1);
        n++;
        cur += 1u << size;
    }
    return n;
}

/* Endpoints. */

struct lb_policy_endpoint *
lb_policy_endpoint_create(const char *port_name, const char *ns, uint32_t key)
{
    struct lb_policy_endpoint *ep = xzalloc(sizeof *ep);
    ep->port_name = xstrdup(port_name);
    ep->ns = xstrdup(ns);
    ep->key = key;
    smap_init(&ep->labels);
    return ep;
}

void
lb_policy_endpoint_add_named_port(struct lb_policy_endpoint *ep,
                                  const char *name, uint8_t proto,
                                  uint16_t port)
{
    ep->named_ports = xrealloc(ep->named_ports, (ep->n_named_ports + 1)
                               * sizeof *ep->named_ports);
    ep->named_ports[ep->n_named_ports++] = (struct lb_named_port) {
        .name = xstrdup(name), .proto = proto, .port = port,
    };
}

void
lb_policy_endpoint_destroy(struct lb_policy_endpoint *ep)
{
    if (ep) {
        free(ep->port_name);
        free(ep->ns);
        smap_destroy(&ep->labels);
        for (size_t i = 0; i < ep->n_named_ports; i++) {
            free(ep->named_ports[i].name);
        }
        free(ep->named_ports);
        free(ep);
    }
}

/* Whether 'a' and 'b' are the same but, perhaps, for their labels. */
static bool
endpoint_equal_but_labels(const struct lb_policy_endpoint *a,
                          const struct lb_policy_endpoint *b)
{
    if (strcmp(a->port_name, b->port_name) || strcmp(a->ns, b->ns)
        || a->key != b->key
        || a->n_ipv4 != b->n_ipv4 || a->n_ipv6 != b->n_ipv6
        || memcmp(a->ipv4, b->ipv4, a->n_ipv4 * sizeof a->ipv4[0])
        || memcmp(a->ipv6, b->ipv6, a->n_ipv6 * sizeof a->ipv6[0])
        || a->n_named_ports != b->n_named_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_named_ports; i++) {
        const struct lb_named_port *x = &a->named_ports[i];
        const struct lb_named_port *y = &b->named_ports[i];
        if (strcmp(x->name, y->name) || x->proto != y->proto
            || x->port != y->port) {
            return false;
        }
    }
    return true;
}

bool
lb_policy_endpoint_equal(const struct lb_policy_endpoint *a,
                         const struct lb_policy_endpoint *b)
{
    return (endpoint_equal_but_labels(a, b)
            && smap_equal(&a->labels, &b->labels));
}

/* A named port's number on 'ep' for 'proto', 0 if it has none. */
static uint16_t
endpoint_named_port(const struct lb_policy_endpoint *ep, const char *name,
                    uint8_t proto)
{
    for (size_t i = 0; i < ep->n_named_ports; i++) {
        const struct lb_named_port *np = &ep->named_ports[i];
        if (np->proto == proto && !strcmp(np->name, name)) {
            return np->port;
        }
    }
    return 0;
}

/* The engine. */

/* A merged flow: one (table, priority, match), and the action fragments
 * that rules contribute to it, each counted.  Its actions are the distinct
 * fragments, sorted: several conjunction() actions, or one allow. */
struct mflow {
    struct hmap_node node;      /* In engine's 'flows'. */
    uint8_t table_id;
    uint16_t priority;
    char *match;
    struct shash frags;         /* Fragment -> struct frag. */
    bool dirty;                 /* On the engine's 'dirty_flows'. */
};

struct frag {
    unsigned int refs;
    uint64_t cookie;
};

/* What one policy or conjunction contributed: a fragment of one merged
 * flow. */
struct contrib {
    struct mflow *flow;
    char *frag;
};

struct contribs {
    struct contrib *v;
    size_t n, alloc;
};

/* A conjunction: the dimensions of a rule other than "this port" (peer
 * addresses, L4 ports), shared by every rule whose peers and ports are the
 * same (the same selectors, seen from the same namespace): so a thousand
 * policies that all allow DNS to the cluster's servers share one set of
 * address flows, like an OVN address set, and each adds only its ports to
 * dimension 1. */
struct conj {
    char *key;
    uint32_t id;
    unsigned int refs;          /* Rules that use it. */
    size_t n_dims;
    bool empty;                 /* A dimension matches nothing. */
    struct contribs contribs;   /* Dimensions 2..n and the conj_id flow. */
};

struct policy_state {
    char *key;                          /* "ns/name". */
    struct lb_network_policy *np;
    struct sset selected[2];            /* Port names it isolates. */
    struct contribs contribs;           /* Its port dimensions, allows. */
    char **conjs;                       /* Keys of the conjunctions its
                                         * rules use, once per use. */
    size_t n_conjs, alloc_conjs;
    bool dirty;
};

struct port_iso {
    unsigned int refs[2];       /* Policies isolating it, per direction. */
};

struct lb_policy_engine {
    struct shash namespaces;    /* Name -> struct lb_namespace. */
    struct shash endpoints;     /* Port name -> lb_policy_endpoint. */
    struct shash ns_endpoints;  /* Namespace -> struct shash of the
                                 * namespace's endpoints, by port name. */
    struct shash policies;      /* "ns/name" -> struct policy_state. */
    struct shash isolation;     /* Port name -> struct port_iso. */

    struct hmap flows;          /* Contains struct mflow. */
    struct mflow **dirty_flows;
    size_t n_dirty_flows, alloc_dirty_flows;

    struct shash conjs;         /* Key -> struct conj. */
    struct hmap used_ids;       /* Contains struct conj_id. */

    struct sset changed_ports;  /* Isolation changed since the last run. */
    size_t n_dirty_policies;
    uint64_t n_compiles;        /* Policies compiled, ever. */
};

struct conj_id {
    struct hmap_node node;
    uint32_t id;
};

static struct smap empty_labels = SMAP_INITIALIZER(&empty_labels);

struct lb_policy_engine *
lb_policy_engine_create(void)
{
    struct lb_policy_engine *e = xzalloc(sizeof *e);
    shash_init(&e->namespaces);
    shash_init(&e->endpoints);
    shash_init(&e->ns_endpoints);
    shash_init(&e->policies);
    shash_init(&e->isolation);
    hmap_init(&e->flows);
    shash_init(&e->conjs);
    hmap_init(&e->used_ids);
    sset_init(&e->changed_ports);
    return e;
}

static void
mflow_destroy(struct mflow *f)
{
    shash_destroy_free_data(&f->frags);
    free(f->match);
    free(f);
}

static void
policy_state_destroy(struct policy_state *ps)
{
    free(ps->key);
    lb_network_policy_destroy(ps->np);
    for (int d = 0; d < 2; d++) {
        sset_destroy(&ps->selected[d]);
    }
    for (size_t i = 0; i < ps->contribs.n; i++) {
        free(ps->contribs.v[i].frag);
    }
    free(ps->contribs.v);
    for (size_t i = 0; i < ps->n_conjs; i++) {
        free(ps->conjs[i]);
    }
    free(ps->conjs);
    free(ps);
}

void
lb_policy_engine_destroy(struct lb_policy_engine *e)
{
    if (!e) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &e->namespaces) {
        lb_namespace_destroy(node->data);
    }
    shash_destroy(&e->namespaces);
    SHASH_FOR_EACH (node, &e->endpoints) {
        lb_policy_endpoint_destroy(node->data);
    }
    shash_destroy(&e->endpoints);
    SHASH_FOR_EACH (node, &e->ns_endpoints) {
        shash_destroy(node->data);
        free(node->data);
    }
    shash_destroy(&e->ns_endpoints);
    SHASH_FOR_EACH (node, &e->policies) {
        policy_state_destroy(node->data);
    }
    shash_destroy(&e->policies);
    shash_destroy_free_data(&e->isolation);

    struct mflow *f;
    HMAP_FOR_EACH_POP (f, node, &e->flows) {
        mflow_destroy(f);
    }
    hmap_destroy(&e->flows);
    free(e->dirty_flows);
    SHASH_FOR_EACH (node, &e->conjs) {
        struct conj *c = node->data;
        for (size_t i = 0; i < c->contribs.n; i++) {
            free(c->contribs.v[i].frag);
        }
        free(c->contribs.v);
        free(c->key);
        free(c);
    }
    shash_destroy(&e->conjs);
    struct conj_id *cid;
    HMAP_FOR_EACH_POP (cid, node, &e->used_ids) {
        free(cid);
    }
    hmap_destroy(&e->used_ids);
    sset_destroy(&e->changed_ports);
    free(e);
}

/* Conjunction ids are taken from the hash of the conjunction's key, so
 * that the same policies give the same ids whatever the order they came in
 * (collisions aside: the next free id). */
static bool
id_used(const struct lb_policy_engine *e, uint32_t id)
{
    const struct conj_id *cid;
    HMAP_FOR_EACH_WITH_HASH (cid, node, hash_int(id, 0), &e->used_ids) {
        if (cid->id == id) {
            return true;
        }
    }
    return false;
}

static uint32_t
id_alloc(struct lb_policy_engine *e, const char *key)
{
    uint32_t id = (hash_string(key, 0) & 0x7fffffff) | 1;
    while (id_used(e, id)) {
        id = ((id + 1) & 0x7fffffff) | 1;
    }
    struct conj_id *cid = xmalloc(sizeof *cid);
    cid->id = id;
    hmap_insert(&e->used_ids, &cid->node, hash_int(id, 0));
    return id;
}

static void
id_free(struct lb_policy_engine *e, uint32_t id)
{
    struct conj_id *cid;
    HMAP_FOR_EACH_WITH_HASH (cid, node, hash_int(id, 0), &e->used_ids) {
        if (cid->id == id) {
            hmap_remove(&e->used_ids, &cid->node);
            free(cid);
            return;
        }
    }
}

/* Merged flows. */

static uint32_t
mflow_hash(uint8_t table_id, uint16_t priority, const char *match)
{
    return hash_string(match, hash_2words(table_id, priority));
}

static void
mflow_mark_dirty(struct lb_policy_engine *e, struct mflow *f)
{
    if (!f->dirty) {
        f->dirty = true;
        if (e->n_dirty_flows >= e->alloc_dirty_flows) {
            e->dirty_flows = x2nrealloc(e->dirty_flows,
                                        &e->alloc_dirty_flows,
                                        sizeof *e->dirty_flows);
        }
        e->dirty_flows[e->n_dirty_flows++] = f;
    }
}

static struct mflow *
mflow_get(struct lb_policy_engine *e, uint8_t table_id, uint16_t priority,
          const char *match)
{
    uint32_t hash = mflow_hash(table_id, priority, match);
    struct mflow *f;
    HMAP_FOR_EACH_WITH_HASH (f, node, hash, &e->flows) {
        if (f->table_id == table_id && f->priority == priority
            && !strcmp(f->match, match)) {
            return f;
        }
    }
    f = xzalloc(sizeof *f);
    f->table_id = table_id;
    f->priority = priority;
    f->match = xstrdup(match);
    shash_init(&f->frags);
    hmap_insert(&e->flows, &f->node, hash);
    return f;
}

static void
contribute(struct lb_policy_engine *e, struct contribs *cs,
           uint8_t table_id, uint16_t priority, const char *match,
           const char *frag, uint64_t cookie)
{
    struct mflow *f = mflow_get(e, table_id, priority, match);
    struct frag *fr = shash_find_data(&f->frags, frag);
    if (!fr) {
        fr = xzalloc(sizeof *fr);
        fr->cookie = cookie;
        shash_add(&f->frags, frag, fr);
        mflow_mark_dirty(e, f);
    } else if (cookie < fr->cookie) {
        fr->cookie = cookie;
        mflow_mark_dirty(e, f);
    }
    fr->refs++;

    if (cs->n >= cs->alloc) {
        cs->v = x2nrealloc(cs->v, &cs->alloc, sizeof *cs->v);
    }
    cs->v[cs->n++] = (struct contrib) {
        .flow = f, .frag = xstrdup(frag),
    };
}

static void
contribs_remove(struct lb_policy_engine *e, struct contribs *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        struct contrib *c = &cs->v[i];
        struct shash_node *node = shash_find(&c->flow->frags, c->frag);
        struct frag *fr = node->data;
        if (!--fr->refs) {
            free(fr);
            shash_delete(&c->flow->frags, node);
            mflow_mark_dirty(e, c->flow);
        }
        free(c->frag);
    }
    cs->n = 0;
}

/* Creates the conjunction 'key' of 'n_dims' dimensions, with the flows of
 * dimensions 2..n from 'dims' (dims[0] is unused: each rule adds its own
 * ports). */
static struct conj *
conj_create(struct lb_policy_engine *e, const char *key, uint8_t table,
            const char *allow, const struct sset *dims, size_t n_dims)
{
    struct conj *c = xzalloc(sizeof *c);
    c->key = xstrdup(key);
    c->id = id_alloc(e, key);
    c->n_dims = n_dims;
    shash_add(&e->conjs, key, c);
    for (size_t i = 1; i < n_dims; i++) {
        c->empty |= sset_is_empty(&dims[i]);
    }
    if (c->empty) {
        return c;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_POLICY, c->id, false);
    for (size_t i = 1; i < n_dims; i++) {
        char *frag = xasprintf("conjunction(%"PRIu32",%"PRIuSIZE"/%"
                               PRIuSIZE")", c->id, i + 1, n_dims);
        const char *match;
        SSET_FOR_EACH (match, &dims[i]) {
            contribute(e, &c->contribs, table, PRIO_POLICY_RULE, match, frag,
                       cookie);
        }
        free(frag);
    }
    char *match = xasprintf("conj_id=%"PRIu32, c->id);
    contribute(e, &c->contribs, table, PRIO_POLICY_RULE, match, allow,
               cookie);
    free(match);
    return c;
}

static void
conj_ref(struct policy_state *ps, struct conj *c)
{
    c->refs++;
    if (ps->n_conjs >= ps->alloc_conjs) {
        ps->conjs = x2nrealloc(ps->conjs, &ps->alloc_conjs,
                               sizeof *ps->conjs);
    }
    ps->conjs[ps->n_conjs++] = xstrdup(c->key);
}

/* Drops 'ps''s contributions and references. */
static void
policy_release(struct lb_policy_engine *e, struct policy_state *ps)
{
    contribs_remove(e, &ps->contribs);
    for (size_t i = 0; i < ps->n_conjs; i++) {
        struct conj *c = shash_find_data(&e->conjs, ps->conjs[i]);
        if (!--c->refs) {
            contribs_remove(e, &c->contribs);
            free(c->contribs.v);
            id_free(e, c->id);
            shash_find_and_delete(&e->conjs, c->key);
            free(c->key);
            free(c);
        }
        free(ps->conjs[i]);
    }
    ps->n_conjs = 0;
}

/* The actions of 'f', and its cookie: the lowest of its contributors'. */
static void
mflow_actions(const struct mflow *f, struct ds *actions, uint64_t *cookie)
{
    const struct shash_node **sorted = shash_sort(&f->frags);
    size_t n = shash_count(&f->frags);
    *cookie = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const struct frag *fr = sorted[i]->data;
        if (i) {
            ds_put_char(actions, ',');
        }
        ds_put_cstr(actions, sorted[i]->name);
        *cookie = MIN(*cookie, fr->cookie);
    }
    free(sorted);
}

static void
mflow_put(const struct mflow *f, struct lb_flow_table *ft)
{
    struct ds actions = DS_EMPTY_INITIALIZER;
    uint64_t cookie;
    mflow_actions(f, &actions, &cookie);
    lb_flow_table_add(ft, f->table_id, f->priority, cookie, f->match,
                      ds_cstr(&actions));
    ds_destroy(&actions);
}

/* Compiling one policy. */

static uint64_t
policy_cookie(uint32_t key)
{
    return lb_cookie(LB_COOKIE_POLICY, key, false);
}

struct dir_info {
    uint8_t table;              /* Rules. */
    const char *port_reg;       /* The selected port. */
    const char *nw_field;       /* The peer's IPv4 address... */
    const char *ipv6_field;     /* ...and IPv6 one. */
    const char *allow;          /* Action of an allowed connection. */
};

static const struct dir_info dirs[2] = {
    [LB_POLICY_INGRESS] = {
        OFTABLE_POLICY_INGRESS, LB_REG_OUTPORT, "nw_src", "ipv6_src",
        "resubmit(,43)",
    },
    [LB_POLICY_EGRESS] = {
        OFTABLE_POLICY_EGRESS, LB_REG_INPORT, "nw_dst", "ipv6_dst",
        "resubmit(,13)",
    },
};

BUILD_ASSERT_DECL(OFTABLE_POLICY_INGRESS_COMMIT == 43);
BUILD_ASSERT_DECL(OFTABLE_POLICY_EGRESS_COMMIT == 13);

static const char *
proto_name(uint8_t proto, bool v6)
{
    switch (proto) {
    case IPPROTO_UDP:
        return v6 ? "udp6" : "udp";
    case IPPROTO_SCTP:
        return v6 ? "sctp6" : "sctp";
    default:
        return v6 ? "tcp6" : "tcp";
    }
}

/* Matches for a numeric port of a rule, both families, into 'out'. */
static void
port_matches(const struct lb_policy_port *p, struct sset *out)
{
    for (int v6 = 0; v6 < 2; v6++) {
        const char *proto = proto_name(p->proto, v6);
        if (!p->port) {
            sset_add(out, proto);
        } else if (!p->end_port || p->end_port <= p->port) {
            sset_add_and_free(out, xasprintf("%s,tp_dst=%u", proto,
                                             p->port));
        } else {
            struct lb_port_mask masks[32];
            size_t n = lb_port_range_masks(p->port, p->end_port, masks);
            for (size_t i = 0; i < n; i++) {
                sset_add_and_free(out, (masks[i].mask == 0xffff
                                        ? xasprintf("%s,tp_dst=%u", proto,
                                                    masks[i].value)
                                        : xasprintf("%s,tp_dst=%#x/%#x",
                                                    proto, masks[i].value,
                                                    masks[i].mask)));
            }
        }
    }
}

static void
put_addr(const struct dir_info *di, const struct lb_cidr *c, const char *pre,
         struct ds *s)
{
    ds_put_format(s, "%s,%s=", pre ? pre : (c->v4 ? "ip" : "ipv6"),
                  c->v4 ? di->nw_field : di->ipv6_field);
    lb_cidr_format(c, s);
}

static void
endpoint_cidrs(const struct lb_policy_endpoint *ep, struct lb_cidr *out,
               size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < ep->n_ipv4; i++) {
        struct lb_cidr *c = &out[(*n)++];
        memset(c, 0, sizeof *c);
        c->v4 = true;
        c->plen = 32;
        in6_addr_set_mapped_ipv4(&c->addr, ep->ipv4[i]);
    }
    for (size_t i = 0; i < ep->n_ipv6; i++) {
        struct lb_cidr *c = &out[(*n)++];
        memset(c, 0, sizeof *c);
        c->plen = 128;
        c->addr = ep->ipv6[i];
    }
}

static const struct smap *
ns_labels(const struct lb_policy_engine *e, const char *ns)
{
    const struct lb_namespace *n = shash_find_data(&e->namespaces, ns);
    return n ? &n->labels : &empty_labels;
}

static bool
peer_selects(const struct lb_policy_engine *e,
             const struct lb_network_policy *np,
             const struct lb_policy_peer *peer,
             const struct lb_policy_endpoint *ep)
{
    if (peer->has_ip_block) {
        return false;
    }
    if (peer->ns_sel) {
        if (!lb_selector_matches(peer->ns_sel, ns_labels(e, ep->ns))) {
            return false;
        }
    } else if (strcmp(ep->ns, np->ns)) {
        return false;
    }
    return !peer->pod_sel || lb_selector_matches(peer->pod_sel, &ep->labels);
}

/* Calls 'cb' for each endpoint that 'peer' selects. */
static void
for_each_peer_endpoint(const struct lb_policy_engine *e,
                       const struct lb_network_policy *np,
                       const struct lb_policy_peer *peer,
                       void (*cb)(const struct lb_policy_endpoint *, void *),
                       void *aux)
{
    const struct shash_node *nsn;
    SHASH_FOR_EACH (nsn, &e->ns_endpoints) {
        if (peer->ns_sel
            ? !lb_selector_matches(peer->ns_sel, ns_labels(e, nsn->name))
            : strcmp(nsn->name, np->ns)) {
            continue;
        }
        const struct shash_node *epn;
        SHASH_FOR_EACH (epn, (const struct shash *) nsn->data) {
            const struct lb_policy_endpoint *ep = epn->data;
            if (!peer->pod_sel
                || lb_selector_matches(peer->pod_sel, &ep->labels)) {
                cb(ep, aux);
            }
        }
    }
}

/* What a rule's peers come to. */
struct peer_set {
    const struct dir_info *di;
    struct sset addrs;          /* Address matches. */
    struct shash endpoints;     /* Peer endpoints, for named ports. */
};

static void
collect_peer(const struct lb_policy_endpoint *ep, void *ps_)
{
    struct peer_set *ps = ps_;
    struct lb_cidr cidrs[2 * LB_POLICY_MAX_ADDRS];
    size_t n;
    endpoint_cidrs(ep, cidrs, &n);
    for (size_t i = 0; i < n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        put_addr(ps->di, &cidrs[i], NULL, &s);
        sset_add_and_free(&ps->addrs, ds_steal_cstr(&s));
    }
    shash_replace(&ps->endpoints, ep->port_name, ep);
}

static void
peers_compute(const struct lb_policy_engine *e,
              const struct lb_network_policy *np,
              const struct lb_policy_rule *rule, struct peer_set *ps)
{
    for (size_t i = 0; i < rule->n_peers; i++) {
        const struct lb_policy_peer *peer = &rule->peers[i];
        if (!peer->has_ip_block) {
            for_each_peer_endpoint(e, np, peer, collect_peer, ps);
            continue;
        }
        struct lb_cidr *cidrs;
        size_t n = lb_cidr_subtract(&peer->cidr, peer->except,
                                    peer->n_except, &cidrs);
        for (size_t j = 0; j < n; j++) {
            struct ds s = DS_EMPTY_INITIALIZER;
            put_addr(ps->di, &cidrs[j], NULL, &s);
            sset_add_and_free(&ps->addrs, ds_steal_cstr(&s));
        }
        free(cidrs);
    }
}

/* A rule's dimension 1, the selected ports ('ports'), joined to its
 * conjunction 'c' (or, without one, allowed outright). */
static void
emit_ports(struct lb_policy_engine *e, struct policy_state *ps,
           const struct dir_info *di, const char *key, struct conj *c,
           const struct sset *ports)
{
    const char *match;
    if (!c) {
        uint64_t cookie = lb_cookie(LB_COOKIE_POLICY,
                                    hash_string(key, 0) & 0x7fffffff, false);
        SSET_FOR_EACH (match, ports) {
            contribute(e, &ps->contribs, di->table, PRIO_POLICY_ALLOW_ALL,
                       match, di->allow, cookie);
        }
        return;
    }
    conj_ref(ps, c);
    if (c->empty) {
        return;                         /* Matches nothing. */
    }
    char *frag = xasprintf("conjunction(%"PRIu32",1/%"PRIuSIZE")", c->id,
                           c->n_dims);
    SSET_FOR_EACH (match, ports) {
        contribute(e, &ps->contribs, di->table, PRIO_POLICY_RULE, match,
                   frag, lb_cookie(LB_COOKIE_POLICY, c->id, false));
    }
    free(frag);
}

/* The key of a rule's conjunction: what its dimensions other than "this
 * port" depend on.  The policy's namespace counts when a peer selects pods
 * of it (a podSelector without a namespaceSelector). */
static char *
conj_key(const struct lb_network_policy *np, enum lb_policy_dir dir,
         char variant, const struct lb_policy_rule *rule)
{
    bool needs_ns = false;
    for (size_t i = 0; i < rule->n_peers; i++) {
        needs_ns |= !rule->peers[i].ns_sel && !rule->peers[i].has_ip_block;
    }
    return xasprintf("%s/%c/%s/%s", dir == LB_POLICY_INGRESS ? "in" : "out",
                     variant, needs_ns ? np->ns : "*", rule->key);
}

/* The matches of dimension 2 of a named-port rule for egress: each peer's
 * addresses with its own number for the port's name. */
static void
named_egress_matches(const struct lb_policy_engine *e,
                     const struct lb_policy_rule *rule,
                     const struct dir_info *di, const struct shash *peer_eps,
                     struct sset *out)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, peer_eps) {
        const struct lb_policy_endpoint *ep = node->data;
        struct lb_cidr cidrs[2 * LB_POLICY_MAX_ADDRS];
        size_t n_cidrs;
        endpoint_cidrs(ep, cidrs, &n_cidrs);
        for (size_t i = 0; i < rule->n_ports; i++) {
            const struct lb_policy_port *p = &rule->ports[i];
            uint16_t num = (p->name
                            ? endpoint_named_port(ep, p->name, p->proto)
                            : 0);
            for (size_t j = 0; num && j < n_cidrs; j++) {
                struct ds s = DS_EMPTY_INITIALIZER;
                put_addr(di, &cidrs[j], proto_name(p->proto, !cidrs[j].v4),
                         &s);
                ds_put_format(&s, ",tp_dst=%u", num);
                sset_add_and_free(out, ds_steal_cstr(&s));
            }
        }
    }
}

/* Compiles one rule of 'ps' in direction 'dir'.  The dimensions other than
 * "this port" belong to a conjunction shared by every rule with the same
 * key, computed by the first of them. */
static void
compile_rule(struct lb_policy_engine *e, struct policy_state *ps,
             enum lb_policy_dir dir, const struct lb_policy_rule *rule)
{
    const struct lb_network_policy *np = ps->np;
    const struct dir_info *di = &dirs[dir];
    bool any_peer = !rule->n_peers;

    bool numeric = !rule->n_ports;
    bool named = false;
    for (size_t i = 0; i < rule->n_ports; i++) {
        if (rule->ports[i].name) {
            named = true;
        } else {
            numeric = true;
        }
    }

    /* Lazily, only for a conjunction not yet made. */
    struct peer_set peers = { .di = di };
    sset_init(&peers.addrs);
    shash_init(&peers.endpoints);
    bool peers_done = false;

    /* Numeric ports (or none): port x peer address x L4 port. */
    if (numeric) {
        char *key = conj_key(np, dir, 'n', rule);
        size_t n_dims = 1 + !any_peer + !!rule->n_ports;
        struct conj *c = NULL;
        if (n_dims > 1) {
            c = shash_find_data(&e->conjs, key);
        }
        if (n_dims > 1 && !c) {
            struct sset dims[3];
            size_t n = 1;
            if (!any_peer) {
                if (!peers_done) {
                    peers_compute(e, np, rule, &peers);
                    peers_done = true;
                }
                sset_clone(&dims[n++], &peers.addrs);
            }
            if (rule->n_ports) {
                sset_init(&dims[n]);
                for (size_t i = 0; i < rule->n_ports; i++) {
                    if (!rule->ports[i].name) {
                        port_matches(&rule->ports[i], &dims[n]);
                    }
                }
                n++;
            }
            c = conj_create(e, key, di->table, di->allow, dims, n);
            for (size_t i = 1; i < n; i++) {
                sset_destroy(&dims[i]);
            }
        }
        struct sset ports = SSET_INITIALIZER(&ports);
        const char *name;
        SSET_FOR_EACH (name, &ps->selected[dir]) {
            const struct lb_policy_endpoint *ep
                = shash_find_data(&e->endpoints, name);
            sset_add_and_free(&ports, xasprintf("%s=%#"PRIx32, di->port_reg,
                                                ep->key));
        }
        emit_ports(e, ps, di, key, c, &ports);
        sset_destroy(&ports);
        free(key);
    }

    /* Named ports: the name is the protected pod's for ingress (so the L4
     * port joins the port dimension) and the peer's for egress (so it
     * joins the address dimension); ipBlock peers have no names. */
    if (named) {
        char *key = conj_key(np, dir, 'p', rule);
        size_t n_dims = (dir == LB_POLICY_EGRESS || !any_peer) ? 2 : 1;
        struct conj *c = NULL;
        if (n_dims > 1) {
            c = shash_find_data(&e->conjs, key);
        }
        if (n_dims > 1 && !c) {
            struct sset dims[2];
            sset_init(&dims[1]);
            if (!any_peer && !peers_done) {
                peers_compute(e, np, rule, &peers);
                peers_done = true;
            }
            if (dir == LB_POLICY_EGRESS) {
                named_egress_matches(e, rule, di, (any_peer ? &e->endpoints
                                                   : &peers.endpoints),
                                     &dims[1]);
            } else {
                sset_destroy(&dims[1]);
                sset_clone(&dims[1], &peers.addrs);
            }
            c = conj_create(e, key, di->table, di->allow, dims, 2);
            sset_destroy(&dims[1]);
        }

        struct sset ports = SSET_INITIALIZER(&ports);
        const char *name;
        SSET_FOR_EACH (name, &ps->selected[dir]) {
            const struct lb_policy_endpoint *ep
                = shash_find_data(&e->endpoints, name);
            if (dir == LB_POLICY_EGRESS) {
                sset_add_and_free(&ports, xasprintf("%s=%#"PRIx32,
                                                    di->port_reg, ep->key));
                continue;
            }
            for (size_t i = 0; i < rule->n_ports; i++) {
                const struct lb_policy_port *p = &rule->ports[i];
                uint16_t num = (p->name
                                ? endpoint_named_port(ep, p->name, p->proto)
                                : 0);
                for (int v6 = 0; num && v6 < 2; v6++) {
                    sset_add_and_free(&ports, xasprintf(
                                          "%s,%s=%#"PRIx32",tp_dst=%u",
                                          proto_name(p->proto, v6),
                                          di->port_reg, ep->key, num));
                }
            }
        }
        emit_ports(e, ps, di, key, c, &ports);
        sset_destroy(&ports);
        free(key);
    }

    sset_destroy(&peers.addrs);
    shash_destroy(&peers.endpoints);
}

static void
iso_adjust(struct lb_policy_engine *e, const char *port, int dir, int delta)
{
    struct port_iso *iso = shash_find_data(&e->isolation, port);
    if (!iso) {
        iso = xzalloc(sizeof *iso);
        shash_add(&e->isolation, port, iso);
    }
    bool was = iso->refs[dir] > 0;
    iso->refs[dir] += delta;
    if (was != (iso->refs[dir] > 0)) {
        sset_add(&e->changed_ports, port);
    }
    if (!iso->refs[0] && !iso->refs[1]) {
        shash_find_and_delete(&e->isolation, port);
        free(iso);
    }
}

/* Compiles 'ps' again from scratch: what it isolates and contributes. */
static void
policy_compile(struct lb_policy_engine *e, struct policy_state *ps)
{
    policy_release(e, ps);

    /* Isolation: the policy's namespace's endpoints it selects. */
    struct sset selected[2];
    for (int d = 0; d < 2; d++) {
        sset_init(&selected[d]);
    }
    const struct shash *eps = ps->np ? shash_find_data(&e->ns_endpoints,
                                                       ps->np->ns) : NULL;
    if (eps) {
        const struct shash_node *node;
        SHASH_FOR_EACH (node, eps) {
            const struct lb_policy_endpoint *ep = node->data;
            if (!lb_selector_matches(&ps->np->pod_sel, &ep->labels)) {
                continue;
            }
            if (ps->np->ingress) {
                sset_add(&selected[LB_POLICY_INGRESS], ep->port_name);
            }
            if (ps->np->egress) {
                sset_add(&selected[LB_POLICY_EGRESS], ep->port_name);
            }
        }
    }
    for (int d = 0; d < 2; d++) {
        const char *name;
        SSET_FOR_EACH (name, &selected[d]) {
            if (!sset_contains(&ps->selected[d], name)) {
                iso_adjust(e, name, d, 1);
            }
        }
        SSET_FOR_EACH (name, &ps->selected[d]) {
            if (!sset_contains(&selected[d], name)) {
                iso_adjust(e, name, d, -1);
            }
        }
        sset_swap(&selected[d], &ps->selected[d]);
        sset_destroy(&selected[d]);
    }

    if (ps->np) {
        for (int d = 0; d < 2; d++) {
            if (d == LB_POLICY_INGRESS ? !ps->np->ingress : !ps->np->egress) {
                continue;
            }
            for (size_t i = 0; i < ps->np->n_rules[d]; i++) {
                compile_rule(e, ps, d, &ps->np->rules[d][i]);
            }
        }
    }
    ps->dirty = false;
    e->n_compiles++;
}

static void
policy_mark_dirty(struct lb_policy_engine *e, struct policy_state *ps)
{
    if (!ps->dirty) {
        ps->dirty = true;
        e->n_dirty_policies++;
    }
}

/* Whether 'np' selects 'ep' (to isolate it). */
static bool
policy_selects(const struct lb_network_policy *np,
               const struct lb_policy_endpoint *ep)
{
    return (!strcmp(ep->ns, np->ns)
            && lb_selector_matches(&np->pod_sel, &ep->labels));
}

/* Whether 'ep' bears on 'np': selected by it or one of its peers. */
static bool
endpoint_involved(const struct lb_policy_engine *e,
                  const struct lb_network_policy *np,
                  const struct lb_policy_endpoint *ep)
{
    if (policy_selects(np, ep)) {
        return true;
    }
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < np->n_rules[d]; i++) {
            const struct lb_policy_rule *rule = &np->rules[d][i];
            if (!rule->n_peers && d == LB_POLICY_EGRESS
                && ep->n_named_ports) {
                for (size_t j = 0; j < rule->n_ports; j++) {
                    if (rule->ports[j].name) {
                        return true;
                    }
                }
            }
            for (size_t j = 0; j < rule->n_peers; j++) {
                if (peer_selects(e, np, &rule->peers[j], ep)) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* Marks dirty every policy that 'involved' says 'arg' bears on. */
static void
mark_policies(struct lb_policy_engine *e,
              bool (*involved)(const struct lb_policy_engine *,
                               const struct lb_network_policy *,
                               const void *arg),
              const void *arg)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &e->policies) {
        struct policy_state *ps = node->data;
        if (!ps->dirty && ps->np && involved(e, ps->np, arg)) {
            policy_mark_dirty(e, ps);
        }
    }
}

static bool
endpoint_involved_cb(const struct lb_policy_engine *e,
                     const struct lb_network_policy *np, const void *ep)
{
    return endpoint_involved(e, np, ep);
}

static void
mark_policies_of_endpoint(struct lb_policy_engine *e,
                          const struct lb_policy_endpoint *ep)
{
    mark_policies(e, endpoint_involved_cb, ep);
}

/* Whether 'changed' is true of one of 'np''s peers, in either direction. */
static bool
any_peer_changed(const struct lb_policy_engine *e,
                 const struct lb_network_policy *np,
                 bool (*changed)(const struct lb_policy_engine *,
                                 const struct lb_network_policy *,
                                 const struct lb_policy_peer *,
                                 const void *aux),
                 const void *aux)
{
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < np->n_rules[d]; i++) {
            const struct lb_policy_rule *rule = &np->rules[d][i];
            for (size_t j = 0; j < rule->n_peers; j++) {
                if (changed(e, np, &rule->peers[j], aux)) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* An endpoint relabelled: its old and new versions, the same but for their
 * labels. */
struct relabel {
    const struct lb_policy_endpoint *old, *new;
};

static bool
peer_selection_changed(const struct lb_policy_engine *e,
                       const struct lb_network_policy *np,
                       const struct lb_policy_peer *peer, const void *r_)
{
    const struct relabel *r = r_;
    return (peer_selects(e, np, peer, r->old)
            != peer_selects(e, np, peer, r->new));
}

/* Whether relabelling bears on 'np': whether it changes whether 'np' or
 * one of its peers selects the endpoint.  A policy compiled from an
 * endpoint's key, addresses and named ports, which a relabel leaves alone,
 * and from those selections comes out the same if none of them changed. */
static bool
relabel_involved(const struct lb_policy_engine *e,
                 const struct lb_network_policy *np, const void *r_)
{
    const struct relabel *r = r_;
    return (policy_selects(np, r->old) != policy_selects(np, r->new)
            || any_peer_changed(e, np, peer_selection_changed, r));
}

/* A namespace relabelled (or added or removed: then one side's labels are
 * empty). */
struct ns_relabel {
    const struct smap *old, *new;
};

/* Whether relabelling a namespace changes what 'peer''s namespaceSelector
 * matches.  A selector that matches it before and after ("namespaceSelector:
 * {}", every namespace) selects the same pods. */
static bool
ns_selection_changed(const struct lb_policy_engine *e OVS_UNUSED,
                     const struct lb_network_policy *np OVS_UNUSED,
                     const struct lb_policy_peer *peer, const void *r_)
{
    const struct ns_relabel *r = r_;
    return (peer->ns_sel
            && (lb_selector_matches(peer->ns_sel, r->old)
                != lb_selector_matches(peer->ns_sel, r->new)));
}

static bool
namespace_involved(const struct lb_policy_engine *e,
                   const struct lb_network_policy *np, const void *r)
{
    return any_peer_changed(e, np, ns_selection_changed, r);
}

/* Marks the policies that relabelling namespace 'name' from 'old' to 'new'
 * bears on.  A namespace's labels select only its pods: with none, they
 * bear on nothing. */
static void
mark_policies_of_namespace(struct lb_policy_engine *e, const char *name,
                           const struct smap *old, const struct smap *new)
{
    const struct shash *eps = shash_find_data(&e->ns_endpoints, name);
    if (eps && !shash_is_empty(eps)) {
        struct ns_relabel r = { .old = old, .new = new };
        mark_policies(e, namespace_involved, &r);
    }
}

/* Inputs. */

bool
lb_policy_set_namespace(struct lb_policy_engine *e, struct lb_namespace *ns)
{
    struct lb_namespace *old = shash_find_data(&e->namespaces, ns->name);
    if (old && lb_namespace_equal(old, ns)) {
        lb_namespace_destroy(ns);
        return false;
    }
    mark_policies_of_namespace(e, ns->name,
                               old ? &old->labels : &empty_labels,
                               &ns->labels);
    shash_replace(&e->namespaces, ns->name, ns);
    lb_namespace_destroy(old);
    return true;
}

bool
lb_policy_remove_namespace(struct lb_policy_engine *e, const char *name)
{
    struct lb_namespace *old = shash_find_and_delete(&e->namespaces, name);
    if (!old) {
        return false;
    }
    mark_policies_of_namespace(e, name, &old->labels, &empty_labels);
    lb_namespace_destroy(old);
    return true;
}

static char *
policy_key(const char *ns, const char *name)
{
    return xasprintf("%s/%s", ns, name);
}

bool
lb_policy_set_policy(struct lb_policy_engine *e, struct lb_network_policy *np)
{
    char *key = policy_key(np->ns, np->name);
    struct policy_state *ps = shash_find_data(&e->policies, key);
    if (ps && ps->np && lb_network_policy_equal(ps->np, np)) {
        lb_network_policy_destroy(np);
        free(key);
        return false;
    }
    if (!ps) {
        ps = xzalloc(sizeof *ps);
        ps->key = key;
        sset_init(&ps->selected[0]);
        sset_init(&ps->selected[1]);
        shash_add(&e->policies, key, ps);
    } else {
        free(key);
        lb_network_policy_destroy(ps->np);
    }
    ps->np = np;
    policy_mark_dirty(e, ps);
    return true;
}

/* The policy's state stays, without a policy, until the next run takes its
 * contributions away. */
bool
lb_policy_remove_policy(struct lb_policy_engine *e, const char *ns,
                        const char *name)
{
    char *key = policy_key(ns, name);
    struct policy_state *ps = shash_find_data(&e->policies, key);
    free(key);
    if (!ps || !ps->np) {
        return false;
    }
    lb_network_policy_destroy(ps->np);
    ps->np = NULL;
    policy_mark_dirty(e, ps);
    return true;
}

static void
endpoint_unlink(struct lb_policy_engine *e, struct lb_policy_endpoint *ep)
{
    struct shash *eps = shash_find_data(&e->ns_endpoints, ep->ns);
    shash_find_and_delete(eps, ep->port_name);
    if (shash_is_empty(eps)) {
        shash_find_and_delete(&e->ns_endpoints, ep->ns);
        shash_destroy(eps);
        free(eps);
    }
    shash_find_and_delete(&e->endpoints, ep->port_name);
}

bool
lb_policy_set_endpoint(struct lb_policy_engine *e,
                       struct lb_policy_endpoint *ep)
{
    struct lb_policy_endpoint *old = shash_find_data(&e->endpoints,
                                                     ep->port_name);
    if (old && lb_policy_endpoint_equal(old, ep)) {
        lb_policy_endpoint_destroy(ep);
        return false;
    }
    /* A pod's labels change far more often than anything else of it: then
     * recompile only the policies whose selections it changes, not every
     * policy it bears on (with a peer that selects servers cluster-wide,
     * that is every policy). */
    bool relabelled = old && endpoint_equal_but_labels(old, ep);
    if (old) {
        if (relabelled) {
            struct relabel r = { .old = old, .new = ep };
            mark_policies(e, relabel_involved, &r);
        } else {
            mark_policies_of_endpoint(e, old);
        }
        endpoint_unlink(e, old);
        lb_policy_endpoint_destroy(old);
    }
    shash_add(&e->endpoints, ep->port_name, ep);
    struct shash *eps = shash_find_data(&e->ns_endpoints, ep->ns);
    if (!eps) {
        eps = xmalloc(sizeof *eps);
        shash_init(eps);
        shash_add(&e->ns_endpoints, ep->ns, eps);
    }
    shash_add(eps, ep->port_name, ep);
    if (!relabelled) {
        mark_policies_of_endpoint(e, ep);
    }
    return true;
}

void
lb_policy_endpoint_names(const struct lb_policy_engine *e, struct sset *out)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &e->endpoints) {
        sset_add(out, node->name);
    }
}

bool
lb_policy_remove_endpoint(struct lb_policy_engine *e, const char *port_name)
{
    struct lb_policy_endpoint *old = shash_find_data(&e->endpoints,
                                                     port_name);
    if (!old) {
        return false;
    }
    mark_policies_of_endpoint(e, old);
    endpoint_unlink(e, old);
    lb_policy_endpoint_destroy(old);
    return true;
}

/* Running. */

void
lb_policy_engine_run(struct lb_policy_engine *e, struct lb_flow_table *ft,
                     struct sset *changed_ports)
{
    if (e->n_dirty_policies) {
        /* In name order, so that conjunction ids that collide are taken in
         * the same order as a full compile takes them. */
        const struct shash_node **sorted = shash_sort(&e->policies);
        size_t n = shash_count(&e->policies);
        for (size_t i = 0; i < n; i++) {
            struct policy_state *ps = sorted[i]->data;
            if (ps->dirty) {
                policy_release(e, ps);
            }
        }
        for (size_t i = 0; i < n; i++) {
            struct policy_state *ps = sorted[i]->data;
            if (ps->dirty) {
                policy_compile(e, ps);
                if (!ps->np) {
                    shash_find_and_delete(&e->policies, ps->key);
                    policy_state_destroy(ps);
                }
            }
        }
        free(sorted);
        e->n_dirty_policies = 0;
    }

    for (size_t i = 0; i < e->n_dirty_flows; i++) {
        struct mflow *f = e->dirty_flows[i];
        f->dirty = false;
        if (ft) {
            struct lb_flow *old = lb_flow_table_find(ft, f->table_id,
                                                     f->priority, f->match);
            if (old && shash_is_empty(&f->frags)) {
                lb_flow_table_remove(ft, old);
            } else if (!shash_is_empty(&f->frags)) {
                mflow_put(f, ft);
            }
        }
        if (shash_is_empty(&f->frags)) {
            hmap_remove(&e->flows, &f->node);
            mflow_destroy(f);
        }
    }
    e->n_dirty_flows = 0;

    if (changed_ports) {
        const char *name;
        SSET_FOR_EACH (name, &e->changed_ports) {
            sset_add(changed_ports, name);
        }
    }
    sset_clear(&e->changed_ports);
}

/* The tables' flows that depend on no policy. */
static void
put_default_flows(struct lb_flow_table *ft)
{
    uint64_t cookie = policy_cookie(0);
    /* Neighbour discovery and MLD are never subject to policy: a pod must
     * resolve its peers' addresses whatever it may send them. */
    static const int nd_types[] = { 130, 131, 132, 133, 134, 135, 136, 137,
                                    143 };
    for (size_t i = 0; i < ARRAY_SIZE(nd_types); i++) {
        char *match = xasprintf("icmp6,icmp_type=%d", nd_types[i]);
        char *out = xasprintf("resubmit(,%d)", OFTABLE_L2_LOOKUP);
        lb_flow_table_add(ft, OFTABLE_POLICY_EGRESS_CT, PRIO_POLICY_EXEMPT,
                          cookie, match, out);
        free(out);
        out = xasprintf("resubmit(,%d)", OFTABLE_POLICY_INGRESS_OUT);
        lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS_CT, PRIO_POLICY_EXEMPT,
                          cookie, match, out);
        free(out);
        free(match);
    }

    static const struct {
        uint8_t rules, commit, next;
    } stages[] = {
        { OFTABLE_POLICY_EGRESS, OFTABLE_POLICY_EGRESS_COMMIT,
          OFTABLE_L2_LOOKUP },
        { OFTABLE_POLICY_INGRESS, OFTABLE_POLICY_INGRESS_COMMIT,
          OFTABLE_POLICY_INGRESS_OUT },
    };
    for (size_t i = 0; i < ARRAY_SIZE(stages); i++) {
        char *next = xasprintf("resubmit(,%d)", stages[i].next);
        /* Replies and related packets of admitted connections pass;
         * invalid ones drop; what is left is new, for the rules. */
        lb_flow_table_add(ft, stages[i].rules, PRIO_POLICY_INVALID, cookie,
                          "ct_state=+inv+trk", "drop");
        lb_flow_table_add(ft, stages[i].rules, PRIO_POLICY_ESTABLISHED,
                          cookie, "ct_state=-new+est+trk", next);
        lb_flow_table_add(ft, stages[i].rules, PRIO_POLICY_ESTABLISHED,
                          cookie, "ct_state=-new+rel+trk", next);
        lb_flow_table_add(ft, stages[i].rules, PRIO_TABLE_MISS, cookie, "",
                          "drop");
        for (int v6 = 0; v6 < 2; v6++) {
            char *commit = xasprintf("ct(commit,zone=NXM_NX_REG13[0..15]),"
                                     "resubmit(,%d)", stages[i].next);
            lb_flow_table_add(ft, stages[i].commit, PRIO_PORT, cookie,
                              v6 ? "ipv6" : "ip", commit);
            free(commit);
        }
        lb_flow_table_add(ft, stages[i].commit, PRIO_TABLE_MISS, cookie, "",
                          "drop");
        free(next);
    }
    lb_flow_table_add(ft, OFTABLE_POLICY_EGRESS_CT, PRIO_TABLE_MISS, cookie,
                      "", "drop");
    lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS_CT, PRIO_TABLE_MISS, cookie,
                      "", "drop");
    lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS_OUT, PRIO_TABLE_MISS,
                      cookie, "", "drop");
    lb_flow_table_add(ft, OFTABLE_POLICY_SYNC_TRACK, PRIO_TABLE_MISS,
                      cookie, "", "drop");
}

void
lb_policy_put_flows(const struct lb_policy_engine *e,
                    struct lb_flow_table *ft)
{
    put_default_flows(ft);
    const struct mflow *f;
    HMAP_FOR_EACH (f, node, &e->flows) {
        if (!shash_is_empty(&f->frags)) {
            mflow_put(f, ft);
        }
    }
}

void
lb_policy_port_isolation(const struct lb_policy_engine *e,
                         const char *port_name, bool *ingress, bool *egress)
{
    const struct port_iso *iso = (e ? shash_find_data(&e->isolation,
                                                      port_name)
                                  : NULL);
    *ingress = iso && iso->refs[LB_POLICY_INGRESS];
    *egress = iso && iso->refs[LB_POLICY_EGRESS];
}

bool
lb_policy_port_isolated(const struct lb_policy_engine *e,
                        const char *port_name)
{
    bool in, out;
    lb_policy_port_isolation(e, port_name, &in, &out);
    return in || out;
}

/* The actions that take a packet into the conntrack zone of the local
 * port with ofport 'ofport', on to table 'next' after conntrack. */
void
lb_policy_put_into_zone(struct ds *actions, unsigned int ofport,
                        uint8_t next)
{
    ds_put_format(actions, "set_field:%u->"LB_REG_ZONE","
                  "ct(table=%d,zone=NXM_NX_REG13[0..15])", ofport, next);
}

/* A port that some policy isolates, in either direction, has all its IP
 * traffic tracked in its own conntrack zone, the same zone both ways, so
 * that the replies to what it sent are "established" when they come in,
 * and what it answers is "established" when it goes out.  The zone is the
 * port's ofport: unique on the bridge, and known to every flow that names
 * the port.  reg13 carries it (and so the output port) past conntrack. */
void
lb_policy_local_port_flows(const struct lb_policy_engine *e,
                           const struct lb_port *port, unsigned int ofport,
                           struct lb_flow_table *ft)
{
    bool in, out;
    lb_policy_port_isolation(e, port->name, &in, &out);
    if (!in && !out) {
        return;
    }
    uint64_t cookie = lb_cookie(LB_COOKIE_PORT, port->key, false);
    struct ds match = DS_EMPTY_INITIALIZER;
    struct ds actions = DS_EMPTY_INITIALIZER;

    /* Into the zone, each way, each family. */
    static const struct {
        const char *reg;
        uint8_t table, next;
    } ways[] = {
        { LB_REG_INPORT, OFTABLE_POLICY_EGRESS_CT, OFTABLE_POLICY_EGRESS },
        { LB_REG_OUTPORT, OFTABLE_POLICY_INGRESS_CT, OFTABLE_POLICY_INGRESS },
    };
    for (size_t i = 0; i < 2 * ARRAY_SIZE(ways); i++) {
        ds_clear(&match);
        ds_clear(&actions);
        ds_put_format(&match, "%s,%s=%#"PRIx32, i & 1 ? "ipv6" : "ip",
                      ways[i / 2].reg, port->key);
        lb_policy_put_into_zone(&actions, ofport, ways[i / 2].next);
        lb_flow_table_add(ft, ways[i / 2].table, PRIO_PORT, cookie,
                          ds_cstr(&match), ds_cstr(&actions));
    }

    /* IPv6 leaves the ND responder for egress policy, not L2 lookup. */
    ds_clear(&match);
    ds_clear(&actions);
    ds_put_format(&match, "ipv6,"LB_REG_INPORT"=%#"PRIx32, port->key);
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_POLICY_EGRESS_CT);
    lb_flow_table_add(ft, OFTABLE_ND_RESPONDER, PRIO_POLICY_ND_OUT, cookie,
                      ds_cstr(&match), ds_cstr(&actions));

    /* Not IP (ARP): delivered. */
    ds_clear(&match);
    ds_clear(&actions);
    ds_put_format(&match, LB_REG_OUTPORT"=%#"PRIx32, port->key);
    ds_put_format(&actions, "resubmit(,%d)", OFTABLE_POLICY_INGRESS_OUT);
    lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS_CT, PRIO_POLICY_NOT_IP,
                      cookie, ds_cstr(&match), ds_cstr(&actions));

    ds_clear(&actions);
    ds_put_format(&actions, "output:%u", ofport);
    lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS_OUT, PRIO_PORT, cookie,
                      ds_cstr(&match), ds_cstr(&actions));

    /* Not isolated in one direction: whatever is new there is admitted
     * (and committed, so that its replies are established). */
    if (!in) {
        ds_clear(&actions);
        ds_put_format(&actions, "resubmit(,%d)",
                      OFTABLE_POLICY_INGRESS_COMMIT);
        lb_flow_table_add(ft, OFTABLE_POLICY_INGRESS, PRIO_POLICY_OPEN,
                          cookie, ds_cstr(&match), ds_cstr(&actions));
    }
    if (!out) {
        ds_clear(&match);
        ds_clear(&actions);
        ds_put_format(&match, LB_REG_INPORT"=%#"PRIx32, port->key);
        ds_put_format(&actions, "resubmit(,%d)",
                      OFTABLE_POLICY_EGRESS_COMMIT);
        lb_flow_table_add(ft, OFTABLE_POLICY_EGRESS, PRIO_POLICY_OPEN,
                          cookie, ds_cstr(&match), ds_cstr(&actions));
    }
    ds_destroy(&match);
    ds_destroy(&actions);
}

void
lb_policy_format_port(const struct lb_policy_engine *e,
                      const char *port_name, struct ds *s)
{
    const struct shash_node **sorted = shash_sort(&e->policies);
    size_t n = shash_count(&e->policies);
    for (size_t i = 0; i < n; i++) {
        const struct policy_state *ps = sorted[i]->data;
        bool in = sset_contains(&ps->selected[LB_POLICY_INGRESS], port_name);
        bool out = sset_contains(&ps->selected[LB_POLICY_EGRESS], port_name);
        if (in || out) {
            ds_put_format(s, "  %s %s%s%s\n", ps->key, in ? "ingress" : "",
                          in && out ? "," : "", out ? "egress" : "");
        }
    }
    free(sorted);
}

void
lb_policy_format_stats(const struct lb_policy_engine *e, struct ds *s)
{
    size_t n_contribs = 0;
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &e->policies) {
        const struct policy_state *ps = node->data;
        n_contribs += ps->contribs.n;
    }
    SHASH_FOR_EACH (node, &e->conjs) {
        const struct conj *c = node->data;
        n_contribs += c->contribs.n;
    }
    ds_put_format(s, "policies=%"PRIuSIZE" namespaces=%"PRIuSIZE
                  " endpoints=%"PRIuSIZE" isolated-ports=%"PRIuSIZE
                  " conjunctions=%"PRIuSIZE" rule-flows=%"PRIuSIZE
                  " contributions=%"PRIuSIZE" compiles=%"PRIu64"\n",
                  shash_count(&e->policies), shash_count(&e->namespaces),
                  shash_count(&e->endpoints), shash_count(&e->isolation),
                  shash_count(&e->conjs), hmap_count(&e->flows),
                  n_contribs, e->n_compiles);
}

size_t
lb_policy_count(const struct lb_policy_engine *e)
{
    return e ? shash_count(&e->policies) : 0;
}

/* How many times a policy was compiled, ever: what incremental changes
 * cost. */
uint64_t
lb_policy_compiles(const struct lb_policy_engine *e)
{
    return e->n_compiles;
}
