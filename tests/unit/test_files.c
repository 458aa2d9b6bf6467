// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/lib/files.c, in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static char base[PATH_MAX];

static int setup(void **state)
{
	snprintf(base, sizeof(base), "/tmp/abusewatch-test-files.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	return system(command) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", base, name);
}

static void read_text(const char *path, char *out, size_t size)
{
	FILE *file = fopen(path, "r");
	size_t n;

	assert_non_null(file);
	n = fread(out, 1, size - 1, file);
	out[n] = '\0';
	fclose(file);
}

static void test_make_dirs(void **state)
{
	char path[PATH_MAX * 2];
	struct stat st;

	path_of(path, sizeof(path), "a/b/c");
	assert_int_equal(files_make_dirs(path, 0750), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Exactly the mode asked for, whatever the umask. */
	assert_int_equal(st.st_mode & 07777, 0750);
	/* Again: everything exists already. */
	assert_int_equal(files_make_dirs(path, 0750), 0);
	/* A file in the way is an error. */
	path_of(path, sizeof(path), "a/file");
	fclose(fopen(path, "w"));
	path_of(path, sizeof(path), "a/file/d");
	assert_int_equal(files_make_dirs(path, 0750), -ENOTDIR);
}

static void test_make_parent_dirs(void **state)
{
	char path[PATH_MAX * 2];
	struct stat st;

	path_of(path, sizeof(path), "p/q/events.jsonl");
	assert_int_equal(files_make_parent_dirs(path, 0755), 0);
	assert_int_equal(stat(path, &st), -1);
	path_of(path, sizeof(path), "p/q");
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(files_make_parent_dirs("relative-name", 0755), 0);
}

static int write_hello(int fd, void *ctx)
{
	return files_write_all(fd, ctx, strlen(ctx));
}

static int fail_halfway(int fd, void *ctx)
{
	files_write_all(fd, "half", 4);
	return -ENOSPC;
}

static void test_replace(void **state)
{
	char path[PATH_MAX * 2], temp[PATH_MAX * 3], text[64];
	struct stat st;

	path_of(path, sizeof(path), "state.json");
	snprintf(temp, sizeof(temp), "%s.tmp", path);
	assert_int_equal(files_replace(path, 0600, write_hello, "first\n"), 0);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "first\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(files_replace(path, 0600, write_hello, "second\n"), 0);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "second\n");
	/* A failed fill leaves the old content and no temporary file. */
	assert_int_equal(files_replace(path, 0600, fail_halfway, NULL), -ENOSPC);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "second\n");
	assert_int_equal(access(temp, F_OK), -1);
	/* A directory that does not exist: the error, nothing created. */
	path_of(path, sizeof(path), "missing/state.json");
	assert_int_equal(files_replace(path, 0600, write_hello, "x"), -ENOENT);
}

/* files_replace_text: exactly the bytes given (a NUL among them too), with the mode. */
static void test_replace_text(void **state)
{
	char path[PATH_MAX * 2], text[64];
	struct stat st;
	FILE *file;

	path_of(path, sizeof(path), "digests");
	assert_int_equal(files_replace_text(path, 0640, "a\0b\nrest", 5), 0);
	file = fopen(path, "r");
	assert_non_null(file);
	assert_int_equal(fread(text, 1, sizeof(text), file), 5);
	fclose(file);
	assert_memory_equal(text, "a\0b\nr", 5);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	path_of(path, sizeof(path), "missing/digests");
	assert_int_equal(files_replace_text(path, 0600, "x", 1), -ENOENT);
}

static void write_text(const char *path, const char *text, size_t length)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	assert_int_equal(fwrite(text, 1, length, file), length);
	assert_int_equal(fclose(file), 0);
}

static void test_read_all(void **state)
{
	char path[PATH_MAX * 2], *text, *large;
	size_t length, i;

	path_of(path, sizeof(path), "small");
	write_text(path, "hello\n", 6);
	assert_int_equal(files_read_all(path, 100, &text, &length), 0);
	assert_int_equal(length, 6);
	assert_string_equal(text, "hello\n");
	free(text);
	/* Exactly the bound is fine; one byte less is not. */
	assert_int_equal(files_read_all(path, 6, &text, NULL), 0);
	free(text);
	assert_int_equal(files_read_all(path, 5, &text, NULL), -EFBIG);
	assert_null(text);

	path_of(path, sizeof(path), "empty");
	write_text(path, "", 0);
	assert_int_equal(files_read_all(path, 0, &text, &length), 0);
	assert_int_equal(length, 0);
	assert_string_equal(text, "");
	free(text);

	/* Larger than the first read of a file of unknown size. */
	large = malloc(100000);
	assert_non_null(large);
	for (i = 0; i < 100000; i++)
		large[i] = (char)('a' + i % 26);
	path_of(path, sizeof(path), "large");
	write_text(path, large, 100000);
	assert_int_equal(files_read_all(path, 1 << 20, &text, &length), 0);
	assert_int_equal(length, 100000);
	assert_memory_equal(text, large, 100000);
	assert_int_equal(text[100000], '\0');
	free(text);
	assert_int_equal(files_read_all(path, 99999, &text, NULL), -EFBIG);
	free(large);

	/* /proc says size 0: read to the end all the same. */
	assert_int_equal(files_read_all("/proc/self/stat", 4096, &text, &length), 0);
	assert_true(length > 0 && strlen(text) == length);
	free(text);

	path_of(path, sizeof(path), "missing");
	assert_int_equal(files_read_all(path, 100, &text, NULL), -ENOENT);
	assert_null(text);
}

/* Whatever the umask, what is created has exactly the mode asked for; what exists keeps its own. */
static void test_modes_whatever_the_umask(void **state)
{
	static const mode_t masks[] = {0, 077, 0777};
	char path[PATH_MAX * 2], name[64];
	bool created;
	struct stat st;
	mode_t saved;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		saved = umask(masks[i]);
		snprintf(name, sizeof(name), "umask-%zu/state", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(files_make_dirs(path, 0700), 0);
		snprintf(name, sizeof(name), "umask-%zu/textfile/x.prom", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(files_make_parent_dirs(path, 0755), 0);
		snprintf(name, sizeof(name), "umask-%zu/events.jsonl", i);
		path_of(path, sizeof(path), name);
		fd = files_open_append(path, 0640, &created);
		assert_true(fd >= 0);
		assert_true(created);
		assert_int_equal(files_write_all(fd, "a\n", 2), 0);
		close(fd);
		snprintf(name, sizeof(name), "umask-%zu/state/firing.json", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(files_replace(path, 0600, write_hello, "{}"), 0);
		umask(saved);

		snprintf(name, sizeof(name), "umask-%zu/state", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		snprintf(name, sizeof(name), "umask-%zu/textfile", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		snprintf(name, sizeof(name), "umask-%zu/events.jsonl", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
		snprintf(name, sizeof(name), "umask-%zu/state/firing.json", i);
		path_of(path, sizeof(path), name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
	}

	/* An existing file is appended to, its mode kept. */
	path_of(path, sizeof(path), "umask-0/events.jsonl");
	assert_int_equal(chmod(path, 0600), 0);
	fd = files_open_append(path, 0640, &created);
	assert_true(fd >= 0);
	assert_false(created);
	assert_int_equal(files_write_all(fd, "b\n", 2), 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 4);
}

/*
 * A file another user could change is refused, with the reason; one that
 * is only root's (or this user's) and not writable by others is read.
 */
static void test_trusted(void **state)
{
	static const struct {
		mode_t mode;
		bool trusted;
	} modes[] = {
	    {0600, true},  {0644, true},  {0400, true},	 {0664, false}, {0646, false},
	    {0666, false}, {0620, false}, {0602, false}, {0777, false},
	};
	char path[PATH_MAX * 2], link_path[PATH_MAX * 2], why[128], *text;
	size_t i, length;

	path_of(path, sizeof(path), "config.yaml");
	write_text(path, "agent: {}\n", 10);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(path, modes[i].mode), 0);
		why[0] = '\0';
		if (modes[i].trusted) {
			assert_int_equal(files_check_trusted(path, why, sizeof(why)), 0);
			assert_int_equal(
			    files_read_trusted(path, 100, &text, &length, why, sizeof(why)), 0);
			assert_int_equal(length, 10);
			assert_string_equal(text, "agent: {}\n");
			free(text);
			continue;
		}
		assert_int_equal(files_check_trusted(path, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "writable by its group or by others"));
		why[0] = '\0';
		assert_int_equal(files_read_trusted(path, 100, &text, &length, why, sizeof(why)),
				 -EPERM);
		assert_null(text);
		assert_non_null(strstr(why, "writable by its group or by others"));
	}

	/* Another owner: refused (as root only: others cannot give a file away). */
	assert_int_equal(chmod(path, 0644), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(files_check_trusted(path, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "owned by uid 65534"));
		assert_int_equal(files_read_trusted(path, 100, &text, &length, why, sizeof(why)),
				 -EPERM);
		assert_int_equal(chown(path, 0, 0), 0);
	}
	/* Followed through a link: the file is what counts. */
	path_of(link_path, sizeof(link_path), "link.yaml");
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(files_check_trusted(link_path, why, sizeof(why)), -EPERM);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(files_read_trusted(link_path, 100, &text, NULL, why, sizeof(why)), 0);
	free(text);
	/* Missing: the error and its text. */
	path_of(path, sizeof(path), "missing.yaml");
	assert_int_equal(files_check_trusted(path, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, strerror(ENOENT));
	assert_int_equal(files_read_trusted(path, 100, &text, NULL, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, strerror(ENOENT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_make_dirs),
	    cmocka_unit_test(test_make_parent_dirs),
	    cmocka_unit_test(test_replace),
	    cmocka_unit_test(test_replace_text),
	    cmocka_unit_test(test_read_all),
	    cmocka_unit_test(test_modes_whatever_the_umask),
	    cmocka_unit_test(test_trusted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
