/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Derivation (lib/derive) over a sequence of objects.
 *
 * Input: lines "KIND JSON", KIND as lb_kind_from_string() knows it ("Pod",
 * "Node", "VirtualMachineInstance", ...), the object on one line.  Objects
 * that fail to parse are skipped; of two with the same kind and name only
 * the first is kept, so that every order holds the same objects.
 *
 * Invariants (derive.h promises them): the objects inserted in input order
 * and in reverse give the same model and the same migrations; and a model
 * kept up to date port by port (lb_derive_ports) after each insertion, as
 * the agent keeps it, equals the model derived afresh.  A violation
 * aborts, so that libFuzzer saves the input. */

#include <config.h>
#include <string.h>
#include "derive.h"
#include "fuzz.h"
#include "migration.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "util.h"

#define MAX_OBJECTS 64

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

struct object {
    enum lb_kind kind;
    json_t *json;
};

/* The model and the migrations of 'cluster', as text. */
static char *
describe(const struct lb_cluster *cluster)
{
    struct lb_model model;
    struct lb_migration_table migrations;
    struct ds s = DS_EMPTY_INITIALIZER;

    lb_model_init(&model);
    lb_derive_model(cluster, &model);
    lb_model_format(&model, &s);
    lb_model_destroy(&model);

    lb_migration_table_init(&migrations);
    lb_derive_migrations(cluster, &migrations, 1000);
    ds_put_cstr(&s, "--- migrations\n");
    lb_migration_table_format(&migrations, true, &s);
    lb_migration_table_destroy(&migrations);
    return ds_steal_cstr(&s);
}

static char *
model_string(const struct lb_model *model)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_model_format(model, &s);
    return ds_steal_cstr(&s);
}

static bool
is_namespaced(enum lb_kind kind)
{
    return kind != LB_KIND_NODE && kind != LB_KIND_LOGICAL_SWITCH;
}

/* Every port name the cluster's objects name: the ports a change could
 * touch. */
static void
all_ports(const struct lb_cluster *cluster, struct sset *ports)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_LOGICAL_PORT]) {
        const struct lb_logical_port *lp = node->data;
        sset_add(ports, lp->port_name);
    }
    SHASH_FOR_EACH (node, &cluster->objects[LB_KIND_POD]) {
        const char *name = lb_pod_logical_port_name(node->data);
        if (name) {
            sset_add(ports, name);
        }
    }
}

/* Parses the input into 'objs', keeping the first object of each kind and
 * name.  Returns how many there are. */
static size_t
parse_input(const char *data, size_t size, struct object *objs)
{
    struct sset seen = SSET_INITIALIZER(&seen);
    size_t n = 0;

    while (size > 0 && n < MAX_OBJECTS) {
        const char *nl = memchr(data, '\n', size);
        size_t len = nl ? nl - data : size;
        const char *sp = memchr(data, ' ', len);

        if (sp) {
            char *kind_name = xmemdup0(data, sp - data);
            enum lb_kind kind;
            json_t *json = (lb_kind_from_string(kind_name, &kind)
                            ? json_loadb(sp + 1, len - (sp + 1 - data), 0,
                                         NULL)
                            : NULL);
            char *ns = NULL, *name = NULL, *uid = NULL;
            char *error = (json
                           ? lb_k8s_metadata_from_json(json, &ns, &name,
                                                       &uid)
                           : xstrdup("no object"));
            if (!error) {
                char *key = xasprintf("%d/%s/%s", kind,
                                      is_namespaced(kind) && ns ? ns : "",
                                      name);
                if (sset_add(&seen, key)) {
                    objs[n++] = (struct object) { kind, json };
                    json = NULL;
                }
                free(key);
            }
            free(error);
            free(ns);
            free(name);
            free(uid);
            json_decref(json);
            free(kind_name);
        }
        data += nl ? len + 1 : len;
        size -= nl ? len + 1 : len;
    }
    sset_destroy(&seen);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct object objs[MAX_OBJECTS];
    size_t n = parse_input((const char *) data, size, objs);

    struct lb_cluster forward, backward;
    struct lb_model kept;
    lb_cluster_init(&forward);
    lb_cluster_init(&backward);
    forward.options.mirror = backward.options.mirror = true;
    lb_model_init(&kept);

    for (size_t i = 0; i < n; i++) {
        const struct object *o = &objs[i];
        bool changed;
        char *error = lb_cluster_upsert_json(&forward, o->kind, o->json,
                                             &changed);
        if (error) {
            free(error);
            continue;
        }

        /* As the agent does: everything again when a node or a switch
         * changes, otherwise port by port. */
        if (o->kind == LB_KIND_NODE || o->kind == LB_KIND_LOGICAL_SWITCH) {
            lb_derive_model(&forward, &kept);
        } else {
            struct sset ports = SSET_INITIALIZER(&ports);
            all_ports(&forward, &ports);
            if (!lb_derive_ports(&forward, &ports, &kept)) {
                lb_derive_model(&forward, &kept);
            }
            sset_destroy(&ports);
        }
    }
    for (size_t i = n; i-- > 0;) {
        free(lb_cluster_upsert_json(&backward, objs[i].kind, objs[i].json,
                                    NULL));
    }

    char *a = describe(&forward);
    char *b = describe(&backward);
    FUZZ_ASSERT(!strcmp(a, b), "order matters:\n--- forward\n%s"
                "--- backward\n%s", a, b);

    struct lb_model fresh;
    lb_model_init(&fresh);
    lb_derive_model(&forward, &fresh);
    char *f = model_string(&fresh);
    char *k = model_string(&kept);
    FUZZ_ASSERT(!strcmp(f, k), "port by port differs:\n--- fresh\n%s"
                "--- port by port\n%s", f, k);

    free(a);
    free(b);
    free(f);
    free(k);
    lb_model_destroy(&fresh);
    lb_model_destroy(&kept);
    lb_cluster_destroy(&forward);
    lb_cluster_destroy(&backward);
    for (size_t i = 0; i < n; i++) {
        json_decref(objs[i].json);
    }
    return 0;
}
