/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_FLOW_TABLE_H
#define LIVEBIND_FLOW_TABLE_H 1

/* A set of desired OpenFlow flows in ovs-ofctl text form, keyed by (table,
 * priority, match) as the switch keys them.  Pure data: pipeline.c fills it,
 * ofctrl.c installs it.
 *
 * Changes can be tracked: with tracking on, every flow added, removed or
 * modified is remembered until lb_flow_table_clear_tracked(), so that the
 * OpenFlow engine sends only what changed (as OVN's ofctrl does).
 *
 * The table also holds the desired OpenFlow meters, which flows' actions
 * name (e.g. "controller(...,meter_id=N)").  They are few (one a port in
 * the middle of a migration to this chassis), so instead of tracking each
 * change the table counts changes in 'meters_seqno' and the engine compares
 * all of them when it moves. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"

struct ds;

struct ds;

struct lb_flow {
    struct hmap_node node;        /* In lb_flow_table's 'flows'. */
    struct hmap_node cookie_node; /* In lb_flow_table's 'by_cookie'. */
    struct ovs_list track_node;   /* In 'tracked' if tracked. */
    uint8_t table_id;
    uint16_t priority;
    uint64_t cookie;
    char *match;                  /* "" matches everything. */
    char *actions;
    bool deleted;                 /* Tracked removal; freed on clear. */
    bool tracked;
};

/* A desired meter: "meter=<id>,<spec>" in ovs-ofctl add-meter syntax. */
struct lb_meter {
    struct hmap_node node;        /* In lb_flow_table's 'meters', by id. */
    uint32_t id;
    uint64_t cookie;              /* Of the flows that use it, to remove it
                                   * with them. */
    char *spec;                   /* E.g. "pktps burst stats bands=..." */
};

struct lb_flow_table {
    struct hmap flows;            /* By table, priority and match. */
    struct hmap by_cookie;        /* By cookie. */
    struct ovs_list tracked;      /* Changed flows, when tracking. */
    bool tracking;
    struct hmap meters;           /* Contains "struct lb_meter". */
    uint64_t meters_seqno;        /* Incremented on each meter change. */
};

void lb_flow_table_init(struct lb_flow_table *);
void lb_flow_table_destroy(struct lb_flow_table *);
void lb_flow_table_clear(struct lb_flow_table *);
void lb_flow_table_set_tracking(struct lb_flow_table *, bool);
void lb_flow_table_clear_tracked(struct lb_flow_table *);

void lb_flow_table_add(struct lb_flow_table *, uint8_t table_id,
                       uint16_t priority, uint64_t cookie, const char *match,
                       const char *actions);
void lb_flow_table_add_ds(struct lb_flow_table *, uint8_t table_id,
                          uint16_t priority, uint64_t cookie,
                          struct ds *match, struct ds *actions);
void lb_flow_table_replace(struct lb_flow_table *dst,
                           struct lb_flow_table *src);
void lb_flow_table_remove(struct lb_flow_table *, struct lb_flow *);
void lb_flow_table_replace_cookies(struct lb_flow_table *dst,
                                   struct lb_flow_table *src,
                                   const uint64_t *cookies, size_t n);
struct lb_flow *lb_flow_table_find(const struct lb_flow_table *,
                                   uint8_t table_id, uint16_t priority,
                                   const char *match);
size_t lb_flow_table_count(const struct lb_flow_table *);

void lb_flow_table_add_meter(struct lb_flow_table *, uint32_t id,
                             uint64_t cookie, const char *spec);
const struct lb_meter *lb_flow_table_find_meter(const struct lb_flow_table *,
                                                uint32_t id);
size_t lb_flow_table_count_meters(const struct lb_flow_table *);
void lb_flow_table_format_meters(const struct lb_flow_table *, struct ds *);

void lb_flow_format(const struct lb_flow *, struct ds *);
void lb_flow_table_format(const struct lb_flow_table *, struct ds *);

#define LB_FLOW_TABLE_FOR_EACH(FLOW, TABLE) \
    HMAP_FOR_EACH (FLOW, node, &(TABLE)->flows)
#define LB_FLOW_TABLE_FOR_EACH_METER(METER, TABLE) \
    HMAP_FOR_EACH (METER, node, &(TABLE)->meters)
#define LB_FLOW_TABLE_FOR_EACH_TRACKED(FLOW, TABLE) \
    LIST_FOR_EACH (FLOW, track_node, &(TABLE)->tracked)

#endif /* lib/flow-table.h */
