/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_OVS_BRIDGE_H
#define LIVEBIND_OVS_BRIDGE_H 1

/* The integration bridge as the OVS database describes it, through
 * libopenvswitch's IDL: ensures the bridge exists with livebind's settings,
 * keeps one Geneve port per remote chassis, and maps each Interface's
 * external_ids:iface-id (a logical port name) to its ofport. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "simap.h"
#include "smap.h"

struct ds;
struct lb_model;
struct smap;
struct sset;

struct ovs_bridge_config {
    const char *db_remote;       /* e.g. "unix:/run/openvswitch/db.sock". */
    const char *bridge;          /* e.g. "br-int". */
    const char *datapath_type;   /* "system" or "netdev". */
    const char *chassis;         /* This chassis's name. */

    /* Physical network name -> the OVS bridge that holds this node's
     * uplink to it (like OVN's ovn-bridge-mappings); NULL: none.  Each
     * gets a patch port pair to the integration bridge. */
    const struct smap *bridge_mappings;

    /* The distributed gateway's port (pipeline-gateway.c), an internal
     * port of this name with the iface-id LB_GATEWAY_IFACE_ID and the host
     * MAC; NULL: none. */
    const char *gateway_port;
};

char *ovs_bridge_parse_mappings(const char *, struct smap *)
    OVS_WARN_UNUSED_RESULT;

struct ovs_bridge *ovs_bridge_create(const struct ovs_bridge_config *);
void ovs_bridge_destroy(struct ovs_bridge *);

/* 'model' may be NULL while it is not known yet: tunnels are then left as
 * they are. */
void ovs_bridge_run(struct ovs_bridge *, const struct lb_model *);
void ovs_bridge_wait(struct ovs_bridge *);

/* Incremented whenever the maps below change. */
uint64_t ovs_bridge_seqno(const struct ovs_bridge *);
/* Replaces the contents of 'ifaces' by the iface-ids whose ofport or
 * interface name changed (came, went or differ) since the last call, and
 * forgets them.  Returns false if anything else in the maps changed too
 * (tunnels, patch ports, the gateway port), or on the first call: then the
 * ifaces alone do not say what changed. */
bool ovs_bridge_take_changed_ifaces(struct ovs_bridge *, struct sset *ifaces);
const struct simap *ovs_bridge_iface_ofports(const struct ovs_bridge *);
/* iface-id -> the interface's name, for the ports of
 * ovs_bridge_iface_ofports(). */
const struct smap *ovs_bridge_iface_names(const struct ovs_bridge *);
const struct simap *ovs_bridge_tunnel_ofports(const struct ovs_bridge *);
const struct simap *ovs_bridge_physnet_ofports(const struct ovs_bridge *);
bool ovs_bridge_is_connected(const struct ovs_bridge *);
bool ovs_bridge_is_ready(const struct ovs_bridge *);

/* Pod interfaces.  Adding queues the change; it is committed by the next
 * ovs_bridge_run() and visible in ovs_bridge_iface_ofports() once OVS has
 * assigned the ofport. */
void ovs_bridge_add_iface(struct ovs_bridge *, const char *ifname,
                          const struct smap *external_ids);
void ovs_bridge_del_iface(struct ovs_bridge *, const char *ifname);
bool ovs_bridge_has_iface(const struct ovs_bridge *, const char *ifname);
void ovs_bridge_list_pod_ifaces(const struct ovs_bridge *, struct smap *);

void ovs_bridge_tunnel_name(uint32_t tunnel_ip_be, char name[16]);
void ovs_bridge_format_status(const struct ovs_bridge *, struct ds *);

#endif /* lib/ovs-bridge.h */
