// SPDX-License-Identifier: GPL-2.0
/*
 * The events log: alert records as JSON lines.
 *
 * Records are buffered in memory and written once per batch, so an alert
 * burst costs one write and one fdatasync. A failed write (disk full, file
 * removed) keeps the lines for the next flush: losing alerts because a disk
 * filled for a minute would be worse than holding some memory, but the
 * buffer is bounded and the oldest lines go first.
 *
 * Rotation renames the file aside and reopens at once; compression, which
 * can take a while on a large file, runs on its own thread so that it never
 * delays the next batch. Only one compression runs at a time: while one is
 * busy, rotation waits for a later flush.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include "events_log.h"
#include "files.h"
#include "log.h"

/* Readable by the group (log readers such as adm), not by others; exact, whatever the umask. */
#define EVENTS_LOG_MODE 0640
#define EVENTS_LOG_DIR_MODE 0750
/* Pending lines kept while writes fail; past this the oldest are dropped. */
#define EVENTS_LOG_BUFFER_LIMIT (64ULL << 20)
#define EVENTS_LOG_BUFFER_MIN (64 << 10)
#define EVENTS_LOG_COPY_CHUNK (128 << 10)
/* One record a line; "/" needs no escape in JSON and reads better as is. */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct events_log {
	char *path;
	char *rotating_path; /* path.rotating: renamed aside, waiting for compression */
	char *directory;
	char *base_name;
	uint64_t rotate_bytes;
	unsigned int keep;

	int fd; /* -1 while the file could not be (re)opened */
	uint64_t file_size;

	/* Pending bytes are data[head, tail): whole lines, oldest first. */
	char *data;
	size_t head, tail, capacity;
	/*
	 * Bytes of the first pending line already in the file after a write
	 * failed halfway and the fragment could not be cut off: the next write
	 * to the same file finishes that line.
	 */
	size_t partial;
	/* The partial line was dropped: end its fragment before writing more. */
	bool end_fragment;
	uint64_t dropped;

	/* Each trouble is logged when it starts and when it ends, not at every flush. */
	bool write_failing;
	bool drop_reported;
	bool rotate_failing;
	bool compress_failing;
	uint64_t dropped_at_failure;

	pthread_t compressor;
	bool compressor_started;
	/* Set by the compressor as it finishes, under compress_lock. */
	pthread_mutex_t compress_lock;
	bool compressor_done;
	int compress_err;
	const char *compress_step;
};

static size_t pending_bytes(const struct events_log *log)
{
	return log->tail - log->head;
}

/* Opens a fresh descriptor on the path; the old one, if any, is closed first. */
static int reopen_file(struct events_log *log)
{
	bool created;
	struct stat st;
	int err = 0, fd;

	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
	/*
	 * Whatever part of a line reached the old file stays there; the new
	 * file gets the whole line.
	 */
	log->partial = 0;
	log->end_fragment = false;
	err = files_make_parent_dirs(log->path, EVENTS_LOG_DIR_MODE);
	if (err)
		return err;
	fd = files_open_append(log->path, EVENTS_LOG_MODE, &created);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	log->fd = fd;
	log->file_size = st.st_size;
	return 0;
}

/*
 * Writes to a file that was removed or renamed by someone else succeed and
 * are never read, so check that the path still names our file.
 */
static int check_file(struct events_log *log)
{
	struct stat ours, current;

	if (log->fd >= 0) {
		if (fstat(log->fd, &ours) == 0) {
			if (stat(log->path, &current) == 0) {
				if (current.st_dev == ours.st_dev && current.st_ino == ours.st_ino)
					return 0;
			} else if (errno != ENOENT) {
				/* Cannot tell: keep writing where we were. */
				return 0;
			}
		}
		pr_warn("events log %s was removed or replaced; reopening it", log->path);
	}
	return reopen_file(log);
}

/* Makes room for @length more bytes at the tail. */
static int buffer_reserve(struct events_log *log, size_t length)
{
	size_t pending = pending_bytes(log), capacity;
	char *data;

	if (log->tail + length <= log->capacity)
		return 0;
	/*
	 * Moving the pending bytes to the front only once a quarter of the
	 * buffer is spent keeps the copying to a few bytes per byte appended,
	 * and growing to 1.5 times what is needed keeps the memory near the
	 * pending bytes, so the 64 MiB bound holds for memory too, give or take.
	 */
	if (log->head >= log->capacity / 4 && pending + length <= log->capacity) {
		memmove(log->data, log->data + log->head, pending);
		log->head = 0;
		log->tail = pending;
		return 0;
	}
	capacity = pending + length;
	capacity += capacity / 2;
	if (capacity < EVENTS_LOG_BUFFER_MIN)
		capacity = EVENTS_LOG_BUFFER_MIN;
	if (log->head) {
		memmove(log->data, log->data + log->head, pending);
		log->head = 0;
		log->tail = pending;
	}
	data = realloc(log->data, capacity);
	if (!data)
		return -ENOMEM;
	log->data = data;
	log->capacity = capacity;
	return 0;
}

/* Drops the oldest pending line. */
static void drop_oldest_line(struct events_log *log)
{
	char *newline = memchr(log->data + log->head, '\n', pending_bytes(log));

	log->head = newline ? (size_t)(newline - log->data) + 1 : log->tail;
	if (log->partial) {
		/*
		 * Its start is already in the file: end that fragment with a
		 * newline, so that the lines after it stay whole.
		 */
		log->partial = 0;
		log->end_fragment = true;
	}
	log->dropped++;
	if (!log->drop_reported) {
		pr_warn("events log %s: %llu MiB of records are waiting; dropping the oldest",
			log->path, EVENTS_LOG_BUFFER_LIMIT >> 20);
		log->drop_reported = true;
	}
}

int events_log_append(struct events_log *log, struct json_object *record)
{
	const char *text;
	size_t length;
	int err;

	if (!log || !record)
		return -EINVAL;
	text = json_object_to_json_string_ext(record, JSON_FLAGS);
	if (!text)
		return -ENOMEM;
	length = strlen(text);
	if (length + 1 > EVENTS_LOG_BUFFER_LIMIT)
		return -EMSGSIZE;
	while (pending_bytes(log) + length + 1 > EVENTS_LOG_BUFFER_LIMIT)
		drop_oldest_line(log);
	err = buffer_reserve(log, length + 1);
	if (err)
		return err;
	memcpy(log->data + log->tail, text, length);
	log->data[log->tail + length] = '\n';
	log->tail += length + 1;
	return 0;
}

static ssize_t write_all(int fd, const char *data, size_t length)
{
	size_t done = 0;
	ssize_t n;

	while (done < length) {
		n = write(fd, data + done, length - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Nothing written and no error would loop forever. */
			if (n == 0)
				errno = EIO;
			return done ? (ssize_t)done : -1;
		}
		done += n;
	}
	return done;
}

/*
 * Writes the pending lines. On failure, lines that reached the file whole
 * leave the buffer, and a line cut in half is cut off the file again so
 * that a retry, here or in a new file, writes it whole.
 */
static int write_pending(struct events_log *log)
{
	size_t length = pending_bytes(log), written = 0, whole;
	off_t line_start = log->file_size - log->partial;
	const char *start = log->data + log->head;
	char *newline;
	ssize_t n;
	int err = 0;

	if (log->end_fragment) {
		if (write_all(log->fd, "\n", 1) != 1)
			return -errno;
		log->end_fragment = false;
		log->file_size++;
		line_start++;
	}
	n = write_all(log->fd, start + log->partial, length - log->partial);
	if (n >= 0)
		written = n;
	if (written < length - log->partial)
		err = errno ? -errno : -EIO;
	if (!err) {
		log->head = log->tail = 0;
		log->partial = 0;
		log->file_size += written;
		return 0;
	}
	/* Bytes of the buffer now in the file, from the first pending line on. */
	written += log->partial;
	newline = memrchr(start, '\n', written);
	whole = newline ? (size_t)(newline - start) + 1 : 0;
	log->head += whole;
	log->partial = written - whole;
	log->file_size = line_start + written;
	if (log->partial && ftruncate(log->fd, line_start + whole) == 0) {
		log->partial = 0;
		log->file_size = line_start + whole;
	}
	return err;
}

static void report_write(struct events_log *log, const char *step, int err)
{
	if (err && !log->write_failing) {
		pr_err("events log %s: %s failed: %s; keeping records in memory and retrying",
		       log->path, step, strerror(-err));
		log->write_failing = true;
		log->dropped_at_failure = log->dropped;
	} else if (!err && log->write_failing) {
		pr_info("events log %s: writing again (%llu records dropped meanwhile)", log->path,
			(unsigned long long)(log->dropped - log->dropped_at_failure));
		log->write_failing = false;
	}
	if (!err)
		log->drop_reported = false;
}

static char *numbered_name(const struct events_log *log, unsigned int number, const char *suffix)
{
	char *name;

	if (asprintf(&name, "%s.%u.gz%s", log->path, number, suffix) < 0)
		return NULL;
	return name;
}

static int zlib_error(gzFile gz)
{
	int errnum = Z_ERRNO;

	if (gz)
		gzerror(gz, &errnum);
	if (errnum == Z_ERRNO && errno)
		return -errno;
	return errnum == Z_MEM_ERROR ? -ENOMEM : -EIO;
}

/* Compresses @source into @target, synced to disk before it is renamed in place. */
static int compress_file(const char *source, const char *target)
{
	int input = -1, output = -1, gz_fd = -1, err = 0;
	char *chunk = NULL;
	gzFile gz = NULL;
	ssize_t n;

	chunk = malloc(EVENTS_LOG_COPY_CHUNK);
	if (!chunk) {
		err = -ENOMEM;
		goto cleanup;
	}
	input = open(source, O_RDONLY | O_CLOEXEC);
	if (input < 0) {
		err = -errno;
		goto cleanup;
	}
	output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, EVENTS_LOG_MODE);
	if (output < 0) {
		err = -errno;
		goto cleanup_input;
	}
	if (fchmod(output, EVENTS_LOG_MODE)) {
		err = -errno;
		goto cleanup_output;
	}
	/* gzclose() closes its descriptor; ours stays open for the fsync after it. */
	gz_fd = fcntl(output, F_DUPFD_CLOEXEC, 0);
	if (gz_fd < 0) {
		err = -errno;
		goto cleanup_output;
	}
	errno = 0;
	gz = gzdopen(gz_fd, "wb6");
	if (!gz) {
		err = zlib_error(NULL);
		close(gz_fd);
		goto cleanup_output;
	}
	for (;;) {
		n = read(input, chunk, EVENTS_LOG_COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto cleanup_gz;
		}
		if (n == 0)
			break;
		errno = 0;
		if (gzwrite(gz, chunk, n) != n) {
			err = zlib_error(gz);
			goto cleanup_gz;
		}
	}
	errno = 0;
	err = gzclose(gz) == Z_OK ? 0 : (errno ? -errno : -EIO);
	gz = NULL;
	if (!err && fsync(output))
		err = -errno;
cleanup_gz:
	if (gz)
		gzclose(gz);
cleanup_output:
	close(output);
	if (err)
		unlink(target);
cleanup_input:
	close(input);
cleanup:
	free(chunk);
	return err;
}

/*
 * The number in @name if it is one of ours, "<base>.<N>.gz", else 0
 * (N starts at 1).
 */
static unsigned long rotated_number(const struct events_log *log, const char *name)
{
	size_t base_length = strlen(log->base_name);
	unsigned long number;
	char *end;

	if (strncmp(name, log->base_name, base_length) || name[base_length] != '.')
		return 0;
	name += base_length + 1;
	if (*name < '1' || *name > '9')
		return 0;
	errno = 0;
	number = strtoul(name, &end, 10);
	if (errno || strcmp(end, ".gz"))
		return 0;
	return number;
}

/* Removes the compressed files that will be past `keep` once the others shift up. */
static int remove_oldest(const struct events_log *log)
{
	struct dirent *entry;
	unsigned long number;
	int err = 0;
	DIR *dir;

	dir = opendir(log->directory);
	if (!dir)
		return -errno;
	while ((entry = readdir(dir))) {
		number = rotated_number(log, entry->d_name);
		if (!number || number < log->keep)
			continue;
		if (unlinkat(dirfd(dir), entry->d_name, 0) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(dir);
	return err;
}

/* path.K.gz -> path.(K+1).gz for K = keep-1 .. 1; missing ones are skipped. */
static int shift_compressed(const struct events_log *log)
{
	char *from = NULL, *to = NULL;
	unsigned int number;
	int err = 0;

	for (number = log->keep - 1; number >= 1 && !err; number--) {
		from = numbered_name(log, number, "");
		to = numbered_name(log, number + 1, "");
		if (!from || !to)
			err = -ENOMEM;
		else if (rename(from, to) && errno != ENOENT)
			err = -errno;
		free(from);
		free(to);
	}
	return err;
}

/*
 * path.rotating -> path.1.gz, the others shifted up. The old files are
 * touched only once the new one is complete, so a failure leaves them (and
 * path.rotating, for a retry) as they were. A crash between the rename and
 * the unlink compresses path.rotating again at the next start: a duplicate
 * is better than a loss.
 */
static void *compress_rotated(void *arg)
{
	struct events_log *log = arg;
	const char *step = NULL;
	char *temporary = NULL, *newest = NULL;
	int err = 0;

	if (log->keep) {
		temporary = numbered_name(log, 1, ".tmp");
		newest = numbered_name(log, 1, "");
		if (!temporary || !newest) {
			step = "naming";
			err = -ENOMEM;
			goto cleanup;
		}
		step = "compressing";
		err = compress_file(log->rotating_path, temporary);
		if (err)
			goto cleanup;
	}
	step = "removing the oldest compressed files";
	err = remove_oldest(log);
	if (err)
		goto cleanup_temporary;
	if (log->keep) {
		step = "renaming compressed files";
		err = shift_compressed(log);
		if (!err && rename(temporary, newest))
			err = -errno;
		if (err)
			goto cleanup_temporary;
	}
	step = "removing the rotated file";
	if (unlink(log->rotating_path) && errno != ENOENT)
		err = -errno;
	goto cleanup;

cleanup_temporary:
	if (temporary)
		unlink(temporary);
cleanup:
	free(temporary);
	free(newest);
	pthread_mutex_lock(&log->compress_lock);
	log->compress_err = err;
	log->compress_step = step;
	log->compressor_done = true;
	pthread_mutex_unlock(&log->compress_lock);
	return NULL;
}

/* Joins a compressor that has finished (or, with @wait, any) and logs how it went. */
static void reap_compressor(struct events_log *log, bool wait)
{
	bool done;
	int err;

	if (!log->compressor_started)
		return;
	pthread_mutex_lock(&log->compress_lock);
	done = log->compressor_done;
	pthread_mutex_unlock(&log->compress_lock);
	if (!done && !wait)
		return;
	pthread_join(log->compressor, NULL);
	log->compressor_started = false;
	err = log->compress_err;
	if (err && !log->compress_failing) {
		pr_err("events log %s: %s failed: %s; %s is kept and retried", log->path,
		       log->compress_step, strerror(-err), log->rotating_path);
		log->compress_failing = true;
	} else if (!err && log->compress_failing) {
		pr_info("events log %s: rotated files are compressed again", log->path);
		log->compress_failing = false;
	}
}

static int start_compressor(struct events_log *log)
{
	int err;

	log->compressor_done = false;
	err = -pthread_create(&log->compressor, NULL, compress_rotated, log);
	if (err) {
		pr_err("events log %s: cannot start compressing %s: %s", log->path,
		       log->rotating_path, strerror(-err));
		return err;
	}
	log->compressor_started = true;
	return 0;
}

/* A rotated file left by a failed compression or a crash: compress it first. */
static bool compress_leftover(struct events_log *log)
{
	if (access(log->rotating_path, F_OK))
		return false;
	start_compressor(log);
	return true;
}

static void rotate(struct events_log *log)
{
	int err;

	reap_compressor(log, false);
	if (!log->rotate_bytes || log->fd < 0 || log->file_size < log->rotate_bytes)
		return;
	if (log->compressor_started) {
		pr_debug("events log %s: compression still running; rotating later", log->path);
		return;
	}
	/* Renaming onto a leftover would lose it; its compression comes first. */
	if (compress_leftover(log))
		return;
	if (rename(log->path, log->rotating_path)) {
		if (!log->rotate_failing)
			pr_err("events log %s: cannot rotate: %s", log->path, strerror(errno));
		log->rotate_failing = true;
		return;
	}
	log->rotate_failing = false;
	/* On failure the next flush retries the open, and reports it. */
	err = reopen_file(log);
	if (err)
		pr_debug("events log %s: reopening after rotation: %s", log->path, strerror(-err));
	start_compressor(log);
}

/* Splits @path into its directory and file name, as the compressor needs them. */
static int split_path(struct events_log *log)
{
	char *copy;
	int err = 0;

	/* dirname() and basename() may write into their argument: one copy each. */
	copy = strdup(log->path);
	if (!copy)
		return -ENOMEM;
	log->directory = strdup(dirname(copy));
	free(copy);
	copy = strdup(log->path);
	if (!copy)
		return -ENOMEM;
	log->base_name = strdup(basename(copy));
	free(copy);
	if (!log->directory || !log->base_name)
		err = -ENOMEM;
	return err;
}

static void free_log(struct events_log *log)
{
	free(log->data);
	free(log->base_name);
	free(log->directory);
	free(log->rotating_path);
	free(log->path);
	pthread_mutex_destroy(&log->compress_lock);
	free(log);
}

struct events_log *events_log_open(const char *path, uint64_t rotate_bytes, unsigned int keep)
{
	struct events_log *log = NULL;
	int err = 0;

	if (!path || !*path) {
		err = -EINVAL;
		goto cleanup;
	}
	log = calloc(1, sizeof(*log));
	if (!log) {
		err = -ENOMEM;
		goto cleanup;
	}
	pthread_mutex_init(&log->compress_lock, NULL);
	log->fd = -1;
	log->rotate_bytes = rotate_bytes;
	log->keep = keep;
	log->path = strdup(path);
	if (!log->path || asprintf(&log->rotating_path, "%s.rotating", path) < 0) {
		log->rotating_path = NULL;
		err = -ENOMEM;
		goto cleanup_log;
	}
	err = split_path(log);
	if (err)
		goto cleanup_log;
	/*
	 * A file that cannot be opened yet (its directory missing or
	 * read-only, the disk full) is no reason to lose records: they wait
	 * in memory and every flush tries again; the failure is logged once.
	 */
	err = reopen_file(log);
	report_write(log, "open", err);
	err = 0;
	if (log->fd >= 0)
		compress_leftover(log);
	goto cleanup;

cleanup_log:
	free_log(log);
	log = NULL;
cleanup:
	if (err)
		errno = -err;
	return log;
}

/* Writes the pending lines through to the disk. */
static int write_out(struct events_log *log)
{
	const char *step = "open";
	int err;

	err = check_file(log);
	if (err)
		goto report;
	step = "write";
	err = write_pending(log);
	if (err)
		goto report;
	/*
	 * The lines are in the page cache by now: on failure they cannot be
	 * told apart from the ones that reached the disk, and writing them
	 * again would duplicate them.
	 */
	step = "fdatasync";
	if (fdatasync(log->fd))
		err = -errno;
report:
	report_write(log, step, err);
	return err;
}

int events_log_flush(struct events_log *log)
{
	int err = 0;

	if (!log)
		return -EINVAL;
	/* With nothing to write and the file open, only a rotation may be due. */
	if (pending_bytes(log) || log->end_fragment || log->fd < 0)
		err = write_out(log);
	if (!err)
		rotate(log);
	return err;
}

uint64_t events_log_dropped(const struct events_log *log)
{
	return log ? log->dropped : 0;
}

void events_log_close(struct events_log *log)
{
	if (!log)
		return;
	events_log_flush(log);
	reap_compressor(log, true);
	if (pending_bytes(log))
		pr_err("events log %s: %zu bytes of records could not be written", log->path,
		       pending_bytes(log));
	if (log->fd >= 0)
		close(log->fd);
	free_log(log);
}
