/* SPDX-License-Identifier: GPL-2.0 */
/* The node_exporter textfile: every metric family of docs/metrics.md. */
#ifndef ABUSEWATCH_METRICS_H
#define ABUSEWATCH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "tenants.h"

struct metrics_snapshot {
	const struct config *config; /* the plans, for limits */
	struct tenant **tenants;
	size_t tenant_count;
	uint64_t alerts_total[ALERT_KIND_COUNT];
	/* Evidence of an alert already firing, not alerted again (flood control). */
	uint64_t alerts_suppressed[ALERT_KIND_COUNT];
	uint64_t events_lost;
	const char *version;
};

/* Writes the whole file atomically. 0 or -errno. */
int metrics_write(const char *path, const struct metrics_snapshot *snapshot);

#endif
