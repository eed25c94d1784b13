/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_CT_DUMP_H
#define LIVEBIND_CT_DUMP_H 1

/* The output of ovs-vswitchd's "dpctl/dump-conntrack -s zone=N", parsed.
 * Pure: no I/O.
 *
 * One entry a line, as OVS's ct_dpif_format_entry() writes it:
 *
 *   tcp,orig=(src=10.0.0.5,dst=10.0.0.6,sport=40000,dport=9000,packets=3,
 *   bytes=180),reply=(src=10.0.0.6,dst=10.0.0.5,sport=9000,dport=40000),
 *   zone=5,timeout=86399,protoinfo=(state=ESTABLISHED)
 *
 * Only what the conntrack handover needs is kept: the protocol, the
 * original direction's addresses and ports, the remaining timeout and, for
 * TCP, the state.  Lines of other protocols (ICMP, SCTP...) are skipped;
 * a line that is not an entry at all is an error, reported and skipped,
 * never a crash: the text comes from another process. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/compiler.h"

struct ds;

struct lb_ct_entry {
    bool v6;
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    struct in6_addr src, dst;   /* Original direction; IPv4 mapped. */
    uint16_t sport, dport;      /* Original direction, host order. */
    uint16_t zone;
    uint32_t timeout;           /* Seconds left; 0 if the dump had none. */
    bool closing;               /* TCP: FIN_WAIT and later, or CLOSED. */
};

enum lb_ct_parse_result {
    LB_CT_ENTRY,                /* '*entry' filled in. */
    LB_CT_SKIPPED,              /* A valid entry of another protocol. */
    LB_CT_ERROR,                /* Not an entry. */
};

enum lb_ct_parse_result lb_ct_dump_parse_line(const char *line, size_t len,
                                              struct lb_ct_entry *entry);

/* Parses every line of 'text'.  Returns the entries (caller frees) and
 * their count in '*n'; '*n_errors' counts the lines that were no entry. */
struct lb_ct_entry *lb_ct_dump_parse(const char *text, size_t *n,
                                     size_t *n_errors);

void lb_ct_entry_format(const struct lb_ct_entry *, struct ds *);

/* The same connection: protocol, addresses and ports. */
uint32_t lb_ct_entry_hash(const struct lb_ct_entry *);
bool lb_ct_entry_same_conn(const struct lb_ct_entry *,
                           const struct lb_ct_entry *);

#endif /* lib/ct-dump.h */
