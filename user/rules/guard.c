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

#include "attribution.h"
#include "clock.h"
#include "content.h"
#include "exehash.h"
#include "files.h"
#include "guard.h"
#include "hashtable.h"
#include "learned.h"
#include "log.h"
#include "state_file.h"
#include "seed.h"
#include "software.h"
#include "seen_clean.h"
#include "software_tracker.h"
#include "wire.h"

/* The software tracker's firing alerts (software_tracker.h), in state_dir. */
#define FIRING_FILE "firing-software.json"
/* Saves spaced so that they cost about what the restart state's do (resume.c). */
#define FIRING_BYTES_PER_S (1024.0 * 1024.0)

struct policy_matcher {
	char *name;
	enum software_action action;
	struct software_matcher *matcher;
	enum software_raw_sockets raw_sockets;
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
	struct content_result content;	/* the YARA scan that came with the digest */
	struct content_hit hits[CONTENT_MATCHES_MAX];
	/*
	 * The process its miner-behaviour evidence goes to when the event's
	 * process is a helper (attribution.h); pid 0: it stays.
	 */
	struct {
		int pid;
		uint64_t start_ns;
		char comm[16];
		char cgroup[PATH_MAX];
		const char *helper;	/* the helper list's entry for the event's process */
		const char *through;	/* the entry of the nearest helper walked past; NULL: none */
	} attributed;
	char wire_reason[192];		/* SOFTWARE_EVENT_WIRE: facts.wire_reason */
	int dst_port;			/* SOFTWARE_EVENT_WIRE: where it was sent; 0: none */
	struct decision *next;		/* waiting for the digest */
};

struct guard {
	char *v2_root;
	struct policy_matcher *policies;
	size_t policy_count;
	struct exehash *hash;
	struct content_rules *rules;	/* the YARA rules of the policies; the worker holds its own */
	uint32_t rules_generation;	/* of guard->rules; 0 for none */
	uint32_t rules_counter;
	struct learned *learned;
	bool interest_changed;		/* a digest was learned: judged executables are void */
	struct seen_clean *seen_clean;	/* never learned from a name or path (see learn()) */
	struct software_tracker *tracker;
	char *firing_path;		/* state_dir/firing-software.json; NULL: not kept */
	bool firing_failing;		/* its last save failed: logged, tried every tick */
	double firing_next_save;	/* monotonic: not before (the pace) */
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

/* New YARA rules for @config; the old ones stay when they do not compile. */
static void configure_rules(struct guard *guard, const struct config *config)
{
	struct content_rules *rules;
	char why[512];

	rules = content_rules_new(config, guard->rules_counter + 1, why, sizeof(why));
	if (!rules) {
		pr_warn("software: YARA rules not replaced: %s", why);
		return;
	}
	guard->rules_counter++;
	guard->rules_generation = content_rules_generation(rules);
	exehash_set_rules(guard->hash, rules);
	content_rules_put(guard->rules);
	guard->rules = rules;
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
		policies[i].raw_sockets = config->software[i].raw_sockets;
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
	configure_rules(guard, config);
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
	const struct learned_entry *learned = learned_find(guard->learned, hex);
	const struct software_matcher *matcher;
	struct software_facts facts;
	bool wanted = false;
	size_t i;

	/* A scan that failed or timed out is tried again at the next exec that is reported. */
	if (decision->content.state == CONTENT_FAILED)
		return;
	/* What the digest and the content alone decide: nothing of the name or the path. */
	facts = (struct software_facts){
		.type = SOFTWARE_EVENT_EXEC,
		.sha256 = hex,
		.content = decision->facts.content,
		.content_count = decision->facts.content_count,
	};
	for (i = 0; i < guard->policy_count; i++) {
		matcher = guard->policies[i].matcher;
		facts.learned = learned && (learned->sets & software_matcher_sets(matcher))
					? learned->rule
					: NULL;
		if (software_matcher_denies_sha256(matcher, hex) ||
		    software_match(matcher, &facts, NULL))
			return;
		wanted |= software_matcher_needs_sha256(matcher);
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

/*
 * The alerts that fired when the last run stopped go on (software_tracker_load()),
 * each with its start; a damaged file is said and started clean.
 */
static void load_firing(struct guard *guard, const char *state_dir)
{
	if (!state_dir || !state_dir[0])
		return;
	if (asprintf(&guard->firing_path, "%s/%s", state_dir, FIRING_FILE) < 0) {
		guard->firing_path = NULL;
		pr_warn("unauthorized software: out of memory; firing alerts are not kept across "
			"restarts");
		return;
	}
	software_tracker_load(guard->tracker, guard->firing_path, clock_wall(), clock_monotonic());
}

/*
 * firing-software.json kept in step, as resume.c keeps firing.json: after
 * a change, or always at @final (the stop) when changed; a flood of new
 * processes for thousands of alerts is paced as resume.c paces its state.
 */
static void save_firing(struct guard *guard, double now, bool final)
{
	size_t size = 0;
	int err;

	if (!guard->firing_path || !software_tracker_changed(guard->tracker) ||
	    (!final && now < guard->firing_next_save))
		return;
	err = software_tracker_save(guard->tracker, guard->firing_path, clock_wall(), now, &size);
	guard->firing_next_save = now + size / FIRING_BYTES_PER_S;
	state_file_saved(guard->firing_path, err, &guard->firing_failing);
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
	guard->learned = learned_new(config->agent.state_dir);
	guard->seen_clean = seen_clean_new(config->agent.state_dir);
	if (!guard->v2_root || !guard->tracker || !guard->hash || !guard->learned ||
	    !guard->seen_clean || guard_configure(guard, config)) {
		guard_free(guard);
		errno = ENOMEM;
		return NULL;
	}
	learned_load(guard->learned);
	seen_clean_load(guard->seen_clean);
	load_firing(guard, config->agent.state_dir);
	return guard;
}

/* What the digests and scans cost, for the operator sizing the node: at the end of a run. */
static void log_scan_figures(const struct guard *guard)
{
	struct exehash_stats stats;

	if (!guard->hash)
		return;
	exehash_stats(guard->hash, &stats);
	pr_info("executables: %llu digests from the cache, %llu files hashed; %llu scanned with "
		"YARA rules (%.1f MiB in %.3f s), %llu not scanned; %zu learned digests",
		(unsigned long long)stats.hits, (unsigned long long)stats.hashed,
		(unsigned long long)stats.scanned, stats.scan_bytes / 1048576.0,
		stats.scan_ns / 1e9, (unsigned long long)stats.scan_skipped,
		learned_count(guard->learned));
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
	log_scan_figures(guard);
	/* What fired since the last tick is kept too: the run stops with it firing. */
	if (guard->tracker)
		save_firing(guard, clock_monotonic(), true);
	free(guard->firing_path);
	exehash_free(guard->hash);
	content_rules_put(guard->rules);
	learned_free(guard->learned);
	seen_clean_free(guard->seen_clean);
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

/* Does @pid still name the process that started at @start_ns (boot time)? */
static bool same_process(int pid, uint64_t start_ns)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		return false;
	return software_process_start_ticks(pid) == start_ns / (1000000000ULL / (unsigned long)hz);
}

/* The process an action or alert aims at: a pid and the start that tells it apart. */
struct target {
	int pid;
	uint64_t start_ns;
	const char *cgroup;	/* its cgroup, relative; "" if unknown */
};

static const char *kill_process(const struct target *target, char *result, size_t size)
{
	int pidfd, err = 0;

	if (target->pid <= 0)
		return "no process";
	/* The pidfd pins the pid: once it is checked, a reused pid cannot be hit. */
	pidfd = syscall(SYS_pidfd_open, target->pid, 0);
	if (pidfd < 0 && errno != ENOSYS) {
		err = errno;
		goto done;
	}
	if (!same_process(target->pid, target->start_ns)) {
		err = ESRCH;
	} else if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0))
			err = errno;
	} else if (kill(target->pid, SIGKILL)) {
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
	snprintf(result, size, "killed pid %d", target->pid);
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
				 const struct target *target, char *result, size_t size)
{
	const char *cgroup = target->cgroup;
	int err;

	if (!decision->cgroup[0] || !strcmp(decision->cgroup, "/"))
		return "no cgroup to freeze";
	err = freeze_cgroup(guard->v2_root, decision->cgroup);
	/* The process may sit in another cgroup of the tenant: freeze that one too. */
	if (!err && cgroup[0] && strcmp(cgroup, "/") && !has_prefix(cgroup, decision->cgroup) &&
	    strcmp(cgroup, decision->cgroup))
		err = freeze_cgroup(guard->v2_root, cgroup);
	if (err) {
		snprintf(result, size, "freeze failed: %s", strerror(-err));
		return result;
	}
	return "frozen";
}

/*
 * The action on @target; with kill, on the helper (@helper, pid 0: none)
 * too, which is said only when it was still there to be killed.
 */
static const char *take_action(const struct guard *guard, enum software_action action,
			       const struct decision *decision, const struct target *target,
			       const struct target *helper, char *result, size_t size)
{
	const char *done, *helper_done;
	char helper_result[64];
	size_t used;

	switch (action) {
	case SOFTWARE_ACTION_KILL:
		done = kill_process(target, result, size);
		if (!helper->pid)
			return done;
		helper_done = kill_process(helper, helper_result, sizeof(helper_result));
		if (strncmp(helper_done, "killed", 6))
			return done;
		if (done != result)
			snprintf(result, size, "%s", done);
		used = strlen(result);
		if (used < size)
			snprintf(result + used, size - used, "; its helper too, pid %d", helper->pid);
		return result;
	case SOFTWARE_ACTION_FREEZE:
		return freeze_tenant(guard, decision, target, result, size);
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

/*
 * A digest that a rule of a policy with built-in sets flagged is denied
 * from now on by every policy denying one of those sets. Learning one
 * voids the judgements of the exec probe, so that an executable judged
 * before under another name is reported, and decided, again.
 */
static void learn(struct guard *guard, const struct policy_matcher *policy,
		  const struct decision *decision, enum software_rule rule)
{
	unsigned int sets = software_matcher_sets(policy->matcher);
	int changed;

	/*
	 * Only what is about the file itself: a marker on a command line or a
	 * behaviour says what one run did, and would teach the digest of a
	 * shell, an interpreter or kmod's modprobe.
	 */
	if (!decision->facts.sha256 || !sets || rule == SOFTWARE_RULE_ARGV ||
	    rule == SOFTWARE_RULE_MINER_BEHAVIOR || rule == SOFTWARE_RULE_LEARNED_SHA256)
		return;
	/*
	 * A file already seen run clean is not learned from its name or path:
	 * a tenant that copies the compiler to ./xmrig must not get the
	 * compiler denied to every other tenant.
	 */
	if ((rule == SOFTWARE_RULE_NAME || rule == SOFTWARE_RULE_PATH) &&
	    seen_clean_has(guard->seen_clean, decision->facts.sha256)) {
		pr_info("unauthorized software: sha256 %s (rule %s) not learned: it was seen run "
			"clean on this node before", decision->facts.sha256,
			software_rule_name(rule));
		return;
	}
	changed = learned_add(guard->learned, decision->facts.sha256, sets,
			      software_rule_name(rule));
	if (changed <= 0)
		return;
	pr_info("unauthorized software: sha256 %s learned (rule %s): denied from now on for "
		"every policy of the same built-in sets", decision->facts.sha256,
		software_rule_name(rule));
	guard->generation++;
	guard->interest_changed = true;
}

bool guard_take_interest_change(struct guard *guard)
{
	bool changed = guard->interest_changed;

	guard->interest_changed = false;
	return changed;
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

/*
 * The record of @decision's evidence goes to the process it is attributed
 * to: its executable (read while its pid still names it: checked before
 * and after) in @exe, whether it is still there, and the reason says which
 * helper ran for it. The digest is the helper's: not the record's.
 */
static bool take_attribution(const struct decision *decision, struct software_verdict *verdict,
			     char *exe, size_t size)
{
	size_t used = strlen(verdict->reason);
	bool alive;

	exe[0] = '\0';
	alive = same_process(decision->attributed.pid, decision->attributed.start_ns);
	if (alive) {
		read_exe_link(decision->attributed.pid, exe, size);
		alive = same_process(decision->attributed.pid, decision->attributed.start_ns);
		if (!alive)
			exe[0] = '\0';
	}
	/* List entries and pids only: nothing the tenant wrote. */
	if (used < sizeof(verdict->reason))
		snprintf(verdict->reason + used, sizeof(verdict->reason) - used,
			 "; %s (pid %d) was run by pid %d%s%s", decision->attributed.helper,
			 decision->pid, decision->attributed.pid,
			 decision->attributed.through ? " through " : "",
			 decision->attributed.through ? decision->attributed.through : "");
	return alive;
}

static void decide(struct guard *guard, struct decision *decision, double now)
{
	const struct policy_matcher *policy = find_policy(guard, decision->policy);
	struct target target, helper = { 0 };
	const struct learned_entry *learned;
	struct software_verdict verdict;
	struct software_alert_info info;
	const char *result, *exe, *comm, *sha256;
	char result_text[128], attributed_exe[PATH_MAX];
	bool attributed, gone = false;
	struct alert alert;
	int fired;

	/* The policy may have gone with a reload while the digest was taken. */
	if (!policy)
		return;
	learned = learned_find(guard->learned, decision->facts.sha256);
	decision->facts.learned = learned && (learned->sets & software_matcher_sets(policy->matcher))
					  ? learned->rule
					  : NULL;
	if (!software_match(policy->matcher, &decision->facts, &verdict)) {
		if (decision->facts.sha256 && software_matcher_sets(policy->matcher))
			seen_clean_note(guard->seen_clean, decision->facts.sha256);
		return;
	}
	learn(guard, policy, decision, verdict.rule);
	target = (struct target){
		.pid = decision->pid,
		.start_ns = decision->start_ns,
		.cgroup = decision->event_cgroup[0] ? decision->event_cgroup : decision->cgroup,
	};
	exe = decision->exe;
	comm = decision->comm;
	sha256 = decision->facts.sha256;
	attributed = verdict.rule == SOFTWARE_RULE_MINER_BEHAVIOR && decision->attributed.pid > 0;
	if (attributed) {
		helper = target;
		target = (struct target){
			.pid = decision->attributed.pid,
			.start_ns = decision->attributed.start_ns,
			.cgroup = decision->attributed.cgroup,
		};
		gone = !take_attribution(decision, &verdict, attributed_exe, sizeof(attributed_exe));
		/* A helper whose pid names another process by now is not waited for either. */
		if (!same_process(helper.pid, helper.start_ns))
			helper.pid = 0;
		exe = attributed_exe;
		comm = decision->attributed.comm;
		sha256 = NULL;
	}
	info = (struct software_alert_info){
		.tenant = decision->tenant,
		.plan = decision->plan,
		.cgroup = target.cgroup,
		.rule = verdict.rule,
		.exe = exe,
		.comm = comm,
		.sha256 = sha256,
		.reason = verdict.reason,
		.action = action_names[policy->action],
		.pid = target.pid,
		.since = now,
		.gone = gone,
		.helper_pid = helper.pid,
	};
	fired = software_tracker_note(guard->tracker, &info, now, decision->window_s);
	/* Every offending process gets the action; only the first gets an alert. */
	result = take_action(guard, policy->action, decision, &target, &helper, result_text,
			     sizeof(result_text));
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
	/* The flags are of the helper's file when the record names another process. */
	if (!attributed)
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
		.exe = exe[0] ? exe : NULL,
		.sha256 = sha256,
		.comm = comm[0] ? comm : NULL,
		.pid = target.pid,
		.action = action_names[policy->action],
		.action_result = result,
		.dst_port = decision->dst_port,
	};
	guard->emit(&alert, guard->ctx);
}

static void decide_with_digest(struct guard *guard, struct decision *decision, const char *hex,
			       const struct content_result *content, double now)
{
	size_t i;

	/* A scan by rules replaced since counts for nothing: the next exec scans again. */
	if (hex && content && content->generation == guard->rules_generation) {
		decision->content = *content;
		for (i = 0; i < content->count && i < CONTENT_MATCHES_MAX; i++) {
			decision->hits[i].source =
			    content_rules_source(guard->rules, content->matches[i].source);
			decision->hits[i].rule = decision->content.matches[i].rule;
		}
		decision->facts.content = decision->hits;
		decision->facts.content_count = i;
	} else {
		decision->content.state = CONTENT_FAILED;
	}
	if (hex) {
		memcpy(decision->sha256, hex, SHA256_HEX_LEN);
		decision->facts.sha256 = decision->sha256;
		judge(guard, decision, hex);
	}
	decide(guard, decision, now);
}

static void copy(char *out, size_t size, const char *text)
{
	snprintf(out, size, "%s", text ? text : "");
}

/* The helper list's entry for a module loader run as @comm from @exe, or NULL. */
static const char *module_loader_entry(const char *comm, const char *exe)
{
	const char *slash = exe ? strrchr(exe, '/') : NULL;
	const char *entry = software_helper_name(comm);

	if (entry && (!strcmp(entry, "modprobe") || !strcmp(entry, "insmod")))
		return entry;
	entry = exe ? software_helper_name(slash ? slash + 1 : exe) : NULL;
	if (entry && (!strcmp(entry, "modprobe") || !strcmp(entry, "insmod")))
		return entry;
	return NULL;
}

/*
 * Where @decision's miner-behaviour evidence would go (attribution.h), in
 * decision->attributed: worked out for every event whose process is a
 * helper (a module loader's exec, a write by a helper), and used by
 * decide() only when the verdict is miner_behavior.
 */
static void attribute(struct decision *decision, const struct software_event *event,
		      const struct guard_tenant *tenant)
{
	struct attribution_link chain[1 + AW_ANCESTORS_MAX];
	char comms[AW_ANCESTORS_MAX][sizeof(event->ancestors[0].comm) + 1];
	const struct software_ancestor *ancestor;
	const char *helper;
	size_t i, at;

	if (event->type == SOFTWARE_EVENT_EXEC)
		helper = module_loader_entry(decision->comm, decision->facts.exe);
	else
		helper = software_helper_name(decision->comm);
	if (!helper)
		return;
	chain[0] = (struct attribution_link){ decision->pid, decision->comm, true };
	for (i = 0; i < AW_ANCESTORS_MAX; i++) {
		ancestor = &event->ancestors[i];
		memcpy(comms[i], ancestor->comm, sizeof(ancestor->comm));
		comms[i][sizeof(ancestor->comm)] = '\0';
		chain[i + 1] = (struct attribution_link){
			.pid = (int)ancestor->pid,
			.comm = comms[i],
			.in_tenant = tenant->ancestor_cgroups[i] != NULL,
		};
	}
	at = software_attribute(chain, 1 + AW_ANCESTORS_MAX, true);
	if (!at)
		return;
	ancestor = &event->ancestors[at - 1];
	decision->attributed.pid = (int)ancestor->pid;
	decision->attributed.start_ns = ancestor->start_ns;
	copy(decision->attributed.comm, sizeof(decision->attributed.comm), comms[at - 1]);
	copy(decision->attributed.cgroup, sizeof(decision->attributed.cgroup),
	     tenant->ancestor_cgroups[at - 1]);
	decision->attributed.helper = helper;
	decision->attributed.through = at > 1 ? software_helper_name(comms[0]) : NULL;
}

/* A decision about an event of @tenant, its tenant fields filled; NULL (said) when out of memory. */
static struct decision *new_decision(const struct guard_tenant *tenant)
{
	struct decision *decision = calloc(1, sizeof(*decision));

	if (!decision) {
		pr_warn("unauthorized software: out of memory, event of tenant %s dropped",
			tenant->name);
		return NULL;
	}
	copy(decision->tenant, sizeof(decision->tenant), tenant->name);
	copy(decision->plan, sizeof(decision->plan), tenant->plan);
	copy(decision->cgroup, sizeof(decision->cgroup), tenant->cgroup);
	copy(decision->event_cgroup, sizeof(decision->event_cgroup), tenant->event_cgroup);
	copy(decision->policy, sizeof(decision->policy), tenant->policy);
	decision->window_s = tenant->window_s;
	return decision;
}

void guard_event(struct guard *guard, const struct software_event *event,
		 const struct guard_tenant *tenant, double now)
{
	const struct policy_matcher *policy = find_policy(guard, tenant->policy);
	struct software_verdict verdict;
	struct exe_location where;
	struct decision *decision;
	char hex[SHA256_HEX_LEN + 1], cgroup_dir[PATH_MAX];
	struct content_result content;
	enum exehash_status status;

	if (!policy)
		return;
	decision = new_decision(tenant);
	if (!decision)
		return;
	memcpy(decision->comm, event->comm, sizeof(decision->comm) - 1);
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
		attribute(decision, event, tenant);
		decide(guard, decision, now);
		free(decision);
		return;
	}
	guard_decode_path(event, decision->exe, sizeof(decision->exe), &decision->facts.flags);
	attribute(decision, event, tenant);
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
			 ? exehash_get_content(guard->hash, &decision->id, &where, hex, &content)
			 : EXEHASH_BUSY;
	if (status == EXEHASH_PENDING) {
		decision->next = guard->pending;
		guard->pending = decision;
		guard->pending_count++;
		return;
	}
	decide_with_digest(guard, decision, status == EXEHASH_DONE ? hex : NULL,
			   status == EXEHASH_DONE ? &content : NULL, now);
	free(decision);
}

void guard_wire_event(struct guard *guard, const struct wire_event *event,
		      const struct guard_tenant *tenant, double now)
{
	const struct policy_matcher *policy = find_policy(guard, tenant->policy);
	struct decision *decision;
	enum software_rule rule;
	char reason[192];

	if (!policy || !wire_verdict(event, &rule, reason, sizeof(reason)))
		return;
	decision = new_decision(tenant);
	if (!decision)
		return;
	copy(decision->wire_reason, sizeof(decision->wire_reason), reason);
	decision->dst_port = event->dst_port;
	decision->facts.type = SOFTWARE_EVENT_WIRE;
	decision->facts.wire_rule = rule;
	decision->facts.wire_reason = decision->wire_reason;
	if (event->pid) {
		memcpy(decision->comm, event->comm, sizeof(decision->comm) - 1);
		decision->pid = (int)event->pid;
		decision->start_ns = event->start_ns;
		read_exe_link(decision->pid, decision->exe, sizeof(decision->exe));
	}
	decision->facts.comm = decision->comm;
	decision->facts.exe = decision->exe[0] ? decision->exe : NULL;
	decide(guard, decision, now);
	free(decision);
}

struct collect_ctx {
	struct guard *guard;
	double now;
};

/* A digest came back: every exec that waited for this identity is decided. */
static void take_digest(const struct exe_identity *id, const char *hex,
			enum exehash_status status, const struct content_result *content, void *ctx)
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
		decide_with_digest(guard, decision, hex, content, collect->now);
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
		/* Its start, as it fired (also in an earlier run): Alertmanager's startsAt. */
		.since = info->since,
	};

	snprintf(reason, sizeof(reason), "%s no longer seen, and its last process has exited",
		 alert.rule);
	pr_info("unauthorized software resolved: tenant %s, rule %s", info->tenant, alert.rule);
	guard->emit(&alert, guard->ctx);
}

void guard_tick(struct guard *guard, double now)
{
	software_tracker_tick(guard->tracker, now, raise_resolved, guard);
	save_firing(guard, now, false);
	seen_clean_tick(guard->seen_clean, now, false);
}

/* "raw IP socket (AF_INET, SOCK_RAW, protocol 6) created": what the kernel reported. */
static void describe_raw_socket(const struct raw_socket_event *event, char *reason, size_t size)
{
	const char *family = event->family == AW_AF_INET    ? "AF_INET"
			     : event->family == AW_AF_INET6 ? "AF_INET6"
			     : event->family == AW_AF_PACKET ? "AF_PACKET"
							     : "family ?";
	const char *type = event->type == AW_SOCK_RAW ? "SOCK_RAW" : event->type == 2 ? "SOCK_DGRAM"
											: "type ?";

	/* The kernel keeps no protocol in a packet socket's sock (its ethertype is elsewhere). */
	if (event->family == AW_AF_PACKET)
		snprintf(reason, size, "packet socket (%s, %s) set up with setsockopt(SOL_PACKET)%s",
			 family, type, event->denied ? "; refused with EPERM" : "");
	else
		snprintf(reason, size, "raw IP socket (%s, %s, protocol %u) %s", family, type,
			 event->protocol, event->denied ? "refused with EPERM" : "created");
}

/* The task's comm from /proc, "" when it is gone. */
static void read_comm(int pid, char *out, size_t size)
{
	char path[64];
	ssize_t length;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	length = read(fd, out, size - 1);
	close(fd);
	out[length > 0 ? length : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

void guard_raw_socket(struct guard *guard, const struct raw_socket_event *event,
		      const struct guard_tenant *tenant, double now)
{
	const struct policy_matcher *policy = find_policy(guard, tenant->policy);
	char exe[PATH_MAX], comm[16], reason[192];
	struct software_alert_info info;
	struct alert alert;
	int fired;

	if (!policy || policy->raw_sockets == SOFTWARE_RAW_SOCKETS_ALLOW)
		return;
	read_exe_link((int)event->pid, exe, sizeof(exe));
	read_comm((int)event->pid, comm, sizeof(comm));
	describe_raw_socket(event, reason, sizeof(reason));
	info = (struct software_alert_info){
		.tenant = tenant->name,
		.plan = tenant->plan,
		.cgroup = tenant->event_cgroup ? tenant->event_cgroup : tenant->cgroup,
		.rule = SOFTWARE_RULE_RAW_SOCKET,
		.exe = exe,
		.comm = comm,
		.reason = reason,
		.action = policy->raw_sockets == SOFTWARE_RAW_SOCKETS_DENY ? "deny" : "alert",
		.pid = (int)event->pid,
		.since = now,
	};
	fired = software_tracker_note(guard->tracker, &info, now, tenant->window_s);
	if (fired < 0)
		pr_warn("unauthorized software: tenant %s, rule raw_socket: not tracked: %s",
			tenant->name, strerror(-fired));
	if (fired <= 0)
		return;
	pr_info("unauthorized software firing: tenant %s, rule raw_socket, %s", tenant->name,
		reason);
	alert = (struct alert){
		.kind = ALERT_UNAUTHORIZED_SOFTWARE,
		.firing = true,
		.tenant = tenant->name,
		.plan = tenant->plan,
		.cgroup = info.cgroup,
		.window_s = tenant->window_s,
		.rule = software_rule_name(SOFTWARE_RULE_RAW_SOCKET),
		.reason = reason,
		.exe = exe[0] ? exe : NULL,
		.comm = comm,
		.pid = (int)event->pid,
		.action = policy->raw_sockets == SOFTWARE_RAW_SOCKETS_DENY ? "deny" : "alert",
		.action_result = event->denied ? "refused with EPERM" : NULL,
	};
	guard->emit(&alert, guard->ctx);
}

const char *guard_miners_action(const char *policy, void *ctx)
{
	const struct guard *guard = ctx;
	const struct policy_matcher *matcher = find_policy(guard, policy);

	if (!matcher || !software_matcher_denies_miners(matcher->matcher))
		return NULL;
	return action_names[matcher->action];
}
