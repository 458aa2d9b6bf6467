// SPDX-License-Identifier: GPL-2.0
/*
 * The rules' firing-state files (state_file.h): the object around their
 * alerts, its text, and the checks before a rule reads its alerts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "json.h"
#include "log.h"
#include "state_file.h"

struct json_object *state_file_new(long long version, double now_wall,
				   struct json_object **alerts)
{
	struct json_object *root = json_object_new_object();

	*alerts = json_object_new_array();
	if (!root || !*alerts) {
		json_object_put(root);
		json_object_put(*alerts);
		*alerts = NULL;
		return NULL;
	}
	/* json_add() takes the array over, also when it fails. */
	if (json_add(root, "alerts", *alerts) || json_add_int(root, "version", version) ||
	    json_add_double(root, "saved_at", now_wall)) {
		json_object_put(root);
		*alerts = NULL;
		return NULL;
	}
	return root;
}

/* The text and its closing newline. */
static int write_text(int fd, void *ctx)
{
	const char *text = ctx;
	int err;

	err = files_write_all(fd, text, strlen(text));
	return err ?: files_write_all(fd, "\n", 1);
}

int state_file_write(const char *path, struct json_object *root, size_t *size)
{
	const char *text;

	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	if (size)
		*size = strlen(text) + 1;
	return files_replace(path, 0600, write_text, (void *)text);
}

int state_file_read(const char *path, size_t max_bytes, const char *who,
		    struct json_object **root, struct json_object **alerts)
{
	enum json_tokener_error parse_error;
	char *text = NULL;
	int err;

	*root = NULL;
	*alerts = NULL;
	err = files_read_all(path, max_bytes, &text, NULL);
	if (err) {
		if (err != -ENOENT)
			pr_warn("%s: cannot read %s: %s; its alerts start anew", who, path,
				strerror(-err));
		return err;
	}
	*root = json_tokener_parse_verbose(text, &parse_error);
	free(text);
	if (!*root || !json_object_is_type(*root, json_type_object) ||
	    !json_object_object_get_ex(*root, "alerts", alerts) ||
	    !json_object_is_type(*alerts, json_type_array)) {
		pr_warn("%s: %s: not a state file (%s), its alerts are lost; those still true "
			"fire again",
			who, path, *root ? "no alerts array" : json_tokener_error_desc(parse_error));
		json_object_put(*root);
		*root = NULL;
		*alerts = NULL;
		return -EINVAL;
	}
	return 0;
}

void state_file_saved(const char *path, int err, bool *failing)
{
	if (err && !*failing)
		pr_err("firing state: cannot save %s: %s; trying again every interval", path,
		       strerror(-err));
	else if (!err && *failing)
		pr_info("firing state: %s saved again", path);
	*failing = err != 0;
}
