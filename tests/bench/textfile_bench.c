// SPDX-License-Identifier: GPL-2.0
/*
 * textfile_bench [-n TENANTS] [-r RUNS] DIR: how long one metrics_write()
 * of TENANTS tenants takes, the textfile the agent writes every interval.
 *
 * The rows are made the way the agent makes them (tenants.c from cgroups
 * and counter deltas, then the memory gauge and the windowed usage that
 * memory.c and evaluate.c add), on a plan that limits cpu and memory, so
 * every family has its samples. The file goes to DIR/abusewatch.prom, synced
 * and renamed like the agent's: give a directory on the file system the
 * real textfile lives on. Prints one line:
 *
 *   tenants N runs R median_ms M min_ms A max_ms B bytes S
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "resource.h"
#include "tenants.h"

#define MAX_TENANTS 1000000L
#define MAX_RUNS 1000L

static const char config_text[] =
	"tenants:\n"
	"  - cgroup: \"/bench/tenants/{tenant}/**\"\n"
	"    plan: default\n"
	"plans:\n"
	"  default:\n"
	"    window: 60s\n"
	"    cpu: 1\n"
	"    memory: 1GiB\n";

static int usage(void)
{
	fprintf(stderr, "usage: textfile_bench [-n TENANTS] [-r RUNS] DIR\n"
			"  times RUNS (1..%ld, default 21) writes of the textfile for TENANTS\n"
			"  (1..%ld, default 10000) tenants to DIR/abusewatch.prom\n"
			"example: textfile_bench -n 10000 build/bench\n",
		MAX_RUNS, MAX_TENANTS);
	return 2;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One cgroup per tenant, with a tick's worth of counters that differ from tenant to tenant. */
static int make_tenants(struct tenant_set *set, long count)
{
	char path[64];
	long i;

	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "/bench/tenants/tenant-%06ld", i);
		if (!tenant_set_add_cgroup(set, 1000 + i, path))
			return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		struct usage_sample delta = {
			.cpu_ns = 1234567891ULL * (i % 97 + 1),
			.disk_read_bytes = 4096ULL * (i % 13),
			.disk_write_bytes = 65536ULL * (i % 7),
			.forks = i % 31,
			.execs = i % 29,
			.rx_bytes = 1500ULL * (i % 101),
			.tx_bytes = 1400ULL * (i % 103),
			.rx_packets = i % 101,
			.tx_packets = i % 103,
			.connects = i % 5,
		};
		snprintf(path, sizeof(path), "tenant-%06ld", i);
		tenant_set_add_usage(set, tenant_set_find(set, path), &delta, i % 17 + 1);
	}
	return 0;
}

/* What memory.c and evaluate.c add: the gauge and usage over the window. */
static void fill_gauges(struct tenant_table *table)
{
	size_t i;

	for (i = 0; i < table->count; i++) {
		struct tenant_row *row = &table->rows[i];

		row->has_value[RESOURCE_MEMORY] = true;
		row->value[RESOURCE_MEMORY] = 1048576.0 * (i % 512 + 1) + 4096 * (i % 7);
		row->has_usage[RESOURCE_CPU] = true;
		row->usage[RESOURCE_CPU] = (i % 97) / 64.0;
		row->has_usage[RESOURCE_MEMORY] = true;
		row->usage[RESOURCE_MEMORY] = row->value[RESOURCE_MEMORY];
		row->firing[RESOURCE_CPU] = row->usage[RESOURCE_CPU] > 1;
	}
}

int main(int argc, char **argv)
{
	long tenants = 10000, runs = 21, i;
	struct tenant_table table = {};
	struct metrics_snapshot snapshot;
	struct config *config = NULL;
	struct tenant_set *set = NULL;
	char path[4096], *errors = NULL, *rest;
	double *times = NULL, start, idle_ms;
	int opt, err, status = 1;
	struct stat st;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			tenants = strtol(optarg, &rest, 10);
			if (*rest || rest == optarg || tenants < 1 || tenants > MAX_TENANTS)
				return usage();
			break;
		case 'r':
			runs = strtol(optarg, &rest, 10);
			if (*rest || rest == optarg || runs < 1 || runs > MAX_RUNS)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 1)
		return usage();
	if (snprintf(path, sizeof(path), "%s/abusewatch.prom", argv[optind]) >= (int)sizeof(path))
		return usage();

	/* Not a line per tenant added, as the agent logs them. */
	log_set_level(LOG_LEVEL_WARN);
	if (config_parse("textfile_bench.yaml", config_text, strlen(config_text), &config,
			 &errors)) {
		fprintf(stderr, "textfile_bench: %s\n", errors ? errors : "bad configuration");
		goto cleanup;
	}
	set = tenant_set_new(config);
	times = calloc(runs, sizeof(*times));
	if (!set || !times || make_tenants(set, tenants) || tenant_set_fill_rows(set, &table)) {
		fprintf(stderr, "textfile_bench: out of memory\n");
		goto cleanup;
	}
	fill_gauges(&table);
	snapshot = (struct metrics_snapshot){
		.rows = table.rows,
		.row_count = table.count,
		.relative = &config->relative,
		.version = "bench",
	};
	/*
	 * Every run changes every tenant's CPU counter: the file is formatted
	 * and written whole each time, the worst case (metrics.c only touches
	 * a file whose values did not change; that case is timed after).
	 */
	for (i = 0; i < runs; i++) {
		for (size_t t = 0; t < table.count; t++)
			table.rows[t].value[RESOURCE_CPU] += 0.001;
		start = now_ms();
		err = metrics_write(path, &snapshot);
		times[i] = now_ms() - start;
		if (err) {
			fprintf(stderr, "textfile_bench: metrics_write %s: %s\n", path,
				strerror(-err));
			goto cleanup;
		}
	}
	start = now_ms();
	err = metrics_write(path, &snapshot);
	idle_ms = now_ms() - start;
	if (err) {
		fprintf(stderr, "textfile_bench: metrics_write %s: %s\n", path, strerror(-err));
		goto cleanup;
	}
	if (stat(path, &st)) {
		fprintf(stderr, "textfile_bench: %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	unlink(path);
	qsort(times, runs, sizeof(*times), compare_doubles);
	printf("tenants %zu runs %ld median_ms %.3f min_ms %.3f max_ms %.3f bytes %lld "
	       "unchanged_ms %.3f\n",
	       table.count, runs,
	       runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2, times[0],
	       times[runs - 1], (long long)st.st_size, idle_ms);
	status = 0;
cleanup:
	free(times);
	tenant_table_free(&table);
	tenant_set_free(set);
	config_free(config);
	free(errors);
	return status;
}
