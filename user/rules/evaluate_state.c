// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate_state.h"
#include "files.h"
#include "json.h"
#include "log.h"
#include "state_file.h"

#define STATE_FORMAT_VERSION 1
/* Thousands of tenants, each resource firing under both rules: far less than this. */
#define STATE_FILE_MAX (256u << 20)

struct save_ctx {
	struct json_object *alerts;
	double now_wall;
	double now;
};

static int add_alert(const struct firing_alert *firing, void *ctx)
{
	struct save_ctx *save = ctx;
	struct json_object *alert = json_object_new_object();
	int err;

	if (!alert)
		return -ENOMEM;
	err = json_add_string(alert, "tenant", firing->tenant) ?:
	      json_add_string(alert, "plan", firing->plan) ?:
	      json_add_string(alert, "cgroup", firing->cgroup) ?:
	      json_add_string(alert, "resource", resource_name(firing->resource)) ?:
	      json_add_string(alert, "rule", firing->rule) ?:
	      json_add_double(alert, "value", firing->value) ?:
	      json_add_double(alert, "limit", firing->limit) ?:
	      json_add_double(alert, "window_s", firing->window_s) ?:
	      /* Monotonic time means nothing to the next boot: store wall time. */
	      json_add_double(alert, "since", save->now_wall - (save->now - firing->since));
	if (err) {
		json_object_put(alert);
		return err;
	}
	return json_append(save->alerts, alert);
}

/* evaluator_save, quietly. */
static int save(const struct evaluator *evaluator, const char *path, double now_wall, double now)
{
	struct save_ctx save = { .now_wall = now_wall, .now = now };
	struct json_object *root;
	int err;

	root = state_file_new(STATE_FORMAT_VERSION, now_wall, &save.alerts);
	if (!root)
		return -ENOMEM;
	/* Tenant names and cgroups are for the operator only: the file is 0600. */
	err = evaluator_each_firing(evaluator, add_alert, &save) ?:
	      state_file_write(path, root, NULL);
	json_object_put(root);
	return err;
}

int evaluator_save(const struct evaluator *evaluator, const char *path, double now_wall, double now)
{
	int err = save(evaluator, path, now_wall, now);

	if (err)
		pr_warn("firing state: cannot save %s: %s", path, strerror(-err));
	return err;
}

void firing_file_tick(struct firing_file *file, const struct evaluator *evaluator, const char *path,
		      double now_wall, double now)
{
	int err;

	if (!evaluator_changed(evaluator) && !file->unsaved)
		return;
	err = save(evaluator, path, now_wall, now);
	file->unsaved = err != 0;
	state_file_saved(path, err, &file->failing);
}

/* 1 when a new alert was loaded, 0 when it was already known, or -errno. */
static int load_alert(struct evaluator *evaluator, struct json_object *alert, double now_wall,
		      double now, double grace_s)
{
	const char *resource_text;
	struct firing_alert firing;
	double since_wall;
	int err;

	/* No rule is the plan's, as saved before the relative rule existed. */
	err = json_get_string(alert, "rule", &firing.rule);
	if (err == -ENOENT)
		err = 0;
	err = err ?: json_get_string(alert, "tenant", &firing.tenant) ?:
	      json_get_string(alert, "plan", &firing.plan) ?:
	      json_get_string(alert, "cgroup", &firing.cgroup) ?:
	      json_get_string(alert, "resource", &resource_text) ?:
	      json_get_double(alert, "value", &firing.value) ?:
	      json_get_double(alert, "limit", &firing.limit) ?:
	      json_get_double(alert, "window_s", &firing.window_s) ?:
	      json_get_double(alert, "since", &since_wall);
	if (err)
		return -EINVAL;
	firing.resource = resource_from_name(resource_text);
	/* A wall clock set back since the save must not put the start in the future. */
	firing.since = now - fmax(0, now_wall - since_wall);
	return evaluator_restore_firing(evaluator, &firing, now + grace_s);
}

int evaluator_load(struct evaluator *evaluator, const char *path, double now_wall, double now,
		   double grace_s)
{
	struct json_object *root, *alerts;
	size_t i, count, loaded = 0;
	int err;

	err = state_file_read(path, STATE_FILE_MAX, "firing state", &root, &alerts);
	if (err)
		return err;
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
	return err;
}
