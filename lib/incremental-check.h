/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_INCREMENTAL_CHECK_H
#define LIVEBIND_INCREMENTAL_CHECK_H 1

/* The check of the agent's incremental updates against a full computation.
 *
 * The agent keeps its model and desired flows up to date port by port: a
 * changed object derives again only the ports it bears on, and only their
 * flows are computed again.  That must give exactly what a full derivation
 * and computation give (what a freshly started agent installs), or the
 * switch drifts from the cluster until the next full recompute.  These
 * functions compare the two, pure and without I/O; the agent runs them
 * after each incremental update when asked to (--check-incremental, which
 * the system tests turn on). */

#include <stddef.h>

struct ds;
struct lb_flow_table;
struct lb_model;

size_t lb_incremental_check_models(const struct lb_model *kept,
                                   const struct lb_model *full,
                                   struct ds *diff, size_t max_lines);
size_t lb_incremental_check_flows(const struct lb_flow_table *kept,
                                  const struct lb_flow_table *full,
                                  struct ds *diff, size_t max_lines);

#endif /* incremental-check.h */
