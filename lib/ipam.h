/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_IPAM_H
#define LIVEBIND_IPAM_H 1

/* IP address management helpers.  Pure: the atomic part of allocation is
 * the API server's (an IPAllocation object named after the address is
 * created if absent; AlreadyExists means someone else has it).  These
 * helpers name things and choose candidates.
 *
 * A switch subnet's candidates are its host addresses except the gateway:
 * not the network address, not the broadcast address. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include <netinet/in.h>
#include "openvswitch/types.h"
#include "packets.h"

struct ds;

#define LB_IPAM_MIN_PREFIX 8    /* Host part fits a port key's 24 bits. */
#define LB_IPAM_MAX_PREFIX 30   /* Smaller subnets have no hosts to give. */

/* An address range that IPAM never hands out: on a provider network, the
 * physical router and hosts outside the cluster.  An IPv4 address is held
 * IPv4-mapped, so that one type serves both families. */
struct lb_ip_range {
    struct in6_addr first;
    struct in6_addr last;       /* Inclusive; equal to 'first' for one. */
};

char *lb_ip_range_parse(const char *, struct lb_ip_range *)
    OVS_WARN_UNUSED_RESULT;
bool lb_ip_range_contains_ipv4(const struct lb_ip_range *, ovs_be32 ip);
bool lb_ip_range_contains_ipv6(const struct lb_ip_range *,
                               const struct in6_addr *);
void lb_ip_range_format(const struct lb_ip_range *, struct ds *);

struct lb_ipam_subnet {
    ovs_be32 network;
    unsigned int prefix_len;    /* LB_IPAM_MIN_PREFIX..LB_IPAM_MAX_PREFIX. */
    ovs_be32 gateway;           /* 0 if none. */
    const struct lb_ip_range *exclude;  /* Never picked. */
    size_t n_exclude;

    /* The switch's IPv6 prefix, if it has one: a port's IPv6 address there
     * is the prefix and the EUI-64 of lb_ipam_mac(its candidate), so a
     * candidate whose IPv6 address is in 'exclude' is never picked
     * either. */
    const struct in6_addr *prefix6;
    bool hosts_only;            /* The candidates are host numbers of an
                                 * IPv6-only switch, not IPv4 addresses:
                                 * IPv4 ranges do not apply to them. */
};

char *lb_ipam_subnet_parse(const char *cidr, const char *gateway,
                           struct lb_ipam_subnet *) OVS_WARN_UNUSED_RESULT;
bool lb_ipam_subnet_contains(const struct lb_ipam_subnet *, ovs_be32 ip);
uint32_t lb_ipam_n_candidates(const struct lb_ipam_subnet *);
bool lb_ipam_is_candidate(const struct lb_ipam_subnet *, ovs_be32 ip);
bool lb_ipam_next_candidate(const struct lb_ipam_subnet *, ovs_be32 *ip);

uint32_t lb_ipam_offset(const struct lb_ipam_subnet *, ovs_be32 ip);
uint32_t lb_ipam_port_key(uint32_t switch_key, const struct lb_ipam_subnet *,
                          ovs_be32 ip);
struct eth_addr lb_ipam_mac(ovs_be32 ip);
char *lb_ipam_allocation_name(const char *switch_name, ovs_be32 ip);
char *lb_ipam_port_name(const char *ns, const char *name);

bool lb_ipam_pick(const struct lb_ipam_subnet *, const ovs_be32 *used,
                  size_t n_used, const char *port_name, ovs_be32 *ip);

/* IPv6.  A switch's IPv6 prefix is a /64 (what SLAAC needs), and a port's
 * address in it is the prefix plus the modified EUI-64 interface identifier
 * of the port's MAC: unique by construction as the MAC is, kept as the MAC
 * is, and exactly what SLAAC in a guest with that MAC configures.  See
 * docs/ipv6.md.
 *
 * A port's MAC comes from its first IPv4 address (lb_ipam_mac()).  On an
 * IPv6-only switch there is none: the agent picks a 24-bit host number
 * from LB_IPAM_V6ONLY_HOSTS as if it were an IPv4 address of 0.0.0.0/8,
 * which gives the MAC 0a:58:00:hh:hh:hh and the port key the same way. */
#define LB_IPAM_PREFIX6_LEN 64

struct lb_ipam_prefix6 {
    struct in6_addr prefix;     /* Host bits zero. */
    struct in6_addr gateway;    /* All-zero if none. */
};

extern const struct lb_ipam_subnet LB_IPAM_V6ONLY_HOSTS;

char *lb_ipam_prefix6_parse(const char *cidr, const char *gateway,
                            struct lb_ipam_prefix6 *) OVS_WARN_UNUSED_RESULT;
char *lb_ipam_ipv6_parse(const char *, struct in6_addr *)
    OVS_WARN_UNUSED_RESULT;
bool lb_ipam_prefix6_contains(const struct lb_ipam_prefix6 *,
                              const struct in6_addr *);
void lb_ipam_ipv6_address(const struct lb_ipam_prefix6 *, struct eth_addr,
                          struct in6_addr *);
bool lb_ipam_ipv6_mac(const struct in6_addr *, struct eth_addr *);
bool lb_ipam_v6only_host(const struct lb_ipam_prefix6 *,
                         const struct in6_addr *, ovs_be32 *host);
struct eth_addr lb_ipam_gateway6_mac(uint32_t switch_key);
char *lb_ipam_allocation_name6(const char *switch_name,
                               const struct in6_addr *);

#endif /* lib/ipam.h */
