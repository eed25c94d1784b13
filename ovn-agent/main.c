/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* livebind-agent: option parsing and wiring only; the agent itself is in
 * lib/agent.c. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "command-line.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "memory.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "unixctl.h"
#include "openvswitch/dynamic-string.h"
#include "simap.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(main);

static void
usage(void)
{
    printf("%s: livebind node agent\n"
           "usage: %s [OPTIONS]\n"
           "\n"
           "  --config=FILE         read options from FILE (\"name = value\"\n"
           "                        a line); the command line overrides it\n"
           "  --node=NAME           this node's (chassis) name, as its\n"
           "                        Kubernetes Node (default: the host name)\n"
           "  --ovsdb=REMOTE        OVS database (default: unix:%s/db.sock)\n"
           "  --bridge=NAME         integration bridge (default: br-int)\n"
           "  --datapath-type=TYPE  system or netdev (default: system)\n"
           "  --bridge-mappings=PHYSNET:BRIDGE[,...]  the OVS bridge that\n"
           "                        holds this node's uplink to each\n"
           "                        physical network (provider networks)\n"
           "  --gateway-port=NAME   the distributed gateway's port on the\n"
           "                        bridge (created), into this node's\n"
           "                        host stack (default: none)\n"
           "  --openflow=TARGET     OpenFlow target (default: the bridge's\n"
           "                        management socket)\n"
           "  --kubeconfig=FILE     Kubernetes client configuration\n"
           "                        (default: in-cluster service account)\n"
           "  --k8s-server=URL      Kubernetes API server (overrides the\n"
           "                        kubeconfig's)\n"
           "  --no-mirror           during a migration, send traffic to one\n"
           "                        copy only, re-pointed on activation\n"
           "  --no-ct-handover      do not hand a migrating VM's conntrack\n"
           "                        entries over to the target (policy)\n"
           "  --no-svc-ct-handover  do not hand a migrating VM's Service\n"
           "                        connections (the host's DNAT) over\n"
           "  --no-port-gate        hold a migration target's blocked copy\n"
           "                        in the flow table only (no tc gate)\n"
           "  --no-self-activation  a blocked copy waits for the agent to\n"
           "                        unblock it on the VM's announcement\n"
           "                        (the gate and the flows do not open\n"
           "                        themselves)\n"
           "  --cni-socket=PATH     listen for the CNI plugin there\n"
           "                        (default: %s/cni.sock)\n"
           "  --metrics-address=IP:PORT  serve Prometheus metrics at\n"
           "                        http://IP:PORT/metrics (default: off)\n"
           "  --check-incremental   after each update port by port, derive\n"
           "                        and compute everything, compare, log a\n"
           "                        difference as an error and repair it\n"
           "                        (for tests: costs a full recompute)\n"
           "  --model=FILE          standalone: read the logical model from\n"
           "                        FILE instead of Kubernetes\n"
           "  --unixctl=SOCKET      control socket (default: %s/"
           "livebind-agent.<pid>.ctl)\n",
           program_name, program_name, ovs_rundir(), LIVEBIND_RUNDIR,
           ovs_rundir());
    daemon_usage();
    vlog_usage();
    exit(EXIT_SUCCESS);
}

/* Reads options from 'file_name': one "name = value" (or "name" alone, for
 * a flag) a line, the names of the long options, '#' starting a comment.
 * Appends them to 'args' as "--name=value". */
static void
read_config_file(const char *file_name, struct svec *args)
{
    FILE *file = fopen(file_name, "r");
    if (!file) {
        ovs_fatal(errno, "%s: cannot open the configuration file",
                  file_name);
    }
    struct ds line = DS_EMPTY_INITIALIZER;
    int line_number = 0;
    while (!ds_get_line(&line, file)) {
        line_number++;
        char *s = ds_cstr(&line);
        char *hash = strchr(s, '#');
        if (hash) {
            *hash = '\0';
        }
        char *name = s + strspn(s, " \t");
        char *eq = strchr(name, '=');
        char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1 + strspn(eq + 1, " \t");
            for (char *end = value + strlen(value);
                 end > value && strchr(" \t\r", end[-1]); end--) {
                end[-1] = '\0';
            }
        }
        for (char *end = name + strlen(name);
             end > name && strchr(" \t\r", end[-1]); end--) {
            end[-1] = '\0';
        }
        if (!name[0]) {
            continue;
        }
        if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-:")
            != strlen(name) || !strcmp(name, "config")) {
            ovs_fatal(0, "%s:%d: \"%s\" is not an option name", file_name,
                      line_number, name);
        }
        svec_add_nocopy(args, value ? xasprintf("--%s=%s", name, value)
                                    : xasprintf("--%s", name));
    }
    ds_destroy(&line);
    fclose(file);
}

/* Builds the effective command line: the configuration file's options
 * first, so that those given on the command line win. */
static void
expand_config(int *argcp, char **argvp[], struct svec *args)
{
    const char *config = NULL;
    for (int i = 1; i < *argcp; i++) {
        const char *a = (*argvp)[i];
        if (!strncmp(a, "--config=", 9)) {
            config = a + 9;
        } else if (!strcmp(a, "--config") && i + 1 < *argcp) {
            config = (*argvp)[++i];
        }
    }
    svec_add(args, (*argvp)[0]);
    if (config) {
        read_config_file(config, args);
    }
    for (int i = 1; i < *argcp; i++) {
        const char *a = (*argvp)[i];
        if (!strncmp(a, "--config=", 9)) {
            continue;
        } else if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        svec_add(args, a);
    }
    svec_terminate(args);
    *argcp = args->n;
    *argvp = args->names;
}

static char *
parse_options(int argc, char *argv[], struct lb_agent_config *cfg)
{
    enum {
        OPT_NODE = UCHAR_MAX + 1,
        OPT_OVSDB,
        OPT_BRIDGE,
        OPT_DATAPATH_TYPE,
        OPT_BRIDGE_MAPPINGS,
        OPT_GATEWAY_PORT,
        OPT_OPENFLOW,
        OPT_MODEL,
        OPT_KUBECONFIG,
        OPT_K8S_SERVER,
        OPT_NO_MIRROR,
        OPT_NO_CT_HANDOVER,
        OPT_NO_PORT_GATE,
        OPT_NO_SELF_ACTIVATION,
        OPT_NO_SVC_CT_HANDOVER,
        OPT_CNI_SOCKET,
        OPT_METRICS_ADDRESS,
        OPT_UNIXCTL,
        OPT_CHECK_INCREMENTAL,
        DAEMON_OPTION_ENUMS,
        VLOG_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"node", required_argument, NULL, OPT_NODE},
        {"ovsdb", required_argument, NULL, OPT_OVSDB},
        {"bridge", required_argument, NULL, OPT_BRIDGE},
        {"datapath-type", required_argument, NULL, OPT_DATAPATH_TYPE},
        {"bridge-mappings", required_argument, NULL, OPT_BRIDGE_MAPPINGS},
        {"gateway-port", required_argument, NULL, OPT_GATEWAY_PORT},
        {"openflow", required_argument, NULL, OPT_OPENFLOW},
        {"model", required_argument, NULL, OPT_MODEL},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"k8s-server", required_argument, NULL, OPT_K8S_SERVER},
        {"no-mirror", no_argument, NULL, OPT_NO_MIRROR},
        {"no-ct-handover", no_argument, NULL, OPT_NO_CT_HANDOVER},
        {"no-port-gate", no_argument, NULL, OPT_NO_PORT_GATE},
        {"no-self-activation", no_argument, NULL, OPT_NO_SELF_ACTIVATION},
        {"no-svc-ct-handover", no_argument, NULL, OPT_NO_SVC_CT_HANDOVER},
        {"cni-socket", required_argument, NULL, OPT_CNI_SOCKET},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"check-incremental", no_argument, NULL, OPT_CHECK_INCREMENTAL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(
        long_options);
    char *unixctl_path = NULL;

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_NODE:
            cfg->chassis = optarg;
            break;
        case OPT_OVSDB:
            cfg->db_remote = optarg;
            break;
        case OPT_BRIDGE:
            cfg->bridge = optarg;
            break;
        case OPT_DATAPATH_TYPE:
            if (strcmp(optarg, "system") && strcmp(optarg, "netdev")) {
                ovs_fatal(0, "--datapath-type: \"%s\" is neither system "
                          "nor netdev", optarg);
            }
            cfg->datapath_type = optarg;
            break;
        case OPT_BRIDGE_MAPPINGS:
            cfg->bridge_mappings = optarg;
            break;
        case OPT_GATEWAY_PORT:
            if (!optarg[0] || strlen(optarg) > 15) {
                ovs_fatal(0, "--gateway-port: \"%s\" is not an interface "
                          "name (1 to 15 characters)", optarg);
            }
            cfg->gateway_port = optarg;
            break;
        case OPT_OPENFLOW:
            cfg->openflow_target = optarg;
            break;
        case OPT_MODEL:
            cfg->model_file = optarg;
            break;
        case OPT_KUBECONFIG:
            cfg->kubeconfig = optarg;
            break;
        case OPT_K8S_SERVER:
            cfg->k8s_server = optarg;
            break;
        case OPT_NO_MIRROR:
            cfg->no_mirror = true;
            break;
        case OPT_NO_CT_HANDOVER:
            cfg->no_ct_handover = true;
            break;
        case OPT_NO_PORT_GATE:
            cfg->no_port_gate = true;
            break;
        case OPT_NO_SELF_ACTIVATION:
            cfg->no_self_activation = true;
            break;
        case OPT_NO_SVC_CT_HANDOVER:
            cfg->no_svc_ct_handover = true;
            break;
        case OPT_CNI_SOCKET:
            cfg->cni_socket = optarg;
            break;
        case OPT_METRICS_ADDRESS:
            cfg->metrics_address = optarg;
            break;
        case OPT_UNIXCTL:
            unixctl_path = optarg;
            break;
        case OPT_CHECK_INCREMENTAL:
            cfg->check_incremental = true;
            break;
        case 'h':
            free(short_options);
            usage();
            break;
        case 'V':
            free(short_options);
            printf("livebind-agent %s\n", LIVEBIND_VERSION);
            exit(EXIT_SUCCESS);
        DAEMON_OPTION_HANDLERS
        VLOG_OPTION_HANDLERS
        case '?':
            free(short_options);
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);
    if (optind < argc) {
        ovs_fatal(0, "unexpected argument \"%s\" (use --help)", argv[optind]);
    }
    if (!cfg->chassis) {
        /* As the kubelet names its Node by default. */
        static char hostname[256];
        if (gethostname(hostname, sizeof hostname - 1) || !hostname[0]) {
            ovs_fatal(0, "--node is required: the host name is unknown");
        }
        cfg->chassis = hostname;
    }
    return unixctl_path;
}

static void
cmd_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *exiting_)
{
    bool *exiting = exiting_;
    *exiting = true;
    unixctl_command_reply(conn, NULL);
}

int
main(int argc, char *argv[])
{
    struct lb_agent_config cfg = { .datapath_type = "system" };

    set_program_name(argv[0]);
    ovs_cmdl_proctitle_init(argc, argv);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_INFO);

    struct svec args = SVEC_EMPTY_INITIALIZER;
    expand_config(&argc, &argv, &args);
    char *unixctl_path = parse_options(argc, argv, &cfg);
    char *default_db = xasprintf("unix:%s/db.sock", ovs_rundir());
    if (!cfg.db_remote) {
        cfg.db_remote = default_db;
    }
    if (!cfg.cni_socket && !cfg.model_file) {
        cfg.cni_socket = LIVEBIND_RUNDIR "/cni.sock";
    }

    daemonize_start(false);

    struct unixctl_server *unixctl;
    int error = unixctl_server_create(unixctl_path, &unixctl);
    if (error) {
        ovs_fatal(error, "could not create the control socket");
    }

    char *err_msg;
    struct lb_agent *agent = lb_agent_create(&cfg, &err_msg);
    if (!agent) {
        ovs_fatal(0, "%s", err_msg);
    }
    bool exiting = false;
    unixctl_command_register("exit", "", 0, 0, cmd_exit, &exiting);
    lb_agent_register_commands(agent);

    daemonize_complete();
    VLOG_INFO("livebind-agent %s starting on node %s", LIVEBIND_VERSION,
              cfg.chassis);

    while (!exiting) {
        memory_run();
        if (memory_should_report()) {
            struct simap usage = SIMAP_INITIALIZER(&usage);
            lb_agent_get_memory_usage(agent, &usage);
            memory_report(&usage);
            simap_destroy(&usage);
        }
        unixctl_server_run(unixctl);
        lb_agent_run(agent);

        memory_wait();
        unixctl_server_wait(unixctl);
        lb_agent_wait(agent);
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    lb_agent_destroy(agent);
    unixctl_server_destroy(unixctl);
    free(default_db);
    svec_destroy(&args);
    return 0;
}
