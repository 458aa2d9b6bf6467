// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the textfile from rows and the lines it keeps between
 * writes (user/sinks/metrics.c):
 *
 * - every write is byte for byte what the writer made before it kept
 *   anything: that writer is here, as the reference (the families in order,
 *   labels escaped, numbers formatted as textfile.c did with stdio);
 * - a write with nothing changed leaves the file (same inode) and only
 *   sets its mtime; any change writes a new file;
 * - tenants gone from the rows leave the cache;
 * - at 10,000 tenants, what a first, an idle and a 100-tenant write cost:
 *   printed, not asserted, since a loaded machine would fail any bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "files.h"
#include "metrics.h"
#include "textfile.h"

#define BIG_TENANTS 10000
#define BIG_CHANGED 100

/* The reference: the writer as it was, one sample at a time through stdio. */

static void ref_escaped(FILE *out, const char *text)
{
	char stack[256], *buffer = stack;
	size_t length = textfile_escape_label(text ? text : "", stack, sizeof(stack));

	if (length >= sizeof(stack)) {
		buffer = malloc(length + 1);
		assert_non_null(buffer);
		textfile_escape_label(text, buffer, length + 1);
	}
	fputs(buffer, out);
	if (buffer != stack)
		free(buffer);
}

/* HELP text: backslash and newline escaped, quotes left alone. */
static void ref_help(FILE *out, const char *text)
{
	for (; *text; text++) {
		if (*text == '\\')
			fputs("\\\\", out);
		else if (*text == '\n')
			fputs("\\n", out);
		else
			fputc(*text, out);
	}
}

static void ref_value(FILE *out, double value)
{
	char text[64];

	if (isnan(value)) {
		snprintf(text, sizeof(text), "NaN");
	} else if (isinf(value)) {
		snprintf(text, sizeof(text), "%s", value > 0 ? "+Inf" : "-Inf");
	} else if (value == 0) {
		snprintf(text, sizeof(text), "0");
	} else if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
		   value == (double)(int64_t)value) {
		snprintf(text, sizeof(text), "%.0f", value);
	} else {
		snprintf(text, sizeof(text), "%.15g", value);
		if (strtod(text, NULL) != value)
			snprintf(text, sizeof(text), "%.17g", value);
	}
	fputs(text, out);
}

static void ref_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	ref_help(out, help);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void ref_sample(FILE *out, const char *name, const struct label *labels, size_t count,
		       double value)
{
	size_t i;

	fputs(name, out);
	for (i = 0; i < count; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "{", labels[i].name);
		ref_escaped(out, labels[i].value);
		fputc('"', out);
	}
	if (count)
		fputc('}', out);
	fputc(' ', out);
	ref_value(out, value);
	fputc('\n', out);
}

static void ref_values(FILE *out, const struct metrics_snapshot *snapshot,
		       enum resource_kind kind)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	int resource;
	size_t t;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const struct resource_info *info = resource_info(resource);

		if (info->kind != kind)
			continue;
		ref_family(out, info->metric, kind == RESOURCE_COUNTER ? "counter" : "gauge",
			   info->help);
		for (t = 0; t < snapshot->row_count; t++) {
			const struct tenant_row *row = &snapshot->rows[t];

			if (!row->has_value[resource])
				continue;
			labels[0].value = row->tenant;
			labels[1].value = row->plan;
			ref_sample(out, info->metric, labels, 2, row->value[resource]);
		}
	}
}

static void ref_limits(FILE *out, const struct metrics_snapshot *snapshot)
{
	static const char *const names[3] = {"abusewatch_tenant_limit",
					     "abusewatch_tenant_usage_ratio",
					     "abusewatch_tenant_over_limit"};
	static const char *const helps[3] = {
		"The plan's limit in base units: cores, bytes, tasks, bytes/s, per second.",
		"Usage averaged over the plan's window / limit.",
		"1 while an overuse alert (plan or relative) fires."};
	struct label labels[3] = {{"tenant", NULL}, {"plan", NULL}, {"resource", NULL}};
	int family, resource;
	size_t t;

	for (family = 0; family < 3; family++) {
		ref_family(out, names[family], "gauge", helps[family]);
		for (t = 0; t < snapshot->row_count; t++) {
			const struct tenant_row *row = &snapshot->rows[t];
			const struct plan *plan = row->limits;

			labels[0].value = row->tenant;
			labels[1].value = row->plan;
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				bool limited = plan && plan->has_limit[resource];
				bool shown;
				double value;

				if (family == 0) {
					value = limited ? plan->limit[resource] : 0;
					shown = limited;
				} else if (family == 1) {
					value = !limited ? 0
						: plan->limit[resource] > 0
						    ? row->usage[resource] / plan->limit[resource]
						: row->usage[resource] > 0 ? INFINITY
									   : 0;
					shown = limited && row->has_usage[resource];
				} else {
					value = row->firing[resource] ||
						row->relative_firing[resource];
					shown = limited || snapshot->relative->has_floor[resource] ||
						value;
				}
				if (!shown)
					continue;
				labels[2].value = resource_name(resource);
				ref_sample(out, names[family], labels, 3, value);
			}
		}
	}
}

/* The whole file as the writer without a cache made it; malloc'ed. */
static char *ref_render(const struct metrics_snapshot *snapshot, size_t *length)
{
	struct label labels[2] = {{"tenant", NULL}, {"plan", NULL}};
	struct label version = {"version", snapshot->version};
	char *text = NULL;
	FILE *out;
	size_t t;
	int kind;

	out = open_memstream(&text, length);
	assert_non_null(out);
	ref_values(out, snapshot, RESOURCE_COUNTER);
	ref_family(out, "abusewatch_tenant_execs_total", "counter",
		   "Programs executed by the tenant.");
	for (t = 0; t < snapshot->row_count; t++) {
		labels[0].value = snapshot->rows[t].tenant;
		labels[1].value = snapshot->rows[t].plan;
		ref_sample(out, "abusewatch_tenant_execs_total", labels, 2,
			   snapshot->rows[t].execs);
	}
	ref_values(out, snapshot, RESOURCE_GAUGE);
	ref_limits(out, snapshot);
	ref_family(out, "abusewatch_alerts_total", "counter", "Alerts raised, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label label = {"kind", alert_kind_name(kind)};

		ref_sample(out, "abusewatch_alerts_total", &label, 1, snapshot->alerts_total[kind]);
	}
	ref_family(out, "abusewatch_alerts_suppressed_total", "counter",
		   "Evidence for an alert already firing, not alerted again, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label label = {"kind", alert_kind_name(kind)};

		ref_sample(out, "abusewatch_alerts_suppressed_total", &label, 1,
			   snapshot->alerts_suppressed[kind]);
	}
	ref_family(out, "abusewatch_alerts_dropped_total", "counter",
		   "Alert records a sink never got (its queue or buffer was full), by sink.");
	for (kind = 0; kind < ALERT_SINK_COUNT; kind++) {
		struct label label = {"sink", alert_sink_name(kind)};

		ref_sample(out, "abusewatch_alerts_dropped_total", &label, 1,
			   snapshot->alerts_dropped[kind]);
	}
	ref_family(out, "abusewatch_events_lost_total", "counter",
		   "Kernel events not counted: a map or ring buffer was full.");
	ref_sample(out, "abusewatch_events_lost_total", NULL, 0, snapshot->events_lost);
	ref_family(out, "abusewatch_build_info", "gauge", "The running abusewatch version.");
	ref_sample(out, "abusewatch_build_info", &version, 1, 1);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* Helpers */

struct temp {
	char dir[64];
	char path[128];
	char temp_path[136];
	struct config *config;
};

static int setup(void **state)
{
	static const char yaml[] = "plans:\n"
				   "  small:\n"
				   "    cpu: 2\n"
				   "    memory: 1GiB\n"
				   "  big:\n"
				   "    cpu: 8\n"
				   "    processes: 100\n"
				   "    storage: 20GiB\n"
				   "relative:\n"
				   "  floor: {net_tx: 1MiB/s}\n";
	struct temp *temp = calloc(1, sizeof(*temp));
	char *errors = NULL;

	if (!temp)
		return -1;
	strcpy(temp->dir, "/tmp/abusewatch-metrics-XXXXXX");
	if (!mkdtemp(temp->dir))
		return -1;
	snprintf(temp->path, sizeof(temp->path), "%s/abusewatch.prom", temp->dir);
	snprintf(temp->temp_path, sizeof(temp->temp_path), "%s.tmp", temp->path);
	if (config_parse("metrics.yaml", yaml, sizeof(yaml) - 1, &temp->config, &errors)) {
		fprintf(stderr, "%s\n", errors);
		return -1;
	}
	/* Each test starts from nothing kept, as the agent does. */
	metrics_forget();
	*state = temp;
	return 0;
}

static int teardown(void **state)
{
	struct temp *temp = *state;

	metrics_forget();
	rmdir(temp->temp_path);
	unlink(temp->temp_path);
	unlink(temp->path);
	rmdir(temp->dir);
	config_free(temp->config);
	free(temp);
	return 0;
}

/* Fails with the first line that differs, not 11 MB of text. */
static void assert_same_text(const char *actual, size_t actual_length, const char *expected,
			     size_t expected_length)
{
	size_t i, line = 0, line_start = 0;

	for (i = 0; i < actual_length && i < expected_length && actual[i] == expected[i]; i++) {
		if (actual[i] == '\n') {
			line++;
			line_start = i + 1;
		}
	}
	if (i == actual_length && i == expected_length)
		return;
	fail_msg("line %zu differs:\n  have: %.*s\n  want: %.*s", line + 1,
		 (int)strcspn(actual + line_start, "\n"), actual + line_start,
		 (int)strcspn(expected + line_start, "\n"), expected + line_start);
}

/* The file at @path is what the reference makes of @snapshot. */
static void assert_file_is(const char *path, const struct metrics_snapshot *snapshot)
{
	size_t expected_length, actual_length;
	char *expected, *actual = NULL;

	expected = ref_render(snapshot, &expected_length);
	assert_int_equal(files_read_all(path, 64 << 20, &actual, &actual_length), 0);
	assert_same_text(actual, actual_length, expected, expected_length);
	free(expected);
	free(actual);
}

/* A long time ago, so that a touch shows. */
static void set_old_mtime(const char *path)
{
	struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};

	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

enum expect { REWRITTEN, TOUCHED };

/*
 * Writes @snapshot to @path and checks the file: what the reference
 * makes, and a new file (another inode) or the same one with a new mtime.
 */
static void write_expect(const char *path, const struct metrics_snapshot *snapshot,
			 enum expect expect)
{
	struct stat before, after;

	assert_int_equal(stat(path, &before), 0);
	set_old_mtime(path);
	assert_int_equal(metrics_write(path, snapshot), 0);
	assert_int_equal(stat(path, &after), 0);
	if (expect == TOUCHED) {
		assert_int_equal(after.st_ino, before.st_ino);
		assert_true(after.st_mtime > 1000000000);
	} else {
		assert_int_not_equal(after.st_ino, before.st_ino);
	}
	assert_file_is(path, snapshot);
}

/* Writes @snapshot to @path, expecting @expect and the file's text to be @text. */
static void write_expect_text(const char *path, const struct metrics_snapshot *snapshot,
			      enum expect expect, const char *text)
{
	struct stat before, after;
	char *now = NULL;

	assert_int_equal(stat(path, &before), 0);
	set_old_mtime(path);
	assert_int_equal(metrics_write(path, snapshot), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_ino == before.st_ino, expect == TOUCHED);
	assert_true(after.st_mtime > 1000000000);
	assert_int_equal(files_read_all(path, 64 << 20, &now, NULL), 0);
	assert_string_equal(now, text);
	free(now);
}

/* Rows that exercise what a line can hold. */

#define SMALL_ROWS 8

struct small {
	struct tenant_row rows[SMALL_ROWS];
	char long_name[2048];
	struct metrics_snapshot snapshot;
};

static void small_rows(struct small *small, const struct config *config)
{
	const struct plan *plan_small = config_find_plan(config, "small");
	const struct plan *plan_big = config_find_plan(config, "big");
	struct tenant_row *rows = small->rows;
	int t, resource;

	memset(small, 0, sizeof(*small));
	memset(small->long_name, 'x', sizeof(small->long_name) - 2);
	small->long_name[100] = '"';
	small->long_name[sizeof(small->long_name) - 2] = '\n';
	rows[0] = (struct tenant_row){.tenant = "alpha", .plan = "small", .limits = plan_small};
	rows[1] = (struct tenant_row){.tenant = "b\"q\\uo\nte", .plan = "big", .limits = plan_big};
	rows[2] = (struct tenant_row){.tenant = "caf\xc3\xa9 \xff\xfe", .plan = "sm\"all",
				      .limits = plan_small};
	rows[3] = (struct tenant_row){.tenant = "delta", .plan = NULL, .limits = NULL};
	rows[4] = (struct tenant_row){.tenant = small->long_name, .plan = "big",
				      .limits = plan_big};
	rows[5] = (struct tenant_row){.tenant = "", .plan = "none"};
	rows[6] = (struct tenant_row){.tenant = "golf", .plan = "small", .limits = plan_small};
	rows[7] = (struct tenant_row){.tenant = "hotel", .plan = "big", .limits = plan_big};
	for (t = 0; t < SMALL_ROWS; t++) {
		rows[t].execs = t * 1000003ull;
		for (resource = 0; resource < RESOURCE_COUNT; resource++) {
			/* Some measured, some not: gauges come and go. */
			rows[t].has_value[resource] = (t + resource) % 5 != 0;
			rows[t].value[resource] = t * 977.0 + resource * 1048576.0;
			rows[t].has_usage[resource] = (t + resource) % 3 != 0;
			rows[t].usage[resource] = (t + 1) * 0.37 * (resource + 1);
		}
	}
	/* The numbers formatting has to get right, each in some row. */
	for (t = 0; t < SMALL_ROWS; t++)
		rows[t].has_value[RESOURCE_CPU] = true;
	rows[0].value[RESOURCE_CPU] = 12.345678901;
	rows[1].value[RESOURCE_CPU] = 1.0 / 3.0;
	rows[2].value[RESOURCE_CPU] = 1e20;
	rows[3].value[RESOURCE_CPU] = NAN;
	rows[4].value[RESOURCE_CPU] = -INFINITY;
	rows[5].value[RESOURCE_CPU] = -42;
	rows[6].value[RESOURCE_CPU] = 9007199254740993.0;
	rows[7].value[RESOURCE_CPU] = 2.5e-7;
	rows[1].usage[RESOURCE_CPU] = INFINITY;
	rows[0].firing[RESOURCE_MEMORY] = true;
	rows[3].relative_firing[RESOURCE_CONNECTIONS] = true;
	rows[7].firing[RESOURCE_PROCESSES] = true;
	small->snapshot = (struct metrics_snapshot){
		.rows = rows,
		.row_count = SMALL_ROWS,
		.relative = &config->relative,
		.alerts_total = {3, 1, 0},
		.alerts_suppressed = {0, 7, 2},
		.alerts_dropped = {4, 0, 1},
		.events_lost = 5,
		.version = "1.2.3",
	};
}

/* Tests */

static void test_same_bytes_and_touch(void **state)
{
	struct temp *temp = *state;
	struct metrics_snapshot *snapshot;
	struct small *small = malloc(sizeof(*small));
	struct relative_config relative;
	struct tenant_row saved;

	assert_non_null(small);
	small_rows(small, temp->config);
	snapshot = &small->snapshot;

	/* The first write makes the file. */
	assert_int_equal(metrics_write(temp->path, snapshot), 0);
	assert_file_is(temp->path, snapshot);
	assert_int_equal(metrics_cached_tenants(), SMALL_ROWS);
	write_expect(temp->path, snapshot, TOUCHED);

	/* One counter of one tenant. */
	small->rows[2].value[RESOURCE_DISK_READ] += 4096;
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);
	/* A different double that prints the same is no change: -0, another NaN. */
	small->rows[5].value[RESOURCE_MEMORY] = 0;
	small->rows[5].has_value[RESOURCE_MEMORY] = true;
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[5].value[RESOURCE_MEMORY] = -0.0;
	small->rows[3].value[RESOURCE_CPU] = -NAN;
	write_expect(temp->path, snapshot, TOUCHED);
	/* A gauge no longer measured; then again. */
	small->rows[4].has_value[RESOURCE_STORAGE] = !small->rows[4].has_value[RESOURCE_STORAGE];
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[4].has_value[RESOURCE_STORAGE] = !small->rows[4].has_value[RESOURCE_STORAGE];
	write_expect(temp->path, snapshot, REWRITTEN);
	/* Usage, firing, execs: each its own family. */
	small->rows[6].usage[RESOURCE_MEMORY] *= 2;
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[6].has_usage[RESOURCE_CPU] = !small->rows[6].has_usage[RESOURCE_CPU];
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[7].firing[RESOURCE_PROCESSES] = false;
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[3].relative_firing[RESOURCE_CPU] = true;
	write_expect(temp->path, snapshot, REWRITTEN);
	small->rows[0].execs++;
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);

	/* The agent-wide figures. */
	snapshot->alerts_total[1]++;
	write_expect(temp->path, snapshot, REWRITTEN);
	snapshot->alerts_suppressed[2]++;
	write_expect(temp->path, snapshot, REWRITTEN);
	snapshot->alerts_dropped[1]++;
	write_expect(temp->path, snapshot, REWRITTEN);
	snapshot->events_lost++;
	write_expect(temp->path, snapshot, REWRITTEN);
	snapshot->version = "1.2.4";
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);

	/* A reload: another plan for a tenant, other relative floors. */
	small->rows[6].plan = "big";
	small->rows[6].limits = config_find_plan(temp->config, "big");
	write_expect(temp->path, snapshot, REWRITTEN);
	relative = temp->config->relative;
	relative.has_floor[RESOURCE_DISK_WRITE] = true;
	snapshot->relative = &relative;
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);

	/* Tenants come, go and move; the cache holds the rows' tenants only. */
	snapshot->row_count = SMALL_ROWS - 2;
	write_expect(temp->path, snapshot, REWRITTEN);
	assert_int_equal(metrics_cached_tenants(), SMALL_ROWS - 2);
	snapshot->row_count = SMALL_ROWS;
	write_expect(temp->path, snapshot, REWRITTEN);
	assert_int_equal(metrics_cached_tenants(), SMALL_ROWS);
	saved = small->rows[1];
	small->rows[1] = small->rows[6];
	small->rows[6] = saved;
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);
	snapshot->rows = small->rows + 3;
	snapshot->row_count = 2;
	write_expect(temp->path, snapshot, REWRITTEN);
	assert_int_equal(metrics_cached_tenants(), 2);
	snapshot->row_count = 0;
	write_expect(temp->path, snapshot, REWRITTEN);
	assert_int_equal(metrics_cached_tenants(), 0);
	write_expect(temp->path, snapshot, TOUCHED);

	/* A tenant twice in the rows is written twice, as before. */
	snapshot->rows = small->rows;
	snapshot->row_count = SMALL_ROWS;
	small->rows[7] = small->rows[2];
	assert_int_equal(metrics_write(temp->path, snapshot), 0);
	assert_file_is(temp->path, snapshot);
	small->rows[7].value[RESOURCE_CPU] = 77;
	assert_int_equal(metrics_write(temp->path, snapshot), 0);
	assert_file_is(temp->path, snapshot);
	assert_int_equal(metrics_cached_tenants(), SMALL_ROWS - 1);
	free(small);
}

/* Where the file is not what was last written, nothing kept is trusted. */
static void test_file_gone_or_failed(void **state)
{
	struct temp *temp = *state;
	struct metrics_snapshot *snapshot;
	struct small *small = malloc(sizeof(*small));
	char other[160];

	assert_non_null(small);
	small_rows(small, temp->config);
	snapshot = &small->snapshot;
	assert_int_equal(metrics_write(temp->path, snapshot), 0);

	/* Removed (by hand, say): the file cannot be touched, so it is written again. */
	assert_int_equal(unlink(temp->path), 0);
	assert_int_equal(metrics_write(temp->path, snapshot), 0);
	assert_file_is(temp->path, snapshot);

	/* A write that fails leaves the old file: the next one writes it whole. */
	small->rows[0].value[RESOURCE_NET_RX] += 1500;
	assert_int_equal(mkdir(temp->temp_path, 0700), 0);
	assert_int_equal(metrics_write(temp->path, snapshot), -EISDIR);
	assert_int_equal(rmdir(temp->temp_path), 0);
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);

	/* Another path gets the whole file, and so does this one after it. */
	snprintf(other, sizeof(other), "%s/other.prom", temp->dir);
	assert_int_equal(metrics_write(other, snapshot), 0);
	assert_file_is(other, snapshot);
	write_expect(temp->path, snapshot, REWRITTEN);
	unlink(other);
	free(small);
}

/* The file's text, malloc'ed. */
static char *file_text(const char *path)
{
	char *text = NULL;

	assert_int_equal(files_read_all(path, 64 << 20, &text, NULL), 0);
	return text;
}

/*
 * Pacing: a changed file of B bytes is rewritten at most every
 * B / METRICS_REWRITE_BYTES_PER_S seconds; in between it is touched and
 * keeps its text, and the write that comes due has every change since.
 * The last write (final) is whole at once. Rows marked unchanged keep
 * their lines, also those still waiting to be written.
 */
static void test_paced_rewrites(void **state)
{
	struct temp *temp = *state;
	struct metrics_snapshot *snapshot;
	struct small *small = malloc(sizeof(*small));
	struct stat st;
	double pace_s, start = 1000;
	char *before, *after;
	int t;

	assert_non_null(small);
	small_rows(small, temp->config);
	snapshot = &small->snapshot;
	snapshot->now = start;
	assert_int_equal(metrics_write(temp->path, snapshot), 0);
	assert_file_is(temp->path, snapshot);
	assert_int_equal(stat(temp->path, &st), 0);
	pace_s = st.st_size / METRICS_REWRITE_BYTES_PER_S;
	assert_true(pace_s > 0);

	/* A change right after: touched, the text as it was. */
	before = file_text(temp->path);
	small->rows[1].value[RESOURCE_NET_TX] += 1;
	snapshot->now = start + pace_s / 4;
	write_expect_text(temp->path, snapshot, TOUCHED, before);
	/* Another, the first row now unchanged since (as the agent marks it). */
	for (t = 0; t < SMALL_ROWS; t++)
		small->rows[t].unchanged = t != 6;
	small->rows[6].execs++;
	snapshot->now = start + pace_s / 2;
	write_expect_text(temp->path, snapshot, TOUCHED, before);
	free(before);

	/* Its pace past: both changes at once. */
	for (t = 0; t < SMALL_ROWS; t++)
		small->rows[t].unchanged = true;
	snapshot->now = start + 2 * pace_s;
	write_expect(temp->path, snapshot, REWRITTEN);
	write_expect(temp->path, snapshot, TOUCHED);

	/* The last write waits for nothing. */
	small->rows[0].unchanged = false;
	small->rows[0].value[RESOURCE_FORKS] += 1;
	snapshot->now += pace_s / 10;
	snapshot->final = true;
	write_expect(temp->path, snapshot, REWRITTEN);

	after = file_text(temp->path);
	assert_non_null(strstr(after, "abusewatch_tenant_forks_total{tenant=\"alpha\""));
	free(after);
	free(small);
}

static double seconds(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

/* Timed metrics_write(), printed: wall and CPU milliseconds. */
static void timed_write(const char *what, const char *path, const struct metrics_snapshot *snapshot)
{
	double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);

	assert_int_equal(metrics_write(path, snapshot), 0);
	wall = seconds(CLOCK_MONOTONIC) - wall;
	cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	printf("[ TIMING   ] %zu tenants, %-22s %7.2f ms (CPU %7.2f ms)\n", snapshot->row_count,
	       what, wall * 1e3, cpu * 1e3);
}

/*
 * 10,000 tenants on a plan that limits two resources, as an agent at rest
 * would have them: a first write, an idle one, one where 100 tenants moved.
 */
static void test_ten_thousand(void **state)
{
	struct temp *temp = *state;
	const struct plan *plan = config_find_plan(temp->config, "small");
	struct tenant_row *rows = calloc(BIG_TENANTS, sizeof(*rows));
	char (*names)[32] = calloc(BIG_TENANTS, sizeof(*names));
	struct metrics_snapshot snapshot = {
		.rows = rows,
		.row_count = BIG_TENANTS,
		.relative = &temp->config->relative,
		.version = "1.0.0",
	};
	struct stat before, after;
	int resource;
	size_t t;

	assert_non_null(rows);
	assert_non_null(names);
	for (t = 0; t < BIG_TENANTS; t++) {
		struct tenant_row *row = &rows[t];

		snprintf(names[t], sizeof(names[t]), "tenant-%05zu", t);
		row->tenant = names[t];
		row->plan = "small";
		row->limits = plan;
		row->execs = t * 3;
		/* Counters in bytes, packets and tasks; CPU seconds are not whole. */
		for (resource = 0; resource < RESOURCE_COUNT; resource++) {
			row->has_value[resource] = resource != RESOURCE_STORAGE;
			row->value[resource] = (double)(t * 4096 + resource);
		}
		row->value[RESOURCE_CPU] = 1 + t * 0.001234567;
		row->has_usage[RESOURCE_CPU] = true;
		row->usage[RESOURCE_CPU] = 0.01 * (t % 7);
		row->has_usage[RESOURCE_MEMORY] = true;
		row->usage[RESOURCE_MEMORY] = 1048576.0 * (t % 13);
	}

	timed_write("first write", temp->path, &snapshot);
	assert_file_is(temp->path, &snapshot);
	assert_int_equal(metrics_cached_tenants(), BIG_TENANTS);

	assert_int_equal(stat(temp->path, &before), 0);
	set_old_mtime(temp->path);
	timed_write("idle (nothing changed)", temp->path, &snapshot);
	assert_int_equal(stat(temp->path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_true(after.st_mtime > 1000000000);
	assert_file_is(temp->path, &snapshot);

	for (t = 0; t < BIG_TENANTS; t += BIG_TENANTS / BIG_CHANGED) {
		rows[t].value[RESOURCE_CPU] += 0.5;
		rows[t].value[RESOURCE_NET_TX] += 1448;
		rows[t].value[RESOURCE_MEMORY] += 4096;
		rows[t].usage[RESOURCE_CPU] += 0.25;
	}
	assert_int_equal(stat(temp->path, &before), 0);
	timed_write("100 tenants changed", temp->path, &snapshot);
	assert_int_equal(stat(temp->path, &after), 0);
	assert_int_not_equal(after.st_ino, before.st_ino);
	assert_file_is(temp->path, &snapshot);

	/* Half the tenants gone: half the cache. */
	snapshot.row_count = BIG_TENANTS / 2;
	assert_int_equal(metrics_write(temp->path, &snapshot), 0);
	assert_int_equal(metrics_cached_tenants(), BIG_TENANTS / 2);
	assert_file_is(temp->path, &snapshot);
	free(names);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_bytes_and_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_gone_or_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paced_rewrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ten_thousand, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
