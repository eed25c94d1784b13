/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "ofctrl.h"

#include <errno.h>
#include <string.h>
#include "flow-table.h"
#include "hash.h"
#include "openflow/nicira-ext.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-meter.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/rconn.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "cookie.h"
#include "socket-util.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofctrl);

/* A flow as the switch holds it. */
struct installed_flow {
    struct hmap_node node;      /* In ofctrl's 'installed'. */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    uint64_t cookie;
    struct ofpact *ofpacts;
    size_t ofpacts_len;
};

/* A meter as the switch holds it. */
struct installed_meter {
    struct hmap_node node;      /* In ofctrl's 'meters', by id. */
    struct ofputil_meter_config mc;     /* 'mc.bands' owned. */
};

/* A barrier sent after a bundle: when its reply arrives, everything up to
 * 'seqno' is in the switch. */
struct pending_barrier {
    struct ovs_list list_node;
    ovs_be32 xid;
    uint64_t seqno;
};

enum ofctrl_state {
    S_DISCONNECTED,             /* Waiting for rconn. */
    S_DUMPING,                  /* Reading the switch's flows and meters. */
    S_SYNCED,                   /* 'installed' mirrors the switch. */
};

struct ofctrl {
    struct rconn *rconn;
    unsigned int conn_seqno;    /* rconn's connection seqno last seen. */
    enum ofctrl_state state;
    ovs_be32 dump_xid;
    ovs_be32 meter_dump_xid;
    ovs_be32 features_xid;
    bool flows_dumped;          /* In S_DUMPING: flow dump done. */
    bool meters_dumped;         /* In S_DUMPING: meter dump done. */
    bool features_known;        /* In S_DUMPING: meter features read. */
    uint32_t max_meters;        /* The switch's; 0 if it has no meters. */
    bool need_full_diff;        /* Next put compares everything. */

    struct hmap installed;      /* Contains "struct installed_flow". */
    struct hmap meters;         /* Contains "struct installed_meter". */
    uint64_t meters_seqno;      /* Desired meters' seqno last compared. */
    uint32_t bundle_id;
    struct ovs_list barriers;   /* Contains "struct pending_barrier". */
    ovs_be32 last_commit_xid;   /* To recognise a failed bundle. */
    uint64_t put_seqno;         /* Seqno of the last ofctrl_put(). */
    uint64_t installed_seqno;

    ofctrl_packet_in_cb *packet_in_cb;
    void *packet_in_aux;
    struct ofctrl_stats stats;

    /* Aggregate flow statistics asked for, answered through 'agg_cb'. */
    ofctrl_aggregate_cb *agg_cb;
    void *agg_aux;
    struct {
        ovs_be32 xid;
        uint64_t cookie;
    } agg_pending[16];
    size_t n_agg_pending;
};

static void ofctrl_clear_installed(struct ofctrl *);
static void ofctrl_clear_meters(struct ofctrl *);

static enum ofp_version
ofctrl_version(const struct ofctrl *ofctrl)
{
    return rconn_get_version(ofctrl->rconn);
}

static enum ofputil_protocol
ofctrl_protocol(const struct ofctrl *ofctrl)
{
    return ofputil_protocol_from_ofp_version(ofctrl_version(ofctrl));
}

struct ofctrl *
ofctrl_create(const char *target, ofctrl_packet_in_cb *cb, void *aux)
{
    struct ofctrl *ofctrl = xzalloc(sizeof *ofctrl);
    uint32_t versions = ((1u << OFP13_VERSION) | (1u << OFP14_VERSION)
                         | (1u << OFP15_VERSION));

    /* No inactivity probe: the socket is local, and a busy switch must not
     * be mistaken for a dead one. */
    ofctrl->rconn = rconn_create(0, 8, DSCP_DEFAULT, versions);
    rconn_connect(ofctrl->rconn, target, target);
    ofctrl->state = S_DISCONNECTED;
    hmap_init(&ofctrl->installed);
    hmap_init(&ofctrl->meters);
    ovs_list_init(&ofctrl->barriers);
    ofctrl->packet_in_cb = cb;
    ofctrl->packet_in_aux = aux;
    return ofctrl;
}

static void
ofctrl_clear_barriers(struct ofctrl *ofctrl)
{
    struct pending_barrier *pb;
    LIST_FOR_EACH_POP (pb, list_node, &ofctrl->barriers) {
        free(pb);
    }
}

void
ofctrl_destroy(struct ofctrl *ofctrl)
{
    if (ofctrl) {
        rconn_destroy(ofctrl->rconn);
        ofctrl_clear_installed(ofctrl);
        hmap_destroy(&ofctrl->installed);
        ofctrl_clear_meters(ofctrl);
        hmap_destroy(&ofctrl->meters);
        ofctrl_clear_barriers(ofctrl);
        free(ofctrl);
    }
}

static ovs_be32
ofctrl_send(struct ofctrl *ofctrl, struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    ovs_be32 xid = oh->xid;
    rconn_send(ofctrl->rconn, msg, NULL);
    return xid;
}

/* Installed flows. */

static uint32_t
installed_hash(uint8_t table_id, uint16_t priority,
               const struct minimatch *match)
{
    return minimatch_hash(match, hash_2words(table_id, priority));
}

static struct installed_flow *
installed_find(const struct ofctrl *ofctrl, uint8_t table_id,
               uint16_t priority, const struct minimatch *match)
{
    struct installed_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, node,
                             installed_hash(table_id, priority, match),
                             &ofctrl->installed) {
        if (f->table_id == table_id && f->priority == priority
            && minimatch_equal(&f->match, match)) {
            return f;
        }
    }
    return NULL;
}

static void
installed_free(struct installed_flow *f)
{
    if (f) {
        minimatch_destroy(&f->match);
        free(f->ofpacts);
        free(f);
    }
}

static void
ofctrl_clear_installed(struct ofctrl *ofctrl)
{
    struct installed_flow *f;
    HMAP_FOR_EACH_POP (f, node, &ofctrl->installed) {
        installed_free(f);
    }
}

static void
installed_add(struct ofctrl *ofctrl, uint8_t table_id, uint16_t priority,
              const struct minimatch *match, uint64_t cookie,
              const struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct installed_flow *f = xzalloc(sizeof *f);
    f->table_id = table_id;
    f->priority = priority;
    minimatch_clone(&f->match, match);
    f->cookie = cookie;
    f->ofpacts = xmemdup(ofpacts, ofpacts_len);
    f->ofpacts_len = ofpacts_len;
    hmap_insert(&ofctrl->installed, &f->node,
                installed_hash(table_id, priority, &f->match));
}

/* Installed meters. */

static struct installed_meter *
meter_find(const struct ofctrl *ofctrl, uint32_t id)
{
    struct installed_meter *m;
    HMAP_FOR_EACH_WITH_HASH (m, node, hash_int(id, 0), &ofctrl->meters) {
        if (m->mc.meter_id == id) {
            return m;
        }
    }
    return NULL;
}

static void
meter_set_config(struct installed_meter *m,
                 const struct ofputil_meter_config *mc)
{
    free(m->mc.bands);
    m->mc = *mc;
    m->mc.bands = xmemdup(mc->bands, mc->n_bands * sizeof *mc->bands);
}

static void
meter_add(struct ofctrl *ofctrl, const struct ofputil_meter_config *mc)
{
    struct installed_meter *m = xzalloc(sizeof *m);
    meter_set_config(m, mc);
    hmap_insert(&ofctrl->meters, &m->node, hash_int(mc->meter_id, 0));
}

static void
meter_free(struct installed_meter *m)
{
    if (m) {
        free(m->mc.bands);
        free(m);
    }
}

static void
ofctrl_clear_meters(struct ofctrl *ofctrl)
{
    struct installed_meter *m;
    HMAP_FOR_EACH_POP (m, node, &ofctrl->meters) {
        meter_free(m);
    }
}

static bool
meter_config_equal(const struct ofputil_meter_config *a,
                   const struct ofputil_meter_config *b)
{
    if (a->flags != b->flags || a->n_bands != b->n_bands) {
        return false;
    }
    for (size_t i = 0; i < a->n_bands; i++) {
        const struct ofputil_meter_band *x = &a->bands[i];
        const struct ofputil_meter_band *y = &b->bands[i];
        if (x->type != y->type || x->rate != y->rate
            || x->burst_size != y->burst_size
            || x->prec_level != y->prec_level) {
            return false;
        }
    }
    return true;
}

/* Connection handling. */

static void
ofctrl_start_dump(struct ofctrl *ofctrl)
{
    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .table_id = OFPTT_ALL,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
    };
    match_init_catchall(&fsr.match);

    ofctrl_clear_installed(ofctrl);
    ofctrl_clear_meters(ofctrl);
    ofctrl->dump_xid = ofctrl_send(
        ofctrl, ofputil_encode_flow_stats_request(&fsr,
                                                  ofctrl_protocol(ofctrl)));
    /* The meters too, so that a restarted agent with nothing to change
     * sends no meter-mod either. */
    ofctrl->meter_dump_xid = ofctrl_send(
        ofctrl, ofputil_encode_meter_request(ofctrl_version(ofctrl),
                                             OFPUTIL_METER_CONFIG,
                                             OFPM13_ALL));
    /* Whether the switch has meters at all: a kernel datapath whose meters
     * OVS found broken reports none. */
    ofctrl->features_xid = ofctrl_send(
        ofctrl, ofputil_encode_meter_request(ofctrl_version(ofctrl),
                                             OFPUTIL_METER_FEATURES,
                                             OFPM13_ALL));
    ofctrl->n_agg_pending = 0;
    ofctrl->flows_dumped = false;
    ofctrl->meters_dumped = false;
    ofctrl->features_known = false;
    ofctrl->state = S_DUMPING;
}

static void
ofctrl_dump_done(struct ofctrl *ofctrl)
{
    if (ofctrl->flows_dumped && ofctrl->meters_dumped
        && ofctrl->features_known) {
        VLOG_INFO("switch holds %"PRIuSIZE" flows and %"PRIuSIZE" meters",
                  hmap_count(&ofctrl->installed),
                  hmap_count(&ofctrl->meters));
        if (!ofctrl->max_meters) {
            VLOG_WARN("the switch has no meters: packet-ins are not "
                      "rate-limited in the switch");
        }
        ofctrl->state = S_SYNCED;
        ofctrl->need_full_diff = true;
    }
}

static void
ofctrl_handle_meter_config(struct ofctrl *ofctrl,
                           const struct ofp_header *oh)
{
    struct ofpbuf msg = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofpbuf bands;
    ofpbuf_init(&bands, 64);

    for (;;) {
        struct ofputil_meter_config mc;
        int error = ofputil_decode_meter_config(&msg, &mc, &bands);
        if (error) {
            if (error != EOF) {
                VLOG_WARN("bad meter config reply (%s); dumping again",
                          ofperr_to_string(error));
                ofpbuf_uninit(&bands);
                ofctrl_start_dump(ofctrl);
                return;
            }
            break;
        }
        /* OVS's virtual meters ("slowpath", "controller") are not ours. */
        if (mc.meter_id && mc.meter_id <= OFPM13_MAX
            && !meter_find(ofctrl, mc.meter_id)) {
            meter_add(ofctrl, &mc);
        }
    }
    ofpbuf_uninit(&bands);

    if (!ofpmp_more(oh)) {
        ofctrl->meters_dumped = true;
        ofctrl_dump_done(ofctrl);
    }
}

static void
ofctrl_on_connect(struct ofctrl *ofctrl)
{
    enum ofp_version version = ofctrl_version(ofctrl);

    ofctrl->stats.n_connects++;
    ofctrl_clear_barriers(ofctrl);
    VLOG_INFO("%s: connected (OpenFlow %s)", rconn_get_target(ofctrl->rconn),
              ofputil_version_to_string(version));

    /* A management-socket ("service") connection gets packet-ins only once
     * it asks for them with a nonzero miss_send_len.  NXT_PACKET_IN2 carries
     * the pipeline registers, which name the logical port. */
    struct ofputil_switch_config sc = {
        .frag = OFPUTIL_FRAG_NORMAL,
        .invalid_ttl_to_controller = -1,
        .miss_send_len = UINT16_MAX,
    };
    ofctrl_send(ofctrl, ofputil_encode_set_config(&sc, version));
    ofctrl_send(ofctrl, ofputil_encode_set_packet_in_format(
                    version, OFPUTIL_PACKET_IN_NXT2));
    ofctrl_start_dump(ofctrl);
}

static void
ofctrl_handle_flow_stats(struct ofctrl *ofctrl, const struct ofp_header *oh)
{
    struct ofpbuf msg = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);

    for (;;) {
        struct ofputil_flow_stats fs;
        int error = ofputil_decode_flow_stats_reply(&fs, &msg, false,
                                                    &ofpacts);
        if (error) {
            if (error != EOF) {
                VLOG_WARN("bad flow stats reply (%s); dumping again",
                          ofperr_to_string(error));
                ofpbuf_uninit(&ofpacts);
                ofctrl_start_dump(ofctrl);
                return;
            }
            break;
        }
        /* Flows the switch learned (learn()) are its own: never
         * compared with the desired ones, never deleted by a diff, so a
         * restarted agent leaves them be. */
        if (lb_cookie_is_learned(ntohll(fs.cookie))) {
            continue;
        }
        struct minimatch mm;
        minimatch_init(&mm, &fs.match);
        installed_add(ofctrl, fs.table_id, fs.priority, &mm,
                      ntohll(fs.cookie), fs.ofpacts, fs.ofpacts_len);
        minimatch_destroy(&mm);
    }
    ofpbuf_uninit(&ofpacts);

    if (!ofpmp_more(oh)) {
        ofctrl->flows_dumped = true;
        ofctrl_dump_done(ofctrl);
    }
}

static void
ofctrl_handle_barrier_reply(struct ofctrl *ofctrl, ovs_be32 xid)
{
    struct pending_barrier *pb;
    LIST_FOR_EACH_SAFE (pb, list_node, &ofctrl->barriers) {
        uint64_t seqno = pb->seqno;
        bool last = pb->xid == xid;
        ovs_list_remove(&pb->list_node);
        free(pb);
        if (seqno > ofctrl->installed_seqno) {
            ofctrl->installed_seqno = seqno;
        }
        if (last) {
            break;
        }
    }
}

static void
ofctrl_handle_error(struct ofctrl *ofctrl, const struct ofp_header *oh)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 2);

    ofctrl->stats.n_errors++;
    VLOG_WARN_RL(&rl, "switch reported an error: %s", s);
    free(s);

    /* A failed bundle changed nothing in the switch, but our view of it
     * assumed success: read the switch's flows again. */
    if (ofctrl->state == S_SYNCED) {
        ofctrl_clear_barriers(ofctrl);
        ofctrl_start_dump(ofctrl);
    }
}

/* Returns the packet-in callback's verdict: true if it wants its flow
 * change sent at once. */
static bool
ofctrl_handle_packet_in(struct ofctrl *ofctrl, const struct ofp_header *oh)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct ofputil_packet_in pin;
    enum ofperr error = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                                 NULL, NULL, NULL);
    if (error) {
        VLOG_WARN_RL(&rl, "bad packet-in: %s", ofperr_to_string(error));
        return false;
    }
    ofctrl->stats.n_packet_ins++;
    /* 'pin' points into 'oh'; nothing to free. */
    return (ofctrl->packet_in_cb
            && ofctrl->packet_in_cb(ofctrl->packet_in_aux, &pin));
}

/* Returns true if a packet-in asked for its flow change to go out now. */
static bool
ofctrl_recv(struct ofctrl *ofctrl, const struct ofp_header *oh)
{
    enum ofptype type;
    if (ofptype_decode(&type, oh)) {
        return false;
    }
    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        ofctrl_send(ofctrl, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_FLOW_STATS_REPLY:
        if (ofctrl->state == S_DUMPING && oh->xid == ofctrl->dump_xid) {
            ofctrl_handle_flow_stats(ofctrl, oh);
        }
        break;
    case OFPTYPE_METER_FEATURES_STATS_REPLY:
        if (ofctrl->state == S_DUMPING && oh->xid == ofctrl->features_xid) {
            struct ofputil_meter_features mf;
            ofputil_decode_meter_features(oh, &mf);
            ofctrl->max_meters = mf.max_meters;
            ofctrl->features_known = true;
            ofctrl_dump_done(ofctrl);
        }
        break;
    case OFPTYPE_METER_CONFIG_STATS_REPLY:
        if (ofctrl->state == S_DUMPING && oh->xid == ofctrl->meter_dump_xid) {
            ofctrl_handle_meter_config(ofctrl, oh);
        }
        break;
    case OFPTYPE_BARRIER_REPLY:
        ofctrl_handle_barrier_reply(ofctrl, oh->xid);
        break;
    case OFPTYPE_AGGREGATE_STATS_REPLY:
        for (size_t i = 0; i < ofctrl->n_agg_pending; i++) {
            if (ofctrl->agg_pending[i].xid == oh->xid) {
                struct ofputil_aggregate_stats as;
                uint64_t cookie = ofctrl->agg_pending[i].cookie;
                ofctrl->agg_pending[i]
                    = ofctrl->agg_pending[--ofctrl->n_agg_pending];
                if (!ofputil_decode_aggregate_stats_reply(&as, oh)
                    && ofctrl->agg_cb) {
                    ofctrl->agg_cb(ofctrl->agg_aux, cookie, as.packet_count,
                                   as.flow_count);
                }
                break;
            }
        }
        break;
    case OFPTYPE_ERROR:
        ofctrl_handle_error(ofctrl, oh);
        break;
    case OFPTYPE_PACKET_IN:
        return ofctrl_handle_packet_in(ofctrl, oh);
    default:
        break;
    }
    return false;
}

/* Reads what the switch sent (up to a bound).  Returns true if a
 * packet-in's callback asked for its flow change to go out at once: the
 * caller should then call ofctrl_put() before anything else, which sends
 * the changes of every such packet-in read here in one bundle. */
bool
ofctrl_run(struct ofctrl *ofctrl)
{
    rconn_run(ofctrl->rconn);

    if (!rconn_is_connected(ofctrl->rconn)) {
        if (ofctrl->state != S_DISCONNECTED) {
            VLOG_INFO("%s: disconnected", rconn_get_target(ofctrl->rconn));
        }
        ofctrl->state = S_DISCONNECTED;
        return false;
    }
    unsigned int conn_seqno = rconn_get_connection_seqno(ofctrl->rconn);
    if (conn_seqno != ofctrl->conn_seqno
        || ofctrl->state == S_DISCONNECTED) {
        ofctrl->conn_seqno = conn_seqno;
        ofctrl_on_connect(ofctrl);
    }

    /* Bounded, so that a flood of packet-ins cannot starve the rest of the
     * poll loop. */
    bool urgent = false;
    for (int i = 0; i < 128; i++) {
        struct ofpbuf *msg = rconn_recv(ofctrl->rconn);
        if (!msg) {
            break;
        }
        urgent |= ofctrl_recv(ofctrl, msg->data);
        ofpbuf_delete(msg);
        if (!rconn_is_connected(ofctrl->rconn)) {
            break;
        }
    }
    return urgent;
}

void
ofctrl_wait(struct ofctrl *ofctrl)
{
    rconn_run_wait(ofctrl->rconn);
    rconn_recv_wait(ofctrl->rconn);
}

/* Flow changes. */

/* A desired flow, parsed. */
struct parsed_flow {
    struct ofputil_flow_mod fm;
    struct ofpbuf ofpacts;
};

/* Without meters in the switch, a flow naming one would be rejected, and
 * with it the whole bundle: such flows go in unmetered instead. */
static void
strip_controller_meters(struct ofputil_flow_mod *fm)
{
    struct ofpact *a;
    OFPACT_FOR_EACH (a, fm->ofpacts, fm->ofpacts_len) {
        if (a->type == OFPACT_CONTROLLER) {
            ofpact_get_CONTROLLER(a)->meter_id = NX_CTLR_NO_METER;
        }
    }
}

static bool
parse_flow(const struct ofctrl *ofctrl, const struct lb_flow *flow,
           struct ofputil_flow_mod *fm)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    enum ofputil_protocol usable;
    char *s = xasprintf("table=%"PRIu8",priority=%"PRIu16",cookie=%#"PRIx64
                        "%s%s,actions=%s", flow->table_id, flow->priority,
                        flow->cookie, flow->match[0] ? "," : "",
                        flow->match, flow->actions);
    char *error = parse_ofp_str(fm, OFPFC_ADD, s, NULL, NULL, &usable);
    if (error) {
        VLOG_ERR_RL(&rl, "bad desired flow \"%s\": %s", s, error);
        free(error);
    } else if (!ofctrl->max_meters) {
        strip_controller_meters(fm);
    }
    free(s);
    return !error;
}

static void
flow_mod_uninit(struct ofputil_flow_mod *fm)
{
    minimatch_destroy(&fm->match);
    free(fm->ofpacts);
}

struct bundle {
    struct ofctrl *ofctrl;
    uint32_t id;
    size_t n_msgs;
};

static void
bundle_add(struct bundle *b, const struct ofputil_flow_mod *fm)
{
    struct ofctrl *ofctrl = b->ofctrl;
    enum ofp_version version = ofctrl_version(ofctrl);

    if (!b->n_msgs) {
        struct ofputil_bundle_ctrl_msg open = {
            .bundle_id = b->id,
            .type = OFPBCT_OPEN_REQUEST,
            .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
        };
        ofctrl_send(ofctrl, ofputil_encode_bundle_ctrl_request(version,
                                                               &open));
    }
    struct ofpbuf *msg = ofputil_encode_flow_mod(fm, ofctrl_protocol(ofctrl));
    struct ofputil_bundle_add_msg add = {
        .bundle_id = b->id,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
        .msg = msg->data,
    };
    ofctrl_send(ofctrl, ofputil_encode_bundle_add(version, &add));
    ofpbuf_delete(msg);
    b->n_msgs++;
}

static void
send_flow_mod(struct bundle *b, uint16_t command, uint8_t table_id,
              uint16_t priority, const struct minimatch *match,
              uint64_t cookie, const struct ofpact *ofpacts,
              size_t ofpacts_len)
{
    struct ofputil_flow_mod fm = {
        .match = *match,
        .priority = priority,
        .new_cookie = htonll(cookie),
        .modify_cookie = command == OFPFC_MODIFY_STRICT,
        .table_id = table_id,
        .command = command,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = CONST_CAST(struct ofpact *, ofpacts),
        .ofpacts_len = ofpacts_len,
    };
    if (command == OFPFC_DELETE_STRICT) {
        fm.new_cookie = OVS_BE64_MAX;
        fm.ofpacts = NULL;
        fm.ofpacts_len = 0;
    }
    if (VLOG_IS_DBG_ENABLED()) {
        struct ds s = DS_EMPTY_INITIALIZER;
        struct match m;
        minimatch_expand(match, &m);
        ds_put_format(&s, "%s table=%"PRIu8" priority=%"PRIu16" ",
                      (command == OFPFC_ADD ? "add"
                       : command == OFPFC_DELETE_STRICT ? "delete"
                       : "modify"), table_id, priority);
        match_format(&m, NULL, &s, OFP_DEFAULT_PRIORITY);
        if (ofpacts_len) {
            ds_put_cstr(&s, " actions=");
            struct ofpact_format_params fp = { .s = &s };
            ofpacts_format(ofpacts, ofpacts_len, &fp);
        }
        VLOG_DBG("%s", ds_cstr(&s));
        ds_destroy(&s);
    }
    bundle_add(b, &fm);
}

/* Makes the switch's flow for 'fm' (table, priority and match) what 'fm'
 * says, or absent if 'fm' is NULL and 'f' is installed. */
static void
reconcile_flow(struct bundle *b, struct installed_flow *f,
               const struct ofputil_flow_mod *fm)
{
    struct ofctrl *ofctrl = b->ofctrl;
    uint64_t cookie = fm ? ntohll(fm->new_cookie) : 0;

    if (!fm) {
        if (f) {
            send_flow_mod(b, OFPFC_DELETE_STRICT, f->table_id, f->priority,
                          &f->match, f->cookie, NULL, 0);
            hmap_remove(&ofctrl->installed, &f->node);
            installed_free(f);
        }
    } else if (!f) {
        send_flow_mod(b, OFPFC_ADD, fm->table_id, fm->priority, &fm->match,
                      cookie, fm->ofpacts, fm->ofpacts_len);
        installed_add(ofctrl, fm->table_id, fm->priority, &fm->match,
                      cookie, fm->ofpacts, fm->ofpacts_len);
    } else if (f->cookie != cookie
               /* Stringwise: actions decoded from the switch remember
                * their wire encoding, parsed ones do not. */
               || !ofpacts_equal_stringwise(f->ofpacts, f->ofpacts_len,
                                            fm->ofpacts, fm->ofpacts_len)) {
        send_flow_mod(b, OFPFC_MODIFY_STRICT, fm->table_id, fm->priority,
                      &fm->match, cookie, fm->ofpacts, fm->ofpacts_len);
        f->cookie = cookie;
        free(f->ofpacts);
        f->ofpacts = xmemdup(fm->ofpacts, fm->ofpacts_len);
        f->ofpacts_len = fm->ofpacts_len;
    }
}

/* Full comparison: every desired flow against every installed one. */
static void
ofctrl_diff_full(struct ofctrl *ofctrl, const struct lb_flow_table *desired,
                 struct bundle *b)
{
    struct hmap stale = HMAP_INITIALIZER(&stale);
    hmap_swap(&stale, &ofctrl->installed);

    const struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH (flow, desired) {
        struct ofputil_flow_mod fm;
        if (!parse_flow(ofctrl, flow, &fm)) {
            continue;
        }
        /* Move the installed flow, if any, back into 'installed' and bring
         * it up to date there. */
        struct installed_flow *f = NULL, *iter;
        HMAP_FOR_EACH_WITH_HASH (iter, node,
                                 installed_hash(fm.table_id, fm.priority,
                                                &fm.match), &stale) {
            if (iter->table_id == fm.table_id
                && iter->priority == fm.priority
                && minimatch_equal(&iter->match, &fm.match)) {
                f = iter;
                break;
            }
        }
        if (f) {
            hmap_remove(&stale, &f->node);
            hmap_insert(&ofctrl->installed, &f->node, f->node.hash);
        } else if (installed_find(ofctrl, fm.table_id, fm.priority,
                                  &fm.match)) {
            /* Two desired texts with one meaning: keep the first. */
            flow_mod_uninit(&fm);
            continue;
        }
        reconcile_flow(b, f, &fm);
        flow_mod_uninit(&fm);
    }

    /* Whatever is left is installed but not desired. */
    struct installed_flow *f;
    HMAP_FOR_EACH_POP (f, node, &stale) {
        hmap_insert(&ofctrl->installed, &f->node, f->node.hash);
        reconcile_flow(b, f, NULL);
    }
    hmap_destroy(&stale);
}

/* Incremental: only the flows tracked as changed in 'desired'. */
static void
ofctrl_diff_tracked(struct ofctrl *ofctrl, struct lb_flow_table *desired,
                    struct bundle *b)
{
    struct lb_flow *flow;
    LB_FLOW_TABLE_FOR_EACH_TRACKED (flow, desired) {
        if (flow->deleted) {
            /* Replaced by a flow with the same table, priority and match:
             * that one is tracked too and says what the switch must hold,
             * so this removal costs no parsing. */
            const struct lb_flow *now = lb_flow_table_find(
                desired, flow->table_id, flow->priority, flow->match);
            if (now && now->tracked) {
                continue;
            }
        }
        struct ofputil_flow_mod fm;
        if (!parse_flow(ofctrl, flow, &fm)) {
            continue;
        }
        struct installed_flow *f = installed_find(ofctrl, fm.table_id,
                                                  fm.priority, &fm.match);
        /* What is desired now for this key decides, whether this tracked
         * entry is the removal or the addition. */
        const struct lb_flow *now = lb_flow_table_find(
            desired, flow->table_id, flow->priority, flow->match);
        if (!now) {
            reconcile_flow(b, f, NULL);
        } else if (now == flow) {
            reconcile_flow(b, f, &fm);
        } else {
            struct ofputil_flow_mod fm_now;
            if (parse_flow(ofctrl, now, &fm_now)) {
                reconcile_flow(b, f, &fm_now);
                flow_mod_uninit(&fm_now);
            }
        }
        flow_mod_uninit(&fm);
    }
}

/* Meters.  OVS does not take meter-mods inside a bundle
 * (ofputil_is_bundlable()), but it handles one connection's messages in
 * order: so meters are added or changed just before the bundle whose flows
 * may use them, and deleted just after the bundle that stops using them. */

static void
send_meter_mod(struct ofctrl *ofctrl, uint16_t command,
               const struct ofputil_meter_config *mc)
{
    struct ofputil_meter_mod mm = { .command = command, .meter = *mc };
    if (command == OFPMC13_DELETE) {
        mm.meter.flags = 0;
        mm.meter.n_bands = 0;
        mm.meter.bands = NULL;
    }
    VLOG_DBG("meter %s %"PRIu32, (command == OFPMC13_ADD ? "add"
                                  : command == OFPMC13_DELETE ? "delete"
                                  : "modify"), mc->meter_id);
    ofctrl_send(ofctrl, ofputil_encode_meter_mod(ofctrl_version(ofctrl),
                                                 &mm));
    ofctrl->stats.n_meter_mods++;
}

static bool
parse_meter(const struct lb_meter *meter, struct ofputil_meter_mod *mm)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    enum ofputil_protocol usable;
    char *s = xasprintf("meter=%"PRIu32",%s", meter->id, meter->spec);
    char *error = parse_ofp_meter_mod_str(mm, s, OFPMC13_ADD, &usable);
    if (error) {
        VLOG_ERR_RL(&rl, "bad desired meter \"%s\": %s", s, error);
        free(error);
    }
    free(s);
    return !error;
}

/* Adds or modifies the meters 'desired' has and the switch lacks or holds
 * otherwise. */
static void
ofctrl_put_meters(struct ofctrl *ofctrl, const struct lb_flow_table *desired)
{
    const struct lb_meter *meter;
    LB_FLOW_TABLE_FOR_EACH_METER (meter, desired) {
        struct ofputil_meter_mod mm;
        if (!parse_meter(meter, &mm)) {
            continue;
        }
        struct installed_meter *m = meter_find(ofctrl, meter->id);
        if (!m) {
            send_meter_mod(ofctrl, OFPMC13_ADD, &mm.meter);
            meter_add(ofctrl, &mm.meter);
        } else if (!meter_config_equal(&m->mc, &mm.meter)) {
            send_meter_mod(ofctrl, OFPMC13_MODIFY, &mm.meter);
            meter_set_config(m, &mm.meter);
        }
        free(mm.meter.bands);
    }
}

/* Deletes the meters the switch holds and 'desired' does not. */
static void
ofctrl_delete_meters(struct ofctrl *ofctrl,
                     const struct lb_flow_table *desired)
{
    struct installed_meter *m;
    HMAP_FOR_EACH_SAFE (m, node, &ofctrl->meters) {
        if (!lb_flow_table_find_meter(desired, m->mc.meter_id)) {
            send_meter_mod(ofctrl, OFPMC13_DELETE, &m->mc);
            hmap_remove(&ofctrl->meters, &m->node);
            meter_free(m);
        }
    }
}

/* Brings the switch in line with 'desired', as of 'seqno'. */
void
ofctrl_put(struct ofctrl *ofctrl, struct lb_flow_table *desired,
           uint64_t seqno)
{
    if (seqno > ofctrl->put_seqno) {
        ofctrl->put_seqno = seqno;
    }
    if (ofctrl->state != S_SYNCED) {
        /* A full comparison follows the (re)connection's dump. */
        lb_flow_table_clear_tracked(desired);
        return;
    }
    bool meters_changed = (ofctrl->need_full_diff
                           || desired->meters_seqno != ofctrl->meters_seqno);
    if (!ofctrl->need_full_diff && ovs_list_is_empty(&desired->tracked)
        && !meters_changed
        && ofctrl->installed_seqno >= ofctrl->put_seqno
        && ovs_list_is_empty(&ofctrl->barriers)) {
        return;
    }

    if (meters_changed && ofctrl->max_meters) {
        ofctrl_put_meters(ofctrl, desired);
    }

    struct bundle b = { .ofctrl = ofctrl, .id = ++ofctrl->bundle_id };
    if (ofctrl->need_full_diff) {
        ofctrl_diff_full(ofctrl, desired, &b);
        ofctrl->need_full_diff = false;
    } else {
        ofctrl_diff_tracked(ofctrl, desired, &b);
    }
    lb_flow_table_clear_tracked(desired);

    if (b.n_msgs) {
        struct ofputil_bundle_ctrl_msg commit = {
            .bundle_id = b.id,
            .type = OFPBCT_COMMIT_REQUEST,
            .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
        };
        ofctrl->last_commit_xid = ofctrl_send(
            ofctrl, ofputil_encode_bundle_ctrl_request(ofctrl_version(ofctrl),
                                                       &commit));
        ofctrl->stats.n_bundles++;
        ofctrl->stats.n_flow_mods += b.n_msgs;
    }
    if (meters_changed) {
        if (ofctrl->max_meters) {
            ofctrl_delete_meters(ofctrl, desired);
        }
        ofctrl->meters_seqno = desired->meters_seqno;
    }

    /* A barrier even with no change, so that "installed up to 'seqno'"
     * becomes true in order after earlier bundles. */
    if (ofctrl->put_seqno > ofctrl->installed_seqno) {
        struct pending_barrier *pb = xmalloc(sizeof *pb);
        pb->seqno = ofctrl->put_seqno;
        pb->xid = ofctrl_send(ofctrl, ofputil_encode_barrier_request(
                                  ofctrl_version(ofctrl)));
        ovs_list_push_back(&ofctrl->barriers, &pb->list_node);
    }
}

uint64_t
ofctrl_get_installed_seqno(const struct ofctrl *ofctrl)
{
    return ofctrl->installed_seqno;
}

void
ofctrl_set_aggregate_cb(struct ofctrl *ofctrl, ofctrl_aggregate_cb *cb,
                        void *aux)
{
    ofctrl->agg_cb = cb;
    ofctrl->agg_aux = aux;
}

/* Asks for the packet count of the flows in 'table_id' whose cookie is
 * 'cookie' exactly; the answer goes to the aggregate callback.  Returns
 * false if not connected or too many are pending (a lost reply's slot is
 * taken back at the next connection). */
bool
ofctrl_request_aggregate(struct ofctrl *ofctrl, uint8_t table_id,
                         uint64_t cookie)
{
    if (ofctrl->state != S_SYNCED
        || ofctrl->n_agg_pending >= ARRAY_SIZE(ofctrl->agg_pending)) {
        return false;
    }
    struct ofputil_flow_stats_request fsr = {
        .aggregate = true,
        .table_id = table_id,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .cookie = htonll(cookie),
        .cookie_mask = OVS_BE64_MAX,
    };
    match_init_catchall(&fsr.match);
    ovs_be32 xid = ofctrl_send(
        ofctrl, ofputil_encode_flow_stats_request(&fsr,
                                                  ofctrl_protocol(ofctrl)));
    ofctrl->agg_pending[ofctrl->n_agg_pending].xid = xid;
    ofctrl->agg_pending[ofctrl->n_agg_pending++].cookie = cookie;
    return true;
}

/* Flushes conntrack zone 'zone' (NXT_CT_FLUSH_ZONE), after everything
 * sent before it.  Returns false if not connected. */
bool
ofctrl_ct_flush_zone(struct ofctrl *ofctrl, uint16_t zone)
{
    if (!ofctrl_is_connected(ofctrl)) {
        return false;
    }
    struct ofpbuf *msg = ofpraw_alloc(OFPRAW_NXT_CT_FLUSH_ZONE,
                                      ofctrl_version(ofctrl), 0);
    struct nx_zone_id *nzi = ofpbuf_put_zeros(msg, sizeof *nzi);
    nzi->zone_id = htons(zone);
    ofctrl_send(ofctrl, msg);
    return true;
}

/* Deletes the flows the switch learned with cookie 'cookie' (of kind
 * LB_COOKIE_ADMIT, which ofctrl does not track), in every table, after
 * everything sent before.  Returns false if not connected. */
bool
ofctrl_delete_learned(struct ofctrl *ofctrl, uint64_t cookie)
{
    if (!ofctrl_is_connected(ofctrl)
        || lb_cookie_kind(cookie) != LB_COOKIE_ADMIT) {
        return false;
    }
    struct ofputil_flow_mod fm = {
        .cookie = htonll(cookie),
        .cookie_mask = OVS_BE64_MAX,
        .new_cookie = OVS_BE64_MAX,
        .table_id = OFPTT_ALL,
        .command = OFPFC_DELETE,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
    };
    minimatch_init_catchall(&fm.match);
    ofctrl_send(ofctrl, ofputil_encode_flow_mod(&fm,
                                                ofctrl_protocol(ofctrl)));
    minimatch_destroy(&fm.match);
    return true;
}

bool
ofctrl_is_connected(const struct ofctrl *ofctrl)
{
    return rconn_is_connected(ofctrl->rconn);
}

bool
ofctrl_is_synced(const struct ofctrl *ofctrl)
{
    return ofctrl->state == S_SYNCED && !ofctrl->need_full_diff;
}

int
ofctrl_packet_out(struct ofctrl *ofctrl, const void *packet, size_t size,
                  ofp_port_t in_port, const char *actions)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);

    if (!rconn_is_connected(ofctrl->rconn)) {
        return ENOTCONN;
    }

    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    struct ofpact_parse_params pp = {
        .ofpacts = &ofpacts,
        .usable_protocols = &(enum ofputil_protocol) { 0 },
    };
    char *error = ofpacts_parse_actions(actions, &pp);
    if (error) {
        VLOG_WARN_RL(&rl, "packet-out: bad actions \"%s\": %s", actions,
                     error);
        free(error);
        ofpbuf_uninit(&ofpacts);
        return EINVAL;
    }

    struct ofputil_packet_out po = {
        .packet = packet,
        .packet_len = size,
        .buffer_id = UINT32_MAX,
        .ofpacts = ofpacts.data,
        .ofpacts_len = ofpacts.size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, in_port);
    ofctrl_send(ofctrl, ofputil_encode_packet_out(&po,
                                                  ofctrl_protocol(ofctrl)));
    ofpbuf_uninit(&ofpacts);
    return 0;
}

void
ofctrl_get_stats(const struct ofctrl *ofctrl, struct ofctrl_stats *stats)
{
    *stats = ofctrl->stats;
    stats->n_installed = hmap_count(&ofctrl->installed);
    stats->n_meters = hmap_count(&ofctrl->meters);
}

void
ofctrl_format_status(const struct ofctrl *ofctrl, struct ds *s)
{
    static const char *const states[] = {
        [S_DISCONNECTED] = "disconnected",
        [S_DUMPING] = "reading flows",
        [S_SYNCED] = "synced",
    };
    const struct ofctrl_stats *st = &ofctrl->stats;

    ds_put_format(s, "openflow: %s %s\n", rconn_get_target(ofctrl->rconn),
                  states[ofctrl->state]);
    ds_put_format(s, "  installed flows: %"PRIuSIZE", meters: %"PRIuSIZE
                  "%s\n", hmap_count(&ofctrl->installed),
                  hmap_count(&ofctrl->meters),
                  (ofctrl->state == S_SYNCED && !ofctrl->max_meters
                   ? " (the switch has no meters)" : ""));
    ds_put_format(s, "  installed up to seqno %"PRIu64" (requested %"PRIu64
                  ")\n", ofctrl->installed_seqno, ofctrl->put_seqno);
    ds_put_format(s, "  connects: %"PRIu64", bundles: %"PRIu64
                  ", flow-mods: %"PRIu64", errors: %"PRIu64
                  ", packet-ins: %"PRIu64", meter-mods: %"PRIu64"\n",
                  st->n_connects, st->n_bundles, st->n_flow_mods,
                  st->n_errors, st->n_packet_ins, st->n_meter_mods);
}
