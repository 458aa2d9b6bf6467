// SPDX-License-Identifier: GPL-2.0
/* Tenant rules, the embedded default configuration, tenant sums, v2 root detection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "config.h"
#include "tenants.h"

extern const char default_config_yaml[];
extern const char default_config_yaml_end[];

static struct config *parse(const char *text)
{
	struct config *config = NULL;
	char *errors = NULL;
	int err = config_parse("test.yaml", text, strlen(text), &config, &errors);

	if (err)
		fprintf(stderr, "%s", errors ? errors : "?");
	assert_int_equal(err, 0);
	free(errors);
	return config;
}

/* @root is the tenant's top-most matched cgroup, a prefix of @path. */
static void expect_tenant(const struct config *config, const char *path, const char *name,
			  const char *plan, const char *root)
{
	struct tenant_match match;

	assert_true(tenants_match_path(config, path, &match));
	assert_string_equal(match.name, name);
	assert_string_equal(match.plan, plan);
	assert_int_equal(match.root_length, strlen(root));
	assert_memory_equal(path, root, strlen(root));
}

static void expect_none(const struct config *config, const char *path)
{
	struct tenant_match match;

	assert_false(tenants_match_path(config, path, &match));
}

static const char contract_rules[] =
	"tenants:\n"
	"  - cgroup: \"/system.slice/docker-{id}.scope\"\n"
	"    tenant: \"{id}\"\n"
	"    plan: default\n"
	"  - cgroup: \"/ci/{tenant}/**\"\n"
	"    plan: small\n"
	"  - cgroup: \"/jobs/{job}\"\n"
	"plans:\n"
	"  default: {cpu: 2}\n"
	"  small: {cpu: 1}\n";

static void test_contract_rules(void **state)
{
	struct config *config = parse(contract_rules);

	expect_tenant(config, "/system.slice/docker-abc.scope", "abc", "default",
		      "/system.slice/docker-abc.scope");
	/* Children of a matched cgroup belong to its tenant. */
	expect_tenant(config, "/system.slice/docker-abc.scope/init/x", "abc", "default",
		      "/system.slice/docker-abc.scope");
	/* `**` matches zero segments: the tenant's own cgroup is the top-most match. */
	expect_tenant(config, "/ci/t1", "t1", "small", "/ci/t1");
	expect_tenant(config, "/ci/t1/step/3", "t1", "small", "/ci/t1");
	/* No template and no capture named tenant: the path names the tenant. */
	expect_tenant(config, "/jobs/42", "/jobs/42", "default", "/jobs/42");
	expect_tenant(config, "/jobs/42/sub", "/jobs/42", "default", "/jobs/42");
	expect_none(config, "/");
	expect_none(config, "/ci");
	expect_none(config, "/system.slice");
	expect_none(config, "/system.slice/cron.service");
	expect_none(config, "/system.slice/docker-.scope");
	config_free(config);
}

static void test_first_rule_wins(void **state)
{
	struct config *config = parse("tenants:\n"
				      "  - cgroup: \"/a/{tenant}\"\n"
				      "    plan: first\n"
				      "  - cgroup: \"/a/*/**\"\n"
				      "    tenant: \"second\"\n"
				      "    plan: second\n"
				      "plans: {first: {}, second: {}}\n");

	expect_tenant(config, "/a/x", "x", "first", "/a/x");
	expect_tenant(config, "/a/x/y", "x", "first", "/a/x");
	config_free(config);
}

static struct config *default_config(void)
{
	struct config *config = NULL;
	char *errors = NULL;
	int err = config_parse("<embedded default>", default_config_yaml,
			       default_config_yaml_end - default_config_yaml, &config, &errors);

	if (err)
		fprintf(stderr, "%s", errors ? errors : "?");
	assert_int_equal(err, 0);
	free(errors);
	return config;
}

static void test_default_config_runtimes(void **state)
{
	struct config *config = default_config();
	struct tenant_match match;

	expect_tenant(config, "/system.slice/docker-0123abcd.scope", "docker-0123abcd", "default",
		      "/system.slice/docker-0123abcd.scope");
	expect_tenant(config, "/docker/0123abcd/nested", "docker-0123abcd", "default",
		      "/docker/0123abcd");
	assert_true(tenants_match_path(config,
				       "/kubepods.slice/kubepods-burstable.slice/"
				       "kubepods-burstable-pod1a2b_3c4d.slice/"
				       "cri-containerd-feed.scope",
				       &match));
	assert_string_equal(match.name, "pod-1a2b_3c4d");
	assert_true(tenants_match_path(config,
				       "/kubepods.slice/kubepods-pod9f.slice/crio-beef.scope",
				       &match));
	assert_string_equal(match.name, "pod-9f");
	expect_tenant(config, "/kubepods/besteffort/pod77/c1", "pod-77", "default",
		      "/kubepods/besteffort/pod77");
	expect_tenant(config, "/kubepods/pod78/c1", "pod-78", "default", "/kubepods/pod78");
	expect_tenant(config, "/system.slice/cri-containerd-c0ffee.scope", "containerd-c0ffee",
		      "default", "/system.slice/cri-containerd-c0ffee.scope");
	expect_tenant(config, "/system.slice/crio-c0ffee.scope", "crio-c0ffee", "default",
		      "/system.slice/crio-c0ffee.scope");
	expect_tenant(config, "/machine.slice/libpod-c0ffee.scope", "podman-c0ffee", "default",
		      "/machine.slice/libpod-c0ffee.scope");
	/* Rootless podman inside a user's slice: the container, not the user. */
	assert_true(tenants_match_path(config,
				       "/user.slice/user-1000.slice/user@1000.service/"
				       "user.slice/libpod-c0ffee.scope/container",
				       &match));
	assert_string_equal(match.name, "podman-c0ffee");
	expect_tenant(config, "/user.slice/user-1000.slice/session-3.scope", "user-1000",
		      "default", "/user.slice/user-1000.slice");
	expect_tenant(config, "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope",
		      "machine-qemu\\x2d1\\x2dvm.scope", "default",
		      "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope");
	expect_none(config, "/system.slice/sshd.service");
	expect_none(config, "/init.scope");
	expect_none(config, "/");
	assert_non_null(config_find_plan(config, "default"));
	config_free(config);
}

static void test_tenant_sums_survive_cgroup_removal(void **state)
{
	struct config *config = parse("tenants:\n  - cgroup: \"/t/{tenant}/**\"\n");
	struct tenant_set *set = tenant_set_new(config);
	struct usage_sample delta = { .cpu_ns = 1000, .forks = 2, .tx_bytes = 10 };
	struct tenant *a, *b, *list[4];

	assert_non_null(set);
	a = tenant_set_add_cgroup(set, 10, "/t/a");
	assert_non_null(a);
	assert_ptr_equal(tenant_set_add_cgroup(set, 11, "/t/a/child"), a);
	assert_null(tenant_set_add_cgroup(set, 12, "/elsewhere"));
	assert_true(tenant_set_knows_cgroup(set, 12));
	b = tenant_set_add_cgroup(set, 13, "/t/b");
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(tenant_set_count(set), 2);

	tenant_set_add_usage(set, a, &delta, 3);
	tenant_set_add_usage(set, tenant_set_of_cgroup(set, 11), &delta, 2);
	assert_int_equal(a->total.cpu_ns, 2000);
	assert_int_equal(a->total.forks, 4);
	assert_int_equal(a->tasks, 5);

	/* One cgroup goes: its final report takes its tasks back; totals stay, the tenant lives on. */
	tenant_set_remove_cgroup(set, 11, 100.0);
	tenant_set_add_usage(set, a, &(struct usage_sample){ 0 }, -2);
	tenant_set_forget_cgroup(set, 11);
	assert_int_equal(a->tasks, 3);
	assert_int_equal(a->total.cpu_ns, 2000);
	assert_int_equal(tenant_set_expire(set, 1000.0, 300.0), 0);

	/* The last one goes: the tenant expires only after the expiry time. */
	tenant_set_remove_cgroup(set, 10, 200.0);
	assert_int_equal(tenant_set_expire(set, 499.0, 300.0), 0);
	assert_int_equal(tenant_set_expire(set, 500.0, 300.0), 1);
	assert_int_equal(tenant_set_list(set, list, 4), 1);
	assert_string_equal(list[0]->name, "b");
	assert_null(tenant_set_of_cgroup(set, 10));

	/* Coming back before expiry keeps the counters. */
	tenant_set_remove_cgroup(set, 13, 600.0);
	assert_ptr_equal(tenant_set_add_cgroup(set, 14, "/t/b"), b);
	assert_int_equal(tenant_set_expire(set, 10000.0, 300.0), 0);
	tenant_set_free(set);
	config_free(config);
}

/*
 * Found by tests/fuzz/fuzz_config.c under UBSan: a set without tenants
 * has no array, and sorting or listing it passed NULL to qsort() and
 * memcpy(). `make sanitize` runs this with UBSan, where that is fatal.
 */
static void test_no_tenants(void **state)
{
	struct config *config = parse("tenants: []\n");
	struct tenant_set *set = tenant_set_new(config);
	struct tenant_table table = { 0 };
	struct tenant *list[1];

	assert_non_null(set);
	assert_null(tenant_set_add_cgroup(set, 10, "/elsewhere"));
	assert_int_equal(tenant_set_list(set, list, 1), 0);
	assert_int_equal(tenant_set_fill_rows(set, &table), 0);
	assert_int_equal(table.count, 0);
	tenant_table_free(&table);
	tenant_set_free(set);
	config_free(config);
}

static void test_renamed_cgroup_changes_tenant(void **state)
{
	struct config *config = parse("tenants:\n  - cgroup: \"/t/{tenant}\"\n");
	struct tenant_set *set = tenant_set_new(config);
	struct tenant *a, *b;

	a = tenant_set_add_cgroup(set, 1, "/t/a");
	b = tenant_set_add_cgroup(set, 1, "/t/b");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->live_cgroups, 0);
	assert_int_equal(b->live_cgroups, 1);
	tenant_set_free(set);
	config_free(config);
}

static void expect_root(const char *mounts, int expected_err, const char *expected_root)
{
	char path[] = "/tmp/abusewatch-mounts-XXXXXX", root[256];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, mounts, strlen(mounts)), (ssize_t)strlen(mounts));
	close(fd);
	assert_int_equal(cgroups_find_v2_root(path, root, sizeof(root)), expected_err);
	if (!expected_err)
		assert_string_equal(root, expected_root);
	unlink(path);
}

/* Storage templates expand over the captures of the cgroup that made the tenant. */
static void test_storage_paths_expand(void **state)
{
	struct config *config = parse("tenants:\n"
				      "  - cgroup: \"/ci/{org}/{tenant}/**\"\n"
				      "    storage: [\"/builds/{org}/{tenant}\", \"/cache/{tenant}\"]\n"
				      "  - cgroup: \"/other/{tenant}\"\n");
	struct tenant_set *set = tenant_set_new(config);
	struct tenant *tenant;
	uint64_t generation;

	assert_non_null(set);
	generation = tenant_set_generation(set);
	tenant = tenant_set_add_cgroup(set, 10, "/ci/acme/job7/step/1");
	assert_non_null(tenant);
	assert_string_equal(tenant->name, "job7");
	assert_int_equal(tenant->storage_count, 2);
	assert_string_equal(tenant->storage_paths[0], "/builds/acme/job7");
	assert_string_equal(tenant->storage_paths[1], "/cache/job7");
	assert_true(tenant_set_generation(set) != generation);
	/* Another cgroup of the same tenant changes nothing. */
	generation = tenant_set_generation(set);
	assert_ptr_equal(tenant_set_add_cgroup(set, 11, "/ci/acme/job7/step/2"), tenant);
	assert_int_equal(tenant_set_generation(set), generation);
	/* A rule without storage: no paths. */
	tenant = tenant_set_add_cgroup(set, 12, "/other/x");
	assert_non_null(tenant);
	assert_int_equal(tenant->storage_count, 0);
	/* Dropped tenants change the generation too. */
	tenant_set_remove_cgroup(set, 12, 1.0);
	generation = tenant_set_generation(set);
	assert_int_equal(tenant_set_expire(set, 100.0, 10.0), 1);
	assert_true(tenant_set_generation(set) != generation);
	tenant_set_free(set);
	config_free(config);
}

static void test_v2_root_from_mounts(void **state)
{
	/* Hybrid hosts (these build machines): v1 controllers, v2 under unified/. */
	expect_root("tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
		    "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
		    "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
		    "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n",
		    0, "/sys/fs/cgroup/unified");
	expect_root("sysfs /sys sysfs rw 0 0\n"
		    "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,nsdelegate 0 0\n",
		    0, "/sys/fs/cgroup");
	expect_root("cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", -ENOENT, NULL);
	expect_root("", -ENOENT, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_rules),
		cmocka_unit_test(test_first_rule_wins),
		cmocka_unit_test(test_default_config_runtimes),
		cmocka_unit_test(test_tenant_sums_survive_cgroup_removal),
		cmocka_unit_test(test_no_tenants),
		cmocka_unit_test(test_renamed_cgroup_changes_tenant),
		cmocka_unit_test(test_storage_paths_expand),
		cmocka_unit_test(test_v2_root_from_mounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
