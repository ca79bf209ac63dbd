/* delayproxy: a TCP proxy that adds latency, for tests/bench/fs_run.sh.
 *
 *   delayproxy LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [PORT_FILE]
 *
 * Listens on 127.0.0.1:LISTEN_PORT (0: any free port; the port is printed
 * on stdout and written to PORT_FILE), connects to TARGET for each accepted
 * connection and forwards both ways, each piece of data leaving DELAY_MS
 * after it arrived (one-way delay; a request-response round trip gains
 * 2 * DELAY_MS). Order is kept per direction. One thread per direction of
 * each connection: it reads what arrives, stamps it, and writes each piece
 * once it is due. At most 64 MiB waits per direction (then reading pauses,
 * as a slow link's window would). A half-close is forwarded after the data
 * before it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QMAX (64L * 1024 * 1024)
#define PIECE 65536

static long delay_ns;
static const char *thost, *tport;

struct piece {
    struct piece *next;
    long long due;      /* CLOCK_MONOTONIC ns */
    size_t len, off;
    char data[];
};

struct conn {
    int fd[2];          /* 0 client, 1 server */
    pthread_mutex_t mu;
    int done;           /* directions finished */
};

struct dir {
    struct conn *c;
    int from, to;
};

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void conn_release(struct conn *c)
{
    pthread_mutex_lock(&c->mu);
    int last = ++c->done == 2;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        close(c->fd[0]);
        close(c->fd[1]);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

static void *pump(void *arg)
{
    struct dir *d = arg;
    int in = d->c->fd[d->from], out = d->c->fd[d->to];
    struct piece *head = NULL, *tail = NULL;
    long queued = 0;
    int eof = 0, err = 0;
    while (!err) {
        if (eof && !head) {
            shutdown(out, SHUT_WR);
            break;
        }
        long long t = mono_ns();
        int timeout = -1;
        if (head) {
            long long wait = head->due - t;
            timeout = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
        }
        struct pollfd p[2];
        int np = 0;
        if (!eof && queued < QMAX) {
            p[np].fd = in;
            p[np].events = POLLIN;
            np++;
        }
        int want_out = head && head->due <= t;
        if (want_out) {
            p[np].fd = out;
            p[np].events = POLLOUT;
            np++;
            timeout = -1;
        }
        if (np == 0) {
            /* queue full and nothing due yet: sleep until the head is due */
            struct timespec ts = { 0, 0 };
            long long wait = head->due - t;
            ts.tv_sec = wait / 1000000000LL;
            ts.tv_nsec = wait % 1000000000LL;
            nanosleep(&ts, NULL);
            continue;
        }
        int r = poll(p, np, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < np; i++) {
            if (!p[i].revents)
                continue;
            if (p[i].fd == in && !eof) {
                struct piece *pc = malloc(sizeof *pc + PIECE);
                if (!pc) {
                    err = 1;
                    break;
                }
                ssize_t n = read(in, pc->data, PIECE);
                if (n <= 0) {
                    free(pc);
                    if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                    eof = 1;
                    if (n < 0)
                        err = 1;
                    continue;
                }
                pc->next = NULL;
                pc->len = n;
                pc->off = 0;
                pc->due = mono_ns() + delay_ns;
                if (tail)
                    tail->next = pc;
                else
                    head = pc;
                tail = pc;
                queued += n;
            } else if (p[i].fd == out) {
                /* write every piece that is due, as far as the socket takes */
                while (head && head->due <= mono_ns()) {
                    ssize_t n = send(out, head->data + head->off, head->len - head->off,
                                     MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                            err = 1;
                        break;
                    }
                    head->off += n;
                    queued -= n;
                    if (head->off < head->len)
                        break;
                    struct piece *nx = head->next;
                    free(head);
                    head = nx;
                    if (!head)
                        tail = NULL;
                }
            }
        }
    }
    if (err) {
        shutdown(in, SHUT_RDWR);
        shutdown(out, SHUT_RDWR);
    }
    while (head) {
        struct piece *nx = head->next;
        free(head);
        head = nx;
    }
    struct conn *c = d->c;
    free(d);
    conn_release(c);
    return NULL;
}

static int connect_target(void)
{
    struct addrinfo hints = { 0 }, *res, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(thost, tport, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: delayproxy LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [PORT_FILE]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    thost = argv[2];
    tport = argv[3];
    delay_ns = (long)(atof(argv[4]) * 1e6);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 128) != 0) {
        perror("delayproxy: bind/listen");
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    if (argc == 6) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[5]);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, argv[5]) != 0) {
            perror("delayproxy: port file");
            return 1;
        }
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int cfd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            perror("delayproxy: accept");
            return 1;
        }
        int sfd = connect_target();
        if (sfd < 0) {
            close(cfd);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        c->fd[0] = cfd;
        c->fd[1] = sfd;
        pthread_mutex_init(&c->mu, NULL);
        for (int i = 0; i < 2; i++) {
            struct dir *d = malloc(sizeof *d);
            d->c = c;
            d->from = i;
            d->to = 1 - i;
            pthread_t th;
            if (pthread_create(&th, &attr, pump, d) != 0) {
                /* cannot happen in practice; drop the connection */
                shutdown(cfd, SHUT_RDWR);
                shutdown(sfd, SHUT_RDWR);
                free(d);
                conn_release(c);
            }
        }
    }
}
