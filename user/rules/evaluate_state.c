// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evaluate_state.h"
#include "files.h"
#include "log.h"

#define STATE_FORMAT_VERSION 1

static int add_string(struct json_object *object, const char *key, const char *value)
{
	struct json_object *string = json_object_new_string(value ? value : "");

	if (!string || json_object_object_add(object, key, string)) {
		json_object_put(string);
		return -ENOMEM;
	}
	return 0;
}

static int add_double(struct json_object *object, const char *key, double value)
{
	struct json_object *number = json_object_new_double(value);

	if (!number || json_object_object_add(object, key, number)) {
		json_object_put(number);
		return -ENOMEM;
	}
	return 0;
}

struct save_ctx {
	struct json_object *alerts;
	double now_wall;
	double now;
};

static int add_alert(const struct firing_alert *firing, void *ctx)
{
	struct save_ctx *save = ctx;
	struct json_object *alert = json_object_new_object();

	if (!alert)
		return -ENOMEM;
	if (add_string(alert, "tenant", firing->tenant) ||
	    add_string(alert, "plan", firing->plan) ||
	    add_string(alert, "cgroup", firing->cgroup) ||
	    add_string(alert, "resource", resource_name(firing->resource)) ||
	    add_string(alert, "rule", firing->rule) || add_double(alert, "value", firing->value) ||
	    add_double(alert, "limit", firing->limit) ||
	    add_double(alert, "window_s", firing->window_s) ||
	    /* Monotonic time means nothing to the next boot: store wall time. */
	    add_double(alert, "since", save->now_wall - (save->now - firing->since)) ||
	    json_object_array_add(save->alerts, alert)) {
		json_object_put(alert);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *firing_to_json(const struct evaluator *evaluator, double now_wall,
					  double now)
{
	struct json_object *root = json_object_new_object(), *alerts = json_object_new_array();
	struct save_ctx save = { .alerts = alerts, .now_wall = now_wall, .now = now };

	if (!root || !alerts || json_object_object_add(root, "alerts", alerts)) {
		json_object_put(alerts);
		goto fail;
	}
	if (json_object_object_add(root, "version", json_object_new_int(STATE_FORMAT_VERSION)) ||
	    add_double(root, "saved_at", now_wall) ||
	    evaluator_each_firing(evaluator, add_alert, &save))
		goto fail;
	return root;
fail:
	json_object_put(root);
	errno = ENOMEM;
	return NULL;
}

/* The saved text and its closing newline. */
static int write_text(int fd, void *ctx)
{
	const char *text = ctx;
	int err;

	err = files_write_all(fd, text, strlen(text));
	return err ? err : files_write_all(fd, "\n", 1);
}

int evaluator_save(const struct evaluator *evaluator, const char *path, double now_wall, double now)
{
	struct json_object *root;
	const char *text;
	int err;

	root = firing_to_json(evaluator, now_wall, now);
	if (!root)
		return -ENOMEM;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		err = -ENOMEM;
		goto free_json;
	}
	/* Tenant names and cgroups are for the operator only: mode 0600. */
	err = files_replace(path, 0600, write_text, (void *)text);
	if (err)
		pr_warn("firing state: cannot save %s: %s", path, strerror(-err));
free_json:
	json_object_put(root);
	return err;
}

static int read_file(const char *path, char **out)
{
	size_t len = 0, capacity = 4096;
	char *text = malloc(capacity), *bigger;
	ssize_t got;
	int fd, err = 0;

	if (!text)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto free_text;
	}
	for (;;) {
		if (len + 1 >= capacity) {
			bigger = realloc(text, capacity * 2);
			if (!bigger) {
				err = -ENOMEM;
				goto close_fd;
			}
			text = bigger;
			capacity *= 2;
		}
		got = read(fd, text + len, capacity - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto close_fd;
		}
		if (!got)
			break;
		len += got;
	}
	text[len] = '\0';
	close(fd);
	*out = text;
	return 0;

close_fd:
	close(fd);
free_text:
	free(text);
	return err;
}

static const char *get_string(struct json_object *object, const char *key)
{
	struct json_object *value;

	if (!json_object_object_get_ex(object, key, &value) ||
	    !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

static bool get_number(struct json_object *object, const char *key, double *number)
{
	struct json_object *value;

	if (!json_object_object_get_ex(object, key, &value) ||
	    (!json_object_is_type(value, json_type_double) &&
	     !json_object_is_type(value, json_type_int)))
		return false;
	*number = json_object_get_double(value);
	return isfinite(*number);
}

/* 1 when a new alert was loaded, 0 when it was already known, or -errno. */
static int load_alert(struct evaluator *evaluator, struct json_object *alert, double now_wall,
		      double now, double grace_s)
{
	const char *resource_text;
	struct firing_alert firing;
	double since_wall;

	firing.tenant = get_string(alert, "tenant");
	firing.plan = get_string(alert, "plan");
	firing.cgroup = get_string(alert, "cgroup");
	resource_text = get_string(alert, "resource");
	firing.rule = get_string(alert, "rule");
	if (!firing.tenant || !firing.plan || !firing.cgroup || !resource_text ||
	    !get_number(alert, "value", &firing.value) ||
	    !get_number(alert, "limit", &firing.limit) ||
	    !get_number(alert, "window_s", &firing.window_s) ||
	    !get_number(alert, "since", &since_wall))
		return -EINVAL;
	firing.resource = resource_from_name(resource_text);
	/* A wall clock set back since the save must not put the start in the future. */
	firing.since = now - fmax(0, now_wall - since_wall);
	return evaluator_restore_firing(evaluator, &firing, now + grace_s);
}

int evaluator_load(struct evaluator *evaluator, const char *path, double now_wall, double now,
		   double grace_s)
{
	struct json_object *root = NULL, *alerts;
	enum json_tokener_error parse_error;
	size_t i, count, loaded = 0;
	char *text = NULL;
	int err;

	err = read_file(path, &text);
	if (err) {
		if (err != -ENOENT)
			pr_warn("firing state: cannot read %s: %s", path, strerror(-err));
		return err;
	}
	root = json_tokener_parse_verbose(text, &parse_error);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "alerts", &alerts) ||
	    !json_object_is_type(alerts, json_type_array)) {
		pr_warn("firing state: %s: not a state file (%s), its alerts are lost", path,
			root ? "no alerts array" : json_tokener_error_desc(parse_error));
		err = -EINVAL;
		goto cleanup;
	}
	count = json_object_array_length(alerts);
	for (i = 0; i < count; i++) {
		int ret = load_alert(evaluator, json_object_array_get_idx(alerts, i), now_wall, now,
				     grace_s);

		if (ret == -ENOMEM) {
			err = ret;
			goto cleanup;
		}
		if (ret < 0)
			pr_warn("firing state: %s: alert %zu is not valid, skipped", path, i);
		else
			loaded += ret;
	}
	pr_debug("firing state: %zu firing alerts loaded from %s", loaded, path);

cleanup:
	json_object_put(root);
	free(text);
	return err;
}
