// SPDX-License-Identifier: GPL-2.0
/*
 * Windows and the firing/resolved state machine.
 *
 * Every resource of a tenant is kept as a running sum that only grows: for
 * counters the sum of their increases, for gauges the time-integral of the
 * value (trapezoids between samples). Next to it runs the number of seconds
 * the sum covers, which leaves out the time a resource was not measured.
 * A sample records both at one tick, so the usage over any span between
 * two samples is (sum[end] - sum[start]) / (covered[end] - covered[start]):
 * a rate for counters, a time-weighted mean for gauges. Samples in between
 * add nothing to that, which is why thinning them (to bound memory) costs
 * only the precision of where the window starts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "evaluate.h"
#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "text.h"

/* 68 minutes of 1 s samples; longer windows thin their older samples. */
#define MAX_SAMPLES 4096
#define MIN_SAMPLES 8
/* Ticks come a little early or late: do not wait a whole extra tick for `for`. */
#define FOR_SLACK_S 1e-6
#define RULE_PLAN "plan"
#define RULE_RELATIVE "relative"

struct sample {
	double time;
	double sum[RESOURCE_COUNT];
	double covered[RESOURCE_COUNT];
};

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

struct tenant_state {
	struct hashtable_node node; /* in evaluator->tenants, by name */
	struct tenant_state *next_dropped;
	char *name;
	char *plan;
	char *cgroup;
	unsigned long seen_tick; /* evaluator tick number it was last in */
	/* Loaded from the state file and not seen in a tick since. */
	bool loaded;
	double loaded_deadline;

	bool has_last[RESOURCE_COUNT];
	double last_value[RESOURCE_COUNT];
	double last_time[RESOURCE_COUNT];
	double sum[RESOURCE_COUNT];
	double covered[RESOURCE_COUNT];

	struct sample *samples; /* ring, oldest at samples_head */
	size_t samples_head;
	size_t samples_count;
	size_t samples_capacity;

	struct alert_rule_state plan_rule[RESOURCE_COUNT];
	struct alert_rule_state relative_rule[RESOURCE_COUNT];
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

struct evaluator {
	struct hashtable tenants;
	/* Tenant names come from paths tenants choose: keep them from picking collisions. */
	struct hash_key key;
	unsigned long tick_number;
	bool changed;
	struct eval_transition *transitions;
	size_t transitions_capacity;

	bool has_relative;
	struct relative_config relative;
	/* Scratch for the relative pass, kept to spare an allocation a tick. */
	struct tenant_state **row_tenants; /* by row; NULL: skipped this tick */
	double *active_usage;		     /* sorted, one resource at a time */
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

static void tenant_free(struct tenant_state *tenant);

static void tenant_free_node(struct hashtable_node *node)
{
	tenant_free(hashtable_entry(node, struct tenant_state, node));
}

static void tenant_free(struct tenant_state *tenant)
{
	if (!tenant)
		return;
	free(tenant->name);
	free(tenant->plan);
	free(tenant->cgroup);
	free(tenant->samples);
	free(tenant);
}

static struct tenant_state *tenant_add(struct evaluator *evaluator, const char *name, uint64_t hash)
{
	struct tenant_state *tenant;

	tenant = calloc(1, sizeof(*tenant));
	if (!tenant)
		return NULL;
	tenant->name = strdup(name);
	if (!tenant->name) {
		free(tenant);
		errno = ENOMEM;
		return NULL;
	}
	if (hashtable_insert(&evaluator->tenants, &tenant->node, hash)) {
		tenant_free(tenant);
		errno = ENOMEM;
		return NULL;
	}
	return tenant;
}

/* Samples */

static struct sample *sample_at(const struct tenant_state *tenant, size_t position)
{
	return &tenant->samples[(tenant->samples_head + position) % tenant->samples_capacity];
}

static struct sample *newest_sample(const struct tenant_state *tenant)
{
	return tenant->samples_count ? sample_at(tenant, tenant->samples_count - 1) : NULL;
}

static void drop_oldest_sample(struct tenant_state *tenant)
{
	tenant->samples_head = (tenant->samples_head + 1) % tenant->samples_capacity;
	tenant->samples_count--;
}

static int grow_samples(struct tenant_state *tenant)
{
	size_t capacity = tenant->samples_capacity ? tenant->samples_capacity * 2 : MIN_SAMPLES;
	struct sample *samples;
	size_t i;

	if (capacity > MAX_SAMPLES)
		capacity = MAX_SAMPLES;
	samples = malloc(capacity * sizeof(*samples));
	if (!samples)
		return -ENOMEM;
	for (i = 0; i < tenant->samples_count; i++)
		samples[i] = *sample_at(tenant, i);
	free(tenant->samples);
	tenant->samples = samples;
	tenant->samples_capacity = capacity;
	tenant->samples_head = 0;
	return 0;
}

/*
 * Keeps every other sample, and the newest: the window still finds a start
 * at or before it, only less exactly placed.
 */
static void thin_samples(struct tenant_state *tenant)
{
	size_t count = tenant->samples_count, kept = 0, i;

	for (i = 0; i < count; i += 2)
		*sample_at(tenant, kept++) = *sample_at(tenant, i);
	if ((count - 1) % 2)
		*sample_at(tenant, kept++) = *sample_at(tenant, count - 1);
	tenant->samples_count = kept;
}

static void append_sample(struct tenant_state *tenant, double now)
{
	struct sample *sample;

	if (tenant->samples_count == tenant->samples_capacity &&
	    (tenant->samples_capacity >= MAX_SAMPLES || grow_samples(tenant))) {
		if (!tenant->samples_capacity)
			return;
		thin_samples(tenant);
	}
	sample = sample_at(tenant, tenant->samples_count++);
	sample->time = now;
	memcpy(sample->sum, tenant->sum, sizeof(sample->sum));
	memcpy(sample->covered, tenant->covered, sizeof(sample->covered));
}

static void clear_samples(struct tenant_state *tenant)
{
	memset(tenant->has_last, 0, sizeof(tenant->has_last));
	tenant->samples_count = 0;
	tenant->samples_head = 0;
}

/* Adds this tick's measured values to the running sums. */
static void accumulate(struct tenant_state *tenant, double now, const struct tenant_row *row)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		double value = row->value[resource], elapsed;

		if (!row->has_value[resource])
			continue;
		if (tenant->has_last[resource]) {
			elapsed = fmax(0, now - tenant->last_time[resource]);
			if (resource_is_gauge(resource)) {
				tenant->sum[resource] +=
				    (tenant->last_value[resource] + value) / 2 * elapsed;
			} else if (value > tenant->last_value[resource]) {
				/*
				 * A counter that went down lost the cgroups that
				 * counted; their count is not a negative usage.
				 */
				tenant->sum[resource] += value - tenant->last_value[resource];
			}
			tenant->covered[resource] += elapsed;
		}
		tenant->has_last[resource] = true;
		tenant->last_value[resource] = value;
		tenant->last_time[resource] = now;
	}
}

/*
 * Forgets what lies before the window, except the sample at or just before
 * its start, then puts the running sums at the start into @sum and @covered
 * (between the two samples around it, linearly).
 */
static bool window_start(struct tenant_state *tenant, double now, double window_s, double *sum,
			 double *covered)
{
	double start = now - window_s, fraction;
	const struct sample *before, *after;
	int resource;

	while (tenant->samples_count >= 2 && sample_at(tenant, 1)->time <= start)
		drop_oldest_sample(tenant);
	if (tenant->samples_count < 2)
		return false;
	before = sample_at(tenant, 0);
	after = sample_at(tenant, 1);
	fraction = 0;
	if (before->time < start && after->time > before->time)
		fraction = (start - before->time) / (after->time - before->time);
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		sum[resource] = before->sum[resource] +
				(after->sum[resource] - before->sum[resource]) * fraction;
		covered[resource] =
		    before->covered[resource] +
		    (after->covered[resource] - before->covered[resource]) * fraction;
	}
	return true;
}

static void compute_usage(struct tenant_state *tenant, double now, double window_s,
			  struct tenant_row *row)
{
	double start_sum[RESOURCE_COUNT], start_covered[RESOURCE_COUNT];
	const struct sample *newest;
	int resource;

	if (!window_start(tenant, now, window_s, start_sum, start_covered))
		return;
	newest = newest_sample(tenant);
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		double covered = newest->covered[resource] - start_covered[resource];

		/* Missing this tick: the last usage would be stale, say nothing. */
		if (!row->has_value[resource] || covered <= 0)
			continue;
		row->has_usage[resource] = true;
		row->usage[resource] = (newest->sum[resource] - start_sum[resource]) / covered;
	}
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
		if (usage < params->limit * params->hysteresis)
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

static void add_transition(struct evaluator *evaluator, size_t *count,
			   const struct tenant_state *tenant, enum resource resource,
			   const char *rule, const struct alert_rule_state *state)
{
	struct eval_transition *transition = &evaluator->transitions[(*count)++];

	transition->tenant = tenant->name;
	/* NULL only when a copy failed for want of memory. */
	transition->plan = tenant->plan ? tenant->plan : "";
	transition->cgroup = tenant->cgroup ? tenant->cgroup : "";
	transition->resource = resource;
	transition->rule = rule;
	transition->firing = state->firing;
	transition->value = state->value;
	transition->limit = state->limit;
	transition->window_s = state->window_s;
	transition->since = state->firing_since;
}

static void evaluate_tenant(struct evaluator *evaluator, struct tenant_state *tenant, double now,
			    struct tenant_row *row, size_t *transition_count)
{
	const struct plan *limits = row->limits;
	struct alert_rule_params params;
	const struct sample *newest;
	int resource;

	if (row->gone) {
		/* Its counters went with its cgroups: a return starts afresh. */
		clear_samples(tenant);
	} else {
		accumulate(tenant, now, row);
		newest = newest_sample(tenant);
		if (!newest || newest->time < now)
			append_sample(tenant, now);
		compute_usage(tenant, now, plan_window_s(limits), row);
	}

	params.window_s = plan_window_s(limits);
	params.for_s = limits ? limits->for_ms / 1000.0 : 0;
	params.hysteresis = limits ? limits->hysteresis : 1;
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		struct alert_rule_state *state = &tenant->plan_rule[resource];
		enum alert_rule_change change;

		params.has_limit = limits && limits->has_limit[resource] && !row->gone;
		params.limit = limits ? limits->limit[resource] : 0;
		params.reported_limit = params.limit;
		change = alert_rule_step(state, now, row->has_usage[resource],
					 row->usage[resource], &params);
		if (change != ALERT_RULE_UNCHANGED)
			add_transition(evaluator, transition_count, tenant, resource, RULE_PLAN,
				       state);
		row->firing[resource] = state->firing;
		/* As it stands, should the relative pass be skipped this tick. */
		row->relative_firing[resource] = tenant->relative_rule[resource].firing;
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
 * Room to remember each row's tenant and to sort the usages. Grown only:
 * the number of tenants is about the same from tick to tick.
 */
static int reserve_relative(struct evaluator *evaluator, size_t row_count)
{
	struct tenant_state **row_tenants;
	double *active_usage;

	if (row_count <= evaluator->scratch_capacity)
		return 0;
	row_tenants = realloc(evaluator->row_tenants, row_count * sizeof(*row_tenants));
	if (!row_tenants)
		return -ENOMEM;
	evaluator->row_tenants = row_tenants;
	active_usage = realloc(evaluator->active_usage, row_count * sizeof(*active_usage));
	if (!active_usage)
		return -ENOMEM;
	evaluator->active_usage = active_usage;
	evaluator->scratch_capacity = row_count;
	return 0;
}

/*
 * One resource of the relative rule over every row evaluated this tick.
 * Sorting the active usages once makes each tenant's median of the others
 * an index away, so a tick stays O(n log n) with thousands of tenants.
 */
static void evaluate_relative_resource(struct evaluator *evaluator, double now,
				       struct tenant_row *rows, size_t count,
				       enum resource resource, size_t *transition_count)
{
	const struct relative_config *relative = &evaluator->relative;
	bool enabled = evaluator->has_relative && relative->has_floor[resource];
	double *sorted = evaluator->active_usage, usage_floor = relative->floor[resource];
	/* A tenant this idle makes nobody look excessive. (factor > 0: checked when set.) */
	double active_from = enabled ? usage_floor / relative->factor : 0;
	size_t active = 0, i;

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
		struct alert_rule_state *state;
		size_t skip;

		if (!tenant)
			continue;
		state = &tenant->relative_rule[resource];
		if (enabled && !row->gone && !row->has_usage[resource]) {
			/*
			 * No evidence, not even that too few are active: just
			 * after a restart nobody has a usage yet.
			 */
			row->relative_firing[resource] = state->firing;
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
		if (alert_rule_step(state, now, row->has_usage[resource], usage, &params) !=
		    ALERT_RULE_UNCHANGED)
			add_transition(evaluator, transition_count, tenant, resource, RULE_RELATIVE,
				       state);
		row->relative_firing[resource] = state->firing;
	}
}

static void evaluate_relative(struct evaluator *evaluator, double now, struct tenant_row *rows,
			      size_t count, size_t *transition_count)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		evaluate_relative_resource(evaluator, now, rows, count, resource,
					   transition_count);
}

void evaluator_set_relative(struct evaluator *evaluator, const struct relative_config *relative)
{
	evaluator->has_relative = false;
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
}

/*
 * Room for every transition this tick can make, so that none is lost later:
 * each rule on each resource of each tenant, known or new.
 */
static int reserve_transitions(struct evaluator *evaluator, size_t row_count)
{
	size_t needed = (row_count + hashtable_count(&evaluator->tenants)) * RESOURCE_COUNT * 2;
	struct eval_transition *transitions;

	if (needed <= evaluator->transitions_capacity)
		return 0;
	transitions = realloc(evaluator->transitions, needed * sizeof(*transitions));
	if (!transitions)
		return -ENOMEM;
	evaluator->transitions = transitions;
	evaluator->transitions_capacity = needed;
	return 0;
}

/*
 * Takes the tenants not seen this tick out of the table, resolving what
 * fires, and returns them as a list to free once the transitions are out.
 * Loaded tenants get until their deadline to show up.
 */
static struct tenant_state *drop_unseen(struct evaluator *evaluator, double now,
					size_t *transition_count)
{
	struct tenant_state *dropped = NULL, *tenant;
	struct hashtable_node *node, *next;
	int resource;

	hashtable_for_each_safe(&evaluator->tenants, node, next) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		if (tenant->seen_tick == evaluator->tick_number ||
		    (tenant->loaded && now < tenant->loaded_deadline))
			continue;
		for (resource = 0; resource < RESOURCE_COUNT; resource++) {
			struct alert_rule_state *state = &tenant->plan_rule[resource];

			if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
				add_transition(evaluator, transition_count, tenant, resource,
					       RULE_PLAN, state);
			state = &tenant->relative_rule[resource];
			if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
				add_transition(evaluator, transition_count, tenant, resource,
					       RULE_RELATIVE, state);
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

void evaluator_tick(struct evaluator *evaluator, double now, struct tenant_row *rows,
		    size_t count, alert_fn fn, void *ctx)
{
	struct tenant_state *dropped, *tenant;
	size_t transition_count = 0, i;
	bool relative_pass = true;

	evaluator->changed = false;
	for (i = 0; i < count; i++)
		clear_outputs(&rows[i]);
	if (reserve_transitions(evaluator, count)) {
		pr_err("evaluate: out of memory, tick at %.3f skipped", now);
		return;
	}
	/* Without it the relative alerts stand as they are: memory is no evidence. */
	if (reserve_relative(evaluator, count)) {
		pr_err("evaluate: out of memory, relative rule skipped at %.3f", now);
		relative_pass = false;
	}
	evaluator->tick_number++;

	for (i = 0; i < count; i++) {
		struct tenant_row *row = &rows[i];
		uint64_t hash = hash_string(&evaluator->key, row->tenant);

		if (relative_pass)
			evaluator->row_tenants[i] = NULL;
		tenant = tenant_find(evaluator, row->tenant, hash);
		if (!tenant)
			tenant = tenant_add(evaluator, row->tenant, hash);
		if (!tenant) {
			pr_err("evaluate: no memory for tenant %s", row->tenant);
			continue;
		}
		if (tenant->seen_tick == evaluator->tick_number) {
			pr_debug("evaluate: tenant %s twice in one tick, the second ignored",
				 row->tenant);
			continue;
		}
		tenant->seen_tick = evaluator->tick_number;
		tenant->loaded = false;
		if (text_replace(&tenant->plan, row->plan) ||
		    text_replace(&tenant->cgroup, row->cgroup)) {
			pr_err("evaluate: no memory for tenant %s", row->tenant);
			continue;
		}
		evaluate_tenant(evaluator, tenant, now, row, &transition_count);
		if (relative_pass)
			evaluator->row_tenants[i] = tenant;
	}
	/* Every usage is known now: the relative rule compares them. */
	if (relative_pass)
		evaluate_relative(evaluator, now, rows, count, &transition_count);
	dropped = drop_unseen(evaluator, now, &transition_count);

	/* Resolved first: a consumer that counts firing alerts never sees too many. */
	for (i = 0; fn && i < transition_count; i++)
		if (!evaluator->transitions[i].firing)
			raise_overuse(evaluator, &evaluator->transitions[i], fn, ctx);
	for (i = 0; fn && i < transition_count; i++)
		if (evaluator->transitions[i].firing)
			raise_overuse(evaluator, &evaluator->transitions[i], fn, ctx);
	evaluator->changed = transition_count > 0;

	while (dropped) {
		tenant = dropped->next_dropped;
		tenant_free(dropped);
		dropped = tenant;
	}
}

struct evaluator *evaluator_new(void)
{
	struct evaluator *evaluator = calloc(1, sizeof(*evaluator));

	if (!evaluator)
		return NULL;
	hashtable_init(&evaluator->tenants, tenant_matches);
	hash_key_random(&evaluator->key);
	return evaluator;
}

void evaluator_free(struct evaluator *evaluator)
{
	if (!evaluator)
		return;
	hashtable_release(&evaluator->tenants, tenant_free_node);
	free(evaluator->transitions);
	free(evaluator->row_tenants);
	free(evaluator->active_usage);
	free(evaluator);
}

bool evaluator_changed(const struct evaluator *evaluator)
{
	return evaluator->changed;
}


/* What survives a restart: firing alerts, handed out and taken back one by one. */

static int each_firing_of(struct tenant_state *tenant, const char *rule,
			  const struct alert_rule_state *states, firing_alert_fn fn, void *ctx)
{
	struct firing_alert alert = {
		.tenant = tenant->name,
		/* NULL only when a copy failed for want of memory. */
		.plan = tenant->plan ? tenant->plan : "",
		.cgroup = tenant->cgroup ? tenant->cgroup : "",
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
		err = each_firing_of(tenant, RULE_PLAN, tenant->plan_rule, fn, ctx) ?:
		      each_firing_of(tenant, RULE_RELATIVE, tenant->relative_rule, fn, ctx);
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
	if (text_replace(&tenant->plan, alert->plan) ||
	    text_replace(&tenant->cgroup, alert->cgroup))
		return -ENOMEM;
	/* No rule is the plan's, as saved before the relative rule existed. */
	if (alert->rule && !strcmp(alert->rule, RULE_RELATIVE))
		state = &tenant->relative_rule[alert->resource];
	else
		state = &tenant->plan_rule[alert->resource];
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
