// SPDX-License-Identifier: GPL-2.0
/*
 * SHA-256 of executables, cached by identity, hashed on a worker thread.
 *
 * Two tables (lib/hashtable, under a random key), their entries in fixed
 * arrays and their buckets allocated once, so that memory is bounded
 * whatever tenants run:
 *  - the cache: EXEHASH_CACHE_ENTRIES digests, with the table's limit and
 *    use order: the least recently used gives way;
 *  - the jobs: EXEHASH_QUEUE_MAX slots, one per identity between the open
 *    in exehash_get() and its delivery by exehash_collect(), also indexed
 *    by identity so that a second request does not open the file again.
 *
 * Only the caller's thread touches the cache, the job index and the free
 * jobs. The worker sees a job between taking it off the queue and putting
 * it on the done list, both under the lock, which orders its writes to the
 * job with the caller's reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>


#include "exehash.h"
#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "sha256.h"

#define NO_ENTRY UINT32_MAX
#define READ_CHUNK (256 * 1024)
/* Other processes of a cgroup whose root is tried, and how much of cgroup.procs is read. */
#define CGROUP_PIDS_TRIED 32
#define CGROUP_PROCS_READ 1024
#define WORKER_NICE 10

struct cache_entry {
	struct hashtable_node node;
	struct exe_identity id;
	char hex[SHA256_HEX_LEN + 1];
	struct content_result content;
};

struct job {
	struct hashtable_node node;	/* the caller's: the identity index */
	struct exe_identity id;
	struct exe_identity opened;	/* fstat() at the open: a later ctime once unlinked */
	int fd;				/* open until the worker has read it */
	/* Written by the worker, read by the caller once the job is done. */
	enum exehash_status status;
	uint64_t bytes;
	char hex[SHA256_HEX_LEN + 1];
	struct content_rules *rules;	/* the worker's reference, taken with the job */
	struct content_result content;
	uint64_t scan_ns;
	uint32_t free_next;		/* the caller's: the free list */
	/* Under the lock: the queue, then the done list. */
	uint32_t next;
};

struct exehash {
	struct hash_key key;

	struct hashtable cache;
	struct cache_entry *entries;
	uint32_t entries_used;	/* taken from entries[]; when all are, the oldest is reused */

	struct job jobs[EXEHASH_QUEUE_MAX];
	struct hashtable jobs_by_identity;
	uint32_t free_jobs;	/* chained by job.free_next */
	uint32_t jobs_in_use;	/* also those out of the index, being delivered */

	pthread_mutex_t lock;
	pthread_cond_t wake;
	uint32_t queue_head;
	uint32_t queue_tail;
	uint32_t done_head;
	uint32_t done_tail;
	atomic_bool stop;

	pthread_t thread;
	int event_fd;
	struct sha256 *digest;	/* the worker's */
	struct content_rules *rules;	/* under the lock: the worker takes a reference per job */
	uint32_t rules_generation;	/* the caller's copy: cached scans of others are stale */
	bool told_too_large;
	unsigned char *buffer;	/* the worker's, READ_CHUNK bytes */

	struct exehash_stats stats;
};

uint64_t exehash_dev_from_kernel(uint64_t kernel_dev)
{
	return makedev(kernel_dev >> 20, kernel_dev & 0xfffff);
}

/* Identities */

static bool identity_equal(const struct exe_identity *a, const struct exe_identity *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/*
 * The identity's fields as six words (48 bytes, no padding), under the
 * table's key: sizes and times are the tenant's to choose, collisions must
 * not be.
 */
static uint64_t identity_hash(const struct hash_key *key, const struct exe_identity *id)
{
	const uint64_t words[6] = {
		id->dev,
		id->ino,
		(uint64_t)id->size,
		(uint64_t)id->mtime_sec,
		(uint64_t)id->ctime_sec,
		(uint64_t)id->mtime_nsec | (uint64_t)id->ctime_nsec << 32,
	};

	return hash_bytes(key, words, sizeof(words));
}

void exehash_identity_from_stat(const struct stat *st, struct exe_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_sec = st->st_mtim.tv_sec;
	id->mtime_nsec = st->st_mtim.tv_nsec;
	id->ctime_sec = st->st_ctim.tv_sec;
	id->ctime_nsec = st->st_ctim.tv_nsec;
}

static bool stat_matches(const struct stat *st, const struct exe_identity *id)
{
	struct exe_identity now;

	exehash_identity_from_stat(st, &now);
	return S_ISREG(st->st_mode) && identity_equal(&now, id);
}

/*
 * /proc/PID/exe of a file deleted since the exec: the unlink moved its
 * ctime, and nothing else did. It is the very file the kernel ran, which
 * nobody could write while the process ran (ETXTBSY), so its content is
 * the one executed. The worker then holds it to this later ctime.
 */
static bool stat_matches_unlinked(const struct stat *st, const struct exe_identity *id)
{
	struct exe_identity now = *id;

	if (!S_ISREG(st->st_mode) || st->st_nlink)
		return false;
	if (st->st_ctim.tv_sec < id->ctime_sec ||
	    (st->st_ctim.tv_sec == id->ctime_sec && st->st_ctim.tv_nsec < id->ctime_nsec))
		return false;
	now.ctime_sec = st->st_ctim.tv_sec;
	now.ctime_nsec = st->st_ctim.tv_nsec;
	return stat_matches(st, &now);
}

/* The cache */

static bool cache_entry_is(const struct hashtable_node *node, const void *id)
{
	return identity_equal(&hashtable_entry(node, struct cache_entry, node)->id, id);
}

static struct cache_entry *cache_find(const struct exehash *hash, const struct exe_identity *id,
				      uint64_t id_hash)
{
	return hashtable_entry(hashtable_find(&hash->cache, id_hash, id), struct cache_entry, node);
}

static void cache_insert(struct exehash *hash, const struct exe_identity *id, const char *hex,
			 const struct content_result *content)
{
	uint64_t id_hash = identity_hash(&hash->key, id);
	struct cache_entry *entry = cache_find(hash, id, id_hash);

	if (entry) {
		hashtable_touch(&hash->cache, &entry->node);
	} else {
		entry = hashtable_entry(hashtable_evict(&hash->cache, 1), struct cache_entry, node);
		if (!entry)
			entry = &hash->entries[hash->entries_used++];
		entry->id = *id;
		/* Reserved for every entry at the start: cannot fail. */
		hashtable_insert(&hash->cache, &entry->node, id_hash);
	}
	memcpy(entry->hex, hex, SHA256_HEX_LEN + 1);
	entry->content = *content;
}

/* Jobs: the caller's side */

static bool job_is(const struct hashtable_node *node, const void *id)
{
	return identity_equal(&hashtable_entry(node, struct job, node)->id, id);
}

static struct job *job_find(const struct exehash *hash, const struct exe_identity *id,
			    uint64_t id_hash)
{
	return hashtable_entry(hashtable_find(&hash->jobs_by_identity, id_hash, id), struct job,
			       node);
}

static uint32_t job_take(struct exehash *hash, const struct exe_identity *id,
			 const struct exe_identity *opened, uint64_t id_hash, int fd)
{
	uint32_t index = hash->free_jobs;
	struct job *job = &hash->jobs[index];

	hash->free_jobs = job->free_next;
	hash->jobs_in_use++;
	job->id = *id;
	job->opened = *opened;
	job->fd = fd;
	job->status = EXEHASH_UNAVAILABLE;
	job->bytes = 0;
	job->hex[0] = '\0';
	job->rules = NULL;
	job->scan_ns = 0;
	memset(&job->content, 0, sizeof(job->content));
	/* Reserved for every job at the start: cannot fail. */
	hashtable_insert(&hash->jobs_by_identity, &job->node, id_hash);
	return index;
}

static void job_release(struct exehash *hash, uint32_t index)
{
	hash->jobs[index].free_next = hash->free_jobs;
	hash->free_jobs = index;
	hash->jobs_in_use--;
}

/* Finding the file */

/*
 * Opens @path only when it names a regular file with identity @id. The
 * stat() first keeps devices and fifos from being opened at all; the
 * fstat() after the open is the check that counts, for a file replaced in
 * between. O_NONBLOCK still guards that window against a fifo.
 */
static int open_matching(const char *path, const struct exe_identity *id, bool proc_exe,
			 struct exe_identity *opened)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd;

	if (stat(path, &st))
		return -errno;
	if (!stat_matches(&st, id) && !(proc_exe && stat_matches_unlinked(&st, id)))
		return -ESTALE;
	fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) ||
	    (!stat_matches(&st, id) && !(proc_exe && stat_matches_unlinked(&st, id))))
		goto stale;
	/* Clears O_NONBLOCK, the one status flag set. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		goto stale;
	exehash_identity_from_stat(&st, opened);
	return fd;

stale:
	close(fd);
	return -ESTALE;
}

static int open_under_root(int pid, const char *path, const struct exe_identity *id,
			   struct exe_identity *opened)
{
	char full[PATH_MAX];
	int length;

	length = snprintf(full, sizeof(full), "/proc/%d/root%s", pid, path);
	if (length < 0 || (size_t)length >= sizeof(full))
		return -ENAMETOOLONG;
	return open_matching(full, id, false, opened);
}

/* Through the roots of other processes of the cgroup: its shell or make outlives a compiler. */
static int open_in_cgroup(const char *cgroup_dir, int pid, const char *path,
			  const struct exe_identity *id, struct exe_identity *opened)
{
	char procs_path[PATH_MAX], procs[CGROUP_PROCS_READ + 1];
	char *cursor, *end;
	int procs_fd, length, tried = 0, fd = -ENOENT;
	ssize_t got;
	long other;

	length = snprintf(procs_path, sizeof(procs_path), "%s/cgroup.procs", cgroup_dir);
	if (length < 0 || (size_t)length >= sizeof(procs_path))
		return -ENAMETOOLONG;
	procs_fd = open(procs_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (procs_fd < 0)
		return -errno;
	got = read(procs_fd, procs, CGROUP_PROCS_READ);
	close(procs_fd);
	if (got < 0)
		return -errno;
	procs[got] = '\0';
	/* A pid cut off at the end of what was read could name another process: drop it. */
	if (got == CGROUP_PROCS_READ) {
		end = strrchr(procs, '\n');
		if (end)
			end[1] = '\0';
	}

	for (cursor = procs; *cursor && tried < CGROUP_PIDS_TRIED; cursor = end) {
		errno = 0;
		other = strtol(cursor, &end, 10);
		if (end == cursor || errno)
			break;
		if (other <= 0 || other > INT_MAX || other == pid)
			continue;
		tried++;
		fd = open_under_root((int)other, path, id, opened);
		if (fd >= 0)
			break;
	}
	return fd;
}

static int open_identity(const struct exe_identity *id, const struct exe_location *where,
			 struct exe_identity *opened)
{
	const char *path = where ? where->path : NULL;
	int pid = where ? where->pid : 0;
	bool absolute = path && path[0] == '/';
	char exe[32];
	int fd = -ENOENT;

	if (pid > 0) {
		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		fd = open_matching(exe, id, true, opened);
		if (fd >= 0)
			return fd;
	}
	/* A relative path would resolve against the agent's directory: never the file. */
	if (!absolute)
		return fd;
	if (pid > 0) {
		fd = open_under_root(pid, path, id, opened);
		if (fd >= 0)
			return fd;
	}
	if (where->cgroup_dir) {
		fd = open_in_cgroup(where->cgroup_dir, pid, path, id, opened);
		if (fd >= 0)
			return fd;
	}
	return open_matching(path, id, false, opened);
}

/* The worker */

static void to_hex(const unsigned char *digest, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[SHA256_HEX_LEN] = '\0';
}

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

/*
 * The YARA scan of the file just hashed, from the same descriptor (libyara
 * maps it): the content is the one the digest describes, unless it was
 * changed in between, which the fstat() after the scan catches.
 */
static void scan_job(struct job *job)
{
	uint64_t start = monotonic_ns();
	struct stat st;

	job->content.generation = content_rules_generation(job->rules);
	if (content_rules_empty(job->rules))
		return;
	content_rules_scan(job->rules, job->fd, job->bytes, &job->content);
	job->scan_ns = monotonic_ns() - start;
	if (fstat(job->fd, &st) || !stat_matches(&st, &job->opened))
		job->status = EXEHASH_UNAVAILABLE;
}

/*
 * Reads the whole file, which must be the size its identity says, and
 * checks fstat() again after: a file changed since the open (its ctime
 * moved) is not hashed under the identity it had.
 */
static void hash_job(struct exehash *hash, struct job *job)
{
	unsigned char digest[SHA256_BYTES];
	uint64_t total = 0;
	struct stat st;
	ssize_t got;

	job->status = EXEHASH_UNAVAILABLE;
	sha256_restart(hash->digest);
	for (;;) {
		if (atomic_load(&hash->stop))
			goto out;
		got = read(job->fd, hash->buffer, READ_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (!got)
			break;
		total += got;
		job->bytes = total;
		if (total > EXEHASH_MAX_BYTES) {
			job->status = EXEHASH_TOO_LARGE;
			goto out;
		}
		sha256_feed(hash->digest, hash->buffer, got);
	}
	if (total != (uint64_t)job->id.size || fstat(job->fd, &st) ||
	    !stat_matches(&st, &job->opened))
		goto out;
	sha256_finish(hash->digest, digest);
	to_hex(digest, job->hex);
	job->status = EXEHASH_DONE;
	scan_job(job);
out:
	close(job->fd);
	job->fd = -1;
}

static void *worker_main(void *arg)
{
	struct exehash *hash = arg;
	const uint64_t one = 1;
	uint32_t index;

	/* Hashing waits; the agent's main loop should not. */
	setpriority(PRIO_PROCESS, gettid(), WORKER_NICE);

	pthread_mutex_lock(&hash->lock);
	for (;;) {
		while (!atomic_load(&hash->stop) && hash->queue_head == NO_ENTRY)
			pthread_cond_wait(&hash->wake, &hash->lock);
		if (atomic_load(&hash->stop))
			break;
		index = hash->queue_head;
		hash->queue_head = hash->jobs[index].next;
		if (hash->queue_head == NO_ENTRY)
			hash->queue_tail = NO_ENTRY;
		hash->jobs[index].rules = content_rules_get(hash->rules);
		pthread_mutex_unlock(&hash->lock);

		hash_job(hash, &hash->jobs[index]);
		content_rules_put(hash->jobs[index].rules);
		hash->jobs[index].rules = NULL;

		pthread_mutex_lock(&hash->lock);
		hash->jobs[index].next = NO_ENTRY;
		if (hash->done_tail != NO_ENTRY)
			hash->jobs[hash->done_tail].next = index;
		else
			hash->done_head = index;
		hash->done_tail = index;
		/* Only EAGAIN can fail, at a counter near 2^64: it is readable then anyway. */
		if (write(hash->event_fd, &one, sizeof(one)) < 0)
			pr_debug("exehash: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&hash->lock);
	return NULL;
}

/* The interface */

enum exehash_status exehash_get(struct exehash *hash, const struct exe_identity *id,
				const struct exe_location *where, char *hex)
{
	return exehash_get_content(hash, id, where, hex, NULL);
}

enum exehash_status exehash_get_content(struct exehash *hash, const struct exe_identity *id,
					const struct exe_location *where, char *hex,
					struct content_result *content)
{
	uint64_t id_hash = identity_hash(&hash->key, id);
	struct exe_identity opened;
	struct cache_entry *entry;
	uint32_t index;
	int fd;

	entry = cache_find(hash, id, id_hash);
	/* Scanned by rules since replaced: read again, for the new rules. */
	if (entry && entry->content.generation == hash->rules_generation) {
		hashtable_touch(&hash->cache, &entry->node);
		memcpy(hex, entry->hex, SHA256_HEX_LEN + 1);
		if (content)
			*content = entry->content;
		hash->stats.hits++;
		return EXEHASH_DONE;
	}

	if (job_find(hash, id, id_hash))
		return EXEHASH_PENDING;
	if (id->size < 0 || (uint64_t)id->size > EXEHASH_MAX_BYTES)
		return id->size < 0 ? EXEHASH_UNAVAILABLE : EXEHASH_TOO_LARGE;
	/* Busy before the open: a full queue should cost nothing. */
	if (hash->jobs_in_use >= EXEHASH_QUEUE_MAX) {
		hash->stats.busy++;
		return EXEHASH_BUSY;
	}

	fd = open_identity(id, where, &opened);
	if (fd < 0) {
		/* The path is the tenant's: not in the log. */
		pr_debug("exehash: pid %d: no file with dev %llu:%llu inode %llu: %s",
			 where ? where->pid : 0, (unsigned long long)major(id->dev),
			 (unsigned long long)minor(id->dev), (unsigned long long)id->ino,
			 strerror(-fd));
		hash->stats.unavailable++;
		return EXEHASH_UNAVAILABLE;
	}

	index = job_take(hash, id, &opened, id_hash, fd);
	pthread_mutex_lock(&hash->lock);
	hash->jobs[index].next = NO_ENTRY;
	if (hash->queue_tail != NO_ENTRY)
		hash->jobs[hash->queue_tail].next = index;
	else
		hash->queue_head = index;
	hash->queue_tail = index;
	pthread_cond_signal(&hash->wake);
	pthread_mutex_unlock(&hash->lock);
	return EXEHASH_PENDING;
}

int exehash_notify_fd(const struct exehash *hash)
{
	return hash->event_fd;
}

void exehash_set_rules(struct exehash *hash, struct content_rules *rules)
{
	struct content_rules *old;

	content_rules_get(rules);
	pthread_mutex_lock(&hash->lock);
	old = hash->rules;
	hash->rules = rules;
	pthread_mutex_unlock(&hash->lock);
	hash->rules_generation = content_rules_generation(rules);
	content_rules_put(old);
}

/* The scan's figures, and a file too large to scan said once (not its path: the tenant's). */
static void note_scan(struct exehash *hash, const struct job *job)
{
	switch (job->content.state) {
	case CONTENT_SCANNED:
		hash->stats.scanned++;
		hash->stats.scan_bytes += job->bytes;
		hash->stats.scan_ns += job->scan_ns;
		break;
	case CONTENT_TOO_LARGE:
		hash->stats.scan_skipped++;
		if (!hash->told_too_large)
			pr_warn("exehash: executables over %llu MiB are not scanned with YARA rules "
				"(said once; dev %llu:%llu inode %llu is %llu MiB)",
				CONTENT_SCAN_MAX_BYTES >> 20, (unsigned long long)major(job->id.dev),
				(unsigned long long)minor(job->id.dev),
				(unsigned long long)job->id.ino, (unsigned long long)(job->bytes >> 20));
		hash->told_too_large = true;
		break;
	case CONTENT_FAILED:
		hash->stats.scan_skipped++;
		hash->stats.scan_ns += job->scan_ns;
		pr_debug("exehash: YARA scan of dev %llu:%llu inode %llu failed or timed out",
			 (unsigned long long)major(job->id.dev),
			 (unsigned long long)minor(job->id.dev), (unsigned long long)job->id.ino);
		break;
	default:
		break;
	}
}

void exehash_collect(struct exehash *hash, exehash_result_fn fn, void *ctx)
{
	uint64_t count;
	uint32_t index, next;
	struct job *job;

	/*
	 * Cleared under the lock, as the worker sets it: readable exactly while
	 * results wait, with no stale wakeup left over.
	 */
	pthread_mutex_lock(&hash->lock);
	if (read(hash->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_debug("exehash: eventfd read: %s", strerror(errno));
	index = hash->done_head;
	hash->done_head = NO_ENTRY;
	hash->done_tail = NO_ENTRY;
	pthread_mutex_unlock(&hash->lock);

	for (; index != NO_ENTRY; index = next) {
		job = &hash->jobs[index];
		next = job->next;
		hashtable_remove(&hash->jobs_by_identity, &job->node);
		hash->stats.bytes += job->bytes;
		note_scan(hash, job);
		if (job->status == EXEHASH_DONE) {
			hash->stats.hashed++;
			/* A scan by rules replaced meanwhile is not cached: the next exec scans again. */
			if (job->content.generation == hash->rules_generation)
				cache_insert(hash, &job->id, job->hex, &job->content);
		} else if (job->status == EXEHASH_UNAVAILABLE) {
			hash->stats.unavailable++;
		}
		/* Released after the call: @fn may ask for more, which must not reuse the job. */
		if (fn)
			fn(&job->id, job->status == EXEHASH_DONE ? job->hex : NULL, job->status,
			   &job->content, ctx);
		job_release(hash, index);
	}
}

void exehash_stats(const struct exehash *hash, struct exehash_stats *stats)
{
	*stats = hash->stats;
	stats->cached = hashtable_count(&hash->cache);
}

struct exehash *exehash_new(void)
{
	struct exehash *hash = calloc(1, sizeof(*hash));
	sigset_t all, previous;
	uint32_t i;
	int err;

	if (!hash)
		return NULL;
	hash_key_random(&hash->key);
	hash->event_fd = -1;
	hashtable_init(&hash->cache, cache_entry_is);
	hashtable_set_limit(&hash->cache, EXEHASH_CACHE_ENTRIES);
	hashtable_init(&hash->jobs_by_identity, job_is);
	hash->queue_head = hash->queue_tail = NO_ENTRY;
	hash->done_head = hash->done_tail = NO_ENTRY;
	atomic_init(&hash->stop, false);
	for (i = 0; i < EXEHASH_QUEUE_MAX; i++) {
		hash->jobs[i].fd = -1;
		hash->jobs[i].free_next = i + 1 < EXEHASH_QUEUE_MAX ? i + 1 : NO_ENTRY;
	}
	hash->free_jobs = 0;

	hash->entries = calloc(EXEHASH_CACHE_ENTRIES, sizeof(*hash->entries));
	hash->buffer = malloc(READ_CHUNK);
	if (!hash->entries || !hash->buffer ||
	    hashtable_reserve(&hash->cache, EXEHASH_CACHE_ENTRIES) ||
	    hashtable_reserve(&hash->jobs_by_identity, EXEHASH_QUEUE_MAX)) {
		err = -ENOMEM;
		goto free_memory;
	}
	hash->digest = sha256_new();
	if (!hash->digest) {
		err = -ENOMEM;
		goto free_memory;
	}
	hash->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (hash->event_fd < 0) {
		err = -errno;
		goto free_digest;
	}

	err = -pthread_mutex_init(&hash->lock, NULL);
	if (err)
		goto close_event;
	err = -pthread_cond_init(&hash->wake, NULL);
	if (err)
		goto destroy_lock;
	/*
	 * Born with every signal blocked: they are the main loop's signalfd's,
	 * with no window. Not the faults: a fault whose signal is blocked kills
	 * the process outright, and libyara catches the SIGBUS of a file that a
	 * tenant truncates while it is scanned (mapped) to fail that one scan.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &previous);
	err = -pthread_create(&hash->thread, NULL, worker_main, hash);
	pthread_sigmask(SIG_SETMASK, &previous, NULL);
	if (err)
		goto destroy_wake;
	return hash;

destroy_wake:
	pthread_cond_destroy(&hash->wake);
destroy_lock:
	pthread_mutex_destroy(&hash->lock);
close_event:
	close(hash->event_fd);
free_digest:
	sha256_free(hash->digest);
free_memory:
	hashtable_release(&hash->jobs_by_identity, NULL);
	hashtable_release(&hash->cache, NULL);
	free(hash->buffer);
	free(hash->entries);
	free(hash);
	pr_warn("exehash: cannot start: %s", strerror(-err));
	errno = -err;
	return NULL;
}

void exehash_free(struct exehash *hash)
{
	uint32_t i;

	if (!hash)
		return;
	pthread_mutex_lock(&hash->lock);
	atomic_store(&hash->stop, true);
	pthread_cond_signal(&hash->wake);
	pthread_mutex_unlock(&hash->lock);
	pthread_join(hash->thread, NULL);

	/* Queued files were never read; a job being read was closed by the worker. */
	for (i = 0; i < EXEHASH_QUEUE_MAX; i++)
		if (hash->jobs[i].fd >= 0)
			close(hash->jobs[i].fd);
	pthread_cond_destroy(&hash->wake);
	pthread_mutex_destroy(&hash->lock);
	close(hash->event_fd);
	sha256_free(hash->digest);
	content_rules_put(hash->rules);
	hashtable_release(&hash->jobs_by_identity, NULL);
	hashtable_release(&hash->cache, NULL);
	free(hash->buffer);
	free(hash->entries);
	free(hash);
}
