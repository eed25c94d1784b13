/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "incremental-check.h"

#include <string.h>
#include "flow-table.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "util.h"

/* Adds each line of 'text' to 'lines'. */
static void
split_lines(const char *text, struct sset *lines)
{
    while (*text) {
        const char *end = strchr(text, '\n');
        size_t len = end ? end - text : strlen(text);
        char *line = xmemdup0(text, len);
        sset_add_and_free(lines, line);
        text += len + (end != NULL);
    }
}

/* Appends to 'diff' the lines 'kept' has and 'full' lacks ("- ") and those
 * 'full' has and 'kept' lacks ("+ "), in their order, at most 'max_lines'
 * of them, and returns how many lines differ in all.  Both texts list each
 * line once (a model's ports, a table's flows). */
static size_t
diff_texts(const char *kept, const char *full, struct ds *diff,
           size_t max_lines)
{
    struct sset kept_lines = SSET_INITIALIZER(&kept_lines);
    struct sset full_lines = SSET_INITIALIZER(&full_lines);
    split_lines(kept, &kept_lines);
    split_lines(full, &full_lines);

    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct sset *these = pass ? &full_lines : &kept_lines;
        const struct sset *those = pass ? &kept_lines : &full_lines;
        const char **sorted = sset_sort(these);
        for (size_t i = 0; i < sset_count(these); i++) {
            if (!sset_contains(those, sorted[i])) {
                if (n++ < max_lines) {
                    ds_put_format(diff, "%c %s\n", pass ? '+' : '-',
                                  sorted[i]);
                }
            }
        }
        free(sorted);
    }
    if (n > max_lines) {
        ds_put_format(diff, "... and %"PRIuSIZE" more lines\n",
                      n - max_lines);
    }
    sset_destroy(&kept_lines);
    sset_destroy(&full_lines);
    return n;
}

/* diff_texts() of 'kept' and 'full', which it frees. */
static size_t
diff_formatted(struct ds *kept, struct ds *full, struct ds *diff,
               size_t max_lines)
{
    size_t n = diff_texts(ds_cstr(kept), ds_cstr(full), diff, max_lines);
    ds_destroy(kept);
    ds_destroy(full);
    return n;
}

/* Compares the ports of the model kept up to date port by port ('kept')
 * with those of a full derivation ('full').  Returns the number of port
 * lines that differ (0: none) and appends up to 'max_lines' of them to
 * 'diff'. */
size_t
lb_incremental_check_models(const struct lb_model *kept,
                            const struct lb_model *full, struct ds *diff,
                            size_t max_lines)
{
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
    lb_model_format(kept, &a);
    lb_model_format(full, &b);
    return diff_formatted(&a, &b, diff, max_lines);
}

/* Compares the desired flows and meters kept up to date port by port
 * ('kept') with those of a full computation ('full'), as
 * lb_incremental_check_models() does. */
size_t
lb_incremental_check_flows(const struct lb_flow_table *kept,
                           const struct lb_flow_table *full, struct ds *diff,
                           size_t max_lines)
{
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
    lb_flow_table_format(kept, &a);
    lb_flow_table_format_meters(kept, &a);
    lb_flow_table_format(full, &b);
    lb_flow_table_format_meters(full, &b);
    return diff_formatted(&a, &b, diff, max_lines);
}
