/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* NetworkPolicy compiler (lib/policy.c).  The verdicts are read off the
 * compiled flows by a small evaluator of exactly the flows the compiler
 * writes (conjunctive matches included), so each test asserts what a
 * packet would meet in the switch, not the text of the flows. */

#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "cookie.h"
#include "derive.h"
#include "lb-json.h"
#include "flow-table.h"
#include "model.h"
#include "oftable.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "pipeline.h"
#include "policy.h"
#include "simap.h"
#include "sset.h"
#include "test-fixtures.h"
#include "test-flows.h"
#include "util.h"

/* Building inputs. */

static struct lb_network_policy *
policy(const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!j) {
        fail_msg("bad test JSON: %s: %s", jerr.text, json);
    }
    struct lb_network_policy *np;
    char *error = lb_network_policy_from_json(j, &np);
    if (error) {
        fail_msg("%s", error);
    }
    json_decref(j);
    return np;
}

static char *
policy_error(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    struct lb_network_policy *np = NULL;
    char *error = lb_network_policy_from_json(j, &np);
    json_decref(j);
    assert_null(np);
    return error;
}

static void
set_ns(struct lb_policy_engine *e, const char *name, const char *labels)
{
    char *json = xasprintf("{\"metadata\":{\"name\":\"%s\",\"labels\":%s}}",
                           name, labels ? labels : "{}");
    json_t *j = json_loads(json, 0, NULL);
    struct lb_namespace *ns;
    char *error = lb_namespace_from_json(j, &ns);
    assert_null(error);
    lb_policy_set_namespace(e, ns);
    json_decref(j);
    free(json);
}

/* Endpoint "ns_name" with key 'key', addresses "10.0.0.<key & 0xff>" and
 * "fd00::<key & 0xff>", and 'labels' as "k=v,k=v". */
static struct lb_policy_endpoint *
endpoint(const char *ns, const char *name, uint32_t key, const char *labels)
{
    char *port = xasprintf("%s_%s", ns, name);
    struct lb_policy_endpoint *ep = lb_policy_endpoint_create(port, ns, key);
    free(port);
    if (labels) {
        char *copy = xstrdup(labels), *save = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv;
             kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            *eq = '\0';
            smap_replace(&ep->labels, kv, eq + 1);
        }
        free(copy);
    }
    ep->ipv4[ep->n_ipv4++] = htonl(0x0a000000 | (key & 0xff));
    struct in6_addr a6;
    char *s6 = xasprintf("fd00::%x", key & 0xff);
    inet_pton(AF_INET6, s6, &a6);
    free(s6);
    ep->ipv6[ep->n_ipv6++] = a6;
    return ep;
}

static void
add_ep(struct lb_policy_engine *e, const char *ns, const char *name,
       uint32_t key, const char *labels)
{
    lb_policy_set_endpoint(e, endpoint(ns, name, key, labels));
}

/* The rule flows after a run. */
static void
compile(struct lb_policy_engine *e, struct lb_flow_table *ft)
{
    lb_policy_engine_run(e, NULL, NULL);
    lb_flow_table_clear(ft);
    lb_policy_put_flows(e, ft);
}

/* The evaluator. */

struct pkt {
    uint32_t port;              /* The policed port's key. */
    const char *peer;           /* The peer's address. */
    uint8_t proto;
    uint16_t dport;
};

static bool
token_matches(const char *tok, enum lb_policy_dir dir, const struct pkt *p,
              bool v6)
{
    const char *port_reg = dir == LB_POLICY_INGRESS ? "reg15=" : "reg14=";
    const char *nw = dir == LB_POLICY_INGRESS ? "nw_src=" : "nw_dst=";
    const char *nw6 = dir == LB_POLICY_INGRESS ? "ipv6_src=" : "ipv6_dst=";
    static const struct {
        const char *name;
        bool v6;
        uint8_t proto;
    } l3[] = {
        { "ip", false, 0 }, { "ipv6", true, 0 },
        { "tcp", false, IPPROTO_TCP }, { "tcp6", true, IPPROTO_TCP },
        { "udp", false, IPPROTO_UDP }, { "udp6", true, IPPROTO_UDP },
        { "sctp", false, IPPROTO_SCTP }, { "sctp6", true, IPPROTO_SCTP },
    };
    for (size_t i = 0; i < ARRAY_SIZE(l3); i++) {
        if (!strcmp(tok, l3[i].name)) {
            return l3[i].v6 == v6 && (!l3[i].proto
                                      || l3[i].proto == p->proto);
        }
    }
    if (!strncmp(tok, port_reg, 6)) {
        return strtoul(tok + 6, NULL, 0) == p->port;
    }
    if (!strncmp(tok, "reg1", 4)) {
        return false;                   /* The other direction's. */
    }
    if (!strncmp(tok, nw, strlen(nw)) || !strncmp(tok, nw6, strlen(nw6))) {
        struct lb_cidr c, a;
        char *error = lb_cidr_parse(strchr(tok, '=') + 1, &c);
        assert_null(error);
        error = lb_cidr_parse(p->peer, &a);
        assert_null(error);
        return lb_cidr_contains(&c, &a);
    }
    if (!strncmp(tok, "nw_", 3) || !strncmp(tok, "ipv6_", 5)) {
        return false;
    }
    if (!strncmp(tok, "tp_dst=", 7)) {
        char *end;
        unsigned long v = strtoul(tok + 7, &end, 0);
        unsigned long m = *end == '/' ? strtoul(end + 1, NULL, 0) : 0xffff;
        return (p->dport & m) == v;
    }
    if (!strncmp(tok, "conj_id=", 8)) {
        return false;
    }
    fail_msg("evaluator does not know \"%s\"", tok);
    return false;
}

static bool
flow_matches(const struct lb_flow *f, enum lb_policy_dir dir,
             const struct pkt *p)
{
    bool v6 = strchr(p->peer, ':') != NULL;
    char *copy = xstrdup(f->match), *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(copy, ",", &save); ok && tok;
         tok = strtok_r(NULL, ",", &save)) {
        ok = token_matches(tok, dir, p, v6);
    }
    free(copy);
    return ok;
}

/* Whether the rules admit 'p' as a new connection. */
static bool
admits(const struct lb_flow_table *ft, enum lb_policy_dir dir,
       const struct pkt *p)
{
    uint8_t table = (dir == LB_POLICY_INGRESS ? OFTABLE_POLICY_INGRESS
                     : OFTABLE_POLICY_EGRESS);
    /* conjunction id -> bitmap of the dimensions matched, and n. */
    struct { uint32_t id; unsigned int seen, n; } conj[256];
    size_t n_conj = 0;
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, ft) {
        if (f->table_id != table
            || (f->priority != PRIO_POLICY_ALLOW_ALL
                && f->priority != PRIO_POLICY_RULE)
            || !flow_matches(f, dir, p)) {
            continue;
        }
        if (f->priority == PRIO_POLICY_ALLOW_ALL) {
            return true;
        }
        const char *s = f->actions;
        while ((s = strstr(s, "conjunction("))) {
            unsigned int id, k, n;
            assert_int_equal(sscanf(s, "conjunction(%u,%u/%u)", &id, &k, &n),
                             3);
            size_t i;
            for (i = 0; i < n_conj && conj[i].id != id; i++) {
                continue;
            }
            if (i == n_conj) {
                assert_true(n_conj < ARRAY_SIZE(conj));
                conj[n_conj++] = (typeof(conj[0])) { id, 0, n };
            }
            conj[i].seen |= 1u << (k - 1);
            s++;
        }
    }
    for (size_t i = 0; i < n_conj; i++) {
        if (conj[i].seen == (1u << conj[i].n) - 1) {
            char match[32];
            snprintf(match, sizeof match, "conj_id=%"PRIu32, conj[i].id);
            const struct lb_flow *cf = lb_flow_table_find(ft, table,
                                                          PRIO_POLICY_RULE,
                                                          match);
            assert_non_null(cf);
            return true;
        }
    }
    return false;
}

static bool
in_ok(const struct lb_flow_table *ft, uint32_t port, const char *peer,
      uint8_t proto, uint16_t dport)
{
    struct pkt p = { port, peer, proto, dport };
    return admits(ft, LB_POLICY_INGRESS, &p);
}

static bool
out_ok(const struct lb_flow_table *ft, uint32_t port, const char *peer,
       uint8_t proto, uint16_t dport)
{
    struct pkt p = { port, peer, proto, dport };
    return admits(ft, LB_POLICY_EGRESS, &p);
}

static void
assert_isolation(const struct lb_policy_engine *e, const char *port,
                 bool in, bool out)
{
    bool i, o;
    lb_policy_port_isolation(e, port, &i, &o);
    assert_int_equal(i, in);
    assert_int_equal(o, out);
}

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP

/* Selectors, prefixes, ranges. */

static void
test_selector(void **state OVS_UNUSED)
{
    struct lb_network_policy *np = policy(
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{"
        "\"podSelector\":{\"matchLabels\":{\"app\":\"db\"},"
        "\"matchExpressions\":["
        "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"x\",\"y\"]},"
        "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]},"
        "{\"key\":\"team\",\"operator\":\"Exists\"},"
        "{\"key\":\"tmp\",\"operator\":\"DoesNotExist\"}]}}}");
    struct smap l = SMAP_INITIALIZER(&l);
    smap_add(&l, "app", "db");
    smap_add(&l, "tier", "y");
    smap_add(&l, "team", "t");
    assert_true(lb_selector_matches(&np->pod_sel, &l));
    smap_add(&l, "env", "prod");
    assert_false(lb_selector_matches(&np->pod_sel, &l));
    smap_replace(&l, "env", "dev");
    assert_true(lb_selector_matches(&np->pod_sel, &l));
    smap_add(&l, "tmp", "1");
    assert_false(lb_selector_matches(&np->pod_sel, &l));
    smap_remove(&l, "tmp");
    smap_replace(&l, "tier", "z");
    assert_false(lb_selector_matches(&np->pod_sel, &l));
    smap_replace(&l, "tier", "x");
    smap_remove(&l, "team");
    assert_false(lb_selector_matches(&np->pod_sel, &l));
    smap_destroy(&l);
    lb_network_policy_destroy(np);
}

static void
check_subtract(const char *cidr, const char *const excepts[],
               const char *const inside[], const char *const outside[])
{
    struct lb_cidr c, x[8], a;
    size_t n_x = 0;
    assert_null(lb_cidr_parse(cidr, &c));
    for (; excepts[n_x]; n_x++) {
        assert_null(lb_cidr_parse(excepts[n_x], &x[n_x]));
    }
    struct lb_cidr *out;
    size_t n = lb_cidr_subtract(&c, x, n_x, &out);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *addrs = pass ? outside : inside;
        for (size_t i = 0; addrs[i]; i++) {
            assert_null(lb_cidr_parse(addrs[i], &a));
            size_t hits = 0;
            for (size_t j = 0; j < n; j++) {
                hits += lb_cidr_contains(&out[j], &a);
            }
            /* The pieces are disjoint: at most one holds an address. */
            assert_int_equal(hits, pass ? 0 : 1);
        }
    }
    free(out);
}

static void
test_cidr_except(void **state OVS_UNUSED)
{
    check_subtract("10.0.0.0/8",
                   (const char *[]) { "10.1.0.0/16", "10.2.3.4/32", NULL },
                   (const char *[]) { "10.0.0.1", "10.2.3.5", "10.255.0.1",
                                      NULL },
                   (const char *[]) { "10.1.0.1", "10.1.255.255", "10.2.3.4",
                                      "11.0.0.1", NULL });
    check_subtract("fd00::/16",
                   (const char *[]) { "fd00:1::/32", NULL },
                   (const char *[]) { "fd00::1", "fd00:2::1", NULL },
                   (const char *[]) { "fd00:1::5", "fd01::1", "10.0.0.1",
                                      NULL });

    struct lb_cidr c;
    assert_null(lb_cidr_parse("10.1.2.3/16", &c));
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_cidr_format(&c, &s);
    assert_string_equal(ds_cstr(&s), "10.1.0.0/16");
    ds_clear(&s);
    assert_null(lb_cidr_parse("fd00::1/128", &c));
    lb_cidr_format(&c, &s);
    assert_string_equal(ds_cstr(&s), "fd00::1");
    ds_destroy(&s);
    char *error = lb_cidr_parse("10.0.0.0/33", &c);
    assert_non_null(error);
    free(error);
}

static void
test_port_ranges(void **state OVS_UNUSED)
{
    static const uint16_t ranges[][2] = {
        { 8000, 8080 }, { 1, 65535 }, { 0, 65535 }, { 1024, 2047 },
        { 80, 80 }, { 32767, 32769 }, { 65535, 65535 },
    };
    for (size_t r = 0; r < ARRAY_SIZE(ranges); r++) {
        struct lb_port_mask m[32];
        size_t n = lb_port_range_masks(ranges[r][0], ranges[r][1], m);
        assert_true(n <= 30);
        for (uint32_t port = 0; port <= 65535; port++) {
            size_t hits = 0;
            for (size_t i = 0; i < n; i++) {
                hits += (port & m[i].mask) == m[i].value;
            }
            bool in = port >= ranges[r][0] && port <= ranges[r][1];
            assert_int_equal(hits, in ? 1 : 0);
        }
    }
}

/* Features, through the flows. */

#define META(NAME) "{\"metadata\":{\"namespace\":\"a\",\"name\":\"" NAME \
    "\"},\"spec\":"

/* a_db (1, app=db), a_web (2, app=web), a_other (3), b_web (4, app=web),
 * namespace b labelled team=x, namespace a team=y. */
static struct lb_policy_engine *
basic_engine(void)
{
    struct lb_policy_engine *e = lb_policy_engine_create();
    set_ns(e, "a", "{\"team\":\"y\"}");
    set_ns(e, "b", "{\"team\":\"x\"}");
    add_ep(e, "a", "db", 0x1000001, "app=db");
    add_ep(e, "a", "web", 0x1000002, "app=web");
    add_ep(e, "a", "other", 0x1000003, "app=other");
    add_ep(e, "b", "web", 0x1000004, "app=web");
    return e;
}

static void
test_ingress_pod_selector(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    lb_policy_set_policy(e, policy(META("p")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
        "{\"app\":\"web\"}}}]}]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);

    assert_isolation(e, "a_db", true, false);
    assert_isolation(e, "a_web", false, false);
    /* Dual-stack: both families of a_web. */
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 80));
    assert_true(in_ok(&ft, 0x1000001, "fd00::2", UDP, 53));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.3", TCP, 80));
    assert_false(in_ok(&ft, 0x1000001, "fd00::3", TCP, 80));
    /* Same labels, other namespace: not a peer. */
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.4", TCP, 80));
    /* Outside the cluster. */
    assert_false(in_ok(&ft, 0x1000001, "192.0.2.1", TCP, 80));

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

static void
test_namespace_selector(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    /* Namespace alone: every pod of b. */
    lb_policy_set_policy(e, policy(META("ns")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":"
        "{\"team\":\"x\"}}}]}]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.4", TCP, 1));
    assert_true(in_ok(&ft, 0x1000001, "fd00::4", TCP, 1));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 1));

    /* Both in one peer: web pods in namespaces with team=y (a). */
    lb_policy_remove_policy(e, "a", "ns");
    lb_policy_set_policy(e, policy(META("both")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":"
        "{\"team\":\"y\"}},\"podSelector\":{\"matchLabels\":"
        "{\"app\":\"web\"}}}]}]}}"));
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 1));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.4", TCP, 1));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.3", TCP, 1));

    /* Relabel namespace b to team=y: b_web becomes a peer. */
    set_ns(e, "b", "{\"team\":\"y\"}");
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.4", TCP, 1));

    /* An empty namespaceSelector: every namespace. */
    lb_policy_set_policy(e, policy(META("both")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"namespaceSelector\":{}}]}]}}"));
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.3", TCP, 1));
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.4", TCP, 1));
    assert_false(in_ok(&ft, 0x1000001, "10.9.9.9", TCP, 1));

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

static void
test_ip_block(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    lb_policy_set_policy(e, policy(META("ipb")
        "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"],"
        "\"ingress\":[{\"from\":["
        "{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\","
        "\"except\":[\"192.168.1.0/24\"]}},"
        "{\"ipBlock\":{\"cidr\":\"2001:db8::/32\","
        "\"except\":[\"2001:db8:1::/48\"]}}]}],"
        "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"0.0.0.0/0\","
        "\"except\":[\"10.0.0.0/8\"]}}]}]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    assert_isolation(e, "a_web", true, true);
    assert_isolation(e, "b_web", false, false);
    assert_true(in_ok(&ft, 0x1000002, "192.168.2.5", TCP, 22));
    assert_false(in_ok(&ft, 0x1000002, "192.168.1.5", TCP, 22));
    assert_true(in_ok(&ft, 0x1000002, "2001:db8:2::1", TCP, 22));
    assert_false(in_ok(&ft, 0x1000002, "2001:db8:1::1", TCP, 22));
    assert_false(in_ok(&ft, 0x1000002, "10.0.0.1", TCP, 22));
    assert_true(out_ok(&ft, 0x1000002, "8.8.8.8", UDP, 53));
    assert_false(out_ok(&ft, 0x1000002, "10.0.0.1", UDP, 53));
    assert_false(out_ok(&ft, 0x1000002, "fd00::1", UDP, 53));

    char *error = policy_error(META("bad")
        "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":"
        "{\"cidr\":\"10.0.0.0/8\",\"except\":[\"11.0.0.0/16\"]}}]}]}}");
    assert_non_null(strstr(error, "except[0]"));
    free(error);

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

static void
test_ports(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    lb_policy_set_policy(e, policy(META("ports")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"podSelector\":{}}],\"ports\":["
        "{\"port\":80},"
        "{\"protocol\":\"UDP\",\"port\":53},"
        "{\"protocol\":\"SCTP\",\"port\":9000},"
        "{\"protocol\":\"TCP\",\"port\":8000,\"endPort\":8080}]},"
        "{\"ports\":[{\"protocol\":\"UDP\"}]}]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    const char *peers[] = { "10.0.0.2", "fd00::2" };
    for (size_t i = 0; i < 2; i++) {
        const char *p = peers[i];
        assert_true(in_ok(&ft, 0x1000001, p, TCP, 80));
        assert_false(in_ok(&ft, 0x1000001, p, TCP, 81));
        assert_false(in_ok(&ft, 0x1000001, p, SCTP, 80));
        assert_true(in_ok(&ft, 0x1000001, p, SCTP, 9000));
        assert_true(in_ok(&ft, 0x1000001, p, TCP, 8000));
        assert_true(in_ok(&ft, 0x1000001, p, TCP, 8042));
        assert_true(in_ok(&ft, 0x1000001, p, TCP, 8080));
        assert_false(in_ok(&ft, 0x1000001, p, TCP, 8081));
        assert_false(in_ok(&ft, 0x1000001, p, TCP, 7999));
        /* The second rule: any UDP from anywhere. */
        assert_true(in_ok(&ft, 0x1000001, p, UDP, 12345));
    }
    assert_true(in_ok(&ft, 0x1000001, "192.0.2.1", UDP, 1));
    assert_false(in_ok(&ft, 0x1000001, "192.0.2.1", TCP, 80));

    char *error = policy_error(META("bad")
        "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":\"http\","
        "\"endPort\":90}]}]}}");
    assert_non_null(strstr(error, "endPort"));
    free(error);
    error = policy_error(META("bad")
        "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"protocol\":"
        "\"ICMP\"}]}]}}");
    assert_non_null(strstr(error, "protocol"));
    free(error);

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

static void
test_named_ports(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = lb_policy_engine_create();
    set_ns(e, "a", NULL);
    struct lb_policy_endpoint *db = endpoint("a", "db", 0x1000001, "app=db");
    lb_policy_endpoint_add_named_port(db, "http", TCP, 8080);
    lb_policy_set_endpoint(e, db);
    struct lb_policy_endpoint *db2 = endpoint("a", "db2", 0x1000005,
                                              "app=db");
    lb_policy_endpoint_add_named_port(db2, "http", TCP, 9090);
    lb_policy_set_endpoint(e, db2);
    struct lb_policy_endpoint *dns = endpoint("a", "dns", 0x1000006,
                                              "app=dns");
    lb_policy_endpoint_add_named_port(dns, "dns", UDP, 5353);
    lb_policy_set_endpoint(e, dns);
    add_ep(e, "a", "web", 0x1000002, "app=web");

    lb_policy_set_policy(e, policy(META("in")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
        "{\"app\":\"web\"}}}],\"ports\":[{\"port\":\"http\"}]}]}}"));
    lb_policy_set_policy(e, policy(META("out")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
        "\"policyTypes\":[\"Egress\"],"
        "\"egress\":[{\"ports\":[{\"protocol\":\"UDP\",\"port\":\"dns\"}]}]"
        "}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    /* Each pod's own number for "http". */
    assert_true(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 8080));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 9090));
    assert_true(in_ok(&ft, 0x1000005, "fd00::2", TCP, 9090));
    assert_false(in_ok(&ft, 0x1000005, "fd00::2", TCP, 8080));
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.6", TCP, 8080));
    /* Egress: the destination's "dns", on the destination only. */
    assert_true(out_ok(&ft, 0x1000002, "10.0.0.6", UDP, 5353));
    assert_true(out_ok(&ft, 0x1000002, "fd00::6", UDP, 5353));
    assert_false(out_ok(&ft, 0x1000002, "10.0.0.1", UDP, 5353));
    assert_false(out_ok(&ft, 0x1000002, "10.0.0.6", TCP, 5353));
    assert_isolation(e, "a_web", false, true);

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

static void
test_default_deny(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    lb_policy_set_policy(e, policy(META("deny")
        "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    assert_isolation(e, "a_db", true, true);
    assert_isolation(e, "a_other", true, true);
    assert_isolation(e, "b_web", false, false);
    assert_false(in_ok(&ft, 0x1000001, "10.0.0.2", TCP, 80));
    assert_false(out_ok(&ft, 0x1000001, "10.0.0.2", TCP, 80));

    /* Allow-all ingress on top ("ingress: [{}]"): a one-dimension rule. */
    lb_policy_set_policy(e, policy(META("all")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{}]}}"));
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x1000001, "192.0.2.9", UDP, 1));
    assert_true(in_ok(&ft, 0x1000001, "2001:db8::9", TCP, 1));
    assert_false(in_ok(&ft, 0x1000002, "10.0.0.1", TCP, 80));
    assert_false(out_ok(&ft, 0x1000001, "10.0.0.2", TCP, 80));

    /* Removing the policies lifts the isolation. */
    struct sset changed = SSET_INITIALIZER(&changed);
    lb_policy_remove_policy(e, "a", "deny");
    lb_policy_remove_policy(e, "a", "all");
    lb_policy_engine_run(e, &ft, &changed);
    assert_true(sset_contains(&changed, "a_db"));
    assert_true(sset_contains(&changed, "a_web"));
    assert_false(sset_contains(&changed, "b_web"));
    assert_isolation(e, "a_db", false, false);
    sset_destroy(&changed);

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

/* KubeVirt copies a VMI's labels to its virt-launcher pods: a policy
 * selects the VM by them. */
static void
test_vm_labels(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = lb_policy_engine_create();
    set_ns(e, "default", NULL);
    add_ep(e, "default", "vm1", 0x100000b,
           "kubevirt.io=virt-launcher,vm.kubevirt.io/name=vm1,"
           "kubevirt.io/domain=vm1,role=server");
    add_ep(e, "default", "client-a", 0x100000c, "role=client-a");
    add_ep(e, "default", "client-b", 0x100000d, "role=client-b");
    char *json = xasprintf(
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"vm1\"},"
        "\"spec\":{\"podSelector\":{\"matchLabels\":"
        "{\"vm.kubevirt.io/name\":\"vm1\"}},"
        "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
        "{\"role\":\"client-a\"}}}]}]}}");
    lb_policy_set_policy(e, policy(json));
    free(json);
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    assert_true(in_ok(&ft, 0x100000b, "10.0.0.12", TCP, 5000));
    assert_false(in_ok(&ft, 0x100000b, "10.0.0.13", TCP, 5000));

    struct ds s = DS_EMPTY_INITIALIZER;
    lb_policy_format_port(e, "default_vm1", &s);
    assert_string_equal(ds_cstr(&s), "  default/vm1 ingress\n");
    ds_destroy(&s);

    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

/* N ports and M peers take N + M + 1 flows, not N * M. */
static void
test_conjunction_scales(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = lb_policy_engine_create();
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        add_ep(e, "a", name, 0x1000000 + i, "role=server");
        snprintf(name, sizeof name, "c%d", i);
        add_ep(e, "a", name, 0x1000080 + i, "role=client");
    }
    lb_policy_set_policy(e, policy(META("p")
        "{\"podSelector\":{\"matchLabels\":{\"role\":\"server\"}},"
        "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
        "{\"role\":\"client\"}}}],\"ports\":[{\"port\":80}]}]}}"));
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    lb_policy_engine_run(e, NULL, NULL);
    lb_policy_put_flows(e, &ft);
    size_t n_rule = 0;
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, &ft) {
        n_rule += (f->table_id == OFTABLE_POLICY_INGRESS
                   && f->priority == PRIO_POLICY_RULE);
    }
    /* 50 ports + 100 addresses (two families) + 2 L4 + conj_id. */
    assert_int_equal(n_rule, 50 + 100 + 2 + 1);
    assert_true(in_ok(&ft, 0x1000007, "10.0.0.137", TCP, 80));
    assert_false(in_ok(&ft, 0x1000007, "10.0.0.3", TCP, 80));
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
}

/* Incremental = full. */

/* The engine's count of policy compiles, as its stats line says it. */
static uint64_t
policy_compiles(const struct lb_policy_engine *e)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    lb_policy_format_stats(e, &s);
    char *needle = xasprintf("compiles=%"PRIu64"\n", lb_policy_compiles(e));
    assert_non_null(strstr(ds_cstr(&s), needle));
    free(needle);
    ds_destroy(&s);
    return lb_policy_compiles(e);
}

static void
assert_same_as_full(struct lb_policy_engine *inc, struct lb_flow_table *ft,
                    void (*build)(struct lb_policy_engine *, int step),
                    int step)
{
    struct lb_policy_engine *full = lb_policy_engine_create();
    build(full, step);
    lb_policy_engine_run(full, NULL, NULL);
    struct lb_flow_table ft_full;
    lb_flow_table_init(&ft_full);
    lb_policy_put_flows(full, &ft_full);

    char *a = format_flows(ft);
    char *b = format_flows(&ft_full);
    if (strcmp(a, b)) {
        fprintf(stderr, "step %d\n--- incremental\n%s--- full\n%s", step, a,
                b);
    }
    assert_string_equal(a, b);
    free(a);
    free(b);

    const struct shash_node *node;
    (void) node;
    static const char *const ports[] = { "a_x0", "a_x1", "a_x2", "b_y0",
                                         "b_y1", "c_z0" };
    for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
        bool i1, o1, i2, o2;
        lb_policy_port_isolation(inc, ports[i], &i1, &o1);
        lb_policy_port_isolation(full, ports[i], &i2, &o2);
        assert_int_equal(i1, i2);
        assert_int_equal(o1, o2);
    }
    lb_flow_table_destroy(&ft_full);
    lb_policy_engine_destroy(full);
}

static const char *const policies[] = {
    META("p0") "{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
    "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
    "{\"role\":\"c\"}}},{\"namespaceSelector\":{\"matchLabels\":"
    "{\"env\":\"dev\"}}}],\"ports\":[{\"port\":80},{\"port\":\"web\"}]}]}}",
    META("p1") "{\"podSelector\":{},\"policyTypes\":[\"Egress\"],"
    "\"egress\":[{\"to\":[{\"namespaceSelector\":{\"matchExpressions\":"
    "[{\"key\":\"env\",\"operator\":\"Exists\"}]},\"podSelector\":"
    "{\"matchLabels\":{\"role\":\"s\"}}}],\"ports\":[{\"protocol\":\"UDP\","
    "\"port\":\"dns\"},{\"port\":1000,\"endPort\":1100}]},"
    "{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/24\",\"except\":"
    "[\"10.0.0.128/25\"]}}]}]}}",
    META("p2") "{\"podSelector\":{\"matchLabels\":{\"role\":\"c\"}},"
    "\"policyTypes\":[\"Ingress\"]}}",
};

/* The state after 'step' of the sequence below, built from scratch. */
static void
build_state(struct lb_policy_engine *e, int step)
{
    /* Step: 0 initial; 1 relabel a_x1; 2 namespace c env=dev; 3 add p2;
     * 4 remove a_x0; 5 change p0 (no namespaceSelector); 6 b_y0 gets a
     * named port; 7 remove namespace c's labels; 8 remove p1; 9 re-add
     * a_x0 with another address; 10 relabel a_x2, no selection changing;
     * 11 relabel a_x2 out of p2's selection. */
    set_ns(e, "a", "{\"env\":\"prod\"}");
    set_ns(e, "b", "{\"env\":\"test\"}");
    set_ns(e, "c", step >= 2 && step < 7 ? "{\"env\":\"dev\"}" : NULL);
    if (step < 4 || step >= 9) {
        struct lb_policy_endpoint *x0 = endpoint("a", "x0",
                                                 step >= 9 ? 0x1000021
                                                 : 0x1000001, "app=x");
        lb_policy_endpoint_add_named_port(x0, "web", TCP, 8080);
        lb_policy_set_endpoint(e, x0);
    }
    add_ep(e, "a", "x1", 0x1000002, step >= 1 ? "app=x,role=c" : "app=y");
    add_ep(e, "a", "x2", 0x1000003, (step >= 11 ? "tier=web"
                                     : step >= 10 ? "role=c,tier=web"
                                     : "role=c"));
    struct lb_policy_endpoint *y0 = endpoint("b", "y0", 0x1000004,
                                             "role=s");
    if (step >= 6) {
        lb_policy_endpoint_add_named_port(y0, "dns", UDP, 53);
    }
    lb_policy_set_endpoint(e, y0);
    add_ep(e, "b", "y1", 0x1000005, "role=c");
    add_ep(e, "c", "z0", 0x1000006, "role=s");

    lb_policy_set_policy(e, policy(step >= 5
                                   ? META("p0") "{\"podSelector\":"
                                   "{\"matchLabels\":{\"app\":\"x\"}},"
                                   "\"ingress\":[{\"from\":[{\"podSelector\":"
                                   "{}}]}]}}"
                                   : policies[0]));
    if (step < 8) {
        lb_policy_set_policy(e, policy(policies[1]));
    }
    if (step >= 3) {
        lb_policy_set_policy(e, policy(policies[2]));
    }
}

/* An engine built by 'build' at step 0, its flows in 'ft' (initialized
 * here), checked against a full compile. */
static struct lb_policy_engine *
incremental_start(struct lb_flow_table *ft,
                  void (*build)(struct lb_policy_engine *, int step))
{
    struct lb_policy_engine *inc = lb_policy_engine_create();
    lb_flow_table_init(ft);
    build(inc, 0);
    lb_policy_engine_run(inc, NULL, NULL);
    lb_policy_put_flows(inc, ft);
    assert_same_as_full(inc, ft, build, 0);
    return inc;
}

static void
test_incremental_equals_full(void **state OVS_UNUSED)
{
    struct lb_flow_table ft;
    struct lb_policy_engine *inc = incremental_start(&ft, build_state);

    for (int step = 1; step <= 11; step++) {
        uint64_t compiles_before = policy_compiles(inc);
        struct sset changed = SSET_INITIALIZER(&changed);
        switch (step) {
        case 1:
            add_ep(inc, "a", "x1", 0x1000002, "app=x,role=c");
            break;
        case 2:
            set_ns(inc, "c", "{\"env\":\"dev\"}");
            break;
        case 3:
            lb_policy_set_policy(inc, policy(policies[2]));
            break;
        case 4:
            lb_policy_remove_endpoint(inc, "a_x0");
            break;
        case 5:
            lb_policy_set_policy(inc, policy(META("p0") "{\"podSelector\":"
                                             "{\"matchLabels\":{\"app\":"
                                             "\"x\"}},\"ingress\":[{\"from\":"
                                             "[{\"podSelector\":{}}]}]}}"));
            break;
        case 6: {
            struct lb_policy_endpoint *y0 = endpoint("b", "y0", 0x1000004,
                                                     "role=s");
            lb_policy_endpoint_add_named_port(y0, "dns", UDP, 53);
            lb_policy_set_endpoint(inc, y0);
            break;
        }
        case 7:
            set_ns(inc, "c", NULL);
            break;
        case 8:
            lb_policy_remove_policy(inc, "a", "p1");
            break;
        case 9: {
            struct lb_policy_endpoint *x0 = endpoint("a", "x0", 0x1000021,
                                                     "app=x");
            lb_policy_endpoint_add_named_port(x0, "web", TCP, 8080);
            lb_policy_set_endpoint(inc, x0);
            break;
        }
        case 10:
            add_ep(inc, "a", "x2", 0x1000003, "role=c,tier=web");
            break;
        case 11:
            add_ep(inc, "a", "x2", 0x1000003, "tier=web");
            break;
        }
        lb_flow_table_set_tracking(&ft, true);
        lb_policy_engine_run(inc, &ft, &changed);
        /* Only changes were written. */
        size_t n_tracked = 0;
        const struct lb_flow *f;
        LB_FLOW_TABLE_FOR_EACH_TRACKED (f, &ft) {
            n_tracked++;
        }
        assert_true(n_tracked < lb_flow_table_count(&ft) + 20);
        lb_flow_table_clear_tracked(&ft);
        lb_flow_table_set_tracking(&ft, false);
        assert_same_as_full(inc, &ft, build_state, step);
        sset_destroy(&changed);

        /* A relabel recompiles only the policies whose selections it
         * changes: none while a_x2 stays role=c, then p2 alone, which
         * selected it by role=c (p0 still has it as a peer: any pod of
         * namespace a). */
        uint64_t compiles = policy_compiles(inc) - compiles_before;
        if (step == 10) {
            assert_int_equal(compiles, 0);
        } else if (step == 11) {
            assert_int_equal(compiles, 1);
        }
    }
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(inc);
}

/* Relabelling recompiles only the policies whose selections change. */

static const char *const relabel_ns_labels[][3] = {
    /* a, b, d (d has no pods) */
    { "{\"env\":\"prod\"}", "{\"env\":\"test\"}", "{\"env\":\"dev\"}" },
    { "{\"env\":\"prod\"}", "{\"env\":\"test\",\"zone\":\"1\"}",
      "{\"env\":\"dev\"}" },
    { "{\"env\":\"prod\"}", "{\"env\":\"prod\"}", "{\"env\":\"dev\"}" },
    { "{\"env\":\"prod\"}", "{\"env\":\"prod\"}", "{\"env\":\"test\"}" },
    { "{\"env\":\"prod\"}", "{\"env\":\"prod\"}", "{\"env\":\"test\"}" },
};

static void
build_relabel(struct lb_policy_engine *e, int step)
{
    /* Step: 0 initial; 1 namespace b gains a label no selector reads;
     * 2 b leaves env=test, which P2's peer selects; 3 namespace d, with no
     * pods, becomes env=test; 4 b_y gains a label no selector reads. */
    set_ns(e, "a", relabel_ns_labels[step][0]);
    set_ns(e, "b", relabel_ns_labels[step][1]);
    set_ns(e, "d", relabel_ns_labels[step][2]);
    add_ep(e, "a", "x", 0x1000001, "app=x,role=c");
    add_ep(e, "b", "y", 0x1000002, step >= 4 ? "role=s,tier=db" : "role=s");
    lb_policy_set_policy(e, policy(
        META("p1") "{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
        "\"policyTypes\":[\"Egress\"],\"egress\":[{\"to\":[{"
        "\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":"
        "{\"role\":\"s\"}}}]}]}}"));
    lb_policy_set_policy(e, policy(
        META("p2") "{\"podSelector\":{},\"ingress\":[{\"from\":[{"
        "\"namespaceSelector\":{\"matchLabels\":{\"env\":\"test\"}}}]}]}}"));
}

static void
test_relabel_compiles_what_changes(void **state OVS_UNUSED)
{
    struct lb_flow_table ft;
    struct lb_policy_engine *inc = incremental_start(&ft, build_relabel);

    static const uint64_t expected_compiles[] = { 0, 0, 1, 0, 0 };
    for (int step = 1; step < (int) ARRAY_SIZE(expected_compiles); step++) {
        uint64_t before = policy_compiles(inc);
        if (step <= 3) {
            static const char *const names[] = { "a", "b", "d" };
            for (int i = 0; i < 3; i++) {
                set_ns(inc, names[i], relabel_ns_labels[step][i]);
            }
        } else {
            add_ep(inc, "b", "y", 0x1000002, "role=s,tier=db");
        }
        lb_policy_engine_run(inc, &ft, NULL);
        assert_same_as_full(inc, &ft, build_relabel, step);
        assert_int_equal(policy_compiles(inc) - before,
                         expected_compiles[step]);
    }
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(inc);
}

/* Bad input. */
static void
test_bad_policies(void **state OVS_UNUSED)
{
    static const char *const bad[] = {
        META("x") "[]}",
        META("x") "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\","
        "\"operator\":\"Near\"}]}}}",
        META("x") "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\","
        "\"operator\":\"In\"}]}}}",
        META("x") "{\"podSelector\":{},\"ingress\":[{\"from\":[{}]}]}}",
        META("x") "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":"
        "{\"cidr\":\"300.0.0.0/8\"}}]}]}}",
        META("x") "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":"
        "70000}]}]}}",
        META("x") "{\"podSelector\":{},\"policyTypes\":[\"Sideways\"]}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"podSelector\":{}}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        print_message("bad policy %"PRIuSIZE"\n", i);
        char *error = policy_error(bad[i]);
        assert_non_null(error);
        free(error);
    }
}

/* Per-port flows of a policed local port. */
static void
test_local_port_flows(void **state OVS_UNUSED)
{
    struct lb_policy_engine *e = basic_engine();
    lb_policy_set_policy(e, policy(META("p")
        "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},"
        "\"ingress\":[{}]}}"));
    lb_policy_engine_run(e, NULL, NULL);

    struct lb_model model;
    lb_model_init(&model);
    struct lb_port *port = lb_model_add_port(&model, "a_db", 0x1000001,
                                             "pods");
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    lb_policy_local_port_flows(e, port, 7, &ft);
    assert_flows(&ft, (const char *const[]) {
        "cookie=0x4000000001000001, table=11, priority=100,ip,reg14=0x1000001 "
        "actions=set_field:7->reg13,ct(table=12,zone=NXM_NX_REG13[0..15])",
        "cookie=0x4000000001000001, table=11, priority=100,ipv6,reg14=0x1000001 "
        "actions=set_field:7->reg13,ct(table=12,zone=NXM_NX_REG13[0..15])",
        "cookie=0x4000000001000001, table=12, priority=50,reg14=0x1000001 "
        "actions=resubmit(,13)",
        "cookie=0x4000000001000001, table=25, priority=1,ipv6,reg14=0x1000001 "
        "actions=resubmit(,11)",
        "cookie=0x4000000001000001, table=41, priority=100,ip,reg15=0x1000001 "
        "actions=set_field:7->reg13,ct(table=42,zone=NXM_NX_REG13[0..15])",
        "cookie=0x4000000001000001, table=41, priority=100,ipv6,reg15=0x1000001 "
        "actions=set_field:7->reg13,ct(table=42,zone=NXM_NX_REG13[0..15])",
        "cookie=0x4000000001000001, table=41, priority=90,reg15=0x1000001 "
        "actions=resubmit(,44)",
        "cookie=0x4000000001000001, table=44, priority=100,reg15=0x1000001 "
        "actions=output:7",
        NULL,
    });

    /* Not policed: no flows. */
    struct lb_port *web = lb_model_add_port(&model, "b_web", 0x1000004,
                                            "pods");
    lb_flow_table_clear(&ft);
    lb_policy_local_port_flows(e, web, 8, &ft);
    assert_int_equal(lb_flow_table_count(&ft), 0);

    lb_flow_table_destroy(&ft);
    lb_model_destroy(&model);
    lb_policy_engine_destroy(e);
}

/* In the pipeline: a policed port's IP goes to egress policy after port
 * security and through ingress policy where it is delivered; the target
 * of a migration holds the port's policy flows while its copy is still
 * blocked, and delivers through them the moment it is unblocked. */
static bool
has_flow(const struct lb_flow_table *ft, uint8_t table, const char *match,
         const char *actions_part)
{
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, ft) {
        if (f->table_id == table && strstr(f->match, match)
            && strstr(f->actions, actions_part)) {
            return true;
        }
    }
    return false;
}

static void
test_pipeline_staged(void **state OVS_UNUSED)
{
    struct lb_model model;
    lb_model_init(&model);
    char *error = lb_model_from_json_string(
        "{\"chassis\": [{\"name\": \"n2\", \"ip\": \"172.16.0.2\"},"
        "              {\"name\": \"n3\", \"ip\": \"172.16.0.3\"}],"
        " \"switches\": [{\"name\": \"pods\", \"key\": 1,"
        "                \"subnet\": \"10.0.0.0/24\"}],"
        " \"ports\": [{\"name\": \"default_vm1\", \"key\": 16777227,"
        "             \"switch\": \"pods\", \"mac\": \"0a:58:0a:00:00:0b\","
        "             \"ips\": [\"10.0.0.11\"], \"chassis\": \"n2\"}]}",
        &model);
    assert_null(error);
    struct lb_port *vm = lb_model_find_port(&model, "default_vm1");
    lb_port_set_chassis(vm, "n2", "n3");
    vm->additional_blocked = true;
    vm->mirror = true;

    struct lb_policy_engine *e = lb_policy_engine_create();
    add_ep(e, "default", "vm1", 0x100000b, "vm.kubevirt.io/name=vm1");
    add_ep(e, "default", "a", 0x100000c, "role=a");
    lb_policy_set_policy(e, policy(
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"vm1\"},"
        "\"spec\":{\"podSelector\":{\"matchLabels\":"
        "{\"vm.kubevirt.io/name\":\"vm1\"}},\"ingress\":[{\"from\":"
        "[{\"podSelector\":{\"matchLabels\":{\"role\":\"a\"}}}]}]}}"));
    lb_policy_engine_run(e, NULL, NULL);

    struct simap ifaces = SIMAP_INITIALIZER(&ifaces);
    struct simap tunnels = SIMAP_INITIALIZER(&tunnels);
    simap_put(&ifaces, "default_vm1", 11);
    struct lb_pipeline_ctx ctx = {
        .model = &model, .iface_ofports = &ifaces,
        .tunnel_ofports = &tunnels, .policy = e,
    };
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);

    /* The source, n2: delivers through ingress policy, mirrors to n3. */
    ctx.chassis = "n2";
    simap_put(&tunnels, "n3", 2);
    lb_pipeline_compute(&ctx, &ft);
    assert_true(has_flow(&ft, OFTABLE_OUTPUT, "reg15=0x100000b",
                         "resubmit(,41),set_field:0x1->tun_id,output:2"));
    assert_true(has_flow(&ft, OFTABLE_PORT_SECURITY, "ip,dl_src=",
                         "resubmit(,11)"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS_OUT, "reg15=0x100000b",
                         "output:11"));
    /* Broadcast and multicast reach it through ingress policy too, from
     * local ports and from tunnels alike; never by a bare output. */
    assert_true(has_flow(&ft, OFTABLE_FLOOD, "metadata=0x1",
                         "set_field:0x100000b->reg15,resubmit(,41)"));
    assert_true(has_flow(&ft, OFTABLE_FLOOD, "metadata=0x1,reg14=0",
                         "set_field:0x100000b->reg15,resubmit(,41)"));
    assert_false(has_flow(&ft, OFTABLE_FLOOD, "metadata=0x1", "output:11"));

    /* The target, n3, blocked: nothing delivered, but the policy is
     * there. */
    ctx.chassis = "n3";
    simap_clear(&tunnels);
    simap_put(&tunnels, "n2", 1);
    lb_pipeline_compute(&ctx, &ft);
    assert_false(has_flow(&ft, OFTABLE_OUTPUT, "reg15=0x100000b",
                          "resubmit(,41)"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS_CT, "ip,reg15=0x100000b",
                         "ct(table=42"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS, "reg15=0x100000b",
                         "conjunction("));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS_OUT, "reg15=0x100000b",
                         "output:11"));
    assert_true(in_ok(&ft, 0x100000b, "10.0.0.12", TCP, 5000));
    assert_false(in_ok(&ft, 0x100000b, "10.0.0.13", TCP, 5000));
    size_t n_policy = 0;
    const struct lb_flow *f;
    LB_FLOW_TABLE_FOR_EACH (f, &ft) {
        n_policy += ((f->table_id >= 11 && f->table_id <= 13)
                     || (f->table_id >= 41 && f->table_id <= 44));
    }

    /* Without the handover, none of its flows. */
    assert_false(has_flow(&ft, OFTABLE_CLASSIFY, "tun_id=0x800001", ""));
    assert_false(has_flow(&ft, OFTABLE_POLICY_SYNC_TRACK, "reg15", ""));

    /* With it: the target commits the source's copies, from n2's tunnel
     * and with the VM's MAC only, and tracks what it drops. */
    ctx.ct_handover = true;
    lb_pipeline_compute(&ctx, &ft);
    assert_true(has_flow(&ft, OFTABLE_CLASSIFY,
                         "ip,in_port=1,tun_id=0x800001,"
                         "dl_src=0a:58:0a:00:00:0b", "ct(commit,"));
    assert_true(has_flow(&ft, OFTABLE_CLASSIFY,
                         "ipv6,in_port=1,tun_id=0x800001,"
                         "dl_dst=0a:58:0a:00:00:0b", "ct(commit,"));
    assert_true(has_flow(&ft, OFTABLE_OUTPUT, "reg14=0,reg15=0x100000b",
                         "resubmit(,16)"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_SYNC_TRACK,
                         "ip,reg15=0x100000b", "ct(zone="));
    assert_false(has_flow(&ft, OFTABLE_POLICY_EGRESS, "ct_state=-new+est",
                          "clone("));

    /* The source copies what its conntrack admits, both ways. */
    ctx.chassis = "n2";
    simap_clear(&tunnels);
    simap_put(&tunnels, "n3", 2);
    lb_pipeline_compute(&ctx, &ft);
    assert_true(has_flow(&ft, OFTABLE_POLICY_EGRESS,
                         "ct_state=-new+est+trk,reg14=0x100000b",
                         "clone(set_field:0x800001->tun_id,output:2)"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS,
                         "ct_state=-new+est+trk,reg15=0x100000b",
                         "clone(set_field:0x800001->tun_id,output:2)"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_EGRESS_COMMIT,
                         "ipv6,reg14=0x100000b", "ct(commit,"));
    assert_true(has_flow(&ft, OFTABLE_POLICY_INGRESS_COMMIT,
                         "ip,reg15=0x100000b", "output:2"));
    assert_false(has_flow(&ft, OFTABLE_CLASSIFY, "tun_id=0x800001", ""));
    /* Not migrating any more: no handover. */
    lb_port_set_chassis(vm, "n2", NULL);
    lb_pipeline_compute(&ctx, &ft);
    assert_false(has_flow(&ft, OFTABLE_POLICY_EGRESS, "", "clone("));
    lb_port_set_chassis(vm, "n2", "n3");
    ctx.chassis = "n3";
    simap_clear(&tunnels);
    simap_put(&tunnels, "n2", 1);
    ctx.ct_handover = false;
    lb_pipeline_compute(&ctx, &ft);

    /* Unblocked: delivery through the same flows, nothing else policy. */
    vm->additional_blocked = false;
    lb_pipeline_update_port(&ctx, "default_vm1", vm->key, "pods", &ft);
    assert_true(has_flow(&ft, OFTABLE_OUTPUT, "reg15=0x100000b",
                         "resubmit(,41)"));
    size_t n_after = 0;
    LB_FLOW_TABLE_FOR_EACH (f, &ft) {
        n_after += ((f->table_id >= 11 && f->table_id <= 13)
                    || (f->table_id >= 41 && f->table_id <= 44));
    }
    assert_int_equal(n_policy, n_after);

    /* Without policy, none of it. */
    ctx.policy = NULL;
    lb_pipeline_compute(&ctx, &ft);
    assert_true(has_flow(&ft, OFTABLE_OUTPUT, "reg15=0x100000b",
                         "output:11"));
    assert_false(has_flow(&ft, OFTABLE_POLICY_INGRESS_OUT, "", ""));

    lb_flow_table_destroy(&ft);
    simap_destroy(&ifaces);
    simap_destroy(&tunnels);
    lb_policy_engine_destroy(e);
    lb_model_destroy(&model);
}

/* From the cluster's objects: a VM's port takes the labels and named ports
 * of its virt-launcher pod (KubeVirt's copy of the VMI's labels), the
 * active owner's, or the alternate owner's while the active one is not
 * cached; its addresses from the model. */
static void
upsert(struct lb_cluster *c, enum lb_kind kind, json_t *j)
{
    char *error = lb_cluster_upsert_json(c, kind, j, NULL);
    assert_null(error);
    json_decref(j);
}

static void
test_endpoints_from_cluster(void **state OVS_UNUSED)
{
    struct lb_cluster cluster;
    lb_cluster_init(&cluster);
    upsert(&cluster, LB_KIND_LOGICAL_SWITCH,
           fixture("livebind/logicalswitch-pods.json"));
    upsert(&cluster, LB_KIND_NODE, fixture("kubevirt/17-node.json"));
    upsert(&cluster, LB_KIND_VMI, fixture("kubevirt/01-vmi-running.json"));
    upsert(&cluster, LB_KIND_LOGICAL_PORT,
           fixture("livebind/logicalport-testvm-migrating.json"));
    json_t *pod = fixture("kubevirt/02-pod-source.json");
    json_t *port = json_pack("[{s:s, s:i, s:s}]", "name", "http",
                             "containerPort", 8080, "protocol", "TCP");
    json_object_set_new(json_array_get(json_object_get(
                            json_object_get(pod, "spec"), "containers"), 0),
                        "ports", port);
    upsert(&cluster, LB_KIND_POD, pod);

    struct lb_model model;
    lb_model_init(&model);
    lb_derive_model(&cluster, &model);
    const struct lb_port *vm = lb_model_find_port(&model, "default_testvm");
    assert_non_null(vm);

    struct lb_policy_engine *e = lb_policy_engine_create();
    add_ep(e, "default", "client", 0x1000063, "role=client");
    lb_policy_set_policy(e, policy(
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"vm\"},"
        "\"spec\":{\"podSelector\":{\"matchLabels\":"
        "{\"vm.kubevirt.io/name\":\"testvm\",\"kubevirt.io/size\":"
        "\"small\"}},\"ingress\":[{\"from\":[{\"podSelector\":"
        "{\"matchLabels\":{\"role\":\"client\"}}}],\"ports\":"
        "[{\"port\":\"http\"}]}]}}"));
    /* Only the model's ports: the client is not in this model, and goes. */
    lb_policy_sync_endpoints(e, &cluster, &model, NULL);
    add_ep(e, "default", "client", 0x1000063, "role=client");
    struct lb_flow_table ft;
    lb_flow_table_init(&ft);
    compile(e, &ft);
    assert_isolation(e, "default_testvm", true, false);
    assert_true(in_ok(&ft, vm->key, "10.0.0.99", TCP, 8080));
    assert_false(in_ok(&ft, vm->key, "10.0.0.99", TCP, 80));

    /* The source pod gone from the cache: the alternate (target) pod's
     * labels, the same VMI's, keep the VM selected. */
    lb_cluster_remove(&cluster, LB_KIND_POD, "default",
                      "virt-launcher-testvm-abcde");
    upsert(&cluster, LB_KIND_POD,
           fixture("kubevirt/12-pod-target-created.json"));
    struct sset one = SSET_INITIALIZER(&one);
    sset_add(&one, "default_testvm");
    lb_policy_sync_endpoints(e, &cluster, &model, &one);
    compile(e, &ft);
    assert_isolation(e, "default_testvm", true, false);
    /* ...but without the named port, which only the source pod had. */
    assert_false(in_ok(&ft, vm->key, "10.0.0.99", TCP, 8080));

    /* The port gone from the model: its endpoint goes, and isolation. */
    lb_model_remove_port(&model, lb_model_find_port(&model,
                                                    "default_testvm"));
    lb_policy_sync_endpoints(e, &cluster, &model, &one);
    compile(e, &ft);
    assert_isolation(e, "default_testvm", false, false);

    sset_destroy(&one);
    lb_flow_table_destroy(&ft);
    lb_policy_engine_destroy(e);
    lb_model_destroy(&model);
    lb_cluster_destroy(&cluster);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_cidr_except),
        cmocka_unit_test(test_port_ranges),
        cmocka_unit_test(test_ingress_pod_selector),
        cmocka_unit_test(test_namespace_selector),
        cmocka_unit_test(test_ip_block),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_named_ports),
        cmocka_unit_test(test_default_deny),
        cmocka_unit_test(test_vm_labels),
        cmocka_unit_test(test_conjunction_scales),
        cmocka_unit_test(test_incremental_equals_full),
        cmocka_unit_test(test_relabel_compiles_what_changes),
        cmocka_unit_test(test_bad_policies),
        cmocka_unit_test(test_local_port_flows),
        cmocka_unit_test(test_pipeline_staged),
        cmocka_unit_test(test_endpoints_from_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
