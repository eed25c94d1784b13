/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_PROCESS_METRICS_H
#define LIVEBIND_PROCESS_METRICS_H 1

/* The process's own figures on the metrics page, under the names every
 * Prometheus client library gives them (process_resident_memory_bytes,
 * process_cpu_seconds_total, ...), so that the dashboards and alerts
 * operators already have for their daemons work for the agent too. */

struct ds;

void lb_process_put_metrics(struct ds *page);

#endif /* lib/process-metrics.h */
