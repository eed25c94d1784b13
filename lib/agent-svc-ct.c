/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "agent-svc-ct.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include "agent-view.h"
#include "cookie.h"
#include "flow.h"
#include "hash.h"
#include "model.h"
#include "netlink.h"
#include "ofctrl.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovs-bridge.h"
#include "pipeline-gateway.h"
#include "simap.h"
#include "svc-ct-handover.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_svc_ct);

/* While a port migrates, the source reads its host's conntrack this
 * often: a connection opened just before the VM stops on the source is
 * known to the target within this (and the stop-and-copy lasts longer),
 * and every record goes again each round, so one lost in the tunnel is
 * sent again. */
#define SVC_CT_INTERVAL_MS 200

/* A dump not finished in this long is given up (and started again). */
#define DUMP_TIMEOUT_MS 5000

/* Bounded work per loop iteration: reads of the dump, records sent,
 * acknowledgements read. */
#define MAX_RECVS 4
#define SEND_BATCH 64
#define MAX_ACKS 64

/* The records of one round, at most (a VM with more connections through
 * Services than that keeps the first ones). */
#define MAX_QUEUED 4096

/* Creations whose acknowledgements are awaited, by sequence number. */
#define N_PENDING 256

#define RECV_SIZE 65536

/* One migrating port, as the source or the target here. */
struct svc_port {
    char *name;
    char *target;               /* Source: the target being sent to. */
    size_t n_found;             /* Source: records in the last round. */
    uint64_t n_sent;            /* Source: packets sent, this migration. */
    uint64_t n_created;         /* Target: entries created. */
    uint64_t n_existing;        /* Target: entries the host had. */
    uint64_t n_failed;          /* Target: creations refused. */
    uint64_t n_refused;         /* Target: records refused. */
};

struct queued {
    struct lb_svc_ct ct;
    uint32_t port_key;
};

/* An address of a port this chassis is the source of. */
struct vm_addr {
    struct hmap_node node;      /* In 'vm_addrs', by hash_bytes(addr). */
    struct in6_addr addr;       /* IPv4 mapped. */
    bool v6;
    uint32_t port_key;
};

struct pending {
    bool used;
    uint32_t seq;
    uint32_t port_key;
    struct lb_svc_ct ct;
};

struct lb_agent_svc_ct {
    const struct lb_agent_view *view;
    struct shash ports;         /* Contains "struct svc_port". */
    uint64_t watched_seqno;     /* The flows' seqno the sources were last
                                 * looked for at. */
    bool any_source;            /* A port here is a migration's source. */

    /* Source. */
    int dump_fd;                /* -1: none open. */
    bool dumping;
    uint32_t dump_seq;
    long long int dump_started, next_dump;
    uint8_t *recv_buf;
    struct queued *queue;       /* The last round's records, being sent. */
    size_t n_queue, next_send;
    struct queued *round;       /* The round being read. */
    size_t n_round;
    struct hmap vm_addrs;       /* "struct vm_addr"s of the source ports,
                                 * as the round started. */

    /* Target. */
    int create_fd;
    uint32_t create_seq;
    struct pending pending[N_PENDING];
};

static struct svc_port *
svc_port_get(struct lb_agent_svc_ct *s, const char *name)
{
    struct svc_port *sp = shash_find_data(&s->ports, name);
    if (!sp) {
        sp = xzalloc(sizeof *sp);
        sp->name = xstrdup(name);
        shash_add(&s->ports, name, sp);
    }
    return sp;
}

static void
svc_port_destroy(struct svc_port *sp)
{
    if (sp) {
        free(sp->name);
        free(sp->target);
        free(sp);
    }
}

/* A non-blocking ctnetlink socket, or -1 (logged). */
static int
open_ctnetlink(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    NETLINK_NETFILTER);
    if (fd < 0) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "ctnetlink socket: %s", ovs_strerror(errno));
        return -1;
    }
    struct sockaddr_nl local = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *) &local, sizeof local) < 0) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "ctnetlink bind: %s", ovs_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int
send_nl(int fd, const struct ofpbuf *b)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t n = sendto(fd, b->data, b->size, 0, (struct sockaddr *) &kernel,
                       sizeof kernel);
    return n == b->size ? 0 : n < 0 ? errno : EMSGSIZE;
}

struct lb_agent_svc_ct *
lb_agent_svc_ct_create(const struct lb_agent_view *view)
{
    struct lb_agent_svc_ct *s = xzalloc(sizeof *s);
    s->view = view;
    shash_init(&s->ports);
    s->dump_fd = s->create_fd = -1;
    s->recv_buf = xmalloc(RECV_SIZE);
    hmap_init(&s->vm_addrs);
    return s;
}

void
lb_agent_svc_ct_destroy(struct lb_agent_svc_ct *s)
{
    if (s) {
        struct shash_node *node;
        SHASH_FOR_EACH_SAFE (node, &s->ports) {
            svc_port_destroy(node->data);
            shash_delete(&s->ports, node);
        }
        shash_destroy(&s->ports);
        if (s->dump_fd >= 0) {
            close(s->dump_fd);
        }
        if (s->create_fd >= 0) {
            close(s->create_fd);
        }
        struct vm_addr *va;
        HMAP_FOR_EACH_POP (va, node, &s->vm_addrs) {
            free(va);
        }
        hmap_destroy(&s->vm_addrs);
        free(s->recv_buf);
        free(s->queue);
        free(s->round);
        free(s);
    }
}

/* Whether 'port' is a migrating port of a gateway switch whose source is
 * this chassis, bound to its target too. */
static bool
is_source(const struct lb_agent_svc_ct *s, const struct lb_port *port)
{
    return (port->chassis && port->additional_chassis && port->sw
            && lb_gateway_switch_has_gateway(port->sw)
            && !strcmp(port->chassis, s->view->chassis));
}

/* The ports this chassis is the source of: their entries, and whether
 * there is any.  The others' records are forgotten.  Looked for again
 * only when the flows change (a migration's start or end, like any change
 * of the model or the interfaces, makes new flows). */
static bool
watch_sources(struct lb_agent_svc_ct *s)
{
    if (*s->view->flows_seqno == s->watched_seqno) {
        return s->any_source;
    }
    s->watched_seqno = *s->view->flows_seqno;
    bool any = false;
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &s->ports) {
        struct svc_port *sp = node->data;
        const struct lb_port *port = lb_model_find_port(s->view->model,
                                                        sp->name);
        if (sp->target && (!port || !is_source(s, port)
                           || strcmp(port->additional_chassis,
                                     sp->target))) {
            VLOG_INFO("%s: Service handover to %s over: %"PRIu64" records "
                      "sent, %"PRIuSIZE" connections in the last round",
                      sp->name, sp->target, sp->n_sent, sp->n_found);
            free(sp->target);
            sp->target = NULL;
        }
        if (!port) {
            /* Never more entries than the model has ports. */
            shash_delete(&s->ports, node);
            svc_port_destroy(sp);
        }
    }
    const struct simap_node *sn;
    SIMAP_FOR_EACH (sn, ovs_bridge_iface_ofports(s->view->bridge)) {
        const struct lb_port *port = lb_model_find_port(s->view->model,
                                                        sn->name);
        if (!port || !is_source(s, port)) {
            continue;
        }
        struct svc_port *sp = svc_port_get(s, port->name);
        if (!sp->target) {
            sp->target = xstrdup(port->additional_chassis);
            sp->n_sent = 0;
            sp->n_found = 0;
            VLOG_INFO("%s: Service handover to %s: reading the host's "
                      "conntrack every %d ms", port->name, sp->target,
                      SVC_CT_INTERVAL_MS);
        }
        any = true;
    }
    s->any_source = any;
    return any;
}

static void
dump_stop(struct lb_agent_svc_ct *s, bool reopen)
{
    s->dumping = false;
    if (reopen && s->dump_fd >= 0) {
        /* What is left of the dump must not be read as the next one. */
        close(s->dump_fd);
        s->dump_fd = -1;
    }
}

static void
add_vm_addr(struct lb_agent_svc_ct *s, const struct in6_addr *addr, bool v6,
            uint32_t port_key)
{
    struct vm_addr *va = xmalloc(sizeof *va);
    va->addr = *addr;
    va->v6 = v6;
    va->port_key = port_key;
    hmap_insert(&s->vm_addrs, &va->node, hash_bytes(addr, sizeof *addr, 0));
}

/* The addresses of the ports this chassis is the source of, for the
 * round that starts. */
static void
collect_vm_addrs(struct lb_agent_svc_ct *s)
{
    struct vm_addr *va;
    HMAP_FOR_EACH_POP (va, node, &s->vm_addrs) {
        free(va);
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &s->ports) {
        const struct svc_port *sp = node->data;
        const struct lb_port *port = (sp->target
                                      ? lb_model_find_port(s->view->model,
                                                           sp->name)
                                      : NULL);
        if (!port) {
            continue;
        }
        for (size_t i = 0; i < port->n_ipv4; i++) {
            struct in6_addr a = in6_addr_mapped_ipv4(port->ipv4[i]);
            add_vm_addr(s, &a, false, port->key);
        }
        for (size_t i = 0; i < port->n_ipv6; i++) {
            add_vm_addr(s, &port->ipv6[i], true, port->key);
        }
    }
}

static void
dump_start(struct lb_agent_svc_ct *s)
{
    s->next_dump = time_msec() + SVC_CT_INTERVAL_MS;
    collect_vm_addrs(s);
    if (s->dump_fd < 0) {
        s->dump_fd = open_ctnetlink();
        if (s->dump_fd < 0) {
            return;
        }
    }
    struct ofpbuf b;
    ofpbuf_init(&b, 128);
    lb_svc_ct_put_dump_request(++s->dump_seq, &b);
    int error = send_nl(s->dump_fd, &b);
    ofpbuf_uninit(&b);
    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "conntrack dump request: %s", ovs_strerror(error));
        dump_stop(s, true);
        return;
    }
    s->dumping = true;
    s->dump_started = time_msec();
    s->n_round = 0;
}

/* A record of the dump: queued if it is a source port's. */
static void
round_add(struct lb_agent_svc_ct *s, const struct lb_svc_ct *ct)
{
    const struct vm_addr *va;
    HMAP_FOR_EACH_WITH_HASH (va, node, hash_bytes(&ct->vm, sizeof ct->vm, 0),
                             &s->vm_addrs) {
        if (va->v6 == ct->v6 && ipv6_addr_equals(&va->addr, &ct->vm)) {
            if (s->n_round < MAX_QUEUED) {
                if (!s->round) {
                    s->round = xmalloc(MAX_QUEUED * sizeof *s->round);
                }
                s->round[s->n_round].ct = *ct;
                s->round[s->n_round].port_key = va->port_key;
                s->n_round++;
            }
            return;
        }
    }
}

/* The round is read: it replaces the one being sent. */
static void
round_done(struct lb_agent_svc_ct *s)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &s->ports) {
        struct svc_port *sp = node->data;
        sp->n_found = 0;
    }
    for (size_t i = 0; i < s->n_round; i++) {
        const struct lb_port *port = lb_model_find_port_by_key(
            s->view->model, s->round[i].port_key);
        struct svc_port *sp = port ? shash_find_data(&s->ports, port->name)
                                   : NULL;
        if (sp) {
            sp->n_found++;
        }
    }
    struct queued *q = s->queue;
    s->queue = s->round;
    s->n_queue = s->n_round;
    s->next_send = 0;
    s->round = q;
    s->n_round = 0;
    dump_stop(s, false);
}

/* Reads what the dump has sent so far, MAX_RECVS reads at most. */
static void
dump_read(struct lb_agent_svc_ct *s)
{
    if (time_msec() - s->dump_started > DUMP_TIMEOUT_MS) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "conntrack dump unfinished after %d ms: given up",
                     DUMP_TIMEOUT_MS);
        dump_stop(s, true);
        return;
    }
    for (int i = 0; i < MAX_RECVS && s->dumping; i++) {
        ssize_t n = recv(s->dump_fd, s->recv_buf, RECV_SIZE, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        } else if (n <= 0) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_WARN_RL(&rl, "conntrack dump: %s",
                         n < 0 ? ovs_strerror(errno) : "end of file");
            dump_stop(s, true);
            return;
        }
        struct ofpbuf buf, msg;
        ofpbuf_use_const(&buf, s->recv_buf, n);
        struct nlmsghdr *nlh;
        while ((nlh = nl_msg_next(&buf, &msg)) != NULL) {
            if (nlh->nlmsg_seq != s->dump_seq) {
                continue;
            }
            if (nlh->nlmsg_type == NLMSG_DONE) {
                round_done(s);
                return;
            }
            int error;
            if (nl_msg_nlmsgerr(&msg, &error, NULL)) {
                static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
                VLOG_WARN_RL(&rl, "conntrack dump: %s",
                             ovs_strerror(error));
                dump_stop(s, true);
                return;
            }
            struct lb_svc_ct ct;
            if (lb_svc_ct_parse_nl(msg.data, msg.size, &ct)
                == LB_SVC_CT_OK) {
                round_add(s, &ct);
            }
        }
    }
}

/* The next SEND_BATCH records of the last round, to their targets. */
static void
send_batch(struct lb_agent_svc_ct *s)
{
    const struct lb_agent_view *v = s->view;
    struct ofpbuf packet;
    struct ds actions = DS_EMPTY_INITIALIZER;
    ofpbuf_init(&packet, 128);
    for (size_t i = 0; i < SEND_BATCH && s->next_send < s->n_queue; i++) {
        const struct queued *q = &s->queue[s->next_send++];
        const struct lb_port *port = lb_model_find_port_by_key(v->model,
                                                               q->port_key);
        if (!port || !is_source(s, port)) {
            continue;
        }
        unsigned int tun = simap_get(ovs_bridge_tunnel_ofports(v->bridge),
                                     port->additional_chassis);
        struct svc_port *sp = shash_find_data(&s->ports, port->name);
        if (!tun || !sp) {
            continue;
        }
        lb_svc_ct_packet(&q->ct, port->mac, &packet);
        ds_clear(&actions);
        lb_svc_ct_packet_out_actions(port->sw->tunnel_key, tun, &actions);
        if (!ofctrl_packet_out(v->ofctrl, packet.data, packet.size,
                               OFPP_CONTROLLER, ds_cstr(&actions))) {
            if (!sp->n_sent) {
                struct ds d = DS_EMPTY_INITIALIZER;
                lb_svc_ct_format(&q->ct, &d);
                VLOG_INFO("%s: Service handover: sending %s to %s",
                          port->name, ds_cstr(&d), sp->target);
                ds_destroy(&d);
            }
            sp->n_sent++;
        }
    }
    ofpbuf_uninit(&packet);
    ds_destroy(&actions);
}

/* ---- Target. */

static void
log_result(struct lb_agent_svc_ct *s, const struct pending *p, int error)
{
    const struct lb_port *port = lb_model_find_port_by_key(s->view->model,
                                                           p->port_key);
    struct svc_port *sp = port ? svc_port_get(s, port->name) : NULL;
    struct ds d = DS_EMPTY_INITIALIZER;
    lb_svc_ct_format(&p->ct, &d);
    if (!error) {
        VLOG_INFO("%s: Service handover: created %s",
                  port ? port->name : "(gone)", ds_cstr(&d));
        if (sp) {
            sp->n_created++;
        }
    } else if (error == EEXIST) {
        VLOG_DBG("%s: Service handover: known already: %s",
                 port ? port->name : "(gone)", ds_cstr(&d));
        if (sp) {
            sp->n_existing++;
        }
    } else {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "%s: Service handover: could not create %s: %s",
                     port ? port->name : "(gone)", ds_cstr(&d),
                     ovs_strerror(error));
        if (sp) {
            sp->n_failed++;
        }
    }
    ds_destroy(&d);
}

/* The kernel's acknowledgements of the creations, MAX_ACKS at most. */
static void
read_acks(struct lb_agent_svc_ct *s)
{
    for (int i = 0; i < MAX_ACKS && s->create_fd >= 0; i++) {
        ssize_t n = recv(s->create_fd, s->recv_buf, RECV_SIZE, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        } else if (n <= 0) {
            /* ENOBUFS: acknowledgements lost, only counts with them. */
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_WARN_RL(&rl, "conntrack creations: %s",
                         n < 0 ? ovs_strerror(errno) : "end of file");
            if (n < 0 && errno == ENOBUFS) {
                continue;
            }
            close(s->create_fd);
            s->create_fd = -1;
            return;
        }
        struct ofpbuf buf, msg;
        ofpbuf_use_const(&buf, s->recv_buf, n);
        struct nlmsghdr *nlh;
        while ((nlh = nl_msg_next(&buf, &msg)) != NULL) {
            int error;
            struct pending *p = &s->pending[nlh->nlmsg_seq % N_PENDING];
            if (nl_msg_nlmsgerr(&msg, &error, NULL) && p->used
                && p->seq == nlh->nlmsg_seq) {
                p->used = false;
                log_result(s, p, error);
            }
        }
    }
}

/* Whether 'pin', a record of 'port''s, may be taken: this chassis is its
 * migration's target, and it came from the main chassis's tunnel in the
 * switch's handover VNI. */
static const char *
check_origin(const struct lb_agent_svc_ct *s, const struct lb_port *port,
             const struct ofputil_packet_in *pin)
{
    const struct flow *flow = &pin->flow_metadata.flow;
    if (!port || !port->sw || !port->chassis || !port->additional_chassis
        || strcmp(port->additional_chassis, s->view->chassis)) {
        return "not a port migrating to this chassis";
    }
    unsigned int tun = simap_get(ovs_bridge_tunnel_ofports(s->view->bridge),
                                 port->chassis);
    if (!tun || ofp_to_u16(flow->in_port.ofp_port) != tun) {
        return "not from the tunnel of the port's main chassis";
    }
    if (ntohll(flow->tunnel.tun_id)
        != (port->sw->tunnel_key | LB_TUN_SVC_CT)) {
        return "not in the switch's handover VNI";
    }
    return NULL;
}

bool
lb_agent_svc_ct_packet_in(struct lb_agent_svc_ct *s,
                          const struct ofputil_packet_in *pin)
{
    ovs_be32 reason = 0;
    if (pin->userdata_len == sizeof reason) {
        memcpy(&reason, pin->userdata, sizeof reason);
    }
    if (ntohl(reason) != LB_PIN_SVC_CT) {
        return false;
    }

    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    uint64_t cookie = ntohll(pin->cookie);
    const struct lb_port *port = (
        lb_cookie_kind(cookie) == LB_COOKIE_PORT
        ? lb_model_find_port_by_key(s->view->model, lb_cookie_key(cookie))
        : NULL);
    const char *error = check_origin(s, port, pin);
    struct lb_svc_ct ct;
    if (!error && !lb_svc_ct_packet_parse(pin->packet, pin->packet_len, &ct,
                                          &error)
        && !error) {
        error = "unreadable";
    }
    if (!error && !lb_svc_ct_is_ports(port, &ct)) {
        error = "not from one of the port's addresses";
    }
    if (error) {
        VLOG_WARN_RL(&rl, "%s: Service handover record refused: %s",
                     port ? port->name : "(no port)", error);
        if (port) {
            svc_port_get(s, port->name)->n_refused++;
        }
        return true;
    }

    if (s->create_fd < 0) {
        s->create_fd = open_ctnetlink();
        if (s->create_fd < 0) {
            return true;
        }
    }
    uint32_t seq = ++s->create_seq;
    struct pending *p = &s->pending[seq % N_PENDING];
    if (p->used) {
        log_result(s, p, ETIMEDOUT);    /* Its acknowledgement was lost. */
    }
    *p = (struct pending) { .used = true, .seq = seq,
                            .port_key = port->key, .ct = ct };
    struct ofpbuf b;
    ofpbuf_init(&b, 256);
    lb_svc_ct_put_create(&ct, seq, &b);
    int retval = send_nl(s->create_fd, &b);
    ofpbuf_uninit(&b);
    if (retval) {
        p->used = false;
        log_result(s, p, retval);
    }
    return true;
}

void
lb_agent_svc_ct_run(struct lb_agent_svc_ct *s)
{
    if (s->create_fd >= 0) {
        read_acks(s);
    }
    if (!s->view->ready) {
        return;
    }
    bool any = watch_sources(s);
    if (s->dumping) {
        dump_read(s);
    } else if (any && time_msec() >= s->next_dump) {
        dump_start(s);
        if (s->dumping) {
            dump_read(s);
        }
    }
    if (!any) {
        s->n_queue = s->next_send = 0;
    }
    if (s->next_send < s->n_queue) {
        send_batch(s);
    }
}

void
lb_agent_svc_ct_wait(struct lb_agent_svc_ct *s)
{
    if (s->create_fd >= 0) {
        poll_fd_wait(s->create_fd, POLLIN);
    }
    if (s->dumping) {
        poll_fd_wait(s->dump_fd, POLLIN);
        poll_timer_wait_until(s->dump_started + DUMP_TIMEOUT_MS);
    }
    if (s->next_send < s->n_queue) {
        poll_immediate_wake();
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &s->ports) {
        const struct svc_port *sp = node->data;
        if (sp->target && !s->dumping) {
            poll_timer_wait_until(s->next_dump);
            break;
        }
    }
}

void
lb_agent_svc_ct_format(const struct lb_agent_svc_ct *s, struct ds *d)
{
    const struct shash_node **nodes = shash_sort(&s->ports);
    for (size_t i = 0; i < shash_count(&s->ports); i++) {
        const struct svc_port *sp = nodes[i]->data;
        ds_put_format(d, "%s:\n", sp->name);
        if (sp->target || sp->n_sent) {
            ds_put_format(d, "  sent%s%s: %"PRIu64" records, %"PRIuSIZE
                          " connections in the last round\n",
                          sp->target ? " to " : "",
                          sp->target ? sp->target : "", sp->n_sent,
                          sp->n_found);
        }
        if (sp->n_created || sp->n_existing || sp->n_failed
            || sp->n_refused) {
            ds_put_format(d, "  taken: %"PRIu64" created, %"PRIu64
                          " known already, %"PRIu64" failed, %"PRIu64
                          " records refused\n", sp->n_created,
                          sp->n_existing, sp->n_failed, sp->n_refused);
        }
    }
    free(nodes);
}
