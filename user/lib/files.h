/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small file-system helpers the modules share: creating directories,
 * reading whole files, writing whole buffers, and replacing a file so that
 * a crash leaves its old or its new content, never half of one.
 */
#ifndef ABUSEWATCH_FILES_H
#define ABUSEWATCH_FILES_H

#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p of @dir; directories it creates get @mode. An existing ancestor
 * that refuses mkdir (EACCES rather than EEXIST) is fine. 0 or -errno.
 */
int files_make_dirs(const char *dir, mode_t mode);

/* files_make_dirs of the directory holding @path. */
int files_make_parent_dirs(const char *path, mode_t mode);

/* write() until all of @data is out, retrying on EINTR. 0 or -errno. */
int files_write_all(int fd, const void *data, size_t length);

/*
 * Reads the whole file at @path into *@text: malloc'ed (the caller frees
 * it) and NUL-terminated, its length in *@length unless that is NULL.
 * Works for /proc, sysfs and cgroup files too, whose size stat() does not
 * know. 0, -EFBIG when the file holds more than @max_size bytes, or
 * -errno; *@text is NULL on failure.
 */
int files_read_all(const char *path, size_t max_size, char **text, size_t *length);

/* fsync of the directory holding @path: a new or renamed entry is durable only then. */
int files_sync_parent_dir(const char *path);

/*
 * Replaces @path with what @fill writes to a descriptor (0 or -errno):
 * "@path.tmp" with @mode, fsync'd, renamed over @path, directory synced.
 * On failure the temporary file is removed and @path is untouched. 0 or
 * -errno.
 */
int files_replace(const char *path, mode_t mode, int (*fill)(int fd, void *ctx), void *ctx);

#endif
