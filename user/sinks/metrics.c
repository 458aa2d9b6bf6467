// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "metrics.h"
#include "textfile.h"

/*
 * Each resource's value under its own family (resource.h), counters first
 * then gauges; a gauge only where its module measured it this tick.
 */
static void write_values(struct textfile *file, const struct metrics_snapshot *snapshot,
			 enum resource_kind kind)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	int resource;
	size_t t;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const struct resource_info *info = resource_info(resource);

		if (info->kind != kind)
			continue;
		textfile_family(file, info->metric, kind == RESOURCE_COUNTER ? "counter" : "gauge",
				info->help);
		for (t = 0; t < snapshot->row_count; t++) {
			const struct tenant_row *row = &snapshot->rows[t];

			if (!row->has_value[resource])
				continue;
			labels[0].value = row->tenant;
			labels[1].value = row->plan;
			textfile_sample(file, info->metric, labels, 2, row->value[resource]);
		}
	}
}

/* Execs are counted and shown, but no plan limits them: not a resource. */
static void write_execs(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	size_t t;

	textfile_family(file, "abusewatch_tenant_execs_total", "counter",
			"Programs executed by the tenant.");
	for (t = 0; t < snapshot->row_count; t++) {
		labels[0].value = snapshot->rows[t].tenant;
		labels[1].value = snapshot->rows[t].plan;
		textfile_sample(file, "abusewatch_tenant_execs_total", labels, 2,
				snapshot->rows[t].execs);
	}
}

enum limit_family {
	FAMILY_LIMIT,
	FAMILY_USAGE_RATIO,
	FAMILY_OVER_LIMIT,
	FAMILY_COUNT,
};

/*
 * What a limit family shows for one tenant and resource, if anything:
 * _limit and _usage_ratio where the plan limits the resource, _over_limit
 * also where the relative rule compares it (either rule's alert sets it).
 */
static bool limit_family_value(enum limit_family family, const struct tenant_row *row,
			       const struct relative_config *relative, enum resource resource,
			       double *value)
{
	const struct plan *plan = row->limits;
	bool limited = plan && plan->has_limit[resource];

	switch (family) {
	case FAMILY_LIMIT:
		*value = limited ? plan->limit[resource] : 0;
		return limited;
	case FAMILY_USAGE_RATIO:
		*value = limited ? row->usage[resource] / plan->limit[resource] : 0;
		return limited && row->has_usage[resource];
	default:
		*value = row->firing[resource] || row->relative_firing[resource];
		return limited || relative->has_floor[resource] || *value;
	}
}

static void write_limits(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	static const struct {
		const char *name;
		const char *help;
	} families[FAMILY_COUNT] = {
	    [FAMILY_LIMIT] = {"abusewatch_tenant_limit",
			      "The plan's limit in base units: cores, bytes, tasks, bytes/s, per "
			      "second."},
	    [FAMILY_USAGE_RATIO] = {"abusewatch_tenant_usage_ratio",
				    "Usage averaged over the plan's window / limit."},
	    [FAMILY_OVER_LIMIT] = {"abusewatch_tenant_over_limit",
				   "1 while an overuse alert (plan or relative) fires."},
	};
	struct label labels[3] = {{"tenant", NULL}, {"plan", NULL}, {"resource", NULL}};
	enum limit_family family;
	size_t t;
	double value;
	int resource;

	for (family = 0; family < FAMILY_COUNT; family++) {
		textfile_family(file, families[family].name, "gauge", families[family].help);
		for (t = 0; t < snapshot->row_count; t++) {
			const struct tenant_row *row = &snapshot->rows[t];

			labels[0].value = row->tenant;
			labels[1].value = row->plan;
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				if (!limit_family_value(family, row, snapshot->relative, resource,
							&value))
					continue;
				labels[2].value = resource_name(resource);
				textfile_sample(file, families[family].name, labels, 3, value);
			}
		}
	}
}

int metrics_write(const char *path, const struct metrics_snapshot *snapshot)
{
	struct label version = {"version", snapshot->version};
	struct textfile *file;
	int kind;

	file = textfile_open(path);
	if (!file)
		return -errno;
	write_values(file, snapshot, RESOURCE_COUNTER);
	write_execs(file, snapshot);
	write_values(file, snapshot, RESOURCE_GAUGE);
	write_limits(file, snapshot);
	textfile_family(file, "abusewatch_alerts_total", "counter", "Alerts raised, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label kind_label = {"kind", alert_kind_name(kind)};

		textfile_sample(file, "abusewatch_alerts_total", &kind_label, 1,
				snapshot->alerts_total[kind]);
	}
	textfile_family(file, "abusewatch_alerts_suppressed_total", "counter",
			"Evidence for an alert already firing, not alerted again, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label kind_label = {"kind", alert_kind_name(kind)};

		textfile_sample(file, "abusewatch_alerts_suppressed_total", &kind_label, 1,
				snapshot->alerts_suppressed[kind]);
	}
	textfile_family(file, "abusewatch_events_lost_total", "counter",
			"Kernel events not counted: a map or ring buffer was full.");
	textfile_sample(file, "abusewatch_events_lost_total", NULL, 0, snapshot->events_lost);
	textfile_family(file, "abusewatch_build_info", "gauge", "The running abusewatch version.");
	textfile_sample(file, "abusewatch_build_info", &version, 1, 1);
	return textfile_commit(file);
}
