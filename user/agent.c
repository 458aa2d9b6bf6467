// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop. One clock: every interval it drains cgroup events, collects
 * per-cgroup deltas, sums them per tenant and writes the textfile. Cgroup
 * events are also handled as they arrive (epoll on the ring buffer), and
 * signals come through a signalfd, so nothing runs in a signal handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "cgroups.h"
#include "collect.h"
#include "log.h"
#include "metrics.h"
#include "probes.h"
#include "tenants.h"

#define DEFAULT_TENANT_EXPIRY_S 300.0

struct agent {
	const struct agent_options *options;
	struct config *config;
	struct cgroup_tree *tree;
	struct probes *probes;
	struct collector *collector;
	struct tenant_set *tenants;
	struct tenant **tenant_list;
	size_t tenant_list_capacity;
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

/* Creates @path's parent directories (mkdir -p of the dirname). */
static int make_parent_dirs(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A cgroup exists: give it to its tenant and, if it has one, start reading it. */
static void add_cgroup(struct agent *agent, uint64_t id, const char *path)
{
	struct tenant *tenant = tenant_set_add_cgroup(agent->tenants, id, path);
	int64_t seeded = 0;
	int fd, err;

	if (!tenant)
		return;
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

static void take_delta(uint64_t id, const struct usage_sample *delta, int64_t tasks, bool final,
		       void *ctx)
{
	struct agent *agent = ctx;
	struct tenant *tenant = tenant_set_of_cgroup(agent->tenants, id);
	const char *path;

	if (!tenant && !tenant_set_knows_cgroup(agent->tenants, id) && !final) {
		/* Counted before we heard of it (start-up race, or a lost event). */
		path = cgroup_tree_path(agent->tree, id);
		if (!path) {
			collector_retire(agent->collector, id);
			return;
		}
		add_cgroup(agent, id, path);
		tenant = tenant_set_of_cgroup(agent->tenants, id);
	}
	if (tenant)
		tenant_set_add_usage(tenant, delta, tasks);
	if (final) {
		tenant_set_forget_cgroup(agent->tenants, id);
		cgroup_tree_remove(agent->tree, id);
	}
}

static int write_textfile(struct agent *agent)
{
	struct metrics_snapshot snapshot = {
		.events_lost = probes_lost_events(agent->probes),
		.version = ABUSEWATCH_VERSION,
	};
	size_t count = tenant_set_count(agent->tenants);
	struct tenant **list;
	int err;

	if (count > agent->tenant_list_capacity) {
		list = realloc(agent->tenant_list, count * sizeof(*list));
		if (!list)
			return -ENOMEM;
		agent->tenant_list = list;
		agent->tenant_list_capacity = count;
	}
	snapshot.tenants = agent->tenant_list;
	snapshot.tenant_count = tenant_set_list(agent->tenants, agent->tenant_list, count);
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
	int err;

	probes_drain_events(agent->probes);
	tenant_set_begin_tick(agent->tenants);
	err = collector_tick(agent->collector, take_delta, agent);
	if (err)
		pr_warn("reading the probes' maps failed: %s", strerror(-err));
	tenant_set_expire(agent->tenants, monotonic_seconds(), agent->tenant_expiry_s);
	write_textfile(agent);
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
	tenants = tenant_set_new(config);
	if (!tenants) {
		pr_err("reload failed: out of memory; keeping the running configuration");
		config_free(config);
		return;
	}
	/* Every live cgroup is matched again against the new rules; totals carry over by name. */
	agent->tenants = tenants;
	agent->config = config;
	cgroup_tree_scan(agent->tree, visit_existing, agent);
	carry_totals(old_tenants, tenants);
	tenant_set_free(old_tenants);
	config_free(old_config);
	agent->interval_ms = effective_interval(agent->options, config);
	arm_timer(timer_fd, agent->interval_ms);
	pr_info("configuration reloaded from %s: %zu tenant rules", agent->options->config_path,
		config->tenant_count);
}

static int setup_fds(int *signal_fd, int *timer_fd, int *epoll_fd, int events_fd)
{
	struct epoll_event event = { .events = EPOLLIN };
	sigset_t signals;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &signals, NULL))
		return -errno;
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
	return 0;
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

static int start(struct agent *agent)
{
	struct probes_options probe_options = {
		.force_hash_fallback = agent->options->force_hash_fallback,
	};
	char root[PATH_MAX], why[512];
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
	err = probes_load(&probe_options, handle_cgroup_event, agent, &agent->probes, why,
			  sizeof(why));
	if (err) {
		pr_err("cannot load probes: %s", why);
		return EXIT_NO_PROBES;
	}
	agent->collector = collector_new(agent->probes);
	agent->tenants = tenant_set_new(agent->config);
	if (!agent->collector || !agent->tenants) {
		pr_err("out of memory");
		return EXIT_NO_PROBES;
	}
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
	double deadline = 0;
	bool running = true;

	agent.interval_ms = effective_interval(options, config);
	raise_fd_limit();
	err = make_parent_dirs(config->agent.textfile);
	if (err)
		pr_warn("cannot create the directory of %s: %s", config->agent.textfile,
			strerror(-err));
	status = start(&agent);
	if (status != EXIT_OK)
		goto cleanup;
	err = setup_fds(&signal_fd, &timer_fd, &epoll_fd, probes_event_fd(agent.probes));
	if (!err)
		err = arm_timer(timer_fd, agent.interval_ms);
	if (err) {
		pr_err("cannot set up the event loop: %s", strerror(-err));
		status = EXIT_NO_PROBES;
		goto cleanup;
	}
	/* Written at once, so that a scrape (or a test) sees the agent is up. */
	write_textfile(&agent);
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
		n = epoll_wait(epoll_fd, events, 4, timeout_ms);
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
			} else {
				probes_drain_events(agent.probes);
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
