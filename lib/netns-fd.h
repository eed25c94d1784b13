/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_NETNS_FD_H
#define LIVEBIND_NETNS_FD_H 1

/* A pod's network namespace, as a descriptor.
 *
 * CNI_NETNS names a path, and looking at a path can block: open() of a FIFO
 * waits for a writer, stat() of a path on a hung network file system waits
 * for the server, and there is no non-blocking stat().  The agent has one
 * thread for every pod and migration of its node, so it never looks at the
 * path: the CNI plugin, which runs in the container runtime's process (whose
 * business it is to time out a plugin that hangs), opens it with
 * netns_fd_open() and passes the descriptor over the agent's socket.  The
 * agent checks what it received with netns_fd_check(), which does not touch
 * the path, and keeps the path for its messages only.
 *
 * Both return 0 or a positive errno value and, if 'errorp' is nonnull and
 * '*errorp' is NULL, store a malloc()'d message there on failure. */

int netns_fd_open(const char *path, int *fdp, char **errorp);
int netns_fd_check(int fd, const char *path, char **errorp);
int netns_fd_run(int fd, int (*func)(void *aux, char **errorp), void *aux,
                 char **errorp);

#endif /* netns-fd.h */
