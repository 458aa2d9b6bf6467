// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alert.h"
#include "alertmanager.h"
#include "clock.h"
#include "log.h"

#define ALERTMANAGER_PATH "/api/v2/alerts"
#define BATCH_SIZE 64
#define FIRING_AHEAD_S 120.0 /* endsAt of a firing alert: outlives a few missed re-sends */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct alertmanager {
	char *post_url;
	char *display_url;
	struct spool *spool;
	struct spool_list firing; /* fingerprints unique, each record's set */
	bool firing_changed;	  /* since it was last written */
	double resend_interval_s;
	double next_resend; /* monotonic */
	size_t single_left; /* send one at a time to isolate a refused record */
	unsigned long long dropped;
};

struct alertmanager *alertmanager_new(const char *base_url, const char *display_url,
				      struct spool *spool, double resend_interval_s)
{
	struct alertmanager *alertmanager = calloc(1, sizeof(*alertmanager));

	if (!alertmanager)
		goto fail;
	alertmanager->spool = spool;
	alertmanager->resend_interval_s = resend_interval_s;
	if (asprintf(&alertmanager->post_url, "%s%s", base_url, ALERTMANAGER_PATH) < 0)
		alertmanager->post_url = NULL;
	alertmanager->display_url = strdup(display_url);
	if (!alertmanager->post_url || !alertmanager->display_url)
		goto free_alertmanager;
	return alertmanager;

free_alertmanager:
	alertmanager_free(alertmanager);
fail:
	errno = ENOMEM;
	return NULL;
}

void alertmanager_free(struct alertmanager *alertmanager)
{
	if (!alertmanager)
		return;
	spool_list_clear(&alertmanager->firing);
	free(alertmanager->post_url);
	free(alertmanager->display_url);
	free(alertmanager);
}

/*
 * The parsed record and its alert (strings point into *@object, which the
 * caller puts). 0 or -errno.
 */
static int record_parse(const struct spool_record *record, struct json_object **object,
			struct alert *alert)
{
	*object = json_tokener_parse(record->text);
	if (!*object)
		return -EINVAL;
	if (alert_from_json(*object, alert)) {
		json_object_put(*object);
		*object = NULL;
		return -EINVAL;
	}
	alert->started_at = record->started_at;
	return 0;
}

/* Heap fingerprint of @record, and whether it fires; NULL (errno set) on failure. */
static char *record_fingerprint(const struct spool_record *record, bool *firing)
{
	/* Every part is a string of the record, which is at least as long escaped. */
	size_t size = strlen(record->text) + 64;
	struct json_object *object;
	struct alert alert;
	char *fingerprint;
	int err;

	err = record_parse(record, &object, &alert);
	if (err) {
		errno = -err;
		return NULL;
	}
	fingerprint = malloc(size);
	if (!fingerprint) {
		json_object_put(object);
		errno = ENOMEM;
		return NULL;
	}
	err = alert_fingerprint(&alert, fingerprint, size);
	*firing = alert.firing;
	json_object_put(object);
	if (err < 0) {
		free(fingerprint);
		errno = -err;
		return NULL;
	}
	return fingerprint;
}

void alertmanager_load(struct alertmanager *alertmanager, size_t *skipped)
{
	struct spool_list loaded = {0};
	struct spool_record *record;
	bool fires;

	spool_load(alertmanager->spool, SPOOL_FIRING, &loaded, false, skipped);
	while ((record = spool_list_pop(&loaded))) {
		record->fingerprint = record_fingerprint(record, &fires);
		if (!record->fingerprint || !fires) {
			spool_record_free(record);
			continue;
		}
		/* A later line for the same alert replaces an earlier one. */
		spool_record_free(
		    spool_list_take_fingerprint(&alertmanager->firing, record->fingerprint));
		spool_list_push(&alertmanager->firing, record);
	}
	/* Firing alerts from before a restart are renewed at once; otherwise a cycle from now. */
	alertmanager->next_resend =
	    alertmanager->firing.count ? 0 : clock_monotonic() + alertmanager->resend_interval_s;
}

/* Appends the Alertmanager element of @record to @array. */
static int add_element(struct json_object *array, const struct spool_record *record, double now)
{
	struct json_object *object, *element;
	struct alert alert;
	int err;

	err = record_parse(record, &object, &alert);
	if (err)
		return err;
	/* Firing: valid a while ahead, renewed by re-sends; resolved: ended then. */
	element = alert_to_alertmanager(&alert, alert.firing ? now + FIRING_AHEAD_S : alert.time);
	json_object_put(object);
	if (!element)
		return -ENOMEM;
	if (json_object_array_add(array, element)) {
		json_object_put(element);
		return -ENOMEM;
	}
	return 0;
}

static enum http_result post_array(struct alertmanager *alertmanager, struct http_client *client,
				   struct json_object *array, char *why, size_t why_size)
{
	return http_post_json(client, alertmanager->post_url, NULL, 0,
			      json_object_to_json_string_ext(array, JSON_FLAGS), why, why_size);
}

/*
 * What a delivered (or refused) record means for the firing set: a firing
 * one replaces its predecessor (the set takes @record over), a resolved one
 * removes it.
 */
static void update_firing(struct alertmanager *alertmanager, struct spool_record *record,
			  bool delivered)
{
	struct spool_record *older;
	bool firing;
	char *fingerprint;

	fingerprint = record_fingerprint(record, &firing);
	if (!fingerprint || (firing && !delivered)) {
		free(fingerprint);
		spool_record_free(record);
		return;
	}
	older = spool_list_take_fingerprint(&alertmanager->firing, fingerprint);
	spool_record_free(older);
	if (!firing) {
		free(fingerprint);
		spool_record_free(record);
		alertmanager->firing_changed |= older != NULL;
		return;
	}
	record->fingerprint = fingerprint;
	spool_list_push(&alertmanager->firing, record);
	alertmanager->firing_changed = true;
}

enum http_result alertmanager_send(struct alertmanager *alertmanager, struct http_client *client,
				   struct spool_list *queue, size_t *done, char *why,
				   size_t why_size)
{
	size_t batch = alertmanager->single_left ? 1 : BATCH_SIZE, count = 0, i;
	struct json_object *array = json_object_new_array();
	enum http_result result = HTTP_RETRY;
	struct spool_record *record;
	double now = clock_wall();

	snprintf(why, why_size, "out of memory");
	if (!array)
		return HTTP_RETRY;
	for (record = queue->head; record && count < batch; record = record->next) {
		if (add_element(array, record, now))
			goto cleanup;
		count++;
	}
	result = post_array(alertmanager, client, array, why, why_size);
	if (result == HTTP_DROP && count > 1) {
		/* One bad record must not take its batch down with it. */
		alertmanager->single_left = count;
		result = HTTP_OK;
		goto cleanup;
	}
	if (result == HTTP_RETRY)
		goto cleanup;
	if (result == HTTP_DROP) {
		alertmanager->dropped++;
		pr_err("alertmanager %s refused a record (%s); dropped it, %llu so far",
		       alertmanager->display_url, why, alertmanager->dropped);
	}
	for (i = 0; i < count; i++) {
		update_firing(alertmanager, spool_list_pop(queue), result == HTTP_OK);
		if (alertmanager->single_left)
			alertmanager->single_left--;
	}
	*done += count;
cleanup:
	json_object_put(array);
	return result;
}

double alertmanager_next_resend(const struct alertmanager *alertmanager)
{
	return alertmanager->firing.count ? alertmanager->next_resend : INFINITY;
}

enum http_result alertmanager_resend(struct alertmanager *alertmanager, struct http_client *client,
				     double now, char *why, size_t why_size)
{
	struct spool_record *record = alertmanager->firing.head;
	enum http_result result = HTTP_OK;
	double wall_now = clock_wall();
	struct json_object *array;
	size_t count;

	while (record && result == HTTP_OK) {
		array = json_object_new_array();
		if (!array) {
			snprintf(why, why_size, "out of memory");
			return HTTP_RETRY;
		}
		for (count = 0; record && count < BATCH_SIZE; record = record->next) {
			if (add_element(array, record, wall_now))
				continue;
			count++;
		}
		result = post_array(alertmanager, client, array, why, why_size);
		json_object_put(array);
	}
	if (result != HTTP_RETRY)
		alertmanager->next_resend = now + alertmanager->resend_interval_s;
	return result;
}

void alertmanager_save(struct alertmanager *alertmanager)
{
	/* Behind memory (a failed write, a file set aside as corrupt): written until it works. */
	if (!alertmanager->firing_changed && !spool_dirty(alertmanager->spool, SPOOL_FIRING))
		return;
	alertmanager->firing_changed = false;
	spool_rewrite(alertmanager->spool, SPOOL_FIRING, &alertmanager->firing);
}
