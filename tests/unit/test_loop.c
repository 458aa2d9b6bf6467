// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/lib/loop.c: descriptors, the timer, the wake-up, signals, deadlines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

struct counts {
	struct loop *loop;
	int fd;
	int readable;
	int ticks;
	int wakes;
	int hangups;
	int stops;
};

static void on_signal(int signo, void *ctx)
{
	struct counts *counts = ctx;

	if (signo == SIGHUP) {
		counts->hangups++;
		return;
	}
	counts->stops++;
	loop_stop(counts->loop);
}

static void on_readable(void *ctx)
{
	struct counts *counts = ctx;
	char byte;

	if (read(counts->fd, &byte, 1) == 1)
		counts->readable++;
}

static void on_tick(void *ctx)
{
	struct counts *counts = ctx;

	/* The signals arrive through the loop, never by a handler. */
	if (++counts->ticks == 2)
		raise(SIGHUP);
	if (counts->ticks == 4)
		raise(SIGTERM);
}

static void on_wake(void *ctx)
{
	struct counts *counts = ctx;

	counts->wakes++;
}

static void test_loop_runs_until_stopped(void **state)
{
	struct counts counts = {};
	int pipe_fds[2];
	double started;

	assert_int_equal(pipe(pipe_fds), 0);
	counts.fd = pipe_fds[0];
	counts.loop = loop_new(on_signal, &counts);
	assert_non_null(counts.loop);
	assert_int_equal(loop_watch(counts.loop, pipe_fds[0], on_readable, &counts), 0);
	assert_int_equal(loop_every(counts.loop, 20, on_tick, &counts), 0);
	loop_wake_at(counts.loop, clock_monotonic() + 0.01, on_wake, &counts);
	assert_int_equal(write(pipe_fds[1], "xy", 2), 2);
	started = clock_monotonic();
	/* A deadline far enough that only SIGTERM ends this run. */
	assert_int_equal(loop_run(counts.loop, started + 10), 0);
	assert_true(clock_monotonic() - started < 5);
	assert_int_equal(counts.readable, 2);
	assert_int_equal(counts.ticks, 4);
	assert_int_equal(counts.wakes, 1);
	assert_int_equal(counts.hangups, 1);
	assert_int_equal(counts.stops, 1);

	/* A deadline ends it too, and the wake-up is one-shot. */
	started = clock_monotonic();
	assert_int_equal(loop_every(counts.loop, 1000, on_tick, &counts), 0);
	assert_int_equal(loop_run(counts.loop, started + 0.1), 0);
	assert_true(clock_monotonic() - started >= 0.1);
	assert_int_equal(counts.wakes, 1);
	loop_free(counts.loop);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_runs_until_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
