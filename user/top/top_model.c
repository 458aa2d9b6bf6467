// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "promtext.h"
#include "seed.h"
#include "top_model.h"

/* Which column each resource belongs to; -1: in none (still in "usage"). */
static const int column_of[RESOURCE_COUNT] = {
	[RESOURCE_CPU] = TOP_COLUMN_CPU,
	[RESOURCE_MEMORY] = TOP_COLUMN_MEMORY,
	[RESOURCE_DISK_READ] = TOP_COLUMN_DISK,
	[RESOURCE_DISK_WRITE] = TOP_COLUMN_DISK,
	[RESOURCE_NET_RX] = TOP_COLUMN_NETWORK,
	[RESOURCE_NET_TX] = TOP_COLUMN_NETWORK,
	[RESOURCE_NET_RX_PACKETS] = TOP_COLUMN_NETWORK,
	[RESOURCE_NET_TX_PACKETS] = TOP_COLUMN_NETWORK,
	[RESOURCE_CONNECTIONS] = -1,
	[RESOURCE_STORAGE] = -1,
	[RESOURCE_PROCESSES] = -1,
	[RESOURCE_FORKS] = -1,
	[RESOURCE_HUGEPAGES] = -1,
};

static const char *const kind_names[TOP_KIND_COUNT] = {
	[TOP_KIND_OVERUSE] = "overuse",
	[TOP_KIND_SOFTWARE] = "unauthorized_software",
	[TOP_KIND_NETWORK] = "network_abuse",
};

static const struct {
	int key;
	const char *name;
} sorts[TOP_SORT_COUNT] = {
	[TOP_SORT_USAGE] = { 'u', "usage" },	 [TOP_SORT_CPU] = { 'c', "cpu" },
	[TOP_SORT_MEMORY] = { 'm', "memory" },	 [TOP_SORT_DISK] = { 'd', "disk" },
	[TOP_SORT_NETWORK] = { 'n', "network" }, [TOP_SORT_TENANT] = { 't', "tenant" },
};

struct tenant_key {
	const char *tenant;
	const char *plan;
};

static uint64_t tenant_hash(const char *tenant, const char *plan)
{
	struct hash_state state;

	hash_start(&state, hash_key_process());
	/* With the NULs: ("ab", "c") and ("a", "bc") differ. */
	hash_add(&state, tenant, strlen(tenant) + 1);
	hash_add(&state, plan, strlen(plan) + 1);
	return hash_finish(&state);
}

static bool tenant_matches(const struct hashtable_node *node, const void *key)
{
	const struct top_tenant *tenant = hashtable_entry(node, struct top_tenant, node);
	const struct tenant_key *want = key;

	return !strcmp(tenant->tenant, want->tenant) && !strcmp(tenant->plan, want->plan);
}

struct top_snapshot *top_snapshot_new(void)
{
	struct top_snapshot *snapshot = calloc(1, sizeof(*snapshot));
	int kind;

	if (!snapshot)
		return NULL;
	hashtable_init(&snapshot->by_name, tenant_matches);
	snapshot->events_lost = NAN;
	for (kind = 0; kind < TOP_KIND_COUNT; kind++)
		snapshot->alerts_total[kind] = NAN;
	return snapshot;
}

static void free_alerts_fields(struct top_alert *alert)
{
	free(alert->tenant);
	free(alert->plan);
	free(alert->resource);
	free(alert->rule);
	memset(alert, 0, sizeof(*alert));
}

static void free_alerts(struct top_alert *alerts, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free_alerts_fields(&alerts[i]);
	free(alerts);
}

void top_snapshot_free(struct top_snapshot *snapshot)
{
	size_t i;

	if (!snapshot)
		return;
	hashtable_release(&snapshot->by_name, NULL);
	for (i = 0; i < snapshot->tenant_count; i++) {
		free(snapshot->tenants[i]->tenant);
		free(snapshot->tenants[i]->plan);
		free(snapshot->tenants[i]);
	}
	free(snapshot->tenants);
	free_alerts(snapshot->alerts, snapshot->alert_count);
	free(snapshot);
}

static struct top_tenant *find_tenant(const struct top_snapshot *snapshot, const char *name,
				      const char *plan)
{
	struct tenant_key key = { name, plan };

	return hashtable_entry(hashtable_find(&snapshot->by_name, tenant_hash(name, plan), &key),
			       struct top_tenant, node);
}

/* The tenant @name on @plan, added when new; NULL and errno ENOMEM. */
static struct top_tenant *tenant_of(struct top_snapshot *snapshot, const char *name,
				    const char *plan)
{
	struct top_tenant *tenant = find_tenant(snapshot, name, plan);
	int i;

	if (tenant)
		return tenant;
	if (snapshot->tenant_count == snapshot->tenant_capacity) {
		size_t capacity = snapshot->tenant_capacity ? 2 * snapshot->tenant_capacity : 64;
		struct top_tenant **bigger =
			realloc(snapshot->tenants, capacity * sizeof(*bigger));

		if (!bigger)
			goto no_memory;
		snapshot->tenants = bigger;
		snapshot->tenant_capacity = capacity;
	}
	tenant = calloc(1, sizeof(*tenant));
	if (!tenant)
		goto no_memory;
	tenant->tenant = strdup(name);
	tenant->plan = strdup(plan);
	if (!tenant->tenant || !tenant->plan ||
	    hashtable_insert(&snapshot->by_name, &tenant->node, tenant_hash(name, plan)))
		goto free_tenant;
	for (i = 0; i < RESOURCE_COUNT; i++) {
		tenant->ratio[i] = NAN;
		tenant->limit[i] = NAN;
	}
	tenant->cpu_seconds = tenant->disk_bytes = tenant->network_bytes = NAN;
	tenant->memory_bytes = NAN;
	for (i = 0; i < TOP_COLUMN_COUNT; i++)
		tenant->usage[i] = NAN;
	snapshot->tenants[snapshot->tenant_count++] = tenant;
	return tenant;

free_tenant:
	free(tenant->tenant);
	free(tenant->plan);
	free(tenant);
no_memory:
	errno = ENOMEM;
	return NULL;
}

/* Adds @value to a sum that starts as NaN (absent). */
static void add_to(double *sum, double value)
{
	*sum = isnan(*sum) ? value : *sum + value;
}

static int add_textfile_alert(struct top_snapshot *snapshot, const struct top_tenant *tenant,
			      const char *resource)
{
	struct top_alert *bigger, *alert;

	bigger = realloc(snapshot->alerts, (snapshot->alert_count + 1) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	snapshot->alerts = bigger;
	alert = &bigger[snapshot->alert_count];
	*alert = (struct top_alert){ .value = NAN, .limit = NAN, .since = NAN };
	alert->tenant = strdup(tenant->tenant);
	alert->plan = strdup(tenant->plan);
	alert->resource = strdup(resource);
	snapshot->alert_count++;
	return alert->tenant && alert->plan && alert->resource ? 0 : -ENOMEM;
}

static int on_sample(const struct promtext_sample *sample, void *ctx)
{
	struct top_snapshot *snapshot = ctx;
	const char *name = sample->name, *tenant_name, *plan, *resource_name;
	struct top_tenant *tenant;
	int resource, kind;

	if (strncmp(name, "abusewatch_", 11))
		return 0;
	name += 11;
	if (!strcmp(name, "alerts_total")) {
		const char *kind_name = promtext_label(sample, "kind");

		for (kind = 0; kind_name && kind < TOP_KIND_COUNT; kind++) {
			if (!strcmp(kind_name, kind_names[kind]))
				snapshot->alerts_total[kind] = sample->value;
		}
		return 0;
	}
	if (!strcmp(name, "events_lost_total")) {
		snapshot->events_lost = sample->value;
		return 0;
	}
	if (!strcmp(name, "build_info")) {
		const char *version = promtext_label(sample, "version");

		snprintf(snapshot->version, sizeof(snapshot->version), "%s", version ?: "");
		return 0;
	}
	tenant_name = promtext_label(sample, "tenant");
	plan = promtext_label(sample, "plan");
	if (strncmp(name, "tenant_", 7) || !tenant_name)
		return 0;
	name += 7;
	tenant = tenant_of(snapshot, tenant_name, plan ?: "");
	if (!tenant)
		return -ENOMEM;
	resource_name = promtext_label(sample, "resource");
	resource = resource_name ? resource_from_name(resource_name) : -1;
	if (!strcmp(name, "cpu_seconds_total"))
		add_to(&tenant->cpu_seconds, sample->value);
	else if (!strcmp(name, "disk_read_bytes_total") ||
		 !strcmp(name, "disk_written_bytes_total"))
		add_to(&tenant->disk_bytes, sample->value);
	else if (!strcmp(name, "network_receive_bytes_total") ||
		 !strcmp(name, "network_transmit_bytes_total"))
		add_to(&tenant->network_bytes, sample->value);
	else if (!strcmp(name, "memory_bytes"))
		tenant->memory_bytes = tenant->usage[TOP_COLUMN_MEMORY] = sample->value;
	else if (resource < 0)
		return 0;
	else if (!strcmp(name, "usage_ratio"))
		tenant->ratio[resource] = sample->value;
	else if (!strcmp(name, "limit"))
		tenant->limit[resource] = sample->value;
	else if (!strcmp(name, "over_limit") && sample->value == 1) {
		tenant->over[resource] = true;
		return add_textfile_alert(snapshot, tenant, resource_name);
	}
	return 0;
}

int top_snapshot_parse(struct top_snapshot *snapshot, const char *text, size_t length,
		       double read_at)
{
	size_t i;
	int err;

	snapshot->read_at = read_at;
	err = promtext_parse(text, length, on_sample, snapshot, &snapshot->bad_lines);
	if (err)
		return err;
	/* A textfile alert's figures, where the file has them: usage and limit now. */
	for (i = 0; i < snapshot->alert_count; i++) {
		struct top_alert *alert = &snapshot->alerts[i];
		const struct top_tenant *tenant = find_tenant(snapshot, alert->tenant, alert->plan);
		int resource = resource_from_name(alert->resource);

		if (tenant && resource >= 0) {
			alert->limit = tenant->limit[resource];
			alert->value = tenant->ratio[resource] * tenant->limit[resource];
		}
	}
	return 0;
}

static int strdup_field(struct json_object *object, const char *key, bool optional, char **out)
{
	const char *value;
	int err = json_get_string(object, key, &value);

	if (err == -ENOENT && optional)
		return 0;
	if (err)
		return err;
	*out = strdup(value);
	return *out ? 0 : -ENOMEM;
}

int top_snapshot_load_firing(struct top_snapshot *snapshot, const char *json_text)
{
	struct json_object *root, *array;
	struct top_alert *alerts = NULL;
	size_t i, count = 0, capacity;
	int err = 0;

	root = json_tokener_parse(json_text);
	if (!root || !json_object_object_get_ex(root, "alerts", &array) ||
	    !json_object_is_type(array, json_type_array)) {
		err = -EINVAL;
		goto cleanup;
	}
	capacity = json_object_array_length(array);
	alerts = calloc(capacity ?: 1, sizeof(*alerts));
	if (!alerts) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < capacity; i++) {
		struct json_object *item = json_object_array_get_idx(array, i);
		struct top_alert *alert = &alerts[count];

		alert->value = alert->limit = alert->since = NAN;
		err = strdup_field(item, "tenant", false, &alert->tenant) ?:
		      strdup_field(item, "plan", false, &alert->plan) ?:
		      strdup_field(item, "resource", false, &alert->resource) ?:
		      strdup_field(item, "rule", true, &alert->rule);
		/* Counted also when incomplete: what it holds is freed with the rest. */
		count++;
		if (err == -ENOMEM)
			goto cleanup;
		if (err) {
			/* One bad entry (the agent would skip it too): the others still count. */
			free_alerts_fields(alert);
			count--;
			err = 0;
			continue;
		}
		/* Figures are optional: an alert without them is still shown. */
		if (json_get_double(item, "value", &alert->value))
			alert->value = NAN;
		if (json_get_double(item, "limit", &alert->limit))
			alert->limit = NAN;
		if (json_get_double(item, "since", &alert->since))
			alert->since = NAN;
	}
	free_alerts(snapshot->alerts, snapshot->alert_count);
	snapshot->alerts = alerts;
	snapshot->alert_count = count;
	snapshot->alerts_from_state = true;
	alerts = NULL;
cleanup:
	if (alerts)
		free_alerts(alerts, count);
	json_object_put(root);
	return err;
}

/* The rate of a counter between two reads; NaN when unknown or reset. */
static double rate(double now, double before, double seconds)
{
	if (isnan(now) || isnan(before) || seconds <= 0 || now < before)
		return NAN;
	return (now - before) / seconds;
}

void top_snapshot_rates(struct top_snapshot *now, const struct top_snapshot *before)
{
	double seconds;
	size_t i;

	if (!before)
		return;
	seconds = now->read_at - before->read_at;
	for (i = 0; i < now->tenant_count; i++) {
		struct top_tenant *tenant = now->tenants[i];
		const struct top_tenant *old = find_tenant(before, tenant->tenant, tenant->plan);

		if (!old)
			continue;
		tenant->usage[TOP_COLUMN_CPU] =
			rate(tenant->cpu_seconds, old->cpu_seconds, seconds);
		tenant->usage[TOP_COLUMN_DISK] = rate(tenant->disk_bytes, old->disk_bytes, seconds);
		tenant->usage[TOP_COLUMN_NETWORK] =
			rate(tenant->network_bytes, old->network_bytes, seconds);
	}
}

/* fmax that keeps NaN for "none": NaN only when both are. */
static double max_known(double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return a > b ? a : b;
}

double top_column_ratio(const struct top_tenant *tenant, enum top_column column)
{
	double highest = NAN;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		if (column_of[resource] == (int)column)
			highest = max_known(highest, tenant->ratio[resource]);
	}
	return highest;
}

double top_tenant_max_ratio(const struct top_tenant *tenant)
{
	double highest = NAN;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		highest = max_known(highest, tenant->ratio[resource]);
	return highest;
}

bool top_tenant_over(const struct top_tenant *tenant)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		if (tenant->over[resource])
			return true;
	}
	return false;
}

size_t top_snapshot_over_count(const struct top_snapshot *snapshot)
{
	size_t i, count = 0;

	for (i = 0; i < snapshot->tenant_count; i++)
		count += top_tenant_over(snapshot->tenants[i]);
	return count;
}

/* qsort has no context argument: the sort of the call under way. */
static enum top_sort current_sort;

/* Larger first, a known value before NaN; 0 when both are NaN or equal. */
static int compare_descending(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) - isnan(b);
	return (a < b) - (a > b);
}

static int compare_names(const struct top_tenant *a, const struct top_tenant *b)
{
	int order = strcmp(a->tenant, b->tenant);

	return order ? order : strcmp(a->plan, b->plan);
}

static int compare_tenants(const void *left, const void *right)
{
	const struct top_tenant *a = *(const struct top_tenant *const *)left;
	const struct top_tenant *b = *(const struct top_tenant *const *)right;
	enum top_column column;
	int order = 0;

	switch (current_sort) {
	case TOP_SORT_TENANT:
		return compare_names(a, b);
	case TOP_SORT_USAGE:
		/* A tenant whose alert fires comes first even if its ratio fell. */
		order = top_tenant_over(b) - top_tenant_over(a);
		order = order ?:
			compare_descending(top_tenant_max_ratio(a), top_tenant_max_ratio(b));
		break;
	default:
		column = (enum top_column)(current_sort - TOP_SORT_CPU);
		order = compare_descending(top_column_ratio(a, column),
					   top_column_ratio(b, column));
		/* Among tenants without a limit there: by usage. */
		order = order ?: compare_descending(a->usage[column], b->usage[column]);
		break;
	}
	return order ?: compare_names(a, b);
}

static int compare_alerts(const void *left, const void *right)
{
	const struct top_alert *a = left, *b = right;
	int order = strcmp(a->tenant, b->tenant);

	return order ?: strcmp(a->resource, b->resource);
}

void top_snapshot_sort(struct top_snapshot *snapshot, enum top_sort sort)
{
	current_sort = sort;
	if (snapshot->tenant_count)
		qsort(snapshot->tenants, snapshot->tenant_count, sizeof(*snapshot->tenants),
		      compare_tenants);
	if (snapshot->alert_count)
		qsort(snapshot->alerts, snapshot->alert_count, sizeof(*snapshot->alerts),
		      compare_alerts);
}

int top_sort_from_key(int key)
{
	int sort;

	for (sort = 0; sort < TOP_SORT_COUNT; sort++) {
		if (sorts[sort].key == key || sorts[sort].key - 'a' + 'A' == key)
			return sort;
	}
	return -1;
}

const char *top_sort_name(enum top_sort sort)
{
	return sort < TOP_SORT_COUNT ? sorts[sort].name : "?";
}
