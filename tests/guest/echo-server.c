/*
 * echo-server: the livebind test guest's service.  Echoes a TCP stream back
 * to each client and every UDP datagram back to its sender, on one port,
 * IPv4 and IPv6.  Built static for the guest's initramfs (no libc there):
 * utilities/build-guest.sh.
 *
 *     echo-server [PORT]        (default 7)
 *
 * One poll loop, no threads: the guest has one slow (TCG) CPU.  A client
 * whose reader stalls keeps at most one buffer of pending data; we stop
 * reading from it until that drains, so TCP's own flow control pushes back
 * instead of the server growing without bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define BUF_SIZE 65536

struct client {
    int fd;                     /* -1: slot free. */
    size_t ofs, len;            /* Pending output: buf[ofs, ofs + len). */
    char buf[BUF_SIZE];
};

struct server {
    int listen_fd;
    int udp_fd;
    struct client clients[MAX_CLIENTS];
};

static int
open_socket(int type, int port)
{
    /* A dual-stack IPv6 socket when the kernel has IPv6, else IPv4. */
    int fd = socket(AF_INET6, type, 0);
    int on = 1, off = 0;

    if (fd >= 0) {
        struct sockaddr_in6 sin6;

        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        sin6.sin6_addr = in6addr_any;
        if (!bind(fd, (struct sockaddr *) &sin6, sizeof sin6)) {
            return fd;
        }
        close(fd);
    }

    struct sockaddr_in sin;

    fd = socket(AF_INET, type, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *) &sin, sizeof sin)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
client_close(struct client *c)
{
    close(c->fd);
    c->fd = -1;
}

static void
accept_client(struct server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK);
    int i;

    if (fd < 0) {
        return;
    }
    /* Each message echoed at once: the clients time the network with it,
     * and Nagle would hold an echo until the previous one is acked. */
    int on = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i].fd < 0) {
            s->clients[i].fd = fd;
            s->clients[i].ofs = s->clients[i].len = 0;
            return;
        }
    }
    close(fd);                  /* Full: the client sees a reset. */
}

/* Writes what it can of C's pending output; false if C is gone. */
static bool
client_flush(struct client *c)
{
    while (c->len) {
        ssize_t n = write(c->fd, c->buf + c->ofs, c->len);

        if (n < 0) {
            return errno == EAGAIN || errno == EINTR;
        }
        c->ofs += n;
        c->len -= n;
    }
    c->ofs = 0;
    return true;
}

static void
client_run(struct client *c, short revents)
{
    if (revents & (POLLERR | POLLNVAL)) {
        client_close(c);
        return;
    }
    if (!c->len && revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(c->fd, c->buf, sizeof c->buf);

        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return;
            }
            client_close(c);
            return;
        }
        c->ofs = 0;
        c->len = n;
    }
    if (!client_flush(c)) {
        client_close(c);
    }
}

static void
udp_echo(int fd)
{
    char buf[BUF_SIZE];
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT,
                         (struct sockaddr *) &from, &from_len);

    if (n >= 0) {
        sendto(fd, buf, n, MSG_DONTWAIT, (struct sockaddr *) &from, from_len);
    }
}

int
main(int argc, char *argv[])
{
    struct server s;
    int port = argc > 1 ? atoi(argv[1]) : 7;
    int i;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
        return 2;
    }
    s.listen_fd = open_socket(SOCK_STREAM, port);
    s.udp_fd = open_socket(SOCK_DGRAM, port);
    if (s.listen_fd < 0 || s.udp_fd < 0 || listen(s.listen_fd, 16)) {
        perror("echo-server");
        return 1;
    }
    for (i = 0; i < MAX_CLIENTS; i++) {
        s.clients[i].fd = -1;
    }

    for (;;) {
        struct pollfd pfds[MAX_CLIENTS + 2];
        int idx[MAX_CLIENTS + 2];
        int n = 0;

        pfds[n].fd = s.listen_fd;
        pfds[n++].events = POLLIN;
        pfds[n].fd = s.udp_fd;
        pfds[n++].events = POLLIN;
        for (i = 0; i < MAX_CLIENTS; i++) {
            struct client *c = &s.clients[i];

            if (c->fd >= 0) {
                idx[n] = i;
                pfds[n].fd = c->fd;
                pfds[n++].events = c->len ? POLLOUT : POLLIN;
            }
        }
        if (poll(pfds, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("poll");
            return 1;
        }
        if (pfds[0].revents) {
            accept_client(&s);
        }
        if (pfds[1].revents) {
            udp_echo(s.udp_fd);
        }
        for (i = 2; i < n; i++) {
            if (pfds[i].revents) {
                client_run(&s.clients[idx[i]], pfds[i].revents);
            }
        }
    }
}
