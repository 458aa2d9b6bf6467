// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop. One clock: every interval it drains cgroup events, collects
 * per-cgroup deltas, sums them per tenant, reads their memory, evaluates
 * them against their plans, hands alerts to the sinks and writes the
 * textfile. Cgroup events are also handled as they arrive (epoll on the
 * ring buffer), and signals come through a signalfd, so nothing runs in a
 * signal handler. Sinks never block this loop (see delivery.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "alerts.h"
#include "cgroups.h"
#include "collect.h"
#include "evaluate.h"
#include "files.h"
#include "guard.h"
#include "idmap.h"
#include "log.h"
#include "memory.h"
#include "metrics.h"
#include "netabuse.h"
#include "probes.h"
#include "software.h"
#include "storage.h"
#include "tenants.h"

#define DEFAULT_TENANT_EXPIRY_S 300.0
/* A firing alert loaded at start resolves if its tenant is not back by then. */
#define FIRING_RESTORE_GRACE_S 30.0

struct agent {
	const struct agent_options *options;
	struct config *config;
	struct cgroup_tree *tree;
	struct probes *probes;
	struct collector *collector;
	struct tenant_set *tenants;
	struct tenant **tenant_list;
	size_t tenant_list_capacity;
	struct memory_source *memory;
	struct idmap *memory_files;	/* root cgroup id -> struct memory_watch */
	struct evaluator *evaluator;
	struct eval_input *inputs;
	size_t inputs_capacity;
	struct alerts *alerts;
	struct netabuse *netabuse;
	struct guard *guard;
	struct storage_scanner *storage;
	uint64_t storage_generation;	/* of the tenant set the scanner's targets came from */
	bool storage_stale;		/* targets to be sent again (a new tenant set) */
	char firing_path[PATH_MAX];	/* firing alerts, kept across restarts */
	uint64_t interval_ms;
	double tenant_expiry_s;
	bool seeding;		/* start-up scan: charge tasks already there */
	bool textfile_failed;	/* log a failing textfile once, not every interval */
};

static double monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

/* Memory of one tenant root cgroup; files not open yet are retried now and then. */
struct memory_watch {
	struct memory_files files;
	bool open;
	double retry_at;	/* monotonic seconds */
};

/* A runtime may make the v1 memory cgroup just after the v2 one. */
#define MEMORY_RETRY_S 5.0

static void forget_memory(struct agent *agent, uint64_t id)
{
	struct memory_watch *watch = idmap_remove(agent->memory_files, id);

	if (watch) {
		if (watch->open)
			memory_close(&watch->files);
		free(watch);
	}
}

static void forget_all_memory(struct agent *agent)
{
	size_t cursor = 0;
	uint64_t id;

	while (idmap_next(agent->memory_files, &cursor, &id))
		forget_memory(agent, id);
}

static void open_memory(struct agent *agent, struct memory_watch *watch, const char *path)
{
	watch->open = path && !memory_open(agent->memory, path, &watch->files);
	if (!watch->open)
		watch->retry_at = monotonic_seconds() + MEMORY_RETRY_S;
}

/* A tenant's own cgroup: its memory is read there (hierarchical, children included). */
static void watch_memory(struct agent *agent, uint64_t id, const char *path)
{
	struct memory_watch *watch;

	if (idmap_get(agent->memory_files, id))
		return;
	watch = calloc(1, sizeof(*watch));
	if (!watch)
		return;
	if (idmap_put(agent->memory_files, id, watch)) {
		free(watch);
		return;
	}
	open_memory(agent, watch, path);
}

/* A cgroup exists: give it to its tenant and, if it has one, start reading it. */
static void add_cgroup(struct agent *agent, uint64_t id, const char *path)
{
	struct tenant *tenant = tenant_set_add_cgroup(agent->tenants, id, path);
	int64_t seeded = 0;
	int fd, err;

	if (!tenant)
		return;
	if (tenant_set_cgroup_is_root(agent->tenants, id))
		watch_memory(agent, id, path);
	fd = cgroup_tree_open(agent->tree, id);
	if (fd < 0) {
		pr_debug("cgroup %s vanished before it could be opened", path);
		return;
	}
	if (agent->seeding) {
		seeded = probes_seed_tasks(agent->probes, fd, id);
		if (seeded < 0)
			seeded = 0;
	}
	if (!probes_use_cgroup_storage(agent->probes)) {
		close(fd);
		fd = -1;
	}
	err = collector_watch(agent->collector, id, fd, seeded);
	if (err)
		pr_warn("cannot watch cgroup %s: %s", path, strerror(-err));
}

static void visit_existing(uint64_t id, const char *path, void *ctx)
{
	add_cgroup(ctx, id, path);
}

static void handle_cgroup_event(const struct cgroup_event *event, void *ctx)
{
	struct agent *agent = ctx;
	const char *path = event->path;
	size_t length = strnlen(event->path, sizeof(event->path));

	switch (event->kind) {
	case CGROUP_EVENT_MKDIR:
	case CGROUP_EVENT_RENAME:
		/* A path that filled the event may be cut short: ask the kernel. */
		if (!length || length >= sizeof(event->path) - 1) {
			cgroup_tree_remove(agent->tree, event->id);
			path = cgroup_tree_path(agent->tree, event->id);
			if (!path)
				return;
		} else if (cgroup_tree_set(agent->tree, event->id, path)) {
			return;
		}
		add_cgroup(agent, event->id, path);
		break;
	case CGROUP_EVENT_RMDIR:
		tenant_set_remove_cgroup(agent->tenants, event->id, monotonic_seconds());
		collector_retire(agent->collector, event->id);
		break;
	}
}

/*
 * The tenant of cgroup @id, also of one seen in the kernel's counts or
 * events before its mkdir event arrived (start-up race, or a lost event).
 * Sets *@vanished when the cgroup is gone already.
 */
static struct tenant *tenant_of_cgroup(struct agent *agent, uint64_t id, bool *vanished)
{
	struct tenant *tenant = tenant_set_of_cgroup(agent->tenants, id);
	const char *path;

	*vanished = false;
	if (tenant || tenant_set_knows_cgroup(agent->tenants, id))
		return tenant;
	path = cgroup_tree_path(agent->tree, id);
	if (!path) {
		*vanished = true;
		return NULL;
	}
	add_cgroup(agent, id, path);
	return tenant_set_of_cgroup(agent->tenants, id);
}

static void take_delta(uint64_t id, const struct usage_sample *delta, int64_t tasks, bool final,
		       void *ctx)
{
	struct agent *agent = ctx;
	struct tenant *tenant;
	bool vanished = false;

	tenant = final ? tenant_set_of_cgroup(agent->tenants, id)
		       : tenant_of_cgroup(agent, id, &vanished);
	if (vanished) {
		collector_retire(agent->collector, id);
		return;
	}
	if (tenant)
		tenant_set_add_usage(tenant, delta, tasks);
	if (final) {
		forget_memory(agent, id);
		tenant_set_forget_cgroup(agent->tenants, id);
		cgroup_tree_remove(agent->tree, id);
	}
}

/* Every tenant, in name order, into agent->tenant_list; returns how many. */
static size_t list_tenants(struct agent *agent)
{
	size_t count = tenant_set_count(agent->tenants);
	struct tenant **list;

	if (count > agent->tenant_list_capacity) {
		list = realloc(agent->tenant_list, count * sizeof(*list));
		if (!list)
			return 0;
		agent->tenant_list = list;
		agent->tenant_list_capacity = count;
	}
	return tenant_set_list(agent->tenants, agent->tenant_list, count);
}

static void read_memory(struct agent *agent)
{
	double now = monotonic_seconds();
	struct memory_watch *watch;
	struct tenant *tenant;
	size_t cursor = 0;
	uint64_t id, bytes;

	while ((watch = idmap_next(agent->memory_files, &cursor, &id))) {
		tenant = tenant_set_of_cgroup(agent->tenants, id);
		if (!tenant) {
			forget_memory(agent, id);
			continue;
		}
		if (!watch->open && now >= watch->retry_at)
			open_memory(agent, watch, cgroup_tree_path(agent->tree, id));
		if (!watch->open)
			continue;
		if (memory_read(&watch->files, &bytes)) {
			/* Removed: its rmdir event is on the way. */
			memory_close(&watch->files);
			watch->open = false;
			watch->retry_at = now + MEMORY_RETRY_S;
			continue;
		}
		tenant_set_add_memory(tenant, bytes);
	}
}

static void storage_options_of(const struct config *config, struct storage_options *options)
{
	memset(options, 0, sizeof(*options));
	options->interval_s = config->agent.storage_interval_ms / 1000.0;
}

/* The tenants with storage paths, to the scanner, whenever the set of tenants changed. */
static void update_storage_targets(struct agent *agent, size_t count)
{
	uint64_t generation = tenant_set_generation(agent->tenants);
	struct storage_target *targets;
	size_t i, used = 0;
	int err;

	if (!agent->storage_stale && generation == agent->storage_generation)
		return;
	targets = calloc(count ? count : 1, sizeof(*targets));
	if (!targets)
		return;
	for (i = 0; i < count; i++) {
		const struct tenant *tenant = agent->tenant_list[i];

		if (!tenant->storage_count)
			continue;
		targets[used].tenant = tenant->name;
		targets[used].paths = (const char *const *)tenant->storage_paths;
		targets[used].path_count = tenant->storage_count;
		used++;
	}
	err = storage_scanner_set_targets(agent->storage, targets, used);
	free(targets);
	if (err) {
		pr_warn("storage: cannot update what is measured: %s", strerror(-err));
		return;
	}
	agent->storage_generation = generation;
	agent->storage_stale = false;
}

/* Each tenant's storage as of its last complete pass. */
static void read_storage(struct agent *agent, size_t count)
{
	size_t i;

	update_storage_targets(agent, count);
	for (i = 0; i < count; i++) {
		struct tenant *tenant = agent->tenant_list[i];

		tenant->has_storage =
		    tenant->storage_count &&
		    !storage_scanner_get(agent->storage, tenant->name, &tenant->storage_bytes);
	}
}

static double wall_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

struct transition_ctx {
	struct agent *agent;
	double now;		/* monotonic */
	double now_wall;
};

static void raise_overuse(const struct eval_transition *transition, void *ctx)
{
	struct transition_ctx *tick = ctx;
	char reason[160];
	struct alert alert = {
		.kind = ALERT_OVERUSE,
		.firing = transition->firing,
		.time = tick->now_wall,
		.started_at = tick->now_wall - (tick->now - transition->since),
		.tenant = transition->tenant,
		.plan = transition->plan,
		.cgroup = transition->cgroup,
		.resource = resource_name(transition->resource),
		.value = transition->value,
		.limit = transition->limit,
		.window_s = transition->window_s,
		.rule = transition->rule,
		.reason = reason,
	};

	if (transition->firing && !strcmp(transition->rule, "relative"))
		snprintf(reason, sizeof(reason),
			 "%s averaged over %.0f s is more than %.6g times the median of the other "
			 "active tenants, and above the floor",
			 alert.resource, transition->window_s, tick->agent->config->relative.factor);
	else if (transition->firing)
		snprintf(reason, sizeof(reason), "%s averaged over %.0f s is above the plan's limit",
			 alert.resource, transition->window_s);
	else
		snprintf(reason, sizeof(reason), "%s is back under the limit, or the tenant is gone",
			 alert.resource);
	pr_info("overuse %s: tenant %s, %s %.6g (%s limit %.6g)",
		transition->firing ? "firing" : "resolved", transition->tenant, alert.resource,
		transition->value, transition->rule, transition->limit);
	alerts_emit(tick->agent->alerts, &alert);
}

static void raise_network_abuse(const struct netabuse_alert *abuse, void *ctx)
{
	struct agent *agent = ctx;
	const struct tenant *tenant = tenant_set_find(agent->tenants, abuse->tenant);
	double now = monotonic_seconds(), now_wall = wall_seconds();
	const char *rule = netabuse_rule_name(abuse->rule);
	char reason[160];
	struct alert alert = {
		.kind = ALERT_NETWORK_ABUSE,
		.firing = abuse->firing,
		.time = now_wall,
		.started_at = now_wall - (now - abuse->since),
		.tenant = abuse->tenant,
		.plan = tenant ? tenant->plan : "",
		.cgroup = tenant ? tenant->cgroup : "",
		.window_s = abuse->window_s,
		.rule = rule,
		.reason = reason,
		.dst_port = abuse->dst_port,
		.destinations = abuse->destinations,
	};

	switch (abuse->rule) {
	case NETABUSE_POOL_PORT:
		snprintf(reason, sizeof(reason), "connected to port %u, a mining pool port",
			 abuse->dst_port);
		break;
	case NETABUSE_PORT_SCAN:
		snprintf(reason, sizeof(reason),
			 "%u distinct destinations (address, port) within %.0f s", abuse->destinations,
			 abuse->window_s);
		break;
	default:
		snprintf(reason, sizeof(reason),
			 "%u distinct addresses on SMTP ports (25, 465, 587) within %.0f s",
			 abuse->destinations, abuse->window_s);
		break;
	}
	if (!abuse->firing)
		snprintf(reason, sizeof(reason), "%s no longer seen", rule);
	pr_info("network abuse %s: tenant %s, %s", abuse->firing ? "firing" : "resolved",
		abuse->tenant, reason);
	alerts_emit(agent->alerts, &alert);
	alerts_flush(agent->alerts);
}

/* A connect() to a destination: to the network abuse rules, if a tenant made it. */
static void handle_connect_event(const struct connect_event *event, void *ctx)
{
	struct agent *agent = ctx;
	struct tenant *tenant;
	bool vanished;
	int err;

	tenant = tenant_of_cgroup(agent, event->cgroup_id, &vanished);
	if (!tenant)
		return;
	err = netabuse_connect(agent->netabuse, tenant->name, event->addr, event->port,
			       monotonic_seconds(), raise_network_abuse, agent);
	if (err)
		pr_debug("network abuse: connect not counted: %s", strerror(-err));
}

static void raise_software(struct alert *alert, void *ctx)
{
	struct agent *agent = ctx;

	alert->time = wall_seconds();
	alerts_emit(agent->alerts, alert);
	/* A discrete event: on disk now, not at the end of the interval. */
	alerts_flush(agent->alerts);
}

/* An exec or miner behaviour: to the tenant's software policy, if a tenant did it. */
static void handle_software_event(const struct software_event *event, void *ctx)
{
	struct agent *agent = ctx;
	struct guard_tenant guard_tenant;
	const struct plan *plan;
	struct tenant *tenant;
	bool vanished;

	tenant = tenant_of_cgroup(agent, event->cgroup_id, &vanished);
	if (!tenant)
		return;
	plan = config_find_plan(agent->config, tenant->plan);
	guard_tenant = (struct guard_tenant){
		.name = tenant->name,
		.plan = tenant->plan,
		.cgroup = tenant->cgroup,
		.event_cgroup = cgroup_tree_path(agent->tree, event->cgroup_id),
		.policy = plan ? plan->software : NULL,
		.window_s = plan_window_s(plan),
	};
	guard_event(agent->guard, event, &guard_tenant, monotonic_seconds());
}

/* The values evaluation takes from a tenant: cumulative counters, current gauges. */
static void fill_input(struct eval_input *input, const struct tenant *tenant,
		       const struct config *config)
{
	const struct usage_sample *total = &tenant->total;

	memset(input, 0, sizeof(*input));
	input->tenant = tenant->name;
	input->plan = tenant->plan;
	input->limits = config_find_plan(config, tenant->plan);
	input->cgroup = tenant->cgroup;
	input->gone = tenant->live_cgroups == 0;
	input->value[RESOURCE_CPU] = total->cpu_ns * 1e-9;
	input->value[RESOURCE_DISK_READ] = total->disk_read_bytes;
	input->value[RESOURCE_DISK_WRITE] = total->disk_write_bytes;
	input->value[RESOURCE_NET_RX] = total->rx_bytes;
	input->value[RESOURCE_NET_TX] = total->tx_bytes;
	input->value[RESOURCE_NET_RX_PACKETS] = total->rx_packets;
	input->value[RESOURCE_NET_TX_PACKETS] = total->tx_packets;
	input->value[RESOURCE_CONNECTIONS] = total->connects;
	input->value[RESOURCE_FORKS] = total->forks;
	input->value[RESOURCE_PROCESSES] = tenant->tasks > 0 ? tenant->tasks : 0;
	input->value[RESOURCE_MEMORY] = tenant->memory_bytes;
	for (int resource = 0; resource < RESOURCE_COUNT; resource++)
		input->has_value[resource] = true;
	input->has_value[RESOURCE_MEMORY] = tenant->has_memory;
	input->has_value[RESOURCE_STORAGE] = tenant->has_storage;
	input->value[RESOURCE_STORAGE] = tenant->storage_bytes;
}

/* Evaluates the @count tenants list_tenants() just put in agent->tenant_list. */
static void evaluate(struct agent *agent, size_t count)
{
	struct transition_ctx ctx = {
		.agent = agent,
		.now = monotonic_seconds(),
		.now_wall = wall_seconds(),
	};
	size_t i;
	struct eval_input *inputs;
	int err;

	if (count > agent->inputs_capacity) {
		inputs = realloc(agent->inputs, count * sizeof(*inputs));
		if (!inputs) {
			pr_err("out of memory: no evaluation this interval");
			return;
		}
		agent->inputs = inputs;
		agent->inputs_capacity = count;
	}
	for (i = 0; i < count; i++)
		fill_input(&agent->inputs[i], agent->tenant_list[i], agent->config);
	evaluator_tick(agent->evaluator, ctx.now, agent->inputs, count, raise_overuse, &ctx);
	for (i = 0; i < count; i++) {
		struct tenant *tenant = agent->tenant_list[i];

		memcpy(tenant->has_usage, agent->inputs[i].has_usage, sizeof(tenant->has_usage));
		memcpy(tenant->usage, agent->inputs[i].usage, sizeof(tenant->usage));
		memcpy(tenant->firing, agent->inputs[i].firing, sizeof(tenant->firing));
		memcpy(tenant->relative_firing, agent->inputs[i].relative_firing,
		       sizeof(tenant->relative_firing));
	}
	if (evaluator_changed(agent->evaluator) && agent->firing_path[0]) {
		err = evaluator_save(agent->evaluator, agent->firing_path, ctx.now_wall, ctx.now);
		if (err)
			pr_warn("cannot save firing alerts to %s: %s", agent->firing_path,
				strerror(-err));
	}
}

/* Writes the @count tenants list_tenants() just put in agent->tenant_list. */
static int write_textfile(struct agent *agent, size_t count)
{
	struct metrics_snapshot snapshot = {
		.config = agent->config,
		.events_lost = probes_lost_events(agent->probes),
		.version = ABUSEWATCH_VERSION,
	};
	int err;

	snapshot.tenant_count = count;
	snapshot.tenants = agent->tenant_list;
	alerts_totals(agent->alerts, snapshot.alerts_total);
	snapshot.alerts_suppressed[ALERT_NETWORK_ABUSE] = netabuse_suppressed(agent->netabuse);
	snapshot.alerts_suppressed[ALERT_UNAUTHORIZED_SOFTWARE] = guard_suppressed(agent->guard);
	err = metrics_write(agent->config->agent.textfile, &snapshot);
	if (err && !agent->textfile_failed)
		pr_err("cannot write textfile %s: %s", agent->config->agent.textfile,
		       strerror(-err));
	else if (!err && agent->textfile_failed)
		pr_info("textfile %s written again", agent->config->agent.textfile);
	agent->textfile_failed = err != 0;
	return err;
}

static void tick(struct agent *agent)
{
	size_t count;
	int err;

	probes_drain_events(agent->probes);
	tenant_set_begin_tick(agent->tenants);
	err = collector_tick(agent->collector, take_delta, agent);
	if (err)
		pr_warn("reading the probes' maps failed: %s", strerror(-err));
	read_memory(agent);
	netabuse_tick(agent->netabuse, monotonic_seconds(), raise_network_abuse, agent);
	guard_tick(agent->guard, monotonic_seconds());
	tenant_set_expire(agent->tenants, monotonic_seconds(), agent->tenant_expiry_s);
	/* Listed (sorted by name) once for all that follows. */
	count = list_tenants(agent);
	/* Out of memory: a short list would look like tenants gone, resolving their alerts. */
	if (count == tenant_set_count(agent->tenants)) {
		read_storage(agent, count);
		evaluate(agent, count);
	} else {
		pr_err("out of memory: no evaluation this interval");
	}
	alerts_flush(agent->alerts);
	write_textfile(agent, count);
}

static int arm_timer(int timer_fd, uint64_t interval_ms)
{
	struct itimerspec spec = {
		.it_interval = { interval_ms / 1000, (interval_ms % 1000) * 1000000 },
		.it_value = { interval_ms / 1000, (interval_ms % 1000) * 1000000 },
	};

	return timerfd_settime(timer_fd, 0, &spec, NULL) ? -errno : 0;
}

static uint64_t effective_interval(const struct agent_options *options,
				   const struct config *config)
{
	return options->interval_ms ? options->interval_ms : config->agent.interval_ms;
}

/* Carries every tenant's totals from @old into @new by name. */
static void carry_totals(struct tenant_set *old, struct tenant_set *new)
{
	size_t count = tenant_set_count(old), new_count = tenant_set_count(new), i, j;
	struct tenant **old_list = calloc(count ? count : 1, sizeof(*old_list));
	struct tenant **new_list = calloc(new_count ? new_count : 1, sizeof(*new_list));

	if (!old_list || !new_list)
		goto cleanup;
	count = tenant_set_list(old, old_list, count);
	new_count = tenant_set_list(new, new_list, new_count);
	/* Both are in name order: one merge pass. */
	for (i = 0, j = 0; i < count && j < new_count;) {
		int order = strcmp(old_list[i]->name, new_list[j]->name);

		if (order == 0)
			new_list[j++]->total = old_list[i++]->total;
		else if (order < 0)
			i++;
		else
			j++;
	}
cleanup:
	free(old_list);
	free(new_list);
}

/* SIGHUP: a valid new configuration replaces the old; an invalid one changes nothing. */
static void reload(struct agent *agent, int timer_fd)
{
	struct tenant_set *old_tenants = agent->tenants, *tenants;
	struct config *old_config = agent->config, *config = NULL;
	struct storage_options storage_options;
	char *errors = NULL;
	int err;

	if (!agent->options->config_path) {
		pr_info("SIGHUP: running on the embedded configuration; nothing to reload");
		return;
	}
	err = config_load_file(agent->options->config_path, &config, &errors);
	if (err) {
		pr_err("reload refused, keeping the running configuration: %s",
		       errors ? errors : strerror(-err));
		free(errors);
		return;
	}
	err = alerts_reconfigure(agent->alerts, config);
	if (err) {
		pr_err("reload refused, keeping the running configuration: alert sinks: %s",
		       strerror(-err));
		config_free(config);
		return;
	}
	tenants = tenant_set_new(config);
	if (!tenants) {
		pr_err("reload failed: out of memory; keeping the running configuration");
		config_free(config);
		return;
	}
	/*
	 * Every live cgroup is matched again against the new rules; totals carry
	 * over by name, and so do windows and firing alerts (evaluate.h).
	 */
	agent->tenants = tenants;
	agent->config = config;
	agent->storage_stale = true;
	storage_options_of(config, &storage_options);
	storage_scanner_set_options(agent->storage, &storage_options);
	evaluator_set_relative(agent->evaluator, &config->relative);
	netabuse_configure(agent->netabuse, &config->network);
	if (guard_configure(agent->guard, config))
		pr_warn("reload: out of memory for the software policies; the old ones stay");
	forget_all_memory(agent);
	cgroup_tree_scan(agent->tree, visit_existing, agent);
	carry_totals(old_tenants, tenants);
	tenant_set_free(old_tenants);
	config_free(old_config);
	agent->interval_ms = effective_interval(agent->options, config);
	arm_timer(timer_fd, agent->interval_ms);
	pr_info("configuration reloaded from %s: %zu tenant rules", agent->options->config_path,
		config->tenant_count);
}

static void stop_signals(sigset_t *signals)
{
	sigemptyset(signals);
	sigaddset(signals, SIGTERM);
	sigaddset(signals, SIGINT);
	sigaddset(signals, SIGHUP);
}

/*
 * Blocked before any thread starts (the sinks' worker), so that every
 * thread inherits the mask and the signals reach only the signalfd.
 */
static int block_signals(void)
{
	sigset_t signals;

	stop_signals(&signals);
	return pthread_sigmask(SIG_BLOCK, &signals, NULL) ? -EINVAL : 0;
}

static int setup_fds(int *signal_fd, int *timer_fd, int *epoll_fd, int events_fd,
		     int digests_fd)
{
	struct epoll_event event = { .events = EPOLLIN };
	sigset_t signals;

	stop_signals(&signals);
	*signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	*timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	*epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (*signal_fd < 0 || *timer_fd < 0 || *epoll_fd < 0)
		return -errno;
	event.data.fd = *signal_fd;
	if (epoll_ctl(*epoll_fd, EPOLL_CTL_ADD, *signal_fd, &event))
		return -errno;
	event.data.fd = *timer_fd;
	if (epoll_ctl(*epoll_fd, EPOLL_CTL_ADD, *timer_fd, &event))
		return -errno;
	event.data.fd = events_fd;
	if (epoll_ctl(*epoll_fd, EPOLL_CTL_ADD, events_fd, &event))
		return -errno;
	event.data.fd = digests_fd;
	if (epoll_ctl(*epoll_fd, EPOLL_CTL_ADD, digests_fd, &event))
		return -errno;
	return 0;
}

/* When to drain the ring buffers once more after a wake-up (software_events.h). */
static double straggler_deadline(void)
{
	return monotonic_seconds() + AW_WAKEUP_INTERVAL_NS / 1e9 + 0.001;
}

/* One watched cgroup, one fd: allow as many as the hard limit lets us. */
static void raise_fd_limit(void)
{
	struct rlimit limit;

	if (!getrlimit(RLIMIT_NOFILE, &limit) && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

static void restore_firing(struct agent *agent)
{
	const char *state_dir = agent->config->agent.state_dir;
	int err;

	if (!state_dir || !state_dir[0] ||
	    snprintf(agent->firing_path, sizeof(agent->firing_path), "%s/firing.json",
		     state_dir) >= (int)sizeof(agent->firing_path)) {
		agent->firing_path[0] = '\0';
		return;
	}
	err = evaluator_load(agent->evaluator, agent->firing_path, wall_seconds(),
			     monotonic_seconds(), FIRING_RESTORE_GRACE_S);
	if (err && err != -ENOENT)
		pr_warn("cannot load firing alerts from %s: %s", agent->firing_path,
			strerror(-err));
}

static int start(struct agent *agent)
{
	struct probes_options probe_options = {
		.force_hash_fallback = agent->options->force_hash_fallback,
		.on_connect = handle_connect_event,
		.on_software = handle_software_event,
	};
	struct argv_marker markers[AW_ARGV_MARKERS_MAX] = {};
	const struct software_marker *software_markers_list;
	struct storage_options storage_options;
	char root[PATH_MAX], why[512];
	size_t marker_count, i;
	uint64_t root_id;
	int err;

	err = cgroups_find_v2_root("/proc/mounts", root, sizeof(root));
	if (err) {
		pr_err("cannot load probes: no cgroup v2 hierarchy is mounted (see /proc/mounts)");
		return EXIT_NO_PROBES;
	}
	pr_info("cgroup v2 root: %s", root);
	agent->tree = cgroup_tree_new(root);
	if (!agent->tree) {
		pr_err("cannot open the cgroup v2 root %s: %s", root, strerror(errno));
		return EXIT_NO_PROBES;
	}
	probe_options.v2_root = root;
	err = cgroups_id_of_path(root, &root_id);
	if (err) {
		pr_err("cannot stat %s: %s", root, strerror(-err));
		return EXIT_NO_PROBES;
	}
	probe_options.root_cgroup_id = root_id;
	/* Before the probes: connect events may arrive as soon as they are attached. */
	agent->netabuse = netabuse_new();
	if (!agent->netabuse) {
		pr_err("out of memory");
		return EXIT_NO_PROBES;
	}
	netabuse_configure(agent->netabuse, &agent->config->network);
	agent->guard = guard_new(root, agent->config, raise_software, agent);
	if (!agent->guard) {
		pr_err("cannot start the software rules: %s", strerror(errno));
		return EXIT_NO_PROBES;
	}
	software_markers_list = software_markers(&marker_count);
	for (i = 0; i < marker_count && i < AW_ARGV_MARKERS_MAX; i++) {
		markers[i].len = software_markers_list[i].len;
		memcpy(markers[i].text, software_markers_list[i].text, markers[i].len);
	}
	probe_options.argv_markers = markers;
	probe_options.argv_marker_count = i;
	err = probes_load(&probe_options, handle_cgroup_event, agent, &agent->probes, why,
			  sizeof(why));
	if (err) {
		pr_err("cannot load probes: %s", why);
		return EXIT_NO_PROBES;
	}
	agent->collector = collector_new(agent->probes);
	agent->tenants = tenant_set_new(agent->config);
	agent->memory = memory_source_new(root, "/proc/mounts");
	agent->memory_files = idmap_new();
	agent->evaluator = evaluator_new();
	agent->alerts = alerts_new(agent->config);
	storage_options_of(agent->config, &storage_options);
	agent->storage = storage_scanner_new(&storage_options);
	if (!agent->collector || !agent->tenants || !agent->memory || !agent->memory_files ||
	    !agent->evaluator || !agent->alerts || !agent->storage) {
		pr_err("out of memory");
		return EXIT_NO_PROBES;
	}
	evaluator_set_relative(agent->evaluator, &agent->config->relative);
	restore_firing(agent);
	/* Probes first, then the scan: a cgroup made in between arrives as an event. */
	agent->seeding = true;
	err = cgroup_tree_scan(agent->tree, visit_existing, agent);
	agent->seeding = false;
	if (err)
		pr_warn("scanning %s: %s", root, strerror(-err));
	probes_drain_events(agent->probes);
	return EXIT_OK;
}

static void stop(struct agent *agent)
{
	if (agent->memory_files) {
		forget_all_memory(agent);
		idmap_free(agent->memory_files);
	}
	memory_source_free(agent->memory);
	storage_scanner_free(agent->storage);
	netabuse_free(agent->netabuse);
	guard_free(agent->guard);
	evaluator_free(agent->evaluator);
	free(agent->inputs);
	alerts_free(agent->alerts);
	collector_free(agent->collector);
	probes_destroy(agent->probes);
	tenant_set_free(agent->tenants);
	cgroup_tree_free(agent->tree);
	config_free(agent->config);
	free(agent->tenant_list);
}

int agent_run(const struct agent_options *options, struct config *config)
{
	struct agent agent = {
		.options = options,
		.config = config,
		.tenant_expiry_s = options->tenant_expiry_s > 0 ? options->tenant_expiry_s :
								 DEFAULT_TENANT_EXPIRY_S,
	};
	int signal_fd = -1, timer_fd = -1, epoll_fd = -1, status, err, n, i;
	double deadline = 0, drain_at = 0;
	bool running = true;

	agent.interval_ms = effective_interval(options, config);
	raise_fd_limit();
	err = block_signals();
	if (err)
		pr_warn("cannot block signals: %s", strerror(-err));
	/* 0755: node_exporter reads the textfile as another user. */
	err = files_make_parent_dirs(config->agent.textfile, 0755);
	if (err)
		pr_warn("cannot create the directory of %s: %s", config->agent.textfile,
			strerror(-err));
	status = start(&agent);
	if (status != EXIT_OK)
		goto cleanup;
	err = setup_fds(&signal_fd, &timer_fd, &epoll_fd, probes_event_fd(agent.probes),
			guard_notify_fd(agent.guard));
	if (!err)
		err = arm_timer(timer_fd, agent.interval_ms);
	if (err) {
		pr_err("cannot set up the event loop: %s", strerror(-err));
		status = EXIT_NO_PROBES;
		goto cleanup;
	}
	/* Written at once, so that a scrape (or a test) sees the agent is up. */
	write_textfile(&agent, list_tenants(&agent));
	pr_info("probes attached; %zu tenants; textfile %s every %llu ms",
		tenant_set_count(agent.tenants), config->agent.textfile,
		(unsigned long long)agent.interval_ms);
	if (options->duration_s > 0)
		deadline = monotonic_seconds() + options->duration_s;

	while (running) {
		struct epoll_event events[4];
		int timeout_ms = -1;

		if (deadline) {
			double left = deadline - monotonic_seconds();

			if (left <= 0)
				break;
			timeout_ms = (int)(left * 1000) + 1;
		}
		if (drain_at) {
			double left = drain_at - monotonic_seconds();
			int drain_ms = left > 0 ? (int)(left * 1000) + 1 : 0;

			if (timeout_ms < 0 || drain_ms < timeout_ms)
				timeout_ms = drain_ms;
		}
		n = epoll_wait(epoll_fd, events, 4, timeout_ms);
		/* Exec events the probe did not wake us for (software_events.h). */
		if (drain_at && monotonic_seconds() >= drain_at)
			drain_at = probes_drain_events(agent.probes) > 0 ? straggler_deadline() : 0;
		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s", strerror(errno));
			status = EXIT_NO_PROBES;
			break;
		}
		for (i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == timer_fd) {
				uint64_t expirations;

				if (read(timer_fd, &expirations, sizeof(expirations)) < 0)
					continue;
				tick(&agent);
				if (options->once)
					running = false;
			} else if (fd == signal_fd) {
				struct signalfd_siginfo info;

				while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
					if (info.ssi_signo == SIGHUP) {
						reload(&agent, timer_fd);
					} else {
						pr_info("signal %d: stopping", info.ssi_signo);
						running = false;
					}
				}
			} else if (fd == guard_notify_fd(agent.guard)) {
				guard_collect(agent.guard, monotonic_seconds());
			} else {
				probes_drain_events(agent.probes);
				drain_at = straggler_deadline();
			}
		}
	}
	/* Final counts: whatever happened since the last tick is not lost. */
	if (status == EXIT_OK)
		tick(&agent);
	config = NULL;

cleanup:
	if (epoll_fd >= 0)
		close(epoll_fd);
	if (timer_fd >= 0)
		close(timer_fd);
	if (signal_fd >= 0)
		close(signal_fd);
	stop(&agent);
	return status;
}
