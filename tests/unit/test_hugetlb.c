// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/tenancy/hugetlb.c and the hugepages gauge of
 * memory.c: the names of pools and page sizes, which files a cgroup's huge
 * pages come from (v2, else v1 at the same path, else none), that nothing
 * is read while the host has no huge page in use, and the watcher's rows.
 * The trees are laid out in a temporary directory like cgroupfs and
 * sysfs; the real controller is exercised by tests/e2e/test_hugepages.sh.
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

#include "config.h"
#include "hugetlb.h"
#include "memory.h"
#include "tenants.h"

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

static void remove_file(const char *dir, const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s/%s", base, dir, name);
	assert_int_equal(unlink(path), 0);
}

static void make_dir(const char *dir)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", base, dir);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* Pool @pool ("hugepages-2048kB") with @total pages, @free of them free. */
static void set_pool(const char *pool, unsigned int total, unsigned int free_pages)
{
	char dir[64], text[32];

	snprintf(dir, sizeof(dir), "pools/%s", pool);
	snprintf(text, sizeof(text), "%u\n", total);
	put_file(dir, "nr_hugepages", text);
	snprintf(text, sizeof(text), "%u\n", free_pages);
	put_file(dir, "free_hugepages", text);
}

static int setup(void **state)
{
	char mounts[PATH_MAX * 2];
	FILE *file;

	snprintf(base, sizeof(base), "/tmp/abusewatch-test-hugetlb.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	make_dir("v2");
	make_dir("v2/ci");
	make_dir("v2/ci/withv2");
	make_dir("v2/ci/onlyv1");
	make_dir("v2/ci/none");
	make_dir("v1");
	make_dir("v1/ci");
	make_dir("v1/ci/onlyv1");
	make_dir("pools");
	make_dir("pools/hugepages-2048kB");
	make_dir("pools/hugepages-1048576kB");
	/* Not a pool: ignored. */
	make_dir("pools/other");
	set_pool("hugepages-2048kB", 0, 0);
	set_pool("hugepages-1048576kB", 0, 0);
	put_file("v2/ci/withv2", "hugetlb.2MB.current", "8388608\n");
	put_file("v2/ci/withv2", "hugetlb.2MB.rsvd.current", "16777216\n");
	put_file("v2/ci/withv2", "hugetlb.1GB.current", "1073741824\n");
	put_file("v1/ci/onlyv1", "hugetlb.2MB.usage_in_bytes", "4194304\n");
	put_file("v1/ci/onlyv1", "hugetlb.1GB.usage_in_bytes", "0\n");
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	file = fopen(mounts, "w");
	if (!file)
		return -1;
	fprintf(file, "cgroup2 %s/v2 cgroup2 rw 0 0\n", base);
	fprintf(file, "cgroup %s/memory cgroup rw,memory 0 0\n", base);
	fprintf(file, "cgroup %s/v1 cgroup rw,relatime,hugetlb 0 0\n", base);
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

static struct hugetlb_source *source_new(void)
{
	char v2[PATH_MAX * 2], mounts[PATH_MAX * 2], pools[PATH_MAX * 2];

	snprintf(v2, sizeof(v2), "%s/v2", base);
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	snprintf(pools, sizeof(pools), "%s/pools", base);
	return hugetlb_source_new(v2, mounts, pools);
}

static void test_size_names(void **state)
{
	char name[16];
	uint64_t bytes = 0;

	/* As mm/hugetlb_cgroup.c names the files. */
	assert_int_equal(hugetlb_size_name(2 << 20, name, sizeof(name)), 0);
	assert_string_equal(name, "2MB");
	assert_int_equal(hugetlb_size_name(UINT64_C(1) << 30, name, sizeof(name)), 0);
	assert_string_equal(name, "1GB");
	assert_int_equal(hugetlb_size_name(64 << 10, name, sizeof(name)), 0);
	assert_string_equal(name, "64KB");
	assert_int_equal(hugetlb_size_name(32 << 20, name, sizeof(name)), 0);
	assert_string_equal(name, "32MB");
	assert_int_equal(hugetlb_size_name(16ULL << 30, name, sizeof(name)), 0);
	assert_string_equal(name, "16GB");
	assert_int_equal(hugetlb_size_name(0, name, sizeof(name)), -EINVAL);
	assert_int_equal(hugetlb_size_name(2 << 20, name, 3), -EINVAL);

	assert_int_equal(hugetlb_pool_page_bytes("hugepages-2048kB", &bytes), 0);
	assert_int_equal(bytes, 2 << 20);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-1048576kB", &bytes), 0);
	assert_int_equal(bytes, UINT64_C(1) << 30);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-64kB", &bytes), 0);
	assert_int_equal(bytes, 64 << 10);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-2048KB", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-kB", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages--1kB", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-0kB", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-2048kBx", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("huge-2048kB", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes(".", &bytes), -EINVAL);
	assert_int_equal(hugetlb_pool_page_bytes("hugepages-99999999999999999999kB", &bytes),
			 -EINVAL);
}

static void test_pools_in_use(void **state)
{
	struct hugetlb_source *source = source_new();

	assert_non_null(source);
	assert_int_equal(hugetlb_pool_count(source), 2);
	/* Pools raised, but every page free: no cgroup can hold one. */
	set_pool("hugepages-2048kB", 128, 128);
	assert_false(hugetlb_source_refresh(source));
	set_pool("hugepages-2048kB", 128, 127);
	assert_true(hugetlb_source_refresh(source));
	assert_true(hugetlb_in_use(source));
	set_pool("hugepages-2048kB", 0, 0);
	set_pool("hugepages-1048576kB", 1, 0);
	assert_true(hugetlb_source_refresh(source));
	set_pool("hugepages-1048576kB", 0, 0);
	assert_false(hugetlb_source_refresh(source));
	/* Shrunk between the two reads (more free than there are): in use, to be safe. */
	set_pool("hugepages-1048576kB", 1, 2);
	assert_true(hugetlb_source_refresh(source));
	set_pool("hugepages-1048576kB", 0, 0);
	assert_false(hugetlb_source_refresh(source));
	hugetlb_source_free(source);
	hugetlb_source_free(NULL);
	assert_false(hugetlb_in_use(NULL));
}

static void test_no_pools(void **state)
{
	char v2[PATH_MAX * 2], mounts[PATH_MAX * 2], pools[PATH_MAX * 2];
	enum hugetlb_layout layout = HUGETLB_UNKNOWN;
	struct hugetlb_source *source;
	uint64_t bytes = 7;

	snprintf(v2, sizeof(v2), "%s/v2", base);
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	snprintf(pools, sizeof(pools), "%s/nonexistent", base);
	/* A kernel without hugetlbfs: no pools, no cgroup has a figure. */
	source = hugetlb_source_new(v2, mounts, pools);
	assert_non_null(source);
	assert_int_equal(hugetlb_pool_count(source), 0);
	assert_false(hugetlb_source_refresh(source));
	assert_int_equal(hugetlb_read(source, "/ci/withv2", &layout, true, &bytes), -ENOENT);
	assert_int_equal(layout, HUGETLB_NONE);
	hugetlb_source_free(source);
}

static void test_v2_sum_over_sizes_in_use(void **state)
{
	struct hugetlb_source *source = source_new();
	enum hugetlb_layout layout = HUGETLB_UNKNOWN;
	uint64_t bytes = 1;

	/* Nothing in use: 0, though the files say otherwise; the controller is found. */
	assert_int_equal(hugetlb_read(source, "/ci/withv2", &layout, false, &bytes), 0);
	assert_int_equal(layout, HUGETLB_V2);
	assert_int_equal(bytes, 0);
	set_pool("hugepages-2048kB", 8, 4);
	hugetlb_source_refresh(source);
	/* Only the 2 MB size is in use: its current, never rsvd.current. */
	assert_int_equal(hugetlb_read(source, "/ci/withv2", &layout, false, &bytes), 0);
	assert_int_equal(bytes, 8388608);
	set_pool("hugepages-1048576kB", 2, 1);
	hugetlb_source_refresh(source);
	assert_int_equal(hugetlb_read(source, "/ci/withv2", &layout, false, &bytes), 0);
	assert_int_equal(bytes, 8388608 + 1073741824);
	set_pool("hugepages-2048kB", 0, 0);
	set_pool("hugepages-1048576kB", 0, 0);
	hugetlb_source_refresh(source);
	hugetlb_source_free(source);
}

static void test_v1_fallback(void **state)
{
	struct hugetlb_source *source = source_new();
	enum hugetlb_layout layout = HUGETLB_UNKNOWN;
	uint64_t bytes = 0;

	set_pool("hugepages-2048kB", 8, 4);
	hugetlb_source_refresh(source);
	assert_int_equal(hugetlb_read(source, "/ci/onlyv1", &layout, false, &bytes), 0);
	assert_int_equal(layout, HUGETLB_V1);
	assert_int_equal(bytes, 4194304);
	/* Known to be v1: read there first, again. */
	put_file("v1/ci/onlyv1", "hugetlb.2MB.usage_in_bytes", "2097152\n");
	assert_int_equal(hugetlb_read(source, "/ci/onlyv1", &layout, false, &bytes), 0);
	assert_int_equal(bytes, 2097152);
	put_file("v1/ci/onlyv1", "hugetlb.2MB.usage_in_bytes", "4194304\n");
	set_pool("hugepages-2048kB", 0, 0);
	hugetlb_source_refresh(source);
	hugetlb_source_free(source);
}

static void test_no_controller(void **state)
{
	struct hugetlb_source *source = source_new();
	enum hugetlb_layout layout = HUGETLB_UNKNOWN;
	uint64_t bytes = 5;

	/* Looked for even with nothing in use: no series rather than a 0 that means nothing. */
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, false, &bytes), -ENOENT);
	assert_int_equal(layout, HUGETLB_NONE);
	set_pool("hugepages-2048kB", 8, 4);
	hugetlb_source_refresh(source);
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, false, &bytes), -ENOENT);
	assert_int_equal(hugetlb_read(source, "/ci/gone", &layout, false, &bytes), -ENOENT);
	/* The controller enabled later: found at the next look. */
	put_file("v2/ci/none", "hugetlb.2MB.current", "2097152\n");
	put_file("v2/ci/none", "hugetlb.1GB.current", "0\n");
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, false, &bytes), 0);
	assert_int_equal(layout, HUGETLB_V2);
	assert_int_equal(bytes, 2097152);
	/* And disabled again: gone from where it was, and from v1. */
	remove_file("v2/ci/none", "hugetlb.2MB.current");
	remove_file("v2/ci/none", "hugetlb.1GB.current");
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, false, &bytes), -ENOENT);
	assert_int_equal(layout, HUGETLB_NONE);
	set_pool("hugepages-2048kB", 0, 0);
	hugetlb_source_refresh(source);
	/* Nothing in use and the layout known: nothing read unless asked to check. */
	layout = HUGETLB_V2;
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, false, &bytes), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(hugetlb_read(source, "/ci/none", &layout, true, &bytes), -ENOENT);
	assert_int_equal(layout, HUGETLB_NONE);
	hugetlb_source_free(source);
}

/* The watcher: the gauge in the tenant's row, read with memory, 0 at once when all is freed. */
static void test_watcher_rows(void **state)
{
	static const char *const yaml = "tenants:\n"
					"  - cgroup: \"/ci/{tenant}\"\n"
					"plans:\n"
					"  default:\n"
					"    hugepages: 0\n";
	char v2[PATH_MAX * 2], mounts[PATH_MAX * 2], pools[PATH_MAX * 2], *errors = NULL;
	struct usage_sample delta = { .cpu_ns = 1000000 };
	struct tenant_table table = {};
	struct memory_watcher *watcher;
	struct config *config = NULL;
	struct tenant_set *set;
	struct tenant *holder;
	const struct tenant_row *row;

	if (config_parse("hugetlb.yaml", yaml, strlen(yaml), &config, &errors))
		fail_msg("%s", errors);
	set = tenant_set_new(config);
	holder = tenant_set_add_cgroup(set, 10, "/ci/withv2");
	assert_non_null(tenant_set_add_cgroup(set, 11, "/ci/none"));
	snprintf(v2, sizeof(v2), "%s/v2", base);
	snprintf(mounts, sizeof(mounts), "%s/mounts", base);
	snprintf(pools, sizeof(pools), "%s/pools", base);
	watcher = memory_watcher_new_at(v2, mounts, pools);
	assert_non_null(watcher);
	memory_watcher_add(watcher, 10, "/ci/withv2");
	memory_watcher_add(watcher, 11, "/ci/none");

	/* No huge page in use: 0 where the controller is, no value where it is not. */
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	memory_watcher_fill_rows(watcher, set, &table);
	assert_false(memory_watcher_hugepages_in_use(watcher));
	row = &table.rows[0];
	assert_string_equal(row->tenant, "none");
	assert_false(row->has_value[RESOURCE_HUGEPAGES]);
	row = &table.rows[1];
	assert_string_equal(row->tenant, "withv2");
	assert_true(row->has_value[RESOURCE_HUGEPAGES]);
	assert_true(row->value[RESOURCE_HUGEPAGES] == 0);
	/* No memory controller in this tree: huge pages come all the same. */
	assert_false(row->has_value[RESOURCE_MEMORY]);

	/* In use, and the tenant ran: read at this tick. */
	set_pool("hugepages-2048kB", 8, 4);
	tenant_set_add_usage(set, holder, &delta, 1);
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	memory_watcher_fill_rows(watcher, set, &table);
	assert_true(memory_watcher_hugepages_in_use(watcher));
	row = &table.rows[1];
	assert_true(row->has_value[RESOURCE_HUGEPAGES]);
	assert_true(row->value[RESOURCE_HUGEPAGES] == 8388608);
	assert_false(table.rows[0].has_value[RESOURCE_HUGEPAGES]);

	/* The last page freed: 0 at once, though the tenant did not run again. */
	set_pool("hugepages-2048kB", 8, 8);
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	memory_watcher_fill_rows(watcher, set, &table);
	assert_false(memory_watcher_hugepages_in_use(watcher));
	row = &table.rows[1];
	assert_true(row->has_value[RESOURCE_HUGEPAGES]);
	assert_true(row->value[RESOURCE_HUGEPAGES] == 0);
	set_pool("hugepages-2048kB", 0, 0);

	memory_watcher_free(watcher);
	tenant_table_free(&table);
	tenant_set_free(set);
	config_free(config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_names),
		cmocka_unit_test(test_pools_in_use),
		cmocka_unit_test(test_no_pools),
		cmocka_unit_test(test_v2_sum_over_sizes_in_use),
		cmocka_unit_test(test_v1_fallback),
		cmocka_unit_test(test_no_controller),
		cmocka_unit_test(test_watcher_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
