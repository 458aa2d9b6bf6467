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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "software_tracker.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every architecture */
#endif

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
	int pid;		/* the last process seen: the record's */
	/* The processes it waits for, oldest first; pidfd -1: asked by pid. */
	struct watched_process {
		int pid;
		int pidfd;
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
static void alert_watch(struct tracked_alert *alert, int pid)
{
	struct watched_process *process;
	size_t i;
	int fd;

	if (pid <= 0)
		return;
	alert_processes_exited(alert);
	for (i = 0; i < alert->watched_count; i++) {
		if (alert->watched[i].pid == pid)
			return;
	}
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
	if (fd < 0 && errno == ESRCH)
		return;
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
}

/* The processes of one piece of evidence (@info) for @alert. */
static void alert_watch_evidence(struct tracked_alert *alert,
				 const struct software_alert_info *info)
{
	alert->pid = info->pid;
	if (!info->gone)
		alert_watch(alert, info->pid);
	if (info->helper_pid != info->pid)
		alert_watch(alert, info->helper_pid);
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
	struct tracked_alert *alert;
	char *cursor;

	/* One allocation for the record and its strings. */
	alert = calloc(1, sizeof(*alert) + string_size(exe) + string_size(comm) +
				  string_size(info->sha256) + string_size(reason) +
				  string_size(plan) + string_size(cgroup));
	if (!alert)
		return NULL;
	cursor = alert->strings;
	alert->exe = store_string(&cursor, exe);
	alert->plan = store_string(&cursor, plan);
	alert->cgroup = store_string(&cursor, cgroup);
	alert->comm = store_string(&cursor, comm);
	alert->sha256 = info->sha256 ? store_string(&cursor, info->sha256) : NULL;
	alert->reason = store_string(&cursor, reason);
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
		alert_watch_evidence(alert, info);
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

	hashtable_for_each_safe(&tracker->alerts, node, next) {
		alert = hashtable_entry(node, struct tracked_alert, node);
		if (now - alert->last_evidence >= alert->window_s && alert_processes_exited(alert))
			alert_resolve(tracker, alert, fn, ctx);
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
