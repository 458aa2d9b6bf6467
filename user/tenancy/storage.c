// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/openat2.h>
#include <linux/quota.h>

#include "clock.h"
#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "storage.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

/* From linux/ioprio.h, which older systems lack. With who 0: the calling thread. */
#define IOPRIO_WHO_THREAD 1
#define IOPRIO_IDLE_VALUE (3 << 13)

#define MAX_DEPTH 1024
#define DIRENT_BUFFER_SIZE 8192
#define DEFAULT_SLICE_ENTRIES 1024
/* A throttle pause is slept in steps this long, so that a stop is seen soon. */
#define PAUSE_STEP_S 0.02

#define DEFAULT_INTERVAL_S 60.0
#define DEFAULT_CPU_BUDGET 0.01
#define DEFAULT_DUTY_CYCLE 0.25
/* A due time further away than this is waited for in steps (and fits a time_t). */
#define LONGEST_WAIT_S 3600.0

/*
 * A path's outcome: 0 walked, STATUS_QUOTA read from its project quota,
 * -errno, or STATUS_UNKNOWN before its first pass (neither fine nor an
 * error yet).
 */
#define STATUS_QUOTA 1
#define STATUS_UNKNOWN 2

/* Entries come in blocks: a tree of hard links (a backup) may hold millions. */
#define INODE_BLOCK_ENTRIES 1024

struct inode_key {
	uint64_t dev;
	uint64_t ino;
};

struct inode_entry {
	struct hashtable_node node;
	struct inode_key key;
};

struct inode_block {
	struct inode_block *next;
	size_t used;
	struct inode_entry entries[INODE_BLOCK_ENTRIES];
};

struct inode_set {
	struct hashtable table;
	struct inode_block *blocks;	/* the newest first */
};

struct dir_frame {
	int fd;
	char *buffer;		/* kept for the next directory at this depth once popped */
	long length;
	long offset;
};

struct root {
	const char *path;
	int status;		/* 0, or -errno from opening it */
	int fd;			/* -1 once handed to the walk, or when not measured */
	bool measured;		/* false: missing, failed, or the same as an earlier root */
	uint64_t dev;
	uint64_t ino;
	uint64_t mnt_id;
	bool has_mnt_id;
};

struct measure {
	const struct storage_throttle *throttle;
	unsigned int slice_entries;
	unsigned int slice_done;
	double slice_cpu_start;
	struct storage_usage *usage;
	struct inode_set linked;	/* non-directories with several links */
	struct inode_set projects;	/* (dev, project id) already counted */
	struct root *roots;
	size_t root_count;
	struct dir_frame *frames;
	size_t frame_capacity;
	size_t depth;
	size_t max_depth;
	bool depth_logged;
};

static uint64_t statx_dev(const struct statx *stx)
{
	return (uint64_t)stx->stx_dev_major << 32 | stx->stx_dev_minor;
}

static bool inode_entry_is(const struct hashtable_node *node, const void *key)
{
	return !memcmp(&hashtable_entry(node, struct inode_entry, node)->key, key,
		       sizeof(struct inode_key));
}

static void inode_set_init(struct inode_set *set)
{
	hashtable_init(&set->table, inode_entry_is);
	set->blocks = NULL;
}

/* 1 when added, 0 when it was there already, or -ENOMEM. */
static int inode_set_add(struct inode_set *set, uint64_t dev, uint64_t ino)
{
	const struct inode_key key = { .dev = dev, .ino = ino };
	uint64_t hash = hash_bytes(hash_key_process(), &key, sizeof(key));
	struct inode_block *block = set->blocks;
	struct inode_entry *entry;

	if (hashtable_find(&set->table, hash, &key))
		return 0;
	if (!block || block->used == INODE_BLOCK_ENTRIES) {
		block = malloc(sizeof(*block));
		if (!block)
			return -ENOMEM;
		block->used = 0;
		block->next = set->blocks;
		set->blocks = block;
	}
	entry = &block->entries[block->used];
	entry->key = key;
	if (hashtable_insert(&set->table, &entry->node, hash))
		return -ENOMEM;
	block->used++;
	return 1;
}

static void inode_set_free(struct inode_set *set)
{
	struct inode_block *block;

	while ((block = set->blocks)) {
		set->blocks = block->next;
		free(block);
	}
	hashtable_release(&set->table, NULL);
}

/* Without openat2: one component at a time, none of them allowed to be a symlink. */
static int open_without_symlinks(const char *path)
{
	const int step_flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char component[NAME_MAX + 1];
	const char *next = path, *end;
	struct stat st;
	int dirfd, fd, err;

	dirfd = open(*path == '/' ? "/" : ".", step_flags);
	if (dirfd < 0)
		return -errno;
	for (;;) {
		while (*next == '/')
			next++;
		if (!*next)
			break;
		end = strchrnul(next, '/');
		if (end - next > NAME_MAX) {
			err = -ENAMETOOLONG;
			goto close_dir;
		}
		memcpy(component, next, end - next);
		component[end - next] = '\0';
		fd = openat(dirfd, component, step_flags);
		if (fd < 0) {
			err = -errno;
			/* O_NOFOLLOW with O_DIRECTORY refuses a symlink as "not a directory". */
			if (err == -ENOTDIR &&
			    !fstatat(dirfd, component, &st, AT_SYMLINK_NOFOLLOW) &&
			    S_ISLNK(st.st_mode))
				err = -ELOOP;
			goto close_dir;
		}
		close(dirfd);
		dirfd = fd;
		next = end;
	}
	/* O_PATH cannot be read from: the same directory again, for reading. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : fd;

close_dir:
	close(dirfd);
	return err;
}

/* A directory, reached without following any symlink: an fd, or -errno. */
static int open_root(const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	/* Before 5.6, or behind a seccomp filter that answers EPERM to unknown syscalls. */
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	return open_without_symlinks(path);
}

static int project_usage(int fd, uint32_t *project, uint64_t *bytes)
{
	struct if_dqblk quota = {0};
	struct fsxattr attr;

	if (ioctl(fd, FS_IOC_FSGETXATTR, &attr)) {
		/* A file system without the ioctl has no project ids at all. */
		if (errno == ENOTTY || errno == EOPNOTSUPP)
			return -ENODATA;
		return -errno;
	}
	/* Without the inherit flag, new files below would not be in the project. */
	if (!attr.fsx_projid || !(attr.fsx_xflags & FS_XFLAG_PROJINHERIT))
		return -ENODATA;
	if (syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, PRJQUOTA), attr.fsx_projid, &quota))
		return -errno;
	if (!(quota.dqb_valid & QIF_SPACE))
		return -ENODATA;
	*project = attr.fsx_projid;
	*bytes = quota.dqb_curspace;
	return 0;
}

int storage_project_bytes(const char *path, uint64_t *bytes)
{
	uint32_t project;
	int fd, err;

	fd = open_root(path);
	if (fd < 0)
		return fd;
	err = project_usage(fd, &project, bytes);
	close(fd);
	return err;
}

static bool stop_requested(const struct storage_throttle *throttle)
{
	return throttle && throttle->stop && *throttle->stop;
}

static int pause_for(double seconds, const struct storage_throttle *throttle)
{
	struct timespec step;
	double length;

	while (seconds > 0) {
		if (stop_requested(throttle))
			return -ECANCELED;
		length = seconds < PAUSE_STEP_S ? seconds : PAUSE_STEP_S;
		step = clock_timespec(length);
		nanosleep(&step, NULL);
		seconds -= length;
	}
	return stop_requested(throttle) ? -ECANCELED : 0;
}

/* Between slices: the stop flag, then a pause that keeps the CPU share at the duty cycle. */
static int end_slice(struct measure *m)
{
	const struct storage_throttle *throttle = m->throttle;
	double duty, used;
	int err;

	if (stop_requested(throttle))
		return -ECANCELED;
	duty = throttle ? throttle->duty_cycle : 0;
	if (duty <= 0 || duty >= 1)
		return 0;
	used = clock_cpu(CLOCK_THREAD_CPUTIME_ID) - m->slice_cpu_start;
	err = pause_for(used * (1 - duty) / duty, throttle);
	m->slice_cpu_start = clock_cpu(CLOCK_THREAD_CPUTIME_ID);
	return err;
}

static int stat_at(int dirfd, const char *name, int flags, struct statx *stx)
{
	flags |= AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC;
	if (statx(dirfd, name, flags,
		  STATX_TYPE | STATX_NLINK | STATX_INO | STATX_BLOCKS | STATX_MNT_ID, stx))
		return -errno;
	return 0;
}

/* Another device, or the same one mounted again (a bind mount): another mount either way. */
static bool on_root_mount(const struct root *root, const struct statx *stx)
{
	if (statx_dev(stx) != root->dev)
		return false;
	return !root->has_mnt_id || !(stx->stx_mask & STATX_MNT_ID) ||
	       stx->stx_mnt_id == root->mnt_id;
}

/* One of the paths measured, reached from another: counted once, by its own walk or quota. */
static bool is_a_root(const struct measure *m, const struct statx *stx)
{
	size_t i;

	for (i = 0; i < m->root_count; i++)
		if (m->roots[i].measured && m->roots[i].dev == statx_dev(stx) &&
		    m->roots[i].ino == stx->stx_ino)
			return true;
	return false;
}

/* Takes @fd: on failure it is closed. */
static int push_dir(struct measure *m, int fd)
{
	struct dir_frame *frames, *frame;
	size_t capacity;

	if (m->depth == m->frame_capacity) {
		capacity = m->frame_capacity ? m->frame_capacity * 2 : 16;
		frames = realloc(m->frames, capacity * sizeof(*frames));
		if (!frames)
			goto fail;
		memset(frames + m->frame_capacity, 0,
		       (capacity - m->frame_capacity) * sizeof(*frames));
		m->frames = frames;
		m->frame_capacity = capacity;
	}
	frame = &m->frames[m->depth];
	if (!frame->buffer) {
		frame->buffer = malloc(DIRENT_BUFFER_SIZE);
		if (!frame->buffer)
			goto fail;
	}
	frame->fd = fd;
	frame->length = frame->offset = 0;
	m->depth++;
	return 0;

fail:
	close(fd);
	return -ENOMEM;
}

static void pop_dir(struct measure *m)
{
	close(m->frames[--m->depth].fd);
}

static int enter_dir(struct measure *m, const struct root *root, int dirfd, const char *name,
		     const struct statx *seen)
{
	struct statx opened;
	int fd;

	if (m->depth >= m->max_depth) {
		m->usage->errors++;
		if (!m->depth_logged)
			pr_debug("storage: %s: directories more than %zu deep are not entered",
				 root->path, m->max_depth);
		m->depth_logged = true;
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			m->usage->errors++;
		return 0;
	}
	/* The name may have been replaced since it was counted (a mount, say): enter only that. */
	if (stat_at(fd, "", AT_EMPTY_PATH, &opened) || statx_dev(&opened) != statx_dev(seen) ||
	    opened.stx_ino != seen->stx_ino || !on_root_mount(root, &opened)) {
		close(fd);
		m->usage->errors++;
		return 0;
	}
	return push_dir(m, fd);
}

/* 0, or -ECANCELED / -ENOMEM, which end the whole measure. */
static int count_entry(struct measure *m, const struct root *root, int dirfd, const char *name)
{
	struct statx stx;
	int err;

	if (++m->slice_done >= m->slice_entries) {
		m->slice_done = 0;
		err = end_slice(m);
		if (err)
			return err;
	}
	err = stat_at(dirfd, name, 0, &stx);
	if (err) {
		/* Gone since it was listed: nothing to count, nothing wrong. */
		if (err != -ENOENT)
			m->usage->errors++;
		return 0;
	}
	/* Another path of this call: its own walk counts it. */
	if (S_ISDIR(stx.stx_mode) && is_a_root(m, &stx))
		return 0;
	m->usage->entries++;
	if (!S_ISDIR(stx.stx_mode)) {
		if (stx.stx_nlink > 1) {
			/* 0: another name of a file counted already. */
			err = inode_set_add(&m->linked, statx_dev(&stx), stx.stx_ino);
			if (err <= 0)
				return err;
		}
		m->usage->bytes += stx.stx_blocks * 512;
		return 0;
	}
	/* Its blocks, too, belong to the other file system. */
	if (!on_root_mount(root, &stx)) {
		m->usage->skipped_mounts++;
		return 0;
	}
	m->usage->bytes += stx.stx_blocks * 512;
	return enter_dir(m, root, dirfd, name, &stx);
}

static int walk_root(struct measure *m, struct root *root, uint64_t blocks)
{
	struct dirent64 *entry;
	struct dir_frame *frame;
	const char *name;
	ssize_t length;
	int err;

	m->usage->entries++;
	m->usage->bytes += blocks * 512;
	err = push_dir(m, root->fd);
	root->fd = -1;
	if (err)
		return err;
	while (m->depth) {
		frame = &m->frames[m->depth - 1];
		if (frame->offset >= frame->length) {
			length = getdents64(frame->fd, frame->buffer, DIRENT_BUFFER_SIZE);
			if (length <= 0) {
				if (length < 0)
					m->usage->errors++;
				pop_dir(m);
				continue;
			}
			frame->length = length;
			frame->offset = 0;
		}
		entry = (struct dirent64 *)(frame->buffer + frame->offset);
		frame->offset += entry->d_reclen;
		name = entry->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		err = count_entry(m, root, frame->fd, name);
		if (err)
			return err;
	}
	return 0;
}

static int measure_root(struct measure *m, struct root *root, uint64_t blocks)
{
	uint32_t project;
	uint64_t bytes;
	int added;

	if (!project_usage(root->fd, &project, &bytes)) {
		m->usage->quota_paths++;
		root->status = STATUS_QUOTA;
		added = inode_set_add(&m->projects, root->dev, project);
		if (added < 0)
			return added;
		if (added)
			m->usage->bytes += bytes;
		return 0;
	}
	return walk_root(m, root, blocks);
}

/* Half the descriptor table at most: the agent's other threads need descriptors too. */
static size_t depth_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) || limit.rlim_cur == RLIM_INFINITY ||
	    limit.rlim_cur / 2 >= MAX_DEPTH)
		return MAX_DEPTH;
	return limit.rlim_cur / 2 > 16 ? limit.rlim_cur / 2 : 16;
}

static void open_roots(struct measure *m, const char *const *paths, uint64_t *blocks)
{
	struct root *root;
	struct statx stx;
	size_t i, j;
	int err;

	for (i = 0; i < m->root_count; i++) {
		root = &m->roots[i];
		root->path = paths[i];
		root->fd = open_root(paths[i]);
		if (root->fd < 0) {
			root->status = root->fd;
			continue;
		}
		err = stat_at(root->fd, "", AT_EMPTY_PATH, &stx);
		if (err) {
			root->status = err;
			close(root->fd);
			root->fd = -1;
			continue;
		}
		root->dev = statx_dev(&stx);
		root->ino = stx.stx_ino;
		root->mnt_id = stx.stx_mnt_id;
		root->has_mnt_id = stx.stx_mask & STATX_MNT_ID;
		blocks[i] = stx.stx_blocks;
		root->measured = true;
		for (j = 0; j < i; j++)
			if (m->roots[j].measured && m->roots[j].dev == root->dev &&
			    m->roots[j].ino == root->ino)
				root->measured = false;
		if (!root->measured) {
			close(root->fd);
			root->fd = -1;
		}
	}
}

/*
 * storage_measure, telling also what became of each path in @statuses: 0 (walked),
 * STATUS_QUOTA, -ENOENT for a path that does not exist, or the error that kept it from
 * being measured. On -ECANCELED
 * or -ENOMEM the statuses of the paths not reached yet are 0.
 */
static int measure_paths(const char *const *paths, size_t count,
			 const struct storage_throttle *throttle, struct storage_usage *out,
			 int *statuses)
{
	struct measure m = {
		.throttle = throttle,
		.usage = out,
		.root_count = count,
		.max_depth = depth_limit(),
	};
	uint64_t *blocks = NULL;
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	inode_set_init(&m.linked);
	inode_set_init(&m.projects);
	m.slice_entries = throttle && throttle->slice_entries ? throttle->slice_entries
							      : DEFAULT_SLICE_ENTRIES;
	m.slice_cpu_start = clock_cpu(CLOCK_THREAD_CPUTIME_ID);
	m.roots = calloc(count ? count : 1, sizeof(*m.roots));
	blocks = calloc(count ? count : 1, sizeof(*blocks));
	if (!m.roots || !blocks) {
		err = -ENOMEM;
		goto cleanup;
	}
	open_roots(&m, paths, blocks);
	for (i = 0; i < count; i++) {
		if (m.roots[i].fd < 0)
			continue;
		if (stop_requested(throttle)) {
			err = -ECANCELED;
			goto cleanup;
		}
		err = measure_root(&m, &m.roots[i], blocks[i]);
		if (err)
			goto cleanup;
	}
	for (i = 0; i < count && !err; i++)
		if (m.roots[i].status < 0 && m.roots[i].status != -ENOENT)
			err = m.roots[i].status;

cleanup:
	for (i = 0; statuses && i < count; i++)
		statuses[i] = m.roots ? m.roots[i].status : 0;
	while (m.depth)
		pop_dir(&m);
	for (i = 0; i < m.frame_capacity; i++)
		free(m.frames[i].buffer);
	free(m.frames);
	for (i = 0; m.roots && i < count; i++)
		if (m.roots[i].fd >= 0)
			close(m.roots[i].fd);
	free(m.roots);
	free(blocks);
	inode_set_free(&m.linked);
	inode_set_free(&m.projects);
	return err;
}

int storage_measure(const char *const *paths, size_t count, const struct storage_throttle *throttle,
		    struct storage_usage *out)
{
	return measure_paths(paths, count, throttle, out, NULL);
}

struct target_path {
	char *path;
	int status;		/* the last complete pass's outcome, or STATUS_UNKNOWN */
};

struct scan_target {
	char *tenant;
	struct target_path *paths;
	size_t path_count;
	uint64_t id;		/* new when new or changed: a result goes to the id it measured */
	bool has_figure;
	uint64_t bytes;
	bool due_now;
	bool has_run;
	double last_start;
	double last_end;
	double last_cpu;
	uint64_t done_seq;	/* the sequence number of the last pass stored */
};

struct storage_scanner {
	pthread_t thread;
	clockid_t thread_clock;
	bool has_thread_clock;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* to the thread: targets, options or stop changed */
	pthread_cond_t done;	/* from the thread: a pass ended */
	struct storage_options options;
	struct scan_target *targets;	/* sorted by tenant, no tenant twice */
	size_t target_count;
	uint64_t next_id;
	uint64_t pass_seq;	/* passes started */
	uint64_t running_id;	/* the target being measured, 0 when none */
	volatile bool stopping;
	volatile bool abandon;	/* the pass in progress is not wanted any more */
	uint64_t passes;
	uint64_t entries;
	/* No pass starts before this: the last one's CPU time paid off at cpu_budget. */
	double budget_ready_at;
	/* The caller's thread only: the tenant set generation targets came from. */
	bool has_rows_generation;
	uint64_t rows_generation;
};

/* One pass, copied out of the lock. */
struct pass {
	uint64_t target_id;
	uint64_t seq;
	char *tenant;
	char **paths;
	size_t path_count;
	int *statuses;
	int *previous;		/* the statuses before this pass, for the log */
	bool stored;
	int err;
	double duty_cycle;
	struct storage_usage usage;
	double start;
	double end;
	double cpu;
};

static void normalize_options(const struct storage_options *in, struct storage_options *out)
{
	out->interval_s = in && in->interval_s > 0 ? in->interval_s : DEFAULT_INTERVAL_S;
	out->cpu_budget = in && in->cpu_budget > 0 ? in->cpu_budget : DEFAULT_CPU_BUDGET;
	out->duty_cycle = in && in->duty_cycle > 0 ? in->duty_cycle : DEFAULT_DUTY_CYCLE;
	if (out->duty_cycle > 1)
		out->duty_cycle = 1;
}

static void free_target(struct scan_target *target)
{
	size_t i;

	for (i = 0; target->paths && i < target->path_count; i++)
		free(target->paths[i].path);
	free(target->paths);
	free(target->tenant);
}

static void free_targets(struct scan_target *targets, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free_target(&targets[i]);
	free(targets);
}

static int compare_tenants(const void *a, const void *b)
{
	const struct scan_target *left = a, *right = b;

	return strcmp(left->tenant, right->tenant);
}

static int compare_targets(const void *a, const void *b)
{
	const struct scan_target *left = a, *right = b;
	int order = compare_tenants(a, b);

	/* The id holds the input order here: of a tenant given twice, the first one stays. */
	if (order)
		return order;
	return left->id < right->id ? -1 : left->id > right->id;
}

static struct scan_target *find_target(struct scan_target *targets, size_t count,
				       const char *tenant)
{
	struct scan_target key = { .tenant = (char *)tenant };

	if (!count)
		return NULL;
	return bsearch(&key, targets, count, sizeof(key), compare_tenants);
}

static int copy_target(const struct storage_target *in, struct scan_target *out, size_t order)
{
	size_t i;

	out->id = order;
	out->due_now = true;
	out->tenant = strdup(in->tenant);
	out->paths = calloc(in->path_count ? in->path_count : 1, sizeof(*out->paths));
	if (!out->tenant || !out->paths)
		return -ENOMEM;
	out->path_count = in->path_count;
	for (i = 0; i < in->path_count; i++) {
		out->paths[i].status = STATUS_UNKNOWN;
		out->paths[i].path = strdup(in->paths[i]);
		if (!out->paths[i].path)
			return -ENOMEM;
	}
	return 0;
}

static bool same_paths(const struct scan_target *a, const struct scan_target *b)
{
	size_t i;

	if (a->path_count != b->path_count)
		return false;
	for (i = 0; i < a->path_count; i++)
		if (strcmp(a->paths[i].path, b->paths[i].path))
			return false;
	return true;
}

/*
 * A tenant kept with the same paths keeps its figure and schedule. One with other paths starts
 * afresh, but its paths seen before keep their last outcome, so as not to be logged again.
 */
static void adopt_state(struct storage_scanner *scanner, struct scan_target *target,
			const struct scan_target *old)
{
	size_t i, j;

	if (old && same_paths(old, target)) {
		target->id = old->id;
		target->has_figure = old->has_figure;
		target->bytes = old->bytes;
		target->due_now = old->due_now;
		target->has_run = old->has_run;
		target->last_start = old->last_start;
		target->last_end = old->last_end;
		target->last_cpu = old->last_cpu;
		target->done_seq = old->done_seq;
		for (i = 0; i < target->path_count; i++)
			target->paths[i].status = old->paths[i].status;
		return;
	}
	target->id = ++scanner->next_id;
	for (i = 0; old && i < target->path_count; i++)
		for (j = 0; j < old->path_count; j++)
			if (!strcmp(target->paths[i].path, old->paths[j].path))
				target->paths[i].status = old->paths[j].status;
}

int storage_scanner_set_targets(struct storage_scanner *scanner,
				const struct storage_target *targets, size_t count)
{
	struct scan_target *fresh, *old_targets, *old;
	size_t i, kept = 0, old_count;
	bool running_kept = false;
	int err;

	fresh = calloc(count ? count : 1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		err = copy_target(&targets[i], &fresh[i], i);
		if (err) {
			free_targets(fresh, i + 1);
			return err;
		}
	}
	qsort(fresh, count, sizeof(*fresh), compare_targets);
	for (i = 0; i < count; i++) {
		if (kept && !compare_tenants(&fresh[kept - 1], &fresh[i])) {
			free_target(&fresh[i]);
			continue;
		}
		fresh[kept++] = fresh[i];
	}

	pthread_mutex_lock(&scanner->lock);
	for (i = 0; i < kept; i++) {
		old = find_target(scanner->targets, scanner->target_count, fresh[i].tenant);
		adopt_state(scanner, &fresh[i], old);
		if (fresh[i].id == scanner->running_id)
			running_kept = true;
	}
	/* Its result would have nowhere to go. */
	if (scanner->running_id && !running_kept)
		scanner->abandon = true;
	old_targets = scanner->targets;
	old_count = scanner->target_count;
	scanner->targets = fresh;
	scanner->target_count = kept;
	pthread_cond_broadcast(&scanner->wake);
	pthread_cond_broadcast(&scanner->done);
	pthread_mutex_unlock(&scanner->lock);

	free_targets(old_targets, old_count);
	return 0;
}

void storage_scanner_set_options(struct storage_scanner *scanner,
				 const struct storage_options *options)
{
	pthread_mutex_lock(&scanner->lock);
	normalize_options(options, &scanner->options);
	pthread_cond_broadcast(&scanner->wake);
	pthread_mutex_unlock(&scanner->lock);
	/* A reload: a new tenant set counts its generations afresh. */
	scanner->has_rows_generation = false;
}

int storage_scanner_get(struct storage_scanner *scanner, const char *tenant, uint64_t *bytes)
{
	struct scan_target *target;
	int err = 0;

	pthread_mutex_lock(&scanner->lock);
	target = find_target(scanner->targets, scanner->target_count, tenant);
	if (!target)
		err = -ENOENT;
	else if (!target->has_figure)
		err = -EAGAIN;
	else
		*bytes = target->bytes;
	pthread_mutex_unlock(&scanner->lock);
	return err;
}

void storage_scanner_stats(struct storage_scanner *scanner, struct storage_stats *out)
{
	pthread_mutex_lock(&scanner->lock);
	out->passes = scanner->passes;
	out->entries = scanner->entries;
	pthread_mutex_unlock(&scanner->lock);
	out->cpu_seconds = scanner->has_thread_clock ? clock_cpu(scanner->thread_clock) : 0;
}

static int wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, double deadline)
{
	double latest = clock_monotonic() + LONGEST_WAIT_S;
	struct timespec at;

	if (deadline > latest)
		deadline = latest;
	at = clock_timespec(deadline);
	return pthread_cond_timedwait(cond, lock, &at);
}

static bool all_measured_since(const struct storage_scanner *scanner, uint64_t seq)
{
	size_t i;

	for (i = 0; i < scanner->target_count; i++)
		if (scanner->targets[i].done_seq <= seq)
			return false;
	return true;
}

int storage_scanner_wait(struct storage_scanner *scanner, double timeout_s)
{
	double deadline = clock_monotonic() + (timeout_s > 0 ? timeout_s : 0);
	uint64_t started;
	int err = 0;
	size_t i;

	pthread_mutex_lock(&scanner->lock);
	started = scanner->pass_seq;
	for (i = 0; i < scanner->target_count; i++)
		scanner->targets[i].due_now = true;
	pthread_cond_broadcast(&scanner->wake);
	while (!all_measured_since(scanner, started)) {
		if (clock_monotonic() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		wait_until(&scanner->done, &scanner->lock, deadline);
	}
	pthread_mutex_unlock(&scanner->lock);
	return err;
}

/*
 * The budget is the scanner's, not each tenant's: however many tenants
 * there are, walks take at most cpu_budget of a core on average.
 */
static double due_time(const struct storage_scanner *scanner, const struct scan_target *target)
{
	double after_interval = 0;

	if (!target->due_now && target->has_run)
		after_interval = target->last_start + scanner->options.interval_s;
	return after_interval > scanner->budget_ready_at ? after_interval
							 : scanner->budget_ready_at;
}

static struct scan_target *next_target(struct storage_scanner *scanner, double *due)
{
	struct scan_target *soonest = NULL;
	double when;
	size_t i;

	for (i = 0; i < scanner->target_count; i++) {
		when = due_time(scanner, &scanner->targets[i]);
		if (!soonest || when < *due) {
			soonest = &scanner->targets[i];
			*due = when;
		}
	}
	return soonest;
}

static void free_pass(struct pass *pass)
{
	size_t i;

	for (i = 0; pass->paths && i < pass->path_count; i++)
		free(pass->paths[i]);
	free(pass->paths);
	free(pass->statuses);
	free(pass->previous);
	free(pass->tenant);
	memset(pass, 0, sizeof(*pass));
}

/* Under the lock: a copy of what to measure, so that the targets can change meanwhile. */
static int begin_pass(struct storage_scanner *scanner, struct scan_target *target,
		      struct pass *pass)
{
	size_t count = target->path_count, i;

	memset(pass, 0, sizeof(*pass));
	pass->tenant = strdup(target->tenant);
	pass->paths = calloc(count ? count : 1, sizeof(*pass->paths));
	pass->statuses = calloc(count ? count : 1, sizeof(*pass->statuses));
	pass->previous = calloc(count ? count : 1, sizeof(*pass->previous));
	if (!pass->tenant || !pass->paths || !pass->statuses || !pass->previous)
		return -ENOMEM;
	pass->path_count = count;
	for (i = 0; i < count; i++) {
		pass->paths[i] = strdup(target->paths[i].path);
		if (!pass->paths[i])
			return -ENOMEM;
	}
	pass->target_id = target->id;
	pass->seq = ++scanner->pass_seq;
	pass->duty_cycle = scanner->options.duty_cycle;
	target->due_now = false;
	scanner->running_id = target->id;
	scanner->abandon = scanner->stopping;
	return 0;
}

static void run_pass(struct storage_scanner *scanner, struct pass *pass)
{
	struct storage_throttle throttle = {
		.duty_cycle = pass->duty_cycle,
		.stop = &scanner->abandon,
	};
	double cpu_start = clock_cpu(CLOCK_THREAD_CPUTIME_ID);

	pass->start = clock_monotonic();
	pass->err = measure_paths((const char *const *)pass->paths, pass->path_count, &throttle,
				  &pass->usage, pass->statuses);
	pass->end = clock_monotonic();
	pass->cpu = clock_cpu(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
}

/* Under the lock: the result to its target, unless the target changed or the pass failed. */
static void finish_pass(struct storage_scanner *scanner, struct pass *pass)
{
	struct scan_target *target;
	size_t i;

	scanner->entries += pass->usage.entries;
	scanner->running_id = 0;
	scanner->budget_ready_at = pass->end + pass->cpu / scanner->options.cpu_budget;
	pthread_cond_broadcast(&scanner->done);
	target = find_target(scanner->targets, scanner->target_count, pass->tenant);
	if (!target || target->id != pass->target_id)
		return;
	target->has_run = true;
	target->last_start = pass->start;
	target->last_end = pass->end;
	target->last_cpu = pass->cpu;
	if (pass->err == -ECANCELED || pass->err == -ENOMEM)
		return;
	target->has_figure = true;
	target->bytes = pass->usage.bytes;
	target->done_seq = pass->seq;
	scanner->passes++;
	for (i = 0; i < pass->path_count; i++) {
		pass->previous[i] = target->paths[i].status;
		target->paths[i].status = pass->statuses[i];
	}
	pass->stored = true;
}

static const char *problem_of(int err)
{
	switch (err) {
	case -ELOOP:
		return "is a symlink, not followed";
	case -ENOTDIR:
		return "is not a directory";
	case -EACCES:
	case -EPERM:
		return "cannot be read";
	default:
		return "cannot be measured";
	}
}

/* Changes only: a path that stays broken is not logged again each pass. */
static void report_path(const char *tenant, const char *path, int before, int now)
{
	if (now == before)
		return;
	if (now == -ENOENT) {
		if (!before)
			pr_warn("storage: tenant %s: %s: has vanished (counted as 0)", tenant,
				path);
		else
			pr_info("storage: tenant %s: %s: does not exist yet: counted as 0", tenant,
				path);
	} else if (now < 0) {
		pr_warn("storage: tenant %s: %s: %s (%s; counted as 0)", tenant, path,
			problem_of(now), strerror(-now));
	} else if (before == -ENOENT) {
		pr_info("storage: tenant %s: %s: exists now", tenant, path);
	} else if (before < 0) {
		pr_info("storage: tenant %s: %s: readable again", tenant, path);
	}
	if (now == STATUS_QUOTA && before != STATUS_QUOTA)
		pr_info("storage: tenant %s: %s: read from its project quota", tenant, path);
	else if (now == 0 && before == STATUS_QUOTA)
		pr_info("storage: tenant %s: %s: walked (no project quota any more)", tenant,
			path);
}

static void report_pass(const struct pass *pass)
{
	size_t i;

	for (i = 0; pass->stored && i < pass->path_count; i++)
		report_path(pass->tenant, pass->paths[i], pass->previous[i], pass->statuses[i]);
	pr_debug("storage: tenant %s: %s%" PRIu64 " bytes, %" PRIu64 " entries, %" PRIu64
		 " errors, %" PRIu64 " mounts skipped, %" PRIu64
		 " paths by quota, %.3f s CPU in %.3f s",
		 pass->tenant, pass->stored ? "" : "pass abandoned: ", pass->usage.bytes,
		 pass->usage.entries, pass->usage.errors, pass->usage.skipped_mounts,
		 pass->usage.quota_paths, pass->cpu, pass->end - pass->start);
}

/* Failures are harmless: the throttle bounds the cost anyway. */
static void lower_priority(void)
{
	struct sched_param param = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
	syscall(SYS_ioprio_set, IOPRIO_WHO_THREAD, 0, IOPRIO_IDLE_VALUE);
}

static void *scanner_main(void *arg)
{
	struct storage_scanner *scanner = arg;
	struct scan_target *target;
	struct pass pass;
	double due = 0, now;

	lower_priority();
	pthread_mutex_lock(&scanner->lock);
	while (!scanner->stopping) {
		target = next_target(scanner, &due);
		if (!target) {
			pthread_cond_wait(&scanner->wake, &scanner->lock);
			continue;
		}
		now = clock_monotonic();
		if (due > now) {
			wait_until(&scanner->wake, &scanner->lock, due);
			continue;
		}
		if (begin_pass(scanner, target, &pass)) {
			/* Out of memory: this turn passes as if measured in no time. */
			target->due_now = false;
			target->has_run = true;
			target->last_start = target->last_end = now;
			target->last_cpu = 0;
			free_pass(&pass);
			continue;
		}
		pthread_mutex_unlock(&scanner->lock);
		run_pass(scanner, &pass);
		pthread_mutex_lock(&scanner->lock);
		finish_pass(scanner, &pass);
		pthread_mutex_unlock(&scanner->lock);
		report_pass(&pass);
		free_pass(&pass);
		pthread_mutex_lock(&scanner->lock);
	}
	pthread_mutex_unlock(&scanner->lock);
	return NULL;
}

static int init_conds(struct storage_scanner *scanner)
{
	pthread_condattr_t attr;
	int err;

	err = pthread_condattr_init(&attr);
	if (err)
		return err;
	/* Due times are monotonic: a clock step must not stall or rush the passes. */
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (err)
		goto cleanup;
	err = pthread_cond_init(&scanner->wake, &attr);
	if (err)
		goto cleanup;
	err = pthread_cond_init(&scanner->done, &attr);
	if (err)
		pthread_cond_destroy(&scanner->wake);
cleanup:
	pthread_condattr_destroy(&attr);
	return err;
}

struct storage_scanner *storage_scanner_new(const struct storage_options *options)
{
	struct storage_scanner *scanner;
	sigset_t all, previous;
	int err;

	scanner = calloc(1, sizeof(*scanner));
	if (!scanner)
		return NULL;
	normalize_options(options, &scanner->options);
	err = init_conds(scanner);
	if (err)
		goto free_scanner;
	pthread_mutex_init(&scanner->lock, NULL);
	/* Born with every signal blocked: signals are the main loop's, with no window. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &previous);
	err = pthread_create(&scanner->thread, NULL, scanner_main, scanner);
	pthread_sigmask(SIG_SETMASK, &previous, NULL);
	if (err)
		goto destroy;
	scanner->has_thread_clock = !pthread_getcpuclockid(scanner->thread, &scanner->thread_clock);
	return scanner;

destroy:
	pthread_mutex_destroy(&scanner->lock);
	pthread_cond_destroy(&scanner->wake);
	pthread_cond_destroy(&scanner->done);
free_scanner:
	free(scanner);
	errno = err;
	return NULL;
}

void storage_scanner_free(struct storage_scanner *scanner)
{
	if (!scanner)
		return;
	pthread_mutex_lock(&scanner->lock);
	scanner->stopping = true;
	scanner->abandon = true;
	pthread_cond_broadcast(&scanner->wake);
	pthread_mutex_unlock(&scanner->lock);
	pthread_join(scanner->thread, NULL);
	free_targets(scanner->targets, scanner->target_count);
	pthread_mutex_destroy(&scanner->lock);
	pthread_cond_destroy(&scanner->wake);
	pthread_cond_destroy(&scanner->done);
	free(scanner);
}

/* The tenants with storage paths, whenever the set of tenants changed. */
static void follow_rows(struct storage_scanner *scanner, const struct tenant_row *rows,
			size_t count, uint64_t generation)
{
	struct storage_target *targets;
	size_t i, used = 0;
	int err;

	if (scanner->has_rows_generation && generation == scanner->rows_generation)
		return;
	targets = calloc(count ? count : 1, sizeof(*targets));
	if (!targets)
		return;
	for (i = 0; i < count; i++) {
		if (!rows[i].storage_count)
			continue;
		targets[used].tenant = rows[i].tenant;
		targets[used].paths = rows[i].storage_paths;
		targets[used].path_count = rows[i].storage_count;
		used++;
	}
	err = storage_scanner_set_targets(scanner, targets, used);
	free(targets);
	if (err) {
		pr_warn("storage: cannot update what is measured: %s", strerror(-err));
		return;
	}
	scanner->has_rows_generation = true;
	scanner->rows_generation = generation;
}

void storage_scanner_fill_rows(struct storage_scanner *scanner, struct tenant_row *rows,
			       size_t count, uint64_t generation)
{
	uint64_t bytes;
	size_t i;

	follow_rows(scanner, rows, count, generation);
	for (i = 0; i < count; i++) {
		if (!rows[i].storage_count ||
		    storage_scanner_get(scanner, rows[i].tenant, &bytes))
			continue;
		/* Rows last from tick to tick (tenant_row.h): say only what changed. */
		if (rows[i].has_value[RESOURCE_STORAGE] && rows[i].value[RESOURCE_STORAGE] == bytes)
			continue;
		rows[i].has_value[RESOURCE_STORAGE] = true;
		rows[i].value[RESOURCE_STORAGE] = bytes;
		rows[i].unchanged = false;
	}
}
