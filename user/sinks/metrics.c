// SPDX-License-Identifier: GPL-2.0
/*
 * The node_exporter textfile from the tick's rows, and what it keeps
 * between writes to make one cheap.
 *
 * At 10,000 tenants the file is some 11 MB, written every interval, while
 * from one interval to the next most tenants are idle and most of their
 * lines the same. So the lines are kept, per tenant (by name): the label
 * prefix, escaped once, and each sample's last value with its text. A write
 * compares the rows with them, formats only the values that changed, and
 * puts the file together from the kept text. Tenants no longer in the rows
 * leave the cache at once, so it holds what one file shows, no more.
 *
 * When nothing changed since the last write (no value, no tenant come or
 * gone, the same agent-wide figures), the file is not rewritten: it is
 * touched instead, so that node_exporter's node_textfile_mtime_seconds, and
 * the staleness alerts built on it, still see a live agent.
 *
 * The cache belongs to the module (the agent has one textfile); a write to
 * another path, and the first after a failed one, writes the file whole.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "hashtable.h"
#include "metrics.h"
#include "seed.h"
#include "text.h"
#include "textfile.h"

enum limit_family {
	FAMILY_LIMIT,
	FAMILY_USAGE_RATIO,
	FAMILY_OVER_LIMIT,
	FAMILY_COUNT,
};

static const struct {
	const char *name;
	const char *help;
} limit_families[FAMILY_COUNT] = {
	[FAMILY_LIMIT] = {"abusewatch_tenant_limit",
			  "The plan's limit in base units: cores, bytes, tasks, bytes/s, per "
			  "second."},
	[FAMILY_USAGE_RATIO] = {"abusewatch_tenant_usage_ratio",
				"Usage averaged over the plan's window / limit."},
	[FAMILY_OVER_LIMIT] = {"abusewatch_tenant_over_limit",
			       "1 while an overuse alert (plan or relative) fires."},
};

#define EXECS_METRIC "abusewatch_tenant_execs_total"

/*
 * The samples a tenant can have, one slot each: its value of each resource,
 * its execs, then each limit family's sample of each resource.
 */
#define SLOT_EXECS RESOURCE_COUNT
#define SLOT_LIMITS (RESOURCE_COUNT + 1)
#define SLOT_COUNT (SLOT_LIMITS + FAMILY_COUNT * RESOURCE_COUNT)

static int limit_slot(enum limit_family family, int resource)
{
	return SLOT_LIMITS + family * RESOURCE_COUNT + resource;
}

/* What a row shows in one slot this write. */
struct sample {
	bool present;
	double value;
};

/*
 * A tenant's lines as last written. Of its 49 slots a tenant shows some 17
 * (the values it has, and the limit families of what its plan limits):
 * only those are kept, packed in slot order, so that 10,000 tenants hold
 * some 4 MB rather than 7.
 */
struct tenant_lines {
	struct hashtable_node node;	/* in cache.tenants, by name */
	unsigned long written;		/* the number of the last write it was in */
	uint64_t serial;		/* of the row it was last matched to (tenant_row.h) */
	size_t position;		/* its row in that write */
	const char *plan;		/* in @names, after the tenant's */
	uint64_t present;		/* a bit per slot with a sample */
	/*
	 * Its row changed since its lines were made: they are made again from
	 * the row when the file is next written, not at every tick it waits.
	 */
	bool stale;
	/*
	 * One allocation (struct kept_text): per sample present, its value,
	 * then the offset and length of its text; then the label prefix
	 * `{tenant="…",plan="…"`, escaped, then each sample's text. NULL: not
	 * rendered yet.
	 */
	void *kept;
	uint32_t kept_size;		/* allocated */
	uint32_t prefix_length;
	/* The tenant's name, then its plan's. */
	char name[];
};

_Static_assert(SLOT_COUNT <= 64, "a slot is a bit of tenant_lines.present");

/* tenant_lines.kept grows by this much at a time; the first time by room for a few samples. */
#define KEPT_SLACK 32
#define KEPT_FIRST_SLACK 96

/* The parts of tenant_lines.kept, for @count samples. */
struct kept_text {
	double *values;
	uint16_t *offsets;	/* of the value's text, past the prefix */
	uint8_t *lengths;
	char *text;		/* the prefix, then the values' text */
};

static struct kept_text kept_parts(void *kept, unsigned int count)
{
	struct kept_text parts;

	parts.values = kept;
	parts.offsets = (uint16_t *)(parts.values + count);
	parts.lengths = (uint8_t *)(parts.offsets + count);
	parts.text = (char *)(parts.lengths + count);
	return parts;
}

/* Bits set in @present: without -mpopcnt, __builtin_popcountll is a libgcc call a line. */
static unsigned int present_count(uint64_t present)
{
	present = present - ((present >> 1) & 0x5555555555555555ull);
	present = (present & 0x3333333333333333ull) + ((present >> 2) & 0x3333333333333333ull);
	present = (present + (present >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned int)((present * 0x0101010101010101ull) >> 56);
}

/* Where @slot (present) is among the samples kept. */
static unsigned int kept_index(uint64_t present, int slot)
{
	return present_count(present & ((UINT64_C(1) << slot) - 1));
}

static bool slot_present(const struct tenant_lines *tenant, int slot)
{
	return tenant->present & (UINT64_C(1) << slot);
}

/* A limit family's labels after the prefix, `,resource="cpu"} `, escaped once. */
#define RESOURCE_TAIL_MAX 64

static struct {
	bool ready;
	struct hashtable tenants;	/* of struct tenant_lines */
	/* Tenants name themselves through their cgroup paths: keep them from picking collisions. */
	struct hash_key key;
	unsigned long write_number;
	/* This write's tenants, by row; NULL: not cached, written from its row. */
	struct tenant_lines **rows;
	size_t row_capacity;
	size_t row_count;		/* of the last write */
	char resource_tail[RESOURCE_COUNT][RESOURCE_TAIL_MAX];
	size_t resource_tail_length[RESOURCE_COUNT];

	/* The file as last written; path NULL: none is known to be (yet, or after a failure). */
	char *path;
	uint64_t alerts_total[ALERT_KIND_COUNT];
	uint64_t alerts_suppressed[ALERT_KIND_COUNT];
	uint64_t alerts_dropped[ALERT_SINK_COUNT];
	uint64_t events_lost;
	char *version;
	/* Pacing: when the file was last rewritten, how big, and whether it is behind the lines. */
	double written_at;
	size_t written_bytes;
	bool behind;
} cache;

static bool tenant_matches(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_lines, node)->name, name);
}

static void tenant_free(struct tenant_lines *tenant)
{
	if (!tenant)
		return;
	free(tenant->kept);
	free(tenant);
}

static void tenant_free_node(struct hashtable_node *node)
{
	tenant_free(hashtable_entry(node, struct tenant_lines, node));
}

static int cache_init(void)
{
	int resource;
	size_t used;

	if (cache.ready)
		return 0;
	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		char *tail = cache.resource_tail[resource];

		used = strlen(",resource=\"");
		memcpy(tail, ",resource=\"", used);
		used += textfile_escape_label(resource_name(resource), tail + used,
					      RESOURCE_TAIL_MAX - used);
		if (used + sizeof("\"} ") > RESOURCE_TAIL_MAX)
			return -ENAMETOOLONG;
		memcpy(tail + used, "\"} ", sizeof("\"} "));
		cache.resource_tail_length[resource] = used + strlen("\"} ");
	}
	hashtable_init(&cache.tenants, tenant_matches);
	hash_key_random(&cache.key);
	cache.ready = true;
	return 0;
}

void metrics_forget(void)
{
	if (!cache.ready)
		return;
	hashtable_release(&cache.tenants, tenant_free_node);
	free(cache.rows);
	free(cache.path);
	free(cache.version);
	memset(&cache, 0, sizeof(cache));
}

size_t metrics_cached_tenants(void)
{
	return cache.ready ? hashtable_count(&cache.tenants) : 0;
}

/*
 * What the limit families show for one tenant and resource, if anything:
 * _limit and _usage_ratio where the plan limits the resource, _over_limit
 * also where the relative rule compares it (either rule's alert sets it).
 */
static inline void limit_samples(const struct tenant_row *row,
				 const struct relative_config *relative, int resource,
				 struct sample *samples)
{
	const struct plan *plan = row->limits;
	bool limited = plan && plan->has_limit[resource];
	double limit = limited ? plan->limit[resource] : 0;
	bool firing = row->firing[resource] || row->relative_firing[resource];

	samples[FAMILY_LIMIT].present = limited;
	samples[FAMILY_LIMIT].value = limit;
	samples[FAMILY_USAGE_RATIO].present = limited && row->has_usage[resource];
	/* A limit of 0 (none allowed): any use is infinitely over it, none is not over. */
	samples[FAMILY_USAGE_RATIO].value = !limited		? 0
					    : limit > 0		? row->usage[resource] / limit
					    : row->usage[resource] > 0 ? INFINITY
								 : 0;
	samples[FAMILY_OVER_LIMIT].present =
	    limited || (relative && relative->has_floor[resource]) || firing;
	samples[FAMILY_OVER_LIMIT].value = firing;
}

/*
 * Every slot of @row: each resource's value, a gauge only where its module
 * measured it this tick; execs, counted and shown but limited by no plan;
 * and the limit families.
 */
static void row_samples(const struct tenant_row *row, const struct relative_config *relative,
			struct sample *samples)
{
	struct sample limits[FAMILY_COUNT];
	enum limit_family family;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		samples[resource].present = row->has_value[resource];
		samples[resource].value = row->value[resource];
		limit_samples(row, relative, resource, limits);
		for (family = 0; family < FAMILY_COUNT; family++)
			samples[limit_slot(family, resource)] = limits[family];
	}
	samples[SLOT_EXECS].present = true;
	samples[SLOT_EXECS].value = row->execs;
}

/* Whether two values print the same: -0 is 0, any NaN is NaN. */
static bool same_value(double a, double b)
{
	return a == b || (a != a && b != b);
}

static bool slot_changed(const struct tenant_lines *tenant, const struct sample *sample, int slot)
{
	if (sample->present != slot_present(tenant, slot))
		return true;
	return sample->present &&
	       !same_value(sample->value, ((const double *)tenant->kept)[kept_index(
						  tenant->present, slot)]);
}

/*
 * Gives @tenant the text of @samples: the prefix escaped the first time,
 * the values formatted where they changed, the rest copied. All or
 * nothing: 0 or -ENOMEM, and then @tenant is as it was.
 */
static int tenant_render(struct tenant_lines *tenant, const struct sample *samples)
{
	static const char tenant_label[] = "{tenant=\"", plan_label[] = "\",plan=\"";
	char numbers[SLOT_COUNT][TEXTFILE_VALUE_MAX];
	size_t lengths[SLOT_COUNT], prefix_length, numbers_length = 0, name_length, used, size;
	/* Room for a tenant whose name and plan fit a line of the file, and its values. */
	_Alignas(double) char scratch[1024];
	bool new_prefix = !tenant->kept, changed[SLOT_COUNT];
	struct kept_text old, new;
	unsigned int count = 0, index = 0;
	uint64_t present = 0;
	void *kept;
	int slot;

	if (!new_prefix)
		old = kept_parts(tenant->kept, present_count(tenant->present));
	for (slot = 0; slot < SLOT_COUNT; slot++) {
		lengths[slot] = 0;
		if (!samples[slot].present)
			continue;
		present |= UINT64_C(1) << slot;
		count++;
		changed[slot] = slot_changed(tenant, &samples[slot], slot);
		if (!changed[slot])
			lengths[slot] = old.lengths[kept_index(tenant->present, slot)];
		else
			lengths[slot] = textfile_format_value(samples[slot].value, numbers[slot]);
		numbers_length += lengths[slot];
	}
	if (new_prefix) {
		name_length = textfile_escape_label(tenant->name, NULL, 0);
		prefix_length = sizeof(tenant_label) - 1 + name_length + sizeof(plan_label) - 1 +
				textfile_escape_label(tenant->plan, NULL, 0) + 1;
	} else {
		prefix_length = tenant->prefix_length;
	}
	/* Offsets are 16 bits, and so is a prefix here: a name that long is written from its row. */
	if (prefix_length > UINT16_MAX || numbers_length > UINT16_MAX)
		return -ENOMEM;
	size = count * (sizeof(double) + sizeof(uint16_t) + sizeof(uint8_t)) + prefix_length +
	       numbers_length + 1;
	/* Made beside the old, then copied over it: the block is reused, not freed and made anew. */
	kept = size <= sizeof(scratch) ? scratch : malloc(size);
	if (!kept)
		return -ENOMEM;
	new = kept_parts(kept, count);
	if (new_prefix) {
		used = sizeof(tenant_label) - 1;
		memcpy(new.text, tenant_label, used);
		used += textfile_escape_label(tenant->name, new.text + used, name_length + 1);
		memcpy(new.text + used, plan_label, sizeof(plan_label) - 1);
		used += sizeof(plan_label) - 1;
		used += textfile_escape_label(tenant->plan, new.text + used, prefix_length - used);
		new.text[used] = '"';
	} else {
		memcpy(new.text, old.text, prefix_length);
	}
	used = prefix_length;
	for (slot = 0; slot < SLOT_COUNT; slot++) {
		if (!samples[slot].present)
			continue;
		if (changed[slot]) {
			memcpy(new.text + used, numbers[slot], lengths[slot]);
		} else {
			unsigned int was = kept_index(tenant->present, slot);

			memcpy(new.text + used, old.text + prefix_length + old.offsets[was],
			       lengths[slot]);
		}
		new.values[index] = samples[slot].value;
		new.offsets[index] = used - prefix_length;
		new.lengths[index] = lengths[slot];
		used += lengths[slot];
		index++;
	}
	new.text[used] = '\0';
	if (size > tenant->kept_size) {
		/*
		 * Room to grow in place: values get a digit longer now and then,
		 * and a new tenant's first lines (written before its first
		 * evaluation, often before its memory is read) gain a few
		 * samples at the next tick. A block made anew each time would
		 * leave a hole behind for every tenant.
		 */
		size_t want = size + (tenant->kept ? KEPT_SLACK : KEPT_FIRST_SLACK);
		size_t grown = (want + KEPT_SLACK - 1) / KEPT_SLACK * KEPT_SLACK;
		void *block = realloc(tenant->kept, grown);

		if (!block) {
			if (kept != scratch)
				free(kept);
			return -ENOMEM;
		}
		tenant->kept = block;
		tenant->kept_size = grown;
	}
	memcpy(tenant->kept, kept, size);
	if (kept != scratch)
		free(kept);
	tenant->present = present;
	tenant->prefix_length = prefix_length;
	return 0;
}

/*
 * Whether any sample of @row differs from @tenant's, the same walk as
 * row_samples() without keeping them: on an idle node this is all a write
 * does per tenant.
 */
static bool row_changed(const struct tenant_lines *tenant, const struct tenant_row *row,
			const struct relative_config *relative)
{
	struct sample sample, limits[FAMILY_COUNT];
	enum limit_family family;
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		sample.present = row->has_value[resource];
		sample.value = row->value[resource];
		if (slot_changed(tenant, &sample, resource))
			return true;
		limit_samples(row, relative, resource, limits);
		for (family = 0; family < FAMILY_COUNT; family++)
			if (slot_changed(tenant, &limits[family], limit_slot(family, resource)))
				return true;
	}
	sample.present = true;
	sample.value = row->execs;
	return slot_changed(tenant, &sample, SLOT_EXECS);
}

/* Marks @tenant stale when its lines are behind @row; true when they are. */
static bool tenant_check(struct tenant_lines *tenant, const struct tenant_row *row,
			 const struct relative_config *relative)
{
	if (!tenant->stale && tenant->kept && !row_changed(tenant, row, relative))
		return false;
	tenant->stale = true;
	return true;
}

/* Brings a stale @tenant's lines up to @row. 0 or -ENOMEM (then @tenant is as it was). */
static int tenant_render_row(struct tenant_lines *tenant, const struct tenant_row *row,
			     const struct relative_config *relative)
{
	struct sample samples[SLOT_COUNT];
	int err;

	row_samples(row, relative, samples);
	err = tenant_render(tenant, samples);
	if (!err)
		tenant->stale = false;
	return err;
}

static struct tenant_lines *tenant_new(const char *name, const char *plan)
{
	size_t name_size = strlen(name) + 1, plan_size = strlen(plan) + 1;
	struct tenant_lines *tenant;

	tenant = calloc(1, sizeof(*tenant) + name_size + plan_size);
	if (!tenant)
		return NULL;
	memcpy(tenant->name, name, name_size);
	memcpy(tenant->name + name_size, plan, plan_size);
	tenant->plan = tenant->name + name_size;
	if (hashtable_insert(&cache.tenants, &tenant->node, hash_string(&cache.key, name))) {
		free(tenant);
		return NULL;
	}
	return tenant;
}

/*
 * Takes @tenant out of the cache during the pass over the rows, at row
 * @index: if it was further on last time, that row no longer finds it.
 */
static void tenant_drop(struct tenant_lines *tenant, size_t index)
{
	if (tenant->written == cache.write_number - 1 && tenant->position > index &&
	    tenant->position < cache.row_count)
		cache.rows[tenant->position] = NULL;
	hashtable_remove(&cache.tenants, &tenant->node);
	tenant_free(tenant);
}

/*
 * Follows the rows: cache.rows[] gets each row's tenant (NULL where a row
 * cannot be cached: written from the row itself), tenants whose lines are
 * behind their rows are marked stale (made again only when the file is
 * written: render_stale), and tenants gone from the rows leave. Returns
 * whether any line changed, or any tenant came, went or moved.
 */
static bool cache_update(const struct metrics_snapshot *snapshot)
{
	struct hashtable_node *node, *next;
	struct tenant_lines *tenant;
	bool changed = snapshot->row_count != cache.row_count, same;
	size_t i, cached = 0;

	cache.write_number++;
	for (i = 0; i < snapshot->row_count; i++) {
		const struct tenant_row *row = &snapshot->rows[i];
		const char *name = row->tenant ? row->tenant : "";
		const char *plan = row->plan ? row->plan : "";

		/*
		 * Mostly the same tenants as last time, in the same order: the
		 * tenant of this row last time is checked first, sparing the hash.
		 */
		tenant = i < cache.row_count ? cache.rows[i] : NULL;
		/* The same serial is the same tenant, name and plan: nothing to compare. */
		same = tenant && row->serial && tenant->serial == row->serial;
		/*
		 * Nothing changed in its row since the last tick's, which the last
		 * write had at this place: its lines are as they were.
		 */
		if (same && row->unchanged && tenant->written == cache.write_number - 1 &&
		    tenant->position == i && tenant->kept) {
			tenant->written = cache.write_number;
			cached++;
			continue;
		}
		if (!same && (!tenant || strcmp(tenant->name, name)))
			tenant = hashtable_entry(hashtable_find(&cache.tenants,
								hash_string(&cache.key, name), name),
						 struct tenant_lines, node);
		cache.rows[i] = NULL;
		if (tenant && tenant->written == cache.write_number) {
			/* Twice in one tick: shown twice as before, the second from its row. */
			changed = true;
			continue;
		}
		/* Another plan (a reload): another prefix, so new lines throughout. */
		if (tenant && !same && strcmp(tenant->plan, plan)) {
			tenant_drop(tenant, i);
			tenant = NULL;
		}
		if (!tenant || tenant->written != cache.write_number - 1 || tenant->position != i)
			changed = true;
		if (!tenant)
			tenant = tenant_new(name, plan);
		if (!tenant)
			continue;
		changed |= tenant_check(tenant, row, snapshot->relative);
		tenant->written = cache.write_number;
		tenant->serial = row->serial;
		tenant->position = i;
		cache.rows[i] = tenant;
		cached++;
	}
	cache.row_count = snapshot->row_count;
	if (hashtable_count(&cache.tenants) == cached)
		return changed;
	hashtable_for_each_safe(&cache.tenants, node, next) {
		tenant = hashtable_entry(node, struct tenant_lines, node);
		if (tenant->written == cache.write_number)
			continue;
		hashtable_remove(&cache.tenants, node);
		tenant_free(tenant);
	}
	hashtable_shrink(&cache.tenants);
	return true;
}

/*
 * Makes the lines of every stale tenant again from its row, just before a
 * write. Lines that cannot be made are dropped, and the row written as it is.
 */
static void render_stale(const struct metrics_snapshot *snapshot)
{
	struct tenant_lines *tenant;
	size_t i;

	for (i = 0; i < snapshot->row_count; i++) {
		tenant = cache.rows[i];
		if (!tenant || !tenant->stale)
			continue;
		if (tenant_render_row(tenant, &snapshot->rows[i], snapshot->relative)) {
			hashtable_remove(&cache.tenants, &tenant->node);
			tenant_free(tenant);
			cache.rows[i] = NULL;
		}
	}
}

/* One line from kept text: metric, prefix, @tail (the rest of the labels), value. */
static void write_line(struct textfile *file, const char *metric, size_t metric_length,
		       const struct tenant_lines *tenant, const char *tail, size_t tail_length,
		       int slot)
{
	unsigned int index = kept_index(tenant->present, slot);
	struct kept_text kept = kept_parts(tenant->kept, present_count(tenant->present));
	const char *number = kept.text + tenant->prefix_length + kept.offsets[index];
	size_t number_length = kept.lengths[index];
	char *line;

	line = textfile_space(file, metric_length + tenant->prefix_length + tail_length +
					    number_length + 1);
	if (!line) {
		/* A tenant name longer than the buffer, or an error that stops the file anyway. */
		textfile_write(file, metric, metric_length);
		textfile_write(file, kept.text, tenant->prefix_length);
		textfile_write(file, tail, tail_length);
		textfile_write(file, number, number_length);
		textfile_write(file, "\n", 1);
		return;
	}
	memcpy(line, metric, metric_length);
	line += metric_length;
	memcpy(line, kept.text, tenant->prefix_length);
	line += tenant->prefix_length;
	memcpy(line, tail, tail_length);
	line += tail_length;
	memcpy(line, number, number_length);
	line[number_length] = '\n';
}

/* The sample of @slot of a row that is not cached, formatted as it comes. */
static void write_row_sample(struct textfile *file, const char *metric,
			     const struct metrics_snapshot *snapshot, size_t index, int slot,
			     int resource)
{
	const struct tenant_row *row = &snapshot->rows[index];
	struct label labels[3] = {
		{"tenant", row->tenant}, {"plan", row->plan}, {"resource", NULL}};
	struct sample samples[SLOT_COUNT];

	row_samples(row, snapshot->relative, samples);
	if (!samples[slot].present)
		return;
	if (slot >= SLOT_LIMITS)
		labels[2].value = resource_name(resource);
	textfile_sample(file, metric, labels, slot >= SLOT_LIMITS ? 3 : 2, samples[slot].value);
}

/* A family with one sample per tenant (where present): a resource's value, or execs. */
static void write_tenant_family(struct textfile *file, const struct metrics_snapshot *snapshot,
				const char *metric, const char *type, const char *help, int slot)
{
	size_t metric_length = strlen(metric), i;
	const struct tenant_lines *tenant;

	textfile_family(file, metric, type, help);
	for (i = 0; i < snapshot->row_count; i++) {
		tenant = cache.rows ? cache.rows[i] : NULL;
		if (!tenant)
			write_row_sample(file, metric, snapshot, i, slot, -1);
		else if (slot_present(tenant, slot))
			write_line(file, metric, metric_length, tenant, "} ", 2, slot);
	}
}

/* Each resource's value under its own family (resource.h), of one kind. */
static void write_values(struct textfile *file, const struct metrics_snapshot *snapshot,
			 enum resource_kind kind)
{
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		const struct resource_info *info = resource_info(resource);

		if (info->kind != kind)
			continue;
		write_tenant_family(file, snapshot, info->metric,
				    kind == RESOURCE_COUNTER ? "counter" : "gauge", info->help,
				    resource);
	}
}

static void write_limits(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	const struct tenant_lines *tenant;
	enum limit_family family;
	size_t i, metric_length;
	int resource, slot;

	for (family = 0; family < FAMILY_COUNT; family++) {
		const char *metric = limit_families[family].name;

		metric_length = strlen(metric);
		textfile_family(file, metric, "gauge", limit_families[family].help);
		for (i = 0; i < snapshot->row_count; i++) {
			tenant = cache.rows ? cache.rows[i] : NULL;
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				slot = limit_slot(family, resource);
				if (!tenant)
					write_row_sample(file, metric, snapshot, i, slot, resource);
				else if (slot_present(tenant, slot))
					write_line(file, metric, metric_length, tenant,
						   cache.resource_tail[resource],
						   cache.resource_tail_length[resource], slot);
			}
		}
	}
}

static void write_agent(struct textfile *file, const struct metrics_snapshot *snapshot)
{
	struct label version = {"version", snapshot->version};
	int kind, sink;

	textfile_family(file, "abusewatch_alerts_total", "counter", "Alerts raised, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label kind_label = {"kind", alert_kind_name(kind)};

		textfile_sample(file, "abusewatch_alerts_total", &kind_label, 1,
				snapshot->alerts_total[kind]);
	}
	textfile_family(file, "abusewatch_alerts_suppressed_total", "counter",
			"Evidence for an alert already firing, not alerted again, by kind.");
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++) {
		struct label kind_label = {"kind", alert_kind_name(kind)};

		textfile_sample(file, "abusewatch_alerts_suppressed_total", &kind_label, 1,
				snapshot->alerts_suppressed[kind]);
	}
	textfile_family(file, "abusewatch_alerts_dropped_total", "counter",
			"Alert records a sink never got (its queue or buffer was full), by sink.");
	for (sink = 0; sink < ALERT_SINK_COUNT; sink++) {
		struct label sink_label = {"sink", alert_sink_name(sink)};

		textfile_sample(file, "abusewatch_alerts_dropped_total", &sink_label, 1,
				snapshot->alerts_dropped[sink]);
	}
	textfile_family(file, "abusewatch_events_lost_total", "counter",
			"Kernel events not counted: a map or ring buffer was full.");
	textfile_sample(file, "abusewatch_events_lost_total", NULL, 0, snapshot->events_lost);
	textfile_family(file, "abusewatch_build_info", "gauge", "The running abusewatch version.");
	textfile_sample(file, "abusewatch_build_info", &version, 1, 1);
}

/* Whether the agent-wide figures differ from those last written. */
static bool agent_changed(const struct metrics_snapshot *snapshot)
{
	const char *version = snapshot->version ? snapshot->version : "";

	return memcmp(cache.alerts_total, snapshot->alerts_total, sizeof(cache.alerts_total)) ||
	       memcmp(cache.alerts_suppressed, snapshot->alerts_suppressed,
		      sizeof(cache.alerts_suppressed)) ||
	       memcmp(cache.alerts_dropped, snapshot->alerts_dropped,
		      sizeof(cache.alerts_dropped)) ||
	       cache.events_lost != snapshot->events_lost || !cache.version ||
	       strcmp(cache.version, version);
}

/* What was written to @path, to compare the next write with; path NULL when it cannot be. */
static void remember_file(const char *path, const struct metrics_snapshot *snapshot)
{
	memcpy(cache.alerts_total, snapshot->alerts_total, sizeof(cache.alerts_total));
	memcpy(cache.alerts_suppressed, snapshot->alerts_suppressed,
	       sizeof(cache.alerts_suppressed));
	memcpy(cache.alerts_dropped, snapshot->alerts_dropped, sizeof(cache.alerts_dropped));
	cache.events_lost = snapshot->events_lost;
	if (text_replace(&cache.version, snapshot->version) || text_replace(&cache.path, path)) {
		free(cache.path);
		cache.path = NULL;
	}
}

static int write_file(const char *path, const struct metrics_snapshot *snapshot)
{
	struct textfile *file;
	int err;

	file = textfile_open(path);
	if (!file)
		return -errno;
	write_values(file, snapshot, RESOURCE_COUNTER);
	write_tenant_family(file, snapshot, EXECS_METRIC, "counter",
			    "Programs executed by the tenant.", SLOT_EXECS);
	write_values(file, snapshot, RESOURCE_GAUGE);
	write_limits(file, snapshot);
	write_agent(file, snapshot);
	cache.written_bytes = textfile_size(file);
	err = textfile_commit(file);
	cache.written_at = snapshot->now;
	return err;
}

/* Whether a changed file may be rewritten now, or must wait for its pace. */
static bool rewrite_due(const char *path, const struct metrics_snapshot *snapshot)
{
	if (!snapshot->now || snapshot->final || !cache.path || strcmp(cache.path, path))
		return true;
	return snapshot->now - cache.written_at >=
	       cache.written_bytes / METRICS_REWRITE_BYTES_PER_S;
}

/* Room for a tenant pointer per row; without it the rows are written as they come. */
static int reserve_rows(size_t count)
{
	struct tenant_lines **rows;

	if (count <= cache.row_capacity)
		return 0;
	rows = realloc(cache.rows, count * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	cache.rows = rows;
	cache.row_capacity = count;
	return 0;
}

int metrics_write(const char *path, const struct metrics_snapshot *snapshot)
{
	bool changed;
	int err;

	if (!path || !snapshot || (snapshot->row_count && !snapshot->rows))
		return -EINVAL;
	err = cache_init();
	if (err)
		return err;
	if (reserve_rows(snapshot->row_count)) {
		/* Nothing kept can be trusted to match the file any more. */
		metrics_forget();
		err = write_file(path, snapshot);
		goto cleanup;
	}
	changed = cache_update(snapshot);
	changed |= agent_changed(snapshot) || !cache.path || strcmp(cache.path, path);
	/* The lines are up to date; the file is behind them until it is rewritten. */
	cache.behind |= changed;
	/* Touched, not rewritten; if it cannot be (removed, say), written whole. */
	if ((!cache.behind || !rewrite_due(path, snapshot)) && !textfile_touch(path))
		return 0;
	render_stale(snapshot);
	err = write_file(path, snapshot);
	if (!err) {
		remember_file(path, snapshot);
		cache.behind = false;
	}
cleanup:
	if (err && cache.path) {
		free(cache.path);
		cache.path = NULL;
	}
	return err;
}
