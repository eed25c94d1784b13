/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Test driver for lib/pod-plumb: adds, checks or deletes one pod attachment
 * as given on the command line.  Used by tests/system/test-pod-plumb.sh.
 * It opens NETNS as the CNI plugin does (netns_fd_open()) and hands
 * pod-plumb the descriptor, as the agent gets it.
 *
 * Exit status: 0 success, 1 the operation failed (message on stderr),
 * 2 usage error. */

#include <config.h>
#include "pod-plumb.h"

#include <errno.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "netns-fd.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

static void OVS_NO_RETURN
usage(void)
{
    printf("%s: test driver for pod plumbing\n"
           "usage: %s COMMAND ARG...\n"
           "  add NETNS IFNAME HOST_IFNAME MAC MTU IP/PLEN [GATEWAY]\n"
           "  check NETNS IFNAME HOST_IFNAME MAC MTU IP/PLEN [GATEWAY]\n"
           "  del NETNS|- IFNAME HOST_IFNAME|-\n"
           "  host-ifname CONTAINER_ID\n",
           program_name, program_name);
    exit(0);
}

static void OVS_NO_RETURN OVS_PRINTF_FORMAT(1, 2)
usage_error(const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", program_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, " (use --help for help)\n");
    exit(2);
}

static void
parse_attachment(int argc, char *argv[], struct pod_attachment *a)
{
    unsigned int plen;
    char *error;

    if (argc != 6 && argc != 7) {
        usage_error("%s takes 6 or 7 arguments", argv[-1]);
    }

    memset(a, 0, sizeof *a);
    a->netns_path = xstrdup(argv[0]);
    a->ifname = xstrdup(argv[1]);
    a->host_ifname = xstrdup(argv[2]);
    if (!eth_addr_from_string(argv[3], &a->mac)) {
        usage_error("%s: bad MAC", argv[3]);
    }
    if (!str_to_int(argv[4], 10, &a->mtu)) {
        usage_error("%s: bad MTU", argv[4]);
    }
    error = ip_parse_cidr(argv[5], &a->ip, &plen);
    if (error) {
        usage_error("%s", error);
    }
    a->prefix_len = plen;
    if (argc == 7 && !ip_parse(argv[6], &a->gateway)) {
        usage_error("%s: bad gateway", argv[6]);
    }
}

static const char *
dash_is_null(const char *s)
{
    return strcmp(s, "-") ? s : NULL;
}

int
main(int argc, char *argv[])
{
    const char *cmd;
    char *msg = NULL;
    int error;

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_ERR);

    if (argc < 2) {
        usage_error("missing command");
    }
    cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage();
    } else if (!strcmp(cmd, "add") || !strcmp(cmd, "check")) {
        struct pod_attachment a;

        parse_attachment(argc - 2, argv + 2, &a);
        error = netns_fd_open(a.netns_path, &a.netns_fd, &msg);
        if (!error) {
            error = (!strcmp(cmd, "add")
                     ? pod_plumb_add(&a, &msg) : pod_plumb_check(&a, &msg));
            close(a.netns_fd);
        }
        pod_attachment_destroy(&a);
    } else if (!strcmp(cmd, "del")) {
        const char *netns = argc == 5 ? dash_is_null(argv[2]) : NULL;
        const char *host_ifname = argc == 5 ? dash_is_null(argv[4]) : NULL;
        int fd = -1;

        if (argc != 5) {
            usage_error("del takes 3 arguments");
        }
        /* As the plugin does: a namespace that is gone is no error. */
        error = netns && !host_ifname ? netns_fd_open(netns, &fd, &msg) : 0;
        if (error == ENOENT) {
            free(msg);
            msg = NULL;
            error = 0;
        } else if (!error && !netns && !host_ifname) {
            usage_error("del needs NETNS or HOST_IFNAME");
        }
        if (!error) {
            error = pod_plumb_del(fd, netns, argv[3], host_ifname, &msg);
        }
        if (fd >= 0) {
            close(fd);
        }
    } else if (!strcmp(cmd, "host-ifname")) {
        char *name;

        if (argc != 3) {
            usage_error("host-ifname takes 1 argument");
        }
        name = pod_plumb_host_ifname(argv[2]);
        puts(name);
        free(name);
        return 0;
    } else {
        usage_error("%s: unknown command", cmd);
    }

    if (error) {
        fprintf(stderr, "%s: %s failed: %s\n", program_name, cmd,
                msg ? msg : ovs_strerror(error));
        free(msg);
        return 1;
    }
    free(msg);
    return 0;
}
