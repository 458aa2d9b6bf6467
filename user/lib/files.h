/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small file-system helpers the modules share: creating directories,
 * reading whole files, writing whole buffers, and replacing a file so that
 * a crash leaves its old or its new content, never half of one.
 */
#ifndef ABUSEWATCH_FILES_H
#define ABUSEWATCH_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p of @dir; directories it creates get exactly @mode, whatever the
 * umask (existing ones are left as they are). An existing ancestor
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

/*
 * A file that decides what the agent does as root (its configuration, a
 * secret, a CA) must not be changeable by anyone else: owned by root or by
 * this user, and writable neither by its group nor by others.
 * files_check_trusted: stat() of @path, so it works without read
 * permission. files_read_trusted: files_read_all, checking the file that
 * was opened. 0, -EPERM with @why saying what is wrong, or -errno (@why
 * its text).
 */
int files_check_trusted(const char *path, char *why, size_t why_size);
int files_read_trusted(const char *path, size_t max_size, char **text, size_t *length,
		       char *why, size_t why_size);

/*
 * Opens @path to append to it, creating it when missing with exactly @mode
 * whatever the umask (a file that exists keeps its mode); *@created says
 * which. The descriptor (O_CLOEXEC) or -errno.
 */
int files_open_append(const char *path, mode_t mode, bool *created);

/* fsync of the directory holding @path: a new or renamed entry is durable only then. */
int files_sync_parent_dir(const char *path);

/*
 * Replaces @path with what @fill writes to a descriptor (0 or -errno):
 * "@path.tmp" with exactly @mode (whatever the umask), fsync'd, renamed over @path, directory synced.
 * On failure the temporary file is removed and @path is untouched. 0 or
 * -errno.
 */
int files_replace(const char *path, mode_t mode, int (*fill)(int fd, void *ctx), void *ctx);

/* files_replace() of @path with the @length bytes of @text. 0 or -errno. */
int files_replace_text(const char *path, mode_t mode, const char *text, size_t length);

#endif
