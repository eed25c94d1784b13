/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_MIGRATION_H
#define LIVEBIND_AGENT_MIGRATION_H 1

/* Live migration on the agent's side: activation on a VM's announcement,
 * the migrations' states, and their outcomes in the ports' ownership.
 * Used by the agent core (agent.c) only. */

#include <stdbool.h>
#include <stdint.h>

struct ds;
struct lb_agent_migration;
struct lb_agent_view;
struct lb_model;
struct ofputil_packet_in;
struct svec;
struct sset;

struct lb_agent_migration *lb_agent_migration_create(
    const struct lb_agent_view *);
void lb_agent_migration_destroy(struct lb_agent_migration *);

void lb_agent_migration_packet_in(struct lb_agent_migration *,
                                  const struct ofputil_packet_in *,
                                  struct svec *unblock);
void lb_agent_migration_takeovers_due(struct lb_agent_migration *,
                                      struct svec *unblock);
long long int lb_agent_migration_next_takeover(
    const struct lb_agent_migration *);
void lb_agent_migration_unblocked(struct lb_agent_migration *,
                                  uint64_t flows_seqno);
void lb_agent_migration_apply_local(struct lb_agent_migration *,
                                    struct lb_model *);
void lb_agent_migration_derived(struct lb_agent_migration *,
                                const struct sset *ports);
void lb_agent_migration_run(struct lb_agent_migration *);
void lb_agent_migration_format(const struct lb_agent_migration *,
                               bool verbose, struct ds *);
void lb_agent_migration_put_metrics(const struct lb_agent_migration *,
                                    struct ds *page);

#endif /* lib/agent-migration.h */
