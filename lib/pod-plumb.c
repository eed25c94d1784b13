/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "pod-plumb.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error-msg.h"
#include "netns-fd.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "sha1.h"
#include "util.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

VLOG_DEFINE_THIS_MODULE(pod_plumb);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);

/* libnl's allocators return NULL when out of memory; treat that as
 * xmalloc() does. */
static void *
nonnull(void *p)
{
    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Attachment parameters. */

/* Returns true if Linux would accept 'name' as an interface name. */
bool
pod_plumb_ifname_is_valid(const char *name)
{
    if (!name || !name[0] || strlen(name) > POD_PLUMB_IFNAME_MAX
        || !strcmp(name, ".") || !strcmp(name, "..")) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':' || isspace((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

/* Returns the name of the host end of the veth pair for the container with
 * 'container_id': "lb" followed by 11 hex digits of its SHA-1, so that it is
 * stable across agent restarts, fits in IFNAMSIZ and is unlikely to collide
 * (44 bits).  The caller must free the result. */
char *
pod_plumb_host_ifname(const char *container_id)
{
    uint8_t digest[SHA1_DIGEST_SIZE];
    char hex[SHA1_DIGEST_SIZE * 2 + 1];

    sha1_bytes(container_id, strlen(container_id), digest);
    sha1_to_hex(digest, hex);
    return xasprintf("lb%.11s", hex);
}

/* Frees the members of 'a' (not 'a' itself). */
void
pod_attachment_destroy(struct pod_attachment *a)
{
    if (a) {
        free(a->netns_path);
        free(a->ifname);
        free(a->host_ifname);
    }
}

static bool
gateway_is_on_link(const struct pod_attachment *a)
{
    ovs_be32 mask = be32_prefix_mask(a->prefix_len);

    return a->prefix_len < 32 && (a->gateway & mask) == (a->ip & mask);
}

/* Returns NULL if 'a' is a sensible attachment, otherwise a malloc()'d
 * message saying what is wrong with it. */
char *
pod_attachment_validate(const struct pod_attachment *a)
{
    if (!a->netns_path || !a->netns_path[0]) {
        return xstrdup("no network namespace path");
    } else if (a->netns_fd < 0) {
        return xasprintf("%s: no descriptor of the network namespace",
                         a->netns_path);
    } else if (!pod_plumb_ifname_is_valid(a->ifname)) {
        return xasprintf("invalid pod interface name \"%s\"",
                         a->ifname ? a->ifname : "");
    } else if (!pod_plumb_ifname_is_valid(a->host_ifname)) {
        return xasprintf("invalid host interface name \"%s\"",
                         a->host_ifname ? a->host_ifname : "");
    } else if (eth_addr_is_zero(a->mac) || eth_addr_is_multicast(a->mac)) {
        return xasprintf("MAC "ETH_ADDR_FMT" is not a unicast address",
                         ETH_ADDR_ARGS(a->mac));
    } else if (a->mtu < 68 || a->mtu > 65535) {
        return xasprintf("MTU %d is outside 68...65535", a->mtu);
    } else if (!a->ip && !a->has_ip6) {
        return xstrdup("no IP address");
    } else if (a->ip && (a->prefix_len < 1 || a->prefix_len > 32)) {
        return xasprintf("prefix length %d is outside 1...32",
                         a->prefix_len);
    } else if (a->gateway && a->gateway == a->ip) {
        return xasprintf("gateway "IP_FMT" is the pod's own address",
                         IP_ARGS(a->gateway));
    } else if (a->gateway && !a->ip) {
        return xasprintf("gateway "IP_FMT" without an IPv4 address",
                         IP_ARGS(a->gateway));
    } else if (a->has_ip6 && (ipv6_is_zero(&a->ip6)
                              || ipv6_addr_is_multicast(&a->ip6))) {
        return xstrdup("IPv6 address is not a unicast address");
    } else if (!ipv6_is_zero(&a->gateway6)
               && (!a->has_ip6 || ipv6_addr_equals(&a->gateway6, &a->ip6))) {
        char buf[INET6_ADDRSTRLEN];
        return xasprintf("gateway6 %s is the pod's own address or it has "
                         "no IPv6 address",
                         ipv6_string_mapped(buf, &a->gateway6));
    }
    return NULL;
}

/* Rtnetlink.
 *
 * libnl folds many kernel errors into NLE_FAILURE, so an error callback
 * remembers the kernel's errno and its extended-ack message, if any. */

struct rtnl {
    struct nl_sock *sk;
    int error;                  /* Positive errno of last error reply. */
    char *ext_msg;              /* Kernel's explanation of it, or NULL. */
};

static int
rtnl_error_cb(struct sockaddr_nl *nla OVS_UNUSED, struct nlmsgerr *e,
              void *rtnl_)
{
    const struct nlmsghdr *h = (const struct nlmsghdr *)
                               ((const char *) e - NLMSG_HDRLEN);
    struct rtnl *rtnl = rtnl_;

    rtnl->error = -e->error;
    free(rtnl->ext_msg);
    rtnl->ext_msg = NULL;

    /* With NETLINK_CAP_ACK the attributes follow the header directly. */
    if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && (h->nlmsg_flags & NLM_F_CAPPED)
        && h->nlmsg_len >= NLMSG_HDRLEN + sizeof *e) {
        struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
        int len = h->nlmsg_len - NLMSG_HDRLEN - sizeof *e;

        if (!nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *) (e + 1),
                       len, NULL)
            && tb[NLMSGERR_ATTR_MSG]) {
            const struct nlattr *msg = tb[NLMSGERR_ATTR_MSG];
            const char *s = nla_data(msg);

            rtnl->ext_msg = xmemdup0(s, strnlen(s, nla_len(msg)));
        }
    }
    return NL_STOP;
}

/* Opens 'rtnl' in the calling thread's current network namespace; the
 * socket stays in that namespace for its whole life. */
static int
rtnl_open(struct rtnl *rtnl, char **errorp)
{
    int one = 1;
    int err;

    rtnl->error = 0;
    rtnl->ext_msg = NULL;
    rtnl->sk = nonnull(nl_socket_alloc());
    err = nl_connect(rtnl->sk, NETLINK_ROUTE);
    if (err < 0) {
        lb_set_error(errorp, "cannot open rtnetlink socket (%s)",
                     nl_geterror(err));
        nl_socket_free(rtnl->sk);
        rtnl->sk = NULL;
        return EPROTO;
    }
    nl_socket_modify_err_cb(rtnl->sk, NL_CB_CUSTOM, rtnl_error_cb, rtnl);

    /* Both are best effort: without them errors are just terser. */
    setsockopt(nl_socket_get_fd(rtnl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
               &one, sizeof one);
    setsockopt(nl_socket_get_fd(rtnl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
               &one, sizeof one);
    return 0;
}

static void
rtnl_close(struct rtnl *rtnl)
{
    if (rtnl->sk) {
        nl_socket_free(rtnl->sk);
        rtnl->sk = NULL;
    }
    free(rtnl->ext_msg);
    rtnl->ext_msg = NULL;
}

/* Called before each request, so that a stale errno is never reported. */
static void
rtnl_reset(struct rtnl *rtnl)
{
    rtnl->error = 0;
    free(rtnl->ext_msg);
    rtnl->ext_msg = NULL;
}

static int
nlerr_to_errno(int nlerr)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_EXIST: return EEXIST;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_NODEV: return ENODEV;
    case NLE_INTR: return EINTR;
    case NLE_AGAIN: return EAGAIN;
    case NLE_NOACCESS: return EACCES;
    case NLE_PERM: return EPERM;
    case NLE_INVAL: return EINVAL;
    case NLE_NOMEM: return ENOMEM;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_BUSY: return EBUSY;
    case NLE_RANGE: return ERANGE;
    default: return EPROTO;
    }
}

/* Returns the positive errno for the libnl result 'nlerr' of the last
 * request on 'rtnl' and reports it as "<what>: <reason>". */
static int OVS_PRINTF_FORMAT(4, 5)
rtnl_fail(struct rtnl *rtnl, int nlerr, char **errorp,
          const char *format, ...)
{
    int error = rtnl->error ? rtnl->error : nlerr_to_errno(nlerr);

    if (errorp && !*errorp) {
        va_list args;
        char *what;

        va_start(args, format);
        what = xvasprintf(format, args);
        va_end(args);
        *errorp = xasprintf("%s: %s%s%s", what,
                            rtnl->error ? ovs_strerror(error)
                                        : nl_geterror(nlerr),
                            rtnl->ext_msg ? ": " : "",
                            rtnl->ext_msg ? rtnl->ext_msg : "");
        free(what);
    }
    return error;
}

/* Looks up the interface 'name'.  Returns ENODEV, without reporting it, if
 * there is none. */
static int
link_get(struct rtnl *rtnl, const char *name, struct rtnl_link **linkp,
         char **errorp)
{
    int err;

    *linkp = NULL;
    rtnl_reset(rtnl);
    err = rtnl_link_get_kernel(rtnl->sk, 0, name, linkp);
    if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) {
        return ENODEV;
    } else if (err < 0) {
        return rtnl_fail(rtnl, err, errorp, "cannot look up %s", name);
    }
    return 0;
}

static bool
link_is_veth(struct rtnl_link *link)
{
    const char *type = rtnl_link_get_type(link);

    return type && !strcmp(type, "veth");
}

/* Sets IFF_UP on interface 'name'. */
static int
link_set_up(struct rtnl *rtnl, const char *name, char **errorp)
{
    struct rtnl_link *link, *change;
    int error, err;

    error = link_get(rtnl, name, &link, errorp);
    if (error) {
        if (error == ENODEV) {
            lb_set_error(errorp, "%s: no such interface", name);
        }
        return error;
    }

    change = nonnull(rtnl_link_alloc());
    rtnl_link_set_flags(change, IFF_UP);
    rtnl_reset(rtnl);
    err = rtnl_link_change(rtnl->sk, link, change, 0);
    error = err < 0 ? rtnl_fail(rtnl, err, errorp, "cannot bring up %s",
                                name) : 0;
    rtnl_link_put(change);
    rtnl_link_put(link);
    return error;
}

/* Deletes interface 'name'.  Returns ENODEV, without reporting it, if there
 * is none. */
static int
link_delete(struct rtnl *rtnl, const char *name, char **errorp)
{
    struct rtnl_link *link = nonnull(rtnl_link_alloc());
    int err;

    rtnl_link_set_name(link, name);
    rtnl_reset(rtnl);
    err = rtnl_link_delete(rtnl->sk, link);
    rtnl_link_put(link);
    if (err < 0) {
        int error = rtnl->error ? rtnl->error : nlerr_to_errno(err);

        return (error == ENODEV ? ENODEV
                : rtnl_fail(rtnl, err, errorp, "cannot delete %s", name));
    }
    return 0;
}

static struct nl_addr *
nl_addr_from_be32(ovs_be32 ip, int prefix_len)
{
    struct nl_addr *addr;

    addr = nonnull(nl_addr_build(AF_INET, &ip, sizeof ip));
    nl_addr_set_prefixlen(addr, prefix_len);
    return addr;
}

/* Ethtool. */

/* Turns TX checksum offload off on 'name' (ETHTOOL_STXCSUM also drops the
 * features that depend on it, e.g. TSO). */
/* Runs ethtool command 'cmd' (ETHTOOL_STXCSUM or ETHTOOL_GTXCSUM) on
 * interface 'name' with '*ev'. */
static int
txcsum_ioctl(int sock, const char *name, struct ethtool_value *ev,
             char **errorp)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    ovs_strzcpy(ifr.ifr_name, name, sizeof ifr.ifr_name);
    ifr.ifr_data = (void *) ev;
    if (ioctl(sock, SIOCETHTOOL, &ifr)) {
        int error = errno;

        lb_set_error(errorp, "%s: cannot %s TX checksum offload (%s)", name,
                     ev->cmd == ETHTOOL_STXCSUM ? "turn off" : "read",
                     ovs_strerror(error));
        return error;
    }
    return 0;
}

static int
txcsum_disable(int sock, const char *name, char **errorp)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
    return txcsum_ioctl(sock, name, &ev, errorp);
}

static int
txcsum_get(int sock, const char *name, bool *onp, char **errorp)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_GTXCSUM };
    int error = txcsum_ioctl(sock, name, &ev, errorp);
    if (!error) {
        *onp = ev.data != 0;
    }
    return error;
}

/* Sysctls, written or read from inside the pod's namespace (the pod end's)
 * or from ours (the host end's). */

struct pod_sysctl {
    const char *family;         /* "ipv4" or "ipv6". */
    const char *name;
    const char *value;          /* What pod_plumb_add() sets. */
};

/* Migration target pods take over an IP and MAC that the source pod still
 * uses, so nothing may check for (or announce) a duplicate.
 *
 * The kernel runs DAD if conf/all/accept_dad or conf/<if>/accept_dad is
 * above 0.  "all" is 0 in a new namespace and, being pod-wide, is left
 * alone; should a pod have raised it, dad_transmits=0 still means no probe
 * is sent, but the link-local address stays tentative for up to
 * router_solicitation_delay (1 s) and an NS or NA for it meanwhile would
 * mark it "dadfailed". */
static const struct pod_sysctl pod_sysctls[] = {
    { "ipv6", "accept_dad", "0" },
    { "ipv6", "dad_transmits", "0" },
    { "ipv4", "arp_notify", "0" },
};

/* The host end is an OVS port and nothing else: with IPv6 on, the node's
 * kernel would give it a link-local address and send MLD reports, DAD
 * probes and router solicitations from it straight into the pod (a veth
 * bypasses OVS), past port security and, for a migration target, past the
 * blocking: into the VM's target copy before activation. */
static const struct pod_sysctl host_sysctls[] = {
    { "ipv6", "disable_ipv6", "1" },
};

struct sysctl_ctx {
    const char *ifname;
    const struct pod_sysctl *sysctls;   /* pod_sysctls or host_sysctls. */
    size_t n_sysctls;
    bool write;                 /* Write the values, or compare them. */
};

/* The context for the pod end 'ifname' or, if 'host', the host end. */
static struct sysctl_ctx
sysctl_ctx_for(const char *ifname, bool host, bool write)
{
    return (struct sysctl_ctx) {
        .ifname = ifname,
        .sysctls = host ? host_sysctls : pod_sysctls,
        .n_sysctls = host ? ARRAY_SIZE(host_sysctls)
                          : ARRAY_SIZE(pod_sysctls),
        .write = write,
    };
}

static int
sysctl_access(void *ctx_, char **errorp)
{
    const struct sysctl_ctx *ctx = ctx_;

    for (size_t i = 0; i < ctx->n_sysctls; i++) {
        const struct pod_sysctl *s = &ctx->sysctls[i];
        char *path, buf[32];
        ssize_t n;
        int fd;

        /* A kernel without IPv6 has no IPv6 to turn off. */
        if (!strcmp(s->family, "ipv6")
            && access("/proc/sys/net/ipv6", F_OK)) {
            continue;
        }

        /* /proc/sys/net/ shows the namespace of whoever opens it. */
        path = xasprintf("/proc/sys/net/%s/conf/%s/%s",
                         s->family, ctx->ifname, s->name);
        fd = open(path, (ctx->write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            int error = errno;

            lb_set_error(errorp, "%s: cannot open (%s)", path,
                         ovs_strerror(error));
            free(path);
            return error;
        }
        if (ctx->write) {
            n = write(fd, s->value, strlen(s->value));
            if (n != strlen(s->value)) {
                int error = n < 0 ? errno : EIO;

                lb_set_error(errorp, "%s: cannot write (%s)", path,
                             ovs_strerror(error));
                close(fd);
                free(path);
                return error;
            }
        } else {
            n = read(fd, buf, sizeof buf - 1);
            if (n < 0) {
                int error = errno;

                lb_set_error(errorp, "%s: cannot read (%s)", path,
                             ovs_strerror(error));
                close(fd);
                free(path);
                return error;
            }
            buf[n] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            if (strcmp(buf, s->value)) {
                lb_set_error(errorp, "net.%s.conf.%s.%s is %s, not %s",
                             s->family, ctx->ifname, s->name, buf, s->value);
                close(fd);
                free(path);
                return ESTALE;
            }
        }
        close(fd);
        free(path);
    }
    return 0;
}

/* Sockets in both namespaces for one operation. */

struct plumb {
    int netns_fd;               /* The pod's namespace, or -1 (the
                                 * caller's: never closed here). */
    struct rtnl host;           /* In our own namespace. */
    struct rtnl pod;            /* In the pod's namespace. */
    int host_sock;              /* For ioctls in our own namespace. */
    int pod_sock;               /* For ioctls in the pod's namespace. */
};

static int
ioctl_sock_open(int *sockp, char **errorp)
{
    *sockp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (*sockp < 0) {
        int error = errno;

        lb_set_error(errorp, "cannot open socket (%s)", ovs_strerror(error));
        return error;
    }
    return 0;
}

/* Runs in the pod's namespace: sockets keep the namespace they were made
 * in, so everything afterwards can be done from our own. */
static int
plumb_open_pod_sockets(void *p_, char **errorp)
{
    struct plumb *p = p_;
    int error;

    error = rtnl_open(&p->pod, errorp);
    if (!error) {
        error = ioctl_sock_open(&p->pod_sock, errorp);
    }
    return error;
}

static void
plumb_init(struct plumb *p)
{
    memset(p, 0, sizeof *p);
    p->netns_fd = p->host_sock = p->pod_sock = -1;
}

/* Opens 'p''s sockets in our own namespace and, if 'netns_fd' is not -1,
 * in that namespace ('netns_path' names it in messages). */
static int
plumb_open(struct plumb *p, int netns_fd, const char *netns_path,
           char **errorp)
{
    int error;

    error = rtnl_open(&p->host, errorp);
    if (!error) {
        error = ioctl_sock_open(&p->host_sock, errorp);
    }
    if (!error && netns_fd >= 0) {
        error = netns_fd_check(netns_fd, netns_path, errorp);
        if (!error) {
            p->netns_fd = netns_fd;
            error = netns_fd_run(netns_fd, plumb_open_pod_sockets, p,
                                 errorp);
        }
    }
    return error;
}

static void
plumb_close(struct plumb *p)
{
    rtnl_close(&p->host);
    rtnl_close(&p->pod);
    if (p->host_sock >= 0) {
        close(p->host_sock);
    }
    if (p->pod_sock >= 0) {
        close(p->pod_sock);
    }
    plumb_init(p);
}

/* Checking. */

static bool
link_has_mac(struct rtnl_link *link, struct eth_addr mac)
{
    struct nl_addr *addr = rtnl_link_get_addr(link);

    return (addr && nl_addr_get_len(addr) == ETH_ADDR_LEN
            && !memcmp(nl_addr_get_binary_addr(addr), mac.ea, ETH_ADDR_LEN));
}

static struct eth_addr
link_get_mac(struct rtnl_link *link)
{
    struct nl_addr *addr = rtnl_link_get_addr(link);
    struct eth_addr mac = eth_addr_zero;

    if (addr && nl_addr_get_len(addr) == ETH_ADDR_LEN) {
        memcpy(mac.ea, nl_addr_get_binary_addr(addr), ETH_ADDR_LEN);
    }
    return mac;
}

static bool
nl_addr_is_be32(struct nl_addr *addr, ovs_be32 ip)
{
    return (addr && nl_addr_get_family(addr) == AF_INET
            && nl_addr_get_len(addr) == sizeof ip
            && !memcmp(nl_addr_get_binary_addr(addr), &ip, sizeof ip));
}

static int
check_address(struct plumb *p, const struct pod_attachment *a, int ifindex,
              char **errorp)
{
    struct nl_cache *cache;
    struct nl_object *obj;
    bool found = false;
    int err;

    rtnl_reset(&p->pod);
    err = rtnl_addr_alloc_cache(p->pod.sk, &cache);
    if (err < 0) {
        return rtnl_fail(&p->pod, err, errorp, "cannot list addresses");
    }
    bool found6 = !a->has_ip6;
    found = !a->ip;
    for (obj = nl_cache_get_first(cache); obj && !(found && found6);
         obj = nl_cache_get_next(obj)) {
        struct rtnl_addr *addr = (struct rtnl_addr *) obj;
        struct nl_addr *local = rtnl_addr_get_local(addr);

        if (rtnl_addr_get_ifindex(addr) != ifindex) {
            continue;
        }
        found = found || (rtnl_addr_get_family(addr) == AF_INET
                          && rtnl_addr_get_prefixlen(addr) == a->prefix_len
                          && nl_addr_is_be32(local, a->ip));
        found6 = found6 || (rtnl_addr_get_family(addr) == AF_INET6
                            && rtnl_addr_get_prefixlen(addr) == 64
                            && nl_addr_get_len(local) == sizeof a->ip6
                            && !memcmp(nl_addr_get_binary_addr(local),
                                       &a->ip6, sizeof a->ip6));
    }
    nl_cache_free(cache);

    if (!found) {
        lb_set_error(errorp, "%s has no address "IP_FMT"/%d", a->ifname,
                     IP_ARGS(a->ip), a->prefix_len);
        return ESTALE;
    } else if (!found6) {
        char buf[INET6_ADDRSTRLEN];
        lb_set_error(errorp, "%s has no address %s/64", a->ifname,
                     ipv6_string_mapped(buf, &a->ip6));
        return ESTALE;
    }
    return 0;
}

/* Returns true if 'cache' has a main-table IPv4 route to 'dst'/'plen' out
 * of 'ifindex', via 'gateway' (or directly if 'gateway' is 0). */
static bool
has_route(struct nl_cache *cache, ovs_be32 dst, int plen, ovs_be32 gateway,
          int ifindex)
{
    for (struct nl_object *obj = nl_cache_get_first(cache); obj;
         obj = nl_cache_get_next(obj)) {
        struct rtnl_route *route = (struct rtnl_route *) obj;
        struct nl_addr *rdst = rtnl_route_get_dst(route);
        struct rtnl_nexthop *nh;

        if (rtnl_route_get_family(route) != AF_INET
            || rtnl_route_get_table(route) != RT_TABLE_MAIN
            || rtnl_route_get_type(route) != RTN_UNICAST
            || rtnl_route_get_nnexthops(route) != 1
            || !rdst || nl_addr_get_prefixlen(rdst) != plen) {
            continue;
        }
        if (plen && !nl_addr_is_be32(rdst, dst)) {
            continue;
        }
        nh = rtnl_route_nexthop_n(route, 0);
        if (rtnl_route_nh_get_ifindex(nh) != ifindex) {
            continue;
        }
        if (gateway
            ? nl_addr_is_be32(rtnl_route_nh_get_gateway(nh), gateway)
            : !rtnl_route_nh_get_gateway(nh)) {
            return true;
        }
    }
    return false;
}

static int
check_routes(struct plumb *p, const struct pod_attachment *a, int ifindex,
             char **errorp)
{
    struct nl_cache *cache;
    int error = 0;
    int err;

    if (!a->gateway) {
        return 0;
    }

    rtnl_reset(&p->pod);
    err = rtnl_route_alloc_cache(p->pod.sk, AF_INET, 0, &cache);
    if (err < 0) {
        return rtnl_fail(&p->pod, err, errorp, "cannot list routes");
    }
    if (!gateway_is_on_link(a)
        && !has_route(cache, a->gateway, 32, 0, ifindex)) {
        lb_set_error(errorp, "no on-link route to gateway "IP_FMT" via %s",
                     IP_ARGS(a->gateway), a->ifname);
        error = ESTALE;
    } else if (!has_route(cache, 0, 0, a->gateway, ifindex)) {
        lb_set_error(errorp, "no default route via "IP_FMT" dev %s",
                     IP_ARGS(a->gateway), a->ifname);
        error = ESTALE;
    }
    nl_cache_free(cache);
    return error;
}

/* Checks one end: 'link' named 'name', 'mtu', up, TX checksum off. */
static int
check_end(struct rtnl_link *link, const char *name, int sock, int mtu,
          char **errorp)
{
    bool txcsum = false;
    int error;

    if (rtnl_link_get_mtu(link) != mtu) {
        lb_set_error(errorp, "%s has MTU %u, not %d", name,
                     rtnl_link_get_mtu(link), mtu);
        return ESTALE;
    }
    if (!(rtnl_link_get_flags(link) & IFF_UP)) {
        lb_set_error(errorp, "%s is down", name);
        return ESTALE;
    }
    error = txcsum_get(sock, name, &txcsum, errorp);
    if (error) {
        return error;
    }
    if (txcsum) {
        lb_set_error(errorp, "%s has TX checksum offload on", name);
        return ESTALE;
    }
    return 0;
}

static int
check_attachment(struct plumb *p, const struct pod_attachment *a,
                 char **errorp)
{
    struct rtnl_link *host = NULL, *pod = NULL, *lo = NULL;
    struct sysctl_ctx sysctl = sysctl_ctx_for(a->ifname, false, false);
    struct sysctl_ctx host_sysctl = sysctl_ctx_for(a->host_ifname, true,
                                                   false);
    int error;

    error = link_get(&p->host, a->host_ifname, &host, errorp);
    if (error == ENODEV) {
        lb_set_error(errorp, "host interface %s does not exist",
                     a->host_ifname);
        error = ENOENT;
    }
    if (error) {
        goto out;
    }
    error = link_get(&p->pod, a->ifname, &pod, errorp);
    if (error == ENODEV) {
        lb_set_error(errorp, "%s: interface %s does not exist", a->netns_path,
                     a->ifname);
        error = ENOENT;
    }
    if (error) {
        goto out;
    }

    /* A veth reports its peer's ifindex (in the peer's namespace) as its
     * link; matching both ways makes a mix-up practically impossible. */
    if (!link_is_veth(host) || !link_is_veth(pod)
        || rtnl_link_get_link(host) != rtnl_link_get_ifindex(pod)
        || rtnl_link_get_link(pod) != rtnl_link_get_ifindex(host)) {
        lb_set_error(errorp, "%s in %s is not the veth peer of %s", a->ifname,
                     a->netns_path, a->host_ifname);
        error = ESTALE;
        goto out;
    }
    if (!link_has_mac(pod, a->mac)) {
        lb_set_error(errorp, "%s has MAC "ETH_ADDR_FMT", not "ETH_ADDR_FMT,
                     a->ifname, ETH_ADDR_ARGS(link_get_mac(pod)),
                     ETH_ADDR_ARGS(a->mac));
        error = ESTALE;
        goto out;
    }

    error = check_end(host, a->host_ifname, p->host_sock, a->mtu, errorp);
    if (!error) {
        error = check_end(pod, a->ifname, p->pod_sock, a->mtu, errorp);
    }
    if (error) {
        goto out;
    }

    error = link_get(&p->pod, "lo", &lo, errorp);
    if (!error && !(rtnl_link_get_flags(lo) & IFF_UP)) {
        lb_set_error(errorp, "%s: lo is down", a->netns_path);
        error = ESTALE;
    }
    if (!error) {
        error = check_address(p, a, rtnl_link_get_ifindex(pod), errorp);
    }
    if (!error) {
        error = check_routes(p, a, rtnl_link_get_ifindex(pod), errorp);
    }
    if (!error) {
        error = netns_fd_run(p->netns_fd, sysctl_access, &sysctl, errorp);
    }
    if (!error) {
        error = sysctl_access(&host_sysctl, errorp);
    }

out:
    if (host) {
        rtnl_link_put(host);
    }
    if (pod) {
        rtnl_link_put(pod);
    }
    if (lo) {
        rtnl_link_put(lo);
    }
    return error;
}

/* Clears '*errorp' and checks 'a': 0 if it is valid, otherwise EINVAL
 * with a message in '*errorp'. */
static int
validate_attachment(const struct pod_attachment *a, char **errorp)
{
    if (errorp) {
        *errorp = NULL;
    }
    char *msg = pod_attachment_validate(a);
    if (msg) {
        lb_set_error(errorp, "%s", msg);
        free(msg);
        return EINVAL;
    }
    return 0;
}

/* Checks that the attachment 'a' is in place exactly as pod_plumb_add()
 * makes it: the host end and, in the pod's namespace, its veth peer with
 * the MAC, MTU (both ends), up (both ends and lo), TX checksum offload off
 * (both ends), the address, the routes and the sysctls.
 *
 * Returns 0 if so, ENOENT if the namespace, the host end or the pod end does
 * not exist, ESTALE if something differs, EINVAL if 'a' is not valid, or
 * another positive errno if looking failed. */
int
pod_plumb_check(const struct pod_attachment *a, char **errorp)
{
    struct plumb p;
    int error;

    error = validate_attachment(a, errorp);
    if (error) {
        return error;
    }

    plumb_init(&p);
    error = plumb_open(&p, a->netns_fd, a->netns_path, errorp);
    if (!error) {
        error = check_attachment(&p, a, errorp);
    }
    plumb_close(&p);
    return error;
}

/* Adding. */

/* Creates the veth pair in one request: the host end here and the pod end
 * directly in the pod's namespace under its final name, with its MAC and
 * both MTUs.  Either both exist afterwards or neither, and the pod end's
 * name never has to be free in our own namespace. */
static int
create_veth(struct plumb *p, const struct pod_attachment *a, char **errorp)
{
    struct rtnl_link *link, *peer;
    struct nl_addr *mac;
    int err;

    link = nonnull(rtnl_link_veth_alloc());
    rtnl_link_set_name(link, a->host_ifname);
    rtnl_link_set_mtu(link, a->mtu);

    peer = rtnl_link_veth_get_peer(link);
    rtnl_link_set_name(peer, a->ifname);
    rtnl_link_set_mtu(peer, a->mtu);
    mac = nonnull(nl_addr_build(AF_LLC, a->mac.ea, ETH_ADDR_LEN));
    rtnl_link_set_addr(peer, mac);
    nl_addr_put(mac);
    rtnl_link_set_ns_fd(peer, p->netns_fd);
    rtnl_link_put(peer);

    rtnl_reset(&p->host);
    err = rtnl_link_add(p->host.sk, link, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(link);
    if (err < 0) {
        return rtnl_fail(&p->host, err, errorp, "cannot create veth %s/%s",
                         a->host_ifname, a->ifname);
    }
    return 0;
}

/* Adds 'local' (a family 'family' address with its prefix length), with
 * broadcast address 'brd' if nonnull and IFA_F_* 'flags', to 'ifindex' in
 * the pod.  Takes ownership of 'local' and 'brd'.  'what' names it in an
 * error ("cannot add <what>"). */
static int
add_address_nl(struct plumb *p, int family, struct nl_addr *local,
               struct nl_addr *brd, int flags, int ifindex, const char *what,
               char **errorp)
{
    struct rtnl_addr *addr = nonnull(rtnl_addr_alloc());
    int error = 0;
    int err;

    rtnl_addr_set_ifindex(addr, ifindex);
    rtnl_addr_set_family(addr, family);
    rtnl_addr_set_local(addr, local);
    nl_addr_put(local);
    if (brd) {
        rtnl_addr_set_broadcast(addr, brd);
        nl_addr_put(brd);
    }
    if (flags) {
        rtnl_addr_set_flags(addr, flags);
    }

    rtnl_reset(&p->pod);
    err = rtnl_addr_add(p->pod.sk, addr, NLM_F_EXCL);
    if (err < 0) {
        error = rtnl_fail(&p->pod, err, errorp, "cannot add %s", what);
    }
    rtnl_addr_put(addr);
    return error;
}

static int
add_address(struct plumb *p, const struct pod_attachment *a, int ifindex,
            char **errorp)
{
    if (!a->ip) {
        return 0;
    }
    struct nl_addr *brd = NULL;
    if (a->prefix_len < 31) {
        ovs_be32 mask = be32_prefix_mask(a->prefix_len);
        brd = nl_addr_from_be32(a->ip | ~mask, 32);
    }
    char *what = xasprintf(IP_FMT"/%d to %s", IP_ARGS(a->ip), a->prefix_len,
                           a->ifname);
    int error = add_address_nl(p, AF_INET,
                               nl_addr_from_be32(a->ip, a->prefix_len), brd,
                               0, ifindex, what, errorp);
    free(what);
    return error;
}

static struct nl_addr *
nl_addr_from_in6(const struct in6_addr *ip6, int prefix_len)
{
    struct nl_addr *addr = nonnull(nl_addr_build(AF_INET6, ip6,
                                                 sizeof *ip6));
    nl_addr_set_prefixlen(addr, prefix_len);
    return addr;
}

/* Adds 'a''s IPv6 address, a /64, with no duplicate address detection:
 * a migration target takes it over while the source still has it. */
static int
add_address6(struct plumb *p, const struct pod_attachment *a, int ifindex,
             char **errorp)
{
    char buf[INET6_ADDRSTRLEN];
    char *what = xasprintf("%s/64 to %s (is IPv6 disabled in the pod?)",
                           ipv6_string_mapped(buf, &a->ip6), a->ifname);
    int error = add_address_nl(p, AF_INET6, nl_addr_from_in6(&a->ip6, 64),
                               NULL, IFA_F_NODAD, ifindex, what, errorp);
    free(what);
    return error;
}

/* Adds a main-table route to 'dst' out of 'ifindex', via 'gateway' or, if
 * it is NULL, on-link; both of 'family'.  Takes ownership of 'dst' and
 * 'gateway'.  'what' names it in an error ("cannot add <what>"). */
static int
add_route_nl(struct plumb *p, int family, struct nl_addr *dst,
             struct nl_addr *gateway, int ifindex, const char *what,
             char **errorp)
{
    struct rtnl_route *route = nonnull(rtnl_route_alloc());
    struct rtnl_nexthop *nh = nonnull(rtnl_route_nh_alloc());
    int error = 0;
    int err;

    rtnl_route_set_family(route, family);
    rtnl_route_set_table(route, RT_TABLE_MAIN);
    rtnl_route_set_protocol(route, RTPROT_BOOT);
    rtnl_route_set_type(route, RTN_UNICAST);
    rtnl_route_set_scope(route, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    rtnl_route_set_dst(route, dst);
    nl_addr_put(dst);

    rtnl_route_nh_set_ifindex(nh, ifindex);
    if (gateway) {
        rtnl_route_nh_set_gateway(nh, gateway);
        nl_addr_put(gateway);
    }
    rtnl_route_add_nexthop(route, nh);

    rtnl_reset(&p->pod);
    err = rtnl_route_add(p->pod.sk, route, NLM_F_EXCL);
    if (err < 0) {
        error = rtnl_fail(&p->pod, err, errorp, "cannot add %s", what);
    }
    rtnl_route_put(route);
    return error;
}

/* Adds a main-table route to 'dst'/'plen' out of 'ifindex', via 'gateway'
 * or, if it is 0, on-link. */
static int
add_route(struct plumb *p, ovs_be32 dst, int plen, ovs_be32 gateway,
          int ifindex, const char *ifname, char **errorp)
{
    char *what;
    if (!plen) {
        what = xasprintf("default route via "IP_FMT" dev %s",
                         IP_ARGS(gateway), ifname);
    } else if (gateway) {
        what = xasprintf("route "IP_FMT"/%d via "IP_FMT" dev %s",
                         IP_ARGS(dst), plen, IP_ARGS(gateway), ifname);
    } else {
        what = xasprintf("route "IP_FMT"/%d dev %s", IP_ARGS(dst), plen,
                         ifname);
    }
    int error = add_route_nl(p, AF_INET, nl_addr_from_be32(dst, plen),
                             gateway ? nl_addr_from_be32(gateway, 32) : NULL,
                             ifindex, what, errorp);
    free(what);
    return error;
}

/* The IPv6 default route via 'a''s gateway6, on-link in the /64. */
static int
add_default_route6(struct plumb *p, const struct pod_attachment *a,
                   int ifindex, char **errorp)
{
    char buf[INET6_ADDRSTRLEN];
    char *what = xasprintf("IPv6 default route via %s dev %s",
                           ipv6_string_mapped(buf, &a->gateway6), a->ifname);
    int error = add_route_nl(p, AF_INET6, nl_addr_from_in6(&in6addr_any, 0),
                             nl_addr_from_in6(&a->gateway6, 128), ifindex,
                             what, errorp);
    free(what);
    return error;
}

/* Configures the freshly created pair. */
static int
configure_veth(struct plumb *p, const struct pod_attachment *a,
               char **errorp)
{
    struct sysctl_ctx sysctl = sysctl_ctx_for(a->ifname, false, true);
    struct sysctl_ctx host_sysctl = sysctl_ctx_for(a->host_ifname, true,
                                                   true);
    struct rtnl_link *pod;
    int ifindex;
    int error;

    error = link_get(&p->pod, a->ifname, &pod, errorp);
    if (error) {
        if (error == ENODEV) {
            lb_set_error(errorp, "%s vanished from %s", a->ifname,
                         a->netns_path);
        }
        return error;
    }
    ifindex = rtnl_link_get_ifindex(pod);
    rtnl_link_put(pod);

    /* The sysctls must be in place before the link comes up: that is when
     * IPv6 DAD and the gratuitous ARP of arp_notify would start. */
    error = netns_fd_run(p->netns_fd, sysctl_access, &sysctl, errorp);
    if (!error) {
        error = sysctl_access(&host_sysctl, errorp);   /* Our namespace. */
    }
    if (!error) {
        error = txcsum_disable(p->host_sock, a->host_ifname, errorp);
    }
    if (!error) {
        error = txcsum_disable(p->pod_sock, a->ifname, errorp);
    }

    /* Host end first: routes out of the pod end need it up. */
    if (!error) {
        error = link_set_up(&p->host, a->host_ifname, errorp);
    }
    if (!error) {
        error = link_set_up(&p->pod, "lo", errorp);
    }
    if (!error) {
        error = link_set_up(&p->pod, a->ifname, errorp);
    }
    if (!error) {
        error = add_address(p, a, ifindex, errorp);
    }
    if (!error && a->has_ip6) {
        error = add_address6(p, a, ifindex, errorp);
    }
    if (!error && !ipv6_is_zero(&a->gateway6)) {
        error = add_default_route6(p, a, ifindex, errorp);
    }
    if (!error && a->gateway) {
        if (!gateway_is_on_link(a)) {
            error = add_route(p, a->gateway, 32, 0, ifindex, a->ifname,
                              errorp);
        }
        if (!error) {
            error = add_route(p, 0, 0, a->gateway, ifindex, a->ifname,
                              errorp);
        }
    }
    return error;
}

/* Plumbs attachment 'a': see pod-plumb.h for what that makes.
 *
 * If the attachment is already in place exactly so, does nothing and
 * succeeds.  If 'a->host_ifname' exists but differs, or 'a->ifname' already
 * exists in the pod, returns EEXIST and changes nothing.  On any other
 * failure, removes whatever it had created: a pod is never left half
 * plumbed. */
int
pod_plumb_add(const struct pod_attachment *a, char **errorp)
{
    struct rtnl_link *link;
    struct plumb p;
    int error;

    error = validate_attachment(a, errorp);
    if (error) {
        return error;
    }

    plumb_init(&p);
    error = plumb_open(&p, a->netns_fd, a->netns_path, errorp);
    if (error) {
        goto out;
    }

    error = link_get(&p.host, a->host_ifname, &link, errorp);
    if (!error) {
        char *why = NULL;

        rtnl_link_put(link);
        error = check_attachment(&p, a, &why);
        if (!error) {
            VLOG_DBG("%s: %s already plumbed", a->netns_path, a->ifname);
        } else if (error == ENOENT || error == ESTALE) {
            lb_set_error(errorp, "%s already exists and differs: %s",
                         a->host_ifname, why);
            error = EEXIST;
        } else {
            lb_set_error(errorp, "%s already exists, cannot check it: %s",
                         a->host_ifname, why);
        }
        free(why);
        goto out;
    } else if (error != ENODEV) {
        goto out;
    }

    error = link_get(&p.pod, a->ifname, &link, errorp);
    if (!error) {
        lb_set_error(errorp, "%s: interface %s (MAC "ETH_ADDR_FMT") already "
                     "exists", a->netns_path, a->ifname,
                     ETH_ADDR_ARGS(link_get_mac(link)));
        rtnl_link_put(link);
        error = EEXIST;
        goto out;
    } else if (error != ENODEV) {
        goto out;
    }

    error = create_veth(&p, a, errorp);
    if (error) {
        goto out;
    }
    error = configure_veth(&p, a, errorp);
    if (error) {
        char *undo_error = NULL;
        int undo = link_delete(&p.host, a->host_ifname, &undo_error);

        if (undo && undo != ENODEV) {
            VLOG_ERR_RL(&rl, "%s: could not undo creation of %s: %s",
                        a->netns_path, a->host_ifname, undo_error);
        }
        free(undo_error);
        goto out;
    }
    VLOG_INFO("%s: plumbed %s (host end %s) "ETH_ADDR_FMT" "IP_FMT"/%d",
              a->netns_path, a->ifname, a->host_ifname,
              ETH_ADDR_ARGS(a->mac), IP_ARGS(a->ip), a->prefix_len);

out:
    if (error) {
        VLOG_WARN_RL(&rl, "%s: plumbing %s failed: %s", a->netns_path,
                     a->ifname, errorp && *errorp ? *errorp
                                                  : ovs_strerror(error));
    }
    plumb_close(&p);
    return error;
}

/* Deleting. */

/* Deletes interface 'name' through 'rtnl' if it exists and is a veth,
 * which takes its peer with it. */
static int
delete_veth(struct rtnl *rtnl, const char *name, const char *where,
            bool *deletedp, char **errorp)
{
    struct rtnl_link *link;
    bool is_veth;
    int error;

    *deletedp = false;
    error = link_get(rtnl, name, &link, errorp);
    if (error) {
        return error == ENODEV ? 0 : error;
    }
    is_veth = link_is_veth(link);
    rtnl_link_put(link);
    if (!is_veth) {
        lb_set_error(errorp, "%s%s is not a veth, not deleting it", where,
                     name);
        return EINVAL;
    }

    error = link_delete(rtnl, name, errorp);
    *deletedp = !error;
    return error == ENODEV ? 0 : error;
}

/* Removes a pod attachment: deletes 'host_ifname' if it is nonnull,
 * otherwise 'ifname' in the network namespace 'netns_fd' (either takes its
 * veth peer with it); 'netns_path' names that namespace in messages.
 * 'netns_fd' is -1 if the namespace is gone (the plugin found no file at
 * its path): its interfaces went with it.  Succeeds if the interface, or the
 * namespace, is already gone.  Refuses to delete an interface that is not a
 * veth. */
int
pod_plumb_del(int netns_fd, const char *netns_path, const char *ifname,
              const char *host_ifname, char **errorp)
{
    bool deleted = false;
    struct plumb p;
    int error;

    if (errorp) {
        *errorp = NULL;
    }
    if (host_ifname ? !pod_plumb_ifname_is_valid(host_ifname)
        : !pod_plumb_ifname_is_valid(ifname)) {
        lb_set_error(errorp, "pod_plumb_del needs a valid host interface "
                     "name, or a valid interface name in the pod");
        return EINVAL;
    }

    plumb_init(&p);
    if (host_ifname) {
        error = plumb_open(&p, -1, NULL, errorp);
        if (!error) {
            error = delete_veth(&p.host, host_ifname, "", &deleted, errorp);
        }
    } else if (netns_fd < 0) {
        /* The namespace is gone and its interfaces with it. */
        error = 0;
    } else {
        const char *name = netns_path ? netns_path : "pod";
        char *where = xasprintf("%s: ", name);

        error = plumb_open(&p, netns_fd, name, errorp);
        if (!error) {
            error = delete_veth(&p.pod, ifname, where, &deleted, errorp);
        }
        free(where);
    }
    if (deleted) {
        VLOG_INFO("deleted %s%s%s", host_ifname ? host_ifname : ifname,
                  host_ifname ? "" : " in ",
                  host_ifname || !netns_path ? "" : netns_path);
    }
    plumb_close(&p);
    return error;
}
