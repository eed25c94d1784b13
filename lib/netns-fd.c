/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "netns-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>

#include "error-msg.h"
#include "util.h"

/* Where our own thread's network namespace is: only ever a path of our own
 * (procfs), never one a request named. */
#define OWN_NETNS "/proc/thread-self/ns/net"

/* Opens the network namespace 'path' for passing to the agent: the plugin's
 * side, where waiting is allowed (the runtime times the plugin out).  Even
 * so the file is looked at before it is opened, so that a FIFO or a device,
 * whose open() could wait forever or do something, is refused at once: a
 * namespace is a regular file on nsfs, the file system of our own
 * namespace's file.  The open is non-blocking in case the file is replaced
 * in between, and the file opened must be the one looked at.
 *
 * Returns ENOENT if 'path' does not exist (DEL must then succeed: the
 * namespace and its interfaces are gone).  Whether it is a network
 * namespace, and not the host's, is for the agent's netns_fd_check(). */
int
netns_fd_open(const char *path, int *fdp, char **errorp)
{
    struct stat ours, theirs, opened;
    struct statfs fs;
    int fd, error;

    *fdp = -1;
    if (stat(OWN_NETNS, &ours)) {
        error = errno;
        lb_set_error(errorp, "cannot stat own network namespace (%s)",
                     ovs_strerror(error));
        return error;
    }
    if (stat(path, &theirs)) {
        error = errno;
        lb_set_error(errorp, "%s: cannot open network namespace (%s)",
                     path, ovs_strerror(error));
        return error;
    }
    if (!S_ISREG(theirs.st_mode) || theirs.st_dev != ours.st_dev) {
        lb_set_error(errorp, "%s: not a network namespace (not a file on "
                     "nsfs)", path);
        return EINVAL;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        error = errno;
        lb_set_error(errorp, "%s: cannot open network namespace (%s)",
                     path, ovs_strerror(error));
        return error;
    }
    if (fstatfs(fd, &fs) || fs.f_type != NSFS_MAGIC
        || fstat(fd, &opened) || opened.st_dev != theirs.st_dev
        || opened.st_ino != theirs.st_ino) {
        lb_set_error(errorp, "%s: not a network namespace", path);
        close(fd);
        return EINVAL;
    }
    *fdp = fd;
    return 0;
}

static int
nothing(void *aux OVS_UNUSED, char **errorp OVS_UNUSED)
{
    return 0;
}

/* Checks that 'fd', received from a client, is a network namespace other
 * than our own.  'path' is what the client said it opened, for messages:
 * it is never looked at.
 *
 * Only the descriptor is examined, and so that nothing can wait: statx()
 * with AT_STATX_DONT_SYNC, because a plain fstat() of a file on a network
 * file system may ask its server; only once the file is known to be on
 * nsfs (the device of our own namespace's file), fstatfs() confirms it.
 * Entering the namespace and coming back tells a network namespace from
 * the other kinds (no NS_GET_NSTYPE ioctl: valgrind does not know it). */
int
netns_fd_check(int fd, const char *path, char **errorp)
{
    struct statx stx;
    struct stat ours;
    struct statfs fs;
    int error;

    if (fd < 0) {
        lb_set_error(errorp, "%s: no descriptor of the network namespace",
                     path);
        return EBADF;
    }
    if (stat(OWN_NETNS, &ours)) {
        error = errno;
        lb_set_error(errorp, "cannot stat own network namespace (%s)",
                     ovs_strerror(error));
        return error;
    }
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
              STATX_TYPE | STATX_INO, &stx)) {
        error = errno;
        lb_set_error(errorp, "%s: cannot examine the network namespace's "
                     "descriptor (%s)", path, ovs_strerror(error));
        return error;
    }
    if (!S_ISREG(stx.stx_mode)
        || makedev(stx.stx_dev_major, stx.stx_dev_minor) != ours.st_dev
        || fstatfs(fd, &fs) || fs.f_type != NSFS_MAGIC) {
        lb_set_error(errorp, "%s: not a network namespace (not a file on "
                     "nsfs)", path);
        return EINVAL;
    }

    /* Plumbing "into" our own namespace would put both ends side by side
     * on the host, which is never what a pod wants. */
    if (stx.stx_ino == ours.st_ino) {
        lb_set_error(errorp, "%s: is the host's own network namespace", path);
        return EINVAL;
    }

    error = netns_fd_run(fd, nothing, NULL, NULL);
    if (error) {
        lb_set_error(errorp, "%s: not a network namespace%s%s", path,
                     error == EINVAL ? "" : ": ",
                     error == EINVAL ? "" : ovs_strerror(error));
    }
    return error;
}

/* Calls 'func(aux, errorp)' with the calling thread in the network namespace
 * 'fd' and returns what it returns.  The thread is back in its own
 * namespace when this returns, whatever 'func' did. */
int
netns_fd_run(int fd, int (*func)(void *aux, char **errorp), void *aux,
             char **errorp)
{
    int own_fd, error;

    /* "thread-self", not "self": setns() moves only the calling thread. */
    own_fd = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
    if (own_fd < 0) {
        error = errno;
        lb_set_error(errorp, "cannot open own network namespace (%s)",
                     ovs_strerror(error));
        return error;
    }
    if (setns(fd, CLONE_NEWNET)) {
        error = errno;
        lb_set_error(errorp, "cannot enter network namespace (%s)",
                     error == EINVAL ? "not a network namespace"
                                     : ovs_strerror(error));
        close(own_fd);
        return error;
    }

    error = func(aux, errorp);

    if (setns(own_fd, CLONE_NEWNET)) {
        /* Carrying on in the pod's namespace would make every later socket
         * and interface lookup silently wrong. */
        ovs_abort(errno, "cannot return to own network namespace");
    }
    close(own_fd);
    return error;
}
