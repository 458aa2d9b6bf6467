/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two clocks the agent reads, as seconds in a double: the monotonic
 * clock for every deadline, window and interval (a clock step must not
 * stall or rush them), and the wall clock only for what is shown to people
 * (record times, startsAt) and kept across a restart.
 */
#ifndef ABUSEWATCH_CLOCK_H
#define ABUSEWATCH_CLOCK_H

/* CLOCK_MONOTONIC: seconds since some fixed point (boot). */
double clock_monotonic(void);

/* CLOCK_REALTIME: seconds since the epoch. */
double clock_wall(void);

#endif
