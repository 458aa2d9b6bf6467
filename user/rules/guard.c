// SPDX-License-Identifier: GPL-2.0
/*
 * Unauthorized software: decisions, actions and alerts (see guard.h).
 *
 * An exec is decided at once when nothing needs its digest: the policy has
 * no sha256 lists and no rule matches. Otherwise the digest is taken from
 * the cache, or the file is opened now and hashed on exehash's worker, and
 * the exec waits in a bounded list until the digest comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exehash.h"
#include "files.h"
#include "guard.h"
#include "log.h"
#include "software.h"
#include "software_tracker.h"

/* /proc/PID/stat: one line of pid, comm (15 characters at most) and numbers. */
#define PROC_STAT_MAX 4096

struct policy_matcher {
	char *name;
	enum software_action action;
	struct software_matcher *matcher;
};

/* Everything a decision needs, copied out of the event and the tenant. */
struct decision {
	char tenant[256];
	char plan[128];
	char cgroup[PATH_MAX];
	char event_cgroup[PATH_MAX];
	char policy[128];
	char exe[PATH_MAX];
	char comm[16];
	char sha256[SHA256_HEX_LEN + 1];
	double window_s;
	struct software_facts facts;	/* its strings point into this struct */
	int pid;
	uint64_t start_ns;
	struct exe_identity id;
	struct exe_key key;		/* the same, as the exec probe reads it */
	struct decision *next;		/* waiting for the digest */
};

struct guard {
	char *v2_root;
	struct policy_matcher *policies;
	size_t policy_count;
	struct exehash *hash;
	struct software_tracker *tracker;
	struct decision *pending;
	size_t pending_count;
	alert_fn emit;
	void *ctx;
	/* Policies' generation: each guard_configure() makes judgements of before void. */
	uint32_t generation;
	judged_fn on_judged;
	void *judged_ctx;
};

static const char *const action_names[] = {
	[SOFTWARE_ACTION_ALERT] = "alert",
	[SOFTWARE_ACTION_KILL] = "kill",
	[SOFTWARE_ACTION_FREEZE] = "freeze",
};

static void free_policies(struct policy_matcher *policies, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(policies[i].name);
		software_matcher_free(policies[i].matcher);
	}
	free(policies);
}

int guard_configure(struct guard *guard, const struct config *config)
{
	struct policy_matcher *policies;
	size_t i;

	policies = calloc(config->software_count ? config->software_count : 1, sizeof(*policies));
	if (!policies)
		return -ENOMEM;
	for (i = 0; i < config->software_count; i++) {
		policies[i].name = strdup(config->software[i].name);
		policies[i].action = config->software[i].action;
		policies[i].matcher = software_matcher_new(&config->software[i]);
		if (!policies[i].name || !policies[i].matcher) {
			free_policies(policies, i + 1);
			return -ENOMEM;
		}
	}
	free_policies(guard->policies, guard->policy_count);
	guard->policies = policies;
	guard->policy_count = config->software_count;
	guard->generation++;
	return 0;
}

void guard_exec_interest(const struct guard *guard, struct exec_interest *interest)
{
	size_t i;

	memset(interest, 0, sizeof(*interest));
	for (i = 0; i < guard->policy_count; i++)
		software_matcher_interest(guard->policies[i].matcher, interest);
	interest->generation = guard->generation;
}

void guard_on_judged(struct guard *guard, judged_fn fn, void *ctx)
{
	guard->on_judged = fn;
	guard->judged_ctx = ctx;
}

/*
 * @decision's executable has digest @hex: when some policy has
 * deny_sha256 and none has this digest, the exec probe need not report
 * the executable again for it (software_events.h).
 */
static void judge(struct guard *guard, const struct decision *decision, const char *hex)
{
	bool wanted = false;
	size_t i;

	for (i = 0; i < guard->policy_count; i++) {
		if (software_matcher_denies_sha256(guard->policies[i].matcher, hex))
			return;
		wanted |= software_matcher_has_deny_sha256(guard->policies[i].matcher);
	}
	if (wanted && guard->on_judged)
		guard->on_judged(&decision->key, guard->generation, guard->judged_ctx);
}

static const struct policy_matcher *find_policy(const struct guard *guard, const char *name)
{
	size_t i;

	for (i = 0; name && i < guard->policy_count; i++) {
		if (!strcmp(guard->policies[i].name, name))
			return &guard->policies[i];
	}
	return NULL;
}

struct guard *guard_new(const char *v2_root, const struct config *config, alert_fn emit,
			void *ctx)
{
	struct guard *guard = calloc(1, sizeof(*guard));

	if (!guard)
		return NULL;
	guard->emit = emit;
	guard->ctx = ctx;
	guard->v2_root = strdup(v2_root);
	guard->tracker = software_tracker_new();
	guard->hash = exehash_new();
	if (!guard->v2_root || !guard->tracker || !guard->hash ||
	    guard_configure(guard, config)) {
		guard_free(guard);
		errno = ENOMEM;
		return NULL;
	}
	return guard;
}

void guard_free(struct guard *guard)
{
	struct decision *decision;

	if (!guard)
		return;
	while ((decision = guard->pending)) {
		guard->pending = decision->next;
		free(decision);
	}
	exehash_free(guard->hash);
	software_tracker_free(guard->tracker);
	free_policies(guard->policies, guard->policy_count);
	free(guard->v2_root);
	free(guard);
}

int guard_notify_fd(const struct guard *guard)
{
	return exehash_notify_fd(guard->hash);
}

uint64_t guard_suppressed(const struct guard *guard)
{
	return software_tracker_suppressed(guard->tracker);
}

static bool has_prefix(const char *path, const char *dir)
{
	size_t length = strlen(dir);

	return !strncmp(path, dir, length) && path[length] == '/';
}

void guard_decode_path(const struct software_event *event, char *out, size_t size,
		       unsigned int *flags)
{
	const char *components[AW_EXE_PATH_DEPTH];
	size_t count = 0, used = 0, length, offset = 0, i;
	size_t path_len = event->path_len < AW_EXE_PATH_MAX ? event->path_len : AW_EXE_PATH_MAX;

	out[0] = '\0';
	/* Only whole components: the last one may have been cut by the kernel. */
	while (offset < path_len && count < AW_EXE_PATH_DEPTH) {
		length = strnlen(event->path + offset, path_len - offset);
		if (offset + length >= path_len)
			break;
		components[count++] = event->path + offset;
		offset += length + 1;
	}
	if (count == 1 && (event->flags & EXE_MEMFD)) {
		snprintf(out, size, "%s", components[0]);
		return;
	}
	if ((event->flags & EXE_PATH_TRUNCATED) && size > 3) {
		/* Marked as cut, so that no deny_paths glob for a real root matches it. */
		memcpy(out, "...", 4);
		used = 3;
	}
	for (i = count; i-- > 0 && used + 1 < size;) {
		int written = snprintf(out + used, size - used, "/%s", components[i]);

		if (written < 0 || (size_t)written >= size - used) {
			out[used] = '\0';
			break;
		}
		used += written;
	}
	if (!count)
		snprintf(out, size, "/");
	if (has_prefix(out, "/tmp") || has_prefix(out, "/var/tmp") || has_prefix(out, "/dev/shm"))
		*flags |= EXE_TMP;
}

/* The start time /proc gives, in clock ticks; 0 when unreadable. */
static unsigned long long proc_start_ticks(int pid)
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

/* Does @pid still name the process that started at @start_ns (boot time)? */
static bool same_process(int pid, uint64_t start_ns)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		return false;
	return proc_start_ticks(pid) == start_ns / (1000000000ULL / (unsigned long)hz);
}

static const char *kill_process(const struct decision *decision, char *result, size_t size)
{
	int pidfd, err = 0;

	if (decision->pid <= 0)
		return "no process";
	/* The pidfd pins the pid: once it is checked, a reused pid cannot be hit. */
	pidfd = syscall(SYS_pidfd_open, decision->pid, 0);
	if (pidfd < 0 && errno != ENOSYS) {
		err = errno;
		goto done;
	}
	if (!same_process(decision->pid, decision->start_ns)) {
		err = ESRCH;
	} else if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0))
			err = errno;
	} else if (kill(decision->pid, SIGKILL)) {
		/* Before 5.3 (no pidfds): a pid reused between check and kill is a narrow race. */
		err = errno;
	}
	if (pidfd >= 0)
		close(pidfd);
done:
	if (err == ESRCH)
		return "process already exited";
	if (err) {
		snprintf(result, size, "kill failed: %s", strerror(err));
		return result;
	}
	snprintf(result, size, "killed pid %d", decision->pid);
	return result;
}

static int freeze_cgroup(const char *v2_root, const char *cgroup)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s%s/cgroup.freeze", v2_root, cgroup) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static const char *freeze_tenant(const struct guard *guard, const struct decision *decision,
				 char *result, size_t size)
{
	int err;

	if (!decision->cgroup[0] || !strcmp(decision->cgroup, "/"))
		return "no cgroup to freeze";
	err = freeze_cgroup(guard->v2_root, decision->cgroup);
	/* The process may sit in another cgroup of the tenant: freeze that one too. */
	if (!err && decision->event_cgroup[0] && strcmp(decision->event_cgroup, "/") &&
	    !has_prefix(decision->event_cgroup, decision->cgroup) &&
	    strcmp(decision->event_cgroup, decision->cgroup))
		err = freeze_cgroup(guard->v2_root, decision->event_cgroup);
	if (err) {
		snprintf(result, size, "freeze failed: %s", strerror(-err));
		return result;
	}
	return "frozen";
}

static const char *take_action(const struct guard *guard, enum software_action action,
			       const struct decision *decision, char *result, size_t size)
{
	switch (action) {
	case SOFTWARE_ACTION_KILL:
		return kill_process(decision, result, size);
	case SOFTWARE_ACTION_FREEZE:
		return freeze_tenant(guard, decision, result, size);
	default:
		return NULL;
	}
}

/* What the kernel said of the file, for the operator reading the reason. */
static void describe_file(unsigned int flags, char *reason, size_t size)
{
	size_t used = strlen(reason);
	const char *what = flags & EXE_MEMFD	 ? "file-less (memfd)"
			   : flags & EXE_DELETED ? "deleted when it ran"
			   : flags & EXE_TMP	 ? "run from a temporary directory"
						 : NULL;

	if (what && used < size)
		snprintf(reason + used, size - used, "; the executable was %s", what);
}

static void decide(struct guard *guard, struct decision *decision, double now)
{
	const struct policy_matcher *policy = find_policy(guard, decision->policy);
	struct software_verdict verdict;
	struct software_alert_info info;
	const char *result;
	char result_text[128];
	struct alert alert;
	int fired;

	/* The policy may have gone with a reload while the digest was taken. */
	if (!policy || !software_match(policy->matcher, &decision->facts, &verdict))
		return;
	info = (struct software_alert_info){
		.tenant = decision->tenant,
		.plan = decision->plan,
		.cgroup = decision->event_cgroup[0] ? decision->event_cgroup : decision->cgroup,
		.rule = verdict.rule,
		.exe = decision->exe,
		.comm = decision->comm,
		.sha256 = decision->facts.sha256,
		.reason = verdict.reason,
		.pid = decision->pid,
		.since = now,
	};
	fired = software_tracker_note(guard->tracker, &info, now, decision->window_s);
	/* Every offending process gets the action; only the first gets an alert. */
	result = take_action(guard, policy->action, decision, result_text, sizeof(result_text));
	if (fired < 0)
		pr_warn("unauthorized software: tenant %s, rule %s: not tracked: %s",
			decision->tenant, software_rule_name(verdict.rule), strerror(-fired));
	if (fired == 0) {
		/* Counted as suppressed; a restart loop must not flood the log either. */
		if (result)
			pr_debug("unauthorized software: tenant %s, rule %s: %s (alert already firing)",
				decision->tenant, software_rule_name(verdict.rule), result);
		return;
	}
	describe_file(decision->facts.flags, verdict.reason, sizeof(verdict.reason));
	pr_info("unauthorized software firing: tenant %s, rule %s, %s%s%s",
		decision->tenant, software_rule_name(verdict.rule), verdict.reason,
		result ? "; " : "", result ? result : "");
	alert = (struct alert){
		.kind = ALERT_UNAUTHORIZED_SOFTWARE,
		.firing = true,
		.tenant = decision->tenant,
		.plan = info.plan,
		.cgroup = info.cgroup,
		.window_s = decision->window_s,
		.rule = software_rule_name(verdict.rule),
		.reason = verdict.reason,
		.exe = decision->exe[0] ? decision->exe : NULL,
		.sha256 = decision->facts.sha256,
		.comm = decision->comm,
		.pid = decision->pid,
		.action = action_names[policy->action],
		.action_result = result,
	};
	guard->emit(&alert, guard->ctx);
}

static void decide_with_digest(struct guard *guard, struct decision *decision, const char *hex,
			       double now)
{
	if (hex) {
		memcpy(decision->sha256, hex, SHA256_HEX_LEN);
		decision->facts.sha256 = decision->sha256;
		judge(guard, decision, hex);
	}
	decide(guard, decision, now);
}

/* The executable of a running process, for events other than exec. */
static void read_exe_link(int pid, char *out, size_t size)
{
	char link[64];
	ssize_t length;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	length = readlink(link, out, size - 1);
	out[length > 0 ? length : 0] = '\0';
}

static void copy(char *out, size_t size, const char *text)
{
	snprintf(out, size, "%s", text ? text : "");
}

void guard_event(struct guard *guard, const struct software_event *event,
		 const struct guard_tenant *tenant, double now)
{
	const struct policy_matcher *policy = find_policy(guard, tenant->policy);
	struct software_verdict verdict;
	struct exe_location where;
	struct decision *decision;
	char hex[SHA256_HEX_LEN + 1], cgroup_dir[PATH_MAX];
	enum exehash_status status;

	if (!policy)
		return;
	decision = calloc(1, sizeof(*decision));
	if (!decision) {
		pr_warn("unauthorized software: out of memory, event of tenant %s dropped",
			tenant->name);
		return;
	}
	copy(decision->tenant, sizeof(decision->tenant), tenant->name);
	copy(decision->plan, sizeof(decision->plan), tenant->plan);
	copy(decision->cgroup, sizeof(decision->cgroup), tenant->cgroup);
	copy(decision->event_cgroup, sizeof(decision->event_cgroup), tenant->event_cgroup);
	copy(decision->policy, sizeof(decision->policy), tenant->policy);
	memcpy(decision->comm, event->comm, sizeof(decision->comm) - 1);
	decision->window_s = tenant->window_s;
	decision->pid = (int)event->pid;
	decision->start_ns = event->start_ns;
	decision->facts.type = event->type;
	decision->facts.flags = event->flags;
	decision->facts.argv_markers = event->argv_markers;
	decision->facts.comm = decision->comm;
	decision->facts.exe = decision->exe;
	if (event->type != SOFTWARE_EVENT_EXEC) {
		read_exe_link(decision->pid, decision->exe, sizeof(decision->exe));
		if (!decision->exe[0])
			decision->facts.exe = NULL;
		decide(guard, decision, now);
		free(decision);
		return;
	}
	guard_decode_path(event, decision->exe, sizeof(decision->exe), &decision->facts.flags);
	/* Nothing matches and no list needs the digest: done, nothing hashed. */
	if (!software_matcher_needs_sha256(policy->matcher) &&
	    !software_match(policy->matcher, &decision->facts, &verdict)) {
		free(decision);
		return;
	}
	decision->id = (struct exe_identity){
		.dev = exehash_dev_from_kernel(event->dev),
		.ino = event->ino,
		.size = event->size,
		.mtime_sec = event->mtime_sec,
		.mtime_nsec = event->mtime_nsec,
		.ctime_sec = event->ctime_sec,
		.ctime_nsec = event->ctime_nsec,
	};
	memcpy(&decision->key, &event->dev, sizeof(decision->key));
	where = (struct exe_location){ .pid = decision->pid };

	if (!(event->flags & (EXE_MEMFD | EXE_PATH_TRUNCATED)))
		where.path = decision->exe;
	if (decision->event_cgroup[0] &&
	    snprintf(cgroup_dir, sizeof(cgroup_dir), "%s%s", guard->v2_root,
		     decision->event_cgroup) < (int)sizeof(cgroup_dir))
		where.cgroup_dir = cgroup_dir;
	status = guard->pending_count < GUARD_PENDING_MAX
			 ? exehash_get(guard->hash, &decision->id, &where, hex)
			 : EXEHASH_BUSY;
	if (status == EXEHASH_PENDING) {
		decision->next = guard->pending;
		guard->pending = decision;
		guard->pending_count++;
		return;
	}
	decide_with_digest(guard, decision, status == EXEHASH_DONE ? hex : NULL, now);
	free(decision);
}

struct collect_ctx {
	struct guard *guard;
	double now;
};

/* A digest came back: every exec that waited for this identity is decided. */
static void take_digest(const struct exe_identity *id, const char *hex,
			enum exehash_status status, void *ctx)
{
	struct collect_ctx *collect = ctx;
	struct guard *guard = collect->guard;
	struct decision **link = &guard->pending, *decision;

	while ((decision = *link)) {
		if (memcmp(&decision->id, id, sizeof(*id))) {
			link = &decision->next;
			continue;
		}
		*link = decision->next;
		guard->pending_count--;
		decide_with_digest(guard, decision, hex, collect->now);
		free(decision);
	}
}

void guard_collect(struct guard *guard, double now)
{
	struct collect_ctx collect = { .guard = guard, .now = now };

	exehash_collect(guard->hash, take_digest, &collect);
}

static void raise_resolved(const struct software_alert_info *info, void *ctx)
{
	struct guard *guard = ctx;
	char reason[160];
	struct alert alert = {
		.kind = ALERT_UNAUTHORIZED_SOFTWARE,
		.firing = false,
		.tenant = info->tenant,
		.plan = info->plan,
		.cgroup = info->cgroup,
		.rule = software_rule_name(info->rule),
		.reason = reason,
		.exe = info->exe && info->exe[0] ? info->exe : NULL,
		.sha256 = info->sha256,
		.comm = info->comm,
		.pid = info->pid,
	};

	snprintf(reason, sizeof(reason), "%s no longer seen, and its last process has exited",
		 alert.rule);
	pr_info("unauthorized software resolved: tenant %s, rule %s", info->tenant, alert.rule);
	guard->emit(&alert, guard->ctx);
}

void guard_tick(struct guard *guard, double now)
{
	software_tracker_tick(guard->tracker, now, raise_resolved, guard);
}

const char *guard_miners_action(const char *policy, void *ctx)
{
	const struct guard *guard = ctx;
	const struct policy_matcher *matcher = find_policy(guard, policy);

	if (!matcher || !software_matcher_denies_miners(matcher->matcher))
		return NULL;
	return action_names[matcher->action];
}
