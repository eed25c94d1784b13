/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "util.h"

const double lb_histogram_latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10,
};
const size_t lb_histogram_n_latency_bounds
    = ARRAY_SIZE(lb_histogram_latency_bounds);

static bool
is_name_char(char c, bool first, bool colon_ok)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
            || (colon_ok && c == ':') || (!first && c >= '0' && c <= '9'));
}

static bool
name_is_valid(const char *name, bool colon_ok)
{
    if (!name || !name[0]) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!is_name_char(*p, p == name, colon_ok)) {
            return false;
        }
    }
    return true;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool
lb_metrics_name_is_valid(const char *name)
{
    return name_is_valid(name, true);
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and names starting with "__" are reserved. */
bool
lb_metrics_label_name_is_valid(const char *name)
{
    return name_is_valid(name, false) && strncmp(name, "__", 2);
}

/* HELP text escapes backslash and newline; label values also escape the
 * double quote. */
static void
put_escaped(struct ds *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\') {
            ds_put_cstr(out, "\\\\");
        } else if (*s == '\n') {
            ds_put_cstr(out, "\\n");
        } else if (quote && *s == '"') {
            ds_put_cstr(out, "\\\"");
        } else {
            ds_put_char(out, *s);
        }
    }
}

/* The shortest decimal that reads back as 'value', as Go's strconv does for
 * the Prometheus libraries, so that 0.1 is not "0.10000000000000001". */
static void
put_value(struct ds *out, double value)
{
    if (isnan(value)) {
        ds_put_cstr(out, "NaN");
    } else if (isinf(value)) {
        ds_put_cstr(out, value > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[48];
        int precision;
        for (precision = 1; precision < 17; precision++) {
            snprintf(buf, sizeof buf, "%.*g", precision, value);
            if (strtod(buf, NULL) == value) {
                break;
            }
        }
        snprintf(buf, sizeof buf, "%.*g", precision, value);
        /* Like Go, exponents only below 1e-4 and from 1e21: "10", not
         * "1e+01". */
        double magnitude = fabs(value);
        if (strchr(buf, 'e') && magnitude >= 1e-4 && magnitude < 1e21) {
            int decimals = precision - 1 - (int) floor(log10(magnitude));
            snprintf(buf, sizeof buf, "%.*f", MAX(decimals, 0), value);
        }
        ds_put_cstr(out, buf);
    }
}

void
lb_metrics_family(struct ds *out, const char *name, enum lb_metric_type type,
                  const char *help)
{
    ovs_assert(lb_metrics_name_is_valid(name));
    static const char *const types[] = {
        [LB_METRIC_COUNTER] = "counter",
        [LB_METRIC_GAUGE] = "gauge",
        [LB_METRIC_HISTOGRAM] = "histogram",
    };
    ds_put_format(out, "# HELP %s ", name);
    put_escaped(out, help, false);
    ds_put_format(out, "\n# TYPE %s %s\n", name, types[type]);
}

/* Writes NAME{LABELS[,EXTRA="EXTRA_VALUE"]}. */
static void
put_series(struct ds *out, const char *name, const char *const *labels,
           const char *extra, const char *extra_value)
{
    ds_put_cstr(out, name);
    bool any = (labels && labels[0]) || extra;
    if (!any) {
        return;
    }
    ds_put_char(out, '{');
    const char *sep = "";
    for (size_t i = 0; labels && labels[i]; i += 2) {
        ovs_assert(lb_metrics_label_name_is_valid(labels[i]));
        ovs_assert(labels[i + 1]);
        ds_put_format(out, "%s%s=\"", sep, labels[i]);
        put_escaped(out, labels[i + 1], true);
        ds_put_char(out, '"');
        sep = ",";
    }
    if (extra) {
        ds_put_format(out, "%s%s=\"%s\"", sep, extra, extra_value);
    }
    ds_put_char(out, '}');
}

void
lb_metrics_sample(struct ds *out, const char *name,
                  const char *const *labels, double value)
{
    put_series(out, name, labels, NULL, NULL);
    ds_put_char(out, ' ');
    put_value(out, value);
    ds_put_char(out, '\n');
}

void
lb_histogram_init(struct lb_histogram *h, const double *bounds,
                  size_t n_bounds)
{
    ovs_assert(n_bounds <= LB_HISTOGRAM_MAX_BUCKETS);
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < n_bounds; i++) {
        ovs_assert(!i || bounds[i] > bounds[i - 1]);
        h->bounds[i] = bounds[i];
    }
    h->n_bounds = n_bounds;
}

void
lb_histogram_observe(struct lb_histogram *h, double value)
{
    size_t i = 0;
    while (i < h->n_bounds && value > h->bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

void
lb_metrics_histogram(struct ds *out, const char *name,
                     const char *const *labels, const struct lb_histogram *h)
{
    char *bucket = xasprintf("%s_bucket", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        struct ds le = DS_EMPTY_INITIALIZER;
        put_value(&le, i < h->n_bounds ? h->bounds[i] : INFINITY);
        cumulative += h->counts[i];
        put_series(out, bucket, labels, "le", ds_cstr(&le));
        ds_put_format(out, " %"PRIu64"\n", cumulative);
        ds_destroy(&le);
    }
    free(bucket);

    char *sum = xasprintf("%s_sum", name);
    lb_metrics_sample(out, sum, labels, h->sum);
    free(sum);

    char *count = xasprintf("%s_count", name);
    lb_metrics_sample(out, count, labels, h->count);
    free(count);
}
