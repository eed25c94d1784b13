/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Packet-ins: an OpenFlow message from the bridge, taken apart as ofctrl
 * and the agent take it apart (ofctrl_recv(), ofctrl_handle_packet_in(),
 * lb_agent_packet_in()): the message type, the packet-in with its userdata
 * (the reason: LB_PIN_ANNOUNCE), the port key in reg14, the in_port, and
 * the packet itself, whose headers are extracted as the switch extracts
 * them.
 *
 * Then the agent's own check of the announcement (lb_announce_classify(),
 * lib/announce.c), for the fixture VM's port.
 *
 * Invariants: no fault or leak; a decoded packet lies within the message;
 * what the check takes for an announcement comes from the VM's MAC, and a
 * frame shorter than the smallest announcement is none.
 *
 * With LB_FUZZ_SEED_DIR set, writes NXT_PACKET_IN2 messages carrying a
 * RARP, a gratuitous ARP, an unsolicited NA and an IPv6 frame that is no
 * announcement to that directory and exits: that is how the seeds in
 * tests/fuzz/corpus/packet-in were made. */

#include <config.h>
#include <errno.h>
#include <string.h>
#include "announce.h"
#include "dp-packet.h"
#include "flow.h"
#include "fuzz.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "oftable.h"
#include "packets.h"
#include "util.h"

static const struct eth_addr vm_mac = ETH_ADDR_C(0a, 58, 0a, f4, 00, 05);

static void
write_seed(const char *dir, const char *name, const void *packet,
           size_t len, uint32_t reason, enum ofputil_protocol protocol)
{
    struct ofputil_packet_in_private pin;
    ovs_be32 userdata = htonl(reason);

    memset(&pin, 0, sizeof pin);
    pin.base.packet = CONST_CAST(void *, packet);
    pin.base.packet_len = len;
    pin.base.reason = OFPR_ACTION;
    pin.base.table_id = 8;
    pin.base.cookie = OVS_BE64_MAX;
    pin.base.userdata = (uint8_t *) &userdata;
    pin.base.userdata_len = sizeof userdata;
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata, u16_to_ofp(3));
    match_set_reg(&pin.base.flow_metadata, 14, 5);

    struct ofpbuf *msg = ofputil_encode_packet_in_private(
        &pin, protocol, OFPUTIL_PACKET_IN_NXT2);
    char *file_name = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(file_name, "wb");
    if (!f || fwrite(msg->data, msg->size, 1, f) != 1 || fclose(f)) {
        ovs_fatal(errno, "%s: write failed", file_name);
    }
    free(file_name);
    ofpbuf_delete(msg);
}

static void
write_seeds(const char *dir)
{
    uint8_t rarp[60], garp[60];
    memset(rarp, 0, sizeof rarp);
    memset(rarp, 0xff, ETH_ADDR_LEN);
    memcpy(rarp + 6, vm_mac.ea, ETH_ADDR_LEN);
    memcpy(garp, rarp, sizeof garp);
    rarp[12] = 0x80; rarp[13] = 0x35;               /* RARP. */
    garp[12] = 0x08; garp[13] = 0x06;               /* ARP. */

    static const uint8_t arp_fixed[] = { 0, 1, 8, 0, 6, 4 };
    memcpy(rarp + 14, arp_fixed, sizeof arp_fixed);
    memcpy(garp + 14, arp_fixed, sizeof arp_fixed);
    rarp[21] = 3;                                   /* Reverse request. */
    garp[21] = 1;                                   /* Request. */
    memcpy(rarp + 22, vm_mac.ea, ETH_ADDR_LEN);     /* sha */
    memcpy(rarp + 32, vm_mac.ea, ETH_ADDR_LEN);     /* tha */
    memcpy(garp + 22, vm_mac.ea, ETH_ADDR_LEN);
    static const uint8_t ip[] = { 10, 244, 0, 5 };
    memcpy(garp + 28, ip, sizeof ip);               /* spa */
    memcpy(garp + 38, ip, sizeof ip);               /* tpa */

    /* Unsolicited NA for fe80::858:aff:fef4:5 to all nodes. */
    struct dp_packet *na = dp_packet_new(128);
    struct in6_addr src, dst;
    struct eth_addr dst_mac;
    in6_generate_lla(vm_mac, &src);
    ipv6_parse("ff02::1", &dst);
    ipv6_multicast_to_ethernet(&dst_mac, &dst);
    compose_nd_na(na, vm_mac, dst_mac, &src, &dst, htonl(ND_RSO_OVERRIDE));

    write_seed(dir, "rarp", rarp, sizeof rarp, LB_PIN_ANNOUNCE,
               OFPUTIL_P_OF15_OXM);
    write_seed(dir, "garp", garp, sizeof garp, LB_PIN_ANNOUNCE,
               OFPUTIL_P_OF13_OXM);
    write_seed(dir, "na", dp_packet_data(na), dp_packet_size(na),
               LB_PIN_ANNOUNCE, OFPUTIL_P_OF14_OXM);
    write_seed(dir, "unknown-reason", rarp, sizeof rarp, 7,
               OFPUTIL_P_OF15_OXM);

    /* Issue 15 defect 7: any IPv6 frame from the VM's MAC, here UDP, was
     * taken for an announcement. */
    uint8_t udp6[14 + 40 + 8];
    memset(udp6, 0, sizeof udp6);
    memcpy(udp6, dst_mac.ea, ETH_ADDR_LEN);
    memcpy(udp6 + 6, vm_mac.ea, ETH_ADDR_LEN);
    udp6[12] = 0x86; udp6[13] = 0xdd;
    udp6[14] = 0x60;
    udp6[19] = 8;                                   /* Payload length. */
    udp6[20] = 17;                                  /* UDP. */
    udp6[21] = 255;
    memcpy(udp6 + 22, &src, sizeof src);
    memcpy(udp6 + 38, &dst, sizeof dst);
    udp6[54] = 0x30; udp6[55] = 0x39;               /* Ports 12345. */
    udp6[56] = 0x30; udp6[57] = 0x39;
    udp6[59] = 8;
    write_seed(dir, "ipv6-udp-not-na", udp6, sizeof udp6, LB_PIN_ANNOUNCE,
               OFPUTIL_P_OF15_OXM);
    dp_packet_delete(na);
}

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    const char *dir = getenv("LB_FUZZ_SEED_DIR");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    fuzz_quiet();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* rconn hands ofctrl whole messages: the header's length is the
     * message's, and at least a header's worth. */
    if (size < sizeof(struct ofp_header) || size > UINT16_MAX) {
        return 0;
    }
    struct ofpbuf *msg = ofpbuf_clone_data(data, size);
    struct ofp_header *oh = msg->data;
    oh->length = htons(size);

    enum ofptype type;
    if (!ofptype_decode(&type, oh) && type == OFPTYPE_PACKET_IN) {
        struct ofputil_packet_in pin;
        if (!ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, NULL,
                                      NULL, NULL)) {
            const uint8_t *start = msg->data;
            const uint8_t *p = pin.packet;
            FUZZ_ASSERT(!pin.packet_len
                        || (p >= start && p + pin.packet_len
                                          <= start + msg->size),
                        "packet outside the message");

            /* What lb_agent_packet_in() reads. */
            ovs_be32 reason = 0;
            if (pin.userdata_len == sizeof reason) {
                memcpy(&reason, pin.userdata, sizeof reason);
            }
            uint32_t key = pin.flow_metadata.flow.regs[14];
            ofp_port_t in_port = pin.flow_metadata.flow.in_port.ofp_port;
            (void) key;
            (void) in_port;

            /* The packet's headers, as the switch's flows saw them. */
            struct dp_packet packet;
            struct flow flow;
            dp_packet_use_const(&packet, pin.packet, pin.packet_len);
            pkt_metadata_init(&packet.md, 0);
            flow_extract(&packet, &flow);
            dp_packet_uninit(&packet);

            /* The agent's check, for the seeds' VM (dual-stack). */
            static const ovs_be32 ipv4[] = { CONSTANT_HTONL(0x0af40005) };
            struct in6_addr ipv6;
            ipv6_parse("fd00::858:aff:fef4:5", &ipv6);
            const struct lb_announce_port port = {
                .mac = vm_mac, .ipv4 = ipv4, .n_ipv4 = 1,
                .ipv6 = &ipv6, .n_ipv6 = 1,
            };
            enum lb_announce_kind kind = lb_announce_classify(
                pin.packet, pin.packet_len, &port);
            FUZZ_ASSERT(kind == LB_ANNOUNCE_NONE
                        || (pin.packet_len >= 42
                            && !memcmp((const uint8_t *) pin.packet + 6,
                                       vm_mac.ea, ETH_ADDR_LEN)),
                        "an announcement not from the VM's MAC");
            FUZZ_ASSERT(lb_announce_kind_to_string(kind) != NULL,
                        "unnamed kind");
        }
    }
    ofpbuf_delete(msg);
    return 0;
}
