// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/tenancy/memory.c: which files a cgroup's memory comes from
 * (v2, else v1 at the same path) and the working set taken from them. The
 * trees are laid out in a temporary directory like cgroupfs; the real
 * controller is exercised by tests/e2e/test_memory.sh.
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
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"

static char base[PATH_MAX];

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s/%s", base, dir, name);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

static void make_dir(const char *dir)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", base, dir);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	char mounts[PATH_MAX * 2];
	FILE *file;

	snprintf(base, sizeof(base), "/tmp/abusewatch-test-memory.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	make_dir("v2");
	make_dir("v2/withv2");
	make_dir("v2/onlyv1");
	make_dir("v2/none");
	make_dir("v1");
	make_dir("v1/onlyv1");
	put_file("v2/withv2", "memory.current", "1000000\n");
	put_file("v2/withv2", "memory.stat",
		 "anon 600000\nfile 400000\nactive_file 100000\n"
		 "inactive_file 300000\nslab 5\n");
	put_file("v1/onlyv1", "memory.usage_in_bytes", "5000000\n");
	put_file("v1/onlyv1", "memory.stat",
		 "cache 1\ninactive_file 7\ntotal_cache 2000000\n"
		 "total_inactive_file 1500000\n");
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	file = fopen(mounts, "w");
	if (!file)
		return -1;
	fprintf(file, "cgroup2 %s/v2 cgroup2 rw 0 0\n", base);
	fprintf(file, "cgroup %s/cpu cgroup rw,cpu 0 0\n", base);
	fprintf(file, "cgroup %s/v1 cgroup rw,relatime,memory 0 0\n", base);
	fclose(file);
	*state = NULL;
	return 0;
}

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	return system(command) == 0 ? 0 : -1;
}

static struct memory_source *source_new(void)
{
	char v2[PATH_MAX * 2], mounts[PATH_MAX * 2];

	snprintf(v2, sizeof(v2), "%s/v2", base);
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	return memory_source_new(v2, mounts);
}

static void test_v2_working_set(void **state)
{
	struct memory_source *source = source_new();
	struct memory_files files;
	uint64_t bytes = 0;

	assert_int_equal(memory_open(source, "/withv2", &files), 0);
	assert_int_equal(files.v1, 0);
	assert_int_equal(memory_read(&files, &bytes), 0);
	assert_int_equal(bytes, 700000);
	/* Read again after the kernel's figure changed: pread from the start. */
	put_file("v2/withv2", "memory.current", "2000000\n");
	assert_int_equal(memory_read(&files, &bytes), 0);
	assert_int_equal(bytes, 1700000);
	put_file("v2/withv2", "memory.current", "1000000\n");
	memory_close(&files);
	memory_source_free(source);
}

static void test_v1_fallback_uses_hierarchy_totals(void **state)
{
	struct memory_source *source = source_new();
	struct memory_files files;
	uint64_t bytes = 0;

	assert_int_equal(memory_open(source, "/onlyv1", &files), 0);
	assert_int_equal(files.v1, 1);
	assert_int_equal(memory_read(&files, &bytes), 0);
	/* total_inactive_file (children included), not the cgroup's own inactive_file. */
	assert_int_equal(bytes, 3500000);
	memory_close(&files);
	memory_source_free(source);
}

static void test_no_accounting(void **state)
{
	struct memory_source *source = source_new();
	struct memory_files files;

	assert_int_equal(memory_open(source, "/none", &files), -ENOENT);
	assert_int_equal(files.usage_fd, -1);
	assert_int_equal(memory_open(source, "/missing", &files), -ENOENT);
	memory_close(&files);
	memory_source_free(source);
}

static void test_inactive_above_usage_is_zero(void **state)
{
	struct memory_source *source = source_new();
	struct memory_files files;
	uint64_t bytes = 1;

	put_file("v2/withv2", "memory.stat", "inactive_file 9000000\n");
	assert_int_equal(memory_open(source, "/withv2", &files), 0);
	assert_int_equal(memory_read(&files, &bytes), 0);
	assert_int_equal(bytes, 0);
	memory_close(&files);
	memory_source_free(source);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_working_set),
	    cmocka_unit_test(test_v1_fallback_uses_hierarchy_totals),
	    cmocka_unit_test(test_no_accounting),
	    cmocka_unit_test(test_inactive_above_usage_is_zero),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
