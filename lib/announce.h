/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_ANNOUNCE_H
#define LIVEBIND_ANNOUNCE_H 1

/* A VM's self-announcements after a live migration, as Ethernet frames
 * (pure: no I/O).
 *
 * The target copy of a migrating port is blocked until the VM announces
 * itself from there; the switch hands such frames to the agent, which
 * unblocks the port.  Since that moves the VM's traffic, the agent checks
 * each frame again here, more strictly than an OpenFlow match can:
 *
 *   - RARP: QEMU's announcement (opcode 3, "reverse request"), sender
 *     hardware address the port's MAC.
 *   - GARP: a gratuitous ARP for one of the port's IPv4 addresses, as a
 *     request or as a reply (RFC 5227 calls the request form an ARP
 *     announcement; guests send both): sender and target protocol address
 *     that address, sender hardware address the port's MAC.
 *   - NA: an unsolicited IPv6 neighbour advertisement (RFC 4861 7.2.6) for
 *     one of the port's IPv6 addresses: ICMPv6 type 136 code 0, hop limit
 *     255, Solicited flag clear, Override flag set, a target link-layer
 *     address option (if any) the port's MAC.  The port's addresses always
 *     include the link-local one derived from its MAC (EUI-64), as a guest
 *     forms it unless told to use stable-privacy addresses.
 *
 * Every frame must come from the port's MAC (Ethernet source) and carry
 * no VLAN tag: a pod's port is an access port. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/types.h"
#include "packets.h"

enum lb_announce_kind {
    LB_ANNOUNCE_NONE,           /* Not an announcement of the port. */
    LB_ANNOUNCE_RARP,
    LB_ANNOUNCE_GARP,
    LB_ANNOUNCE_NA,
};

/* A port's identity, as far as its announcements show it. */
struct lb_announce_port {
    struct eth_addr mac;
    const ovs_be32 *ipv4;
    size_t n_ipv4;
    const struct in6_addr *ipv6;    /* Besides the MAC's link-local one. */
    size_t n_ipv6;
};

enum lb_announce_kind lb_announce_classify(const void *data, size_t len,
                                           const struct lb_announce_port *);
const char *lb_announce_kind_to_string(enum lb_announce_kind);

/* Frames the agent sends on the VM's behalf once the port is unblocked, of
 * the minimum Ethernet length, as QEMU's. */
#define LB_ANNOUNCE_FRAME_LEN 60
void lb_announce_compose_rarp(struct eth_addr mac,
                              uint8_t frame[LB_ANNOUNCE_FRAME_LEN]);
void lb_announce_compose_garp(struct eth_addr mac, ovs_be32 ip,
                              uint8_t frame[LB_ANNOUNCE_FRAME_LEN]);

/* ...and, for each of its IPv6 addresses, an unsolicited NA to all nodes:
 * Override set, Solicited clear, target link-layer address 'mac'. */
#define LB_ANNOUNCE_NA_FRAME_LEN 86
void lb_announce_compose_na(struct eth_addr mac, const struct in6_addr *,
                            uint8_t frame[LB_ANNOUNCE_NA_FRAME_LEN]);

/* A router advertisement from a switch's IPv6 gateway (MAC 'gw_mac', from
 * its link-local address) to 'dst_mac' and all nodes, announcing 'prefix'
 * (a /64) for SLAAC, on-link, with infinite lifetimes, the link's 'mtu',
 * and the gateway as default router for 'router_lifetime' seconds (0: not
 * a default router).  The agent sends it in answer to router solicitations
 * and every LB_RA_INTERVAL_S seconds. */
#define LB_RA_FRAME_LEN 118
#define LB_RA_INTERVAL_S 600        /* RFC 4861's MaxRtrAdvInterval. */
#define LB_RA_ROUTER_LIFETIME_S 1800    /* 3 intervals: AdvDefaultLifetime. */
void lb_announce_compose_ra(struct eth_addr gw_mac, struct eth_addr dst_mac,
                            const struct in6_addr *prefix, int mtu,
                            uint16_t router_lifetime,
                            uint8_t frame[LB_RA_FRAME_LEN]);

#endif /* lib/announce.h */
