/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The Service handover's two parsers (lib/svc-ct-handover.c): what the
 * kernel answers a ctnetlink conntrack dump with, taken apart as the
 * source's agent takes it apart (lib/agent-svc-ct.c: split into messages
 * with nl_msg_next(), each parsed), and the record packet a target's
 * agent gets in a packet-in.
 *
 * Input: one byte, even for a dump, odd for a packet; the rest is it.
 *
 * Invariants: no fault or leak; an entry taken from a dump is TCP or UDP,
 * of one family (IPv4 addresses mapped), DNATed, with ports and a
 * timeout, and its packet parses back to the same record; a record parsed
 * from a packet makes the same packet again, and a creation request as
 * long as its header says. */

#include <config.h>
#include <string.h>
#include <linux/netlink.h>
#include "fuzz.h"
#include "netlink.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "svc-ct-handover.h"
#include "util.h"

static const struct eth_addr mac = ETH_ADDR_C(0a, 58, 0a, 28, 00, 05);

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

static void
check_record(const struct lb_svc_ct *ct)
{
    FUZZ_ASSERT(ct->proto == IPPROTO_TCP || ct->proto == IPPROTO_UDP,
                "protocol %u", ct->proto);
    FUZZ_ASSERT(ct->v6 != IN6_IS_ADDR_V4MAPPED(&ct->vm)
                && ct->v6 != IN6_IS_ADDR_V4MAPPED(&ct->service)
                && ct->v6 != IN6_IS_ADDR_V4MAPPED(&ct->backend),
                "addresses of another family");
    FUZZ_ASSERT(ct->vm_port && ct->service_port && ct->backend_port
                && ct->timeout, "a port or the timeout is zero");
    FUZZ_ASSERT(!ipv6_addr_equals(&ct->service, &ct->backend)
                || ct->service_port != ct->backend_port, "no DNAT");

    struct ofpbuf b;
    ofpbuf_init(&b, 128);
    lb_svc_ct_put_create(ct, 1, &b);
    FUZZ_ASSERT(((const struct nlmsghdr *) b.data)->nlmsg_len == b.size,
                "creation request's length");
    lb_svc_ct_packet(ct, mac, &b);
    struct lb_svc_ct back;
    const char *error = NULL;
    FUZZ_ASSERT(lb_svc_ct_packet_parse(b.data, b.size, &back, &error),
                "its own packet refused: %s", error);
    FUZZ_ASSERT(!memcmp(&back, ct, sizeof back), "packet round trip");
    ofpbuf_uninit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    /* A copy of its own, aligned as a receive buffer is. */
    uint8_t *copy = xmemdup(data + 1, size - 1);
    struct lb_svc_ct ct;
    if (data[0] & 1) {
        const char *error = NULL;
        if (lb_svc_ct_packet_parse(copy, size - 1, &ct, &error)) {
            check_record(&ct);
        } else {
            FUZZ_ASSERT(error, "a refusal without a reason");
        }
    } else {
        struct ofpbuf buf, msg;
        ofpbuf_use_const(&buf, copy, size - 1);
        while (nl_msg_next(&buf, &msg)) {
            if (lb_svc_ct_parse_nl(msg.data, msg.size, &ct)
                == LB_SVC_CT_OK) {
                check_record(&ct);
            }
        }
    }
    free(copy);
    return 0;
}
