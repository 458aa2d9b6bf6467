// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define LOOP_MAX_WATCHES 8

struct watch {
	int fd;
	loop_fn fn;
	void *ctx;
};

struct loop {
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	struct watch watches[LOOP_MAX_WATCHES];
	size_t watch_count;
	loop_signal_fn on_signal;
	void *signal_ctx;
	struct watch timer;		/* fd: timer_fd */
	double wake_at;
	loop_fn wake_fn;
	void *wake_ctx;
	bool stopping;
};

static void loop_signals(sigset_t *signals)
{
	sigemptyset(signals);
	sigaddset(signals, SIGTERM);
	sigaddset(signals, SIGINT);
	sigaddset(signals, SIGHUP);
}

static void read_signals(void *ctx)
{
	struct loop *loop = ctx;
	struct signalfd_siginfo info;

	while (read(loop->signal_fd, &info, sizeof(info)) == sizeof(info))
		loop->on_signal(info.ssi_signo, loop->signal_ctx);
}

static void timer_expired(void *ctx)
{
	struct loop *loop = ctx;
	uint64_t expirations;

	if (read(loop->timer_fd, &expirations, sizeof(expirations)) > 0 && loop->timer.fn)
		loop->timer.fn(loop->timer.ctx);
}

struct loop *loop_new(loop_signal_fn on_signal, void *ctx)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	sigset_t signals;
	int err;

	if (!loop)
		return NULL;
	loop->epoll_fd = loop->signal_fd = loop->timer_fd = -1;
	loop->on_signal = on_signal;
	loop->signal_ctx = ctx;
	loop_signals(&signals);
	err = pthread_sigmask(SIG_BLOCK, &signals, NULL);
	if (err)
		goto fail;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	loop->signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	loop->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (loop->epoll_fd < 0 || loop->signal_fd < 0 || loop->timer_fd < 0) {
		err = errno;
		goto fail;
	}
	err = -loop_watch(loop, loop->signal_fd, read_signals, loop);
	if (!err)
		err = -loop_watch(loop, loop->timer_fd, timer_expired, loop);
	if (err)
		goto fail;
	return loop;
fail:
	loop_free(loop);
	errno = err;
	return NULL;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	if (loop->timer_fd >= 0)
		close(loop->timer_fd);
	free(loop);
}

int loop_watch(struct loop *loop, int fd, loop_fn fn, void *ctx)
{
	struct epoll_event event = { .events = EPOLLIN };

	if (loop->watch_count == LOOP_MAX_WATCHES)
		return -ENOSPC;
	/* The index, not the fd: the callback is found without a search. */
	event.data.u64 = loop->watch_count;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &event))
		return -errno;
	loop->watches[loop->watch_count++] = (struct watch){ fd, fn, ctx };
	return 0;
}

int loop_every(struct loop *loop, uint64_t interval_ms, loop_fn fn, void *ctx)
{
	struct timespec period = { interval_ms / 1000, (interval_ms % 1000) * 1000000 };
	struct itimerspec spec = { .it_interval = period, .it_value = period };

	loop->timer = (struct watch){ loop->timer_fd, fn, ctx };
	return timerfd_settime(loop->timer_fd, 0, &spec, NULL) ? -errno : 0;
}

void loop_wake_at(struct loop *loop, double when, loop_fn fn, void *ctx)
{
	loop->wake_at = when;
	loop->wake_fn = fn;
	loop->wake_ctx = ctx;
}

void loop_stop(struct loop *loop)
{
	loop->stopping = true;
}

/* Milliseconds epoll may sleep: until @deadline or the wake-up (0: none), -1 for ever. */
static int sleep_ms(const struct loop *loop, double deadline)
{
	double now = clock_monotonic(), until = deadline;

	if (loop->wake_at && (!until || loop->wake_at < until))
		until = loop->wake_at;
	if (!until)
		return -1;
	return until > now ? (int)((until - now) * 1000) + 1 : 0;
}

int loop_run(struct loop *loop, double deadline)
{
	struct epoll_event events[LOOP_MAX_WATCHES];
	loop_fn wake_fn;
	int n, i;

	loop->stopping = false;
	while (!loop->stopping && !(deadline && clock_monotonic() >= deadline)) {
		n = epoll_wait(loop->epoll_fd, events, LOOP_MAX_WATCHES, sleep_ms(loop, deadline));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (loop->wake_at && clock_monotonic() >= loop->wake_at) {
			/* Cleared first: the callback may ask for the next one. */
			wake_fn = loop->wake_fn;
			loop->wake_at = 0;
			wake_fn(loop->wake_ctx);
		}
		for (i = 0; i < n; i++) {
			const struct watch *watch = &loop->watches[events[i].data.u64];

			watch->fn(watch->ctx);
		}
	}
	return 0;
}
