/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "migration.h"

#include <string.h>
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "util.h"

#define DEFAULT_MAX_HISTORY 64

static const char *const state_names[] = {
    [LB_MIGRATION_IDLE] = "idle",
    [LB_MIGRATION_PREPARING] = "preparing",
    [LB_MIGRATION_MIRRORING] = "mirroring",
    [LB_MIGRATION_ACTIVATED] = "activated",
    [LB_MIGRATION_COMPLETED] = "completed",
    [LB_MIGRATION_ROLLED_BACK] = "rolled-back",
};

const char *
lb_migration_state_to_string(enum lb_migration_state state)
{
    return ((unsigned int) state < ARRAY_SIZE(state_names)
            ? state_names[state] : "invalid");
}

bool
lb_migration_state_is_final(enum lb_migration_state state)
{
    return (state == LB_MIGRATION_COMPLETED
            || state == LB_MIGRATION_ROLLED_BACK);
}

static const char *const outcome_names[] = {
    [LB_OUTCOME_NONE] = "none",
    [LB_OUTCOME_IN_PROGRESS] = "in-progress",
    [LB_OUTCOME_SUCCEEDED] = "succeeded",
    [LB_OUTCOME_FAILED] = "failed",
    [LB_OUTCOME_CANCELLED] = "cancelled",
    [LB_OUTCOME_GONE] = "gone",
};

const char *
lb_migration_outcome_to_string(enum lb_migration_outcome outcome)
{
    return ((unsigned int) outcome < ARRAY_SIZE(outcome_names)
            ? outcome_names[outcome] : "invalid");
}

static const char *
phase_name(const struct lb_migration_facts *f)
{
    return f->phase == LB_VMIM_NONE ? "none" : lb_vmim_phase_to_string(
        f->phase);
}

static const char *
or_unknown(const char *s)
{
    return s && *s ? s : "(unknown)";
}

/* Says where an outcome was read: the VMIM's phase 'phase' or, as the
 * VMI's migrationState runs ahead of the VMIM, a migration state that says
 * 'state_says' while the VMIM is in another phase. */
static void
put_outcome_source(struct ds *cause, const struct lb_migration_facts *f,
                   enum lb_vmim_phase phase, const char *state_says)
{
    if (f->phase != phase) {
        ds_put_format(cause, "its migration state says %s; ", state_says);
    }
    ds_put_format(cause, "VMIM phase %s", phase_name(f));
}

/* The state the facts 'f' imply, with no history.  Stores a malloc()ed
 * description of why in '*causep' if 'causep' is nonnull. */
enum lb_migration_state
lb_migration_state_from_facts(const struct lb_migration_facts *f,
                              char **causep)
{
    struct ds cause = DS_EMPTY_INITIALIZER;
    enum lb_migration_state state;

    if (!f->migration_uid || f->outcome == LB_OUTCOME_NONE) {
        state = LB_MIGRATION_IDLE;
        ds_put_cstr(&cause, "no migration");
    } else {
        switch (f->outcome) {
        case LB_OUTCOME_SUCCEEDED:
            state = LB_MIGRATION_COMPLETED;
            ds_put_cstr(&cause, "migration succeeded (");
            put_outcome_source(&cause, f, LB_VMIM_SUCCEEDED, "completed");
            ds_put_format(&cause, "), bound to %s alone",
                          or_unknown(f->target_node));
            break;
        case LB_OUTCOME_FAILED:
            state = LB_MIGRATION_ROLLED_BACK;
            ds_put_cstr(&cause, "migration failed (");
            put_outcome_source(&cause, f, LB_VMIM_FAILED, "failed");
            ds_put_char(&cause, ')');
            break;
        case LB_OUTCOME_CANCELLED:
            state = LB_MIGRATION_ROLLED_BACK;
            ds_put_format(&cause, "migration cancelled (VMIM phase %s)",
                          phase_name(f));
            break;
        case LB_OUTCOME_GONE:
            state = LB_MIGRATION_ROLLED_BACK;
            ds_put_cstr(&cause, "VMIM gone before success");
            break;
        case LB_OUTCOME_IN_PROGRESS:
            if (f->target_pod_gone) {
                state = LB_MIGRATION_ROLLED_BACK;
                ds_put_format(&cause, "target pod %s deleted",
                              or_unknown(f->target_pod));
            } else if (!f->target_node) {
                state = LB_MIGRATION_PREPARING;
                ds_put_format(&cause, "VMIM phase %s, no target pod "
                              "scheduled", phase_name(f));
            } else if (!f->opted_in) {
                /* Single-chassis behaviour: the port moves at the end. */
                state = LB_MIGRATION_PREPARING;
                ds_put_format(&cause, "VMIM phase %s, target on %s, VM not "
                              "opted in to dual binding", phase_name(f),
                              f->target_node);
            } else if (f->activated) {
                state = LB_MIGRATION_ACTIVATED;
                ds_put_format(&cause, "activated on %s (%s)", f->target_node,
                              or_unknown(f->activation_cause));
            } else {
                state = LB_MIGRATION_MIRRORING;
                ds_put_format(&cause, "target pod %s on %s, blocked until "
                              "activation", or_unknown(f->target_pod),
                              f->target_node);
            }
            break;
        case LB_OUTCOME_NONE:
        default:
            OVS_NOT_REACHED();
        }
    }

    if (causep) {
        *causep = ds_steal_cstr(&cause);
    } else {
        ds_destroy(&cause);
    }
    return state;
}

static int
state_rank(enum lb_migration_state state)
{
    return lb_migration_state_is_final(state) ? 4 : (int) state;
}

/* The state that follows 'current' given facts 'f'.  The state is the one
 * the facts imply, except that final states stay final and a migration in
 * progress does not step back (activation is not undone).  If the state
 * changes, stores a malloc()ed cause in '*causep', otherwise NULL. */
enum lb_migration_state
lb_migration_next(enum lb_migration_state current,
                  const struct lb_migration_facts *f, char **causep)
{
    char *cause;
    enum lb_migration_state next = lb_migration_state_from_facts(f, &cause);

    if (lb_migration_state_is_final(current)) {
        next = current;
    } else if (next == LB_MIGRATION_IDLE && current != LB_MIGRATION_IDLE) {
        next = LB_MIGRATION_ROLLED_BACK;
        free(cause);
        cause = xstrdup("migration objects gone before success");
    } else if (state_rank(next) < state_rank(current)) {
        next = current;
    }

    if (next == current) {
        free(cause);
        cause = NULL;
    }
    *causep = cause;
    return next;
}

/* How long the target copy stayed blocked, from mirroring to activated, in
 * msec, or -1 if unknown: mostly the time QEMU took to copy the memory.
 * (The switch's own latency, from the VM's announcement to the unblocked
 * port, is the agent's "unblocked in the switch after N us".) */
long long int
lb_migration_record_latency(const struct lb_migration_record *rec)
{
    return (rec->mirroring && rec->activated
            ? rec->activated - rec->mirroring : -1);
}

/* Table. */

void
lb_migration_table_init(struct lb_migration_table *table)
{
    hmap_init(&table->current);
    ovs_list_init(&table->history);
    table->n_history = 0;
    table->max_history = DEFAULT_MAX_HISTORY;
}

static void
record_destroy(struct lb_migration_record *rec)
{
    if (rec) {
        for (size_t i = 0; i < rec->n_transitions; i++) {
            free(rec->transitions[i].cause);
        }
        free(rec->port);
        free(rec->migration_uid);
        free(rec->vmim);
        free(rec->source);
        free(rec->target);
        free(rec);
    }
}

void
lb_migration_table_destroy(struct lb_migration_table *table)
{
    if (table) {
        struct lb_migration_record *rec;
        HMAP_FOR_EACH_POP (rec, hmap_node, &table->current) {
            record_destroy(rec);
        }
        hmap_destroy(&table->current);
        LIST_FOR_EACH_POP (rec, list_node, &table->history) {
            record_destroy(rec);
        }
        table->n_history = 0;
    }
}

static struct lb_migration_record *
find_record(const struct lb_migration_table *table, const char *port)
{
    struct lb_migration_record *rec;
    HMAP_FOR_EACH_WITH_HASH (rec, hmap_node, hash_string(port, 0),
                             &table->current) {
        if (!strcmp(rec->port, port)) {
            return rec;
        }
    }
    return NULL;
}

const struct lb_migration_record *
lb_migration_table_find(const struct lb_migration_table *table,
                        const char *port)
{
    return find_record(table, port);
}

/* Moves 'rec' from the current records to the front of the history. */
static void
retire(struct lb_migration_table *table, struct lb_migration_record *rec)
{
    hmap_remove(&table->current, &rec->hmap_node);
    ovs_list_push_front(&table->history, &rec->list_node);
    if (++table->n_history > table->max_history) {
        struct lb_migration_record *oldest = CONTAINER_OF(
            ovs_list_pop_back(&table->history), struct lb_migration_record,
            list_node);
        record_destroy(oldest);
        table->n_history--;
    }
}

static void
add_transition(struct lb_migration_record *rec, enum lb_migration_state to,
               long long int now, char *cause)
{
    if (rec->n_transitions == LB_MIGRATION_MAX_TRANSITIONS) {
        /* A flapping migration: keep the latest. */
        free(rec->transitions[0].cause);
        memmove(&rec->transitions[0], &rec->transitions[1],
                (LB_MIGRATION_MAX_TRANSITIONS - 1)
                * sizeof rec->transitions[0]);
        rec->n_transitions--;
    }
    rec->transitions[rec->n_transitions++] = (struct lb_migration_transition) {
        .from = rec->state, .to = to, .time = now, .cause = cause,
    };
    rec->state = to;
    switch (to) {
    case LB_MIGRATION_MIRRORING:
        rec->mirroring = now;
        break;
    case LB_MIGRATION_ACTIVATED:
        rec->activated = now;
        break;
    case LB_MIGRATION_COMPLETED:
    case LB_MIGRATION_ROLLED_BACK:
        rec->finished = now;
        break;
    case LB_MIGRATION_IDLE:
    case LB_MIGRATION_PREPARING:
    default:
        break;
    }
}

static bool
update_string(char **dst, const char *src)
{
    if (src && *src && !nullable_string_is_equal(*dst, src)) {
        free(*dst);
        *dst = xstrdup(src);
        return true;
    }
    return false;
}

/* Feeds the facts 'f' about 'port' observed at time 'now' (msec, positive)
 * into 'table'.  A new migration UID starts a new record and retires the
 * port's previous one to the history.  Returns true if anything shown
 * changed. */
bool
lb_migration_table_update(struct lb_migration_table *table, const char *port,
                          const struct lb_migration_facts *f,
                          long long int now)
{
    struct lb_migration_record *rec = find_record(table, port);
    bool has_migration = f->migration_uid && f->outcome != LB_OUTCOME_NONE;
    bool changed = false;

    if (rec && has_migration && strcmp(rec->migration_uid,
                                       f->migration_uid)) {
        retire(table, rec);
        rec = NULL;
        changed = true;
    }
    if (!rec) {
        if (!has_migration) {
            return changed;
        }
        rec = xzalloc(sizeof *rec);
        rec->port = xstrdup(port);
        rec->migration_uid = xstrdup(f->migration_uid);
        rec->state = LB_MIGRATION_IDLE;
        rec->started = now;
        hmap_insert(&table->current, &rec->hmap_node, hash_string(port, 0));
        changed = true;
    }

    if (has_migration && !lb_migration_state_is_final(rec->state)) {
        changed |= update_string(&rec->vmim, f->vmim);
        changed |= update_string(&rec->source, f->source_node);
        changed |= update_string(&rec->target, f->target_node);
    }

    char *cause;
    enum lb_migration_state next = lb_migration_next(rec->state, f, &cause);
    if (next != rec->state) {
        add_transition(rec, next, now, cause);
        changed = true;
    }
    return changed;
}

/* Retires 'port''s record, e.g. because the port is gone.  Returns true if
 * there was one. */
bool
lb_migration_table_remove(struct lb_migration_table *table, const char *port,
                          long long int now OVS_UNUSED)
{
    struct lb_migration_record *rec = find_record(table, port);
    if (rec) {
        retire(table, rec);
        return true;
    }
    return false;
}

static void
put_time(struct ds *s, const char *name, long long int t)
{
    if (t) {
        ds_put_format(s, " %s=", name);
        ds_put_strftime_msec(s, "%Y-%m-%dT%H:%M:%S.###Z", t, true);
    } else {
        ds_put_format(s, " %s=-", name);
    }
}

static void
format_record(const struct lb_migration_record *rec, bool verbose,
              struct ds *s)
{
    ds_put_format(s, "%s vmim=%s uid=%s source=%s target=%s state=%s",
                  rec->port, rec->vmim ? rec->vmim : "-", rec->migration_uid,
                  rec->source ? rec->source : "-",
                  rec->target ? rec->target : "-",
                  lb_migration_state_to_string(rec->state));
    put_time(s, "started", rec->started);
    put_time(s, "activated", rec->activated);
    put_time(s, "finished", rec->finished);
    long long int latency = lb_migration_record_latency(rec);
    if (latency >= 0) {
        ds_put_format(s, " blocked-for=%lldms\n", latency);
    } else {
        ds_put_cstr(s, " blocked-for=-\n");
    }

    if (verbose) {
        for (size_t i = 0; i < rec->n_transitions; i++) {
            const struct lb_migration_transition *t = &rec->transitions[i];
            ds_put_cstr(s, "    ");
            ds_put_strftime_msec(s, "%Y-%m-%dT%H:%M:%S.###Z", t->time, true);
            ds_put_format(s, " %s -> %s: %s\n",
                          lb_migration_state_to_string(t->from),
                          lb_migration_state_to_string(t->to),
                          t->cause ? t->cause : "");
        }
    }
}

static int
compare_records(const void *a_, const void *b_)
{
    const struct lb_migration_record *const *a = a_;
    const struct lb_migration_record *const *b = b_;
    return strcmp((*a)->port, (*b)->port);
}

/* Formats 'table' for "livebind-ctl migrations": the latest migration of
 * each port, sorted by port, then the older ones, newest first.  With
 * 'verbose', each record is followed by its transitions. */
void
lb_migration_table_format(const struct lb_migration_table *table,
                          bool verbose, struct ds *s)
{
    size_t n = hmap_count(&table->current);
    const struct lb_migration_record **recs = xmalloc((n ? n : 1)
                                                      * sizeof *recs);
    size_t i = 0;
    const struct lb_migration_record *rec;
    HMAP_FOR_EACH (rec, hmap_node, &table->current) {
        recs[i++] = rec;
    }
    qsort(recs, n, sizeof *recs, compare_records);
    for (i = 0; i < n; i++) {
        format_record(recs[i], verbose, s);
    }
    free(recs);

    if (!ovs_list_is_empty(&table->history)) {
        ds_put_cstr(s, "earlier:\n");
        LIST_FOR_EACH (rec, list_node, &table->history) {
            format_record(rec, verbose, s);
        }
    }
}
