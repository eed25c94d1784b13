/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The process's own figures on the metrics page (process-metrics.h).  Each
 * is read when the page is rendered, from getrusage(), getrlimit(),
 * /proc/self/statm and the /proc/self/fd directory, none of which can
 * block. */

#include <config.h>
#include "process-metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include "metrics.h"
#include "openvswitch/dynamic-string.h"
#include "timeval.h"

/* Resident and virtual memory, in bytes, from /proc/self/statm.  Returns
 * false if it cannot be read. */
static bool
read_statm(double *rss, double *vsize)
{
    FILE *stream = fopen("/proc/self/statm", "r");
    if (!stream) {
        return false;
    }
    unsigned long long int size, resident;
    bool ok = fscanf(stream, "%llu %llu", &size, &resident) == 2;
    fclose(stream);
    if (ok) {
        long int page_size = sysconf(_SC_PAGESIZE);
        *vsize = (double) size * page_size;
        *rss = (double) resident * page_size;
    }
    return ok;
}

/* The number of file descriptors open, or -1. */
static int
count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(dir);
    return n - 1;               /* Not the one opendir() holds. */
}

void
lb_process_put_metrics(struct ds *page)
{
    struct rusage usage;
    if (!getrusage(RUSAGE_SELF, &usage)) {
        double cpu = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
                      + (usage.ru_utime.tv_usec
                         + usage.ru_stime.tv_usec) / 1e6);
        lb_metrics_family(page, "process_cpu_seconds_total",
                          LB_METRIC_COUNTER, "Total user and system CPU "
                          "time spent in seconds.");
        lb_metrics_sample(page, "process_cpu_seconds_total", NULL, cpu);
    }

    double rss, vsize;
    if (read_statm(&rss, &vsize)) {
        lb_metrics_family(page, "process_resident_memory_bytes",
                          LB_METRIC_GAUGE, "Resident memory size in "
                          "bytes.");
        lb_metrics_sample(page, "process_resident_memory_bytes", NULL, rss);
        lb_metrics_family(page, "process_virtual_memory_bytes",
                          LB_METRIC_GAUGE, "Virtual memory size in bytes.");
        lb_metrics_sample(page, "process_virtual_memory_bytes", NULL,
                          vsize);
    }

    int n_fds = count_open_fds();
    if (n_fds >= 0) {
        lb_metrics_family(page, "process_open_fds", LB_METRIC_GAUGE,
                          "Number of open file descriptors.");
        lb_metrics_sample(page, "process_open_fds", NULL, n_fds);
    }
    struct rlimit limit;
    if (!getrlimit(RLIMIT_NOFILE, &limit) && limit.rlim_cur != RLIM_INFINITY) {
        lb_metrics_family(page, "process_max_fds", LB_METRIC_GAUGE,
                          "Maximum number of open file descriptors.");
        lb_metrics_sample(page, "process_max_fds", NULL, limit.rlim_cur);
    }

    /* When the process started, on the wall clock. */
    long long int started_ms = time_wall_msec() - (time_msec()
                                                   - time_boot_msec());
    lb_metrics_family(page, "process_start_time_seconds", LB_METRIC_GAUGE,
                      "Start time of the process since unix epoch in "
                      "seconds.");
    lb_metrics_sample(page, "process_start_time_seconds", NULL,
                      started_ms / 1e3);
}
