/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Pipeline benchmark: prints figures, asserts nothing.
 *
 *   bench-pipeline [--ports N] [--chassis N] [--emit-model FILE]
 *
 * Builds a model of N ports spread over the chassis (one switch), computes
 * chassis node1's flows several times, then times one port's incremental
 * update.  --emit-model writes the model as JSON for bench-install.sh. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flow-table.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline.h"
#include "simap.h"
#include "timeval.h"
#include "util.h"

static void
build_model(struct lb_model *model, int n_ports, int n_chassis)
{
    for (int i = 1; i <= n_chassis; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        lb_model_add_chassis(model, name, htonl(0xac100000 + i));
    }
    struct lb_switch *sw = lb_model_add_switch(model, "pods", 1);
    sw->subnet = htonl(0x0a000000);
    sw->prefix_len = 8;

    for (int i = 0; i < n_ports; i++) {
        char name[32], chassis[32];
        uint32_t ip = 0x0a000000 + 10 + i;
        snprintf(name, sizeof name, "default_pod%d", i);
        snprintf(chassis, sizeof chassis, "node%d", 1 + i % n_chassis);
        struct lb_port *p = lb_model_add_port(model, name,
                                              (1u << 24) | (ip & 0xffffff),
                                              "pods");
        p->mac = (struct eth_addr) { { { 0x0a, 0x58, ip >> 24,
                                         (ip >> 16) & 0xff,
                                         (ip >> 8) & 0xff, ip & 0xff } } };
        p->ipv4[0] = htonl(ip);
        p->n_ipv4 = 1;
        lb_port_set_chassis(p, chassis, NULL);
    }
}

static void
emit_model(const struct lb_model *model, const char *file_name)
{
    FILE *f = fopen(file_name, "w");
    if (!f) {
        ovs_fatal(errno, "%s", file_name);
    }
    fprintf(f, "{\"chassis\": [");
    const struct lb_chassis *ch;
    bool first = true;
    HMAP_FOR_EACH (ch, node, &model->chassis) {
        fprintf(f, "%s{\"name\": \"%s\", \"ip\": \""IP_FMT"\"}",
                first ? "" : ",\n ", ch->name, IP_ARGS(ch->tunnel_ip));
        first = false;
    }
    fprintf(f, "],\n\"switches\": [{\"name\": \"pods\", \"key\": 1, "
            "\"subnet\": \"10.0.0.0/8\"}],\n\"ports\": [");
    const struct lb_port *p;
    first = true;
    HMAP_FOR_EACH (p, node, &model->ports) {
        fprintf(f, "%s{\"name\": \"%s\", \"key\": %"PRIu32", \"switch\": "
                "\"pods\", \"mac\": \""ETH_ADDR_FMT"\", \"ips\": [\""IP_FMT
                "\"], \"chassis\": \"%s\"}", first ? "" : ",\n ", p->name,
                p->key, ETH_ADDR_ARGS(p->mac), IP_ARGS(p->ipv4[0]),
                p->chassis);
        first = false;
    }
    fprintf(f, "]}\n");
    fclose(f);
}

static long
rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return rss * 4;
}

static int
compare_ll(const void *a_, const void *b_)
{
    const long long *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

int
main(int argc, char *argv[])
{
    int n_ports = 10000, n_chassis = 100;
    const char *emit = NULL;
    static const struct option options[] = {
        {"ports", required_argument, NULL, 'p'},
        {"chassis", required_argument, NULL, 'c'},
        {"emit-model", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    set_program_name(argv[0]);
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'p':
            n_ports = atoi(optarg);
            break;
        case 'c':
            n_chassis = atoi(optarg);
            break;
        case 'e':
            emit = optarg;
            break;
        default:
            exit(EXIT_FAILURE);
        }
    }
    if (n_ports < 1 || n_ports > 1000000 || n_chassis < 2) {
        ovs_fatal(0, "need 1..1000000 ports and at least 2 chassis");
    }

    struct lb_model model;
    lb_model_init(&model);
    build_model(&model, n_ports, n_chassis);
    if (emit) {
        emit_model(&model, emit);
        lb_model_destroy(&model);
        return 0;
    }

    /* Chassis node1: its ports are local, the others through tunnels. */
    struct simap ifaces = SIMAP_INITIALIZER(&ifaces);
    struct simap tunnels = SIMAP_INITIALIZER(&tunnels);
    const struct lb_port *p;
    unsigned int ofport = 100;
    HMAP_FOR_EACH (p, node, &model.ports) {
        if (!strcmp(p->chassis, "node1")) {
            simap_put(&ifaces, p->name, ofport++);
        }
    }
    for (int i = 2; i <= n_chassis; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        simap_put(&tunnels, name, i);
    }
    struct lb_pipeline_ctx ctx = {
        .model = &model, .chassis = "node1",
        .iface_ofports = &ifaces, .tunnel_ofports = &tunnels,
    };

    enum { RUNS = 7 };
    long long times[RUNS];
    long rss_before = rss_kb();
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    for (int i = 0; i < RUNS; i++) {
        lb_flow_table_clear(&ft);
        long long start = time_usec();
        lb_pipeline_compute(&ctx, &ft);
        times[i] = time_usec() - start;
    }
    long rss_after = rss_kb();
    qsort(times, RUNS, sizeof times[0], compare_ll);
    printf("full compute: %d ports, %d chassis -> %"PRIuSIZE" flows on "
           "node1\n", n_ports, n_chassis, lb_flow_table_count(&ft));
    printf("  median %.1f ms, best %.1f ms, worst %.1f ms (%d runs; "
           "target <= 100 ms)\n", times[RUNS / 2] / 1000.0,
           times[0] / 1000.0, times[RUNS - 1] / 1000.0, RUNS);
    printf("  memory for the desired flows: about %ld KiB\n",
           rss_after - rss_before);

    /* One port moves between two remote chassis, then to this one. */
    lb_flow_table_set_tracking(&ft, true);
    struct lb_port *port = lb_model_find_port(&model, "default_pod1");
    const char *moves[] = { "node3", "node1", "node2" };
    for (size_t i = 0; i < ARRAY_SIZE(moves); i++) {
        long long start = time_usec();
        lb_port_set_chassis(port, moves[i], NULL);
        lb_pipeline_update_port(&ctx, port->name, port->key, "pods", &ft);
        long long elapsed = time_usec() - start;
        size_t n_tracked = ovs_list_size(&ft.tracked);
        lb_flow_table_clear_tracked(&ft);
        printf("one port to %s: %.3f ms, %"PRIuSIZE" flow changes "
               "(target <= 1 ms, O(1) flow-mods)\n", moves[i],
               elapsed / 1000.0, n_tracked);
    }

    lb_flow_table_destroy(&ft);
    simap_destroy(&ifaces);
    simap_destroy(&tunnels);
    lb_model_destroy(&model);
    return 0;
}
