/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The node_exporter textfile: every metric family the agent has (see
 * docs/metrics.md), written from the tick's rows, which it only reads.
 * Lines are kept from one write to the next and only what changed is
 * formatted again; a file in which nothing would change is not rewritten
 * but touched (its mtime), so it still shows a live agent.
 */
#ifndef ABUSEWATCH_METRICS_H
#define ABUSEWATCH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "tenant_row.h"

struct relative_config;

struct metrics_snapshot {
	const struct tenant_row *rows;	/* in name order */
	size_t row_count;
	/* _over_limit is shown where the relative rule compares a resource. */
	const struct relative_config *relative;
	uint64_t alerts_total[ALERT_KIND_COUNT];
	/* Evidence of an alert already firing, not alerted again (flood control). */
	uint64_t alerts_suppressed[ALERT_KIND_COUNT];
	/* Records a sink never got (a full queue or buffer), by enum alert_sink. */
	uint64_t alerts_dropped[ALERT_SINK_COUNT];
	uint64_t events_lost;
	const char *version;
	/*
	 * Pacing: monotonic seconds of this write; 0, or @final, rewrites a
	 * changed file at once. Otherwise a file of B bytes is rewritten at
	 * most every B / METRICS_REWRITE_BYTES_PER_S seconds: writes in between
	 * keep its lines up to date and touch it.
	 */
	double now;
	bool final;
};

/*
 * A big file's rewrites are spaced so that they cost about a thousandth of
 * a core: 1 MiB a second, every interval up to some 700 tenants, every 14 s
 * or so at 10,000 (a 14 MB file).
 */
#define METRICS_REWRITE_BYTES_PER_S (1024.0 * 1024.0)

/*
 * Writes the whole file atomically, or when it would be the same as the one
 * last written there, only sets its mtime to now; so it does while a
 * changed file waits for its pace. 0 or -errno.
 */
int metrics_write(const char *path, const struct metrics_snapshot *snapshot);

/* Frees the lines kept between writes; the next write is a whole one. */
void metrics_forget(void);

/* How many tenants' lines are kept: those of the last write's rows, no more. */
size_t metrics_cached_tenants(void);

#endif
