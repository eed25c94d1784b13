/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ipam.h"

#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

/* Parses 'cidr' ("10.244.0.0/16") and optional 'gateway' ("10.244.0.1")
 * into 'subnet'.  Returns NULL on success, a malloc()ed message on error
 * (then 'subnet' is untouched). */
char *
lb_ipam_subnet_parse(const char *cidr, const char *gateway,
                     struct lb_ipam_subnet *subnet)
{
    ovs_be32 net, gw = 0;
    unsigned int plen;

    if (!cidr || !strchr(cidr, '/')) {
        return xasprintf("subnet \"%s\": prefix length required",
                         cidr ? cidr : "");
    }
    char *error = ip_parse_cidr(cidr, &net, &plen);
    if (error) {
        char *e = xasprintf("subnet \"%s\": %s", cidr, error);
        free(error);
        return e;
    }
    if (plen < LB_IPAM_MIN_PREFIX || plen > LB_IPAM_MAX_PREFIX) {
        return xasprintf("subnet \"%s\": prefix length %u is outside "
                         "[%d, %d]", cidr, plen, LB_IPAM_MIN_PREFIX,
                         LB_IPAM_MAX_PREFIX);
    }
    if (net & ~be32_prefix_mask(plen)) {
        return xasprintf("subnet \"%s\": host bits are set", cidr);
    }

    struct lb_ipam_subnet s = { .network = net, .prefix_len = plen };
    if (gateway) {
        if (!ip_parse(gateway, &gw)) {
            return xasprintf("gateway \"%s\" is not an IPv4 address",
                             gateway);
        }
        s.gateway = gw;
        uint32_t offset = lb_ipam_offset(&s, gw);
        if (!offset || offset == (UINT32_C(1) << (32 - plen)) - 1) {
            return xasprintf("gateway \"%s\" is not a host address in %s",
                             gateway, cidr);
        }
    }
    *subnet = s;
    return NULL;
}

/* Parses "ADDR" or "FIRST-LAST", IPv4 or IPv6 (both ends the same
 * family, FIRST <= LAST). */
char *
lb_ip_range_parse(const char *s, struct lb_ip_range *range)
{
    char *copy = xstrdup(s);
    char *dash = strchr(copy, '-');
    const char *ends[2] = { copy, dash ? dash + 1 : copy };
    struct in6_addr addrs[2];
    bool v4[2];
    char *error = NULL;

    if (dash) {
        *dash = '\0';
    }
    for (size_t i = 0; i < 2 && !error; i++) {
        ovs_be32 ip4;
        v4[i] = ip_parse(ends[i], &ip4);
        if (v4[i]) {
            in6_addr_set_mapped_ipv4(&addrs[i], ip4);
        } else if (!ipv6_parse(ends[i], &addrs[i])) {
            error = xasprintf("\"%s\" is not an IP address or range", s);
        }
    }
    if (!error && v4[0] != v4[1]) {
        error = xasprintf("\"%s\": both ends must be of one family", s);
    }
    if (!error && memcmp(&addrs[0], &addrs[1], sizeof addrs[0]) > 0) {
        error = xasprintf("\"%s\": the first address is above the last", s);
    }
    if (!error) {
        range->first = addrs[0];
        range->last = addrs[1];
    }
    free(copy);
    return error;
}

static bool
range_contains(const struct lb_ip_range *range, const struct in6_addr *a)
{
    return (memcmp(&range->first, a, sizeof *a) <= 0
            && memcmp(a, &range->last, sizeof *a) <= 0);
}

/* An IPv4 range has both ends IPv4-mapped.  The families stay apart: an
 * IPv6 range that happens to span the mapped block excludes no IPv4
 * address, and an IPv4 range no IPv6 one. */
static bool
range_is_ipv4(const struct lb_ip_range *range)
{
    return (IN6_IS_ADDR_V4MAPPED(&range->first)
            && IN6_IS_ADDR_V4MAPPED(&range->last));
}

bool
lb_ip_range_contains_ipv4(const struct lb_ip_range *range, ovs_be32 ip)
{
    struct in6_addr a;
    in6_addr_set_mapped_ipv4(&a, ip);
    return range_is_ipv4(range) && range_contains(range, &a);
}

bool
lb_ip_range_contains_ipv6(const struct lb_ip_range *range,
                          const struct in6_addr *addr)
{
    return (!range_is_ipv4(range) && !IN6_IS_ADDR_V4MAPPED(addr)
            && range_contains(range, addr));
}

void
lb_ip_range_format(const struct lb_ip_range *range, struct ds *s)
{
    ipv6_format_mapped(&range->first, s);
    if (!ipv6_addr_equals(&range->first, &range->last)) {
        ds_put_char(s, '-');
        ipv6_format_mapped(&range->last, s);
    }
}

/* Whether candidate 'ip' of 'subnet' is excluded: as an IPv4 address, or
 * through the IPv6 address it gives its port. */
static bool
excluded(const struct lb_ipam_subnet *subnet, ovs_be32 ip)
{
    struct in6_addr ip6;
    if (subnet->n_exclude && subnet->prefix6) {
        struct lb_ipam_prefix6 p6 = { .prefix = *subnet->prefix6 };
        lb_ipam_ipv6_address(&p6, lb_ipam_mac(ip), &ip6);
    }
    for (size_t i = 0; i < subnet->n_exclude; i++) {
        const struct lb_ip_range *r = &subnet->exclude[i];
        if ((!subnet->hosts_only && lb_ip_range_contains_ipv4(r, ip))
            || (subnet->prefix6 && lb_ip_range_contains_ipv6(r, &ip6))) {
            return true;
        }
    }
    return false;
}

bool
lb_ipam_subnet_contains(const struct lb_ipam_subnet *subnet, ovs_be32 ip)
{
    return (ip & be32_prefix_mask(subnet->prefix_len)) == subnet->network;
}

/* Returns 'ip''s offset from 'subnet''s network address, 0 if 'ip' is not
 * in 'subnet' (or is the network address). */
uint32_t
lb_ipam_offset(const struct lb_ipam_subnet *subnet, ovs_be32 ip)
{
    return (lb_ipam_subnet_contains(subnet, ip)
            ? ntohl(ip) - ntohl(subnet->network) : 0);
}

static uint32_t
subnet_size(const struct lb_ipam_subnet *subnet)
{
    return UINT32_C(1) << (32 - subnet->prefix_len);
}

static uint32_t
gateway_offset(const struct lb_ipam_subnet *subnet)
{
    return subnet->gateway ? lb_ipam_offset(subnet, subnet->gateway) : 0;
}

/* The number of addresses 'subnet' can give out. */
uint32_t
lb_ipam_n_candidates(const struct lb_ipam_subnet *subnet)
{
    return subnet_size(subnet) - 2 - (gateway_offset(subnet) ? 1 : 0);
}

bool
lb_ipam_is_candidate(const struct lb_ipam_subnet *subnet, ovs_be32 ip)
{
    uint32_t offset = lb_ipam_offset(subnet, ip);
    return (offset && offset < subnet_size(subnet) - 1
            && offset != gateway_offset(subnet));
}

/* Iterates over 'subnet''s candidates in address order: start with '*ip'
 * 0.  Returns false, leaving '*ip' alone, after the last one. */
bool
lb_ipam_next_candidate(const struct lb_ipam_subnet *subnet, ovs_be32 *ip)
{
    uint32_t offset = *ip ? lb_ipam_offset(subnet, *ip) : 0;
    if (*ip && !offset) {
        return false;
    }
    for (offset++; offset < subnet_size(subnet) - 1; offset++) {
        if (offset != gateway_offset(subnet)) {
            *ip = htonl(ntohl(subnet->network) + offset);
            return true;
        }
    }
    return false;
}

/* The port key (tunnel key) of the port whose first address is 'ip': the
 * switch key in the top bits and the host part below, unique cluster-wide
 * because the address is.  Returns 0 if 'ip' is not a candidate of 'subnet'
 * or 'switch_key' is out of range. */
uint32_t
lb_ipam_port_key(uint32_t switch_key, const struct lb_ipam_subnet *subnet,
                 ovs_be32 ip)
{
    if (!switch_key || switch_key > 127
        || subnet->prefix_len < LB_IPAM_MIN_PREFIX
        || !lb_ipam_is_candidate(subnet, ip)) {
        return 0;
    }
    return (switch_key << 24) | lb_ipam_offset(subnet, ip);
}

/* The MAC of the port whose first address is 'ip': 0a:58 and the address,
 * locally administered and stable as the address is. */
struct eth_addr
lb_ipam_mac(ovs_be32 ip)
{
    const uint8_t *b = (const uint8_t *) &ip;
    return (struct eth_addr) { .ea = { 0x0a, 0x58, b[0], b[1], b[2], b[3] } };
}

/* The name of the IPAllocation object for 'ip' on 'switch_name':
 * "<switch>-<ip with dots as dashes>". */
char *
lb_ipam_allocation_name(const char *switch_name, ovs_be32 ip)
{
    const uint8_t *b = (const uint8_t *) &ip;
    return xasprintf("%s-%u-%u-%u-%u", switch_name, b[0], b[1], b[2], b[3]);
}

/* The logical port name for LogicalPort 'name' in namespace 'ns'. */
char *
lb_ipam_port_name(const char *ns, const char *name)
{
    return xasprintf("%s_%s", ns, name);
}

static int
compare_u32(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_;
    uint32_t b = *(const uint32_t *) b_;
    return a < b ? -1 : a > b;
}

/* Chooses a free address in 'subnet' for 'port_name': the first candidate
 * not among the 'n_used' addresses in 'used', starting from a position
 * that hashes 'port_name', so that agents allocating for different ports
 * at once rarely race for the same address.  Deterministic for given
 * inputs: after losing a race (AlreadyExists), add the address to 'used'
 * and call again.  Never an address in the subnet's excluded ranges, nor
 * one whose port's IPv6 address would be.
 * Returns false if the subnet is full. */
bool
lb_ipam_pick(const struct lb_ipam_subnet *subnet, const ovs_be32 *used,
             size_t n_used, const char *port_name, ovs_be32 *ip)
{
    uint32_t n = lb_ipam_n_candidates(subnet);
    uint32_t gw = gateway_offset(subnet);
    if (!n) {
        return false;
    }

    /* Offsets of used addresses inside the subnet, sorted for lookup. */
    uint32_t *offsets = xmalloc((n_used ? n_used : 1) * sizeof *offsets);
    size_t n_offsets = 0;
    for (size_t i = 0; i < n_used; i++) {
        if (lb_ipam_is_candidate(subnet, used[i])) {
            offsets[n_offsets++] = lb_ipam_offset(subnet, used[i]);
        }
    }
    qsort(offsets, n_offsets, sizeof *offsets, compare_u32);
    size_t n_unique = 0;
    for (size_t i = 0; i < n_offsets; i++) {
        if (!n_unique || offsets[n_unique - 1] != offsets[i]) {
            offsets[n_unique++] = offsets[i];
        }
    }
    n_offsets = n_unique;

    bool found = false;
    uint32_t start = hash_string(port_name ? port_name : "", 0) % n;
    for (uint32_t k = 0; k < n && n_offsets < n; k++) {
        /* Candidate index -> offset: skip the network address (offset 0)
         * and the gateway. */
        uint32_t offset = (start + k) % n + 1;
        if (gw && offset >= gw) {
            offset++;
        }
        ovs_be32 candidate = htonl(ntohl(subnet->network) + offset);
        if (!bsearch(&offset, offsets, n_offsets, sizeof *offsets,
                     compare_u32) && !excluded(subnet, candidate)) {
            *ip = candidate;
            found = true;
            break;
        }
    }
    free(offsets);
    return found;
}

/* IPv6. */

/* The host numbers of IPv6-only switches: 0.0.0.1 to 0.255.255.254 as if
 * addresses of 0.0.0.0/8, so that lb_ipam_pick(), lb_ipam_port_key() and
 * lb_ipam_mac() serve them unchanged.  No real subnet is in 0.0.0.0/8
 * ("this network"), so such a MAC never equals an IPv4-derived one. */
const struct lb_ipam_subnet LB_IPAM_V6ONLY_HOSTS = {
    .network = 0, .prefix_len = 8, .gateway = 0, .hosts_only = true,
};

/* Parses an IPv6 address 's' into 'addr'.  Returns NULL or a malloc()ed
 * message. */
char *
lb_ipam_ipv6_parse(const char *s, struct in6_addr *addr)
{
    if (!s || !ipv6_parse(s, addr)) {
        return xasprintf("\"%s\" is not an IPv6 address", s ? s : "");
    }
    return NULL;
}

/* True if 'addr''s interface identifier is one lb_ipam_ipv6_address()
 * gives to some port: the modified EUI-64 of a 0a:58 MAC. */
static bool
is_port_iid(const struct in6_addr *addr)
{
    struct eth_addr mac;
    return (lb_ipam_ipv6_mac(addr, &mac)
            && mac.ea[0] == 0x0a && mac.ea[1] == 0x58);
}

/* Parses 'cidr' ("fd00:10:244::/64") and optional 'gateway'
 * ("fd00:10:244::1") into 'p'.  Returns NULL on success, a malloc()ed
 * message on error (then 'p' is untouched). */
char *
lb_ipam_prefix6_parse(const char *cidr, const char *gateway,
                      struct lb_ipam_prefix6 *p)
{
    struct in6_addr net, gw;
    unsigned int plen;

    if (!cidr || !strchr(cidr, '/')) {
        return xasprintf("IPv6 prefix \"%s\": prefix length required",
                         cidr ? cidr : "");
    }
    char *error = ipv6_parse_cidr(cidr, &net, &plen);
    if (error) {
        char *e = xasprintf("IPv6 prefix \"%s\": %s", cidr, error);
        free(error);
        return e;
    }
    if (plen != LB_IPAM_PREFIX6_LEN) {
        return xasprintf("IPv6 prefix \"%s\": prefix length must be %d "
                         "(SLAAC and EUI-64 addresses need it), not %u",
                         cidr, LB_IPAM_PREFIX6_LEN, plen);
    }
    struct in6_addr mask = ipv6_create_mask(plen);
    struct in6_addr masked = ipv6_addr_bitand(&net, &mask);
    if (!ipv6_addr_equals(&masked, &net)) {
        return xasprintf("IPv6 prefix \"%s\": host bits are set", cidr);
    }
    if (ipv6_addr_is_multicast(&net)
        || (net.s6_addr[0] == 0xfe && (net.s6_addr[1] & 0xc0) == 0x80)
        || IN6_IS_ADDR_V4MAPPED(&net) || ipv6_is_zero(&net)) {
        return xasprintf("IPv6 prefix \"%s\": not a unicast global or "
                         "unique local prefix", cidr);
    }

    struct lb_ipam_prefix6 r = { .prefix = net };
    if (gateway) {
        error = lb_ipam_ipv6_parse(gateway, &gw);
        if (error) {
            char *e = xasprintf("gateway6 %s", error);
            free(error);
            return e;
        }
        if (!lb_ipam_prefix6_contains(&r, &gw) || ipv6_addr_equals(&gw,
                                                                   &net)) {
            return xasprintf("gateway6 \"%s\" is not a host address in %s",
                             gateway, cidr);
        }
        if (is_port_iid(&gw)) {
            return xasprintf("gateway6 \"%s\" has a port's interface "
                             "identifier (EUI-64 of a 0a:58 MAC)", gateway);
        }
        r.gateway = gw;
    }
    *p = r;
    return NULL;
}

bool
lb_ipam_prefix6_contains(const struct lb_ipam_prefix6 *p,
                         const struct in6_addr *addr)
{
    return !memcmp(addr, &p->prefix, LB_IPAM_PREFIX6_LEN / 8);
}

/* The address of the port with MAC 'mac' in 'p': prefix + EUI-64. */
void
lb_ipam_ipv6_address(const struct lb_ipam_prefix6 *p, struct eth_addr mac,
                     struct in6_addr *addr)
{
    in6_generate_eui64(mac, &p->prefix, addr);
}

/* The MAC whose modified EUI-64 is 'addr''s interface identifier, if it is
 * one (ff:fe in the middle). */
bool
lb_ipam_ipv6_mac(const struct in6_addr *addr, struct eth_addr *mac)
{
    const uint8_t *b = addr->s6_addr;
    if (b[11] != 0xff || b[12] != 0xfe) {
        return false;
    }
    *mac = (struct eth_addr) { .ea = { b[8] ^ 0x02, b[9], b[10],
                                       b[13], b[14], b[15] } };
    return true;
}

/* On an IPv6-only switch with prefix 'p': the host number (an address of
 * LB_IPAM_V6ONLY_HOSTS) of the port whose address is 'addr', if 'addr' is
 * one the agent gives out. */
bool
lb_ipam_v6only_host(const struct lb_ipam_prefix6 *p,
                    const struct in6_addr *addr, ovs_be32 *host)
{
    struct eth_addr mac;
    if (!lb_ipam_prefix6_contains(p, addr) || !lb_ipam_ipv6_mac(addr, &mac)
        || mac.ea[0] != 0x0a || mac.ea[1] != 0x58 || mac.ea[2]) {
        return false;
    }
    ovs_be32 h = htonl((mac.ea[3] << 16) | (mac.ea[4] << 8) | mac.ea[5]);
    if (!lb_ipam_is_candidate(&LB_IPAM_V6ONLY_HOSTS, h)) {
        return false;
    }
    *host = h;
    return true;
}

/* The MAC of switch 'switch_key''s IPv6 gateway, the source of its router
 * advertisements and neighbour advertisements: 0a:59 (never a port's
 * 0a:58), then the key. */
struct eth_addr
lb_ipam_gateway6_mac(uint32_t switch_key)
{
    return (struct eth_addr) { .ea = { 0x0a, 0x59, 0,
                                       (switch_key >> 16) & 0xff,
                                       (switch_key >> 8) & 0xff,
                                       switch_key & 0xff } };
}

/* The name of the IPAllocation object for 'addr' on 'switch_name':
 * "<switch>-<the 32 hex digits>", a valid object name whatever the
 * address. */
char *
lb_ipam_allocation_name6(const char *switch_name, const struct in6_addr *addr)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "%s-", switch_name);
    for (size_t i = 0; i < 16; i++) {
        ds_put_format(&s, "%02x", addr->s6_addr[i]);
    }
    return ds_steal_cstr(&s);
}
