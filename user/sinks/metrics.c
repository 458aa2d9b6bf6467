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
    COUNTER("abusewatch_tenant_connections_total", connects, 1,
	    "Outbound connect() calls (TCP and UDP, IPv4 and IPv6) of the tenant's tasks."),
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

/* One per-tenant gauge: false when the tenant has no value for it now. */
struct tenant_gauge {
	const char *name;
	const char *help;
	bool (*value)(const struct tenant *tenant, double *value);
};

static bool processes_value(const struct tenant *tenant, double *value)
{
	/* Tasks that predate a cgroup move can be uncharged twice; never show < 0. */
	*value = tenant->tasks > 0 ? tenant->tasks : 0;
	return true;
}

static bool memory_value(const struct tenant *tenant, double *value)
{
	*value = tenant->memory_bytes;
	return tenant->has_memory;
}

static bool storage_value(const struct tenant *tenant, double *value)
{
	*value = tenant->storage_bytes;
	return tenant->has_storage;
}

static const struct tenant_gauge tenant_gauges[] = {
    {"abusewatch_tenant_processes", "Live tasks of the tenant.", processes_value},
    {"abusewatch_tenant_memory_bytes", "Working set of the tenant's cgroups (memory controller).",
     memory_value},
    {"abusewatch_tenant_storage_bytes",
     "Bytes allocated in the tenant's storage paths, as of the last complete pass.",
     storage_value},
};

static void write_gauges(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	const struct tenant_gauge *gauge;
	double value;
	size_t g, t;

	for (g = 0; g < sizeof(tenant_gauges) / sizeof(tenant_gauges[0]); g++) {
		gauge = &tenant_gauges[g];
		textfile_family(file, gauge->name, "gauge", gauge->help);
		for (t = 0; t < snapshot->tenant_count; t++) {
			if (!gauge->value(snapshot->tenants[t], &value))
				continue;
			labels[0].value = snapshot->tenants[t]->name;
			labels[1].value = snapshot->tenants[t]->plan;
			textfile_sample(file, gauge->name, labels, 2, value);
		}
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
static bool limit_family_value(enum limit_family family, const struct tenant *tenant,
			       const struct plan *plan, const struct relative_config *relative,
			       enum resource resource, double *value)
{
	bool limited = plan && plan->has_limit[resource];

	switch (family) {
	case FAMILY_LIMIT:
		*value = limited ? plan->limit[resource] : 0;
		return limited;
	case FAMILY_USAGE_RATIO:
		*value = limited ? tenant->usage[resource] / plan->limit[resource] : 0;
		return limited && tenant->has_usage[resource];
	default:
		*value = tenant->firing[resource] || tenant->relative_firing[resource];
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
	const struct plan *plan;
	enum limit_family family;
	size_t t;
	double value;
	int resource;

	for (family = 0; family < FAMILY_COUNT; family++) {
		textfile_family(file, families[family].name, "gauge", families[family].help);
		for (t = 0; t < snapshot->tenant_count; t++) {
			const struct tenant *tenant = snapshot->tenants[t];

			plan = config_find_plan(snapshot->config, tenant->plan);
			labels[0].value = tenant->name;
			labels[1].value = tenant->plan;
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				if (!limit_family_value(family, tenant, plan,
							&snapshot->config->relative, resource,
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
	write_gauges(file, snapshot);
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
