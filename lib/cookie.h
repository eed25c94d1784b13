/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_COOKIE_H
#define LIVEBIND_COOKIE_H 1

#include <stdbool.h>
#include <stdint.h>

/* OpenFlow cookie layout: every flow names the object that produced it, so
 * an operator can list one port's flows with
 *
 *     ovs-ofctl dump-flows br-int cookie=0x1000000000000005/0xf0000000ffffffff
 *
 *   bits 63..60  kind: LB_COOKIE_PORT, _SWITCH, _CHASSIS, _GLOBAL,
 *                _POLICY, _GATEWAY, _ADMIT or _ACTIVATED.
 *   bit  59      set on a port's migration flows (the priority override).
 *   bits 58..32  zero.
 *   bits 31..0   the object's key: port key, switch tunnel key, or a hash of
 *                the chassis name.
 */
enum lb_cookie_kind {
    LB_COOKIE_GLOBAL = 0x1,     /* Table defaults. */
    LB_COOKIE_SWITCH = 0x2,     /* Per logical switch (flood). */
    LB_COOKIE_CHASSIS = 0x3,    /* Per remote chassis (tunnel classify). */
    LB_COOKIE_PORT = 0x4,       /* Per logical port. */
    LB_COOKIE_POLICY = 0x5,     /* NetworkPolicy rules (lib/policy.c): the
                                 * key is the rule's conjunction id. */
    LB_COOKIE_GATEWAY = 0x6,    /* Distributed gateway: per overlay switch
                                 * (its key), 0 for the gateway port's. */
    LB_COOKIE_ADMIT = 0x8,      /* Learned in the switch (policy-admit.c):
                                 * a migrated port's admitted tuples, the
                                 * key its port key.  ofctrl neither
                                 * compares nor deletes them. */
    LB_COOKIE_ACTIVATED = 0x9,  /* Learned in the switch (pipeline.c): a
                                 * blocked copy activated by its VM's
                                 * announcement, the key its port key.
                                 * Deleted by the switch with the flows
                                 * that learned it (delete_learned). */
};

#define LB_COOKIE_KIND_SHIFT 60
#define LB_COOKIE_MIGRATION (UINT64_C(1) << 59)
#define LB_COOKIE_KEY_MASK UINT64_C(0xffffffff)
/* Mask that selects all flows of one object, migration flows included. */
#define LB_COOKIE_OBJECT_MASK UINT64_C(0xf0000000ffffffff)

static inline uint64_t
lb_cookie(enum lb_cookie_kind kind, uint32_t key, bool migration)
{
    return ((uint64_t) kind << LB_COOKIE_KIND_SHIFT)
           | (migration ? LB_COOKIE_MIGRATION : 0)
           | key;
}

static inline enum lb_cookie_kind
lb_cookie_kind(uint64_t cookie)
{
    return cookie >> LB_COOKIE_KIND_SHIFT;
}

/* Whether a flow with 'cookie' is one the switch learned: ofctrl neither
 * compares nor deletes these. */
static inline bool
lb_cookie_is_learned(uint64_t cookie)
{
    enum lb_cookie_kind kind = lb_cookie_kind(cookie);
    return kind == LB_COOKIE_ADMIT || kind == LB_COOKIE_ACTIVATED;
}

static inline uint32_t
lb_cookie_key(uint64_t cookie)
{
    return cookie & LB_COOKIE_KEY_MASK;
}

#endif /* lib/cookie.h */
