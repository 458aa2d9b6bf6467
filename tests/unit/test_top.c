// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for `abusewatch top`'s pure parts (user/top/): the text-format
 * reader (also on a file written by the agent's own textfile writer), the
 * model (tenants, limits, alerts from the textfile and from firing.json,
 * rates, sorting) and the rendered screen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "promtext.h"
#include "textfile.h"
#include "top_model.h"
#include "top_view.h"

#define SAMPLES_MAX 16

struct collected {
	size_t count;
	char names[SAMPLES_MAX][64];
	char labels[SAMPLES_MAX][256];	/* "a=x,b=y" */
	double values[SAMPLES_MAX];
};

static int collect(const struct promtext_sample *sample, void *ctx)
{
	struct collected *out = ctx;
	size_t i, used = 0;

	assert_true(out->count < SAMPLES_MAX);
	snprintf(out->names[out->count], sizeof(out->names[0]), "%s", sample->name);
	out->labels[out->count][0] = '\0';
	for (i = 0; i < sample->label_count; i++)
		used += snprintf(out->labels[out->count] + used, sizeof(out->labels[0]) - used,
				 "%s%s=%s", i ? "," : "", sample->labels[i].name,
				 sample->labels[i].value);
	out->values[out->count++] = sample->value;
	return 0;
}

static void test_promtext_lines(void **state)
{
	static const char text[] =
		"# HELP x_total Something.\n"
		"# TYPE x_total counter\n"
		"\n"
		"x_total 12\n"
		"y{a=\"1\",b=\"two words\"} 0.5\n"
		"y { a = \"q\\\"uote\\\\back\\nline\" , } 1e3 1700000000000\r\n"
		"z{} NaN\n"
		"w +Inf\n"
		"no_value\n"
		"bad{a=\"unterminated} 1\n"
		"bad{a=\"x\\t\"} 1\n"
		"bad{a=\"x\"} 1 2 3\n"
		"9bad 1\n"
		"last -2";
	struct collected got = { 0 };
	size_t bad = 0;

	assert_int_equal(promtext_parse(text, strlen(text), collect, &got, &bad), 0);
	assert_int_equal(got.count, 6);
	assert_int_equal(bad, 5);
	assert_string_equal(got.names[0], "x_total");
	assert_string_equal(got.labels[0], "");
	assert_true(got.values[0] == 12);
	assert_string_equal(got.labels[1], "a=1,b=two words");
	assert_true(got.values[1] == 0.5);
	assert_string_equal(got.labels[2], "a=q\"uote\\back\nline");
	assert_true(got.values[2] == 1000);
	assert_string_equal(got.names[3], "z");
	assert_true(isnan(got.values[3]));
	assert_true(isinf(got.values[4]) && got.values[4] > 0);
	/* "last -2" has no newline: the end of the text ends the line. */
	assert_true(got.values[5] == -2);
	assert_int_equal(promtext_parse("last -3", 7, collect, &got, NULL), 0);
	assert_true(got.values[6] == -3);
}

static int stop_at_second(const struct promtext_sample *sample, void *ctx)
{
	int *seen = ctx;

	return ++*seen == 2 ? -E2BIG : 0;
}

static void test_promtext_callback_stops(void **state)
{
	static const char text[] = "a 1\nb 2\nc 3\n";
	int seen = 0;

	assert_int_equal(promtext_parse(text, strlen(text), stop_at_second, &seen, NULL), -E2BIG);
	assert_int_equal(seen, 2);
}

/* What the agent's writer escapes, top's reader unescapes: the same names come back. */
static void test_promtext_reads_the_agents_writer(void **state)
{
	static const char *const names[] = { "plain", "q\"uote", "back\\slash", "new\nline" };
	char dir[] = "/tmp/abusewatch-test-top-XXXXXX", path[128], tmp[136];
	struct collected got = { 0 };
	struct textfile *file;
	char *text = NULL;
	size_t length, i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/abusewatch.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	file = textfile_open(path);
	assert_non_null(file);
	textfile_family(file, "abusewatch_tenant_cpu_seconds_total", "counter", "CPU.");
	for (i = 0; i < 4; i++) {
		struct label labels[] = { { "tenant", names[i] }, { "plan", "default" } };

		textfile_sample(file, "abusewatch_tenant_cpu_seconds_total", labels, 2, i + 0.25);
	}
	assert_int_equal(textfile_commit(file), 0);
	assert_int_equal(files_read_all(path, 1 << 20, &text, &length), 0);
	unlink(path);
	unlink(tmp);
	rmdir(dir);

	assert_int_equal(promtext_parse(text, length, collect, &got, NULL), 0);
	free(text);
	assert_int_equal(got.count, 4);
	for (i = 0; i < 4; i++) {
		char want[256];

		snprintf(want, sizeof(want), "tenant=%s,plan=default", names[i]);
		assert_string_equal(got.labels[i], want);
		assert_true(got.values[i] == i + 0.25);
	}
}

/* Three tenants as the agent writes them: hog over its cpu limit, calm under, free unlimited. */
static const char node_textfile[] =
	"# TYPE abusewatch_tenant_cpu_seconds_total counter\n"
	"abusewatch_tenant_cpu_seconds_total{tenant=\"hog\",plan=\"small\"} 100\n"
	"abusewatch_tenant_cpu_seconds_total{tenant=\"calm\",plan=\"small\"} 10\n"
	"abusewatch_tenant_cpu_seconds_total{tenant=\"free\",plan=\"open\"} 50\n"
	"abusewatch_tenant_disk_read_bytes_total{tenant=\"free\",plan=\"open\"} 1000\n"
	"abusewatch_tenant_disk_written_bytes_total{tenant=\"free\",plan=\"open\"} 3000\n"
	"abusewatch_tenant_network_receive_bytes_total{tenant=\"free\",plan=\"open\"} 10\n"
	"abusewatch_tenant_network_transmit_bytes_total{tenant=\"free\",plan=\"open\"} 20\n"
	"abusewatch_tenant_memory_bytes{tenant=\"free\",plan=\"open\"} 2147483648\n"
	"abusewatch_tenant_memory_bytes{tenant=\"calm\",plan=\"small\"} 536870912\n"
	"abusewatch_tenant_limit{tenant=\"hog\",plan=\"small\",resource=\"cpu\"} 0.5\n"
	"abusewatch_tenant_limit{tenant=\"calm\",plan=\"small\",resource=\"cpu\"} 0.5\n"
	"abusewatch_tenant_limit{tenant=\"calm\",plan=\"small\",resource=\"memory\"} 1073741824\n"
	"abusewatch_tenant_limit{tenant=\"calm\",plan=\"small\",resource=\"net_tx\"} 1000\n"
	"abusewatch_tenant_usage_ratio{tenant=\"hog\",plan=\"small\",resource=\"cpu\"} 1.8\n"
	"abusewatch_tenant_usage_ratio{tenant=\"calm\",plan=\"small\",resource=\"cpu\"} 0.1\n"
	"abusewatch_tenant_usage_ratio{tenant=\"calm\",plan=\"small\",resource=\"memory\"} 0.5\n"
	"abusewatch_tenant_usage_ratio{tenant=\"calm\",plan=\"small\",resource=\"net_tx\"} 0.25\n"
	"abusewatch_tenant_over_limit{tenant=\"hog\",plan=\"small\",resource=\"cpu\"} 1\n"
	"abusewatch_tenant_over_limit{tenant=\"calm\",plan=\"small\",resource=\"cpu\"} 0\n"
	"abusewatch_alerts_total{kind=\"overuse\"} 3\n"
	"abusewatch_alerts_total{kind=\"unauthorized_software\"} 0\n"
	"abusewatch_alerts_total{kind=\"network_abuse\"} 1\n"
	"abusewatch_events_lost_total 7\n"
	"abusewatch_build_info{version=\"9.9.9\"} 1\n"
	"node_other_metric 5\n";

static struct top_snapshot *parse(const char *text, double read_at)
{
	struct top_snapshot *snapshot = top_snapshot_new();

	assert_non_null(snapshot);
	assert_int_equal(top_snapshot_parse(snapshot, text, strlen(text), read_at), 0);
	return snapshot;
}

static const struct top_tenant *tenant_named(const struct top_snapshot *snapshot,
					     const char *name)
{
	size_t i;

	for (i = 0; i < snapshot->tenant_count; i++) {
		if (!strcmp(snapshot->tenants[i]->tenant, name))
			return snapshot->tenants[i];
	}
	fail_msg("no tenant %s", name);
	return NULL;
}

static void test_model_parse(void **state)
{
	struct top_snapshot *snapshot = parse(node_textfile, 10);
	const struct top_tenant *hog, *calm, *free_tenant;

	assert_int_equal(snapshot->tenant_count, 3);
	assert_int_equal(snapshot->bad_lines, 0);
	hog = tenant_named(snapshot, "hog");
	calm = tenant_named(snapshot, "calm");
	free_tenant = tenant_named(snapshot, "free");
	assert_string_equal(hog->plan, "small");
	assert_true(hog->ratio[RESOURCE_CPU] == 1.8 && hog->limit[RESOURCE_CPU] == 0.5);
	assert_true(hog->over[RESOURCE_CPU] && top_tenant_over(hog));
	assert_false(top_tenant_over(calm));
	assert_true(isnan(hog->ratio[RESOURCE_MEMORY]));
	assert_true(top_column_ratio(calm, TOP_COLUMN_NETWORK) == 0.25);
	assert_true(top_column_ratio(calm, TOP_COLUMN_MEMORY) == 0.5);
	assert_true(isnan(top_column_ratio(calm, TOP_COLUMN_DISK)));
	assert_true(top_tenant_max_ratio(calm) == 0.5);
	assert_true(isnan(top_tenant_max_ratio(free_tenant)));
	assert_true(free_tenant->disk_bytes == 4000 && free_tenant->network_bytes == 30);
	/* Memory is a gauge: its usage is known at once; rates need a second read. */
	assert_true(free_tenant->usage[TOP_COLUMN_MEMORY] == 2147483648.0);
	assert_true(isnan(free_tenant->usage[TOP_COLUMN_CPU]));
	assert_int_equal(top_snapshot_over_count(snapshot), 1);
	assert_true(snapshot->alerts_total[TOP_KIND_OVERUSE] == 3);
	assert_true(snapshot->alerts_total[TOP_KIND_NETWORK] == 1);
	assert_true(snapshot->events_lost == 7);
	assert_string_equal(snapshot->version, "9.9.9");
	/* The textfile's alert, with its usage and limit now. */
	assert_int_equal(snapshot->alert_count, 1);
	assert_false(snapshot->alerts_from_state);
	assert_string_equal(snapshot->alerts[0].tenant, "hog");
	assert_string_equal(snapshot->alerts[0].resource, "cpu");
	assert_null(snapshot->alerts[0].rule);
	assert_true(fabs(snapshot->alerts[0].value - 0.9) < 1e-9);
	assert_true(snapshot->alerts[0].limit == 0.5);
	assert_true(isnan(snapshot->alerts[0].since));
	top_snapshot_free(snapshot);
}

static void test_model_rates(void **state)
{
	struct top_snapshot *before = parse(node_textfile, 10), *now;
	const struct top_tenant *free_tenant, *hog;
	char *later = strdup(node_textfile), *at;

	assert_non_null(later);
	/* 2 s later: free used 3 more CPU seconds, 4000 more disk bytes; hog restarted at 1. */
	at = strstr(later, "{tenant=\"free\",plan=\"open\"} 50\n");
	memcpy(strchr(at, ' ') + 1, "53", 2);
	at = strstr(later, "disk_written_bytes_total{tenant=\"free\",plan=\"open\"} 3000");
	memcpy(strchr(at, ' ') + 1, "7000", 4);
	at = strstr(later, "{tenant=\"hog\",plan=\"small\"} 100\n");
	memcpy(strchr(at, ' ') + 1, "001", 3);
	now = parse(later, 12);
	top_snapshot_rates(now, before);
	free_tenant = tenant_named(now, "free");
	hog = tenant_named(now, "hog");
	assert_true(fabs(free_tenant->usage[TOP_COLUMN_CPU] - 1.5) < 1e-9);
	assert_true(fabs(free_tenant->usage[TOP_COLUMN_DISK] - 2000) < 1e-9);
	assert_true(free_tenant->usage[TOP_COLUMN_NETWORK] == 0);
	/* A counter that went down (the agent restarted): no rate rather than a wrong one. */
	assert_true(isnan(hog->usage[TOP_COLUMN_CPU]));
	top_snapshot_free(before);
	top_snapshot_free(now);
	free(later);
}

static void names_in_order(const struct top_snapshot *snapshot, char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < snapshot->tenant_count; i++)
		used += snprintf(out + used, size - used, "%s%s", i ? " " : "",
				 snapshot->tenants[i]->tenant);
}

static void test_model_sort(void **state)
{
	/* Besides the three: "mid" at 90% cpu, not firing; "aaa" without limits and usage. */
	static const char extra[] =
		"abusewatch_tenant_usage_ratio{tenant=\"mid\",plan=\"small\","
		"resource=\"cpu\"} 0.9\n"
		"abusewatch_tenant_cpu_seconds_total{tenant=\"aaa\",plan=\"open\"} 0\n";
	char text[sizeof(node_textfile) + sizeof(extra)], order[256];
	struct top_snapshot *snapshot;

	snprintf(text, sizeof(text), "%s%s", node_textfile, extra);
	snapshot = parse(text, 10);

	top_snapshot_sort(snapshot, TOP_SORT_USAGE);
	names_in_order(snapshot, order, sizeof(order));
	/* Firing first, then by highest ratio, unlimited last by name. */
	assert_string_equal(order, "hog mid calm aaa free");

	top_snapshot_sort(snapshot, TOP_SORT_MEMORY);
	names_in_order(snapshot, order, sizeof(order));
	/* calm has a memory limit; free has none but 2 GiB; aaa and hog have no figure. */
	assert_string_equal(order, "calm free aaa hog mid");

	top_snapshot_sort(snapshot, TOP_SORT_CPU);
	names_in_order(snapshot, order, sizeof(order));
	assert_string_equal(order, "hog mid calm aaa free");

	top_snapshot_sort(snapshot, TOP_SORT_TENANT);
	names_in_order(snapshot, order, sizeof(order));
	assert_string_equal(order, "aaa calm free hog mid");

	assert_int_equal(top_sort_from_key('u'), TOP_SORT_USAGE);
	assert_int_equal(top_sort_from_key('C'), TOP_SORT_CPU);
	assert_int_equal(top_sort_from_key('n'), TOP_SORT_NETWORK);
	assert_int_equal(top_sort_from_key('t'), TOP_SORT_TENANT);
	assert_int_equal(top_sort_from_key('x'), -1);
	assert_string_equal(top_sort_name(TOP_SORT_DISK), "disk");
	top_snapshot_free(snapshot);
}

static void test_model_firing_state(void **state)
{
	/*
	 * As user/rules/evaluate_state.c writes it; the second entry lacks its
	 * tenant, the third its value.
	 */
	static const char firing[] =
		"{ \"alerts\": [ { \"tenant\": \"zed\", \"plan\": \"small\", \"cgroup\": \"/a\","
		" \"resource\": \"memory\", \"rule\": \"plan\", \"value\": 2147483648, \"limit\":"
		" 1073741824, \"window_s\": 60, \"since\": 1700000000.5 },"
		" { \"plan\": \"small\", \"resource\": \"cpu\" },"
		" { \"tenant\": \"hog\", \"plan\": \"small\", \"cgroup\": \"/b\","
		" \"resource\": \"cpu\","
		" \"limit\": 0.5, \"window_s\": 3, \"since\": 1700000100 } ],"
		" \"version\": 1, \"saved_at\": 1700000200 }";
	struct top_snapshot *snapshot = parse(node_textfile, 10);

	assert_int_equal(top_snapshot_load_firing(snapshot, "{ \"not\": \"state\" }"), -EINVAL);
	assert_int_equal(top_snapshot_load_firing(snapshot, "garbage"), -EINVAL);
	assert_int_equal(snapshot->alert_count, 1);
	assert_false(snapshot->alerts_from_state);

	assert_int_equal(top_snapshot_load_firing(snapshot, firing), 0);
	assert_true(snapshot->alerts_from_state);
	assert_int_equal(snapshot->alert_count, 2);
	top_snapshot_sort(snapshot, TOP_SORT_USAGE);
	assert_string_equal(snapshot->alerts[0].tenant, "hog");
	assert_null(snapshot->alerts[0].rule);
	assert_true(snapshot->alerts[0].since == 1700000100);
	/* A figure the file lacks is unknown, not 0. */
	assert_true(isnan(snapshot->alerts[0].value));
	assert_string_equal(snapshot->alerts[1].tenant, "zed");
	assert_string_equal(snapshot->alerts[1].rule, "plan");
	assert_true(snapshot->alerts[1].value == 2147483648.0);
	top_snapshot_free(snapshot);
}

static void render(struct top_view *view, size_t height, struct top_line *lines, size_t *count)
{
	size_t i;

	*count = top_view_render(view, height, lines);
	for (i = 0; i < *count; i++)
		assert_true(strlen(lines[i].text) <= TOP_WIDTH);
}

static const struct top_line *line_starting(const struct top_line *lines, size_t count,
					    const char *prefix)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (!strncmp(lines[i].text, prefix, strlen(prefix)))
			return &lines[i];
	}
	for (i = 0; i < count; i++)
		print_message("%2zu|%s|\n", i, lines[i].text);
	fail_msg("no line starts with \"%s\"", prefix);
	return NULL;
}

static void test_view_screen(void **state)
{
	struct top_snapshot *snapshot = parse(node_textfile, 10);
	struct top_view view = {
		.snapshot = snapshot, .host = "node1", .textfile = "/x.prom", .textfile_age_s = 0.4,
		.now_wall = 1700000175, .sort = TOP_SORT_USAGE, .footer = 1,
	};
	struct top_line lines[24];
	const struct top_line *line;
	size_t count;

	top_snapshot_sort(snapshot, view.sort);
	render(&view, 24, lines, &count);
	assert_int_equal(count, 24);
	assert_int_equal(strlen(lines[0].text), TOP_WIDTH);
	assert_non_null(
		strstr(lines[0].text, "abusewatch top - node1 - 3 tenants, 1 over a limit "));
	assert_string_equal(lines[0].text + TOP_WIDTH - 17, "textfile 0.4s old");
	assert_int_equal(lines[2].style, TOP_STYLE_HEADER);
	assert_non_null(strstr(lines[2].text, "TENANT"));
	/* hog: 180% of its cpu limit, a full bar; firing, so marked and styled. */
	line = line_starting(lines, count, "!hog");
	assert_int_equal(line->style, TOP_STYLE_OVER);
	assert_non_null(strstr(line->text, "######  180%"));
	line = line_starting(lines, count, " calm");
	assert_int_equal(line->style, TOP_STYLE_NORMAL);
	assert_non_null(strstr(line->text, "#.....   10% ###...   50%"));
	/* free has no limits: memory as a size, rates unknown yet. */
	line = line_starting(lines, count, " free");
	assert_non_null(strstr(line->text, "2.0G"));
	line = line_starting(lines, count, "FIRING OVERUSE ALERTS: 1 (from the textfile)");
	assert_non_null(strstr((line + 1)->text, "0.90 cores > 0.50 cores"));
	assert_int_equal(lines[23].style, TOP_STYLE_FOOTER);
	assert_non_null(strstr(lines[23].text, "[q]uit"));
	assert_non_null(strstr(lines[23].text, "(now: usage)"));
	assert_true(strlen(lines[23].text) < TOP_WIDTH);

	/* Sorted by memory: the column is marked. */
	view.sort = TOP_SORT_MEMORY;
	top_snapshot_sort(snapshot, view.sort);
	render(&view, 24, lines, &count);
	assert_non_null(strstr(lines[2].text, "MEMORY*"));
	assert_non_null(strstr(lines[3].text, " calm"));
	assert_non_null(strstr(lines[23].text, "(now: memory)"));

	/* An old textfile: the agent is not writing. */
	view.textfile_age_s = 125;
	render(&view, 24, lines, &count);
	assert_int_equal(lines[0].style, TOP_STYLE_WARNING);
	assert_non_null(strstr(lines[0].text, "textfile 2m05s old: agent down?"));

	/* A textfile that cannot be read. */
	view.error = "No such file or directory";
	view.snapshot = NULL;
	render(&view, 24, lines, &count);
	assert_string_equal(lines[0].text,
			    "abusewatch top: cannot read /x.prom: No such file or directory");
	top_snapshot_free(snapshot);
}

static void test_view_scroll_and_names(void **state)
{
	char text[64 * 128] = "", name[64];
	struct top_view view = { .host = "n", .textfile = "/x", .textfile_age_s = NAN,
				 .footer = 1 };
	struct top_snapshot *snapshot;
	struct top_line lines[24], *all;
	size_t count, i, used = 0;

	for (i = 0; i < 50; i++)
		used += snprintf(text + used, sizeof(text) - used,
				 "abusewatch_tenant_usage_ratio{tenant=\"t%02zu\",plan=\"p\","
				 "resource=\"cpu\"} %zu\n", i, i);
	used += snprintf(text + used, sizeof(text) - used,
			 "abusewatch_tenant_cpu_seconds_total{tenant=\"new\\nline-and-a-name-"
			 "longer-than-the-column\",plan=\"p\"} 1\n");
	snapshot = parse(text, 1);
	top_snapshot_sort(snapshot, TOP_SORT_TENANT);
	view.snapshot = snapshot;

	render(&view, 24, lines, &count);
	assert_int_equal(count, 24);
	line_starting(lines, count, " new?line-and-a-n~ p ");
	line_starting(lines, count, " t00");
	line_starting(lines, count, " ... ");
	assert_int_equal(lines[23].style, TOP_STYLE_FOOTER);

	/* Scrolled to the end: the last tenant shows, the first does not. */
	view.first_row = 1000;
	render(&view, 24, lines, &count);
	assert_true(view.first_row < 51);
	line_starting(lines, count, " t49");
	for (i = 0; i < count; i++)
		assert_null(strstr(lines[i].text, "t00 "));

	/* A printout has every tenant and no footer. */
	all = calloc(top_view_lines_needed(snapshot), sizeof(*all));
	assert_non_null(all);
	view.first_row = 0;
	view.footer = 0;
	count = top_view_render(&view, 0, all);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), " t%02zu ", i);
		line_starting(all, count, name);
	}
	for (i = 0; i < count; i++)
		assert_int_not_equal(all[i].style, TOP_STYLE_FOOTER);
	free(all);

	/* A tiny screen: no line beyond it. */
	render(&view, 3, lines, &count);
	assert_true(count <= 3);
	top_snapshot_free(snapshot);
}

static void test_format_quantity(void **state)
{
	char out[32];

	top_format_quantity("memory", 1073741824, out, sizeof(out));
	assert_string_equal(out, "1.0GiB");
	top_format_quantity("net_tx", 20 * 1048576, out, sizeof(out));
	assert_string_equal(out, "20MiB/s");
	top_format_quantity("cpu", 0.5, out, sizeof(out));
	assert_string_equal(out, "0.50 cores");
	top_format_quantity("processes", 512, out, sizeof(out));
	assert_string_equal(out, "512 tasks");
	top_format_quantity("cpu", NAN, out, sizeof(out));
	assert_string_equal(out, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promtext_lines),
		cmocka_unit_test(test_promtext_callback_stops),
		cmocka_unit_test(test_promtext_reads_the_agents_writer),
		cmocka_unit_test(test_model_parse),
		cmocka_unit_test(test_model_rates),
		cmocka_unit_test(test_model_sort),
		cmocka_unit_test(test_model_firing_state),
		cmocka_unit_test(test_view_screen),
		cmocka_unit_test(test_view_scroll_and_names),
		cmocka_unit_test(test_format_quantity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
