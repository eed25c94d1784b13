/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Which frames activate a migrating port: a VM's own RARP, gratuitous ARP
 * (request and reply) and unsolicited IPv6 neighbour advertisement, and
 * nothing else. */

#include <config.h>
#include "announce.h"
#include "csum.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/util.h"

#define VM_MAC "0a:58:0a:1e:00:05"
#define OTHER_MAC "0a:58:de:ad:be:ef"

struct fixture {
    ovs_be32 ipv4[2];
    struct in6_addr ipv6[1];
    struct lb_announce_port port;
};

static struct eth_addr
mac(const char *s)
{
    struct eth_addr ea;
    assert_true(eth_addr_from_string(s, &ea));
    return ea;
}

static ovs_be32
ip4(const char *s)
{
    ovs_be32 addr;
    assert_true(ip_parse(s, &addr));
    return addr;
}

static struct in6_addr
ip6(const char *s)
{
    struct in6_addr addr;
    assert_int_equal(inet_pton(AF_INET6, s, &addr), 1);
    return addr;
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    f->ipv4[0] = ip4("10.30.0.5");
    f->ipv4[1] = ip4("192.168.7.5");
    f->ipv6[0] = ip6("fd00:30::5");
    f->port = (struct lb_announce_port) {
        .mac = mac(VM_MAC), .ipv4 = f->ipv4, .n_ipv4 = 2,
        .ipv6 = f->ipv6, .n_ipv6 = 1,
    };
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

/* Classifies the whole frame, then checks that every truncation of it is
 * no announcement (and is read safely: ASan watches). */
static enum lb_announce_kind
classify(const struct fixture *f, const uint8_t *frame, size_t len)
{
    enum lb_announce_kind kind = lb_announce_classify(frame, len, &f->port);
    for (size_t i = 0; i < len; i++) {
        uint8_t *copy = xmemdup(frame, i);
        enum lb_announce_kind k = lb_announce_classify(copy, i, &f->port);
        /* Only trailing Ethernet padding may go. */
        if (k != LB_ANNOUNCE_NONE && k != kind) {
            fail_msg("a %zu-byte truncation is a %s", i,
                     lb_announce_kind_to_string(k));
        }
        free(copy);
    }
    return kind;
}

/* An ARP-shaped frame: ethertype 'type', opcode 'op', sender 'sha'/'spa',
 * target 'tpa'. */
static void
arp_frame(uint8_t frame[LB_ANNOUNCE_FRAME_LEN], const char *src,
          uint16_t type, uint16_t op, const char *sha, const char *spa,
          const char *tpa)
{
    memset(frame, 0, LB_ANNOUNCE_FRAME_LEN);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, mac(src).ea, 6);
    frame[12] = type >> 8;
    frame[13] = type;
    uint8_t *p = frame + 14;
    p[1] = 1;
    p[2] = 0x08;
    p[4] = 6;
    p[5] = 4;
    p[7] = op;
    memcpy(p + 8, mac(sha).ea, 6);
    ovs_be32 a = ip4(spa), b = ip4(tpa);
    memcpy(p + 14, &a, 4);
    memcpy(p + 24, &b, 4);
}

static void
test_rarp(void **state)
{
    const struct fixture *f = *state;
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];

    /* QEMU's, as the agent itself composes it. */
    lb_announce_compose_rarp(mac(VM_MAC), frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_RARP);
    assert_string_equal(lb_announce_kind_to_string(LB_ANNOUNCE_RARP),
                        "RARP");

    /* Another MAC, as the Ethernet source or as the sender. */
    lb_announce_compose_rarp(mac(OTHER_MAC), frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);
    arp_frame(frame, VM_MAC, 0x8035, 3, OTHER_MAC, "0.0.0.0", "0.0.0.0");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);
    arp_frame(frame, OTHER_MAC, 0x8035, 3, VM_MAC, "0.0.0.0", "0.0.0.0");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* A RARP reply is no announcement. */
    arp_frame(frame, VM_MAC, 0x8035, 4, VM_MAC, "0.0.0.0", "0.0.0.0");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* Not Ethernet/IPv4. */
    lb_announce_compose_rarp(mac(VM_MAC), frame);
    frame[14 + 5] = 16;
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);
}

static void
test_garp(void **state)
{
    const struct fixture *f = *state;
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];

    /* Request form, for each of the port's addresses. */
    lb_announce_compose_garp(mac(VM_MAC), ip4("10.30.0.5"), frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_GARP);
    arp_frame(frame, VM_MAC, 0x0806, 1, VM_MAC, "192.168.7.5",
              "192.168.7.5");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_GARP);

    /* Reply form. */
    arp_frame(frame, VM_MAC, 0x0806, 2, VM_MAC, "10.30.0.5", "10.30.0.5");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_GARP);

    /* An ordinary ARP request: not gratuitous. */
    arp_frame(frame, VM_MAC, 0x0806, 1, VM_MAC, "10.30.0.5", "10.30.0.1");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* Gratuitous, but for an address that is not the port's. */
    lb_announce_compose_garp(mac(VM_MAC), ip4("10.30.0.6"), frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* Another sender MAC, or another Ethernet source. */
    arp_frame(frame, VM_MAC, 0x0806, 1, OTHER_MAC, "10.30.0.5", "10.30.0.5");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);
    lb_announce_compose_garp(mac(OTHER_MAC), ip4("10.30.0.5"), frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* An opcode that is neither request nor reply. */
    arp_frame(frame, VM_MAC, 0x0806, 3, VM_MAC, "10.30.0.5", "10.30.0.5");
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);

    /* A port without IPv4 addresses has no GARP. */
    struct lb_announce_port v6only = f->port;
    v6only.n_ipv4 = 0;
    lb_announce_compose_garp(mac(VM_MAC), ip4("10.30.0.5"), frame);
    assert_int_equal(lb_announce_classify(frame, sizeof frame, &v6only),
                     LB_ANNOUNCE_NONE);
}

struct na {
    const char *src;            /* Ethernet source. */
    uint8_t hop_limit;
    uint8_t type;
    uint8_t flags;              /* First byte: R 0x80, S 0x40, O 0x20. */
    struct in6_addr target;
    const char *tlla;           /* Target link-layer address option. */
    size_t padding;             /* Bytes after the packet. */
};

#define NA_FLAGS_UNSOLICITED 0x20
#define NA_FLAGS_SOLICITED 0x60

/* An IPv6 NA frame as 'na' describes it, in 'frame'; returns its length. */
static size_t
na_frame(uint8_t *frame, const struct na *na)
{
    size_t icmp_len = 24 + (na->tlla ? 8 : 0);
    size_t len = 14 + 40 + icmp_len;

    memset(frame, 0, len + na->padding);
    memcpy(frame, (uint8_t[]) { 0x33, 0x33, 0, 0, 0, 1 }, 6);
    memcpy(frame + 6, mac(na->src).ea, 6);
    frame[12] = 0x86;
    frame[13] = 0xdd;

    uint8_t *ip = frame + 14;
    ip[0] = 0x60;
    ip[4] = icmp_len >> 8;
    ip[5] = icmp_len;
    ip[6] = 58;
    ip[7] = na->hop_limit;
    memcpy(ip + 8, &na->target, 16);
    struct in6_addr all_nodes = ip6("ff02::1");
    memcpy(ip + 24, &all_nodes, 16);

    uint8_t *icmp = ip + 40;
    icmp[0] = na->type;
    icmp[4] = na->flags;
    memcpy(icmp + 8, &na->target, 16);
    if (na->tlla) {
        icmp[24] = 2;
        icmp[25] = 1;
        memcpy(icmp + 26, mac(na->tlla).ea, 6);
    }
    return len + na->padding;
}

static struct na
good_na(void)
{
    struct na na = {
        .src = VM_MAC, .hop_limit = 255, .type = 136,
        .flags = NA_FLAGS_UNSOLICITED, .tlla = VM_MAC,
    };
    in6_generate_lla(mac(VM_MAC), &na.target);
    return na;
}

static enum lb_announce_kind
classify_na(const struct fixture *f, const struct na *na)
{
    uint8_t frame[256];
    return classify(f, frame, na_frame(frame, na));
}

static void
test_na(void **state)
{
    const struct fixture *f = *state;
    struct na na;

    /* Unsolicited, for the link-local address the MAC gives, with and
     * without the target link-layer address option, padded or not. */
    na = good_na();
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NA);
    na.tlla = NULL;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NA);
    na.padding = 18;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NA);

    /* For one of the port's other IPv6 addresses. */
    na = good_na();
    na.target = ip6("fd00:30::5");
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NA);

    /* For an address that is not the port's. */
    na.target = ip6("fd00:30::6");
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);
    in6_generate_lla(mac(OTHER_MAC), &na.target);
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);

    /* Solicited, or without Override. */
    na = good_na();
    na.flags = NA_FLAGS_SOLICITED;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);
    na.flags = 0;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);

    /* Not from the link (hop limit below 255). */
    na = good_na();
    na.hop_limit = 64;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);

    /* From another MAC, or naming another link-layer address. */
    na = good_na();
    na.src = OTHER_MAC;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);
    na = good_na();
    na.tlla = OTHER_MAC;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);

    /* Other ICMPv6 from the VM's MAC: solicitation, echo request. */
    na = good_na();
    na.type = 135;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);
    na.type = 128;
    assert_int_equal(classify_na(f, &na), LB_ANNOUNCE_NONE);
}

/* Sets '*byte' to 'value' in the 'len'-byte 'frame', checks that makes it
 * no announcement, and puts the byte back. */
static void
assert_spoils(const struct fixture *f, const uint8_t *frame, size_t len,
              uint8_t *byte, uint8_t value)
{
    uint8_t old = *byte;
    *byte = value;
    assert_int_equal(lb_announce_classify(frame, len, &f->port),
                     LB_ANNOUNCE_NONE);
    *byte = old;
}

static void
test_na_malformed(void **state)
{
    const struct fixture *f = *state;
    uint8_t frame[256];
    struct na na = good_na();
    size_t len = na_frame(frame, &na);
    uint8_t *ip = frame + 14, *icmp = ip + 40;

    /* Payload length beyond the frame. */
    assert_spoils(f, frame, len, &ip[5], ip[5] + 8);
    /* Not ICMPv6 directly (an extension header first). */
    assert_spoils(f, frame, len, &ip[6], 0);
    /* IPv4 in an IPv6 frame. */
    assert_spoils(f, frame, len, &ip[0], 0x45);
    /* A zero-length option, and one that overruns the packet. */
    assert_spoils(f, frame, len, &icmp[25], 0);
    assert_spoils(f, frame, len, &icmp[25], 2);
    /* A nonzero code. */
    assert_spoils(f, frame, len, &icmp[1], 1);

    assert_int_equal(lb_announce_classify(frame, len, &f->port),
                     LB_ANNOUNCE_NA);
}

static void
test_other_frames(void **state)
{
    const struct fixture *f = *state;
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];

    /* Nothing at all. */
    assert_int_equal(lb_announce_classify(NULL, 0, &f->port),
                     LB_ANNOUNCE_NONE);

    /* A VLAN-tagged RARP: pods' ports are access ports. */
    uint8_t tagged[LB_ANNOUNCE_FRAME_LEN + 4];
    lb_announce_compose_rarp(mac(VM_MAC), frame);
    memcpy(tagged, frame, 12);
    memcpy(tagged + 12, (uint8_t[]) { 0x81, 0x00, 0x00, 0x05 }, 4);
    memcpy(tagged + 16, frame + 12, sizeof frame - 12);
    assert_int_equal(classify(f, tagged, sizeof tagged), LB_ANNOUNCE_NONE);

    /* IPv4 from the VM's MAC. */
    memset(frame, 0, sizeof frame);
    memcpy(frame + 6, mac(VM_MAC).ea, 6);
    frame[12] = 0x08;
    frame[14] = 0x45;
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NONE);
}

/* Whether the ICMPv6 checksum of the IPv6 packet in 'frame' is right:
 * the sum over pseudo-header and message, checksum included, is 0. */
static bool
icmp6_csum_ok(const uint8_t *frame)
{
    const uint8_t *ip6 = frame + 14;
    size_t len = (ip6[4] << 8) | ip6[5];
    uint8_t pseudo[8] = { 0, 0, len >> 8, len, 0, 0, 0, 58 };
    uint32_t partial = csum_continue(0, ip6 + 8, 32);
    partial = csum_continue(partial, pseudo, sizeof pseudo);
    partial = csum_continue(partial, ip6 + 40, len);
    return !csum_finish(partial);
}

/* The NAs the agent sends for the VM are what the classifier takes. */
static void
test_compose_na(void **state)
{
    const struct fixture *f = *state;
    uint8_t frame[LB_ANNOUNCE_NA_FRAME_LEN];

    lb_announce_compose_na(f->port.mac, &f->ipv6[0], frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NA);
    assert_true(icmp6_csum_ok(frame));
    /* To all nodes, from the address itself. */
    assert_memory_equal(frame, mac("33:33:00:00:00:01").ea, 6);
    struct in6_addr dst = ip6("ff02::1");
    assert_memory_equal(frame + 14 + 24, &dst, 16);
    assert_memory_equal(frame + 14 + 8, &f->ipv6[0], 16);

    struct in6_addr lla;
    in6_generate_lla(f->port.mac, &lla);
    lb_announce_compose_na(f->port.mac, &lla, frame);
    assert_int_equal(classify(f, frame, sizeof frame), LB_ANNOUNCE_NA);
    assert_true(icmp6_csum_ok(frame));

    /* Not another port's. */
    lb_announce_compose_na(mac(OTHER_MAC), &f->ipv6[0], frame);
    assert_int_equal(lb_announce_classify(frame, sizeof frame, &f->port),
                     LB_ANNOUNCE_NONE);
}

static void
test_compose_ra(void **state OVS_UNUSED)
{
    uint8_t frame[LB_RA_FRAME_LEN];
    struct in6_addr prefix = ip6("fd00:30::");
    struct eth_addr gw = mac("0a:59:00:00:00:01");

    lb_announce_compose_ra(gw, mac(VM_MAC), &prefix, 1400, 1800, frame);
    assert_true(icmp6_csum_ok(frame));
    assert_memory_equal(frame, mac(VM_MAC).ea, 6);
    assert_memory_equal(frame + 6, gw.ea, 6);
    const uint8_t *ip = frame + 14;
    assert_int_equal(ip[7], 255);
    struct in6_addr src = ip6("fe80::859:ff:fe00:1");
    assert_memory_equal(ip + 8, &src, 16);
    const uint8_t *ra = ip + 40;
    assert_int_equal(ra[0], 134);
    assert_int_equal((ra[6] << 8) | ra[7], 1800);
    /* Options: source link-layer address, MTU, prefix (L and A). */
    assert_int_equal(ra[16], 1);
    assert_memory_equal(ra + 18, gw.ea, 6);
    assert_int_equal(ra[24], 5);
    assert_int_equal((ra[30] << 8) | ra[31], 1400);
    assert_int_equal(ra[32], 3);
    assert_int_equal(ra[33], 4);
    assert_int_equal(ra[34], 64);
    assert_int_equal(ra[35], 0xc0);
    assert_memory_equal(ra + 48, &prefix, 16);
    assert_int_equal(40 + 64, (ip[4] << 8 | ip[5]) + 40);

    /* No gateway: a prefix for SLAAC, no default router. */
    lb_announce_compose_ra(gw, mac(VM_MAC), &prefix, 1400, 0, frame);
    assert_true(icmp6_csum_ok(frame));
    assert_int_equal(frame[14 + 40 + 6] | frame[14 + 40 + 7], 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rarp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_na, setup, teardown),
        cmocka_unit_test_setup_teardown(test_na_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compose_na, setup, teardown),
        cmocka_unit_test(test_compose_ra),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
