/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "port-gate.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(port_gate);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The filter's name, priority and handle: how a restarted agent tells its
 * gates from anything else on the interface. */
#define GATE_NAME "livebind-gate"
#define GATE_PRIO 0x4c42
#define GATE_HANDLE 1

struct port_gates {
    struct nl_sock *sk;         /* NULL if NETLINK_ROUTE failed. */
    int prog_fd;                /* The "drop" program, or -1. */
    int prog_error;             /* Why it could not be loaded, or 0. */
    struct sset closed;         /* Interfaces gated now. */
    struct sset failed;         /* Wanted, could not be gated: not retried
                                 * until no longer wanted. */
};

/* "return TC_ACT_SHOT": the whole program. */
static int
load_drop_program(void)
{
    struct bpf_insn insns[] = {
        { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
          .imm = TC_ACT_SHOT },
        { .code = BPF_JMP | BPF_EXIT },
    };
    static const char license[] = "Apache-2.0";
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    attr.insn_cnt = ARRAY_SIZE(insns);
    attr.insns = (uintptr_t) insns;
    attr.license = (uintptr_t) license;
    ovs_strlcpy(attr.prog_name, "livebind_gate", sizeof attr.prog_name);
    int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    return fd < 0 ? -errno : fd;
}

struct port_gates *
port_gates_create(void)
{
    struct port_gates *pg = xzalloc(sizeof *pg);
    sset_init(&pg->closed);
    sset_init(&pg->failed);
    pg->prog_fd = load_drop_program();
    if (pg->prog_fd < 0) {
        pg->prog_error = -pg->prog_fd;
        VLOG_WARN("cannot load the gate's BPF program (%s): migration "
                  "targets' blocked copies are dropped in the flow table",
                  ovs_strerror(pg->prog_error));
    }
    pg->sk = nl_socket_alloc();
    if (pg->sk && nl_connect(pg->sk, NETLINK_ROUTE)) {
        nl_socket_free(pg->sk);
        pg->sk = NULL;
    }
    if (!pg->sk) {
        VLOG_WARN("no NETLINK_ROUTE socket for the gates");
    }
    return pg;
}

void
port_gates_destroy(struct port_gates *pg)
{
    if (pg) {
        if (pg->sk) {
            nl_socket_free(pg->sk);
        }
        if (pg->prog_fd >= 0) {
            close(pg->prog_fd);
        }
        sset_destroy(&pg->closed);
        sset_destroy(&pg->failed);
        free(pg);
    }
}

static bool
usable(const struct port_gates *pg)
{
    return pg->sk && pg->prog_fd >= 0;
}

/* Sends 'msg' (consumed) and waits for the kernel's answer: local and
 * immediate, like every rtnetlink request.  Returns a positive errno. */
static int
transact(struct port_gates *pg, struct nl_msg *msg)
{
    int err = nl_send_auto(pg->sk, msg);
    nlmsg_free(msg);
    if (err >= 0) {
        err = nl_wait_for_ack(pg->sk);
    }
    return err >= 0 ? 0 : err == -NLE_EXIST ? EEXIST
           : err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV ? ENOENT
           : EIO;
}

static struct nl_msg *
tc_msg(int type, int flags, int ifindex, uint32_t parent, uint32_t handle,
       uint32_t info)
{
    struct tcmsg tcm = {
        .tcm_family = AF_UNSPEC,
        .tcm_ifindex = ifindex,
        .tcm_parent = parent,
        .tcm_handle = handle,
        .tcm_info = info,
    };
    struct nl_msg *msg = nlmsg_alloc_simple(type, flags | NLM_F_REQUEST);
    if (!msg || nlmsg_append(msg, &tcm, sizeof tcm, NLMSG_ALIGNTO)) {
        out_of_memory();
    }
    return msg;
}

static uint32_t
gate_info(void)
{
    return TC_H_MAKE((uint32_t) GATE_PRIO << 16, htons(ETH_P_ALL));
}

static int
gate_close(struct port_gates *pg, const char *ifname)
{
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        return ENOENT;
    }

    /* The clsact qdisc may be there already (ours, or someone's). */
    struct nl_msg *msg = tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL,
                                ifindex, TC_H_CLSACT,
                                TC_H_MAKE(TC_H_CLSACT, 0), 0);
    nla_put_string(msg, TCA_KIND, "clsact");
    int error = transact(pg, msg);
    if (error && error != EEXIST) {
        return error;
    }

    msg = tc_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex,
                 TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), GATE_HANDLE,
                 gate_info());
    nla_put_string(msg, TCA_KIND, "bpf");
    struct nlattr *opts = nla_nest_start(msg, TCA_OPTIONS);
    nla_put_u32(msg, TCA_BPF_FD, pg->prog_fd);
    nla_put_string(msg, TCA_BPF_NAME, GATE_NAME);
    nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    nla_nest_end(msg, opts);
    error = transact(pg, msg);
    return error == EEXIST ? 0 : error;
}

static int
gate_open(struct port_gates *pg, const char *ifname)
{
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        return ENOENT;          /* Gone, and its filter with it. */
    }
    struct nl_msg *msg = tc_msg(RTM_DELTFILTER, 0, ifindex,
                                TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
                                GATE_HANDLE, gate_info());
    nla_put_string(msg, TCA_KIND, "bpf");
    return transact(pg, msg);
}

/* A filter dump's message: is it our gate? */
static int
scan_cb(struct nl_msg *msg, void *found_)
{
    bool *found = found_;
    struct nlattr *tb[TCA_MAX + 1];
    struct nlattr *bpf[TCA_BPF_MAX + 1];
    struct nlmsghdr *nlh = nlmsg_hdr(msg);

    if (nlmsg_parse(nlh, sizeof(struct tcmsg), tb, TCA_MAX, NULL)
        || !tb[TCA_KIND] || strcmp(nla_get_string(tb[TCA_KIND]), "bpf")
        || !tb[TCA_OPTIONS]
        || nla_parse_nested(bpf, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL)
        || !bpf[TCA_BPF_NAME]) {
        return NL_OK;
    }
    const struct tcmsg *tcm = nlmsg_data(nlh);
    if (TC_H_MAJ(tcm->tcm_info) >> 16 == GATE_PRIO
        && !strcmp(nla_get_string(bpf[TCA_BPF_NAME]), GATE_NAME)) {
        *found = true;
    }
    return NL_OK;
}

static bool
gate_present(struct port_gates *pg, const char *ifname)
{
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        return false;
    }
    struct nl_msg *msg = tc_msg(RTM_GETTFILTER, NLM_F_DUMP, ifindex,
                                TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), 0,
                                0);
    bool found = false;
    int err = nl_send_auto(pg->sk, msg);
    nlmsg_free(msg);
    if (err >= 0) {
        struct nl_cb *cb = nl_cb_clone(nl_socket_get_cb(pg->sk));
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, scan_cb, &found);
        nl_recvmsgs(pg->sk, cb);
        nl_cb_put(cb);
    }
    return found;
}

void
port_gates_scan(struct port_gates *pg, const struct sset *ifnames)
{
    if (!pg->sk) {
        return;
    }
    const char *ifname;
    SSET_FOR_EACH (ifname, ifnames) {
        if (gate_present(pg, ifname)) {
            sset_add(&pg->closed, ifname);
        }
    }
}

bool
port_gates_sync(struct port_gates *pg, const struct sset *want,
                bool may_open)
{
    bool changed = false;
    const char *ifname;

    if (may_open && pg->sk) {
        SSET_FOR_EACH_SAFE (ifname, &pg->closed) {
            if (sset_contains(want, ifname)) {
                continue;
            }
            int error = gate_open(pg, ifname);
            if (error && error != ENOENT) {
                VLOG_WARN_RL(&rl, "%s: removing the gate failed (%s)",
                             ifname, ovs_strerror(error));
                continue;
            }
            VLOG_INFO("%s: gate opened", ifname);
            sset_delete(&pg->closed, SSET_NODE_FROM_NAME(ifname));
            changed = true;
        }
    }
    SSET_FOR_EACH_SAFE (ifname, &pg->failed) {
        if (!sset_contains(want, ifname)) {
            sset_delete(&pg->failed, SSET_NODE_FROM_NAME(ifname));
        }
    }
    if (!usable(pg)) {
        return changed;
    }
    SSET_FOR_EACH (ifname, want) {
        if (sset_contains(&pg->closed, ifname)
            || sset_contains(&pg->failed, ifname)) {
            continue;
        }
        int error = gate_close(pg, ifname);
        if (error) {
            sset_add(&pg->failed, ifname);
            VLOG_WARN_RL(&rl, "%s: cannot put the gate on (%s): its "
                         "blocked copy is dropped in the flow table",
                         ifname, ovs_strerror(error));
            continue;
        }
        VLOG_INFO("%s: gate closed", ifname);
        sset_add(&pg->closed, ifname);
        changed = true;
    }
    return changed;
}

const struct sset *
port_gates_closed(const struct port_gates *pg)
{
    return &pg->closed;
}

void
port_gates_format(const struct port_gates *pg, struct ds *s)
{
    if (pg->prog_error) {
        ds_put_format(s, "gates: unavailable (BPF program: %s)\n",
                      ovs_strerror(pg->prog_error));
        return;
    }
    ds_put_format(s, "gates closed: %"PRIuSIZE, sset_count(&pg->closed));
    const char *ifname;
    SSET_FOR_EACH (ifname, &pg->closed) {
        ds_put_format(s, " %s", ifname);
    }
    ds_put_char(s, '\n');
}
