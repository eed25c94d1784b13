/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_OFCTRL_H
#define LIVEBIND_OFCTRL_H 1

/* The OpenFlow engine: one persistent connection to the integration
 * bridge, desired flows in, the difference to the installed flows out.
 *
 * After each (re)connection the engine reads the bridge's flows and, at the
 * next ofctrl_put(), makes them equal to the desired flows in one atomic,
 * ordered bundle: the bridge is never left empty, and a restarted agent
 * whose desired flows equal the installed ones sends no flow-mod at all.
 * Afterwards each ofctrl_put() sends only the tracked changes of the desired
 * table, again as one bundle followed by a barrier.  When the barrier's reply
 * arrives, the engine reports the bridge "installed up to" the sequence
 * number given to that ofctrl_put(), so callers can wait for their change to
 * be in the switch (as OVN's ofctrl does). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"

struct ds;
struct lb_flow_table;
struct ofctrl;
struct ofputil_packet_in;

/* Called for each packet-in the bridge sends.  Returns true if the packet
 * changed the desired flows and the caller wants them sent at once:
 * ofctrl_run() then says so. */
typedef bool ofctrl_packet_in_cb(void *aux,
                                 const struct ofputil_packet_in *);

struct ofctrl *ofctrl_create(const char *target,
                             ofctrl_packet_in_cb *, void *aux);
void ofctrl_destroy(struct ofctrl *);

bool ofctrl_run(struct ofctrl *);
void ofctrl_wait(struct ofctrl *);

void ofctrl_put(struct ofctrl *, struct lb_flow_table *desired,
                uint64_t seqno);
uint64_t ofctrl_get_installed_seqno(const struct ofctrl *);
bool ofctrl_is_connected(const struct ofctrl *);
bool ofctrl_ct_flush_zone(struct ofctrl *, uint16_t zone);
bool ofctrl_delete_learned(struct ofctrl *, uint64_t cookie);

typedef void ofctrl_aggregate_cb(void *aux, uint64_t cookie,
                                 uint64_t n_packets, uint64_t n_flows);
void ofctrl_set_aggregate_cb(struct ofctrl *, ofctrl_aggregate_cb *,
                             void *aux);
bool ofctrl_request_aggregate(struct ofctrl *, uint8_t table_id,
                              uint64_t cookie);
bool ofctrl_is_synced(const struct ofctrl *);

/* Sends 'packet' through the bridge as if it arrived on 'in_port', with
 * 'actions' in ovs-ofctl syntax (e.g. "resubmit(,0)").  Returns 0 or a
 * positive errno (ENOTCONN when not connected, EINVAL for bad actions). */
int ofctrl_packet_out(struct ofctrl *, const void *packet, size_t size,
                      ofp_port_t in_port, const char *actions);

struct ofctrl_stats {
    uint64_t n_connects;        /* Connections made. */
    uint64_t n_bundles;         /* Bundles committed. */
    uint64_t n_flow_mods;       /* Flow-mods sent, in all bundles. */
    uint64_t n_errors;          /* Error replies from the switch. */
    uint64_t n_packet_ins;
    uint64_t n_meter_mods;      /* Meter-mods sent (never in bundles). */
    size_t n_installed;         /* Flows the engine believes installed. */
    size_t n_meters;            /* Meters the engine believes installed. */
};
void ofctrl_get_stats(const struct ofctrl *, struct ofctrl_stats *);
void ofctrl_format_status(const struct ofctrl *, struct ds *);

#endif /* lib/ofctrl.h */
