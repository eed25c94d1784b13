/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "cni-server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_server);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 50);

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *) NULL)->sun_path)

enum conn_state {
    CONN_READING,               /* Receiving the request line. */
    CONN_HANDLING,              /* Handler has the request. */
    CONN_WRITING,               /* Sending the reply line. */
    CONN_DONE,                  /* To be closed. */
};

/* One client connection: one request, one reply. */
struct cni_conn {
    struct ovs_list node;       /* In cni_server's 'conns', oldest first. */
    int fd;
    enum conn_state state;
    bool in_slot;               /* Counted in cni_server's 'n_slots'. */
    long long int accepted;     /* time_msec() at accept. */
    struct ds buf;              /* Request bytes, then reply bytes. */
    int netns_fd;               /* Descriptor sent with the request, or -1. */
    size_t tx_ofs;              /* Reply bytes sent. */
    long long int deadline;     /* For CONN_READING and CONN_WRITING. */
    struct cni_reply_ctx *ctx;  /* In CONN_HANDLING. */
    char *peer;                 /* "pid N uid N", for logs. */
};

struct cni_reply_ctx {
    struct ovs_list node;       /* In cni_server's 'pending'. */
    struct cni_server *server;  /* NULL after cni_server_destroy(). */
    struct cni_conn *conn;      /* NULL once the client is gone. */
    struct cni_request request;
    int netns_fd;               /* Of 'request''s CNI_NETNS, or -1. */
    long long int received;     /* time_msec() when it arrived. */
};

struct cni_server {
    char *path;
    int fd;
    ino_t ino;                  /* Of the socket file, to unlink only ours. */
    struct cni_server_options options;
    cni_handle_func *handle;
    cni_closed_func *closed;
    void *aux;
    struct ovs_list conns;      /* Contains "struct cni_conn"s. */
    size_t n_slots;             /* Connections reading or writing. */
    struct ovs_list pending;    /* Contains unanswered "cni_reply_ctx"s. */
    size_t n_pending;
    struct cni_server_stats stats;
};

/* The limits, and why:
 *
 *   - A slot is taken only while a request is read or a reply written.
 *     The plugin, a local process, writes its whole request as soon as it
 *     connects and reads the reply as soon as it comes, so both take
 *     microseconds: 64 slots serve any runtime, and 2 s to send a request
 *     or take a reply is ample even on a loaded node.
 *   - A request with the handler (an ADD waiting for its flows, for up to
 *     the client's own timeout) holds no slot, or one slow ADD could keep
 *     others waiting; such requests are bounded apart, by the pods a node
 *     could be creating at once, with room to spare.  Past that bound a
 *     request gets "try again later" at once.
 *   - When every slot is taken, a connection that has sent no complete
 *     request within IDLE_GRACE_MS makes room for the next client: the
 *     runtime's requests never queue behind idle or slow clients. */
#define IDLE_GRACE_MS 100

void
cni_server_options_init(struct cni_server_options *options)
{
    options->allowed_uid = 0;
    options->max_connections = 64;
    options->max_pending = 1024;
    options->io_timeout_ms = 2000;
}

/* Makes the directory of 'path' if it does not exist, mode 0700, and checks
 * that nobody but us can reach into it. */
static int
prepare_dir(const char *path)
{
    char *dir = dir_name(path);
    struct stat st;
    int error = 0;

    if (mkdir(dir, 0700) && errno != EEXIST) {
        error = errno;
        VLOG_ERR("%s: cannot create directory (%s)", dir,
                 ovs_strerror(error));
    } else if (lstat(dir, &st)) {
        error = errno;
        VLOG_ERR("%s: stat failed (%s)", dir, ovs_strerror(error));
    } else if (!S_ISDIR(st.st_mode)) {
        error = ENOTDIR;
        VLOG_ERR("%s: not a directory", dir);
    } else if (st.st_uid != geteuid() || st.st_mode & 077) {
        /* Changing an existing directory's mode behind the admin's back
         * (it could be /tmp) is not ours to do. */
        error = EPERM;
        VLOG_ERR("%s: the CNI socket directory must be owned by uid %d and "
                 "have mode 0700 (it is uid %d, mode %04o)", dir,
                 (int) geteuid(), (int) st.st_uid,
                 (unsigned int) st.st_mode & 07777);
    }
    free(dir);
    return error;
}

/* Removes a socket left by an agent that is gone; refuses if one still
 * answers there, or if 'path' is something other than a socket. */
static int
remove_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st)) {
        return errno == ENOENT ? 0 : errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        VLOG_ERR("%s: exists and is not a socket", path);
        return EEXIST;
    }

    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return errno;
    }
    int retval = connect(fd, (struct sockaddr *) &sun, sizeof sun);
    int error = retval ? errno : 0;
    close(fd);
    if (!retval || error == EAGAIN) {
        VLOG_ERR("%s: another process is serving this socket", path);
        return EADDRINUSE;
    } else if (error != ECONNREFUSED) {
        VLOG_ERR("%s: cannot probe existing socket (%s)", path,
                 ovs_strerror(error));
        return error;
    }
    VLOG_INFO("%s: removing stale socket", path);
    return unlink(path) && errno != ENOENT ? errno : 0;
}

/* Creates a server listening on the Unix socket 'socket_path' (its
 * directory is created with mode 0700 if needed, the socket gets mode 0600)
 * that calls 'handle' (and 'closed', which may be NULL) with 'aux'.
 * 'options' may be NULL for the defaults.  Returns 0 and stores the server
 * in '*serverp', or a positive errno value (logged). */
int
cni_server_create(const char *socket_path,
                  const struct cni_server_options *options,
                  cni_handle_func *handle, cni_closed_func *closed, void *aux,
                  struct cni_server **serverp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int error;
    int fd = -1;

    *serverp = NULL;
    if (strlen(socket_path) >= SUN_PATH_SIZE) {
        VLOG_ERR("%s: socket path too long (at most %d bytes)", socket_path,
                 (int) SUN_PATH_SIZE - 1);
        return ENAMETOOLONG;
    }
    ovs_strlcpy(sun.sun_path, socket_path, sizeof sun.sun_path);

    error = prepare_dir(socket_path);
    if (error) {
        return error;
    }
    error = remove_stale_socket(socket_path);
    if (error) {
        return error;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = errno;
        VLOG_ERR("socket failed (%s)", ovs_strerror(error));
        return error;
    }

    /* Never, not even for an instant, let anyone but us connect. */
    mode_t old_umask = umask(0177);
    int retval = bind(fd, (struct sockaddr *) &sun, sizeof sun);
    error = retval ? errno : 0;
    umask(old_umask);
    if (error) {
        VLOG_ERR("%s: bind failed (%s)", socket_path, ovs_strerror(error));
        close(fd);
        return error;
    }

    struct stat st;
    if (chmod(socket_path, 0600) || stat(socket_path, &st)) {
        error = errno;
        VLOG_ERR("%s: cannot set mode 0600 (%s)", socket_path,
                 ovs_strerror(error));
        goto error;
    }
    if (listen(fd, 64)) {
        error = errno;
        VLOG_ERR("%s: listen failed (%s)", socket_path, ovs_strerror(error));
        goto error;
    }

    struct cni_server *server = xzalloc(sizeof *server);
    server->path = xstrdup(socket_path);
    server->fd = fd;
    server->ino = st.st_ino;
    if (options) {
        server->options = *options;
    } else {
        cni_server_options_init(&server->options);
    }
    if (!server->options.max_connections) {
        server->options.max_connections = 1;
    }
    if (!server->options.max_pending) {
        server->options.max_pending = 1;
    }
    for (int i = 0; i < CNI_N_COMMANDS; i++) {
        lb_histogram_init(&server->stats.latency[i],
                          lb_histogram_latency_bounds,
                          lb_histogram_n_latency_bounds);
    }
    if (server->options.io_timeout_ms <= 0) {
        server->options.io_timeout_ms = 2000;
    }
    server->handle = handle;
    server->closed = closed;
    server->aux = aux;
    ovs_list_init(&server->conns);
    ovs_list_init(&server->pending);
    VLOG_INFO("%s: listening for CNI requests", socket_path);

    *serverp = server;
    return 0;

error:
    unlink(socket_path);
    close(fd);
    return error;
}

const struct cni_server_stats *
cni_server_get_stats(const struct cni_server *server)
{
    return &server->stats;
}

const char *
cni_server_get_path(const struct cni_server *server)
{
    return server->path;
}

/* Number of requests handed to the handler and not yet answered. */
size_t
cni_server_n_pending(const struct cni_server *server)
{
    return server->n_pending;
}

/* Whether 'conn' holds one of the server's slots. */
static void
conn_set_slot(struct cni_server *server, struct cni_conn *conn, bool in_slot)
{
    if (conn->in_slot != in_slot) {
        conn->in_slot = in_slot;
        if (in_slot) {
            server->n_slots++;
        } else {
            server->n_slots--;
        }
    }
}

/* Queues 'reply' (without newline) for sending on 'conn'. */
static void
conn_send(struct cni_server *server, struct cni_conn *conn, const char *reply)
{
    /* May go past 'max_connections' for a moment: the reply is small and
     * the client waits for it. */
    conn_set_slot(server, conn, true);
    ds_clear(&conn->buf);
    ds_put_cstr(&conn->buf, reply);
    ds_put_char(&conn->buf, '\n');
    conn->tx_ofs = 0;
    conn->state = CONN_WRITING;
    conn->deadline = time_msec() + server->options.io_timeout_ms;
    poll_immediate_wake();
}

static void
conn_send_error(struct cni_server *server, struct cni_conn *conn,
                const struct cni_error *error)
{
    char *reply = cni_response_error_json(error);
    conn_send(server, conn, reply);
    free(reply);
}

static void
conn_accept(struct cni_server *server, int fd)
{
    struct cni_conn *conn = xzalloc(sizeof *conn);
    conn->fd = fd;
    conn->netns_fd = -1;
    conn->state = CONN_READING;
    ds_init(&conn->buf);
    conn->accepted = time_msec();
    conn->deadline = conn->accepted + server->options.io_timeout_ms;
    ovs_list_push_back(&server->conns, &conn->node);
    conn_set_slot(server, conn, true);

    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
        int error = errno;
        VLOG_WARN_RL(&rl, "%s: cannot get peer credentials (%s)",
                     server->path, ovs_strerror(error));
        conn->peer = xstrdup("unknown peer");
        conn->state = CONN_DONE;
        return;
    }
    conn->peer = xasprintf("pid %ld uid %ld", (long int) cred.pid,
                           (long int) cred.uid);
    if (cred.uid != server->options.allowed_uid) {
        VLOG_WARN_RL(&rl, "%s: rejecting connection from %s (only uid %ld "
                     "may connect)", server->path, conn->peer,
                     (long int) server->options.allowed_uid);
        struct cni_error *error = cni_error_createf(
            CNI_ERR_PERMISSION, "uid %ld may not use the livebind agent's "
            "CNI socket", (long int) cred.uid);
        conn_send_error(server, conn, error);
        cni_error_destroy(error);
    }
}

static void
conn_close(struct cni_server *server, struct cni_conn *conn)
{
    struct cni_reply_ctx *ctx = conn->ctx;

    ovs_list_remove(&conn->node);
    conn_set_slot(server, conn, false);
    close(conn->fd);
    if (conn->netns_fd >= 0) {
        close(conn->netns_fd);
    }
    ds_destroy(&conn->buf);
    free(conn->peer);
    free(conn);

    if (ctx) {
        /* The handler still owns 'ctx'; tell it nobody is listening. */
        ctx->conn = NULL;
        if (server->closed) {
            server->closed(server->aux, ctx);
        }
    }
}

static void
log_request(const struct cni_conn *conn, const struct cni_request *req)
{
    if (!VLOG_IS_INFO_ENABLED()) {
        return;
    }
    struct ds ds = DS_EMPTY_INITIALIZER;
    ds_put_format(&ds, "%s", cni_command_to_string(req->command));
    if (req->pod_namespace && req->pod_name) {
        ds_put_format(&ds, " pod %s/%s", req->pod_namespace, req->pod_name);
    }
    if (req->container_id) {
        ds_put_format(&ds, " container %.12s", req->container_id);
    }
    if (req->ifname) {
        ds_put_format(&ds, " if %s", req->ifname);
    }
    ds_put_format(&ds, " (%s, CNI %s)", conn->peer,
                  cni_version_to_string(req->config.version));
    VLOG_INFO("%s", ds_cstr(&ds));
    ds_destroy(&ds);
}

/* Hands the 'len' bytes of request in 'conn->buf' to the handler, or
 * replies with an error if they are not a valid request. */
static void
conn_dispatch(struct cni_server *server, struct cni_conn *conn, size_t len)
{
    struct cni_reply_ctx *ctx = xzalloc(sizeof *ctx);
    struct cni_error *error = cni_request_from_json(conn->buf.string, len,
                                                    &ctx->request);
    bool keep_fd = false;
    if (!error) {
        error = cni_request_check_netns_fd(&ctx->request,
                                           conn->netns_fd >= 0, &keep_fd);
    }
    if (error) {
        /* conn_close() closes any descriptor that came along. */
        VLOG_WARN_RL(&rl, "invalid request from %s: %s", conn->peer,
                     error->msg);
        conn_send_error(server, conn, error);
        cni_error_destroy(error);
        cni_request_destroy(&ctx->request);
        free(ctx);
        return;
    }
    if (!keep_fd && conn->netns_fd >= 0) {
        VLOG_INFO_RL(&rl, "%s: closing the descriptor sent with a %s "
                     "request, which uses none", conn->peer,
                     cni_command_to_string(ctx->request.command));
        close(conn->netns_fd);
        conn->netns_fd = -1;
    }
    log_request(conn, &ctx->request);

    if (server->n_pending >= server->options.max_pending) {
        VLOG_WARN_RL(&rl, "%s: %"PRIuSIZE" requests in progress already: "
                     "try again later", conn->peer, server->n_pending);
        error = cni_error_createf(CNI_ERR_TRY_AGAIN, "the agent has %"
                                  PRIuSIZE" requests in progress: try again "
                                  "later", server->n_pending);
        conn_send_error(server, conn, error);
        cni_error_destroy(error);
        cni_request_destroy(&ctx->request);
        free(ctx);
        return;
    }

    ctx->server = server;
    ctx->conn = conn;
    ctx->netns_fd = conn->netns_fd;
    conn->netns_fd = -1;
    ctx->received = time_msec();
    ovs_list_push_back(&server->pending, &ctx->node);
    server->n_pending++;
    conn->ctx = ctx;
    conn->state = CONN_HANDLING;
    conn_set_slot(server, conn, false);
    ds_clear(&conn->buf);
    server->handle(server->aux, &ctx->request, ctx);
}

/* Takes the descriptors that came with a message received on 'conn': the
 * first one is the request's (of its CNI_NETNS), any more are closed.  The
 * kernel already closed those that did not fit in the buffer. */
static void
conn_take_fds(struct cni_conn *conn, struct msghdr *msg)
{
    size_t extra = 0;

    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
         cmsg = CMSG_NXTHDR(msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cmsg);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof fd, sizeof fd);
            if (conn->netns_fd < 0) {
                conn->netns_fd = fd;
            } else {
                close(fd);
                extra++;
            }
        }
    }
    if (extra || msg->msg_flags & MSG_CTRUNC) {
        VLOG_WARN_RL(&rl, "%s: closed the descriptors beyond the first one "
                     "sent with the request", conn->peer);
    }
}

static void
conn_read(struct cni_server *server, struct cni_conn *conn)
{
    for (;;) {
        char chunk[4096];
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = chunk, .iov_len = sizeof chunk };
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.buf,
            .msg_controllen = sizeof control.buf,
        };
        ssize_t n = recvmsg(conn->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n >= 0) {
            conn_take_fds(conn, &msg);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                VLOG_WARN_RL(&rl, "%s: receive failed (%s)", conn->peer,
                             ovs_strerror(errno));
                conn->state = CONN_DONE;
            }
            return;
        } else if (n == 0) {
            /* EOF: a client may half-close instead of sending '\n'. */
            if (conn->buf.length) {
                conn_dispatch(server, conn, conn->buf.length);
            } else {
                conn->state = CONN_DONE;
            }
            return;
        }

        size_t old_len = conn->buf.length;
        ds_put_buffer(&conn->buf, chunk, n);
        const char *nl = memchr(conn->buf.string + old_len, '\n', n);
        if (nl) {
            conn_dispatch(server, conn, nl - conn->buf.string);
            return;
        } else if (conn->buf.length > CNI_MAX_MESSAGE) {
            VLOG_WARN_RL(&rl, "%s: request longer than %d bytes", conn->peer,
                         CNI_MAX_MESSAGE);
            struct cni_error *error = cni_error_createf(
                CNI_ERR_DECODE, "request longer than %d bytes",
                CNI_MAX_MESSAGE);
            conn_send_error(server, conn, error);
            cni_error_destroy(error);
            return;
        }
    }
}

static void
conn_write(struct cni_conn *conn)
{
    while (conn->tx_ofs < conn->buf.length) {
        ssize_t n = send(conn->fd, conn->buf.string + conn->tx_ofs,
                         conn->buf.length - conn->tx_ofs,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                VLOG_WARN_RL(&rl, "%s: send failed (%s)", conn->peer,
                             ovs_strerror(errno));
                conn->state = CONN_DONE;
            }
            return;
        }
        conn->tx_ofs += n;
    }
    conn->state = CONN_DONE;
}

/* Whether the client of a connection in CONN_HANDLING has hung up.  A
 * half-close (shutdown(SHUT_WR)) after the request does not count. */
static bool
conn_hung_up(const struct cni_conn *conn)
{
    struct pollfd pfd = { .fd = conn->fd, .events = 0 };
    return poll(&pfd, 1, 0) > 0 && pfd.revents & (POLLHUP | POLLERR);
}

static void
conn_run(struct cni_server *server, struct cni_conn *conn)
{
    if (conn->state == CONN_READING) {
        conn_read(server, conn);
        if (conn->state == CONN_READING && time_msec() >= conn->deadline) {
            VLOG_WARN_RL(&rl, "%s: no complete request within %d ms",
                         conn->peer, server->options.io_timeout_ms);
            conn->state = CONN_DONE;
        }
    }
    if (conn->state == CONN_HANDLING && conn_hung_up(conn)) {
        VLOG_INFO_RL(&rl, "%s: client went away before the reply",
                     conn->peer);
        conn->state = CONN_DONE;
    }
    if (conn->state == CONN_WRITING) {
        conn_write(conn);
        if (conn->state == CONN_WRITING && time_msec() >= conn->deadline) {
            VLOG_WARN_RL(&rl, "%s: reply not taken within %d ms",
                         conn->peer, server->options.io_timeout_ms);
            conn->state = CONN_DONE;
        }
    }
    if (conn->state == CONN_DONE) {
        conn_close(server, conn);
    }
}

/* The connection that has waited longest for its request, or NULL. */
static struct cni_conn *
oldest_reading(const struct cni_server *server)
{
    struct cni_conn *conn;
    LIST_FOR_EACH (conn, node, &server->conns) {
        if (conn->state == CONN_READING) {
            return conn;
        }
    }
    return NULL;
}

void
cni_server_run(struct cni_server *server)
{
    /* Bounded, so that a flood of clients cannot starve the loop. */
    for (int i = 0; i < 16; i++) {
        struct cni_conn *idle = NULL;
        if (server->n_slots >= server->options.max_connections) {
            idle = oldest_reading(server);
            if (!idle || time_msec() < idle->accepted + IDLE_GRACE_MS) {
                break;
            }
        }
        int fd = accept4(server->fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                VLOG_WARN_RL(&rl, "%s: accept failed (%s)", server->path,
                             ovs_strerror(errno));
            }
            break;
        }
        if (idle) {
            VLOG_WARN_RL(&rl, "%s: closing connection from %s: no request "
                         "within %d ms, and another client waits",
                         server->path, idle->peer, IDLE_GRACE_MS);
            idle->state = CONN_DONE;
            conn_close(server, idle);
        }
        conn_accept(server, fd);
    }

    struct cni_conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        conn_run(server, conn);
    }
}

void
cni_server_wait(struct cni_server *server)
{
    if (server->n_slots < server->options.max_connections) {
        poll_fd_wait(server->fd, POLLIN);
    } else {
        /* Full: a new client can only take an idle one's slot, once it has
         * had its grace. */
        const struct cni_conn *idle = oldest_reading(server);
        if (idle) {
            long long int when = idle->accepted + IDLE_GRACE_MS;
            if (time_msec() >= when) {
                poll_fd_wait(server->fd, POLLIN);
            } else {
                poll_timer_wait_until(when);
            }
        }
    }

    struct cni_conn *conn;
    LIST_FOR_EACH (conn, node, &server->conns) {
        switch (conn->state) {
        case CONN_READING:
            poll_fd_wait(conn->fd, POLLIN);
            poll_timer_wait_until(conn->deadline);
            break;
        case CONN_HANDLING:
            /* Wakes up only on hang-up, which poll() always reports. */
            poll_fd_wait(conn->fd, 0);
            break;
        case CONN_WRITING:
            poll_fd_wait(conn->fd, POLLOUT);
            poll_timer_wait_until(conn->deadline);
            break;
        case CONN_DONE:
            poll_immediate_wake();
            break;
        }
    }
}

/* Closes the socket and all connections.  Requests still with the handler
 * get 'closed' called; the handler must still answer them. */
void
cni_server_destroy(struct cni_server *server)
{
    if (!server) {
        return;
    }

    struct cni_reply_ctx *ctx;
    LIST_FOR_EACH_POP (ctx, node, &server->pending) {
        ctx->server = NULL;
        if (ctx->conn) {
            ctx->conn->ctx = NULL;
            ctx->conn = NULL;
            if (server->closed) {
                server->closed(server->aux, ctx);
            }
        }
    }

    struct cni_conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        conn_close(server, conn);
    }

    struct stat st;
    if (!stat(server->path, &st) && st.st_ino == server->ino) {
        unlink(server->path);
    }
    close(server->fd);
    free(server->path);
    free(server);
}

struct cni_request *
cni_reply_ctx_request(const struct cni_reply_ctx *ctx)
{
    return CONST_CAST(struct cni_request *, &ctx->request);
}

/* The descriptor of the network namespace that came with the request of
 * 'ctx', or -1 if none did (a DEL whose namespace is gone, a STATUS, a GC).
 * It is valid until 'ctx' is answered; the handler must not close it, and
 * must check it (netns_fd_check()) before use: a client sent it. */
int
cni_reply_ctx_netns_fd(const struct cni_reply_ctx *ctx)
{
    return ctx->netns_fd;
}

/* Whether the client of 'ctx' has gone: the reply will be discarded. */
bool
cni_reply_ctx_is_closed(const struct cni_reply_ctx *ctx)
{
    return !ctx->conn;
}

/* Sends 'reply' (a full response line) to the client of 'ctx', if any, and
 * frees 'ctx'. */
/* Answers with 'reply', whose CNI error code is 'code' (0: a result). */
static void
reply_ctx_finish(struct cni_reply_ctx *ctx, const char *reply, int code)
{
    struct cni_server *server = ctx->server;
    struct cni_conn *conn = ctx->conn;

    if (server) {
        struct cni_server_stats *stats = &server->stats;
        enum cni_command cmd = ctx->request.command;
        if (cmd < CNI_N_COMMANDS) {
            stats->results[cmd][MIN(MAX(code, 0), CNI_STATS_MAX_CODE)]++;
            lb_histogram_observe(&stats->latency[cmd],
                                 (time_msec() - ctx->received) / 1e3);
        }
        ovs_list_remove(&ctx->node);
        server->n_pending--;
        if (conn) {
            conn->ctx = NULL;
            conn_send(server, conn, reply);
        }
    }
    if (ctx->netns_fd >= 0) {
        close(ctx->netns_fd);
    }
    cni_request_destroy(&ctx->request);
    free(ctx);
}

/* Answers the request of 'ctx' with 'result' (only ADD has one; for other
 * commands 'result' is ignored and may be NULL), and frees 'ctx'.  For an ADD
 * whose configuration has a "prevResult", the reply is "prevResult" with
 * 'result' appended, as CNI chaining wants. */
void
cni_server_reply_result(struct cni_reply_ctx *ctx,
                        const struct cni_result *result)
{
    const struct cni_request *req = &ctx->request;
    char *reply;
    int code = 0;

    if (req->command != CNI_CMD_ADD) {
        reply = cni_response_result_json(NULL, req->config.version);
    } else if (!result) {
        VLOG_WARN("handler sent no result for ADD of container %s",
                  req->container_id);
        struct cni_error *error = cni_error_createf(
            CNI_ERR_AGENT, "the agent produced no result");
        reply = cni_response_error_json(error);
        code = error->code;
        cni_error_destroy(error);
    } else {
        struct cni_result *merged = NULL;
        if (req->config.prev_result) {
            merged = cni_result_clone(req->config.prev_result);
            cni_result_append(merged, result);
            result = merged;
        }

        struct cni_error *error = cni_result_validate(result);
        if (error) {
            VLOG_WARN("invalid result for container %s: %s",
                      req->container_id, error->msg);
            reply = cni_response_error_json(error);
            code = error->code;
            cni_error_destroy(error);
        } else {
            reply = cni_response_result_json(result, req->config.version);
        }
        cni_result_destroy(merged);
    }
    reply_ctx_finish(ctx, reply, code);
    free(reply);
}

/* Answers the request of 'ctx' with an error and frees 'ctx'.  'msg' should
 * say what failed; 'details' may be NULL. */
void
cni_server_reply_error(struct cni_reply_ctx *ctx, int code, const char *msg,
                       const char *details)
{
    struct cni_error *error = cni_error_create(code > 0 ? code : CNI_ERR_AGENT,
                                               msg, details);
    char *reply = cni_response_error_json(error);
    reply_ctx_finish(ctx, reply, error->code);
    free(reply);
    cni_error_destroy(error);
}

/* ------------------------------------------------------------ plugin side */

/* Waits until 'fd' is ready for 'events' or 'deadline' (time_msec()) has
 * passed.  Returns 0, ETIMEDOUT or an errno value. */
static int
wait_fd(int fd, short int events, long long int deadline)
{
    for (;;) {
        long long int now = time_msec();
        if (now >= deadline) {
            return ETIMEDOUT;
        }
        struct pollfd pfd = { .fd = fd, .events = events };
        int timeout = MIN(deadline - now, INT_MAX);
        int retval = poll(&pfd, 1, timeout);
        if (retval > 0) {
            return 0;
        } else if (retval < 0 && errno != EINTR) {
            return errno;
        }
    }
}

static struct cni_error *
agent_unavailable(const char *path, int error)
{
    return cni_error_createf(CNI_ERR_NOT_AVAILABLE, "cannot reach the "
                             "livebind agent at %s: %s (is livebind-agent "
                             "running on this node?)", path,
                             ovs_strerror(error));
}

static struct cni_error *
agent_timeout(const char *path, int timeout_ms)
{
    return cni_error_createf(CNI_ERR_TRY_AGAIN, "no reply from the livebind "
                             "agent at %s within %d ms", path, timeout_ms);
}

/* Sends 'data' on 'fd' with the descriptor 'pass_fd' beside it
 * (SCM_RIGHTS), or without one if 'pass_fd' is -1.  Returns what send()
 * does. */
static ssize_t
send_with_fd(int fd, const char *data, size_t len, int pass_fd)
{
    if (pass_fd < 0) {
        return send(fd, data, len, MSG_NOSIGNAL);
    }

    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = CONST_CAST(char *, data),
                         .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof pass_fd);
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* Sends 'request' to the agent listening on 'socket_path', with 'netns_fd'
 * (the request's network namespace, -1 for none) beside its first byte, and
 * waits up to 'timeout_ms' for the reply, which it stores in '*replyp'
 * (without the newline, NUL-terminated, 'reply_lenp' bytes; the caller
 * frees it).
 * Returns NULL on success, otherwise a CNI error: CNI_ERR_NOT_AVAILABLE if
 * nobody listens, CNI_ERR_TRY_AGAIN on timeout or if the agent hung up. */
struct cni_error *
cni_client_transact(const char *socket_path, const char *request,
                    int netns_fd, int timeout_ms, char **replyp,
                    size_t *reply_lenp)
{
    long long int deadline = time_msec() + timeout_ms;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct cni_error *error = NULL;
    struct ds buf = DS_EMPTY_INITIALIZER;
    int fd;

    *replyp = NULL;
    *reply_lenp = 0;
    if (strlen(socket_path) >= SUN_PATH_SIZE) {
        return agent_unavailable(socket_path, ENAMETOOLONG);
    }
    ovs_strlcpy(sun.sun_path, socket_path, sizeof sun.sun_path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return cni_error_createf(CNI_ERR_IO, "socket: %s",
                                 ovs_strerror(errno));
    }

    /* A Unix socket connects at once or, with a full backlog, fails with
     * EAGAIN: then retry until the deadline. */
    while (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN) {
            error = agent_unavailable(socket_path, errno);
            goto out;
        } else if (time_msec() >= deadline) {
            error = agent_timeout(socket_path, timeout_ms);
            goto out;
        }
        poll(NULL, 0, 10);
    }

    ds_put_cstr(&buf, request);
    ds_put_char(&buf, '\n');
    for (size_t ofs = 0; ofs < buf.length;) {
        /* The descriptor goes with the first bytes sent, only once. */
        ssize_t n = send_with_fd(fd, buf.string + ofs, buf.length - ofs,
                                 ofs ? -1 : netns_fd);
        if (n >= 0) {
            ofs += n;
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
            err = wait_fd(fd, POLLOUT, deadline);
        }
        if (err == ETIMEDOUT) {
            error = agent_timeout(socket_path, timeout_ms);
            goto out;
        } else if (err == EPIPE || err == ECONNRESET) {
            /* The agent may have answered without reading it all (peer
             * not allowed, request too long): read the answer. */
            break;
        } else if (err) {
            error = cni_error_createf(CNI_ERR_IO, "sending to the livebind "
                                      "agent: %s", ovs_strerror(err));
            goto out;
        }
    }

    ds_clear(&buf);
    for (;;) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            size_t old_len = buf.length;
            ds_put_buffer(&buf, chunk, n);
            const char *nl = memchr(buf.string + old_len, '\n', n);
            if (nl) {
                buf.length = nl - buf.string;
                break;
            } else if (buf.length > CNI_MAX_MESSAGE) {
                error = cni_error_createf(CNI_ERR_AGENT, "reply from the "
                                          "livebind agent is longer than %d "
                                          "bytes", CNI_MAX_MESSAGE);
                goto out;
            }
            continue;
        } else if (n == 0) {
            if (buf.length) {
                break;
            }
            error = cni_error_createf(CNI_ERR_TRY_AGAIN, "the livebind agent "
                                      "closed the connection without "
                                      "replying");
            goto out;
        }

        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
            err = wait_fd(fd, POLLIN, deadline);
        }
        if (err == ETIMEDOUT) {
            error = agent_timeout(socket_path, timeout_ms);
            goto out;
        } else if (err == ECONNRESET) {
            error = cni_error_createf(CNI_ERR_TRY_AGAIN, "the livebind agent "
                                      "closed the connection: %s",
                                      ovs_strerror(err));
            goto out;
        } else if (err) {
            error = cni_error_createf(CNI_ERR_IO, "receiving from the "
                                      "livebind agent: %s",
                                      ovs_strerror(err));
            goto out;
        }
    }

    *reply_lenp = buf.length;
    *replyp = ds_steal_cstr(&buf);

out:
    ds_destroy(&buf);
    close(fd);
    return error;
}
