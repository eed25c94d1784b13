/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "announce.h"

#include <string.h>
#include "csum.h"

/* Frames are read byte by byte: they come from a guest, so nothing about
 * their length or alignment is assumed. */

#define ETH_LEN 14
#define ARP_LEN 28              /* Ethernet/IPv4 ARP and RARP. */
#define ARP_OP_REVERSE_REQUEST 3
#define IP6_LEN 40
#define ICMP6_NA 136
#define NA_LEN 24               /* ICMPv6 header, flags, target. */
#define NA_FLAG_SOLICITED 0x40  /* In the first byte of the flags. */
#define NA_FLAG_OVERRIDE 0x20
#define ND_OPT_TARGET_LLA 2

static uint16_t
get_be16(const uint8_t *p)
{
    return (p[0] << 8) | p[1];
}

static bool
has_ipv4(const struct lb_announce_port *port, ovs_be32 ip)
{
    for (size_t i = 0; i < port->n_ipv4; i++) {
        if (port->ipv4[i] == ip) {
            return true;
        }
    }
    return false;
}

static bool
has_ipv6(const struct lb_announce_port *port, const uint8_t *addr)
{
    struct in6_addr lla;
    in6_generate_lla(port->mac, &lla);
    if (!memcmp(addr, &lla, sizeof lla)) {
        return true;
    }
    for (size_t i = 0; i < port->n_ipv6; i++) {
        if (!memcmp(addr, &port->ipv6[i], sizeof port->ipv6[i])) {
            return true;
        }
    }
    return false;
}

/* ARP or RARP ('rarp') in the 'len' bytes at 'p', after the Ethernet
 * header. */
static enum lb_announce_kind
classify_arp(const uint8_t *p, size_t len,
             const struct lb_announce_port *port, bool rarp)
{
    if (len < ARP_LEN
        || get_be16(p) != ARP_HRD_ETHERNET || get_be16(p + 2) != ARP_PRO_IP
        || p[4] != ETH_ADDR_LEN || p[5] != 4
        || memcmp(p + 8, port->mac.ea, ETH_ADDR_LEN)) {
        return LB_ANNOUNCE_NONE;
    }
    uint16_t op = get_be16(p + 6);
    if (rarp) {
        return op == ARP_OP_REVERSE_REQUEST ? LB_ANNOUNCE_RARP
                                            : LB_ANNOUNCE_NONE;
    }
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        return LB_ANNOUNCE_NONE;
    }
    ovs_be32 spa, tpa;
    memcpy(&spa, p + 14, sizeof spa);
    memcpy(&tpa, p + 24, sizeof tpa);
    return (spa == tpa && has_ipv4(port, spa) ? LB_ANNOUNCE_GARP
                                              : LB_ANNOUNCE_NONE);
}

/* An unsolicited neighbour advertisement in the 'len' bytes at 'p', after
 * the Ethernet header.  Extension headers are not followed: a NA has
 * none. */
static enum lb_announce_kind
classify_na(const uint8_t *p, size_t len,
            const struct lb_announce_port *port)
{
    if (len < IP6_LEN + NA_LEN || p[0] >> 4 != 6) {
        return LB_ANNOUNCE_NONE;
    }
    size_t payload_len = get_be16(p + 4);
    uint8_t next_header = p[6];
    uint8_t hop_limit = p[7];
    /* Hop limit 255 proves the sender is on the link (RFC 4861 7.1.2).
     * The frame may be longer than the packet (Ethernet padding). */
    if (next_header != IPPROTO_ICMPV6 || hop_limit != 255
        || payload_len < NA_LEN || payload_len > len - IP6_LEN) {
        return LB_ANNOUNCE_NONE;
    }

    const uint8_t *icmp = p + IP6_LEN;
    if (icmp[0] != ICMP6_NA || icmp[1] != 0
        || icmp[4] & NA_FLAG_SOLICITED || !(icmp[4] & NA_FLAG_OVERRIDE)) {
        return LB_ANNOUNCE_NONE;
    }
    for (size_t ofs = NA_LEN; ofs < payload_len;) {
        if (payload_len - ofs < 2) {
            return LB_ANNOUNCE_NONE;
        }
        size_t opt_len = icmp[ofs + 1] * 8;
        if (!opt_len || opt_len > payload_len - ofs) {
            return LB_ANNOUNCE_NONE;        /* RFC 4861 7.1.2: invalid. */
        }
        if (icmp[ofs] == ND_OPT_TARGET_LLA
            && (opt_len != 8
                || memcmp(icmp + ofs + 2, port->mac.ea, ETH_ADDR_LEN))) {
            return LB_ANNOUNCE_NONE;
        }
        ofs += opt_len;
    }
    return has_ipv6(port, icmp + 8) ? LB_ANNOUNCE_NA : LB_ANNOUNCE_NONE;
}

/* What the 'len' bytes at 'data', a whole Ethernet frame, announce of
 * 'port': see announce.h for what each kind must look like. */
enum lb_announce_kind
lb_announce_classify(const void *data, size_t len,
                     const struct lb_announce_port *port)
{
    const uint8_t *p = data;
    if (!p || len < ETH_LEN || memcmp(p + 6, port->mac.ea, ETH_ADDR_LEN)) {
        return LB_ANNOUNCE_NONE;
    }
    switch (get_be16(p + 12)) {
    case ETH_TYPE_RARP:
        return classify_arp(p + ETH_LEN, len - ETH_LEN, port, true);
    case ETH_TYPE_ARP:
        return classify_arp(p + ETH_LEN, len - ETH_LEN, port, false);
    case ETH_TYPE_IPV6:
        return classify_na(p + ETH_LEN, len - ETH_LEN, port);
    default:
        return LB_ANNOUNCE_NONE;    /* Also any VLAN-tagged frame. */
    }
}

const char *
lb_announce_kind_to_string(enum lb_announce_kind kind)
{
    switch (kind) {
    case LB_ANNOUNCE_RARP:
        return "RARP";
    case LB_ANNOUNCE_GARP:
        return "GARP";
    case LB_ANNOUNCE_NA:
        return "NA";
    case LB_ANNOUNCE_NONE:
    default:
        return "none";
    }
}

/* An Ethernet ARP or RARP frame, broadcast from 'mac'. */
static void
compose_arp_frame(struct eth_addr mac, uint16_t ethertype, uint16_t op,
                  struct eth_addr tha, ovs_be32 ip,
                  uint8_t frame[LB_ANNOUNCE_FRAME_LEN])
{
    uint8_t *p = frame;

    memset(frame, 0, LB_ANNOUNCE_FRAME_LEN);
    memset(p, 0xff, ETH_ADDR_LEN);
    memcpy(p + 6, mac.ea, ETH_ADDR_LEN);
    p[12] = ethertype >> 8;
    p[13] = ethertype;
    p += ETH_LEN;
    p[0] = ARP_HRD_ETHERNET >> 8;
    p[1] = ARP_HRD_ETHERNET & 0xff;
    p[2] = ARP_PRO_IP >> 8;
    p[3] = ARP_PRO_IP & 0xff;
    p[4] = ETH_ADDR_LEN;
    p[5] = 4;
    p[6] = op >> 8;
    p[7] = op;
    memcpy(p + 8, mac.ea, ETH_ADDR_LEN);
    memcpy(p + 14, &ip, sizeof ip);
    memcpy(p + 18, tha.ea, ETH_ADDR_LEN);
    memcpy(p + 24, &ip, sizeof ip);
}

/* QEMU's self-announcement: a "reverse request" with sender and target
 * hardware address 'mac' and no IP. */
void
lb_announce_compose_rarp(struct eth_addr mac,
                         uint8_t frame[LB_ANNOUNCE_FRAME_LEN])
{
    compose_arp_frame(mac, ETH_TYPE_RARP, ARP_OP_REVERSE_REQUEST, mac, 0,
                      frame);
}

/* A gratuitous ARP request for 'ip' from 'mac'. */
void
lb_announce_compose_garp(struct eth_addr mac, ovs_be32 ip,
                         uint8_t frame[LB_ANNOUNCE_FRAME_LEN])
{
    compose_arp_frame(mac, ETH_TYPE_ARP, ARP_OP_REQUEST, eth_addr_zero, ip,
                      frame);
}

/* Fills in the IPv6 header of an ICMPv6 packet of 'icmp_len' bytes at
 * 'ip6' (hop limit 255, as neighbour discovery requires) and the ICMPv6
 * checksum over the pseudo-header and the message. */
static void
finish_icmp6(uint8_t *ip6, const struct in6_addr *src,
             const struct in6_addr *dst, size_t icmp_len)
{
    uint8_t *icmp = ip6 + IP6_LEN;

    ip6[0] = 0x60;
    ip6[4] = icmp_len >> 8;
    ip6[5] = icmp_len;
    ip6[6] = IPPROTO_ICMPV6;
    ip6[7] = 255;
    memcpy(ip6 + 8, src, sizeof *src);
    memcpy(ip6 + 24, dst, sizeof *dst);

    uint8_t pseudo[8] = { 0, 0, icmp_len >> 8, icmp_len, 0, 0, 0,
                          IPPROTO_ICMPV6 };
    uint32_t partial = csum_continue(0, ip6 + 8, 32);
    partial = csum_continue(partial, pseudo, sizeof pseudo);
    icmp[2] = icmp[3] = 0;
    partial = csum_continue(partial, icmp, icmp_len);
    ovs_be16 sum = csum_finish(partial);
    memcpy(icmp + 2, &sum, sizeof sum);
}

static void
put_eth(uint8_t *p, struct eth_addr dst, struct eth_addr src)
{
    memcpy(p, dst.ea, ETH_ADDR_LEN);
    memcpy(p + 6, src.ea, ETH_ADDR_LEN);
    p[12] = ETH_TYPE_IPV6 >> 8;
    p[13] = ETH_TYPE_IPV6 & 0xff;
}

/* A link-layer address option of 'type' for 'mac' at 'p'. */
static void
put_lla_option(uint8_t *p, uint8_t type, struct eth_addr mac)
{
    p[0] = type;
    p[1] = 1;
    memcpy(p + 2, mac.ea, ETH_ADDR_LEN);
}

static const struct in6_addr all_nodes = {
    .s6_addr = { 0xff, 0x02, [15] = 1 },
};
static const struct eth_addr all_nodes_mac = {
    .ea = { 0x33, 0x33, 0, 0, 0, 1 },
};

/* The unsolicited neighbour advertisement of 'ip6' at 'mac'. */
void
lb_announce_compose_na(struct eth_addr mac, const struct in6_addr *ip6,
                       uint8_t frame[LB_ANNOUNCE_NA_FRAME_LEN])
{
    memset(frame, 0, LB_ANNOUNCE_NA_FRAME_LEN);
    put_eth(frame, all_nodes_mac, mac);

    uint8_t *icmp = frame + ETH_LEN + IP6_LEN;
    icmp[0] = ICMP6_NA;
    icmp[4] = NA_FLAG_OVERRIDE;
    memcpy(icmp + 8, ip6, sizeof *ip6);
    put_lla_option(icmp + NA_LEN, ND_OPT_TARGET_LLA, mac);
    finish_icmp6(frame + ETH_LEN, ip6, &all_nodes, NA_LEN + 8);
}

static void
put_be32(uint8_t *p, uint32_t x)
{
    p[0] = x >> 24;
    p[1] = x >> 16;
    p[2] = x >> 8;
    p[3] = x;
}

/* See announce.h. */
void
lb_announce_compose_ra(struct eth_addr gw_mac, struct eth_addr dst_mac,
                       const struct in6_addr *prefix, int mtu,
                       uint16_t router_lifetime,
                       uint8_t frame[LB_RA_FRAME_LEN])
{
    enum { RA_LEN = 16, OPT_SLL = 1, OPT_PREFIX = 3, OPT_MTU = 5 };
    const size_t icmp_len = RA_LEN + 8 + 8 + 32;

    memset(frame, 0, LB_RA_FRAME_LEN);
    put_eth(frame, dst_mac, gw_mac);

    uint8_t *icmp = frame + ETH_LEN + IP6_LEN;
    icmp[0] = 134;                  /* Router advertisement. */
    icmp[4] = 64;                   /* Current hop limit. */
    icmp[6] = router_lifetime >> 8;
    icmp[7] = router_lifetime;
    /* Reachable time and retransmission timer: unspecified (0). */

    uint8_t *opt = icmp + RA_LEN;
    put_lla_option(opt, OPT_SLL, gw_mac);
    opt += 8;
    opt[0] = OPT_MTU;
    opt[1] = 1;
    put_be32(opt + 4, mtu);
    opt += 8;
    opt[0] = OPT_PREFIX;
    opt[1] = 4;
    opt[2] = 64;                    /* Prefix length. */
    opt[3] = 0xc0;                  /* On-link (L), autonomous (A). */
    put_be32(opt + 4, UINT32_MAX);  /* Valid lifetime: infinite. */
    put_be32(opt + 8, UINT32_MAX);  /* Preferred lifetime: infinite. */
    memcpy(opt + 16, prefix, sizeof *prefix);

    struct in6_addr src;
    in6_generate_lla(gw_mac, &src);
    finish_icmp6(frame + ETH_LEN, &src, &all_nodes, icmp_len);
}
