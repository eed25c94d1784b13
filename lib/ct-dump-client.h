/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_CT_DUMP_CLIENT_H
#define LIVEBIND_CT_DUMP_CLIENT_H 1

/* Reads a conntrack zone from ovs-vswitchd without blocking: its unixctl
 * command "dpctl/dump-conntrack -s zone=N", over a non-blocking JSON-RPC
 * connection to its unixctl socket, one dump at a time.  The text is for
 * lb_ct_dump_parse() (ct-dump.h). */

#include <stdbool.h>
#include <stdint.h>

/* 'unixctl_path' NULL: <rundir>/ovs-vswitchd.<pid>.ctl, as ovs-appctl
 * finds it. */
struct lb_ct_dumper *lb_ct_dumper_create(const char *unixctl_path,
                                         int timeout_ms);
void lb_ct_dumper_destroy(struct lb_ct_dumper *);

/* Starts reading 'zone'.  Returns 0, or a positive errno with '*errorp'
 * (caller frees) saying why. */
int lb_ct_dumper_start(struct lb_ct_dumper *, uint16_t zone, char **errorp);
bool lb_ct_dumper_busy(const struct lb_ct_dumper *);

/* EAGAIN while the dump is under way; then 0 with the dump's text in
 * '*textp', or a positive errno with '*errorp' (the caller frees either),
 * and the dumper is free for the next. */
int lb_ct_dumper_poll(struct lb_ct_dumper *, char **textp, char **errorp);
void lb_ct_dumper_wait(struct lb_ct_dumper *);

#endif /* lib/ct-dump-client.h */
