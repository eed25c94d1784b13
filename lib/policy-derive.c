/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Policy endpoints derived from the cluster's objects and the model: the
 * port's key and addresses from the model, its namespace from its
 * LogicalPort, its labels and named ports from its pod.  A VM's pod is its
 * LogicalPort's active owner (KubeVirt copies the VMI's labels to every
 * virt-launcher pod, so the source and the target pod carry the same), or
 * while that one is not cached the alternate owner.  Pure. */

#include <config.h>
#include "policy.h"

#include "derive.h"
#include "k8s-objects.h"
#include "model.h"
#include "sset.h"
#include "util.h"

static struct lb_policy_endpoint *
endpoint_of(const struct lb_cluster *cluster, const struct lb_port *port)
{
    const struct lb_logical_port *lp
        = lb_cluster_find_logical_port_by_port_name(cluster, port->name);
    if (!lp) {
        return NULL;
    }
    const char *names[2] = { lp->vm ? lp->active_pod : lp->pod,
                             lp->vm ? lp->alternate_pod : NULL };
    const struct lb_pod *pod = NULL;
    for (size_t i = 0; !pod && i < 2; i++) {
        if (names[i]) {
            pod = lb_cluster_find_pod(cluster, lp->ns, names[i]);
        }
    }

    struct lb_policy_endpoint *ep = lb_policy_endpoint_create(port->name,
                                                              lp->ns,
                                                              port->key);
    for (size_t i = 0; i < port->n_ipv4 && i < LB_POLICY_MAX_ADDRS; i++) {
        ep->ipv4[ep->n_ipv4++] = port->ipv4[i];
    }
    for (size_t i = 0; i < port->n_ipv6 && i < LB_POLICY_MAX_ADDRS; i++) {
        ep->ipv6[ep->n_ipv6++] = port->ipv6[i];
    }
    if (pod) {
        smap_clone(&ep->labels, &pod->labels);
        for (size_t i = 0; i < pod->n_ports; i++) {
            lb_policy_endpoint_add_named_port(ep, pod->ports[i].name,
                                              pod->ports[i].proto,
                                              pod->ports[i].port);
        }
    }
    return ep;
}

static void
sync_one(struct lb_policy_engine *e, const struct lb_cluster *cluster,
         const struct lb_model *model, const char *name)
{
    const struct lb_port *port = lb_model_find_port(model, name);
    struct lb_policy_endpoint *ep = port ? endpoint_of(cluster, port) : NULL;
    if (ep) {
        lb_policy_set_endpoint(e, ep);
    } else {
        lb_policy_remove_endpoint(e, name);
    }
}

void
lb_policy_sync_endpoints(struct lb_policy_engine *e,
                         const struct lb_cluster *cluster,
                         const struct lb_model *model,
                         const struct sset *ports)
{
    const char *name;
    if (ports) {
        SSET_FOR_EACH (name, ports) {
            sync_one(e, cluster, model, name);
        }
        return;
    }
    struct sset names = SSET_INITIALIZER(&names);
    lb_policy_endpoint_names(e, &names);
    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        sset_add(&names, port->name);
    }
    SSET_FOR_EACH (name, &names) {
        sync_one(e, cluster, model, name);
    }
    sset_destroy(&names);
}
