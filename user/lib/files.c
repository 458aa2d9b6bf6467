// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static int make_one_dir(const char *dir, mode_t mode)
{
	struct stat st;

	/* The umask would loosen or tighten what was asked for: exactly @mode. */
	if (!mkdir(dir, mode))
		return chmod(dir, mode) ? -errno : 0;
	if (errno == EEXIST)
		return 0;
	/* An existing ancestor may refuse mkdir with EACCES instead of EEXIST. */
	if (!stat(dir, &st) && S_ISDIR(st.st_mode))
		return 0;
	return -errno;
}

int files_make_dirs(const char *dir, mode_t mode)
{
	char copy[PATH_MAX];
	char *slash;
	int err;

	if (snprintf(copy, sizeof(copy), "%s", dir) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	for (slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		err = make_one_dir(copy, mode);
		*slash = '/';
		if (err)
			return err;
	}
	return copy[0] ? make_one_dir(copy, mode) : 0;
}

int files_make_parent_dirs(const char *path, mode_t mode)
{
	char copy[PATH_MAX];
	char *slash;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	slash = strrchr(copy, '/');
	if (!slash || slash == copy)
		return 0;
	*slash = '\0';
	return files_make_dirs(copy, mode);
}

int files_write_all(int fd, const void *data, size_t length)
{
	const char *next = data;
	ssize_t written;

	while (length) {
		written = write(fd, next, length);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		next += written;
		length -= written;
	}
	return 0;
}

/* What a file of unknown size (/proc, sysfs) is first read into. */
#define READ_FIRST_SIZE 4096

/* Reads all of @fd (see files_read_all); the caller closes it. */
static int read_fd(int fd, size_t max_size, char **text, size_t *length)
{
	size_t limit = max_size < SIZE_MAX ? max_size + 1 : SIZE_MAX;
	size_t used = 0, capacity = READ_FIRST_SIZE;
	char *buffer = NULL, *bigger;
	struct stat st;
	ssize_t got;
	int err = 0;

	/* A regular file tells its size: one read, and one more that sees the end. */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (size_t)st.st_size >= capacity)
		capacity = (size_t)st.st_size + 1;
	/* One byte past @max_size is read at most: enough to know the file is larger. */
	if (capacity > limit)
		capacity = limit;
	for (;;) {
		if (!buffer || used == capacity) {
			if (buffer && capacity == limit) {
				err = -EFBIG;
				goto cleanup;
			}
			if (buffer)
				capacity = capacity < limit / 2 ? capacity * 2 : limit;
			bigger = realloc(buffer, capacity + 1);
			if (!bigger) {
				err = -ENOMEM;
				goto cleanup;
			}
			buffer = bigger;
		}
		got = read(fd, buffer + used, capacity - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto cleanup;
		}
		if (!got)
			break;
		used += got;
	}
	buffer[used] = '\0';
	*text = buffer;
	buffer = NULL;
	if (length)
		*length = used;

cleanup:
	free(buffer);
	return err;
}

int files_read_all(const char *path, size_t max_size, char **text, size_t *length)
{
	int fd, err;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	err = read_fd(fd, max_size, text, length);
	close(fd);
	return err;
}

static int check_trusted_stat(const struct stat *st, char *why, size_t why_size)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, why_size, "owned by uid %u, neither root nor this user (uid %u)",
			 (unsigned int)st->st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, why_size, "writable by its group or by others (mode %04o)",
			 (unsigned int)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int files_check_trusted(const char *path, char *why, size_t why_size)
{
	struct stat st;

	if (stat(path, &st)) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -errno;
	}
	return check_trusted_stat(&st, why, why_size);
}

int files_read_trusted(const char *path, size_t max_size, char **text, size_t *length, char *why,
		       size_t why_size)
{
	struct stat st;
	int fd, err;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto explain;
	}
	/* The file that was opened, not whatever the path names a moment later. */
	if (fstat(fd, &st)) {
		err = -errno;
		goto close_fd;
	}
	err = check_trusted_stat(&st, why, why_size);
	if (err)
		goto close_fd;
	err = read_fd(fd, max_size, text, length);
close_fd:
	close(fd);
	if (err == -EPERM)
		return err;
explain:
	if (err)
		snprintf(why, why_size, "%s", strerror(-err));
	return err;
}

int files_open_append(const char *path, mode_t mode, bool *created)
{
	int fd, tries;

	/* Removed or made in between: at most one more round. */
	for (tries = 0; tries < 3; tries++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			*created = false;
			return fd;
		}
		if (errno != ENOENT)
			return -errno;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0) {
			/* The umask would loosen or tighten it: exactly @mode. */
			if (fchmod(fd, mode)) {
				tries = -errno;
				close(fd);
				return tries;
			}
			*created = true;
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EAGAIN;
}

int files_sync_parent_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, err = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int files_replace(const char *path, mode_t mode, int (*fill)(int fd, void *ctx), void *ctx)
{
	char temp_path[PATH_MAX];
	int fd, err;

	if (snprintf(temp_path, sizeof(temp_path), "%s.tmp", path) >= (int)sizeof(temp_path))
		return -ENAMETOOLONG;
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* Exactly @mode, whatever the umask (or a temporary file left with another). */
	err = fchmod(fd, mode) ? -errno : 0;
	if (!err)
		err = fill(fd, ctx);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		goto unlink_temp;
	if (rename(temp_path, path)) {
		err = -errno;
		goto unlink_temp;
	}
	return files_sync_parent_dir(path);

unlink_temp:
	unlink(temp_path);
	return err;
}

struct text_to_write {
	const char *text;
	size_t length;
};

static int write_text(int fd, void *ctx)
{
	const struct text_to_write *text = ctx;

	return files_write_all(fd, text->text, text->length);
}

int files_replace_text(const char *path, mode_t mode, const char *text, size_t length)
{
	struct text_to_write ctx = { text, length };

	return files_replace(path, mode, write_text, &ctx);
}
