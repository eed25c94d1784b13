/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_ADMIT_H
#define LIVEBIND_AGENT_ADMIT_H 1

/* The agent's part of the admission of idle connections at a migration's
 * cutover (policy-admit.h, docs/policy.md):
 *
 *   - as the source, it reads the VM's conntrack zone from ovs-vswitchd
 *     (its unixctl "dpctl/dump-conntrack", over a non-blocking connection,
 *     one zone at a time) as the port starts mirroring to the target, and
 *     again when it sees the target activated, and sends the target one
 *     packet per connection idle in between (the others had traffic that
 *     the mirroring handed over) through the tunnel;
 *   - as the target, it counts the tuples the switch learned (aggregate
 *     flow statistics, asked for by agent.c's handover poll), and deletes
 *     them when the port's interface leaves the node.
 *
 * Nothing here blocks the poll loop. */

#include <stdbool.h>
#include <stdint.h>

struct ds;
struct lb_agent_view;
struct lb_policy_engine;

struct lb_agent_admit *lb_agent_admit_create(const struct lb_agent_view *,
                                             const char *unixctl_path);
void lb_agent_admit_destroy(struct lb_agent_admit *);

void lb_agent_admit_run(struct lb_agent_admit *,
                        const struct lb_policy_engine *);
void lb_agent_admit_wait(struct lb_agent_admit *);

/* An aggregate statistics reply for a cookie of kind LB_COOKIE_ADMIT. */
void lb_agent_admit_count(struct lb_agent_admit *, uint64_t cookie,
                          uint64_t n_flows);
/* The port's interface left this node: its learned tuples go. */
void lb_agent_admit_port_gone(struct lb_agent_admit *, const char *port);

void lb_agent_admit_format_port(const struct lb_agent_admit *,
                                const char *port, struct ds *);

#endif /* lib/agent-admit.h */
