// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashtable.h"
#include "idmap.h"
#include "log.h"
#include "seed.h"
#include "tenants.h"

/* What the set knows of one cgroup; @tenant is NULL for cgroups of no tenant. */
struct cgroup_link {
	struct tenant *tenant;
	bool removed;
	bool root;		/* the path a rule matched, not a descendant */
};

struct tenant_set {
	const struct config *config;
	struct idmap *cgroups;	/* id -> struct cgroup_link */
	struct hashtable by_name;	/* of struct tenant_entry */
	struct hash_key key;	/* tenants name themselves through their paths */
	struct tenant **tenants;
	size_t count;
	size_t capacity;
	uint64_t generation;
	uint64_t sorted_generation;	/* tenants[] is in name order as of this one */
	bool sorted;
	uint64_t serial;	/* never reused in this process: a table knows its set */
	struct tenant *changed;	/* tenants whose rows are behind (struct tenant) */
	size_t gone_count;	/* tenants with gone_since set: none, no expiry pass */
};

/* Every tenant of every set gets the next one (see struct tenant); so does every set. */
static uint64_t tenant_serials;
static uint64_t set_serials;

/*
 * A tenant and its place in the set's table by name, then its name and its
 * cgroup path (tenant.name and tenant.cgroup point there): one allocation,
 * not three, some 40 bytes less a tenant in malloc's headers and rounding.
 */
struct tenant_entry {
	struct hashtable_node node;
	struct tenant tenant;
	char strings[];
};

static struct tenant_entry *entry_of(struct tenant *tenant)
{
	return (struct tenant_entry *)((char *)tenant - offsetof(struct tenant_entry, tenant));
}

static bool name_matches(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_entry, node)->tenant.name, name);
}

static bool name_rule(const struct tenant_rule *rule, const struct captures *caps,
		      const char *path, char *name, size_t len)
{
	size_t i;

	if (rule->tenant)
		return template_expand(rule->tenant, caps, name, len) == 0;
	for (i = 0; i < caps->count; i++) {
		if (!strcmp(caps->items[i].name, "tenant")) {
			snprintf(name, len, "%s", caps->items[i].value);
			return true;
		}
	}
	if (strlen(path) >= len)
		return false;
	strcpy(name, path);
	return true;
}

bool tenants_match_path(const struct config *config, const char *path,
			struct tenant_match *match)
{
	size_t path_len = strlen(path), rule, end;
	struct captures caps;
	char prefix[PATH_MAX];

	if (path_len >= sizeof(prefix))
		return false;
	for (rule = 0; rule < config->tenant_count; rule++) {
		const struct tenant_rule *tenant_rule = &config->tenants[rule];

		/* Prefixes from the top: "/", "/a", "/a/b", ..., the path itself. */
		for (end = 1; end <= path_len; end++) {
			if (end < path_len && path[end] != '/')
				continue;
			memcpy(prefix, path, end);
			prefix[end] = '\0';
			if (!pattern_match(tenant_rule->pattern, prefix, &caps))
				continue;
			if (!name_rule(tenant_rule, &caps, prefix, match->name,
				       sizeof(match->name)) ||
			    !match->name[0])
				continue;
			match->plan = tenant_rule->plan ? tenant_rule->plan : "default";
			match->rule = rule;
			match->root_length = end;
			match->captures = caps;
			return true;
		}
	}
	return false;
}

struct tenant_set *tenant_set_new(const struct config *config)
{
	struct tenant_set *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	set->config = config;
	set->serial = ++set_serials;
	set->cgroups = idmap_new();
	hashtable_init(&set->by_name, name_matches);
	hash_key_random(&set->key);
	if (!set->cgroups) {
		tenant_set_free(set);
		errno = ENOMEM;
		return NULL;
	}
	return set;
}

static void free_tenant(struct tenant *tenant)
{
	size_t i;

	for (i = 0; i < tenant->storage_count; i++)
		free(tenant->storage_paths[i]);
	free(tenant->storage_paths);
	free(entry_of(tenant));
}

void tenant_set_free(struct tenant_set *set)
{
	struct cgroup_link *link;
	size_t cursor = 0, i;

	if (!set)
		return;
	if (set->cgroups) {
		while ((link = idmap_next(set->cgroups, &cursor, NULL)))
			free(link);
		idmap_free(set->cgroups);
	}
	/* The entries are freed with their tenants. */
	hashtable_release(&set->by_name, NULL);
	for (i = 0; i < set->count; i++)
		free_tenant(set->tenants[i]);
	free(set->tenants);
	free(set);
}

static struct tenant *find_tenant(struct tenant_set *set, const char *name)
{
	struct tenant_entry *entry;

	entry = hashtable_entry(hashtable_find(&set->by_name, hash_string(&set->key, name), name),
				struct tenant_entry, node);
	return entry ? &entry->tenant : NULL;
}

/* The rule's storage templates over the tenant's captures; 0 or -ENOMEM. */
static int expand_storage(struct tenant *tenant, const struct tenant_rule *rule,
			  const struct captures *captures)
{
	char expanded[PATH_MAX];
	size_t i;

	if (!rule->storage_count)
		return 0;
	tenant->storage_paths = calloc(rule->storage_count, sizeof(*tenant->storage_paths));
	if (!tenant->storage_paths)
		return -ENOMEM;
	for (i = 0; i < rule->storage_count; i++) {
		/* The configuration checked the templates; this checks the captures. */
		if (template_expand(rule->storage[i], captures, expanded, sizeof(expanded)) ||
		    expanded[0] != '/' || path_dot_segment(expanded) >= 0) {
			pr_warn("tenant %s: storage path \"%s\" does not expand to an absolute path; "
				"not measured", tenant->name, rule->storage[i]);
			continue;
		}
		tenant->storage_paths[tenant->storage_count] = strdup(expanded);
		if (!tenant->storage_paths[tenant->storage_count])
			return -ENOMEM;
		tenant->storage_count++;
	}
	return 0;
}

static struct tenant *create_tenant(struct tenant_set *set, const struct tenant_match *match,
				    const char *path)
{
	struct tenant_entry *entry;
	struct tenant *tenant, **grown;
	size_t name_length;

	if (set->count == set->capacity) {
		size_t capacity = set->capacity ? set->capacity * 2 : 16;

		grown = realloc(set->tenants, capacity * sizeof(*grown));
		if (!grown)
			return NULL;
		set->tenants = grown;
		set->capacity = capacity;
	}
	name_length = strlen(match->name);
	entry = calloc(1, sizeof(*entry) + name_length + 1 + match->root_length + 1);
	if (!entry)
		return NULL;
	tenant = &entry->tenant;
	/* Rows carry it, so a reader can tell "the same tenant" without comparing names. */
	tenant->serial = ++tenant_serials;
	tenant->name = memcpy(entry->strings, match->name, name_length + 1);
	/* The rule's, in the configuration, which outlives the set. */
	tenant->plan = match->plan;
	/* calloc's zeros end it. */
	tenant->cgroup = memcpy(entry->strings + name_length + 1, path, match->root_length);
	if (expand_storage(tenant, &set->config->tenants[match->rule], &match->captures)) {
		free_tenant(tenant);
		return NULL;
	}
	/* The set's configuration never changes: the plan is looked up once. */
	tenant->limits = config_find_plan(set->config, tenant->plan);
	if (hashtable_insert(&set->by_name, &entry->node, hash_string(&set->key, tenant->name))) {
		free_tenant(tenant);
		return NULL;
	}
	set->tenants[set->count++] = tenant;
	set->generation++;
	pr_info("tenant %s (plan %s) at %s", tenant->name, tenant->plan, tenant->cgroup);
	return tenant;
}

/* Its row is behind: the next fill fills it again. */
static void mark_changed(struct tenant_set *set, struct tenant *tenant)
{
	if (tenant->changed)
		return;
	tenant->changed = true;
	tenant->next_changed = set->changed;
	set->changed = tenant;
}

struct tenant *tenant_set_add_cgroup(struct tenant_set *set, uint64_t id, const char *path)
{
	struct tenant_match match;
	struct cgroup_link *link;
	struct tenant *tenant = NULL;

	link = idmap_get(set->cgroups, id);
	if (link && !link->removed) {
		/* Renamed: it may belong elsewhere now. */
		if (link->tenant && link->tenant->live_cgroups) {
			link->tenant->live_cgroups--;
			mark_changed(set, link->tenant);
		}
		link->tenant = NULL;
	}
	if (!link) {
		link = calloc(1, sizeof(*link));
		if (!link || idmap_put(set->cgroups, id, link)) {
			free(link);
			return NULL;
		}
	}
	link->removed = false;
	if (tenants_match_path(set->config, path, &match)) {
		tenant = find_tenant(set, match.name);
		if (!tenant)
			tenant = create_tenant(set, &match, path);
	}
	link->tenant = tenant;
	link->root = tenant && match.root_length == strlen(path);
	if (tenant) {
		tenant->live_cgroups++;
		if (tenant->gone_since)
			set->gone_count--;
		tenant->gone_since = 0;
		mark_changed(set, tenant);
	}
	return tenant;
}

void tenant_set_remove_cgroup(struct tenant_set *set, uint64_t id, double now)
{
	struct cgroup_link *link = idmap_get(set->cgroups, id);

	if (!link || link->removed)
		return;
	link->removed = true;
	if (!link->tenant)
		return;
	if (link->tenant->live_cgroups)
		link->tenant->live_cgroups--;
	if (!link->tenant->live_cgroups) {
		if (!link->tenant->gone_since)
			set->gone_count++;
		link->tenant->gone_since = now > 0 ? now : 1e-9;
	}
	mark_changed(set, link->tenant);
}

struct tenant *tenant_set_of_cgroup(struct tenant_set *set, uint64_t id)
{
	struct cgroup_link *link = idmap_get(set->cgroups, id);

	return link ? link->tenant : NULL;
}

bool tenant_set_cgroup_is_root(struct tenant_set *set, uint64_t id)
{
	struct cgroup_link *link = idmap_get(set->cgroups, id);

	return link && link->tenant && link->root && !link->removed;
}

bool tenant_set_knows_cgroup(struct tenant_set *set, uint64_t id)
{
	return idmap_get(set->cgroups, id) != NULL;
}

void tenant_set_each_live_cgroup(struct tenant_set *set, void (*fn)(uint64_t id, void *ctx),
				 void *ctx)
{
	struct cgroup_link *link;
	size_t cursor = 0;
	uint64_t id;

	while ((link = idmap_next(set->cgroups, &cursor, &id)))
		if (!link->removed)
			fn(id, ctx);
}

void tenant_set_forget_cgroup(struct tenant_set *set, uint64_t id)
{
	free(idmap_remove(set->cgroups, id));
}

void tenant_set_add_usage(struct tenant_set *set, struct tenant *tenant,
			  const struct usage_sample *delta, int64_t tasks_delta)
{
	size_t i;

	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		tenant->total.field[i] += delta->field[i];
	tenant->tasks += tasks_delta;
	mark_changed(set, tenant);
}

static void unlink_tenant(struct tenant_set *set, struct tenant *tenant)
{
	struct cgroup_link *link;
	size_t cursor = 0;
	uint64_t id;

	while ((link = idmap_next(set->cgroups, &cursor, &id))) {
		if (link->tenant == tenant) {
			idmap_remove(set->cgroups, id);
			free(link);
		}
	}
	hashtable_remove(&set->by_name, &entry_of(tenant)->node);
	/* Off the list of changed tenants: it is about to be freed. */
	if (tenant->changed) {
		struct tenant **place = &set->changed;

		while (*place != tenant)
			place = &(*place)->next_changed;
		*place = tenant->next_changed;
	}
}

size_t tenant_set_expire(struct tenant_set *set, double now, double expiry)
{
	size_t i = 0, dropped = 0;

	if (expiry <= 0)
		expiry = TENANT_EXPIRY_DEFAULT_S;
	/* Most ticks: no tenant is gone, nothing to walk. */
	while (set->gone_count && i < set->count) {
		struct tenant *tenant = set->tenants[i];

		if (tenant->live_cgroups || !tenant->gone_since ||
		    now - tenant->gone_since < expiry) {
			i++;
			continue;
		}
		pr_info("tenant %s gone for %.0f s: dropped", tenant->name, now - tenant->gone_since);
		unlink_tenant(set, tenant);
		free_tenant(tenant);
		set->gone_count--;
		set->tenants[i] = set->tenants[--set->count];
		set->generation++;
		dropped++;
	}
	return dropped;
}

static int compare_names(const void *a, const void *b)
{
	const struct tenant *const *left = a, *const *right = b;

	return strcmp((*left)->name, (*right)->name);
}

/* Name order, sorted again only when tenants came or went (most ticks: none). */
static void sort_tenants(struct tenant_set *set)
{
	if (set->sorted && set->sorted_generation == set->generation)
		return;
	/* A set without tenants has no array at all, and qsort() must not be given NULL. */
	if (set->count > 1)
		qsort(set->tenants, set->count, sizeof(*set->tenants), compare_names);
	set->sorted = true;
	set->sorted_generation = set->generation;
}

size_t tenant_set_list(struct tenant_set *set, struct tenant **out, size_t max)
{
	size_t count = set->count < max ? set->count : max;

	sort_tenants(set);
	if (count)
		memcpy(out, set->tenants, count * sizeof(*out));
	return count;
}

/* The columns of @row that come from @tenant's totals and tasks (the rest are other stages'). */
static void fill_totals(struct tenant_row *row, const struct tenant *tenant)
{
	const char *totals = (const char *)&tenant->total;
	int resource;

	row->gone = tenant->live_cgroups == 0;
	row->execs = tenant->total.execs;
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const struct resource_info *info = resource_info(resource);
		uint64_t total;

		switch (info->source) {
		case SOURCE_TOTALS:
			memcpy(&total, totals + info->total_offset, sizeof(total));
			row->value[resource] = total * info->scale;
			row->has_value[resource] = true;
			break;
		case SOURCE_TASKS:
			/* Tasks that predate a cgroup move can be uncharged twice: never < 0. */
			row->value[resource] = tenant->tasks > 0 ? tenant->tasks : 0;
			row->has_value[resource] = true;
			break;
		default:
			break;
		}
	}
}

static void fill_row(struct tenant_row *row, const struct tenant *tenant)
{
	memset(row, 0, sizeof(*row));
	row->serial = tenant->serial;
	row->tenant = tenant->name;
	row->plan = tenant->plan;
	row->limits = tenant->limits;
	row->cgroup = tenant->cgroup;
	row->storage_paths = (const char *const *)tenant->storage_paths;
	row->storage_count = tenant->storage_count;
	fill_totals(row, tenant);
}

/* Takes every tenant off the list of changed ones. */
static void clear_changed(struct tenant_set *set)
{
	struct tenant *tenant, *next;

	for (tenant = set->changed; tenant; tenant = next) {
		next = tenant->next_changed;
		tenant->changed = false;
		tenant->next_changed = NULL;
	}
	set->changed = NULL;
}

/* Room for every row's index in table->refreshed; 0 or -ENOMEM. */
static int reserve_refreshed(struct tenant_table *table, size_t count)
{
	size_t *refreshed;

	if (count <= table->refreshed_capacity)
		return 0;
	refreshed = realloc(table->refreshed, count * sizeof(*refreshed));
	if (!refreshed)
		return -ENOMEM;
	table->refreshed = refreshed;
	table->refreshed_capacity = count;
	return 0;
}

/* Every row afresh, in name order. 0 or -ENOMEM. */
static int remake_rows(struct tenant_set *set, struct tenant_table *table)
{
	struct tenant_row *rows;
	size_t i;

	table->count = 0;
	table->set_serial = 0;
	if (set->count > table->capacity) {
		rows = realloc(table->rows, set->count * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		table->rows = rows;
		table->capacity = set->count;
	}
	if (reserve_refreshed(table, set->count))
		return -ENOMEM;
	sort_tenants(set);
	for (i = 0; i < set->count; i++) {
		fill_row(&table->rows[i], set->tenants[i]);
		set->tenants[i]->row = &table->rows[i];
	}
	clear_changed(set);
	table->count = set->count;
	table->remade = true;
	table->refreshed_count = 0;
	table->set_serial = set->serial;
	table->generation = set->generation;
	return 0;
}

int tenant_set_fill_rows(struct tenant_set *set, struct tenant_table *table)
{
	struct tenant *tenant;
	struct tenant_row *row;
	size_t i;

	if (table->set_serial != set->serial || table->generation != set->generation ||
	    table->count != set->count)
		return remake_rows(set, table);
	/* The same tenants in the same rows: only those that changed are filled again. */
	for (i = 0; i < table->count; i++)
		table->rows[i].unchanged = true;
	table->remade = false;
	table->refreshed_count = 0;
	for (tenant = set->changed; tenant; tenant = tenant->next_changed) {
		row = tenant->row;
		fill_totals(row, tenant);
		row->unchanged = false;
		table->refreshed[table->refreshed_count++] = row - table->rows;
	}
	clear_changed(set);
	return 0;
}

void tenant_table_free(struct tenant_table *table)
{
	free(table->rows);
	free(table->refreshed);
	memset(table, 0, sizeof(*table));
}

size_t tenant_set_count(const struct tenant_set *set)
{
	return set->count;
}

uint64_t tenant_set_generation(const struct tenant_set *set)
{
	return set->generation;
}

struct tenant *tenant_set_find(struct tenant_set *set, const char *name)
{
	return find_tenant(set, name);
}

struct tenant *tenant_set_restore(struct tenant_set *set, const char *name, const char *cgroup,
				  const struct usage_sample *total, double gone_since)
{
	struct tenant_match match;
	struct tenant *tenant;

	/* The configuration may have changed since: what it names now decides. */
	if (!tenants_match_path(set->config, cgroup, &match) || strcmp(match.name, name))
		return NULL;
	tenant = find_tenant(set, name);
	if (!tenant)
		tenant = create_tenant(set, &match, cgroup);
	if (!tenant)
		return NULL;
	tenant->total = *total;
	if (!tenant->live_cgroups && !tenant->gone_since) {
		tenant->gone_since = gone_since > 0 ? gone_since : 1e-9;
		set->gone_count++;
	}
	mark_changed(set, tenant);
	return tenant;
}

void tenant_set_carry_totals(struct tenant_set *old, struct tenant_set *new)
{
	size_t i, j;

	/* Both in name order: one merge pass. */
	sort_tenants(old);
	sort_tenants(new);
	for (i = 0, j = 0; i < old->count && j < new->count;) {
		int order = strcmp(old->tenants[i]->name, new->tenants[j]->name);

		if (order == 0)
			new->tenants[j++]->total = old->tenants[i++]->total;
		else if (order < 0)
			i++;
		else
			j++;
	}
}
