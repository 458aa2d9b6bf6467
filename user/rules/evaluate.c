// SPDX-License-Identifier: GPL-2.0
/*
 * Windows and the firing/resolved state machine.
 *
 * Every resource a tenant is compared on is kept as a running sum that only
 * grows: for counters the sum of their increases, for gauges the
 * time-integral of the value (trapezoids between samples). Next to it runs
 * the number of seconds the sum covers, which leaves out the time a
 * resource was not measured. A sample records both at one tick, so the
 * usage over any span between two samples is
 * (sum[end] - sum[start]) / (covered[end] - covered[start]): a rate for
 * counters, a time-weighted mean for gauges. Samples in between add nothing
 * to that, which is why thinning them (to bound memory) costs only the
 * precision of where the window starts.
 *
 * What that buys, with thousands of tenants mostly idle:
 * - Only the resources compared have sums and samples (a sample is their
 *   sums, not all of them), and only while they are compared.
 * - A tenant keeps at most MAX_SAMPLES samples whatever its window; up to
 *   that many ticks in a window, every one is kept and windows are exact.
 * - Between two samples usage is read as a straight line. A tick that
 *   leaves every value as it was continues the line the newest sample
 *   ends, so that sample moves forward instead of a new one: an idle
 *   tenant holds two samples.
 * - Once a tenant's whole window lies on that line, its usage is known
 *   without its window (no rate, the gauge's value): it is quiet, and a
 *   tick only checks that its values are still the same. Its sums stay as
 *   they were when it went quiet and catch up when it wakes.
 * - Rule states exist only while something is pending or firing.
 * - The rows come in name order, as do the tenants of the last tick's
 *   rows: a merge walk pairs them without hashing; the hash table serves
 *   new tenants, restored ones and rows out of order.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "evaluate.h"
#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "text.h"

/*
 * Samples a tenant keeps, whatever its window. 1 s ticks over the default
 * 60 s window need 62 (one at or before the start, one appended before the
 * oldest goes): those windows are exact. Longer ones lose the precision of
 * where they start, spread evenly over the window.
 */
#define MAX_SAMPLES 64
#define MIN_SAMPLES 4
/* Ticks come a little early or late: do not wait a whole extra tick for `for`. */
#define FOR_SLACK_S 1e-6
#define RULE_PLAN "plan"
#define RULE_RELATIVE "relative"
#define MIN_TRANSITIONS 16

typedef uint16_t resource_mask;

#define RESOURCE_BIT(resource) ((resource_mask)1 << (resource))

/* The lowest resource of a non-empty @mask. */
static int first_resource(resource_mask mask)
{
	return __builtin_ctz(mask);
}

static unsigned int resource_count(resource_mask mask)
{
	return __builtin_popcount(mask);
}

/*
 * One alert rule on one resource of one tenant. Kept apart from the plan so
 * that another rule (relative usage) can run the same machine on its own
 * limits.
 */
struct alert_rule_state {
	bool pending; /* over the limit, waiting for `for` */
	double pending_since;
	bool firing;
	double firing_since;
	/* Last known, for the resolved alert when usage or limit are gone. */
	double value;
	double limit;
	double window_s;
};

struct alert_rule_params {
	bool has_limit;
	double limit;	       /* what usage is compared with */
	double reported_limit; /* what the alert says: the relative rule's own */
	double for_s;
	double hysteresis;
	double window_s;
};

enum alert_rule_change {
	ALERT_RULE_UNCHANGED,
	ALERT_RULE_FIRED,
	ALERT_RULE_RESOLVED,
};

/*
 * A tenant's rules while one of them is pending or firing; a tenant with
 * none has no rule state at all, since a rule at rest is all zeros. The
 * plan and cgroup are copies for the alerts: a tenant gone from the rows
 * still resolves, and a firing alert is saved, with them.
 */
struct tenant_alerts {
	char *plan;
	char *cgroup;
	struct alert_rule_state plan_rule[RESOURCE_COUNT];
	struct alert_rule_state relative_rule[RESOURCE_COUNT];
};

/* One resource of a tenant with a window: its running sums. */
struct track {
	/* Whether last_value and last_time hold a value: tenant_state.has_last. */
	double last_value;
	double last_time;
	double sum;
	double covered;
	/* When no rule compared it any more: it lingers one window. */
	double unneeded_since;
};

struct tenant_state {
	struct hashtable_node node; /* in evaluator->tenants, by name */
	struct tenant_state *next_dropped;
	unsigned long seen_tick; /* evaluator tick number it was last in */
	uint64_t row_serial;	 /* of its row then (tenant_row.h): the same tenant, no name compare */
	/* Loaded from the state file and not seen in a tick since. */
	bool loaded;
	double loaded_deadline;
	struct tenant_alerts *alerts; /* NULL: nothing pending or firing */

	/* Resources with a window; those compared at the last tick, the rest linger. */
	resource_mask tracked;
	resource_mask needed;
	/*
	 * Tracked resources measured at some tick since their window began
	 * (their track's last_value and last_time hold it): a bit here rather
	 * than a bool in each track, which would pad it by 8 bytes.
	 */
	resource_mask has_last;
	struct track *tracks; /* one per tracked resource, in resource order */

	/*
	 * A ring, oldest at samples_head, each sample 1 + 2 * tracks doubles:
	 * the time, then each track's sum and covered.
	 */
	double *samples;
	uint8_t samples_head;
	uint8_t samples_count;
	uint8_t samples_capacity;
	/* Every tick since the sample before the newest left all values as they were. */
	bool newest_steady;
	/*
	 * The whole window lies on that line, from steady_since: the sums and
	 * the newest sample are as of the last tick that was not quiet, and
	 * every tick since left the values as they were.
	 */
	bool quiet;
	double steady_since;

	char name[];
};

/* A rule that changed state this tick, handed out as an alert once all are known. */
struct eval_transition {
	const char *tenant;
	const char *plan;
	const char *cgroup;
	enum resource resource;
	const char *rule; /* RULE_PLAN or RULE_RELATIVE */
	bool firing;	  /* else resolved */
	double value;	  /* windowed usage (last known, for a tenant gone) */
	double limit;	  /* relative: factor x the median of the others */
	double window_s;
	double since; /* @now of the tick it started firing */
};

/* What a row's plan asks for, kept for the rows of one tick that share it. */
struct plan_memo {
	unsigned long tick;
	const struct plan *limits;
	resource_mask limited; /* by the plan */
	resource_mask needed;  /* limited, or with a relative floor */
	double window_s;
};

struct evaluator {
	struct hashtable tenants;
	/* Tenant names come from paths tenants choose: keep them from picking collisions. */
	struct hash_key key;
	unsigned long tick_number;
	double last_now; /* of the last tick */
	resource_mask gauges;
	bool changed;
	struct eval_transition *transitions;
	size_t transition_count;
	size_t transitions_capacity;
	struct plan_memo memo;

	bool has_relative;
	struct relative_config relative;
	resource_mask relative_floors; /* 0 without a relative rule */
	/* Relative rules pending or firing this tick, to resolve where a floor went. */
	resource_mask relative_live;

	/*
	 * Rows marked unchanged may be skipped (their tenants quiet): not
	 * right after the relative rule changed, which changes what is needed.
	 */
	bool may_skip;

	/* Kept to spare allocations a tick; all of scratch_capacity. */
	struct tenant_state **row_tenants; /* by row; NULL: skipped this tick */
	struct tenant_state **order;	   /* those of the last tick's rows, in their order */
	size_t order_count;
	double *active_usage; /* sorted, one resource at a time */
	size_t scratch_capacity;
};

/* Tenant table: by name. */

static bool tenant_matches(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_state, node)->name, name);
}

static struct tenant_state *tenant_find(const struct evaluator *evaluator, const char *name,
					uint64_t hash)
{
	return hashtable_entry(hashtable_find(&evaluator->tenants, hash, name), struct tenant_state,
			       node);
}

static void alerts_free(struct tenant_alerts *alerts)
{
	if (!alerts)
		return;
	free(alerts->plan);
	free(alerts->cgroup);
	free(alerts);
}

static void tenant_free(struct tenant_state *tenant)
{
	if (!tenant)
		return;
	alerts_free(tenant->alerts);
	free(tenant->tracks); /* and the samples: one allocation */
	free(tenant);
}

static void tenant_free_node(struct hashtable_node *node)
{
	tenant_free(hashtable_entry(node, struct tenant_state, node));
}

static struct tenant_state *tenant_add(struct evaluator *evaluator, const char *name, uint64_t hash)
{
	size_t length = strlen(name);
	struct tenant_state *tenant;

	/* The name in the same allocation: one fewer per tenant. */
	tenant = calloc(1, sizeof(*tenant) + length + 1);
	if (!tenant)
		return NULL;
	memcpy(tenant->name, name, length + 1);
	if (hashtable_insert(&evaluator->tenants, &tenant->node, hash)) {
		tenant_free(tenant);
		errno = ENOMEM;
		return NULL;
	}
	return tenant;
}

/* Rule states */

static bool alerts_live(const struct tenant_alerts *alerts)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		if (alerts->plan_rule[resource].pending || alerts->plan_rule[resource].firing ||
		    alerts->relative_rule[resource].pending ||
		    alerts->relative_rule[resource].firing)
			return true;
	return false;
}

static resource_mask relative_live_mask(const struct tenant_alerts *alerts)
{
	resource_mask mask = 0;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		if (alerts->relative_rule[resource].pending ||
		    alerts->relative_rule[resource].firing)
			mask |= RESOURCE_BIT(resource);
	return mask;
}

/* The plan and cgroup as the alerts name them; NULL only for want of memory. */
static int alerts_label(struct tenant_alerts *alerts, const char *plan, const char *cgroup)
{
	return text_replace(&alerts->plan, plan) ?: text_replace(&alerts->cgroup, cgroup);
}

static int alerts_new(struct tenant_state *tenant, const char *plan, const char *cgroup)
{
	tenant->alerts = calloc(1, sizeof(*tenant->alerts));
	if (!tenant->alerts)
		return -ENOMEM;
	/* Without its labels an alert still goes out, with empty ones. */
	alerts_label(tenant->alerts, plan, cgroup);
	return 0;
}

/* Samples */

static size_t sample_size(const struct tenant_state *tenant)
{
	return 1 + 2 * resource_count(tenant->tracked);
}

static double *sample_at(const struct tenant_state *tenant, unsigned int position)
{
	unsigned int slot = tenant->samples_head + position;

	if (slot >= tenant->samples_capacity)
		slot -= tenant->samples_capacity;
	return &tenant->samples[slot * sample_size(tenant)];
}

static double *newest_sample(const struct tenant_state *tenant)
{
	return tenant->samples_count ? sample_at(tenant, tenant->samples_count - 1) : NULL;
}

/* The running sums now, into @sample. */
static void write_sample(const struct tenant_state *tenant, double *sample, double now)
{
	unsigned int i, count = resource_count(tenant->tracked);

	sample[0] = now;
	for (i = 0; i < count; i++) {
		sample[1 + 2 * i] = tenant->tracks[i].sum;
		sample[2 + 2 * i] = tenant->tracks[i].covered;
	}
}

/*
 * @count tracks and, after them, room for @capacity samples of as many
 * tracks (@samples; NULL for none): one allocation, freed through the
 * tracks. One malloc chunk a tenant fewer, its header and rounding some
 * 160 KB at 10,000 tenants. The tracks are zero, the samples unset.
 */
static struct track *alloc_windows(unsigned int count, unsigned int capacity, double **samples)
{
	size_t track_bytes = count * sizeof(struct track);
	struct track *tracks;

	/* The samples follow the tracks: doubles after doubles, aligned. */
	_Static_assert(sizeof(struct track) % sizeof(double) == 0, "samples stay aligned");
	tracks = malloc(track_bytes + (size_t)capacity * (1 + 2 * count) * sizeof(double));
	if (!tracks)
		return NULL;
	memset(tracks, 0, track_bytes);
	*samples = capacity ? (double *)(tracks + count) : NULL;
	return tracks;
}

/* Room for @capacity samples (at least the ones there are), oldest first. */
static int resize_samples(struct tenant_state *tenant, unsigned int capacity)
{
	unsigned int i, count = resource_count(tenant->tracked);
	size_t size = sample_size(tenant) * sizeof(double);
	struct track *tracks;
	double *samples;

	tracks = alloc_windows(count, capacity, &samples);
	if (!tracks)
		return -ENOMEM;
	if (count)
		memcpy(tracks, tenant->tracks, count * sizeof(*tracks));
	for (i = 0; i < tenant->samples_count; i++)
		memcpy((char *)samples + i * size, sample_at(tenant, i), size);
	free(tenant->tracks);
	tenant->tracks = tracks;
	tenant->samples = samples;
	tenant->samples_capacity = capacity;
	tenant->samples_head = 0;
	return 0;
}

static void drop_oldest_sample(struct tenant_state *tenant)
{
	tenant->samples_head++;
	if (tenant->samples_head == tenant->samples_capacity)
		tenant->samples_head = 0;
	tenant->samples_count--;
}

/*
 * Makes room by removing the inner sample whose neighbours are closest:
 * the window still finds a start at or before it, and the samples stay
 * about evenly spread over the window, wherever it will start.
 */
static void thin_samples(struct tenant_state *tenant)
{
	unsigned int count = tenant->samples_count, victim = 1, i;
	size_t size = sample_size(tenant) * sizeof(double);
	double narrowest = INFINITY;

	for (i = 1; i + 1 < count; i++) {
		double span = sample_at(tenant, i + 1)[0] - sample_at(tenant, i - 1)[0];

		if (span < narrowest) {
			narrowest = span;
			victim = i;
		}
	}
	for (i = victim; i + 1 < count; i++)
		memcpy(sample_at(tenant, i), sample_at(tenant, i + 1), size);
	tenant->samples_count--;
	/* The newest now follows an older sample, maybe across a change. */
	if (victim + 2 == count)
		tenant->newest_steady = false;
}

/*
 * The newest sample holds the running sums at @now. After a steady tick
 * it continues the line it already ended, so it moves forward; otherwise a
 * new sample comes, room made by thinning when there are MAX_SAMPLES.
 */
static void record_sample(struct tenant_state *tenant, double now, bool steady)
{
	double *newest = newest_sample(tenant);
	unsigned int capacity = tenant->samples_capacity;

	/* A second tick at the same time only updates it. */
	if (newest && (newest[0] >= now || (steady && tenant->newest_steady))) {
		if (newest[0] <= now)
			write_sample(tenant, newest, now);
		tenant->newest_steady = tenant->newest_steady && steady;
		return;
	}
	if (tenant->samples_count == capacity &&
	    (capacity >= MAX_SAMPLES ||
	     resize_samples(tenant, capacity ? 2 * capacity : MIN_SAMPLES))) {
		/* Out of memory with too few to thin: the newest moves, it is all there is. */
		if (tenant->samples_count < 3) {
			if (newest)
				write_sample(tenant, newest, now);
			tenant->newest_steady = false;
			return;
		}
		thin_samples(tenant);
	}
	write_sample(tenant, sample_at(tenant, tenant->samples_count++), now);
	tenant->newest_steady = steady;
}

/* Its cgroups are gone, and its counters with them: a return starts afresh. */
static void forget_windows(struct tenant_state *tenant)
{
	tenant->has_last = 0;
	tenant->samples_count = 0;
	tenant->samples_head = 0;
	tenant->newest_steady = false;
	tenant->quiet = false;
}

/*
 * Windows for the resources of @want: those kept keep their sums and
 * samples, a new one starts from nothing (its sums 0 in the older samples,
 * so spans before it cover no time: its window is the history it has).
 */
static int retrack(struct tenant_state *tenant, resource_mask want)
{
	unsigned int count = resource_count(want), capacity = tenant->samples_count;
	unsigned int old_index = 0, index = 0, i;
	size_t size = 1 + 2 * count;
	struct track *tracks = NULL;
	double *samples = NULL;
	resource_mask bits;

	if (capacity && capacity < MIN_SAMPLES)
		capacity = MIN_SAMPLES;
	if (count) {
		tracks = alloc_windows(count, capacity, &samples);
		if (!tracks)
			return -ENOMEM;
	}
	for (i = 0; count && i < tenant->samples_count; i++)
		samples[i * size] = sample_at(tenant, i)[0];
	for (bits = tenant->tracked | want; bits; bits &= bits - 1) {
		resource_mask bit = bits & -bits;

		if (want & bit) {
			if (tenant->tracked & bit)
				tracks[index] = tenant->tracks[old_index];
			for (i = 0; i < tenant->samples_count; i++) {
				const double *old = sample_at(tenant, i);
				double *sample = &samples[i * size];
				bool kept = tenant->tracked & bit;

				sample[1 + 2 * index] = kept ? old[1 + 2 * old_index] : 0;
				sample[2 + 2 * index] = kept ? old[2 + 2 * old_index] : 0;
			}
			index++;
		}
		if (tenant->tracked & bit)
			old_index++;
	}
	free(tenant->tracks); /* and the samples */
	/* A track kept keeps its last value; a new one has none. */
	tenant->has_last &= tenant->tracked & want;
	tenant->tracks = tracks;
	tenant->samples = samples;
	tenant->tracked = want;
	tenant->samples_head = 0;
	tenant->samples_capacity = samples ? capacity : 0;
	if (!samples)
		tenant->samples_count = 0;
	tenant->newest_steady = false;
	return 0;
}

/*
 * Windows follow what is compared: @needed now. A resource no longer
 * compared keeps its window one window more, so that a reload that takes a
 * limit away and gives it back loses nothing; one newly compared starts
 * its window now.
 */
static int update_tracks(struct tenant_state *tenant, double now, double window_s,
			 resource_mask needed)
{
	resource_mask want = needed, bits;

	for (bits = tenant->tracked & ~needed; bits; bits &= bits - 1) {
		resource_mask bit = bits & -bits;
		struct track *track = &tenant->tracks[resource_count(tenant->tracked & (bit - 1))];

		if (tenant->needed & bit)
			track->unneeded_since = now;
		if (now - track->unneeded_since <= window_s)
			want |= bit;
	}
	tenant->needed = needed;
	return want == tenant->tracked ? 0 : retrack(tenant, want);
}

/*
 * Adds this tick's measured values to the running sums. Steady: every
 * tracked value measured now and at the newest sample, and unchanged, so
 * that the sums went on as straight lines (counters flat, gauges at their
 * value).
 */
static bool accumulate(struct tenant_state *tenant, resource_mask gauges, double now,
		       const struct tenant_row *row)
{
	const double *newest = newest_sample(tenant);
	bool steady = newest != NULL;
	resource_mask bits;
	unsigned int i;

	for (bits = tenant->tracked, i = 0; bits; bits &= bits - 1, i++) {
		int resource = first_resource(bits);
		struct track *track = &tenant->tracks[i];
		double value = row->value[resource], elapsed;

		if (!row->has_value[resource]) {
			steady = false;
			continue;
		}
		if (tenant->has_last & RESOURCE_BIT(resource)) {
			elapsed = fmax(0, now - track->last_time);
			if (gauges & RESOURCE_BIT(resource)) {
				track->sum += (track->last_value + value) / 2 * elapsed;
			} else if (value > track->last_value) {
				/*
				 * A counter that went down lost the cgroups that
				 * counted; their count is not a negative usage.
				 */
				track->sum += value - track->last_value;
			}
			track->covered += elapsed;
			if (value != track->last_value || track->last_time != newest[0])
				steady = false;
		} else {
			steady = false;
		}
		tenant->has_last |= RESOURCE_BIT(resource);
		track->last_value = value;
		track->last_time = now;
	}
	return steady;
}

/*
 * Forgets what lies before the window, except the sample at or just before
 * its start, then puts usage into @row: between the sums at the newest
 * sample and at the start (between the two samples around it, linearly).
 */
static void compute_usage(struct tenant_state *tenant, double now, double window_s,
			  struct tenant_row *row)
{
	double start = now - window_s, fraction = 0;
	const double *before, *after, *newest;
	resource_mask bits;
	unsigned int i;

	while (tenant->samples_count >= 2 && sample_at(tenant, 1)[0] <= start)
		drop_oldest_sample(tenant);
	if (tenant->samples_count < 2)
		return;
	before = sample_at(tenant, 0);
	after = sample_at(tenant, 1);
	newest = newest_sample(tenant);
	if (before[0] < start && after[0] > before[0])
		fraction = (start - before[0]) / (after[0] - before[0]);
	for (bits = tenant->tracked, i = 0; bits; bits &= bits - 1, i++) {
		int resource = first_resource(bits);
		double start_sum =
		    before[1 + 2 * i] + (after[1 + 2 * i] - before[1 + 2 * i]) * fraction;
		double start_covered =
		    before[2 + 2 * i] + (after[2 + 2 * i] - before[2 + 2 * i]) * fraction;
		double covered = newest[2 + 2 * i] - start_covered;

		/* Missing this tick: the last usage would be stale, say nothing. */
		if (!row->has_value[resource] || covered <= 0)
			continue;
		row->has_usage[resource] = true;
		row->usage[resource] = (newest[1 + 2 * i] - start_sum) / covered;
	}
}

/*
 * Quiet from now on when the window holds nothing but the steady line: two
 * samples, the older at or before the window's start. Whatever lingers
 * must go first, which takes the window.
 */
static void maybe_quiet(struct tenant_state *tenant, double now, double window_s)
{
	if (!tenant->newest_steady || tenant->samples_count != 2 ||
	    sample_at(tenant, 0)[0] > now - window_s || tenant->needed != tenant->tracked)
		return;
	tenant->quiet = true;
	tenant->steady_since = sample_at(tenant, 0)[0];
	/* Two is all it needs until it wakes; keep the memory if realloc fails. */
	if (tenant->samples_capacity > 2)
		resize_samples(tenant, 2);
}

/*
 * A quiet tenant whose values are still the same, with the same resources
 * and a window that still starts on the line: its usage is no rate and
 * each gauge's value, known without its window. False when it must wake.
 */
static bool quiet_usage(const struct tenant_state *tenant, resource_mask gauges, double now,
			const struct plan_memo *memo, struct tenant_row *row)
{
	resource_mask bits;
	unsigned int i;

	if (memo->needed != tenant->tracked || tenant->steady_since > now - memo->window_s)
		return false;
	for (bits = tenant->tracked, i = 0; bits; bits &= bits - 1, i++) {
		int resource = first_resource(bits);

		if (!row->has_value[resource] ||
		    row->value[resource] != tenant->tracks[i].last_value)
			return false;
	}
	for (bits = tenant->tracked, i = 0; bits; bits &= bits - 1, i++) {
		int resource = first_resource(bits);

		row->has_usage[resource] = true;
		row->usage[resource] =
		    gauges & RESOURCE_BIT(resource) ? tenant->tracks[i].last_value : 0;
	}
	return true;
}

/*
 * Catches the sums up with the quiet ticks, the last at @until: each one
 * was steady, so each gauge added its value for the time, and the newest
 * sample moves along its line to @until.
 */
static void wake(struct tenant_state *tenant, resource_mask gauges, double until)
{
	resource_mask bits;
	unsigned int i;

	for (bits = tenant->tracked, i = 0; bits; bits &= bits - 1, i++) {
		struct track *track = &tenant->tracks[i];
		double elapsed = fmax(0, until - track->last_time);

		if (gauges & bits & -bits)
			track->sum += track->last_value * elapsed;
		track->covered += elapsed;
		track->last_time = until;
	}
	if (tenant->samples_count)
		write_sample(tenant, newest_sample(tenant), until);
	tenant->quiet = false;
}

/* The windowed usage of @row's tracked resources, into @row. */
static void update_windows(struct evaluator *evaluator, struct tenant_state *tenant, double now,
			   const struct plan_memo *memo, struct tenant_row *row)
{
	bool steady;

	if (row->gone) {
		forget_windows(tenant);
		return;
	}
	if (tenant->quiet) {
		if (quiet_usage(tenant, evaluator->gauges, now, memo, row))
			return;
		/* It was in every tick since it went quiet, each one steady, the last just before. */
		wake(tenant, evaluator->gauges, evaluator->last_now);
	}
	if (update_tracks(tenant, now, memo->window_s, memo->needed))
		/* Without the new windows the ones there are go on. */
		pr_err("evaluate: no memory for the windows of tenant %s", tenant->name);
	steady = accumulate(tenant, evaluator->gauges, now, row);
	record_sample(tenant, now, steady);
	compute_usage(tenant, now, memo->window_s, row);
	maybe_quiet(tenant, now, memo->window_s);
}

/* The state machine */

static enum alert_rule_change alert_rule_resolve(struct alert_rule_state *state)
{
	state->pending = false;
	if (!state->firing)
		return ALERT_RULE_UNCHANGED;
	state->firing = false;
	return ALERT_RULE_RESOLVED;
}

static enum alert_rule_change alert_rule_step(struct alert_rule_state *state, double now,
					      bool has_usage, double usage,
					      const struct alert_rule_params *params)
{
	if (!params->has_limit)
		return alert_rule_resolve(state);
	state->limit = params->reported_limit;
	state->window_s = params->window_s;
	/* No data is no evidence either way. */
	if (!has_usage)
		return ALERT_RULE_UNCHANGED;
	state->value = usage;
	if (state->firing) {
		/* Nothing used is under any limit, also a limit of 0 (hugepages: 0). */
		if (usage < params->limit * params->hysteresis || usage <= 0)
			return alert_rule_resolve(state);
		return ALERT_RULE_UNCHANGED;
	}
	if (usage <= params->limit) {
		state->pending = false;
		return ALERT_RULE_UNCHANGED;
	}
	if (!state->pending) {
		state->pending = true;
		state->pending_since = now;
	}
	if (now - state->pending_since + FOR_SLACK_S < params->for_s)
		return ALERT_RULE_UNCHANGED;
	state->pending = false;
	state->firing = true;
	state->firing_since = now;
	return ALERT_RULE_FIRED;
}

/* Room for @more transitions: grown as they come, so that none is lost once made. */
static int reserve_transitions(struct evaluator *evaluator, size_t more)
{
	size_t needed = evaluator->transition_count + more, capacity;
	struct eval_transition *transitions;

	if (needed <= evaluator->transitions_capacity)
		return 0;
	capacity =
	    evaluator->transitions_capacity ? evaluator->transitions_capacity : MIN_TRANSITIONS;
	while (capacity < needed)
		capacity *= 2;
	transitions = realloc(evaluator->transitions, capacity * sizeof(*transitions));
	if (!transitions)
		return -ENOMEM;
	evaluator->transitions = transitions;
	evaluator->transitions_capacity = capacity;
	return 0;
}

/* Room reserved: the tenant has alerts, since the rule fires or was firing. */
static void add_transition(struct evaluator *evaluator, const struct tenant_state *tenant,
			   enum resource resource, const char *rule,
			   const struct alert_rule_state *state)
{
	struct eval_transition *transition = &evaluator->transitions[evaluator->transition_count++];

	transition->tenant = tenant->name;
	/* NULL only when a copy failed for want of memory. */
	transition->plan = tenant->alerts->plan ? tenant->alerts->plan : "";
	transition->cgroup = tenant->alerts->cgroup ? tenant->alerts->cgroup : "";
	transition->resource = resource;
	transition->rule = rule;
	transition->firing = state->firing;
	transition->value = state->value;
	transition->limit = state->limit;
	transition->window_s = state->window_s;
	transition->since = state->firing_since;
}

/*
 * One step of one rule of @row's tenant. A rule at rest has no state: it
 * steps on zeros, and gets a place only when it comes out pending or
 * firing. Without memory for that, or for the transition, nothing
 * changes: memory is no evidence.
 */
static void step_rule(struct evaluator *evaluator, struct tenant_state *tenant,
		      const struct tenant_row *row, enum resource resource, bool relative,
		      double now, const struct alert_rule_params *params)
{
	struct alert_rule_state scratch = {0}, *state = &scratch;
	enum alert_rule_change change;

	if (tenant->alerts)
		state = relative ? &tenant->alerts->relative_rule[resource]
				 : &tenant->alerts->plan_rule[resource];
	if (reserve_transitions(evaluator, 1)) {
		pr_err("evaluate: no memory for the alerts of tenant %s", tenant->name);
		return;
	}
	change =
	    alert_rule_step(state, now, row->has_usage[resource], row->usage[resource], params);
	if (state == &scratch) {
		if (!scratch.pending && !scratch.firing)
			return;
		if (alerts_new(tenant, row->plan, row->cgroup)) {
			pr_err("evaluate: no memory for the alerts of tenant %s", tenant->name);
			return;
		}
		state = relative ? &tenant->alerts->relative_rule[resource]
				 : &tenant->alerts->plan_rule[resource];
		*state = scratch;
	}
	if (change != ALERT_RULE_UNCHANGED)
		add_transition(evaluator, tenant, resource, relative ? RULE_RELATIVE : RULE_PLAN,
			       state);
}

/* What @limits asks for, worked out once for the rows that share it this tick. */
static const struct plan_memo *plan_memo(struct evaluator *evaluator, const struct plan *limits)
{
	struct plan_memo *memo = &evaluator->memo;
	int resource;

	if (memo->tick == evaluator->tick_number && memo->limits == limits)
		return memo;
	memo->tick = evaluator->tick_number;
	memo->limits = limits;
	memo->limited = 0;
	for (resource = 0; limits && resource < RESOURCE_COUNT; resource++)
		if (limits->has_limit[resource])
			memo->limited |= RESOURCE_BIT(resource);
	memo->needed = memo->limited | evaluator->relative_floors;
	memo->window_s = plan_window_s(limits);
	return memo;
}

static void evaluate_tenant(struct evaluator *evaluator, struct tenant_state *tenant, double now,
			    struct tenant_row *row)
{
	const struct plan *limits = row->limits;
	const struct plan_memo *memo = plan_memo(evaluator, limits);
	struct alert_rule_params params;
	resource_mask steps, bits;
	int resource;

	/* What resolved last tick has been handed out. */
	if (tenant->alerts && !alerts_live(tenant->alerts)) {
		alerts_free(tenant->alerts);
		tenant->alerts = NULL;
	}
	if (tenant->alerts && alerts_label(tenant->alerts, row->plan, row->cgroup))
		pr_err("evaluate: no memory for the alerts of tenant %s", tenant->name);
	update_windows(evaluator, tenant, now, memo, row);

	/* A rule at rest over a resource at or under its limit stays at rest. */
	steps = 0;
	for (bits = row->gone ? 0 : memo->limited; bits; bits &= bits - 1) {
		resource = first_resource(bits);
		if (row->has_usage[resource] && row->usage[resource] > limits->limit[resource])
			steps |= RESOURCE_BIT(resource);
	}
	if (tenant->alerts) {
		for (resource = 0; resource < RESOURCE_COUNT; resource++) {
			const struct alert_rule_state *state = &tenant->alerts->plan_rule[resource];

			if (state->pending || state->firing)
				steps |= RESOURCE_BIT(resource);
		}
		evaluator->relative_live |= relative_live_mask(tenant->alerts);
	}

	params.window_s = memo->window_s;
	params.for_s = limits ? limits->for_ms / 1000.0 : 0;
	params.hysteresis = limits ? limits->hysteresis : 1;
	for (; steps; steps &= steps - 1) {
		resource = first_resource(steps);
		params.has_limit = limits && limits->has_limit[resource] && !row->gone;
		params.limit = limits ? limits->limit[resource] : 0;
		params.reported_limit = params.limit;
		step_rule(evaluator, tenant, row, resource, false, now, &params);
	}
	if (!tenant->alerts)
		return;
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		row->firing[resource] = tenant->alerts->plan_rule[resource].firing;
		/* As it stands, should the relative pass be skipped this tick. */
		row->relative_firing[resource] = tenant->alerts->relative_rule[resource].firing;
	}
}

/* The relative rule */

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The first index of @value in @sorted (of @count), which holds it. */
static size_t sorted_index(const double *sorted, size_t count, double value)
{
	size_t low = 0, high = count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (sorted[middle] < value)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/*
 * The median of @sorted (of @count) without its element at @skip (@count:
 * none): the others stay in order, so it is read off by index. False when
 * nothing is left.
 */
static bool median_without(const double *sorted, size_t count, size_t skip, double *median)
{
	size_t others = skip < count ? count - 1 : count, middle;
	double upper;

	if (!others)
		return false;
	middle = others / 2;
	upper = sorted[middle < skip ? middle : middle + 1];
	if (others % 2) {
		*median = upper;
	} else {
		middle--;
		*median = (sorted[middle < skip ? middle : middle + 1] + upper) / 2;
	}
	return true;
}

/* The relative rule's for, hysteresis and window: the plan's, else the contract's. */
static void relative_params(const struct plan *limits, struct alert_rule_params *params)
{
	params->window_s = plan_window_s(limits);
	/* A tenant whose plan is undefined gets the contract's defaults (config.h). */
	params->for_s = (limits ? limits->for_ms : PLAN_DEFAULT_FOR_MS) / 1000.0;
	params->hysteresis = limits ? limits->hysteresis : PLAN_DEFAULT_HYSTERESIS;
}

/*
 * Room to remember each row's tenant, the last tick's order and to sort
 * the usages. Grown only: the number of tenants is about the same from
 * tick to tick.
 */
static int reserve_rows(struct evaluator *evaluator, size_t row_count)
{
	struct tenant_state **tenants;
	double *active_usage;

	if (row_count <= evaluator->scratch_capacity)
		return 0;
	tenants = realloc(evaluator->row_tenants, row_count * sizeof(*tenants));
	if (!tenants)
		return -ENOMEM;
	evaluator->row_tenants = tenants;
	tenants = realloc(evaluator->order, row_count * sizeof(*tenants));
	if (!tenants)
		return -ENOMEM;
	evaluator->order = tenants;
	active_usage = realloc(evaluator->active_usage, row_count * sizeof(*active_usage));
	if (!active_usage)
		return -ENOMEM;
	evaluator->active_usage = active_usage;
	evaluator->scratch_capacity = row_count;
	return 0;
}

/* A row skipped this tick keeps its outputs: one that changes is marked so. */
static void set_relative_firing(struct tenant_row *row, enum resource resource, bool firing)
{
	if (row->relative_firing[resource] == firing)
		return;
	row->relative_firing[resource] = firing;
	row->unchanged = false;
}

/*
 * One resource of the relative rule over every row evaluated this tick.
 * Sorting the active usages once makes each tenant's median of the others
 * an index away, so a tick stays O(n log n) with thousands of tenants.
 * Without a floor on it, only what is pending or firing has a step to
 * take: it resolves.
 */
static void evaluate_relative_resource(struct evaluator *evaluator, double now,
				       struct tenant_row *rows, size_t count,
				       enum resource resource)
{
	const struct relative_config *relative = &evaluator->relative;
	bool enabled = evaluator->relative_floors & RESOURCE_BIT(resource);
	double *sorted = evaluator->active_usage, usage_floor = relative->floor[resource];
	/* A tenant this idle makes nobody look excessive. (factor > 0: checked when set.) */
	double active_from = enabled ? usage_floor / relative->factor : 0;
	size_t active = 0, i;

	if (!enabled && !(evaluator->relative_live & RESOURCE_BIT(resource)))
		return;
	for (i = 0; enabled && i < count; i++) {
		const struct tenant_row *row = &rows[i];

		if (evaluator->row_tenants[i] && !row->gone && row->has_usage[resource] &&
		    row->usage[resource] >= active_from)
			sorted[active++] = row->usage[resource];
	}
	if (active > 1)
		qsort(sorted, active, sizeof(*sorted), compare_doubles);

	for (i = 0; i < count; i++) {
		struct tenant_state *tenant = evaluator->row_tenants[i];
		struct tenant_row *row = &rows[i];
		double usage = row->usage[resource], median = 0;
		struct alert_rule_params params = {0};
		const struct alert_rule_state *state;
		size_t skip;

		if (!tenant)
			continue;
		state = tenant->alerts ? &tenant->alerts->relative_rule[resource] : NULL;
		/* At rest, and no limit could be under its usage (none is under the floor). */
		if (!state && (!enabled || row->gone || !row->has_usage[resource] ||
			       !(usage > usage_floor)))
			continue;
		if (enabled && !row->gone && !row->has_usage[resource]) {
			/*
			 * No evidence, not even that too few are active: just
			 * after a restart nobody has a usage yet.
			 */
			continue;
		}
		relative_params(row->limits, &params);
		if (enabled && !row->gone && active >= relative->min_tenants) {
			/* Its own usage, when active, is not one of the others. */
			skip = usage >= active_from ? sorted_index(sorted, active, usage) : active;
			params.has_limit = median_without(sorted, active, skip, &median);
		}
		if (params.has_limit) {
			/*
			 * The others are all at least floor / factor, so the floor
			 * binds only by rounding; the alert shows the contract's
			 * factor x median all the same.
			 */
			params.reported_limit = relative->factor * median;
			params.limit = fmax(usage_floor, params.reported_limit);
		}
		/* At rest and at or under the limit: it stays at rest. */
		if (state || (params.has_limit && row->has_usage[resource] && usage > params.limit))
			step_rule(evaluator, tenant, row, resource, true, now, &params);
		set_relative_firing(row, resource,
				    tenant->alerts && tenant->alerts->relative_rule[resource].firing);
	}
}

static void evaluate_relative(struct evaluator *evaluator, double now, struct tenant_row *rows,
			      size_t count)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		evaluate_relative_resource(evaluator, now, rows, count, resource);
}

void evaluator_set_relative(struct evaluator *evaluator, const struct relative_config *relative)
{
	int resource;

	evaluator->has_relative = false;
	evaluator->relative_floors = 0;
	evaluator->may_skip = false;
	if (!relative)
		return;
	/* The configuration makes it at least 1; 0 would make everyone abusive. */
	if (!(relative->factor > 0)) {
		pr_warn("evaluate: relative factor %g is not positive, no relative rule",
			relative->factor);
		return;
	}
	evaluator->relative = *relative;
	evaluator->has_relative = true;
	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		if (relative->has_floor[resource])
			evaluator->relative_floors |= RESOURCE_BIT(resource);
}

/*
 * Takes the tenants not seen this tick out of the table, resolving what
 * fires, and returns them as a list to free once the transitions are out.
 * Loaded tenants get until their deadline to show up; one whose resolved
 * alerts find no memory stays until they do.
 */
static struct tenant_state *drop_unseen(struct evaluator *evaluator, double now)
{
	struct tenant_state *dropped = NULL, *tenant;
	struct hashtable_node *node, *next;
	int resource;

	hashtable_for_each_safe(&evaluator->tenants, node, next) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		if (tenant->seen_tick == evaluator->tick_number ||
		    (tenant->loaded && now < tenant->loaded_deadline))
			continue;
		if (tenant->alerts && reserve_transitions(evaluator, 2 * RESOURCE_COUNT)) {
			pr_err("evaluate: no memory to resolve the alerts of tenant %s",
			       tenant->name);
			continue;
		}
		for (resource = 0; tenant->alerts && resource < RESOURCE_COUNT; resource++) {
			struct alert_rule_state *state = &tenant->alerts->plan_rule[resource];

			if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
				add_transition(evaluator, tenant, resource, RULE_PLAN, state);
			state = &tenant->alerts->relative_rule[resource];
			if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
				add_transition(evaluator, tenant, resource, RULE_RELATIVE, state);
		}
		hashtable_remove(&evaluator->tenants, node);
		tenant->next_dropped = dropped;
		dropped = tenant;
	}
	return dropped;
}

static void clear_outputs(struct tenant_row *row)
{
	memset(row->has_usage, 0, sizeof(row->has_usage));
	memset(row->usage, 0, sizeof(row->usage));
	memset(row->firing, 0, sizeof(row->firing));
	memset(row->relative_firing, 0, sizeof(row->relative_firing));
}

/* The overuse record of @transition, with its reason, to @fn. */
static void raise_overuse(const struct evaluator *evaluator,
			  const struct eval_transition *transition, alert_fn fn, void *ctx)
{
	const char *resource = resource_name(transition->resource);
	char reason[160];
	struct alert alert = {
		.kind = ALERT_OVERUSE,
		.firing = transition->firing,
		.since = transition->since,
		.tenant = transition->tenant,
		.plan = transition->plan,
		.cgroup = transition->cgroup,
		.resource = resource,
		.value = transition->value,
		.limit = transition->limit,
		.window_s = transition->window_s,
		.rule = transition->rule,
		.reason = reason,
	};

	if (transition->firing && !strcmp(transition->rule, RULE_RELATIVE))
		snprintf(reason, sizeof(reason),
			 "%s averaged over %.0f s is more than %.6g times the median of the other "
			 "active tenants, and above the floor",
			 resource, transition->window_s, evaluator->relative.factor);
	else if (transition->firing)
		snprintf(reason, sizeof(reason), "%s averaged over %.0f s is above the plan's limit",
			 resource, transition->window_s);
	else
		snprintf(reason, sizeof(reason), "%s is back under the limit, or the tenant is gone",
			 resource);
	pr_info("overuse %s: tenant %s, %s %.6g (%s limit %.6g)",
		transition->firing ? "firing" : "resolved", transition->tenant, resource,
		transition->value, transition->rule, transition->limit);
	fn(&alert, ctx);
}

/*
 * The rows come in name order, and so did the last tick's: the tenant of a
 * row is most likely the next of the last tick's, found by one compare
 * instead of a hash. Names before it in that order are tenants gone (or
 * rows out of order, which the hash table still finds); NULL when the
 * walk has nothing for @name.
 */
static struct tenant_state *next_in_order(struct evaluator *evaluator, size_t *cursor,
					  const char *name)
{
	while (*cursor < evaluator->order_count) {
		struct tenant_state *tenant = evaluator->order[*cursor];
		int cmp = strcmp(tenant->name, name);

		if (cmp > 0)
			return NULL;
		(*cursor)++;
		if (!cmp)
			return tenant;
	}
	return NULL;
}

static struct tenant_state *row_tenant(struct evaluator *evaluator, size_t *cursor,
				       const struct tenant_row *row)
{
	struct tenant_state *tenant;
	uint64_t hash;

	/* The same serial as the next of the last tick's: the same tenant, by one compare. */
	if (row->serial && *cursor < evaluator->order_count &&
	    evaluator->order[*cursor]->row_serial == row->serial)
		return evaluator->order[(*cursor)++];
	tenant = next_in_order(evaluator, cursor, row->tenant);
	if (tenant)
		return tenant;
	hash = hash_string(&evaluator->key, row->tenant);
	tenant = tenant_find(evaluator, row->tenant, hash);
	return tenant ? tenant : tenant_add(evaluator, row->tenant, hash);
}

/*
 * Whether @tenant's evaluation of @row would leave everything as the last
 * tick left it: the row is unchanged, the tenant was in that tick, has no
 * rule pending or firing, and is quiet (its usage known without its
 * window) or gone with its windows forgotten. Such a row keeps its outputs.
 */
static bool skippable(const struct evaluator *evaluator, const struct tenant_state *tenant,
		      const struct tenant_row *row)
{
	return evaluator->may_skip && row->unchanged && tenant->row_serial == row->serial &&
	       tenant->seen_tick + 1 == evaluator->tick_number && !tenant->alerts &&
	       (row->gone ? !tenant->samples_count && !tenant->quiet : tenant->quiet);
}

/* This tick's tenants, in row order, for the next tick's walk. */
static void keep_order(struct evaluator *evaluator, size_t count)
{
	struct tenant_state **order = evaluator->row_tenants;
	size_t kept = 0, i;

	for (i = 0; i < count; i++)
		if (order[i])
			order[kept++] = order[i];
	evaluator->row_tenants = evaluator->order;
	evaluator->order = order;
	evaluator->order_count = kept;
}

void evaluator_tick(struct evaluator *evaluator, double now, struct tenant_row *rows,
		    size_t count, alert_fn fn, void *ctx)
{
	struct tenant_state *dropped, *tenant;
	size_t seen = 0, cursor = 0, i;
	bool by_row = true;

	evaluator->changed = false;
	evaluator->transition_count = 0;
	evaluator->relative_live = 0;
	/* Without it the relative alerts stand as they are: memory is no evidence. */
	if (reserve_rows(evaluator, count)) {
		pr_err("evaluate: out of memory, relative rule skipped at %.3f", now);
		by_row = false;
		evaluator->order_count = 0;
	}
	evaluator->tick_number++;

	for (i = 0; i < count; i++) {
		struct tenant_row *row = &rows[i];
		bool skip;

		if (by_row)
			evaluator->row_tenants[i] = NULL;
		tenant = row_tenant(evaluator, &cursor, row);
		if (!tenant) {
			clear_outputs(row);
			row->unchanged = false;
			pr_err("evaluate: no memory for tenant %s", row->tenant);
			continue;
		}
		if (tenant->seen_tick == evaluator->tick_number) {
			clear_outputs(row);
			row->unchanged = false;
			pr_debug("evaluate: tenant %s twice in one tick, the second ignored",
				 row->tenant);
			continue;
		}
		/* Most of thousands of tenants are idle: their rows stay as they are. */
		skip = skippable(evaluator, tenant, row);
		tenant->seen_tick = evaluator->tick_number;
		tenant->row_serial = row->serial;
		tenant->loaded = false;
		seen++;
		if (!skip) {
			clear_outputs(row);
			row->unchanged = false;
			evaluate_tenant(evaluator, tenant, now, row);
		}
		if (by_row)
			evaluator->row_tenants[i] = tenant;
	}
	/* Every usage is known now: the relative rule compares them. */
	if (by_row) {
		evaluate_relative(evaluator, now, rows, count);
		keep_order(evaluator, count);
	}
	/* Each tenant seen is in the table: any other is gone, or loaded. */
	dropped = seen < hashtable_count(&evaluator->tenants) ? drop_unseen(evaluator, now) : NULL;

	/* Resolved first: a consumer that counts firing alerts never sees too many. */
	for (i = 0; fn && i < evaluator->transition_count; i++)
		if (!evaluator->transitions[i].firing)
			raise_overuse(evaluator, &evaluator->transitions[i], fn, ctx);
	for (i = 0; fn && i < evaluator->transition_count; i++)
		if (evaluator->transitions[i].firing)
			raise_overuse(evaluator, &evaluator->transitions[i], fn, ctx);
	evaluator->changed = evaluator->transition_count > 0;
	evaluator->last_now = now;
	evaluator->may_skip = by_row;

	while (dropped) {
		tenant = dropped->next_dropped;
		tenant_free(dropped);
		dropped = tenant;
	}
}

struct evaluator *evaluator_new(void)
{
	struct evaluator *evaluator = calloc(1, sizeof(*evaluator));
	int resource;

	if (!evaluator)
		return NULL;
	hashtable_init(&evaluator->tenants, tenant_matches);
	hash_key_random(&evaluator->key);
	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		if (resource_is_gauge(resource))
			evaluator->gauges |= RESOURCE_BIT(resource);
	return evaluator;
}

void evaluator_free(struct evaluator *evaluator)
{
	if (!evaluator)
		return;
	hashtable_release(&evaluator->tenants, tenant_free_node);
	free(evaluator->transitions);
	free(evaluator->row_tenants);
	free(evaluator->order);
	free(evaluator->active_usage);
	free(evaluator);
}

bool evaluator_changed(const struct evaluator *evaluator)
{
	return evaluator->changed;
}


/* What survives a restart: firing alerts, handed out and taken back one by one. */

static int each_firing_of(const struct tenant_state *tenant, const char *rule,
			  const struct alert_rule_state *states, firing_alert_fn fn, void *ctx)
{
	struct firing_alert alert = {
		.tenant = tenant->name,
		/* NULL only when a copy failed for want of memory. */
		.plan = tenant->alerts->plan ? tenant->alerts->plan : "",
		.cgroup = tenant->alerts->cgroup ? tenant->alerts->cgroup : "",
		.rule = rule,
	};
	int resource, err;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		if (!states[resource].firing)
			continue;
		alert.resource = resource;
		alert.value = states[resource].value;
		alert.limit = states[resource].limit;
		alert.window_s = states[resource].window_s;
		alert.since = states[resource].firing_since;
		err = fn(&alert, ctx);
		if (err)
			return err;
	}
	return 0;
}

int evaluator_each_firing(const struct evaluator *evaluator, firing_alert_fn fn, void *ctx)
{
	struct tenant_state *tenant;
	struct hashtable_node *node, *next;
	int err;

	hashtable_for_each_safe(&evaluator->tenants, node, next) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		if (!tenant->alerts)
			continue;
		err = each_firing_of(tenant, RULE_PLAN, tenant->alerts->plan_rule, fn, ctx) ?:
		      each_firing_of(tenant, RULE_RELATIVE, tenant->alerts->relative_rule, fn, ctx);
		if (err)
			return err;
	}
	return 0;
}

int evaluator_restore_firing(struct evaluator *evaluator, const struct firing_alert *alert,
			     double deadline)
{
	struct alert_rule_state *state;
	struct tenant_state *tenant;
	uint64_t hash;

	if ((int)alert->resource < 0 || alert->resource >= RESOURCE_COUNT ||
	    (alert->rule && strcmp(alert->rule, RULE_PLAN) && strcmp(alert->rule, RULE_RELATIVE)))
		return -EINVAL;
	hash = hash_string(&evaluator->key, alert->tenant);
	tenant = tenant_find(evaluator, alert->tenant, hash);
	if (!tenant) {
		tenant = tenant_add(evaluator, alert->tenant, hash);
		if (!tenant)
			return -ENOMEM;
		tenant->loaded = true;
		tenant->loaded_deadline = deadline;
	}
	if (!tenant->alerts && alerts_new(tenant, alert->plan, alert->cgroup))
		return -ENOMEM;
	if (alerts_label(tenant->alerts, alert->plan, alert->cgroup))
		return -ENOMEM;
	/* No rule is the plan's, as saved before the relative rule existed. */
	if (alert->rule && !strcmp(alert->rule, RULE_RELATIVE))
		state = &tenant->alerts->relative_rule[alert->resource];
	else
		state = &tenant->alerts->plan_rule[alert->resource];
	if (state->firing)
		return 0;
	state->firing = true;
	state->pending = false;
	state->firing_since = alert->since;
	state->value = alert->value;
	state->limit = alert->limit;
	state->window_s = alert->window_s;
	evaluator->changed = true;
	return 1;
}
