// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "collect.h"
#include "resource.h"
#include "units.h"

#define BYTE_RATE "a byte rate (like 50MiB/s)"
#define TOTAL(field) .source = SOURCE_TOTALS, .total_offset = offsetof(struct usage_sample, field)

static const struct resource_info resources[RESOURCE_COUNT] = {
	[RESOURCE_CPU] = {
		.name = "cpu", .kind = RESOURCE_COUNTER, .unit = "cores",
		.parse_limit = parse_number, .limit_syntax = "a number of cores (like 2)",
		.metric = "abusewatch_tenant_cpu_seconds_total",
		.help = "CPU time used by the tenant's tasks.",
		TOTAL(cpu_ns), .scale = 1e-9,
	},
	[RESOURCE_MEMORY] = {
		.name = "memory", .kind = RESOURCE_GAUGE, .unit = "bytes",
		.parse_limit = parse_size, .limit_syntax = "a size (like 4GiB)",
		.metric = "abusewatch_tenant_memory_bytes",
		.help = "Working set of the tenant's cgroups (memory controller).",
		.source = SOURCE_MEMORY,
	},
	[RESOURCE_DISK_READ] = {
		.name = "disk_read", .kind = RESOURCE_COUNTER, .unit = "bytes/s",
		.parse_limit = parse_byte_rate, .limit_syntax = BYTE_RATE,
		.metric = "abusewatch_tenant_disk_read_bytes_total",
		.help = "Bytes read from block devices by the tenant.",
		TOTAL(disk_read_bytes), .scale = 1,
	},
	[RESOURCE_DISK_WRITE] = {
		.name = "disk_write", .kind = RESOURCE_COUNTER, .unit = "bytes/s",
		.parse_limit = parse_byte_rate, .limit_syntax = BYTE_RATE,
		.metric = "abusewatch_tenant_disk_written_bytes_total",
		.help = "Bytes written to block devices by the tenant.",
		TOTAL(disk_write_bytes), .scale = 1,
	},
	[RESOURCE_NET_RX] = {
		.name = "net_rx", .kind = RESOURCE_COUNTER, .unit = "bytes/s",
		.parse_limit = parse_byte_rate, .limit_syntax = BYTE_RATE,
		.metric = "abusewatch_tenant_network_receive_bytes_total",
		.help = "IP bytes received by the tenant's sockets.",
		TOTAL(rx_bytes), .scale = 1,
	},
	[RESOURCE_NET_TX] = {
		.name = "net_tx", .kind = RESOURCE_COUNTER, .unit = "bytes/s",
		.parse_limit = parse_byte_rate, .limit_syntax = BYTE_RATE,
		.metric = "abusewatch_tenant_network_transmit_bytes_total",
		.help = "IP bytes sent by the tenant's sockets.",
		TOTAL(tx_bytes), .scale = 1,
	},
	[RESOURCE_NET_RX_PACKETS] = {
		.name = "net_rx_packets", .kind = RESOURCE_COUNTER, .unit = "packets/s",
		.parse_limit = parse_count_rate, .limit_syntax = "a rate (like 20000/s)",
		.metric = "abusewatch_tenant_network_receive_packets_total",
		.help = "IP packets received by the tenant's sockets.",
		TOTAL(rx_packets), .scale = 1,
	},
	[RESOURCE_NET_TX_PACKETS] = {
		.name = "net_tx_packets", .kind = RESOURCE_COUNTER, .unit = "packets/s",
		.parse_limit = parse_count_rate, .limit_syntax = "a rate (like 20000/s)",
		.metric = "abusewatch_tenant_network_transmit_packets_total",
		.help = "IP packets sent by the tenant's sockets.",
		TOTAL(tx_packets), .scale = 1,
	},
	[RESOURCE_CONNECTIONS] = {
		.name = "connections", .kind = RESOURCE_COUNTER, .unit = "connects/s",
		.parse_limit = parse_count_rate, .limit_syntax = "a rate (like 200/s)",
		.metric = "abusewatch_tenant_connections_total",
		.help = "Outbound connect() calls (TCP and UDP, IPv4 and IPv6) of the tenant's tasks.",
		TOTAL(connects), .scale = 1,
	},
	[RESOURCE_STORAGE] = {
		.name = "storage", .kind = RESOURCE_GAUGE, .unit = "bytes",
		.parse_limit = parse_size, .limit_syntax = "a size (like 20GiB)",
		.metric = "abusewatch_tenant_storage_bytes",
		.help = "Bytes allocated in the tenant's storage paths, as of the last complete pass.",
		.source = SOURCE_STORAGE,
	},
	[RESOURCE_PROCESSES] = {
		.name = "processes", .kind = RESOURCE_GAUGE, .unit = "tasks",
		.parse_limit = parse_whole_number, .limit_syntax = "a whole number",
		.metric = "abusewatch_tenant_processes",
		.help = "Live tasks of the tenant.",
		.source = SOURCE_TASKS,
	},
	[RESOURCE_FORKS] = {
		.name = "forks", .kind = RESOURCE_COUNTER, .unit = "forks/s",
		.parse_limit = parse_count_rate, .limit_syntax = "a rate (like 100/s)",
		.metric = "abusewatch_tenant_forks_total",
		.help = "Processes created by the tenant.",
		TOTAL(forks), .scale = 1,
	},
	[RESOURCE_HUGEPAGES] = {
		.name = "hugepages", .kind = RESOURCE_GAUGE, .unit = "bytes",
		.parse_limit = parse_size, .limit_syntax = "a size, 0 for none (like 1GiB)",
		.metric = "abusewatch_tenant_hugepages_bytes",
		.help = "Huge pages held by the tenant's cgroups (hugetlb controller).",
		.source = SOURCE_HUGETLB,
	},
};

const struct resource_info *resource_info(enum resource resource)
{
	if ((int)resource < 0 || resource >= RESOURCE_COUNT)
		return NULL;
	return &resources[resource];
}

const char *resource_name(enum resource resource)
{
	const struct resource_info *info = resource_info(resource);

	return info ? info->name : NULL;
}

int resource_from_name(const char *name)
{
	int i;

	for (i = 0; name && i < RESOURCE_COUNT; i++) {
		if (!strcmp(name, resources[i].name))
			return i;
	}
	return -1;
}

bool resource_is_gauge(enum resource resource)
{
	const struct resource_info *info = resource_info(resource);

	return info && info->kind == RESOURCE_GAUGE;
}
