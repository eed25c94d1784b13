/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "cni.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <jansson.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

#include "lb-json.h"

/* A JSON string for 's' with any byte that is not printable ASCII replaced
 * by '?' if 's' is not valid UTF-8: for messages, which may quote bad
 * input. */
static json_t *
jstr_lossy(const char *s)
{
    json_t *j = lb_json_str(s);
    if (!j) {
        char *copy = xstrdup(s);
        for (char *p = copy; *p; p++) {
            if ((unsigned char) *p >= 0x80) {
                *p = '?';
            }
        }
        j = lb_json_str(copy);
        free(copy);
    }
    return j;
}

static bool
utf8_ok(const char *s)
{
    json_t *j = lb_json_str(s);
    json_decref(j);
    return j != NULL;
}

/* Compact JSON text for 'j', consuming 'j'. */
static char *
dump_and_free(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) {
        /* Only on memory exhaustion. */
        out_of_memory();
    }
    char *copy = xstrdup(s);
    free(s);
    return copy;
}

/* ------------------------------------------------------------- name tables */

static const char *const command_names[] = {
    [CNI_CMD_ADD] = "ADD",
    [CNI_CMD_DEL] = "DEL",
    [CNI_CMD_CHECK] = "CHECK",
    [CNI_CMD_VERSION] = "VERSION",
    [CNI_CMD_STATUS] = "STATUS",
    [CNI_CMD_GC] = "GC",
};

const char *
cni_command_to_string(enum cni_command command)
{
    return ((unsigned int) command < ARRAY_SIZE(command_names)
            ? command_names[command] : "<invalid>");
}

bool
cni_command_from_string(const char *s, enum cni_command *commandp)
{
    for (size_t i = 0; i < ARRAY_SIZE(command_names); i++) {
        if (!strcmp(s, command_names[i])) {
            *commandp = i;
            return true;
        }
    }
    return false;
}

static const char *const version_names[] = {
    [CNI_V040] = "0.4.0",
    [CNI_V100] = "1.0.0",
    [CNI_V110] = "1.1.0",
};

const char *
cni_version_to_string(enum cni_version version)
{
    return ((unsigned int) version < ARRAY_SIZE(version_names)
            ? version_names[version] : "<invalid>");
}

bool
cni_version_from_string(const char *s, enum cni_version *versionp)
{
    for (size_t i = 0; i < ARRAY_SIZE(version_names); i++) {
        if (!strcmp(s, version_names[i])) {
            *versionp = i;
            return true;
        }
    }
    return false;
}

const char *
cni_error_code_name(int code)
{
    switch (code) {
    case CNI_ERR_INCOMPATIBLE_VERSION: return "incompatible CNI version";
    case CNI_ERR_UNSUPPORTED_FIELD: return "unsupported field";
    case CNI_ERR_UNKNOWN_CONTAINER: return "unknown container";
    case CNI_ERR_INVALID_ENV: return "invalid environment variables";
    case CNI_ERR_IO: return "I/O failure";
    case CNI_ERR_DECODE: return "failed to decode content";
    case CNI_ERR_INVALID_CONFIG: return "invalid network configuration";
    case CNI_ERR_TRY_AGAIN: return "try again later";
    case CNI_ERR_NOT_AVAILABLE: return "plugin not available";
    case CNI_ERR_LIMITED_CONNECTIVITY:
        return "plugin not available, limited connectivity";
    case CNI_ERR_IP_EXHAUSTED: return "IP address pool exhausted";
    case CNI_ERR_PORT_CONFLICT: return "logical port conflict";
    case CNI_ERR_PLUMBING: return "plumbing failed";
    case CNI_ERR_KUBE_API: return "Kubernetes API error";
    case CNI_ERR_AGENT: return "agent error";
    case CNI_ERR_PERMISSION: return "permission denied";
    default: return "unknown error";
    }
}

static const char *const log_level_names[] = {
    [CNI_LOG_OFF] = "off",
    [CNI_LOG_ERROR] = "error",
    [CNI_LOG_WARN] = "warn",
    [CNI_LOG_INFO] = "info",
    [CNI_LOG_DEBUG] = "debug",
};

const char *
cni_log_level_to_string(enum cni_log_level level)
{
    return ((unsigned int) level < ARRAY_SIZE(log_level_names)
            ? log_level_names[level] : "<invalid>");
}

static bool
log_level_from_string(const char *s, enum cni_log_level *levelp)
{
    for (size_t i = 0; i < ARRAY_SIZE(log_level_names); i++) {
        if (!strcmp(s, log_level_names[i])) {
            *levelp = i;
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ errors */

struct cni_error *
cni_error_create(int code, const char *msg, const char *details)
{
    struct cni_error *error = xmalloc(sizeof *error);
    error->code = code;
    error->msg = xstrdup(msg ? msg : cni_error_code_name(code));
    error->details = details && details[0] ? xstrdup(details) : NULL;
    return error;
}

struct cni_error *
cni_error_createf(int code, const char *msg_fmt, ...)
{
    va_list args;
    va_start(args, msg_fmt);
    char *msg = xvasprintf(msg_fmt, args);
    va_end(args);

    struct cni_error *error = cni_error_create(code, msg, NULL);
    free(msg);
    return error;
}

void
cni_error_destroy(struct cni_error *error)
{
    if (error) {
        free(error->msg);
        free(error->details);
        free(error);
    }
}

char *
cni_error_to_json(const struct cni_error *error, enum cni_version version)
{
    json_t *j = lb_json_obj();
    json_object_set_new(j, "cniVersion",
                        lb_json_str(cni_version_to_string(version)));
    json_object_set_new(j, "code", lb_json_int(error->code));
    json_object_set_new(j, "msg", jstr_lossy(error->msg));
    if (error->details) {
        json_object_set_new(j, "details", jstr_lossy(error->details));
    }
    return dump_and_free(j);
}

char *
cni_version_info_json(void)
{
    json_t *versions = lb_json_arr();
    for (size_t i = 0; i < ARRAY_SIZE(version_names); i++) {
        json_array_append_new(versions, lb_json_str(version_names[i]));
    }
    return dump_and_free(json_pack("{s:s, s:o}",
                                   "cniVersion",
                                   cni_version_to_string(CNI_VERSION_DEFAULT),
                                   "supportedVersions", versions));
}

/* Appends 's' to 'ds' in double quotes, shortened if long: for quoting bad
 * input in messages. */
static void
ds_put_quoted(struct ds *ds, const char *s)
{
    size_t len = strlen(s);
    ds_put_char(ds, '"');
    if (len > 64) {
        ds_put_buffer(ds, s, 61);
        ds_put_cstr(ds, "...");
    } else {
        ds_put_cstr(ds, s);
    }
    ds_put_char(ds, '"');
}

/* Appends a short rendering of JSON value 'j' to 'ds'. */
static void
ds_put_json(struct ds *ds, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        if (strlen(s) > 64) {
            ds_put_buffer(ds, s, 61);
            ds_put_cstr(ds, "...");
        } else {
            ds_put_cstr(ds, s);
        }
        free(s);
    }
}

/* An error whose message is 'ds', which is emptied. */
static struct cni_error *
error_from_ds(int code, struct ds *ds)
{
    struct cni_error *error = cni_error_create(code, ds_cstr(ds), NULL);
    ds_destroy(ds);
    ds_init(ds);
    return error;
}

/* ------------------------------------------------------ syntax validation */

static bool
is_alnum(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'));
}

/* A CNI container ID or network name: an alphanumeric character, then any
 * of alphanumerics, '_', '.' and '-'. */
static bool
valid_identifier(const char *s, size_t max_len)
{
    size_t len = strlen(s);
    if (!len || len > max_len || !is_alnum(s[0])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!is_alnum(*p) && *p != '_' && *p != '.' && *p != '-') {
            return false;
        }
    }
    return true;
}

/* A Linux interface name, as the CNI spec restricts it. */
static bool
valid_ifname(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > 15 || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '/' || *p == ':' || *p == ' '
            || (*p >= '\t' && *p <= '\r')) {
            return false;
        }
    }
    return true;
}

/* A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 long. */
static bool
valid_dns_label(const char *s, size_t len)
{
    if (!len || len > 63 || s[0] == '-' || s[len - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

/* A DNS-1123 subdomain (the syntax of most Kubernetes object names). */
static bool
valid_dns_subdomain(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > 253) {
        return false;
    }
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t label_len = dot ? dot - s : strlen(s);
        if (!valid_dns_label(s, label_len)) {
            return false;
        }
        if (!dot) {
            return true;
        }
        s = dot + 1;
    }
}

/* A Kubernetes UID: a UUID, or a hash for static pods. */
static bool
valid_uid(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > 128) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!is_alnum(*p) && *p != '-') {
            return false;
        }
    }
    return true;
}

static bool
valid_ip(const char *s)
{
    struct in6_addr addr;
    return (inet_pton(AF_INET, s, &addr) == 1
            || inet_pton(AF_INET6, s, &addr) == 1);
}

/* "ADDRESS/PREFIX", IPv4 or IPv6. */
static bool
valid_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash - s >= INET6_ADDRSTRLEN) {
        return false;
    }

    char addr_s[INET6_ADDRSTRLEN];
    memcpy(addr_s, s, slash - s);
    addr_s[slash - s] = '\0';

    struct in6_addr addr;
    int max_plen;
    if (inet_pton(AF_INET, addr_s, &addr) == 1) {
        max_plen = 32;
    } else if (inet_pton(AF_INET6, addr_s, &addr) == 1) {
        max_plen = 128;
    } else {
        return false;
    }

    const char *p = slash + 1;
    size_t n = strlen(p);
    if (!n || n > 3 || strspn(p, "0123456789") != n) {
        return false;
    }
    return atoi(p) <= max_plen;
}

/* "xx:xx:xx:xx:xx:xx" in hex. */
static bool
valid_mac(const char *s)
{
    if (strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF",
                                              s[i])) {
            return false;
        }
    }
    return true;
}

/* --------------------------------------------------------------- results */

struct cni_result *
cni_result_create(void)
{
    struct cni_result *result = xzalloc(sizeof *result);
    svec_init(&result->dns.nameservers);
    svec_init(&result->dns.search);
    svec_init(&result->dns.options);
    return result;
}

void
cni_result_destroy(struct cni_result *result)
{
    if (!result) {
        return;
    }
    for (size_t i = 0; i < result->n_interfaces; i++) {
        struct cni_interface *iface = &result->interfaces[i];
        free(iface->name);
        free(iface->mac);
        free(iface->sandbox);
    }
    free(result->interfaces);
    for (size_t i = 0; i < result->n_ips; i++) {
        free(result->ips[i].address);
        free(result->ips[i].gateway);
    }
    free(result->ips);
    for (size_t i = 0; i < result->n_routes; i++) {
        free(result->routes[i].dst);
        free(result->routes[i].gw);
    }
    free(result->routes);
    svec_destroy(&result->dns.nameservers);
    free(result->dns.domain);
    svec_destroy(&result->dns.search);
    svec_destroy(&result->dns.options);
    free(result);
}

/* Adds an interface to 'result' and returns its index, for
 * cni_result_add_ip().  'mac' and 'sandbox' may be NULL, 'mtu' 0. */
size_t
cni_result_add_interface(struct cni_result *result, const char *name,
                         const char *mac, const char *sandbox,
                         unsigned int mtu)
{
    result->interfaces = xrealloc(result->interfaces,
                                  (result->n_interfaces + 1)
                                  * sizeof *result->interfaces);
    struct cni_interface *iface = &result->interfaces[result->n_interfaces];
    iface->name = xstrdup(name);
    iface->mac = nullable_xstrdup(mac);
    iface->sandbox = nullable_xstrdup(sandbox);
    iface->mtu = mtu;
    return result->n_interfaces++;
}

/* Adds 'address' (CIDR) to 'result', on the interface with index
 * 'interface' (-1 for none).  'gateway' may be NULL. */
void
cni_result_add_ip(struct cni_result *result, const char *address,
                  const char *gateway, int interface)
{
    result->ips = xrealloc(result->ips,
                           (result->n_ips + 1) * sizeof *result->ips);
    struct cni_ip *ip = &result->ips[result->n_ips++];
    ip->address = xstrdup(address);
    ip->gateway = nullable_xstrdup(gateway);
    ip->interface = interface < 0 ? -1 : interface;
}

/* Adds a route to 'dst' (CIDR) via 'gw' (may be NULL) to 'result'. */
void
cni_result_add_route(struct cni_result *result, const char *dst,
                     const char *gw)
{
    result->routes = xrealloc(result->routes,
                              (result->n_routes + 1) * sizeof *result->routes);
    struct cni_route *route = &result->routes[result->n_routes++];
    route->dst = xstrdup(dst);
    route->gw = nullable_xstrdup(gw);
}

static void
svec_append_all(struct svec *dst, const struct svec *src)
{
    for (size_t i = 0; i < src->n; i++) {
        svec_add(dst, src->names[i]);
    }
}

/* Appends the interfaces, IPs and routes of 'src' to 'dst', renumbering
 * interface indexes, and takes DNS settings 'dst' lacks from 'src'.  For an
 * ADD that got a "prevResult" from a plugin earlier in a chain. */
void
cni_result_append(struct cni_result *dst, const struct cni_result *src)
{
    size_t offset = dst->n_interfaces;
    for (size_t i = 0; i < src->n_interfaces; i++) {
        const struct cni_interface *iface = &src->interfaces[i];
        cni_result_add_interface(dst, iface->name, iface->mac, iface->sandbox,
                                 iface->mtu);
    }
    for (size_t i = 0; i < src->n_ips; i++) {
        const struct cni_ip *ip = &src->ips[i];
        cni_result_add_ip(dst, ip->address, ip->gateway,
                          ip->interface < 0 ? -1 : ip->interface + offset);
    }
    for (size_t i = 0; i < src->n_routes; i++) {
        cni_result_add_route(dst, src->routes[i].dst, src->routes[i].gw);
    }
    if (!dst->dns.nameservers.n) {
        svec_append_all(&dst->dns.nameservers, &src->dns.nameservers);
    }
    if (!dst->dns.domain) {
        dst->dns.domain = nullable_xstrdup(src->dns.domain);
    }
    if (!dst->dns.search.n) {
        svec_append_all(&dst->dns.search, &src->dns.search);
    }
    if (!dst->dns.options.n) {
        svec_append_all(&dst->dns.options, &src->dns.options);
    }
}

struct cni_result *
cni_result_clone(const struct cni_result *src)
{
    struct cni_result *dst = cni_result_create();
    cni_result_append(dst, src);
    return dst;
}

/* Checks 'result' (with fields named as in JSON), so that what the agent
 * reports is a valid CNI result.  'where' prefixes messages. */
static struct cni_error *
result_validate(const struct cni_result *result, const char *where, int code)
{
    struct ds ds = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < result->n_interfaces; i++) {
        const struct cni_interface *iface = &result->interfaces[i];
        if (!iface->name || !iface->name[0] || !utf8_ok(iface->name)) {
            ds_put_format(&ds, "%s: interfaces[%"PRIuSIZE"].name is empty or "
                          "not UTF-8", where, i);
        } else if (iface->mac && !valid_mac(iface->mac)) {
            ds_put_format(&ds, "%s: interfaces[%"PRIuSIZE"].mac ", where, i);
            ds_put_quoted(&ds, iface->mac);
            ds_put_cstr(&ds, " is not a MAC address");
        } else if (iface->sandbox && !utf8_ok(iface->sandbox)) {
            ds_put_format(&ds, "%s: interfaces[%"PRIuSIZE"].sandbox is not "
                          "UTF-8", where, i);
        }
        if (ds.length) {
            return error_from_ds(code, &ds);
        }
    }
    for (size_t i = 0; i < result->n_ips; i++) {
        const struct cni_ip *ip = &result->ips[i];
        if (!ip->address || !valid_cidr(ip->address)) {
            ds_put_format(&ds, "%s: ips[%"PRIuSIZE"].address ", where, i);
            ds_put_quoted(&ds, ip->address ? ip->address : "");
            ds_put_cstr(&ds, " is not an address/prefix");
        } else if (ip->gateway && !valid_ip(ip->gateway)) {
            ds_put_format(&ds, "%s: ips[%"PRIuSIZE"].gateway ", where, i);
            ds_put_quoted(&ds, ip->gateway);
            ds_put_cstr(&ds, " is not an IP address");
        } else if (ip->interface >= 0
                   && ip->interface >= result->n_interfaces) {
            ds_put_format(&ds, "%s: ips[%"PRIuSIZE"].interface %d is not the "
                          "index of an interface", where, i, ip->interface);
        }
        if (ds.length) {
            return error_from_ds(code, &ds);
        }
    }
    for (size_t i = 0; i < result->n_routes; i++) {
        const struct cni_route *route = &result->routes[i];
        if (!route->dst || !valid_cidr(route->dst)) {
            ds_put_format(&ds, "%s: routes[%"PRIuSIZE"].dst ", where, i);
            ds_put_quoted(&ds, route->dst ? route->dst : "");
            ds_put_cstr(&ds, " is not an address/prefix");
        } else if (route->gw && !valid_ip(route->gw)) {
            ds_put_format(&ds, "%s: routes[%"PRIuSIZE"].gw ", where, i);
            ds_put_quoted(&ds, route->gw);
            ds_put_cstr(&ds, " is not an IP address");
        }
        if (ds.length) {
            return error_from_ds(code, &ds);
        }
    }
    for (size_t i = 0; i < result->dns.nameservers.n; i++) {
        const char *ns = result->dns.nameservers.names[i];
        if (!valid_ip(ns)) {
            ds_put_format(&ds, "%s: dns.nameservers[%"PRIuSIZE"] ", where, i);
            ds_put_quoted(&ds, ns);
            ds_put_cstr(&ds, " is not an IP address");
            return error_from_ds(code, &ds);
        }
    }
    const struct svec *lists[] = { &result->dns.search, &result->dns.options };
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        for (size_t j = 0; j < lists[i]->n; j++) {
            if (!utf8_ok(lists[i]->names[j])) {
                return cni_error_createf(code, "%s: dns.%s[%"PRIuSIZE"] is "
                                         "not UTF-8", where,
                                         i ? "options" : "search", j);
            }
        }
    }
    if (result->dns.domain && !utf8_ok(result->dns.domain)) {
        return cni_error_createf(code, "%s: dns.domain is not UTF-8", where);
    }
    return NULL;
}

/* Returns NULL if 'result' is a valid CNI result, otherwise an error with
 * code CNI_ERR_AGENT (an invalid result is a bug in whoever made it). */
struct cni_error *
cni_result_validate(const struct cni_result *result)
{
    return result_validate(result, "result", CNI_ERR_AGENT);
}

static json_t *
svec_to_jansson(const struct svec *svec)
{
    json_t *array = lb_json_arr();
    for (size_t i = 0; i < svec->n; i++) {
        json_array_append_new(array, jstr_lossy(svec->names[i]));
    }
    return array;
}

static json_t *
result_to_jansson(const struct cni_result *result, enum cni_version version)
{
    json_t *root = lb_json_obj();
    json_object_set_new(root, "cniVersion",
                        lb_json_str(cni_version_to_string(version)));

    if (result->n_interfaces) {
        json_t *array = lb_json_arr();
        for (size_t i = 0; i < result->n_interfaces; i++) {
            const struct cni_interface *iface = &result->interfaces[i];
            json_t *j = lb_json_obj();
            json_object_set_new(j, "name", jstr_lossy(iface->name));
            if (iface->mac) {
                json_object_set_new(j, "mac", jstr_lossy(iface->mac));
            }
            if (iface->mtu && version >= CNI_V110) {
                json_object_set_new(j, "mtu", lb_json_int(iface->mtu));
            }
            if (iface->sandbox) {
                json_object_set_new(j, "sandbox", jstr_lossy(iface->sandbox));
            }
            json_array_append_new(array, j);
        }
        json_object_set_new(root, "interfaces", array);
    }

    if (result->n_ips) {
        json_t *array = lb_json_arr();
        for (size_t i = 0; i < result->n_ips; i++) {
            const struct cni_ip *ip = &result->ips[i];
            json_t *j = lb_json_obj();
            if (version == CNI_V040) {
                json_object_set_new(j, "version",
                                    lb_json_str(strchr(ip->address, ':')
                                         ? "6" : "4"));
            }
            if (ip->interface >= 0) {
                json_object_set_new(j, "interface",
                                    lb_json_int(ip->interface));
            }
            json_object_set_new(j, "address", jstr_lossy(ip->address));
            if (ip->gateway) {
                json_object_set_new(j, "gateway", jstr_lossy(ip->gateway));
            }
            json_array_append_new(array, j);
        }
        json_object_set_new(root, "ips", array);
    }

    if (result->n_routes) {
        json_t *array = lb_json_arr();
        for (size_t i = 0; i < result->n_routes; i++) {
            const struct cni_route *route = &result->routes[i];
            json_t *j = lb_json_obj();
            json_object_set_new(j, "dst", jstr_lossy(route->dst));
            if (route->gw) {
                json_object_set_new(j, "gw", jstr_lossy(route->gw));
            }
            json_array_append_new(array, j);
        }
        json_object_set_new(root, "routes", array);
    }

    /* Like the reference implementation, "dns" is always there. */
    json_t *dns = lb_json_obj();
    if (result->dns.nameservers.n) {
        json_object_set_new(dns, "nameservers",
                            svec_to_jansson(&result->dns.nameservers));
    }
    if (result->dns.domain) {
        json_object_set_new(dns, "domain", jstr_lossy(result->dns.domain));
    }
    if (result->dns.search.n) {
        json_object_set_new(dns, "search",
                            svec_to_jansson(&result->dns.search));
    }
    if (result->dns.options.n) {
        json_object_set_new(dns, "options",
                            svec_to_jansson(&result->dns.options));
    }
    json_object_set_new(root, "dns", dns);

    return root;
}

/* The CNI result JSON for 'result' in the format of 'version'. */
char *
cni_result_to_json(const struct cni_result *result, enum cni_version version)
{
    return dump_and_free(result_to_jansson(result, version));
}

/* Helpers for reading JSON objects.  Each returns false, with a message in
 * 'ds', if member 'key' of 'obj' has the wrong type; absent and null
 * members are "not given". */
static bool
get_string(const json_t *obj, const char *key, const char *where,
           const char **valuep, struct ds *ds)
{
    const json_t *j = json_object_get(obj, key);
    *valuep = NULL;
    if (!j || json_is_null(j)) {
        return true;
    } else if (!json_is_string(j)) {
        ds_put_format(ds, "%s%s must be a string, not ", where, key);
        ds_put_json(ds, j);
        return false;
    }
    *valuep = json_string_value(j);
    return true;
}

static bool
get_uint(const json_t *obj, const char *key, const char *where,
         json_int_t max, json_int_t *valuep, bool *presentp, struct ds *ds)
{
    const json_t *j = json_object_get(obj, key);
    *presentp = false;
    if (!j || json_is_null(j)) {
        return true;
    } else if (!json_is_integer(j) || json_integer_value(j) < 0
               || json_integer_value(j) > max) {
        ds_put_format(ds, "%s%s must be an integer between 0 and %lld, not ",
                      where, key, (long long int) max);
        ds_put_json(ds, j);
        return false;
    }
    *valuep = json_integer_value(j);
    *presentp = true;
    return true;
}

static bool
get_string_list(const json_t *obj, const char *key, const char *where,
                struct svec *svec, struct ds *ds)
{
    const json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j)) {
        return true;
    }
    if (json_is_array(j)) {
        size_t i;
        const json_t *item;
        json_array_foreach (j, i, item) {
            if (!json_is_string(item)) {
                break;
            }
            svec_add(svec, json_string_value(item));
        }
        if (i == json_array_size(j)) {
            return true;
        }
    }
    ds_put_format(ds, "%s%s must be a list of strings, not ", where, key);
    ds_put_json(ds, j);
    return false;
}

/* Parses a CNI result of any supported version from 'j'.  Unknown members
 * are ignored (a later version's additions, "socketPath" and the like). */
static struct cni_error *
result_from_jansson(const json_t *j, const char *where, int code,
                    struct cni_result **resultp)
{
    struct cni_result *result = cni_result_create();
    struct ds ds = DS_EMPTY_INITIALIZER;
    struct ds at = DS_EMPTY_INITIALIZER;
    const json_t *array, *item;
    size_t i;

    *resultp = NULL;
    if (!json_is_object(j)) {
        ds_put_format(&ds, "%s must be an object, not ", where);
        ds_put_json(&ds, j);
        goto error;
    }

    array = json_object_get(j, "interfaces");
    if (array && !json_is_null(array) && !json_is_array(array)) {
        ds_put_format(&ds, "%s: interfaces must be a list", where);
        goto error;
    }
    json_array_foreach (array, i, item) {
        const char *name, *mac, *sandbox;
        json_int_t mtu = 0;
        bool has_mtu;

        ds_clear(&at);
        ds_put_format(&at, "%s: interfaces[%"PRIuSIZE"].", where, i);
        if (!json_is_object(item)) {
            ds_put_format(&ds, "%s: interfaces[%"PRIuSIZE"] must be an "
                          "object", where, i);
            goto error;
        }
        if (!get_string(item, "name", ds_cstr(&at), &name, &ds)
            || !get_string(item, "mac", ds_cstr(&at), &mac, &ds)
            || !get_string(item, "sandbox", ds_cstr(&at), &sandbox, &ds)
            || !get_uint(item, "mtu", ds_cstr(&at), UINT_MAX, &mtu, &has_mtu,
                         &ds)) {
            goto error;
        }
        if (!name) {
            ds_put_format(&ds, "%sname is missing", ds_cstr(&at));
            goto error;
        }
        cni_result_add_interface(result, name, mac && mac[0] ? mac : NULL,
                                 sandbox && sandbox[0] ? sandbox : NULL, mtu);
    }

    array = json_object_get(j, "ips");
    if (array && !json_is_null(array) && !json_is_array(array)) {
        ds_put_format(&ds, "%s: ips must be a list", where);
        goto error;
    }
    json_array_foreach (array, i, item) {
        const char *address, *gateway;
        json_int_t interface = -1;
        bool has_interface;

        ds_clear(&at);
        ds_put_format(&at, "%s: ips[%"PRIuSIZE"].", where, i);
        if (!json_is_object(item)) {
            ds_put_format(&ds, "%s: ips[%"PRIuSIZE"] must be an object",
                          where, i);
            goto error;
        }
        if (!get_string(item, "address", ds_cstr(&at), &address, &ds)
            || !get_string(item, "gateway", ds_cstr(&at), &gateway, &ds)
            || !get_uint(item, "interface", ds_cstr(&at), INT_MAX,
                         &interface, &has_interface, &ds)) {
            goto error;
        }
        if (!address) {
            ds_put_format(&ds, "%saddress is missing", ds_cstr(&at));
            goto error;
        }
        cni_result_add_ip(result, address,
                          gateway && gateway[0] ? gateway : NULL,
                          has_interface ? interface : -1);
    }

    array = json_object_get(j, "routes");
    if (array && !json_is_null(array) && !json_is_array(array)) {
        ds_put_format(&ds, "%s: routes must be a list", where);
        goto error;
    }
    json_array_foreach (array, i, item) {
        const char *dst, *gw;

        ds_clear(&at);
        ds_put_format(&at, "%s: routes[%"PRIuSIZE"].", where, i);
        if (!json_is_object(item)) {
            ds_put_format(&ds, "%s: routes[%"PRIuSIZE"] must be an object",
                          where, i);
            goto error;
        }
        if (!get_string(item, "dst", ds_cstr(&at), &dst, &ds)
            || !get_string(item, "gw", ds_cstr(&at), &gw, &ds)) {
            goto error;
        }
        if (!dst) {
            ds_put_format(&ds, "%sdst is missing", ds_cstr(&at));
            goto error;
        }
        cni_result_add_route(result, dst, gw && gw[0] ? gw : NULL);
    }

    const json_t *dns = json_object_get(j, "dns");
    if (dns && !json_is_null(dns)) {
        const char *domain;

        ds_clear(&at);
        ds_put_format(&at, "%s: dns.", where);
        if (!json_is_object(dns)) {
            ds_put_format(&ds, "%s: dns must be an object", where);
            goto error;
        }
        if (!get_string_list(dns, "nameservers", ds_cstr(&at),
                             &result->dns.nameservers, &ds)
            || !get_string(dns, "domain", ds_cstr(&at), &domain, &ds)
            || !get_string_list(dns, "search", ds_cstr(&at),
                                &result->dns.search, &ds)
            || !get_string_list(dns, "options", ds_cstr(&at),
                                &result->dns.options, &ds)) {
            goto error;
        }
        if (domain && domain[0]) {
            result->dns.domain = xstrdup(domain);
        }
    }
    ds_destroy(&at);

    struct cni_error *error = result_validate(result, where, code);
    if (error) {
        cni_result_destroy(result);
        return error;
    }
    *resultp = result;
    return NULL;

error:
    ds_destroy(&at);
    cni_result_destroy(result);
    return error_from_ds(code, &ds);
}

/* Parses the CNI result JSON in 'text' ('len' bytes), of any supported
 * version.  On success stores a new result in '*resultp'. */
struct cni_error *
cni_result_from_json(const char *text, size_t len,
                     struct cni_result **resultp)
{
    json_error_t jerror;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerror);

    *resultp = NULL;
    if (!j) {
        return cni_error_createf(CNI_ERR_DECODE, "result is not valid JSON: "
                                 "%s (line %d, column %d)", jerror.text,
                                 jerror.line, jerror.column);
    }
    struct cni_error *error = result_from_jansson(j, "result", CNI_ERR_DECODE,
                                                  resultp);
    json_decref(j);
    return error;
}

/* ---------------------------------------------------------- configuration */

static void
config_init(struct cni_config *config)
{
    memset(config, 0, sizeof *config);
    config->version = CNI_VERSION_DEFAULT;
    config->timeout_ms = CNI_DEFAULT_TIMEOUT_MS;
    config->log_level = CNI_LOG_WARN;
}

static void
config_destroy(struct cni_config *config)
{
    free(config->name);
    free(config->agent_socket);
    free(config->logical_switch);
    cni_result_destroy(config->prev_result);
    for (size_t i = 0; i < config->n_valid_attachments; i++) {
        free(config->valid_attachments[i].container_id);
        free(config->valid_attachments[i].ifname);
    }
    free(config->valid_attachments);
    free(config->json);
}

/* Reads "cniVersion" from 'root' into '*versionp' if it is one we support,
 * so that errors found before the configuration is validated are reported
 * in the runtime's version. */
static void
peek_version(const json_t *root, enum cni_version *versionp)
{
    const json_t *j = json_is_object(root)
                      ? json_object_get(root, "cniVersion") : NULL;
    if (json_is_string(j)) {
        cni_version_from_string(json_string_value(j), versionp);
    }
}

/* Whether 's' looks like a semantic version "X.Y.Z". */
static bool
is_semver(const char *s)
{
    int dots = 0;
    bool digit = false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digit = true;
        } else if (*p == '.' && digit) {
            dots++;
            digit = false;
        } else {
            return false;
        }
    }
    return dots == 2 && digit;
}

/* livebind's own configuration keys. */
static const char *const livebind_options[] = {
    "agentSocket", "timeoutMs", "logLevel", "logicalSwitch",
};

/* Keys that livebind ignores: the CNI spec's, and conventions that
 * runtimes and meta-plugins pass. */
static const char *const known_keys[] = {
    "cniVersion", "cniVersions", "name", "type", "capabilities",
    "runtimeConfig", "args", "prevResult", "ipMasq", "ipam", "dns",
    "disableCheck", "disableGC", "loadOnlyInlinedPlugins",
};

/* Misspellings of livebind's keys that are not merely differences in case,
 * '_' or '-', mapped to the key meant ("normalized": see below). */
static const struct {
    const char *alias;
    const char *option;
} option_aliases[] = {
    { "socket", "agentSocket" },
    { "socketpath", "agentSocket" },
    { "agentsock", "agentSocket" },
    { "agentsocketpath", "agentSocket" },
    { "timeout", "timeoutMs" },
    { "timeoutmsec", "timeoutMs" },
    { "timeoutmillis", "timeoutMs" },
    { "timeoutmilliseconds", "timeoutMs" },
    { "loglvl", "logLevel" },
    { "switch", "logicalSwitch" },
    { "lswitch", "logicalSwitch" },
    { "logicalswitchname", "logicalSwitch" },
};

/* 'key' in lowercase without '_', '-' and '.': "Timeout_MS" and
 * "timeout-ms" both become "timeoutms". */
static char *
normalize_key(const char *key)
{
    char *s = xmalloc(strlen(key) + 1);
    char *q = s;
    for (const char *p = key; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *q++ = *p - 'A' + 'a';
        } else if (*p != '_' && *p != '-' && *p != '.') {
            *q++ = *p;
        }
    }
    *q = '\0';
    return s;
}

/* If 'key' is not one we know but is evidently meant as one of livebind's
 * options, returns the option, otherwise NULL.  CNI lets configurations
 * carry fields for other consumers, so unknown keys are accepted, except
 * these: a misspelt "timeoutMs" silently ignored would leave a debugging
 * puzzle, and nobody else can mean it. */
static const char *
misspelt_option(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++) {
        if (!strcmp(key, known_keys[i])) {
            return NULL;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(livebind_options); i++) {
        if (!strcmp(key, livebind_options[i])) {
            return NULL;
        }
    }

    const char *option = NULL;
    char *norm = normalize_key(key);
    for (size_t i = 0; i < ARRAY_SIZE(livebind_options) && !option; i++) {
        char *opt_norm = normalize_key(livebind_options[i]);
        if (!strcmp(norm, opt_norm)) {
            option = livebind_options[i];
        }
        free(opt_norm);
    }
    for (size_t i = 0; i < ARRAY_SIZE(option_aliases) && !option; i++) {
        if (!strcmp(norm, option_aliases[i].alias)) {
            option = option_aliases[i].option;
        }
    }
    free(norm);
    return option;
}

static struct cni_error *
parse_valid_attachments(const json_t *array, struct cni_config *config)
{
    const char *key = "cni.dev/valid-attachments";
    struct ds ds = DS_EMPTY_INITIALIZER;

    if (!json_is_array(array)) {
        ds_put_format(&ds, "\"%s\" must be a list, not ", key);
        ds_put_json(&ds, array);
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    }

    size_t n = json_array_size(array);
    config->valid_attachments = xcalloc(n, sizeof *config->valid_attachments);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(array, i);
        const json_t *id = json_object_get(item, "containerID");
        const json_t *ifname = json_object_get(item, "ifname");
        if (!json_is_string(id) || !json_is_string(ifname)) {
            ds_put_format(&ds, "\"%s\"[%"PRIuSIZE"] must be an object with "
                          "string members \"containerID\" and \"ifname\", "
                          "not ", key, i);
            ds_put_json(&ds, item);
            return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
        }
        struct cni_attachment *a = &config->valid_attachments[i];
        a->container_id = xstrdup(json_string_value(id));
        a->ifname = xstrdup(json_string_value(ifname));
        config->n_valid_attachments++;
    }
    return NULL;
}

static struct cni_error *
parse_config(const json_t *root, enum cni_command command,
             struct cni_config *config)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    const char *s;

    if (!json_is_object(root)) {
        return cni_error_createf(CNI_ERR_DECODE, "network configuration is "
                                 "not a JSON object");
    }

    /* cniVersion. */
    if (!get_string(root, "cniVersion", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (!s) {
        return cni_error_createf(CNI_ERR_INVALID_CONFIG, "network "
                                 "configuration lacks \"cniVersion\"");
    } else if (!cni_version_from_string(s, &config->version)) {
        ds_put_cstr(&ds, "cniVersion ");
        ds_put_quoted(&ds, s);
        if (is_semver(s)) {
            ds_put_cstr(&ds, " is not supported (supported: 0.4.0, 1.0.0, "
                        "1.1.0)");
            return error_from_ds(CNI_ERR_INCOMPATIBLE_VERSION, &ds);
        }
        ds_put_cstr(&ds, " is not a version");
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    }
    if ((command == CNI_CMD_STATUS || command == CNI_CMD_GC)
        && config->version < CNI_V110) {
        return cni_error_createf(CNI_ERR_INCOMPATIBLE_VERSION, "cniVersion "
                                 "%s does not allow %s (1.1.0 does)",
                                 cni_version_to_string(config->version),
                                 cni_command_to_string(command));
    }

    /* name, type. */
    if (!get_string(root, "name", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (!s) {
        return cni_error_createf(CNI_ERR_INVALID_CONFIG, "network "
                                 "configuration lacks \"name\"");
    } else if (!valid_identifier(s, 255)) {
        ds_put_cstr(&ds, "network name ");
        ds_put_quoted(&ds, s);
        ds_put_cstr(&ds, " is invalid: it must start with a letter or digit, "
                    "followed by letters, digits, '_', '.' or '-'");
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    }
    config->name = xstrdup(s);

    if (!get_string(root, "type", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (!s) {
        return cni_error_createf(CNI_ERR_INVALID_CONFIG, "network "
                                 "configuration lacks \"type\"%s",
                                 json_object_get(root, "plugins")
                                 ? " (this looks like a configuration list: "
                                   "pass one plugin's configuration)" : "");
    } else if (strcmp(s, "livebind")) {
        ds_put_cstr(&ds, "\"type\" is ");
        ds_put_quoted(&ds, s);
        ds_put_cstr(&ds, ", not \"livebind\"");
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    }

    /* livebind's options. */
    if (!get_string(root, "agentSocket", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (s) {
        if (s[0] != '/' || strlen(s) >= sizeof ((struct sockaddr_un *) 0)
                                               ->sun_path) {
            ds_put_cstr(&ds, "agentSocket ");
            ds_put_quoted(&ds, s);
            ds_put_format(&ds, " must be an absolute path shorter than %d "
                          "bytes", (int) sizeof ((struct sockaddr_un *) 0)
                                              ->sun_path);
            return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
        }
    }
    config->agent_socket = xstrdup(s ? s : CNI_DEFAULT_SOCKET);

    const json_t *j = json_object_get(root, "timeoutMs");
    if (j && !json_is_null(j)) {
        if (!json_is_integer(j) || json_integer_value(j) < 1
            || json_integer_value(j) > CNI_MAX_TIMEOUT_MS) {
            ds_put_format(&ds, "timeoutMs must be an integer between 1 and "
                          "%d, not ", CNI_MAX_TIMEOUT_MS);
            ds_put_json(&ds, j);
            return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
        }
        config->timeout_ms = json_integer_value(j);
    }

    if (!get_string(root, "logLevel", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (s && !log_level_from_string(s, &config->log_level)) {
        ds_put_cstr(&ds, "logLevel ");
        ds_put_quoted(&ds, s);
        ds_put_cstr(&ds, " is not one of off, error, warn, info, debug");
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    }

    /* A secondary network's switch (docs/cni.md, "Several NICs"). */
    if (!get_string(root, "logicalSwitch", "", &s, &ds)) {
        return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
    } else if (s) {
        if (!valid_identifier(s, 253)) {
            ds_put_cstr(&ds, "logicalSwitch ");
            ds_put_quoted(&ds, s);
            ds_put_cstr(&ds, " is not a LogicalSwitch name");
            return error_from_ds(CNI_ERR_INVALID_CONFIG, &ds);
        }
        config->logical_switch = xstrdup(s);
    }

    /* Fields livebind does not support. */
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) root, key, value) {
        const char *option = misspelt_option(key);
        if (option) {
            ds_put_cstr(&ds, "unsupported field ");
            ds_put_quoted(&ds, key);
            ds_put_cstr(&ds, ": ");
            ds_put_json(&ds, value);
            ds_put_format(&ds, " (did you mean \"%s\"?)", option);
            return error_from_ds(CNI_ERR_UNSUPPORTED_FIELD, &ds);
        }
    }
    j = json_object_get(root, "ipam");
    if (j && !json_is_null(j)
        && !(json_is_object(j) && !json_object_size(j))) {
        ds_put_cstr(&ds, "unsupported field \"ipam\": ");
        ds_put_json(&ds, j);
        ds_put_cstr(&ds, " (livebind assigns addresses itself; remove it)");
        return error_from_ds(CNI_ERR_UNSUPPORTED_FIELD, &ds);
    }

    /* Runtime-generated fields. */
    j = json_object_get(root, "prevResult");
    if (j && !json_is_null(j)) {
        struct cni_error *error = result_from_jansson(j, "prevResult",
                                                      CNI_ERR_INVALID_CONFIG,
                                                      &config->prev_result);
        if (error) {
            return error;
        }
    }
    j = json_object_get(root, "cni.dev/valid-attachments");
    if (command == CNI_CMD_GC) {
        /* Without the list, GC would have to take every attachment for
         * stale: refuse rather than guess. */
        if (!j) {
            return cni_error_createf(CNI_ERR_INVALID_CONFIG, "GC needs "
                                     "\"cni.dev/valid-attachments\" in the "
                                     "network configuration");
        }
        struct cni_error *error = parse_valid_attachments(j, config);
        if (error) {
            return error;
        }
    }

    config->json = json_dumps(root, JSON_COMPACT);
    if (!config->json) {
        out_of_memory();
    }
    /* json_dumps() memory comes from jansson's allocator, which is malloc
     * unless someone changed it; copy to be sure free() is right. */
    char *copy = xstrdup(config->json);
    free(config->json);
    config->json = copy;
    return NULL;
}

/* -------------------------------------------------------------- requests */

void
cni_request_init(struct cni_request *req)
{
    memset(req, 0, sizeof *req);
    req->protocol = CNI_AGENT_PROTOCOL;
    smap_init(&req->args);
    config_init(&req->config);
}

void
cni_request_destroy(struct cni_request *req)
{
    if (req) {
        free(req->container_id);
        free(req->netns);
        free(req->ifname);
        free(req->path);
        smap_destroy(&req->args);
        config_destroy(&req->config);
    }
}

/* Parses CNI_ARGS "K1=V1;K2=V2" into 'args'. */
static struct cni_error *
parse_cni_args(const char *s, struct smap *args)
{
    struct cni_error *error = NULL;
    char *copy = xstrdup(s);
    char *save_ptr = NULL;

    for (char *pair = strtok_r(copy, ";", &save_ptr); pair;
         pair = strtok_r(NULL, ";", &save_ptr)) {
        char *eq = strchr(pair, '=');
        struct ds ds = DS_EMPTY_INITIALIZER;
        if (!eq || eq == pair) {
            ds_put_cstr(&ds, "CNI_ARGS: ");
            ds_put_quoted(&ds, pair);
            ds_put_cstr(&ds, " is not KEY=VALUE");
            error = error_from_ds(CNI_ERR_INVALID_ENV, &ds);
            break;
        }
        *eq = '\0';
        if (smap_get(args, pair)) {
            ds_put_cstr(&ds, "CNI_ARGS: duplicate key ");
            ds_put_quoted(&ds, pair);
            error = error_from_ds(CNI_ERR_INVALID_ENV, &ds);
            break;
        }
        smap_add(args, pair, eq + 1);
    }
    free(copy);
    return error;
}

static struct cni_error *
invalid_env(const char *name, const char *value, const char *why)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    ds_put_format(&ds, "%s ", name);
    ds_put_quoted(&ds, value);
    ds_put_format(&ds, " is invalid: %s", why);
    return error_from_ds(CNI_ERR_INVALID_ENV, &ds);
}

/* Checks the parameters of 'req' for its command, and points its pod_*
 * members into 'args'. */
static struct cni_error *
check_request(struct cni_request *req)
{
    enum cni_command cmd = req->command;
    bool attach = (cmd == CNI_CMD_ADD || cmd == CNI_CMD_DEL
                   || cmd == CNI_CMD_CHECK);
    bool with_netns = cmd == CNI_CMD_ADD || cmd == CNI_CMD_CHECK;
    struct svec missing = SVEC_EMPTY_INITIALIZER;

    if (attach && !req->container_id) {
        svec_add(&missing, "CNI_CONTAINERID");
    }
    if (with_netns && !req->netns) {
        svec_add(&missing, "CNI_NETNS");
    }
    if (attach && !req->ifname) {
        svec_add(&missing, "CNI_IFNAME");
    }
    if (cmd == CNI_CMD_GC && !req->path) {
        svec_add(&missing, "CNI_PATH");
    }
    if (missing.n) {
        struct ds ds = DS_EMPTY_INITIALIZER;
        ds_put_format(&ds, "required environment variable%s missing for %s: ",
                      missing.n > 1 ? "s" : "", cni_command_to_string(cmd));
        for (size_t i = 0; i < missing.n; i++) {
            ds_put_format(&ds, "%s%s", i ? ", " : "", missing.names[i]);
        }
        svec_destroy(&missing);
        return error_from_ds(CNI_ERR_INVALID_ENV, &ds);
    }

    if (req->container_id && !valid_identifier(req->container_id, 1024)) {
        return invalid_env("CNI_CONTAINERID", req->container_id,
                           "it must start with a letter or digit, followed "
                           "by letters, digits, '_', '.' or '-'");
    }
    if (req->ifname && (!valid_ifname(req->ifname) || !utf8_ok(req->ifname))) {
        return invalid_env("CNI_IFNAME", req->ifname,
                           "an interface name has 1 to 15 characters, not "
                           "'/', ':' or whitespace, and is not \".\" or "
                           "\"..\"");
    }
    if (req->netns && (req->netns[0] != '/' || strlen(req->netns) >= PATH_MAX
                       || !utf8_ok(req->netns))) {
        return invalid_env("CNI_NETNS", req->netns,
                           "it must be the absolute path of a network "
                           "namespace");
    }
    if (req->path && !utf8_ok(req->path)) {
        return invalid_env("CNI_PATH", req->path, "it is not UTF-8");
    }

    struct smap_node *node;
    SMAP_FOR_EACH (node, &req->args) {
        if (!utf8_ok(node->key) || !utf8_ok(node->value)) {
            return invalid_env("CNI_ARGS", node->key, "not UTF-8");
        }
    }

    req->pod_namespace = smap_get(&req->args, "K8S_POD_NAMESPACE");
    req->pod_name = smap_get(&req->args, "K8S_POD_NAME");
    req->pod_uid = smap_get(&req->args, "K8S_POD_UID");
    req->infra_container_id = smap_get(&req->args,
                                       "K8S_POD_INFRA_CONTAINER_ID");
    if (req->pod_namespace
        && !valid_dns_label(req->pod_namespace, strlen(req->pod_namespace))) {
        return invalid_env("CNI_ARGS K8S_POD_NAMESPACE", req->pod_namespace,
                           "not a Kubernetes namespace name");
    }
    if (req->pod_name && !valid_dns_subdomain(req->pod_name)) {
        return invalid_env("CNI_ARGS K8S_POD_NAME", req->pod_name,
                           "not a Kubernetes pod name");
    }
    if (req->pod_uid && !valid_uid(req->pod_uid)) {
        return invalid_env("CNI_ARGS K8S_POD_UID", req->pod_uid,
                           "not a Kubernetes UID");
    }
    if (req->infra_container_id
        && !valid_identifier(req->infra_container_id, 1024)) {
        return invalid_env("CNI_ARGS K8S_POD_INFRA_CONTAINER_ID",
                           req->infra_container_id, "not a container ID");
    }
    /* ADD needs the pod to find its logical port; CHECK checks it.  DEL
     * works from the container ID alone: a runtime cleaning up after a
     * crash may not know the pod any more. */
    if (with_netns && (!req->pod_namespace || !req->pod_name)) {
        return cni_error_createf(CNI_ERR_INVALID_ENV, "CNI_ARGS lacks %s "
                                 "(livebind serves Kubernetes pods only)",
                                 !req->pod_namespace ? "K8S_POD_NAMESPACE"
                                                     : "K8S_POD_NAME");
    }
    return NULL;
}

static char *
nonempty_xstrdup(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

/* Parses a CNI invocation: 'env' holds the CNI_* environment variables,
 * 'config' ('len' bytes, may be NULL) what the runtime wrote on stdin.
 * Initializes 'req' (the caller must cni_request_destroy() it either way)
 * and returns NULL on success.  On error, 'req->config.version' still is
 * the configuration's version if it could be read, for the error JSON.
 *
 * VERSION needs no configuration; only 'req->command' is set for it. */
struct cni_error *
cni_request_from_env(const struct smap *env, const char *config, size_t len,
                     struct cni_request *req)
{
    struct cni_error *error = NULL;
    json_error_t jerror;
    json_t *root = NULL;

    cni_request_init(req);
    if (config && len) {
        root = json_loadb(config, len, JSON_REJECT_DUPLICATES, &jerror);
        peek_version(root, &req->config.version);
    }

    const char *command = smap_get(env, "CNI_COMMAND");
    if (!command || !command[0]) {
        error = cni_error_createf(CNI_ERR_INVALID_ENV, "required environment "
                                  "variable missing: CNI_COMMAND");
        goto out;
    } else if (!cni_command_from_string(command, &req->command)) {
        error = invalid_env("CNI_COMMAND", command, "not one of ADD, DEL, "
                            "CHECK, VERSION, STATUS, GC");
        goto out;
    } else if (req->command == CNI_CMD_VERSION) {
        goto out;
    }

    req->container_id = nonempty_xstrdup(smap_get(env, "CNI_CONTAINERID"));
    req->netns = nonempty_xstrdup(smap_get(env, "CNI_NETNS"));
    req->ifname = nonempty_xstrdup(smap_get(env, "CNI_IFNAME"));
    req->path = nonempty_xstrdup(smap_get(env, "CNI_PATH"));
    const char *args = smap_get(env, "CNI_ARGS");
    if (args) {
        error = parse_cni_args(args, &req->args);
        if (error) {
            goto out;
        }
    }
    error = check_request(req);
    if (error) {
        goto out;
    }

    if (!config || !len) {
        error = cni_error_createf(CNI_ERR_DECODE, "no network configuration "
                                  "on stdin");
    } else if (!root) {
        error = cni_error_createf(CNI_ERR_DECODE, "network configuration is "
                                  "not valid JSON: %s (line %d, column %d)",
                                  jerror.text, jerror.line, jerror.column);
    } else {
        error = parse_config(root, req->command, &req->config);
    }

out:
    json_decref(root);
    return error;
}

/* The request the plugin sends to the agent for 'req'. */
char *
cni_request_to_json(const struct cni_request *req)
{
    json_t *j = lb_json_obj();
    json_object_set_new(j, "protocol", lb_json_int(req->protocol));
    json_object_set_new(j, "command",
                        lb_json_str(cni_command_to_string(req->command)));
    if (req->container_id) {
        json_object_set_new(j, "containerID", lb_json_str(req->container_id));
    }
    if (req->netns) {
        json_object_set_new(j, "netns", lb_json_str(req->netns));
    }
    if (req->netns_gone) {
        json_object_set_new(j, "netnsGone", json_true());
    }
    if (req->ifname) {
        json_object_set_new(j, "ifName", lb_json_str(req->ifname));
    }

    json_t *args = lb_json_obj();
    const struct smap_node **nodes = smap_sort(&req->args);
    for (size_t i = 0; i < smap_count(&req->args); i++) {
        json_object_set_new(args, nodes[i]->key, lb_json_str(nodes[i]->value));
    }
    free(nodes);
    json_object_set_new(j, "args", args);

    if (req->path) {
        json_object_set_new(j, "path", lb_json_str(req->path));
    }
    if (req->config.json) {
        json_object_set_new(j, "config",
                            json_loads(req->config.json, 0, NULL));
    }
    return dump_and_free(j);
}

/* Parses and validates a request as the agent receives it, with the same
 * rules as cni_request_from_env().  Initializes 'req' (the caller must
 * cni_request_destroy() it either way). */
struct cni_error *
cni_request_from_json(const char *text, size_t len, struct cni_request *req)
{
    struct cni_error *error = NULL;
    struct ds ds = DS_EMPTY_INITIALIZER;
    json_error_t jerror;
    const char *s;

    cni_request_init(req);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerror);
    if (!root) {
        return cni_error_createf(CNI_ERR_DECODE, "request is not valid JSON: "
                                 "%s (line %d, column %d)", jerror.text,
                                 jerror.line, jerror.column);
    } else if (!json_is_object(root)) {
        error = cni_error_createf(CNI_ERR_DECODE, "request is not a JSON "
                                  "object");
        goto out;
    }

    const json_t *config = json_object_get(root, "config");
    peek_version(config, &req->config.version);

    /* Before anything else: a request of another version may mean
     * something else by its members. */
    json_int_t protocol;
    bool present;
    if (!get_uint(root, "protocol", "request: ", INT_MAX, &protocol,
                  &present, &ds)) {
        goto decode_error;
    }
    req->protocol = present ? protocol : 1;
    if (req->protocol < 1 || req->protocol > CNI_AGENT_PROTOCOL) {
        error = cni_error_createf(CNI_ERR_AGENT, "request of agent protocol "
                                  "%d, but this agent speaks 1 to %d: the "
                                  "livebind plugin and agent must come from "
                                  "one release", req->protocol,
                                  CNI_AGENT_PROTOCOL);
        goto out;
    }
    const json_t *gone = json_object_get(root, "netnsGone");
    if (gone && !json_is_boolean(gone)) {
        ds_put_cstr(&ds, "request: netnsGone must be a boolean");
        goto decode_error;
    }
    req->netns_gone = gone && json_is_true(gone);

    if (!get_string(root, "command", "request: ", &s, &ds)) {
        goto decode_error;
    } else if (!s) {
        error = cni_error_createf(CNI_ERR_DECODE, "request lacks \"command\"");
        goto out;
    } else if (!cni_command_from_string(s, &req->command)
               || req->command == CNI_CMD_VERSION) {
        error = invalid_env("CNI_COMMAND", s, "not one of ADD, DEL, CHECK, "
                            "STATUS, GC");
        goto out;
    }

    const char *container_id, *netns, *ifname, *path;
    if (!get_string(root, "containerID", "request: ", &container_id, &ds)
        || !get_string(root, "netns", "request: ", &netns, &ds)
        || !get_string(root, "ifName", "request: ", &ifname, &ds)
        || !get_string(root, "path", "request: ", &path, &ds)) {
        goto decode_error;
    }
    req->container_id = nonempty_xstrdup(container_id);
    req->netns = nonempty_xstrdup(netns);
    req->ifname = nonempty_xstrdup(ifname);
    req->path = nonempty_xstrdup(path);

    const json_t *args = json_object_get(root, "args");
    if (args && !json_is_null(args)) {
        const char *key;
        json_t *value;
        if (!json_is_object(args)) {
            ds_put_cstr(&ds, "request: args must be an object");
            goto decode_error;
        }
        json_object_foreach ((json_t *) args, key, value) {
            if (!json_is_string(value)) {
                ds_put_format(&ds, "request: args.%s must be a string", key);
                goto decode_error;
            }
            smap_add(&req->args, key, json_string_value(value));
        }
    }

    error = check_request(req);
    if (error) {
        goto out;
    }
    if (!config) {
        error = cni_error_createf(CNI_ERR_DECODE, "request lacks \"config\"");
        goto out;
    }
    error = parse_config(config, req->command, &req->config);
    goto out;

decode_error:
    error = error_from_ds(CNI_ERR_DECODE, &ds);
out:
    ds_destroy(&ds);
    json_decref(root);
    return error;
}

/* Decides what the agent does with the descriptor that came with 'req'
 * ('has_fd'): returns an error if 'req' needed one and has none, otherwise
 * NULL, with '*keep_fdp' telling whether to keep the descriptor (false:
 * close it, the request should carry none).
 *
 * ADD and CHECK need their namespace, so they need its descriptor: the
 * agent never opens CNI_NETNS itself (netns-fd.h says why).  DEL uses one if
 * it came (the plugin sends none when the namespace is gone, which DEL
 * takes as success, as CNI wants); STATUS and GC have no namespace. */
struct cni_error *
cni_request_check_netns_fd(const struct cni_request *req, bool has_fd,
                           bool *keep_fdp)
{
    enum cni_command cmd = req->command;

    *keep_fdp = false;
    if (cmd == CNI_CMD_ADD || cmd == CNI_CMD_CHECK) {
        if (req->netns_gone) {
            return cni_error_createf(CNI_ERR_INVALID_ENV, "CNI_NETNS %s does "
                                     "not exist", req->netns ? req->netns
                                                             : "");
        } else if (!has_fd && req->protocol < CNI_AGENT_PROTOCOL) {
            return cni_error_createf(CNI_ERR_AGENT, "the livebind plugin is "
                                     "older than the agent (agent protocol "
                                     "%d, not %d): it passed no descriptor "
                                     "of CNI_NETNS; install the plugin of "
                                     "the agent's release", req->protocol,
                                     CNI_AGENT_PROTOCOL);
        } else if (!has_fd) {
            return cni_error_createf(CNI_ERR_INVALID_ENV, "the %s request "
                                     "carries no descriptor of CNI_NETNS %s",
                                     cni_command_to_string(cmd),
                                     req->netns ? req->netns : "");
        }
        *keep_fdp = true;
    } else if (cmd == CNI_CMD_DEL) {
        *keep_fdp = has_fd && req->netns && !req->netns_gone;
    }
    return NULL;
}

/* ------------------------------------------------------------- responses */

/* The agent's success response: {"result": RESULT} with 'result' formatted
 * for 'version', or {"result": null} if 'result' is NULL (commands other
 * than ADD). */
char *
cni_response_result_json(const struct cni_result *result,
                         enum cni_version version)
{
    return dump_and_free(json_pack("{s:o}", "result",
                                   result ? result_to_jansson(result, version)
                                          : json_null()));
}

/* The agent's error response: {"error": {"code", "msg"[, "details"]}}. */
char *
cni_response_error_json(const struct cni_error *error)
{
    json_t *e = lb_json_obj();
    json_object_set_new(e, "code", lb_json_int(error->code));
    json_object_set_new(e, "msg", jstr_lossy(error->msg));
    if (error->details) {
        json_object_set_new(e, "details", jstr_lossy(error->details));
    }
    return dump_and_free(json_pack("{s:o}", "error", e));
}

/* Parses the agent's response in 'text' ('len' bytes).  Returns the error
 * the agent reported, or one with code CNI_ERR_AGENT if the response is
 * malformed.  Otherwise returns NULL and stores the result in '*resultp',
 * NULL if the agent sent none. */
struct cni_error *
cni_response_parse(const char *text, size_t len, struct cni_result **resultp)
{
    struct cni_error *error = NULL;
    json_error_t jerror;

    *resultp = NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerror);
    if (!root) {
        return cni_error_createf(CNI_ERR_AGENT, "agent response is not valid "
                                 "JSON: %s (line %d, column %d)", jerror.text,
                                 jerror.line, jerror.column);
    }

    const json_t *e = json_object_get(root, "error");
    const json_t *r = json_object_get(root, "result");
    if (!json_is_object(root) || (!e && !r)) {
        error = cni_error_createf(CNI_ERR_AGENT, "agent response has neither "
                                  "\"result\" nor \"error\"");
    } else if (e) {
        const json_t *code = json_object_get(e, "code");
        const json_t *msg = json_object_get(e, "msg");
        const json_t *details = json_object_get(e, "details");
        if (!json_is_integer(code) || json_integer_value(code) <= 0
            || json_integer_value(code) > INT_MAX || !json_is_string(msg)
            || !json_string_length(msg)
            || (details && !json_is_null(details)
                && !json_is_string(details))) {
            error = cni_error_createf(CNI_ERR_AGENT, "agent response has a "
                                      "malformed \"error\"");
        } else {
            error = cni_error_create(json_integer_value(code),
                                     json_string_value(msg),
                                     json_is_string(details)
                                     ? json_string_value(details) : NULL);
        }
    } else if (!json_is_null(r)) {
        error = result_from_jansson(r, "agent result", CNI_ERR_AGENT,
                                    resultp);
    }
    json_decref(root);
    return error;
}
