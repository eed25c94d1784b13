/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_POD_PLUMB_H
#define LIVEBIND_POD_PLUMB_H 1

/* Kernel side of a pod's network attachment: a veth pair whose pod end sits
 * in the pod's network namespace, configured with the logical port's MAC,
 * IPv4 and/or IPv6 address, MTU and default routes, and whose host end is
 * left for the caller to add to br-int (this module never talks to OVS).
 *
 * Everything is done over rtnetlink (libnl-route-3) and ioctl, never by
 * running 'ip'.  The calling thread enters the pod's network namespace only
 * briefly, to open sockets there and to write sysctls, and always returns to
 * its own namespace before anything else happens.
 *
 * The pod end is configured so that a live-migration target pod, which
 * reuses the source pod's IP and MAC while the source still holds them, can
 * never trip a conflict check: IPv6 duplicate address detection is off and
 * no gratuitous ARP is sent when the link comes up (Linux itself never
 * probes IPv4 addresses).  TX checksum offload is off on both ends, which OVS
 * needs with its userspace datapath: otherwise the pod hands it packets with
 * partial checksums that nobody ever completes.
 *
 * All functions return 0 on success or a positive errno value and, when
 * 'errorp' is nonnull, store in '*errorp' a malloc()'d message that the
 * caller must free on failure (NULL on success). */

#include <stdbool.h>
#include "openvswitch/compiler.h"
#include <netinet/in.h>
#include "openvswitch/types.h"

/* Longest interface name Linux accepts (IFNAMSIZ - 1). */
#define POD_PLUMB_IFNAME_MAX 15

struct pod_attachment {
    int netns_fd;          /* The pod's network namespace, open (see
                            * netns-fd.h); the caller's to close. */
    char *netns_path;      /* Its path, for messages only: never opened.
                            * e.g. "/var/run/netns/cni-1234". */
    char *ifname;          /* Name inside the pod, e.g. "eth0". */
    char *host_ifname;     /* Name of the host end, see
                            * pod_plumb_host_ifname(). */
    struct eth_addr mac;   /* Of the pod end; unicast, nonzero. */
    int mtu;               /* Both ends, 68...65535. */
    ovs_be32 ip;           /* The pod's IPv4 address, 0 for none. */
    int prefix_len;        /* Of the pod's subnet, 1...32. */
    ovs_be32 gateway;      /* Default route via it; 0 for none. */
    bool has_ip6;          /* Whether the pod has an IPv6 address: */
    struct in6_addr ip6;   /* in a /64, added without DAD; */
    struct in6_addr gateway6;  /* IPv6 default route via it; all-zero for
                                * none (router advertisements may still
                                * give one). */
};

void pod_attachment_destroy(struct pod_attachment *);
char *pod_attachment_validate(const struct pod_attachment *)
    OVS_WARN_UNUSED_RESULT;

char *pod_plumb_host_ifname(const char *container_id);
bool pod_plumb_ifname_is_valid(const char *);

int pod_plumb_add(const struct pod_attachment *, char **errorp);
int pod_plumb_del(int netns_fd, const char *netns_path, const char *ifname,
                  const char *host_ifname, char **errorp);
int pod_plumb_check(const struct pod_attachment *, char **errorp);

#endif /* pod-plumb.h */
