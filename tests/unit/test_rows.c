// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the tick as data: the resource table (user/resource.c) is
 * complete and consistent, tenants.c fills a row per tenant from its totals
 * in base units, and metrics.c writes the textfile from rows alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert_near.h"
#include "config.h"
#include "files.h"
#include "metrics.h"
#include "resource.h"
#include "tenants.h"

/*
 * Every row names what config, evaluation and metrics need, so that a new
 * resource is one enum value and one row, and a row left half-filled fails.
 */
static void test_resource_table_complete(void **state)
{
	int resource, other;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const struct resource_info *info = resource_info(resource);
		const char *like;
		char example[32];
		double value;

		assert_non_null(info);
		assert_non_null(info->name);
		assert_non_null(info->unit);
		assert_non_null(info->help);
		assert_non_null(info->parse_limit);
		assert_int_equal(resource_from_name(info->name), resource);
		assert_int_equal(strncmp(info->metric, "abusewatch_tenant_", 18), 0);
		/* Prometheus: counters end in _total, gauges do not. */
		assert_int_equal(info->kind == RESOURCE_COUNTER,
				 strstr(info->metric, "_total") != NULL);
		assert_int_equal(resource_is_gauge(resource), info->kind == RESOURCE_GAUGE);
		if (info->source == SOURCE_TOTALS) {
			assert_int_equal(info->kind, RESOURCE_COUNTER);
			assert_true(info->total_offset + sizeof(uint64_t) <=
				    sizeof(struct usage_sample));
			assert_int_equal(info->total_offset % sizeof(uint64_t), 0);
			assert_true(info->scale > 0);
		}
		/* The example an error message gives must itself be accepted. */
		like = strstr(info->limit_syntax, "(like ");
		if (like) {
			snprintf(example, sizeof(example), "%s", like + 6);
			example[strcspn(example, ")")] = '\0';
			assert_int_equal(info->parse_limit(example, &value), 0);
		}
		for (other = 0; other < resource; other++) {
			assert_string_not_equal(resource_info(other)->name, info->name);
			assert_string_not_equal(resource_info(other)->metric, info->metric);
		}
	}
	assert_null(resource_info(RESOURCE_COUNT));
	assert_int_equal(resource_from_name("execs"), -1);
}

/* Every resource is a plan key, straight from the table, written as its syntax says. */
static void test_resource_plan_keys(void **state)
{
	char text[4096], example[32];
	struct config *config = NULL;
	char *errors = NULL;
	size_t used;
	int resource;

	used = snprintf(text, sizeof(text), "plans:\n  p:\n");
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const char *like = strstr(resource_info(resource)->limit_syntax, "(like ");

		snprintf(example, sizeof(example), "%s", like ? like + 6 : "1");
		example[strcspn(example, ")")] = '\0';
		used += snprintf(text + used, sizeof(text) - used, "    %s: \"%s\"\n",
				 resource_name(resource), example);
	}
	if (config_parse("rows.yaml", text, used, &config, &errors))
		fail_msg("%s", errors);
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		assert_true(config->plans[0].has_limit[resource]);
		assert_true(config->plans[0].limit[resource] > 0);
	}
	config_free(config);

	used = snprintf(text, sizeof(text), "plans:\n  p:\n    execs: 1\n");
	assert_int_not_equal(config_parse("rows.yaml", text, used, &config, &errors), 0);
	assert_non_null(strstr(errors, "rows.yaml:3:5: unknown key \"execs\""));
	free(errors);
}

static struct config *parse(const char *text)
{
	struct config *config = NULL;
	char *errors = NULL;

	if (config_parse("rows.yaml", text, strlen(text), &config, &errors))
		fail_msg("%s", errors);
	return config;
}

static const char *const two_tenants =
	"tenants:\n"
	"  - cgroup: \"/ci/{tenant}/**\"\n"
	"    plan: small\n"
	"    storage: [\"/builds/{tenant}\"]\n"
	"plans:\n"
	"  small:\n"
	"    cpu: 2\n"
	"    processes: 10\n";

static void test_rows_from_totals(void **state)
{
	struct config *config = parse(two_tenants);
	struct tenant_set *set = tenant_set_new(config);
	struct usage_sample delta = { .cpu_ns = 1500000000, .disk_write_bytes = 4096,
				      .execs = 7, .connects = 3, .forks = 2 };
	struct tenant_table table = {};
	struct tenant *zed, *alpha;
	const struct tenant_row *row;

	zed = tenant_set_add_cgroup(set, 10, "/ci/zed/job");
	alpha = tenant_set_add_cgroup(set, 11, "/ci/alpha");
	assert_non_null(zed);
	assert_non_null(alpha);
	tenant_set_add_usage(set, zed, &delta, 3);
	/* Tasks that predate a move can be uncharged twice: never below zero. */
	tenant_set_add_usage(set, alpha, &(struct usage_sample){ 0 }, -1);
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	assert_int_equal(table.count, 2);

	/* Name order. */
	row = &table.rows[0];
	assert_string_equal(row->tenant, "alpha");
	assert_ptr_equal(alpha->row, row);
	assert_near(row->value[RESOURCE_PROCESSES], 0, 0);
	row = &table.rows[1];
	assert_string_equal(row->tenant, "zed");
	assert_ptr_equal(zed->row, row);
	assert_string_equal(row->plan, "small");
	assert_string_equal(row->cgroup, "/ci/zed");
	assert_ptr_equal(row->limits, config_find_plan(config, "small"));
	assert_false(row->gone);
	assert_int_equal(row->storage_count, 1);
	assert_string_equal(row->storage_paths[0], "/builds/zed");
	assert_int_equal(row->execs, 7);
	/* Base units: seconds, bytes, connects, forks, tasks. */
	assert_near(row->value[RESOURCE_CPU], 1.5, 1e-12);
	assert_near(row->value[RESOURCE_DISK_WRITE], 4096, 0);
	assert_near(row->value[RESOURCE_CONNECTIONS], 3, 0);
	assert_near(row->value[RESOURCE_FORKS], 2, 0);
	assert_near(row->value[RESOURCE_PROCESSES], 3, 0);
	assert_true(row->has_value[RESOURCE_CPU]);
	/* Memory and storage are their modules' to fill. */
	assert_false(row->has_value[RESOURCE_MEMORY]);
	assert_false(row->has_value[RESOURCE_STORAGE]);
	assert_false(row->has_usage[RESOURCE_CPU]);

	tenant_set_remove_cgroup(set, 10, 5);
	tenant_set_forget_cgroup(set, 10);
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	assert_true(table.rows[1].gone);

	tenant_table_free(&table);
	tenant_set_free(set);
	config_free(config);
}

/* The file metrics_write made, whole. */
static char *write_and_read(const struct metrics_snapshot *snapshot)
{
	char path[] = "/tmp/abusewatch-rows-XXXXXX";
	char file[64], *text;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%s/t.prom", path);
	assert_int_equal(metrics_write(file, snapshot), 0);
	assert_int_equal(files_read_all(file, 1 << 20, &text, NULL), 0);
	unlink(file);
	rmdir(path);
	return text;
}

static void test_metrics_from_rows(void **state)
{
	struct config *config = parse(two_tenants);
	struct tenant_row rows[2] = {
		{ .tenant = "alpha", .plan = "small", .limits = &config->plans[0], .execs = 4 },
		{ .tenant = "zed", .plan = "none", .execs = 9 },
	};
	struct metrics_snapshot snapshot = {
		.rows = rows,
		.row_count = 2,
		.relative = &config->relative,
		.version = "9.9",
	};
	char *text;

	rows[0].has_value[RESOURCE_CPU] = true;
	rows[0].value[RESOURCE_CPU] = 1.25;
	rows[0].has_value[RESOURCE_MEMORY] = true;
	rows[0].value[RESOURCE_MEMORY] = 1048576;
	rows[0].has_usage[RESOURCE_CPU] = true;
	rows[0].usage[RESOURCE_CPU] = 1;
	rows[0].firing[RESOURCE_PROCESSES] = true;
	rows[1].has_value[RESOURCE_CPU] = true;
	text = write_and_read(&snapshot);

	assert_non_null(strstr(text, "# TYPE abusewatch_tenant_cpu_seconds_total counter\n"));
	assert_non_null(
	    strstr(text, "abusewatch_tenant_cpu_seconds_total{tenant=\"alpha\",plan=\"small\"} 1.25\n"));
	assert_non_null(strstr(text, "# TYPE abusewatch_tenant_memory_bytes gauge\n"));
	assert_non_null(
	    strstr(text, "abusewatch_tenant_memory_bytes{tenant=\"alpha\",plan=\"small\"} 1048576\n"));
	/* Not measured: no sample, rather than a 0 that looks like a value. */
	assert_null(strstr(text, "abusewatch_tenant_memory_bytes{tenant=\"zed\""));
	assert_null(strstr(text, "abusewatch_tenant_storage_bytes{"));
	assert_non_null(
	    strstr(text, "abusewatch_tenant_execs_total{tenant=\"zed\",plan=\"none\"} 9\n"));
	/* Limits where the plan has them, usage / limit, and what fires. */
	assert_non_null(strstr(
	    text, "abusewatch_tenant_limit{tenant=\"alpha\",plan=\"small\",resource=\"cpu\"} 2\n"));
	assert_non_null(strstr(text, "abusewatch_tenant_usage_ratio{tenant=\"alpha\",plan=\"small\","
				     "resource=\"cpu\"} 0.5\n"));
	assert_non_null(strstr(text, "abusewatch_tenant_over_limit{tenant=\"alpha\",plan=\"small\","
				     "resource=\"processes\"} 1\n"));
	assert_null(strstr(text, "abusewatch_tenant_limit{tenant=\"zed\""));
	assert_non_null(strstr(text, "abusewatch_build_info{version=\"9.9\"} 1\n"));
	free(text);
	/* The lines metrics_write() keeps between writes (test_metrics.c tests them). */
	metrics_forget();
	config_free(config);
}

/* A limit of 0 (hugepages: 0): any usage is +Inf times it, none is 0, never NaN. */
static void test_zero_limit_ratio(void **state)
{
	struct config *config = parse("plans:\n  none:\n    hugepages: 0\n");
	struct tenant_row rows[2] = {
		{ .tenant = "holder", .plan = "none", .limits = &config->plans[0] },
		{ .tenant = "idle", .plan = "none", .limits = &config->plans[0] },
	};
	struct metrics_snapshot snapshot = {
		.rows = rows,
		.row_count = 2,
		.relative = &config->relative,
		.version = "9.9",
	};
	char *text;

	rows[0].has_value[RESOURCE_HUGEPAGES] = true;
	rows[0].value[RESOURCE_HUGEPAGES] = 8388608;
	rows[0].has_usage[RESOURCE_HUGEPAGES] = true;
	rows[0].usage[RESOURCE_HUGEPAGES] = 4194304;
	rows[1].has_value[RESOURCE_HUGEPAGES] = true;
	rows[1].has_usage[RESOURCE_HUGEPAGES] = true;
	text = write_and_read(&snapshot);
	assert_non_null(strstr(text, "# TYPE abusewatch_tenant_hugepages_bytes gauge\n"));
	assert_non_null(strstr(
	    text, "abusewatch_tenant_hugepages_bytes{tenant=\"holder\",plan=\"none\"} 8388608\n"));
	assert_non_null(strstr(
	    text, "abusewatch_tenant_limit{tenant=\"holder\",plan=\"none\",resource=\"hugepages\"} 0\n"));
	assert_non_null(strstr(text, "abusewatch_tenant_usage_ratio{tenant=\"holder\",plan=\"none\","
				     "resource=\"hugepages\"} +Inf\n"));
	assert_non_null(strstr(text, "abusewatch_tenant_usage_ratio{tenant=\"idle\",plan=\"none\","
				     "resource=\"hugepages\"} 0\n"));
	assert_null(strstr(text, "NaN"));
	free(text);
	metrics_forget();
	config_free(config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_table_complete),
		cmocka_unit_test(test_resource_plan_keys),
		cmocka_unit_test(test_rows_from_totals),
		cmocka_unit_test(test_metrics_from_rows),
		cmocka_unit_test(test_zero_limit_ratio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
