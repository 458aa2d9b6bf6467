// SPDX-License-Identifier: GPL-2.0
/*
 * The alert record and its wire forms (see alert.h). json-c does all the
 * escaping, json_add_text() makes any bytes valid UTF-8 (U+FFFD); this
 * file only decides which fields go where.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "json.h"

#define TIME_TEXT_SIZE 32

static const char *const kind_names[ALERT_KIND_COUNT] = {
    [ALERT_OVERUSE] = "overuse",
    [ALERT_UNAUTHORIZED_SOFTWARE] = "unauthorized_software",
    [ALERT_NETWORK_ABUSE] = "network_abuse",
};

static const char *const alertnames[ALERT_KIND_COUNT] = {
    [ALERT_OVERUSE] = "AbusewatchOveruse",
    [ALERT_UNAUTHORIZED_SOFTWARE] = "AbusewatchUnauthorizedSoftware",
    [ALERT_NETWORK_ABUSE] = "AbusewatchNetworkAbuse",
};

static const char *const sink_names[ALERT_SINK_COUNT] = {
    [ALERT_SINK_EVENTS_LOG] = "events_log",
    [ALERT_SINK_ALERTMANAGER] = "alertmanager",
    [ALERT_SINK_WEBHOOK] = "webhook",
};

const char *alert_sink_name(enum alert_sink sink)
{
	if ((unsigned int)sink >= ALERT_SINK_COUNT)
		return NULL;
	return sink_names[sink];
}

const char *alert_kind_name(enum alert_kind kind)
{
	if ((unsigned int)kind >= ALERT_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

int alert_kind_from_name(const char *name)
{
	int kind;

	if (!name)
		return -1;
	for (kind = 0; kind < ALERT_KIND_COUNT; kind++)
		if (strcmp(kind_names[kind], name) == 0)
			return kind;
	return -1;
}

const char *alert_alertname(enum alert_kind kind)
{
	if ((unsigned int)kind >= ALERT_KIND_COUNT)
		return NULL;
	return alertnames[kind];
}

void alert_format_time(double time, char *out, size_t size)
{
	long long milliseconds;
	struct tm tm;
	time_t seconds;

	if (!size)
		return;
	/* Nothing sensible to print for these; the epoch at least parses. */
	if (!isfinite(time) || time < 0 || time > 253402300799.0)
		time = 0;
	/* To the nearest millisecond: adding 0.5 rounds, as time is not negative here. */
	milliseconds = (long long)(time * 1000 + 0.5);
	seconds = milliseconds / 1000;
	gmtime_r(&seconds, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milliseconds % 1000);
}

/* The inverse of alert_format_time; the fraction is optional. 0 or -EINVAL. */
static int parse_time(const char *text, double *time)
{
	int year, month, day, hour, minute, second, milliseconds = 0, consumed = -1;
	struct tm tm = {0}, check;
	time_t seconds;

	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
		   &consumed) != 6 ||
	    consumed != 19)
		return -EINVAL;
	text += consumed;
	if (*text == '.') {
		if (sscanf(text, ".%3d%n", &milliseconds, &consumed) != 1 || consumed != 4 ||
		    milliseconds < 0)
			return -EINVAL;
		text += consumed;
	}
	if (strcmp(text, "Z") != 0)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	seconds = timegm(&tm);
	/* timegm normalizes 02-30 into March; a real date comes back unchanged. */
	if (seconds == (time_t)-1 || !gmtime_r(&seconds, &check) || check.tm_year != tm.tm_year ||
	    check.tm_mon != tm.tm_mon || check.tm_mday != day || check.tm_hour != hour ||
	    check.tm_min != minute || check.tm_sec != second)
		return -EINVAL;
	/* One division of an exact integer: the same double the writer started from. */
	*time = (double)((long long)seconds * 1000 + milliseconds) / 1000;
	return 0;
}

/* Ids and counts are left out when 0: there is none. */
static int add_nonzero(struct json_object *object, const char *key, long long value)
{
	return value ? json_add_int(object, key, value) : 0;
}

struct json_object *alert_to_json(const struct alert *alert)
{
	const char *kind = alert_kind_name(alert->kind);
	char time[TIME_TEXT_SIZE];
	struct json_object *record;
	int err = 0;

	if (!kind) {
		errno = EINVAL;
		return NULL;
	}
	record = json_object_new_object();
	if (!record) {
		errno = ENOMEM;
		return NULL;
	}
	alert_format_time(alert->time, time, sizeof(time));
	err = err ?: json_add_text(record, "time", time);
	err = err ?: json_add_text(record, "kind", kind);
	err = err ?: json_add_text(record, "state", alert->firing ? "firing" : "resolved");
	err = err ?: json_add_text(record, "host", alert->host);
	err = err ?: json_add_text(record, "tenant", alert->tenant);
	err = err ?: json_add_text(record, "plan", alert->plan);
	err = err ?: json_add_text(record, "cgroup", alert->cgroup);
	err = err ?: json_add_text(record, "resource", alert->resource);
	/* The measurement is part of every overuse record, zero included. */
	if (alert->kind == ALERT_OVERUSE) {
		err = err ?: json_add_double(record, "value", alert->value);
		err = err ?: json_add_double(record, "limit", alert->limit);
		err = err ?: json_add_double(record, "window_s", alert->window_s);
	}
	err = err ?: json_add_text(record, "rule", alert->rule);
	err = err ?: json_add_text(record, "reason", alert->reason);
	err = err ?: json_add_text(record, "exe", alert->exe);
	err = err ?: json_add_text(record, "sha256", alert->sha256);
	err = err ?: json_add_text(record, "comm", alert->comm);
	err = err ?: add_nonzero(record, "pid", alert->pid);
	err = err ?: json_add_text(record, "action", alert->action);
	err = err ?: json_add_text(record, "action_result", alert->action_result);
	err = err ?: add_nonzero(record, "dst_port", alert->dst_port);
	err = err ?: add_nonzero(record, "destinations", alert->destinations);
	if (err) {
		json_object_put(record);
		errno = -err;
		return NULL;
	}
	return record;
}

/* Fields other than time, kind and state may be absent: they read as NULL or 0. */
static int optional(int err)
{
	return err == -ENOENT ? 0 : err;
}

int alert_from_json(struct json_object *record, struct alert *alert)
{
	const char *time, *kind, *state;
	long long pid, port, destinations;
	struct alert parsed = {0};
	int err, kind_value;

	if (!record || !json_object_is_type(record, json_type_object))
		return -EINVAL;
	err = json_get_string(record, "time", &time);
	err = err ?: json_get_string(record, "kind", &kind);
	err = err ?: json_get_string(record, "state", &state);
	if (err || !time || !kind || !state)
		return -EINVAL;
	if (parse_time(time, &parsed.time))
		return -EINVAL;
	kind_value = alert_kind_from_name(kind);
	if (kind_value < 0)
		return -EINVAL;
	parsed.kind = kind_value;
	if (strcmp(state, "firing") == 0)
		parsed.firing = true;
	else if (strcmp(state, "resolved") != 0)
		return -EINVAL;
	err = optional(json_get_string(record, "host", &parsed.host));
	err = err ?: optional(json_get_string(record, "tenant", &parsed.tenant));
	err = err ?: optional(json_get_string(record, "plan", &parsed.plan));
	err = err ?: optional(json_get_string(record, "cgroup", &parsed.cgroup));
	err = err ?: optional(json_get_string(record, "resource", &parsed.resource));
	err = err ?: optional(json_get_double(record, "value", &parsed.value));
	err = err ?: optional(json_get_double(record, "limit", &parsed.limit));
	err = err ?: optional(json_get_double(record, "window_s", &parsed.window_s));
	err = err ?: optional(json_get_string(record, "rule", &parsed.rule));
	err = err ?: optional(json_get_string(record, "reason", &parsed.reason));
	err = err ?: optional(json_get_string(record, "exe", &parsed.exe));
	err = err ?: optional(json_get_string(record, "sha256", &parsed.sha256));
	err = err ?: optional(json_get_string(record, "comm", &parsed.comm));
	err = err ?: optional(json_get_int(record, "pid", 1, 0x7fffffff, &pid));
	err = err ?: optional(json_get_string(record, "action", &parsed.action));
	err = err ?: optional(json_get_string(record, "action_result", &parsed.action_result));
	err = err ?: optional(json_get_int(record, "dst_port", 1, 65535, &port));
	err = err ?: optional(json_get_int(record, "destinations", 1, 0xffffffffu, &destinations));
	if (err)
		return -EINVAL;
	parsed.pid = pid;
	parsed.dst_port = port;
	parsed.destinations = destinations;
	*alert = parsed;
	return 0;
}

static bool present(const char *text)
{
	return text && *text;
}

/* "tenant web over its cpu limit on node1"; NULL (errno set) on failure. */
static char *summary_text(const struct alert *alert)
{
	const char *tenant = present(alert->tenant) ? alert->tenant : "(unknown)";
	const char *what;
	char *text = NULL;
	int length;

	switch (alert->kind) {
	case ALERT_OVERUSE:
		length = asprintf(&text, "tenant %s over its %s limit%s%s", tenant,
				  present(alert->resource) ? alert->resource : "resource",
				  present(alert->host) ? " on " : "",
				  present(alert->host) ? alert->host : "");
		break;
	default:
		what = alert->kind == ALERT_NETWORK_ABUSE ? "abused the network"
							  : "ran unauthorized software";
		length = asprintf(&text, "tenant %s %s%s%s", tenant, what,
				  present(alert->host) ? " on " : "",
				  present(alert->host) ? alert->host : "");
		break;
	}
	if (length < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return text;
}

/* Base units can be large (bytes): whole numbers rather than 5.24288e+07. */
static void print_number(FILE *stream, double value)
{
	double magnitude = value < 0 ? -value : value;

	if (magnitude >= 1e6 && magnitude < 1e18)
		fprintf(stream, "%.0f", value);
	else
		fprintf(stream, "%.6g", value);
}

/*
 * The description says what happened from the rule's own fields only:
 * never argv, environment or file contents, which the record never holds.
 */
static char *description_text(const struct alert *alert)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream;

	stream = open_memstream(&text, &size);
	if (!stream)
		return NULL;
	if (alert->kind == ALERT_OVERUSE) {
		fprintf(stream, "%s ", present(alert->resource) ? alert->resource : "usage");
		print_number(stream, alert->value);
		fputs(" over the limit ", stream);
		print_number(stream, alert->limit);
		fputs(" averaged over ", stream);
		print_number(stream, alert->window_s);
		fputs(" s (", stream);
		if (present(alert->plan))
			fprintf(stream, "plan %s, ", alert->plan);
		fprintf(stream, "rule %s)", present(alert->rule) ? alert->rule : "plan");
	} else {
		if (present(alert->exe))
			fprintf(stream, "%s matched ", alert->exe);
		else
			fputs("matched ", stream);
		fprintf(stream, "rule %s", present(alert->rule) ? alert->rule : "(unknown)");
		if (present(alert->reason))
			fprintf(stream, ": %s", alert->reason);
		if (alert->dst_port && alert->destinations)
			fprintf(stream, " (port %d, %u destinations)", alert->dst_port,
				alert->destinations);
		else if (alert->dst_port)
			fprintf(stream, " (port %d)", alert->dst_port);
		else if (alert->destinations)
			fprintf(stream, " (%u destinations)", alert->destinations);
		if (present(alert->action))
			fprintf(stream, "; action %s%s%s", alert->action,
				present(alert->action_result) ? ": " : "",
				present(alert->action_result) ? alert->action_result : "");
	}
	if (fclose(stream)) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	return text;
}

static int add_label(struct json_object *labels, const char *key, const char *value)
{
	if (!present(value))
		return 0;
	return json_add_text(labels, key, value);
}

/* Adds @text (heap, may be NULL on failure) under @key and frees it. */
static int add_owned_string(struct json_object *object, const char *key, char *text)
{
	int err;

	if (!text)
		return -ENOMEM;
	err = json_add_text(object, key, text);
	free(text);
	return err;
}

/*
 * A network alert about one port (pool_port) has no destinations count:
 * its port is part of what the alert is, in labels and fingerprint alike.
 * Writes the port as text into @text and returns true when so.
 */
static bool identity_port(const struct alert *alert, char *text, size_t size)
{
	if (alert->kind != ALERT_NETWORK_ABUSE || !alert->dst_port || alert->destinations)
		return false;
	snprintf(text, size, "%d", alert->dst_port);
	return true;
}

struct json_object *alert_to_alertmanager(const struct alert *alert, double ends_at)
{
	struct json_object *element, *labels, *annotations;
	char time[TIME_TEXT_SIZE], port[8];
	int err = 0;

	if (!alert_alertname(alert->kind)) {
		errno = EINVAL;
		return NULL;
	}
	element = json_object_new_object();
	if (!element) {
		errno = ENOMEM;
		return NULL;
	}
	/* Attached at once, so putting @element alone cleans up on any failure. */
	labels = json_object_new_object();
	err = json_add(element, "labels", labels);
	if (err)
		goto put_element;
	annotations = json_object_new_object();
	err = json_add(element, "annotations", annotations);
	if (err)
		goto put_element;
	err = add_label(labels, "alertname", alert_alertname(alert->kind));
	err = err ?: add_label(labels, "tenant", alert->tenant);
	err = err ?: add_label(labels, "plan", alert->plan);
	if (alert->kind == ALERT_OVERUSE)
		err = err ?: add_label(labels, "resource", alert->resource);
	/*
	 * Overuse by the plan has exactly the labels of docs/alerts.md. A relative
	 * alert on the same resource carries its rule too: without it,
	 * Alertmanager would take the two for one alert, and resolving either
	 * would resolve both.
	 */
	if (alert->kind != ALERT_OVERUSE || (present(alert->rule) && strcmp(alert->rule, "plan")))
		err = err ?: add_label(labels, "rule", alert->rule);
	/* Likewise two pool ports of one tenant are two alerts, not one. */
	if (identity_port(alert, port, sizeof(port)))
		err = err ?: add_label(labels, "dst_port", port);
	err = err ?: add_label(labels, "instance", alert->host);
	err = err
		  ?: add_label(labels, "severity",
			       alert->kind == ALERT_OVERUSE ? "warning" : "critical");
	err = err ?: add_owned_string(annotations, "summary", summary_text(alert));
	err = err ?: add_owned_string(annotations, "description", description_text(alert));
	if (present(alert->action))
		err = err ?: json_add_text(annotations, "action", alert->action);
	if (err)
		goto put_element;
	alert_format_time(alert->started_at ? alert->started_at : alert->time, time, sizeof(time));
	err = json_add_text(element, "startsAt", time);
	if (!err && ends_at) {
		alert_format_time(ends_at, time, sizeof(time));
		err = json_add_text(element, "endsAt", time);
	}
	if (err)
		goto put_element;
	return element;

put_element:
	json_object_put(element);
	errno = -err;
	return NULL;
}

/* "<length>:<text>", or "-" for an absent part, so no two identities collide. */
static int append_part(char *out, size_t size, size_t *used, const char *part)
{
	int length;

	if (part)
		length = snprintf(out + *used, size - *used, "|%zu:%s", strlen(part), part);
	else
		length = snprintf(out + *used, size - *used, "|-");
	if (length < 0 || (size_t)length >= size - *used)
		return -ENAMETOOLONG;
	*used += length;
	return 0;
}

int alert_fingerprint(const struct alert *alert, char *out, size_t size)
{
	const char *kind = alert_kind_name(alert->kind);
	char port[8];
	size_t used;
	int err;

	if (!kind)
		return -EINVAL;
	used = strlen(kind);
	if (used >= size)
		return -ENAMETOOLONG;
	memcpy(out, kind, used + 1);
	err = append_part(out, size, &used, alert->tenant);
	err = err ?: append_part(out, size, &used, alert->rule);
	err = err ?: append_part(out, size, &used, alert->resource);
	err = err ?: append_part(out, size, &used, alert->exe);
	if (!err && identity_port(alert, port, sizeof(port)))
		err = append_part(out, size, &used, port);
	if (err)
		return err;
	return used;
}
