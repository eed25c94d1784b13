/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_GATEWAY_HOST_H
#define LIVEBIND_GATEWAY_HOST_H 1

/* The host end of the distributed gateway's port (pipeline-gateway.c), in
 * the agent's own network namespace (the node's): the interface up,
 * NOARP (every packet the host routes into it goes to its own MAC, which
 * the pipeline turns into the destination port's), its MTU the smallest of
 * the overlay switches', and a route for each overlay switch's subnet and
 * IPv6 prefix through it, with no address of its own: the host sends to
 * pods from its own address (docs/pipeline.md, "Distributed gateway").
 * Over rtnetlink (libnl-route-3), never by running 'ip'; each call makes a
 * handful of requests to the kernel and never waits on anything else. */

struct lb_model;

/* Brings the interface 'ifname' to the state above for 'model'.  Routes
 * this module added earlier (protocol LB_GATEWAY_RTPROT) for switches that
 * are gone are removed.  Returns 0, ENODEV if the interface does not exist
 * (yet), or another positive errno with a message in '*errorp' (to free). */
int lb_gateway_host_sync(const char *ifname, const struct lb_model *,
                         char **errorp);

/* The routes' protocol ("ip route" shows "proto 108"): how the agent
 * recognises its own routes. */
#define LB_GATEWAY_RTPROT 108

#endif /* lib/gateway-host.h */
