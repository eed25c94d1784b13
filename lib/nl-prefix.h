/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_NL_PREFIX_H
#define LIVEBIND_NL_PREFIX_H 1

/* An address prefix of either family, as the host-side parts that talk
 * rtnetlink (gateway-host.c, egress-gateway-host.c) build their routes and
 * rules from, and its libnl form. */

#include <netinet/in.h>
#include <netlink/addr.h>
#include <sys/socket.h>
#include "openvswitch/types.h"
#include "util.h"

struct lb_prefix {
    int family;                 /* AF_INET or AF_INET6. */
    union {
        ovs_be32 ip4;
        struct in6_addr ip6;
    };
    int plen;
};

/* A new reference, for nl_addr_put(). */
static inline struct nl_addr *
lb_prefix_to_nl(const struct lb_prefix *p)
{
    struct nl_addr *a = (p->family == AF_INET
                         ? nl_addr_build(AF_INET, &p->ip4, sizeof p->ip4)
                         : nl_addr_build(AF_INET6, &p->ip6, sizeof p->ip6));
    if (!a) {
        out_of_memory();
    }
    nl_addr_set_prefixlen(a, p->plen);
    return a;
}

#endif /* lib/nl-prefix.h */
