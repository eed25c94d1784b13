/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Kubernetes objects (lib/k8s-objects): one JSON object, as a watch event or
 * list item carries it, given to the parser of every kind livebind watches.
 *
 * Invariants: a parsed object equals itself and a copy parsed again from the
 * same JSON; nothing leaks; a NetworkPolicy compiles, and its flows go with
 * it. */

#include <config.h>
#include <string.h>
#include "fuzz.h"
#include "flow-table.h"
#include "k8s-objects.h"
#include "policy.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

/* Parses 'json' as a KIND twice; if it parses, checks equality and runs
 * 'EXTRA(obj)'. */
#define FUZZ_KIND(KIND, JSON, EXTRA)                                    \
    do {                                                                \
        struct lb_##KIND *a = NULL, *b = NULL;                          \
        char *error = lb_##KIND##_from_json(JSON, &a);                  \
        if (error) {                                                    \
            FUZZ_ASSERT(error[0], #KIND ": empty error message");       \
            free(error);                                                \
            break;                                                      \
        }                                                               \
        error = lb_##KIND##_from_json(JSON, &b);                        \
        FUZZ_ASSERT(!error, #KIND ": parsed once, not twice: %s", error); \
        FUZZ_ASSERT(lb_##KIND##_equal(a, a) && lb_##KIND##_equal(a, b), \
                    #KIND ": not equal to itself");                     \
        EXTRA(a);                                                       \
        lb_##KIND##_destroy(a);                                         \
        lb_##KIND##_destroy(b);                                         \
    } while (0)

static void
pod_extra(const struct lb_pod *pod)
{
    const char *port = lb_pod_logical_port_name(pod);
    const char *vm = lb_pod_vm_name(pod);

    FUZZ_ASSERT(!port || (port[0] && strlen(port) < 1024), "port name");
    FUZZ_ASSERT(!pod->host_network || !port,
                "a hostNetwork pod has port \"%s\"", port);
    FUZZ_ASSERT(!vm || vm[0], "empty VM name");
    /* Secondary NICs (multinic.h): a port each, or an error saying why
     * none. */
    FUZZ_ASSERT(!pod->nics_error || !pod->n_nics, "NICs and an error");
    FUZZ_ASSERT(pod->n_nics <= LB_NICS_MAX, "%zu NICs", pod->n_nics);
    for (size_t i = 0; i < lb_pod_n_port_names(pod); i++) {
        const char *name = lb_pod_port_name_at(pod, i);
        FUZZ_ASSERT(name && name[0], "NIC %zu: no port name", i);
    }
    (void) lb_pod_is_migration_target(pod);
    (void) lb_pod_is_finished(pod);
}

static void
vmim_extra(const struct lb_vmim *vmim)
{
    (void) lb_vmim_abort_succeeded(vmim);
    (void) lb_vmim_phase_is_final(vmim->phase);
    FUZZ_ASSERT(lb_vmim_phase_to_string(vmim->phase), "phase name");
}

static void
port_extra(const struct lb_logical_port *lp)
{
    FUZZ_ASSERT(!lp->vm != !lp->pod, "LogicalPort %s: vm and pod",
                lp->name);
    FUZZ_ASSERT(lp->n_ips <= LB_MAX_IPS, "%zu IPs", lp->n_ips);
}

/* A NetworkPolicy that parses compiles, over a few endpoints of its
 * namespace and another, into rule flows that go again when it is
 * removed. */
static void
fuzz_policy(const json_t *json)
{
    struct lb_network_policy *np;
    char *error = lb_network_policy_from_json(json, &np);
    if (error) {
        free(error);
        return;
    }
    struct lb_policy_engine *e = lb_policy_engine_create();
    for (size_t i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "ep%zu", i);
        struct lb_policy_endpoint *ep = lb_policy_endpoint_create(
            name, i & 1 ? "other" : np->ns, 0x1000000 + i);
        smap_add(&ep->labels, "app", i < 2 ? "a" : "b");
        ep->ipv4[ep->n_ipv4++] = htonl(0x0a000000 + i);
        ep->ipv6[ep->n_ipv6].s6_addr[0] = 0xfd;
        ep->ipv6[ep->n_ipv6++].s6_addr[15] = i;
        lb_policy_endpoint_add_named_port(ep, "http", 6, 80 + i);
        lb_policy_set_endpoint(e, ep);
    }
    char *ns = xstrdup(np->ns), *name = xstrdup(np->name);
    lb_policy_set_policy(e, np);

    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    lb_policy_engine_run(e, &ft, NULL);
    lb_policy_remove_policy(e, ns, name);
    lb_policy_engine_run(e, &ft, NULL);
    FUZZ_ASSERT(!lb_flow_table_count(&ft), "rule flows left");
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
    free(ns);
    free(name);
}

#define NOTHING(X) (void) (X)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *) data, size, 0, NULL);
    if (!json) {
        return 0;
    }

    FUZZ_KIND(pod, json, pod_extra);
    FUZZ_KIND(node, json, NOTHING);
    FUZZ_KIND(vmi, json, NOTHING);
    FUZZ_KIND(vmim, json, vmim_extra);
    FUZZ_KIND(logical_switch, json, NOTHING);
    FUZZ_KIND(logical_port, json, port_extra);
    FUZZ_KIND(namespace, json, NOTHING);
    FUZZ_KIND(network_policy, json, NOTHING);
    fuzz_policy(json);

    char *ns = NULL, *name = NULL, *uid = NULL;
    char *error = lb_k8s_metadata_from_json(json, &ns, &name, &uid);
    if (error) {
        free(error);
    } else {
        FUZZ_ASSERT(name && name[0], "metadata without a name");
    }
    free(ns);
    free(name);
    free(uid);

    json_decref(json);
    return 0;
}
