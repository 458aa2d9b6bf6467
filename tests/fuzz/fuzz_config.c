// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the configuration parser (user/config.c) with any YAML, from a
 * buffer of exactly its size (no terminating NUL to lean on). Refused
 * text must come with errors, one "NAME:LINE:COL: message" a line; an
 * accepted configuration must hold what the parser promises, and goes on
 * through what the agent does with one at start: tenant rules matched
 * against cgroup paths (templates, storage paths) and software policies
 * compiled and asked.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "software.h"
#include "tenants.h"

#define NAME "fuzz.yaml"

static const char *const sample_paths[] = {
	"/", "/ci", "/ci/t1", "/ci/t1/job/step", "/system.slice/docker-abc.scope",
	"/kubepods/burstable/pod1/c1", "/user.slice/user-1000.slice", "/a/b/c/d/e/f/g",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static void check_errors(const char *errors)
{
	const char *line = errors, *end;
	int at_line, at_column, consumed;

	fuzz_check(errors && *errors, "refused without a message");
	for (; *line; line = end + 1) {
		end = strchr(line, '\n');
		fuzz_check(end, "error text does not end in a newline: \"%s\"", line);
		consumed = 0;
		fuzz_check(!strncmp(line, NAME ":", strlen(NAME ":")) &&
				   sscanf(line + strlen(NAME ":"), "%d:%d: %n", &at_line, &at_column,
					  &consumed) == 2 &&
				   consumed && at_line >= 1 && at_column >= 1,
			   "not NAME:LINE:COL: message: \"%.*s\"", (int)(end - line), line);
	}
}

static void check_config(const struct config *config)
{
	size_t i, j;

	fuzz_check(config->agent.interval_ms > 0, "interval 0");
	fuzz_check(config->agent.textfile && config->agent.events_log && config->agent.state_dir,
		   "a default path is missing");
	for (i = 0; i < config->plan_count; i++) {
		const struct plan *plan = &config->plans[i];

		fuzz_check(plan->name && config_find_plan(config, plan->name),
			   "plan %zu cannot be found", i);
		fuzz_check(plan->hysteresis > 0 && plan->hysteresis <= 1, "hysteresis %g",
			   plan->hysteresis);
		for (j = 0; j < RESOURCE_COUNT; j++)
			fuzz_check(!plan->has_limit[j] ||
					   (isfinite(plan->limit[j]) && plan->limit[j] >= 0),
				   "plan %s limit %g", plan->name, plan->limit[j]);
		fuzz_check(plan_window_s(plan) > 0, "plan %s window %g", plan->name,
			   plan_window_s(plan));
	}
	for (i = 0; i < config->tenant_count; i++)
		fuzz_check(config->tenants[i].pattern, "rule %zu not compiled", i);
}

/* The policies compiled, and asked about an exec as the guard would. */
static void check_software(const struct config *config)
{
	struct software_facts facts = {
		.type = SOFTWARE_EVENT_EXEC,
		.comm = "xmrig",
		.exe = "/tmp/x/xmrig",
		.flags = EXE_TMP,
	};
	struct software_verdict verdict;
	struct exec_interest interest;
	size_t i;

	for (i = 0; i < config->software_count; i++) {
		struct software_matcher *matcher = software_matcher_new(&config->software[i]);

		fuzz_check(matcher, "policy %s not compiled: %s", config->software[i].name,
			   strerror(errno));
		memset(&interest, 0, sizeof(interest));
		software_matcher_interest(matcher, &interest);
		if (software_match(matcher, &facts, &verdict))
			fuzz_check(verdict.reason[0] && memchr(verdict.reason, '\0',
							       sizeof(verdict.reason)),
				   "a verdict without a reason");
		software_matcher_free(matcher);
	}
}

/* Cgroups through the tenant rules, as the tracker hands them to the tenant set. */
static void check_tenants(const struct config *config)
{
	struct tenant_set *set = tenant_set_new(config);
	struct tenant_table table = { 0 };
	struct tenant_match match;
	struct tenant *tenant;
	size_t i, j;

	fuzz_check(set, "no tenant set");
	for (i = 0; i < sizeof(sample_paths) / sizeof(sample_paths[0]); i++) {
		bool matched = tenants_match_path(config, sample_paths[i], &match);

		tenant = tenant_set_add_cgroup(set, i + 1, sample_paths[i]);
		if (!tenant)
			continue;
		fuzz_check(matched, "%s is a tenant's but matches no rule", sample_paths[i]);
		for (j = 0; j < tenant->storage_count; j++)
			fuzz_check(tenant->storage_paths[j][0] == '/',
				   "storage path \"%s\" is not absolute", tenant->storage_paths[j]);
	}
	fuzz_check(!tenant_set_fill_rows(set, &table), "rows not filled");
	for (i = 1; i < table.count; i++)
		fuzz_check(strcmp(table.rows[i - 1].tenant, table.rows[i].tenant) < 0,
			   "rows not in name order");
	for (i = 0; i < sizeof(sample_paths) / sizeof(sample_paths[0]); i++)
		tenant_set_remove_cgroup(set, i + 1, 1.0);
	tenant_table_free(&table);
	tenant_set_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct config *config = NULL;
	char *errors = NULL;
	size_t length;
	uint8_t *text = fuzz_rest(&in, &length);
	int err;

	err = config_parse(NAME, (const char *)text, length, &config, &errors);
	fuzz_check(err == 0 || err == -EINVAL || err == -ENOMEM, "config_parse returned %d", err);
	if (err) {
		fuzz_check(!config, "refused, yet a configuration came out");
		if (err == -EINVAL)
			check_errors(errors);
		goto cleanup;
	}
	fuzz_check(config && !errors, "accepted with errors \"%s\"", errors);
	check_config(config);
	check_software(config);
	check_tenants(config);
	fuzz_check(!config_override_hostname(config, "node-1") &&
			   !strcmp(config->agent.hostname, "node-1"),
		   "hostname not overridden");
cleanup:
	config_free(config);
	free(errors);
	free(text);
	return 0;
}
