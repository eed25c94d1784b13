/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_PIPELINE_PROVIDER_H
#define LIVEBIND_PIPELINE_PROVIDER_H 1

/* The provider-network part of the pipeline, called by pipeline.c only:
 * the flows that connect a provider switch to its physical network through
 * this chassis's uplink (a patch port to the bridge that its bridge
 * mappings name), instead of through tunnels.  Pure, like pipeline.c. */

#include <stdbool.h>

struct lb_flow_table;
struct lb_pipeline_ctx;
struct lb_port;
struct lb_switch;

unsigned int lb_provider_uplink(const struct lb_pipeline_ctx *,
                                const struct lb_switch *);

void lb_provider_default_flows(const struct lb_pipeline_ctx *,
                               struct lb_flow_table *);
void lb_provider_switch_flows(const struct lb_pipeline_ctx *,
                              const struct lb_switch *,
                              const char *local_outputs,
                              struct lb_flow_table *);
void lb_provider_local_port_flows(const struct lb_pipeline_ctx *,
                                  const struct lb_port *,
                                  const struct lb_switch *,
                                  struct lb_flow_table *);
void lb_provider_port_output_flows(const struct lb_pipeline_ctx *,
                                   const struct lb_port *,
                                   const struct lb_switch *,
                                   const char *local_outputs,
                                   const char *tunnel_outputs,
                                   struct lb_flow_table *);

#endif /* lib/pipeline-provider.h */
