/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "multinic.h"

#include <ctype.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "util.h"

#include "lb-json.h"

/* Kubernetes' own limits: NAD names are DNS-1123 subdomains, namespaces
 * DNS-1123 labels; interface names are Linux's (IFNAMSIZ - 1). */
#define NAME_MAX_LEN 253
#define NS_MAX_LEN 63
#define IFNAME_MAX_LEN 15

static bool
is_dns1123(const char *s, size_t max, bool dots)
{
    size_t len = strlen(s);
    if (!len || len > max || !isalnum((unsigned char) s[0])
        || !isalnum((unsigned char) s[len - 1])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p)
              || *p == '-' || (dots && *p == '.'))) {
            return false;
        }
    }
    return true;
}

/* As Multus and the CNI spec take CNI_IFNAME. */
static bool
ifname_is_valid(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > IFNAME_MAX_LEN || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '/' || *p == ':' || isspace((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

void
lb_nics_free(struct lb_nic *nics, size_t n)
{
    for (size_t i = 0; nics && i < n; i++) {
        free(nics[i].network_ns);
        free(nics[i].network);
        free(nics[i].ifname);
    }
    free(nics);
}

/* Checks and adds one selection: network 'name' in 'ns' on 'ifname' (NULL:
 * Multus's "net<N>").  Returns an error for element 'i'. */
static char *
add_nic(struct lb_nic *nics, size_t *n, const char *ns, const char *name,
        const char *ifname)
{
    size_t i = *n;
    if (!is_dns1123(ns, NS_MAX_LEN, false)) {
        return xasprintf("network %zu: namespace \"%s\" is not a DNS-1123 "
                         "label", i + 1, ns);
    }
    if (!is_dns1123(name, NAME_MAX_LEN, true)) {
        return xasprintf("network %zu: name \"%s\" is not a DNS-1123 "
                         "subdomain", i + 1, name);
    }
    char *ifn = ifname ? xstrdup(ifname) : xasprintf("net%zu", i + 1);
    if (!ifname_is_valid(ifn) || lb_ifname_is_primary(ifn)) {
        char *error = xasprintf("network %zu (%s/%s): interface \"%s\" is "
                                "not a valid secondary interface name",
                                i + 1, ns, name, ifn);
        free(ifn);
        return error;
    }
    for (size_t j = 0; j < i; j++) {
        if (!strcmp(nics[j].ifname, ifn)) {
            char *error = xasprintf("network %zu (%s/%s): interface %s is "
                                    "already network %zu's", i + 1, ns,
                                    name, ifn, j + 1);
            free(ifn);
            return error;
        }
    }
    nics[i].network_ns = xstrdup(ns);
    nics[i].network = xstrdup(name);
    nics[i].ifname = ifn;
    (*n)++;
    return NULL;
}

/* The comma form: "name", "ns/name", "name@ifname", "ns/name@ifname". */
static char *
parse_short_form(const char *annotation, const char *pod_ns,
                 struct lb_nic *nics, size_t *n)
{
    char *copy = xstrdup(annotation);
    char *save = NULL, *error = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !error;
         tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char) *tok)) {
            tok++;
        }
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char) end[-1])) {
            *--end = '\0';
        }
        if (!*tok) {
            continue;
        }
        if (*n >= LB_NICS_MAX) {
            error = xasprintf("more than %d networks", LB_NICS_MAX);
            break;
        }
        char *ifname = strchr(tok, '@');
        if (ifname) {
            *ifname++ = '\0';
        }
        char *slash = strchr(tok, '/');
        const char *ns = pod_ns, *name = tok;
        if (slash) {
            *slash = '\0';
            ns = tok;
            name = slash + 1;
        }
        error = add_nic(nics, n, ns, name, ifname);
    }
    free(copy);
    return error;
}

/* The JSON form: [{"name": ..., "namespace": ..., "interface": ...}, ...]
 * (other keys, such as "mac", "ips" or "default-route", are Multus's). */
static char *
parse_json_form(const char *annotation, const char *pod_ns,
                struct lb_nic *nics, size_t *n)
{
    json_error_t jerror;
    json_t *root = json_loads(annotation, JSON_REJECT_DUPLICATES, &jerror);
    if (!root) {
        return xasprintf("not JSON: %s", jerror.text);
    }
    char *error = NULL;
    if (!json_is_array(root)) {
        error = xstrdup("must be a list of network selection elements");
    } else if (json_array_size(root) > LB_NICS_MAX) {
        error = xasprintf("more than %d networks", LB_NICS_MAX);
    }
    size_t i;
    const json_t *elem;
    json_array_foreach (root, i, elem) {
        if (error) {
            break;
        }
        const json_t *name = json_object_get(elem, "name");
        const json_t *ns = json_object_get(elem, "namespace");
        const json_t *ifname = json_object_get(elem, "interface");
        if (!json_is_object(elem) || !json_is_string(name)
            || (ns && !json_is_string(ns))
            || (ifname && !json_is_string(ifname))) {
            error = xasprintf("network %zu: must be an object with a string "
                              "\"name\" and optional string \"namespace\" "
                              "and \"interface\"", i + 1);
            break;
        }
        const char *ns_s = ns && *json_string_value(ns)
                           ? json_string_value(ns) : pod_ns;
        const char *if_s = ifname && *json_string_value(ifname)
                           ? json_string_value(ifname) : NULL;
        error = add_nic(nics, n, ns_s, json_string_value(name), if_s);
    }
    json_decref(root);
    return error;
}

/* Parses the value of a pod's k8s.v1.cni.cncf.io/networks annotation, in
 * either of Multus's forms, for a pod in namespace 'pod_ns'.  On success
 * stores the NICs (in the annotation's order) in '*nicsp' and '*n_nicsp'
 * and returns NULL; on error returns a malloc()ed message and stores
 * nothing. */
char *
lb_nics_parse(const char *annotation, const char *pod_ns,
              struct lb_nic **nicsp, size_t *n_nicsp)
{
    struct lb_nic *nics = xcalloc(LB_NICS_MAX, sizeof *nics);
    size_t n = 0;
    const char *p = annotation;
    while (isspace((unsigned char) *p)) {
        p++;
    }
    char *error = (*p == '['
                   ? parse_json_form(annotation, pod_ns, nics, &n)
                   : parse_short_form(annotation, pod_ns, nics, &n));
    if (error) {
        lb_nics_free(nics, n);
        char *msg = xasprintf(LB_ANNOTATION_NETWORKS": %s", error);
        free(error);
        return msg;
    }
    *nicsp = nics;
    *n_nicsp = n;
    return NULL;
}

bool
lb_nics_equal(const struct lb_nic *a, size_t n_a,
              const struct lb_nic *b, size_t n_b)
{
    if (n_a != n_b) {
        return false;
    }
    for (size_t i = 0; i < n_a; i++) {
        if (strcmp(a[i].network_ns, b[i].network_ns)
            || strcmp(a[i].network, b[i].network)
            || strcmp(a[i].ifname, b[i].ifname)) {
            return false;
        }
    }
    return true;
}

const struct lb_nic *
lb_nics_find(const struct lb_nic *nics, size_t n, const char *ifname)
{
    for (size_t i = 0; ifname && i < n; i++) {
        if (!strcmp(nics[i].ifname, ifname)) {
            return &nics[i];
        }
    }
    return NULL;
}

/* True if 'ifname' is the pod network's interface (NULL counts too). */
bool
lb_ifname_is_primary(const char *ifname)
{
    return !ifname || !strcmp(ifname, LB_PRIMARY_IFNAME);
}

/* The name of the LogicalPort of 'owner''s NIC 'ifname' (see above). */
char *
lb_nic_object_name(const char *owner, const char *ifname)
{
    return (lb_ifname_is_primary(ifname) ? xstrdup(owner)
            : xasprintf("%s.%s", owner, ifname));
}

/* NULL if the NIC 'ifname' of 'owner' can have a logical port (its name a
 * DNS-1123 subdomain, as an object's), else a malloc()ed message. */
char *
lb_nic_port_name_check(const char *owner, const char *ifname)
{
    char *name = lb_nic_object_name(owner, ifname);
    char *error = NULL;
    if (!is_dns1123(name, NAME_MAX_LEN, true)) {
        error = xasprintf("interface \"%s\": its logical port \"%s\" is not "
                          "a Kubernetes object name (lower-case letters, "
                          "digits, '-' and '.')", ifname, name);
    }
    free(name);
    return error;
}

/* Stores in '*namesp' the Multus networks of 'vmi' (in namespace 'vmi_ns'),
 * spec.networks[].multus.networkName as "ns/name" in their order, leaving
 * out the one marked "default" (it replaces the pod network, on eth0).
 * Returns NULL, or an error without storing anything. */
char *
lb_vmi_multus_networks(const json_t *vmi, const char *vmi_ns,
                       char ***namesp, size_t *np)
{
    const json_t *networks = json_object_get(json_object_get(vmi, "spec"),
                                             "networks");
    *namesp = NULL;
    *np = 0;
    if (!networks || json_is_null(networks)) {
        return NULL;
    }
    if (!json_is_array(networks) || json_array_size(networks) > LB_NICS_MAX) {
        return xasprintf("spec.networks: must be a list of at most %d",
                         LB_NICS_MAX);
    }
    char **names = xcalloc(json_array_size(networks) + 1, sizeof *names);
    size_t n = 0;
    size_t i;
    const json_t *net;
    json_array_foreach (networks, i, net) {
        const json_t *multus = json_object_get(net, "multus");
        if (!multus || json_is_null(multus)) {
            continue;
        }
        const json_t *name = json_object_get(multus, "networkName");
        const json_t *def = json_object_get(multus, "default");
        if (!json_is_object(multus) || !json_is_string(name)
            || (def && !json_is_boolean(def) && !json_is_null(def))) {
            for (size_t j = 0; j < n; j++) {
                free(names[j]);
            }
            free(names);
            return xasprintf("spec.networks[%zu].multus: needs a string "
                             "\"networkName\"", i);
        }
        if (json_is_true(def)) {
            continue;
        }
        const char *s = json_string_value(name);
        names[n++] = (strchr(s, '/') ? xstrdup(s)
                      : xasprintf("%s/%s", vmi_ns, s));
    }
    *namesp = names;
    *np = n;
    return NULL;
}
