/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "derive.h"

#include <string.h>
#include "hash.h"
#include "ipam.h"
#include "model.h"
#include "multinic.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "sset.h"
#include "openvswitch/util.h"
#include "util.h"

#include "lb-json.h"

/* Kinds.
 *
 * Each kind's parser, comparison and destructor, behind one signature so
 * that the cache handles all kinds alike. */

struct kind_class {
    const char *name;
    bool namespaced;
    char *(*parse)(const json_t *, void **);
    bool (*equal)(const void *, const void *);
    void (*destroy)(void *);
    const char *(*ns)(const void *);
    const char *(*obj_name)(const void *);
    const char *(*uid)(const void *);
};

#define KIND_FUNCTIONS(KIND, NS, UID)                                       \
    static char *                                                           \
    KIND##_parse(const json_t *j, void **objp)                              \
    {                                                                       \
        struct lb_##KIND *obj;                                              \
        char *error = lb_##KIND##_from_json(j, &obj);                       \
        if (!error) {                                                       \
            *objp = obj;                                                    \
        }                                                                   \
        return error;                                                       \
    }                                                                       \
    static bool                                                             \
    KIND##_equal(const void *a, const void *b)                              \
    {                                                                       \
        return lb_##KIND##_equal(a, b);                                     \
    }                                                                       \
    static void                                                             \
    KIND##_destroy(void *obj)                                               \
    {                                                                       \
        lb_##KIND##_destroy(obj);                                           \
    }                                                                       \
    static const char *                                                     \
    KIND##_ns(const void *obj_)                                             \
    {                                                                       \
        const struct lb_##KIND *obj OVS_UNUSED = obj_;                      \
        return NS;                                                          \
    }                                                                       \
    static const char *                                                     \
    KIND##_name(const void *obj_)                                           \
    {                                                                       \
        const struct lb_##KIND *obj = obj_;                                 \
        return obj->name;                                                   \
    }                                                                       \
    static const char *                                                     \
    KIND##_uid(const void *obj_)                                            \
    {                                                                       \
        const struct lb_##KIND *obj OVS_UNUSED = obj_;                      \
        return UID;                                                         \
    }

KIND_FUNCTIONS(pod, obj->ns, obj->uid)
KIND_FUNCTIONS(node, NULL, NULL)
KIND_FUNCTIONS(vmi, obj->ns, obj->uid)
KIND_FUNCTIONS(vmim, obj->ns, obj->uid)
KIND_FUNCTIONS(logical_switch, NULL, NULL)
KIND_FUNCTIONS(logical_port, obj->ns, obj->uid)

#define KIND_CLASS(KIND, NAME, NAMESPACED)                              \
    { NAME, NAMESPACED, KIND##_parse, KIND##_equal, KIND##_destroy,     \
      KIND##_ns, KIND##_name, KIND##_uid }

static const struct kind_class kind_classes[LB_N_KINDS] = {
    [LB_KIND_POD] = KIND_CLASS(pod, "Pod", true),
    [LB_KIND_NODE] = KIND_CLASS(node, "Node", false),
    [LB_KIND_VMI] = KIND_CLASS(vmi, "VirtualMachineInstance", true),
    [LB_KIND_VMIM] = KIND_CLASS(vmim, "VirtualMachineInstanceMigration",
                                true),
    [LB_KIND_LOGICAL_SWITCH] = KIND_CLASS(logical_switch, "LogicalSwitch",
                                          false),
    [LB_KIND_LOGICAL_PORT] = KIND_CLASS(logical_port, "LogicalPort", true),
};

const char *
lb_kind_to_string(enum lb_kind kind)
{
    return ((unsigned int) kind < LB_N_KINDS
            ? kind_classes[kind].name : "invalid");
}

/* Parses a Kubernetes "kind" ("Pod", "LogicalPort", ...). */
bool
lb_kind_from_string(const char *s, enum lb_kind *kind)
{
    for (size_t i = 0; s && i < LB_N_KINDS; i++) {
        if (!strcmp(s, kind_classes[i].name)) {
            *kind = i;
            return true;
        }
    }
    return false;
}

/* The cache. */

void
lb_cluster_init(struct lb_cluster *cluster)
{
    for (size_t i = 0; i < LB_N_KINDS; i++) {
        shash_init(&cluster->objects[i]);
    }
    shash_init(&cluster->pods_by_port);
    shash_init(&cluster->vmims_by_vm);
    shash_init(&cluster->ports_by_vm);
    cluster->options = (struct lb_derive_options) { .mirror = true };
}

/* The indexes (struct lb_cluster).  Adds 'key' to, or removes it from, the
 * keys 'index' holds under 'name' (which it frees); a name without keys
 * goes, so that an index holds no more than the objects do. */
static void
index_update(struct shash *index, char *name, const char *key, bool add)
{
    struct sset *keys = shash_find_data(index, name);
    if (add) {
        if (!keys) {
            keys = xmalloc(sizeof *keys);
            sset_init(keys);
            shash_add(index, name, keys);
        }
        sset_add(keys, key);
    } else if (keys) {
        sset_find_and_delete(keys, key);
        if (sset_is_empty(keys)) {
            sset_destroy(keys);
            free(keys);
            shash_find_and_delete(index, name);
        }
    }
    free(name);
}

/* Adds 'obj' of 'kind', cached under 'key', to the indexes, or removes
 * it.  Called with the object the cache holds, before it goes. */
static void
index_object(struct lb_cluster *cluster, enum lb_kind kind, const char *key,
             const void *obj, bool add)
{
    if (kind == LB_KIND_POD) {
        const struct lb_pod *pod = obj;
        for (size_t i = 0; i < lb_pod_n_port_names(pod); i++) {
            index_update(&cluster->pods_by_port,
                         xstrdup(lb_pod_port_name_at(pod, i)), key, add);
        }
    } else if (kind == LB_KIND_VMIM) {
        const struct lb_vmim *vmim = obj;
        if (vmim->vmi_name) {
            index_update(&cluster->vmims_by_vm,
                         xasprintf("%s/%s", vmim->ns, vmim->vmi_name), key,
                         add);
        }
    } else if (kind == LB_KIND_LOGICAL_PORT) {
        const struct lb_logical_port *lp = obj;
        if (lp->vm) {
            index_update(&cluster->ports_by_vm,
                         xasprintf("%s/%s", lp->ns, lp->vm), key, add);
        }
    }
}

/* The objects of 'kind' whose keys 'index' holds under 'name', in an array
 * the caller frees (NULL if none), and their number in '*n'. */
static const void **
index_lookup(const struct lb_cluster *cluster, enum lb_kind kind,
             const struct shash *index, const char *name, size_t *n)
{
    const struct sset *keys = shash_find_data(index, name);
    const void **objs = NULL;

    *n = 0;
    if (keys) {
        objs = xmalloc(sset_count(keys) * sizeof *objs);
        const char *key;
        SSET_FOR_EACH (key, keys) {
            const void *obj = shash_find_data(&cluster->objects[kind], key);
            ovs_assert(obj);
            objs[(*n)++] = obj;
        }
    }
    return objs;
}

static void
index_destroy(struct shash *index)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, index) {
        sset_destroy(node->data);
        free(node->data);
        shash_delete(index, node);
    }
    shash_destroy(index);
}

/* Removes and frees the cached object of 'kind' at 'node'. */
static void
delete_object(struct lb_cluster *cluster, enum lb_kind kind,
              struct shash_node *node)
{
    index_object(cluster, kind, node->name, node->data, false);
    kind_classes[kind].destroy(node->data);
    shash_delete(&cluster->objects[kind], node);
}

static void
clear_kind(struct lb_cluster *cluster, enum lb_kind kind)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &cluster->objects[kind]) {
        delete_object(cluster, kind, node);
    }
}

void
lb_cluster_clear(struct lb_cluster *cluster)
{
    for (size_t i = 0; i < LB_N_KINDS; i++) {
        clear_kind(cluster, i);
    }
}

void
lb_cluster_destroy(struct lb_cluster *cluster)
{
    if (cluster) {
        lb_cluster_clear(cluster);
        for (size_t i = 0; i < LB_N_KINDS; i++) {
            shash_destroy(&cluster->objects[i]);
        }
        index_destroy(&cluster->pods_by_port);
        index_destroy(&cluster->vmims_by_vm);
        index_destroy(&cluster->ports_by_vm);
    }
}

static char *
object_key(enum lb_kind kind, const char *ns, const char *name)
{
    return (kind_classes[kind].namespaced
            ? xasprintf("%s/%s", ns ? ns : "", name)
            : xstrdup(name));
}

/* Inserts or replaces 'obj' (of 'kind'), taking ownership.  Returns true if
 * the cache changed. */
static bool
upsert(struct lb_cluster *cluster, enum lb_kind kind, void *obj)
{
    const struct kind_class *class = &kind_classes[kind];
    char *key = object_key(kind, class->ns(obj), class->obj_name(obj));
    struct shash_node *node = shash_find(&cluster->objects[kind], key);

    if (node && class->equal(node->data, obj)) {
        class->destroy(obj);
        free(key);
        return false;
    }
    if (node) {
        index_object(cluster, kind, node->name, node->data, false);
        class->destroy(node->data);
        node->data = obj;
        free(key);
    } else {
        node = shash_add_nocopy(&cluster->objects[kind], key, obj);
    }
    index_object(cluster, kind, node->name, obj, true);
    return true;
}

static bool
remove_object(struct lb_cluster *cluster, enum lb_kind kind, const char *ns,
              const char *name, const char *uid)
{
    const struct kind_class *class = &kind_classes[kind];
    char *key = object_key(kind, ns, name);
    struct shash_node *node = shash_find(&cluster->objects[kind], key);
    free(key);

    if (!node) {
        return false;
    }
    /* A deletion of an older incarnation must not remove its successor. */
    const char *cached_uid = class->uid(node->data);
    if (uid && *uid && cached_uid && *cached_uid && strcmp(uid, cached_uid)) {
        return false;
    }
    delete_object(cluster, kind, node);
    return true;
}

/* Parses 'json' as an object of 'kind' and inserts or replaces it.  On
 * error, returns a malloc()ed message and leaves the cache unchanged.
 * '*changed' (if 'changed' is nonnull) says whether the cache changed in
 * a way that matters to livebind. */
char *
lb_cluster_upsert_json(struct lb_cluster *cluster, enum lb_kind kind,
                       const json_t *json, bool *changed)
{
    void *obj;
    char *error = kind_classes[kind].parse(json, &obj);
    bool c = !error && upsert(cluster, kind, obj);
    if (changed) {
        *changed = c;
    }
    return error;
}

/* Removes the object of 'kind' that 'json' (e.g. a DELETED watch event's
 * object) identifies.  Only metadata is read.  An object with a different
 * UID is left alone. */
char *
lb_cluster_remove_json(struct lb_cluster *cluster, enum lb_kind kind,
                       const json_t *json, bool *changed)
{
    char *ns, *name, *uid;
    char *error = lb_k8s_metadata_from_json(json, &ns, &name, &uid);
    bool c = false;

    if (!error) {
        if (kind_classes[kind].namespaced && !ns) {
            error = xasprintf("%s %s: metadata.namespace: missing",
                              kind_classes[kind].name, name);
        } else {
            c = remove_object(cluster, kind, ns, name, uid);
        }
        free(ns);
        free(name);
        free(uid);
    }
    if (changed) {
        *changed = c;
    }
    return error;
}

/* Replaces every cached object of 'kind' with the JSON array 'items' (a
 * list response's "items").  Items that fail to parse are skipped: one
 * malformed object must not hide all the others.  Returns NULL if all
 * parsed, otherwise a malloc()ed message with the number skipped and the
 * first error.  If 'items' is not an array, the cache is unchanged. */
char *
lb_cluster_replace_json(struct lb_cluster *cluster, enum lb_kind kind,
                        const json_t *items, bool *changed)
{
    bool c = false;
    if (changed) {
        *changed = false;
    }
    if (!json_is_array(items)) {
        return xasprintf("%s list: \"items\" must be an array",
                         kind_classes[kind].name);
    }

    const struct kind_class *class = &kind_classes[kind];
    struct shash fresh = SHASH_INITIALIZER(&fresh);
    char *first_error = NULL;
    size_t n_errors = 0;
    size_t i;
    const json_t *item;
    json_array_foreach (items, i, item) {
        void *obj;
        char *error = class->parse(item, &obj);
        if (error) {
            if (!first_error) {
                first_error = error;
            } else {
                free(error);
            }
            n_errors++;
            continue;
        }
        char *key = object_key(kind, class->ns(obj), class->obj_name(obj));
        void *old = shash_replace_nocopy(&fresh, key, obj);
        if (old) {
            /* Duplicate in the list: the later item wins. */
            class->destroy(old);
        }
    }

    /* Remove what is gone, then merge in the fresh objects. */
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &cluster->objects[kind]) {
        if (!shash_find(&fresh, node->name)) {
            delete_object(cluster, kind, node);
            c = true;
        }
    }
    SHASH_FOR_EACH_SAFE (node, &fresh) {
        c |= upsert(cluster, kind, node->data);
        shash_delete(&fresh, node);
    }
    shash_destroy(&fresh);

    if (changed) {
        *changed = c;
    }
    if (first_error) {
        char *e = xasprintf("%s list: skipped %zu of %zu items; first: %s",
                            class->name, n_errors, json_array_size(items),
                            first_error);
        free(first_error);
        return e;
    }
    return NULL;
}

bool
lb_cluster_upsert_pod(struct lb_cluster *cluster, struct lb_pod *pod)
{
    return upsert(cluster, LB_KIND_POD, pod);
}

bool
lb_cluster_upsert_node(struct lb_cluster *cluster, struct lb_node *node)
{
    return upsert(cluster, LB_KIND_NODE, node);
}

bool
lb_cluster_upsert_vmi(struct lb_cluster *cluster, struct lb_vmi *vmi)
{
    return upsert(cluster, LB_KIND_VMI, vmi);
}

bool
lb_cluster_upsert_vmim(struct lb_cluster *cluster, struct lb_vmim *vmim)
{
    return upsert(cluster, LB_KIND_VMIM, vmim);
}

bool
lb_cluster_upsert_logical_switch(struct lb_cluster *cluster,
                                 struct lb_logical_switch *sw)
{
    return upsert(cluster, LB_KIND_LOGICAL_SWITCH, sw);
}

bool
lb_cluster_upsert_logical_port(struct lb_cluster *cluster,
                               struct lb_logical_port *lp)
{
    return upsert(cluster, LB_KIND_LOGICAL_PORT, lp);
}

/* Removes the object of 'kind' named 'name' (in 'ns' if namespaced).
 * Returns true if there was one. */
bool
lb_cluster_remove(struct lb_cluster *cluster, enum lb_kind kind,
                  const char *ns, const char *name)
{
    return remove_object(cluster, kind, ns, name, NULL);
}

static const void *
find_object(const struct lb_cluster *cluster, enum lb_kind kind,
            const char *ns, const char *name)
{
    char *key = object_key(kind, ns, name);
    const void *obj = shash_find_data(&cluster->objects[kind], key);
    free(key);
    return obj;
}

const struct lb_pod *
lb_cluster_find_pod(const struct lb_cluster *cluster, const char *ns,
                    const char *name)
{
    return find_object(cluster, LB_KIND_POD, ns, name);
}

const struct lb_node *
lb_cluster_find_node(const struct lb_cluster *cluster, const char *name)
{
    return find_object(cluster, LB_KIND_NODE, NULL, name);
}

const struct lb_vmi *
lb_cluster_find_vmi(const struct lb_cluster *cluster, const char *ns,
                    const char *name)
{
    return find_object(cluster, LB_KIND_VMI, ns, name);
}

const struct lb_vmim *
lb_cluster_find_vmim(const struct lb_cluster *cluster, const char *ns,
                     const char *name)
{
    return find_object(cluster, LB_KIND_VMIM, ns, name);
}

const struct lb_logical_switch *
lb_cluster_find_logical_switch(const struct lb_cluster *cluster,
                               const char *name)
{
    return find_object(cluster, LB_KIND_LOGICAL_SWITCH, NULL, name);
}

const struct lb_logical_port *
lb_cluster_find_logical_port(const struct lb_cluster *cluster,
                             const char *ns, const char *name)
{
    return find_object(cluster, LB_KIND_LOGICAL_PORT, ns, name);
}

size_t
lb_cluster_count(const struct lb_cluster *cluster, enum lb_kind kind)
{
    return shash_count(&cluster->objects[kind]);
}

/* Adds to 'port_names' the names of VM 'vm''s logical ports in 'ns': its
 * pod network's ("<ns>_<vm>", whether its LogicalPort exists or not) and
 * every other LogicalPort of the VM (its secondary NICs', multinic.h). */
void
lb_cluster_vm_port_names(const struct lb_cluster *cluster, const char *ns,
                         const char *vm, struct sset *port_names)
{
    sset_add_and_free(port_names, xasprintf("%s_%s", ns, vm));
    char *name = xasprintf("%s/%s", ns, vm);
    size_t n;
    const void **lps = index_lookup(cluster, LB_KIND_LOGICAL_PORT,
                                    &cluster->ports_by_vm, name, &n);
    for (size_t i = 0; i < n; i++) {
        const struct lb_logical_port *lp = lps[i];
        sset_add(port_names, lp->port_name);
    }
    free(lps);
    free(name);
}

/* Derivation.
 *
 * Switches come from LogicalSwitch objects, chassis from Nodes that have a
 * tunnel IP, ports from LogicalPort objects.  A port's binding comes from
 * the pods that plug into it (lb_pod_logical_port_name()), the VM's VMI and
 * its VMIMs, and the LogicalPort's status:
 *
 * Each live pod of the port (scheduled, not Succeeded/Failed) gets a role.
 * A pod that is not a migration target is SETTLED.  A migration target
 * (label kubevirt.io/migrationJobUID = X, or the pod the status records as
 * alternate owner for X) takes its role from X's outcome:
 *
 *   - SUCCEEDED: VMIM X Succeeded, or migrationState X (of the VMI or of
 *     VMIM X) completed, not failed, not aborted -> SETTLED.
 *   - IN_PROGRESS: VMIM X exists, is not final, not being deleted, and no
 *     migrationState X says failed or aborted -> TARGET, unless the pod is
 *     being deleted (then ignored).
 *   - FAILED / CANCELLED (VMIM X Failed, migrationState failed or abort
 *     Succeeded, VMIM X being deleted) -> ignored.
 *   - GONE (no VMIM X, no migrationState X): X ended long ago and its VMIM
 *     was garbage collected, or was deleted before success, or its VMIM has
 *     not been seen yet.  SETTLED if the VMI runs on the pod's node,
 *     ignored if the VMI runs elsewhere, WEAK if there is no VMI.
 *
 * The main chassis is the node of the newest SETTLED pod (creation time,
 * then name), else of the newest WEAK pod.  The LogicalPort status fills in
 * for pods the cache does not hold (an agent need not watch every pod): an
 * alternate owner whose pod is not cached and whose migration SUCCEEDED is
 * the main chassis; an active owner whose pod is not cached is the main
 * chassis if nothing else is.  A cached pod always overrides the status.
 *
 * For a VM that opted in (the VMI's annotation, or, without a VMI, any live
 * pod's), the additional chassis is the node of the newest TARGET pod, or
 * of the status's uncached alternate owner if its migration is IN_PROGRESS.
 * The target copy is blocked until activated: status.activation for X, the
 * target pod's ready-timestamp annotation, or targetNodeDomainReadyTimestamp
 * in migrationState X.  Mirroring follows the derive options. */

struct pod_group {
    const struct lb_pod **pods;
    size_t n, allocated;
};

struct derive_ctx {
    const struct lb_cluster *cluster;
    struct shash pods_by_port;  /* Port name -> struct pod_group. */
    struct shash vmims_by_uid;  /* Namespace, VM, UID -> lb_vmim. */
    struct shash newest_vmim;   /* "ns/vmiName" -> const struct lb_vmim. */
};

static int
compare_nullable(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* A total order on a VM's pods or VMIMs: creation time, name, UID. */
static int
compare_age(const char *ts_a, const char *name_a, const char *uid_a,
            const char *ts_b, const char *name_b, const char *uid_b)
{
    int cmp = compare_nullable(ts_a, ts_b);
    if (!cmp) {
        cmp = compare_nullable(name_a, name_b);
    }
    if (!cmp) {
        cmp = compare_nullable(uid_a, uid_b);
    }
    return cmp;
}

static bool
pod_newer(const struct lb_pod *a, const struct lb_pod *b)
{
    return !b || compare_age(a->creation_timestamp, a->name, a->uid,
                             b->creation_timestamp, b->name, b->uid) > 0;
}

static bool
vmim_newer(const struct lb_vmim *a, const struct lb_vmim *b)
{
    return !b || compare_age(a->creation_timestamp, a->name, a->uid,
                             b->creation_timestamp, b->name, b->uid) > 0;
}

/* The key of 'vmims_by_uid', unambiguous whatever bytes the names hold. */
static char *
vmim_uid_key(const char *ns, const char *vm, const char *uid)
{
    return xasprintf("%"PRIuSIZE":%s%"PRIuSIZE":%s%s", strlen(ns), ns,
                     strlen(vm), vm, uid);
}

/* Adds 'pod' to the pods of port 'port'. */
static void
group_pod(struct derive_ctx *ctx, const struct lb_pod *pod, const char *port)
{
    /* A pod that names a port it may not take is not one of its pods: it
     * must not move the port's binding. */
    const struct lb_logical_port *lp
        = lb_cluster_find_logical_port_by_port_name(ctx->cluster, port);
    if (lp && !lb_pod_may_bind(ctx->cluster, pod, lp)) {
        return;
    }
    struct pod_group *group = shash_find_data(&ctx->pods_by_port, port);
    if (!group) {
        group = xzalloc(sizeof *group);
        shash_add(&ctx->pods_by_port, port, group);
    }
    if (group->n >= group->allocated) {
        group->pods = x2nrealloc(group->pods, &group->allocated,
                                 sizeof *group->pods);
    }
    group->pods[group->n++] = pod;
}

/* Adds 'vmim' to the VMIMs 'ctx' looks up by UID and the newest of its
 * VM's. */
static void
ctx_add_vmim(struct derive_ctx *ctx, const struct lb_vmim *vmim)
{
    /* UIDs are unique; should two objects claim one anyway, pick one
     * independently of insertion order, and only among the VMIMs of the
     * port's own VM: a port's migrations are its VM's (between namespaces,
     * only the order of insertion could choose; between VMs, only whether
     * the other VM's VMIMs were gathered). */
    char *key = vmim_uid_key(vmim->ns, vmim->vmi_name, vmim->uid);
    const struct lb_vmim *other = shash_find_data(&ctx->vmims_by_uid, key);
    if (!other || vmim_newer(vmim, other)) {
        shash_replace(&ctx->vmims_by_uid, key, vmim);
    }
    free(key);

    key = xasprintf("%s/%s", vmim->ns, vmim->vmi_name);
    other = shash_find_data(&ctx->newest_vmim, key);
    if (!other || vmim_newer(vmim, other)) {
        shash_replace(&ctx->newest_vmim, key, vmim);
    }
    free(key);
}

/* Gathers the objects that bear on every port, for a full derivation. */
static void
derive_ctx_init(struct derive_ctx *ctx, const struct lb_cluster *cluster)
{
    ctx->cluster = cluster;
    shash_init(&ctx->pods_by_port);
    shash_init(&ctx->vmims_by_uid);
    shash_init(&ctx->newest_vmim);

    struct shash_node *node;
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_POD]) {
        const struct lb_pod *pod = node->data;
        /* Each of its NICs' ports (multinic.h). */
        for (size_t i = 0; i < lb_pod_n_port_names(pod); i++) {
            group_pod(ctx, pod, lb_pod_port_name_at(pod, i));
        }
    }
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_VMIM]) {
        ctx_add_vmim(ctx, node->data);
    }
}

/* Gathers the objects that bear on the ports named in 'ports' only,
 * through the cache's indexes: deriving a few ports costs their own pods
 * and their VMs' VMIMs, not a walk over every pod of the cluster. */
static void
derive_ctx_init_ports(struct derive_ctx *ctx, const struct lb_cluster *cluster,
                  const struct sset *ports)
{
    ctx->cluster = cluster;
    shash_init(&ctx->pods_by_port);
    shash_init(&ctx->vmims_by_uid);
    shash_init(&ctx->newest_vmim);

    /* The ports' pods, and their VMs: a port's migrations are its VM's, and
     * a LogicalPort need not be named after its VM. */
    struct sset vms = SSET_INITIALIZER(&vms);
    const char *port_name;
    SSET_FOR_EACH (port_name, ports) {
        size_t n;
        const void **pods = index_lookup(cluster, LB_KIND_POD,
                                         &cluster->pods_by_port, port_name,
                                         &n);
        for (size_t i = 0; i < n; i++) {
            group_pod(ctx, pods[i], port_name);
        }
        free(pods);

        const struct lb_logical_port *lp
            = lb_cluster_find_logical_port_by_port_name(cluster, port_name);
        if (lp && lp->vm) {
            sset_add_and_free(&vms, xasprintf("%s/%s", lp->ns, lp->vm));
        }
    }

    const char *vm;
    SSET_FOR_EACH (vm, &vms) {
        size_t n;
        const void **vmims = index_lookup(cluster, LB_KIND_VMIM,
                                          &cluster->vmims_by_vm, vm, &n);
        for (size_t i = 0; i < n; i++) {
            ctx_add_vmim(ctx, vmims[i]);
        }
        free(vmims);
    }
    sset_destroy(&vms);
}

static void
derive_ctx_destroy(struct derive_ctx *ctx)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &ctx->pods_by_port) {
        struct pod_group *group = node->data;
        free(group->pods);
        free(group);
    }
    shash_destroy(&ctx->pods_by_port);
    shash_destroy(&ctx->vmims_by_uid);
    shash_destroy(&ctx->newest_vmim);
}

/* What the objects say about migration 'uid' of 'lp''s VM. */
struct migration_view {
    const char *uid;
    const struct lb_vmim *vmim;
    const struct lb_kv_migration_state *vmi_ms;
    const struct lb_kv_migration_state *vmim_ms;
    enum lb_migration_outcome outcome;
};

static bool
ms_succeeded(const struct lb_kv_migration_state *ms)
{
    return (ms && ms->completed && !ms->failed
            && !lb_kv_migration_state_aborted(ms));
}

static bool
ms_failed(const struct lb_kv_migration_state *ms)
{
    return ms && ms->failed;
}

static void
view_migration(const struct derive_ctx *ctx,
               const struct lb_logical_port *lp, const struct lb_vmi *vmi,
               const char *uid, struct migration_view *v)
{
    memset(v, 0, sizeof *v);
    v->uid = uid;
    if (!uid || !*uid || !lp->vm) {
        v->outcome = LB_OUTCOME_NONE;
        return;
    }

    char *key = vmim_uid_key(lp->ns, lp->vm, uid);
    const struct lb_vmim *vmim = shash_find_data(&ctx->vmims_by_uid, key);
    free(key);
    if (vmim) {
        v->vmim = vmim;
        const struct lb_kv_migration_state *ms = vmim->migration_state;
        if (ms && (!ms->migration_uid || !strcmp(ms->migration_uid, uid))) {
            v->vmim_ms = ms;
        }
    }
    if (vmi && vmi->migration_state
        && nullable_string_is_equal(vmi->migration_state->migration_uid,
                                    uid)) {
        v->vmi_ms = vmi->migration_state;
    }

    bool aborted = (lb_kv_migration_state_aborted(v->vmi_ms)
                    || lb_kv_migration_state_aborted(v->vmim_ms));
    if (v->vmim && v->vmim->phase == LB_VMIM_SUCCEEDED) {
        v->outcome = LB_OUTCOME_SUCCEEDED;
    } else if (v->vmim && v->vmim->phase == LB_VMIM_FAILED) {
        v->outcome = aborted ? LB_OUTCOME_CANCELLED : LB_OUTCOME_FAILED;
    } else if (ms_succeeded(v->vmi_ms) || ms_succeeded(v->vmim_ms)) {
        /* The VMI's migrationState may run ahead of the VMIM's phase. */
        v->outcome = LB_OUTCOME_SUCCEEDED;
    } else if (aborted) {
        v->outcome = LB_OUTCOME_CANCELLED;
    } else if (ms_failed(v->vmi_ms) || ms_failed(v->vmim_ms)) {
        v->outcome = LB_OUTCOME_FAILED;
    } else if (v->vmim) {
        v->outcome = (v->vmim->deleting ? LB_OUTCOME_CANCELLED
                      : LB_OUTCOME_IN_PROGRESS);
    } else {
        v->outcome = LB_OUTCOME_GONE;
    }
}

enum pod_role {
    ROLE_IGNORED,
    ROLE_SETTLED,       /* Can be the active owner. */
    ROLE_WEAK,          /* Active owner only if nothing is SETTLED. */
    ROLE_TARGET,        /* Target of a migration in progress. */
};

static bool
status_names_pod(const char *name, const char *uid, const struct lb_pod *pod)
{
    return (uid && *uid ? !strcmp(uid, pod->uid)
            : name && !strcmp(name, pod->name));
}

static bool
pod_is_live(const struct lb_pod *pod)
{
    return (pod->node_name && *pod->node_name && !lb_pod_is_finished(pod)
            && !pod->host_network);
}

/* The migration 'pod' is the target of, or NULL. */
static const char *
pod_migration_uid(const struct lb_logical_port *lp, const struct lb_pod *pod)
{
    if (pod->migration_job_uid && *pod->migration_job_uid) {
        return pod->migration_job_uid;
    }
    if (lp->alternate_migration_uid && *lp->alternate_migration_uid
        && status_names_pod(lp->alternate_pod, lp->alternate_pod_uid, pod)) {
        return lp->alternate_migration_uid;
    }
    return NULL;
}

static enum pod_role
classify_pod(const struct derive_ctx *ctx, const struct lb_logical_port *lp,
             const struct lb_vmi *vmi, const struct lb_pod *pod)
{
    if (!pod_is_live(pod)) {
        return ROLE_IGNORED;
    }
    const char *uid = lp->vm ? pod_migration_uid(lp, pod) : NULL;
    if (!uid) {
        return ROLE_SETTLED;
    }

    struct migration_view v;
    view_migration(ctx, lp, vmi, uid, &v);
    switch (v.outcome) {
    case LB_OUTCOME_SUCCEEDED:
        return ROLE_SETTLED;
    case LB_OUTCOME_IN_PROGRESS:
        return pod->deleting ? ROLE_IGNORED : ROLE_TARGET;
    case LB_OUTCOME_GONE:
        if (!vmi) {
            return ROLE_WEAK;
        }
        return (nullable_string_is_equal(vmi->node_name, pod->node_name)
                ? ROLE_SETTLED : ROLE_IGNORED);
    case LB_OUTCOME_FAILED:
    case LB_OUTCOME_CANCELLED:
    case LB_OUTCOME_NONE:
    default:
        return ROLE_IGNORED;
    }
}

/* A port's derived binding.  Strings point into the cluster's objects. */
struct binding {
    bool opted_in;
    const char *main_node;
    const char *main_pod;
    const char *target_node;    /* Also set for VMs that did not opt in. */
    const char *target_pod;
    const struct lb_pod *target;    /* NULL if from the status. */
    const char *migration_uid;  /* The target's migration. */
    struct migration_view view; /* Of 'migration_uid'. */
    bool activated;
    const char *activation_cause;
};

static void
derive_binding(const struct derive_ctx *ctx,
               const struct lb_logical_port *lp, struct binding *b)
{
    const struct lb_cluster *cluster = ctx->cluster;
    const struct lb_vmi *vmi = (lp->vm
                                ? lb_cluster_find_vmi(cluster, lp->ns, lp->vm)
                                : NULL);
    const struct pod_group *group = shash_find_data(&ctx->pods_by_port,
                                                    lp->port_name);
    const struct lb_pod *settled = NULL, *weak = NULL, *target = NULL;
    bool active_cached = false, alternate_cached = false;
    bool any_pod_opted_in = false;

    memset(b, 0, sizeof *b);
    for (size_t i = 0; group && i < group->n; i++) {
        const struct lb_pod *pod = group->pods[i];
        if (strcmp(pod->ns, lp->ns)) {
            continue;
        }
        active_cached |= status_names_pod(lp->active_pod, lp->active_pod_uid,
                                          pod);
        alternate_cached |= status_names_pod(lp->alternate_pod,
                                             lp->alternate_pod_uid, pod);
        any_pod_opted_in |= pod_is_live(pod) && pod->allow_live_migration;

        switch (classify_pod(ctx, lp, vmi, pod)) {
        case ROLE_SETTLED:
            settled = pod_newer(pod, settled) ? pod : settled;
            break;
        case ROLE_WEAK:
            weak = pod_newer(pod, weak) ? pod : weak;
            break;
        case ROLE_TARGET:
            target = pod_newer(pod, target) ? pod : target;
            break;
        case ROLE_IGNORED:
        default:
            break;
        }
    }
    b->opted_in = lp->vm && (vmi ? vmi->allow_live_migration
                             : any_pod_opted_in);

    /* The status's alternate owner, when its pod is not cached. */
    struct migration_view alt_view;
    bool alt_succeeded = false, alt_in_progress = false;
    if (lp->vm && !alternate_cached && lp->alternate_node
        && *lp->alternate_node) {
        view_migration(ctx, lp, vmi, lp->alternate_migration_uid, &alt_view);
        alt_succeeded = alt_view.outcome == LB_OUTCOME_SUCCEEDED;
        alt_in_progress = alt_view.outcome == LB_OUTCOME_IN_PROGRESS;
    }

    /* Main chassis. */
    const struct lb_pod *active = settled ? settled : weak;
    if (alt_succeeded) {
        b->main_node = lp->alternate_node;
        b->main_pod = lp->alternate_pod;
    } else if (active) {
        b->main_node = active->node_name;
        b->main_pod = active->name;
    } else if (!active_cached && lp->active_node && *lp->active_node) {
        b->main_node = lp->active_node;
        b->main_pod = lp->active_pod;
    }

    /* Migration target. */
    if (!b->main_node) {
        return;
    }
    if (target) {
        b->target_node = target->node_name;
        b->target_pod = target->name;
        b->target = target;
        b->migration_uid = pod_migration_uid(lp, target);
    } else if (alt_in_progress) {
        b->target_node = lp->alternate_node;
        b->target_pod = lp->alternate_pod;
        b->migration_uid = lp->alternate_migration_uid;
    } else {
        return;
    }
    view_migration(ctx, lp, vmi, b->migration_uid, &b->view);

    /* Activation. */
    const char *uid = b->migration_uid;
    if (lp->activation_migration_uid
        && !strcmp(lp->activation_migration_uid, uid)) {
        b->activated = true;
        b->activation_cause = (lp->activation_cause && *lp->activation_cause
                               ? lp->activation_cause : "LogicalPort status");
    } else if (target && target->target_ready_timestamp
               && *target->target_ready_timestamp) {
        b->activated = true;
        b->activation_cause = "target pod ready timestamp";
    } else if (b->view.vmi_ms
               && b->view.vmi_ms->target_node_domain_ready_timestamp
               && *b->view.vmi_ms->target_node_domain_ready_timestamp) {
        b->activated = true;
        b->activation_cause = "VMI target domain ready";
    } else if (b->view.vmim_ms
               && b->view.vmim_ms->target_node_domain_ready_timestamp
               && *b->view.vmim_ms->target_node_domain_ready_timestamp) {
        b->activated = true;
        b->activation_cause = "VMIM target domain ready";
    }
}

struct key_node {
    struct hmap_node node;
    uint32_t key;
    const char *owner;
};

static const char *
find_key(const struct hmap *keys, uint32_t key)
{
    const struct key_node *kn;
    HMAP_FOR_EACH_WITH_HASH (kn, node, hash_int(key, 0), keys) {
        if (kn->key == key) {
            return kn->owner;
        }
    }
    return NULL;
}

static void
add_key(struct hmap *keys, uint32_t key, const char *owner)
{
    struct key_node *kn = xmalloc(sizeof *kn);
    kn->key = key;
    kn->owner = owner;
    hmap_insert(keys, &kn->node, hash_int(key, 0));
}

static void
clear_keys(struct hmap *keys)
{
    struct key_node *kn;
    HMAP_FOR_EACH_POP (kn, node, keys) {
        free(kn);
    }
}

static void
derive_switches(const struct lb_cluster *cluster, struct lb_model *model,
                struct ds *notes)
{
    struct hmap keys = HMAP_INITIALIZER(&keys);
    const struct shash_node **nodes = shash_sort(
        &cluster->objects[LB_KIND_LOGICAL_SWITCH]);
    size_t n = shash_count(&cluster->objects[LB_KIND_LOGICAL_SWITCH]);

    for (size_t i = 0; i < n; i++) {
        const struct lb_logical_switch *ls = nodes[i]->data;
        const char *owner = find_key(&keys, ls->tunnel_key);
        if (owner) {
            if (notes) {
                ds_put_format(notes, "switch %s: tunnel key %"PRIu32" "
                              "already used by switch %s, skipped\n",
                              ls->name, ls->tunnel_key, owner);
            }
            continue;
        }
        add_key(&keys, ls->tunnel_key, ls->name);

        struct lb_switch *sw = lb_model_add_switch(model, ls->name,
                                                   ls->tunnel_key);
        sw->subnet = ls->subnet;
        sw->prefix_len = ls->prefix_len;
        sw->gateway = ls->gateway;
        sw->has_prefix6 = ls->has_prefix6;
        sw->prefix6 = ls->prefix6;
        sw->gateway6 = ls->gateway6;
        sw->mtu = ls->mtu;
        lb_switch_set_provider(sw, ls->physnet, ls->vlan);
    }
    free(nodes);
    clear_keys(&keys);
    hmap_destroy(&keys);
}

static void
derive_chassis(const struct lb_cluster *cluster, struct lb_model *model)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_NODE]) {
        const struct lb_node *n = node->data;
        if (n->tunnel_ip) {
            lb_model_add_chassis(model, n->name, n->tunnel_ip);
        }
    }
}

/* The key of 'lp' in switch 'sw', or 0 with a note if it has none.  It
 * comes from the first IPv4 address, or on an IPv6-only switch from the
 * host number in the first IPv6 address (lib/ipam.h). */
static uint32_t
port_key(const struct lb_logical_port *lp, const struct lb_switch *sw,
         struct ds *notes)
{
    uint32_t key = lp->tunnel_key;
    if (key) {
        return key;
    }
    if (lp->n_ips) {
        struct lb_ipam_subnet subnet = {
            .network = sw->subnet,
            .prefix_len = sw->prefix_len,
            .gateway = sw->gateway,
        };
        key = lb_ipam_port_key(sw->tunnel_key, &subnet, lp->ips[0]);
        if (!key && notes) {
            ds_put_format(notes, "port %s: "IP_FMT" is not a host address "
                          "of switch %s, skipped\n", lp->port_name,
                          IP_ARGS(lp->ips[0]), sw->name);
        }
    } else if (lp->n_ips6) {
        struct lb_ipam_prefix6 p6 = { .prefix = sw->prefix6 };
        ovs_be32 host;
        if (sw->has_prefix6
            && lb_ipam_v6only_host(&p6, &lp->ips6[0], &host)) {
            key = lb_ipam_port_key(sw->tunnel_key, &LB_IPAM_V6ONLY_HOSTS,
                                   host);
        }
        if (!key && notes) {
            ds_put_format(notes, "port %s: ", lp->port_name);
            ipv6_format_addr(&lp->ips6[0], notes);
            ds_put_format(notes, " is not an address IPv6-only switch %s "
                          "gives out, skipped\n", sw->name);
        }
    }
    return key;
}

/* The MAC of 'lp': its own, else the one its first address implies
 * (lib/ipam.h).  False if it has none. */
bool
lb_logical_port_mac(const struct lb_logical_port *lp, struct eth_addr *mac)
{
    if (lp->has_mac) {
        *mac = lp->mac;
        return true;
    } else if (lp->n_ips) {
        *mac = lb_ipam_mac(lp->ips[0]);
        return true;
    } else if (lp->n_ips6) {
        return lb_ipam_ipv6_mac(&lp->ips6[0], mac);
    }
    return false;
}

/* Stores in 'addrs' the IPv6 addresses of 'lp', whose MAC is 'mac', on a
 * switch with IPv6 prefix 'prefix6' (NULL if none) and returns how many:
 * those the port lists or, for a port that lists none (created before its
 * switch had a prefix), the prefix plus the EUI-64 of its MAC. */
size_t
lb_logical_port_ipv6(const struct lb_logical_port *lp,
                     const struct in6_addr *prefix6, struct eth_addr mac,
                     struct in6_addr addrs[LB_MAX_IPS])
{
    if (lp->n_ips6) {
        memcpy(addrs, lp->ips6, lp->n_ips6 * sizeof *addrs);
        return lp->n_ips6;
    } else if (prefix6) {
        struct lb_ipam_prefix6 p6 = { .prefix = *prefix6 };
        lb_ipam_ipv6_address(&p6, mac, &addrs[0]);
        return 1;
    }
    return 0;
}

/* Adds 'lp' to 'model' as port 'key' of switch 'sw', with its binding. */
static void
derive_port(const struct derive_ctx *ctx, const struct lb_logical_port *lp,
            const struct lb_switch *sw, uint32_t key, struct lb_model *model)
{
    struct lb_port *port = lb_model_add_port(model, lp->port_name, key,
                                             sw->name);
    lb_logical_port_mac(lp, &port->mac);
    memcpy(port->ipv4, lp->ips, lp->n_ips * sizeof lp->ips[0]);
    port->n_ipv4 = lp->n_ips;
    port->n_ipv6 = lb_logical_port_ipv6(lp, sw->has_prefix6 ? &sw->prefix6
                                        : NULL, port->mac, port->ipv6);
    port->mirror = ctx->cluster->options.mirror;

    struct binding b;
    derive_binding(ctx, lp, &b);
    const char *additional = b.opted_in ? b.target_node : NULL;
    lb_port_set_chassis(port, b.main_node, additional);
    port->additional_blocked = (port->additional_chassis && !b.activated);
}

static void
derive_ports(const struct derive_ctx *ctx, struct lb_model *model,
             struct ds *notes)
{
    const struct lb_cluster *cluster = ctx->cluster;
    struct hmap keys = HMAP_INITIALIZER(&keys);
    const struct shash_node **nodes = shash_sort(
        &cluster->objects[LB_KIND_LOGICAL_PORT]);
    size_t n = shash_count(&cluster->objects[LB_KIND_LOGICAL_PORT]);

    /* In name order, so that a key collision keeps the same port whatever
     * the insertion order. */
    for (size_t i = 0; i < n; i++) {
        const struct lb_logical_port *lp = nodes[i]->data;
        const struct lb_switch *sw = lb_model_find_switch(model,
                                                          lp->switch_name);
        if (!sw) {
            if (notes) {
                ds_put_format(notes, "port %s: unknown switch %s, skipped\n",
                              lp->port_name, lp->switch_name);
            }
            continue;
        }
        uint32_t key = port_key(lp, sw, notes);
        if (!key) {
            continue;
        }
        const char *owner = find_key(&keys, key);
        if (owner) {
            if (notes) {
                ds_put_format(notes, "port %s: key %"PRIu32" already used "
                              "by port %s, skipped\n", lp->port_name, key,
                              owner);
            }
            continue;
        }
        add_key(&keys, key, lp->port_name);
        derive_port(ctx, lp, sw, key, model);
    }
    free(nodes);
    clear_keys(&keys);
    hmap_destroy(&keys);
}

/* The LogicalPort behind logical port 'port_name' ("<ns>_<name>"; a
 * namespace has no '_'), or NULL. */
const struct lb_logical_port *
lb_cluster_find_logical_port_by_port_name(const struct lb_cluster *cluster,
                                          const char *port_name)
{
    const char *sep = strchr(port_name, '_');
    if (!sep) {
        return NULL;
    }
    char *ns = xmemdup0(port_name, sep - port_name);
    const struct lb_logical_port *lp = lb_cluster_find_logical_port(
        cluster, ns, sep + 1);
    free(ns);
    return lp;
}

/* Whether 'pod' has the NIC 'lp' is the port of: the pod network's for a
 * port without an interface; else a secondary NIC on that interface (its
 * k8s.v1.cni.cncf.io/networks), whose network, for a VM's port, must be
 * one of the VMI's Multus networks when the VMI is known. */
static bool
pod_has_nic_of(const struct lb_cluster *cluster, const struct lb_pod *pod,
               const struct lb_logical_port *lp)
{
    if (lb_ifname_is_primary(lp->interface)) {
        return true;
    }
    const struct lb_nic *nic = lb_nics_find(pod->nics, pod->n_nics,
                                            lp->interface);
    if (!nic) {
        return false;
    }
    const struct lb_vmi *vmi = (lp->vm ? lb_cluster_find_vmi(cluster, lp->ns,
                                                             lp->vm)
                                : NULL);
    if (!vmi) {
        return true;
    }
    char *network = xasprintf("%s/%s", nic->network_ns, nic->network);
    bool found = false;
    for (size_t i = 0; !found && i < vmi->n_multus_networks; i++) {
        found = !strcmp(vmi->multus_networks[i], network);
    }
    free(network);
    return found;
}

/* Whether 'pod' may plug into 'lp' (and so take its IP and MAC, and bind
 * it to its node).  A VM's port takes only the VM's own virt-launcher pods:
 * those whose controller is the VM's VirtualMachineInstance, with the VMI's
 * UID when the VMI is known (KubeVirt's labels and annotations are any
 * pod's to set).  A pod's port takes only that pod, never a VM's pod. */
bool
lb_pod_may_bind(const struct lb_cluster *cluster, const struct lb_pod *pod,
                const struct lb_logical_port *lp)
{
    if (strcmp(pod->ns, lp->ns) || !pod_has_nic_of(cluster, pod, lp)) {
        return false;
    }
    const char *vm = lb_pod_vm_name(pod);
    if (lp->vm) {
        if (!vm || strcmp(vm, lp->vm)) {
            return false;
        }
        const struct lb_vmi *vmi = lb_cluster_find_vmi(cluster, lp->ns,
                                                       lp->vm);
        return (!vmi || !vmi->uid
                || (pod->owner_uid && !strcmp(pod->owner_uid, vmi->uid)));
    }
    return !vm && lp->pod && !strcmp(lp->pod, pod->name);
}

/* Replaces the contents of 'model' (which must be initialized) by the model
 * derived from 'cluster'.  If 'notes' is nonnull, appends a line for each
 * object left out and why. */
void
lb_derive_model_explain(const struct lb_cluster *cluster,
                        struct lb_model *model, struct ds *notes)
{
    struct derive_ctx ctx;

    lb_model_clear(model);
    derive_ctx_init(&ctx, cluster);
    derive_switches(cluster, model, notes);
    derive_chassis(cluster, model);
    derive_ports(&ctx, model, notes);
    derive_ctx_destroy(&ctx);
}

void
lb_derive_model(const struct lb_cluster *cluster, struct lb_model *model)
{
    lb_derive_model_explain(cluster, model, NULL);
}

/* Migration facts.
 *
 * The migration reported for a port is the one its binding follows (a
 * target in progress), else the VM's newest VMIM, else the one the VMI's
 * migrationState describes. */
static void
derive_facts(const struct derive_ctx *ctx, const struct lb_logical_port *lp,
             struct lb_migration_facts *f)
{
    struct binding b;
    derive_binding(ctx, lp, &b);

    memset(f, 0, sizeof *f);
    f->opted_in = b.opted_in;
    if (!lp->vm) {
        return;
    }

    const struct lb_vmi *vmi = lb_cluster_find_vmi(ctx->cluster, lp->ns,
                                                   lp->vm);
    struct migration_view v;
    if (b.migration_uid) {
        v = b.view;
    } else {
        char *key = xasprintf("%s/%s", lp->ns, lp->vm);
        const struct lb_vmim *newest = shash_find_data(&ctx->newest_vmim,
                                                       key);
        free(key);
        const char *uid = (newest ? newest->uid
                           : vmi && vmi->migration_state
                           ? vmi->migration_state->migration_uid : NULL);
        view_migration(ctx, lp, vmi, uid, &v);
    }
    if (v.outcome == LB_OUTCOME_NONE) {
        return;
    }

    const struct lb_kv_migration_state *ms = (v.vmim_ms ? v.vmim_ms
                                              : v.vmi_ms);
    f->migration_uid = v.uid;
    f->vmim = (v.vmim ? v.vmim->name
               : b.target ? b.target->migration_job_name : NULL);
    f->phase = v.vmim ? v.vmim->phase : LB_VMIM_NONE;
    f->outcome = v.outcome;

    if (v.outcome == LB_OUTCOME_IN_PROGRESS) {
        f->source_node = b.main_node;
        if (b.migration_uid) {
            f->target_node = b.target_node;
            f->target_pod = b.target_pod;
            f->activated = b.activated;
            f->activation_cause = b.activation_cause;
        } else {
            /* No live target: it may not exist yet, or be going away. */
            /* The newest such pod, whatever order the pods were
             * gathered in (the cache's indexes or a walk over all). */
            const struct pod_group *group = shash_find_data(
                &ctx->pods_by_port, lp->port_name);
            const struct lb_pod *gone = NULL;
            for (size_t i = 0; group && i < group->n; i++) {
                const struct lb_pod *pod = group->pods[i];
                const char *uid = pod_migration_uid(lp, pod);
                if (uid && !strcmp(uid, v.uid)
                    && (pod->deleting || lb_pod_is_finished(pod))
                    && pod_newer(pod, gone)) {
                    gone = pod;
                }
            }
            if (gone) {
                f->target_pod_gone = true;
                f->target_pod = gone->name;
            }
        }
    } else {
        f->source_node = ms ? ms->source_node : NULL;
        f->target_node = ms ? ms->target_node : NULL;
        f->target_pod = ms ? ms->target_pod : NULL;
    }
}

/* Stores in 'f' the facts about 'lp''s latest migration.  The strings in
 * 'f' point into 'cluster' and stay valid until it changes. */
void
lb_derive_migration_facts(const struct lb_cluster *cluster,
                          const struct lb_logical_port *lp,
                          struct lb_migration_facts *f)
{
    struct sset ports = SSET_INITIALIZER(&ports);
    sset_add(&ports, lp->port_name);
    struct derive_ctx ctx;
    derive_ctx_init_ports(&ctx, cluster, &ports);
    derive_facts(&ctx, lp, f);
    derive_ctx_destroy(&ctx);
    sset_destroy(&ports);
}

/* Feeds the facts about every port's latest migration into 'table' at time
 * 'now', and retires the records of ports that no longer exist.  Returns
 * true if 'table' changed. */
bool
lb_derive_migrations(const struct lb_cluster *cluster,
                     struct lb_migration_table *table, long long int now)
{
    struct derive_ctx ctx;
    bool changed = false;

    derive_ctx_init(&ctx, cluster);
    struct sset ports = SSET_INITIALIZER(&ports);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_LOGICAL_PORT]) {
        const struct lb_logical_port *lp = node->data;
        struct lb_migration_facts f;
        derive_facts(&ctx, lp, &f);
        changed |= lb_migration_table_update(table, lp->port_name, &f, now);
        sset_add(&ports, lp->port_name);
    }
    derive_ctx_destroy(&ctx);

    struct lb_migration_record *rec;
    HMAP_FOR_EACH_SAFE (rec, hmap_node, &table->current) {
        if (!sset_contains(&ports, rec->port)) {
            changed |= lb_migration_table_remove(table, rec->port, now);
        }
    }
    sset_destroy(&ports);
    return changed;
}

/* Updates, in 'model' (derived from 'cluster' before some changes), the
 * ports named in 'ports': each is derived again, or removed if its
 * LogicalPort is gone.  Gives the same model as lb_derive_model(), except
 * when a port's key would collide with another port's: then it returns
 * false, having changed nothing, and the caller derives everything. */
bool
lb_derive_ports(const struct lb_cluster *cluster, const struct sset *ports,
                struct lb_model *model)
{
    /* Check first, so that a refusal leaves 'model' untouched.  The model's
     * keys are unique, so a port that keeps its key collides with nothing
     * there, and only a new key costs the walk over the model's ports
     * (lb_model_find_port_by_key()); two of 'ports' may also claim one. */
    struct hmap keys = HMAP_INITIALIZER(&keys);
    bool collision = false;
    const char *name;
    SSET_FOR_EACH (name, ports) {
        const struct lb_logical_port *lp
            = lb_cluster_find_logical_port_by_port_name(cluster, name);
        const struct lb_switch *sw
            = lp ? lb_model_find_switch(model, lp->switch_name) : NULL;
        uint32_t key = sw ? port_key(lp, sw, NULL) : 0;
        if (!key) {
            continue;
        }
        const struct lb_port *own = lb_model_find_port(model, name);
        const struct lb_port *other
            = (own && own->key == key ? NULL
               : lb_model_find_port_by_key(model, key));
        if ((other && strcmp(other->name, name)) || find_key(&keys, key)) {
            collision = true;
            break;
        }
        add_key(&keys, key, name);
    }
    clear_keys(&keys);
    hmap_destroy(&keys);
    if (collision) {
        return false;
    }

    struct derive_ctx ctx;
    derive_ctx_init_ports(&ctx, cluster, ports);
    SSET_FOR_EACH (name, ports) {
        lb_model_remove_port(model, lb_model_find_port(model, name));
        const struct lb_logical_port *lp
            = lb_cluster_find_logical_port_by_port_name(cluster, name);
        const struct lb_switch *sw
            = lp ? lb_model_find_switch(model, lp->switch_name) : NULL;
        uint32_t key = sw ? port_key(lp, sw, NULL) : 0;
        if (key) {
            derive_port(&ctx, lp, sw, key, model);
        }
    }
    derive_ctx_destroy(&ctx);
    return true;
}

/* Like lb_derive_migrations(), for the ports named in 'ports' only. */
bool
lb_derive_migrations_of(const struct lb_cluster *cluster,
                        const struct sset *ports,
                        struct lb_migration_table *table, long long int now)
{
    struct derive_ctx ctx;
    bool changed = false;

    derive_ctx_init_ports(&ctx, cluster, ports);
    const char *name;
    SSET_FOR_EACH (name, ports) {
        const struct lb_logical_port *lp
            = lb_cluster_find_logical_port_by_port_name(cluster, name);
        if (lp) {
            struct lb_migration_facts f;
            derive_facts(&ctx, lp, &f);
            changed |= lb_migration_table_update(table, name, &f, now);
        } else if (lb_migration_table_find(table, name)) {
            changed |= lb_migration_table_remove(table, name, now);
        }
    }
    derive_ctx_destroy(&ctx);
    return changed;
}
