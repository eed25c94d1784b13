/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_MIGRATION_H
#define LIVEBIND_MIGRATION_H 1

/* The per-port live migration state machine.  Pure: no I/O, no clock (the
 * caller passes the time).
 *
 *   idle -> preparing -> mirroring -> activated -> completed
 *                                               \-> rolled-back
 *
 * The current state is a function of the observed facts alone
 * (lb_migration_state_from_facts()), so an agent that restarts computes the
 * same state from the cluster objects without any history.  The table keeps
 * the transitions it saw, with times, for display ("livebind-ctl
 * migrations"). */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "k8s-objects.h"

struct ds;

enum lb_migration_state {
    LB_MIGRATION_IDLE,          /* No migration. */
    LB_MIGRATION_PREPARING,     /* Migration requested, no target bound. */
    LB_MIGRATION_MIRRORING,     /* Bound to both, target copy blocked. */
    LB_MIGRATION_ACTIVATED,     /* Target copy unblocked. */
    LB_MIGRATION_COMPLETED,     /* Bound to the target alone. */
    LB_MIGRATION_ROLLED_BACK,   /* Bound to the source alone. */
};

const char *lb_migration_state_to_string(enum lb_migration_state);
bool lb_migration_state_is_final(enum lb_migration_state);

/* What KubeVirt's objects say about one migration. */
enum lb_migration_outcome {
    LB_OUTCOME_NONE,            /* No migration known. */
    LB_OUTCOME_IN_PROGRESS,     /* VMIM exists and is not final. */
    LB_OUTCOME_SUCCEEDED,       /* VMIM Succeeded, or migrationState
                                 * completed and not failed. */
    LB_OUTCOME_FAILED,          /* VMIM Failed, or migrationState failed. */
    LB_OUTCOME_CANCELLED,       /* Abort succeeded, or VMIM deleted before
                                 * success. */
    LB_OUTCOME_GONE,            /* VMIM no longer (or not yet) exists and
                                 * migrationState says nothing. */
};

const char *lb_migration_outcome_to_string(enum lb_migration_outcome);

/* The facts observed about a port's latest migration.  Strings are borrowed
 * from the caller. */
struct lb_migration_facts {
    const char *migration_uid;  /* NULL: no migration. */
    const char *vmim;           /* VMIM name, if known. */
    enum lb_vmim_phase phase;   /* LB_VMIM_NONE if no VMIM. */
    enum lb_migration_outcome outcome;
    bool opted_in;              /* The VM allows dual binding. */
    const char *source_node;
    const char *target_node;    /* NULL until a target pod is scheduled. */
    const char *target_pod;
    bool target_pod_gone;       /* Target pod deleted or terminated. */
    bool activated;
    const char *activation_cause;
};

enum lb_migration_state lb_migration_state_from_facts(
    const struct lb_migration_facts *, char **causep);
enum lb_migration_state lb_migration_next(enum lb_migration_state current,
                                          const struct lb_migration_facts *,
                                          char **causep);

/* A record of one migration of one port. */
struct lb_migration_transition {
    enum lb_migration_state from;
    enum lb_migration_state to;
    long long int time;         /* Caller's clock, msec. */
    char *cause;
};

#define LB_MIGRATION_MAX_TRANSITIONS 16

struct lb_migration_record {
    struct hmap_node hmap_node; /* In lb_migration_table's 'current'. */
    struct ovs_list list_node;  /* In lb_migration_table's 'history'. */
    char *port;
    char *migration_uid;
    char *vmim;
    char *source;
    char *target;
    enum lb_migration_state state;
    long long int started;      /* First seen; times are 0 if unknown. */
    long long int mirroring;    /* Entered mirroring. */
    long long int activated;    /* Entered activated. */
    long long int finished;     /* Entered completed or rolled-back. */
    struct lb_migration_transition
        transitions[LB_MIGRATION_MAX_TRANSITIONS];
    size_t n_transitions;       /* Oldest dropped beyond the maximum. */
};

long long int lb_migration_record_latency(const struct lb_migration_record *);

struct lb_migration_table {
    struct hmap current;        /* Latest record per port, by port. */
    struct ovs_list history;    /* Superseded records, newest first. */
    size_t n_history;
    size_t max_history;
};

void lb_migration_table_init(struct lb_migration_table *);
void lb_migration_table_destroy(struct lb_migration_table *);
bool lb_migration_table_update(struct lb_migration_table *, const char *port,
                               const struct lb_migration_facts *,
                               long long int now);
bool lb_migration_table_remove(struct lb_migration_table *, const char *port,
                               long long int now);
const struct lb_migration_record *lb_migration_table_find(
    const struct lb_migration_table *, const char *port);
void lb_migration_table_format(const struct lb_migration_table *,
                               bool verbose, struct ds *);

#endif /* lib/migration.h */
