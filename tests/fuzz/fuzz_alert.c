// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the alert record encoder (user/sinks/alert.c) with any alert:
 * strings of any bytes (tenants name their cgroups, executables and
 * comms), any numbers. The record must be valid JSON as json-c's strict
 * parser with UTF-8 validation reads it, one line, and read back by
 * alert_from_json (the spool's way) to the same alert; the Alertmanager
 * element must be valid JSON too, and the fingerprint a string.
 */
#include <errno.h>
#include <math.h>

#include "alert.h"
#include "fuzz.h"
#include "json.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Strings of the alert, each NULL or from the input. */
enum field {
	F_HOST,
	F_TENANT,
	F_PLAN,
	F_CGROUP,
	F_RESOURCE,
	F_RULE,
	F_REASON,
	F_EXE,
	F_SHA256,
	F_COMM,
	F_ACTION,
	F_ACTION_RESULT,
	F_COUNT,
};

static struct json_object *parse_strict(const char *text, const char *what)
{
	struct json_tokener *tokener = json_tokener_new();
	struct json_object *object;
	enum json_tokener_error error;

	fuzz_check(tokener, "no tokener");
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	object = json_tokener_parse_ex(tokener, text, (int)strlen(text) + 1);
	error = json_tokener_get_error(tokener);
	fuzz_check(object && error == json_tokener_success, "%s is not valid JSON (%s): %s", what,
		   json_tokener_error_desc(error), text);
	json_tokener_free(tokener);
	return object;
}

/* @got, read back from the record, is @sent as a valid UTF-8 string shows it. */
static void check_string(const char *name, const char *sent, const char *got)
{
	size_t i;

	if (!sent) {
		fuzz_check(!got, "%s: absent, read back \"%s\"", name, got);
		return;
	}
	fuzz_check(got, "%s: \"%s\" not read back", name, sent);
	/* Valid UTF-8 comes back as it was; other bytes as U+FFFD. */
	for (i = 0; sent[i] && (unsigned char)sent[i] < 0x80; i++)
		;
	if (!sent[i])
		fuzz_check(!strcmp(sent, got), "%s: \"%s\" read back as \"%s\"", name, sent, got);
}

static void check_number(const char *name, double sent, double got)
{
	fuzz_check(sent == got, "%s: %.17g read back as %.17g", name, sent, got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct json_object *record = NULL, *parsed = NULL, *element = NULL;
	char *strings[F_COUNT] = { 0 }, fingerprint[4096];
	struct alert alert = { 0 }, back;
	uint32_t present;
	const char *text;
	double ends_at;
	int i, length;

	alert.kind = fuzz_u8(&in) % (ALERT_KIND_COUNT + 1);
	alert.firing = fuzz_bool(&in);
	alert.time = fuzz_double(&in);
	alert.started_at = fuzz_bool(&in) ? fuzz_double(&in) : 0;
	alert.value = fuzz_double(&in);
	alert.limit = fuzz_double(&in);
	alert.window_s = fuzz_double(&in);
	alert.pid = (int)fuzz_u32(&in);
	alert.dst_port = fuzz_bool(&in) ? (int)(fuzz_u32(&in) % 65536) : (int)fuzz_u32(&in);
	alert.destinations = fuzz_u32(&in);
	ends_at = fuzz_bool(&in) ? fuzz_double(&in) : 0;
	present = fuzz_u32(&in);
	for (i = 0; i < F_COUNT; i++)
		if (present & (1u << i))
			strings[i] = fuzz_string(&in, 300);
	alert.host = strings[F_HOST];
	alert.tenant = strings[F_TENANT];
	alert.plan = strings[F_PLAN];
	alert.cgroup = strings[F_CGROUP];
	alert.resource = strings[F_RESOURCE];
	alert.rule = strings[F_RULE];
	alert.reason = strings[F_REASON];
	alert.exe = strings[F_EXE];
	alert.sha256 = strings[F_SHA256];
	alert.comm = strings[F_COMM];
	alert.action = strings[F_ACTION];
	alert.action_result = strings[F_ACTION_RESULT];

	errno = 0;
	record = alert_to_json(&alert);
	if (!record) {
		/* Only a kind out of range, or an overuse measurement JSON cannot hold. */
		fuzz_check(errno == EINVAL &&
				   (alert.kind >= ALERT_KIND_COUNT ||
				    (alert.kind == ALERT_OVERUSE &&
				     (!isfinite(alert.value) || !isfinite(alert.limit) ||
				      !isfinite(alert.window_s)))),
			   "alert_to_json failed: %s", strerror(errno));
		goto cleanup;
	}
	text = json_object_to_json_string_ext(record, FLAGS);
	fuzz_check(text && !strchr(text, '\n'), "the record is not one line");
	parsed = parse_strict(text, "the record");
	fuzz_check(!alert_from_json(parsed, &back) ||
			   alert.pid <= 0 || alert.dst_port < 0 || alert.dst_port > 65535,
		   "the record is not read back: %s", text);
	if (alert.pid > 0 && alert.dst_port >= 0 && alert.dst_port <= 65535) {
		fuzz_check(back.kind == alert.kind && back.firing == alert.firing, "kind or state");
		check_string("host", alert.host, back.host);
		check_string("tenant", alert.tenant, back.tenant);
		check_string("plan", alert.plan, back.plan);
		check_string("cgroup", alert.cgroup, back.cgroup);
		check_string("resource", alert.resource, back.resource);
		check_string("rule", alert.rule, back.rule);
		check_string("reason", alert.reason, back.reason);
		check_string("exe", alert.exe, back.exe);
		check_string("sha256", alert.sha256, back.sha256);
		check_string("comm", alert.comm, back.comm);
		check_string("action", alert.action, back.action);
		check_string("action_result", alert.action_result, back.action_result);
		if (alert.kind == ALERT_OVERUSE) {
			check_number("value", alert.value, back.value);
			check_number("limit", alert.limit, back.limit);
			check_number("window_s", alert.window_s, back.window_s);
		}
		fuzz_check(back.pid == alert.pid && back.dst_port == alert.dst_port &&
				   back.destinations == alert.destinations,
			   "pid, port or destinations");
		/* To the millisecond, within the years the record can show. */
		if (isfinite(alert.time) && alert.time >= 0 && alert.time < 253402300799.0)
			fuzz_check(fabs(back.time - alert.time) <= 0.0005 + alert.time * 1e-15,
				   "time %.17g read back as %.17g", alert.time, back.time);
	}

	element = alert_to_alertmanager(&alert, ends_at);
	fuzz_check(element, "no Alertmanager element: %s", strerror(errno));
	json_object_put(parsed);
	parsed = parse_strict(json_object_to_json_string_ext(element, FLAGS),
			      "the Alertmanager element");

	length = alert_fingerprint(&alert, fingerprint, sizeof(fingerprint));
	fuzz_check(length == -ENAMETOOLONG || (length >= 0 && (size_t)length == strlen(fingerprint)),
		   "fingerprint length %d", length);
cleanup:
	json_object_put(element);
	json_object_put(parsed);
	json_object_put(record);
	for (i = 0; i < F_COUNT; i++)
		free(strings[i]);
	return 0;
}
