/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Configuration: YAML (libyaml) to a validated, immutable struct config.
 * Every key of docs/configuration.md is known here (test_docs holds the two
 * together). Errors name FILE:LINE:COL (1-based).
 */
#ifndef ABUSEWATCH_CONFIG_H
#define ABUSEWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pattern.h"
#include "resource.h"

/* A plan's defaults (docs/configuration.md); also what a tenant whose plan is undefined gets. */
#define PLAN_DEFAULT_WINDOW_MS 60000
#define PLAN_DEFAULT_FOR_MS 30000
#define PLAN_DEFAULT_HYSTERESIS 0.9

struct plan {
	char *name;
	bool has_limit[RESOURCE_COUNT];
	/* Base units: cores, bytes, bytes/s, packets/s, connects/s, tasks, forks/s. */
	double limit[RESOURCE_COUNT];
	uint64_t window_ms;	/* default 60000 */
	uint64_t for_ms;	/* default 30000 */
	double hysteresis;	/* in (0, 1], default 0.9 */
	char *software;		/* software policy name, NULL when none */
	int line;		/* where the plan is defined */
};

struct tenant_rule {
	char *cgroup;		/* pattern text */
	struct pattern *pattern;	/* compiled */
	char *tenant;		/* template; NULL: capture "tenant", else the matched path */
	char *plan;		/* plan name; NULL means "default" */
	char **storage;		/* absolute path templates over the pattern's captures */
	size_t storage_count;
	int line;
};

enum software_action {
	SOFTWARE_ACTION_ALERT,
	SOFTWARE_ACTION_KILL,
	SOFTWARE_ACTION_FREEZE,
};

/* Key `raw_sockets` of a software policy: raw IP and packet sockets (socket_events.h). */
enum software_raw_sockets {
	SOFTWARE_RAW_SOCKETS_ALLOW,	/* absent: not looked at */
	SOFTWARE_RAW_SOCKETS_ALERT,
	SOFTWARE_RAW_SOCKETS_DENY,
};

struct software_policy {
	char *name;
	char **deny;		/* names and builtin:sets */
	size_t deny_count;
	char **deny_sha256;	/* 64 lowercase hex digits each */
	size_t deny_sha256_count;
	char **deny_paths;	/* globs */
	size_t deny_paths_count;
	char **allow_sha256;
	size_t allow_sha256_count;
	enum software_action action;	/* key `action`, default alert */
	char **yara;		/* operator YARA rule files, absolute paths */
	size_t yara_count;
	enum software_raw_sockets raw_sockets;	/* key `raw_sockets`, default allow */
	int line;
};

struct relative_config {
	double factor;		/* default 10 */
	unsigned int min_tenants;	/* default 5 */
	bool has_floor[RESOURCE_COUNT];
	double floor[RESOURCE_COUNT];	/* base units as in struct plan */
};

struct destination_rule {
	unsigned int destinations;
	uint64_t window_ms;
};

struct network_config {
	uint16_t *pool_ports;
	size_t pool_ports_count;
	struct destination_rule scan;	/* default 200 in 10s */
	struct destination_rule smtp;	/* default 20 in 60s */
};

struct alerts_config {
	char **alertmanager;	/* base URLs */
	size_t alertmanager_count;
	char *webhook_url;	/* "" or NULL: no webhook */
	char *webhook_secret_file;
	char *webhook_ca_file;	/* "" or NULL: the system's CAs */
	char *alertmanager_ca_file;	/* the same, for every Alertmanager peer */
};

struct agent_config {
	uint64_t interval_ms;	/* default 1000 */
	char *textfile;		/* default /var/lib/node_exporter/textfile_collector/abusewatch.prom */
	char *events_log;	/* default /var/log/abusewatch/events.jsonl */
	char *state_dir;	/* default /var/lib/abusewatch */
	char *hostname;		/* "" or NULL: gethostname() */
	uint64_t events_log_rotate_bytes;	/* default 64 MiB; 0: never rotate */
	unsigned int events_log_keep;	/* compressed files kept, default 5 */
	uint64_t storage_interval_ms;	/* storage passes at most this often, default 60 s */
};

struct config {
	char *source;		/* file name, or "<embedded default>" */
	struct agent_config agent;
	struct tenant_rule *tenants;
	size_t tenant_count;
	struct plan *plans;
	size_t plan_count;
	struct software_policy *software;
	size_t software_count;
	struct relative_config relative;
	struct network_config network;
	struct alerts_config alerts;
};

/*
 * Parses and validates a configuration. @name is used in messages. On error
 * returns -EINVAL (or -ENOENT/-EACCES/-ENOMEM for the file itself), leaves
 * *out untouched and, when @errors is non-NULL, sets *errors to a malloc'ed
 * string of one or more lines "NAME:LINE:COL: message\n" (caller frees).
 */
int config_parse(const char *name, const char *text, size_t len, struct config **out,
		 char **errors);
/*
 * config_parse of the file at @path, which must not be writable by anyone
 * but root or this user (-EPERM, the reason in *@errors).
 */
int config_load_file(const char *path, struct config **out, char **errors);
void config_free(struct config *config);
/*
 * `run --hostname` wins over agent.hostname, also after a reload: in a
 * DaemonSet the node's name comes from the downward API on the command
 * line, since the pod's own host name is the pod's. NULL changes nothing.
 */
int config_override_hostname(struct config *config, const char *hostname);

/* The plan called @name, or NULL. */
const struct plan *config_find_plan(const struct config *config, const char *name);

/* @plan's averaging window in seconds; the default's for NULL (an undefined plan). */
double plan_window_s(const struct plan *plan);

/*
 * Calls @fn with every leaf key the parser accepts, dotted: "agent.interval",
 * "tenants[].storage", "plans.*.cpu", "relative.floor.cpu". Read from the
 * parser's own tables, so that a test can hold the documentation to them.
 */
void config_each_key(void (*fn)(const char *dotted_key, void *ctx), void *ctx);

#endif
