/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_K8S_H
#define LIVEBIND_AGENT_K8S_H 1

/* The agent's Kubernetes objects: one watch per kind livebind uses, the
 * cache of parsed objects, and which ports changed objects bear on.  Used
 * by the agent core (agent.c) only. */

#include <stdbool.h>

struct ds;
struct k8s_client;
struct lb_agent_k8s;
struct lb_cluster;
struct lb_policy_engine;
struct sset;

struct lb_agent_k8s *lb_agent_k8s_create(struct k8s_client *, bool mirror);
void lb_agent_k8s_destroy(struct lb_agent_k8s *);

bool lb_agent_k8s_synced(const struct lb_agent_k8s *);
const struct lb_cluster *lb_agent_k8s_cluster(const struct lb_agent_k8s *);
struct lb_policy_engine *lb_agent_k8s_policy(struct lb_agent_k8s *);

/* What changed since the last lb_agent_k8s_clear_changes(). */
bool lb_agent_k8s_changed(const struct lb_agent_k8s *);
bool lb_agent_k8s_needs_full(const struct lb_agent_k8s *);
const struct sset *lb_agent_k8s_dirty_ports(const struct lb_agent_k8s *);
void lb_agent_k8s_clear_changes(struct lb_agent_k8s *);

void lb_agent_k8s_format(const struct lb_agent_k8s *, struct ds *);
void lb_agent_k8s_format_owners(const struct lb_agent_k8s *, struct ds *);
void lb_agent_k8s_put_metrics(const struct lb_agent_k8s *, struct ds *page);

#endif /* lib/agent-k8s.h */
