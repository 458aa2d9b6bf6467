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
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evaluate.h"
#include "files.h"
#include "idmap.h"
#include "log.h"

/* 68 minutes of 1 s samples; longer windows thin their older samples. */
#define MAX_SAMPLES 4096
#define MIN_SAMPLES 8
#define MIN_BUCKETS 64
/* Ticks come a little early or late: do not wait a whole extra tick for `for`. */
#define FOR_SLACK_S 1e-6
#define STATE_FORMAT_VERSION 1
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
	struct tenant_state *next; /* hash chain, then the list of dropped tenants */
	uint64_t hash;
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

struct evaluator {
	struct tenant_state **buckets;
	size_t bucket_count; /* a power of two */
	size_t tenant_count;
	unsigned long tick_number;
	bool changed;
	struct eval_transition *transitions;
	size_t transitions_capacity;

	bool has_relative;
	struct relative_config relative;
	/* Scratch for the relative pass, kept to spare an allocation a tick. */
	struct tenant_state **input_tenants; /* by input; NULL: skipped this tick */
	double *active_usage;		     /* sorted, one resource at a time */
	size_t scratch_capacity;
};

bool resource_is_gauge(enum resource resource)
{
	return resource == RESOURCE_MEMORY || resource == RESOURCE_PROCESSES ||
	       resource == RESOURCE_STORAGE;
}

/* Tenant table: names hashed into chained buckets. */

static struct tenant_state *tenant_find(const struct evaluator *evaluator, const char *name,
					uint64_t hash)
{
	struct tenant_state *tenant = evaluator->buckets[hash & (evaluator->bucket_count - 1)];

	for (; tenant; tenant = tenant->next)
		if (tenant->hash == hash && !strcmp(tenant->name, name))
			return tenant;
	return NULL;
}

static int tenant_table_grow(struct evaluator *evaluator)
{
	size_t new_count = evaluator->bucket_count * 2, i;
	struct tenant_state **buckets = calloc(new_count, sizeof(*buckets));

	if (!buckets)
		return -ENOMEM;
	for (i = 0; i < evaluator->bucket_count; i++) {
		struct tenant_state *tenant = evaluator->buckets[i], *next;

		for (; tenant; tenant = next) {
			size_t index = tenant->hash & (new_count - 1);

			next = tenant->next;
			tenant->next = buckets[index];
			buckets[index] = tenant;
		}
	}
	free(evaluator->buckets);
	evaluator->buckets = buckets;
	evaluator->bucket_count = new_count;
	return 0;
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

/* Replaces *@field by a copy of @text unless equal: most ticks change nothing. */
static int replace_string(char **field, const char *text)
{
	char *copy;

	if (!text)
		text = "";
	if (*field && !strcmp(*field, text))
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static struct tenant_state *tenant_add(struct evaluator *evaluator, const char *name, uint64_t hash)
{
	struct tenant_state *tenant;
	size_t index;

	if (evaluator->tenant_count >= evaluator->bucket_count)
		/* A full table only gets slower; keep going with longer chains. */
		(void)tenant_table_grow(evaluator);
	tenant = calloc(1, sizeof(*tenant));
	if (!tenant)
		return NULL;
	tenant->name = strdup(name);
	if (!tenant->name) {
		free(tenant);
		errno = ENOMEM;
		return NULL;
	}
	tenant->hash = hash;
	index = hash & (evaluator->bucket_count - 1);
	tenant->next = evaluator->buckets[index];
	evaluator->buckets[index] = tenant;
	evaluator->tenant_count++;
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
static void accumulate(struct tenant_state *tenant, double now, const struct eval_input *input)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		double value = input->value[resource], elapsed;

		if (!input->has_value[resource])
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
			  struct eval_input *input)
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
		if (!input->has_value[resource] || covered <= 0)
			continue;
		input->has_usage[resource] = true;
		input->usage[resource] = (newest->sum[resource] - start_sum[resource]) / covered;
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
			    struct eval_input *input, size_t *transition_count)
{
	const struct plan *limits = input->limits;
	struct alert_rule_params params;
	const struct sample *newest;
	int resource;

	if (input->gone) {
		/* Its counters went with its cgroups: a return starts afresh. */
		clear_samples(tenant);
	} else {
		accumulate(tenant, now, input);
		newest = newest_sample(tenant);
		if (!newest || newest->time < now)
			append_sample(tenant, now);
		compute_usage(tenant, now, plan_window_s(limits), input);
	}

	params.window_s = plan_window_s(limits);
	params.for_s = limits ? limits->for_ms / 1000.0 : 0;
	params.hysteresis = limits ? limits->hysteresis : 1;
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		struct alert_rule_state *state = &tenant->plan_rule[resource];
		enum alert_rule_change change;

		params.has_limit = limits && limits->has_limit[resource] && !input->gone;
		params.limit = limits ? limits->limit[resource] : 0;
		params.reported_limit = params.limit;
		change = alert_rule_step(state, now, input->has_usage[resource],
					 input->usage[resource], &params);
		if (change != ALERT_RULE_UNCHANGED)
			add_transition(evaluator, transition_count, tenant, resource, RULE_PLAN,
				       state);
		input->firing[resource] = state->firing;
		/* As it stands, should the relative pass be skipped this tick. */
		input->relative_firing[resource] = tenant->relative_rule[resource].firing;
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
 * Room to remember each input's tenant and to sort the usages. Grown only:
 * the number of tenants is about the same from tick to tick.
 */
static int reserve_relative(struct evaluator *evaluator, size_t input_count)
{
	struct tenant_state **input_tenants;
	double *active_usage;

	if (input_count <= evaluator->scratch_capacity)
		return 0;
	input_tenants = realloc(evaluator->input_tenants, input_count * sizeof(*input_tenants));
	if (!input_tenants)
		return -ENOMEM;
	evaluator->input_tenants = input_tenants;
	active_usage = realloc(evaluator->active_usage, input_count * sizeof(*active_usage));
	if (!active_usage)
		return -ENOMEM;
	evaluator->active_usage = active_usage;
	evaluator->scratch_capacity = input_count;
	return 0;
}

/*
 * One resource of the relative rule over every input evaluated this tick.
 * Sorting the active usages once makes each tenant's median of the others
 * an index away, so a tick stays O(n log n) with thousands of tenants.
 */
static void evaluate_relative_resource(struct evaluator *evaluator, double now,
				       struct eval_input *inputs, size_t count,
				       enum resource resource, size_t *transition_count)
{
	const struct relative_config *relative = &evaluator->relative;
	bool enabled = evaluator->has_relative && relative->has_floor[resource];
	double *sorted = evaluator->active_usage, usage_floor = relative->floor[resource];
	/* A tenant this idle makes nobody look excessive. (factor > 0: checked when set.) */
	double active_from = enabled ? usage_floor / relative->factor : 0;
	size_t active = 0, i;

	for (i = 0; enabled && i < count; i++) {
		const struct eval_input *input = &inputs[i];

		if (evaluator->input_tenants[i] && !input->gone && input->has_usage[resource] &&
		    input->usage[resource] >= active_from)
			sorted[active++] = input->usage[resource];
	}
	if (active > 1)
		qsort(sorted, active, sizeof(*sorted), compare_doubles);

	for (i = 0; i < count; i++) {
		struct tenant_state *tenant = evaluator->input_tenants[i];
		struct eval_input *input = &inputs[i];
		double usage = input->usage[resource], median = 0;
		struct alert_rule_params params = {0};
		struct alert_rule_state *state;
		size_t skip;

		if (!tenant)
			continue;
		state = &tenant->relative_rule[resource];
		if (enabled && !input->gone && !input->has_usage[resource]) {
			/*
			 * No evidence, not even that too few are active: just
			 * after a restart nobody has a usage yet.
			 */
			input->relative_firing[resource] = state->firing;
			continue;
		}
		relative_params(input->limits, &params);
		if (enabled && !input->gone && active >= relative->min_tenants) {
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
		if (alert_rule_step(state, now, input->has_usage[resource], usage, &params) !=
		    ALERT_RULE_UNCHANGED)
			add_transition(evaluator, transition_count, tenant, resource, RULE_RELATIVE,
				       state);
		input->relative_firing[resource] = state->firing;
	}
}

static void evaluate_relative(struct evaluator *evaluator, double now, struct eval_input *inputs,
			      size_t count, size_t *transition_count)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		evaluate_relative_resource(evaluator, now, inputs, count, resource,
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
static int reserve_transitions(struct evaluator *evaluator, size_t input_count)
{
	size_t needed = (input_count + evaluator->tenant_count) * RESOURCE_COUNT * 2;
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
	struct tenant_state *dropped = NULL, **link, *tenant;
	size_t bucket;
	int resource;

	for (bucket = 0; bucket < evaluator->bucket_count; bucket++) {
		link = &evaluator->buckets[bucket];
		while ((tenant = *link)) {
			if (tenant->seen_tick == evaluator->tick_number ||
			    (tenant->loaded && now < tenant->loaded_deadline)) {
				link = &tenant->next;
				continue;
			}
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				struct alert_rule_state *state = &tenant->plan_rule[resource];

				if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
					add_transition(evaluator, transition_count, tenant,
						       resource, RULE_PLAN, state);
				state = &tenant->relative_rule[resource];
				if (alert_rule_resolve(state) == ALERT_RULE_RESOLVED)
					add_transition(evaluator, transition_count, tenant,
						       resource, RULE_RELATIVE, state);
			}
			*link = tenant->next;
			evaluator->tenant_count--;
			tenant->next = dropped;
			dropped = tenant;
		}
	}
	return dropped;
}

static void clear_outputs(struct eval_input *input)
{
	memset(input->has_usage, 0, sizeof(input->has_usage));
	memset(input->usage, 0, sizeof(input->usage));
	memset(input->firing, 0, sizeof(input->firing));
	memset(input->relative_firing, 0, sizeof(input->relative_firing));
}

void evaluator_tick(struct evaluator *evaluator, double now, struct eval_input *inputs,
		    size_t count, eval_transition_fn fn, void *ctx)
{
	struct tenant_state *dropped, *tenant;
	size_t transition_count = 0, i;
	bool relative_pass = true;

	evaluator->changed = false;
	for (i = 0; i < count; i++)
		clear_outputs(&inputs[i]);
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
		struct eval_input *input = &inputs[i];
		uint64_t hash = idmap_hash_string(input->tenant);

		if (relative_pass)
			evaluator->input_tenants[i] = NULL;
		tenant = tenant_find(evaluator, input->tenant, hash);
		if (!tenant)
			tenant = tenant_add(evaluator, input->tenant, hash);
		if (!tenant) {
			pr_err("evaluate: no memory for tenant %s", input->tenant);
			continue;
		}
		if (tenant->seen_tick == evaluator->tick_number) {
			pr_debug("evaluate: tenant %s twice in one tick, the second ignored",
				 input->tenant);
			continue;
		}
		tenant->seen_tick = evaluator->tick_number;
		tenant->loaded = false;
		if (replace_string(&tenant->plan, input->plan) ||
		    replace_string(&tenant->cgroup, input->cgroup)) {
			pr_err("evaluate: no memory for tenant %s", input->tenant);
			continue;
		}
		evaluate_tenant(evaluator, tenant, now, input, &transition_count);
		if (relative_pass)
			evaluator->input_tenants[i] = tenant;
	}
	/* Every usage is known now: the relative rule compares them. */
	if (relative_pass)
		evaluate_relative(evaluator, now, inputs, count, &transition_count);
	dropped = drop_unseen(evaluator, now, &transition_count);

	/* Resolved first: a consumer that counts firing alerts never sees too many. */
	for (i = 0; fn && i < transition_count; i++)
		if (!evaluator->transitions[i].firing)
			fn(&evaluator->transitions[i], ctx);
	for (i = 0; fn && i < transition_count; i++)
		if (evaluator->transitions[i].firing)
			fn(&evaluator->transitions[i], ctx);
	evaluator->changed = transition_count > 0;

	while (dropped) {
		tenant = dropped->next;
		tenant_free(dropped);
		dropped = tenant;
	}
}

struct evaluator *evaluator_new(void)
{
	struct evaluator *evaluator = calloc(1, sizeof(*evaluator));

	if (!evaluator)
		return NULL;
	evaluator->bucket_count = MIN_BUCKETS;
	evaluator->buckets = calloc(evaluator->bucket_count, sizeof(*evaluator->buckets));
	if (!evaluator->buckets) {
		free(evaluator);
		errno = ENOMEM;
		return NULL;
	}
	return evaluator;
}

void evaluator_free(struct evaluator *evaluator)
{
	struct tenant_state *tenant, *next;
	size_t bucket;

	if (!evaluator)
		return;
	for (bucket = 0; bucket < evaluator->bucket_count; bucket++) {
		for (tenant = evaluator->buckets[bucket]; tenant; tenant = next) {
			next = tenant->next;
			tenant_free(tenant);
		}
	}
	free(evaluator->buckets);
	free(evaluator->transitions);
	free(evaluator->input_tenants);
	free(evaluator->active_usage);
	free(evaluator);
}

bool evaluator_changed(const struct evaluator *evaluator)
{
	return evaluator->changed;
}

/* Saving and loading firing alerts */

static int add_string(struct json_object *object, const char *key, const char *value)
{
	struct json_object *string = json_object_new_string(value ? value : "");

	if (!string || json_object_object_add(object, key, string)) {
		json_object_put(string);
		return -ENOMEM;
	}
	return 0;
}

static int add_double(struct json_object *object, const char *key, double value)
{
	struct json_object *number = json_object_new_double(value);

	if (!number || json_object_object_add(object, key, number)) {
		json_object_put(number);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *alert_to_json(const struct tenant_state *tenant, enum resource resource,
					 const char *rule, const struct alert_rule_state *state,
					 double now_wall, double now)
{
	struct json_object *alert = json_object_new_object();

	if (!alert)
		goto fail;
	if (add_string(alert, "tenant", tenant->name) || add_string(alert, "plan", tenant->plan) ||
	    add_string(alert, "cgroup", tenant->cgroup) ||
	    add_string(alert, "resource", resource_name(resource)) ||
	    add_string(alert, "rule", rule) || add_double(alert, "value", state->value) ||
	    add_double(alert, "limit", state->limit) ||
	    add_double(alert, "window_s", state->window_s) ||
	    /* Monotonic time means nothing to the next boot: store wall time. */
	    add_double(alert, "since", now_wall - (now - state->firing_since)))
		goto fail;
	return alert;
fail:
	json_object_put(alert);
	errno = ENOMEM;
	return NULL;
}

/* Appends @tenant's firing alerts of one rule, @states by resource, to @alerts. */
static int add_firing(struct json_object *alerts, const struct tenant_state *tenant,
		      const char *rule, const struct alert_rule_state *states, double now_wall,
		      double now)
{
	struct json_object *alert;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		if (!states[resource].firing)
			continue;
		alert = alert_to_json(tenant, resource, rule, &states[resource], now_wall, now);
		if (!alert)
			return -ENOMEM;
		if (json_object_array_add(alerts, alert)) {
			json_object_put(alert);
			return -ENOMEM;
		}
	}
	return 0;
}

static struct json_object *firing_to_json(const struct evaluator *evaluator, double now_wall,
					  double now)
{
	struct json_object *root = json_object_new_object(), *alerts = json_object_new_array();
	const struct tenant_state *tenant;
	size_t bucket;

	if (!root || !alerts || json_object_object_add(root, "alerts", alerts)) {
		json_object_put(alerts);
		goto fail;
	}
	if (json_object_object_add(root, "version", json_object_new_int(STATE_FORMAT_VERSION)) ||
	    add_double(root, "saved_at", now_wall))
		goto fail;
	for (bucket = 0; bucket < evaluator->bucket_count; bucket++) {
		for (tenant = evaluator->buckets[bucket]; tenant; tenant = tenant->next) {
			if (add_firing(alerts, tenant, RULE_PLAN, tenant->plan_rule, now_wall,
				       now) ||
			    add_firing(alerts, tenant, RULE_RELATIVE, tenant->relative_rule,
				       now_wall, now))
				goto fail;
		}
	}
	return root;
fail:
	json_object_put(root);
	errno = ENOMEM;
	return NULL;
}

/* The saved text and its closing newline. */
static int write_text(int fd, void *ctx)
{
	const char *text = ctx;
	int err;

	err = files_write_all(fd, text, strlen(text));
	return err ? err : files_write_all(fd, "\n", 1);
}

int evaluator_save(const struct evaluator *evaluator, const char *path, double now_wall, double now)
{
	struct json_object *root;
	const char *text;
	int err;

	root = firing_to_json(evaluator, now_wall, now);
	if (!root)
		return -ENOMEM;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		err = -ENOMEM;
		goto free_json;
	}
	/* Tenant names and cgroups are for the operator only: mode 0600. */
	err = files_replace(path, 0600, write_text, (void *)text);
	if (err)
		pr_warn("evaluate: cannot save %s: %s", path, strerror(-err));
free_json:
	json_object_put(root);
	return err;
}

static int read_file(const char *path, char **out)
{
	size_t len = 0, capacity = 4096;
	char *text = malloc(capacity), *bigger;
	ssize_t got;
	int fd, err = 0;

	if (!text)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto free_text;
	}
	for (;;) {
		if (len + 1 >= capacity) {
			bigger = realloc(text, capacity * 2);
			if (!bigger) {
				err = -ENOMEM;
				goto close_fd;
			}
			text = bigger;
			capacity *= 2;
		}
		got = read(fd, text + len, capacity - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto close_fd;
		}
		if (!got)
			break;
		len += got;
	}
	text[len] = '\0';
	close(fd);
	*out = text;
	return 0;

close_fd:
	close(fd);
free_text:
	free(text);
	return err;
}

static const char *get_string(struct json_object *object, const char *key)
{
	struct json_object *value;

	if (!json_object_object_get_ex(object, key, &value) ||
	    !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

static bool get_number(struct json_object *object, const char *key, double *number)
{
	struct json_object *value;

	if (!json_object_object_get_ex(object, key, &value) ||
	    (!json_object_is_type(value, json_type_double) &&
	     !json_object_is_type(value, json_type_int)))
		return false;
	*number = json_object_get_double(value);
	return isfinite(*number);
}

/* 1 when a new alert was loaded, 0 when it was already known, or -errno. */
static int load_alert(struct evaluator *evaluator, struct json_object *alert, double now_wall,
		      double now, double grace_s)
{
	const char *tenant_name, *plan, *cgroup, *resource_text, *rule;
	double value, limit, window_s, since_wall;
	struct alert_rule_state *state;
	struct tenant_state *tenant;
	uint64_t hash;
	int resource;

	tenant_name = get_string(alert, "tenant");
	plan = get_string(alert, "plan");
	cgroup = get_string(alert, "cgroup");
	resource_text = get_string(alert, "resource");
	rule = get_string(alert, "rule");
	if (!tenant_name || !plan || !cgroup || !resource_text ||
	    !get_number(alert, "value", &value) || !get_number(alert, "limit", &limit) ||
	    !get_number(alert, "window_s", &window_s) || !get_number(alert, "since", &since_wall))
		return -EINVAL;
	resource = resource_from_name(resource_text);
	if (resource < 0)
		return -EINVAL;
	/* No rule is the plan's, as saved before the relative rule existed. */
	if (rule && strcmp(rule, RULE_PLAN) && strcmp(rule, RULE_RELATIVE))
		return -EINVAL;

	hash = idmap_hash_string(tenant_name);
	tenant = tenant_find(evaluator, tenant_name, hash);
	if (!tenant) {
		tenant = tenant_add(evaluator, tenant_name, hash);
		if (!tenant)
			return -ENOMEM;
		tenant->loaded = true;
		tenant->loaded_deadline = now + grace_s;
	}
	if (replace_string(&tenant->plan, plan) || replace_string(&tenant->cgroup, cgroup))
		return -ENOMEM;
	if (rule && !strcmp(rule, RULE_RELATIVE))
		state = &tenant->relative_rule[resource];
	else
		state = &tenant->plan_rule[resource];
	if (state->firing)
		return 0;
	state->firing = true;
	state->pending = false;
	/* A wall clock set back since the save must not put the start in the future. */
	state->firing_since = now - fmax(0, now_wall - since_wall);
	state->value = value;
	state->limit = limit;
	state->window_s = window_s;
	return 1;
}

int evaluator_load(struct evaluator *evaluator, const char *path, double now_wall, double now,
		   double grace_s)
{
	struct json_object *root = NULL, *alerts;
	enum json_tokener_error parse_error;
	size_t i, count, loaded = 0;
	char *text = NULL;
	int err;

	err = read_file(path, &text);
	if (err) {
		if (err != -ENOENT)
			pr_warn("evaluate: cannot read %s: %s", path, strerror(-err));
		return err;
	}
	root = json_tokener_parse_verbose(text, &parse_error);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "alerts", &alerts) ||
	    !json_object_is_type(alerts, json_type_array)) {
		pr_warn("evaluate: %s: not a state file (%s), its alerts are lost", path,
			root ? "no alerts array" : json_tokener_error_desc(parse_error));
		err = -EINVAL;
		goto cleanup;
	}
	count = json_object_array_length(alerts);
	for (i = 0; i < count; i++) {
		int ret = load_alert(evaluator, json_object_array_get_idx(alerts, i), now_wall, now,
				     grace_s);

		if (ret == -ENOMEM) {
			err = ret;
			goto cleanup;
		}
		if (ret < 0)
			pr_warn("evaluate: %s: alert %zu is not valid, skipped", path, i);
		else
			loaded += ret;
	}
	pr_debug("evaluate: %zu firing alerts loaded from %s", loaded, path);

cleanup:
	evaluator->changed = loaded > 0;
	json_object_put(root);
	free(text);
	return err;
}
