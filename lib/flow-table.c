/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "flow-table.h"

#include <string.h>
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

static uint32_t
flow_key_hash(uint8_t table_id, uint16_t priority, const char *match)
{
    return hash_string(match, hash_2words(table_id, priority));
}

static uint32_t
cookie_hash(uint64_t cookie)
{
    return hash_uint64(cookie);
}

void
lb_flow_table_init(struct lb_flow_table *ft)
{
    hmap_init(&ft->flows);
    hmap_init(&ft->by_cookie);
    ovs_list_init(&ft->tracked);
    ft->tracking = false;
    hmap_init(&ft->meters);
    ft->meters_seqno = 0;
}

static void
lb_meter_remove(struct lb_flow_table *ft, struct lb_meter *meter)
{
    hmap_remove(&ft->meters, &meter->node);
    free(meter->spec);
    free(meter);
    ft->meters_seqno++;
}

static void
lb_flow_free(struct lb_flow *flow)
{
    if (flow) {
        free(flow->match);
        free(flow->actions);
        free(flow);
    }
}

void
lb_flow_table_destroy(struct lb_flow_table *ft)
{
    if (ft) {
        ft->tracking = false;
        lb_flow_table_clear(ft);
        lb_flow_table_clear_tracked(ft);
        hmap_destroy(&ft->flows);
        hmap_destroy(&ft->by_cookie);
        hmap_destroy(&ft->meters);
    }
}

/* Takes 'flow' out of the lookup maps.  With tracking, it stays on the
 * tracked list, marked deleted, until lb_flow_table_clear_tracked(). */
static void
lb_flow_table_unlink(struct lb_flow_table *ft, struct lb_flow *flow)
{
    hmap_remove(&ft->flows, &flow->node);
    hmap_remove(&ft->by_cookie, &flow->cookie_node);
    if (ft->tracking) {
        flow->deleted = true;
        if (!flow->tracked) {
            flow->tracked = true;
            ovs_list_push_back(&ft->tracked, &flow->track_node);
        }
    } else {
        if (flow->tracked) {
            ovs_list_remove(&flow->track_node);
        }
        lb_flow_free(flow);
    }
}

void
lb_flow_table_clear(struct lb_flow_table *ft)
{
    struct lb_flow *flow;
    HMAP_FOR_EACH_SAFE (flow, node, &ft->flows) {
        lb_flow_table_unlink(ft, flow);
    }
    struct lb_meter *meter;
    HMAP_FOR_EACH_SAFE (meter, node, &ft->meters) {
        lb_meter_remove(ft, meter);
    }
}

void
lb_flow_table_set_tracking(struct lb_flow_table *ft, bool tracking)
{
    ft->tracking = tracking;
}

/* Forgets tracked changes: frees flows that were removed and unmarks the
 * others. */
void
lb_flow_table_clear_tracked(struct lb_flow_table *ft)
{
    struct lb_flow *flow;
    LIST_FOR_EACH_POP (flow, track_node, &ft->tracked) {
        flow->tracked = false;
        if (flow->deleted) {
            lb_flow_free(flow);
        }
    }
}

struct lb_flow *
lb_flow_table_find(const struct lb_flow_table *ft, uint8_t table_id,
                   uint16_t priority, const char *match)
{
    struct lb_flow *flow;
    HMAP_FOR_EACH_WITH_HASH (flow, node,
                             flow_key_hash(table_id, priority, match),
                             &ft->flows) {
        if (flow->table_id == table_id && flow->priority == priority
            && !strcmp(flow->match, match)) {
            return flow;
        }
    }
    return NULL;
}

/* Adds a flow to 'ft'.  A flow with the same table, priority and match is
 * replaced: the switch would keep only one of them, so must we. */
void
lb_flow_table_add(struct lb_flow_table *ft, uint8_t table_id,
                  uint16_t priority, uint64_t cookie, const char *match,
                  const char *actions)
{
    struct lb_flow *old = lb_flow_table_find(ft, table_id, priority, match);
    if (old) {
        if (old->cookie == cookie && !strcmp(old->actions, actions)) {
            return;
        }
        lb_flow_table_unlink(ft, old);
    }

    struct lb_flow *flow = xzalloc(sizeof *flow);
    flow->table_id = table_id;
    flow->priority = priority;
    flow->cookie = cookie;
    flow->match = xstrdup(match);
    flow->actions = xstrdup(actions);
    hmap_insert(&ft->flows, &flow->node,
                flow_key_hash(table_id, priority, match));
    hmap_insert(&ft->by_cookie, &flow->cookie_node, cookie_hash(cookie));
    if (ft->tracking) {
        flow->tracked = true;
        ovs_list_push_back(&ft->tracked, &flow->track_node);
    }
}

/* Removes 'flow', which lb_flow_table_find() returned. */
void
lb_flow_table_remove(struct lb_flow_table *ft, struct lb_flow *flow)
{
    lb_flow_table_unlink(ft, flow);
}

static bool
has_cookie(uint64_t cookie, const uint64_t *cookies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cookies[i] == cookie) {
            return true;
        }
    }
    return false;
}

/* The end of lb_flow_table_replace() and lb_flow_table_replace_cookies()
 * (all meters when 'cookies' is NULL): every flow of 'src' into 'dst',
 * then the meters likewise, 'meters_seqno' moving only on a real
 * difference; 'src' is left empty. */
static void
replace_rest(struct lb_flow_table *dst, struct lb_flow_table *src,
             const uint64_t *cookies, size_t n)
{
    struct lb_flow *flow;
    HMAP_FOR_EACH (flow, node, &src->flows) {
        lb_flow_table_add(dst, flow->table_id, flow->priority, flow->cookie,
                          flow->match, flow->actions);
    }

    struct lb_meter *meter;
    HMAP_FOR_EACH_SAFE (meter, node, &dst->meters) {
        if (cookies && !has_cookie(meter->cookie, cookies, n)) {
            continue;
        }
        const struct lb_meter *same = lb_flow_table_find_meter(src,
                                                               meter->id);
        if (!same || same->cookie != meter->cookie
            || strcmp(same->spec, meter->spec)) {
            lb_meter_remove(dst, meter);
        }
    }
    HMAP_FOR_EACH (meter, node, &src->meters) {
        lb_flow_table_add_meter(dst, meter->id, meter->cookie, meter->spec);
    }
    lb_flow_table_clear(src);
    lb_flow_table_clear_tracked(src);
}

/* Like lb_flow_table_replace(), but only for the flows and meters of 'dst'
 * whose cookie is one of the 'n' in 'cookies': those 'src' lacks, or holds
 * otherwise, go; then every flow and meter of 'src' is added.  'src' is
 * left empty.  Removing the cookies' flows and adding them again would
 * track every one of them as changed, and the OpenFlow engine would parse
 * each to find that most did not; this tracks only the real changes. */
void
lb_flow_table_replace_cookies(struct lb_flow_table *dst,
                              struct lb_flow_table *src,
                              const uint64_t *cookies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (has_cookie(cookies[i], cookies, i)) {
            continue;           /* Done already. */
        }
        /* Unlinking invalidates the bucket walk: collect first. */
        struct lb_flow **stale = NULL;
        size_t n_stale = 0, allocated = 0;
        struct lb_flow *flow;
        HMAP_FOR_EACH_WITH_HASH (flow, cookie_node, cookie_hash(cookies[i]),
                                 &dst->by_cookie) {
            if (flow->cookie != cookies[i]) {
                continue;
            }
            const struct lb_flow *same = lb_flow_table_find(
                src, flow->table_id, flow->priority, flow->match);
            if (!same || same->cookie != flow->cookie
                || strcmp(same->actions, flow->actions)) {
                if (n_stale >= allocated) {
                    stale = x2nrealloc(stale, &allocated, sizeof *stale);
                }
                stale[n_stale++] = flow;
            }
        }
        for (size_t j = 0; j < n_stale; j++) {
            lb_flow_table_unlink(dst, stale[j]);
        }
        free(stale);
    }
    replace_rest(dst, src, cookies, n);
}

size_t
lb_flow_table_count(const struct lb_flow_table *ft)
{
    return hmap_count(&ft->flows);
}

const struct lb_meter *
lb_flow_table_find_meter(const struct lb_flow_table *ft, uint32_t id)
{
    const struct lb_meter *meter;
    HMAP_FOR_EACH_WITH_HASH (meter, node, hash_int(id, 0), &ft->meters) {
        if (meter->id == id) {
            return meter;
        }
    }
    return NULL;
}

/* Adds meter 'id', or replaces the one with that id (the switch keys meters
 * by id alone). */
void
lb_flow_table_add_meter(struct lb_flow_table *ft, uint32_t id,
                        uint64_t cookie, const char *spec)
{
    struct lb_meter *old = CONST_CAST(struct lb_meter *,
                                      lb_flow_table_find_meter(ft, id));
    if (old) {
        if (old->cookie == cookie && !strcmp(old->spec, spec)) {
            return;
        }
        lb_meter_remove(ft, old);
    }
    struct lb_meter *meter = xmalloc(sizeof *meter);
    meter->id = id;
    meter->cookie = cookie;
    meter->spec = xstrdup(spec);
    hmap_insert(&ft->meters, &meter->node, hash_int(id, 0));
    ft->meters_seqno++;
}

size_t
lb_flow_table_count_meters(const struct lb_flow_table *ft)
{
    return hmap_count(&ft->meters);
}

static int
compare_meters(const void *a_, const void *b_)
{
    const struct lb_meter *const *a = a_;
    const struct lb_meter *const *b = b_;
    return (*a)->id < (*b)->id ? -1 : (*a)->id > (*b)->id;
}

/* Formats the meters of 'ft', by id, one a line: "meter=ID,SPEC". */
void
lb_flow_table_format_meters(const struct lb_flow_table *ft, struct ds *s)
{
    size_t n = hmap_count(&ft->meters);
    const struct lb_meter **meters = xmalloc((n ? n : 1) * sizeof *meters);
    size_t i = 0;
    const struct lb_meter *meter;
    HMAP_FOR_EACH (meter, node, &ft->meters) {
        meters[i++] = meter;
    }
    qsort(meters, n, sizeof *meters, compare_meters);
    for (i = 0; i < n; i++) {
        ds_put_format(s, "meter=%"PRIu32",%s\n", meters[i]->id,
                      meters[i]->spec);
    }
    free(meters);
}

/* Formats 'flow' the way "ovs-ofctl dump-flows --no-stats" prints it. */
void
lb_flow_format(const struct lb_flow *flow, struct ds *s)
{
    ds_put_format(s, "cookie=%#"PRIx64", table=%"PRIu8", priority=%"PRIu16,
                  flow->cookie, flow->table_id, flow->priority);
    if (flow->match[0]) {
        ds_put_format(s, ",%s", flow->match);
    }
    ds_put_format(s, " actions=%s", flow->actions);
}

static int
compare_flows(const void *a_, const void *b_)
{
    const struct lb_flow *const *ap = a_;
    const struct lb_flow *const *bp = b_;
    const struct lb_flow *a = *ap;
    const struct lb_flow *b = *bp;
    if (a->table_id != b->table_id) {
        return a->table_id < b->table_id ? -1 : 1;
    }
    if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

/* Formats all of 'ft', sorted by table, then descending priority, then
 * match, one flow a line. */
void
lb_flow_table_format(const struct lb_flow_table *ft, struct ds *s)
{
    size_t n = hmap_count(&ft->flows);
    const struct lb_flow **flows = xmalloc((n ? n : 1) * sizeof *flows);
    size_t i = 0;
    const struct lb_flow *flow;
    HMAP_FOR_EACH (flow, node, &ft->flows) {
        flows[i++] = flow;
    }
    qsort(flows, n, sizeof *flows, compare_flows);
    for (i = 0; i < n; i++) {
        lb_flow_format(flows[i], s);
        ds_put_char(s, '\n');
    }
    free(flows);
}

/* Makes 'dst' hold exactly the flows and meters of 'src', which is left
 * empty.  With tracking on in 'dst', only real differences are tracked, so
 * that a full recompute followed by this costs the switch only what
 * changed. */
/* Adds a flow from 'match' and 'actions' and clears both, so that a flow
 * builder reuses the same buffers for its next flow. */
void
lb_flow_table_add_ds(struct lb_flow_table *ft, uint8_t table_id,
                     uint16_t priority, uint64_t cookie, struct ds *match,
                     struct ds *actions)
{
    lb_flow_table_add(ft, table_id, priority, cookie, ds_cstr(match),
                      ds_cstr(actions));
    ds_clear(match);
    ds_clear(actions);
}

void
lb_flow_table_replace(struct lb_flow_table *dst, struct lb_flow_table *src)
{
    struct lb_flow *flow;
    HMAP_FOR_EACH_SAFE (flow, node, &dst->flows) {
        struct lb_flow *same = lb_flow_table_find(src, flow->table_id,
                                                  flow->priority,
                                                  flow->match);
        if (!same || same->cookie != flow->cookie
            || strcmp(same->actions, flow->actions)) {
            lb_flow_table_unlink(dst, flow);
        }
    }
    replace_rest(dst, src, NULL, 0);
}
