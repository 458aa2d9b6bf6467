// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/guard.c with real files and processes: the kernel's
 * leaf-first paths decoded (memfd, cut paths, the /tmp flag), an exec of a
 * real file decided after its digest comes back from the worker, the kill
 * action on a real child (and not on a pid whose start time differs, as a
 * reused pid's would), the freeze action on a directory standing in for a
 * cgroup, and flood control across events; miner behaviour of a helper
 * (sysctl, modprobe msr) attributed to the real process that ran it: its
 * alert lasts as long as that process, and kill hits it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "guard.h"
#include "wire.h"
#include "log.h"
#include "software_builtin.h"

#define SHA_OTHER "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define MAX_ALERTS 16

struct seen_alert {
	bool firing;
	char rule[32];
	char exe[256];
	char sha256[72];
	char action[16];
	char action_result[96];
	char comm[16];
	char cgroup[64];
	char reason[192];
	int pid;
	int dst_port;
};

struct recorder {
	struct seen_alert alerts[MAX_ALERTS];
	size_t count;
};

static void copy_text(char *out, size_t size, const char *text)
{
	snprintf(out, size, "%s", text ? text : "");
}

static void record_alert(struct alert *alert, void *ctx)
{
	struct recorder *recorder = ctx;
	struct seen_alert *seen;

	assert_int_equal(alert->kind, ALERT_UNAUTHORIZED_SOFTWARE);
	if (recorder->count == MAX_ALERTS)
		return;
	seen = &recorder->alerts[recorder->count++];
	seen->firing = alert->firing;
	copy_text(seen->rule, sizeof(seen->rule), alert->rule);
	copy_text(seen->exe, sizeof(seen->exe), alert->exe);
	copy_text(seen->sha256, sizeof(seen->sha256), alert->sha256);
	copy_text(seen->action, sizeof(seen->action), alert->action);
	copy_text(seen->action_result, sizeof(seen->action_result), alert->action_result);
	copy_text(seen->comm, sizeof(seen->comm), alert->comm);
	copy_text(seen->cgroup, sizeof(seen->cgroup), alert->cgroup);
	copy_text(seen->reason, sizeof(seen->reason), alert->reason);
	seen->pid = alert->pid;
	seen->dst_port = alert->dst_port;
}

/* Fills @event's path from components given root first. */
static void set_path(struct software_event *event, const char *const *components, size_t count)
{
	size_t used = 0, i;

	for (i = count; i-- > 0;) {
		size_t length = strlen(components[i]) + 1;

		memcpy(event->path + used, components[i], length);
		used += length;
	}
	event->path_len = (__u32)used;
}

static void test_decode_paths(void **state)
{
	static const char *const usr_bin[] = { "usr", "bin", "xmrig" };
	static const char *const tmp[] = { "tmp", "x" };
	static const char *const var_tmp[] = { "var", "tmp", "a", "x" };
	static const char *const shm[] = { "dev", "shm", "x" };
	static const char *const tmpfoo[] = { "tmpfoo", "x" };
	static const char *const memfd[] = { "memfd:payload" };
	struct software_event event = {};
	unsigned int flags;
	char path[600];

	set_path(&event, usr_bin, 3);
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "/usr/bin/xmrig");
	assert_int_equal(flags, 0);

	set_path(&event, tmp, 2);
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "/tmp/x");
	assert_int_equal(flags, EXE_TMP);

	set_path(&event, var_tmp, 4);
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "/var/tmp/a/x");
	assert_int_equal(flags, EXE_TMP);

	set_path(&event, shm, 3);
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_int_equal(flags, EXE_TMP);

	set_path(&event, tmpfoo, 2);
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "/tmpfoo/x");
	assert_int_equal(flags, 0);

	set_path(&event, memfd, 1);
	event.flags = EXE_MEMFD | EXE_DELETED;
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "memfd:payload");

	/* A path the kernel cut: marked, and the cut component left out. */
	set_path(&event, usr_bin, 3);
	event.flags = EXE_PATH_TRUNCATED;
	event.path_len -= 2;	/* "usr" lost its last byte and NUL */
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, ".../bin/xmrig");

	event = (struct software_event){};
	flags = 0;
	guard_decode_path(&event, path, sizeof(path), &flags);
	assert_string_equal(path, "/");
}

struct fixture {
	char dir[64];
	char program[128];
	struct config *config;
	struct guard *guard;
	struct recorder recorder;
};

static const char config_text[] =
	"plans:\n"
	"  default: {software: watch}\n"
	"  killing: {software: kill}\n"
	"  freezing: {software: freeze}\n"
	"software:\n"
	"  watch: {deny: [builtin:miners]}\n"
	"  kill: {deny: [builtin:miners], action: kill}\n"
	"  freeze: {deny: [builtin:miners], action: freeze}\n"
	"  names: {deny: [xmrig]}\n"
	"  rawdeny: {raw_sockets: deny, action: kill}\n"
	"  rawalert: {raw_sockets: alert}\n";

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));
	char command[300];

	if (!fixture)
		return -1;
	snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/aw-guard.XXXXXX");
	if (!mkdtemp(fixture->dir))
		return -1;
	/* A real program called xmrig: a copy of /bin/true. */
	snprintf(fixture->program, sizeof(fixture->program), "%s/xmrig", fixture->dir);
	snprintf(command, sizeof(command), "cp /bin/true %s", fixture->program);
	if (system(command))
		return -1;
	if (config_parse("guard.yaml", config_text, sizeof(config_text) - 1, &fixture->config,
			 NULL))
		return -1;
	/* Learned digests go to the fixture's directory, not the system's state. */
	free(fixture->config->agent.state_dir);
	fixture->config->agent.state_dir = strdup(fixture->dir);
	if (!fixture->config->agent.state_dir)
		return -1;
	/* The fixture's directory stands in for the cgroup v2 root. */
	fixture->guard = guard_new(fixture->dir, fixture->config, record_alert, &fixture->recorder);
	if (!fixture->guard)
		return -1;
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[128];

	guard_free(fixture->guard);
	config_free(fixture->config);
	snprintf(command, sizeof(command), "rm -rf %s", fixture->dir);
	if (system(command))
		return -1;
	free(fixture);
	return 0;
}

static const struct guard_tenant tenant_watch = {
	.name = "t1", .plan = "default", .cgroup = "/t1", .policy = "watch", .window_s = 60,
};

/* The event the kernel would send for an exec of @path by @pid. */
static void exec_event(struct software_event *event, const char *path, int pid)
{
	static const char *components[8];
	char *copy = strdup(path), *part, *saveptr = NULL;
	size_t count = 0;
	struct stat st;

	assert_non_null(copy);
	assert_int_equal(stat(path, &st), 0);
	memset(event, 0, sizeof(*event));
	event->type = SOFTWARE_EVENT_EXEC;
	event->pid = (__u32)pid;
	event->dev = (__u64)major(st.st_dev) << 20 | minor(st.st_dev);
	event->ino = st.st_ino;
	event->size = st.st_size;
	event->mtime_sec = st.st_mtim.tv_sec;
	event->mtime_nsec = (__u32)st.st_mtim.tv_nsec;
	event->ctime_sec = st.st_ctim.tv_sec;
	event->ctime_nsec = (__u32)st.st_ctim.tv_nsec;
	snprintf(event->comm, sizeof(event->comm), "%s", strrchr(path, '/') + 1);
	for (part = strtok_r(copy, "/", &saveptr); part && count < 8;
	     part = strtok_r(NULL, "/", &saveptr))
		components[count++] = part;
	set_path(event, components, count);
	free(copy);
}

static void wait_digests(struct guard *guard)
{
	struct pollfd poller = { .fd = guard_notify_fd(guard), .events = POLLIN };

	assert_int_equal(poll(&poller, 1, 5000), 1);
	guard_collect(guard, 1.0);
}

static void test_exec_waits_for_digest(void **state)
{
	struct fixture *fixture = *state;
	struct software_event event;
	char command[300], digest[72] = "";
	FILE *sum;

	exec_event(&event, fixture->program, 0);
	guard_event(fixture->guard, &event, &tenant_watch, 1.0);
	/* The digest is taken on the worker: no alert before it comes back. */
	assert_int_equal(fixture->recorder.count, 0);
	wait_digests(fixture->guard);
	assert_int_equal(fixture->recorder.count, 1);
	snprintf(command, sizeof(command), "sha256sum %s", fixture->program);
	sum = popen(command, "r");
	assert_non_null(sum);
	assert_int_equal(fscanf(sum, "%64s", digest), 1);
	pclose(sum);
	assert_true(fixture->recorder.alerts[0].firing);
	assert_string_equal(fixture->recorder.alerts[0].rule, "name");
	assert_string_equal(fixture->recorder.alerts[0].exe, fixture->program);
	assert_string_equal(fixture->recorder.alerts[0].sha256, digest);
	assert_string_equal(fixture->recorder.alerts[0].action, "alert");

	/* The same executable again: a cache hit, decided at once, and suppressed. */
	guard_event(fixture->guard, &event, &tenant_watch, 2.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_int_equal(guard_suppressed(fixture->guard), 1);
}

static void test_no_policy_no_alert(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event;

	tenant.policy = NULL;
	exec_event(&event, fixture->program, 0);
	guard_event(fixture->guard, &event, &tenant, 1.0);
	tenant.policy = "no such policy";
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 0);
}

/*
 * The egress probe's events (wire_events.h): an alert of their own rule
 * naming what matched and the port, suppressed while it fires, resolved a
 * window after the last evidence when no process was known; a kill with
 * nobody to hit says so; nothing for a policy without builtin:miners.
 */
static void test_wire_events(void **state)
{
	struct fixture *fixture = *state;
	struct wire_event event = {
		.cgroup_id = 42, .rule = WIRE_RULE_POOL_DOMAIN, .where = WIRE_IN_TLS,
		.found = 0, .dst_port = 443,
	};
	struct guard_tenant tenant = tenant_watch;
	const char *const *domains;
	char reason[192];
	size_t count;

	domains = wire_pool_domains(&count);
	assert_true(count > 0);
	snprintf(reason, sizeof(reason), "mining pool domain %s in a TLS server name", domains[0]);
	tenant.window_s = 2;
	guard_wire_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_true(fixture->recorder.alerts[0].firing);
	assert_string_equal(fixture->recorder.alerts[0].rule, "pool_domain");
	assert_string_equal(fixture->recorder.alerts[0].reason, reason);
	assert_int_equal(fixture->recorder.alerts[0].dst_port, 443);
	assert_int_equal(fixture->recorder.alerts[0].pid, 0);
	assert_string_equal(fixture->recorder.alerts[0].exe, "");
	guard_wire_event(fixture->guard, &event, &tenant, 2.0);
	assert_int_equal(fixture->recorder.count, 1);
	guard_tick(fixture->guard, 3.5);
	assert_int_equal(fixture->recorder.count, 1);
	guard_tick(fixture->guard, 4.5);
	assert_int_equal(fixture->recorder.count, 2);
	assert_false(fixture->recorder.alerts[1].firing);

	/* Stratum, the kill policy, no process known. */
	event = (struct wire_event){ .cgroup_id = 42, .rule = WIRE_RULE_STRATUM,
				     .where = WIRE_IN_TCP, .dst_port = 15555 };
	event.found = 1U << 0; /* the first marker of the shipped list names a method */
	tenant.policy = "kill";
	guard_wire_event(fixture->guard, &event, &tenant, 5.0);
	assert_int_equal(fixture->recorder.count, 3);
	assert_string_equal(fixture->recorder.alerts[2].rule, "stratum");
	assert_non_null(strstr(fixture->recorder.alerts[2].reason, "sent to port 15555"));
	assert_string_equal(fixture->recorder.alerts[2].action, "kill");
	assert_string_equal(fixture->recorder.alerts[2].action_result, "no process");

	/* Marker bits that name no method alone, a policy without builtin:miners: nothing. */
	event.found = 0;
	guard_wire_event(fixture->guard, &event, &tenant_watch, 6.0);
	tenant.policy = NULL;
	event.found = 1U << 0;
	guard_wire_event(fixture->guard, &event, &tenant, 6.0);
	assert_int_equal(fixture->recorder.count, 3);
}

static void test_benign_exec_not_hashed(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event;
	struct pollfd poller;

	/*
	 * /bin/true matches nothing, and the policy has no digest lists, no
	 * built-in set (whose learned digests and YARA rules need the digest).
	 */
	tenant.policy = "names";
	exec_event(&event, "/bin/true", 0);
	guard_event(fixture->guard, &event, &tenant, 1.0);
	poller = (struct pollfd){ .fd = guard_notify_fd(fixture->guard), .events = POLLIN };
	assert_int_equal(poll(&poller, 1, 200), 0);
	assert_int_equal(fixture->recorder.count, 0);
}

/* The boot-time ns the kernel would report for @pid's start (from /proc). */
static uint64_t start_ns_of(int pid)
{
	char path[64], text[1024], *field;
	unsigned long long ticks;
	FILE *stat_file;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	stat_file = fopen(path, "r");
	assert_non_null(stat_file);
	assert_non_null(fgets(text, sizeof(text), stat_file));
	fclose(stat_file);
	field = strrchr(text, ')');
	for (i = 2; field && i < 22; i++)
		field = strchr(field + 1, ' ');
	assert_non_null(field);
	ticks = strtoull(field + 1, NULL, 10);
	return ticks * (1000000000ULL / (unsigned long)sysconf(_SC_CLK_TCK));
}

static int start_child(void)
{
	int pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void test_kill_checks_start_time(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event = { .type = SOFTWARE_EVENT_MSR_WRITE };
	int child = start_child(), status;

	tenant.policy = "kill";
	snprintf(event.comm, sizeof(event.comm), "test_guard");
	event.pid = (__u32)child;
	/* A start time that is not the child's: as for a pid reused since. */
	event.start_ns = start_ns_of(child) + 5000000000ULL;
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_string_equal(fixture->recorder.alerts[0].rule, "miner_behavior");
	assert_string_equal(fixture->recorder.alerts[0].action, "kill");
	assert_string_equal(fixture->recorder.alerts[0].action_result, "process already exited");
	assert_int_equal(waitpid(child, &status, WNOHANG), 0);

	/* The right start time: killed, and the evidence is suppressed, not alerted. */
	event.start_ns = start_ns_of(child);
	guard_event(fixture->guard, &event, &tenant, 2.0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(fixture->recorder.count, 1);
	assert_int_equal(guard_suppressed(fixture->guard), 1);
}

/*
 * raw_socket: only under a policy with raw_sockets; the reason names the
 * socket and the kernel's verdict; exe and comm come from /proc; the
 * policy's kill is not taken (this process lives on); one alert per
 * executable.
 */
static void test_raw_socket(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct raw_socket_event event = {
		.pid = (__u32)getpid(), .hook = RAW_SOCKET_CREATE, .family = AW_AF_INET6,
		.type = AW_SOCK_RAW, .protocol = 58, .denied = 1,
	};
	char self[256] = "";

	assert_true(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
	guard_raw_socket(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 0);

	tenant.policy = "rawdeny";
	guard_raw_socket(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_true(fixture->recorder.alerts[0].firing);
	assert_string_equal(fixture->recorder.alerts[0].rule, "raw_socket");
	assert_string_equal(fixture->recorder.alerts[0].reason,
			    "raw IP socket (AF_INET6, SOCK_RAW, protocol 58) refused with EPERM");
	assert_string_equal(fixture->recorder.alerts[0].action, "deny");
	assert_string_equal(fixture->recorder.alerts[0].action_result, "refused with EPERM");
	assert_string_equal(fixture->recorder.alerts[0].exe, self);
	assert_int_equal(fixture->recorder.alerts[0].pid, getpid());

	/* The same executable's packet socket: suppressed while the alert fires. */
	event = (struct raw_socket_event){ .pid = (__u32)getpid(), .hook = RAW_SOCKET_SETSOCKOPT,
					   .family = AW_AF_PACKET, .type = AW_SOCK_RAW, .denied = 1 };
	guard_raw_socket(fixture->guard, &event, &tenant, 2.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_int_equal(guard_suppressed(fixture->guard), 1);

	/* Another tenant, alert only: created, no action result. */
	tenant.name = "t2";
	tenant.policy = "rawalert";
	event.denied = 0;
	guard_raw_socket(fixture->guard, &event, &tenant, 3.0);
	assert_int_equal(fixture->recorder.count, 2);
	assert_string_equal(fixture->recorder.alerts[1].reason,
			    "packet socket (AF_PACKET, SOCK_RAW) set up with setsockopt(SOL_PACKET)");
	assert_string_equal(fixture->recorder.alerts[1].action, "alert");
	assert_string_equal(fixture->recorder.alerts[1].action_result, "");
}

static void test_freeze_writes_cgroup_freeze(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event = { .type = SOFTWARE_EVENT_HUGEPAGES };
	char path[256], text[8] = "";
	FILE *file;

	/* Stand-ins for the tenant's cgroup and another cgroup the process is in. */
	snprintf(path, sizeof(path), "%s/t1", fixture->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/other", fixture->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/t1/cgroup.freeze", fixture->dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/other/cgroup.freeze", fixture->dir);
	fclose(fopen(path, "w"));
	tenant.policy = "freeze";
	tenant.event_cgroup = "/other";
	event.pid = (__u32)getpid();
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_string_equal(fixture->recorder.alerts[0].action, "freeze");
	assert_string_equal(fixture->recorder.alerts[0].action_result, "frozen");
	file = fopen(path, "r");
	assert_non_null(file);
	assert_non_null(fgets(text, sizeof(text), file));
	fclose(file);
	assert_string_equal(text, "1");
	snprintf(path, sizeof(path), "%s/t1/cgroup.freeze", fixture->dir);
	file = fopen(path, "r");
	assert_non_null(file);
	assert_non_null(fgets(text, sizeof(text), file));
	fclose(file);
	assert_string_equal(text, "1");

	/* No such cgroup: the failure is in the alert. */
	tenant.name = "t2";
	tenant.cgroup = "/gone";
	tenant.event_cgroup = "/gone";
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 2);
	assert_string_equal(fixture->recorder.alerts[1].action_result,
			    "freeze failed: No such file or directory");
}

static void test_reload_keeps_pending(void **state)
{
	struct fixture *fixture = *state;
	struct software_event event;
	struct config *config;

	exec_event(&event, fixture->program, 0);
	guard_event(fixture->guard, &event, &tenant_watch, 1.0);
	/* A reload that drops the policy: the waiting exec is decided against nothing. */
	assert_int_equal(config_parse("new.yaml", "plans: {default: {}}\n", 21, &config, NULL), 0);
	assert_int_equal(guard_configure(fixture->guard, config), 0);
	wait_digests(fixture->guard);
	assert_int_equal(fixture->recorder.count, 0);
	config_free(config);
}

/* @pid's ancestor entry as the kernel would fill it: alive, named @comm. */
static struct software_ancestor ancestor_of(int pid, const char *comm)
{
	struct software_ancestor ancestor = { .pid = (__u32)pid, .start_ns = start_ns_of(pid) };

	snprintf(ancestor.comm, sizeof(ancestor.comm), "%s", comm);
	return ancestor;
}

static void reap_child(int pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/*
 * sysctl(8) wrote vm.nr_hugepages and exited; the process that ran it
 * (the tenant's) goes on: the alert names it, not the helper, and fires,
 * window or not, until it exits.
 */
static void test_helper_attributed_to_parent(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event = { .type = SOFTWARE_EVENT_HUGEPAGES };
	int parent = start_child(), helper = start_child();
	char self[256], want[128];
	ssize_t length;

	length = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(length > 0);
	self[length] = '\0';
	snprintf(event.comm, sizeof(event.comm), "sysctl");
	event.pid = (__u32)helper;
	event.start_ns = start_ns_of(helper);
	event.ancestors[0] = ancestor_of(parent, "indexer");
	/* Its parent, this test, is no process of the tenant's. */
	event.ancestors[1] = ancestor_of(getpid(), "test_guard");
	reap_child(helper);
	tenant.event_cgroup = "/t1/job";
	tenant.ancestor_cgroups[0] = "/t1/main";
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_true(fixture->recorder.alerts[0].firing);
	assert_string_equal(fixture->recorder.alerts[0].rule, "miner_behavior");
	assert_int_equal(fixture->recorder.alerts[0].pid, parent);
	assert_string_equal(fixture->recorder.alerts[0].comm, "indexer");
	assert_string_equal(fixture->recorder.alerts[0].exe, self);
	assert_string_equal(fixture->recorder.alerts[0].cgroup, "/t1/main");
	assert_string_equal(fixture->recorder.alerts[0].sha256, "");
	snprintf(want, sizeof(want), "; sysctl (pid %d) was run by pid %d", helper, parent);
	assert_non_null(strstr(fixture->recorder.alerts[0].reason, want));
	assert_non_null(strstr(fixture->recorder.alerts[0].reason, "huge-page sysctl"));

	/* The window (60 s) is long over, the helper long gone: the parent holds it. */
	guard_tick(fixture->guard, 1000.0);
	assert_int_equal(fixture->recorder.count, 1);
	reap_child(parent);
	guard_tick(fixture->guard, 1000.0);
	assert_int_equal(fixture->recorder.count, 2);
	assert_false(fixture->recorder.alerts[1].firing);
	assert_int_equal(fixture->recorder.alerts[1].pid, parent);
}

/* The helper's parent is not the tenant's: the helper keeps its evidence. */
static void test_helper_parent_outside_tenant(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event = { .type = SOFTWARE_EVENT_MSR_WRITE };
	int parent = start_child(), helper = start_child();

	snprintf(event.comm, sizeof(event.comm), "wrmsr");
	event.pid = (__u32)helper;
	event.start_ns = start_ns_of(helper);
	event.ancestors[0] = ancestor_of(parent, "indexer");
	reap_child(helper);
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_int_equal(fixture->recorder.alerts[0].pid, helper);
	assert_string_equal(fixture->recorder.alerts[0].comm, "wrmsr");
	assert_null(strstr(fixture->recorder.alerts[0].reason, "run by"));
	/* Only the window holds it: the parent outside does not. */
	guard_tick(fixture->guard, 1000.0);
	assert_int_equal(fixture->recorder.count, 2);
	reap_child(parent);
}

/* The index of the module loaders' "msr" marker (software_builtin.h). */
static uint32_t msr_marker_bit(void)
{
	const struct software_marker *markers;
	size_t count, i;

	markers = software_markers(&count);
	for (i = 0; i < count; i++) {
		if (markers[i].modprobe && !strcmp(markers[i].label, "msr"))
			return UINT32_C(1) << i;
	}
	fail_msg("no msr marker");
	return 0;
}

/*
 * modprobe msr run by sh -c of a miner's system(): the miner, past the
 * shell, is killed, with the helper (still there); the shell is left.
 */
static void test_kill_hits_parent_through_shell(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event;
	int parent = start_child(), shell = start_child(), helper = start_child(), status;
	char loader[128], command[300], want[96];

	snprintf(loader, sizeof(loader), "%s/modprobe", fixture->dir);
	snprintf(command, sizeof(command), "cp /bin/true %s", loader);
	assert_int_equal(system(command), 0);
	exec_event(&event, loader, helper);
	event.start_ns = start_ns_of(helper);
	event.argv_markers = msr_marker_bit();
	event.ancestors[0] = ancestor_of(shell, "sh");
	event.ancestors[1] = ancestor_of(parent, "indexer");
	event.ancestors[2] = ancestor_of(getpid(), "test_guard");
	tenant.policy = "kill";
	tenant.ancestor_cgroups[0] = "/t1";
	tenant.ancestor_cgroups[1] = "/t1";
	tenant.ancestor_cgroups[2] = "/t1";
	guard_event(fixture->guard, &event, &tenant, 1.0);
	/* A match is hashed for the record: decided when the digest is back. */
	wait_digests(fixture->guard);
	assert_int_equal(waitpid(parent, &status, 0), parent);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(helper, &status, 0), helper);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(shell, &status, WNOHANG), 0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_string_equal(fixture->recorder.alerts[0].rule, "miner_behavior");
	assert_int_equal(fixture->recorder.alerts[0].pid, parent);
	assert_string_equal(fixture->recorder.alerts[0].comm, "indexer");
	snprintf(want, sizeof(want), "killed pid %d; its helper too, pid %d", parent, helper);
	assert_string_equal(fixture->recorder.alerts[0].action_result, want);
	snprintf(want, sizeof(want), "ran modprobe msr; modprobe (pid %d) was run by pid %d through sh",
		 helper, parent);
	assert_string_equal(fixture->recorder.alerts[0].reason, want);
	reap_child(shell);
}

/* The process it would go to is gone (its pid's start differs): named, not waited for. */
static void test_attributed_process_gone(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct software_event event = { .type = SOFTWARE_EVENT_HUGEPAGES };
	int parent = start_child();

	snprintf(event.comm, sizeof(event.comm), "sysctl");
	event.pid = 999999;
	event.ancestors[0] = ancestor_of(parent, "indexer");
	event.ancestors[0].start_ns += 5000000000ULL;
	tenant.ancestor_cgroups[0] = "/t1";
	guard_event(fixture->guard, &event, &tenant, 1.0);
	assert_int_equal(fixture->recorder.count, 1);
	assert_int_equal(fixture->recorder.alerts[0].pid, parent);
	assert_string_equal(fixture->recorder.alerts[0].exe, "");
	guard_tick(fixture->guard, 1000.0);
	assert_int_equal(fixture->recorder.count, 2);
	reap_child(parent);
}

struct judged {
	struct exe_key keys[4];
	uint32_t generations[4];
	size_t count;
};

static void record_judged(const struct exe_key *key, uint32_t generation, void *ctx)
{
	struct judged *judged = ctx;

	if (judged->count < 4) {
		judged->keys[judged->count] = *key;
		judged->generations[judged->count] = generation;
	}
	judged->count++;
}

/* guard_configure() with @text; the configuration stays the guard's to the end. */
static struct config *configure(struct guard *guard, const char *text)
{
	struct config *config;

	assert_int_equal(config_parse("judge.yaml", text, strlen(text), &config, NULL), 0);
	assert_int_equal(guard_configure(guard, config), 0);
	return config;
}

/*
 * Executables whose digest is on no deny_sha256 are judged (the exec probe
 * leaves them out): with the key the probe reads and the policies'
 * generation; a denied one is not, nor anything while no policy denies
 * digests.
 */
static void test_judged_executables(void **state)
{
	struct fixture *fixture = *state;
	struct guard_tenant tenant = tenant_watch;
	struct exec_interest interest;
	struct config *with, *without;
	struct judged judged = { 0 };
	struct software_event event;
	char text[512], command[300], digest[72] = "";
	FILE *sum;

	snprintf(command, sizeof(command), "sha256sum %s", fixture->program);
	sum = popen(command, "r");
	assert_non_null(sum);
	assert_int_equal(fscanf(sum, "%64s", digest), 1);
	pclose(sum);
	guard_on_judged(fixture->guard, record_judged, &judged);

	/* A policy with deny_sha256 (not this program's): judged. */
	without = configure(fixture->guard, "plans: {default: {software: digests}}\n"
					    "software:\n"
					    "  digests: {deny_sha256: [" SHA_OTHER "]}\n");
	guard_exec_interest(fixture->guard, &interest);
	assert_int_equal(interest.digests, 1);
	assert_int_equal(interest.every_exec, 0);
	tenant.policy = "digests";
	exec_event(&event, fixture->program, 0);
	guard_event(fixture->guard, &event, &tenant, 1.0);
	wait_digests(fixture->guard);
	assert_int_equal(judged.count, 1);
	assert_memory_equal(&judged.keys[0], &event.dev, sizeof(struct exe_key));
	assert_int_equal(judged.generations[0], interest.generation);
	assert_int_equal(fixture->recorder.count, 0);

	/* Its digest denied: not judged, found; a new generation. */
	snprintf(text, sizeof(text),
		 "plans: {default: {software: digests}}\n"
		 "software:\n"
		 "  digests: {deny_sha256: [%s]}\n",
		 digest);
	with = configure(fixture->guard, text);
	guard_exec_interest(fixture->guard, &interest);
	assert_int_not_equal(interest.generation, judged.generations[0]);
	guard_event(fixture->guard, &event, &tenant, 2.0);
	assert_int_equal(judged.count, 1);
	assert_int_equal(fixture->recorder.count, 1);
	assert_string_equal(fixture->recorder.alerts[0].rule, "sha256");
	config_free(without);
	config_free(with);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_paths),
		cmocka_unit_test_setup_teardown(test_exec_waits_for_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_policy_no_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_benign_exec_not_hashed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wire_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_checks_start_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_writes_cgroup_freeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_judged_executables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_attributed_to_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_parent_outside_tenant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_hits_parent_through_shell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributed_process_gone, setup, teardown),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
