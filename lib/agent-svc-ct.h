/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_SVC_CT_H
#define LIVEBIND_AGENT_SVC_CT_H 1

/* The agent's part of the Service handover (svc-ct-handover.h): its I/O.
 *
 * As a migration's source, while a local port of a gateway switch is
 * bound to two chassis, it reads the host's conntrack (ctnetlink dumps,
 * every SVC_CT_INTERVAL_MS, on a non-blocking socket, a bounded number of
 * reads per loop iteration) and sends each DNATed connection of the VM's
 * addresses to the target through the tunnel, paced.  As a target, it
 * takes the records its switch hands it (a packet-in, only from the
 * port's main chassis's tunnel), checks them again against the model,
 * and creates each in its host's conntrack (another non-blocking
 * ctnetlink socket; the kernel's acknowledgements are read as they
 * come). */

#include <stdbool.h>

struct ds;
struct lb_agent_view;
struct ofputil_packet_in;

struct lb_agent_svc_ct *lb_agent_svc_ct_create(
    const struct lb_agent_view *);
void lb_agent_svc_ct_destroy(struct lb_agent_svc_ct *);

void lb_agent_svc_ct_run(struct lb_agent_svc_ct *);
void lb_agent_svc_ct_wait(struct lb_agent_svc_ct *);

/* True if 'pin' is a Service handover record (taken or refused). */
bool lb_agent_svc_ct_packet_in(struct lb_agent_svc_ct *,
                               const struct ofputil_packet_in *);

/* "svc-handover": what each port sent or took, this node's part. */
void lb_agent_svc_ct_format(const struct lb_agent_svc_ct *, struct ds *);

#endif /* lib/agent-svc-ct.h */
