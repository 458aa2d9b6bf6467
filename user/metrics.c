// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "alert.h"
#include "metrics.h"
#include "textfile.h"

/* One per-tenant counter: a field of the tenant's totals, scaled to base units. */
struct tenant_counter {
	const char *name;
	const char *help;
	size_t offset; /* of a uint64_t in struct usage_sample */
	double scale;
};

#define COUNTER(metric, field, scale, help)                                                        \
	{                                                                                          \
		metric, help, offsetof(struct usage_sample, field), scale                          \
	}

static const struct tenant_counter tenant_counters[] = {
    COUNTER("abusewatch_tenant_cpu_seconds_total", cpu_ns, 1e-9,
	    "CPU time used by the tenant's tasks."),
    COUNTER("abusewatch_tenant_disk_read_bytes_total", disk_read_bytes, 1,
	    "Bytes read from block devices by the tenant."),
    COUNTER("abusewatch_tenant_disk_written_bytes_total", disk_write_bytes, 1,
	    "Bytes written to block devices by the tenant."),
    COUNTER("abusewatch_tenant_network_receive_bytes_total", rx_bytes, 1,
	    "IP bytes received by the tenant's sockets."),
    COUNTER("abusewatch_tenant_network_transmit_bytes_total", tx_bytes, 1,
	    "IP bytes sent by the tenant's sockets."),
    COUNTER("abusewatch_tenant_network_receive_packets_total", rx_packets, 1,
	    "IP packets received by the tenant's sockets."),
    COUNTER("abusewatch_tenant_network_transmit_packets_total", tx_packets, 1,
	    "IP packets sent by the tenant's sockets."),
    COUNTER("abusewatch_tenant_forks_total", forks, 1, "Processes created by the tenant."),
    COUNTER("abusewatch_tenant_execs_total", execs, 1, "Programs executed by the tenant."),
};

static double counter_value(const struct tenant_counter *counter, const struct tenant *tenant)
{
	const char *totals = (const char *)&tenant->total;
	uint64_t value;

	memcpy(&value, totals + counter->offset, sizeof(value));
	return value * counter->scale;
}

static void write_memory(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	size_t t;

	textfile_family(file, "abusewatch_tenant_memory_bytes", "gauge",
			"Working set of the tenant's cgroups (memory controller).");
	for (t = 0; t < snapshot->tenant_count; t++) {
		if (!snapshot->tenants[t]->has_memory)
			continue;
		labels[0].value = snapshot->tenants[t]->name;
		labels[1].value = snapshot->tenants[t]->plan;
		textfile_sample(file, "abusewatch_tenant_memory_bytes", labels, 2,
				snapshot->tenants[t]->memory_bytes);
	}
}

/* What the three limit families show for one tenant and resource, if anything. */
static double limit_family_value(int family, const struct tenant *tenant, double limit,
				 enum resource resource, bool *has)
{
	*has = true;
	switch (family) {
	case 0:
		return limit;
	case 1:
		*has = tenant->has_usage[resource];
		return tenant->usage[resource] / limit;
	default:
		return tenant->firing[resource] ? 1 : 0;
	}
}

/* _limit, _usage_ratio and _over_limit, for each resource the tenant's plan limits. */
static void write_limits(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	static const struct {
		const char *name;
		const char *help;
	} families[] = {
	    {"abusewatch_tenant_limit",
	     "The plan's limit in base units: cores, bytes, tasks, bytes/s, per second."},
	    {"abusewatch_tenant_usage_ratio", "Usage averaged over the plan's window / limit."},
	    {"abusewatch_tenant_over_limit", "1 while an overuse alert fires."},
	};
	struct label labels[3] = {{"tenant", NULL}, {"plan", NULL}, {"resource", NULL}};
	const struct plan *plan;
	size_t family, t;
	double value;
	int resource;
	bool has;

	for (family = 0; family < sizeof(families) / sizeof(families[0]); family++) {
		textfile_family(file, families[family].name, "gauge", families[family].help);
		for (t = 0; t < snapshot->tenant_count; t++) {
			const struct tenant *tenant = snapshot->tenants[t];

			plan = config_find_plan(snapshot->config, tenant->plan);
			if (!plan)
				continue;
			labels[0].value = tenant->name;
			labels[1].value = tenant->plan;
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				if (!plan->has_limit[resource])
					continue;
				value = limit_family_value(family, tenant, plan->limit[resource],
							   resource, &has);
				if (!has)
					continue;
				labels[2].value = resource_name(resource);
				textfile_sample(file, families[family].name, labels, 3, value);
			}
		}
	}
}

int metrics_write(const char *path, const struct metrics_snapshot *snapshot)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	struct label version = {"version", snapshot->version};
	struct textfile *file;
	size_t m, t;
	int kind;

	file = textfile_open(path);
	if (!file)
		return -errno;
	for (m = 0; m < sizeof(tenant_counters) / sizeof(tenant_counters[0]); m++) {
		const struct tenant_counter *counter = &tenant_counters[m];

		textfile_family(file, counter->name, "counter", counter->help);
		for (t = 0; t < snapshot->tenant_count; t++) {
			labels[0].value = snapshot->tenants[t]->name;
			labels[1].value = snapshot->tenants[t]->plan;
			textfile_sample(file, counter->name, labels, 2,
					counter_value(counter, snapshot->tenants[t]));
		}
	}
	textfile_family(file, "abusewatch_tenant_processes", "gauge", "Live tasks of the tenant.");
	for (t = 0; t < snapshot->tenant_count; t++) {
		labels[0].value = snapshot->tenants[t]->name;
		labels[1].value = snapshot->tenants[t]->plan;
		/* Tasks that predate a cgroup move can be uncharged twice; never show < 0. */
		textfile_sample(file, "abusewatch_tenant_processes", labels, 2,
				snapshot->tenants[t]->tasks > 0 ? snapshot->tenants[t]->tasks : 0);
	}
	write_memory(file, snapshot);
	write_limits(file, snapshot);
	textfile_family(file, "abusewatch_alerts_total", "counter", "Alerts raised, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label kind_label = {"kind", alert_kind_name(kind)};

		textfile_sample(file, "abusewatch_alerts_total", &kind_label, 1,
				snapshot->alerts_total[kind]);
	}
	textfile_family(file, "abusewatch_events_lost_total", "counter",
			"Kernel events not counted: a map or ring buffer was full.");
	textfile_sample(file, "abusewatch_events_lost_total", NULL, 0, snapshot->events_lost);
	textfile_family(file, "abusewatch_build_info", "gauge", "The running abusewatch version.");
	textfile_sample(file, "abusewatch_build_info", &version, 1, 1);
	return textfile_commit(file);
}
