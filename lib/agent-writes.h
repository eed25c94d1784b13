/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_AGENT_WRITES_H
#define LIVEBIND_AGENT_WRITES_H 1

/* Writes to the Kubernetes API, whichever part of the agent asks for them.
 *
 * A part never writes itself: it describes the write as a "struct
 * lb_write" on the list the core gave it, and the core hands the list to
 * the writer (agent-writes.c), which alone knows the objects' shapes and
 * paths, sends the requests and logs their failures.  A write with a
 * nonzero 'tag' has its outcome handed back, through the core, to the CNI
 * part (the only one that waits for outcomes: an IP address taken, a port
 * created concurrently). */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/list.h"
#include "openvswitch/types.h"
#include "packets.h"
#include "util.h"

struct ds;
struct k8s_client;
struct lb_agent_writes;

enum lb_write_kind {
    LB_WRITE_ALLOCATE,          /* IPAllocation of 'ip' (or 'ip6' if
                                 * 'has_ip6') in 'switch_name' for port
                                 * 'ns'/'name': create. */
    LB_WRITE_DELETE_ALLOCATION, /* IPAllocation of 'ip' (or 'ip6' if
                                 * 'has_ip6') in 'switch_name'. */
    LB_WRITE_CREATE_PORT,       /* LogicalPort 'ns'/'name': 'switch_name',
                                 * 'tunnel_key', 'mac', 'ip' (if nonzero)
                                 * and 'ip6' (if 'has_ip6'), owned by
                                 * VM 'name' if 'vm', else pod 'name'. */
    LB_WRITE_DELETE_PORT,       /* LogicalPort 'ns'/'name'. */
    LB_WRITE_OWNER,             /* LogicalPort 'ns'/'name''s status: 'pod'
                                 * ('pod_uid') on 'node' is the active
                                 * owner, or the alternate one for
                                 * 'migration_uid' if nonnull. */
    LB_WRITE_DROP_ALTERNATE,    /* LogicalPort 'ns'/'name''s status: no
                                 * alternate owner. */
    LB_WRITE_ACTIVATION,        /* LogicalPort 'ns'/'name''s status:
                                 * activated on 'node' for 'migration_uid'
                                 * by 'cause'. */
    LB_WRITE_ANNOTATE_POD,      /* Pod 'ns'/'name': its 'port_name', 'ip',
                                 * 'ip6' and 'mac', for people and tools. */
    LB_WRITE_EVENT,             /* A Kubernetes Event about the VMI
                                 * 'ns'/'name' ('uid'): 'reason',
                                 * 'action', 'note', 'warning'. */
    LB_WRITE_CANCEL,            /* The write tagged 'tag': abandon it. */
};

struct lb_write {
    struct ovs_list list_node;
    enum lb_write_kind kind;
    uint64_t tag;               /* Nonzero: hand the outcome back. */
    char *ns;
    char *name;
    char *switch_name;
    ovs_be32 ip;
    bool has_ip6;
    struct in6_addr ip6;
    struct eth_addr mac;
    uint32_t tunnel_key;
    bool vm;
    char *owner;                /* LB_WRITE_CREATE_PORT: the VM or pod
                                 * ('name' if NULL)... */
    char *interface;            /* ...and a secondary NIC's interface. */
    char *pod;
    char *pod_uid;
    char *node;
    char *migration_uid;
    char *cause;
    char *port_name;
    char *uid;                  /* LB_WRITE_EVENT: the object's. */
    const char *reason;         /* LB_WRITE_EVENT: static strings. */
    const char *action;
    char *note;
    bool warning;
};

/* A new write of 'kind' to object 'ns'/'name' (either may be NULL), to be
 * filled in and put on the core's list. */
static inline struct lb_write *
lb_write_new(enum lb_write_kind kind, const char *ns, const char *name)
{
    struct lb_write *w = xzalloc(sizeof *w);
    w->kind = kind;
    w->ns = nullable_xstrdup(ns);
    w->name = nullable_xstrdup(name);
    return w;
}

/* The outcome of a tagged write. */
struct lb_write_result {
    uint64_t tag;
    long status;                /* HTTP status, 0 if none. */
    char *error;                /* NULL on success. */
};

struct lb_agent_writes *lb_agent_writes_create(struct k8s_client *,
                                               const char *chassis);
void lb_agent_writes_destroy(struct lb_agent_writes *);
void lb_agent_writes_submit(struct lb_agent_writes *, struct ovs_list *);
void lb_agent_writes_wait(const struct lb_agent_writes *);
void lb_agent_writes_put_metrics(const struct lb_agent_writes *,
                                 struct ds *page);
bool lb_agent_writes_pop_result(struct lb_agent_writes *,
                                struct lb_write_result *);
void lb_write_destroy(struct lb_write *);

#endif /* lib/agent-writes.h */
