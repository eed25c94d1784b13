/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Kubernetes objects (lib/k8s-objects): one JSON object, as a watch event or
 * list item carries it, given to the parser of every kind livebind watches.
 *
 * Invariants: a parsed object equals itself and a copy parsed again from the
 * same JSON; nothing leaks. */

#include <config.h>
#include <string.h>
#include "fuzz.h"
#include "k8s-objects.h"
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
