/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's event loop: epoll for file descriptors, a sorted list of timers, and signals
 * through signalfd. chorusd is single-threaded: every request, commit stage and timer runs to
 * completion on this loop, so the datastores need no locks and fork() (snapshots) is safe.
 */
#ifndef CHORUS_EV_H
#define CHORUS_EV_H

#include <stdbool.h>
#include <stdint.h>

#define EV_READ 0x1
#define EV_WRITE 0x2
#define EV_HUP 0x4 /* the peer closed its side (reported even without EV_READ) */

struct ev;
struct ev_timer;

typedef void (*ev_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*ev_timer_cb)(void *arg);
typedef void (*ev_signal_cb)(void *arg, int signo);

struct ev *ev_new(void);
void ev_free(struct ev *ev);

/* Watch @p fd for @p events (EV_READ | EV_WRITE). Returns 0 or -errno. */
int ev_add(struct ev *ev, int fd, uint32_t events, ev_fd_cb cb, void *arg);
int ev_mod(struct ev *ev, int fd, uint32_t events);
void ev_del(struct ev *ev, int fd);

/* Call @p cb once after @p ms milliseconds (0: at the next turn of the loop). */
struct ev_timer *ev_timer(struct ev *ev, uint64_t ms, ev_timer_cb cb, void *arg);
/* Cancel a timer that has not fired. NULL-safe. */
void ev_timer_cancel(struct ev *ev, struct ev_timer *t);

/* Deliver @p signo through the loop (it is blocked for normal delivery). Returns 0 or -errno. */
int ev_signal(struct ev *ev, int signo, ev_signal_cb cb, void *arg);

/* Run until ev_stop(). Returns 0, or -errno if epoll fails. */
int ev_run(struct ev *ev);
void ev_stop(struct ev *ev);

#endif
