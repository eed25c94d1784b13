/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The conntrack dump ovs-vswitchd answers "dpctl/dump-conntrack -s
 * zone=N" with (lib/ct-dump.c), taken apart as the agent takes it apart
 * at a migration's cutover (lib/agent-admit.c): every line parsed, each
 * entry turned into the fixture VM's tuple if it is one of its
 * connections (lib/policy-admit.c), and that tuple into the packet that
 * carries it to the target.
 *
 * Invariants: no fault or leak; no more entries and errors than lines;
 * an entry is TCP or UDP, its addresses of one family (IPv4 ones mapped);
 * a tuple's VM end is the VM's address of the entry's family and its
 * packet is as long as its headers say. */

#include <config.h>
#include <string.h>
#include "ct-dump.h"
#include "fuzz.h"
#include "model.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "policy-admit.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmemdup0((const char *) data, size);
    size_t n_lines = 1;
    for (size_t i = 0; i < size; i++) {
        n_lines += text[i] == '\n';
    }

    struct lb_model model;
    lb_model_init(&model);
    struct lb_port *vm = lb_model_add_port(&model, "default_vm1", 11,
                                           "pods");
    vm->mac = (struct eth_addr) ETH_ADDR_C(0a, 58, 0a, 00, 00, 0b);
    vm->ipv4[vm->n_ipv4++] = htonl(0x0a00000b);
    vm->ipv6[0] = in6addr_loopback;
    vm->ipv6[0].s6_addr[0] = 0xfd;
    vm->n_ipv6 = 1;

    size_t n, n_errors;
    struct lb_ct_entry *e = lb_ct_dump_parse(text, &n, &n_errors);
    FUZZ_ASSERT(n + n_errors <= n_lines, "%zu entries, %zu errors, %zu lines",
                n, n_errors, n_lines);
    struct ofpbuf packet;
    ofpbuf_init(&packet, 128);
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(e[i].proto == IPPROTO_TCP || e[i].proto == IPPROTO_UDP,
                    "protocol %u", e[i].proto);
        FUZZ_ASSERT(e[i].v6 || (IN6_IS_ADDR_V4MAPPED(&e[i].src)
                                && IN6_IS_ADDR_V4MAPPED(&e[i].dst)),
                    "an IPv4 entry with an IPv6 address");
        struct lb_admit_tuple t;
        if (!lb_admit_tuple_from_entry(vm, &e[i], &t)) {
            continue;
        }
        FUZZ_ASSERT(t.v6 == e[i].v6 && t.proto == e[i].proto, "tuple");
        FUZZ_ASSERT(t.v6 ? ipv6_addr_equals(&t.vm, &vm->ipv6[0])
                    : in6_addr_get_mapped_ipv4(&t.vm) == vm->ipv4[0],
                    "the tuple's VM end is not the VM's");
        lb_admit_packet(&t, vm->mac, &packet);
        size_t want = (ETH_HEADER_LEN
                       + (t.v6 ? IPV6_HEADER_LEN : IP_HEADER_LEN)
                       + (t.proto == IPPROTO_TCP ? TCP_HEADER_LEN
                          : UDP_HEADER_LEN));
        FUZZ_ASSERT(packet.size == want, "packet of %"PRIu32" bytes",
                    packet.size);
    }
    ofpbuf_uninit(&packet);
    free(e);
    lb_model_destroy(&model);
    free(text);
    return 0;
}
