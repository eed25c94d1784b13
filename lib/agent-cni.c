/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The agent's side of CNI (agent-cni.h): the plugin forwards each request
 * over a unix socket (cni-server.c) and this part carries it out.
 *
 * ADD finds or allocates the pod's logical port in the Kubernetes API,
 * plumbs the pod (veth, addresses, routes; the host end on br-int) and
 * answers only once the port's flows are in the switch.  A migration target
 * pod reuses its VM's port: same name, IP and MAC, nothing allocated; the
 * port is then bound to this node as well, blocked until activation.
 *
 * Addresses are unique cluster-wide because each one is an IPAllocation
 * object, created only if absent: the API server's AlreadyExists decides
 * between agents that picked the same address at the same time.
 *
 * Nothing is left half-done: a failed or abandoned ADD undoes its plumbing
 * (the runtime then retries or deletes), and DEL succeeds whatever is
 * already gone.
 *
 * Owns: the CNI socket's server and the ADDs in progress.  Reads the
 * objects, the model, the flows' progress and br-int's interfaces from the
 * core's view; plumbs pods and puts their host ends on br-int itself; asks
 * the core for every write to the API, and gets the outcomes of IP
 * allocations and port creations back from it. */

#include <config.h>
#include "agent-cni.h"

#include <errno.h>
#include <string.h>
#include "agent-view.h"
#include "agent-writes.h"
#include "cni-server.h"
#include "cni.h"
#include "derive.h"
#include "ipam.h"
#include "k8s-objects.h"
#include "metrics.h"
#include "model.h"
#include "multinic.h"
#include "netns-fd.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "packets.h"
#include "pod-plumb.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_cni);

#define DEFAULT_SWITCH "pods"
#define MAX_ALLOCATION_ATTEMPTS 64

enum add_state {
    ADD_FIND,                   /* Waiting for the pod and its port. */
    ADD_ALLOCATING,             /* IPAllocation in flight. */
    ADD_WAIT_FLOWS,             /* Plumbed; waiting for port and flows. */
};

/* The write to the API an ADD waits for. */
enum add_write {
    WRITE_NONE,
    WRITE_ALLOCATION,           /* LB_WRITE_ALLOCATE. */
    WRITE_PORT,                 /* LB_WRITE_CREATE_PORT. */
};

struct cni_add {
    struct ovs_list list_node;  /* In lb_agent_cni's 'adds'. */
    struct lb_agent_cni *cni;
    struct cni_reply_ctx *ctx;
    const struct cni_request *req;
    int netns_fd;               /* The pod's namespace, 'ctx''s. */
    enum add_state state;
    long long int deadline;

    char *cr_name;              /* LogicalPort object name: the VM or pod,
                                 * and a secondary NIC's interface
                                 * (multinic.h). */
    char *port_name;            /* Logical port name, "<ns>_<cr_name>". */
    char *host_ifname;
    bool target;                /* Migration target pod. */
    bool plumbed;
    bool saw_port;              /* Its port has been in the cache. */

    ovs_be32 ip;                /* Being allocated: an IPv4 address or,
                                 * on an IPv6-only switch, a host number
                                 * (lib/ipam.h); either gives the MAC. */
    struct sset tried;          /* Those found taken. */
    enum add_write write;       /* Write in flight, if any... */
    uint64_t write_tag;         /* ...and its tag. */
    uint64_t target_seqno;      /* Flows to wait for, or 0. */
};

struct lb_agent_cni {
    const struct lb_agent_view *view;   /* The core's. */
    struct cni_server *server;
    struct ovs_list adds;       /* Contains "struct cni_add". */
    struct ovs_list orphans;    /* Contains "struct orphan_write". */
    uint64_t next_tag;          /* For writes whose outcome ADDs await. */
};

/* The write of an ADD that is gone (its plugin hung up, say) while the
 * write was in flight.  It is not cancelled, since the API server may
 * already be carrying it out: its outcome says whether the address the
 * ADD was taking must be given back. */
struct orphan_write {
    struct ovs_list list_node;  /* In lb_agent_cni's 'orphans'. */
    uint64_t tag;
    enum add_write what;
    char *switch_name;
    ovs_be32 ip;
};

static void add_step(struct cni_add *);
static bool plumb_attachment(struct cni_add *,
                             const struct pod_attachment *);
static struct pod_attachment make_attachment(
    const struct cni_request *, int netns_fd, const char *host_ifname,
    const struct lb_logical_switch *, ovs_be32 ip,
    const struct in6_addr *ip6, struct eth_addr mac);

/* Helpers. */

static const char *
ip_to_string(ovs_be32 ip, char buf[INET_ADDRSTRLEN])
{
    snprintf(buf, INET_ADDRSTRLEN, IP_FMT, IP_ARGS(ip));
    return buf;
}

static const struct lb_pod *
find_pod(const struct lb_agent_cni *cni, const struct cni_request *req)
{
    return lb_cluster_find_pod(cni->view->cluster, req->pod_namespace,
                               req->pod_name);
}

/* What an ADD allocates in 'sw': an IPv4 address of its subnet or, on an
 * IPv6-only switch, a host number (lib/ipam.h).  Outside the switch's
 * excludeIPs in both families: the IPv6 address follows from the MAC the
 * pick gives, so it is checked there. */
static struct lb_ipam_subnet
host_space(const struct lb_logical_switch *sw)
{
    struct lb_ipam_subnet space = LB_IPAM_V6ONLY_HOSTS;
    if (sw->prefix_len) {
        space = (struct lb_ipam_subnet) {
            .network = sw->subnet, .prefix_len = sw->prefix_len,
            .gateway = sw->gateway,
        };
    }
    space.exclude = sw->exclude;
    space.n_exclude = sw->n_exclude;
    space.prefix6 = sw->has_prefix6 ? &sw->prefix6 : NULL;
    return space;
}

/* The IPv6 address in 'sw' of the port allocated 'host' (see cni_add's
 * 'ip'), if 'sw' has a prefix: the prefix and the EUI-64 of the MAC. */
static bool
host_ip6(const struct lb_logical_switch *sw, ovs_be32 host,
         struct in6_addr *ip6)
{
    if (!sw->has_prefix6) {
        return false;
    }
    struct lb_ipam_prefix6 p6 = { .prefix = sw->prefix6 };
    lb_ipam_ipv6_address(&p6, lb_ipam_mac(host), ip6);
    return true;
}

/* A new write about the address(es) of 'host' in 'sw': its IPv6 one if
 * 'ipv6', else its IPv4 one. */
static struct lb_write *
address_write(enum lb_write_kind kind, const char *ns, const char *name,
              const struct lb_logical_switch *sw, ovs_be32 host, bool ipv6)
{
    struct lb_write *w = lb_write_new(kind, ns, name);
    w->switch_name = xstrdup(sw->name);
    if (ipv6) {
        w->has_ip6 = host_ip6(sw, host, &w->ip6);
    } else {
        w->ip = host;
    }
    return w;
}

/* The name of the host end of the pod's interface 'ifname' (of container
 * 'container_id'): the pod network's as ever, another NIC's from both. */
static char *
nic_host_ifname(const char *container_id, const char *ifname)
{
    if (lb_ifname_is_primary(ifname)) {
        return pod_plumb_host_ifname(container_id);
    }
    char *key = xasprintf("%s/%s", container_id, ifname);
    char *name = pod_plumb_host_ifname(key);
    free(key);
    return name;
}

/* The switch a new port of 'add' goes on.  A secondary NIC's (Multus runs
 * livebind with its NetworkAttachmentDefinition's configuration): the
 * configuration's "logicalSwitch", else its network name.  The pod
 * network's: the one the pod's livebind.io/logical-switch annotation names
 * (a provider network, say), else DEFAULT_SWITCH.  A VM's pods carry the
 * same annotations, and a target pod reuses the VM's ports on whatever
 * switches they are. */
static const char *
switch_name(const struct cni_add *add)
{
    if (!lb_ifname_is_primary(add->req->ifname)) {
        const struct cni_config *config = &add->req->config;
        return config->logical_switch ? config->logical_switch
                                      : config->name;
    }
    const struct lb_pod *pod = find_pod(add->cni, add->req);
    return pod && pod->logical_switch ? pod->logical_switch : DEFAULT_SWITCH;
}

static const struct lb_logical_switch *
find_switch(const struct cni_add *add)
{
    return lb_cluster_find_logical_switch(add->cni->view->cluster,
                                          switch_name(add));
}

/* Asks the core for 'w'. */
static void
write_api(struct lb_agent_cni *cni, struct lb_write *w)
{
    ovs_list_push_back(cni->view->writes, &w->list_node);
}

/* Asks for 'w' on behalf of 'add', which waits for its outcome. */
static void
write_api_for(struct cni_add *add, enum add_write what, struct lb_write *w)
{
    add->write = what;
    add->write_tag = w->tag = ++add->cni->next_tag;
    write_api(add->cni, w);
}

/* Records a pod as the active owner of port 'cr_name' in 'ns', or as its
 * alternate owner if 'migration_uid' is nonnull. */
static void
record_owner(struct lb_agent_cni *cni, const char *ns, const char *cr_name,
             const struct lb_pod *pod, const char *migration_uid)
{
    struct lb_write *w = lb_write_new(LB_WRITE_OWNER, ns, cr_name);
    w->pod = xstrdup(pod->name);
    w->pod_uid = nullable_xstrdup(pod->uid);
    w->node = xstrdup(cni->view->chassis);
    w->migration_uid = nullable_xstrdup(migration_uid);
    write_api(cni, w);
}

static void
orphan_write_free(struct orphan_write *o)
{
    if (o) {
        free(o->switch_name);
        free(o);
    }
}

/* 'add' is abandoned with an API write in flight: its outcome is left to
 * the orphan list, which gives back what it made, or it is cancelled.
 * Reads 'add->req': call it before the reply, which frees the request. */
static void
add_drop_write(struct cni_add *add)
{
    if (!add->write) {
        return;
    }
    const struct lb_logical_switch *sw = find_switch(add);
    if (sw) {
        struct orphan_write *o = xzalloc(sizeof *o);
        o->tag = add->write_tag;
        o->what = add->write;
        o->switch_name = xstrdup(sw->name);
        o->ip = add->ip;
        ovs_list_push_back(&add->cni->orphans, &o->list_node);
    } else {
        struct lb_write *w = lb_write_new(LB_WRITE_CANCEL, NULL, NULL);
        w->tag = add->write_tag;
        write_api(add->cni, w);
    }
    add->write = WRITE_NONE;
}

/* Frees 'add', whose request has been answered (and so freed): nothing
 * here may read 'add->req'. */
static void
add_destroy(struct cni_add *add)
{
    if (add) {
        ovs_assert(!add->write);
        ovs_list_remove(&add->list_node);
        sset_destroy(&add->tried);
        free(add->cr_name);
        free(add->port_name);
        free(add->host_ifname);
        free(add);
    }
}

static void
undo_plumbing(struct cni_add *add)
{
    if (add->plumbed) {
        char *error = NULL;
        ovs_bridge_del_iface(add->cni->view->bridge, add->host_ifname);
        if (pod_plumb_del(add->netns_fd, add->req->netns, add->req->ifname,
                          add->host_ifname, &error)) {
            VLOG_WARN("%s/%s: undoing plumbing: %s", add->req->pod_namespace,
                      add->req->pod_name, error);
        }
        free(error);
        add->plumbed = false;
    }
}

/* A VM's migration target pod that cannot get its port needs a human: an
 * Event on the VMI says so where operators look. */
static void
event_target_port_failed(struct lb_agent_cni *cni,
                         const struct cni_request *req, const char *msg)
{
    const struct lb_pod *pod = (cni->view->cluster ? find_pod(cni, req)
                                : NULL);
    const char *vm = pod ? lb_pod_vm_name(pod) : NULL;
    const struct lb_vmi *vmi = (vm && lb_pod_is_migration_target(pod)
                                ? lb_cluster_find_vmi(cni->view->cluster,
                                                      pod->ns, vm)
                                : NULL);
    if (vmi) {
        struct lb_write *w = lb_write_new(LB_WRITE_EVENT, vmi->ns,
                                          vmi->name);
        w->uid = nullable_xstrdup(vmi->uid);
        w->warning = true;
        w->reason = "LiveMigrationTargetPortFailed";
        w->action = "Bind";
        w->note = xasprintf("the migration target pod %s on %s did not get "
                            "the VM's port: %s", pod->name,
                            cni->view->chassis, msg);
        write_api(cni, w);
    }
}

static void
add_fail(struct cni_add *add, int code, const char *msg,
         const char *details)
{
    VLOG_WARN("ADD %s/%s failed: %s%s%s", add->req->pod_namespace,
              add->req->pod_name, msg, details ? ": " : "",
              details ? details : "");
    if (!cni_reply_ctx_is_closed(add->ctx)) {
        /* (A plugin that hung up is retried by its runtime.) */
        event_target_port_failed(add->cni, add->req, msg);
    }
    undo_plumbing(add);
    add_drop_write(add);
    cni_server_reply_error(add->ctx, code, msg, details);
    add_destroy(add);
}

/* Allocation. */

static void allocate_next(struct cni_add *);

static void
port_created(struct cni_add *add, const struct lb_write_result *result)
{
    if (result->status == 409) {
        /* Someone created the port first, maybe with another address than
         * the one just plumbed: give ours back and start over; the retry
         * reuses theirs. */
        const struct lb_logical_switch *sw = find_switch(add);
        if (sw && sw->prefix_len) {
            write_api(add->cni, address_write(LB_WRITE_DELETE_ALLOCATION,
                                              NULL, NULL, sw, add->ip,
                                              false));
        }
        if (sw && sw->has_prefix6) {
            write_api(add->cni, address_write(LB_WRITE_DELETE_ALLOCATION,
                                              NULL, NULL, sw, add->ip,
                                              true));
        }
        add_fail(add, CNI_ERR_TRY_AGAIN, "the logical port was created "
                 "concurrently", NULL);
        return;
    }
    if (result->error) {
        add_fail(add, CNI_ERR_KUBE_API, "creating the logical port failed",
                 result->error);
        return;
    }
    const struct lb_pod *pod = find_pod(add->cni, add->req);
    if (pod) {
        record_owner(add->cni, add->req->pod_namespace, add->cr_name, pod,
                     NULL);
    }
    /* Wait for the watch to bring the port, then for its flows. */
    add_step(add);
}

static void
create_port(struct cni_add *add, const struct lb_logical_switch *sw)
{
    const struct lb_pod *pod = find_pod(add->cni, add->req);
    struct lb_ipam_subnet space = host_space(sw);
    struct lb_write *w = lb_write_new(LB_WRITE_CREATE_PORT,
                                      add->req->pod_namespace, add->cr_name);
    w->switch_name = xstrdup(sw->name);
    w->tunnel_key = lb_ipam_port_key(sw->tunnel_key, &space, add->ip);
    w->mac = lb_ipam_mac(add->ip);
    w->ip = sw->prefix_len ? add->ip : 0;
    w->has_ip6 = host_ip6(sw, add->ip, &w->ip6);
    w->vm = lb_pod_vm_name(pod) != NULL;
    w->owner = xstrdup(w->vm ? lb_pod_vm_name(pod) : pod->name);
    if (!lb_ifname_is_primary(add->req->ifname)) {
        w->interface = xstrdup(add->req->ifname);
    }
    write_api_for(add, WRITE_PORT, w);
}

static void
allocation_created(struct cni_add *add, const struct lb_write_result *result)
{
    char ip[INET_ADDRSTRLEN];

    if (result->status == 409) {
        /* Another pod, maybe on another node, has this address. */
        sset_add(&add->tried, ip_to_string(add->ip, ip));
        allocate_next(add);
        return;
    }
    if (result->error) {
        add_fail(add, CNI_ERR_KUBE_API, "allocating an IP address failed",
                 result->error);
        return;
    }
    const struct lb_logical_switch *sw = find_switch(add);
    if (!sw) {
        add_fail(add, CNI_ERR_TRY_AGAIN, "the logical switch is gone",
                 switch_name(add));
        return;
    }
    /* On a dual-stack switch the IPv6 address is unique as the IPv4 one
     * is (EUI-64 of the MAC it gives): its IPAllocation is a record, for
     * people and for release, not a contest. */
    if (sw->prefix_len && sw->has_prefix6) {
        write_api(add->cni, address_write(LB_WRITE_ALLOCATE,
                                          add->req->pod_namespace,
                                          add->cr_name, sw, add->ip, true));
    }

    /* The address is ours: plumb while the port object is created, so that
     * the pod's veth and OVS port are ready when its flows can be. */
    create_port(add, sw);
    struct in6_addr ip6;
    bool has_ip6 = host_ip6(sw, add->ip, &ip6);
    struct pod_attachment att = make_attachment(
        add->req, add->netns_fd, add->host_ifname, sw,
        sw->prefix_len ? add->ip : 0,
        has_ip6 ? &ip6 : NULL, lb_ipam_mac(add->ip));
    plumb_attachment(add, &att);
}

/* Collects the addresses known to be in use in switch 'sw': every cached
 * port's, every ADD in flight's, and those found taken. */
static size_t
collect_used(const struct cni_add *add, const struct lb_logical_switch *sw,
             ovs_be32 **usedp)
{
    const struct lb_agent_cni *cni = add->cni;
    const struct shash *ports
        = &cni->view->cluster->objects[LB_KIND_LOGICAL_PORT];
    size_t n = 0, allocated = 0;
    ovs_be32 *used = NULL;

    const struct shash_node *node;
    SHASH_FOR_EACH (node, ports) {
        const struct lb_logical_port *lp = node->data;
        if (strcmp(lp->switch_name, sw->name)) {
            continue;
        }
        for (size_t i = 0; i < lp->n_ips; i++) {
            if (n >= allocated) {
                used = x2nrealloc(used, &allocated, sizeof *used);
            }
            used[n++] = lp->ips[i];
        }
        /* On an IPv6-only switch, the host numbers in the addresses. */
        struct lb_ipam_prefix6 p6 = { .prefix = sw->prefix6 };
        ovs_be32 host;
        for (size_t i = 0; !sw->prefix_len && i < lp->n_ips6; i++) {
            if (lb_ipam_v6only_host(&p6, &lp->ips6[i], &host)) {
                if (n >= allocated) {
                    used = x2nrealloc(used, &allocated, sizeof *used);
                }
                used[n++] = host;
            }
        }
    }
    const struct cni_add *other;
    LIST_FOR_EACH (other, list_node, &cni->adds) {
        if (other->ip) {
            if (n >= allocated) {
                used = x2nrealloc(used, &allocated, sizeof *used);
            }
            used[n++] = other->ip;
        }
    }
    const char *s;
    SSET_FOR_EACH (s, &add->tried) {
        ovs_be32 ip;
        if (ip_parse(s, &ip)) {
            if (n >= allocated) {
                used = x2nrealloc(used, &allocated, sizeof *used);
            }
            used[n++] = ip;
        }
    }
    *usedp = used;
    return n;
}

static void
allocate_next(struct cni_add *add)
{
    const struct lb_logical_switch *sw = find_switch(add);
    if (!sw) {
        add_fail(add, CNI_ERR_TRY_AGAIN, "no such logical switch yet",
                 switch_name(add));
        return;
    }
    if (sset_count(&add->tried) >= MAX_ALLOCATION_ATTEMPTS) {
        add_fail(add, CNI_ERR_TRY_AGAIN, "could not allocate an address "
                 "after many attempts (contention?)", NULL);
        return;
    }

    struct lb_ipam_subnet space = host_space(sw);
    ovs_be32 *used;
    size_t n_used = collect_used(add, sw, &used);
    add->ip = 0;
    ovs_be32 ip;
    bool ok = lb_ipam_pick(&space, used, n_used, add->port_name, &ip);
    free(used);
    if (!ok) {
        add_fail(add, CNI_ERR_IP_EXHAUSTED, "no free address in the "
                 "logical switch", sw->name);
        return;
    }
    add->ip = ip;

    /* The contested allocation: the IPv4 address, or on an IPv6-only
     * switch the IPv6 one (whose host number it is). */
    struct lb_write *w = address_write(LB_WRITE_ALLOCATE,
                                       add->req->pod_namespace, add->cr_name,
                                       sw, ip, !sw->prefix_len);
    add->state = ADD_ALLOCATING;
    write_api_for(add, WRITE_ALLOCATION, w);
}

/* For people and tools: the pod says which port it plugs into. */
static void
annotate_pod(struct lb_agent_cni *cni, const char *ns, const char *name,
             const char *port_name, const struct pod_attachment *att)
{
    struct lb_write *w = lb_write_new(LB_WRITE_ANNOTATE_POD, ns, name);
    w->port_name = xstrdup(port_name);
    w->ip = att->ip;
    w->has_ip6 = att->has_ip6;
    w->ip6 = att->ip6;
    w->mac = att->mac;
    write_api(cni, w);
}

/* Plumbing. */

/* The attachment of 'req''s pod: IPv4 address 'ip' (0 for none), IPv6
 * address 'ip6' (NULL for none) and MAC 'mac' in 'sw'.  Only the pod
 * network's interface gets the default routes: a secondary NIC (Multus's
 * net1, ...) must not take them over. */
static struct pod_attachment
make_attachment(const struct cni_request *req, int netns_fd,
                const char *host_ifname,
                const struct lb_logical_switch *sw, ovs_be32 ip,
                const struct in6_addr *ip6, struct eth_addr mac)
{
    bool primary = lb_ifname_is_primary(req->ifname);
    struct pod_attachment att = {
        .netns_fd = netns_fd,
        .netns_path = CONST_CAST(char *, req->netns),
        .ifname = CONST_CAST(char *, req->ifname),
        .host_ifname = CONST_CAST(char *, host_ifname),
        .mac = mac,
        .mtu = sw->mtu ? sw->mtu : 1400,
        .ip = ip,
        .prefix_len = sw->prefix_len,
        .gateway = ip && primary ? sw->gateway : 0,
    };
    if (ip6) {
        att.has_ip6 = true;
        att.ip6 = *ip6;
        if (primary) {
            att.gateway6 = sw->gateway6;
        }
    }
    return att;
}

/* The attachment of 'add''s pod to port 'lp', if 'lp' has an address. */
static bool
fill_attachment(const struct cni_add *add, const struct lb_logical_port *lp,
                const struct lb_logical_switch *sw,
                struct pod_attachment *att)
{
    struct eth_addr mac;
    struct in6_addr ip6[LB_MAX_IPS];
    if (!lb_logical_port_mac(lp, &mac)) {
        return false;
    }
    size_t n_ip6 = lb_logical_port_ipv6(lp, sw->has_prefix6 ? &sw->prefix6
                                        : NULL, mac, ip6);
    if (!lp->n_ips && !n_ip6) {
        return false;
    }
    *att = make_attachment(add->req, add->netns_fd, add->host_ifname, sw,
                           lp->n_ips ? lp->ips[0] : 0, n_ip6 ? &ip6[0] : NULL,
                           mac);
    return true;
}

/* Plumbs the pod as 'att' says and puts its host end on the bridge.
 * Returns false (having failed 'add') on error. */
static bool
plumb_attachment(struct cni_add *add, const struct pod_attachment *att)
{
    struct lb_agent_cni *cni = add->cni;
    const struct lb_pod *pod = find_pod(cni, add->req);
    struct eth_addr mac = att->mac;

    char *error = NULL;
    if (pod_plumb_add(att, &error)) {
        add_fail(add, CNI_ERR_PLUMBING, "plumbing the pod failed", error);
        free(error);
        return false;
    }
    add->plumbed = true;

    char macbuf[ETH_ADDR_STRLEN + 1];
    snprintf(macbuf, sizeof macbuf, ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
    struct smap ids = SMAP_INITIALIZER(&ids);
    smap_add(&ids, "iface-id", add->port_name);
    smap_add(&ids, "attached-mac", macbuf);
    smap_add(&ids, "k8s-pod-namespace", add->req->pod_namespace);
    smap_add(&ids, "k8s-pod-name", add->req->pod_name);
    if (pod && pod->uid) {
        smap_add(&ids, "k8s-pod-uid", pod->uid);
    }
    smap_add(&ids, "cni-container-id", add->req->container_id);
    smap_add(&ids, "cni-ifname", add->req->ifname);
    ovs_bridge_add_iface(cni->view->bridge, add->host_ifname, &ids);
    smap_destroy(&ids);

    if (lb_ifname_is_primary(add->req->ifname)) {
        annotate_pod(cni, add->req->pod_namespace, add->req->pod_name,
                     add->port_name, att);
    }
    add->state = ADD_WAIT_FLOWS;
    return true;
}

/* Plumbs the pod for existing port 'lp', and records the pod as its owner
 * if it is not yet. */
static void
plumb(struct cni_add *add, const struct lb_logical_port *lp)
{
    struct lb_agent_cni *cni = add->cni;
    const char *chassis = cni->view->chassis;
    const struct lb_logical_switch *sw = lb_cluster_find_logical_switch(
        cni->view->cluster, lp->switch_name);
    const struct lb_pod *pod = find_pod(cni, add->req);

    if (!sw) {
        add_fail(add, CNI_ERR_TRY_AGAIN, "the port's logical switch is not "
                 "known yet", lp->switch_name);
        return;
    }
    struct pod_attachment att;
    if (!fill_attachment(add, lp, sw, &att)) {
        add_fail(add, CNI_ERR_AGENT, "the logical port has no address",
                 lp->name);
        return;
    }
    if (!plumb_attachment(add, &att)) {
        return;
    }

    /* The target pod is not the port's owner until the VM runs there. */
    if (add->target) {
        if (!lp->alternate_pod_uid || !pod->uid
            || strcmp(lp->alternate_pod_uid, pod->uid)) {
            record_owner(cni, add->req->pod_namespace, add->cr_name, pod,
                         pod->migration_job_uid);
        }
    } else if (!lp->active_pod_uid || !pod->uid
               || strcmp(lp->active_pod_uid, pod->uid)
               || !lp->active_node
               || strcmp(lp->active_node, chassis)) {
        record_owner(cni, add->req->pod_namespace, add->cr_name, pod, NULL);
    }
}

static void
reply_result(struct cni_add *add, const struct lb_logical_port *lp)
{
    const struct lb_logical_switch *sw = lb_cluster_find_logical_switch(
        add->cni->view->cluster, lp->switch_name);
    struct pod_attachment att;
    if (!sw || !fill_attachment(add, lp, sw, &att)) {
        add_fail(add, CNI_ERR_AGENT, "the logical port changed during ADD",
                 lp->name);
        return;
    }

    char mac[ETH_ADDR_STRLEN + 1];
    struct cni_result *result = cni_result_create();
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(att.mac));
    size_t idx = cni_result_add_interface(result, add->req->ifname, mac,
                                          add->req->netns, att.mtu);
    struct ds ips = DS_EMPTY_INITIALIZER;
    if (att.ip) {
        char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
        char *address = xasprintf("%s/%d", ip_to_string(att.ip, ip),
                                  att.prefix_len);
        if (att.gateway) {
            ip_to_string(att.gateway, gw);
        }
        cni_result_add_ip(result, address, att.gateway ? gw : NULL, idx);
        if (att.gateway) {
            cni_result_add_route(result, "0.0.0.0/0", gw);
        }
        ds_put_cstr(&ips, ip);
        free(address);
    }
    if (att.has_ip6) {
        char ip6[INET6_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN];
        bool has_gw6 = !ipv6_is_zero(&att.gateway6);
        char *address = xasprintf("%s/64", ipv6_string_mapped(ip6,
                                                              &att.ip6));
        if (has_gw6) {
            ipv6_string_mapped(gw6, &att.gateway6);
        }
        cni_result_add_ip(result, address, has_gw6 ? gw6 : NULL, idx);
        if (has_gw6) {
            cni_result_add_route(result, "::/0", gw6);
        }
        ds_put_format(&ips, "%s%s", ips.length ? "," : "", ip6);
        free(address);
    }

    VLOG_INFO("ADD %s/%s: port %s%s, %s, flows installed",
              add->req->pod_namespace, add->req->pod_name, add->port_name,
              add->target ? " (migration target, blocked)" : "",
              ds_cstr(&ips));
    ds_destroy(&ips);
    add_drop_write(add);
    cni_server_reply_result(add->ctx, result);
    cni_result_destroy(result);
    add->plumbed = false;       /* Now the runtime's, until DEL. */
    add_destroy(add);
}

/* Advances 'add' as far as it can go now.  May destroy 'add'. */
static void
add_step(struct cni_add *add)
{
    struct lb_agent_cni *cni = add->cni;
    const struct lb_agent_view *view = cni->view;
    const struct cni_request *req = add->req;

    if (add->write) {
        return;
    }
    if (time_msec() >= add->deadline) {
        add_fail(add, CNI_ERR_TRY_AGAIN, "timed out waiting for the "
                 "pod's port and flows", NULL);
        return;
    }
    if (!view->ready) {
        return;
    }

    const struct lb_pod *pod = find_pod(cni, req);
    if (!pod || !view->synced
        || (req->pod_uid && pod->uid && strcmp(req->pod_uid, pod->uid))) {
        return;                 /* Not (yet) in the cache. */
    }
    if (!add->cr_name) {
        const char *port_name = lb_pod_logical_port_name(pod);
        if (!port_name) {
            /* The runtime should not have called a pod network's plugin;
             * the pod has the host's network and no port. */
            add_fail(add, CNI_ERR_INVALID_CONFIG, "the pod uses the host's "
                     "network (spec.hostNetwork): it has no logical port",
                     NULL);
            return;
        }
        const char *vm = lb_pod_vm_name(pod);
        const char *owner = vm ? vm : pod->name;
        if (!lb_ifname_is_primary(req->ifname)) {
            /* A secondary NIC (Multus's delegate): the pod must ask for
             * it, so that its port's binding follows the pod. */
            char *error = (lb_nics_find(pod->nics, pod->n_nics, req->ifname)
                           ? lb_nic_port_name_check(owner, req->ifname)
                           : xasprintf("interface %s is not one of the "
                                       "pod's networks ("
                                       LB_ANNOTATION_NETWORKS ")%s%s",
                                       req->ifname,
                                       pod->nics_error ? ": " : "",
                                       pod->nics_error ? pod->nics_error
                                                       : ""));
            if (error) {
                add_fail(add, CNI_ERR_INVALID_CONFIG, error, NULL);
                free(error);
                return;
            }
        }
        add->cr_name = lb_nic_object_name(owner, req->ifname);
        add->port_name = xasprintf("%s_%s", pod->ns, add->cr_name);
        add->target = lb_pod_is_migration_target(pod);
    }

    const struct lb_logical_port *lp = lb_cluster_find_logical_port(
        view->cluster, req->pod_namespace, add->cr_name);
    switch (add->state) {
    case ADD_FIND:
        if (lp && !lb_pod_may_bind(view->cluster, pod, lp)) {
            char *details = xasprintf("%s/%s belongs to %s %s", lp->ns,
                                      lp->name, lp->vm ? "VM" : "pod",
                                      lp->vm ? lp->vm : lp->pod);
            add_fail(add, CNI_ERR_PORT_CONFLICT, "the pod may not take the "
                     "logical port it names", details);
            free(details);
        } else if (lp) {
            add->saw_port = true;
            plumb(add, lp);
        } else if (add->target) {
            /* The source's port must exist; the cache may lag. */
        } else {
            allocate_next(add);
        }
        return;

    case ADD_ALLOCATING:
        return;

    case ADD_WAIT_FLOWS: {
        if (!lp && add->saw_port) {
            /* The port went away: the DEL of this pod's previous sandbox
             * released it, its deletion still on the way when this ADD
             * found it (or someone deleted it).  It will not come back:
             * start over as for a pod without a port, rather than wait
             * for it until the deadline. */
            VLOG_INFO("ADD %s/%s: port %s deleted during ADD: starting "
                      "over", req->pod_namespace, req->pod_name,
                      add->port_name);
            undo_plumbing(add);
            add->state = ADD_FIND;
            add->saw_port = false;
            add->target_seqno = 0;
            add_step(add);
            return;
        } else if (!lp) {
            return;         /* Created, not yet in the cache. */
        }
        add->saw_port = true;
        const struct lb_port *port = lb_model_find_port(view->model,
                                                        add->port_name);
        if (!port || !lb_port_bound_to(port, view->chassis)
            || !simap_get(ovs_bridge_iface_ofports(view->bridge),
                          add->port_name)) {
            return;
        }
        if (!add->target_seqno) {
            add->target_seqno = *view->flows_seqno;
        }
        if (ofctrl_get_installed_seqno(view->ofctrl) >= add->target_seqno) {
            reply_result(add, lp);
        }
        return;
    }
    }
}

/* DEL. */

/* Whether 'lp' is the port of the pod's NIC 'ifname'. */
static bool
nic_is(const struct lb_logical_port *lp, const char *ifname)
{
    return (lb_ifname_is_primary(lp->interface)
            ? lb_ifname_is_primary(ifname)
            : ifname && !strcmp(lp->interface, ifname));
}

/* Releases the port of a pod that is gone, if the pod owned it: a pod's own
 * port always; a VM's port only when the VM is gone too, never on a
 * migration or a restart.  A migration target that goes away stops being
 * the alternate owner. */
static void
release_port(struct lb_agent_cni *cni, const struct cni_request *req)
{
    const struct lb_cluster *cluster = cni->view->cluster;
    const struct shash *ports = &cluster->objects[LB_KIND_LOGICAL_PORT];
    const struct shash_node *node;

    SHASH_FOR_EACH (node, ports) {
        const struct lb_logical_port *lp = node->data;
        if (strcmp(lp->ns, req->pod_namespace)
            || !nic_is(lp, req->ifname)) {
            continue;
        }
        bool active = (lp->active_pod
                       && !strcmp(lp->active_pod, req->pod_name));
        bool alternate = (lp->alternate_pod
                          && !strcmp(lp->alternate_pod, req->pod_name));
        bool own_pod = lp->pod && !strcmp(lp->pod, req->pod_name);
        if (!active && !alternate && !own_pod) {
            continue;
        }

        bool release = own_pod;
        if (lp->vm && active && !alternate) {
            release = !lb_cluster_find_vmi(cluster, lp->ns, lp->vm);
        }
        if (release) {
            VLOG_INFO("DEL %s/%s: releasing port %s", req->pod_namespace,
                      req->pod_name, lp->port_name);
            write_api(cni, lb_write_new(LB_WRITE_DELETE_PORT, lp->ns,
                                        lp->name));
            for (size_t i = 0; i < lp->n_ips; i++) {
                struct lb_write *w = lb_write_new(LB_WRITE_DELETE_ALLOCATION,
                                                  NULL, NULL);
                w->switch_name = xstrdup(lp->switch_name);
                w->ip = lp->ips[i];
                write_api(cni, w);
            }
            for (size_t i = 0; i < lp->n_ips6; i++) {
                struct lb_write *w = lb_write_new(LB_WRITE_DELETE_ALLOCATION,
                                                  NULL, NULL);
                w->switch_name = xstrdup(lp->switch_name);
                w->has_ip6 = true;
                w->ip6 = lp->ips6[i];
                write_api(cni, w);
            }
        } else if (alternate && !active) {
            write_api(cni, lb_write_new(LB_WRITE_DROP_ALTERNATE, lp->ns,
                                        lp->name));
        }
    }
}

static void
handle_del(struct lb_agent_cni *cni, const struct cni_request *req,
           struct cni_reply_ctx *ctx)
{
    char *host_ifname = (req->container_id
                         ? nic_host_ifname(req->container_id, req->ifname)
                         : NULL);
    char *error = NULL;

    /* Any ADD still in progress for this container is abandoned. */
    struct cni_add *add;
    LIST_FOR_EACH_SAFE (add, list_node, &cni->adds) {
        if (req->container_id && add->req->container_id
            && !strcmp(add->req->container_id, req->container_id)) {
            add_fail(add, CNI_ERR_TRY_AGAIN, "deleted during ADD", NULL);
        }
    }

    if (host_ifname) {
        ovs_bridge_del_iface(cni->view->bridge, host_ifname);
    }
    int err = pod_plumb_del(cni_reply_ctx_netns_fd(ctx), req->netns,
                            req->ifname, host_ifname, &error);
    if (err) {
        /* The kernel refused to delete something that exists. */
        cni_server_reply_error(ctx, CNI_ERR_PLUMBING, "unplumbing failed",
                               error);
    } else {
        if (req->pod_namespace && req->pod_name && cni->view->cluster
            && cni->view->synced) {
            release_port(cni, req);
        }
        cni_server_reply_result(ctx, NULL);
    }
    free(error);
    free(host_ifname);
}

/* CHECK: the interface, its addresses and the OVS port are as ADD left
 * them. */
static void
handle_check(struct lb_agent_cni *cni, const struct cni_request *req,
             struct cni_reply_ctx *ctx)
{
    const struct lb_cluster *cluster = cni->view->cluster;
    const struct lb_pod *pod = find_pod(cni, req);
    if (!pod) {
        cni_server_reply_error(ctx, CNI_ERR_UNKNOWN_CONTAINER,
                               "pod not known to the agent", NULL);
        return;
    }
    const char *vm = lb_pod_vm_name(pod);
    char *cr_name = lb_nic_object_name(vm ? vm : pod->name, req->ifname);
    const struct lb_logical_port *lp = lb_cluster_find_logical_port(
        cluster, req->pod_namespace, cr_name);
    free(cr_name);
    const struct lb_logical_switch *sw = lp ? lb_cluster_find_logical_switch(
        cluster, lp->switch_name) : NULL;
    struct cni_add probe = {
        .req = req,
        .netns_fd = cni_reply_ctx_netns_fd(ctx),
        .host_ifname = nic_host_ifname(req->container_id, req->ifname),
    };
    struct pod_attachment att;
    if (!sw || !fill_attachment(&probe, lp, sw, &att)) {
        cni_server_reply_error(ctx, CNI_ERR_UNKNOWN_CONTAINER,
                               "the pod has no logical port", NULL);
    } else if (!ovs_bridge_has_iface(cni->view->bridge,
                                     probe.host_ifname)) {
        cni_server_reply_error(ctx, CNI_ERR_PLUMBING,
                               "the pod's interface is not on the bridge",
                               probe.host_ifname);
    } else {
        char *error = NULL;
        if (pod_plumb_check(&att, &error)) {
            cni_server_reply_error(ctx, CNI_ERR_PLUMBING,
                                   "the pod's interface is not as plumbed",
                                   error);
        } else {
            cni_server_reply_result(ctx, NULL);
        }
        free(error);
    }
    free(probe.host_ifname);
}

/* GC: removes attachments the runtime no longer knows. */
static void
handle_gc(struct lb_agent_cni *cni, const struct cni_request *req,
          struct cni_reply_ctx *ctx)
{
    struct sset valid = SSET_INITIALIZER(&valid);
    for (size_t i = 0; i < req->config.n_valid_attachments; i++) {
        char *name = nic_host_ifname(
            req->config.valid_attachments[i].container_id,
            req->config.valid_attachments[i].ifname);
        sset_add(&valid, name);
        free(name);
    }

    struct smap ours = SMAP_INITIALIZER(&ours);
    ovs_bridge_list_pod_ifaces(cni->view->bridge, &ours);
    const struct smap_node *node;
    SMAP_FOR_EACH (node, &ours) {
        if (!sset_contains(&valid, node->key)) {
            char *error = NULL;
            VLOG_INFO("GC: removing stale attachment %s (%s)", node->key,
                      node->value);
            ovs_bridge_del_iface(cni->view->bridge, node->key);
            pod_plumb_del(-1, NULL, NULL, node->key, &error);
            free(error);
        }
    }
    smap_destroy(&ours);
    sset_destroy(&valid);
    cni_server_reply_result(ctx, NULL);
}

static void
handle_request(void *cni_, struct cni_request *req,
               struct cni_reply_ctx *ctx)
{
    struct lb_agent_cni *cni = cni_;
    const struct lb_agent_view *view = cni->view;

    if (!view->cluster) {
        cni_server_reply_error(ctx, CNI_ERR_NOT_AVAILABLE, "the agent runs "
                               "without Kubernetes (--model)", NULL);
        return;
    }
    if (!view->ready) {
        /* Until OVSDB and the API have been read, nothing can be done
         * right: say so at once rather than keep the runtime waiting. */
        if (req->command == CNI_CMD_STATUS) {
            cni_server_reply_error(ctx, CNI_ERR_NOT_AVAILABLE, "the agent "
                                   "is not ready: connecting to Open vSwitch "
                                   "and listing Kubernetes objects", NULL);
        } else {
            cni_server_reply_error(ctx, CNI_ERR_TRY_AGAIN, "the agent is not "
                                   "ready yet (connecting to Open vSwitch "
                                   "and listing Kubernetes objects): try "
                                   "again later", NULL);
        }
        return;
    }
    if (req->command == CNI_CMD_ADD || req->command == CNI_CMD_CHECK) {
        /* The descriptor came from a client: before any work for the pod,
         * make sure it is a pod's network namespace.  The path is never
         * looked at (netns-fd.h). */
        char *msg = NULL;
        if (netns_fd_check(cni_reply_ctx_netns_fd(ctx), req->netns, &msg)) {
            cni_server_reply_error(ctx, CNI_ERR_INVALID_ENV, "CNI_NETNS is "
                                   "not a pod's network namespace", msg);
            free(msg);
            return;
        }
    }
    switch (req->command) {
    case CNI_CMD_ADD: {
        if (!req->netns || !req->ifname || !req->container_id
            || !req->pod_namespace || !req->pod_name) {
            cni_server_reply_error(ctx, CNI_ERR_INVALID_ENV, "ADD needs "
                                   "CNI_NETNS, CNI_IFNAME, CNI_CONTAINERID "
                                   "and the pod's namespace and name", NULL);
            return;
        }
        struct cni_add *add = xzalloc(sizeof *add);
        add->cni = cni;
        add->ctx = ctx;
        add->req = req;
        add->netns_fd = cni_reply_ctx_netns_fd(ctx);
        add->state = ADD_FIND;
        add->host_ifname = nic_host_ifname(req->container_id, req->ifname);
        int timeout = req->config.timeout_ms > 0 ? req->config.timeout_ms
                                                 : 30000;
        /* Answer a little before the plugin gives up. */
        add->deadline = time_msec() + MAX(timeout - 1000, timeout / 2);
        sset_init(&add->tried);
        ovs_list_push_back(&cni->adds, &add->list_node);
        add_step(add);
        break;
    }
    case CNI_CMD_DEL:
        handle_del(cni, req, ctx);
        break;
    case CNI_CMD_CHECK:
        handle_check(cni, req, ctx);
        break;
    case CNI_CMD_GC:
        handle_gc(cni, req, ctx);
        break;
    case CNI_CMD_STATUS:
        if (!view->synced || !ofctrl_is_connected(view->ofctrl)
            || !ovs_bridge_is_connected(view->bridge)) {
            cni_server_reply_error(ctx, CNI_ERR_NOT_AVAILABLE,
                                   "the agent is not connected to "
                                   "Kubernetes and Open vSwitch yet", NULL);
        } else {
            cni_server_reply_result(ctx, NULL);
        }
        break;
    case CNI_CMD_VERSION:
    default:
        cni_server_reply_error(ctx, CNI_ERR_AGENT, "unexpected command",
                               NULL);
        break;
    }
}

/* The runtime hung up: an ADD in progress is undone.  The context still
 * gets its one answer, which frees it (the server throws the answer away). */
static void
handle_closed(void *cni_, struct cni_reply_ctx *ctx)
{
    struct lb_agent_cni *cni = cni_;
    struct cni_add *add;
    LIST_FOR_EACH_SAFE (add, list_node, &cni->adds) {
        if (add->ctx == ctx) {
            add_fail(add, CNI_ERR_TRY_AGAIN, "the plugin hung up", NULL);
        }
    }
}

/* Listens for CNI requests on 'socket_path'.  Reads the core's 'view'
 * from then on.  Returns NULL and stores the part in '*cnip', or an
 * error. */
char *
lb_agent_cni_create(const struct lb_agent_view *view,
                    const char *socket_path, struct lb_agent_cni **cnip)
{
    struct cni_server_options options;
    cni_server_options_init(&options);

    struct lb_agent_cni *cni = xzalloc(sizeof *cni);
    cni->view = view;
    ovs_list_init(&cni->adds);
    ovs_list_init(&cni->orphans);
    int error = cni_server_create(socket_path, &options, handle_request,
                                  handle_closed, cni, &cni->server);
    if (error) {
        free(cni);
        *cnip = NULL;
        return xasprintf("%s: could not listen for CNI requests (%s)",
                         socket_path, ovs_strerror(error));
    }
    VLOG_INFO("listening for CNI requests on %s", socket_path);
    *cnip = cni;
    return NULL;
}

/* ADDs in progress fail (and are undone), their writes cancelled. */
void
lb_agent_cni_destroy(struct lb_agent_cni *cni)
{
    if (cni) {
        struct cni_add *add;
        LIST_FOR_EACH_SAFE (add, list_node, &cni->adds) {
            add_fail(add, CNI_ERR_TRY_AGAIN, "the agent is stopping", NULL);
        }
        struct orphan_write *o;
        LIST_FOR_EACH_POP (o, list_node, &cni->orphans) {
            orphan_write_free(o);
        }
        cni_server_destroy(cni->server);
        free(cni);
    }
}

/* Serves the CNI socket and advances the ADDs in progress.  While the
 * core's view is not 'ready', requests get a "not ready" error and ADDs in
 * progress only time out. */
void
lb_agent_cni_run(struct lb_agent_cni *cni)
{
    cni_server_run(cni->server);

    struct cni_add *add;
    LIST_FOR_EACH_SAFE (add, list_node, &cni->adds) {
        add_step(add);
    }
}

void
lb_agent_cni_wait(struct lb_agent_cni *cni)
{
    cni_server_wait(cni->server);

    /* ADDs wait for events that wake the loop anyway (watch events, OVSDB
     * and OpenFlow replies); their deadlines need a timer. */
    const struct cni_add *add;
    LIST_FOR_EACH (add, list_node, &cni->adds) {
        poll_timer_wait_until(add->deadline);
    }
}

/* A CNI error code as a metric label: "ok", "try_again_later", ... */
static void
put_result_label(int code, char buf[64])
{
    const char *name = code ? cni_error_code_name(code) : "ok";
    size_t i;
    for (i = 0; name[i] && i < 63; i++) {
        buf[i] = (name[i] >= 'a' && name[i] <= 'z') ? name[i] : '_';
    }
    buf[i] = '\0';
}

void
lb_agent_cni_put_metrics(const struct lb_agent_cni *cni, struct ds *page)
{
    const struct cni_server_stats *stats = cni_server_get_stats(cni->server);

    const char *name = "livebind_cni_requests_total";
    lb_metrics_family(page, name, LB_METRIC_COUNTER,
                      "CNI requests answered, by command and result (ok, "
                      "or the CNI error's name and code).");
    for (int cmd = 0; cmd < CNI_N_COMMANDS; cmd++) {
        for (int code = 0; code <= CNI_STATS_MAX_CODE; code++) {
            uint64_t n = stats->results[cmd][code];
            if (!n && code) {
                continue;
            }
            char result[64], code_s[16];
            put_result_label(code, result);
            snprintf(code_s, sizeof code_s, "%d", code);
            const char *labels[] = {
                "command", cni_command_to_string(cmd), "result", result,
                "code", code_s, NULL
            };
            lb_metrics_sample(page, name, labels, n);
        }
    }

    name = "livebind_cni_request_duration_seconds";
    lb_metrics_family(page, name, LB_METRIC_HISTOGRAM,
                      "From a CNI request's arrival at the agent to its "
                      "answer, by command.");
    for (int cmd = 0; cmd < CNI_N_COMMANDS; cmd++) {
        const char *labels[] = { "command", cni_command_to_string(cmd),
                                 NULL };
        lb_metrics_histogram(page, name, labels, &stats->latency[cmd]);
    }
}

/* The outcome of a write asked for with a tag (see agent-writes.h). */
void
lb_agent_cni_write_done(struct lb_agent_cni *cni,
                        const struct lb_write_result *result)
{
    struct cni_add *add;
    LIST_FOR_EACH (add, list_node, &cni->adds) {
        if (add->write && add->write_tag == result->tag) {
            enum add_write what = add->write;
            add->write = WRITE_NONE;
            add->write_tag = 0;
            if (what == WRITE_ALLOCATION) {
                allocation_created(add, result);
            } else {
                port_created(add, result);
            }
            return;
        }
    }

    /* The ADD is gone.  The address it was taking is given back if the
     * allocation was made, unless the pod's port, made too, holds it: the
     * runtime's retry or DEL then deals with the port. */
    struct orphan_write *o;
    LIST_FOR_EACH (o, list_node, &cni->orphans) {
        if (o->tag == result->tag) {
            bool made = !result->error;
            const struct lb_logical_switch *sw
                = lb_cluster_find_logical_switch(cni->view->cluster,
                                                 o->switch_name);
            if (sw && (o->what == WRITE_ALLOCATION ? made : !made)) {
                /* The contested allocation (see allocate_next()), and
                 * for a port the IPv6 record of a dual-stack switch. */
                bool v4 = sw->prefix_len;
                bool v6 = !v4 || (o->what == WRITE_PORT && sw->has_prefix6);
                if (v4) {
                    write_api(cni, address_write(LB_WRITE_DELETE_ALLOCATION,
                                                 NULL, NULL, sw, o->ip,
                                                 false));
                }
                if (v6) {
                    write_api(cni, address_write(LB_WRITE_DELETE_ALLOCATION,
                                                 NULL, NULL, sw, o->ip,
                                                 true));
                }
            }
            ovs_list_remove(&o->list_node);
            orphan_write_free(o);
            return;
        }
    }
}
