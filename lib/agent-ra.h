/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_RA_H
#define LIVEBIND_AGENT_RA_H 1

/* The agent's router advertisements (docs/ipv6.md): each switch with an
 * IPv6 prefix has a virtual gateway, which answers router solicitations
 * (the pipeline sends them to the agent, packet-in reason LB_PIN_RS) and
 * advertises itself every LB_RA_INTERVAL_S seconds to the local ports, so
 * that a guest's SLAAC yields exactly the port's address (the prefix plus
 * the EUI-64 of its MAC) and, with a gateway6, a default route.
 *
 * Owns: nothing but the periodic timer.  Reads the model and br-int's
 * interfaces from the core's view; sends packet-outs itself. */

#include <stdbool.h>

struct lb_agent_ra;
struct lb_agent_view;
struct ofputil_packet_in;

struct lb_agent_ra *lb_agent_ra_create(const struct lb_agent_view *);
void lb_agent_ra_destroy(struct lb_agent_ra *);
bool lb_agent_ra_packet_in(struct lb_agent_ra *,
                           const struct ofputil_packet_in *);
void lb_agent_ra_run(struct lb_agent_ra *);
void lb_agent_ra_wait(const struct lb_agent_ra *);

#endif /* lib/agent-ra.h */
