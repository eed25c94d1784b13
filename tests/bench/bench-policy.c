/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* NetworkPolicy compiler benchmark: prints figures, asserts nothing.
 *
 *   bench-policy [--policies N] [--pods N]
 *
 * N pods (default 10,000) in 100 namespaces, dual-stack, each labelled
 * app=a<0..19> and role=client or server; N policies (default 1,000), ten
 * a namespace, each selecting one app for ingress (from clients of its
 * namespace and every pod of namespaces labelled team=<same team>, on
 * TCP 80 and 8000-8080 and the named port "http") and for egress (to an
 * ipBlock with an except, and to servers cluster-wide on UDP 53).  Times
 * the full compile, then incremental changes: a pod's labels, a
 * namespace's labels, one policy. */

#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flow-table.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "policy.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

#define N_NS 100

static struct lb_policy_endpoint *
make_pod(int i, bool relabel)
{
    char port[32], ns[16], app[16];
    snprintf(port, sizeof port, "ns%d_pod%d", i % N_NS, i);
    snprintf(ns, sizeof ns, "ns%d", i % N_NS);
    struct lb_policy_endpoint *ep = lb_policy_endpoint_create(
        port, ns, (1u << 24) | (i + 10));
    snprintf(app, sizeof app, "a%d", (i / N_NS + relabel) % 20);
    smap_add(&ep->labels, "app", app);
    smap_add(&ep->labels, "role", i % 3 ? "client" : "server");
    ep->ipv4[ep->n_ipv4++] = htonl(0x0a000000 + i + 10);
    struct in6_addr a6 = IN6ADDR_ANY_INIT;
    a6.s6_addr[0] = 0xfd;
    a6.s6_addr[14] = (i + 10) >> 8;
    a6.s6_addr[15] = (i + 10) & 0xff;
    ep->ipv6[ep->n_ipv6++] = a6;
    lb_policy_endpoint_add_named_port(ep, "http", 6, 8080 + i % 2);
    return ep;
}

static struct lb_namespace *
make_ns(int i, int team)
{
    struct lb_namespace *ns = xzalloc(sizeof *ns);
    ns->name = xasprintf("ns%d", i);
    smap_init(&ns->labels);
    char t[16];
    snprintf(t, sizeof t, "t%d", team);
    smap_add(&ns->labels, "team", t);
    return ns;
}

static struct lb_network_policy *
make_policy(int i, int port)
{
    char *json = xasprintf(
        "{\"metadata\":{\"namespace\":\"ns%d\",\"name\":\"p%d\"},"
        "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
        "\"policyTypes\":[\"Ingress\",\"Egress\"],"
        "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
        "{\"role\":\"client\"}}},{\"namespaceSelector\":{\"matchLabels\":"
        "{\"team\":\"t%d\"}}}],\"ports\":[{\"port\":%d},{\"port\":8000,"
        "\"endPort\":8080},{\"port\":\"http\"}]}],"
        "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\","
        "\"except\":[\"192.168.%d.0/24\"]}}]},"
        "{\"to\":[{\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":"
        "{\"role\":\"server\"}}}],\"ports\":[{\"protocol\":\"UDP\","
        "\"port\":53}]}]}}",
        i % N_NS, i, (i / N_NS) % 20, (i % N_NS) % 25, port, i % 256);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    struct lb_network_policy *np;
    char *error = lb_network_policy_from_json(j, &np);
    json_decref(j);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    return np;
}

static double
ms_since(long long int start)
{
    return (time_usec() - start) / 1000.0;
}

/* Runs 'ofctrl' until the switch holds 'ft' as of 'seqno' (the agent's own
 * loop, lib/agent.c, without the rest of the agent): the time the flows
 * take to reach ovs-vswitchd, in bundles, and be acknowledged. */
static double
install(struct ofctrl *ofctrl, struct lb_flow_table *ft, uint64_t seqno)
{
    long long int start = time_usec();
    for (;;) {
        ofctrl_run(ofctrl);
        ofctrl_put(ofctrl, ft, seqno);
        if (ofctrl_get_installed_seqno(ofctrl) >= seqno) {
            return ms_since(start);
        }
        ofctrl_run(ofctrl);
        ofctrl_wait(ofctrl);
        poll_timer_wait(100);
        poll_block();
    }
}

static uint64_t
flow_mods(const struct ofctrl *ofctrl)
{
    struct ofctrl_stats st;
    ofctrl_get_stats(ofctrl, &st);
    return st.n_flow_mods;
}

int
main(int argc, char *argv[])
{
    int n_policies = 1000, n_pods = 10000;
    const char *target = NULL;
    static const struct option long_options[] = {
        { "policies", required_argument, NULL, 'p' },
        { "pods", required_argument, NULL, 'n' },
        { "install", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", long_options, NULL)) != -1;) {
        if (c == 'p') {
            n_policies = atoi(optarg);
        } else if (c == 'n') {
            n_pods = atoi(optarg);
        } else if (c == 'i') {
            target = optarg;
        } else {
            exit(EXIT_FAILURE);
        }
    }

    struct lb_policy_engine *e = lb_policy_engine_create();
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);

    long long int start = time_usec();
    for (int i = 0; i < N_NS; i++) {
        lb_policy_set_namespace(e, make_ns(i, i % 25));
    }
    for (int i = 0; i < n_pods; i++) {
        lb_policy_set_endpoint(e, make_pod(i, false));
    }
    for (int i = 0; i < n_policies; i++) {
        lb_policy_set_policy(e, make_policy(i, 80));
    }
    double t_load = ms_since(start);
    start = time_usec();
    lb_policy_engine_run(e, NULL, NULL);
    double t_compile = ms_since(start);
    start = time_usec();
    lb_policy_put_flows(e, &ft);
    double t_put = ms_since(start);

    struct ds s = DS_EMPTY_INITIALIZER;
    lb_policy_format_stats(e, &s);
    printf("bench-policy: %d policies, %d pods (dual-stack) in %d "
           "namespaces\n", n_policies, n_pods, N_NS);
    printf("  inputs loaded:            %8.1f ms\n", t_load);
    printf("  full compile:             %8.1f ms\n", t_compile);
    printf("  flows out (%7"PRIuSIZE"):       %8.1f ms\n",
           lb_flow_table_count(&ft), t_put);
    printf("  %s", ds_cstr(&s));

    /* With --install, the flows into a real switch through ofctrl, as the
     * agent installs them; then one policy's port changed, installed. */
    struct ofctrl *ofctrl = NULL;
    if (target) {
        ofctrl = ofctrl_create(target, NULL, NULL);
        lb_flow_table_set_tracking(&ft, true);
        uint64_t mods = flow_mods(ofctrl);
        double t = install(ofctrl, &ft, 1);
        printf("  installed into %s:\n"
               "    all the flows:          %8.1f ms (%"PRIu64" flow-mods,"
               " connection and the switch's dump included)\n",
               target, t, flow_mods(ofctrl) - mods);
        lb_policy_set_policy(e, make_policy(0, 79));
        lb_policy_engine_run(e, &ft, NULL);
        mods = flow_mods(ofctrl);
        t = install(ofctrl, &ft, 2);
        printf("    one policy's port then: %8.1f ms (%"PRIu64" flow-mods)"
               "\n", t, flow_mods(ofctrl) - mods);
    }

    /* Incremental changes, each with its flows rewritten. */
    static const struct {
        const char *what;
        int n;
    } changes[] = {
        { "a pod's labels", 100 },
        { "a namespace's labels", 20 },
        { "one policy's port", 100 },
    };
    for (size_t k = 0; k < ARRAY_SIZE(changes); k++) {
        long long int worst = 0, total = 0;
        size_t n_ports = 0;
        uint64_t compiles = lb_policy_compiles(e);
        for (int i = 0; i < changes[k].n; i++) {
            struct sset changed = SSET_INITIALIZER(&changed);
            long long int t0 = time_usec();
            if (k == 0) {
                lb_policy_set_endpoint(e, make_pod(i * 97 % n_pods, true));
            } else if (k == 1) {
                lb_policy_set_namespace(e, make_ns(i, (i + 1) % 25));
            } else {
                lb_policy_set_policy(e, make_policy(i * 7 % n_policies,
                                                    81 + i));
            }
            lb_policy_engine_run(e, &ft, &changed);
            long long int dt = time_usec() - t0;
            total += dt;
            worst = MAX(worst, dt);
            n_ports += sset_count(&changed);
            sset_destroy(&changed);
        }
        printf("  incremental, %-22s %d changes: mean %.2f ms, max %.2f ms,"
               " %"PRIuSIZE" isolation changes, %.1f policies compiled"
               " each\n", changes[k].what,
               changes[k].n, total / 1000.0 / changes[k].n, worst / 1000.0,
               n_ports, (double) (lb_policy_compiles(e) - compiles)
               / changes[k].n);
    }

    ds_destroy(&s);
    ofctrl_destroy(ofctrl);
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
    return 0;
}
