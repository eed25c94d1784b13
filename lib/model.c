/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "model.h"

#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "hash.h"
#include "ipam.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

void
lb_model_init(struct lb_model *model)
{
    hmap_init(&model->chassis);
    hmap_init(&model->switches);
    hmap_init(&model->ports);
}

void
lb_model_clear(struct lb_model *model)
{
    struct lb_port *port;
    HMAP_FOR_EACH_SAFE (port, node, &model->ports) {
        lb_model_remove_port(model, port);
    }
    struct lb_switch *sw;
    HMAP_FOR_EACH_SAFE (sw, node, &model->switches) {
        lb_model_remove_switch(model, sw);
    }
    struct lb_chassis *ch;
    HMAP_FOR_EACH_SAFE (ch, node, &model->chassis) {
        lb_model_remove_chassis(model, ch);
    }
}

void
lb_model_swap(struct lb_model *a, struct lb_model *b)
{
    hmap_swap(&a->chassis, &b->chassis);
    hmap_swap(&a->switches, &b->switches);
    hmap_swap(&a->ports, &b->ports);
}

void
lb_model_destroy(struct lb_model *model)
{
    if (model) {
        lb_model_clear(model);
        hmap_destroy(&model->chassis);
        hmap_destroy(&model->switches);
        hmap_destroy(&model->ports);
    }
}

/* Adds 'delta' to the counts of the chassis 'port' is bound to in its
 * switch's 'chassis_refs'. */
static void
port_ref_chassis(const struct lb_port *port, int delta)
{
    if (!port->sw) {
        return;
    }
    const char *chassis[2] = { port->chassis, port->additional_chassis };
    for (size_t i = 0; i < 2; i++) {
        if (chassis[i]) {
            struct simap *refs = &port->sw->chassis_refs;
            unsigned int n = simap_get(refs, chassis[i]) + delta;
            if (n) {
                simap_put(refs, chassis[i], n);
            } else {
                simap_find_and_delete(refs, chassis[i]);
            }
        }
    }
}

struct lb_chassis *
lb_model_add_chassis(struct lb_model *model, const char *name,
                     ovs_be32 tunnel_ip)
{
    struct lb_chassis *ch = xzalloc(sizeof *ch);
    ch->name = xstrdup(name);
    ch->tunnel_ip = tunnel_ip;
    hmap_insert(&model->chassis, &ch->node, hash_string(name, 0));
    return ch;
}

struct lb_switch *
lb_model_add_switch(struct lb_model *model, const char *name,
                    uint32_t tunnel_key)
{
    struct lb_switch *sw = xzalloc(sizeof *sw);
    sw->name = xstrdup(name);
    sw->tunnel_key = tunnel_key;
    sw->mtu = 1400;
    simap_init(&sw->chassis_refs);
    hmap_insert(&model->switches, &sw->node, hash_string(name, 0));

    /* Ports may name a switch before it exists. */
    struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        if (!port->sw && !strcmp(port->switch_name, name)) {
            port->sw = sw;
            port_ref_chassis(port, 1);
        }
    }
    return sw;
}

struct lb_port *
lb_model_add_port(struct lb_model *model, const char *name, uint32_t key,
                  const char *switch_name)
{
    struct lb_port *port = xzalloc(sizeof *port);
    port->name = xstrdup(name);
    port->key = key;
    port->switch_name = xstrdup(switch_name);
    port->sw = lb_model_find_switch(model, switch_name);
    port->mirror = true;
    hmap_insert(&model->ports, &port->node, hash_string(name, 0));
    return port;
}

void
lb_model_remove_chassis(struct lb_model *model, struct lb_chassis *ch)
{
    if (ch) {
        hmap_remove(&model->chassis, &ch->node);
        free(ch->name);
        free(ch);
    }
}

void
lb_model_remove_switch(struct lb_model *model, struct lb_switch *sw)
{
    if (sw) {
        struct lb_port *port;
        HMAP_FOR_EACH (port, node, &model->ports) {
            if (port->sw == sw) {
                port->sw = NULL;
            }
        }
        hmap_remove(&model->switches, &sw->node);
        simap_destroy(&sw->chassis_refs);
        free(sw->physnet);
        free(sw->name);
        free(sw);
    }
}

void
lb_model_remove_port(struct lb_model *model, struct lb_port *port)
{
    if (port) {
        port_ref_chassis(port, -1);
        hmap_remove(&model->ports, &port->node);
        free(port->name);
        free(port->switch_name);
        free(port->chassis);
        free(port->additional_chassis);
        free(port);
    }
}

struct lb_chassis *
lb_model_find_chassis(const struct lb_model *model, const char *name)
{
    struct lb_chassis *ch;
    HMAP_FOR_EACH_WITH_HASH (ch, node, hash_string(name, 0),
                             &model->chassis) {
        if (!strcmp(ch->name, name)) {
            return ch;
        }
    }
    return NULL;
}

struct lb_switch *
lb_model_find_switch(const struct lb_model *model, const char *name)
{
    struct lb_switch *sw;
    HMAP_FOR_EACH_WITH_HASH (sw, node, hash_string(name, 0),
                             &model->switches) {
        if (!strcmp(sw->name, name)) {
            return sw;
        }
    }
    return NULL;
}

struct lb_port *
lb_model_find_port(const struct lb_model *model, const char *name)
{
    struct lb_port *port;
    HMAP_FOR_EACH_WITH_HASH (port, node, hash_string(name, 0),
                             &model->ports) {
        if (!strcmp(port->name, name)) {
            return port;
        }
    }
    return NULL;
}

/* Linear: used on packet-in, whose rate the datapath's controller meter
 * bounds, not on the flow computation path. */
struct lb_port *
lb_model_find_port_by_key(const struct lb_model *model, uint32_t key)
{
    struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        if (port->key == key) {
            return port;
        }
    }
    return NULL;
}

static void
replace_string(char **dst, const char *src)
{
    if (*dst != src) {
        char *copy = nullable_xstrdup(src);
        free(*dst);
        *dst = copy;
    }
}

/* Makes 'sw' a provider network on 'physnet', VLAN 'vlan' (0: untagged), or
 * an overlay switch again if 'physnet' is NULL. */
void
lb_switch_set_provider(struct lb_switch *sw, const char *physnet,
                       uint16_t vlan)
{
    replace_string(&sw->physnet, physnet);
    sw->vlan = physnet ? vlan : 0;
}

void
lb_port_set_chassis(struct lb_port *port, const char *main,
                    const char *additional)
{
    port_ref_chassis(port, -1);
    replace_string(&port->chassis, main);
    replace_string(&port->additional_chassis,
                   additional && main && !strcmp(main, additional)
                   ? NULL : additional);
    port_ref_chassis(port, 1);
}

bool
lb_port_bound_to(const struct lb_port *port, const char *chassis)
{
    return ((port->chassis && !strcmp(port->chassis, chassis))
            || (port->additional_chassis
                && !strcmp(port->additional_chassis, chassis)));
}

bool
lb_port_is_migrating(const struct lb_port *port)
{
    return port->chassis && port->additional_chassis;
}

bool
lb_port_equal(const struct lb_port *a, const struct lb_port *b)
{
    return (!strcmp(a->name, b->name)
            && a->key == b->key
            && eth_addr_equals(a->mac, b->mac)
            && a->n_ipv4 == b->n_ipv4
            && !memcmp(a->ipv4, b->ipv4, a->n_ipv4 * sizeof a->ipv4[0])
            && a->n_ipv6 == b->n_ipv6
            && !memcmp(a->ipv6, b->ipv6, a->n_ipv6 * sizeof a->ipv6[0])
            && !strcmp(a->switch_name, b->switch_name)
            && nullable_string_is_equal(a->chassis, b->chassis)
            && nullable_string_is_equal(a->additional_chassis,
                                        b->additional_chassis)
            && a->additional_blocked == b->additional_blocked
            && a->mirror == b->mirror);
}

/* Compares the addressing and the provider network of two switches (not
 * their ports). */
bool
lb_switch_equal(const struct lb_switch *a, const struct lb_switch *b)
{
    return (!strcmp(a->name, b->name)
            && a->tunnel_key == b->tunnel_key
            && a->subnet == b->subnet && a->prefix_len == b->prefix_len
            && a->gateway == b->gateway
            && a->has_prefix6 == b->has_prefix6
            && ipv6_addr_equals(&a->prefix6, &b->prefix6)
            && ipv6_addr_equals(&a->gateway6, &b->gateway6)
            && a->mtu == b->mtu
            && nullable_string_is_equal(a->physnet, b->physnet)
            && a->vlan == b->vlan);
}

/* Appends 'port''s addresses, both families, comma-separated. */
void
lb_port_format_ips(const struct lb_port *port, struct ds *out)
{
    for (size_t i = 0; i < port->n_ipv4; i++) {
        ds_put_format(out, "%s"IP_FMT, i ? "," : "", IP_ARGS(port->ipv4[i]));
    }
    for (size_t i = 0; i < port->n_ipv6; i++) {
        if (i || port->n_ipv4) {
            ds_put_char(out, ',');
        }
        ipv6_format_addr(&port->ipv6[i], out);
    }
}

/* JSON model files: the agent's standalone mode and the tests feed the
 * pipeline from these.  Shape:
 *
 *   {"chassis":  [{"name": "node1", "ip": "172.31.0.1"}, ...],
 *    "switches": [{"name": "pods", "key": 1, "subnet": "10.0.0.0/24",
 *                  "gateway": "10.0.0.1", "ipv6_prefix": "fd00::/64",
 *                  "gateway6": "fd00::1", "mtu": 1400,
 *                  "provider": {"physnet": "physnet1", "vlan": 100}}, ...],
 *    "ports":    [{"name": "vm1", "key": 5, "switch": "pods",
 *                  "mac": "0a:58:0a:00:00:05",
 *                  "ips": ["10.0.0.5", "fd00::858:aff:fe00:5"],
 *                  "chassis": "node1", "additional_chassis": "node2",
 *                  "additional_blocked": true, "mirror": true}, ...]}
 */

static const char *
json_member_string(const json_t *obj, const char *key, bool required,
                   const char *what, char **error)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            *error = xasprintf("%s: missing \"%s\"", what, key);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        *error = xasprintf("%s: \"%s\" must be a string", what, key);
        return NULL;
    }
    return json_string_value(v);
}

static bool
json_member_uint(const json_t *obj, const char *key, uint64_t min,
                 uint64_t max, uint64_t *valuep, const char *what,
                 char **error)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return false;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || json_integer_value(v) < min || json_integer_value(v) > max) {
        *error = xasprintf("%s: \"%s\" must be an integer in [%"PRIu64
                           ", %"PRIu64"]", what, key, min, max);
        return false;
    }
    *valuep = json_integer_value(v);
    return true;
}

static char *
parse_chassis(const json_t *j, struct lb_model *model)
{
    char *error = NULL;
    const char *name = json_member_string(j, "name", true, "chassis",
                                          &error);
    const char *ip = name ? json_member_string(j, "ip", true, name, &error)
                          : NULL;
    if (!ip) {
        return error;
    }
    ovs_be32 tunnel_ip;
    if (!ip_parse(ip, &tunnel_ip)) {
        return xasprintf("chassis %s: bad IPv4 address \"%s\"", name, ip);
    }
    if (lb_model_find_chassis(model, name)) {
        return xasprintf("chassis %s: duplicate", name);
    }
    lb_model_add_chassis(model, name, tunnel_ip);
    return NULL;
}

static char *
parse_switch(const json_t *j, struct lb_model *model)
{
    char *error = NULL;
    const char *name = json_member_string(j, "name", true, "switch", &error);
    if (!name) {
        return error;
    }
    uint64_t key;
    if (!json_member_uint(j, "key", 1, LB_SWITCH_KEY_MAX, &key, name,
                          &error)) {
        return error ? error : xasprintf("switch %s: missing \"key\"", name);
    }
    if (lb_model_find_switch(model, name)) {
        return xasprintf("switch %s: duplicate", name);
    }

    const char *subnet = json_member_string(j, "subnet", false, name, &error);
    const char *gateway = json_member_string(j, "gateway", false, name,
                                             &error);
    if (error) {
        return error;
    }
    ovs_be32 net = 0, gw = 0;
    unsigned int plen = 0;
    if (subnet) {
        error = ip_parse_cidr(subnet, &net, &plen);
        if (error) {
            char *e = xasprintf("switch %s: %s", name, error);
            free(error);
            return e;
        }
    }
    if (gateway && !ip_parse(gateway, &gw)) {
        return xasprintf("switch %s: bad gateway \"%s\"", name, gateway);
    }
    const char *prefix6 = json_member_string(j, "ipv6_prefix", false, name,
                                             &error);
    const char *gateway6 = json_member_string(j, "gateway6", false, name,
                                              &error);
    if (error) {
        return error;
    }
    struct lb_ipam_prefix6 p6;
    if (prefix6) {
        error = lb_ipam_prefix6_parse(prefix6, gateway6, &p6);
        if (error) {
            char *e = xasprintf("switch %s: %s", name, error);
            free(error);
            return e;
        }
    } else if (gateway6) {
        return xasprintf("switch %s: \"gateway6\" without \"ipv6_prefix\"",
                         name);
    }
    uint64_t mtu = 1400;
    json_member_uint(j, "mtu", 576, 9000, &mtu, name, &error);
    if (error) {
        return error;
    }

    const char *physnet = NULL;
    uint64_t vlan = 0;
    const json_t *provider = json_object_get(j, "provider");
    if (provider) {
        if (!json_is_object(provider)) {
            return xasprintf("switch %s: \"provider\" must be an object",
                             name);
        }
        physnet = json_member_string(provider, "physnet", true, name,
                                     &error);
        if (physnet) {
            json_member_uint(provider, "vlan", 0, 4094, &vlan, name, &error);
        }
        if (error) {
            return error;
        }
    }

    struct lb_switch *sw = lb_model_add_switch(model, name, key);
    sw->subnet = net;
    sw->prefix_len = plen;
    sw->gateway = gw;
    if (prefix6) {
        sw->has_prefix6 = true;
        sw->prefix6 = p6.prefix;
        sw->gateway6 = p6.gateway;
    }
    sw->mtu = mtu;
    lb_switch_set_provider(sw, physnet, vlan);
    return NULL;
}

static char *
parse_port(const json_t *j, struct lb_model *model)
{
    char *error = NULL;
    const char *name = json_member_string(j, "name", true, "port", &error);
    if (!name) {
        return error;
    }
    uint64_t key;
    if (!json_member_uint(j, "key", 1, LB_PORT_KEY_MAX, &key, name,
                          &error)) {
        return error ? error : xasprintf("port %s: missing \"key\"", name);
    }
    const char *sw = json_member_string(j, "switch", true, name, &error);
    const char *mac = sw ? json_member_string(j, "mac", true, name, &error)
                         : NULL;
    const char *chassis = mac ? json_member_string(j, "chassis", false, name,
                                                   &error) : NULL;
    const char *additional = mac ? json_member_string(
        j, "additional_chassis", false, name, &error) : NULL;
    if (error) {
        return error;
    }
    if (lb_model_find_port(model, name)) {
        return xasprintf("port %s: duplicate", name);
    }

    struct eth_addr ea;
    if (!eth_addr_from_string(mac, &ea) || eth_addr_is_multicast(ea)
        || eth_addr_is_zero(ea)) {
        return xasprintf("port %s: bad unicast MAC \"%s\"", name, mac);
    }

    const json_t *ips = json_object_get(j, "ips");
    if (ips && (!json_is_array(ips) || json_array_size(ips) > LB_MAX_IPS)) {
        return xasprintf("port %s: \"ips\" must be an array of at most %d "
                         "addresses", name, LB_MAX_IPS);
    }
    ovs_be32 addrs[LB_MAX_IPS];
    struct in6_addr addrs6[LB_MAX_IPS];
    size_t n_addrs = 0, n_addrs6 = 0;
    size_t i;
    const json_t *ip;
    json_array_foreach (ips, i, ip) {
        const char *s = json_is_string(ip) ? json_string_value(ip) : "";
        if (ip_parse(s, &addrs[n_addrs])) {
            n_addrs++;
        } else if (ipv6_parse(s, &addrs6[n_addrs6])
                   && !ipv6_addr_is_multicast(&addrs6[n_addrs6])
                   && !ipv6_is_zero(&addrs6[n_addrs6])) {
            n_addrs6++;
        } else {
            return xasprintf("port %s: bad address in \"ips\"", name);
        }
    }

    struct lb_port *port = lb_model_add_port(model, name, key, sw);
    port->mac = ea;
    memcpy(port->ipv4, addrs, n_addrs * sizeof addrs[0]);
    port->n_ipv4 = n_addrs;
    memcpy(port->ipv6, addrs6, n_addrs6 * sizeof addrs6[0]);
    port->n_ipv6 = n_addrs6;
    lb_port_set_chassis(port, chassis, additional);
    port->additional_blocked = json_is_true(
        json_object_get(j, "additional_blocked"));
    const json_t *mirror = json_object_get(j, "mirror");
    port->mirror = !mirror || json_is_true(mirror);
    return NULL;
}

static char *
parse_array(const json_t *root, const char *key, struct lb_model *model,
            char *(*parse)(const json_t *, struct lb_model *))
{
    const json_t *array = json_object_get(root, key);
    if (!array) {
        return NULL;
    }
    if (!json_is_array(array)) {
        return xasprintf("\"%s\" must be an array", key);
    }
    size_t i;
    const json_t *elem;
    json_array_foreach (array, i, elem) {
        if (!json_is_object(elem)) {
            return xasprintf("\"%s\"[%zu] must be an object", key, i);
        }
        char *error = parse(elem, model);
        if (error) {
            return error;
        }
    }
    return NULL;
}

static char *
lb_model_from_json(const json_t *root, struct lb_model *model)
{
    if (!json_is_object(root)) {
        return xstrdup("model must be a JSON object");
    }
    char *error = parse_array(root, "chassis", model, parse_chassis);
    if (!error) {
        error = parse_array(root, "switches", model, parse_switch);
    }
    if (!error) {
        error = parse_array(root, "ports", model, parse_port);
    }
    if (!error) {
        struct lb_port *port;
        HMAP_FOR_EACH (port, node, &model->ports) {
            if (!lb_model_find_switch(model, port->switch_name)) {
                error = xasprintf("port %s: unknown switch \"%s\"",
                                  port->name, port->switch_name);
                break;
            }
        }
    }
    return error;
}

/* Parses 'string' into 'model', which must be empty.  On error, returns a
 * malloc()ed message and leaves 'model' empty. */
char *
lb_model_from_json_string(const char *string, struct lb_model *model)
{
    json_error_t jerr;
    json_t *root = json_loads(string, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return xasprintf("line %d: %s", jerr.line, jerr.text);
    }
    char *error = lb_model_from_json(root, model);
    json_decref(root);
    if (error) {
        lb_model_clear(model);
    }
    return error;
}

char *
lb_model_from_json_file(const char *file_name, struct lb_model *model)
{
    json_error_t jerr;
    json_t *root = json_load_file(file_name, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return xasprintf("%s:%d: %s", file_name, jerr.line, jerr.text);
    }
    char *error = lb_model_from_json(root, model);
    json_decref(root);
    if (error) {
        char *e = xasprintf("%s: %s", file_name, error);
        free(error);
        lb_model_clear(model);
        return e;
    }
    return NULL;
}

static int
compare_port_names(const void *a_, const void *b_)
{
    const struct lb_port *const *a = a_;
    const struct lb_port *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* Formats the ports of 'model', sorted by name, one a line. */
void
lb_model_format(const struct lb_model *model, struct ds *out)
{
    size_t n = hmap_count(&model->ports);
    const struct lb_port **ports = xmalloc((n ? n : 1) * sizeof *ports);
    size_t i = 0;
    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        ports[i++] = port;
    }
    qsort(ports, n, sizeof *ports, compare_port_names);
    for (i = 0; i < n; i++) {
        port = ports[i];
        ds_put_format(out, "%s key=%"PRIu32" switch=%s", port->name,
                      port->key, port->switch_name);
        if (port->sw && port->sw->physnet) {
            /* A provider network's port: which physical network and VLAN
             * it is on (overlay ports show neither). */
            ds_put_format(out, " network=%s vlan=", port->sw->physnet);
            if (port->sw->vlan) {
                ds_put_format(out, "%"PRIu16, port->sw->vlan);
            } else {
                ds_put_cstr(out, "untagged");
            }
        }
        ds_put_format(out, " mac="ETH_ADDR_FMT, ETH_ADDR_ARGS(port->mac));
        if (port->n_ipv4 || port->n_ipv6) {
            ds_put_cstr(out, " ips=");
            lb_port_format_ips(port, out);
        }
        ds_put_format(out, " chassis=%s", port->chassis ? port->chassis
                                                        : "(unbound)");
        if (port->additional_chassis) {
            ds_put_format(out, " additional=%s%s%s",
                          port->additional_chassis,
                          port->additional_blocked ? " (blocked)" : "",
                          port->mirror ? " mirror" : "");
        }
        ds_put_char(out, '\n');
    }
    free(ports);
}
