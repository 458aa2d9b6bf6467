// SPDX-License-Identifier: GPL-2.0
#include <errno.h>

#include "metrics.h"
#include "textfile.h"

/* One per-tenant counter or gauge: how to read it from a tenant. */
struct tenant_metric {
	const char *name;
	const char *type;
	const char *help;
	double (*value)(const struct tenant *tenant);
};

static double cpu_seconds(const struct tenant *t)
{
	return t->total.cpu_ns / 1e9;
}

static double disk_read(const struct tenant *t)
{
	return t->total.disk_read_bytes;
}

static double disk_written(const struct tenant *t)
{
	return t->total.disk_write_bytes;
}

static double rx_bytes(const struct tenant *t)
{
	return t->total.rx_bytes;
}

static double tx_bytes(const struct tenant *t)
{
	return t->total.tx_bytes;
}

static double rx_packets(const struct tenant *t)
{
	return t->total.rx_packets;
}

static double tx_packets(const struct tenant *t)
{
	return t->total.tx_packets;
}

static double forks(const struct tenant *t)
{
	return t->total.forks;
}

static double execs(const struct tenant *t)
{
	return t->total.execs;
}

static double processes(const struct tenant *t)
{
	/* Tasks that predate a cgroup move can be uncharged twice; never show < 0. */
	return t->tasks > 0 ? t->tasks : 0;
}

static const struct tenant_metric tenant_metrics[] = {
	{ "abusewatch_tenant_cpu_seconds_total", "counter", "CPU time used by the tenant's tasks.",
	  cpu_seconds },
	{ "abusewatch_tenant_disk_read_bytes_total", "counter",
	  "Bytes read from block devices by the tenant.", disk_read },
	{ "abusewatch_tenant_disk_written_bytes_total", "counter",
	  "Bytes written to block devices by the tenant.", disk_written },
	{ "abusewatch_tenant_network_receive_bytes_total", "counter",
	  "IP bytes received by the tenant's sockets.", rx_bytes },
	{ "abusewatch_tenant_network_transmit_bytes_total", "counter",
	  "IP bytes sent by the tenant's sockets.", tx_bytes },
	{ "abusewatch_tenant_network_receive_packets_total", "counter",
	  "IP packets received by the tenant's sockets.", rx_packets },
	{ "abusewatch_tenant_network_transmit_packets_total", "counter",
	  "IP packets sent by the tenant's sockets.", tx_packets },
	{ "abusewatch_tenant_forks_total", "counter", "Processes created by the tenant.", forks },
	{ "abusewatch_tenant_execs_total", "counter", "Programs executed by the tenant.", execs },
	{ "abusewatch_tenant_processes", "gauge", "Live tasks of the tenant.", processes },
};

int metrics_write(const char *path, const struct metrics_snapshot *snapshot)
{
	struct label labels[2] = { { "tenant", NULL }, { "plan", NULL } };
	struct label version = { "version", snapshot->version };
	struct textfile *file;
	size_t m, t;

	file = textfile_open(path);
	if (!file)
		return -errno;
	for (m = 0; m < sizeof(tenant_metrics) / sizeof(tenant_metrics[0]); m++) {
		const struct tenant_metric *metric = &tenant_metrics[m];

		textfile_family(file, metric->name, metric->type, metric->help);
		for (t = 0; t < snapshot->tenant_count; t++) {
			labels[0].value = snapshot->tenants[t]->name;
			labels[1].value = snapshot->tenants[t]->plan;
			textfile_sample(file, metric->name, labels, 2,
					metric->value(snapshot->tenants[t]));
		}
	}
	textfile_family(file, "abusewatch_events_lost_total", "counter",
			"Kernel events not counted: a map or ring buffer was full.");
	textfile_sample(file, "abusewatch_events_lost_total", NULL, 0, snapshot->events_lost);
	textfile_family(file, "abusewatch_build_info", "gauge", "The running abusewatch version.");
	textfile_sample(file, "abusewatch_build_info", &version, 1, 1);
	return textfile_commit(file);
}
