/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* pod_attachment_validate(): what the CNI part may hand to pod-plumb.c,
 * IPv4, IPv6 or both, and the errors for what it must not. */

#include <config.h>
#include "pod-plumb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "openvswitch/util.h"
#include "packets.h"

static struct pod_attachment
base(void)
{
    struct pod_attachment a = {
        .netns_fd = 3,          /* Never used: validation is pure. */
        .netns_path = "/var/run/netns/x",
        .ifname = "eth0",
        .host_ifname = "lb-0123456789a",
        .mac = { .ea = { 0x0a, 0x58, 0x0a, 0xf4, 0, 5 } },
        .mtu = 1400,
    };
    return a;
}

static void
set_ip6(struct in6_addr *a, const char *s)
{
    assert_true(ipv6_parse(s, a));
}

static void
assert_valid(const struct pod_attachment *a)
{
    char *error = pod_attachment_validate(a);
    if (error) {
        fail_msg("unexpected error: %s", error);
    }
}

static void
assert_invalid(const struct pod_attachment *a, const char *needle)
{
    char *error = pod_attachment_validate(a);
    assert_non_null(error);
    if (!strstr(error, needle)) {
        fail_msg("error \"%s\" lacks \"%s\"", error, needle);
    }
    free(error);
}

static void
test_families(void **state OVS_UNUSED)
{
    struct pod_attachment a = base();
    assert_invalid(&a, "no IP address");

    /* IPv4 only. */
    assert_true(ip_parse("10.244.0.5", &a.ip));
    a.prefix_len = 16;
    assert_true(ip_parse("10.244.0.1", &a.gateway));
    assert_valid(&a);

    /* Dual-stack. */
    a.has_ip6 = true;
    set_ip6(&a.ip6, "fd00:10:244::858:aff:fef4:5");
    set_ip6(&a.gateway6, "fd00:10:244::1");
    assert_valid(&a);

    /* IPv6 only: no IPv4 address, prefix length or gateway needed. */
    a.ip = a.gateway = 0;
    a.prefix_len = 0;
    assert_valid(&a);
    memset(&a.gateway6, 0, sizeof a.gateway6);
    assert_valid(&a);
}

static void
test_errors(void **state OVS_UNUSED)
{
    struct pod_attachment a = base();
    a.has_ip6 = true;
    set_ip6(&a.ip6, "fd00::5");

    set_ip6(&a.gateway6, "fd00::5");
    assert_invalid(&a, "gateway6 fd00::5 is the pod's own address");

    memset(&a.gateway6, 0, sizeof a.gateway6);
    set_ip6(&a.ip6, "ff02::1");
    assert_invalid(&a, "IPv6 address is not a unicast address");
    memset(&a.ip6, 0, sizeof a.ip6);
    assert_invalid(&a, "IPv6 address is not a unicast address");

    /* A gateway of a family the pod has no address of. */
    a = base();
    a.has_ip6 = true;
    set_ip6(&a.ip6, "fd00::5");
    assert_true(ip_parse("10.244.0.1", &a.gateway));
    assert_invalid(&a, "gateway 10.244.0.1 without an IPv4 address");
    a = base();
    assert_true(ip_parse("10.244.0.5", &a.ip));
    a.prefix_len = 16;
    set_ip6(&a.gateway6, "fd00::1");
    assert_invalid(&a, "no IPv6 address");

    /* The namespace travels as a descriptor; its path is only a name. */
    a = base();
    assert_true(ip_parse("10.244.0.5", &a.ip));
    a.prefix_len = 16;
    assert_valid(&a);
    a.netns_fd = -1;
    assert_invalid(&a, "/var/run/netns/x: no descriptor of the network "
                   "namespace");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
