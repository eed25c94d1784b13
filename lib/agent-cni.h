/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_CNI_H
#define LIVEBIND_AGENT_CNI_H 1

/* The agent's side of CNI: the requests the plugin forwards.  Used by the
 * agent core (agent.c) only. */

#include "openvswitch/compiler.h"

struct ds;
struct lb_agent_cni;
struct lb_agent_view;
struct lb_write_result;

char *lb_agent_cni_create(const struct lb_agent_view *,
                          const char *socket_path, struct lb_agent_cni **)
    OVS_WARN_UNUSED_RESULT;
void lb_agent_cni_destroy(struct lb_agent_cni *);
void lb_agent_cni_run(struct lb_agent_cni *);
void lb_agent_cni_wait(struct lb_agent_cni *);
void lb_agent_cni_write_done(struct lb_agent_cni *,
                             const struct lb_write_result *);
void lb_agent_cni_put_metrics(const struct lb_agent_cni *, struct ds *page);

#endif /* lib/agent-cni.h */
