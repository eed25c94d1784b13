/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "gateway-host.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <string.h>
#include "model.h"
#include "nl-prefix.h"
#include "pipeline-gateway.h"
#include "util.h"

/* The routes and MTU 'model' asks for.  Returns how many routes. */
static size_t
wanted_routes(const struct lb_model *model, struct lb_prefix **routesp,
              int *mtup)
{
    size_t n = 0, allocated = 0;
    struct lb_prefix *routes = NULL;
    int mtu = 0;

    const struct lb_switch *sw;
    HMAP_FOR_EACH (sw, node, &model->switches) {
        if (!lb_gateway_switch_has_gateway(sw)) {
            continue;
        }
        if (sw->mtu && (!mtu || sw->mtu < mtu)) {
            mtu = sw->mtu;
        }
        for (int v6 = 0; v6 < 2; v6++) {
            if (v6 ? !sw->has_prefix6 : !sw->prefix_len) {
                continue;
            }
            if (n >= allocated) {
                routes = x2nrealloc(routes, &allocated, sizeof *routes);
            }
            struct lb_prefix *r = &routes[n++];
            memset(r, 0, sizeof *r);
            if (v6) {
                r->family = AF_INET6;
                r->ip6 = sw->prefix6;
                r->plen = 64;
            } else {
                r->family = AF_INET;
                r->ip4 = sw->subnet;
                r->plen = sw->prefix_len;
            }
        }
    }
    *routesp = routes;
    *mtup = mtu;
    return n;
}

static int
fail(int nlerr, char **errorp, const char *what, const char *ifname)
{
    if (errorp && !*errorp) {
        *errorp = xasprintf("gateway port %s: %s: %s", ifname, what,
                            nl_geterror(nlerr));
    }
    return EPROTO;
}

static struct rtnl_route *
make_route(const struct lb_prefix *r, int ifindex)
{
    struct rtnl_route *route = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    if (!route || !nh) {
        out_of_memory();
    }
    struct nl_addr *dst = lb_prefix_to_nl(r);
    rtnl_route_set_family(route, r->family);
    rtnl_route_set_dst(route, dst);
    nl_addr_put(dst);
    rtnl_route_set_table(route, RT_TABLE_MAIN);
    rtnl_route_set_scope(route, RT_SCOPE_LINK);
    rtnl_route_set_protocol(route, LB_GATEWAY_RTPROT);
    rtnl_route_set_type(route, RTN_UNICAST);
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_add_nexthop(route, nh);
    return route;
}

struct stale_ctx {
    struct nl_sock *sk;
    int ifindex;
    const struct lb_prefix *wanted;
    size_t n_wanted;
    int err;
};

static bool
is_wanted(const struct stale_ctx *ctx, struct nl_addr *dst, int family)
{
    for (size_t i = 0; i < ctx->n_wanted; i++) {
        struct nl_addr *w = lb_prefix_to_nl(&ctx->wanted[i]);
        bool same = (family == ctx->wanted[i].family
                     && !nl_addr_cmp(w, dst));
        nl_addr_put(w);
        if (same) {
            return true;
        }
    }
    return false;
}

/* Deletes a route of ours through the gateway port that is not wanted. */
static void
delete_if_stale(struct nl_object *obj, void *ctx_)
{
    struct stale_ctx *ctx = ctx_;
    struct rtnl_route *route = (struct rtnl_route *) obj;
    if (rtnl_route_get_protocol(route) != LB_GATEWAY_RTPROT
        || rtnl_route_get_table(route) != RT_TABLE_MAIN
        || rtnl_route_get_nnexthops(route) != 1
        || rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0))
           != ctx->ifindex
        || is_wanted(ctx, rtnl_route_get_dst(route),
                     rtnl_route_get_family(route))) {
        return;
    }
    int err = rtnl_route_delete(ctx->sk, route, 0);
    if (err < 0 && !ctx->err) {
        ctx->err = err;
    }
}

int
lb_gateway_host_sync(const char *ifname, const struct lb_model *model,
                     char **errorp)
{
    struct lb_prefix *routes;
    int mtu;
    size_t n = wanted_routes(model, &routes, &mtu);
    struct rtnl_link *link = NULL, *change = NULL;
    struct nl_cache *cache = NULL;
    int error = 0;
    int err;

    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        out_of_memory();
    }
    err = nl_connect(sk, NETLINK_ROUTE);
    if (err < 0) {
        error = fail(err, errorp, "cannot open rtnetlink socket", ifname);
        goto out;
    }

    err = rtnl_link_get_kernel(sk, 0, ifname, &link);
    if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) {
        error = ENODEV;
        goto out;
    } else if (err < 0) {
        error = fail(err, errorp, "cannot look it up", ifname);
        goto out;
    }
    int ifindex = rtnl_link_get_ifindex(link);

    unsigned int flags = rtnl_link_get_flags(link);
    if (!(flags & IFF_UP) || !(flags & IFF_NOARP)
        || (mtu && rtnl_link_get_mtu(link) != (unsigned int) mtu)) {
        change = rtnl_link_alloc();
        if (!change) {
            out_of_memory();
        }
        rtnl_link_set_flags(change, IFF_UP | IFF_NOARP);
        if (mtu) {
            rtnl_link_set_mtu(change, mtu);
        }
        err = rtnl_link_change(sk, link, change, 0);
        if (err < 0) {
            error = fail(err, errorp, "cannot bring it up NOARP", ifname);
            goto out;
        }
    }

    for (size_t i = 0; i < n; i++) {
        struct rtnl_route *route = make_route(&routes[i], ifindex);
        err = rtnl_route_add(sk, route, NLM_F_REPLACE);
        rtnl_route_put(route);
        if (err < 0) {
            error = fail(err, errorp, "cannot add a route", ifname);
            goto out;
        }
    }

    for (int v6 = 0; v6 < 2; v6++) {
        err = rtnl_route_alloc_cache(sk, v6 ? AF_INET6 : AF_INET, 0, &cache);
        if (err < 0) {
            error = fail(err, errorp, "cannot list routes", ifname);
            goto out;
        }
        struct stale_ctx ctx = {
            .sk = sk, .ifindex = ifindex, .wanted = routes, .n_wanted = n,
        };
        nl_cache_foreach(cache, delete_if_stale, &ctx);
        nl_cache_free(cache);
        cache = NULL;
        if (ctx.err < 0) {
            error = fail(ctx.err, errorp, "cannot delete a route", ifname);
            goto out;
        }
    }

out:
    if (change) {
        rtnl_link_put(change);
    }
    if (link) {
        rtnl_link_put(link);
    }
    nl_socket_free(sk);
    free(routes);
    return error;
}
