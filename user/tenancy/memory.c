// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "clock.h"
#include "hashtable.h"
#include "hugetlb.h"
#include "idmap.h"
#include "log.h"
#include "memory.h"

struct memory_source {
	char v2_root[PATH_MAX];
	char v1_root[PATH_MAX]; /* "" when there is no v1 memory hierarchy */
};

struct memory_source *memory_source_new(const char *v2_root, const char *mounts_file)
{
	struct memory_source *source = calloc(1, sizeof(*source));

	if (!source)
		return NULL;
	snprintf(source->v2_root, sizeof(source->v2_root), "%s", v2_root);
	if (cgroups_find_v1_controller(mounts_file, "memory", source->v1_root,
				       sizeof(source->v1_root)))
		source->v1_root[0] = '\0';
	return source;
}

void memory_source_free(struct memory_source *source)
{
	free(source);
}

static int open_pair(const char *root, const char *path, const char *usage_name,
		     struct memory_files *files)
{
	char name[PATH_MAX];
	int err;

	if (snprintf(name, sizeof(name), "%s%s/%s", root, path, usage_name) >= (int)sizeof(name))
		return -ENAMETOOLONG;
	files->usage_fd = open(name, O_RDONLY | O_CLOEXEC);
	if (files->usage_fd < 0)
		return -errno;
	snprintf(name, sizeof(name), "%s%s/memory.stat", root, path);
	files->stat_fd = open(name, O_RDONLY | O_CLOEXEC);
	if (files->stat_fd < 0) {
		err = -errno;
		close(files->usage_fd);
		files->usage_fd = -1;
		return err;
	}
	return 0;
}

int memory_open(const struct memory_source *source, const char *path, struct memory_files *files)
{
	files->usage_fd = files->stat_fd = -1;
	files->v1 = 0;
	/* memory.current exists only where the parent enabled the v2 controller. */
	if (!open_pair(source->v2_root, path, "memory.current", files))
		return 0;
	if (!source->v1_root[0])
		return -ENOENT;
	files->v1 = 1;
	return open_pair(source->v1_root, path, "memory.usage_in_bytes", files) ? -ENOENT : 0;
}

static int read_whole(int fd, char *buffer, size_t size)
{
	ssize_t n = pread(fd, buffer, size - 1, 0);

	if (n < 0)
		return -errno;
	buffer[n] = '\0';
	return 0;
}

int memory_read(const struct memory_files *files, uint64_t *bytes)
{
	const char *key = files->v1 ? "\ntotal_inactive_file " : "\ninactive_file ";
	char buffer[8192];
	uint64_t usage, inactive = 0;
	char *found;
	int err;

	err = read_whole(files->usage_fd, buffer, sizeof(buffer));
	if (err)
		return err;
	if (sscanf(buffer, "%" SCNu64, &usage) != 1)
		return -EINVAL;
	/* A newline before the text lets the key match only at the start of a line. */
	buffer[0] = '\n';
	err = read_whole(files->stat_fd, buffer + 1, sizeof(buffer) - 1);
	if (err)
		return err;
	found = strstr(buffer, key);
	if (found)
		sscanf(found + strlen(key), "%" SCNu64, &inactive);
	*bytes = usage > inactive ? usage - inactive : 0;
	return 0;
}

void memory_close(struct memory_files *files)
{
	if (files->usage_fd >= 0)
		close(files->usage_fd);
	if (files->stat_fd >= 0)
		close(files->stat_fd);
	files->usage_fd = files->stat_fd = -1;
}

/*
 * The watcher: one entry per tenant root cgroup. It holds no file open (a
 * node of 10,000 tenants must not hold 20,000 descriptors) and reads a
 * cgroup only when it can have changed: when its tenant used CPU since the
 * last reading (memory is charged by the tenant's own tasks), and otherwise
 * now and then, for what reclaim took back. Readings of idle cgroups are
 * spread over that period.
 *
 * A tick costs what is read, not the number of cgroups: the readings come
 * due from a heap by time, the busy tenants from the rows the tick
 * refreshed (tenants.h), and a row's gauge is summed again only when one of
 * its cgroups' readings changed. An idle cgroup whose charge is the same as
 * at its last reading keeps its working set without memory.stat, the
 * costlier file. Only when the table was made afresh, or cgroups came or
 * went, does a tick go over every watched cgroup.
 */

/* A runtime may make the v1 memory cgroup just after the v2 one: retry soon, then less often. */
#define MEMORY_RETRY_S 5.0
#define MEMORY_RETRY_MAX_S 300.0
/*
 * An idle cgroup is read again after this long, plus up to as much again,
 * by its id; longer where there are so many that idle readings would come
 * more than MEMORY_IDLE_READS_PER_S a second (an open, a read and a close
 * each, some 5 us): every 100 to 200 s at 10,000 tenants.
 */
#define MEMORY_IDLE_REFRESH_S 30.0
#define MEMORY_IDLE_READS_PER_S 100.0
#define NO_ROW UINT32_MAX
/*
 * A cgroup without the hugetlb controller is looked at again after this
 * long (an operator may enable it), at its next reading.
 */
#define HUGETLB_RECHECK_S 300.0

/*
 * One a root cgroup. Its doubles and pointers first, then the narrow
 * fields, so that nothing pads (some 16 bytes less a watch): indexes are
 * 32 bits, as a table of 4 billion rows is not one this agent makes.
 */
struct memory_watch {
	struct hashtable_node node;	/* in watcher->watches, by id */
	uint64_t id;
	uint64_t bytes;
	uint64_t charged;	/* memory.current or memory.usage_in_bytes then */
	double cpu_seconds;	/* its tenant's CPU time at that reading */
	double read_at;		/* monotonic: the next reading is due */
	double retry_s;		/* after a failed one */
	/* Huge pages (hugetlb.h), read with the memory. */
	uint64_t huge_bytes;
	double huge_check_at;	/* HUGETLB_NONE: look for the controller again then */
	struct memory_watch *next_in_row;	/* the other root cgroups of that tenant */
	uint32_t due_index;	/* in watcher->due */
	uint32_t row_index;	/* of its tenant's row as of the last full pass; NO_ROW: none */
	enum hugetlb_layout huge_layout;
	bool has_bytes;		/* the last reading worked */
	bool v1;		/* read from the v1 hierarchy last time */
	bool has_huge;		/* the last reading worked */
	char path[];		/* under the roots, as the cgroup was added */
};

struct memory_watcher {
	struct memory_source *source;
	struct hugetlb_source *hugetlb;
	bool huge_in_use;	/* some huge page in use on the host, as of this tick */
	bool huge_none_logged;	/* a cgroup without the controller was logged */
	struct hashtable watches;	/* of struct memory_watch, by root cgroup id */
	struct memory_watch **due;	/* a min-heap by read_at */
	size_t due_count;
	size_t due_capacity;
	/* Per row of the table the last full pass saw: its watches. */
	struct memory_watch **by_row;
	size_t by_row_capacity;
	const struct tenant_row *rows;
	size_t row_count;
	bool stale;		/* watches came or went since the last full pass */
};

/* The heap of readings by time */

static bool due_before(const struct memory_watch *a, const struct memory_watch *b)
{
	return a->read_at < b->read_at;
}

static void due_place(struct memory_watcher *watcher, size_t index, struct memory_watch *watch)
{
	watcher->due[index] = watch;
	watch->due_index = index;
}

static void due_sift_up(struct memory_watcher *watcher, size_t index)
{
	struct memory_watch *watch = watcher->due[index];

	while (index > 0) {
		size_t parent = (index - 1) / 2;

		if (!due_before(watch, watcher->due[parent]))
			break;
		due_place(watcher, index, watcher->due[parent]);
		index = parent;
	}
	due_place(watcher, index, watch);
}

static void due_sift_down(struct memory_watcher *watcher, size_t index)
{
	struct memory_watch *watch = watcher->due[index];
	size_t count = watcher->due_count;

	for (;;) {
		size_t child = 2 * index + 1;

		if (child >= count)
			break;
		if (child + 1 < count && due_before(watcher->due[child + 1], watcher->due[child]))
			child++;
		if (!due_before(watcher->due[child], watch))
			break;
		due_place(watcher, index, watcher->due[child]);
		index = child;
	}
	due_place(watcher, index, watch);
}

/* @watch's read_at changed: back to its place. */
static void due_update(struct memory_watcher *watcher, struct memory_watch *watch)
{
	due_sift_up(watcher, watch->due_index);
	due_sift_down(watcher, watch->due_index);
}

static int due_add(struct memory_watcher *watcher, struct memory_watch *watch)
{
	struct memory_watch **due;
	size_t capacity;

	if (watcher->due_count == watcher->due_capacity) {
		capacity = watcher->due_capacity ? 2 * watcher->due_capacity : 64;
		due = realloc(watcher->due, capacity * sizeof(*due));
		if (!due)
			return -ENOMEM;
		watcher->due = due;
		watcher->due_capacity = capacity;
	}
	due_place(watcher, watcher->due_count++, watch);
	due_sift_up(watcher, watch->due_index);
	return 0;
}

static void due_remove(struct memory_watcher *watcher, struct memory_watch *watch)
{
	size_t index = watch->due_index;
	struct memory_watch *last = watcher->due[--watcher->due_count];

	if (last == watch)
		return;
	due_place(watcher, index, last);
	due_update(watcher, last);
}

/* Readings */

/* The number at the start of file @name of cgroup @path under @root. */
static int read_number(const char *root, const char *path, const char *name, uint64_t *value)
{
	char buffer[PATH_MAX];
	ssize_t n;
	int fd, err = 0;

	if (snprintf(buffer, sizeof(buffer), "%s%s/%s", root, path, name) >= (int)sizeof(buffer))
		return -ENAMETOOLONG;
	fd = open(buffer, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buffer, 63, 0);
	if (n < 0) {
		err = -errno;
	} else {
		buffer[n] = '\0';
		if (sscanf(buffer, "%" SCNu64, value) != 1)
			err = -EINVAL;
	}
	close(fd);
	return err;
}

/* Inactive file pages of cgroup @path under @root, from memory.stat (0 without the key). */
static int read_inactive(const char *root, const char *path, bool v1, uint64_t *inactive)
{
	const char *key = v1 ? "\ntotal_inactive_file " : "\ninactive_file ";
	char buffer[8192];
	char *found;
	ssize_t n;
	int fd, err = 0;

	if (snprintf(buffer, sizeof(buffer), "%s%s/memory.stat", root, path) >= (int)sizeof(buffer))
		return -ENAMETOOLONG;
	fd = open(buffer, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A newline before the text lets the key match only at the start of a line. */
	buffer[0] = '\n';
	n = pread(fd, buffer + 1, sizeof(buffer) - 2, 0);
	if (n < 0) {
		err = -errno;
	} else {
		buffer[n + 1] = '\0';
		*inactive = 0;
		found = strstr(buffer, key);
		if (found)
			sscanf(found + strlen(key), "%" SCNu64, inactive);
	}
	close(fd);
	return err;
}

/*
 * The charge of @watch's cgroup: from the v2 controller where the parent
 * enabled it (memory.current exists), else from the v1 hierarchy; the one
 * that worked last time is tried first. Sets *@v1 to where it came from.
 */
static int read_charged(const struct memory_source *source, struct memory_watch *watch,
			uint64_t *charged, bool *v1)
{
	int err;

	if (!watch->v1) {
		err = read_number(source->v2_root, watch->path, "memory.current", charged);
		if (!err || !source->v1_root[0]) {
			*v1 = false;
			return err;
		}
	}
	err = read_number(source->v1_root, watch->path, "memory.usage_in_bytes", charged);
	if (!err) {
		watch->v1 = true;
		*v1 = true;
		return 0;
	}
	/* Not (or no longer) in v1: v2 once more, the first choice next time. */
	watch->v1 = false;
	*v1 = false;
	return read_number(source->v2_root, watch->path, "memory.current", charged) ? -ENOENT : 0;
}

static double idle_refresh_s(const struct memory_watcher *watcher)
{
	double spread_s = watcher->due_count / MEMORY_IDLE_READS_PER_S;

	return spread_s > MEMORY_IDLE_REFRESH_S ? spread_s : MEMORY_IDLE_REFRESH_S;
}

/*
 * The working set of @watch's cgroup into it: charged less inactive file
 * pages. @busy: its tenant ran since the last reading, so memory.stat is
 * read whatever the charge; an idle cgroup charged as before keeps its
 * working set. Schedules the next reading. True when has_bytes or bytes
 * changed.
 */
static bool read_memory(struct memory_watcher *watcher, struct memory_watch *watch, double now,
			double cpu_seconds, bool busy)
{
	const struct memory_source *source = watcher->source;
	bool had_bytes = watch->has_bytes, v1 = false;
	uint64_t old_bytes = watch->bytes, charged = 0, inactive = 0;
	int err;

	err = read_charged(source, watch, &charged, &v1);
	if (!err && (busy || !had_bytes || charged != watch->charged)) {
		err = read_inactive(v1 ? source->v1_root : source->v2_root, watch->path, v1,
				    &inactive);
		if (!err)
			watch->bytes = charged > inactive ? charged - inactive : 0;
	}
	watch->has_bytes = !err;
	if (err) {
		/* No memory controller for it (yet), or removed: its rmdir event is on the way. */
		watch->read_at = now + watch->retry_s;
		watch->retry_s = watch->retry_s * 2 < MEMORY_RETRY_MAX_S ? watch->retry_s * 2 :
									   MEMORY_RETRY_MAX_S;
	} else {
		watch->charged = charged;
		watch->cpu_seconds = cpu_seconds;
		watch->retry_s = MEMORY_RETRY_S;
		watch->read_at = now + idle_refresh_s(watcher) * (1 + (watch->id % 1000) / 1000.0);
	}
	return had_bytes != watch->has_bytes || old_bytes != watch->bytes;
}

/* Says once why some tenants have no huge-page gauge. */
static void log_no_hugetlb(struct memory_watcher *watcher, const struct memory_watch *watch)
{
	char path[PATH_MAX];

	if (watcher->huge_none_logged || !hugetlb_pool_count(watcher->hugetlb))
		return;
	/* A cgroup removed under us says nothing of the controller. */
	if (snprintf(path, sizeof(path), "%s%s", watcher->source->v2_root,
		     watch->path) >= (int)sizeof(path) || access(path, F_OK))
		return;
	watcher->huge_none_logged = true;
	pr_info("hugetlb: no hugetlb controller accounts cgroup %s (not in its v2 parent's "
		"cgroup.subtree_control, no v1 hugetlb hierarchy there): tenants in such "
		"cgroups have no huge-page gauge; abusewatch does not enable controllers",
		watch->path);
}

/*
 * The huge pages of @watch's cgroup into it (hugetlb.h). @check: make sure
 * the controller's files are still there even while the host has no huge
 * page in use (then a reading costs nothing else). A cgroup without the
 * controller is looked at again only after HUGETLB_RECHECK_S. True when
 * has_huge or huge_bytes changed.
 */
static bool read_huge(struct memory_watcher *watcher, struct memory_watch *watch, double now,
		      bool check)
{
	bool had_huge = watch->has_huge;
	uint64_t old_bytes = watch->huge_bytes, bytes = 0;
	int err;

	if (watch->huge_layout == HUGETLB_NONE && now < watch->huge_check_at)
		return false;
	err = hugetlb_read(watcher->hugetlb, watch->path, &watch->huge_layout, check, &bytes);
	watch->has_huge = !err;
	watch->huge_bytes = err ? 0 : bytes;
	if (err == -ENOENT) {
		watch->huge_check_at = now + HUGETLB_RECHECK_S;
		log_no_hugetlb(watcher, watch);
	}
	return had_huge != watch->has_huge || old_bytes != watch->huge_bytes;
}

/*
 * Memory and huge pages of @watch's cgroup. @busy: its tenant ran since
 * the last reading; a cgroup whose memory cannot be read waits for its
 * retry even then, while its huge pages (another controller) are read.
 */
static bool read_watch(struct memory_watcher *watcher, struct memory_watch *watch, double now,
		       double cpu_seconds, bool busy)
{
	bool changed = false;

	if (!busy || watch->has_bytes)
		changed = read_memory(watcher, watch, now, cpu_seconds, busy);
	changed |= read_huge(watcher, watch, now, !busy);
	watch->cpu_seconds = cpu_seconds;
	due_update(watcher, watch);
	return changed;
}

/* Worth reading when its tenant ran: something of it could be read last time. */
static bool watch_readable(const struct memory_watch *watch)
{
	return watch->has_bytes || watch->has_huge;
}

static bool watch_has_id(const struct hashtable_node *node, const void *id)
{
	return hashtable_entry(node, struct memory_watch, node)->id == *(const uint64_t *)id;
}

struct memory_watcher *memory_watcher_new(const char *v2_root, const char *mounts_file)
{
	return memory_watcher_new_at(v2_root, mounts_file, HUGETLB_POOLS_DIR);
}

struct memory_watcher *memory_watcher_new_at(const char *v2_root, const char *mounts_file,
					     const char *pools_dir)
{
	struct memory_watcher *watcher = calloc(1, sizeof(*watcher));

	if (!watcher)
		return NULL;
	watcher->source = memory_source_new(v2_root, mounts_file);
	watcher->hugetlb = hugetlb_source_new(v2_root, mounts_file, pools_dir);
	hashtable_init(&watcher->watches, watch_has_id);
	if (!watcher->source || !watcher->hugetlb) {
		memory_watcher_free(watcher);
		errno = ENOMEM;
		return NULL;
	}
	return watcher;
}

void memory_watcher_free(struct memory_watcher *watcher)
{
	if (!watcher)
		return;
	memory_watcher_clear(watcher);
	memory_source_free(watcher->source);
	hugetlb_source_free(watcher->hugetlb);
	free(watcher->due);
	free(watcher->by_row);
	free(watcher);
}

static struct memory_watch *find_watch(const struct memory_watcher *watcher, uint64_t id)
{
	return hashtable_entry(hashtable_find(&watcher->watches, idmap_hash(id), &id),
			       struct memory_watch, node);
}

static void drop_watch(struct memory_watcher *watcher, struct memory_watch *watch)
{
	hashtable_remove(&watcher->watches, &watch->node);
	due_remove(watcher, watch);
	free(watch);
	watcher->stale = true;
}

void memory_watcher_add(struct memory_watcher *watcher, uint64_t id, const char *path)
{
	struct memory_watch *watch = find_watch(watcher, id);
	size_t length = strlen(path);

	if (watch) {
		if (!strcmp(watch->path, path))
			return;
		/* Renamed: read at its new path, from scratch. */
		drop_watch(watcher, watch);
	}
	watch = calloc(1, sizeof(*watch) + length + 1);
	if (!watch)
		return;
	watch->id = id;
	watch->retry_s = MEMORY_RETRY_S;
	watch->row_index = NO_ROW;
	memcpy(watch->path, path, length + 1);
	if (due_add(watcher, watch)) {
		free(watch);
		return;
	}
	if (hashtable_insert(&watcher->watches, &watch->node, idmap_hash(id))) {
		due_remove(watcher, watch);
		free(watch);
		return;
	}
	/* Due at once (read_at 0), and in no row until the next full pass. */
	watcher->stale = true;
}

void memory_watcher_remove(struct memory_watcher *watcher, uint64_t id)
{
	struct memory_watch *watch = find_watch(watcher, id);

	if (watch)
		drop_watch(watcher, watch);
}

void memory_watcher_clear(struct memory_watcher *watcher)
{
	struct hashtable_node *node, *next;

	hashtable_for_each_safe(&watcher->watches, node, next)
		drop_watch(watcher, hashtable_entry(node, struct memory_watch, node));
	hashtable_shrink(&watcher->watches);
}

static void set_gauge(struct tenant_row *row, enum resource resource, bool has_value,
		      double value)
{
	if (row->has_value[resource] == has_value && row->value[resource] == value)
		return;
	row->has_value[resource] = has_value;
	row->value[resource] = value;
	row->unchanged = false;
}

/* Row @index's gauges: the sums of its cgroups' working sets and huge pages, if any was read. */
static void sum_row(struct memory_watcher *watcher, struct tenant_row *rows, size_t index)
{
	const struct memory_watch *watch;
	bool has_bytes = false, has_huge = false;
	double bytes = 0, huge_bytes = 0;

	for (watch = watcher->by_row[index]; watch; watch = watch->next_in_row) {
		if (watch->has_bytes) {
			has_bytes = true;
			bytes += watch->bytes;
		}
		if (watch->has_huge) {
			has_huge = true;
			huge_bytes += watch->huge_bytes;
		}
	}
	set_gauge(&rows[index], RESOURCE_MEMORY, has_bytes, bytes);
	set_gauge(&rows[index], RESOURCE_HUGEPAGES, has_huge, huge_bytes);
}

/*
 * Every watched cgroup to its tenant's row (forgetting those whose tenant
 * is gone); a busy one is read. 0, or -ENOMEM (then nothing is filled).
 */
static int full_pass(struct memory_watcher *watcher, struct tenant_set *tenants,
		     struct tenant_table *table, double now)
{
	struct memory_watch *watch, **by_row;
	struct hashtable_node *node, *next;
	struct tenant *tenant;

	if (table->count > watcher->by_row_capacity) {
		by_row = realloc(watcher->by_row, table->count * sizeof(*by_row));
		if (!by_row)
			return -ENOMEM;
		watcher->by_row = by_row;
		watcher->by_row_capacity = table->count;
	}
	if (table->count)
		memset(watcher->by_row, 0, table->count * sizeof(*watcher->by_row));
	hashtable_for_each_safe(&watcher->watches, node, next) {
		watch = hashtable_entry(node, struct memory_watch, node);
		tenant = tenant_set_of_cgroup(tenants, watch->id);
		if (!tenant) {
			drop_watch(watcher, watch);
			continue;
		}
		watch->row_index = NO_ROW;
		if (!tenant->row || tenant->row < table->rows ||
		    tenant->row >= table->rows + table->count)
			continue;
		watch->row_index = tenant->row - table->rows;
		watch->next_in_row = watcher->by_row[watch->row_index];
		watcher->by_row[watch->row_index] = watch;
		/* A failed reading waits for its retry, busy or not. */
		if (watch_readable(watch) && tenant->row->value[RESOURCE_CPU] != watch->cpu_seconds)
			read_watch(watcher, watch, now, tenant->row->value[RESOURCE_CPU], true);
	}
	watcher->rows = table->rows;
	watcher->row_count = table->count;
	watcher->stale = false;
	return 0;
}

/*
 * The host's huge pages in use, once a tick. When the last one is freed,
 * no cgroup holds any: every reading goes to 0 at once, without a read.
 */
static void huge_refresh(struct memory_watcher *watcher, struct tenant_row *rows, size_t count,
			 bool full)
{
	bool was_in_use = watcher->huge_in_use;
	struct hashtable_node *node, *next;
	struct memory_watch *watch;

	watcher->huge_in_use = hugetlb_source_refresh(watcher->hugetlb);
	if (!was_in_use || watcher->huge_in_use)
		return;
	hashtable_for_each_safe(&watcher->watches, node, next) {
		watch = hashtable_entry(node, struct memory_watch, node);
		if (!watch->huge_bytes)
			continue;
		watch->huge_bytes = 0;
		if (!full && watch->row_index < count)
			sum_row(watcher, rows, watch->row_index);
	}
}

bool memory_watcher_hugepages_in_use(const struct memory_watcher *watcher)
{
	return watcher->huge_in_use;
}

void memory_watcher_fill_rows(struct memory_watcher *watcher, struct tenant_set *tenants,
			      struct tenant_table *table)
{
	double now = clock_monotonic(), cpu_seconds;
	struct tenant_row *rows = table->rows;
	struct memory_watch *watch;
	bool full;
	size_t i;

	full = table->remade || watcher->stale || watcher->rows != rows ||
	       watcher->row_count != table->count;
	huge_refresh(watcher, rows, table->count, full);
	if (full) {
		if (full_pass(watcher, tenants, table, now)) {
			watcher->rows = NULL;
			return;
		}
	} else {
		/* The rows this tick refreshed: their tenants may have run. */
		for (i = 0; i < table->refreshed_count; i++) {
			size_t index = table->refreshed[i];
			bool changed = false;

			cpu_seconds = rows[index].value[RESOURCE_CPU];
			for (watch = watcher->by_row[index]; watch; watch = watch->next_in_row)
				if (watch_readable(watch) && cpu_seconds != watch->cpu_seconds)
					changed |= read_watch(watcher, watch, now, cpu_seconds, true);
			if (changed)
				sum_row(watcher, rows, index);
		}
	}
	/* Whatever comes due, busy or not. */
	while (watcher->due_count && (watch = watcher->due[0])->read_at <= now) {
		bool in_row = watch->row_index < table->count;

		cpu_seconds = in_row ? rows[watch->row_index].value[RESOURCE_CPU] : 0;
		if (read_watch(watcher, watch, now, cpu_seconds, false) && in_row && !full)
			sum_row(watcher, rows, watch->row_index);
	}
	if (full)
		for (i = 0; i < table->count; i++)
			sum_row(watcher, rows, i);
}
