/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "egress-gateway-host.h"

#include <errno.h>
#include <net/if.h>
#include <linux/fib_rules.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <nftables/libnftables.h>
#include <string.h>
#include "egress-gateway.h"
#include "model.h"
#include "nl-prefix.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

static void
prefix_format(const struct lb_prefix *p, struct ds *s)
{
    if (p->family == AF_INET) {
        ds_put_format(s, IP_FMT, IP_ARGS(p->ip4));
    } else {
        ipv6_format_addr(&p->ip6, s);
    }
    ds_put_format(s, "/%d", p->plen);
}

/* The switch's sources of family 'v6'; false if it has none. */
static bool
sources(const struct lb_egress_switch *es, bool v6, struct lb_prefix *p)
{
    memset(p, 0, sizeof *p);
    if (v6) {
        p->family = AF_INET6;
        p->ip6 = es->prefix6;
        p->plen = 64;
        return es->has_prefix6;
    }
    p->family = AF_INET;
    p->ip4 = es->subnet;
    p->plen = es->prefix_len;
    return es->prefix_len > 0;
}

static int
nl_fail(char **errorp, int nlerr, const char *what)
{
    if (!*errorp) {
        *errorp = xasprintf("egress gateway: %s: %s", what,
                            nl_geterror(nlerr));
    }
    return EPROTO;
}

/* ---- Policy rules. */

/* A family of a switch whose sources this node routes to the active
 * egress node. */
struct routed_source {
    const struct lb_egress_switch *es;
    struct lb_prefix src;
};

static size_t
routed_sources(const struct lb_egress_plan *plan,
               struct routed_source **rsp)
{
    size_t n = 0, allocated = 0;
    struct routed_source *rs = NULL;
    for (size_t i = 0; i < plan->n; i++) {
        const struct lb_egress_switch *es = &plan->switches[i];
        for (int v6 = 0; v6 < 2; v6++) {
            struct lb_prefix src;
            if (es->mode != LB_EGRESS_GATEWAY || es->snat
                || !sources(es, v6, &src)) {
                continue;
            }
            if (n >= allocated) {
                rs = x2nrealloc(rs, &allocated, sizeof *rs);
            }
            rs[n++] = (struct routed_source) { .es = es, .src = src };
        }
    }
    *rsp = rs;
    return n;
}

struct rule_want {
    int family;
    struct lb_prefix src;
    uint32_t pref;
    uint32_t table;             /* RT_TABLE_MAIN: without its default. */
};

static size_t
wanted_rules(const struct lb_egress_plan *plan, void **wantp)
{
    struct routed_source *rs;
    size_t n = routed_sources(plan, &rs);
    struct rule_want *want = xcalloc(2 * n + 1, sizeof *want);
    for (size_t i = 0; i < 2 * n; i++) {
        bool k = i % 2;
        want[i] = (struct rule_want) {
            .family = rs[i / 2].src.family,
            .src = rs[i / 2].src,
            .pref = k ? LB_EGRESS_RULE_PREF_TABLE : LB_EGRESS_RULE_PREF_MAIN,
            .table = k ? lb_egress_table(rs[i / 2].es->key) : RT_TABLE_MAIN,
        };
    }
    free(rs);
    *wantp = want;
    return 2 * n;
}

/* Reconciling one kind of kernel object (rules, routes) of one family
 * against the wanted ones: those found are marked, ours that nobody wants
 * are deleted. */
struct sync_ctx {
    struct nl_sock *sk;
    int family;                 /* A dump may hold the other family's. */
    const void *want;           /* The kind's array... */
    size_t n_want;
    bool *found;                /* ...and which of it is there. */
    unsigned int n_changes;
    int err;
};

struct nl_kind {
    const char *name;
    size_t (*wanted)(const struct lb_egress_plan *, void **wantp);
    int (*alloc_cache)(struct nl_sock *, int family, struct nl_cache **);
    void (*visit)(struct nl_object *, void *sync_ctx);
    int (*add)(struct nl_sock *, const void *want, size_t i);
};

static void
delete_unwanted(struct sync_ctx *ctx, int err)
{
    if (err < 0 && !ctx->err) {
        ctx->err = err;
    }
    ctx->n_changes++;
}

static int
sync_kind(struct nl_sock *sk, const struct nl_kind *kind,
          const struct lb_egress_plan *plan, unsigned int *n_changes,
          char **errorp)
{
    void *want;
    size_t n = kind->wanted(plan, &want);
    bool *found = xcalloc(n ? n : 1, sizeof *found);
    int error = 0;
    char *what;

    for (int v6 = 0; v6 < 2 && !error; v6++) {
        struct nl_cache *cache;
        int err = kind->alloc_cache(sk, v6 ? AF_INET6 : AF_INET, &cache);
        if (err < 0) {
            what = xasprintf("cannot list %ss", kind->name);
            error = nl_fail(errorp, err, what);
            free(what);
            break;
        }
        struct sync_ctx ctx = {
            .sk = sk, .family = v6 ? AF_INET6 : AF_INET,
            .want = want, .n_want = n, .found = found,
        };
        nl_cache_foreach(cache, kind->visit, &ctx);
        nl_cache_free(cache);
        *n_changes += ctx.n_changes;
        if (ctx.err < 0) {
            what = xasprintf("cannot delete a %s", kind->name);
            error = nl_fail(errorp, ctx.err, what);
            free(what);
        }
    }
    for (size_t i = 0; i < n && !error; i++) {
        if (!found[i]) {
            int err = kind->add(sk, want, i);
            if (err < 0) {
                what = xasprintf("cannot add a %s", kind->name);
                error = nl_fail(errorp, err, what);
                free(what);
            }
            ++*n_changes;
        }
    }
    free(found);
    free(want);
    return error;
}

static bool
rule_is_ours(struct rtnl_rule *rule)
{
    uint8_t proto;
    return (!rtnl_rule_get_protocol(rule, &proto)
            && proto == LB_EGRESS_RTPROT);
}

/* Marks a wanted rule found, or deletes one of ours nobody wants. */
static void
visit_rule(struct nl_object *obj, void *ctx_)
{
    struct sync_ctx *ctx = ctx_;
    const struct rule_want *want = ctx->want;
    struct rtnl_rule *rule = (struct rtnl_rule *) obj;
    if (rtnl_rule_get_family(rule) != ctx->family || !rule_is_ours(rule)) {
        return;
    }
    struct nl_addr *src = rtnl_rule_get_src(rule);
    for (size_t i = 0; i < ctx->n_want; i++) {
        const struct rule_want *w = &want[i];
        if (ctx->found[i] || w->family != rtnl_rule_get_family(rule)
            || w->pref != rtnl_rule_get_prio(rule)
            || w->table != rtnl_rule_get_table(rule) || !src) {
            continue;
        }
        struct nl_addr *a = lb_prefix_to_nl(&w->src);
        bool same = !nl_addr_cmp(a, src);
        nl_addr_put(a);
        if (same) {
            ctx->found[i] = true;
            return;
        }
    }
    delete_unwanted(ctx, rtnl_rule_delete(ctx->sk, rule, 0));
}

static int
add_rule(struct nl_sock *sk, const void *want, size_t i)
{
    const struct rule_want *w = &((const struct rule_want *) want)[i];
    struct rtnl_rule *rule = rtnl_rule_alloc();
    if (!rule) {
        out_of_memory();
    }
    struct nl_addr *src = lb_prefix_to_nl(&w->src);
    rtnl_rule_set_family(rule, w->family);
    rtnl_rule_set_src(rule, src);
    nl_addr_put(src);
    rtnl_rule_set_prio(rule, w->pref);
    rtnl_rule_set_table(rule, w->table);
    rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
    rtnl_rule_set_protocol(rule, LB_EGRESS_RTPROT);

    struct nl_msg *msg;
    int err = rtnl_rule_build_add_request(rule, NLM_F_EXCL, &msg);
    rtnl_rule_put(rule);
    if (err < 0) {
        return err;
    }
    /* The main table without its default route: libnl has no setter for
     * suppress_prefixlength. */
    if (w->table == RT_TABLE_MAIN
        && nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, 0) < 0) {
        nlmsg_free(msg);
        return -NLE_NOMEM;
    }
    return nl_send_sync(sk, msg);   /* Frees 'msg'. */
}

static const struct nl_kind rule_kind = {
    "policy rule", wanted_rules, rtnl_rule_alloc_cache, visit_rule, add_rule,
};

/* ---- The egress tables' default routes. */

struct route_want {
    int family;
    uint32_t table;
    bool unreachable;           /* No active node of this family. */
    struct lb_prefix via;       /* Otherwise, the active node (plen 0). */
};

static size_t
wanted_routes(const struct lb_egress_plan *plan, void **wantp)
{
    struct routed_source *rs;
    size_t n = routed_sources(plan, &rs);
    struct route_want *want = xcalloc(n + 1, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        const struct lb_egress_switch *es = rs[i].es;
        bool v6 = rs[i].src.family == AF_INET6;
        struct route_want *w = &want[i];
        w->family = rs[i].src.family;
        w->table = lb_egress_table(es->key);
        w->via.family = w->family;
        if (!es->active || (v6 ? !es->has_via6 : !es->via4)) {
            w->unreachable = true;
        } else if (v6) {
            w->via.ip6 = es->via6;
        } else {
            w->via.ip4 = es->via4;
        }
    }
    free(rs);
    *wantp = want;
    return n;
}

static bool
route_matches(struct rtnl_route *route, const struct route_want *w)
{
    if (w->unreachable) {
        return rtnl_route_get_type(route) == RTN_UNREACHABLE;
    }
    if (rtnl_route_get_type(route) != RTN_UNICAST
        || rtnl_route_get_nnexthops(route) != 1) {
        return false;
    }
    struct nl_addr *gw = rtnl_route_nh_get_gateway(
        rtnl_route_nexthop_n(route, 0));
    struct nl_addr *a = lb_prefix_to_nl(&w->via);
    nl_addr_set_prefixlen(a, gw ? nl_addr_get_prefixlen(gw) : 0);
    bool same = gw && !nl_addr_cmp(a, gw);
    nl_addr_put(a);
    return same;
}

static void
visit_route(struct nl_object *obj, void *ctx_)
{
    struct sync_ctx *ctx = ctx_;
    const struct route_want *want = ctx->want;
    struct rtnl_route *route = (struct rtnl_route *) obj;
    uint32_t table = rtnl_route_get_table(route);
    if (rtnl_route_get_family(route) != ctx->family
        || rtnl_route_get_protocol(route) != LB_EGRESS_RTPROT
        || table <= LB_EGRESS_TABLE_BASE
        || table > LB_EGRESS_TABLE_BASE + LB_SWITCH_KEY_MAX) {
        return;
    }
    struct nl_addr *dst = rtnl_route_get_dst(route);
    bool is_default = !dst || !nl_addr_get_prefixlen(dst);
    for (size_t i = 0; is_default && i < ctx->n_want; i++) {
        const struct route_want *w = &want[i];
        if (!ctx->found[i] && w->table == table
            && w->family == rtnl_route_get_family(route)
            && route_matches(route, w)) {
            ctx->found[i] = true;
            return;
        }
    }
    delete_unwanted(ctx, rtnl_route_delete(ctx->sk, route, 0));
}

static int
add_route(struct nl_sock *sk, const void *want, size_t i)
{
    const struct route_want *w = &((const struct route_want *) want)[i];
    struct rtnl_route *route = rtnl_route_alloc();
    if (!route) {
        out_of_memory();
    }
    struct lb_prefix any = { .family = w->family, .plen = 0 };
    struct nl_addr *dst = lb_prefix_to_nl(&any);
    rtnl_route_set_family(route, w->family);
    rtnl_route_set_dst(route, dst);
    nl_addr_put(dst);
    rtnl_route_set_table(route, w->table);
    rtnl_route_set_protocol(route, LB_EGRESS_RTPROT);
    if (w->unreachable) {
        rtnl_route_set_type(route, RTN_UNREACHABLE);
    } else {
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        if (!nh) {
            out_of_memory();
        }
        struct lb_prefix via = w->via;
        via.plen = w->family == AF_INET ? 32 : 128;
        struct nl_addr *gw = lb_prefix_to_nl(&via);
        rtnl_route_nh_set_gateway(nh, gw);
        nl_addr_put(gw);
        rtnl_route_set_type(route, RTN_UNICAST);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_add_nexthop(route, nh);
    }
    int err = rtnl_route_add(sk, route, NLM_F_REPLACE);
    rtnl_route_put(route);
    return err;
}

static int
route_alloc_cache(struct nl_sock *sk, int family, struct nl_cache **cache)
{
    return rtnl_route_alloc_cache(sk, family, 0, cache);
}

static const struct nl_kind route_kind = {
    "route", wanted_routes, route_alloc_cache, visit_route, add_route,
};

/* ---- SNAT on the active egress node. */

struct uplink_ctx {
    struct lb_prefix addr;      /* The node's own address... */
    int ifindex;                /* ...found on this interface... */
    int plen;                   /* ...with this prefix length. */
};

static void
visit_addr(struct nl_object *obj, void *ctx_)
{
    struct uplink_ctx *ctx = ctx_;
    struct rtnl_addr *addr = (struct rtnl_addr *) obj;
    struct nl_addr *local = rtnl_addr_get_local(addr);
    if (ctx->ifindex || !local
        || nl_addr_get_family(local) != ctx->addr.family) {
        return;
    }
    struct lb_prefix host = ctx->addr;
    host.plen = host.family == AF_INET ? 32 : 128;
    struct nl_addr *a = lb_prefix_to_nl(&host);
    bool same = !memcmp(nl_addr_get_binary_addr(a),
                        nl_addr_get_binary_addr(local),
                        nl_addr_get_len(a))
                && nl_addr_get_len(a) == nl_addr_get_len(local);
    nl_addr_put(a);
    if (same) {
        ctx->ifindex = rtnl_addr_get_ifindex(addr);
        ctx->plen = rtnl_addr_get_prefixlen(addr);
    }
}

/* The network of 'p' (host bits cleared). */
static void
prefix_mask(struct lb_prefix *p)
{
    if (p->family == AF_INET) {
        p->ip4 &= be32_prefix_mask(p->plen);
    } else {
        struct in6_addr mask = ipv6_create_mask(p->plen);
        p->ip6 = ipv6_addr_bitand(&p->ip6, &mask);
    }
}

/* The nftables table the plan asks for, as 'nft list table' prints it, in
 * 's' (empty if none is wanted).  Returns 0, or a positive errno with a
 * message if this node's own address is on no interface. */
static int
wanted_nft(struct nl_sock *sk, const struct lb_egress_plan *plan,
           struct ds *s, char **errorp)
{
    struct nl_cache *addrs = NULL;
    struct ds rules = DS_EMPTY_INITIALIZER;
    int error = 0;

    for (size_t i = 0; i < plan->n; i++) {
        const struct lb_egress_switch *es = &plan->switches[i];
        if (es->mode != LB_EGRESS_GATEWAY || !es->snat) {
            continue;
        }
        for (int v6 = 0; v6 < 2; v6++) {
            struct lb_prefix src;
            if (!sources(es, v6, &src)
                || (v6 ? !es->has_via6 : !es->via4)) {
                continue;
            }
            if (!addrs) {
                int err = rtnl_addr_alloc_cache(sk, &addrs);
                if (err < 0) {
                    error = nl_fail(errorp, err, "cannot list addresses");
                    goto out;
                }
            }
            struct uplink_ctx ctx = { .addr.family = src.family };
            if (v6) {
                ctx.addr.ip6 = es->via6;
            } else {
                ctx.addr.ip4 = es->via4;
            }
            nl_cache_foreach(addrs, visit_addr, &ctx);
            char ifname[IF_NAMESIZE];
            if (!ctx.ifindex || !if_indextoname(ctx.ifindex, ifname)) {
                if (!*errorp) {
                    struct ds a = DS_EMPTY_INITIALIZER;
                    ctx.addr.plen = v6 ? 128 : 32;
                    prefix_format(&ctx.addr, &a);
                    *errorp = xasprintf("egress gateway: switch %s: this "
                                        "node's address %s (its Node "
                                        "object's InternalIP) is on no "
                                        "interface: no SNAT for it",
                                        es->name, ds_cstr(&a));
                    ds_destroy(&a);
                }
                error = ENOENT;
                continue;
            }
            struct lb_prefix net = ctx.addr;
            net.plen = ctx.plen;
            prefix_mask(&net);
            const char *ip = v6 ? "ip6" : "ip";
            ds_put_format(&rules, "\t\t%s saddr ", ip);
            prefix_format(&src, &rules);
            ds_put_format(&rules, " oifname \"%s\" %s daddr != ", ifname,
                          ip);
            prefix_format(&net, &rules);
            ds_put_format(&rules, " masquerade comment \"switch %s\"\n",
                          es->name);
        }
    }
    if (rules.length) {
        ds_put_format(s, "table %s %s {\n"
                      "\tchain egress-snat {\n"
                      "\t\ttype nat hook postrouting priority srcnat; "
                      "policy accept;\n"
                      "%s"
                      "\t}\n"
                      "}\n", LB_EGRESS_NFT_FAMILY, LB_EGRESS_NFT_TABLE,
                      ds_cstr(&rules));
    }
out:
    if (addrs) {
        nl_cache_free(addrs);
    }
    ds_destroy(&rules);
    return error;
}

static int
nft_run(struct nft_ctx *nft, const char *cmd, char **errorp)
{
    if (nft_run_cmd_from_buffer(nft, cmd)) {
        if (!*errorp) {
            *errorp = xasprintf("egress gateway: nftables: %s",
                                nft_ctx_get_error_buffer(nft));
        }
        return EPROTO;
    }
    return 0;
}

/* Makes table "inet livebind" what 'want' says (absent if empty), in one
 * transaction, unless it already is. */
static int
sync_nft(const char *want, unsigned int *n_changes, char **errorp)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft) {
        if (!*errorp) {
            *errorp = xstrdup("egress gateway: nftables: cannot start");
        }
        return ENOMEM;
    }
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);

    /* An error here is the table's absence. */
    bool exists = !nft_run_cmd_from_buffer(nft, "list table "
                                           LB_EGRESS_NFT_FAMILY " "
                                           LB_EGRESS_NFT_TABLE);
    const char *have = exists ? nft_ctx_get_output_buffer(nft) : "";
    int error = 0;
    if (strcmp(have, want)) {
        /* Replaced whole: "add" makes the "delete" valid if it is not
         * there; the three are one transaction. */
        char *cmd = xasprintf("add table %s %s\ndelete table %s %s\n%s",
                              LB_EGRESS_NFT_FAMILY, LB_EGRESS_NFT_TABLE,
                              LB_EGRESS_NFT_FAMILY, LB_EGRESS_NFT_TABLE,
                              want);
        error = nft_run(nft, cmd, errorp);
        free(cmd);
        ++*n_changes;
    }
    nft_ctx_free(nft);
    return error;
}

int
lb_egress_host_sync(const struct lb_egress_plan *plan,
                    unsigned int *n_changes, char **errorp)
{
    int error = 0;
    *errorp = NULL;

    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        out_of_memory();
    }
    int err = nl_connect(sk, NETLINK_ROUTE);
    if (err < 0) {
        error = nl_fail(errorp, err, "cannot open rtnetlink socket");
        goto out;
    }

    /* Each part whatever the others did: a switch whose node address is
     * missing must not keep another switch's routes from being right. */
    int e = sync_kind(sk, &rule_kind, plan, n_changes, errorp);
    error = error ? error : e;
    e = sync_kind(sk, &route_kind, plan, n_changes, errorp);
    error = error ? error : e;

    struct ds want = DS_EMPTY_INITIALIZER;
    e = wanted_nft(sk, plan, &want, errorp);
    error = error ? error : e;
    e = sync_nft(ds_cstr(&want), n_changes, errorp);
    error = error ? error : e;
    ds_destroy(&want);

out:
    nl_socket_free(sk);
    return error;
}
