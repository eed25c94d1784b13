/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_EGRESS_GATEWAY_HOST_H
#define LIVEBIND_EGRESS_GATEWAY_HOST_H 1

/* The node's end of the egress gateway (egress-gateway.h), in the agent's
 * network namespace (the node's), brought to a plan lb_egress_derive()
 * computed:
 *
 *   - on a node that is not a switch's active egress node, two policy
 *     rules per family for the switch's sources (its subnet, its prefix):
 *     the main table without its default route (suppress_prefixlength 0),
 *     then table lb_egress_table(key), whose default route goes to the
 *     active node's address of that family (unreachable if there is none);
 *   - on the active egress node, in nftables table "inet livebind", a
 *     masquerade rule per family for the switch's sources leaving through
 *     the uplink (the interface that holds the node's own address) to
 *     anything outside the uplink's prefix (the nodes' own network).
 *
 * What is there is read back and compared each time: only differences are
 * written, so a restarted agent with the same objects changes nothing;
 * rules, routes and NAT rules of livebind's (protocol LB_EGRESS_RTPROT, the
 * table "inet livebind") that the plan no longer asks for are removed.
 * Over rtnetlink (libnl-route-3) and libnftables, never by running a
 * program: each call is a few requests to the kernel, never a wait on
 * anything else. */

struct lb_egress_plan;

/* Returns 0 or a positive errno with a message in '*errorp' (to free);
 * adds the number of changes it made (rules, routes, NAT table writes) to
 * '*n_changes'.  It goes on past an error in one part, so that one bad
 * switch does not hold back the others. */
int lb_egress_host_sync(const struct lb_egress_plan *, unsigned int *n_changes,
                        char **errorp);

#endif /* lib/egress-gateway-host.h */
