/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "process-metrics.h"
#include "util.h"

/* Checks a page against the text format's rules, as a scraper reads it:
 * every line is a HELP, a TYPE or a sample; a family's HELP and TYPE come
 * once, before its samples; names and label names are valid; label values
 * are quoted with only \\, \" and \n escapes; values parse; a histogram's
 * buckets are cumulative, end with le="+Inf", and _count equals that
 * bucket.  Returns NULL or what is wrong (to free). */
static char *
check_page(const char *page)
{
    char *copy = xstrdup(page);
    char *error = NULL;
    char family[128] = "", type[16] = "";
    double last_bucket = -1, last_le = -INFINITY;
    bool saw_inf = false;
    char *save = NULL;

    if (page[0] && page[strlen(page) - 1] != '\n') {
        free(copy);
        return xstrdup("page does not end with a newline");
    }
    for (char *line = strtok_r(copy, "\n", &save); line && !error;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128], what[16];
        if (!strncmp(line, "# HELP ", 7)) {
            if (sscanf(line + 7, "%127s", name) != 1
                || !lb_metrics_name_is_valid(name)) {
                error = xasprintf("bad HELP: %s", line);
            } else if (!strcmp(name, family)) {
                error = xasprintf("second HELP for %s", name);
            }
            ovs_strlcpy(family, name, sizeof family);
            type[0] = '\0';
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            if (sscanf(line + 7, "%127s %15s", name, what) != 2
                || strcmp(name, family) || type[0]
                || (strcmp(what, "counter") && strcmp(what, "gauge")
                    && strcmp(what, "histogram"))) {
                error = xasprintf("bad TYPE: %s", line);
            }
            ovs_strlcpy(type, what, sizeof type);
            last_bucket = -1;
            last_le = -INFINITY;
            saw_inf = false;
            continue;
        }
        if (line[0] == '#') {
            error = xasprintf("unexpected comment: %s", line);
            break;
        }

        /* A sample: name, optional labels, value. */
        size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
        ovs_strlcpy(name, line, MIN(n + 1, sizeof name));
        if (!lb_metrics_name_is_valid(name) || !family[0]
            || strncmp(name, family, strlen(family))) {
            error = xasprintf("sample outside its family: %s", line);
            break;
        }
        const char *suffix = name + strlen(family);
        const char *p = line + n;
        char le[32] = "";
        if (*p == '{') {
            p++;
            while (*p != '}') {
                size_t ln = strspn(p, "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
                char label[64];
                ovs_strlcpy(label, p, MIN(ln + 1, sizeof label));
                if (!lb_metrics_label_name_is_valid(label)
                    || p[ln] != '=' || p[ln + 1] != '"') {
                    error = xasprintf("bad label in: %s", line);
                    break;
                }
                p += ln + 2;
                struct ds value = DS_EMPTY_INITIALIZER;
                while (*p && *p != '"') {
                    if (*p == '\\') {
                        p++;
                        if (*p != '\\' && *p != '"' && *p != 'n') {
                            error = xasprintf("bad escape in: %s", line);
                            break;
                        }
                    }
                    ds_put_char(&value, *p++);
                }
                if (!strcmp(label, "le")) {
                    ovs_strlcpy(le, ds_cstr(&value), sizeof le);
                }
                ds_destroy(&value);
                if (error || *p != '"') {
                    error = error ? error
                            : xasprintf("unterminated value: %s", line);
                    break;
                }
                p++;
                if (*p == ',') {
                    p++;
                } else if (*p != '}') {
                    error = xasprintf("bad label list: %s", line);
                    break;
                }
            }
            if (error) {
                break;
            }
            p++;
        }
        if (*p != ' ') {
            error = xasprintf("no value: %s", line);
            break;
        }
        char *end;
        double v = strtod(p + 1, &end);
        if (end == p + 1 || *end) {
            error = xasprintf("bad value: %s", line);
            break;
        }

        if (!strcmp(type, "histogram")) {
            if (!strcmp(suffix, "_bucket")) {
                double bound = strtod(le, NULL);
                if (!le[0] || bound <= last_le || v < last_bucket) {
                    error = xasprintf("bucket out of order: %s", line);
                }
                saw_inf = !strcmp(le, "+Inf");
                last_le = bound;
                last_bucket = v;
            } else if (!strcmp(suffix, "_count")) {
                if (!saw_inf || v != last_bucket) {
                    error = xasprintf("_count is not the +Inf bucket: %s",
                                      line);
                }
                last_le = -INFINITY;
                last_bucket = -1;
            } else if (strcmp(suffix, "_sum")) {
                error = xasprintf("bad histogram sample: %s", line);
            }
        } else if (*suffix) {
            error = xasprintf("sample named apart from family: %s", line);
        }
    }
    free(copy);
    return error;
}

static void
assert_page_ok(const struct ds *page)
{
    char *error = check_page(ds_cstr_ro(page));
    if (error) {
        fail_msg("%s\n--- page:\n%s", error, ds_cstr_ro(page));
    }
}

static void
test_names(void **state OVS_UNUSED)
{
    assert_true(lb_metrics_name_is_valid("livebind_flows"));
    assert_true(lb_metrics_name_is_valid("a:b_c9"));
    assert_false(lb_metrics_name_is_valid("9abc"));
    assert_false(lb_metrics_name_is_valid("a-b"));
    assert_false(lb_metrics_name_is_valid(""));
    assert_true(lb_metrics_label_name_is_valid("result"));
    assert_false(lb_metrics_label_name_is_valid("__name__"));
    assert_false(lb_metrics_label_name_is_valid("a:b"));
}

static void
test_samples(void **state OVS_UNUSED)
{
    struct ds page = DS_EMPTY_INITIALIZER;
    lb_metrics_family(&page, "livebind_cni_requests_total",
                      LB_METRIC_COUNTER,
                      "CNI requests by command and result.\nSecond line "
                      "with a \\ backslash.");
    const char *add_ok[] = { "command", "ADD", "result", "ok", NULL };
    const char *odd[] = { "command", "DEL", "result",
                          "say \"no\"\\\nnow", NULL };
    lb_metrics_sample(&page, "livebind_cni_requests_total", add_ok, 3);
    lb_metrics_sample(&page, "livebind_cni_requests_total", odd, 1);
    lb_metrics_family(&page, "livebind_last_recompute_seconds",
                      LB_METRIC_GAUGE, "Time of the last recompute.");
    lb_metrics_sample(&page, "livebind_last_recompute_seconds", NULL, 0.1);
    assert_page_ok(&page);

    assert_string_equal(
        ds_cstr(&page),
        "# HELP livebind_cni_requests_total CNI requests by command and "
        "result.\\nSecond line with a \\\\ backslash.\n"
        "# TYPE livebind_cni_requests_total counter\n"
        "livebind_cni_requests_total{command=\"ADD\",result=\"ok\"} 3\n"
        "livebind_cni_requests_total{command=\"DEL\","
        "result=\"say \\\"no\\\"\\\\\\nnow\"} 1\n"
        "# HELP livebind_last_recompute_seconds Time of the last "
        "recompute.\n"
        "# TYPE livebind_last_recompute_seconds gauge\n"
        "livebind_last_recompute_seconds 0.1\n");
    ds_destroy(&page);
}

static void
test_values(void **state OVS_UNUSED)
{
    struct ds page = DS_EMPTY_INITIALIZER;
    lb_metrics_sample(&page, "a", NULL, INFINITY);
    lb_metrics_sample(&page, "a", NULL, -INFINITY);
    lb_metrics_sample(&page, "a", NULL, NAN);
    lb_metrics_sample(&page, "a", NULL, 1e21);
    lb_metrics_sample(&page, "a", NULL, 12345678);
    lb_metrics_sample(&page, "a", NULL, 0.000125);
    lb_metrics_sample(&page, "a", NULL, 10);
    lb_metrics_sample(&page, "a", NULL, 1e20);
    lb_metrics_sample(&page, "a", NULL, 0.00001);
    assert_string_equal(ds_cstr(&page),
                        "a +Inf\na -Inf\na NaN\na 1e+21\na 12345678\n"
                        "a 0.000125\na 10\na 100000000000000000000\n"
                        "a 1e-05\n");
    ds_destroy(&page);
}

static void
test_histogram(void **state OVS_UNUSED)
{
    struct lb_histogram h;
    lb_histogram_init(&h, lb_histogram_latency_bounds,
                      lb_histogram_n_latency_bounds);
    lb_histogram_observe(&h, 0.0008);
    lb_histogram_observe(&h, 0.001);     /* On a bound: that bucket. */
    lb_histogram_observe(&h, 0.0015);
    lb_histogram_observe(&h, 30);        /* Beyond the last bound. */

    struct ds page = DS_EMPTY_INITIALIZER;
    lb_metrics_family(&page, "livebind_activation_seconds",
                      LB_METRIC_HISTOGRAM, "Announcement to unblocked.");
    const char *labels[] = { "announcement", "rarp", NULL };
    lb_metrics_histogram(&page, "livebind_activation_seconds", labels, &h);
    assert_page_ok(&page);

    const char *s = ds_cstr(&page);
    assert_non_null(strstr(s, "livebind_activation_seconds_bucket{"
                            "announcement=\"rarp\",le=\"0.0005\"} 0\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_bucket{"
                            "announcement=\"rarp\",le=\"0.001\"} 2\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_bucket{"
                            "announcement=\"rarp\",le=\"0.0025\"} 3\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_bucket{"
                            "announcement=\"rarp\",le=\"10\"} 3\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_bucket{"
                            "announcement=\"rarp\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_count{"
                            "announcement=\"rarp\"} 4\n"));
    assert_non_null(strstr(s, "livebind_activation_seconds_sum{"
                            "announcement=\"rarp\"} 30.0033\n"));
    ds_destroy(&page);

    /* An empty histogram is still a valid family. */
    lb_histogram_init(&h, lb_histogram_latency_bounds, 2);
    ds_init(&page);
    lb_metrics_family(&page, "h", LB_METRIC_HISTOGRAM, "Empty.");
    lb_metrics_histogram(&page, "h", NULL, &h);
    assert_page_ok(&page);
    assert_string_equal(ds_cstr(&page),
                        "# HELP h Empty.\n# TYPE h histogram\n"
                        "h_bucket{le=\"0.0001\"} 0\n"
                        "h_bucket{le=\"0.00025\"} 0\n"
                        "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    ds_destroy(&page);
}

/* The process's own figures: a valid page, with the names dashboards look
 * for, and this process's plausible values. */
static void
test_process(void **state OVS_UNUSED)
{
    struct ds page = DS_EMPTY_INITIALIZER;
    lb_process_put_metrics(&page);
    assert_page_ok(&page);

    static const char *const names[] = {
        "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_open_fds",
        "process_start_time_seconds",
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char *prefix = xasprintf("\n%s ", names[i]);
        const char *line = strstr(ds_cstr(&page), prefix);
        if (!line) {
            fail_msg("no %s in:\n%s", names[i], ds_cstr(&page));
        }
        double value = strtod(line + strlen(prefix), NULL);
        if (!strcmp(names[i], "process_resident_memory_bytes")) {
            assert_true(value > 1024 * 1024);
        } else if (!strcmp(names[i], "process_open_fds")) {
            assert_true(value >= 3);    /* stdin, stdout, stderr. */
        } else if (!strcmp(names[i], "process_start_time_seconds")) {
            assert_true(fabs(value - time(NULL)) < 3600);
        } else {
            assert_true(value >= 0);
        }
        free(prefix);
    }
    ds_destroy(&page);
}

/* The checker itself must refuse what a scraper refuses. */
static void
test_checker(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        "a 1\n",                                    /* No family. */
        "# HELP a x\n# TYPE a counter\na{b=\"c} 1\n",
        "# HELP a x\n# TYPE a counter\na{b=\"\\t\"} 1\n",
        "# HELP a x\n# TYPE a counter\na one\n",
        "# HELP a x\n# TYPE a summary\na 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 0\nh_count 1\n",
        "# HELP a x\n# TYPE a counter\na 1",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *error = check_page(bad[i]);
        if (!error) {
            fail_msg("accepted: %s", bad[i]);
        }
        free(error);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
