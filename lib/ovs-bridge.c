/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ovs-bridge.h"

#include <string.h>
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "pipeline-gateway.h"
#include "smap.h"
#include "sset.h"
#include "util.h"
#include "vswitch-idl.h"

VLOG_DEFINE_THIS_MODULE(ovs_bridge);

#define EXTID_CHASSIS "livebind-chassis"
#define EXTID_PHYSNET "livebind-physnet"

struct ovs_bridge {
    char *bridge_name;
    char *datapath_type;
    char *chassis;
    struct ovsdb_idl_loop idl_loop;
    unsigned int idl_seqno;     /* IDL seqno the maps were built at. */

    struct simap iface_ofports;  /* iface-id -> ofport. */
    struct smap iface_names;     /* iface-id -> interface name. */
    struct simap tunnel_ofports; /* chassis -> ofport. */
    struct simap physnet_ofports; /* physnet -> patch port's ofport. */
    struct smap bridge_mappings;  /* physnet -> bridge. */
    char *gateway_port;           /* NULL: none. */
    uint64_t seqno;

    /* What changed in the maps since ovs_bridge_take_changed_ifaces() last
     * looked: the iface-ids whose ofport or interface name did, and whether
     * anything else (a tunnel, a patch port, the gateway port) did too. */
    struct sset changed_ifaces;
    bool changed_other;

    /* Pod interface changes not yet committed: name -> "struct smap *" of
     * external_ids to add, or NULL to delete. */
    struct shash pending_ifaces;
};

struct ovs_bridge *
ovs_bridge_create(const struct ovs_bridge_config *cfg)
{
    struct ovs_bridge *ob = xzalloc(sizeof *ob);
    ob->bridge_name = xstrdup(cfg->bridge);
    ob->datapath_type = xstrdup(cfg->datapath_type);
    ob->chassis = xstrdup(cfg->chassis);
    ob->idl_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(
        ovsdb_idl_create(cfg->db_remote, &ovsrec_idl_class, true, true));
    ovsdb_idl_set_leader_only(ob->idl_loop.idl, false);
    simap_init(&ob->iface_ofports);
    smap_init(&ob->iface_names);
    simap_init(&ob->tunnel_ofports);
    simap_init(&ob->physnet_ofports);
    smap_init(&ob->bridge_mappings);
    if (cfg->bridge_mappings) {
        smap_clone(&ob->bridge_mappings, cfg->bridge_mappings);
    }
    ob->gateway_port = nullable_xstrdup(cfg->gateway_port);
    shash_init(&ob->pending_ifaces);
    ob->seqno = 1;
    sset_init(&ob->changed_ifaces);
    ob->changed_other = true;   /* Nothing seen yet. */
    return ob;
}

static void
free_pending(struct shash *pending)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, pending) {
        struct smap *ids = node->data;
        if (ids) {
            smap_destroy(ids);
            free(ids);
        }
    }
    shash_clear(pending);
}

void
ovs_bridge_destroy(struct ovs_bridge *ob)
{
    if (ob) {
        ovsdb_idl_loop_destroy(&ob->idl_loop);
        simap_destroy(&ob->iface_ofports);
        smap_destroy(&ob->iface_names);
        simap_destroy(&ob->tunnel_ofports);
        simap_destroy(&ob->physnet_ofports);
        smap_destroy(&ob->bridge_mappings);
        free_pending(&ob->pending_ifaces);
        shash_destroy(&ob->pending_ifaces);
        sset_destroy(&ob->changed_ifaces);
        free(ob->bridge_name);
        free(ob->gateway_port);
        free(ob->datapath_type);
        free(ob->chassis);
        free(ob);
    }
}

void
ovs_bridge_tunnel_name(uint32_t tunnel_ip_be, char name[16])
{
    /* Stable and short (an interface name has at most 15 characters):
     * the remote IP in hex. */
    snprintf(name, 16, "gnv-%08"PRIx32, ntohl(tunnel_ip_be));
}

static const struct ovsrec_bridge *
find_bridge(const struct ovs_bridge *ob)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, ob->idl_loop.idl) {
        if (!strcmp(br->name, ob->bridge_name)) {
            return br;
        }
    }
    return NULL;
}

static const struct ovsrec_port *
find_port(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        if (!strcmp(br->ports[i]->name, name)) {
            return br->ports[i];
        }
    }
    return NULL;
}

static const struct ovsrec_port *
add_port(struct ovsdb_idl_txn *txn, const struct ovsrec_bridge *br,
         const char *name, const char *type)
{
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, name);
    ovsrec_interface_set_type(iface, type);

    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, name);
    ovsrec_port_set_interfaces(port, &iface, 1);
    ovsrec_bridge_update_ports_addvalue(br, port);
    return port;
}

static void
del_port(const struct ovsrec_bridge *br, const struct ovsrec_port *port)
{
    ovsrec_bridge_update_ports_delvalue(br, port);
    for (size_t i = 0; i < port->n_interfaces; i++) {
        ovsrec_interface_delete(port->interfaces[i]);
    }
    ovsrec_port_delete(port);
}

static const struct ovsrec_bridge *
ensure_bridge(struct ovs_bridge *ob, struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *cfg
        = ovsrec_open_vswitch_first(ob->idl_loop.idl);
    if (!cfg) {
        cfg = ovsrec_open_vswitch_insert(txn);
    }

    const struct ovsrec_bridge *br = find_bridge(ob);
    if (!br) {
        VLOG_INFO("creating bridge %s (datapath type %s)", ob->bridge_name,
                  ob->datapath_type);
        struct ovsrec_bridge *nb = ovsrec_bridge_insert(txn);
        ovsrec_bridge_set_name(nb, ob->bridge_name);
        ovsrec_open_vswitch_update_bridges_addvalue(cfg, nb);
        br = nb;
        add_port(txn, br, ob->bridge_name, "internal");
    }

    if (strcmp(br->datapath_type, ob->datapath_type)) {
        ovsrec_bridge_set_datapath_type(br, ob->datapath_type);
    }
    /* Secure: with no controller flows the bridge drops, never floods. */
    if (!br->fail_mode || strcmp(br->fail_mode, "secure")) {
        ovsrec_bridge_set_fail_mode(br, "secure");
    }
    static const char *const protocols[] = {
        "OpenFlow13", "OpenFlow14", "OpenFlow15",
    };
    if (br->n_protocols != ARRAY_SIZE(protocols)) {
        ovsrec_bridge_set_protocols(br, (const char **) protocols,
                                    ARRAY_SIZE(protocols));
    }
    if (!smap_get_bool(&br->other_config, "disable-in-band", false)) {
        ovsrec_bridge_update_other_config_setkey(br, "disable-in-band",
                                                 "true");
    }
    return br;
}

static void
ensure_tunnels(struct ovs_bridge *ob, const struct ovsrec_bridge *br,
               const struct lb_model *model, struct ovsdb_idl_txn *txn)
{
    struct sset wanted = SSET_INITIALIZER(&wanted);
    const struct lb_chassis *ch;

    HMAP_FOR_EACH (ch, node, &model->chassis) {
        if (!strcmp(ch->name, ob->chassis) || !ch->tunnel_ip) {
            continue;
        }
        char name[16];
        ovs_bridge_tunnel_name(ch->tunnel_ip, name);
        sset_add(&wanted, name);

        char remote_ip[INET_ADDRSTRLEN];
        snprintf(remote_ip, sizeof remote_ip, IP_FMT,
                 IP_ARGS(ch->tunnel_ip));

        const struct ovsrec_port *port = find_port(br, name);
        if (!port) {
            VLOG_INFO("adding tunnel %s to chassis %s (%s)", name, ch->name,
                      remote_ip);
            port = add_port(txn, br, name, "geneve");
        }
        if (port->n_interfaces != 1) {
            continue;
        }
        const struct ovsrec_interface *iface = port->interfaces[0];
        const char *id = smap_get(&iface->external_ids, EXTID_CHASSIS);
        if (!id || strcmp(id, ch->name)) {
            ovsrec_interface_update_external_ids_setkey(iface, EXTID_CHASSIS,
                                                        ch->name);
        }
        const char *rip = smap_get(&iface->options, "remote_ip");
        const char *key = smap_get(&iface->options, "key");
        if (strcmp(iface->type, "geneve") || !rip || strcmp(rip, remote_ip)
            || !key || strcmp(key, "flow")) {
            struct smap options = SMAP_INITIALIZER(&options);
            smap_add(&options, "remote_ip", remote_ip);
            smap_add(&options, "key", "flow");
            ovsrec_interface_set_type(iface, "geneve");
            ovsrec_interface_set_options(iface, &options);
            smap_destroy(&options);
        }
    }

    /* Tunnels to chassis that left the model. */
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        if (port->n_interfaces == 1
            && smap_get(&port->interfaces[0]->external_ids, EXTID_CHASSIS)
            && !sset_contains(&wanted, port->name)) {
            VLOG_INFO("removing tunnel %s", port->name);
            del_port(br, port);
        }
    }
    sset_destroy(&wanted);
}

/* Parses "physnet:bridge[,physnet:bridge...]" into 'mappings'. */
char *
ovs_bridge_parse_mappings(const char *s, struct smap *mappings)
{
    char *copy = xstrdup(s);
    char *save = NULL;
    char *error = NULL;

    for (char *tok = strtok_r(copy, ", ", &save); tok && !error;
         tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon || colon == tok || !colon[1] || strchr(colon + 1, ':')) {
            error = xasprintf("bridge mapping \"%s\" is not "
                              "PHYSNET:BRIDGE", tok);
        } else {
            *colon = '\0';
            if (smap_get(mappings, tok)) {
                error = xasprintf("physical network \"%s\" mapped twice",
                                  tok);
            } else {
                smap_add(mappings, tok, colon + 1);
            }
        }
    }
    free(copy);
    if (error) {
        smap_clear(mappings);
    }
    return error;
}

static const struct ovsrec_bridge *
find_bridge_named(const struct ovs_bridge *ob, const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, ob->idl_loop.idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

/* Makes the port 'name' on 'br' a patch port to 'peer', tagged with
 * 'physnet'. */
static void
ensure_patch_port(const struct ovsrec_bridge *br, const char *name,
                  const char *peer, const char *physnet,
                  struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_port *port = find_port(br, name);
    if (!port) {
        VLOG_INFO("adding patch port %s on %s for physical network %s",
                  name, br->name, physnet);
        port = add_port(txn, br, name, "patch");
    }
    if (port->n_interfaces != 1) {
        return;
    }
    const struct ovsrec_interface *iface = port->interfaces[0];
    const char *id = smap_get(&iface->external_ids, EXTID_PHYSNET);
    if (!id || strcmp(id, physnet)) {
        ovsrec_interface_update_external_ids_setkey(iface, EXTID_PHYSNET,
                                                    physnet);
    }
    const char *p = smap_get(&iface->options, "peer");
    if (strcmp(iface->type, "patch") || !p || strcmp(p, peer)) {
        struct smap options = SMAP_INITIALIZER(&options);
        smap_add(&options, "peer", peer);
        ovsrec_interface_set_type(iface, "patch");
        ovsrec_interface_set_options(iface, &options);
        smap_destroy(&options);
    }
}

/* One patch port pair between the integration bridge and each mapped
 * physical network's bridge, as ovn-controller makes for localnet ports.
 * The physical bridge, with the node's uplink, is the administrator's: a
 * missing one is waited for, never created.  Pairs of mappings that are
 * gone are removed. */
static void
ensure_patch_ports(struct ovs_bridge *ob, const struct ovsrec_bridge *br,
                   struct ovsdb_idl_txn *txn)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 60);
    struct sset wanted = SSET_INITIALIZER(&wanted);
    const struct smap_node *m;

    SMAP_FOR_EACH (m, &ob->bridge_mappings) {
        const struct ovsrec_bridge *phys = find_bridge_named(ob, m->value);
        if (!phys) {
            VLOG_WARN_RL(&rl, "bridge %s of physical network %s does not "
                         "exist", m->value, m->key);
            continue;
        }
        char *int_side = xasprintf("patch-%s-to-%s", br->name, m->value);
        char *phys_side = xasprintf("patch-%s-to-%s", m->value, br->name);
        ensure_patch_port(br, int_side, phys_side, m->key, txn);
        ensure_patch_port(phys, phys_side, int_side, m->key, txn);
        sset_add(&wanted, int_side);
        sset_add(&wanted, phys_side);
        free(int_side);
        free(phys_side);
    }

    const struct ovsrec_bridge *b;
    OVSREC_BRIDGE_FOR_EACH (b, ob->idl_loop.idl) {
        for (size_t i = 0; i < b->n_ports; i++) {
            const struct ovsrec_port *port = b->ports[i];
            if (port->n_interfaces == 1
                && smap_get(&port->interfaces[0]->external_ids,
                            EXTID_PHYSNET)
                && !sset_contains(&wanted, port->name)) {
                VLOG_INFO("removing patch port %s from %s", port->name,
                          b->name);
                del_port(b, port);
            }
        }
    }
    sset_destroy(&wanted);
}

/* The gateway port: internal, its host end with the gateway's host MAC
 * (OVS sets it, again after a restart), and the iface-id that puts its
 * ofport in the interface map. */
static void
ensure_gateway_port(struct ovs_bridge *ob, const struct ovsrec_bridge *br,
                    struct ovsdb_idl_txn *txn)
{
    if (!ob->gateway_port) {
        return;
    }
    const struct ovsrec_port *port = find_port(br, ob->gateway_port);
    if (!port) {
        VLOG_INFO("adding gateway port %s", ob->gateway_port);
        port = add_port(txn, br, ob->gateway_port, "internal");
    }
    if (port->n_interfaces != 1) {
        return;
    }
    const struct ovsrec_interface *iface = port->interfaces[0];
    const char *id = smap_get(&iface->external_ids, "iface-id");
    if (!id || strcmp(id, LB_GATEWAY_IFACE_ID)) {
        ovsrec_interface_update_external_ids_setkey(iface, "iface-id",
                                                    LB_GATEWAY_IFACE_ID);
    }
    static const struct eth_addr host_mac = LB_GATEWAY_HOST_MAC_INIT;
    char mac[ETH_ADDR_STRLEN + 1];
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(host_mac));
    if (strcmp(iface->type, "internal")) {
        ovsrec_interface_set_type(iface, "internal");
    }
    if (!iface->mac || strcmp(iface->mac, mac)) {
        ovsrec_interface_set_mac(iface, mac);
    }
}

static void
apply_pending_ifaces(struct ovs_bridge *ob, const struct ovsrec_bridge *br,
                     struct ovsdb_idl_txn *txn)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &ob->pending_ifaces) {
        const struct smap *ids = node->data;
        const struct ovsrec_port *port = find_port(br, node->name);
        if (!ids) {
            if (port) {
                del_port(br, port);
            }
            continue;
        }
        if (!port) {
            port = add_port(txn, br, node->name, "");
        }
        for (size_t i = 0; i < port->n_interfaces; i++) {
            ovsrec_interface_set_external_ids(port->interfaces[i], ids);
        }
    }
    free_pending(&ob->pending_ifaces);
}

/* Adds to 'ob->changed_ifaces' the iface-ids whose ofport or interface
 * name differs between the current maps and 'ifaces' and 'names': those
 * that came, went or changed.  The gateway port's flows are not a pod's:
 * its change counts as another change ('ob->changed_other'). */
static void
note_changed_ifaces(struct ovs_bridge *ob, const struct simap *ifaces,
                    const struct smap *names)
{
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ifaces) {
        const struct simap_node *old = simap_find(&ob->iface_ofports,
                                                  sn->name);
        if (!old || old->data != sn->data
            || !nullable_string_is_equal(smap_get(names, sn->name),
                                         smap_get(&ob->iface_names,
                                                  sn->name))) {
            sset_add(&ob->changed_ifaces, sn->name);
        }
    }
    SIMAP_FOR_EACH (sn, &ob->iface_ofports) {
        if (!simap_contains(ifaces, sn->name)) {
            sset_add(&ob->changed_ifaces, sn->name);
        }
    }
    if (sset_contains(&ob->changed_ifaces, LB_GATEWAY_IFACE_ID)) {
        ob->changed_other = true;
    }
}

/* Rebuilds the ofport maps from the database; bumps 'seqno' if they
 * changed. */
static void
update_maps(struct ovs_bridge *ob)
{
    struct simap ifaces = SIMAP_INITIALIZER(&ifaces);
    struct smap names = SMAP_INITIALIZER(&names);
    struct simap tunnels = SIMAP_INITIALIZER(&tunnels);
    struct simap physnets = SIMAP_INITIALIZER(&physnets);
    const struct ovsrec_bridge *br = find_bridge(ob);

    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            if (!iface->n_ofport || iface->ofport[0] <= 0
                || iface->ofport[0] >= UINT16_MAX) {
                continue;
            }
            const char *id = smap_get(&iface->external_ids, "iface-id");
            const char *ch = smap_get(&iface->external_ids, EXTID_CHASSIS);
            const char *pn = smap_get(&iface->external_ids, EXTID_PHYSNET);
            if (id) {
                simap_put(&ifaces, id, iface->ofport[0]);
                smap_replace(&names, id, iface->name);
            } else if (ch) {
                simap_put(&tunnels, ch, iface->ofport[0]);
            } else if (pn) {
                simap_put(&physnets, pn, iface->ofport[0]);
            }
        }
    }

    bool ifaces_changed = (!simap_equal(&ifaces, &ob->iface_ofports)
                           || !smap_equal(&names, &ob->iface_names));
    bool other_changed = (!simap_equal(&tunnels, &ob->tunnel_ofports)
                          || !simap_equal(&physnets, &ob->physnet_ofports));
    if (ifaces_changed || other_changed) {
        if (ifaces_changed) {
            note_changed_ifaces(ob, &ifaces, &names);
        }
        ob->changed_other |= other_changed;
        simap_swap(&ifaces, &ob->iface_ofports);
        hmap_swap(&names.map, &ob->iface_names.map);
        simap_swap(&tunnels, &ob->tunnel_ofports);
        simap_swap(&physnets, &ob->physnet_ofports);
        ob->seqno++;
    }
    simap_destroy(&ifaces);
    smap_destroy(&names);
    simap_destroy(&tunnels);
    simap_destroy(&physnets);
}

void
ovs_bridge_run(struct ovs_bridge *ob, const struct lb_model *model)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_loop_run(&ob->idl_loop);
    struct ovsdb_idl *idl = ob->idl_loop.idl;

    if (txn && ovsdb_idl_has_ever_connected(idl)) {
        ovsdb_idl_txn_add_comment(txn, "livebind-agent: %s", ob->chassis);
        const struct ovsrec_bridge *br = ensure_bridge(ob, txn);
        if (model) {
            ensure_tunnels(ob, br, model, txn);
        }
        ensure_patch_ports(ob, br, txn);
        ensure_gateway_port(ob, br, txn);
        apply_pending_ifaces(ob, br, txn);
    }
    ovsdb_idl_loop_commit_and_wait(&ob->idl_loop);

    if (ovsdb_idl_get_seqno(idl) != ob->idl_seqno) {
        ob->idl_seqno = ovsdb_idl_get_seqno(idl);
        update_maps(ob);
    }
}

void
ovs_bridge_wait(struct ovs_bridge *ob)
{
    ovsdb_idl_wait(ob->idl_loop.idl);
}

uint64_t
ovs_bridge_seqno(const struct ovs_bridge *ob)
{
    return ob->seqno;
}

bool
ovs_bridge_take_changed_ifaces(struct ovs_bridge *ob, struct sset *ifaces)
{
    bool only_ifaces = !ob->changed_other;
    sset_swap(&ob->changed_ifaces, ifaces);
    sset_clear(&ob->changed_ifaces);
    ob->changed_other = false;
    return only_ifaces;
}

const struct simap *
ovs_bridge_iface_ofports(const struct ovs_bridge *ob)
{
    return &ob->iface_ofports;
}

const struct smap *
ovs_bridge_iface_names(const struct ovs_bridge *ob)
{
    return &ob->iface_names;
}

const struct simap *
ovs_bridge_tunnel_ofports(const struct ovs_bridge *ob)
{
    return &ob->tunnel_ofports;
}

const struct simap *
ovs_bridge_physnet_ofports(const struct ovs_bridge *ob)
{
    return &ob->physnet_ofports;
}

bool
ovs_bridge_is_connected(const struct ovs_bridge *ob)
{
    return ovsdb_idl_is_connected(ob->idl_loop.idl);
}

static void
set_pending(struct ovs_bridge *ob, const char *ifname, struct smap *ids)
{
    struct smap *old = shash_replace(&ob->pending_ifaces, ifname, ids);
    if (old) {
        smap_destroy(old);
        free(old);
    }
}

void
ovs_bridge_add_iface(struct ovs_bridge *ob, const char *ifname,
                     const struct smap *external_ids)
{
    struct smap *ids = xmalloc(sizeof *ids);
    smap_clone(ids, external_ids);
    set_pending(ob, ifname, ids);
}

void
ovs_bridge_del_iface(struct ovs_bridge *ob, const char *ifname)
{
    set_pending(ob, ifname, NULL);
}

/* Adds to 'ifaces' each pod interface on the bridge (one that a CNI ADD
 * attached), name -> container id. */
void
ovs_bridge_list_pod_ifaces(const struct ovs_bridge *ob, struct smap *ifaces)
{
    const struct ovsrec_bridge *br = find_bridge(ob);
    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const char *cid = smap_get(&port->interfaces[j]->external_ids,
                                       "cni-container-id");
            if (cid) {
                smap_replace(ifaces, port->interfaces[j]->name, cid);
            }
        }
    }
}

bool
ovs_bridge_has_iface(const struct ovs_bridge *ob, const char *ifname)
{
    const struct ovsrec_bridge *br = find_bridge(ob);
    return br && find_port(br, ifname);
}

/* True once the database's contents have been read and the bridge exists,
 * so that flows computed now take every existing interface into account. */
bool
ovs_bridge_is_ready(const struct ovs_bridge *ob)
{
    return (ovsdb_idl_has_ever_connected(ob->idl_loop.idl)
            && find_bridge(ob) != NULL);
}

void
ovs_bridge_format_status(const struct ovs_bridge *ob, struct ds *s)
{
    ds_put_format(s, "ovsdb: %s, bridge %s (%s)\n",
                  ovs_bridge_is_connected(ob) ? "connected" : "disconnected",
                  ob->bridge_name, ob->datapath_type);
    ds_put_format(s, "  local interfaces: %"PRIuSIZE", tunnels: %"PRIuSIZE
                  "\n", simap_count(&ob->iface_ofports),
                  simap_count(&ob->tunnel_ofports));
    const struct smap_node *m;
    SMAP_FOR_EACH (m, &ob->bridge_mappings) {
        unsigned int ofport = simap_get(&ob->physnet_ofports, m->key);
        ds_put_format(s, "  physical network %s: bridge %s, ", m->key,
                      m->value);
        if (ofport) {
            ds_put_format(s, "patch port ofport %u\n", ofport);
        } else {
            ds_put_cstr(s, "not connected\n");
        }
    }
}
