// SPDX-License-Identifier: GPL-2.0
/*
 * The flood control of the software rules' alerts: alerts keyed by tenant,
 * rule and executable on the shared hash table, counted per tenant.
 *
 * The tracker holds pidfds of the last processes each alert was seen in: a
 * pid alone could be reused, and an alert must not resolve while its miner
 * still runs, even one that stays frozen for longer than the window.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <json-c/json.h>

#include "files.h"
#include "hashtable.h"
#include "json.h"
#include "log.h"
#include "state_file.h"
#include "seed.h"
#include "software_tracker.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every architecture */
#endif

/* /proc/PID/stat: one line of pid, comm (15 characters at most) and numbers. */
#define PROC_STAT_MAX 4096
#define STATE_FORMAT_VERSION 1
/* SOFTWARE_TRACKER_MAX alerts with long paths take some 40 MB: more is no state of ours. */
#define STATE_FILE_MAX (64u << 20)
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define BOOT_ID_SIZE 37

struct tenant_alerts;

struct tracked_alert {
	struct hashtable_node node;	/* in the tracker's alerts, by tenant, rule and exe */
	struct tenant_alerts *tenant;
	enum software_rule rule;
	const char *exe;	/* these point into strings[] */
	const char *plan;
	const char *cgroup;
	const char *comm;
	const char *sha256;	/* NULL when unknown */
	const char *reason;
	const char *action;
	int pid;		/* the last process seen: the record's */
	/* The processes it waits for, oldest first; pidfd -1: asked by pid. */
	struct watched_process {
		int pid;
		int pidfd;
		unsigned long long start_ticks;	/* for the state file; 0: unknown */
	} watched[SOFTWARE_TRACKER_PIDS];
	size_t watched_count;
	double since;
	double last_evidence;
	double window_s;
	char strings[];
};

struct alert_key {
	const struct tenant_alerts *tenant;
	enum software_rule rule;
	const char *exe;
};

/* A tenant with alerts: its name, shared by them, and how many there are. */
struct tenant_alerts {
	struct hashtable_node node;	/* in the tracker's tenants, by name */
	size_t count;
	char name[];
};

struct software_tracker {
	struct hashtable alerts;
	struct hashtable tenants;
	uint64_t suppressed;
	bool changed;		/* an alert fired or resolved, or its processes changed, unsaved */
	/* Executable paths are chosen by tenants: keep them from picking collisions. */
	struct hash_key key;
};

static uint64_t tenant_hash(const struct software_tracker *tracker, const char *tenant)
{
	return hash_bytes(&tracker->key, tenant, strlen(tenant) + 1);
}

static uint64_t alert_hash(const struct software_tracker *tracker, const char *tenant,
			   enum software_rule rule, const char *exe)
{
	uint32_t rule_number = (uint32_t)rule;
	struct hash_state state;

	hash_start(&state, &tracker->key);
	hash_add(&state, tenant, strlen(tenant) + 1);
	hash_add(&state, &rule_number, sizeof(rule_number));
	hash_add(&state, exe, strlen(exe) + 1);
	return hash_finish(&state);
}

static bool tenant_is(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_alerts, node)->name, name);
}

static bool alert_is(const struct hashtable_node *node, const void *key)
{
	const struct tracked_alert *alert = hashtable_entry(node, struct tracked_alert, node);
	const struct alert_key *wanted = key;

	return alert->tenant == wanted->tenant && alert->rule == wanted->rule &&
	       !strcmp(alert->exe, wanted->exe);
}

struct software_tracker *software_tracker_new(void)
{
	struct software_tracker *tracker = calloc(1, sizeof(*tracker));

	if (!tracker)
		goto cleanup;
	hashtable_init(&tracker->alerts, alert_is);
	hashtable_init(&tracker->tenants, tenant_is);
	/* All the buckets the bound allows, now: noting an alert then cannot fail on them. */
	if (hashtable_reserve(&tracker->alerts, SOFTWARE_TRACKER_MAX))
		goto cleanup;
	hash_key_random(&tracker->key);
	return tracker;

cleanup:
	software_tracker_free(tracker);
	errno = ENOMEM;
	return NULL;
}

static void watched_close(struct watched_process *process)
{
	if (process->pidfd >= 0)
		close(process->pidfd);
	process->pidfd = -1;
}

static void alert_close_pidfds(struct tracked_alert *alert)
{
	size_t i;

	for (i = 0; i < alert->watched_count; i++)
		watched_close(&alert->watched[i]);
	alert->watched_count = 0;
}

static void alert_free(struct hashtable_node *node)
{
	struct tracked_alert *alert = hashtable_entry(node, struct tracked_alert, node);

	alert_close_pidfds(alert);
	free(alert);
}

static void tenant_free(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct tenant_alerts, node));
}

void software_tracker_free(struct software_tracker *tracker)
{
	if (!tracker)
		return;
	hashtable_release(&tracker->alerts, alert_free);
	hashtable_release(&tracker->tenants, tenant_free);
	free(tracker);
}

static struct tenant_alerts *tenant_find(const struct software_tracker *tracker,
					 const char *name, uint64_t hash)
{
	return hashtable_entry(hashtable_find(&tracker->tenants, hash, name),
			       struct tenant_alerts, node);
}

static struct tenant_alerts *tenant_add(struct software_tracker *tracker, const char *name,
					uint64_t hash)
{
	size_t length = strlen(name) + 1;
	struct tenant_alerts *tenant = calloc(1, sizeof(*tenant) + length);

	if (!tenant)
		return NULL;
	memcpy(tenant->name, name, length);
	if (hashtable_insert(&tracker->tenants, &tenant->node, hash)) {
		free(tenant);
		return NULL;
	}
	return tenant;
}

static struct tracked_alert *alert_find(const struct software_tracker *tracker,
					const struct tenant_alerts *tenant,
					enum software_rule rule, const char *exe, uint64_t hash)
{
	const struct alert_key key = { .tenant = tenant, .rule = rule, .exe = exe };

	return hashtable_entry(hashtable_find(&tracker->alerts, hash, &key), struct tracked_alert,
			       node);
}

static bool watched_exited(struct watched_process *process)
{
	struct pollfd pollfd = { .fd = process->pidfd, .events = POLLIN };

	if (process->pidfd >= 0)
		/* A pidfd turns readable when its process exits, reaped or not. */
		return poll(&pollfd, 1, 0) > 0 && (pollfd.revents & (POLLIN | POLLHUP));
	return kill(process->pid, 0) && errno == ESRCH;
}

/* Lets go of the processes of @alert that have exited; whether none is left. */
static bool alert_processes_exited(struct tracked_alert *alert)
{
	size_t i, kept = 0;

	for (i = 0; i < alert->watched_count; i++) {
		if (watched_exited(&alert->watched[i]))
			watched_close(&alert->watched[i]);
		else
			alert->watched[kept++] = alert->watched[i];
	}
	alert->watched_count = kept;
	return !kept;
}

/*
 * Waits for @pid too, unless it is already waited for or gone. Without a
 * pidfd (an old kernel, no descriptors left) the pid itself is asked
 * later: a reused pid then only keeps the alert firing longer.
 */
unsigned long long software_process_start_ticks(int pid)
{
	unsigned long long ticks = 0;
	char path[64], *text, *field;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (files_read_all(path, PROC_STAT_MAX, &text, NULL))
		return 0;
	/* After the comm, which may hold spaces and parentheses: field 3 on. */
	field = strrchr(text, ')');
	for (i = 2; field && i < 22; i++)
		field = strchr(field + 1, ' ');
	if (field)
		ticks = strtoull(field + 1, NULL, 10);
	free(text);
	return ticks;
}

/* Waits for @pid too (see below); whether the processes waited for changed. */
static bool alert_watch(struct tracked_alert *alert, int pid)
{
	struct watched_process *process;
	size_t i, before = alert->watched_count;
	int fd;

	if (pid <= 0)
		return false;
	alert_processes_exited(alert);
	for (i = 0; i < alert->watched_count; i++) {
		if (alert->watched[i].pid == pid)
			return alert->watched_count != before;
	}
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
	if (fd < 0 && errno == ESRCH)
		return alert->watched_count != before;
	if (fd < 0)
		pr_debug("software: pidfd_open(%d): %s; watching the pid", pid, strerror(errno));
	if (alert->watched_count == SOFTWARE_TRACKER_PIDS) {
		watched_close(&alert->watched[0]);
		memmove(&alert->watched[0], &alert->watched[1],
			(SOFTWARE_TRACKER_PIDS - 1) * sizeof(alert->watched[0]));
		alert->watched_count--;
	}
	process = &alert->watched[alert->watched_count++];
	process->pid = pid;
	process->pidfd = fd;
	/* Read once the pidfd holds the pid: the start of the process it names. */
	process->start_ticks = software_process_start_ticks(pid);
	return true;
}

/* The processes of one piece of evidence (@info) for @alert; whether they changed. */
static bool alert_watch_evidence(struct tracked_alert *alert,
				 const struct software_alert_info *info)
{
	bool changed = false;

	alert->pid = info->pid;
	if (!info->gone)
		changed |= alert_watch(alert, info->pid);
	if (info->helper_pid != info->pid)
		changed |= alert_watch(alert, info->helper_pid);
	return changed;
}

static size_t string_size(const char *text)
{
	return text ? strlen(text) + 1 : 0;
}

static const char *store_string(char **cursor, const char *text)
{
	char *stored = *cursor;
	size_t size = strlen(text) + 1;

	memcpy(stored, text, size);
	*cursor += size;
	return stored;
}

static struct tracked_alert *alert_new(const struct software_alert_info *info, const char *exe)
{
	const char *comm = info->comm ? info->comm : "";
	const char *reason = info->reason ? info->reason : "";
	const char *plan = info->plan ? info->plan : "";
	const char *cgroup = info->cgroup ? info->cgroup : "";
	const char *action = info->action ? info->action : "alert";
	struct tracked_alert *alert;
	char *cursor;

	/* One allocation for the record and its strings. */
	alert = calloc(1, sizeof(*alert) + string_size(exe) + string_size(comm) +
				  string_size(info->sha256) + string_size(reason) +
				  string_size(plan) + string_size(cgroup) + string_size(action));
	if (!alert)
		return NULL;
	cursor = alert->strings;
	alert->exe = store_string(&cursor, exe);
	alert->plan = store_string(&cursor, plan);
	alert->cgroup = store_string(&cursor, cgroup);
	alert->comm = store_string(&cursor, comm);
	alert->sha256 = info->sha256 ? store_string(&cursor, info->sha256) : NULL;
	alert->reason = store_string(&cursor, reason);
	alert->action = store_string(&cursor, action);
	alert->rule = info->rule;
	return alert;
}

int software_tracker_note(struct software_tracker *tracker, const struct software_alert_info *info,
			  double now, double window_s)
{
	const char *tenant_name = info->tenant ? info->tenant : "";
	const char *exe = info->exe ? info->exe : "";
	uint64_t hash = alert_hash(tracker, tenant_name, info->rule, exe);
	uint64_t hash_of_tenant = tenant_hash(tracker, tenant_name);
	struct tenant_alerts *tenant = tenant_find(tracker, tenant_name, hash_of_tenant);
	struct tracked_alert *alert = NULL;

	if (tenant)
		alert = alert_find(tracker, tenant, info->rule, exe, hash);
	if (alert) {
		/* Still firing: the window starts again, with one more process to outlive. */
		alert->last_evidence = now;
		alert->window_s = window_s;
		tracker->changed |= alert_watch_evidence(alert, info);
		tracker->suppressed++;
		return 0;
	}
	if (hashtable_count(&tracker->alerts) >= SOFTWARE_TRACKER_MAX ||
	    (tenant && tenant->count >= SOFTWARE_TRACKER_MAX_PER_TENANT)) {
		pr_debug("software: tracker full for tenant %s, alert suppressed", tenant_name);
		tracker->suppressed++;
		return 0;
	}
	alert = alert_new(info, exe);
	if (!alert)
		return -ENOMEM;
	if (!tenant) {
		tenant = tenant_add(tracker, tenant_name, hash_of_tenant);
		if (!tenant) {
			free(alert);
			return -ENOMEM;
		}
	}
	alert->tenant = tenant;
	alert->since = now;
	alert->last_evidence = now;
	alert->window_s = window_s;
	alert_watch_evidence(alert, info);
	/* Under the bound, for which the buckets were reserved: cannot fail. */
	hashtable_insert(&tracker->alerts, &alert->node, hash);
	tenant->count++;
	tracker->changed = true;
	return 1;
}

/* Reports @alert resolved and drops it, and its tenant with its last alert. */
static void alert_resolve(struct software_tracker *tracker, struct tracked_alert *alert,
			  software_resolved_fn fn, void *ctx)
{
	struct tenant_alerts *tenant = alert->tenant;
	struct software_alert_info info = {
		.tenant = tenant->name,
		.plan = alert->plan,
		.cgroup = alert->cgroup,
		.rule = alert->rule,
		.exe = alert->exe,
		.comm = alert->comm,
		.sha256 = alert->sha256,
		.reason = alert->reason,
		.pid = alert->pid,
		.since = alert->since,
	};

	pr_debug("software: tenant %s %s alert resolves", tenant->name,
		 software_rule_name(alert->rule));
	if (fn)
		fn(&info, ctx);
	tracker->changed = true;
	hashtable_remove(&tracker->alerts, &alert->node);
	alert_free(&alert->node);
	if (!--tenant->count) {
		hashtable_remove(&tracker->tenants, &tenant->node);
		tenant_free(&tenant->node);
	}
}

void software_tracker_tick(struct software_tracker *tracker, double now, software_resolved_fn fn,
			   void *ctx)
{
	struct hashtable_node *node, *next;
	struct tracked_alert *alert;
	size_t watched;

	hashtable_for_each_safe(&tracker->alerts, node, next) {
		alert = hashtable_entry(node, struct tracked_alert, node);
		if (now - alert->last_evidence < alert->window_s)
			continue;
		watched = alert->watched_count;
		if (alert_processes_exited(alert))
			alert_resolve(tracker, alert, fn, ctx);
		else
			tracker->changed |= alert->watched_count != watched;
	}
}

void software_tracker_forget(struct software_tracker *tracker, const char *tenant_name,
			     software_resolved_fn fn, void *ctx)
{
	struct hashtable_node *node, *next;
	struct tenant_alerts *tenant;
	struct tracked_alert *alert;
	size_t left;

	if (!tenant_name)
		return;
	tenant = tenant_find(tracker, tenant_name, tenant_hash(tracker, tenant_name));
	if (!tenant)
		return;
	/* The tenant goes with its last alert: the loop ends there, before it is read again. */
	left = tenant->count;
	hashtable_for_each_safe(&tracker->alerts, node, next) {
		alert = hashtable_entry(node, struct tracked_alert, node);
		if (alert->tenant != tenant)
			continue;
		alert_resolve(tracker, alert, fn, ctx);
		if (!--left)
			break;
	}
}

uint64_t software_tracker_suppressed(const struct software_tracker *tracker)
{
	return tracker ? tracker->suppressed : 0;
}

size_t software_tracker_count(const struct software_tracker *tracker)
{
	return tracker ? hashtable_count(&tracker->alerts) : 0;
}

/* ---- the state file (software_tracker_save/load) -------------------------- */

bool software_tracker_changed(const struct software_tracker *tracker)
{
	return tracker && tracker->changed;
}

/* This boot's id, so that a pid and start time of another boot are never taken; "" if unknown. */
static void read_boot_id(char out[BOOT_ID_SIZE])
{
	char *text = NULL;
	size_t length = 0;

	out[0] = '\0';
	if (files_read_all("/proc/sys/kernel/random/boot_id", 64, &text, &length))
		return;
	snprintf(out, BOOT_ID_SIZE, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
}

static int add_processes(struct json_object *object, const struct tracked_alert *alert)
{
	struct json_object *processes = json_object_new_array(), *process;
	size_t i;
	int err;

	err = json_add(object, "processes", processes);
	for (i = 0; i < alert->watched_count && !err; i++) {
		process = json_object_new_object();
		if (!process)
			return -ENOMEM;
		err = json_add_int(process, "pid", alert->watched[i].pid) ?:
		      json_add_int(process, "start_ticks", (long long)alert->watched[i].start_ticks);
		if (err) {
			json_object_put(process);
			return err;
		}
		err = json_append(processes, process);
	}
	return err;
}

static int add_alert(struct json_object *alerts, const struct tracked_alert *alert,
		     double now_wall, double now)
{
	struct json_object *object = json_object_new_object();
	int err;

	if (!object)
		return -ENOMEM;
	/* Monotonic time means nothing to the next run: wall time. */
	err = json_add_string(object, "tenant", alert->tenant->name) ?:
	      json_add_string(object, "plan", alert->plan) ?:
	      json_add_string(object, "cgroup", alert->cgroup) ?:
	      json_add_string(object, "rule", software_rule_name(alert->rule)) ?:
	      json_add_string(object, "exe", alert->exe) ?:
	      json_add_string(object, "comm", alert->comm) ?:
	      json_add_string(object, "sha256", alert->sha256) ?:
	      json_add_string(object, "reason", alert->reason) ?:
	      json_add_string(object, "action", alert->action) ?:
	      json_add_int(object, "pid", alert->pid) ?:
	      json_add_double(object, "window_s", alert->window_s) ?:
	      json_add_double(object, "since", now_wall - (now - alert->since)) ?:
	      json_add_double(object, "last_evidence", now_wall - (now - alert->last_evidence)) ?:
	      add_processes(object, alert);
	if (err) {
		json_object_put(object);
		return err;
	}
	return json_append(alerts, object);
}

int software_tracker_save(struct software_tracker *tracker, const char *path, double now_wall,
			  double now, size_t *size)
{
	const struct hashtable_node *node;
	struct json_object *root, *alerts;
	char boot_id[BOOT_ID_SIZE];
	int err;

	root = state_file_new(STATE_FORMAT_VERSION, now_wall, &alerts);
	if (!root)
		return -ENOMEM;
	read_boot_id(boot_id);
	err = json_add_string(root, "boot_id", boot_id);
	for (node = hashtable_oldest(&tracker->alerts); node && !err; node = hashtable_newer(node))
		err = add_alert(alerts, hashtable_entry(node, struct tracked_alert, node), now_wall,
				now);
	/* Tenant names, paths and pids are for the operator only: the file is 0600. */
	err = err ?: state_file_write(path, root, size);
	if (!err)
		tracker->changed = false;
	json_object_put(root);
	return err;
}

static int rule_of(const char *name, enum software_rule *rule)
{
	int i;

	for (i = 0; i < SOFTWARE_RULE_COUNT; i++) {
		if (!strcmp(name, software_rule_name((enum software_rule)i))) {
			*rule = (enum software_rule)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Waits again for the saved process @saved when it still runs: the same
 * pid and start (read once a pidfd holds the pid), in the same boot.
 */
static void rewatch(struct tracked_alert *alert, struct json_object *saved, bool same_boot)
{
	struct watched_process *process;
	long long pid, start_ticks;
	int fd;

	if (json_get_int(saved, "pid", 1, INT32_MAX, &pid) ||
	    json_get_int(saved, "start_ticks", 1, INT64_MAX, &start_ticks) || !same_boot ||
	    alert->watched_count == SOFTWARE_TRACKER_PIDS)
		return;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
	if (fd < 0 && errno == ESRCH)
		return;
	if (software_process_start_ticks((int)pid) != (unsigned long long)start_ticks) {
		if (fd >= 0)
			close(fd);
		return;
	}
	process = &alert->watched[alert->watched_count++];
	process->pid = (int)pid;
	process->pidfd = fd;
	process->start_ticks = (unsigned long long)start_ticks;
}

/* 1 when loaded, 0 when its key already fires or there is no room, -EINVAL, -ENOMEM. */
static int load_alert(struct software_tracker *tracker, struct json_object *object,
		      double now_wall, double now, bool same_boot)
{
	const char *tenant_name, *plan, *cgroup, *rule_name, *exe, *comm, *sha256 = NULL, *reason,
	    *action;
	struct software_alert_info info;
	struct json_object *processes;
	double since_wall, last_wall, window_s;
	struct tenant_alerts *tenant;
	struct tracked_alert *alert;
	enum software_rule rule;
	uint64_t hash, hash_of_tenant;
	long long pid;
	size_t i, count;

	if (!json_object_is_type(object, json_type_object) ||
	    json_get_string(object, "tenant", &tenant_name) ||
	    json_get_string(object, "plan", &plan) || json_get_string(object, "cgroup", &cgroup) ||
	    json_get_string(object, "rule", &rule_name) || json_get_string(object, "exe", &exe) ||
	    json_get_string(object, "comm", &comm) ||
	    json_get_string(object, "reason", &reason) ||
	    json_get_string(object, "action", &action) ||
	    json_get_string(object, "sha256", &sha256) == -EINVAL ||
	    json_get_int(object, "pid", 0, INT32_MAX, &pid) ||
	    json_get_double(object, "window_s", &window_s) ||
	    json_get_double(object, "since", &since_wall) ||
	    json_get_double(object, "last_evidence", &last_wall) ||
	    !json_object_object_get_ex(object, "processes", &processes) ||
	    !json_object_is_type(processes, json_type_array) || !tenant_name[0] ||
	    rule_of(rule_name, &rule) || window_s < 0 || !isfinite(window_s))
		return -EINVAL;
	hash = alert_hash(tracker, tenant_name, rule, exe);
	hash_of_tenant = tenant_hash(tracker, tenant_name);
	tenant = tenant_find(tracker, tenant_name, hash_of_tenant);
	if ((tenant && alert_find(tracker, tenant, rule, exe, hash)) ||
	    hashtable_count(&tracker->alerts) >= SOFTWARE_TRACKER_MAX ||
	    (tenant && tenant->count >= SOFTWARE_TRACKER_MAX_PER_TENANT))
		return 0;
	info = (struct software_alert_info){
		.tenant = tenant_name,
		.plan = plan,
		.cgroup = cgroup,
		.rule = rule,
		.comm = comm,
		.sha256 = sha256,
		.reason = reason,
		.action = action,
	};
	alert = alert_new(&info, exe);
	if (!alert)
		return -ENOMEM;
	if (!tenant) {
		tenant = tenant_add(tracker, tenant_name, hash_of_tenant);
		if (!tenant) {
			free(alert);
			return -ENOMEM;
		}
	}
	alert->tenant = tenant;
	alert->pid = (int)pid;
	/* A wall clock set back since the save must not put either in the future. */
	alert->since = now - fmax(0, now_wall - since_wall);
	alert->last_evidence = fmax(alert->since, now - fmax(0, now_wall - last_wall));
	alert->window_s = window_s;
	count = json_object_array_length(processes);
	for (i = 0; i < count; i++)
		rewatch(alert, json_object_array_get_idx(processes, i), same_boot);
	hashtable_insert(&tracker->alerts, &alert->node, hash);
	tenant->count++;
	pr_info("unauthorized software: tenant %s, rule %s, firing again from the state of the "
		"last run (since %.0f s ago; %zu of its processes still run)",
		tenant_name, rule_name, now - alert->since, alert->watched_count);
	return 1;
}

int software_tracker_load(struct software_tracker *tracker, const char *path, double now_wall,
			  double now)
{
	struct json_object *root, *alerts;
	char boot_id[BOOT_ID_SIZE];
	const char *saved_boot = NULL;
	size_t i, count, skipped = 0;
	bool same_boot;
	int err;

	err = state_file_read(path, STATE_FILE_MAX, "unauthorized software", &root, &alerts);
	if (err)
		return err;
	read_boot_id(boot_id);
	json_get_string(root, "boot_id", &saved_boot);
	/* After a reboot no saved process runs, whatever its pid now names. */
	same_boot = boot_id[0] && saved_boot && !strcmp(boot_id, saved_boot);
	count = json_object_array_length(alerts);
	for (i = 0; i < count; i++) {
		int ret = load_alert(tracker, json_object_array_get_idx(alerts, i), now_wall, now,
				     same_boot);

		if (ret == -ENOMEM) {
			err = ret;
			goto cleanup;
		}
		skipped += ret < 0;
	}
	if (skipped)
		pr_warn("unauthorized software: %s: %zu alerts are not valid, skipped", path,
			skipped);
cleanup:
	json_object_put(root);
	return err;
}
