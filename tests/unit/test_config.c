// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/config.c: the example configuration, the defaults, and
 * for each kind of mistake the exact NAME:LINE:COL it is reported at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One mistake: where it must be reported, and a part of the message. */
struct error_case {
	const char *yaml;
	int line;
	int column;
	const char *message;
};

static int parse_text(const char *yaml, struct config **config, char **errors)
{
	return config_parse("test.yaml", yaml, strlen(yaml), config, errors);
}

static size_t count_lines(const char *text)
{
	size_t lines = 0;

	for (; text && *text; text++)
		lines += *text == '\n';
	return lines;
}

/* Each case must fail with exactly one line, at its position. */
static void check_error_cases(const struct error_case *cases, size_t count)
{
	struct config *config;
	char prefix[64], *errors;
	size_t i;
	int err;

	for (i = 0; i < count; i++) {
		config = NULL;
		errors = NULL;
		err = parse_text(cases[i].yaml, &config, &errors);
		snprintf(prefix, sizeof(prefix), "test.yaml:%d:%d: ", cases[i].line,
			 cases[i].column);
		if (err != -EINVAL || config || !errors)
			fail_msg("case %zu: err %d, config %p, errors %p\n%s", i, err,
				 (void *)config, (void *)errors, cases[i].yaml);
		if (strncmp(errors, prefix, strlen(prefix)) || count_lines(errors) != 1 ||
		    !strstr(errors, cases[i].message))
			fail_msg("case %zu: expected one line \"%s...%s\", got:\n%s", i, prefix,
				 cases[i].message, errors);
		free(errors);
	}
}

static struct config *parse_ok(const char *yaml)
{
	struct config *config = NULL;
	char *errors = NULL;
	int err;

	err = parse_text(yaml, &config, &errors);
	if (err)
		fail_msg("refused (%d):\n%s\n%s", err, yaml, errors ? errors : "");
	assert_null(errors);
	assert_non_null(config);
	return config;
}

/*
 * The example lies beside this source. Tests run from the repository root
 * (make test) or from wherever the binary is: try both.
 */
static char *read_example(void)
{
	char exe[PATH_MAX], candidates[3][PATH_MAX + 64], *text = NULL;
	ssize_t exe_length;
	size_t i, size = 0;
	FILE *file = NULL;

	snprintf(candidates[0], sizeof(candidates[0]), "tests/unit/configs/example.yaml");
	snprintf(candidates[1], sizeof(candidates[1]), "configs/example.yaml");
	candidates[2][0] = '\0';
	exe_length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (exe_length > 0) {
		exe[exe_length] = '\0';
		snprintf(candidates[2], sizeof(candidates[2]),
			 "%s/../../tests/unit/configs/example.yaml", dirname(exe));
	}
	for (i = 0; i < ARRAY_SIZE(candidates) && !file; i++) {
		if (candidates[i][0])
			file = fopen(candidates[i], "r");
	}
	if (!file)
		fail_msg("tests/unit/configs/example.yaml not found");
	text = calloc(1, 65536);
	assert_non_null(text);
	size = fread(text, 1, 65535, file);
	fclose(file);
	assert_true(size > 0);
	return text;
}

static void test_example(void **state)
{
	const struct plan *plan;
	struct config *config;
	char *text = read_example();

	config = parse_ok(text);
	free(text);

	assert_int_equal(config->agent.interval_ms, 1000);
	assert_string_equal(config->agent.textfile,
			    "/var/lib/node_exporter/textfile_collector/abusewatch.prom");
	assert_string_equal(config->agent.events_log, "/var/log/abusewatch/events.jsonl");
	assert_string_equal(config->agent.state_dir, "/var/lib/abusewatch");
	assert_string_equal(config->agent.hostname, "");

	assert_int_equal(config->tenant_count, 2);
	assert_string_equal(config->tenants[0].cgroup, "/system.slice/docker-{id}.scope");
	assert_non_null(config->tenants[0].pattern);
	assert_string_equal(config->tenants[0].tenant, "{id}");
	assert_string_equal(config->tenants[0].plan, "default");
	assert_int_equal(config->tenants[0].line, 9);
	assert_null(config->tenants[1].tenant);
	assert_string_equal(config->tenants[1].plan, "small");
	assert_int_equal(config->tenants[1].storage_count, 1);
	assert_string_equal(config->tenants[1].storage[0], "/builds/{tenant}");

	assert_int_equal(config->plan_count, 1);
	plan = config_find_plan(config, "default");
	assert_non_null(plan);
	assert_null(config_find_plan(config, "small"));
	assert_true(plan->limit[RESOURCE_CPU] == 2);
	assert_true(plan->limit[RESOURCE_DISK_READ] == 52428800);
	assert_true(plan->limit[RESOURCE_DISK_WRITE] == 52428800);
	assert_true(plan->limit[RESOURCE_NET_RX] == 20971520);
	assert_true(plan->limit[RESOURCE_NET_TX] == 20971520);
	assert_true(plan->limit[RESOURCE_NET_RX_PACKETS] == 20000);
	assert_true(plan->limit[RESOURCE_NET_TX_PACKETS] == 20000);
	assert_true(plan->limit[RESOURCE_CONNECTIONS] == 200);
	assert_true(plan->limit[RESOURCE_STORAGE] == 20.0 * 1024 * 1024 * 1024);
	assert_true(plan->limit[RESOURCE_MEMORY] == 4.0 * 1024 * 1024 * 1024);
	assert_true(plan->limit[RESOURCE_PROCESSES] == 512);
	assert_true(plan->limit[RESOURCE_FORKS] == 100);
	assert_true(plan->limit[RESOURCE_HUGEPAGES] == 0);
	for (int i = 0; i < RESOURCE_COUNT; i++)
		assert_true(plan->has_limit[i]);
	assert_int_equal(plan->window_ms, 60000);
	assert_int_equal(plan->for_ms, 30000);
	assert_true(plan->hysteresis == 0.9);
	assert_string_equal(plan->software, "standard");
	assert_int_equal(plan->line, 16);

	assert_int_equal(config->software_count, 1);
	assert_string_equal(config->software[0].name, "standard");
	assert_int_equal(config->software[0].deny_count, 3);
	assert_string_equal(config->software[0].deny[2], "builtin:flooders");
	assert_int_equal(config->software[0].deny_sha256_count, 0);
	assert_int_equal(config->software[0].deny_paths_count, 0);
	assert_int_equal(config->software[0].allow_sha256_count, 0);
	assert_int_equal(config->software[0].action, SOFTWARE_ACTION_ALERT);

	assert_true(config->relative.factor == 10);
	assert_int_equal(config->relative.min_tenants, 5);
	assert_true(config->relative.has_floor[RESOURCE_CPU]);
	assert_true(config->relative.floor[RESOURCE_CPU] == 0.5);
	assert_true(config->relative.has_floor[RESOURCE_NET_TX]);
	assert_true(config->relative.floor[RESOURCE_NET_TX] == 1048576);
	assert_false(config->relative.has_floor[RESOURCE_MEMORY]);

	assert_int_equal(config->network.pool_ports_count, 7);
	assert_int_equal(config->network.pool_ports[0], 3333);
	assert_int_equal(config->network.pool_ports[6], 45700);
	assert_int_equal(config->network.scan.destinations, 200);
	assert_int_equal(config->network.scan.window_ms, 10000);
	assert_int_equal(config->network.smtp.destinations, 20);
	assert_int_equal(config->network.smtp.window_ms, 60000);

	assert_int_equal(config->alerts.alertmanager_count, 1);
	assert_string_equal(config->alerts.alertmanager[0], "http://127.0.0.1:9093");
	assert_string_equal(config->alerts.webhook_url, "");
	assert_string_equal(config->alerts.webhook_secret_file, "");
	config_free(config);
}

static void check_defaults(const struct config *config)
{
	assert_int_equal(config->agent.interval_ms, 1000);
	assert_string_equal(config->agent.textfile,
			    "/var/lib/node_exporter/textfile_collector/abusewatch.prom");
	assert_string_equal(config->agent.events_log, "/var/log/abusewatch/events.jsonl");
	assert_string_equal(config->agent.state_dir, "/var/lib/abusewatch");
	assert_true(!config->agent.hostname || !config->agent.hostname[0]);
	assert_int_equal(config->agent.events_log_rotate_bytes, 64 << 20);
	assert_int_equal(config->agent.events_log_keep, 5);
	assert_int_equal(config->tenant_count, 0);
	assert_int_equal(config->plan_count, 0);
	assert_int_equal(config->software_count, 0);
	assert_true(config->relative.factor == 10);
	assert_int_equal(config->relative.min_tenants, 5);
	for (int i = 0; i < RESOURCE_COUNT; i++)
		assert_false(config->relative.has_floor[i]);
	assert_int_equal(config->network.pool_ports_count, 0);
	assert_int_equal(config->network.scan.destinations, 200);
	assert_int_equal(config->network.scan.window_ms, 10000);
	assert_int_equal(config->network.smtp.destinations, 20);
	assert_int_equal(config->network.smtp.window_ms, 60000);
	assert_int_equal(config->alerts.alertmanager_count, 0);
	assert_true(!config->alerts.webhook_url || !config->alerts.webhook_url[0]);
	assert_string_equal(config->source, "test.yaml");
	assert_null(config_find_plan(config, "default"));
}

static void test_empty_is_defaults(void **state)
{
	static const char *const texts[] = {
		"", "\n", "# nothing\n", "{}", "~\n", "null", "---\n", "---\n...\n",
		"agent:\nplans: {}\ntenants: []\nnetwork: ~\n",
	};
	struct config *config;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		config = parse_ok(texts[i]);
		check_defaults(config);
		config_free(config);
	}
}

static void test_plan_defaults_and_partial(void **state)
{
	struct config *config;
	const struct plan *plan;

	config = parse_ok("plans:\n"
			  "  small: {cpu: 0.5, processes: 64}\n"
			  "  none:\n"
			  "tenants:\n"
			  "  - cgroup: /ci/{tenant}/**\n");
	plan = config_find_plan(config, "small");
	assert_non_null(plan);
	assert_true(plan->has_limit[RESOURCE_CPU]);
	assert_true(plan->limit[RESOURCE_CPU] == 0.5);
	assert_true(plan->limit[RESOURCE_PROCESSES] == 64);
	assert_false(plan->has_limit[RESOURCE_MEMORY]);
	assert_false(plan->has_limit[RESOURCE_NET_TX]);
	assert_int_equal(plan->window_ms, 60000);
	assert_int_equal(plan->for_ms, 30000);
	assert_true(plan->hysteresis == 0.9);
	assert_null(plan->software);
	plan = config_find_plan(config, "none");
	assert_non_null(plan);
	for (int i = 0; i < RESOURCE_COUNT; i++)
		assert_false(plan->has_limit[i]);
	/* No plan named: "default", which may be missing (no limits). */
	assert_null(config->tenants[0].plan);
	assert_null(config_find_plan(config, "default"));
	config_free(config);
}

static void test_values(void **state)
{
	struct config *config;
	const struct plan *plan;

	config = parse_ok("agent: {interval: 250ms, hostname: node-1, events_log_rotate_size: 1MiB,"
			  " events_log_keep: 0}\n"
			  "plans:\n"
			  "  p: {window: 1.5m, for: 0, hysteresis: 1, software: strict}\n"
			  "software:\n"
			  "  strict:\n"
			  "    action: kill\n"
			  "    deny: [xmrig, builtin:tunnels]\n"
			  "    deny_sha256:\n"
			  "    - E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n"
			  "    deny_paths: [\"memfd:*\", /tmp/*]\n"
			  "  cold: {action: freeze}\n"
			  "network: {pool_ports: [1, 65535], scan: {destinations: 1, window: 1s}}\n"
			  "alerts:\n"
			  "  alertmanager: [\"http://a:9093\", \"https://b:9093\"]\n"
			  "  webhook: {url: https://hooks.example/x, secret_file: /etc/secret}\n"
			  "relative:\n"
			  "  factor: 2.5\n"
			  "  min_tenants: 1\n"
			  "  floor: {processes: 10, memory: 1GiB}\n");
	assert_int_equal(config->agent.interval_ms, 250);
	assert_string_equal(config->agent.hostname, "node-1");
	assert_int_equal(config->agent.events_log_rotate_bytes, 1 << 20);
	assert_int_equal(config->agent.events_log_keep, 0);
	plan = config_find_plan(config, "p");
	assert_int_equal(plan->window_ms, 90000);
	assert_int_equal(plan->for_ms, 0);
	assert_true(plan->hysteresis == 1);
	assert_int_equal(config->software[0].action, SOFTWARE_ACTION_KILL);
	assert_int_equal(config->software[1].action, SOFTWARE_ACTION_FREEZE);
	assert_string_equal(config->software[0].deny_sha256[0],
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(config->software[0].deny_paths[0], "memfd:*");
	assert_int_equal(config->network.pool_ports[1], 65535);
	assert_int_equal(config->alerts.alertmanager_count, 2);
	assert_string_equal(config->alerts.webhook_secret_file, "/etc/secret");
	assert_true(config->relative.factor == 2.5);
	assert_true(config->relative.floor[RESOURCE_MEMORY] == 1073741824);
	config_free(config);
}

static void test_unknown_keys(void **state)
{
	static const struct error_case cases[] = {
		{ "plans:\n  default:\n    cpus: 2\n", 3, 5,
		  "unknown key \"cpus\" in plan \"default\"" },
		{ "agent: {}\nbogus: 1\n", 2, 1, "unknown key \"bogus\"" },
		{ "agent:\n  interval: 1s\n  intervall: 2s\n", 3, 3,
		  "unknown key \"intervall\" in agent" },
		{ "tenants:\n  - cgroup: /a\n    plans: x\n", 3, 5,
		  "unknown key \"plans\" in tenants[0]" },
		{ "software:\n  s: {deny: [], allow: []}\n", 2, 17,
		  "unknown key \"allow\" in software policy \"s\"" },
		{ "relative: {factors: 2}\n", 1, 12, "unknown key \"factors\" in relative" },
		{ "network:\n  scan: {destination: 2}\n", 2, 10,
		  "unknown key \"destination\" in network.scan" },
		{ "network: {smtp: {destinations: 2, windows: 1s}}\n", 1, 35,
		  "unknown key \"windows\" in network.smtp" },
		{ "alerts:\n  webhook: {url: \"\", secret: x}\n", 2, 22,
		  "unknown key \"secret\" in alerts.webhook" },
		{ "alerts: {alertmanagers: []}\n", 1, 10,
		  "unknown key \"alertmanagers\" in alerts" },
		{ "relative: {floor: {cpus: 1}}\n", 1, 20,
		  "unknown resource \"cpus\" in relative.floor" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

static void test_wrong_types(void **state)
{
	static const struct error_case cases[] = {
		{ "- a\n- b\n", 1, 1, "the top level: expected a mapping, not a list" },
		{ "agent: [1]\n", 1, 8, "agent: expected a mapping, not a list" },
		{ "tenants: {cgroup: /a}\n", 1, 10, "tenants: expected a list, not a mapping" },
		{ "tenants: [/a]\n", 1, 11, "tenants[0]: expected a mapping" },
		{ "plans: [default]\n", 1, 8, "plans: expected a mapping" },
		{ "plans: {d: {cpu: [1]}}\n", 1, 18, "plans.d.cpu: expected a single value" },
		{ "network: {pool_ports: 3333}\n", 1, 23, "network.pool_ports: expected a list" },
		{ "software: {s: {deny: builtin:miners}}\n", 1, 22,
		  "software.s.deny: expected a list" },
		{ "agent: {textfile: {a: b}}\n", 1, 19, "agent.textfile: expected a single value" },
		{ "alerts: {alertmanager: [[x]]}\n", 1, 25, "alerts.alertmanager[0]: expected" },
		{ "{[1]: 2}\n", 1, 2, "keys in the top level must be single values" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

static void test_bad_values(void **state)
{
	static const struct error_case cases[] = {
		{ "plans:\n  default:\n    disk_read: 50MB/h\n", 3, 16,
		  "plans.default.disk_read: \"50MB/h\" is not a byte rate (like 50MiB/s)" },
		{ "plans: {p: {memory: 4Gb}}\n", 1, 21, "plans.p.memory: \"4Gb\" is not a size" },
		{ "plans: {p: {storage: 20GiB/s}}\n", 1, 22, "is not a size" },
		{ "plans: {p: {cpu: 2 cores}}\n", 1, 18, "plans.p.cpu: \"2 cores\" is not" },
		{ "plans: {p: {processes: 1.5}}\n", 1, 24,
		  "plans.p.processes: \"1.5\" is not a whole" },
		{ "plans: {p: {forks: 100/m}}\n", 1, 20, "plans.p.forks: \"100/m\" is not a rate" },
		{ "plans: {p: {net_rx_packets: 1k/s}}\n", 1, 29, "is not a rate" },
		{ "plans: {p: {connections: fast}}\n", 1, 26, "is not a rate" },
		{ "plans: {p: {memory: -1GiB}}\n", 1, 21, "plans.p.memory: must not be negative" },
		{ "plans: {p: {cpu: -2}}\n", 1, 18, "plans.p.cpu: must not be negative" },
		{ "plans: {p: {net_tx: -1MiB/s}}\n", 1, 21, "must not be negative" },
		{ "plans: {p: {hysteresis: 0}}\n", 1, 25,
		  "plans.p.hysteresis: 0 is outside (0, 1]" },
		{ "plans: {p: {hysteresis: 1.01}}\n", 1, 25, "outside (0, 1]" },
		{ "plans: {p: {hysteresis: -0.5}}\n", 1, 25, "must not be negative" },
		{ "plans: {p: {window: 0s}}\n", 1, 21, "plans.p.window: must be longer than zero" },
		{ "plans: {p: {window: 1d}}\n", 1, 21, "\"1d\" is not a duration" },
		{ "plans: {p: {for: -1s}}\n", 1, 18, "plans.p.for: must not be negative" },
		{ "agent:\n  interval: 0\n", 2, 13, "agent.interval: must be longer than zero" },
		{ "agent: {events_log_rotate_size: big}\n", 1, 33,
		  "agent.events_log_rotate_size: \"big\" is not a size" },
		{ "agent: {events_log_rotate_size: -1MiB}\n", 1, 33, "must not be negative" },
		{ "agent: {events_log_keep: 1.5}\n", 1, 26, "is not a whole number" },
		{ "network: {scan: {window: 0ms}}\n", 1, 26,
		  "network.scan.window: must be longer" },
		{ "network: {smtp: {destinations: 0}}\n", 1, 32, "must be at least 1" },
		{ "network: {scan: {destinations: 2.5}}\n", 1, 32, "is not a whole number" },
		{ "network:\n  pool_ports: [3333, 0]\n", 2, 22,
		  "network.pool_ports[1]: \"0\" is not a port (1..65535)" },
		{ "network: {pool_ports: [65536]}\n", 1, 24, "\"65536\" is not a port" },
		{ "network: {pool_ports: [-1]}\n", 1, 24, "\"-1\" is not a port" },
		{ "relative: {factor: 0}\n", 1, 20, "relative.factor: must be at least 1" },
		{ "relative: {factor: 0.5}\n", 1, 20, "relative.factor: must be at least 1" },
		{ "relative: {factor: -3}\n", 1, 20, "relative.factor: must" },
		{ "agent: {storage_interval: 0s}\n", 1, 27,
		  "agent.storage_interval: must be longer than zero" },
		{ "relative: {min_tenants: 0}\n", 1, 25,
		  "relative.min_tenants: must be at least 1" },
		{ "relative: {floor: {net_tx: 1MiB}}\n", 1, 28,
		  "relative.floor.net_tx: \"1MiB\" is not a byte rate" },
		{ "relative: {floor: {cpu: -1}}\n", 1, 25, "must not be negative" },
		{ "alerts: {alertmanager: [\"127.0.0.1:9093\"]}\n", 1, 25,
		  "alerts.alertmanager[0]: \"127.0.0.1:9093\" is not an http:// or https:// URL" },
		{ "alerts:\n  webhook: {url: ftp://x}\n", 2, 18,
		  "alerts.webhook.url: \"ftp://x\"" },
		/* A password in a URL is never echoed. */
		{ "alerts:\n  webhook: {url: \"ftp://ops:hunter2@x/hook\"}\n", 2, 18,
		  "alerts.webhook.url: \"ftp://***@x/hook\" is not an http:// or https:// URL" },
		{ "software:\n  s:\n    action: block\n", 3, 13,
		  "software.s.action: \"block\" is not an action (alert, kill, freeze)" },
		/* The column points at the set name after "builtin:". */
		{ "software:\n  s:\n    deny: [xmrig, \"builtin:miner\"]\n", 3, 28,
		  "software.s.deny[1]: unknown builtin set \"miner\"" },
		{ "software: {s: {deny: [builtin:vpn]}}\n", 1, 31, "unknown builtin set \"vpn\"" },
		{ "software: {s: {deny_sha256: [abc]}}\n", 1, 30,
		  "software.s.deny_sha256[0]: \"abc\" is not a SHA-256 digest (64 hex digits)" },
		{ "software: {s: {allow_sha256: "
		  "[g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855]}}\n",
		  1, 31, "software.s.allow_sha256[0]" },
		{ "software: {s: {allow_sha256: "
		  "[e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550]}}\n",
		  1, 31, "is not a SHA-256 digest" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

/* software.<policy>.raw_sockets: absent allows; alert and deny; anything else names file, line, key. */
static void test_raw_sockets(void **state)
{
	static const struct error_case cases[] = {
		{ "software:\n  s:\n    raw_sockets: block\n", 3, 18,
		  "software.s.raw_sockets: \"block\" is not a raw_sockets setting (alert, deny)" },
		{ "software: {s: {raw_sockets: Deny}}\n", 1, 29, "software.s.raw_sockets: \"Deny\"" },
		{ "software: {s: {raw_sockets: [deny]}}\n", 1, 29,
		  "software.s.raw_sockets: expected a single value" },
		{ "software: {s: {raw_socket: deny}}\n", 1, 16,
		  "unknown key \"raw_socket\" in software policy \"s\"" },
	};
	struct config *config;

	config = parse_ok("software:\n"
			  "  none: {deny: [xmrig]}\n"
			  "  watch: {raw_sockets: alert}\n"
			  "  strict: {raw_sockets: deny, action: kill}\n");
	assert_int_equal(config->software[0].raw_sockets, SOFTWARE_RAW_SOCKETS_ALLOW);
	assert_int_equal(config->software[1].raw_sockets, SOFTWARE_RAW_SOCKETS_ALERT);
	assert_int_equal(config->software[2].raw_sockets, SOFTWARE_RAW_SOCKETS_DENY);
	assert_int_equal(config->software[2].action, SOFTWARE_ACTION_KILL);
	config_free(config);
	check_error_cases(cases, ARRAY_SIZE(cases));
}

static void test_tenant_errors(void **state)
{
	static const struct error_case cases[] = {
		/* Offset 0 in the pattern: just after the opening quote. */
		{ "tenants:\n  - cgroup: \"system.slice/x\"\n", 2, 14, "tenants[0].cgroup: " },
		/* Plain scalar: the '{' at offset 3 of "/a/{id". */
		{ "tenants:\n  - cgroup: /a/{id\n", 2, 16, "tenants[0].cgroup: " },
		{ "tenants:\n  - cgroup: \"/a/{id}/{id}\"\n", 2, 22, "tenants[0].cgroup: " },
		{ "tenants:\n  - plan: default\n", 2, 5,
		  "tenants[0]: a tenant rule needs a cgroup pattern" },
		{ "tenants:\n  - cgroup: /a/{id}\n  - tenant: x\n    plan: p\n", 3, 5,
		  "tenants[1]: a tenant rule needs a cgroup pattern" },
		/* A template naming a capture the pattern lacks: column at its '{'. */
		{ "tenants:\n  - cgroup: \"/docker-{id}.scope\"\n    tenant: \"t-{name}\"\n", 3, 16,
		  "tenants[0].tenant: " },
		{ "tenants:\n"
		  "  - cgroup: /ci/{tenant}/**\n"
		  "    storage: [\"/b/{tenant}\", \"/c/{job}\"]\n",
		  3, 34, "tenants[0].storage[1]: " },
		{ "tenants:\n  - cgroup: /ci/{tenant}\n    storage: /b\n", 3, 14,
		  "tenants[0].storage: expected a list" },
		{ "tenants:\n  - cgroup: /ci/{tenant}\n    storage: [\"b/{tenant}\"]\n", 3, 15,
		  "tenants[0].storage[0]: \"b/{tenant}\" is not an absolute path" },
		/* The column points at the ".." segment. */
		{ "tenants:\n  - cgroup: /ci/{tenant}\n    storage: [\"/b/../{tenant}\"]\n", 3, 19,
		  "tenants[0].storage[0]: \"/b/../{tenant}\" has a \".\" or \"..\" segment" },
		{ "tenants:\n  - cgroup: /ci/{tenant}\n    storage: [\"/b/{tenant}/.\"]\n", 3, 28,
		  "segment" },
		{ "plans: {p: {software: missing}}\n", 1, 23,
		  "plans.p.software: no software policy \"missing\"" },
		{ "plans:\n  p: {cpu: 1}\n  p: {cpu: 2}\n", 3, 3, "duplicate key \"p\" in plans" },
		{ "agent:\n  interval: 1s\n  interval: 2s\n", 3, 3,
		  "duplicate key \"interval\" in agent" },
		{ "agent: {}\nagent: {}\n", 2, 1, "duplicate key \"agent\" in the top level" },
		{ "software: {s: {deny: []}, s: {}}\n", 1, 27, "duplicate key \"s\" in software" },
		{ "relative: {floor: {cpu: 1, cpu: 2}}\n", 1, 28,
		  "duplicate key \"cpu\" in relative.floor" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

static void test_syntax_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "agent: [1\n", 2, 1, "did not find expected" },
		{ "agent:\n  interval: 1s\n textfile: x\n", 3, 2, "did not find expected key" },
		{ "a: \"unterminated\n", 2, 1, "" },
		{ "agent: {}\n\tplans: {}\n", 2, 1, "" },
		{ "--- {}\n--- {}\n", 2, 5, "only one YAML document is allowed" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

/* Every mistake is reported, one line each, in the order of the file. */
static void test_all_errors_reported(void **state)
{
	static const char yaml[] = "plans:\n"
				   "  default:\n"
				   "    software: nope\n"
				   "    cpus: 2\n"
				   "    hysteresis: 2\n"
				   "network: {pool_ports: [0, 22, 99999]}\n"
				   "bogus: true\n";
	struct config *config = NULL;
	char *errors = NULL;
	int err;

	err = parse_text(yaml, &config, &errors);
	assert_int_equal(err, -EINVAL);
	assert_null(config);
	assert_non_null(errors);
	assert_int_equal(count_lines(errors), 6);
	assert_string_equal(
		errors,
		"test.yaml:3:15: plans.default.software: no software policy \"nope\"\n"
		"test.yaml:4:5: unknown key \"cpus\" in plan \"default\"\n"
		"test.yaml:5:17: plans.default.hysteresis: 2 is outside (0, 1]\n"
		"test.yaml:6:24: network.pool_ports[0]: \"0\" is not a port (1..65535)\n"
		"test.yaml:6:31: network.pool_ports[2]: \"99999\" is not a port (1..65535)\n"
		"test.yaml:7:1: unknown key \"bogus\" in the top level\n");
	free(errors);
}

/* A tenant's plan that no section defines has no limits; only "small" warns. */
static void test_undefined_plans(void **state)
{
	struct config *config;

	config = parse_ok("tenants:\n"
			  "  - cgroup: /a/{tenant}\n"
			  "    plan: default\n"
			  "  - cgroup: /b/{tenant}\n"
			  "    plan: small\n"
			  "  - cgroup: /c/{tenant}\n");
	assert_int_equal(config->tenant_count, 3);
	assert_null(config_find_plan(config, "default"));
	assert_null(config_find_plan(config, "small"));
	assert_null(config->tenants[2].plan);
	config_free(config);
}

static void test_errors_optional(void **state)
{
	struct config *config = NULL;

	assert_int_equal(parse_text("bogus: 1\n", &config, NULL), -EINVAL);
	assert_null(config);
}

/*
 * Found by tests/fuzz/fuzz_config.c: a plain scalar folded over several
 * lines holds newlines, and the message quoting it came out as several
 * lines, not one "NAME:LINE:COL: message" line. Control characters are
 * escaped now, in values and in keys alike.
 */
static void test_errors_stay_one_line(void **state)
{
	static const struct error_case cases[] = {
		{ "network:\n  pool_ports: [431\n\n\n    3]\n", 2, 16,
		  "\"431\\n\\n3\" is not a port" },
		{ "agent:\n  \"bo\\tgus\\e\": 1\n", 2, 3, "unknown key \"bo\\x09gus\\x1b\"" },
	};

	check_error_cases(cases, ARRAY_SIZE(cases));
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", *errors = NULL, expected[128];
	struct config *config = NULL;
	FILE *file;
	int fd;

	assert_int_equal(config_load_file("/nonexistent/abusewatch.yaml", &config, &errors),
			 -ENOENT);
	assert_null(config);
	assert_string_equal(errors, "/nonexistent/abusewatch.yaml: cannot read: "
				    "No such file or directory\n");
	free(errors);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	assert_non_null(file);
	fputs("agent:\n  interval: 2s\n  bogus: 1\n", file);
	fclose(file);
	assert_int_equal(config_load_file(path, &config, &errors), -EINVAL);
	snprintf(expected, sizeof(expected), "%s:3:3: unknown key \"bogus\" in agent\n", path);
	assert_string_equal(errors, expected);
	free(errors);

	file = fopen(path, "w");
	assert_non_null(file);
	fputs("agent:\n  interval: 2s\n", file);
	fclose(file);
	assert_int_equal(config_load_file(path, &config, &errors), 0);
	assert_null(errors);
	assert_int_equal(config->agent.interval_ms, 2000);
	assert_string_equal(config->source, path);
	config_free(config);
	unlink(path);
}

/* A file written as @mode (umask aside) holding @text; its path in @path. */
static void write_file_mode(char *path, const char *text, mode_t mode)
{
	FILE *file;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	assert_non_null(file);
	fputs(text, file);
	fclose(file);
	assert_int_equal(chmod(path, mode), 0);
}

/*
 * A configuration, or a secret or CA file it names, that someone other
 * than root (or this user) could have written is refused, naming the file.
 */
static void test_untrusted_files(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", secret[] = "/tmp/test_config_secret_XXXXXX";
	char ca[] = "/tmp/test_config_ca_XXXXXX", *errors = NULL, expected[256], text[512];
	struct config *config = NULL;

	write_file_mode(path, "agent:\n  interval: 2s\n", 0664);
	assert_int_equal(config_load_file(path, &config, &errors), -EPERM);
	assert_null(config);
	snprintf(expected, sizeof(expected),
		 "%s: refused: the file is writable by its group or by others (mode 0664) "
		 "(chown root and chmod go-w it)\n",
		 path);
	assert_string_equal(errors, expected);
	free(errors);
	assert_int_equal(chmod(path, 0602), 0);
	assert_int_equal(config_load_file(path, &config, &errors), -EPERM);
	assert_non_null(strstr(errors, "(mode 0602)"));
	free(errors);
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(config_load_file(path, &config, &errors), -EPERM);
		assert_non_null(strstr(errors, "owned by uid 65534"));
		free(errors);
		assert_int_equal(chown(path, 0, 0), 0);
	}
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(config_load_file(path, &config, &errors), 0);
	config_free(config);

	/* The secret and CA files: an error at their line, in every way of loading. */
	write_file_mode(secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 0666);
	write_file_mode(ca, "-----BEGIN CERTIFICATE-----\n", 0620);
	snprintf(text, sizeof(text),
		 "alerts:\n"
		 "  alertmanager: [\"https://am.example:9093\"]\n"
		 "  alertmanager_ca_file: %s\n"
		 "  webhook: {url: \"https://hooks.example/x\", secret_file: %s, ca_file: %s}\n",
		 ca, secret, ca);
	assert_int_equal(config_parse("t.yaml", text, strlen(text), &config, &errors), -EINVAL);
	snprintf(expected, sizeof(expected),
		 "t.yaml:3:25: alerts.alertmanager_ca_file: %s is writable by its group or by "
		 "others (mode 0620): refused (chown root and chmod go-w it)\n",
		 ca);
	assert_memory_equal(errors, expected, strlen(expected));
	assert_non_null(strstr(errors, "t.yaml:4:"));
	assert_non_null(strstr(errors, "alerts.webhook.secret_file: "));
	assert_non_null(strstr(errors, "alerts.webhook.ca_file: "));
	/* The content of a secret is never in a message. */
	assert_null(strstr(errors, "MfKQ9r8G"));
	free(errors);

	assert_int_equal(chmod(secret, 0600), 0);
	assert_int_equal(chmod(ca, 0644), 0);
	assert_int_equal(config_parse("t.yaml", text, strlen(text), &config, &errors), 0);
	assert_string_equal(config->alerts.alertmanager_ca_file, ca);
	assert_string_equal(config->alerts.webhook_ca_file, ca);
	assert_string_equal(config->alerts.webhook_secret_file, secret);
	config_free(config);
	unlink(ca);
	unlink(secret);
	unlink(path);
}

static void test_resource_names(void **state)
{
	static const char *const names[RESOURCE_COUNT] = {
		"cpu",		  "memory",	   "disk_read",	  "disk_write",
		"net_rx",	  "net_tx",	   "net_rx_packets", "net_tx_packets",
		"connections", "storage",	   "processes",	  "forks",
		"hugepages",
	};
	int i;

	for (i = 0; i < RESOURCE_COUNT; i++) {
		assert_string_equal(resource_name((enum resource)i), names[i]);
		assert_int_equal(resource_from_name(names[i]), i);
	}
	assert_null(resource_name(RESOURCE_COUNT));
	assert_null(resource_name((enum resource)-1));
	assert_int_equal(resource_from_name("cpus"), -1);
	assert_int_equal(resource_from_name(""), -1);
	assert_int_equal(resource_from_name(NULL), -1);
	config_free(NULL);
}

static int quiet_logs(void **state)
{
	/* The warning for an undefined plan is expected; keep the output readable. */
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_empty_is_defaults),
		cmocka_unit_test(test_plan_defaults_and_partial),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_raw_sockets),
		cmocka_unit_test(test_tenant_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_undefined_plans),
		cmocka_unit_test(test_errors_optional),
		cmocka_unit_test(test_errors_stay_one_line),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_untrusted_files),
		cmocka_unit_test(test_resource_names),
	};

	return cmocka_run_group_tests(tests, quiet_logs, NULL);
}
