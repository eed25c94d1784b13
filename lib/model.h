/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_MODEL_H
#define LIVEBIND_MODEL_H 1

/* The logical network the pipeline is computed from: logical switches,
 * logical ports and chassis.  The model holds no I/O state; it is derived
 * from cluster objects (or read from a file) and handed to pipeline.c. */

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"
#include "packets.h"
#include "simap.h"

struct ds;

/* A node that can bind ports, reached through a Geneve tunnel. */
struct lb_chassis {
    struct hmap_node node;      /* In lb_model's 'chassis', by name. */
    char *name;
    ovs_be32 tunnel_ip;
};

/* A logical switch: one L2 domain, with an IPv4 subnet, an IPv6 /64
 * prefix, or both. */
struct lb_switch {
    struct hmap_node node;      /* In lb_model's 'switches', by name. */
    char *name;
    uint32_t tunnel_key;        /* Geneve VNI and OpenFlow metadata. */
    ovs_be32 subnet;            /* Network address. */
    int prefix_len;             /* 0 if the switch has no IPv4 subnet. */
    ovs_be32 gateway;           /* 0 if none. */
    bool has_prefix6;           /* Whether it has an IPv6 prefix: */
    struct in6_addr prefix6;    /* a /64 (lib/ipam.h), */
    struct in6_addr gateway6;   /* and its gateway, all-zero if none. */
    int mtu;

    /* A provider network (see pipeline-provider.c): the switch is a VLAN of
     * a physical network that each node reaches through the OVS bridge its
     * bridge mappings name for 'physnet'.  NULL for an overlay switch. */
    char *physnet;
    uint16_t vlan;              /* 1..4094; 0: untagged. */

    /* Chassis name -> number of this switch's ports bound there (main or
     * additional), kept by the model so that flooding knows which chassis
     * host the switch without walking every port. */
    struct simap chassis_refs;
};

#define LB_SWITCH_KEY_MAX ((1u << 24) - 1)
#define LB_PORT_KEY_MAX ((1u << 31) - 1)
#define LB_MAX_IPS 8

/* A logical port, bound to one chassis normally and to two during a live
 * migration: 'chassis' (main, the source) and 'additional_chassis' (the
 * target).  Until the VM runs on the target, the target copy is
 * 'additional_blocked': nothing is delivered to it or forwarded from it,
 * except its announcements (RARP/GARP/NA), which go to the agent.  With
 * 'mirror', every chassis sends the port's traffic to both copies. */
struct lb_port {
    struct hmap_node node;      /* In lb_model's 'ports', by name. */
    struct lb_switch *sw;       /* The switch named 'switch_name', if any. */
    char *name;
    uint32_t key;               /* 1..LB_PORT_KEY_MAX, cluster-wide unique. */
    struct eth_addr mac;
    ovs_be32 ipv4[LB_MAX_IPS];
    size_t n_ipv4;
    struct in6_addr ipv6[LB_MAX_IPS];   /* Global/ULA; the link-local one
                                         * is always the MAC's EUI-64. */
    size_t n_ipv6;
    char *switch_name;
    char *chassis;              /* Main chassis, NULL if unbound. */
    char *additional_chassis;   /* Migration target, or NULL. */
    bool additional_blocked;    /* Target copy not yet activated. */
    bool mirror;                /* Send to both copies while migrating. */
};

struct lb_model {
    struct hmap chassis;        /* Contains "struct lb_chassis". */
    struct hmap switches;       /* Contains "struct lb_switch". */
    struct hmap ports;          /* Contains "struct lb_port". */
};

void lb_model_init(struct lb_model *);
void lb_model_destroy(struct lb_model *);
void lb_model_clear(struct lb_model *);
void lb_model_swap(struct lb_model *, struct lb_model *);

struct lb_chassis *lb_model_add_chassis(struct lb_model *, const char *name,
                                        ovs_be32 tunnel_ip);
struct lb_switch *lb_model_add_switch(struct lb_model *, const char *name,
                                      uint32_t tunnel_key);
struct lb_port *lb_model_add_port(struct lb_model *, const char *name,
                                  uint32_t key, const char *switch_name);
void lb_model_remove_chassis(struct lb_model *, struct lb_chassis *);
void lb_model_remove_switch(struct lb_model *, struct lb_switch *);
void lb_model_remove_port(struct lb_model *, struct lb_port *);

struct lb_chassis *lb_model_find_chassis(const struct lb_model *,
                                         const char *name);
struct lb_switch *lb_model_find_switch(const struct lb_model *,
                                       const char *name);
struct lb_port *lb_model_find_port(const struct lb_model *, const char *name);
struct lb_port *lb_model_find_port_by_key(const struct lb_model *,
                                          uint32_t key);

void lb_switch_set_provider(struct lb_switch *, const char *physnet,
                            uint16_t vlan);

void lb_port_set_chassis(struct lb_port *, const char *main,
                         const char *additional);
bool lb_port_bound_to(const struct lb_port *, const char *chassis);
bool lb_port_is_migrating(const struct lb_port *);
bool lb_port_equal(const struct lb_port *, const struct lb_port *);
bool lb_switch_equal(const struct lb_switch *, const struct lb_switch *);
void lb_port_format_ips(const struct lb_port *, struct ds *);

char *lb_model_from_json_string(const char *, struct lb_model *)
    OVS_WARN_UNUSED_RESULT;
char *lb_model_from_json_file(const char *file_name, struct lb_model *)
    OVS_WARN_UNUSED_RESULT;
void lb_model_format(const struct lb_model *, struct ds *);

#endif /* lib/model.h */
