// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/restart_state.c (what a restart goes on from) and
 * the pin directory of user/probes/pins.c: a state read back is the state
 * written, with names and paths of any bytes; a file cut short, of another
 * version or with a damaged record is refused whole, saying where.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pins.h"
#include "restart_state.h"

static const char tricky_name[] = "-a b%c\n\td\xc3\xa9\x7f";
static const char tricky_path[] = "/ci/x y/-%/\xff";

/* A state of two tenants and three cgroups, the strings borrowed. */
static void fill(struct restart_state *state)
{
	struct restart_tenant tenant = {.name = "alpha", .cgroup = "/ci/alpha", .gone_for_s = -1};
	struct restart_cgroup cgroup = {.id = 4242, .path = "/ci/alpha/job", .seeded_tasks = -3};
	size_t i;

	for (i = 0; i < RESTART_INSTANCE_LEN; i++)
		state->instance[i] = (uint8_t)(0xf0 + i);
	state->written_wall = 1795815022.125;
	state->alerts_total[ALERT_OVERUSE] = 7;
	state->alerts_suppressed[ALERT_NETWORK_ABUSE] = UINT64_MAX;
	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++) {
		tenant.total.field[i] = 1000 + i;
		cgroup.last.field[i] = UINT64_MAX - i;
	}
	assert_int_equal(restart_state_add_tenant(state, &tenant), 0);
	tenant.name = tricky_name;
	tenant.cgroup = "";
	tenant.gone_for_s = 12.5;
	assert_int_equal(restart_state_add_tenant(state, &tenant), 0);
	assert_int_equal(restart_state_add_cgroup(state, &cgroup), 0);
	cgroup.id = 1;
	cgroup.path = NULL;
	cgroup.finished = true;
	cgroup.seeded_tasks = 0;
	assert_int_equal(restart_state_add_cgroup(state, &cgroup), 0);
	cgroup.id = UINT64_MAX;
	cgroup.path = tricky_path;
	cgroup.finished = false;
	assert_int_equal(restart_state_add_cgroup(state, &cgroup), 0);
}

/* Parses a copy of @text (@length bytes); the state and status. */
static int parse_copy(const char *text, size_t length, struct restart_state *state, char *why,
		      size_t whylen)
{
	char *copy = malloc(length + 1);

	assert_non_null(copy);
	memcpy(copy, text, length);
	copy[length] = '\0';
	memset(state, 0, sizeof(*state));
	return restart_state_parse(copy, length, state, why, whylen);
}

static void test_round_trip(void **unused)
{
	struct restart_state written = {0}, read;
	char *text, why[256] = "";
	size_t length, i;

	fill(&written);
	assert_int_equal(restart_state_format(&written, &text, &length), 0);
	assert_int_equal(strlen(text), length);
	/* One record a line, whatever the names hold. */
	assert_non_null(strstr(text, "\ntenant 12.500 "));
	assert_null(strstr(text, "\t"));
	assert_int_equal(parse_copy(text, length, &read, why, sizeof(why)), 0);
	assert_memory_equal(read.instance, written.instance, RESTART_INSTANCE_LEN);
	assert_true(read.written_wall == written.written_wall);
	assert_memory_equal(read.alerts_total, written.alerts_total, sizeof(read.alerts_total));
	assert_memory_equal(read.alerts_suppressed, written.alerts_suppressed,
			    sizeof(read.alerts_suppressed));
	assert_int_equal(read.tenant_count, 2);
	assert_string_equal(read.tenants[0].name, "alpha");
	assert_string_equal(read.tenants[0].cgroup, "/ci/alpha");
	assert_true(read.tenants[0].gone_for_s < 0);
	assert_string_equal(read.tenants[1].name, tricky_name);
	assert_string_equal(read.tenants[1].cgroup, "");
	assert_true(read.tenants[1].gone_for_s == 12.5);
	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		assert_int_equal(read.tenants[1].total.field[i], 1000 + i);
	assert_int_equal(read.cgroup_count, 3);
	assert_int_equal(read.cgroups[0].id, 4242);
	assert_string_equal(read.cgroups[0].path, "/ci/alpha/job");
	assert_int_equal(read.cgroups[0].seeded_tasks, -3);
	assert_false(read.cgroups[0].finished);
	assert_null(read.cgroups[1].path);
	assert_true(read.cgroups[1].finished);
	assert_int_equal(read.cgroups[2].id, UINT64_MAX);
	assert_string_equal(read.cgroups[2].path, tricky_path);
	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		assert_int_equal(read.cgroups[2].last.field[i], UINT64_MAX - i);
	restart_state_free(&read);
	free(text);
	restart_state_free(&written);
}

static void test_empty_state(void **unused)
{
	struct restart_state written = {0}, read;
	char *text, why[256] = "";
	size_t length;

	assert_int_equal(restart_state_format(&written, &text, &length), 0);
	assert_int_equal(parse_copy(text, length, &read, why, sizeof(why)), 0);
	assert_int_equal(read.tenant_count, 0);
	assert_int_equal(read.cgroup_count, 0);
	restart_state_free(&read);
	free(text);
}

/* Every prefix of a good file is refused: a cut can never pass for a state. */
static void test_cut_short(void **unused)
{
	struct restart_state written = {0}, read;
	char *text, why[256];
	size_t length, cut;

	fill(&written);
	assert_int_equal(restart_state_format(&written, &text, &length), 0);
	for (cut = 0; cut < length; cut++) {
		why[0] = '\0';
		if (parse_copy(text, cut, &read, why, sizeof(why)) != -EINVAL)
			fail_msg("a file cut at %zu of %zu bytes was taken", cut, length);
		assert_true(why[0] != '\0');
		assert_int_equal(read.tenant_count + read.cgroup_count, 0);
	}
	free(text);
	restart_state_free(&written);
}

struct bad_case {
	const char *text;
	const char *says;
};

#define GOOD_HEAD                                                                                  \
	"abusewatch-restart 1 10\ninstance 000102030405060708090a0b0c0d0e0f\nwritten 5.0\n"        \
	"agent 0 0 0 0 0 0\n"

static void test_refused(void **unused)
{
	static const struct bad_case cases[] = {
	    {"", "cut short"},
	    {"abusewatch-restart 2 10\n", "line 1"},
	    {"abusewatch-restart 1 11\n", "line 1"},
	    {"something else\n", "line 1"},
	    {"abusewatch-restart 1 10\ninstance 0001\n", "line 2"},
	    {"abusewatch-restart 1 10\ninstance 000102030405060708090a0b0c0d0e0g\n", "line 2"},
	    {"abusewatch-restart 1 10\ninstance 000102030405060708090a0b0c0d0e0f\nwritten nan\n",
	     "line 3"},
	    {"abusewatch-restart 1 10\ninstance 000102030405060708090a0b0c0d0e0f\nwritten 1\n"
	     "agent 0 0 0\n",
	     "line 4"},
	    {GOOD_HEAD "end 0 0\nend 0 0\n", "after the end"},
	    {GOOD_HEAD "end 1 0\n", "line 5"},
	    {GOOD_HEAD "tenant -1.000 1 2 3 4 5 6 7 8 9 10 a\nend 1 0\n", "line 5"},
	    {GOOD_HEAD "tenant -1.000 1 2 3 4 5 6 7 8 9 -10 a /a\nend 1 0\n", "line 5"},
	    {GOOD_HEAD "tenant -1.000 1 2 3 4 5 6 7 8 9 10 - /a\nend 1 0\n", "line 5"},
	    {GOOD_HEAD "tenant -1.000 1 2 3 4 5 6 7 8 9 10 a%0 /a\nend 1 0\n", "line 5"},
	    {GOOD_HEAD "tenant -1.000 1 2 3 4 5 6 7 8 9 10 a%00b /a\nend 1 0\n", "line 5"},
	    {GOOD_HEAD "cgroup 0 0 0 1 2 3 4 5 6 7 8 9 10 -\nend 0 1\n", "line 5"},
	    {GOOD_HEAD "cgroup 5 2 0 1 2 3 4 5 6 7 8 9 10 -\nend 0 1\n", "line 5"},
	    {GOOD_HEAD "cgroup 5 0 0 1 2 3 4 5 6 7 8 9 18446744073709551616 -\nend 0 1\n",
	     "line 5"},
	    {GOOD_HEAD "cgroup 5 0 0 1 2 3 4 5 6 7 8 9 10 -  \nend 0 1\n", "line 5"},
	    {GOOD_HEAD "cgroup 5 0 0 1 2 3 4 5 6 7 8 9 10 -\n", "cut short"},
	    {GOOD_HEAD "cgroup 5 0 0 1 2 3 4 5 6 7 8 9 10 -\nend 0 1", "cut short"},
	    {GOOD_HEAD "bogus\nend 0 0\n", "line 5"},
	};
	struct restart_state read;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if (parse_copy(cases[i].text, strlen(cases[i].text), &read, why, sizeof(why)) !=
		    -EINVAL)
			fail_msg("case %zu was taken: %s", i, cases[i].text);
		if (!strstr(why, cases[i].says))
			fail_msg("case %zu says \"%s\", not \"%s\"", i, why, cases[i].says);
	}
	/* A NUL inside. */
	assert_int_equal(parse_copy(GOOD_HEAD "end 0 0\n", sizeof(GOOD_HEAD "end 0 0\n"), &read,
				    why, sizeof(why)),
			 -EINVAL);
	/* And the good head alone, ended, is a state. */
	assert_int_equal(parse_copy(GOOD_HEAD "end 0 0\n", strlen(GOOD_HEAD "end 0 0\n"), &read,
				    why, sizeof(why)),
			 0);
	restart_state_free(&read);
}

struct dir_case {
	const char *state_dir;
	const char *dir;
};

static void test_pin_dir(void **unused)
{
	static const struct dir_case cases[] = {
	    {"/var/lib/abusewatch", PINS_BASE "/var-lib-abusewatch"},
	    {"/var/lib/abusewatch/", PINS_BASE "/var-lib-abusewatch"},
	    {"//var//lib/abusewatch", PINS_BASE "/var-lib-abusewatch"},
	    {"/tmp/abusewatch-e2e.Ab1/x y", PINS_BASE "/tmp-abusewatch\\x2de2e\\x2eAb1-x\\x20y"},
	    {"/.hidden/a_b", PINS_BASE "/\\x2ehidden-a_b"},
	    {"/", PINS_BASE "/-"},
	};
	char dir[PATH_MAX], want[PATH_MAX], cwd[PATH_MAX], long_dir[400];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pins_dir_of(cases[i].state_dir, dir, sizeof(dir)), 0);
		assert_string_equal(dir, cases[i].dir);
		/* No dot in a name: bpffs refuses them. */
		assert_null(strchr(dir + strlen(PINS_BASE), '.'));
	}
	/* Relative: from the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(pins_dir_of("state", dir, sizeof(dir)), 0);
	assert_int_equal(pins_dir_of(strcat(cwd, "/state"), want, sizeof(want)), 0);
	assert_string_equal(dir, want);
	/* A name longer than a file name can be. */
	memset(long_dir, 'a', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	assert_int_equal(pins_dir_of(long_dir, dir, sizeof(dir)), -ENAMETOOLONG);
	assert_int_equal(pins_dir_of("/var/lib/abusewatch", dir, 20), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_empty_state),
	    cmocka_unit_test(test_cut_short),  cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_pin_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
