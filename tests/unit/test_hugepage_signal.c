// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/hugepage_signal.c: miner_behavior fires for a
 * tenant that holds huge pages under a policy with builtin:miners, once,
 * for as long as it holds them, and resolves when it stops, is gone, or
 * its policy changes; nothing for other policies, no gauge, or none held.
 * Also guard_miners_action() on real policies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "guard.h"
#include "hugepage_signal.h"
#include "log.h"

#define MAX_SEEN 16

struct seen_alert {
	bool firing;
	char tenant[64];
	char plan[64];
	char rule[64];
	char reason[256];
	char action[16];
	char action_result[128];
	bool has_exe;
	int pid;
};

struct recorder {
	struct seen_alert alerts[MAX_SEEN];
	size_t count;
};

static void copy(char *out, size_t size, const char *text)
{
	snprintf(out, size, "%s", text ? text : "");
}

static void record(struct alert *alert, void *ctx)
{
	struct recorder *recorder = ctx;
	struct seen_alert *seen;

	assert_true(recorder->count < MAX_SEEN);
	assert_int_equal(alert->kind, ALERT_UNAUTHORIZED_SOFTWARE);
	seen = &recorder->alerts[recorder->count++];
	seen->firing = alert->firing;
	copy(seen->tenant, sizeof(seen->tenant), alert->tenant);
	copy(seen->plan, sizeof(seen->plan), alert->plan);
	copy(seen->rule, sizeof(seen->rule), alert->rule);
	copy(seen->reason, sizeof(seen->reason), alert->reason);
	copy(seen->action, sizeof(seen->action), alert->action);
	copy(seen->action_result, sizeof(seen->action_result), alert->action_result);
	seen->has_exe = alert->exe != NULL;
	seen->pid = alert->pid;
}

/* A stand-in for the guard: policy "miners" alerts, "killing" kills, others lack builtin:miners. */
static const char *policy_action(const char *policy, void *ctx)
{
	if (policy && !strcmp(policy, "miners"))
		return "alert";
	if (policy && !strcmp(policy, "killing"))
		return "kill";
	return NULL;
}

static const char *const yaml = "plans:\n"
				"  mining:\n"
				"    software: miners\n"
				"  killing:\n"
				"    software: killing\n"
				"  plain:\n"
				"    software: plain\n"
				"software:\n"
				"  miners:\n"
				"    deny: [builtin:miners]\n"
				"  killing:\n"
				"    deny: [xmrig, builtin:miners]\n"
				"    action: kill\n"
				"  plain:\n"
				"    deny: [builtin:scanners]\n";

static struct config *parse(void)
{
	struct config *config = NULL;
	char *errors = NULL;

	if (config_parse("signal.yaml", yaml, strlen(yaml), &config, &errors))
		fail_msg("%s", errors);
	return config;
}

static void set_row(struct tenant_row *row, const struct config *config, const char *tenant,
		    const char *plan, bool has_value, double bytes)
{
	memset(row, 0, sizeof(*row));
	row->tenant = tenant;
	row->plan = plan;
	row->limits = config_find_plan(config, plan);
	row->cgroup = "/ci/x";
	row->has_value[RESOURCE_HUGEPAGES] = has_value;
	row->value[RESOURCE_HUGEPAGES] = bytes;
}

static void tick(struct hugepage_signal *signal, const struct tenant_row *rows, size_t count,
		 double now)
{
	hugepage_signal_tick(signal, rows, count, true, now, policy_action, NULL);
}

static void test_fires_while_held(void **state)
{
	struct config *config = parse();
	struct recorder recorder = {};
	struct hugepage_signal *signal = hugepage_signal_new(record, &recorder);
	struct tenant_row rows[4];
	const struct seen_alert *seen;

	assert_non_null(signal);
	set_row(&rows[0], config, "holder", "mining", true, 258.0 * 1048576);
	set_row(&rows[1], config, "plain", "plain", true, 64.0 * 1048576);
	set_row(&rows[2], config, "nothing", "mining", true, 0);
	set_row(&rows[3], config, "nogauge", "mining", false, 0);
	tick(signal, rows, 4, 1);
	assert_int_equal(recorder.count, 1);
	seen = &recorder.alerts[0];
	assert_true(seen->firing);
	assert_string_equal(seen->tenant, "holder");
	assert_string_equal(seen->plan, "mining");
	assert_string_equal(seen->rule, "miner_behavior");
	assert_non_null(strstr(seen->reason, "258 MiB of huge pages"));
	assert_string_equal(seen->action, "alert");
	assert_string_equal(seen->action_result, "");
	/* The controller knows cgroups, not processes. */
	assert_false(seen->has_exe);
	assert_int_equal(seen->pid, 0);
	assert_int_equal(hugepage_signal_firing(signal), 1);

	/* Still held, more or less: still the one alert. */
	rows[0].value[RESOURCE_HUGEPAGES] = 300.0 * 1048576;
	tick(signal, rows, 4, 2);
	tick(signal, rows, 4, 3);
	assert_int_equal(recorder.count, 1);

	/* Freed: resolved at the first tick that finds none. */
	rows[0].value[RESOURCE_HUGEPAGES] = 0;
	tick(signal, rows, 4, 4);
	assert_int_equal(recorder.count, 2);
	seen = &recorder.alerts[1];
	assert_false(seen->firing);
	assert_string_equal(seen->tenant, "holder");
	assert_string_equal(seen->rule, "miner_behavior");
	assert_string_equal(seen->action, "");
	assert_int_equal(hugepage_signal_firing(signal), 0);
	tick(signal, rows, 4, 5);
	assert_int_equal(recorder.count, 2);

	/* Held again: a new alert. */
	rows[0].value[RESOURCE_HUGEPAGES] = 2097152;
	tick(signal, rows, 4, 6);
	assert_int_equal(recorder.count, 3);
	assert_true(recorder.alerts[2].firing);
	assert_non_null(strstr(recorder.alerts[2].reason, "2 MiB"));

	/* The tenant's cgroups gone: resolved. */
	rows[0].gone = true;
	tick(signal, rows, 4, 7);
	assert_int_equal(recorder.count, 4);
	assert_false(recorder.alerts[3].firing);

	hugepage_signal_free(signal);
	hugepage_signal_free(NULL);
	config_free(config);
}

static void test_policy_and_host(void **state)
{
	struct config *config = parse();
	struct recorder recorder = {};
	struct hugepage_signal *signal = hugepage_signal_new(record, &recorder);
	struct tenant_row rows[2];

	set_row(&rows[0], config, "a", "killing", true, 4096);
	set_row(&rows[1], config, "b", "mining", true, 4096);
	/* Nothing in use on the host and nothing firing: the rows are not even looked at. */
	hugepage_signal_tick(signal, rows, 2, false, 1, policy_action, NULL);
	assert_int_equal(recorder.count, 0);
	tick(signal, rows, 2, 2);
	assert_int_equal(recorder.count, 2);
	/* kill has no process to aim at. */
	assert_string_equal(recorder.alerts[0].tenant, "a");
	assert_string_equal(recorder.alerts[0].action, "kill");
	assert_non_null(strstr(recorder.alerts[0].action_result, "not taken"));
	/* Less than a MiB still says 1 MiB, never 0. */
	assert_non_null(strstr(recorder.alerts[0].reason, "holds 1 MiB"));

	/* A reload gives b a policy without builtin:miners: resolved. */
	set_row(&rows[1], config, "b", "plain", true, 4096);
	tick(signal, rows, 2, 3);
	assert_int_equal(recorder.count, 3);
	assert_false(recorder.alerts[2].firing);
	assert_string_equal(recorder.alerts[2].tenant, "b");

	/* The last page on the host freed: what fired resolves without the rows. */
	hugepage_signal_tick(signal, rows, 2, false, 4, policy_action, NULL);
	assert_int_equal(recorder.count, 4);
	assert_false(recorder.alerts[3].firing);
	assert_string_equal(recorder.alerts[3].tenant, "a");
	assert_int_equal(hugepage_signal_firing(signal), 0);

	hugepage_signal_free(signal);
	config_free(config);
}

static void ignore_alert(struct alert *alert, void *ctx)
{
}

static void test_guard_miners_action(void **state)
{
	struct config *config = parse();
	struct guard *guard = guard_new("/nonexistent", config, ignore_alert, NULL);

	assert_non_null(guard);
	assert_string_equal(guard_miners_action("miners", guard), "alert");
	assert_string_equal(guard_miners_action("killing", guard), "kill");
	assert_null(guard_miners_action("plain", guard));
	assert_null(guard_miners_action("undefined", guard));
	assert_null(guard_miners_action(NULL, guard));
	guard_free(guard);
	config_free(config);
}

static int quiet_logs(void **state)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_while_held),
		cmocka_unit_test(test_policy_and_host),
		cmocka_unit_test(test_guard_miners_action),
	};

	return cmocka_run_group_tests(tests, quiet_logs, NULL);
}
