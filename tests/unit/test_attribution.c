// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/attribution.c: which process of a chain (the
 * process that made miner-behaviour evidence, then its ancestors) the
 * evidence goes to. A helper's goes to its parent, past shells and
 * wrappers, never out of the tenant nor to pid 1; anything else keeps it.
 * And the tracker (user/rules/software_tracker.c) holding such an alert
 * while any process it was seen in lives: the attributed one, its helper,
 * an earlier run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attribution.h"
#include "software_tracker.h"

#define LINK(pid, comm, in_tenant) ((struct attribution_link){ (pid), (comm), (in_tenant) })

static void test_helper_names(void **state)
{
	assert_string_equal(software_helper_name("modprobe"), "modprobe");
	assert_string_equal(software_helper_name("InsMod"), "insmod");
	assert_string_equal(software_helper_name("sysctl"), "sysctl");
	assert_string_equal(software_helper_name("sh"), "sh");
	assert_string_equal(software_helper_name("BASH"), "bash");
	assert_string_equal(software_helper_name("sudo"), "sudo");
	assert_null(software_helper_name("xmrig"));
	assert_null(software_helper_name("indexer"));
	/* Whole names only. */
	assert_null(software_helper_name("shx"));
	assert_null(software_helper_name("s"));
	assert_null(software_helper_name(""));
	assert_null(software_helper_name(NULL));
	assert_true(software_is_helper("dash"));
	assert_false(software_is_helper("python3"));
}

static void test_helper_to_parent(void **state)
{
	/* modprobe msr run by a miner under an innocent name. */
	const struct attribution_link chain[] = {
		LINK(300, "modprobe", true), LINK(200, "indexer", true),
		LINK(100, "bash", true), LINK(50, "sshd", false),
	};

	assert_int_equal(software_attribute(chain, 4, true), 1);
	/* Not a helper (the miner wrote itself): it keeps its evidence. */
	assert_int_equal(software_attribute(chain, 4, false), 0);
	/* No ancestors carried. */
	assert_int_equal(software_attribute(chain, 1, true), 0);
	assert_int_equal(software_attribute(NULL, 0, true), 0);
}

static void test_past_shells_and_wrappers(void **state)
{
	/* system("modprobe msr ..."): the miner, past sh -c. */
	const struct attribution_link system_call[] = {
		LINK(300, "modprobe", true), LINK(299, "sh", true),
		LINK(200, "indexer", true), LINK(100, "bash", true),
	};
	/* sudo sysctl from sh -c: past both. */
	const struct attribution_link sudo[] = {
		LINK(300, "sysctl", true), LINK(299, "sudo", true),
		LINK(298, "sh", true), LINK(200, "indexer", true),
	};
	/* Helpers all the way up the carried ancestors: the top-most one. */
	const struct attribution_link shells[] = {
		LINK(300, "modprobe", true), LINK(299, "sh", true),
		LINK(298, "bash", true), LINK(297, "sh", true),
	};

	assert_int_equal(software_attribute(system_call, 4, true), 2);
	assert_int_equal(software_attribute(sudo, 4, true), 3);
	assert_int_equal(software_attribute(shells, 4, true), 3);
}

static void test_never_out_of_the_tenant(void **state)
{
	/* The helper's parent is not the tenant's: the helper keeps it. */
	const struct attribution_link outside[] = {
		LINK(300, "modprobe", true), LINK(200, "indexer", false),
		LINK(100, "bash", true), LINK(0, "", false),
	};
	/* A shell of the tenant run from outside: the shell, the last of the tenant's. */
	const struct attribution_link script[] = {
		LINK(300, "modprobe", true), LINK(299, "bash", true),
		LINK(200, "runner", false), LINK(1, "init", false),
	};
	/* The walk ended at pid 1 (the kernel carries nothing of it) or before. */
	const struct attribution_link orphan[] = {
		LINK(300, "sysctl", true), LINK(0, "", false),
		LINK(0, "", false), LINK(0, "", false),
	};
	const struct attribution_link init[] = {
		LINK(300, "sysctl", true), LINK(1, "init", true),
	};

	assert_int_equal(software_attribute(outside, 4, true), 0);
	assert_int_equal(software_attribute(script, 4, true), 1);
	assert_int_equal(software_attribute(orphan, 4, true), 0);
	assert_int_equal(software_attribute(init, 2, true), 0);
}

static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		pause();
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static size_t resolved_count;
static int resolved_pid;

static void count_resolved(const struct software_alert_info *info, void *ctx)
{
	(void)ctx;
	resolved_count++;
	resolved_pid = info->pid;
}

static void test_tracker_waits_for_every_process(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	pid_t miner = sleeper(), helper = sleeper(), rerun = sleeper();
	struct software_alert_info info = {
		.tenant = "t1",
		.rule = SOFTWARE_RULE_MINER_BEHAVIOR,
		.exe = "/srv/indexer",
		.reason = "ran modprobe msr",
		.pid = miner,
		.helper_pid = helper,
	};

	resolved_count = 0;
	assert_non_null(tracker);
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	/* A shorter run of the same executable, seen later, exits first. */
	info.pid = rerun;
	info.helper_pid = 0;
	assert_int_equal(software_tracker_note(tracker, &info, 1, 10), 0);
	reap(rerun);
	software_tracker_tick(tracker, 100, count_resolved, NULL);
	assert_int_equal(resolved_count, 0);
	reap(miner);
	software_tracker_tick(tracker, 100, count_resolved, NULL);
	assert_int_equal(resolved_count, 0);
	/* The helper too: then it resolves, naming the last process seen. */
	reap(helper);
	software_tracker_tick(tracker, 100, count_resolved, NULL);
	assert_int_equal(resolved_count, 1);
	assert_int_equal(resolved_pid, rerun);
	software_tracker_free(tracker);
}

static void test_tracker_gone_process(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	pid_t other = sleeper();
	struct software_alert_info info = {
		.tenant = "t1",
		.rule = SOFTWARE_RULE_MINER_BEHAVIOR,
		.pid = other,
		/* The pid names another process now: not waited for. */
		.gone = true,
	};

	resolved_count = 0;
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	software_tracker_tick(tracker, 5, count_resolved, NULL);
	assert_int_equal(resolved_count, 0);
	software_tracker_tick(tracker, 10, count_resolved, NULL);
	assert_int_equal(resolved_count, 1);
	assert_int_equal(resolved_pid, other);
	reap(other);
	software_tracker_free(tracker);
}

static void test_tracker_bounds_processes(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	pid_t pids[SOFTWARE_TRACKER_PIDS + 1];
	struct software_alert_info info = { .tenant = "t1", .rule = SOFTWARE_RULE_NAME };
	size_t i;

	resolved_count = 0;
	for (i = 0; i < SOFTWARE_TRACKER_PIDS + 1; i++) {
		pids[i] = sleeper();
		info.pid = pids[i];
		software_tracker_note(tracker, &info, 0, 10);
	}
	/* The first was let go for the last: only the others hold it. */
	for (i = 1; i < SOFTWARE_TRACKER_PIDS + 1; i++) {
		software_tracker_tick(tracker, 100, count_resolved, NULL);
		assert_int_equal(resolved_count, 0);
		reap(pids[i]);
	}
	software_tracker_tick(tracker, 100, count_resolved, NULL);
	assert_int_equal(resolved_count, 1);
	reap(pids[0]);
	software_tracker_free(tracker);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helper_names),
		cmocka_unit_test(test_helper_to_parent),
		cmocka_unit_test(test_past_shells_and_wrappers),
		cmocka_unit_test(test_never_out_of_the_tenant),
		cmocka_unit_test(test_tracker_waits_for_every_process),
		cmocka_unit_test(test_tracker_gone_process),
		cmocka_unit_test(test_tracker_bounds_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
