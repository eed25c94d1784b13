/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_PORT_GATE_H
#define LIVEBIND_PORT_GATE_H 1

/* The gate of a migration target's blocked copy (docs/pipeline.md,
 * "The gate"): a traffic-control filter on the egress of the copy's
 * host-side interface that drops every frame the switch sends it.
 *
 * While the gate is in place, the flow table may deliver to the blocked
 * copy as if it were active, so that what the datapath caches for the
 * mirrored traffic already outputs to it; activating the port is then one
 * netlink message that removes the filter, effective for the very next
 * frame, instead of a wait for the switch to revalidate its cached drop
 * flows.  The filter is a two-instruction BPF program ("drop") attached
 * with cls_bpf in direct-action mode to the interface's clsact egress
 * hook, named so that a restarted agent finds the ones it made.
 *
 * A self-opening gate (the default) goes further: the VM's own first
 * announcement opens it, in the kernel, with no round trip through the
 * switch or the agent.  Its program drops only while a flag (a BPF array
 * of one element) is clear; a watcher program on the interface's ingress
 * (from the VM) sets the flag when it sees the VM's RARP, which QEMU sends
 * the moment the VM resumes.  The flow table does the same for the VM's
 * traffic the other way: the blocked copy's RARP flow learn()s a flow that
 * lets the copy's traffic through (pipeline.c, "self-activation").  The
 * agent still unblocks the copy in the flow table on that announcement
 * and removes the gate once the switch has it, as for a plain gate.
 *
 * Only for interfaces the switch sends to through the kernel's egress path
 * (veth and other netdevs, AF_PACKET): where the gate cannot be made, the
 * flow table keeps the blocked copy's drop. */

#include <stdbool.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "sset.h"

struct port_gates;

struct port_gates *port_gates_create(bool self_open);
void port_gates_destroy(struct port_gates *);

/* Finds the gates already on the interfaces named in 'ifnames' (a
 * restarted agent's). */
void port_gates_scan(struct port_gates *, const struct sset *ifnames);

/* Puts a gate on each interface of 'want' (interface name -> the MAC of
 * the VM behind it, a const struct eth_addr *) that has none; if
 * 'may_open', also removes the gates of interfaces in neither 'want' nor
 * 'keep'.  A gate on an interface in 'keep' stays where it is but none is
 * put there: a copy that was never activated (its migration failed or was
 * cancelled) keeps its gate until its interface goes with its pod, since
 * the switch's datapath may still hold cached flows that deliver to it
 * after its flow table stopped.  Returns true if the set of gated
 * interfaces changed. */
bool port_gates_sync(struct port_gates *, const struct shash *want,
                     const struct sset *keep, bool may_open);

/* Whether the gates open themselves on the VM's RARP. */
bool port_gates_self_open(const struct port_gates *);

/* The interfaces gated now. */
const struct sset *port_gates_closed(const struct port_gates *);

void port_gates_format(const struct port_gates *, struct ds *);

/* For tests: makes a self-opening gate's programs for the VM with 'mac'
 * (attached nowhere), runs the watcher on the 'len' bytes of 'frame' in the
 * kernel, then the gate on the same frame.  Stores in '*opened' whether the
 * watcher opened the gate, in '*verdict' what the gate returned then
 * (TC_ACT_OK or TC_ACT_SHOT).  Returns a positive errno (EPERM without
 * the privilege to load BPF programs). */
struct eth_addr;
int port_gate_test_run(const struct eth_addr *mac, const void *frame,
                       size_t len, bool *opened, int *verdict);

#endif /* lib/port-gate.h */
