/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rules' firing-state files in state_dir (firing.json and the
 * firing-*.json beside it): one JSON object with the format's version,
 * the wall time of the save and an array "alerts" that each rule fills
 * with its own objects. Read whole under a size bound, written atomically
 * with mode 0600 (tenant names, cgroups and pids are for the operator
 * only). Each rule keeps what its alerts hold; this keeps the file.
 */
#ifndef ABUSEWATCH_STATE_FILE_H
#define ABUSEWATCH_STATE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/*
 * A new state object of format @version saved at @now_wall, and its empty
 * "alerts" array in @alerts (owned by the object). NULL on ENOMEM.
 */
struct json_object *state_file_new(long long version, double now_wall,
				   struct json_object **alerts);

/*
 * Writes @root (not taken over) to @path in place of what was there, with
 * a closing newline; @size, when not NULL, gets the bytes written. 0 or
 * -errno.
 */
int state_file_write(const char *path, struct json_object *root, size_t *size);

/*
 * Reads the state file at @path, at most @max_bytes: 0 with @root (the
 * caller puts it) and @alerts (an array of @root's). -ENOENT, quietly,
 * when there is none; otherwise the problem is logged under @who ("network
 * abuse: ..."), the rule's alerts are lost and those still true fire again:
 * -EINVAL for a file that is not a state file, or -errno.
 */
int state_file_read(const char *path, size_t max_bytes, const char *who,
		    struct json_object **root, struct json_object **alerts);

/*
 * After a save of @path that gave @err (0 or -errno): the first failure is
 * logged (the caller tries again every interval), and the first success
 * after failures; *@failing keeps which it was.
 */
void state_file_saved(const char *path, int err, bool *failing);

#endif
