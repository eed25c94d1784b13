/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The self-opening gate's programs (port-gate.h), run in the kernel on
 * crafted frames: only the VM's own RARP opens the gate, the gate drops
 * until then and passes after, and the watcher never hides a frame.
 * Loading BPF programs takes root: skipped without it. */

#include <config.h>
#include "port-gate.h"
#include "announce.h"

#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "packets.h"

#define VM_MAC "0a:58:0a:1e:00:05"
/* The top bit of its first byte set: the watcher compares the MAC's first
 * four bytes as one 32-bit word, which must not be sign-extended. */
#define HIGH_MAC "fa:58:0a:1e:00:05"
#define OTHER_MAC "0a:58:de:ad:be:ef"

static struct eth_addr
mac(const char *s)
{
    struct eth_addr ea;
    assert_true(eth_addr_from_string(s, &ea));
    return ea;
}

/* Runs the programs for 'vm_mac' on 'frame'; returns whether the gate
 * opened, and checks that the gate's verdict says the same. */
static bool
opens(const char *vm_mac, const uint8_t *frame, size_t len)
{
    struct eth_addr ea = mac(vm_mac);
    bool opened = false;
    int verdict = -1;
    int error = port_gate_test_run(&ea, frame, len, &opened, &verdict);
    if (error == EPERM || error == ENOSYS) {
        skip();
    }
    assert_int_equal(error, 0);
    assert_int_equal(verdict, opened ? TC_ACT_OK : TC_ACT_SHOT);
    return opened;
}

static void
rarp_frame(const char *src, uint8_t frame[LB_ANNOUNCE_FRAME_LEN])
{
    lb_announce_compose_rarp(mac(src), frame);
}

static void
test_own_rarp_opens(void **state OVS_UNUSED)
{
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];
    rarp_frame(VM_MAC, frame);
    assert_true(opens(VM_MAC, frame, sizeof frame));

    rarp_frame(HIGH_MAC, frame);
    assert_true(opens(HIGH_MAC, frame, sizeof frame));
}

static void
test_foreign_rarp_does_not_open(void **state OVS_UNUSED)
{
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];

    /* Another VM's. */
    rarp_frame(OTHER_MAC, frame);
    assert_false(opens(VM_MAC, frame, sizeof frame));

    /* The VM's MAC as Ethernet source, another as sender. */
    rarp_frame(VM_MAC, frame);
    memcpy(frame + 14 + 8, mac(OTHER_MAC).ea, ETH_ADDR_LEN);
    assert_false(opens(VM_MAC, frame, sizeof frame));

    /* ...and the other way round. */
    rarp_frame(VM_MAC, frame);
    memcpy(frame + 6, mac(OTHER_MAC).ea, ETH_ADDR_LEN);
    assert_false(opens(VM_MAC, frame, sizeof frame));

    /* Only the first four bytes of the MAC right. */
    rarp_frame(VM_MAC, frame);
    frame[6 + 5] ^= 1;
    frame[14 + 8 + 5] ^= 1;
    assert_false(opens(VM_MAC, frame, sizeof frame));
}

static void
test_not_a_rarp_request(void **state OVS_UNUSED)
{
    uint8_t frame[LB_ANNOUNCE_FRAME_LEN];
    static const struct {
        size_t ofs;
        uint8_t value;
    } changes[] = {
        { 12, 0x08 },           /* EtherType 0x0835, not RARP's. */
        { 15, 6 },              /* Hardware type 6. */
        { 16, 0x86 },           /* Protocol type 0x8600. */
        { 18, 8 },              /* Hardware address length 8. */
        { 21, 4 },              /* Reverse reply. */
    };
    for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
        rarp_frame(VM_MAC, frame);
        frame[changes[i].ofs] = changes[i].value;
        assert_false(opens(VM_MAC, frame, sizeof frame));
    }

    /* A gratuitous ARP or an NA from the VM is left to the agent. */
    struct eth_addr ea = mac(VM_MAC);
    lb_announce_compose_garp(ea, htonl(0x0a1e0005), frame);
    assert_false(opens(VM_MAC, frame, sizeof frame));

    /* Cut short: the sender's MAC is not all there. */
    rarp_frame(VM_MAC, frame);
    assert_false(opens(VM_MAC, frame, 14 + 10));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_rarp_opens),
        cmocka_unit_test(test_foreign_rarp_does_not_open),
        cmocka_unit_test(test_not_a_rarp_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
