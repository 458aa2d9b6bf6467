// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "evaluate_state.h"
#include "files.h"
#include "hugepage_signal.h"
#include "log.h"
#include "state_file.h"
#include "netabuse.h"
#include "pins.h"
#include "resume.h"

#define COUNTERS_FILE "counters.state"
#define FIRING_FILE "firing.json"
/* miner_behavior from huge pages (hugepage_signal.h): a file of its own, as firing.json. */
#define HUGEPAGES_FIRING_FILE "firing-hugepages.json"
/* Network abuse alerts (netabuse.h): a file of their own too. */
#define NETWORK_FIRING_FILE "firing-network.json"
/* A firing alert loaded at start resolves if its tenant is not back by then. */
#define FIRING_RESTORE_GRACE_S 30.0
/* A restart state larger than this is no state of ours (10,000 cgroups take some 2 MB). */
#define COUNTERS_MAX_BYTES (256u << 20)
/* Writes are spaced so that they cost about what the textfile's do (metrics.h). */
#define WRITE_BYTES_PER_S (1024.0 * 1024.0)

_Static_assert(RESTART_INSTANCE_LEN == PINS_INSTANCE_LEN, "the state names the pins' instance");

struct resume {
	char counters_path[PATH_MAX]; /* "": nothing kept */
	char firing_path[PATH_MAX];
	struct firing_file firing_file; /* saved when it changes, and after a failed save */
	char hugepages_path[PATH_MAX];
	bool hugepages_failing;		/* its last save failed: logged, tried every tick */
	char network_path[PATH_MAX];	/* "": not kept */
	bool network_failing;		/* its last save failed: logged, tried every tick */
	char pin_dir[PATH_MAX]; /* "": nothing pinned */
	char state_dir[PATH_MAX];
	struct restart_state read; /* what counters.state held */
	bool have_read;
	/* The agent's counters at the last stop. */
	uint64_t alerts_total[ALERT_KIND_COUNT];
	uint64_t alerts_suppressed[ALERT_KIND_COUNT];
	/* The pinned probes' instance; none: no state is written. */
	uint8_t instance[PINS_INSTANCE_LEN];
	bool pinned;
	bool taken_up; /* the state read goes on in this run */
	struct collector *collector;
	/* What the last written state held, to tell whether one is due. */
	bool written;
	uint64_t written_changes;
	uint64_t written_generation;
	uint64_t written_alerts[ALERT_KIND_COUNT];
	uint64_t written_suppressed[ALERT_KIND_COUNT];
	double next_write;	      /* monotonic */
	bool write_failed;	      /* logged once until a write works again */
	struct restart_state scratch; /* the state being written; freed once written */
};

/* Reads counters.state; a missing one is the first start, anything else is said. */
static void read_counters(struct resume *resume)
{
	char *text = NULL, why[256];
	size_t length;
	int err;

	err = files_read_all(resume->counters_path, COUNTERS_MAX_BYTES, &text, &length);
	if (err) {
		if (err != -ENOENT)
			pr_warn("restart: cannot read %s: %s", resume->counters_path,
				strerror(-err));
		return;
	}
	err = restart_state_parse(text, length, &resume->read, why, sizeof(why));
	if (err) {
		pr_warn("restart: %s is no valid restart state (%s): counters start from zero",
			resume->counters_path, why);
		return;
	}
	resume->have_read = true;
	memcpy(resume->alerts_total, resume->read.alerts_total, sizeof(resume->alerts_total));
	memcpy(resume->alerts_suppressed, resume->read.alerts_suppressed,
	       sizeof(resume->alerts_suppressed));
}

struct resume *resume_new(const char *state_dir)
{
	struct resume *resume = calloc(1, sizeof(*resume));
	int err;

	if (!resume || !state_dir || !state_dir[0])
		return resume;
	if (snprintf(resume->counters_path, sizeof(resume->counters_path), "%s/%s", state_dir,
		     COUNTERS_FILE) >= (int)sizeof(resume->counters_path) ||
	    snprintf(resume->firing_path, sizeof(resume->firing_path), "%s/%s", state_dir,
		     FIRING_FILE) >= (int)sizeof(resume->firing_path) ||
	    snprintf(resume->hugepages_path, sizeof(resume->hugepages_path), "%s/%s", state_dir,
		     HUGEPAGES_FIRING_FILE) >= (int)sizeof(resume->hugepages_path)) {
		pr_warn("state_dir %s: path too long; nothing is kept across restarts", state_dir);
		resume->counters_path[0] = resume->firing_path[0] = '\0';
		resume->hugepages_path[0] = '\0';
		return resume;
	}
	snprintf(resume->state_dir, sizeof(resume->state_dir), "%s", state_dir);
	err = pins_dir_of(state_dir, resume->pin_dir, sizeof(resume->pin_dir));
	if (err) {
		pr_warn("state_dir %s: no pin directory for it (%s): a restart will start clean",
			state_dir, strerror(-err));
		resume->pin_dir[0] = '\0';
	}
	if (snprintf(resume->network_path, sizeof(resume->network_path), "%s/%s", state_dir,
		     NETWORK_FIRING_FILE) >= (int)sizeof(resume->network_path)) {
		pr_warn("state_dir %s: path too long; network abuse alerts are not kept across "
			"restarts", state_dir);
		resume->network_path[0] = '\0';
	}
	read_counters(resume);
	return resume;
}

void resume_free(struct resume *resume)
{
	if (!resume)
		return;
	restart_state_free(&resume->read);
	restart_state_free(&resume->scratch);
	free(resume);
}

const char *resume_pin_dir(const struct resume *resume)
{
	return resume->pin_dir[0] ? resume->pin_dir : NULL;
}

const uint8_t *resume_instance(const struct resume *resume)
{
	return resume->have_read ? resume->read.instance : NULL;
}

void resume_restore(struct resume *resume, struct probes *probes, struct cgroup_tracker *tracker,
		    struct tenant_set *tenants, struct collector *collector,
		    struct evaluator *evaluator, struct hugepage_signal *hugepages)
{
	const uint8_t *instance = probes_instance(probes);
	double downtime_s;
	size_t restored;

	if (resume->firing_path[0])
		evaluator_load(evaluator, resume->firing_path, clock_wall(), clock_monotonic(),
			       FIRING_RESTORE_GRACE_S);
	if (resume->hugepages_path[0])
		hugepage_signal_load(hugepages, resume->hugepages_path, clock_wall(),
				     clock_monotonic(), FIRING_RESTORE_GRACE_S);
	if (!instance || !resume->counters_path[0]) {
		/* Nothing is written this run: a base it showed would be lost again. */
		memset(resume->alerts_total, 0, sizeof(resume->alerts_total));
		memset(resume->alerts_suppressed, 0, sizeof(resume->alerts_suppressed));
		return;
	}
	resume->pinned = true;
	memcpy(resume->instance, instance, sizeof(resume->instance));
	resume->collector = collector;
	collector_hold_forgets(collector);
	/* The probes decided with the state's instance: resumed means they are the state's. */
	if (!probes_resumed(probes) || !resume->have_read ||
	    memcmp(resume->read.instance, instance, sizeof(resume->instance)))
		return;
	downtime_s = clock_wall() - resume->read.written_wall;
	if (downtime_s < 0)
		downtime_s = 0;
	restored =
	    cgroup_tracker_restore(tracker, tenants, &resume->read, clock_monotonic(), downtime_s);
	resume->taken_up = true;
	pr_info(
	    "restart: counters go on from %s (written %.1f s ago): %zu of %zu tenants, %zu cgroups",
	    resume->counters_path, downtime_s, restored, resume->read.tenant_count,
	    resume->read.cgroup_count);
}

void resume_after_scan(struct resume *resume, struct cgroup_tracker *tracker)
{
	size_t removed;

	if (resume->taken_up) {
		removed = cgroup_tracker_restore_removed(tracker, &resume->read, clock_monotonic());
		if (removed)
			pr_info("restart: %zu cgroups were removed while the agent was stopped; "
				"their counts go to their tenants",
				removed);
	}
	/* Its strings were copied where they are kept; the rest is done with. */
	restart_state_free(&resume->read);
}

void resume_add_counters(const struct resume *resume, uint64_t alerts_total[ALERT_KIND_COUNT],
			 uint64_t alerts_suppressed[ALERT_KIND_COUNT])
{
	int k;

	for (k = 0; k < ALERT_KIND_COUNT; k++) {
		alerts_total[k] += resume->alerts_total[k];
		alerts_suppressed[k] += resume->alerts_suppressed[k];
	}
}

/*
 * Replaces @path (0600) with @text. Not fsync'd: the state must outlive the
 * agent, not the machine; after a reboot the pinned probes are gone and
 * the state with them. 0 or -errno.
 */
static int replace_file(const char *path, const char *text, size_t length)
{
	char temporary[PATH_MAX + 8];
	int fd, err;

	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = files_write_all(fd, text, length);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(temporary, path))
		err = -errno;
	if (err)
		unlink(temporary);
	return err;
}

static bool state_is_due(const struct resume *resume, const struct cgroup_tracker *tracker,
			 const uint64_t alerts_total[ALERT_KIND_COUNT],
			 const uint64_t alerts_suppressed[ALERT_KIND_COUNT])
{
	return !resume->written || resume->written_changes != cgroup_tracker_changes(tracker) ||
	       resume->written_generation != collector_generation(resume->collector) ||
	       memcmp(resume->written_alerts, alerts_total, sizeof(resume->written_alerts)) ||
	       memcmp(resume->written_suppressed, alerts_suppressed,
		      sizeof(resume->written_suppressed));
}

/* Writes the restart state as things are now. 0 or -errno. */
static int write_state(struct resume *resume, struct cgroup_tracker *tracker,
		       const uint64_t alerts_total[ALERT_KIND_COUNT],
		       const uint64_t alerts_suppressed[ALERT_KIND_COUNT], double now)
{
	struct restart_state *state = &resume->scratch;
	size_t length = 0;
	char *text = NULL;
	int err;

	restart_state_reset(state);
	memcpy(state->instance, resume->instance, sizeof(state->instance));
	state->written_wall = clock_wall();
	memcpy(state->alerts_total, alerts_total, sizeof(state->alerts_total));
	memcpy(state->alerts_suppressed, alerts_suppressed, sizeof(state->alerts_suppressed));
	err = cgroup_tracker_save(tracker, state, now);
	if (!err)
		err = restart_state_format(state, &text, &length);
	if (!err)
		err = files_make_dirs(resume->state_dir, 0700);
	if (!err)
		err = replace_file(resume->counters_path, text, length);
	free(text);
	/*
	 * Its room is not kept for the next write, seconds away: 1.6 MiB
	 * resident at 10,000 tenants, for a few reallocs a write.
	 */
	restart_state_free(state);
	resume->next_write = now + length / WRITE_BYTES_PER_S;
	return err;
}

/* firing-hugepages.json kept in step, as firing_file_tick() keeps firing.json. */
static void hugepages_file_tick(struct resume *resume, struct hugepage_signal *hugepages,
				double now)
{
	int err;

	if (!resume->hugepages_path[0] || !hugepage_signal_changed(hugepages))
		return;
	err = hugepage_signal_save(hugepages, resume->hugepages_path, clock_wall(), now);
	state_file_saved(resume->hugepages_path, err, &resume->hugepages_failing);
}

void resume_tick(struct resume *resume, struct cgroup_tracker *tracker,
		 const struct evaluator *evaluator, struct hugepage_signal *hugepages,
		 const uint64_t alerts_total[ALERT_KIND_COUNT],
		 const uint64_t alerts_suppressed[ALERT_KIND_COUNT], bool final)
{
	double now = clock_monotonic();
	int err;

	if (resume->firing_path[0])
		firing_file_tick(&resume->firing_file, evaluator, resume->firing_path, clock_wall(),
				 now);
	hugepages_file_tick(resume, hugepages, now);
	if (!resume->pinned)
		return;
	if (!final && (now < resume->next_write ||
		       !state_is_due(resume, tracker, alerts_total, alerts_suppressed)))
		return;
	err = write_state(resume, tracker, alerts_total, alerts_suppressed, now);
	if (err && !resume->write_failed)
		pr_err("restart: cannot write %s: %s (a restart now would lose the counts of "
		       "cgroups removed since)",
		       resume->counters_path, strerror(-err));
	else if (!err && resume->write_failed)
		pr_info("restart: %s written again", resume->counters_path);
	resume->write_failed = err != 0;
	/* Written or not, removed cgroups' entries must not fill the maps. */
	collector_persisted(resume->collector);
	if (err)
		return;
	resume->written = true;
	resume->written_changes = cgroup_tracker_changes(tracker);
	resume->written_generation = collector_generation(resume->collector);
	memcpy(resume->written_alerts, alerts_total, sizeof(resume->written_alerts));
	memcpy(resume->written_suppressed, alerts_suppressed, sizeof(resume->written_suppressed));
}

void resume_restore_network(struct resume *resume, struct netabuse *netabuse)
{
	if (resume->network_path[0])
		netabuse_load(netabuse, resume->network_path, clock_wall(), clock_monotonic());
}

/* firing-network.json kept in step, as hugepages_file_tick() keeps its file. */
void resume_tick_network(struct resume *resume, struct netabuse *netabuse, bool final)
{
	double now = clock_monotonic();
	int err;

	if (!resume->network_path[0] || !netabuse_save_due(netabuse, now, final))
		return;
	err = netabuse_save(netabuse, resume->network_path, clock_wall(), now);
	state_file_saved(resume->network_path, err, &resume->network_failing);
}
