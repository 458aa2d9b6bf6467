// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for executables judged by their content: the learned digests'
 * store (user/rules/learned.c: its file format, bounds, corruption), the
 * `yara` key of a software policy (user/config.c: trusted, absolute,
 * compiled, errors naming the rule file and line), and YARA scans with the
 * built-in rules (user/rules/content.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "content.h"
#include "learned.h"
#include "log.h"
#include "software.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char tmp_dir[64];

static int make_dir(void **state)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/aw-content.XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char command[128];

	snprintf(command, sizeof(command), "rm -rf %s", tmp_dir);
	return system(command) ? -1 : 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	assert_int_equal(fputs(text, file) >= 0, 1);
	assert_int_equal(fclose(file), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* ---- the learned store ---- */

static void test_learned_parse_and_format(void **state)
{
	const char text[] = "# a comment\n"
			    "\n" SHA_A " miners name\n" SHA_B " miners,scanners content\n";
	const struct learned_entry *entry;
	struct learned *learned = learned_new(NULL);
	char why[128], *out;
	size_t length;

	assert_non_null(learned);
	assert_int_equal(learned_parse(learned, text, sizeof(text) - 1, why, sizeof(why)), 0);
	assert_int_equal(learned_count(learned), 2);
	entry = learned_find(learned, SHA_B);
	assert_non_null(entry);
	assert_int_equal(entry->sets, SOFTWARE_SET_MINERS | SOFTWARE_SET_SCANNERS);
	assert_string_equal(entry->rule, "content");
	assert_string_equal(learned_find(learned, SHA_A)->rule, "name");
	assert_null(learned_find(learned, "cc" SHA_A));

	/* Formatted oldest first, and read back alike. */
	assert_int_equal(learned_format(learned, &out, &length), 0);
	assert_non_null(strstr(out, SHA_A " miners name\n" SHA_B " miners,scanners content\n"));
	assert_int_equal(learned_parse(learned, out, length, why, sizeof(why)), 0);
	assert_int_equal(learned_count(learned), 2);
	free(out);
	learned_free(learned);
}

static void test_learned_corrupt(void **state)
{
	static const char *const bad[] = {
		SHA_A " miners name",			 /* torn: no newline at the end */
		SHA_A " miners\n",			 /* no rule */
		SHA_A " pirates name\n",		 /* unknown set */
		"AAAA" SHA_A " miners name\n",		 /* not a digest */
		SHA_A " miners Name;rm\n",		 /* not a rule name */
		SHA_A " miners name\n" SHA_B "\n",	 /* a good line, then a bad one */
		"\x01\x02\x03\n",
	};
	struct learned *learned = learned_new(NULL);
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(learned_parse(learned, bad[i], strlen(bad[i]), why, sizeof(why)),
				 -EINVAL);
		/* Nothing of a corrupted file is trusted. */
		assert_int_equal(learned_count(learned), 0);
		assert_non_null(strstr(why, "line"));
	}
	learned_free(learned);
}

static void test_learned_add_bounded(void **state)
{
	struct learned *learned = learned_new(NULL);
	char sha[65];
	size_t i;

	assert_int_equal(learned_add(learned, SHA_A, SOFTWARE_SET_MINERS, "name"), 1);
	/* Known: unchanged; new sets merge; the first rule stays. */
	assert_int_equal(learned_add(learned, SHA_A, SOFTWARE_SET_MINERS, "content"), 0);
	assert_int_equal(learned_add(learned, SHA_A, SOFTWARE_SET_SCANNERS, "content"), 1);
	assert_string_equal(learned_find(learned, SHA_A)->rule, "name");
	assert_int_equal(learned_find(learned, SHA_A)->sets,
			 SOFTWARE_SET_MINERS | SOFTWARE_SET_SCANNERS);
	/* No set, a bad digest: refused. */
	assert_int_equal(learned_add(learned, SHA_B, 0, "name"), -EINVAL);
	assert_int_equal(learned_add(learned, "xyz", SOFTWARE_SET_MINERS, "name"), -EINVAL);

	/* Bounded: the oldest give way. */
	for (i = 0; i < LEARNED_MAX; i++) {
		snprintf(sha, sizeof(sha), "%064zx", i + 1);
		assert_int_equal(learned_add(learned, sha, SOFTWARE_SET_MINERS, "name"), 1);
	}
	assert_int_equal(learned_count(learned), LEARNED_MAX);
	assert_null(learned_find(learned, SHA_A));
	snprintf(sha, sizeof(sha), "%064zx", (size_t)LEARNED_MAX);
	assert_non_null(learned_find(learned, sha));
	learned_free(learned);
}

static void test_learned_file(void **state)
{
	struct learned *learned = learned_new(tmp_dir), *again;
	char path[128];
	struct stat st;

	assert_int_equal(learned_load(learned), -ENOENT);
	assert_int_equal(learned_add(learned, SHA_A, SOFTWARE_SET_MINERS, "argv"), 1);
	snprintf(path, sizeof(path), "%s/%s", tmp_dir, LEARNED_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Survives a restart. */
	again = learned_new(tmp_dir);
	assert_int_equal(learned_load(again), 0);
	assert_string_equal(learned_find(again, SHA_A)->rule, "argv");
	learned_free(again);

	/* Corrupted: started clean. */
	write_file(path, "garbage\n", 0600);
	again = learned_new(tmp_dir);
	assert_int_equal(learned_load(again), -EINVAL);
	assert_int_equal(learned_count(again), 0);
	learned_free(again);
	learned_free(learned);
}

/* ---- the yara key ---- */

static int parse_policy(const char *rule_file, struct config **config, char **errors)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "plans: {default: {software: std}}\n"
		 "software:\n"
		 "  std:\n"
		 "    deny: [builtin:miners]\n"
		 "    yara: [%s]\n",
		 rule_file);
	*config = NULL;
	*errors = NULL;
	return config_parse("test.yaml", text, strlen(text), config, errors);
}

static void test_yara_key(void **state)
{
	char good[128], bad[128], writable[128], *errors;
	struct config *config;

	snprintf(good, sizeof(good), "%s/good.yar", tmp_dir);
	snprintf(bad, sizeof(bad), "%s/bad.yar", tmp_dir);
	snprintf(writable, sizeof(writable), "%s/writable.yar", tmp_dir);
	write_file(good, "rule marker { strings: $a = \"abusewatch-marker\" condition: $a }\n", 0644);
	write_file(bad, "rule one { condition: true }\n\nrule two {\n  condition: $missing\n}\n",
		   0644);
	write_file(writable, "rule marker { condition: false }\n", 0666);

	assert_int_equal(parse_policy(good, &config, &errors), 0);
	assert_int_equal(config->software[0].yara_count, 1);
	assert_string_equal(config->software[0].yara[0], good);
	config_free(config);

	/* The rule file and the line libyara names (the end of the rule), at the key's place. */
	assert_int_not_equal(parse_policy(bad, &config, &errors), 0);
	assert_non_null(errors);
	assert_non_null(strstr(errors, "test.yaml:5:"));
	assert_non_null(strstr(errors, "bad.yar:5: undefined string"));
	free(errors);

	assert_int_not_equal(parse_policy(writable, &config, &errors), 0);
	assert_non_null(strstr(errors, "writable"));
	assert_non_null(strstr(errors, "refused"));
	free(errors);

	assert_int_not_equal(parse_policy("rules/x.yar", &config, &errors), 0);
	assert_non_null(strstr(errors, "not an absolute path"));
	free(errors);

	assert_int_not_equal(parse_policy("/nonexistent/x.yar", &config, &errors), 0);
	assert_non_null(strstr(errors, "/nonexistent/x.yar"));
	free(errors);
}

/* ---- scans ---- */

static void test_scan_builtin_and_operator(void **state)
{
	static const char miner[] = "\x7f" "ELF....stratum+tcp://\0donate-level\0randomx-mode\0"
				    "cpu-priority\0abusewatch-marker\0";
	const char *source;
	struct content_result result;
	struct content_rules *rules;
	struct config *config;
	char good[128], *errors, why[256];
	unsigned int i;
	bool builtin = false, operator = false;
	int fd;

	snprintf(good, sizeof(good), "%s/good.yar", tmp_dir);
	write_file(good, "rule marker { strings: $a = \"abusewatch-marker\" condition: $a }\n", 0644);
	assert_int_equal(parse_policy(good, &config, &errors), 0);
	rules = content_rules_new(config, 7, why, sizeof(why));
	assert_non_null(rules);
	assert_false(content_rules_empty(rules));
	assert_int_equal(content_rules_generation(rules), 7);

	fd = memfd_create("miner", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, miner, sizeof(miner)), sizeof(miner));
	assert_int_equal(content_rules_scan(rules, fd, sizeof(miner), &result), 0);
	assert_int_equal(result.state, CONTENT_SCANNED);
	assert_int_equal(result.generation, 7);
	for (i = 0; i < result.count; i++) {
		source = content_rules_source(rules, result.matches[i].source);
		builtin |= !strcmp(source, "builtin:miners") &&
			   !strcmp(result.matches[i].rule, "miner_pool_url_and_options");
		operator |= !strcmp(source, good) && !strcmp(result.matches[i].rule, "marker");
	}
	assert_true(builtin);
	assert_true(operator);
	close(fd);

	/* A benign program: nothing. */
	fd = open("/bin/true", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(content_rules_scan(rules, fd, (uint64_t)lseek(fd, 0, SEEK_END), &result), 0);
	assert_int_equal(result.state, CONTENT_SCANNED);
	assert_int_equal(result.count, 0);
	close(fd);

	/* Over the limit: not scanned, and said so in the result. */
	assert_int_equal(content_rules_scan(rules, -1, CONTENT_SCAN_MAX_BYTES + 1, &result), 0);
	assert_int_equal(result.state, CONTENT_TOO_LARGE);

	content_rules_put(rules);
	config_free(config);
}

static void test_match_content_of_own_sources(void **state)
{
	struct content_hit hits[] = { { "/etc/other.yar", "theirs" },
				      { "builtin:miners", "miner_option_table" } };
	struct software_policy policy = { .name = "p" };
	char *deny[] = { "builtin:miners" };
	struct software_facts facts = { .type = SOFTWARE_EVENT_EXEC, .comm = "build",
					.exe = "/usr/bin/build" };
	struct software_verdict verdict;
	struct software_matcher *matcher;

	policy.deny = deny;
	policy.deny_count = 1;
	matcher = software_matcher_new(&policy);
	assert_non_null(matcher);
	assert_true(software_matcher_has_content(matcher));
	assert_int_equal(software_matcher_sets(matcher), SOFTWARE_SET_MINERS);

	/* Another policy's file counts for nothing here. */
	facts.content = hits;
	facts.content_count = 1;
	assert_false(software_match(matcher, &facts, &verdict));
	facts.content_count = 2;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_CONTENT);
	assert_non_null(strstr(verdict.reason, "miner_option_table"));

	/* Learned: last, naming the first rule; an allowed digest wins. */
	facts.content_count = 0;
	facts.learned = "name";
	facts.sha256 = SHA_A;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_LEARNED_SHA256);
	assert_non_null(strstr(verdict.reason, "rule name"));
	assert_string_equal(software_rule_name(SOFTWARE_RULE_LEARNED_SHA256), "learned_sha256");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_CONTENT), "content");
	software_matcher_free(matcher);

	{
		char *allow[] = { SHA_A };

		policy.allow_sha256 = allow;
		policy.allow_sha256_count = 1;
		matcher = software_matcher_new(&policy);
		assert_false(software_match(matcher, &facts, &verdict));
		software_matcher_free(matcher);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learned_parse_and_format),
		cmocka_unit_test(test_learned_corrupt),
		cmocka_unit_test(test_learned_add_bounded),
		cmocka_unit_test_setup_teardown(test_learned_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_yara_key, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_scan_builtin_and_operator, make_dir, remove_dir),
		cmocka_unit_test(test_match_content_of_own_sources),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
