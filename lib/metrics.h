/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_METRICS_H
#define LIVEBIND_METRICS_H 1

/* Prometheus metrics in the text exposition format (version 0.0.4).  Pure:
 * no I/O, no clock.
 *
 * Debian packages no Prometheus client library for C, and the format is
 * small, so the agent writes it itself.  A scrape renders the page from the
 * agent's state at that moment: each part of the agent appends its own
 * families with lb_metrics_family() and lb_metrics_sample() (or
 * lb_metrics_histogram()), so there is no registry to keep in step with the
 * state it describes.
 *
 * Labels are given as a NULL-terminated array of name, value pairs:
 *
 *     const char *labels[] = { "command", "ADD", "result", "ok", NULL };
 *     lb_metrics_sample(&page, "livebind_cni_requests_total", labels, 3);
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;

#define LB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum lb_metric_type {
    LB_METRIC_COUNTER,
    LB_METRIC_GAUGE,
    LB_METRIC_HISTOGRAM,
};

bool lb_metrics_name_is_valid(const char *name);
bool lb_metrics_label_name_is_valid(const char *name);

void lb_metrics_family(struct ds *, const char *name, enum lb_metric_type,
                       const char *help);
void lb_metrics_sample(struct ds *, const char *name,
                       const char *const *labels, double value);

/* A histogram with fixed upper bounds (ascending, without +Inf, which is
 * implied).  Observations are counted in the first bucket whose bound is
 * not below them; the exposition makes the buckets cumulative. */
#define LB_HISTOGRAM_MAX_BUCKETS 24

struct lb_histogram {
    double bounds[LB_HISTOGRAM_MAX_BUCKETS];
    uint64_t counts[LB_HISTOGRAM_MAX_BUCKETS + 1];   /* Last: +Inf. */
    size_t n_bounds;
    uint64_t count;
    double sum;
};

void lb_histogram_init(struct lb_histogram *, const double *bounds,
                       size_t n_bounds);
void lb_histogram_observe(struct lb_histogram *, double value);
void lb_metrics_histogram(struct ds *, const char *name,
                          const char *const *labels,
                          const struct lb_histogram *);

/* Bounds for latencies in seconds, from 100 us to 10 s. */
extern const double lb_histogram_latency_bounds[];
extern const size_t lb_histogram_n_latency_bounds;

#endif /* lib/metrics.h */
