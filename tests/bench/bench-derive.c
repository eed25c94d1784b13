/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Derivation benchmark (issue 18): prints figures, asserts nothing.
 *
 *   bench-derive [--pods N] [--rounds N]
 *
 * Caches N ordinary pods with their LogicalPorts beside one migrating VM
 * (its VMI, VMIM, source and target pods), then times the incremental
 * derivations an agent runs for each change of that VM during its
 * migration: its port's binding (lb_derive_ports()) and its migration
 * facts (lb_derive_migrations_of()), against one full derivation. */

#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "derive.h"
#include "lb-json.h"
#include "migration.h"
#include "model.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

/* test-fixtures.h reports a bad fixture through cmocka's fail_msg(). */
#define fail_msg(...) (fprintf(stderr, __VA_ARGS__), abort())
#include "../unit/test-fixtures.h"

static void
upsert(struct lb_cluster *cluster, enum lb_kind kind, json_t *json)
{
    char *error = lb_cluster_upsert_json(cluster, kind, json, NULL);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    json_decref(json);
}

static void
build_cluster(struct lb_cluster *cluster, int n_pods)
{
    upsert(cluster, LB_KIND_LOGICAL_SWITCH,
           fixture("livebind/logicalswitch-pods.json"));
    upsert(cluster, LB_KIND_NODE, fixture("kubevirt/17-node.json"));

    for (int i = 0; i < n_pods; i++) {
        char name[32], ip[32];
        snprintf(name, sizeof name, "pod%d", i);
        snprintf(ip, sizeof ip, "10.16.%d.%d", 1 + i / 250, 1 + i % 250);

        json_t *pod = fixture("kubevirt/02-pod-source.json");
        jset(pod, "metadata>name", lb_json_str(name));
        jset(pod, "metadata>uid", lb_json_str(name));
        jset(pod, "metadata>ownerReferences", NULL);
        jset(pod, "metadata>labels", NULL);
        jset(pod, "metadata>annotations", NULL);
        upsert(cluster, LB_KIND_POD, pod);

        json_t *lp = fixture("livebind/logicalport-testvm-new.json");
        jset(lp, "metadata>name", lb_json_str(name));
        jset(lp, "metadata>uid", lb_json_str(name));
        jset(lp, "spec>vm", NULL);
        jset(lp, "spec>pod", lb_json_str(name));
        jset(lp, "spec>tunnelKey", NULL);
        jset(lp, "spec>mac", NULL);
        jset(lp, "spec>ips", json_pack("[s]", ip));
        upsert(cluster, LB_KIND_LOGICAL_PORT, lp);
    }

    /* The migrating VM. */
    upsert(cluster, LB_KIND_LOGICAL_PORT,
           fixture("livebind/logicalport-testvm-migrating.json"));
    upsert(cluster, LB_KIND_VMI, fixture("kubevirt/15-vmi-migrating.json"));
    upsert(cluster, LB_KIND_VMIM, fixture("kubevirt/08-vmim-running.json"));
    upsert(cluster, LB_KIND_POD, fixture("kubevirt/02-pod-source.json"));
    upsert(cluster, LB_KIND_POD,
           fixture("kubevirt/13-pod-target-domain-ready.json"));
}

int
main(int argc, char *argv[])
{
    int n_pods = 10000, rounds = 2000;

    for (;;) {
        static const struct option options[] = {
            { "pods", required_argument, NULL, 'p' },
            { "rounds", required_argument, NULL, 'r' },
            { NULL, 0, NULL, 0 },
        };
        int c = getopt_long(argc, argv, "", options, NULL);
        if (c == -1) {
            break;
        } else if (c == 'p') {
            n_pods = atoi(optarg);
        } else if (c == 'r') {
            rounds = atoi(optarg);
        } else {
            ovs_fatal(0, "usage: %s [--pods N] [--rounds N]", argv[0]);
        }
    }
    rounds = MAX(rounds, 1);

    struct lb_cluster cluster;
    lb_cluster_init(&cluster);
    long long int start = time_msec();
    build_cluster(&cluster, MAX(n_pods, 0));
    printf("cached %"PRIuSIZE" pods, %"PRIuSIZE" ports in %lld ms\n",
           lb_cluster_count(&cluster, LB_KIND_POD),
           lb_cluster_count(&cluster, LB_KIND_LOGICAL_PORT),
           time_msec() - start);

    struct lb_model model;
    lb_model_init(&model);
    start = time_msec();
    lb_derive_model(&cluster, &model);
    printf("full derivation: %lld ms (%"PRIuSIZE" ports)\n",
           time_msec() - start, hmap_count(&model.ports));

    struct sset ports = SSET_INITIALIZER(&ports);
    sset_add(&ports, "default_testvm");
    start = time_msec();
    for (int i = 0; i < rounds; i++) {
        if (!lb_derive_ports(&cluster, &ports, &model)) {
            ovs_fatal(0, "lb_derive_ports refused");
        }
    }
    long long int elapsed = time_msec() - start;
    printf("incremental derivation of one VM's port: %.1f us "
           "(%d rounds)\n", elapsed * 1000.0 / rounds, rounds);
    const struct lb_port *port = lb_model_find_port(&model,
                                                    "default_testvm");
    printf("  its binding: chassis %s, additional %s\n",
           port && port->chassis ? port->chassis : "(none)",
           port && port->additional_chassis ? port->additional_chassis
           : "(none)");

    struct lb_migration_table table;
    lb_migration_table_init(&table);
    start = time_msec();
    for (int i = 0; i < rounds; i++) {
        lb_derive_migrations_of(&cluster, &ports, &table, i);
    }
    elapsed = time_msec() - start;
    printf("incremental migration facts of one VM's port: %.1f us "
           "(%d rounds)\n", elapsed * 1000.0 / rounds, rounds);

    lb_migration_table_destroy(&table);
    sset_destroy(&ports);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
    return 0;
}
