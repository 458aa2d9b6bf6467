// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop and the wiring. One clock: every interval the tick builds
 * one table of tenant rows (tenant_row.h) that each stage fills in turn,
 * and every rule hands its finished alerts to one callback, alerts_publish.
 * The probes' events (cgroups, connects, execs, sockets, the wire) go to
 * the rules as they arrive (epoll on the ring buffers; router.h), and
 * signals come through a signalfd, so nothing runs in a signal handler. Sinks never block this loop (see delivery.h).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alerts.h"
#include "clock.h"
#include "evaluate_state.h"
#include "files.h"
#include "guard.h"
#include "heap_trim.h"
#include "hugepage_signal.h"
#include "log.h"
#include "loop.h"
#include "memory.h"
#include "metrics.h"
#include "netabuse.h"
#include "probes.h"
#include "resume.h"
#include "router.h"
#include "socket_policy.h"
#include "software_builtin.h"
#include "storage.h"
#include "tenants.h"
#include "tracker.h"

struct agent {
	const struct agent_options *options;
	struct config *config;
	struct cgroup_tree *tree;
	struct probes *probes;
	struct collector *collector;
	struct tenant_set *tenants;
	struct cgroup_tracker *tracker;	/* cgroups to tenants, as the kernel reports them */
	struct tenant_table table;	/* this tick's rows */
	struct memory_watcher *memory;
	struct storage_scanner *storage;
	struct evaluator *evaluator;
	struct netabuse *netabuse;
	struct guard *guard;
	struct hugepage_signal *hugepages;	/* miner behaviour from the hugepages gauge */
	struct alerts *alerts;
	struct loop *loop;
	struct resume *resume;	/* what goes on across restarts */
	uint64_t interval_ms;
	bool textfile_failed;	/* log a failing textfile once, not every interval */
	bool stopping;		/* the last tick: the textfile is written whatever its pace */
	struct heap_trim heap_trim;	/* after tenants were dropped */
	struct socket_policy socket_policy;	/* the kernel's raw-socket policy per cgroup */
	struct router router;	/* the probes' events to the rules */
};

static void write_textfile(struct agent *agent)
{
	struct metrics_snapshot snapshot = {
		.rows = agent->table.rows,
		.row_count = agent->table.count,
		.relative = &agent->config->relative,
		.events_lost = probes_lost_events(agent->probes),
		.version = ABUSEWATCH_VERSION,
		.now = clock_monotonic(),
		.final = agent->stopping,
	};
	const char *path = agent->config->agent.textfile;
	int err;

	alerts_totals(agent->alerts, snapshot.alerts_total, snapshot.alerts_dropped);
	snapshot.alerts_suppressed[ALERT_NETWORK_ABUSE] = netabuse_suppressed(agent->netabuse);
	snapshot.alerts_suppressed[ALERT_UNAUTHORIZED_SOFTWARE] = guard_suppressed(agent->guard);
	resume_add_counters(agent->resume, snapshot.alerts_total, snapshot.alerts_suppressed);
	resume_tick(agent->resume, agent->tracker, agent->evaluator, agent->hugepages,
		    snapshot.alerts_total, snapshot.alerts_suppressed, agent->stopping);
	resume_tick_network(agent->resume, agent->netabuse, agent->stopping);
	err = metrics_write(path, &snapshot);
	if (err && !agent->textfile_failed)
		pr_err("cannot write textfile %s: %s", path, strerror(-err));
	else if (!err && agent->textfile_failed)
		pr_info("textfile %s written again", path);
	agent->textfile_failed = err != 0;
}

/*
 * An exec wakes the loop only when the loop is not coming back anyway
 * (software_events.h): after a wake-up, drain every AW_DRAIN_INTERVAL_NS
 * while events come, until drains have found none for a while.
 * Every drain ends in that chain: a drain elsewhere (the tick's) may take
 * the record whose exec woke us, and without a drain_again to come
 * reader_polling would stay set and records wait for the next tick.
 */
static void drain_again(void *ctx)
{
	struct agent *agent = ctx;

	if (probes_events_settle(agent->probes, probes_drain_events(agent->probes)))
		loop_wake_at(agent->loop, clock_monotonic() + AW_DRAIN_INTERVAL_NS / 1e9,
			     drain_again, agent);
}

static void drain_events(void *ctx)
{
	struct agent *agent = ctx;

	probes_drain_events(agent->probes);
	loop_wake_at(agent->loop, clock_monotonic() + AW_DRAIN_INTERVAL_NS / 1e9, drain_again,
		     agent);
}

static void tick(void *ctx)
{
	struct agent *agent = ctx;
	double now;
	int err;

	drain_again(agent);
	probes_check_io(agent->probes);
	err = cgroup_tracker_collect(agent->tracker);
	if (err)
		pr_warn("reading the probes' maps failed: %s", strerror(-err));
	now = clock_monotonic();
	netabuse_tick(agent->netabuse, now, alerts_publish, agent->alerts);
	guard_tick(agent->guard, now);
	if (tenant_set_expire(agent->tenants, now, agent->options->tenant_expiry_s))
		heap_trim_note_freed(&agent->heap_trim);
	/* Out of memory: a short table would look like tenants gone, resolving their alerts. */
	if (tenant_set_fill_rows(agent->tenants, &agent->table)) {
		pr_err("out of memory: no evaluation this interval");
	} else {
		memory_watcher_fill_rows(agent->memory, agent->tenants, &agent->table);
		hugepage_signal_tick(agent->hugepages, agent->table.rows, agent->table.count,
				     memory_watcher_hugepages_in_use(agent->memory), now,
				     guard_miners_action, agent->guard);
		storage_scanner_fill_rows(agent->storage, agent->table.rows, agent->table.count,
					  tenant_set_generation(agent->tenants));
		evaluator_tick(agent->evaluator, now, agent->table.rows, agent->table.count,
			       alerts_publish, agent->alerts);
	}
	alerts_flush(agent->alerts);
	write_textfile(agent);
	heap_trim_maybe(&agent->heap_trim, now);
	if (agent->options->once)
		loop_stop(agent->loop);
}

/* An executable's digest is on no deny list: the exec probe can leave it out. */
static void mark_judged(const struct exe_key *key, uint32_t generation, void *ctx)
{
	struct agent *agent = ctx;
	int err;

	err = probes_mark_judged(agent->probes, key, generation);
	if (err)
		pr_debug("judged executable not marked: %s", strerror(-err));
}

/* The exec probe reports what the software policies could act on. */
static void update_exec_interest(struct agent *agent)
{
	struct exec_interest interest;
	int err;

	guard_exec_interest(agent->guard, &interest);
	err = probes_set_exec_interest(agent->probes, &interest);
	if (err)
		pr_warn("the exec probe reports every exec: cannot change which: %s",
			strerror(-err));
	/* Markers are searched for policies with builtin:miners, which also count the wire rules. */
	probes_set_wire_interest(agent->probes, interest.argv != 0);
}

static void exec_interest_changed(void *ctx)
{
	update_exec_interest(ctx);
}

/* The rules and the clock follow @config (the sinks have their own alerts_reconfigure). */
static void configure(struct agent *agent, const struct config *config)
{
	struct storage_options storage = { .interval_s = config->agent.storage_interval_ms / 1e3 };

	storage_scanner_set_options(agent->storage, &storage);
	evaluator_set_relative(agent->evaluator, &config->relative);
	netabuse_configure(agent->netabuse, &config->network);
	if (guard_configure(agent->guard, config))
		pr_warn("out of memory for the software policies; the old ones stay");
	if (agent->probes)
		update_exec_interest(agent);
	agent->interval_ms = agent->options->interval_ms ? agent->options->interval_ms :
							    config->agent.interval_ms;
}

/* SIGHUP: a valid new configuration replaces the old; an invalid one changes nothing. */
static void reload(struct agent *agent)
{
	struct tenant_set *old_tenants = agent->tenants, *tenants = NULL;
	const char *path = agent->options->config_path;
	struct config *config = NULL;
	char *errors = NULL;
	int err;

	if (!path) {
		pr_info("SIGHUP: running on the embedded configuration; nothing to reload");
		return;
	}
	err = config_load_file(path, &config, &errors);
	if (!err)
		err = config_override_hostname(config, agent->options->hostname);
	if (!err)
		err = alerts_reconfigure(agent->alerts, config);
	if (!err && !(tenants = tenant_set_new(config)))
		err = -ENOMEM;
	if (err) {
		pr_err("reload refused, keeping the running configuration: %s",
		       errors ? errors : strerror(-err));
		tenant_set_free(tenants);
		config_free(config);
		free(errors);
		return;
	}
	/*
	 * Every live cgroup is matched again against the new rules; totals carry
	 * over by name, and so do windows and firing alerts (evaluate.h).
	 */
	configure(agent, config);
	config_free(agent->config);
	agent->config = config;
	agent->router.config = config;
	agent->tenants = tenants;
	cgroup_tracker_scan(agent->tracker, tenants, false);
	socket_policy_sync(&agent->socket_policy, agent->config);
	tenant_set_carry_totals(old_tenants, tenants);
	tenant_set_free(old_tenants);
	/* The old configuration, tenants and YARA rules (as start-up leaves). */
	heap_trim_note_freed(&agent->heap_trim);
	loop_every(agent->loop, agent->interval_ms, tick, agent);
	pr_info("configuration reloaded from %s: %zu tenant rules", path, config->tenant_count);
}

static void collect_digests(void *ctx)
{
	struct agent *agent = ctx;

	guard_collect(agent->guard, clock_monotonic());
	if (guard_take_interest_change(agent->guard))
		update_exec_interest(agent);
}

static void handle_signal(int signo, void *ctx)
{
	struct agent *agent = ctx;

	if (signo == SIGHUP) {
		reload(agent);
		return;
	}
	pr_info("signal %d: stopping", signo);
	loop_stop(agent->loop);
}

static int start(struct agent *agent)
{
	struct argv_marker markers[AW_ARGV_MARKERS_MAX] = {};
	struct probes_options probe_options = {
		.on_connect = router_connect_event,
		.on_software = router_software_event,
		.on_raw_socket = router_raw_socket_event,
		.on_wire = router_wire_event,
		.argv_markers = markers,
		.argv_marker_count = software_argv_markers(markers, AW_ARGV_MARKERS_MAX),
	};
	char root[PATH_MAX], why[512];
	int err;

	if (cgroups_find_v2_root("/proc/mounts", root, sizeof(root))) {
		pr_err("cannot load probes: no cgroup v2 hierarchy is mounted (see /proc/mounts)");
		return EXIT_NO_PROBES;
	}
	pr_info("cgroup v2 root: %s", root);
	agent->tree = cgroup_tree_new(root);
	err = agent->tree ? cgroups_id_of_path(root, &probe_options.root_cgroup_id) : -errno;
	if (err) {
		pr_err("cannot open the cgroup v2 root %s: %s", root, strerror(-err));
		return EXIT_NO_PROBES;
	}
	probe_options.v2_root = root;
	/* Rules and sinks before the probes: events arrive as soon as they are attached. */
	agent->netabuse = netabuse_new();
	agent->alerts = alerts_new(agent->config);
	agent->guard = guard_new(root, agent->config, alerts_publish, agent->alerts);
	agent->hugepages = hugepage_signal_new(alerts_publish, agent->alerts);
	agent->evaluator = evaluator_new();
	agent->storage = storage_scanner_new(&(struct storage_options){ 0 });
	agent->tenants = tenant_set_new(agent->config);
	agent->memory = memory_watcher_new(root, "/proc/mounts");
	agent->tracker = agent->memory ? cgroup_tracker_new(agent->tree, agent->memory) : NULL;
	agent->resume = resume_new(agent->config->agent.state_dir);
	if (!agent->netabuse || !agent->alerts || !agent->guard || !agent->hugepages ||
	    !agent->evaluator || !agent->storage || !agent->tenants || !agent->memory ||
	    !agent->tracker || !agent->resume) {
		pr_err("cannot start the rules and sinks: %s", strerror(errno));
		return EXIT_NO_PROBES;
	}
	configure(agent, agent->config);
	agent->router = (struct router){
		.config = agent->config,
		.tracker = agent->tracker,
		.tree = agent->tree,
		.guard = agent->guard,
		.netabuse = agent->netabuse,
		.alerts = agent->alerts,
		.socket_policy = &agent->socket_policy,
		.interest_changed = exec_interest_changed,
		.ctx = agent,
	};
	probe_options.pin_dir = resume_pin_dir(agent->resume);
	probe_options.instance = resume_instance(agent->resume);
	err = probes_load(&probe_options, router_cgroup_event, &agent->router, &agent->probes, why,
			  sizeof(why));
	if (err) {
		pr_err("cannot load probes: %s", why);
		return EXIT_NO_PROBES;
	}
	socket_policy_init(&agent->socket_policy, agent->probes, agent->tree, agent->tracker);
	update_exec_interest(agent);
	guard_on_judged(agent->guard, mark_judged, agent);
	agent->collector = collector_new(agent->probes);
	if (!agent->collector) {
		pr_err("out of memory");
		return EXIT_NO_PROBES;
	}
	cgroup_tracker_attach(agent->tracker, agent->probes, agent->collector);
	resume_restore(agent->resume, agent->probes, agent->tracker, agent->tenants,
		       agent->collector, agent->evaluator, agent->hugepages);
	resume_restore_network(agent->resume, agent->netabuse);
	/* Probes first, then the scan: a cgroup made in between arrives as an event. */
	err = cgroup_tracker_scan(agent->tracker, agent->tenants, true);
	if (err)
		pr_warn("scanning %s: %s", root, strerror(-err));
	resume_after_scan(agent->resume, agent->tracker);
	socket_policy_sync(&agent->socket_policy, agent->config);
	/* Also what queued while no agent ran, with the probes pinned. */
	drain_again(agent);
	return EXIT_OK;
}

static void stop(struct agent *agent)
{
	memory_watcher_free(agent->memory);
	storage_scanner_free(agent->storage);
	netabuse_free(agent->netabuse);
	hugepage_signal_free(agent->hugepages);
	guard_free(agent->guard);
	evaluator_free(agent->evaluator);
	alerts_free(agent->alerts);
	collector_free(agent->collector);
	probes_destroy(agent->probes);
	cgroup_tracker_free(agent->tracker);
	tenant_set_free(agent->tenants);
	tenant_table_free(&agent->table);
	cgroup_tree_free(agent->tree);
	resume_free(agent->resume);
	config_free(agent->config);
}

int agent_run(const struct agent_options *options, struct config *config)
{
	struct agent agent = { .options = options, .config = config };
	int status, err;

	heap_trim_setup();

	if (config_override_hostname(config, options->hostname)) {
		pr_err("out of memory");
		status = EXIT_NO_PROBES;
		goto cleanup;
	}
	/* Before any thread starts (the sinks' worker): see loop_new(). */
	agent.loop = loop_new(handle_signal, &agent);
	if (!agent.loop) {
		pr_err("cannot set up the event loop: %s", strerror(errno));
		status = EXIT_NO_PROBES;
		goto cleanup;
	}
	/* 0755: node_exporter reads the textfile as another user. */
	err = files_make_parent_dirs(config->agent.textfile, 0755);
	if (err)
		pr_warn("cannot create the directory of %s: %s", config->agent.textfile,
			strerror(-err));
	status = start(&agent);
	if (status != EXIT_OK)
		goto cleanup;
	err = loop_watch(agent.loop, probes_event_fd(agent.probes), drain_events, &agent);
	if (!err)
		err = loop_watch(agent.loop, guard_notify_fd(agent.guard), collect_digests, &agent);
	if (!err)
		err = loop_every(agent.loop, agent.interval_ms, tick, &agent);
	if (err) {
		pr_err("cannot set up the event loop: %s", strerror(-err));
		status = EXIT_NO_PROBES;
		goto cleanup;
	}
	/* Written at once, so that a scrape (or a test) sees the agent is up. */
	if (!tenant_set_fill_rows(agent.tenants, &agent.table))
		write_textfile(&agent);
	pr_info("probes attached; %zu tenants; textfile %s every %llu ms",
		tenant_set_count(agent.tenants), config->agent.textfile,
		(unsigned long long)agent.interval_ms);
	/*
	 * Start-up (the configuration, the first scan of every cgroup,
	 * libyara's compiler) leaves megabytes free in the heap's middle,
	 * where malloc keeps them: the first tick gives them back.
	 */
	heap_trim_note_freed(&agent.heap_trim);
	err = loop_run(agent.loop, options->duration_s > 0 ?
					clock_monotonic() + options->duration_s : 0);
	if (err) {
		pr_err("epoll_wait: %s", strerror(-err));
		status = EXIT_NO_PROBES;
	}
	/* Final counts: whatever happened since the last tick is not lost. */
	if (status == EXIT_OK) {
		agent.stopping = true;
		tick(&agent);
	}

cleanup:
	stop(&agent);
	loop_free(agent.loop);
	return status;
}
