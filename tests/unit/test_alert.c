// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/sinks/alert.c: the record, its round trip, Alertmanager's form, fingerprints. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alert.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* 2026-11-23T19:30:30Z */
#define SOME_TIME 1795462230.0
/*
 * A time the record can hold exactly: it has milliseconds, so the double
 * must be the one nearest to a whole number of them.
 */
#define MS_TIME(ms) ((1795462230000LL + (ms)) / 1000.0)

static const struct alert overuse = {
    .kind = ALERT_OVERUSE,
    .firing = true,
    .time = MS_TIME(123),
    .started_at = SOME_TIME - 60,
    .host = "node1",
    .tenant = "web",
    .plan = "default",
    .cgroup = "/ci/web",
    .resource = "cpu",
    .value = 1.02,
    .limit = 0.5,
    .window_s = 60,
    .rule = "plan",
};

static const struct alert software = {
    .kind = ALERT_UNAUTHORIZED_SOFTWARE,
    .firing = true,
    .time = MS_TIME(500),
    .host = "node1",
    .tenant = "web",
    .plan = "small",
    .cgroup = "/ci/web/job",
    .rule = "name",
    .reason = "name xmrig is denied",
    .exe = "/tmp/xmrig",
    .sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    .comm = "xmrig",
    .pid = 4242,
};

static const struct alert network = {
    .kind = ALERT_NETWORK_ABUSE,
    .firing = false,
    .time = MS_TIME(1),
    .host = "node1",
    .tenant = "web",
    .plan = "default",
    .cgroup = "/ci/web",
    .rule = "port_scan",
    .reason = "120 destinations in 10 s",
    .dst_port = 22,
    .destinations = 120,
};

/* The record as a line, checked whole: field order is documented (docs/alerts.md). */
static void check_record(const struct alert *alert, const char *expected)
{
	struct json_object *record = alert_to_json(alert);

	assert_non_null(record);
	assert_string_equal(json_object_to_json_string_ext(record, JSON_FLAGS), expected);
	json_object_put(record);
}

static void test_record_fields(void **state)
{
	check_record(&overuse, "{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\","
			       "\"state\":\"firing\",\"host\":\"node1\",\"tenant\":\"web\","
			       "\"plan\":\"default\",\"cgroup\":\"/ci/web\",\"resource\":\"cpu\","
			       "\"value\":1.02,\"limit\":0.5,\"window_s\":60,\"rule\":\"plan\"}");
	check_record(
	    &software,
	    "{\"time\":\"2026-11-23T19:30:30.500Z\",\"kind\":\"unauthorized_software\","
	    "\"state\":\"firing\",\"host\":\"node1\",\"tenant\":\"web\",\"plan\":\"small\","
	    "\"cgroup\":\"/ci/web/job\",\"rule\":\"name\","
	    "\"reason\":\"name xmrig is denied\",\"exe\":\"/tmp/xmrig\","
	    "\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
	    "\"comm\":\"xmrig\",\"pid\":4242}");
	check_record(&network, "{\"time\":\"2026-11-23T19:30:30.001Z\",\"kind\":\"network_abuse\","
			       "\"state\":\"resolved\",\"host\":\"node1\",\"tenant\":\"web\","
			       "\"plan\":\"default\",\"cgroup\":\"/ci/web\",\"rule\":\"port_scan\","
			       "\"reason\":\"120 destinations in 10 s\",\"dst_port\":22,"
			       "\"destinations\":120}");
}

static void test_record_escapes(void **state)
{
	struct alert alert = software;

	/* json-c escapes; the test only checks that quotes and newlines cannot break the line. */
	alert.exe = "/tmp/a\"b\nc";
	alert.reason = NULL;
	alert.sha256 = NULL;
	alert.comm = NULL;
	alert.pid = 0;
	check_record(&alert,
		     "{\"time\":\"2026-11-23T19:30:30.500Z\",\"kind\":\"unauthorized_software\","
		     "\"state\":\"firing\",\"host\":\"node1\",\"tenant\":\"web\","
		     "\"plan\":\"small\",\"cgroup\":\"/ci/web/job\",\"rule\":\"name\","
		     "\"exe\":\"/tmp/a\\\"b\\nc\"}");
}

/* @text parses as JSON with json-c's strict parser, UTF-8 checked. */
static void assert_strict_json(const char *text)
{
	struct json_tokener *tokener = json_tokener_new();
	struct json_object *object;

	assert_non_null(tokener);
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	object = json_tokener_parse_ex(tokener, text, (int)strlen(text) + 1);
	if (!object)
		fail_msg("not valid JSON (%s): %s",
			 json_tokener_error_desc(json_tokener_get_error(tokener)), text);
	json_object_put(object);
	json_tokener_free(tokener);
}

/*
 * Found by tests/fuzz/fuzz_alert.c: bytes that are not UTF-8 (an
 * executable's name, a comm, a cgroup name: a tenant chooses them) went
 * into the record as they were, and a strict JSON reader refused it (so
 * would Python's json.loads, in a webhook receiver). They are U+FFFD now;
 * valid UTF-8 stays as it is.
 */
static void test_record_not_utf8(void **state)
{
	struct alert alert = software;
	struct json_object *record, *element;
	const char *text;

	alert.exe = "/tmp/\xff\xfeminer\xc3";
	alert.comm = "caf\xc3\xa9\xed\xa0\x80";
	alert.tenant = "t\x80";
	record = alert_to_json(&alert);
	assert_non_null(record);
	text = json_object_to_json_string_ext(record, JSON_FLAGS);
	assert_strict_json(text);
	assert_non_null(strstr(text, "\"exe\":\"/tmp/\xef\xbf\xbd\xef\xbf\xbdminer\xef\xbf\xbd\""));
	/* A surrogate's three bytes: one U+FFFD for the lead that cannot start one, one each after. */
	assert_non_null(strstr(text, "\"comm\":\"caf\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""));
	json_object_put(record);

	element = alert_to_alertmanager(&alert, 0);
	assert_non_null(element);
	text = json_object_to_json_string_ext(element, JSON_FLAGS);
	assert_strict_json(text);
	assert_non_null(strstr(text, "\"tenant\":\"t\xef\xbf\xbd\""));
	json_object_put(element);
}

static void test_bad_kind(void **state)
{
	struct alert alert = overuse;

	alert.kind = ALERT_KIND_COUNT;
	errno = 0;
	assert_null(alert_to_json(&alert));
	assert_int_equal(errno, EINVAL);
	assert_null(alert_to_alertmanager(&alert, 0));
}

static void test_time_format(void **state)
{
	static const struct {
		double time;
		const char *text;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {SOME_TIME, "2026-11-23T19:30:30.000Z"},
	    {SOME_TIME + 0.123, "2026-11-23T19:30:30.123Z"},
	    {SOME_TIME + 0.9996, "2026-11-23T19:30:31.000Z"},
	    {951782400.25, "2000-02-29T00:00:00.250Z"},
	    {1767225599.999, "2025-12-31T23:59:59.999Z"},
	};
	char text[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		alert_format_time(cases[i].time, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
	}
}

static void assert_same_string(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Through text and back: every field exactly, and the same text again. */
static void check_round_trip(const struct alert *alert)
{
	struct json_object *record, *parsed, *again;
	struct alert back;
	char *text;

	record = alert_to_json(alert);
	assert_non_null(record);
	text = strdup(json_object_to_json_string_ext(record, JSON_FLAGS));
	parsed = json_tokener_parse(text);
	assert_non_null(parsed);
	assert_int_equal(alert_from_json(parsed, &back), 0);

	assert_int_equal(back.kind, alert->kind);
	assert_int_equal(back.firing, alert->firing);
	assert_true(back.time == alert->time);
	assert_true(back.started_at == 0);
	assert_same_string(back.host, alert->host);
	assert_same_string(back.tenant, alert->tenant);
	assert_same_string(back.plan, alert->plan);
	assert_same_string(back.cgroup, alert->cgroup);
	assert_same_string(back.resource, alert->resource);
	assert_true(back.value == alert->value);
	assert_true(back.limit == alert->limit);
	assert_true(back.window_s == alert->window_s);
	assert_same_string(back.rule, alert->rule);
	assert_same_string(back.reason, alert->reason);
	assert_same_string(back.exe, alert->exe);
	assert_same_string(back.sha256, alert->sha256);
	assert_same_string(back.comm, alert->comm);
	assert_int_equal(back.pid, alert->pid);
	assert_int_equal(back.dst_port, alert->dst_port);
	assert_int_equal(back.destinations, alert->destinations);

	again = alert_to_json(&back);
	assert_non_null(again);
	assert_string_equal(json_object_to_json_string_ext(again, JSON_FLAGS), text);
	json_object_put(again);
	json_object_put(parsed);
	json_object_put(record);
	free(text);
}

static void test_round_trip(void **state)
{
	static const double values[] = {
	    0, 0.1, 1.0 / 3, 1e-7, 123456789.123, 4.2e12, 5e-324, 1.7976931348623157e308, 52428800};
	struct alert alert;
	size_t i;

	alert = overuse;
	alert.started_at = 0;
	check_round_trip(&alert);
	check_round_trip(&network);
	alert = software;
	alert.pid = 0x7fffffff;
	check_round_trip(&alert);
	alert = network;
	alert.destinations = 0xffffffffu;
	alert.dst_port = 65535;
	check_round_trip(&alert);
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		alert = overuse;
		alert.started_at = 0;
		alert.value = values[i];
		alert.limit = values[ARRAY_SIZE(values) - 1 - i];
		alert.window_s = values[i] / 7;
		alert.time = MS_TIME(7 * i + 1);
		check_round_trip(&alert);
	}
}

/* Finer times are cut to the millisecond the record shows, and read back as that. */
static void test_time_precision(void **state)
{
	struct json_object *record, *parsed;
	struct alert alert = overuse, back;

	alert.time = SOME_TIME + 0.1234567;
	record = alert_to_json(&alert);
	assert_non_null(record);
	parsed = json_tokener_parse(json_object_to_json_string(record));
	assert_int_equal(alert_from_json(parsed, &back), 0);
	assert_true(back.time == MS_TIME(123));
	json_object_put(parsed);
	json_object_put(record);
}

static void check_refused(const char *text)
{
	struct json_object *record = json_tokener_parse(text);
	struct alert alert;

	if (!record)
		fail_msg("test text does not parse: %s", text);
	if (alert_from_json(record, &alert) != -EINVAL)
		fail_msg("accepted: %s", text);
	json_object_put(record);
}

static void test_from_json_refused(void **state)
{
	check_refused("[]");
	check_refused("{\"kind\":\"overuse\",\"state\":\"firing\"}");
	check_refused("{\"time\":\"2026-11-23T19:30:30.123Z\",\"state\":\"firing\"}");
	check_refused("{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\"}");
	check_refused(
	    "{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"nope\",\"state\":\"firing\"}");
	check_refused(
	    "{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\",\"state\":\"on\"}");
	check_refused(
	    "{\"time\":\"2026-11-23 19:30:30\",\"kind\":\"overuse\",\"state\":\"firing\"}");
	check_refused(
	    "{\"time\":\"2026-02-30T19:30:30.123Z\",\"kind\":\"overuse\",\"state\":\"firing\"}");
	check_refused(
	    "{\"time\":\"2026-11-23T19:30:30.123\",\"kind\":\"overuse\",\"state\":\"firing\"}");
	check_refused("{\"time\":1795462230,\"kind\":\"overuse\",\"state\":\"firing\"}");
	check_refused(
	    "{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\",\"state\":\"firing\","
	    "\"tenant\":7}");
	check_refused(
	    "{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\",\"state\":\"firing\","
	    "\"value\":\"1\"}");
	check_refused("{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"network_abuse\","
		      "\"state\":\"firing\",\"dst_port\":70000}");
	check_refused("{\"time\":\"2026-11-23T19:30:30.123Z\",\"kind\":\"unauthorized_software\","
		      "\"state\":\"firing\",\"pid\":1.5}");
}

static struct json_object *member(struct json_object *object, const char *key)
{
	struct json_object *value = NULL;

	if (!json_object_object_get_ex(object, key, &value))
		return NULL;
	return value;
}

static const char *member_string(struct json_object *object, const char *key)
{
	struct json_object *value = member(object, key);

	return value ? json_object_get_string(value) : NULL;
}

static void test_alertmanager_overuse(void **state)
{
	struct json_object *element, *labels, *annotations;

	element = alert_to_alertmanager(&overuse, SOME_TIME + 120);
	assert_non_null(element);
	labels = member(element, "labels");
	assert_non_null(labels);
	assert_int_equal(json_object_object_length(labels), 6);
	assert_string_equal(member_string(labels, "alertname"), "AbusewatchOveruse");
	assert_string_equal(member_string(labels, "tenant"), "web");
	assert_string_equal(member_string(labels, "plan"), "default");
	assert_string_equal(member_string(labels, "resource"), "cpu");
	assert_string_equal(member_string(labels, "instance"), "node1");
	assert_string_equal(member_string(labels, "severity"), "warning");
	assert_null(member(labels, "rule"));
	annotations = member(element, "annotations");
	assert_non_null(annotations);
	assert_string_equal(member_string(annotations, "summary"),
			    "tenant web over its cpu limit on node1");
	assert_string_equal(
	    member_string(annotations, "description"),
	    "cpu 1.02 over the limit 0.5 averaged over 60 s (plan default, rule plan)");
	/* startsAt is when it began to fire, not this record's time. */
	assert_string_equal(member_string(element, "startsAt"), "2026-11-23T19:29:30.000Z");
	assert_string_equal(member_string(element, "endsAt"), "2026-11-23T19:32:30.000Z");
	json_object_put(element);
}

static void test_alertmanager_software(void **state)
{
	struct json_object *element, *labels, *annotations;
	struct alert alert = software;

	alert.plan = "";
	alert.host = NULL;
	alert.firing = false;
	element = alert_to_alertmanager(&alert, alert.time);
	assert_non_null(element);
	labels = member(element, "labels");
	assert_int_equal(json_object_object_length(labels), 4);
	assert_string_equal(member_string(labels, "alertname"), "AbusewatchUnauthorizedSoftware");
	assert_string_equal(member_string(labels, "tenant"), "web");
	assert_string_equal(member_string(labels, "rule"), "name");
	assert_string_equal(member_string(labels, "severity"), "critical");
	assert_null(member(labels, "plan"));
	assert_null(member(labels, "instance"));
	assert_null(member(labels, "resource"));
	annotations = member(element, "annotations");
	assert_string_equal(member_string(annotations, "summary"),
			    "tenant web ran unauthorized software");
	assert_string_equal(member_string(annotations, "description"),
			    "/tmp/xmrig matched rule name: name xmrig is denied");
	/* No started_at: the record's own time. */
	assert_string_equal(member_string(element, "startsAt"), "2026-11-23T19:30:30.500Z");
	assert_string_equal(member_string(element, "endsAt"), "2026-11-23T19:30:30.500Z");
	json_object_put(element);
}

static void test_alertmanager_network(void **state)
{
	struct json_object *element, *labels, *annotations;

	element = alert_to_alertmanager(&network, 0);
	assert_non_null(element);
	labels = member(element, "labels");
	assert_string_equal(member_string(labels, "alertname"), "AbusewatchNetworkAbuse");
	assert_string_equal(member_string(labels, "rule"), "port_scan");
	assert_string_equal(member_string(labels, "instance"), "node1");
	assert_string_equal(member_string(labels, "severity"), "critical");
	annotations = member(element, "annotations");
	assert_string_equal(member_string(annotations, "summary"),
			    "tenant web abused the network on node1");
	assert_string_equal(
	    member_string(annotations, "description"),
	    "matched rule port_scan: 120 destinations in 10 s (port 22, 120 destinations)");
	assert_null(member(element, "endsAt"));
	json_object_put(element);
}

/* Two pool ports of one tenant, or a relative and a plan alert, stay apart in Alertmanager. */
static void test_alertmanager_apart(void **state)
{
	struct json_object *element, *labels;
	struct alert alert = network;

	alert.rule = "pool_port";
	alert.dst_port = 3333;
	alert.destinations = 0;
	element = alert_to_alertmanager(&alert, 0);
	assert_non_null(element);
	labels = member(element, "labels");
	assert_string_equal(member_string(labels, "rule"), "pool_port");
	assert_string_equal(member_string(labels, "dst_port"), "3333");
	json_object_put(element);

	alert = overuse;
	alert.rule = "relative";
	element = alert_to_alertmanager(&alert, 0);
	assert_non_null(element);
	labels = member(element, "labels");
	assert_int_equal(json_object_object_length(labels), 7);
	assert_string_equal(member_string(labels, "resource"), "cpu");
	assert_string_equal(member_string(labels, "rule"), "relative");
	json_object_put(element);
}

static void fingerprint_of(const struct alert *alert, char *out, size_t size)
{
	int length = alert_fingerprint(alert, out, size);

	assert_true(length > 0);
	assert_int_equal(length, strlen(out));
}

static void test_fingerprint(void **state)
{
	char first[256], second[256];
	struct alert a, b;

	/* Stable across state, time and measurements. */
	a = overuse;
	b = overuse;
	b.firing = false;
	b.time += 100;
	b.value = 7;
	b.cgroup = "/other";
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_equal(first, second);

	/* Each identity part counts. */
	b = overuse;
	b.resource = "memory";
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	b = overuse;
	b.tenant = "api";
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	b = overuse;
	b.rule = "relative";
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	b = overuse;
	b.kind = ALERT_NETWORK_ABUSE;
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	a = software;
	b = software;
	b.exe = "/tmp/other";
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	/* The port of a pool_port alert, which has no destinations count. */
	a = network;
	a.destinations = 0;
	b = a;
	b.dst_port = a.dst_port + 1;
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);

	/* The separator inside a part cannot shift it into the next one. */
	a = software;
	a.tenant = "a|b";
	a.rule = "c";
	b = software;
	b.tenant = "a";
	b.rule = "b|c";
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);
	a.tenant = "a|1:b";
	a.rule = NULL;
	b.tenant = "a";
	b.rule = "b";
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);

	/* Absent and empty differ. */
	a = software;
	a.exe = NULL;
	b = software;
	b.exe = "";
	fingerprint_of(&a, first, sizeof(first));
	fingerprint_of(&b, second, sizeof(second));
	assert_string_not_equal(first, second);

	assert_int_equal(alert_fingerprint(&overuse, first, 8), -ENAMETOOLONG);
	assert_int_equal(alert_fingerprint(&overuse, first, strlen(second) / 4), -ENAMETOOLONG);
}

static void test_kind_names(void **state)
{
	int kind;

	for (kind = 0; kind < ALERT_KIND_COUNT; kind++)
		assert_int_equal(alert_kind_from_name(alert_kind_name(kind)), kind);
	assert_string_equal(alert_kind_name(ALERT_UNAUTHORIZED_SOFTWARE), "unauthorized_software");
	assert_string_equal(alert_alertname(ALERT_NETWORK_ABUSE), "AbusewatchNetworkAbuse");
	assert_null(alert_kind_name(ALERT_KIND_COUNT));
	assert_null(alert_alertname(ALERT_KIND_COUNT));
	assert_int_equal(alert_kind_from_name("Overuse"), -1);
	assert_int_equal(alert_kind_from_name(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_fields),
	    cmocka_unit_test(test_record_escapes),
	    cmocka_unit_test(test_record_not_utf8),
	    cmocka_unit_test(test_bad_kind),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_time_precision),
	    cmocka_unit_test(test_from_json_refused),
	    cmocka_unit_test(test_alertmanager_overuse),
	    cmocka_unit_test(test_alertmanager_software),
	    cmocka_unit_test(test_alertmanager_network),
	    cmocka_unit_test(test_alertmanager_apart),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
