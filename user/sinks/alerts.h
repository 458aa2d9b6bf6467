/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One alert record to every sink: the events log (written by the caller's
 * thread, flushed once per tick) and the HTTP sinks (delivery.h, which
 * never block). Also counts alerts raised per kind for the textfile.
 */
#ifndef ABUSEWATCH_ALERTS_H
#define ABUSEWATCH_ALERTS_H

#include <stdint.h>

#include "alert.h"
#include "config.h"

struct alerts;

/* Opens the sinks of @config. NULL (errno set) only when out of memory: a sink that fails is logged
 * and retried. */
struct alerts *alerts_new(const struct config *config);

/* SIGHUP: sinks follow the new configuration. 0 or -errno (then nothing changed). */
int alerts_reconfigure(struct alerts *alerts, const struct config *config);

/* The host name records carry: agent.hostname, else gethostname(). */
const char *alerts_host(const struct alerts *alerts);

/* Sends @alert (its host is filled in here) to every sink. */
void alerts_emit(struct alerts *alerts, struct alert *alert);

/*
 * The alert_fn every rule hands its alerts to (@ctx: struct alerts): stamps
 * time (when 0) and started_at (from since) on the wall clock, emits it, and
 * flushes at once an unauthorized software or network abuse alert, which are
 * discrete events; overuse alerts are flushed with the tick.
 */
void alerts_publish(struct alert *alert, void *ctx);

/* End of a tick: the events log is written and synced. */
void alerts_flush(struct alerts *alerts);

/*
 * Firing alerts raised since start, per kind, and records dropped since
 * start, per sink (enum alert_sink): a queue or buffer full while its sink
 * was down.
 */
void alerts_totals(const struct alerts *alerts, uint64_t totals[ALERT_KIND_COUNT],
		   uint64_t dropped[ALERT_SINK_COUNT]);

/* Flushes, gives the HTTP sinks a short grace to deliver, closes. NULL is fine. */
void alerts_free(struct alerts *alerts);

#endif
