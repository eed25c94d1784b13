/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ct-dump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

/* A piece of a line: [start, start + len). */
struct span {
    const char *s;
    size_t len;
};

static bool
span_eq(struct span a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && !memcmp(a.s, lit, n);
}

/* Takes the next comma-separated item of '*rest' at parenthesis depth 0
 * into '*item'.  Returns false at the end, or on unbalanced
 * parentheses (then '*bad' is set). */
static bool
next_item(struct span *rest, struct span *item, bool *bad)
{
    if (!rest->len) {
        return false;
    }
    int depth = 0;
    size_t i;
    for (i = 0; i < rest->len; i++) {
        char c = rest->s[i];
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (--depth < 0) {
                *bad = true;
                return false;
            }
        } else if (c == ',' && !depth) {
            break;
        }
    }
    if (depth) {
        *bad = true;
        return false;
    }
    item->s = rest->s;
    item->len = i;
    if (i < rest->len) {
        rest->s += i + 1;
        rest->len -= i + 1;
        if (!rest->len) {
            *bad = true;        /* A trailing comma. */
        }
    } else {
        rest->s += i;
        rest->len = 0;
    }
    return true;
}

/* Splits "key=value" into its parts; a bare word has an empty value. */
static void
split_kv(struct span item, struct span *key, struct span *value)
{
    const char *eq = memchr(item.s, '=', item.len);
    if (!eq) {
        *key = item;
        *value = (struct span) { item.s + item.len, 0 };
    } else {
        *key = (struct span) { item.s, eq - item.s };
        *value = (struct span) { eq + 1, item.len - (eq - item.s) - 1 };
    }
}

/* The contents of "(...)", or false. */
static bool
unparen(struct span v, struct span *inner)
{
    if (v.len < 2 || v.s[0] != '(' || v.s[v.len - 1] != ')') {
        return false;
    }
    *inner = (struct span) { v.s + 1, v.len - 2 };
    return true;
}

static bool
parse_uint(struct span v, unsigned long max, unsigned long *out)
{
    char buf[16];
    if (!v.len || v.len >= sizeof buf) {
        return false;
    }
    for (size_t i = 0; i < v.len; i++) {
        if (v.s[i] < '0' || v.s[i] > '9') {
            return false;
        }
    }
    memcpy(buf, v.s, v.len);
    buf[v.len] = '\0';
    errno = 0;
    unsigned long x = strtoul(buf, NULL, 10);
    if (errno || x > max) {
        return false;
    }
    *out = x;
    return true;
}

/* An address of either family; IPv4 mapped into '*addr'. */
static bool
parse_addr(struct span v, bool *v6, struct in6_addr *addr)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (!v.len || v.len >= sizeof buf) {
        return false;
    }
    memcpy(buf, v.s, v.len);
    buf[v.len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        *v6 = false;
        *addr = in6_addr_mapped_ipv4(a4.s_addr);
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *v6 = true;
        return true;
    }
    return false;
}

/* "src=...,dst=...,sport=...,dport=...[,packets=...,bytes=...]" */
static bool
parse_tuple(struct span t, struct lb_ct_entry *e)
{
    bool bad = false, have[4] = { false, false, false, false };
    bool v6_src = false, v6_dst = false;
    struct span item;
    while (next_item(&t, &item, &bad)) {
        struct span k, v;
        unsigned long x;
        split_kv(item, &k, &v);
        if (span_eq(k, "src")) {
            have[0] = parse_addr(v, &v6_src, &e->src);
            if (!have[0]) {
                return false;
            }
        } else if (span_eq(k, "dst")) {
            have[1] = parse_addr(v, &v6_dst, &e->dst);
            if (!have[1]) {
                return false;
            }
        } else if (span_eq(k, "sport")) {
            if (!parse_uint(v, UINT16_MAX, &x)) {
                return false;
            }
            e->sport = x;
            have[2] = true;
        } else if (span_eq(k, "dport")) {
            if (!parse_uint(v, UINT16_MAX, &x)) {
                return false;
            }
            e->dport = x;
            have[3] = true;
        }
        /* packets=, bytes=: not needed. */
    }
    if (bad || !have[0] || !have[1] || !have[2] || !have[3]
        || v6_src != v6_dst) {
        return false;
    }
    e->v6 = v6_src;
    return true;
}

/* TCP states in which the connection is over or both ends have closed
 * it: nothing to carry across.  (A half-closed connection, FIN_WAIT_x or
 * CLOSE_WAIT, still carries data the other way.) */
static bool
tcp_state_closing(struct span state)
{
    return (span_eq(state, "CLOSED") || span_eq(state, "CLOSING")
            || span_eq(state, "LAST_ACK") || span_eq(state, "TIME_WAIT"));
}

static bool
parse_protoinfo(struct span v, struct lb_ct_entry *e)
{
    struct span inner, item;
    bool bad = false;
    if (!unparen(v, &inner)) {
        return false;
    }
    while (next_item(&inner, &item, &bad)) {
        struct span k, val;
        split_kv(item, &k, &val);
        if (span_eq(k, "state")) {
            e->closing = tcp_state_closing(val);
        }
    }
    return !bad;
}

enum lb_ct_parse_result
lb_ct_dump_parse_line(const char *line, size_t len, struct lb_ct_entry *e)
{
    struct span rest = { line, len };
    struct span item;
    bool bad = false;

    memset(e, 0, sizeof *e);
    while (rest.len && (rest.s[rest.len - 1] == '\r'
                        || rest.s[rest.len - 1] == ' ')) {
        rest.len--;
    }
    if (!next_item(&rest, &item, &bad) || bad) {
        return LB_CT_ERROR;
    }
    bool ours;
    if (span_eq(item, "tcp")) {
        e->proto = IPPROTO_TCP;
        ours = true;
    } else if (span_eq(item, "udp")) {
        e->proto = IPPROTO_UDP;
        ours = true;
    } else if (item.len && !memchr(item.s, '=', item.len)
               && !memchr(item.s, '(', item.len)) {
        ours = false;           /* icmp, icmpv6, sctp, a number... */
    } else {
        return LB_CT_ERROR;
    }

    bool have_orig = false, have_reply = false;
    while (next_item(&rest, &item, &bad)) {
        struct span k, v, inner;
        unsigned long x;
        split_kv(item, &k, &v);
        if (span_eq(k, "orig")) {
            if (!unparen(v, &inner) || (ours && !parse_tuple(inner, e))) {
                return LB_CT_ERROR;
            }
            have_orig = true;
        } else if (span_eq(k, "reply")) {
            if (!unparen(v, &inner)) {
                return LB_CT_ERROR;
            }
            have_reply = true;
        } else if (span_eq(k, "zone")) {
            if (!parse_uint(v, UINT16_MAX, &x)) {
                return LB_CT_ERROR;
            }
            e->zone = x;
        } else if (span_eq(k, "timeout")) {
            if (!parse_uint(v, UINT32_MAX, &x)) {
                return LB_CT_ERROR;
            }
            e->timeout = x;
        } else if (span_eq(k, "protoinfo")) {
            if (!parse_protoinfo(v, e)) {
                return LB_CT_ERROR;
            }
        } else if (!k.len) {
            return LB_CT_ERROR;
        }
        /* start=, stop=, id=, status=, mark=, labels=, helper=: not
         * needed. */
    }
    if (bad || !have_orig || !have_reply) {
        return LB_CT_ERROR;
    }
    return ours ? LB_CT_ENTRY : LB_CT_SKIPPED;
}

struct lb_ct_entry *
lb_ct_dump_parse(const char *text, size_t *n, size_t *n_errors)
{
    struct lb_ct_entry *entries = NULL;
    size_t allocated = 0;

    *n = *n_errors = 0;
    while (*text) {
        const char *eol = strchr(text, '\n');
        size_t len = eol ? eol - text : strlen(text);
        if (len) {
            struct lb_ct_entry e;
            switch (lb_ct_dump_parse_line(text, len, &e)) {
            case LB_CT_ENTRY:
                if (*n >= allocated) {
                    entries = x2nrealloc(entries, &allocated,
                                         sizeof *entries);
                }
                entries[(*n)++] = e;
                break;
            case LB_CT_ERROR:
                ++*n_errors;
                break;
            case LB_CT_SKIPPED:
            default:
                break;
            }
        }
        text += len + (eol != NULL);
    }
    return entries;
}

static void
put_addr(struct ds *s, bool v6, const struct in6_addr *a)
{
    if (v6) {
        ipv6_format_addr(a, s);
    } else {
        ds_put_format(s, IP_FMT, IP_ARGS(in6_addr_get_mapped_ipv4(a)));
    }
}

void
lb_ct_entry_format(const struct lb_ct_entry *e, struct ds *s)
{
    ds_put_format(s, "%s,", e->proto == IPPROTO_TCP ? "tcp" : "udp");
    ds_put_cstr(s, "src=");
    put_addr(s, e->v6, &e->src);
    ds_put_cstr(s, ",dst=");
    put_addr(s, e->v6, &e->dst);
    ds_put_format(s, ",sport=%"PRIu16",dport=%"PRIu16",zone=%"PRIu16
                  ",timeout=%"PRIu32"%s", e->sport, e->dport, e->zone,
                  e->timeout, e->closing ? ",closing" : "");
}

uint32_t
lb_ct_entry_hash(const struct lb_ct_entry *e)
{
    uint32_t hash = hash_bytes(&e->src, sizeof e->src, e->proto);
    hash = hash_bytes(&e->dst, sizeof e->dst, hash);
    return hash_2words(hash, ((uint32_t) e->sport << 16) | e->dport);
}

bool
lb_ct_entry_same_conn(const struct lb_ct_entry *a,
                      const struct lb_ct_entry *b)
{
    return (a->proto == b->proto && a->v6 == b->v6
            && a->sport == b->sport && a->dport == b->dport
            && ipv6_addr_equals(&a->src, &b->src)
            && ipv6_addr_equals(&a->dst, &b->dst));
}
