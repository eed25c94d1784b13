/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "k8s-objects.h"

#include <stddef.h>
#include <string.h>
#include <stdarg.h>
#include "ipam.h"
#include "pipeline-gateway.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "util.h"

#include "lb-json.h"

/* Field descriptors.
 *
 * Most fields are a string or a boolean at a fixed path in the object.  A
 * table of descriptors per kind drives parsing, comparison and freeing, so
 * that a field added to a struct is handled in one place. */

enum field_type {
    F_STRING,           /* char *, at most 'max_len' bytes. */
    F_BOOL,             /* bool, from JSON true/false. */
    F_STRING_SET,       /* bool, true if the string is present. */
    F_STRING_TRUE,      /* bool, true if the string is "true". */
};

#define MAX_PATH 4

struct field {
    const char *path[MAX_PATH + 1];   /* NULL-terminated keys. */
    enum field_type type;
    size_t offset;
    size_t max_len;
    bool required;
    bool compare;       /* False for fields every update changes. */
};

#define STRING(OFS, MAX, ...) \
    { { __VA_ARGS__, NULL }, F_STRING, OFS, MAX, false, true }
#define REQUIRED(OFS, MAX, ...) \
    { { __VA_ARGS__, NULL }, F_STRING, OFS, MAX, true, true }
#define BOOLEAN(OFS, ...) \
    { { __VA_ARGS__, NULL }, F_BOOL, OFS, 0, false, true }
#define STRING_SET(OFS, ...) \
    { { __VA_ARGS__, NULL }, F_STRING_SET, OFS, LB_K8S_SHORT_MAX, \
      false, true }
#define STRING_TRUE(OFS, ...) \
    { { __VA_ARGS__, NULL }, F_STRING_TRUE, OFS, \
      LB_K8S_ANNOTATION_VALUE_MAX, false, true }

static void
format_path(struct ds *s, const char *const *path, size_t n)
{
    for (size_t i = 0; i < n && path[i]; i++) {
        if (strpbrk(path[i], "./")) {
            ds_put_format(s, "[\"%s\"]", path[i]);
        } else {
            ds_put_format(s, "%s%s", i ? "." : "", path[i]);
        }
    }
}

static char * OVS_PRINTF_FORMAT(4, 5)
field_error(const char *what, const char *const *path, size_t n,
            const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;

    ds_put_format(&s, "%s: ", what);
    format_path(&s, path, n);
    ds_put_cstr(&s, ": ");
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    return ds_steal_cstr(&s);
}

static size_t
path_len(const char *const *path)
{
    size_t n = 0;
    while (path[n]) {
        n++;
    }
    return n;
}

/* Returns the value at 'path' in 'root', or NULL if it or an object on the
 * way is absent or null.  An intermediate that is not an object is an
 * error, reported in '*error'. */
static const json_t *
lookup(const json_t *root, const char *const *path, const char *what,
       char **error)
{
    const json_t *v = root;
    for (size_t i = 0; path[i]; i++) {
        if (!json_is_object(v)) {
            *error = field_error(what, path, i, "must be an object");
            return NULL;
        }
        v = json_object_get(v, path[i]);
        if (!v || json_is_null(v)) {
            return NULL;
        }
    }
    return v;
}

/* Checks that 'v' is a string of at most 'max_len' bytes without NULs. */
static char *
check_string(const json_t *v, size_t max_len, const char *what,
             const char *const *path)
{
    size_t n = path_len(path);
    if (!json_is_string(v)) {
        return field_error(what, path, n, "must be a string");
    }
    size_t len = json_string_length(v);
    if (len > max_len) {
        return field_error(what, path, n, "string of %zu bytes exceeds the "
                           "limit of %zu", len, max_len);
    }
    if (strlen(json_string_value(v)) != len) {
        return field_error(what, path, n, "string contains a NUL byte");
    }
    return NULL;
}

/* Looks up an optional string: '*valuep' is NULL if absent. */
static char *
get_string(const json_t *root, const char *const *path, size_t max_len,
           bool required, const char *what, const char **valuep)
{
    char *error = NULL;
    const json_t *v = lookup(root, path, what, &error);

    *valuep = NULL;
    if (error) {
        return error;
    }
    if (!v) {
        return (required
                ? field_error(what, path, path_len(path), "missing")
                : NULL);
    }
    error = check_string(v, max_len, what, path);
    if (!error) {
        *valuep = json_string_value(v);
        if (required && !**valuep) {
            return field_error(what, path, path_len(path), "empty");
        }
    }
    return error;
}

static char *
get_uint(const json_t *root, const char *const *path, uint64_t min,
         uint64_t max, const char *what, bool *presentp, uint64_t *valuep)
{
    char *error = NULL;
    const json_t *v = lookup(root, path, what, &error);

    *presentp = false;
    if (error || !v) {
        return error;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || json_integer_value(v) < min || json_integer_value(v) > max) {
        return field_error(what, path, path_len(path),
                           "must be an integer in [%"PRIu64", %"PRIu64"]",
                           min, max);
    }
    *presentp = true;
    *valuep = json_integer_value(v);
    return NULL;
}

static char *
parse_fields(const json_t *root, const struct field *fields, size_t n,
             void *obj, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        const struct field *f = &fields[i];
        void *member = (char *) obj + f->offset;
        char *error = NULL;

        if (f->type == F_BOOL) {
            const json_t *v = lookup(root, f->path, what, &error);
            if (error) {
                return error;
            }
            if (v && !json_is_boolean(v)) {
                return field_error(what, f->path, path_len(f->path),
                                   "must be true or false");
            }
            *(bool *) member = v && json_is_true(v);
            continue;
        }

        const char *s;
        error = get_string(root, f->path, f->max_len, f->required, what, &s);
        if (error) {
            return error;
        }
        switch (f->type) {
        case F_STRING:
            *(char **) member = nullable_xstrdup(s);
            break;
        case F_STRING_SET:
            *(bool *) member = s != NULL;
            break;
        case F_STRING_TRUE:
            *(bool *) member = s && !strcmp(s, "true");
            break;
        case F_BOOL:
        default:
            OVS_NOT_REACHED();
        }
    }
    return NULL;
}

static bool
fields_equal(const void *a, const void *b, const struct field *fields,
             size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct field *f = &fields[i];
        const void *ma = (const char *) a + f->offset;
        const void *mb = (const char *) b + f->offset;

        if (!f->compare) {
            continue;
        }
        if (f->type == F_STRING) {
            if (!nullable_string_is_equal(*(char *const *) ma,
                                          *(char *const *) mb)) {
                return false;
            }
        } else if (*(const bool *) ma != *(const bool *) mb) {
            return false;
        }
    }
    return true;
}

static void
fields_free(void *obj, const struct field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fields[i].type == F_STRING) {
            char **member = (char **) ((char *) obj + fields[i].offset);
            free(*member);
            *member = NULL;
        }
    }
}

/* Object identity: "Kind ns/name" for messages, or just "Kind" if the name
 * itself is bad. */
static char *
parse_identity(const json_t *root, const char *kind, bool namespaced,
               const char **nsp, const char **namep, char **whatp)
{
    static const char *const name_path[] = { "metadata", "name", NULL };
    static const char *const ns_path[] = { "metadata", "namespace", NULL };

    *nsp = *namep = NULL;
    *whatp = NULL;
    if (!json_is_object(root)) {
        return xasprintf("%s: not a JSON object", kind);
    }
    char *error = get_string(root, name_path, LB_K8S_NAME_MAX, true, kind,
                             namep);
    if (!error && namespaced) {
        error = get_string(root, ns_path, LB_K8S_NAMESPACE_MAX, true, kind,
                           nsp);
        /* A namespace is a DNS label, never with '_': port names
         * "<ns>_<name>" rely on it to name one object only. */
        if (!error && strchr(*nsp, '_')) {
            error = xasprintf("%s %s: metadata.namespace: \"%s\" is not a "
                              "namespace name (contains '_')", kind, *namep,
                              *nsp);
        }
    }
    if (error) {
        return error;
    }
    *whatp = (namespaced
              ? xasprintf("%s %s/%s", kind, *nsp, *namep)
              : xasprintf("%s %s", kind, *namep));
    return NULL;
}

char *
lb_k8s_metadata_from_json(const json_t *root, char **nsp, char **namep,
                          char **uidp)
{
    static const char *const ns_path[] = { "metadata", "namespace", NULL };
    static const char *const uid_path[] = { "metadata", "uid", NULL };
    const char *ns, *name, *uid;
    char *what;

    char *error = parse_identity(root, "object", false, &ns, &name, &what);
    if (!error) {
        error = get_string(root, ns_path, LB_K8S_NAMESPACE_MAX, false, what,
                           &ns);
    }
    if (!error) {
        error = get_string(root, uid_path, LB_K8S_SHORT_MAX, false, what,
                           &uid);
    }
    if (!error) {
        *nsp = nullable_xstrdup(ns);
        *namep = xstrdup(name);
        *uidp = nullable_xstrdup(uid);
    }
    free(what);
    return error;
}

/* KubeVirt migrationState. */

#define MS_PATH "status", "migrationState"
#define MS(MEMBER) offsetof(struct lb_kv_migration_state, MEMBER)
static const struct field migration_state_fields[] = {
    STRING(MS(migration_uid), LB_K8S_SHORT_MAX, MS_PATH, "migrationUid"),
    STRING(MS(source_node), LB_K8S_NAME_MAX, MS_PATH, "sourceNode"),
    STRING(MS(target_node), LB_K8S_NAME_MAX, MS_PATH, "targetNode"),
    STRING(MS(source_pod), LB_K8S_NAME_MAX, MS_PATH, "sourcePod"),
    STRING(MS(target_pod), LB_K8S_NAME_MAX, MS_PATH, "targetPod"),
    STRING(MS(target_node_domain_ready_timestamp), LB_K8S_SHORT_MAX,
           MS_PATH, "targetNodeDomainReadyTimestamp"),
    BOOLEAN(MS(completed), MS_PATH, "completed"),
    BOOLEAN(MS(failed), MS_PATH, "failed"),
    BOOLEAN(MS(abort_requested), MS_PATH, "abortRequested"),
    STRING(MS(abort_status), LB_K8S_SHORT_MAX, MS_PATH, "abortStatus"),
    STRING(MS(mode), LB_K8S_SHORT_MAX, MS_PATH, "mode"),
};

static char *
parse_migration_state(const json_t *root, const char *what,
                      struct lb_kv_migration_state **msp)
{
    static const char *const path[] = { MS_PATH, NULL };
    char *error = NULL;
    const json_t *v = lookup(root, path, what, &error);

    *msp = NULL;
    if (error || !v) {
        return error;
    }
    if (!json_is_object(v)) {
        return field_error(what, path, 2, "must be an object");
    }
    struct lb_kv_migration_state *ms = xzalloc(sizeof *ms);
    error = parse_fields(root, migration_state_fields,
                         ARRAY_SIZE(migration_state_fields), ms, what);
    if (error) {
        lb_kv_migration_state_destroy(ms);
        return error;
    }
    *msp = ms;
    return NULL;
}

void
lb_kv_migration_state_destroy(struct lb_kv_migration_state *ms)
{
    if (ms) {
        fields_free(ms, migration_state_fields,
                    ARRAY_SIZE(migration_state_fields));
        free(ms);
    }
}

bool
lb_kv_migration_state_equal(const struct lb_kv_migration_state *a,
                            const struct lb_kv_migration_state *b)
{
    if (!a || !b) {
        return a == b;
    }
    return fields_equal(a, b, migration_state_fields,
                        ARRAY_SIZE(migration_state_fields));
}

/* True if the migration was cancelled: KubeVirt reports a successful
 * abort. */
bool
lb_kv_migration_state_aborted(const struct lb_kv_migration_state *ms)
{
    return ms && ms->abort_status && !strcmp(ms->abort_status, "Succeeded");
}

/* Pod. */

#define POD(MEMBER) offsetof(struct lb_pod, MEMBER)
#define LABEL(KEY) "metadata", "labels", KEY
#define ANNOTATION(KEY) "metadata", "annotations", KEY
static const struct field pod_fields[] = {
    REQUIRED(POD(uid), LB_K8S_SHORT_MAX, "metadata", "uid"),
    { { "metadata", "resourceVersion", NULL }, F_STRING,
      POD(resource_version), LB_K8S_SHORT_MAX, false, false },
    STRING(POD(creation_timestamp), LB_K8S_SHORT_MAX,
           "metadata", "creationTimestamp"),
    STRING_SET(POD(deleting), "metadata", "deletionTimestamp"),
    STRING(POD(node_name), LB_K8S_NAME_MAX, "spec", "nodeName"),
    BOOLEAN(POD(host_network), "spec", "hostNetwork"),
    STRING(POD(phase), LB_K8S_SHORT_MAX, "status", "phase"),

    STRING(POD(migration_job_uid), LB_K8S_LABEL_VALUE_MAX,
           LABEL(LB_LABEL_MIGRATION_JOB_UID)),
    STRING(POD(vm_name_label), LB_K8S_LABEL_VALUE_MAX,
           LABEL(LB_LABEL_VM_NAME)),
    { { LABEL(LB_LABEL_KUBEVIRT), NULL }, F_STRING_SET, POD(virt_launcher),
      LB_K8S_LABEL_VALUE_MAX, false, true },
    STRING(POD(created_by), LB_K8S_LABEL_VALUE_MAX,
           LABEL(LB_LABEL_CREATED_BY)),

    STRING(POD(domain), LB_K8S_NAME_MAX, ANNOTATION(LB_ANNOTATION_DOMAIN)),
    STRING(POD(migration_job_name), LB_K8S_NAME_MAX,
           ANNOTATION(LB_ANNOTATION_MIGRATION_JOB_NAME)),
    STRING(POD(target_ready_timestamp), LB_K8S_SHORT_MAX,
           ANNOTATION(LB_ANNOTATION_TARGET_READY)),
    STRING_TRUE(POD(allow_live_migration),
                ANNOTATION(LB_ANNOTATION_ALLOW_MIGRATION)),
    STRING(POD(logical_switch), LB_K8S_NAME_MAX,
           ANNOTATION(LB_ANNOTATION_LOGICAL_SWITCH)),
    STRING(POD(networks), LB_K8S_ANNOTATION_VALUE_MAX,
           ANNOTATION(LB_ANNOTATION_NETWORKS)),
};

/* Finds the controller among 'metadata.ownerReferences'. */
static char *
parse_controller(const json_t *root, const char *what, struct lb_pod *pod)
{
    static const char *const path[] = { "metadata", "ownerReferences",
                                        NULL };
    char *error = NULL;
    const json_t *refs = lookup(root, path, what, &error);
    if (error || !refs) {
        return error;
    }
    if (!json_is_array(refs)) {
        return field_error(what, path, 2, "must be an array");
    }

    bool found = false;
    size_t i;
    const json_t *ref;
    json_array_foreach (refs, i, ref) {
        char elem[32];
        snprintf(elem, sizeof elem, "%zu", i);
        const char *ref_path[] = { "metadata", "ownerReferences", elem, NULL,
                                   NULL };
        if (!json_is_object(ref)) {
            return field_error(what, ref_path, 3, "must be an object");
        }

        ref_path[3] = "controller";
        const json_t *controller = json_object_get(ref, "controller");
        if (controller && !json_is_null(controller)
            && !json_is_boolean(controller)) {
            return field_error(what, ref_path, 4, "must be true or false");
        }
        if (!json_is_true(controller)) {
            continue;
        }

        static const char *const keys[] = { "kind", "name", "uid" };
        const char *values[3];
        for (size_t k = 0; k < 3; k++) {
            const char *key_path[] = { keys[k], NULL };
            ref_path[3] = keys[k];
            error = get_string(ref, key_path,
                               k == 1 ? LB_K8S_NAME_MAX : LB_K8S_SHORT_MAX,
                               false, what, &values[k]);
            if (error) {
                /* Re-report with the full path for a clear message. */
                free(error);
                return field_error(what, ref_path, 4,
                                   "must be a string of at most %d bytes",
                                   k == 1 ? LB_K8S_NAME_MAX
                                          : LB_K8S_SHORT_MAX);
            }
        }
        /* The API server allows one controller; should there be more, the
         * first counts.  Not 'owner_kind' as the flag: it may be NULL. */
        if (!found) {
            found = true;
            pod->owner_kind = nullable_xstrdup(values[0]);
            pod->owner_name = nullable_xstrdup(values[1]);
            pod->owner_uid = nullable_xstrdup(values[2]);
        }
    }
    return NULL;
}

/* The logical port a pod plugs into: its VM's, or its own.  Kubernetes
 * names cannot contain '_', so "<ns>_<name>" is unambiguous.  Nothing the
 * pod sets names it: the livebind.io/logical-port annotation is the agent's
 * answer, written for people and tools, not a request (read back, it let
 * any pod name any port of its namespace). */
static char *
compute_port_name(const struct lb_pod *pod)
{
    if (pod->host_network) {
        return NULL;
    }
    const char *vm = lb_pod_vm_name(pod);
    return xasprintf("%s_%s", pod->ns, vm ? vm : pod->name);
}

/* Labels and named container ports, for NetworkPolicy.  Lenient: what is
 * not a string label or a well-formed named port is left out (the API
 * server has validated them). */
static void
parse_pod_policy_fields(const json_t *root, struct lb_pod *pod)
{
    const json_t *labels = json_object_get(json_object_get(root, "metadata"),
                                           "labels");
    const char *key;
    const json_t *value;
    json_object_foreach ((json_t *) labels, key, value) {
        if (json_is_string(value)
            && strlen(json_string_value(value)) <= LB_K8S_LABEL_VALUE_MAX) {
            smap_replace(&pod->labels, key, json_string_value(value));
        }
    }

    const json_t *containers = json_object_get(json_object_get(root, "spec"),
                                               "containers");
    size_t i;
    const json_t *c;
    json_array_foreach (containers, i, c) {
        size_t j;
        const json_t *p;
        json_array_foreach (json_object_get(c, "ports"), j, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const json_t *num = json_object_get(p, "containerPort");
            const char *proto = json_string_value(json_object_get(
                                                      p, "protocol"));
            uint8_t ipproto = (!proto || !strcmp(proto, "TCP") ? IPPROTO_TCP
                               : !strcmp(proto, "UDP") ? IPPROTO_UDP
                               : !strcmp(proto, "SCTP") ? IPPROTO_SCTP : 0);
            if (!name || !name[0] || strlen(name) > 15
                || !json_is_integer(num) || json_integer_value(num) < 1
                || json_integer_value(num) > 65535 || !ipproto
                || pod->n_ports >= 256) {
                continue;
            }
            pod->ports = xrealloc(pod->ports,
                                  (pod->n_ports + 1) * sizeof *pod->ports);
            pod->ports[pod->n_ports++] = (struct lb_pod_port) {
                .name = xstrdup(name), .proto = ipproto,
                .port = json_integer_value(num),
            };
        }
    }
}

/* The secondary NICs of 'pod' and their ports' names (multinic.h). */
static void
compute_nics(struct lb_pod *pod)
{
    if (!pod->networks || !pod->port_name) {
        return;
    }
    pod->nics_error = lb_nics_parse(pod->networks, pod->ns, &pod->nics,
                                    &pod->n_nics);
    if (pod->nics_error) {
        return;
    }
    const char *vm = lb_pod_vm_name(pod);
    pod->nic_port_names = xcalloc(pod->n_nics, sizeof *pod->nic_port_names);
    for (size_t i = 0; i < pod->n_nics; i++) {
        char *name = lb_nic_object_name(vm ? vm : pod->name,
                                        pod->nics[i].ifname);
        pod->nic_port_names[i] = xasprintf("%s_%s", pod->ns, name);
        free(name);
    }
}

char *
lb_pod_from_json(const json_t *root, struct lb_pod **objp)
{
    const char *ns, *name;
    char *what;
    char *error = parse_identity(root, "Pod", true, &ns, &name, &what);
    if (error) {
        return error;
    }

    struct lb_pod *pod = xzalloc(sizeof *pod);
    smap_init(&pod->labels);
    pod->ns = xstrdup(ns);
    pod->name = xstrdup(name);
    error = parse_fields(root, pod_fields, ARRAY_SIZE(pod_fields), pod,
                         what);
    if (!error) {
        error = parse_controller(root, what, pod);
    }
    free(what);
    if (error) {
        lb_pod_destroy(pod);
        return error;
    }

    /* Only "virt-launcher" counts, but the field parser stored presence. */
    if (pod->virt_launcher) {
        const json_t *labels = json_object_get(
            json_object_get(root, "metadata"), "labels");
        pod->virt_launcher = !strcmp(json_string_value(json_object_get(
                                         labels, LB_LABEL_KUBEVIRT)),
                                     "virt-launcher");
    }
    pod->port_name = compute_port_name(pod);
    parse_pod_policy_fields(root, pod);
    compute_nics(pod);
    *objp = pod;
    return NULL;
}

void
lb_pod_destroy(struct lb_pod *pod)
{
    if (pod) {
        fields_free(pod, pod_fields, ARRAY_SIZE(pod_fields));
        free(pod->ns);
        free(pod->name);
        free(pod->owner_kind);
        free(pod->owner_name);
        free(pod->owner_uid);
        free(pod->port_name);
        smap_destroy(&pod->labels);
        for (size_t i = 0; i < pod->n_ports; i++) {
            free(pod->ports[i].name);
        }
        free(pod->ports);
        for (size_t i = 0; pod->nic_port_names && i < pod->n_nics; i++) {
            free(pod->nic_port_names[i]);
        }
        free(pod->nic_port_names);
        lb_nics_free(pod->nics, pod->n_nics);
        free(pod->nics_error);
        free(pod);
    }
}

static bool
pod_ports_equal(const struct lb_pod *a, const struct lb_pod *b)
{
    if (a->n_ports != b->n_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        if (strcmp(a->ports[i].name, b->ports[i].name)
            || a->ports[i].proto != b->ports[i].proto
            || a->ports[i].port != b->ports[i].port) {
            return false;
        }
    }
    return true;
}

/* Ignores 'resource_version', which every update changes. */
bool
lb_pod_equal(const struct lb_pod *a, const struct lb_pod *b)
{
    return (!strcmp(a->ns, b->ns)
            && !strcmp(a->name, b->name)
            && fields_equal(a, b, pod_fields, ARRAY_SIZE(pod_fields))
            && nullable_string_is_equal(a->owner_kind, b->owner_kind)
            && nullable_string_is_equal(a->owner_name, b->owner_name)
            && nullable_string_is_equal(a->owner_uid, b->owner_uid)
            && nullable_string_is_equal(a->port_name, b->port_name)
            && smap_equal(&a->labels, &b->labels)
            && pod_ports_equal(a, b));
}

/* The name of the VM (VirtualMachineInstance) 'pod' runs, or NULL if it is
 * not a virt-launcher pod.  Only the controller reference counts, as
 * KubeVirt sets it: labels and annotations (vm.kubevirt.io/name,
 * kubevirt.io/domain) are any pod's to set, and the VM's port must not be
 * (lb_pod_may_bind() also checks the VMI's UID). */
const char *
lb_pod_vm_name(const struct lb_pod *pod)
{
    if (pod->owner_kind && !strcmp(pod->owner_kind, "VirtualMachineInstance")
        && pod->owner_name && *pod->owner_name) {
        return pod->owner_name;
    }
    return NULL;
}

/* True if KubeVirt created 'pod' as the target of a live migration.  The
 * label stays after the migration, so this says nothing about whether the
 * migration is still running. */
bool
lb_pod_is_migration_target(const struct lb_pod *pod)
{
    return (pod->migration_job_uid && *pod->migration_job_uid
            && lb_pod_vm_name(pod));
}

/* The name of the logical port 'pod' plugs into ("<ns>_<vm>" for a VM's
 * pod, "<ns>_<pod>" otherwise, unless annotated), or NULL for a host-network
 * pod. */
const char *
lb_pod_logical_port_name(const struct lb_pod *pod)
{
    return pod->port_name;
}

/* The number of logical ports 'pod' plugs into: its pod network's (if it
 * has one) and its secondary NICs', each named by lb_pod_port_name_at(). */
size_t
lb_pod_n_port_names(const struct lb_pod *pod)
{
    return pod->port_name ? 1 + pod->n_nics : 0;
}

const char *
lb_pod_port_name_at(const struct lb_pod *pod, size_t i)
{
    return i ? pod->nic_port_names[i - 1] : pod->port_name;
}

/* True if all of 'pod''s containers have terminated for good. */
bool
lb_pod_is_finished(const struct lb_pod *pod)
{
    return pod->phase && (!strcmp(pod->phase, "Succeeded")
                          || !strcmp(pod->phase, "Failed"));
}

/* Node. */

/* The first IPv4 InternalIP in '*ip' (if '*ip' is 0), and in 'node' (if
 * nonnull) the first of each family. */
static char *
parse_internal_ip(const json_t *root, const char *what, ovs_be32 *ip,
                  struct lb_node *node)
{
    static const char *const path[] = { "status", "addresses", NULL };
    char *error = NULL;
    const json_t *addrs = lookup(root, path, what, &error);
    if (error || !addrs) {
        return error;
    }
    if (!json_is_array(addrs)) {
        return field_error(what, path, 2, "must be an array");
    }

    size_t i;
    const json_t *addr;
    json_array_foreach (addrs, i, addr) {
        char elem[32];
        snprintf(elem, sizeof elem, "%zu", i);
        const char *elem_path[] = { "status", "addresses", elem, NULL };
        if (!json_is_object(addr)) {
            return field_error(what, elem_path, 3, "must be an object");
        }
        const json_t *type = json_object_get(addr, "type");
        const json_t *address = json_object_get(addr, "address");
        if (!json_is_string(type) || !json_is_string(address)) {
            return field_error(what, elem_path, 3, "\"type\" and "
                               "\"address\" must be strings");
        }
        /* Dual-stack nodes list an IPv6 InternalIP too: skip it. */
        ovs_be32 candidate;
        struct in6_addr candidate6;
        if (strcmp(json_string_value(type), "InternalIP")) {
            continue;
        }
        if (ip_parse(json_string_value(address), &candidate)) {
            if (!*ip) {
                *ip = candidate;
            }
            if (node && !node->ip4) {
                node->ip4 = candidate;
            }
        } else if (node && !node->has_ip6
                   && ipv6_parse(json_string_value(address), &candidate6)) {
            node->has_ip6 = true;
            node->ip6 = candidate6;
        }
    }
    return NULL;
}

/* The Ready condition is "True" (Kubernetes: absent or "Unknown" is not
 * ready). */
static bool
node_is_ready(const json_t *root)
{
    const json_t *conds = json_object_get(json_object_get(root, "status"),
                                          "conditions");
    size_t i;
    const json_t *c;
    json_array_foreach (conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && !strcmp(type, "Ready")) {
            const char *st = json_string_value(json_object_get(c, "status"));
            return st && !strcmp(st, "True");
        }
    }
    return false;
}

char *
lb_node_from_json(const json_t *root, struct lb_node **objp)
{
    static const char *const tunnel_path[] = {
        ANNOTATION(LB_ANNOTATION_TUNNEL_IP), NULL
    };
    const char *ns, *name;
    char *what;
    char *error = parse_identity(root, "Node", false, &ns, &name, &what);
    if (error) {
        return error;
    }

    ovs_be32 ip = 0;
    const char *tunnel_ip;
    struct lb_node *node = xzalloc(sizeof *node);
    error = get_string(root, tunnel_path, LB_K8S_SHORT_MAX, false, what,
                       &tunnel_ip);
    if (!error && tunnel_ip && *tunnel_ip) {
        if (!ip_parse(tunnel_ip, &ip) || !ip) {
            error = field_error(what, tunnel_path, 3,
                                "\"%s\" is not an IPv4 address", tunnel_ip);
        }
    }
    if (!error) {
        ovs_be32 internal = 0;
        error = parse_internal_ip(root, what, ip ? &internal : &ip, node);
    }
    free(what);
    if (error) {
        free(node);
        return error;
    }

    node->name = xstrdup(name);
    node->tunnel_ip = ip;
    node->ready = node_is_ready(root);
    *objp = node;
    return NULL;
}

void
lb_node_destroy(struct lb_node *node)
{
    if (node) {
        free(node->name);
        free(node);
    }
}

bool
lb_node_equal(const struct lb_node *a, const struct lb_node *b)
{
    return (!strcmp(a->name, b->name) && a->tunnel_ip == b->tunnel_ip
            && a->ready == b->ready && a->ip4 == b->ip4
            && a->has_ip6 == b->has_ip6
            && ipv6_addr_equals(&a->ip6, &b->ip6));
}

/* VirtualMachineInstance. */

#define VMI(MEMBER) offsetof(struct lb_vmi, MEMBER)
static const struct field vmi_fields[] = {
    REQUIRED(VMI(uid), LB_K8S_SHORT_MAX, "metadata", "uid"),
    STRING(VMI(node_name), LB_K8S_NAME_MAX, "status", "nodeName"),
    STRING_TRUE(VMI(allow_live_migration),
                ANNOTATION(LB_ANNOTATION_ALLOW_MIGRATION)),
};

char *
lb_vmi_from_json(const json_t *root, struct lb_vmi **objp)
{
    const char *ns, *name;
    char *what;
    char *error = parse_identity(root, "VirtualMachineInstance", true, &ns,
                                 &name, &what);
    if (error) {
        return error;
    }

    struct lb_vmi *vmi = xzalloc(sizeof *vmi);
    vmi->ns = xstrdup(ns);
    vmi->name = xstrdup(name);
    error = parse_fields(root, vmi_fields, ARRAY_SIZE(vmi_fields), vmi,
                         what);
    if (!error) {
        error = parse_migration_state(root, what, &vmi->migration_state);
    }
    if (!error) {
        char *e = lb_vmi_multus_networks(root, vmi->ns,
                                         &vmi->multus_networks,
                                         &vmi->n_multus_networks);
        if (e) {
            error = xasprintf("%s: %s", what, e);
            free(e);
        }
    }
    free(what);
    if (error) {
        lb_vmi_destroy(vmi);
        return error;
    }
    *objp = vmi;
    return NULL;
}

void
lb_vmi_destroy(struct lb_vmi *vmi)
{
    if (vmi) {
        fields_free(vmi, vmi_fields, ARRAY_SIZE(vmi_fields));
        lb_kv_migration_state_destroy(vmi->migration_state);
        for (size_t i = 0; i < vmi->n_multus_networks; i++) {
            free(vmi->multus_networks[i]);
        }
        free(vmi->multus_networks);
        free(vmi->ns);
        free(vmi->name);
        free(vmi);
    }
}

static bool
vmi_networks_equal(const struct lb_vmi *a, const struct lb_vmi *b)
{
    if (a->n_multus_networks != b->n_multus_networks) {
        return false;
    }
    for (size_t i = 0; i < a->n_multus_networks; i++) {
        if (strcmp(a->multus_networks[i], b->multus_networks[i])) {
            return false;
        }
    }
    return true;
}

bool
lb_vmi_equal(const struct lb_vmi *a, const struct lb_vmi *b)
{
    return (!strcmp(a->ns, b->ns)
            && !strcmp(a->name, b->name)
            && fields_equal(a, b, vmi_fields, ARRAY_SIZE(vmi_fields))
            && lb_kv_migration_state_equal(a->migration_state,
                                           b->migration_state)
            && vmi_networks_equal(a, b));
}

/* VirtualMachineInstanceMigration. */

static const char *const vmim_phase_names[] = {
    [LB_VMIM_NONE] = "",
    [LB_VMIM_PENDING] = "Pending",
    [LB_VMIM_SCHEDULING] = "Scheduling",
    [LB_VMIM_SCHEDULED] = "Scheduled",
    [LB_VMIM_PREPARING_TARGET] = "PreparingTarget",
    [LB_VMIM_TARGET_READY] = "TargetReady",
    [LB_VMIM_RUNNING] = "Running",
    [LB_VMIM_SUCCEEDED] = "Succeeded",
    [LB_VMIM_FAILED] = "Failed",
    [LB_VMIM_UNKNOWN] = "Unknown",
};

const char *
lb_vmim_phase_to_string(enum lb_vmim_phase phase)
{
    return ((unsigned int) phase < ARRAY_SIZE(vmim_phase_names)
            ? vmim_phase_names[phase] : "Unknown");
}

/* Maps a VMIM 'status.phase' to its enum, LB_VMIM_NONE for NULL or "" and
 * LB_VMIM_UNKNOWN for a phase KubeVirt added after this code. */
enum lb_vmim_phase
lb_vmim_phase_from_string(const char *s)
{
    if (!s || !*s) {
        return LB_VMIM_NONE;
    }
    for (size_t i = LB_VMIM_PENDING; i < LB_VMIM_UNKNOWN; i++) {
        if (!strcmp(s, vmim_phase_names[i])) {
            return i;
        }
    }
    return LB_VMIM_UNKNOWN;
}

bool
lb_vmim_phase_is_final(enum lb_vmim_phase phase)
{
    return phase == LB_VMIM_SUCCEEDED || phase == LB_VMIM_FAILED;
}

#define VMIM(MEMBER) offsetof(struct lb_vmim, MEMBER)
static const struct field vmim_fields[] = {
    REQUIRED(VMIM(uid), LB_K8S_SHORT_MAX, "metadata", "uid"),
    STRING(VMIM(creation_timestamp), LB_K8S_SHORT_MAX,
           "metadata", "creationTimestamp"),
    STRING_SET(VMIM(deleting), "metadata", "deletionTimestamp"),
    REQUIRED(VMIM(vmi_name), LB_K8S_NAME_MAX, "spec", "vmiName"),
};

char *
lb_vmim_from_json(const json_t *root, struct lb_vmim **objp)
{
    static const char *const phase_path[] = { "status", "phase", NULL };
    const char *ns, *name;
    char *what;
    char *error = parse_identity(root, "VirtualMachineInstanceMigration",
                                 true, &ns, &name, &what);
    if (error) {
        return error;
    }

    struct lb_vmim *vmim = xzalloc(sizeof *vmim);
    vmim->ns = xstrdup(ns);
    vmim->name = xstrdup(name);
    error = parse_fields(root, vmim_fields, ARRAY_SIZE(vmim_fields), vmim,
                         what);
    if (!error) {
        const char *phase;
        error = get_string(root, phase_path, LB_K8S_SHORT_MAX, false, what,
                           &phase);
        vmim->phase = lb_vmim_phase_from_string(phase);
    }
    if (!error) {
        error = parse_migration_state(root, what, &vmim->migration_state);
    }
    free(what);
    if (error) {
        lb_vmim_destroy(vmim);
        return error;
    }
    *objp = vmim;
    return NULL;
}

void
lb_vmim_destroy(struct lb_vmim *vmim)
{
    if (vmim) {
        fields_free(vmim, vmim_fields, ARRAY_SIZE(vmim_fields));
        lb_kv_migration_state_destroy(vmim->migration_state);
        free(vmim->ns);
        free(vmim->name);
        free(vmim);
    }
}

bool
lb_vmim_equal(const struct lb_vmim *a, const struct lb_vmim *b)
{
    return (!strcmp(a->ns, b->ns)
            && !strcmp(a->name, b->name)
            && a->phase == b->phase
            && fields_equal(a, b, vmim_fields, ARRAY_SIZE(vmim_fields))
            && lb_kv_migration_state_equal(a->migration_state,
                                           b->migration_state));
}

bool
lb_vmim_abort_succeeded(const struct lb_vmim *vmim)
{
    return lb_kv_migration_state_aborted(vmim->migration_state);
}

/* LogicalSwitch. */

/* spec.provider {physicalNetwork, vlan} and spec.excludeIPs. */
static char *
parse_switch_provider(const json_t *root, const char *what,
                      const char **physnetp, uint64_t *vlanp,
                      struct lb_ip_range **excludep, size_t *n_excludep)
{
    static const char *const physnet_path[] = {
        "spec", "provider", "physicalNetwork", NULL
    };
    static const char *const vlan_path[] = {
        "spec", "provider", "vlan", NULL
    };
    static const char *const provider_path[] = { "spec", "provider", NULL };
    static const char *const exclude_path[] = { "spec", "excludeIPs", NULL };
    char *error = NULL;
    bool present;

    const json_t *provider = lookup(root, provider_path, what, &error);
    if (!error && provider) {
        error = get_string(root, physnet_path, LB_K8S_NAME_MAX, true, what,
                           physnetp);
        if (!error) {
            error = get_uint(root, vlan_path, 0, 4094, what, &present,
                             vlanp);
        }
    }
    const json_t *ips = error ? NULL : lookup(root, exclude_path, what,
                                              &error);
    if (!error && ips) {
        if (!json_is_array(ips)
            || json_array_size(ips) > LB_SWITCH_EXCLUDE_MAX) {
            return field_error(what, exclude_path, 2, "must be an array of "
                               "at most %d addresses or ranges",
                               LB_SWITCH_EXCLUDE_MAX);
        }
        struct lb_ip_range *ranges = xcalloc(json_array_size(ips) + 1,
                                             sizeof *ranges);
        size_t i;
        const json_t *ip;
        json_array_foreach (ips, i, ip) {
            char *e = (json_is_string(ip)
                       ? lb_ip_range_parse(json_string_value(ip), &ranges[i])
                       : xstrdup("must be a string"));
            if (e) {
                error = field_error(what, exclude_path, 2, "[%zu]: %s", i,
                                    e);
                free(e);
                free(ranges);
                return error;
            }
        }
        *excludep = ranges;
        *n_excludep = json_array_size(ips);
    }
    return error;
}

char *
lb_logical_switch_from_json(const json_t *root,
                            struct lb_logical_switch **objp)
{
    static const char *const key_path[] = { "spec", "tunnelKey", NULL };
    static const char *const subnet_path[] = { "spec", "subnet", NULL };
    static const char *const gateway_path[] = { "spec", "gateway", NULL };
    static const char *const mtu_path[] = { "spec", "mtu", NULL };
    static const char *const prefix6_path[] = { "spec", "ipv6Prefix", NULL };
    static const char *const gateway6_path[] = { "spec", "gateway6", NULL };
    static const char *const spec_path[] = { "spec", NULL };
    const char *ns, *name, *subnet, *gateway, *prefix6, *gateway6;
    uint64_t key, mtu = 1400;
    bool present;
    char *what;

    char *error = parse_identity(root, "LogicalSwitch", false, &ns, &name,
                                 &what);
    if (error) {
        return error;
    }

    error = get_uint(root, key_path, 1, LB_SWITCH_TUNNEL_KEY_MAX, what,
                     &present, &key);
    if (!error && !present) {
        error = field_error(what, key_path, 2, "missing");
    }
    if (!error) {
        error = get_uint(root, mtu_path, 576, 9000, what, &present, &mtu);
    }
    if (!error) {
        error = get_string(root, subnet_path, LB_K8S_SHORT_MAX, false,
                           what, &subnet);
    }
    if (!error) {
        error = get_string(root, gateway_path, LB_K8S_SHORT_MAX, false,
                           what, &gateway);
    }
    if (!error) {
        error = get_string(root, prefix6_path, LB_K8S_SHORT_MAX, false,
                           what, &prefix6);
    }
    if (!error) {
        error = get_string(root, gateway6_path, LB_K8S_SHORT_MAX, false,
                           what, &gateway6);
    }
    if (!error && !subnet && !prefix6) {
        error = field_error(what, spec_path, 1, "needs \"subnet\", "
                            "\"ipv6Prefix\" or both");
    }
    if (!error && gateway && !subnet) {
        error = field_error(what, gateway_path, 2, "needs \"subnet\"");
    }
    if (!error && gateway6 && !prefix6) {
        error = field_error(what, gateway6_path, 2, "needs \"ipv6Prefix\"");
    }

    struct lb_ipam_subnet subnet_info = { .prefix_len = 0 };
    if (!error && subnet) {
        char *e = lb_ipam_subnet_parse(subnet, gateway, &subnet_info);
        if (e) {
            error = field_error(what, gateway && strstr(e, "gateway")
                                ? gateway_path : subnet_path, 2, "%s", e);
            free(e);
        }
    }
    struct lb_ipam_prefix6 prefix6_info;
    memset(&prefix6_info, 0, sizeof prefix6_info);
    if (!error && prefix6) {
        char *e = lb_ipam_prefix6_parse(prefix6, gateway6, &prefix6_info);
        if (e) {
            error = field_error(what, gateway6 && strstr(e, "gateway6")
                                ? gateway6_path : prefix6_path, 2, "%s", e);
            free(e);
        }
    }
    const char *physnet = NULL;
    uint64_t vlan = 0;
    struct lb_ip_range *exclude = NULL;
    size_t n_exclude = 0;
    if (!error) {
        error = parse_switch_provider(root, what, &physnet, &vlan, &exclude,
                                      &n_exclude);
    }
    free(what);
    if (error) {
        return error;
    }

    /* An overlay switch's gateway is the distributed gateway
     * (pipeline-gateway.c): by default the subnet's and the prefix's first
     * address, which IPAM then never gives out.  A provider network's is
     * the physical router's, never assumed. */
    if (!physnet && subnet && !gateway) {
        subnet_info.gateway = lb_gateway_default4(subnet_info.network,
                                                  subnet_info.prefix_len);
    }
    if (!physnet && prefix6 && !gateway6) {
        lb_gateway_default6(&prefix6_info.prefix, &prefix6_info.gateway);
    }

    struct lb_logical_switch *sw = xzalloc(sizeof *sw);
    sw->name = xstrdup(name);
    sw->tunnel_key = key;
    sw->subnet = subnet_info.network;
    sw->prefix_len = subnet_info.prefix_len;
    sw->gateway = subnet_info.gateway;
    sw->has_prefix6 = prefix6 != NULL;
    sw->prefix6 = prefix6_info.prefix;
    sw->gateway6 = prefix6_info.gateway;
    sw->mtu = mtu;
    sw->physnet = nullable_xstrdup(physnet);
    sw->vlan = vlan;
    sw->exclude = exclude;
    sw->n_exclude = n_exclude;
    lb_egress_spec_parse(json_object_get(json_object_get(root, "spec"),
                                         "egressGateway"), &sw->egress);
    *objp = sw;
    return NULL;
}

void
lb_logical_switch_destroy(struct lb_logical_switch *sw)
{
    if (sw) {
        free(sw->name);
        free(sw->physnet);
        free(sw->exclude);
        lb_egress_spec_destroy(&sw->egress);
        free(sw);
    }
}

bool
lb_logical_switch_equal(const struct lb_logical_switch *a,
                        const struct lb_logical_switch *b)
{
    return (!strcmp(a->name, b->name)
            && a->tunnel_key == b->tunnel_key
            && a->subnet == b->subnet
            && a->prefix_len == b->prefix_len
            && a->gateway == b->gateway
            && a->has_prefix6 == b->has_prefix6
            && ipv6_addr_equals(&a->prefix6, &b->prefix6)
            && ipv6_addr_equals(&a->gateway6, &b->gateway6)
            && a->mtu == b->mtu
            && nullable_string_is_equal(a->physnet, b->physnet)
            && a->vlan == b->vlan
            && a->n_exclude == b->n_exclude
            && (!a->n_exclude
                || !memcmp(a->exclude, b->exclude,
                           a->n_exclude * sizeof *a->exclude))
            && lb_egress_spec_equal(&a->egress, &b->egress));
}

/* LogicalPort. */

#define LP(MEMBER) offsetof(struct lb_logical_port, MEMBER)
static const struct field logical_port_fields[] = {
    STRING(LP(uid), LB_K8S_SHORT_MAX, "metadata", "uid"),
    REQUIRED(LP(switch_name), LB_K8S_NAME_MAX, "spec", "switch"),
    STRING(LP(interface), LB_K8S_SHORT_MAX, "spec", "interface"),
    STRING(LP(vm), LB_K8S_NAME_MAX, "spec", "vm"),
    STRING(LP(pod), LB_K8S_NAME_MAX, "spec", "pod"),
    STRING(LP(active_pod), LB_K8S_NAME_MAX, "status", "activeOwner", "pod"),
    STRING(LP(active_pod_uid), LB_K8S_SHORT_MAX,
           "status", "activeOwner", "podUID"),
    STRING(LP(active_node), LB_K8S_NAME_MAX,
           "status", "activeOwner", "node"),
    STRING(LP(alternate_pod), LB_K8S_NAME_MAX,
           "status", "alternateOwner", "pod"),
    STRING(LP(alternate_pod_uid), LB_K8S_SHORT_MAX,
           "status", "alternateOwner", "podUID"),
    STRING(LP(alternate_node), LB_K8S_NAME_MAX,
           "status", "alternateOwner", "node"),
    STRING(LP(alternate_migration_uid), LB_K8S_SHORT_MAX,
           "status", "alternateOwner", "migrationUID"),
    STRING(LP(activation_node), LB_K8S_NAME_MAX,
           "status", "activation", "node"),
    STRING(LP(activation_migration_uid), LB_K8S_SHORT_MAX,
           "status", "activation", "migrationUID"),
    STRING(LP(activation_time), LB_K8S_SHORT_MAX,
           "status", "activation", "time"),
    STRING(LP(activation_cause), LB_K8S_NAME_MAX,
           "status", "activation", "cause"),
};

/* Adds spec.ips's element 'i', 'ip', to 'lp''s IPv4 or IPv6 addresses. */
static char *
parse_port_ip(const json_t *ip, size_t i, const char *what,
              struct lb_logical_port *lp)
{
    static const char *const ips_path[] = { "spec", "ips", NULL };
    const char *s = json_is_string(ip) ? json_string_value(ip) : NULL;
    ovs_be32 addr;
    struct in6_addr addr6;

    if (s && strlen(s) <= 15 && ip_parse(s, &addr) && addr) {
        for (size_t j = 0; j < lp->n_ips; j++) {
            if (lp->ips[j] == addr) {
                return field_error(what, ips_path, 2, "duplicate address "
                                   IP_FMT, IP_ARGS(addr));
            }
        }
        lp->ips[lp->n_ips++] = addr;
        return NULL;
    }
    if (!s || strlen(s) > INET6_ADDRSTRLEN || !ipv6_parse(s, &addr6)) {
        return field_error(what, ips_path, 2, "element %zu is not an IPv4 "
                           "or IPv6 address", i);
    }
    if (ipv6_is_zero(&addr6) || ipv6_addr_is_multicast(&addr6)
        || IN6_IS_ADDR_V4MAPPED(&addr6) || IN6_IS_ADDR_LINKLOCAL(&addr6)
        || IN6_IS_ADDR_LOOPBACK(&addr6)) {
        return field_error(what, ips_path, 2, "element %zu (%s) is not a "
                           "global or unique local IPv6 address", i, s);
    }
    for (size_t j = 0; j < lp->n_ips6; j++) {
        if (ipv6_addr_equals(&lp->ips6[j], &addr6)) {
            return field_error(what, ips_path, 2, "duplicate address %s", s);
        }
    }
    lp->ips6[lp->n_ips6++] = addr6;
    return NULL;
}

static char *
parse_port_spec(const json_t *root, const char *what,
                struct lb_logical_port *lp)
{
    static const char *const key_path[] = { "spec", "tunnelKey", NULL };
    static const char *const mac_path[] = { "spec", "mac", NULL };
    static const char *const ips_path[] = { "spec", "ips", NULL };
    static const char *const owner_path[] = { "spec", NULL };
    uint64_t key;
    bool present;

    char *error = get_uint(root, key_path, 1, LB_PORT_KEY_MAX, what,
                           &present, &key);
    if (error) {
        return error;
    }
    lp->tunnel_key = present ? key : 0;

    const char *mac;
    error = get_string(root, mac_path, LB_K8S_SHORT_MAX, false, what, &mac);
    if (error) {
        return error;
    }
    if (mac) {
        if (!eth_addr_from_string(mac, &lp->mac)
            || eth_addr_is_multicast(lp->mac) || eth_addr_is_zero(lp->mac)) {
            return field_error(what, mac_path, 2, "\"%s\" is not a unicast "
                               "MAC address", mac);
        }
        lp->has_mac = true;
    }

    const json_t *ips = lookup(root, ips_path, what, &error);
    if (error) {
        return error;
    }
    if (ips && (!json_is_array(ips) || json_array_size(ips) > LB_MAX_IPS)) {
        return field_error(what, ips_path, 2, "must be an array of at most "
                           "%d addresses", LB_MAX_IPS);
    }
    size_t i;
    const json_t *ip;
    json_array_foreach (ips, i, ip) {
        error = parse_port_ip(ip, i, what, lp);
        if (error) {
            return error;
        }
    }

    if (!lp->vm == !lp->pod) {
        return field_error(what, owner_path, 1, "exactly one of \"vm\" and "
                           "\"pod\" must be set");
    }
    if ((!lp->vm || !*lp->vm) && (!lp->pod || !*lp->pod)) {
        return field_error(what, owner_path, 1, "owner name is empty");
    }
    if (!lp->n_ips && !lp->n_ips6 && (!lp->tunnel_key || !lp->has_mac)) {
        return field_error(what, ips_path, 2, "required when \"tunnelKey\" "
                           "or \"mac\" is absent");
    }
    return NULL;
}

char *
lb_logical_port_from_json(const json_t *root, struct lb_logical_port **objp)
{
    const char *ns, *name;
    char *what;
    char *error = parse_identity(root, "LogicalPort", true, &ns, &name,
                                 &what);
    if (error) {
        return error;
    }

    struct lb_logical_port *lp = xzalloc(sizeof *lp);
    lp->ns = xstrdup(ns);
    lp->name = xstrdup(name);
    lp->port_name = xasprintf("%s_%s", ns, name);
    error = parse_fields(root, logical_port_fields,
                         ARRAY_SIZE(logical_port_fields), lp, what);
    if (!error) {
        error = parse_port_spec(root, what, lp);
    }
    free(what);
    if (error) {
        lb_logical_port_destroy(lp);
        return error;
    }
    *objp = lp;
    return NULL;
}

void
lb_logical_port_destroy(struct lb_logical_port *lp)
{
    if (lp) {
        fields_free(lp, logical_port_fields,
                    ARRAY_SIZE(logical_port_fields));
        free(lp->ns);
        free(lp->name);
        free(lp->port_name);
        free(lp);
    }
}

bool
lb_logical_port_equal(const struct lb_logical_port *a,
                      const struct lb_logical_port *b)
{
    return (!strcmp(a->ns, b->ns)
            && !strcmp(a->name, b->name)
            && fields_equal(a, b, logical_port_fields,
                            ARRAY_SIZE(logical_port_fields))
            && a->tunnel_key == b->tunnel_key
            && a->has_mac == b->has_mac
            && eth_addr_equals(a->mac, b->mac)
            && a->n_ips == b->n_ips
            && !memcmp(a->ips, b->ips, a->n_ips * sizeof a->ips[0])
            && a->n_ips6 == b->n_ips6
            && !memcmp(a->ips6, b->ips6, a->n_ips6 * sizeof a->ips6[0]));
}
