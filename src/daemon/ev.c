/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop; see ev.h. */
#include "ev.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/util.h"

struct io {
    ev_fd_cb cb;
    void *arg;
    uint32_t events;
    bool used;
};

struct ev_timer {
    uint64_t due;
    ev_timer_cb cb;
    void *arg;
    struct ev_timer *next;
};

#define MAX_SIGNALS 8

struct ev {
    int epfd;
    struct io *io; /* indexed by fd */
    int nio;
    struct ev_timer *timers; /* sorted by due time */
    bool stop;
    int sigfd;
    sigset_t sigs;
    struct {
        int signo;
        ev_signal_cb cb;
        void *arg;
    } sig[MAX_SIGNALS];
    int nsig;
};

struct ev *
ev_new(void)
{
    struct ev *ev = calloc(1, sizeof *ev);

    if (!ev) {
        return NULL;
    }
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev->sigfd = -1;
    sigemptyset(&ev->sigs);
    if (ev->epfd < 0) {
        free(ev);
        return NULL;
    }
    return ev;
}

void
ev_free(struct ev *ev)
{
    if (!ev) {
        return;
    }
    while (ev->timers) {
        struct ev_timer *t = ev->timers;

        ev->timers = t->next;
        free(t);
    }
    if (ev->sigfd >= 0) {
        close(ev->sigfd);
    }
    close(ev->epfd);
    free(ev->io);
    free(ev);
}

static uint32_t
to_epoll(uint32_t events)
{
    return ((events & EV_READ) ? EPOLLIN : 0) | ((events & EV_WRITE) ? EPOLLOUT : 0) |
           ((events & EV_HUP) ? EPOLLRDHUP : 0);
}

int
ev_add(struct ev *ev, int fd, uint32_t events, ev_fd_cb cb, void *arg)
{
    struct epoll_event ee = {.events = to_epoll(events), .data.fd = fd};

    if (fd >= ev->nio) {
        int n = fd + 64;
        struct io *nio = realloc(ev->io, (size_t)n * sizeof *nio);

        if (!nio) {
            return -ENOMEM;
        }
        memset(nio + ev->nio, 0, (size_t)(n - ev->nio) * sizeof *nio);
        ev->io = nio;
        ev->nio = n;
    }
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
        return -errno;
    }
    ev->io[fd] = (struct io){cb, arg, events, true};
    return 0;
}

int
ev_mod(struct ev *ev, int fd, uint32_t events)
{
    struct epoll_event ee = {.events = to_epoll(events), .data.fd = fd};

    if (fd >= ev->nio || !ev->io[fd].used) {
        return -EINVAL;
    }
    if (ev->io[fd].events == events) {
        return 0;
    }
    if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &ee) < 0) {
        return -errno;
    }
    ev->io[fd].events = events;
    return 0;
}

void
ev_del(struct ev *ev, int fd)
{
    if (fd < 0 || fd >= ev->nio || !ev->io[fd].used) {
        return;
    }
    epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    ev->io[fd].used = false;
}

struct ev_timer *
ev_timer(struct ev *ev, uint64_t ms, ev_timer_cb cb, void *arg)
{
    struct ev_timer *t = calloc(1, sizeof *t), **pp;

    if (!t) {
        return NULL;
    }
    t->due = now_ms() + ms;
    t->cb = cb;
    t->arg = arg;
    for (pp = &ev->timers; *pp && (*pp)->due <= t->due; pp = &(*pp)->next) {
    }
    t->next = *pp;
    *pp = t;
    return t;
}

void
ev_timer_cancel(struct ev *ev, struct ev_timer *t)
{
    for (struct ev_timer **pp = &ev->timers; t && *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            free(t);
            return;
        }
    }
}

static void
on_signal(void *arg, int fd, uint32_t events)
{
    struct ev *ev = arg;
    struct signalfd_siginfo si;

    (void)events;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        for (int i = 0; i < ev->nsig; i++) {
            if (ev->sig[i].signo == (int)si.ssi_signo) {
                ev->sig[i].cb(ev->sig[i].arg, (int)si.ssi_signo);
            }
        }
    }
}

int
ev_signal(struct ev *ev, int signo, ev_signal_cb cb, void *arg)
{
    int fd;

    if (ev->nsig == MAX_SIGNALS) {
        return -ENOSPC;
    }
    sigaddset(&ev->sigs, signo);
    if (sigprocmask(SIG_BLOCK, &ev->sigs, NULL) < 0) {
        return -errno;
    }
    fd = signalfd(ev->sigfd, &ev->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (ev->sigfd < 0) {
        int r = ev_add(ev, fd, EV_READ, on_signal, ev);

        if (r) {
            close(fd);
            return r;
        }
        ev->sigfd = fd;
    }
    ev->sig[ev->nsig].signo = signo;
    ev->sig[ev->nsig].cb = cb;
    ev->sig[ev->nsig].arg = arg;
    ev->nsig++;
    return 0;
}

void
ev_stop(struct ev *ev)
{
    ev->stop = true;
}

int
ev_run(struct ev *ev)
{
    struct epoll_event evs[64];

    ev->stop = false;
    while (!ev->stop) {
        int timeout = -1, n;
        uint64_t now;

        if (ev->timers) {
            now = now_ms();
            timeout = ev->timers->due <= now ? 0 : (int)(ev->timers->due - now);
        }
        n = epoll_wait(ev->epfd, evs, 64, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        for (int i = 0; i < n && !ev->stop; i++) {
            int fd = evs[i].data.fd;
            uint32_t e = 0;

            if (fd >= ev->nio || !ev->io[fd].used) {
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                e |= EV_READ;
            }
            if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
                e |= EV_WRITE;
            }
            if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                e |= EV_HUP;
            }
            ev->io[fd].cb(ev->io[fd].arg, fd, e);
        }
        now = now_ms();
        while (ev->timers && ev->timers->due <= now && !ev->stop) {
            struct ev_timer *t = ev->timers;

            ev->timers = t->next;
            t->cb(t->arg);
            free(t);
        }
    }
    return 0;
}
