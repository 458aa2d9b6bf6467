// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/seen_clean.c: the digests seen run clean (the
 * guard against poisoning the learned digests) are remembered by their
 * first 64 bits, bounded (the oldest go), saved to state_dir (0600, paced,
 * and at free), taken up by the next run, and a damaged file starts with
 * none.
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

#include "log.h"
#include "seen_clean.h"

/* A digest of 64 hex digits whose first 16 are @n's. */
static void digest(char out[65], unsigned long long n)
{
	snprintf(out, 65, "%016llx%048d", n, 7);
}

static char *make_dir(void)
{
	char dir[] = "/tmp/test_seen_clean.XXXXXX";

	assert_non_null(mkdtemp(dir));
	return strdup(dir);
}

static void remove_dir(char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, SEEN_CLEAN_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.corrupt", dir, SEEN_CLEAN_FILE);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void write_file(const char *dir, const char *text)
{
	char path[256];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", dir, SEEN_CLEAN_FILE);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

static void test_note_and_bound(void **state)
{
	struct seen_clean *seen = seen_clean_new(NULL);
	char sha[65];
	unsigned long long i;

	assert_non_null(seen);
	digest(sha, 1);
	assert_false(seen_clean_has(seen, sha));
	seen_clean_note(seen, sha);
	seen_clean_note(seen, sha);
	assert_true(seen_clean_has(seen, sha));
	assert_int_equal(seen_clean_count(seen), 1);
	/* Only the first 64 bits tell. */
	sha[40] = 'f';
	assert_true(seen_clean_has(seen, sha));
	/* Not a digest: neither noted nor found. */
	seen_clean_note(seen, "xyz");
	assert_false(seen_clean_has(seen, "xyz"));
	assert_false(seen_clean_has(seen, NULL));
	assert_int_equal(seen_clean_count(seen), 1);
	/* Full: the oldest give way. */
	for (i = 2; i <= SEEN_CLEAN_MAX + 10; i++) {
		digest(sha, i);
		seen_clean_note(seen, sha);
	}
	assert_int_equal(seen_clean_count(seen), SEEN_CLEAN_MAX);
	digest(sha, 1);
	assert_false(seen_clean_has(seen, sha));
	digest(sha, 11);
	assert_true(seen_clean_has(seen, sha));
	digest(sha, SEEN_CLEAN_MAX + 10);
	assert_true(seen_clean_has(seen, sha));
	/* In memory only: nothing to write, nothing to read. */
	seen_clean_tick(seen, 100, true);
	assert_int_equal(seen_clean_load(seen), -ENOENT);
	seen_clean_free(seen);
	seen_clean_free(NULL);
}

static void test_saved_and_taken_up(void **state)
{
	char *dir = make_dir(), path[256], sha[65];
	struct seen_clean *seen = seen_clean_new(dir), *next;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, SEEN_CLEAN_FILE);
	assert_int_equal(seen_clean_load(seen), -ENOENT);
	digest(sha, 0xabcdef);
	seen_clean_note(seen, sha);
	/* The first tick writes; a second within SEEN_CLEAN_SAVE_S waits. */
	seen_clean_tick(seen, 100, false);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	digest(sha, 2);
	seen_clean_note(seen, sha);
	seen_clean_tick(seen, 101, false);
	next = seen_clean_new(dir);
	assert_int_equal(seen_clean_load(next), 0);
	assert_int_equal(seen_clean_count(next), 1);
	seen_clean_free(next);
	/* Due again: both. */
	seen_clean_tick(seen, 100 + SEEN_CLEAN_SAVE_S, false);
	next = seen_clean_new(dir);
	assert_int_equal(seen_clean_load(next), 0);
	assert_int_equal(seen_clean_count(next), 2);
	assert_true(seen_clean_has(next, sha));
	seen_clean_free(next);
	/* What is new at the stop is written by free, the oldest first. */
	digest(sha, 3);
	seen_clean_note(seen, sha);
	seen_clean_free(seen);
	next = seen_clean_new(dir);
	assert_int_equal(seen_clean_load(next), 0);
	assert_int_equal(seen_clean_count(next), 3);
	assert_true(seen_clean_has(next, sha));
	seen_clean_free(next);
	remove_dir(dir);
}

static void test_format_parse(void **state)
{
	struct seen_clean *seen = seen_clean_new(NULL), *again = seen_clean_new(NULL);
	char sha[65], *text, why[128];
	size_t length;

	/* None: the header alone, a string of its length. */
	assert_int_equal(seen_clean_format(seen, &text, &length), 0);
	assert_int_equal(strlen(text), length);
	assert_int_equal(seen_clean_parse(again, text, length, why, sizeof(why)), 0);
	assert_int_equal(seen_clean_count(again), 0);
	free(text);
	digest(sha, 5);
	seen_clean_note(seen, sha);
	digest(sha, 0xffffffffffffffffULL);
	seen_clean_note(seen, sha);
	assert_int_equal(seen_clean_format(seen, &text, &length), 0);
	assert_non_null(strstr(text, "0000000000000005\nffffffffffffffff\n"));
	assert_int_equal(strlen(text), length);
	assert_int_equal(seen_clean_parse(again, text, length, why, sizeof(why)), 0);
	assert_int_equal(seen_clean_count(again), 2);
	assert_true(seen_clean_has(again, sha));
	free(text);
	/* A bad line, or one cut short: nothing kept. */
	assert_int_equal(seen_clean_parse(again, "0000000000000005\nABCDEF0000000000\n", 34, why,
					  sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "line 2"));
	assert_int_equal(seen_clean_count(again), 0);
	assert_int_equal(seen_clean_parse(again, "0000000000000005\n00000000", 25, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(seen_clean_count(again), 0);
	/* Comments and empty lines are fine; the same digest twice is one. */
	assert_int_equal(seen_clean_parse(again, "# x\n\n0000000000000005\n0000000000000005\n", 39,
					  why, sizeof(why)),
			 0);
	assert_int_equal(seen_clean_count(again), 1);
	seen_clean_free(seen);
	seen_clean_free(again);
}

static void test_damaged_file(void **state)
{
	char *dir = make_dir(), sha[65];
	struct seen_clean *seen = seen_clean_new(dir);

	write_file(dir, "# abusewatch\n0000000000000005\n00000000000");
	assert_int_equal(seen_clean_load(seen), -EINVAL);
	assert_int_equal(seen_clean_count(seen), 0);
	write_file(dir, "\x7f" "ELF garbage\n");
	assert_int_equal(seen_clean_load(seen), -EINVAL);
	assert_int_equal(seen_clean_count(seen), 0);
	/* It goes on, and the next save replaces the file. */
	digest(sha, 9);
	seen_clean_note(seen, sha);
	seen_clean_free(seen);
	seen = seen_clean_new(dir);
	assert_int_equal(seen_clean_load(seen), 0);
	assert_true(seen_clean_has(seen, sha));
	seen_clean_free(seen);
	remove_dir(dir);
}

static int quiet_logs(void **state)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_and_bound),
		cmocka_unit_test(test_saved_and_taken_up),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_damaged_file),
	};

	return cmocka_run_group_tests(tests, quiet_logs, NULL);
}
