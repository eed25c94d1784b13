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
#include <netinet/in.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "openvswitch/vlog.h"
#include "packets.h"
#include "simap.h"
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
    bool self_open;             /* Gates open on the VM's announcement. */
    int prog_fd;                /* The "drop" program, or -1. */
    int prog_error;             /* Why it could not be loaded, or 0. */
    struct sset closed;         /* Interfaces gated now. */
    struct simap flags;         /* Of 'closed', the self-opening gates this
                                 * agent made: interface -> the descriptor
                                 * of the gate's flag (a BPF array map). */
    struct sset failed;         /* Wanted, could not be gated: not retried
                                 * until no longer wanted. */
};

/* A few BPF instructions, spelled out: the kernel's own macros are not
 * in its UAPI headers. */
#define INSN(CODE, DST, SRC, OFF, IMM)                                   \
    { .code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF), \
      .imm = (IMM) }
#define MOV_IMM(DST, IMM) INSN(BPF_ALU64 | BPF_MOV | BPF_K, DST, 0, 0, IMM)
#define MOV_REG(DST, SRC) INSN(BPF_ALU64 | BPF_MOV | BPF_X, DST, SRC, 0, 0)
#define ADD_IMM(DST, IMM) INSN(BPF_ALU64 | BPF_ADD | BPF_K, DST, 0, 0, IMM)
/* r0 = the packet's SIZE bytes at OFF, in host order (r6: the context);
 * a packet too short ends the program with r0 = 0, TC_ACT_OK. */
#define LD_ABS(SIZE, OFF) INSN(BPF_LD | BPF_ABS | (SIZE), 0, 0, 0, OFF)
#define JEQ_IMM(DST, IMM, OFF) INSN(BPF_JMP | BPF_JEQ | BPF_K, DST, 0, OFF, \
                                    IMM)
#define JNE_IMM(DST, IMM, OFF) INSN(BPF_JMP | BPF_JNE | BPF_K, DST, 0, OFF, \
                                    IMM)
/* On the low 32 bits, so that an immediate with its top bit set is not
 * sign-extended. */
#define JNE32_IMM(DST, IMM, OFF) INSN(BPF_JMP32 | BPF_JNE | BPF_K, DST, 0, \
                                      OFF, IMM)
#define ST_W(DST, OFF, IMM) INSN(BPF_ST | BPF_MEM | BPF_W, DST, 0, OFF, IMM)
#define LDX_W(DST, SRC, OFF) INSN(BPF_LDX | BPF_MEM | BPF_W, DST, SRC, OFF, 0)
#define LD_MAP_FD(DST, FD)                                              \
    INSN(BPF_LD | BPF_DW | BPF_IMM, DST, BPF_PSEUDO_MAP_FD, 0, FD),     \
    INSN(0, 0, 0, 0, 0)
#define CALL(FUNC) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, FUNC)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* r0 = the address of element 0 of map FD, or NULL (5 instructions, 6
 * slots: the map's address takes two). */
#define LOOKUP_FLAG(FD)                                                 \
    LD_MAP_FD(BPF_REG_1, FD),                                           \
    MOV_REG(BPF_REG_2, BPF_REG_10),                                     \
    ADD_IMM(BPF_REG_2, -4),                                             \
    ST_W(BPF_REG_10, -4, 0),                    /* key = 0 */           \
    CALL(BPF_FUNC_map_lookup_elem)

static int
load_program(const struct bpf_insn *insns, size_t n, const char *name)
{
    static const char license[] = "Apache-2.0";
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    attr.insn_cnt = n;
    attr.insns = (uintptr_t) insns;
    attr.license = (uintptr_t) license;
    ovs_strlcpy(attr.prog_name, name, sizeof attr.prog_name);
    int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    return fd < 0 ? -errno : fd;
}

/* "return TC_ACT_SHOT": the whole program of a gate that only the agent
 * opens. */
static int
load_drop_program(void)
{
    const struct bpf_insn insns[] = {
        MOV_IMM(BPF_REG_0, TC_ACT_SHOT),
        EXIT(),
    };
    return load_program(insns, ARRAY_SIZE(insns), "livebind_gate");
}

/* A self-opening gate's flag: a one-element array, 0 while closed, set to
 * 1 by the gate's watcher. */
static int
create_flag(void)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = sizeof(uint32_t);
    attr.value_size = sizeof(uint32_t);
    attr.max_entries = 1;
    ovs_strlcpy(attr.map_name, "livebind_gate", sizeof attr.map_name);
    int fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    return fd < 0 ? -errno : fd;
}

/* Reads the flag behind 'flag_fd': true if the gate opened itself. */
static bool
flag_is_set(int flag_fd)
{
    uint32_t key = 0, value = 0;
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.map_fd = flag_fd;
    attr.key = (uintptr_t) &key;
    attr.value = (uintptr_t) &value;
    return !syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof attr)
           && value;
}

/* The self-opening gate, on the interface's egress (toward the VM): drop
 * unless the flag is set. */
static int
load_gate_program(int flag_fd)
{
    const struct bpf_insn insns[] = {
        LOOKUP_FLAG(flag_fd),
        JEQ_IMM(BPF_REG_0, 0, 2),               /* -> drop */
        LDX_W(BPF_REG_0, BPF_REG_0, 0),
        JNE_IMM(BPF_REG_0, 0, 2),               /* set -> pass */
        MOV_IMM(BPF_REG_0, TC_ACT_SHOT),        /* drop: */
        EXIT(),
        MOV_IMM(BPF_REG_0, TC_ACT_OK),          /* pass: */
        EXIT(),
    };
    return load_program(insns, ARRAY_SIZE(insns), "livebind_gate");
}

/* The self-opening gate's watcher, on the interface's ingress (from the
 * VM): sets the flag on the VM's RARP, the announcement QEMU sends for
 * every NIC the moment the VM resumes (whether or not the guest announces
 * itself too), checked as fully as the agent checks it (announce.c): a
 * reverse request for Ethernet and IPv4 with the VM's MAC as source and
 * as sender.  The guest's own GARPs and NAs, which the agent checks
 * against the VM's addresses, are left to the agent.  Only the VM's pod
 * sends on this interface, and before the VM resumes there, nothing of
 * the VM's.  The switch gets the frame whatever the watcher returns (its
 * packet socket sees it first), so the watcher lets everything pass. */
static int
load_watcher_program(int flag_fd, const struct eth_addr *mac)
{
    const uint8_t *m = mac->ea;
    int32_t mac_hi = (int32_t) (((uint32_t) m[0] << 24) | (m[1] << 16)
                                | (m[2] << 8) | m[3]);
    int32_t mac_lo = (m[4] << 8) | m[5];
    const struct bpf_insn insns[] = {
        MOV_REG(BPF_REG_6, BPF_REG_1),          /* for LD_ABS */
        LD_ABS(BPF_H, 12),                      /* EtherType */
        JNE_IMM(BPF_REG_0, ETH_P_RARP, 24),     /* -> out */
        LD_ABS(BPF_H, ETH_HLEN),                /* hardware type */
        JNE_IMM(BPF_REG_0, 1, 22),
        LD_ABS(BPF_H, ETH_HLEN + 2),            /* protocol type */
        JNE_IMM(BPF_REG_0, ETH_P_IP, 20),
        LD_ABS(BPF_H, ETH_HLEN + 4),            /* address lengths */
        JNE_IMM(BPF_REG_0, 0x0604, 18),
        LD_ABS(BPF_H, ETH_HLEN + 6),            /* op: reverse request */
        JNE_IMM(BPF_REG_0, 3, 16),
        LD_ABS(BPF_W, 6),                       /* Ethernet source */
        JNE32_IMM(BPF_REG_0, mac_hi, 14),
        LD_ABS(BPF_H, 10),
        JNE_IMM(BPF_REG_0, mac_lo, 12),
        LD_ABS(BPF_W, ETH_HLEN + 8),            /* sender MAC */
        JNE32_IMM(BPF_REG_0, mac_hi, 10),
        LD_ABS(BPF_H, ETH_HLEN + 12),
        JNE_IMM(BPF_REG_0, mac_lo, 8),
        LOOKUP_FLAG(flag_fd),
        JEQ_IMM(BPF_REG_0, 0, 1),               /* -> out */
        ST_W(BPF_REG_0, 0, 1),                  /* flag = 1 */
        MOV_IMM(BPF_REG_0, TC_ACT_OK),          /* out: */
        EXIT(),
    };
    return load_program(insns, ARRAY_SIZE(insns), "livebind_watch");
}

struct port_gates *
port_gates_create(bool self_open)
{
    struct port_gates *pg = xzalloc(sizeof *pg);
    sset_init(&pg->closed);
    simap_init(&pg->flags);
    sset_init(&pg->failed);
    pg->self_open = self_open;
    /* The plain program: also the proof that programs can be loaded. */
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
        struct simap_node *node;
        SIMAP_FOR_EACH (node, &pg->flags) {
            close(node->data);
        }
        simap_destroy(&pg->flags);
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

/* Runs 'prog_fd' on 'frame' in the kernel (BPF_PROG_TEST_RUN) and stores
 * what it returned in '*verdict'. */
static int
test_run(int prog_fd, const void *frame, size_t len, int *verdict)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = prog_fd;
    attr.test.data_in = (uintptr_t) frame;
    attr.test.data_size_in = len;
    attr.test.repeat = 1;
    if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr)) {
        return errno;
    }
    *verdict = (int) attr.test.retval;
    return 0;
}

int
port_gate_test_run(const struct eth_addr *mac, const void *frame,
                   size_t len, bool *opened, int *verdict)
{
    int flag = create_flag();
    if (flag < 0) {
        return -flag;
    }
    int gate = load_gate_program(flag);
    int watcher = load_watcher_program(flag, mac);
    int watcher_verdict;
    int error = (gate < 0 ? -gate : watcher < 0 ? -watcher
                 : test_run(watcher, frame, len, &watcher_verdict));
    if (!error) {
        *opened = flag_is_set(flag);
        error = test_run(gate, frame, len, verdict);
    }
    if (!error && watcher_verdict != TC_ACT_OK) {
        error = EPROTO;         /* The watcher must never hide a frame. */
    }
    if (gate >= 0) {
        close(gate);
    }
    if (watcher >= 0) {
        close(watcher);
    }
    close(flag);
    return error;
}

/* Attaches program 'prog_fd' as our filter on 'ifindex''s clsact hook
 * 'hook' (TC_H_MIN_EGRESS or _INGRESS). */
static int
attach(struct port_gates *pg, int ifindex, uint32_t hook, int prog_fd)
{
    struct nl_msg *msg = tc_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
                                ifindex, TC_H_MAKE(TC_H_CLSACT, hook),
                                GATE_HANDLE, gate_info());
    nla_put_string(msg, TCA_KIND, "bpf");
    struct nlattr *opts = nla_nest_start(msg, TCA_OPTIONS);
    nla_put_u32(msg, TCA_BPF_FD, prog_fd);
    nla_put_string(msg, TCA_BPF_NAME, GATE_NAME);
    nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    nla_nest_end(msg, opts);
    return transact(pg, msg);
}

static int
detach(struct port_gates *pg, int ifindex, uint32_t hook)
{
    struct nl_msg *msg = tc_msg(RTM_DELTFILTER, 0, ifindex,
                                TC_H_MAKE(TC_H_CLSACT, hook), GATE_HANDLE,
                                gate_info());
    nla_put_string(msg, TCA_KIND, "bpf");
    return transact(pg, msg);
}

/* Puts the self-opening gate of the VM with 'mac' on 'ifindex': its flag,
 * the gate on egress, then the watcher on ingress.  Stores the flag's
 * descriptor in '*flag_fd'. */
static int
self_opening_gate_close(struct port_gates *pg, int ifindex,
                        const struct eth_addr *mac, int *flag_fd)
{
    int flag = create_flag();
    if (flag < 0) {
        return -flag;
    }
    int gate = load_gate_program(flag);
    int watcher = load_watcher_program(flag, mac);
    int error = (gate < 0 ? -gate : watcher < 0 ? -watcher
                 : attach(pg, ifindex, TC_H_MIN_EGRESS, gate));
    if (!error) {
        error = attach(pg, ifindex, TC_H_MIN_INGRESS, watcher);
        if (error) {
            detach(pg, ifindex, TC_H_MIN_EGRESS);
        }
    }
    /* The filters hold the programs, and the programs the flag. */
    if (gate >= 0) {
        close(gate);
    }
    if (watcher >= 0) {
        close(watcher);
    }
    if (error) {
        close(flag);
    } else {
        *flag_fd = flag;
    }
    return error;
}

static int
gate_close(struct port_gates *pg, const char *ifname,
           const struct eth_addr *mac, int *flag_fd)
{
    int ifindex = if_nametoindex(ifname);
    *flag_fd = -1;
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

    error = (pg->self_open
             ? self_opening_gate_close(pg, ifindex, mac, flag_fd)
             : attach(pg, ifindex, TC_H_MIN_EGRESS, pg->prog_fd));
    return error == EEXIST ? 0 : error;
}

static int
gate_open(struct port_gates *pg, const char *ifname)
{
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        return ENOENT;          /* Gone, and its filters with it. */
    }
    int error = detach(pg, ifindex, TC_H_MIN_EGRESS);
    if (!error || error == ENOENT) {
        /* The watcher, if there is one. */
        int error2 = detach(pg, ifindex, TC_H_MIN_INGRESS);
        error = error2 == ENOENT ? error : error2;
    }
    return error;
}

/* A filter dump's message: is it our gate?  Then its program's id goes
 * to '*prog_id' (0 if the kernel did not say). */
static int
scan_cb(struct nl_msg *msg, void *prog_id_)
{
    int64_t *prog_id = prog_id_;
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
        *prog_id = bpf[TCA_BPF_ID] ? nla_get_u32(bpf[TCA_BPF_ID]) : 0;
    }
    return NL_OK;
}

/* Returns the id of the program of our gate on 'ifname' (0 if unknown),
 * or -1 if there is no gate. */
static int64_t
gate_find(struct port_gates *pg, const char *ifname)
{
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        return -1;
    }
    struct nl_msg *msg = tc_msg(RTM_GETTFILTER, NLM_F_DUMP, ifindex,
                                TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), 0,
                                0);
    int64_t prog_id = -1;
    int err = nl_send_auto(pg->sk, msg);
    nlmsg_free(msg);
    if (err >= 0) {
        struct nl_cb *cb = nl_cb_clone(nl_socket_get_cb(pg->sk));
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, scan_cb, &prog_id);
        nl_recvmsgs(pg->sk, cb);
        nl_cb_put(cb);
    }
    return prog_id;
}

/* The flag of the self-opening gate whose program has id 'prog_id', as a
 * new descriptor, or -1 if that program has no map (a plain gate). */
static int
flag_of_program(uint32_t prog_id)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.prog_id = prog_id;
    int prog_fd = syscall(__NR_bpf, BPF_PROG_GET_FD_BY_ID, &attr,
                          sizeof attr);
    if (prog_fd < 0) {
        return -1;
    }
    uint32_t map_id = 0;
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    info.nr_map_ids = 1;
    info.map_ids = (uintptr_t) &map_id;
    memset(&attr, 0, sizeof attr);
    attr.info.bpf_fd = prog_fd;
    attr.info.info_len = sizeof info;
    attr.info.info = (uintptr_t) &info;
    int error = syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr,
                        sizeof attr);
    close(prog_fd);
    if (error || !info.nr_map_ids || !map_id) {
        return -1;
    }
    memset(&attr, 0, sizeof attr);
    attr.map_id = map_id;
    int fd = syscall(__NR_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof attr);
    return fd < 0 ? -1 : fd;
}

void
port_gates_scan(struct port_gates *pg, const struct sset *ifnames)
{
    if (!pg->sk) {
        return;
    }
    const char *ifname;
    SSET_FOR_EACH (ifname, ifnames) {
        int64_t prog_id = gate_find(pg, ifname);
        if (prog_id < 0) {
            continue;
        }
        sset_add(&pg->closed, ifname);
        /* A predecessor's self-opening gate: its flag, for the status and
         * the log. */
        int flag_fd = prog_id ? flag_of_program(prog_id) : -1;
        if (flag_fd >= 0) {
            simap_put(&pg->flags, ifname, flag_fd);
        }
    }
}

bool
port_gates_sync(struct port_gates *pg, const struct shash *want,
                const struct sset *keep, bool may_open)
{
    bool changed = false;
    const char *ifname;

    if (may_open && pg->sk) {
        SSET_FOR_EACH_SAFE (ifname, &pg->closed) {
            if (shash_find(want, ifname)
                || (keep && sset_contains(keep, ifname))) {
                continue;
            }
            int error = gate_open(pg, ifname);
            if (error && error != ENOENT) {
                VLOG_WARN_RL(&rl, "%s: removing the gate failed (%s)",
                             ifname, ovs_strerror(error));
                continue;
            }
            struct simap_node *flag = simap_find(&pg->flags, ifname);
            if (flag) {
                VLOG_INFO("%s: gate removed (%s)", ifname,
                          flag_is_set(flag->data)
                          ? "it had opened on the VM's announcement"
                          : "it had not opened itself");
                close(flag->data);
                simap_delete(&pg->flags, flag);
            } else {
                VLOG_INFO("%s: gate opened", ifname);
            }
            sset_delete(&pg->closed, SSET_NODE_FROM_NAME(ifname));
            changed = true;
        }
    }
    SSET_FOR_EACH_SAFE (ifname, &pg->failed) {
        if (!shash_find(want, ifname)) {
            sset_delete(&pg->failed, SSET_NODE_FROM_NAME(ifname));
        }
    }
    if (!usable(pg)) {
        return changed;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, want) {
        ifname = node->name;
        if (sset_contains(&pg->closed, ifname)
            || sset_contains(&pg->failed, ifname)) {
            continue;
        }
        int flag_fd;
        int error = gate_close(pg, ifname, node->data, &flag_fd);
        if (error) {
            sset_add(&pg->failed, ifname);
            VLOG_WARN_RL(&rl, "%s: cannot put the gate on (%s): its "
                         "blocked copy is dropped in the flow table",
                         ifname, ovs_strerror(error));
            continue;
        }
        VLOG_INFO("%s: gate closed%s", ifname,
                  flag_fd >= 0 ? " (opens on the VM's announcement)" : "");
        sset_add(&pg->closed, ifname);
        if (flag_fd >= 0) {
            simap_put(&pg->flags, ifname, flag_fd);
        }
        changed = true;
    }
    return changed;
}

bool
port_gates_self_open(const struct port_gates *pg)
{
    return pg->self_open;
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
        const struct simap_node *flag = simap_find(&pg->flags, ifname);
        ds_put_format(s, " %s%s", ifname,
                      !flag ? "" : flag_is_set(flag->data)
                      ? "(opened by the VM)" : "(self-opening)");
    }
    ds_put_char(s, '\n');
}
