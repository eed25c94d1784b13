/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ipam.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/util.h"

static ovs_be32
ip(const char *s)
{
    ovs_be32 addr;
    assert_true(ip_parse(s, &addr));
    return addr;
}

static void
assert_error_contains(char *error, const char *needle)
{
    assert_non_null(error);
    if (!strstr(error, needle)) {
        fail_msg("error \"%s\" lacks \"%s\"", error, needle);
    }
    free(error);
}

static void
test_subnet_parse(void **state OVS_UNUSED)
{
    struct lb_ipam_subnet s;

    assert_null(lb_ipam_subnet_parse("10.244.0.0/16", "10.244.0.1", &s));
    assert_int_equal(s.network, ip("10.244.0.0"));
    assert_int_equal(s.prefix_len, 16);
    assert_int_equal(s.gateway, ip("10.244.0.1"));

    assert_null(lb_ipam_subnet_parse("192.168.1.0/24", NULL, &s));
    assert_int_equal(s.gateway, 0);

    /* Errors leave 's' alone. */
    struct lb_ipam_subnet before = s;
    assert_error_contains(lb_ipam_subnet_parse("10.244.0.0", NULL, &s),
                          "prefix length required");
    assert_error_contains(lb_ipam_subnet_parse("10.244.0.5/16", NULL, &s),
                          "host bits");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/7", NULL, &s),
                          "outside");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/31", NULL, &s),
                          "outside");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.300/24", NULL, &s),
                          "10.0.0.300/24");
    assert_error_contains(lb_ipam_subnet_parse("garbage/x", NULL, &s),
                          "garbage");
    assert_error_contains(lb_ipam_subnet_parse(NULL, NULL, &s),
                          "prefix length required");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/24", "10.0.1.1",
                                               &s), "not a host address");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/24", "10.0.0.0",
                                               &s), "not a host address");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/24", "10.0.0.255",
                                               &s), "not a host address");
    assert_error_contains(lb_ipam_subnet_parse("10.0.0.0/24", "gw", &s),
                          "not an IPv4 address");
    assert_memory_equal(&s, &before, sizeof s);
}

static void
test_candidates(void **state OVS_UNUSED)
{
    struct lb_ipam_subnet s;
    assert_null(lb_ipam_subnet_parse("10.0.0.0/29", "10.0.0.1", &s));

    /* .0 network, .1 gateway, .7 broadcast: .2 to .6 remain. */
    assert_int_equal(lb_ipam_n_candidates(&s), 5);
    ovs_be32 addr = 0;
    const char *expected[] = { "10.0.0.2", "10.0.0.3", "10.0.0.4",
                               "10.0.0.5", "10.0.0.6" };
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        assert_true(lb_ipam_next_candidate(&s, &addr));
        assert_int_equal(addr, ip(expected[i]));
        assert_true(lb_ipam_is_candidate(&s, addr));
    }
    assert_false(lb_ipam_next_candidate(&s, &addr));
    assert_int_equal(addr, ip("10.0.0.6"));

    assert_false(lb_ipam_is_candidate(&s, ip("10.0.0.0")));
    assert_false(lb_ipam_is_candidate(&s, ip("10.0.0.1")));
    assert_false(lb_ipam_is_candidate(&s, ip("10.0.0.7")));
    assert_false(lb_ipam_is_candidate(&s, ip("10.0.0.8")));

    /* Without a gateway, .1 is a candidate; outside addresses end the
     * iteration. */
    assert_null(lb_ipam_subnet_parse("10.0.0.0/30", NULL, &s));
    assert_int_equal(lb_ipam_n_candidates(&s), 2);
    addr = 0;
    assert_true(lb_ipam_next_candidate(&s, &addr));
    assert_int_equal(addr, ip("10.0.0.1"));
    addr = ip("192.168.0.1");
    assert_false(lb_ipam_next_candidate(&s, &addr));

    /* A gateway in the middle is skipped. */
    assert_null(lb_ipam_subnet_parse("10.0.0.0/29", "10.0.0.4", &s));
    addr = ip("10.0.0.3");
    assert_true(lb_ipam_next_candidate(&s, &addr));
    assert_int_equal(addr, ip("10.0.0.5"));
}

static void
test_names_keys_macs(void **state OVS_UNUSED)
{
    struct lb_ipam_subnet s;
    assert_null(lb_ipam_subnet_parse("10.16.0.0/16", "10.16.0.1", &s));

    /* The fixture VM's port: switch key 1, offset 10. */
    assert_int_equal(lb_ipam_port_key(1, &s, ip("10.16.0.10")),
                     (1u << 24) | 10);
    assert_int_equal(lb_ipam_port_key(127, &s, ip("10.16.255.254")),
                     (127u << 24) | 0xfffe);
    assert_int_equal(lb_ipam_port_key(1, &s, ip("10.17.0.10")), 0);
    assert_int_equal(lb_ipam_port_key(1, &s, ip("10.16.0.0")), 0);
    assert_int_equal(lb_ipam_port_key(1, &s, ip("10.16.0.1")), 0);
    assert_int_equal(lb_ipam_port_key(1, &s, ip("10.16.255.255")), 0);
    assert_int_equal(lb_ipam_port_key(0, &s, ip("10.16.0.10")), 0);
    assert_int_equal(lb_ipam_port_key(128, &s, ip("10.16.0.10")), 0);
    assert_true(lb_ipam_port_key(127, &s, ip("10.16.255.254"))
                <= (1u << 31) - 1);

    struct eth_addr mac = lb_ipam_mac(ip("10.16.0.10"));
    struct eth_addr expected;
    assert_true(eth_addr_from_string("0a:58:0a:10:00:0a", &expected));
    assert_true(eth_addr_equals(mac, expected));
    assert_false(eth_addr_is_multicast(mac));

    char *name = lb_ipam_allocation_name("pods", ip("10.244.0.5"));
    assert_string_equal(name, "pods-10-244-0-5");
    free(name);

    name = lb_ipam_port_name("default", "testvm");
    assert_string_equal(name, "default_testvm");
    free(name);
}

static void
test_pick(void **state OVS_UNUSED)
{
    struct lb_ipam_subnet s;
    assert_null(lb_ipam_subnet_parse("10.0.0.0/29", "10.0.0.1", &s));

    /* Deterministic, and always a candidate. */
    ovs_be32 a, b;
    assert_true(lb_ipam_pick(&s, NULL, 0, "default_vm1", &a));
    assert_true(lb_ipam_pick(&s, NULL, 0, "default_vm1", &b));
    assert_int_equal(a, b);
    assert_true(lb_ipam_is_candidate(&s, a));

    /* Filling the subnet gives every candidate once, then fails.  Used
     * addresses outside the subnet and duplicates do not count. */
    ovs_be32 used[16];
    size_t n_used = 0;
    used[n_used++] = ip("192.168.0.1");
    used[n_used++] = ip("10.0.0.1");
    for (int i = 0; i < 5; i++) {
        ovs_be32 addr;
        assert_true(lb_ipam_pick(&s, used, n_used, "default_vm1", &addr));
        assert_true(lb_ipam_is_candidate(&s, addr));
        for (size_t j = 0; j < n_used; j++) {
            assert_int_not_equal(addr, used[j]);
        }
        used[n_used++] = addr;
        used[n_used++] = addr;
    }
    ovs_be32 addr = 0;
    assert_false(lb_ipam_pick(&s, used, n_used, "default_vm1", &addr));
    assert_int_equal(addr, 0);

    /* Different ports start at different places in a large subnet. */
    assert_null(lb_ipam_subnet_parse("10.244.0.0/16", "10.244.0.1", &s));
    size_t n_distinct = 0;
    ovs_be32 first = 0;
    for (int i = 0; i < 16; i++) {
        char port[32];
        snprintf(port, sizeof port, "default_pod%d", i);
        assert_true(lb_ipam_pick(&s, NULL, 0, port, &addr));
        assert_true(lb_ipam_is_candidate(&s, addr));
        if (!i) {
            first = addr;
        } else if (addr != first) {
            n_distinct++;
        }
    }
    assert_true(n_distinct >= 10);
}

static struct in6_addr
ip6(const char *s)
{
    struct in6_addr addr;
    assert_true(ipv6_parse(s, &addr));
    return addr;
}

static void
assert_ip6_equal(const struct in6_addr *a, const char *s)
{
    struct in6_addr b = ip6(s);
    if (!ipv6_addr_equals(a, &b)) {
        char buf[INET6_ADDRSTRLEN];
        fail_msg("%s != %s", ipv6_string_mapped(buf, a), s);
    }
}

static void
test_prefix6_parse(void **state OVS_UNUSED)
{
    struct lb_ipam_prefix6 p;

    assert_null(lb_ipam_prefix6_parse("fd00:10:244::/64", "fd00:10:244::1",
                                      &p));
    assert_ip6_equal(&p.prefix, "fd00:10:244::");
    assert_ip6_equal(&p.gateway, "fd00:10:244::1");
    assert_null(lb_ipam_prefix6_parse("2001:db8:1:2::/64", NULL, &p));
    assert_true(ipv6_is_zero(&p.gateway));

    /* Errors leave 'p' alone. */
    struct lb_ipam_prefix6 before = p;
    assert_error_contains(lb_ipam_prefix6_parse("fd00::", NULL, &p),
                          "prefix length required");
    assert_error_contains(lb_ipam_prefix6_parse(NULL, NULL, &p),
                          "prefix length required");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/48", NULL, &p),
                          "must be 64");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/80", NULL, &p),
                          "must be 64");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::1/64", NULL, &p),
                          "host bits");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::g/64", NULL, &p),
                          "fd00::g/64");
    assert_error_contains(lb_ipam_prefix6_parse("10.0.0.0/64", NULL, &p),
                          "10.0.0.0/64");
    assert_error_contains(lb_ipam_prefix6_parse("fe80::/64", NULL, &p),
                          "not a unicast");
    assert_error_contains(lb_ipam_prefix6_parse("ff02::/64", NULL, &p),
                          "not a unicast");
    assert_error_contains(lb_ipam_prefix6_parse("::/64", NULL, &p),
                          "not a unicast");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/64", "fd01::1", &p),
                          "not a host address");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/64", "fd00::", &p),
                          "not a host address");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/64", "10.0.0.1",
                                                &p), "not an IPv6 address");
    assert_error_contains(lb_ipam_prefix6_parse("fd00::/64",
                                                "fd00::858:aff:fe00:1", &p),
                          "interface identifier");
    assert_memory_equal(&p, &before, sizeof p);

    struct in6_addr a;
    assert_error_contains(lb_ipam_ipv6_parse("fd00::zz", &a),
                          "\"fd00::zz\" is not an IPv6 address");
    assert_error_contains(lb_ipam_ipv6_parse(NULL, &a), "not an IPv6");
}

static void
test_ipv6_addresses(void **state OVS_UNUSED)
{
    struct lb_ipam_prefix6 p;
    assert_null(lb_ipam_prefix6_parse("fd00:10:244::/64", NULL, &p));

    /* The port of 10.244.0.5 has MAC 0a:58:0a:f4:00:05 and, by EUI-64
     * (universal/local bit flipped, ff:fe inserted), this address. */
    struct eth_addr mac = lb_ipam_mac(ip("10.244.0.5"));
    struct in6_addr a;
    lb_ipam_ipv6_address(&p, mac, &a);
    assert_ip6_equal(&a, "fd00:10:244::858:aff:fef4:5");
    assert_true(lb_ipam_prefix6_contains(&p, &a));

    struct eth_addr back;
    assert_true(lb_ipam_ipv6_mac(&a, &back));
    assert_true(eth_addr_equals(back, mac));
    struct in6_addr other = ip6("fd00:10:244::1");
    assert_false(lb_ipam_ipv6_mac(&other, &back));
    other = ip6("fd00:10:245::858:aff:fef4:5");
    assert_false(lb_ipam_prefix6_contains(&p, &other));

    char *name = lb_ipam_allocation_name6("pods", &a);
    assert_string_equal(name, "pods-fd0000100244000008580afffef40005");
    free(name);

    struct eth_addr gw = lb_ipam_gateway6_mac(0x10203);
    assert_true(eth_addr_equals(gw, (struct eth_addr) {
        .ea = { 0x0a, 0x59, 0, 1, 2, 3 } }));
}

static void
test_v6only_hosts(void **state OVS_UNUSED)
{
    struct lb_ipam_prefix6 p;
    assert_null(lb_ipam_prefix6_parse("fd00:6::/64", "fd00:6::1", &p));

    /* Host numbers are picked like IPv4 addresses of 0.0.0.0/8. */
    ovs_be32 host;
    assert_true(lb_ipam_pick(&LB_IPAM_V6ONLY_HOSTS, NULL, 0, "ns_vm", &host));
    assert_true(lb_ipam_is_candidate(&LB_IPAM_V6ONLY_HOSTS, host));
    assert_int_equal(lb_ipam_n_candidates(&LB_IPAM_V6ONLY_HOSTS),
                     (1u << 24) - 2);

    struct eth_addr mac = lb_ipam_mac(host);
    assert_int_equal(mac.ea[2], 0);
    struct in6_addr a;
    lb_ipam_ipv6_address(&p, mac, &a);

    ovs_be32 back;
    assert_true(lb_ipam_v6only_host(&p, &a, &back));
    assert_int_equal(back, host);
    uint32_t key = lb_ipam_port_key(3, &LB_IPAM_V6ONLY_HOSTS, host);
    assert_int_equal(key, (3u << 24) | ntohl(host));

    /* Not ours: the gateway, another prefix, a dual-stack port's MAC. */
    assert_false(lb_ipam_v6only_host(&p, &p.gateway, &back));
    struct in6_addr x = ip6("fd00:7::858:ff:fe00:5");
    assert_false(lb_ipam_v6only_host(&p, &x, &back));
    lb_ipam_ipv6_address(&p, lb_ipam_mac(ip("10.0.0.5")), &x);
    assert_false(lb_ipam_v6only_host(&p, &x, &back));
    lb_ipam_ipv6_address(&p, lb_ipam_mac(htonl(0xffffff)), &x);
    assert_false(lb_ipam_v6only_host(&p, &x, &back));
}

/* Picks from 'subnet' (a /29 or smaller) until it is full; returns the
 * host offsets picked, as bits. */
static uint32_t
pick_all(const struct lb_ipam_subnet *subnet)
{
    ovs_be32 used[8];
    size_t n_used = 0;
    ovs_be32 addr;
    while (lb_ipam_pick(subnet, used, n_used, "default_vm1", &addr)) {
        assert_true(n_used < ARRAY_SIZE(used));
        used[n_used++] = addr;
    }
    uint32_t offsets = 0;
    for (size_t i = 0; i < n_used; i++) {
        offsets |= 1u << lb_ipam_offset(subnet, used[i]);
    }
    return offsets;
}

/* A provider network's excluded ranges are never picked. */
static void
test_pick_excluded(void **state OVS_UNUSED)
{
    struct lb_ip_range ranges[2];
    assert_null(lb_ip_range_parse("10.0.0.2-10.0.0.4", &ranges[0]));
    assert_null(lb_ip_range_parse("2001:db8::5", &ranges[1]));
    char *error = lb_ip_range_parse("10.0.0.1-", &ranges[1]);
    assert_non_null(error);
    free(error);
    assert_null(lb_ip_range_parse("2001:db8::5", &ranges[1]));

    struct lb_ipam_subnet s;
    assert_null(lb_ipam_subnet_parse("10.0.0.0/29", "10.0.0.1", &s));
    s.exclude = ranges;
    s.n_exclude = 2;

    /* 10.0.0.5 and .6 are left; then nothing. */
    assert_int_equal(pick_all(&s), (1u << 5) | (1u << 6));
}

/* An excluded IPv6 address is never a port's either: a dual-stack port's
 * IPv6 address is the prefix and the EUI-64 of the MAC its IPv4 address
 * gives, an IPv6-only port's that of its host number's MAC. */
static void
test_pick_excluded6(void **state OVS_UNUSED)
{
    struct lb_ipam_prefix6 p;
    assert_null(lb_ipam_prefix6_parse("fd00:1::/64", NULL, &p));

    /* 10.0.0.0/29 has .2 to .6; the IPv6 addresses of .5's port and of
     * .2's and .3's (a range) are excluded, so .4 and .6 are left. */
    struct lb_ip_range ranges[2];
    assert_null(lb_ip_range_parse("fd00:1::858:aff:fe00:5", &ranges[0]));
    assert_null(lb_ip_range_parse("fd00:1::858:aff:fe00:2-"
                                  "fd00:1::858:aff:fe00:3", &ranges[1]));
    struct lb_ipam_subnet s;
    assert_null(lb_ipam_subnet_parse("10.0.0.0/29", "10.0.0.1", &s));
    s.exclude = ranges;
    s.n_exclude = 2;
    s.prefix6 = &p.prefix;

    assert_int_equal(pick_all(&s), (1u << 4) | (1u << 6));

    /* Without the prefix (an IPv4-only switch) the IPv6 ranges exclude
     * nothing. */
    s.prefix6 = NULL;
    assert_int_equal(pick_all(&s), 0x7cu);

    /* IPv6-only: a range over the whole prefix leaves no host number;
     * IPv4 ranges do not apply to host numbers. */
    struct lb_ip_range all, v4;
    assert_null(lb_ip_range_parse("fd00:1::-fd00:1::ffff:ffff:ffff:ffff",
                                  &all));
    assert_null(lb_ip_range_parse("0.0.0.0-0.255.255.255", &v4));
    struct lb_ipam_subnet hosts = LB_IPAM_V6ONLY_HOSTS;
    hosts.prefix6 = &p.prefix;
    hosts.exclude = &v4;
    hosts.n_exclude = 1;
    ovs_be32 host;
    assert_true(lb_ipam_pick(&hosts, NULL, 0, "ns_vm", &host));
    hosts.exclude = &all;
    assert_false(lb_ipam_pick(&hosts, NULL, 0, "ns_vm", &host));

    /* An IPv6-only port's address, excluded alone: another host. */
    struct lb_ipam_subnet open6 = LB_IPAM_V6ONLY_HOSTS;
    assert_true(lb_ipam_pick(&open6, NULL, 0, "ns_vm", &host));
    struct in6_addr a;
    lb_ipam_ipv6_address(&p, lb_ipam_mac(host), &a);
    struct lb_ip_range one = { .first = a, .last = a };
    hosts.exclude = &one;
    ovs_be32 other;
    assert_true(lb_ipam_pick(&hosts, NULL, 0, "ns_vm", &other));
    assert_int_not_equal(other, host);
}

/* The families stay apart: an IPv6 range spanning the IPv4-mapped block
 * holds no IPv4 address, and an IPv4 range no IPv6 one. */
static void
test_range_families(void **state OVS_UNUSED)
{
    struct lb_ip_range r;
    assert_null(lb_ip_range_parse("::1-fd00::1", &r));
    assert_false(lb_ip_range_contains_ipv4(&r, ip("10.0.0.5")));
    struct in6_addr a = ip6("fc00::5");
    assert_true(lb_ip_range_contains_ipv6(&r, &a));
    a = ip6("fd00::2");
    assert_false(lb_ip_range_contains_ipv6(&r, &a));

    assert_null(lb_ip_range_parse("10.0.0.0-10.0.0.255", &r));
    assert_true(lb_ip_range_contains_ipv4(&r, ip("10.0.0.5")));
    in6_addr_set_mapped_ipv4(&a, ip("10.0.0.5"));
    assert_false(lb_ip_range_contains_ipv6(&r, &a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subnet_parse),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_names_keys_macs),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_prefix6_parse),
        cmocka_unit_test(test_ipv6_addresses),
        cmocka_unit_test(test_v6only_hosts),
        cmocka_unit_test(test_pick_excluded),
        cmocka_unit_test(test_pick_excluded6),
        cmocka_unit_test(test_range_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
