// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/evaluate.c: windows over counters and gauges, the
 * edges of `for` and hysteresis, tenants that go, plan changes, the saved
 * state across a restart, and the relative rule.
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

#include <json-c/json.h>
#include <malloc.h>
#include <time.h>

#include "assert_near.h"
#include "config.h"
#include "evaluate.h"
#include "evaluate_state.h"
#include "log.h"

#define MAX_RECORDED 64

struct recorded {
	char tenant[32];
	char plan[32];
	char cgroup[32];
	char rule[16];
	enum resource resource;
	bool firing;
	double value;
	double limit;
	double window_s;
	double since;
};

/* Transitions, copied: their strings live only during the callback. */
struct recorder {
	struct recorded items[MAX_RECORDED];
	size_t count;
	size_t fired;
	size_t resolved;
};

/* Alerts as every rule hands them out (alert_fn). */
static void record(struct alert *transition, void *ctx)
{
	struct recorder *recorder = ctx;
	struct recorded *item;

	if (transition->firing)
		recorder->fired++;
	else
		recorder->resolved++;
	if (recorder->count == MAX_RECORDED)
		return;
	item = &recorder->items[recorder->count++];
	snprintf(item->tenant, sizeof(item->tenant), "%s", transition->tenant);
	snprintf(item->plan, sizeof(item->plan), "%s", transition->plan);
	snprintf(item->cgroup, sizeof(item->cgroup), "%s", transition->cgroup);
	snprintf(item->rule, sizeof(item->rule), "%s", transition->rule);
	item->resource = resource_from_name(transition->resource);
	assert_int_equal(transition->kind, ALERT_OVERUSE);
	assert_non_null(transition->reason);
	item->firing = transition->firing;
	item->value = transition->value;
	item->limit = transition->limit;
	item->window_s = transition->window_s;
	item->since = transition->since;
}

static struct plan make_plan(double window_s, double for_s, double hysteresis)
{
	struct plan plan = {
	    .name = (char *)"test",
	    .window_ms = window_s * 1000,
	    .for_ms = for_s * 1000,
	    .hysteresis = hysteresis,
	};

	plan.has_limit[RESOURCE_CPU] = true;
	plan.limit[RESOURCE_CPU] = 1;
	plan.has_limit[RESOURCE_MEMORY] = true;
	plan.limit[RESOURCE_MEMORY] = 250;
	return plan;
}

static void init_input(struct tenant_row *input, const char *tenant, const char *cgroup,
		       const struct plan *plan)
{
	memset(input, 0, sizeof(*input));
	input->tenant = tenant;
	input->plan = "test";
	input->cgroup = cgroup;
	input->limits = plan;
}

/* One tenant, ticked once a second. */
struct driver {
	struct evaluator *evaluator;
	struct plan plan;
	struct tenant_row input;
	struct recorder recorder;
	double now;
	double cpu; /* cumulative cpu seconds */
};

static void driver_tick(struct driver *driver)
{
	evaluator_tick(driver->evaluator, driver->now, &driver->input, 1, record,
		       &driver->recorder);
}

/* The first tick, at 0: one sample, no usage yet. */
static void driver_start(struct driver *driver, double window_s, double for_s, double hysteresis)
{
	memset(driver, 0, sizeof(*driver));
	driver->evaluator = evaluator_new();
	assert_non_null(driver->evaluator);
	driver->plan = make_plan(window_s, for_s, hysteresis);
	init_input(&driver->input, "t1", "/t1", &driver->plan);
	driver->input.has_value[RESOURCE_CPU] = true;
	driver_tick(driver);
	assert_false(driver->input.has_usage[RESOURCE_CPU]);
	assert_int_equal(driver->recorder.count, 0);
}

/* Ticks once a second up to @until, the tenant using @rate cores meanwhile. */
static void run_cpu(struct driver *driver, double until, double rate)
{
	while (driver->now < until) {
		driver->now += 1;
		driver->cpu += rate;
		driver->input.has_value[RESOURCE_CPU] = true;
		driver->input.value[RESOURCE_CPU] = driver->cpu;
		driver_tick(driver);
	}
}

static void driver_stop(struct driver *driver)
{
	evaluator_free(driver->evaluator);
}

static void expect_usage(const struct tenant_row *input, enum resource resource, double usage)
{
	assert_true(input->has_usage[resource]);
	assert_near(input->usage[resource], usage, 1e-9);
}

static void expect_transition(const struct recorder *recorder, size_t index, const char *tenant,
			      enum resource resource, bool firing, double value, double since)
{
	const struct recorded *item = &recorder->items[index];

	assert_true(index < recorder->count);
	assert_string_equal(item->tenant, tenant);
	assert_int_equal(item->resource, resource);
	assert_int_equal(item->firing, firing);
	assert_string_equal(item->rule, "plan");
	assert_near(item->value, value, 1e-9);
	assert_near(item->since, since, 1e-9);
}

static void test_gauges(void **state)
{
	assert_true(resource_is_gauge(RESOURCE_MEMORY));
	assert_true(resource_is_gauge(RESOURCE_PROCESSES));
	assert_true(resource_is_gauge(RESOURCE_STORAGE));
	assert_false(resource_is_gauge(RESOURCE_CPU));
	assert_false(resource_is_gauge(RESOURCE_FORKS));
	assert_false(resource_is_gauge(RESOURCE_NET_TX));
}

static void test_exactly_at_limit(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 5, 0.9);
	run_cpu(&driver, 60, 1);
	expect_usage(&driver.input, RESOURCE_CPU, 1);
	assert_int_equal(driver.recorder.count, 0);
	assert_false(driver.input.firing[RESOURCE_CPU]);
	assert_false(evaluator_changed(driver.evaluator));
	driver_stop(&driver);
}

static void test_above_longer_than_for_fires_once(void **state)
{
	struct driver driver;
	const struct recorded *item;

	driver_start(&driver, 10, 5, 0.9);
	/* Over from 1 on; at 5 only 4 s have passed. */
	run_cpu(&driver, 5, 1.5);
	expect_usage(&driver.input, RESOURCE_CPU, 1.5);
	assert_int_equal(driver.recorder.count, 0);
	assert_false(driver.input.firing[RESOURCE_CPU]);
	run_cpu(&driver, 6, 1.5);
	assert_int_equal(driver.recorder.count, 1);
	assert_true(evaluator_changed(driver.evaluator));
	assert_true(driver.input.firing[RESOURCE_CPU]);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_CPU, true, 1.5, 6);
	item = &driver.recorder.items[0];
	assert_string_equal(item->plan, "test");
	assert_string_equal(item->cgroup, "/t1");
	assert_near(item->limit, 1, 0);
	assert_near(item->window_s, 10, 0);

	run_cpu(&driver, 7, 1.5);
	assert_false(evaluator_changed(driver.evaluator));
	run_cpu(&driver, 60, 1.5);
	assert_int_equal(driver.recorder.count, 1);
	assert_true(driver.input.firing[RESOURCE_CPU]);
	driver_stop(&driver);
}

static void test_spike_shorter_than_for(void **state)
{
	struct driver driver;

	/* A window of 1 s: usage follows the last second. */
	driver_start(&driver, 1, 5, 0.9);
	run_cpu(&driver, 10, 0.5);
	run_cpu(&driver, 14, 2); /* over at 11..14: 3 s */
	run_cpu(&driver, 30, 0.5);
	assert_int_equal(driver.recorder.count, 0);
	/* The same, 5 s over, is enough. */
	run_cpu(&driver, 36, 2);
	assert_int_equal(driver.recorder.count, 1);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_CPU, true, 2, 36);
	driver_stop(&driver);
}

static void test_hysteresis(void **state)
{
	static const double band[] = {1.5, 2, 1.75, 3, 2, 1.5};
	struct driver driver;
	size_t i;

	/* Limit 2, resolves strictly under 1.5. */
	driver_start(&driver, 1, 0, 0.75);
	driver.plan.limit[RESOURCE_CPU] = 2;
	run_cpu(&driver, 5, 1);
	run_cpu(&driver, 6, 3);
	assert_int_equal(driver.recorder.count, 1);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_CPU, true, 3, 6);

	/* Flapping between limit * hysteresis and the limit, and over it. */
	for (i = 0; i < 40; i++) {
		run_cpu(&driver, driver.now + 1, band[i % 6]);
		assert_true(driver.input.firing[RESOURCE_CPU]);
	}
	assert_int_equal(driver.recorder.count, 1);

	run_cpu(&driver, driver.now + 1, 1.25);
	assert_int_equal(driver.recorder.count, 2);
	assert_true(evaluator_changed(driver.evaluator));
	expect_transition(&driver.recorder, 1, "t1", RESOURCE_CPU, false, 1.25, 6);
	assert_near(driver.recorder.items[1].limit, 2, 0);
	assert_false(driver.input.firing[RESOURCE_CPU]);

	/* Resolved once; back in the band is not over the limit. */
	run_cpu(&driver, driver.now + 10, 1);
	run_cpu(&driver, driver.now + 10, 1.75);
	run_cpu(&driver, driver.now + 10, 2);
	assert_int_equal(driver.recorder.count, 2);
	driver_stop(&driver);
}

static void test_for_zero(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 0, 0.9);
	run_cpu(&driver, 1, 2);
	assert_int_equal(driver.recorder.count, 1);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_CPU, true, 2, 1);
	driver_stop(&driver);
}

static void test_window_longer_than_uptime(void **state)
{
	struct driver driver;

	driver_start(&driver, 60, 30, 0.9);
	run_cpu(&driver, 1, 1);
	expect_usage(&driver.input, RESOURCE_CPU, 1);
	run_cpu(&driver, 2, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 2);
	run_cpu(&driver, 5, 0);
	expect_usage(&driver.input, RESOURCE_CPU, 0.8);
	driver_stop(&driver);
}

static void test_gauge_time_weighted_mean(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 0, 0.9);
	driver.input.has_value[RESOURCE_MEMORY] = true;
	for (driver.now = 0; driver.now <= 20; driver.now++) {
		driver.input.value[RESOURCE_MEMORY] = driver.now < 10 ? 100 : 300;
		driver_tick(&driver);
		if (driver.now == 0)
			assert_false(driver.input.has_usage[RESOURCE_MEMORY]);
		if (driver.now == 1)
			expect_usage(&driver.input, RESOURCE_MEMORY, 100);
		/* Trapezoids: 100 * 9 + 200 * 1 over [0, 10]. */
		if (driver.now == 10)
			expect_usage(&driver.input, RESOURCE_MEMORY, 110);
		if (driver.now == 15)
			expect_usage(&driver.input, RESOURCE_MEMORY, 210);
		/* Exactly the limit 250: nothing. */
		if (driver.now == 17) {
			expect_usage(&driver.input, RESOURCE_MEMORY, 250);
			assert_int_equal(driver.recorder.count, 0);
		}
	}
	expect_usage(&driver.input, RESOURCE_MEMORY, 300);
	/* Fired at 18, with 270. */
	assert_int_equal(driver.recorder.count, 1);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_MEMORY, true, 270, 18);
	driver_stop(&driver);
}

/*
 * A limit of 0 (hugepages: 0): any holding fires, and the alert resolves
 * once the window's mean is back to 0, which no hysteresis could reach.
 */
static void test_zero_limit_resolves_at_zero(void **state)
{
	struct driver driver;

	driver_start(&driver, 4, 1, 0.9);
	driver.plan.has_limit[RESOURCE_HUGEPAGES] = true;
	driver.plan.limit[RESOURCE_HUGEPAGES] = 0;
	driver.input.has_value[RESOURCE_HUGEPAGES] = true;
	for (driver.now = 0; driver.now <= 20; driver.now++) {
		/* 8 MiB held from 2 s to 8 s. */
		driver.input.value[RESOURCE_HUGEPAGES] =
		    driver.now >= 2 && driver.now < 8 ? 8388608 : 0;
		driver_tick(&driver);
		/* Nothing held yet: usage 0 is not over a limit of 0. */
		if (driver.now == 2)
			assert_int_equal(driver.recorder.count, 0);
		/* Still some of the holding in the window: firing. */
		if (driver.now == 11)
			assert_int_equal(driver.recorder.resolved, 0);
	}
	assert_int_equal(driver.recorder.count, 2);
	/* Over at 2 (the trapezoid from 1 s), for 1 s: fired at 3. */
	assert_true(driver.recorder.items[0].firing);
	assert_near(driver.recorder.items[0].since, 3, 1e-9);
	/* Freed at 8; the 4 s window holds none of it from 12 on. */
	assert_false(driver.recorder.items[1].firing);
	expect_usage(&driver.input, RESOURCE_HUGEPAGES, 0);
	driver_stop(&driver);
}

static void test_missing_value_keeps_state(void **state)
{
	struct driver driver;
	int i;

	driver_start(&driver, 1, 0, 0.9);
	run_cpu(&driver, 1, 2);
	assert_int_equal(driver.recorder.count, 1);
	/* Not measured: no usage, no resolve. */
	driver.input.has_value[RESOURCE_CPU] = false;
	for (i = 0; i < 3; i++) {
		driver.now++;
		driver.cpu += 0.25;
		driver_tick(&driver);
		assert_false(driver.input.has_usage[RESOURCE_CPU]);
		assert_true(driver.input.firing[RESOURCE_CPU]);
	}
	assert_int_equal(driver.recorder.count, 1);
	/* Back: the counter's increase is spread over the unmeasured time. */
	run_cpu(&driver, driver.now + 1, 0.25);
	expect_usage(&driver.input, RESOURCE_CPU, 0.25);
	assert_int_equal(driver.recorder.count, 2);
	expect_transition(&driver.recorder, 1, "t1", RESOURCE_CPU, false, 0.25, 1);
	driver_stop(&driver);
}

static void test_tenant_vanishes_while_firing(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 0, 0.9);
	run_cpu(&driver, 1, 2);
	assert_int_equal(driver.recorder.count, 1);
	/* Not in the tick at all. */
	evaluator_tick(driver.evaluator, 2, NULL, 0, record, &driver.recorder);
	assert_int_equal(driver.recorder.count, 2);
	assert_true(evaluator_changed(driver.evaluator));
	expect_transition(&driver.recorder, 1, "t1", RESOURCE_CPU, false, 2, 1);
	assert_string_equal(driver.recorder.items[1].cgroup, "/t1");

	/* Back again: a new tenant, without history. */
	driver.now = 3;
	driver_tick(&driver);
	assert_false(driver.input.has_usage[RESOURCE_CPU]);
	assert_false(driver.input.firing[RESOURCE_CPU]);
	run_cpu(&driver, 4, 2);
	assert_int_equal(driver.recorder.count, 3);
	expect_transition(&driver.recorder, 2, "t1", RESOURCE_CPU, true, 2, 4);

	/* Still listed, but its cgroups are gone. */
	driver.input.gone = true;
	driver.now = 5;
	driver_tick(&driver);
	assert_int_equal(driver.recorder.count, 4);
	expect_transition(&driver.recorder, 3, "t1", RESOURCE_CPU, false, 2, 4);
	assert_false(driver.input.firing[RESOURCE_CPU]);
	driver.now = 6;
	driver_tick(&driver);
	assert_int_equal(driver.recorder.count, 4);
	driver_stop(&driver);
}

static void test_limit_removed_while_firing(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 0, 0.9);
	run_cpu(&driver, 1, 2);
	assert_int_equal(driver.recorder.count, 1);
	/* A reload whose plan no longer limits cpu. */
	driver.plan.has_limit[RESOURCE_CPU] = false;
	run_cpu(&driver, 2, 2);
	assert_int_equal(driver.recorder.count, 2);
	expect_transition(&driver.recorder, 1, "t1", RESOURCE_CPU, false, 2, 1);
	assert_near(driver.recorder.items[1].limit, 1, 0);
	run_cpu(&driver, 10, 2);
	assert_int_equal(driver.recorder.count, 2);

	/* Limited again, then the plan disappears altogether. */
	driver.plan.has_limit[RESOURCE_CPU] = true;
	run_cpu(&driver, 11, 2);
	assert_int_equal(driver.recorder.count, 3);
	driver.input.limits = NULL;
	run_cpu(&driver, 12, 2);
	assert_int_equal(driver.recorder.count, 4);
	expect_transition(&driver.recorder, 3, "t1", RESOURCE_CPU, false, 2, 11);
	/* Usage is still known without a plan. */
	expect_usage(&driver.input, RESOURCE_CPU, 2);
	driver_stop(&driver);
}

static void test_window_changed_on_reload(void **state)
{
	struct driver driver;

	driver_start(&driver, 60, 0, 0.9);
	driver.plan.limit[RESOURCE_CPU] = 100;
	run_cpu(&driver, 30, 1);
	run_cpu(&driver, 40, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 1.5);
	/* Shorter: [31, 41]. */
	driver.plan.window_ms = 10000;
	run_cpu(&driver, 41, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 3);
	/* Longer again: what is left goes back to 31. */
	driver.plan.window_ms = 60000;
	run_cpu(&driver, 42, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 3);
	/* A window starting between samples: [42.5, 45] is 0.5 * 2 + 1 + 1. */
	driver.plan.window_ms = 2500;
	run_cpu(&driver, 43, 2);
	run_cpu(&driver, 45, 1);
	expect_usage(&driver.input, RESOURCE_CPU, 3 / 2.5);
	assert_int_equal(driver.recorder.count, 0);
	driver_stop(&driver);
}

static void test_long_window_is_thinned(void **state)
{
	struct driver driver;

	/* More samples than are kept: the oldest still anchors the window. */
	driver_start(&driver, 100000, 0, 0.9);
	driver.plan.limit[RESOURCE_CPU] = 100;
	run_cpu(&driver, 5000, 1);
	run_cpu(&driver, 10000, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 2);
	driver.plan.window_ms = 1000000;
	run_cpu(&driver, 12000, 3);
	expect_usage(&driver.input, RESOURCE_CPU, 3);
	driver_stop(&driver);
}

static void test_resolved_before_fired(void **state)
{
	struct evaluator *evaluator = evaluator_new();
	struct plan plan = make_plan(1, 0, 0.9);
	struct recorder recorder = {0};
	struct tenant_row inputs[2];
	int now;

	assert_non_null(evaluator);
	init_input(&inputs[0], "b", "/b", &plan);
	init_input(&inputs[1], "a", "/a", &plan);
	inputs[0].has_value[RESOURCE_CPU] = inputs[1].has_value[RESOURCE_CPU] = true;
	for (now = 0; now <= 3; now++) {
		/* a over at 1..2, b over from 3 on. */
		inputs[1].value[RESOURCE_CPU] += now == 1 || now == 2 ? 2 : 0;
		inputs[0].value[RESOURCE_CPU] += now >= 3 ? 2 : 0;
		evaluator_tick(evaluator, now, inputs, 2, record, &recorder);
	}
	assert_int_equal(recorder.count, 3);
	expect_transition(&recorder, 0, "a", RESOURCE_CPU, true, 2, 1);
	expect_transition(&recorder, 1, "a", RESOURCE_CPU, false, 0, 1);
	expect_transition(&recorder, 2, "b", RESOURCE_CPU, true, 2, 3);
	evaluator_free(evaluator);
}

static void test_save_load(void **state)
{
	char dir[] = "/tmp/test_evaluate.XXXXXX", path[256], tmp_path[300];
	struct plan plan = make_plan(10, 0, 0.9);
	struct recorder recorder = {0};
	struct json_object *root, *alerts, *alert, *field;
	struct evaluator *evaluator;
	struct tenant_row inputs[2];
	double cpu = 0;
	size_t i;
	int now;
	FILE *file;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/alerts.json", dir);
	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path);

	evaluator = evaluator_new();
	assert_non_null(evaluator);
	assert_int_equal(evaluator_load(evaluator, path, 1e9, 10, 30), -ENOENT);
	assert_false(evaluator_changed(evaluator));
	init_input(&inputs[0], "a", "/a", &plan);
	init_input(&inputs[1], "b", "/b", &plan);
	for (now = 0; now <= 10; now++) {
		for (i = 0; i < 2; i++) {
			inputs[i].has_value[RESOURCE_CPU] = true;
			inputs[i].value[RESOURCE_CPU] = cpu;
		}
		cpu += 2;
		evaluator_tick(evaluator, now, inputs, 2, record, &recorder);
	}
	assert_int_equal(recorder.fired, 2);
	assert_int_equal(evaluator_save(evaluator, path, 1000000, 10), 0);
	assert_int_equal(access(tmp_path, F_OK), -1);
	evaluator_free(evaluator);

	/* The file, as the operator sees it. */
	root = json_object_from_file(path);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "alerts", &alerts));
	assert_int_equal(json_object_array_length(alerts), 2);
	for (i = 0; i < 2; i++) {
		alert = json_object_array_get_idx(alerts, i);
		assert_true(json_object_object_get_ex(alert, "tenant", &field));
		if (strcmp(json_object_get_string(field), "b"))
			continue;
		assert_true(json_object_object_get_ex(alert, "cgroup", &field));
		assert_string_equal(json_object_get_string(field), "/b");
		assert_true(json_object_object_get_ex(alert, "plan", &field));
		assert_string_equal(json_object_get_string(field), "test");
		assert_true(json_object_object_get_ex(alert, "resource", &field));
		assert_string_equal(json_object_get_string(field), "cpu");
		assert_true(json_object_object_get_ex(alert, "value", &field));
		assert_near(json_object_get_double(field), 2, 1e-9);
		assert_true(json_object_object_get_ex(alert, "limit", &field));
		assert_near(json_object_get_double(field), 1, 0);
		assert_true(json_object_object_get_ex(alert, "window_s", &field));
		assert_near(json_object_get_double(field), 10, 0);
		/* Fired at 1, 9 s before the save. */
		assert_true(json_object_object_get_ex(alert, "since", &field));
		assert_near(json_object_get_double(field), 999991, 1e-6);
	}
	json_object_put(root);

	/* Restarted 100 s later; the monotonic clock now reads 500. */
	evaluator = evaluator_new();
	assert_non_null(evaluator);
	memset(&recorder, 0, sizeof(recorder));
	assert_int_equal(evaluator_load(evaluator, path, 1000100, 500, 30), 0);
	assert_true(evaluator_changed(evaluator));

	/* a is back and still over; b is not back. */
	for (now = 501; now < 530; now++) {
		inputs[0].value[RESOURCE_CPU] = cpu;
		cpu += 2;
		evaluator_tick(evaluator, now, inputs, 1, record, &recorder);
		assert_true(inputs[0].firing[RESOURCE_CPU]);
		assert_false(evaluator_changed(evaluator));
	}
	assert_int_equal(recorder.count, 0);
	/* Grace is over: b resolves, since as loaded. */
	inputs[0].value[RESOURCE_CPU] = cpu;
	evaluator_tick(evaluator, 530, inputs, 1, record, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_transition(&recorder, 0, "b", RESOURCE_CPU, false, 2, 391);
	assert_string_equal(recorder.items[0].cgroup, "/b");
	assert_near(recorder.items[0].limit, 1, 0);
	assert_true(evaluator_changed(evaluator));
	/* a resolves on its usage: idle over the whole window. */
	evaluator_tick(evaluator, 541, inputs, 1, record, &recorder);
	assert_int_equal(recorder.count, 2);
	expect_transition(&recorder, 1, "a", RESOURCE_CPU, false, 0, 391);

	/* Nothing fires: an empty list, which loads as nothing. */
	assert_int_equal(evaluator_save(evaluator, path, 1000141, 541), 0);
	evaluator_free(evaluator);
	evaluator = evaluator_new();
	assert_non_null(evaluator);
	assert_int_equal(evaluator_load(evaluator, path, 1000200, 600, 30), 0);
	assert_false(evaluator_changed(evaluator));

	/* Not a state file. */
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("{\"alerts\": [", file);
	fclose(file);
	assert_int_equal(evaluator_load(evaluator, path, 1000200, 600, 30), -EINVAL);
	assert_false(evaluator_changed(evaluator));
	evaluator_free(evaluator);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_many_tenants(void **state)
{
	enum { TENANTS = 1000, TICKS = 100 };
	struct evaluator *evaluator = evaluator_new();
	struct plan plan = make_plan(10, 5, 0.9);
	struct recorder recorder = {0};
	struct tenant_row *inputs;
	char(*names)[32];
	size_t i, count;
	int now;

	assert_non_null(evaluator);
	inputs = calloc(TENANTS, sizeof(*inputs));
	names = calloc(TENANTS, sizeof(*names));
	assert_non_null(inputs);
	assert_non_null(names);
	for (i = 0; i < TENANTS; i++) {
		snprintf(names[i], sizeof(names[i]), "tenant-%zu", i);
		init_input(&inputs[i], names[i], names[i], &plan);
	}
	for (now = 0; now < TICKS; now++) {
		/* Half of them leave at 50. */
		count = now < 50 ? TENANTS : TENANTS / 2;
		for (i = 0; i < count; i++) {
			inputs[i].has_value[RESOURCE_CPU] = true;
			/* Every tenth is over its limit. */
			inputs[i].value[RESOURCE_CPU] = now * (i % 10 ? 0.5 : 2);
			inputs[i].has_value[RESOURCE_MEMORY] = true;
			inputs[i].value[RESOURCE_MEMORY] = i % 200;
		}
		evaluator_tick(evaluator, now, inputs, count, record, &recorder);
	}
	assert_int_equal(recorder.fired, TENANTS / 10);
	assert_int_equal(recorder.resolved, TENANTS / 20);
	expect_usage(&inputs[0], RESOURCE_CPU, 2);
	expect_usage(&inputs[499], RESOURCE_MEMORY, 99);
	evaluator_free(evaluator);
	free(names);
	free(inputs);
}

/*
 * Windowed usage the way the top of evaluate.c defines it, from the sums
 * at every tick, for 1 s ticks from 0 and a whole window: what the
 * evaluator must match however few samples it keeps.
 */
struct reference {
	bool has_last;
	double last_value;
	double last_time;
	double sum[512];
	double covered[512];
};

static void reference_tick(struct reference *reference, bool gauge, int now, bool has_value,
			   double value)
{
	double sum = now ? reference->sum[now - 1] : 0;
	double covered = now ? reference->covered[now - 1] : 0;

	if (has_value && reference->has_last) {
		double elapsed = now - reference->last_time;

		if (gauge)
			sum += (reference->last_value + value) / 2 * elapsed;
		else if (value > reference->last_value)
			sum += value - reference->last_value;
		covered += elapsed;
	}
	if (has_value) {
		reference->has_last = true;
		reference->last_value = value;
		reference->last_time = now;
	}
	reference->sum[now] = sum;
	reference->covered[now] = covered;
}

static void expect_reference(const struct tenant_row *input, enum resource resource,
			     const struct reference *reference, int now, int window_s)
{
	int start = now > window_s ? now - window_s : 0;
	double covered = reference->covered[now] - reference->covered[start];

	if (!input->has_value[resource] || covered <= 0) {
		assert_false(input->has_usage[resource]);
		return;
	}
	assert_true(input->has_usage[resource]);
	assert_near(input->usage[resource], (reference->sum[now] - reference->sum[start]) / covered,
		    1e-9 * (1 + fabs(input->usage[resource])));
}

/*
 * Busy, idle past a whole window (quiet), waking, unmeasured for a while,
 * idle again: the usage is the one of every sample kept, at every tick.
 */
static void test_windows_match_every_sample(void **state)
{
	enum { TICKS = 500, WINDOW = 60 };
	static struct reference cpu, memory;
	struct plan plan = make_plan(WINDOW, 0, 0.9);
	struct recorder recorder = {0};
	struct evaluator *evaluator;
	struct tenant_row input;
	uint32_t random = 1;
	int now;

	memset(&cpu, 0, sizeof(cpu));
	memset(&memory, 0, sizeof(memory));
	plan.limit[RESOURCE_CPU] = 1e9;
	plan.limit[RESOURCE_MEMORY] = 1e18;
	evaluator = evaluator_new();
	assert_non_null(evaluator);
	init_input(&input, "t1", "/t1", &plan);
	for (now = 0; now < TICKS; now++) {
		bool busy = now < 100 || (now >= 250 && now < 300) || (now >= 420 && now < 425);
		bool unmeasured = now >= 300 && now < 306;

		random = random * 1103515245 + 12345;
		if (busy) {
			input.value[RESOURCE_CPU] += (random >> 16) % 1000 / 250.0;
			input.value[RESOURCE_MEMORY] = (random >> 8) % 4096;
		}
		input.has_value[RESOURCE_CPU] = !unmeasured;
		input.has_value[RESOURCE_MEMORY] = !(unmeasured && now % 2);
		evaluator_tick(evaluator, now, &input, 1, record, &recorder);
		reference_tick(&cpu, false, now, input.has_value[RESOURCE_CPU],
			       input.value[RESOURCE_CPU]);
		reference_tick(&memory, true, now, input.has_value[RESOURCE_MEMORY],
			       input.value[RESOURCE_MEMORY]);
		expect_reference(&input, RESOURCE_CPU, &cpu, now, WINDOW);
		expect_reference(&input, RESOURCE_MEMORY, &memory, now, WINDOW);
	}
	assert_int_equal(recorder.count, 0);
	evaluator_free(evaluator);
}

/*
 * Only what is compared has a window. A limit that comes with a reload
 * starts its window then; one taken away keeps it one window more.
 */
static void test_window_follows_limits(void **state)
{
	struct driver driver;

	driver_start(&driver, 10, 0, 0.9);
	driver.plan.has_limit[RESOURCE_MEMORY] = false;
	driver.input.has_value[RESOURCE_MEMORY] = true;
	driver.input.has_value[RESOURCE_DISK_READ] = true;
	driver.input.value[RESOURCE_MEMORY] = 100;
	run_cpu(&driver, 14, 0.5);
	expect_usage(&driver.input, RESOURCE_CPU, 0.5);
	assert_false(driver.input.has_usage[RESOURCE_MEMORY]);
	assert_false(driver.input.has_usage[RESOURCE_DISK_READ]);

	/* Memory limited from 20: its mean from 20 on, 300 only. */
	driver.input.value[RESOURCE_MEMORY] = 300;
	run_cpu(&driver, 19, 0.5);
	assert_false(driver.input.has_usage[RESOURCE_MEMORY]);
	driver.plan.has_limit[RESOURCE_MEMORY] = true;
	run_cpu(&driver, 20, 0.5);
	assert_false(driver.input.has_usage[RESOURCE_MEMORY]);
	assert_int_equal(driver.recorder.count, 0);
	run_cpu(&driver, 21, 0.5);
	expect_usage(&driver.input, RESOURCE_MEMORY, 300);
	assert_int_equal(driver.recorder.count, 1);
	expect_transition(&driver.recorder, 0, "t1", RESOURCE_MEMORY, true, 300, 21);

	/* Taken away at 30: resolved, the window kept until 40, then gone. */
	run_cpu(&driver, 29, 0.5);
	assert_int_equal(driver.recorder.count, 1);
	driver.plan.has_limit[RESOURCE_MEMORY] = false;
	run_cpu(&driver, 30, 0.5);
	assert_int_equal(driver.recorder.count, 2);
	expect_transition(&driver.recorder, 1, "t1", RESOURCE_MEMORY, false, 300, 21);
	run_cpu(&driver, 40, 0.5);
	expect_usage(&driver.input, RESOURCE_MEMORY, 300);
	run_cpu(&driver, 41, 0.5);
	assert_false(driver.input.has_usage[RESOURCE_MEMORY]);
	expect_usage(&driver.input, RESOURCE_CPU, 0.5);
	driver_stop(&driver);
}

/*
 * Rows in name order are paired with the last tick's tenants by a walk;
 * one gone between others, a new one, or rows out of order still find
 * their own history.
 */
static void test_rows_change_between_ticks(void **state)
{
	static const char *const names[] = {"a", "b", "c", "d", "e", "f"};
	/* Row by row, which tenant. */
	static const int ticks[][5] = {
	    {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, {0, 2, 3, 5, -1}, {3, 0, 5, 2, -1}, {0, 2, 3, 5, -1},
	};
	struct plan plan = make_plan(10, 0, 0.9);
	struct recorder recorder = {0};
	struct tenant_row inputs[5];
	static const double rates[] = {1, 20, 3, 4, 5, 6};
	double cpu[6] = {0};
	struct evaluator *evaluator = evaluator_new();
	size_t now, i, count;

	assert_non_null(evaluator);
	/* Only b is over. */
	plan.limit[RESOURCE_CPU] = 10;
	for (now = 0; now < 5; now++) {
		for (count = 0; count < 5 && ticks[now][count] >= 0; count++) {
			int tenant = ticks[now][count];

			init_input(&inputs[count], names[tenant], names[tenant], &plan);
			inputs[count].has_value[RESOURCE_CPU] = true;
			inputs[count].value[RESOURCE_CPU] = cpu[tenant];
			cpu[tenant] += rates[tenant];
		}
		evaluator_tick(evaluator, now, inputs, count, record, &recorder);
	}
	/* b fired at 1 and resolved at 2, gone; e went quietly; f is new. */
	assert_int_equal(recorder.count, 2);
	expect_transition(&recorder, 0, "b", RESOURCE_CPU, true, 20, 1);
	expect_transition(&recorder, 1, "b", RESOURCE_CPU, false, 20, 1);
	for (i = 0; i < count; i++)
		expect_usage(&inputs[i], RESOURCE_CPU, rates[inputs[i].tenant[0] - 'a']);
	evaluator_free(evaluator);
}

/* The relative rule */

#define GROUP_MAX 8

/*
 * Tenants side by side, ticked once a second with a window of 1 s, so that
 * each one's usage is what it used in the last second. Factor 4, at least
 * 3 active, a floor of 1 core (active from 0.25); plan limits out of reach.
 */
struct group {
	struct evaluator *evaluator;
	struct plan plan;
	struct relative_config relative;
	struct tenant_row inputs[GROUP_MAX];
	char names[GROUP_MAX][16];
	double cpu[GROUP_MAX]; /* cumulative cpu seconds */
	double rate[GROUP_MAX];
	size_t count;
	struct recorder recorder;
	double now;
};

static void group_tick(struct group *group)
{
	size_t i;

	for (i = 0; i < group->count; i++) {
		group->inputs[i].has_value[RESOURCE_CPU] = true;
		group->inputs[i].value[RESOURCE_CPU] = group->cpu[i];
	}
	evaluator_tick(group->evaluator, group->now, group->inputs, group->count, record,
		       &group->recorder);
}

/* The first tick, at 0: no usage yet. */
static void group_start(struct group *group, size_t count, double for_s, double hysteresis)
{
	size_t i;

	memset(group, 0, sizeof(*group));
	group->evaluator = evaluator_new();
	assert_non_null(group->evaluator);
	group->plan = make_plan(1, for_s, hysteresis);
	group->plan.limit[RESOURCE_CPU] = 1000;
	group->relative.factor = 4;
	group->relative.min_tenants = 3;
	group->relative.has_floor[RESOURCE_CPU] = true;
	group->relative.floor[RESOURCE_CPU] = 1;
	evaluator_set_relative(group->evaluator, &group->relative);
	for (i = 0; i < GROUP_MAX; i++) {
		snprintf(group->names[i], sizeof(group->names[i]), "t%zu", i);
		init_input(&group->inputs[i], group->names[i], group->names[i], &group->plan);
	}
	group->count = count;
	group_tick(group);
	assert_int_equal(group->recorder.count, 0);
}

static void group_set_rates(struct group *group, const double *rates, size_t count)
{
	memcpy(group->rate, rates, count * sizeof(*rates));
}

/* Ticks once a second up to @until, each tenant using its rate meanwhile. */
static void group_run(struct group *group, double until)
{
	size_t i;

	while (group->now < until) {
		group->now += 1;
		for (i = 0; i < group->count; i++)
			group->cpu[i] += group->rate[i];
		group_tick(group);
	}
}

/* Applies a changed group->relative. */
static void group_set_relative(struct group *group)
{
	evaluator_set_relative(group->evaluator, &group->relative);
}

static void group_stop(struct group *group)
{
	evaluator_free(group->evaluator);
}

/* Exactly the tenants in @mask fire by the relative rule on cpu; none by the plan. */
static void expect_relative_firing(const struct group *group, unsigned int mask)
{
	size_t i;

	for (i = 0; i < group->count; i++) {
		assert_int_equal(group->inputs[i].relative_firing[RESOURCE_CPU],
				 !!(mask & (1u << i)));
		assert_false(group->inputs[i].firing[RESOURCE_CPU]);
	}
}

static void expect_relative(const struct recorder *recorder, size_t index, const char *tenant,
			    bool firing, double value, double limit, double since)
{
	const struct recorded *item = &recorder->items[index];

	assert_true(index < recorder->count);
	assert_string_equal(item->tenant, tenant);
	assert_int_equal(item->resource, RESOURCE_CPU);
	assert_string_equal(item->rule, "relative");
	assert_int_equal(item->firing, firing);
	assert_near(item->value, value, 1e-9);
	assert_near(item->limit, limit, 1e-9);
	assert_near(item->since, since, 1e-9);
}

static void test_relative_one_busy_tenant(void **state)
{
	static const double rates[] = {0.5, 0.75, 0.5, 1, 3};
	const struct recorded *item;
	struct group group;

	/* t4's others: 0.5 0.5 0.75 1, median 0.625; t3's: 0.5 0.5 0.75 3, the same. */
	group_start(&group, 5, 0, 0.9);
	group_set_rates(&group, rates, 5);
	group_run(&group, 1);
	assert_int_equal(group.recorder.count, 1);
	assert_true(evaluator_changed(group.evaluator));
	expect_relative(&group.recorder, 0, "t4", true, 3, 2.5, 1);
	item = &group.recorder.items[0];
	assert_string_equal(item->plan, "test");
	assert_string_equal(item->cgroup, "t4");
	assert_near(item->window_s, 1, 0);
	expect_usage(&group.inputs[4], RESOURCE_CPU, 3);
	expect_relative_firing(&group, 1u << 4);

	group_run(&group, 20);
	assert_int_equal(group.recorder.count, 1);
	assert_false(evaluator_changed(group.evaluator));
	expect_relative_firing(&group, 1u << 4);
	group_stop(&group);
}

static void test_relative_equal_and_tie(void **state)
{
	static const double quiet_and_at_limit[] = {0.5, 0.5, 0.5, 0.5, 2};
	static const double equal[] = {2, 2, 2, 2, 2};
	static const double huge[] = {100, 100, 100, 100, 100};
	struct group group;

	/* Everyone equally busy, however busy, looks excessive to nobody. */
	group_start(&group, 5, 0, 0.9);
	group_set_rates(&group, equal, 5);
	group_run(&group, 10);
	group_set_rates(&group, huge, 5);
	group_run(&group, 20);
	assert_int_equal(group.recorder.count, 0);
	expect_relative_firing(&group, 0);

	/* Exactly factor x the median of the others is not over it. */
	group_set_rates(&group, quiet_and_at_limit, 5);
	group_run(&group, 30);
	assert_int_equal(group.recorder.count, 0);
	group.rate[4] = 2.25;
	group_run(&group, 31);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", true, 2.25, 2, 31);
	group_stop(&group);
}

static void test_relative_ties_among_others(void **state)
{
	static const double two_busy[] = {1, 1, 1, 5, 5};
	struct group group;

	/*
	 * t3 and t4 leave out their own 5, not one of the 1s: each sees
	 * 1 1 1 5, median 1, and fires over 4.
	 */
	group_start(&group, 5, 0, 0.9);
	group_set_rates(&group, two_busy, 5);
	group_run(&group, 1);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 0, "t3", true, 5, 4, 1);
	expect_relative(&group.recorder, 1, "t4", true, 5, 4, 1);
	expect_relative_firing(&group, 1u << 3 | 1u << 4);

	/* Three at 5: each sees 1 1 5 5, median 3, 12: both resolve, t2 never fires. */
	group.rate[2] = 5;
	group_run(&group, 2);
	assert_int_equal(group.recorder.count, 4);
	expect_relative(&group.recorder, 2, "t3", false, 5, 12, 1);
	expect_relative(&group.recorder, 3, "t4", false, 5, 12, 1);
	group_run(&group, 10);
	assert_int_equal(group.recorder.count, 4);
	expect_relative_firing(&group, 0);
	group_stop(&group);
}

static void test_relative_min_tenants(void **state)
{
	static const double one_idle[] = {0.5, 0.125, 3};
	struct group group;

	/* Alone: fewer than 3; and with min_tenants 1, no others to compare with. */
	group_start(&group, 1, 0, 0.9);
	group.rate[0] = 100;
	group_run(&group, 5);
	group.relative.min_tenants = 1;
	group_set_relative(&group);
	group_run(&group, 10);
	assert_int_equal(group.recorder.count, 0);
	expect_relative_firing(&group, 0);
	group_stop(&group);

	/* Two active, one idle: one fewer than min_tenants. */
	group_start(&group, 3, 0, 0.9);
	group_set_rates(&group, one_idle, 3);
	group_run(&group, 5);
	assert_int_equal(group.recorder.count, 0);
	/* Exactly min_tenants active: t2's others are 0.5 0.5. */
	group.rate[1] = 0.5;
	group_run(&group, 6);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t2", true, 3, 2, 6);
	/* One fewer again: resolves. */
	group.rate[1] = 0.125;
	group_run(&group, 7);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 1, "t2", false, 3, 2, 6);
	expect_relative_firing(&group, 0);
	group_stop(&group);
}

static void test_relative_idle_not_active(void **state)
{
	/* 0.25 is exactly floor / factor: active. 0 and 0.125 are not. */
	static const double rates[] = {0, 0.125, 0.25, 0.5, 3};
	struct group group;

	/* t4's others are 0.25 0.5, not 0 0.125 0.25 0.5: 4 x 0.375. */
	group_start(&group, 5, 0, 0.9);
	group_set_rates(&group, rates, 5);
	group_run(&group, 1);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", true, 3, 1.5, 1);
	/* Only 3 are active, not 5. */
	group.relative.min_tenants = 4;
	group_set_relative(&group);
	group_run(&group, 2);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 1, "t4", false, 3, 1.5, 1);
	group_stop(&group);
}

static void test_relative_floor(void **state)
{
	static const double rates[] = {0.25, 0.25, 0.25, 0.25, 0.75};
	struct group group;
	size_t i;

	/* The others under floor / factor: t4 at 100 x their usage is alone. */
	group_start(&group, 5, 0, 0.9);
	for (i = 0; i < 4; i++)
		group.rate[i] = 1.0 / 128;
	group.rate[4] = 100.0 / 128;
	group_run(&group, 10);
	assert_int_equal(group.recorder.count, 0);
	/* Under the floor of 1: 3 x the median, still nothing. */
	group_set_rates(&group, rates, 5);
	group_run(&group, 20);
	assert_int_equal(group.recorder.count, 0);
	expect_relative_firing(&group, 0);
	/* Over both. */
	group.rate[4] = 1.5;
	group_run(&group, 21);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", true, 1.5, 1, 21);
	group_stop(&group);
}

static void test_relative_tenants_come_and_go(void **state)
{
	static const double rates[] = {0.5, 1, 3, 0.5};
	struct group group;

	/* t2's others are 0.5 1: exactly at 3. */
	group_start(&group, 3, 0, 0.9);
	group_set_rates(&group, rates, 4);
	group_run(&group, 5);
	assert_int_equal(group.recorder.count, 0);
	/* t3 joins: no usage at its first tick, then 0.5 0.5 1 make it 2. */
	group.count = 4;
	group_run(&group, 6);
	assert_int_equal(group.recorder.count, 0);
	group_run(&group, 7);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t2", true, 3, 2, 7);
	expect_relative_firing(&group, 1u << 2);
	/* t3 leaves: back to 3, which hysteresis keeps firing. */
	group.count = 3;
	group_run(&group, 8);
	assert_int_equal(group.recorder.count, 1);
	expect_relative_firing(&group, 1u << 2);
	/* t1's cgroups go: two active, fewer than 3. The limit is the last one. */
	group.inputs[1].gone = true;
	group_run(&group, 9);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 1, "t2", false, 3, 3, 7);
	expect_relative_firing(&group, 0);
	group_stop(&group);
}

static void test_relative_for_and_hysteresis(void **state)
{
	static const double band[] = {1.5, 1, 2, 3, 1};
	struct group group;
	size_t i;

	/* for 5 s; limit 2, resolves strictly under 2 x 0.5. */
	group_start(&group, 5, 5, 0.5);
	for (i = 0; i < 5; i++)
		group.rate[i] = 0.5;
	group_run(&group, 10);
	group.rate[4] = 3; /* over at 11..13: 3 s */
	group_run(&group, 13);
	group.rate[4] = 0.5;
	group_run(&group, 20);
	assert_int_equal(group.recorder.count, 0);
	group.rate[4] = 3; /* over from 21 */
	group_run(&group, 25);
	assert_int_equal(group.recorder.count, 0);
	group_run(&group, 26);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", true, 3, 2, 26);
	for (i = 0; i < 20; i++) {
		group.rate[4] = band[i % 5];
		group_run(&group, group.now + 1);
		expect_relative_firing(&group, 1u << 4);
	}
	assert_int_equal(group.recorder.count, 1);
	group.rate[4] = 0.75;
	group_run(&group, group.now + 1);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 1, "t4", false, 0.75, 2, 26);
	group_stop(&group);
}

static void test_relative_without_plan(void **state)
{
	struct group group;
	double fired_at;
	size_t i;

	/* The contract's defaults: window 60 s, for 30 s, hysteresis 0.9. */
	group_start(&group, 5, 0, 0.9);
	for (i = 0; i < 5; i++) {
		group.inputs[i].limits = NULL;
		group.rate[i] = 0.5;
	}
	group.rate[4] = 3;
	group_run(&group, 30);
	assert_int_equal(group.recorder.count, 0);
	group_run(&group, 31);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", true, 3, 2, 31);
	assert_near(group.recorder.items[0].window_s, 60, 0);

	/* Idle from 40: its mean over 60 s is (100 - now) / 20, under 1.8 after 64. */
	group_run(&group, 40);
	group.rate[4] = 0;
	group_run(&group, 63);
	assert_int_equal(group.recorder.count, 1);
	while (group.recorder.count == 1 && group.now < 70)
		group_run(&group, group.now + 1);
	fired_at = group.now;
	assert_true(fired_at >= 64 && fired_at <= 65);
	expect_relative(&group.recorder, 1, "t4", false, (100 - fired_at) / 20, 2, 31);
	group_stop(&group);
}

static void test_relative_rule_removed(void **state)
{
	struct group group;
	size_t i;

	group_start(&group, 5, 0, 0.9);
	for (i = 0; i < 4; i++)
		group.rate[i] = 0.5;
	group.rate[4] = 3;
	group_run(&group, 1);
	assert_int_equal(group.recorder.count, 1);

	/* A reload that compares memory only. */
	group.relative.has_floor[RESOURCE_CPU] = false;
	group.relative.has_floor[RESOURCE_MEMORY] = true;
	group.relative.floor[RESOURCE_MEMORY] = 1;
	group_set_relative(&group);
	group_run(&group, 2);
	assert_int_equal(group.recorder.count, 2);
	expect_relative(&group.recorder, 1, "t4", false, 3, 2, 1);

	/* Back, then no relative rule at all. */
	group.relative.has_floor[RESOURCE_CPU] = true;
	group_set_relative(&group);
	group_run(&group, 3);
	assert_int_equal(group.recorder.count, 3);
	expect_relative(&group.recorder, 2, "t4", true, 3, 2, 3);
	evaluator_set_relative(group.evaluator, NULL);
	group_run(&group, 4);
	assert_int_equal(group.recorder.count, 4);
	expect_relative(&group.recorder, 3, "t4", false, 3, 2, 3);
	group_run(&group, 10);
	assert_int_equal(group.recorder.count, 4);

	/* A factor of 0, which the configuration refuses, is no rule either. */
	group_set_relative(&group);
	group_run(&group, 11);
	assert_int_equal(group.recorder.count, 5);
	group.relative.factor = 0;
	group_set_relative(&group);
	group_run(&group, 12);
	assert_int_equal(group.recorder.count, 6);
	expect_relative(&group.recorder, 5, "t4", false, 3, 2, 11);
	expect_relative_firing(&group, 0);
	group_stop(&group);
}

static void test_relative_and_plan_together(void **state)
{
	struct group group;
	size_t i;

	group_start(&group, 5, 0, 0.9);
	group.plan.limit[RESOURCE_CPU] = 2.5;
	for (i = 0; i < 4; i++)
		group.rate[i] = 0.5;
	group.rate[4] = 3;
	group_run(&group, 1);
	/* Two alerts: the plan's first, as it is evaluated first. */
	assert_int_equal(group.recorder.count, 2);
	expect_transition(&group.recorder, 0, "t4", RESOURCE_CPU, true, 3, 1);
	assert_near(group.recorder.items[0].limit, 2.5, 0);
	expect_relative(&group.recorder, 1, "t4", true, 3, 2, 1);
	assert_true(group.inputs[4].firing[RESOURCE_CPU]);
	assert_true(group.inputs[4].relative_firing[RESOURCE_CPU]);

	/* Each resolves on its own. */
	group.relative.has_floor[RESOURCE_CPU] = false;
	group_set_relative(&group);
	group_run(&group, 2);
	assert_int_equal(group.recorder.count, 3);
	expect_relative(&group.recorder, 2, "t4", false, 3, 2, 1);
	assert_true(group.inputs[4].firing[RESOURCE_CPU]);
	assert_false(group.inputs[4].relative_firing[RESOURCE_CPU]);
	group.rate[4] = 2;
	group_run(&group, 3);
	assert_int_equal(group.recorder.count, 4);
	expect_transition(&group.recorder, 3, "t4", RESOURCE_CPU, false, 2, 1);
	assert_false(group.inputs[4].firing[RESOURCE_CPU]);
	group_stop(&group);
}

static void test_relative_save_load(void **state)
{
	char dir[] = "/tmp/test_evaluate.XXXXXX", path[256];
	struct json_object *root, *alerts, *alert, *field;
	struct group group;
	FILE *file;
	size_t i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/alerts.json", dir);
	group_start(&group, 5, 0, 0.9);
	for (i = 0; i < 4; i++)
		group.rate[i] = 0.5;
	group.rate[4] = 3;
	group_run(&group, 10);
	assert_int_equal(group.recorder.count, 1);
	assert_int_equal(evaluator_save(group.evaluator, path, 1000000, 10), 0);
	evaluator_free(group.evaluator);

	root = json_object_from_file(path);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "alerts", &alerts));
	assert_int_equal(json_object_array_length(alerts), 1);
	alert = json_object_array_get_idx(alerts, 0);
	assert_true(json_object_object_get_ex(alert, "rule", &field));
	assert_string_equal(json_object_get_string(field), "relative");
	assert_true(json_object_object_get_ex(alert, "tenant", &field));
	assert_string_equal(json_object_get_string(field), "t4");
	assert_true(json_object_object_get_ex(alert, "limit", &field));
	assert_near(json_object_get_double(field), 2, 0);
	assert_true(json_object_object_get_ex(alert, "value", &field));
	assert_near(json_object_get_double(field), 3, 1e-9);
	json_object_put(root);

	/* Restarted 100 s later at 500: no usage at first, which is no evidence. */
	group.evaluator = evaluator_new();
	assert_non_null(group.evaluator);
	group_set_relative(&group);
	memset(&group.recorder, 0, sizeof(group.recorder));
	assert_int_equal(evaluator_load(group.evaluator, path, 1000100, 500, 30), 0);
	assert_true(evaluator_changed(group.evaluator));
	group.now = 500;
	group_tick(&group);
	assert_false(group.inputs[4].has_usage[RESOURCE_CPU]);
	expect_relative_firing(&group, 1u << 4);
	group_run(&group, 520);
	assert_int_equal(group.recorder.count, 0);
	expect_relative_firing(&group, 1u << 4);
	/* Fired at 1, 9 s before the save: 391 on this clock. */
	group.rate[4] = 0.5;
	group_run(&group, 521);
	assert_int_equal(group.recorder.count, 1);
	expect_relative(&group.recorder, 0, "t4", false, 0.5, 2, 391);
	group_stop(&group);

	/* No rule is the plan's; an unknown one is skipped. */
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("{\"alerts\": [{\"tenant\": \"a\", \"plan\": \"p\", \"cgroup\": \"/a\", "
	      "\"resource\": \"cpu\", \"value\": 3, \"limit\": 1, \"window_s\": 1, "
	      "\"since\": 999990}, {\"tenant\": \"b\", \"plan\": \"p\", \"cgroup\": \"/b\", "
	      "\"resource\": \"cpu\", \"rule\": \"other\", \"value\": 3, \"limit\": 1, "
	      "\"window_s\": 1, \"since\": 999990}]}",
	      file);
	fclose(file);
	memset(&group.recorder, 0, sizeof(group.recorder));
	group.evaluator = evaluator_new();
	assert_non_null(group.evaluator);
	assert_int_equal(evaluator_load(group.evaluator, path, 1000000, 100, 30), 0);
	evaluator_tick(group.evaluator, 130, NULL, 0, record, &group.recorder);
	assert_int_equal(group.recorder.count, 1);
	expect_transition(&group.recorder, 0, "a", RESOURCE_CPU, false, 3, 90);
	group_stop(&group);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_relative_many_tenants(void **state)
{
	enum { TENANTS = 2000, TICKS = 20 };
	struct relative_config relative = {.factor = 4, .min_tenants = 5};
	struct evaluator *evaluator = evaluator_new();
	struct plan plan = make_plan(1, 0, 0.9);
	struct recorder recorder = {0};
	struct tenant_row *inputs;
	char(*names)[32];
	size_t i, count;
	int now;

	assert_non_null(evaluator);
	relative.has_floor[RESOURCE_CPU] = true;
	relative.floor[RESOURCE_CPU] = 1;
	evaluator_set_relative(evaluator, &relative);
	plan.limit[RESOURCE_CPU] = 1000;
	inputs = calloc(TENANTS, sizeof(*inputs));
	names = calloc(TENANTS, sizeof(*names));
	assert_non_null(inputs);
	assert_non_null(names);
	for (i = 0; i < TENANTS; i++) {
		snprintf(names[i], sizeof(names[i]), "tenant-%zu", i);
		init_input(&inputs[i], names[i], names[i], &plan);
	}
	for (now = 0; now < TICKS; now++) {
		/* Half of them leave at 10, the busy ones among them resolving. */
		count = now < 10 ? TENANTS : TENANTS / 2;
		for (i = 0; i < count; i++) {
			/* 0.5 to 1.25, median 0.875; every hundredth at 10, over 3.5. */
			inputs[i].has_value[RESOURCE_CPU] = true;
			inputs[i].value[RESOURCE_CPU] = now * (i % 100 ? 0.5 + i % 7 * 0.125 : 10);
		}
		evaluator_tick(evaluator, now, inputs, count, record, &recorder);
	}
	assert_int_equal(recorder.fired, TENANTS / 100);
	assert_int_equal(recorder.resolved, TENANTS / 200);
	for (i = 0; i < recorder.count; i++) {
		assert_string_equal(recorder.items[i].rule, "relative");
		assert_near(recorder.items[i].limit, 3.5, 1e-9);
	}
	for (i = 0; i < TENANTS / 2; i++) {
		assert_int_equal(inputs[i].relative_firing[RESOURCE_CPU], i % 100 == 0);
		assert_false(inputs[i].firing[RESOURCE_CPU]);
	}
	evaluator_free(evaluator);
	free(names);
	free(inputs);
}

/* Bytes in use on the heap, mapped chunks included. */
static size_t heap_in_use(void)
{
	struct mallinfo2 info = mallinfo2();

	return info.uordblks + info.hblkhd;
}

static double monotonic_s(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

/*
 * The budget case: 10,000 tenants whose plan limits cpu and memory over
 * 60 s, nearly all idle, ticked past one window. Prints the cost of an idle
 * tick and what the evaluator holds, which depend on the machine and the
 * allocator, so only what a few tenants show is asserted: one busy on each
 * resource, one waking up after the window, one leaving.
 */
static void test_idle_tenants_cost(void **state)
{
	enum { TENANTS = 10000, TICKS = 70, IDLE_FROM = 62, WAKER = 2, LEAVER = TENANTS - 1 };
	struct plan plan = make_plan(60, 30, 0.9);
	struct recorder recorder = {0};
	double started, idle_s = 0, first_s = 0;
	struct evaluator *evaluator;
	struct tenant_row *inputs;
	size_t i, count, before;
	char(*names)[32];
	int now;

	inputs = calloc(TENANTS, sizeof(*inputs));
	names = calloc(TENANTS, sizeof(*names));
	assert_non_null(inputs);
	assert_non_null(names);
	/* In name order, as the agent builds its rows. */
	for (i = 0; i < TENANTS; i++) {
		snprintf(names[i], sizeof(names[i]), "tenant-%05zu", i);
		init_input(&inputs[i], names[i], names[i], &plan);
		inputs[i].has_value[RESOURCE_CPU] = true;
		inputs[i].value[RESOURCE_CPU] = 1000 + i;
		inputs[i].has_value[RESOURCE_MEMORY] = true;
		inputs[i].value[RESOURCE_MEMORY] = 100 + i % 100;
	}
	before = heap_in_use();
	evaluator = evaluator_new();
	assert_non_null(evaluator);
	for (now = 0; now < TICKS; now++) {
		/* 0 over on cpu (2 cores), 1 over on memory (300 of 250). */
		inputs[0].value[RESOURCE_CPU] = 2.0 * now;
		inputs[1].value[RESOURCE_MEMORY] = 300;
		/* 2 wakes up: memory 200 from 65, 6 cpu seconds at 66. */
		inputs[WAKER].value[RESOURCE_MEMORY] = now < 65 ? 100 : 200;
		inputs[WAKER].value[RESOURCE_CPU] = now < 66 ? 0 : 6;
		count = now < 40 ? TENANTS : LEAVER;
		started = monotonic_s();
		evaluator_tick(evaluator, now, inputs, count, record, &recorder);
		if (now == 0)
			first_s = monotonic_s() - started;
		if (now >= IDLE_FROM)
			idle_s += monotonic_s() - started;
	}
	print_message("%d tenants, 2 limited resources, 60 s window: first tick %.3f ms, "
		      "idle tick %.3f ms, evaluator memory %.2f MiB (%zu B a tenant)\n",
		      TENANTS, first_s * 1e3, idle_s / (TICKS - IDLE_FROM) * 1e3,
		      (heap_in_use() - before) / 1048576.0, (heap_in_use() - before) / TENANTS);

	/* Pending from 1, for 30 s. */
	assert_int_equal(recorder.fired, 2);
	assert_int_equal(recorder.resolved, 0);
	expect_transition(&recorder, 0, "tenant-00000", RESOURCE_CPU, true, 2, 31);
	expect_transition(&recorder, 1, "tenant-00001", RESOURCE_MEMORY, true, 300, 31);
	assert_true(inputs[0].firing[RESOURCE_CPU]);
	assert_true(inputs[1].firing[RESOURCE_MEMORY]);
	/* Idle: no rate, the gauge's own value. */
	for (i = 3; i < LEAVER; i += 997) {
		expect_usage(&inputs[i], RESOURCE_CPU, 0);
		expect_usage(&inputs[i], RESOURCE_MEMORY, 100 + i % 100);
		assert_false(inputs[i].firing[RESOURCE_CPU] || inputs[i].firing[RESOURCE_MEMORY]);
	}
	/* Over [9, 69]: 100 * 55 + 150 + 200 * 4, and 6 cpu seconds. */
	expect_usage(&inputs[WAKER], RESOURCE_MEMORY, 6450 / 60.0);
	expect_usage(&inputs[WAKER], RESOURCE_CPU, 0.1);
	evaluator_free(evaluator);
	free(names);
	free(inputs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gauges),
	    cmocka_unit_test(test_exactly_at_limit),
	    cmocka_unit_test(test_above_longer_than_for_fires_once),
	    cmocka_unit_test(test_spike_shorter_than_for),
	    cmocka_unit_test(test_hysteresis),
	    cmocka_unit_test(test_for_zero),
	    cmocka_unit_test(test_window_longer_than_uptime),
	    cmocka_unit_test(test_gauge_time_weighted_mean),
	    cmocka_unit_test(test_zero_limit_resolves_at_zero),
	    cmocka_unit_test(test_missing_value_keeps_state),
	    cmocka_unit_test(test_tenant_vanishes_while_firing),
	    cmocka_unit_test(test_limit_removed_while_firing),
	    cmocka_unit_test(test_window_changed_on_reload),
	    cmocka_unit_test(test_long_window_is_thinned),
	    cmocka_unit_test(test_resolved_before_fired),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_many_tenants),
	    cmocka_unit_test(test_windows_match_every_sample),
	    cmocka_unit_test(test_window_follows_limits),
	    cmocka_unit_test(test_rows_change_between_ticks),
	    cmocka_unit_test(test_relative_one_busy_tenant),
	    cmocka_unit_test(test_relative_equal_and_tie),
	    cmocka_unit_test(test_relative_ties_among_others),
	    cmocka_unit_test(test_relative_min_tenants),
	    cmocka_unit_test(test_relative_idle_not_active),
	    cmocka_unit_test(test_relative_floor),
	    cmocka_unit_test(test_relative_tenants_come_and_go),
	    cmocka_unit_test(test_relative_for_and_hysteresis),
	    cmocka_unit_test(test_relative_without_plan),
	    cmocka_unit_test(test_relative_rule_removed),
	    cmocka_unit_test(test_relative_and_plan_together),
	    cmocka_unit_test(test_relative_save_load),
	    cmocka_unit_test(test_relative_many_tenants),
	    cmocka_unit_test(test_idle_tenants_cost),
	};

	/* The invalid state file is warned about on purpose; keep TAP clean. */
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
