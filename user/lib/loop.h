/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's event loop: epoll over descriptors, one periodic timer, one
 * one-shot wake-up, and SIGTERM, SIGINT and SIGHUP through a signalfd, so
 * that nothing runs in a signal handler. Single-threaded: callbacks run on
 * the thread that calls loop_run().
 */
#ifndef ABUSEWATCH_LOOP_H
#define ABUSEWATCH_LOOP_H

#include <stdint.h>

struct loop;

typedef void (*loop_fn)(void *ctx);
/* SIGHUP, SIGTERM or SIGINT arrived. */
typedef void (*loop_signal_fn)(int signo, void *ctx);

/*
 * Blocks the three signals in the calling thread, so call it before any
 * other thread starts: threads inherit the mask, and the signals reach
 * only the loop. NULL (errno set) on failure.
 */
struct loop *loop_new(loop_signal_fn on_signal, void *ctx);
void loop_free(struct loop *loop);

/* @fn runs whenever @fd is readable. 0 or -errno. */
int loop_watch(struct loop *loop, int fd, loop_fn fn, void *ctx);
/* @fn runs every @interval_ms from now on (again: re-armed). 0 or -errno. */
int loop_every(struct loop *loop, uint64_t interval_ms, loop_fn fn, void *ctx);
/* @fn runs once at @when (monotonic seconds), unless replaced; 0: none. */
void loop_wake_at(struct loop *loop, double when, loop_fn fn, void *ctx);
/* loop_run() returns once the callback running now is done. */
void loop_stop(struct loop *loop);

/*
 * Runs until loop_stop() or @deadline (monotonic seconds; 0: none). 0 or
 * -errno when waiting failed.
 */
int loop_run(struct loop *loop, double deadline);

#endif
