/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_POLICY_ADMIT_H
#define LIVEBIND_POLICY_ADMIT_H 1

/* Conntrack handover of the connections still idle when a migration
 * completes: the admission, not the entry (docs/policy.md).  Pure: no I/O.
 *
 * At the cutover, the source reads the VM's conntrack zone (ct-dump.h),
 * and sends the target one small packet per connection through the tunnel,
 * with LB_TUN_CT_ADMIT in the VNI: the connection's addresses and ports,
 * seen from the peer (the VM's address the destination), and in the IP TTL
 * the bucket of the entry's remaining timeout.  The target's switch turns
 * each into two exact-match flows by learn(), in tables 17 (egress) and 46
 * (ingress), which mark the connection's packets on their way into the
 * VM's zone; a new connection so marked is committed and delivered
 * (tables 12 and 42, PRIO_POLICY_ADMIT) instead of being judged by the
 * rules, so its entry is made from its own first real packet. */

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/types.h"

struct lb_ct_entry;
struct lb_flow_table;
struct lb_policy_engine;
struct lb_port;
struct ofpbuf;
struct simap;
struct ds;

/* A connection of a port, seen from its peer. */
struct lb_admit_tuple {
    bool v6;
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    struct in6_addr peer, vm;   /* IPv4 mapped. */
    uint16_t peer_port, vm_port;
    uint32_t timeout;           /* Seconds left on the source. */
};

/* The tuple of 'entry' if it is a live connection of 'port' (one end one
 * of its addresses, of the same family): true and '*t' filled in. */
bool lb_admit_tuple_from_entry(const struct lb_port *port,
                               const struct lb_ct_entry *entry,
                               struct lb_admit_tuple *t);

/* Whether the connection of 'later', dumped 'elapsed_ms' after 'earlier'
 * (the same connection), may have seen no packet in between: its
 * remaining timeout went down with the time, not up to its full length
 * again (conntrack has no counters to tell).  True when it cannot tell
 * (less than 2 s apart, or a refresh within 2 s of 'earlier'). */
bool lb_admit_entry_idle(const struct lb_ct_entry *earlier,
                         const struct lb_ct_entry *later,
                         long long int elapsed_ms);

/* Timeout buckets: bucket k lives 2**k seconds (65535, OpenFlow's
 * longest, for the last). */
#define LB_ADMIT_BUCKET_MIN 5
#define LB_ADMIT_BUCKET_MAX 16
unsigned int lb_admit_bucket(uint32_t timeout);
unsigned int lb_admit_bucket_seconds(unsigned int bucket);

/* The packet that carries 't' to the target: an Ethernet frame to the
 * VM's MAC 'mac', IPv4 or IPv6 from the peer to the VM, TTL (hop limit)
 * the timeout's bucket, TCP (no flags) or UDP with the ports. */
void lb_admit_packet(const struct lb_admit_tuple *t, struct eth_addr mac,
                     struct ofpbuf *packet);

/* The packet-out's actions: into the tunnel 'tun' to the target. */
void lb_admit_packet_out_actions(uint32_t switch_key, unsigned int tun,
                                 struct ds *actions);

/* The cookie of the flows learned for the port with key 'key'. */
uint64_t lb_admit_cookie(uint32_t key);

/* Per-port flows of a policed port bound here (through 'ofport'): its
 * packets look their tuple up in tables 17 and 46 on their way into its
 * zone and, on a migration's target, the learning flows of the tuples
 * from the port's main chassis. */
void lb_policy_admit_port_flows(const struct lb_policy_engine *,
                                const struct lb_port *, uint32_t switch_key,
                                unsigned int ofport, const char *chassis,
                                const struct simap *tunnel_ofports,
                                struct lb_flow_table *);
/* Tables 12 and 42: a new connection whose tuple was admitted. */
void lb_policy_admit_default_flows(struct lb_flow_table *);

#endif /* lib/policy-admit.h */
