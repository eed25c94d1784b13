/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_SVC_CT_HANDOVER_H
#define LIVEBIND_SVC_CT_HANDOVER_H 1

/* The Service handover: a migrating VM's connections through a Service's
 * DNAT keep their backend.  Pure: no I/O (lib/agent-svc-ct.c does it).
 *
 * The source node's kube-proxy DNATed each of the VM's connections to a
 * ClusterIP to one backend, in the source host's conntrack.  After the
 * migration the VM's packets cross the target's host, whose kube-proxy
 * would pick a backend again (at random: iptables and nftables modes) and
 * break the connection.  So, while the migration lasts, the source agent
 * reads its host's conntrack entries of the VM's connections through a
 * DNAT (ctnetlink) and sends each to the target through the tunnel, with
 * LB_TUN_SVC_CT in the VNI, as one small packet (below); the target's
 * switch hands it to its agent (a packet-in, only from the tunnel of the
 * port's main chassis and from the VM's own addresses), which checks it
 * again and creates the same entry, with the same DNAT, in its host's
 * conntrack.  When the VM's traffic reaches the target's host, kube-proxy
 * sees an established connection and its rules are not consulted: the
 * packets go to the same backend.
 *
 * The entry's remaining timeout and TCP state go with it; sequence
 * numbers do not (TCP window tracking is made liberal on the copy, both
 * directions, as kube-proxy's --conntrack-tcp-be-liberal does for all). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/types.h"

struct ds;
struct lb_flow_table;
struct lb_port;
struct ofpbuf;

/* One connection through a Service's DNAT, from the VM's side: the VM
 * sent vm:vm_port -> service:service_port, and the host rewrote the
 * destination to backend:backend_port. */
struct lb_svc_ct {
    bool v6;
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    uint8_t tcp_state;          /* TCP: its conntrack state (1..6). */
    struct in6_addr vm, service, backend;   /* IPv4 mapped. */
    uint16_t vm_port, service_port, backend_port;   /* Host order. */
    uint32_t timeout;           /* Seconds left. */
};

/* ---- ctnetlink. */

/* A dump request for the host's conntrack table (both families), asking
 * the kernel for DNATed entries only (CTA_STATUS and CTA_STATUS_MASK: a
 * kernel that does not filter dumps by status ignores them, and the
 * parser filters alone).  Sequence number 'seq'. */
void lb_svc_ct_put_dump_request(uint32_t seq, struct ofpbuf *);

enum lb_svc_ct_parse_result {
    LB_SVC_CT_OK,               /* '*ct' filled in. */
    LB_SVC_CT_SKIP,             /* An entry, but not one to hand over. */
    LB_SVC_CT_ERROR,            /* Not a conntrack entry at all. */
};

/* One netlink message of a dump ('msg', 'len' bytes: its nlmsghdr and
 * what follows).  LB_SVC_CT_OK for a TCP or UDP entry of zone 0 whose
 * destination, and only its destination, was NATed, and for TCP in a
 * state that still carries data (SYN_SENT up to LAST_ACK). */
enum lb_svc_ct_parse_result lb_svc_ct_parse_nl(const void *msg, size_t len,
                                               struct lb_svc_ct *ct);

/* A request that creates 'ct' in the host's conntrack: the original tuple
 * with the DNAT to its backend, ESTABLISHED (seen a reply, assured), with
 * its timeout, and for TCP liberal windows.  Acknowledged; fails with
 * EEXIST if the host knows the connection already. */
void lb_svc_ct_put_create(const struct lb_svc_ct *, uint32_t seq,
                          struct ofpbuf *);

/* ---- The channel: source to target. */

/* The packet that carries 'ct' to the target: an Ethernet frame to and
 * from 'mac' (the VM's), IPv4 or IPv6 from the VM's address to the
 * Service's, UDP, whose payload is the rest (struct in the .c file). */
void lb_svc_ct_packet(const struct lb_svc_ct *, struct eth_addr mac,
                      struct ofpbuf *packet);

/* 'packet' ('len' bytes, from its Ethernet header) as lb_svc_ct_packet()
 * makes it: true and '*ct' filled in, or false with '*error' (static)
 * saying what is wrong. */
bool lb_svc_ct_packet_parse(const void *packet, size_t len,
                            struct lb_svc_ct *ct, const char **error);

/* The packet-out's actions on the source: into the tunnel 'tun' to the
 * target, in switch 'switch_key''s handover VNI. */
void lb_svc_ct_packet_out_actions(uint32_t switch_key, unsigned int tun,
                                  struct ds *actions);

/* Whether 'ct' is the port's own: its VM address is one of the port's of
 * the same family. */
bool lb_svc_ct_is_ports(const struct lb_port *, const struct lb_svc_ct *);

/* On the target of 'port''s migration: its handover packets, from the
 * tunnel 'tun' of the port's main chassis in the VNI of switch
 * 'switch_key' and from the port's own addresses, go to the agent
 * (the port's migration cookie, packet-in reason LB_PIN_SVC_CT). */
void lb_svc_ct_port_flows(const struct lb_port *, uint32_t switch_key,
                          unsigned int tun, struct lb_flow_table *);

void lb_svc_ct_format(const struct lb_svc_ct *, struct ds *);

#endif /* lib/svc-ct-handover.h */
