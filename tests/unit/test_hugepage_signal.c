// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/hugepage_signal.c: miner_behavior fires for a
 * tenant that holds huge pages under a policy with builtin:miners, once,
 * for as long as it holds them, and resolves when it stops, is gone, or
 * its policy changes; nothing for other policies, no gauge, or none held.
 * Also guard_miners_action() on real policies, and the firing alerts
 * kept across a restart (saved, loaded, not fired again, resolved when the
 * pages are gone or the tenant does not come back; damaged files).
 */
#include <errno.h>
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
	double since;
	char cgroup[64];
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
	seen->since = alert->since;
	copy(seen->cgroup, sizeof(seen->cgroup), alert->cgroup);
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

/* A scratch file path of its own; removed by the caller. */
static void scratch_path(char *path, size_t size)
{
	char dir[] = "/tmp/test_hugepage_signal.XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(path, size, "%s/firing-hugepages.json", dir);
}

static void remove_scratch(const char *path)
{
	char dir[256];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

static void test_survives_restart(void **state)
{
	struct config *config = parse();
	struct recorder before = {}, after = {};
	struct hugepage_signal *signal = hugepage_signal_new(record, &before), *next;
	struct tenant_row rows[2];
	char path[256];
	struct stat st;

	scratch_path(path, sizeof(path));
	set_row(&rows[0], config, "holder", "mining", true, 8.0 * 1048576);
	set_row(&rows[1], config, "away", "killing", true, 2.0 * 1048576);
	assert_false(hugepage_signal_changed(signal));
	tick(signal, rows, 2, 100);
	assert_int_equal(before.count, 2);
	assert_true(hugepage_signal_changed(signal));
	/* Saved at wall 5000, monotonic 110: they fired 10 s before. */
	assert_int_equal(hugepage_signal_save(signal, path, 5000, 110), 0);
	assert_false(hugepage_signal_changed(signal));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	hugepage_signal_free(signal);

	/* The next run, 20 s of wall time later, its monotonic clock at 10. */
	next = hugepage_signal_new(record, &after);
	assert_int_equal(hugepage_signal_load(next, path, 5020, 10, 30), 0);
	assert_int_equal(hugepage_signal_firing(next), 2);
	assert_int_equal(after.count, 0);
	assert_false(hugepage_signal_changed(next));
	/* Loading twice takes nothing twice. */
	assert_int_equal(hugepage_signal_load(next, path, 5020, 10, 30), 0);
	assert_int_equal(hugepage_signal_firing(next), 2);

	/* Still held, "away" not back yet: no new record, neither fired nor resolved. */
	tick(next, rows, 1, 11);
	tick(next, rows, 1, 12);
	assert_int_equal(after.count, 0);

	/* Freed: one resolved record, with the start and the labels of the first run's. */
	rows[0].value[RESOURCE_HUGEPAGES] = 0;
	tick(next, rows, 1, 13);
	assert_int_equal(after.count, 1);
	assert_false(after.alerts[0].firing);
	assert_string_equal(after.alerts[0].tenant, "holder");
	assert_string_equal(after.alerts[0].plan, "mining");
	assert_string_equal(after.alerts[0].cgroup, "/ci/x");
	assert_string_equal(after.alerts[0].rule, "miner_behavior");
	assert_float_equal(after.alerts[0].since, 10 - 30, 1e-6);
	assert_true(hugepage_signal_changed(next));

	/* "away" never came back: resolved once the grace is over, not before. */
	tick(next, rows, 1, 39);
	assert_int_equal(after.count, 1);
	tick(next, rows, 1, 41);
	assert_int_equal(after.count, 2);
	assert_false(after.alerts[1].firing);
	assert_string_equal(after.alerts[1].tenant, "away");
	assert_int_equal(hugepage_signal_firing(next), 0);

	/* Nothing fires: the file saved holds none, and the next run takes up none. */
	assert_int_equal(hugepage_signal_save(next, path, 5100, 100), 0);
	hugepage_signal_free(next);
	next = hugepage_signal_new(record, &after);
	assert_int_equal(hugepage_signal_load(next, path, 5200, 10, 30), 0);
	assert_int_equal(hugepage_signal_firing(next), 0);
	hugepage_signal_free(next);

	remove_scratch(path);
	config_free(config);
}

static void test_restored_resolves(void **state)
{
	struct config *config = parse();
	struct recorder recorder = {}, after = {};
	struct hugepage_signal *signal = hugepage_signal_new(record, &recorder), *next;
	struct tenant_row rows[2];
	char path[256];

	scratch_path(path, sizeof(path));
	set_row(&rows[0], config, "a", "mining", true, 4096);
	set_row(&rows[1], config, "b", "killing", true, 4096);
	tick(signal, rows, 2, 1);
	assert_int_equal(hugepage_signal_save(signal, path, 1000, 1), 0);
	hugepage_signal_free(signal);

	/* Back, but now on a plan whose policy lacks builtin:miners: resolved at once. */
	next = hugepage_signal_new(record, &after);
	assert_int_equal(hugepage_signal_load(next, path, 1000, 1, 30), 0);
	set_row(&rows[0], config, "a", "plain", true, 4096);
	tick(next, rows, 1, 2);
	assert_int_equal(after.count, 1);
	assert_string_equal(after.alerts[0].tenant, "a");
	assert_false(after.alerts[0].firing);
	/* No huge page in use on the host: b resolves within its grace too. */
	hugepage_signal_tick(next, rows, 1, false, 3, policy_action, NULL);
	assert_int_equal(after.count, 2);
	assert_string_equal(after.alerts[1].tenant, "b");
	hugepage_signal_free(next);

	/* Back and holding again after it was taken up: the same alert, then one resolve. */
	next = hugepage_signal_new(record, &after);
	after.count = 0;
	assert_int_equal(hugepage_signal_load(next, path, 1000, 1, 30), 0);
	set_row(&rows[0], config, "a", "mining", true, 4096);
	tick(next, rows, 2, 2);
	assert_int_equal(after.count, 0);
	/* Once back, a tenant that goes resolves at once, grace or not. */
	tick(next, rows, 1, 3);
	assert_int_equal(after.count, 1);
	assert_string_equal(after.alerts[0].tenant, "b");
	hugepage_signal_free(next);

	remove_scratch(path);
	config_free(config);
}

static void test_damaged_state(void **state)
{
	struct recorder recorder = {};
	struct hugepage_signal *signal = hugepage_signal_new(record, &recorder);
	char path[256];

	scratch_path(path, sizeof(path));
	/* No file: the first start. */
	assert_int_equal(hugepage_signal_load(signal, path, 1000, 1, 30), -ENOENT);
	/* Cut short, or not ours: nothing taken up. */
	write_file(path, "{\"alerts\": [{\"tenant\": \"a\", \"pl");
	assert_int_equal(hugepage_signal_load(signal, path, 1000, 1, 30), -EINVAL);
	write_file(path, "[1, 2]");
	assert_int_equal(hugepage_signal_load(signal, path, 1000, 1, 30), -EINVAL);
	assert_int_equal(hugepage_signal_firing(signal), 0);
	/* Entries that are not valid are skipped, the others taken. */
	write_file(path, "{\"version\": 1, \"alerts\": ["
			 "{\"tenant\": \"a\"},"
			 "{\"tenant\": \"b\", \"plan\": \"p\", \"cgroup\": \"/c\", "
			 "\"rule\": \"stratum\", \"action\": \"alert\", \"reason\": \"r\", "
			 "\"window_s\": 60, \"since\": 900},"
			 "{\"tenant\": \"\", \"plan\": \"p\", \"cgroup\": \"/c\", "
			 "\"rule\": \"miner_behavior\", \"action\": \"alert\", \"reason\": \"r\", "
			 "\"window_s\": 60, \"since\": 900},"
			 "7,"
			 "{\"tenant\": \"c\", \"plan\": \"p\", \"cgroup\": \"/c\", "
			 "\"rule\": \"miner_behavior\", \"action\": \"unknown\", \"reason\": \"r\", "
			 "\"window_s\": 60, \"since\": 900}]}");
	assert_int_equal(hugepage_signal_load(signal, path, 1000, 1, 30), 0);
	assert_int_equal(hugepage_signal_firing(signal), 1);
	hugepage_signal_free(signal);
	remove_scratch(path);
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
		cmocka_unit_test(test_survives_restart),
		cmocka_unit_test(test_restored_resolves),
		cmocka_unit_test(test_damaged_state),
	};

	return cmocka_run_group_tests(tests, quiet_logs, NULL);
}
