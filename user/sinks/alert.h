/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The alert record of docs/alerts.md and its two wire forms: the JSON line
 * every sink shares, and one element of an Alertmanager API v2 POST. Pure
 * functions, no I/O.
 */
#ifndef ABUSEWATCH_ALERT_H
#define ABUSEWATCH_ALERT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

enum alert_kind {
	ALERT_OVERUSE,
	ALERT_UNAUTHORIZED_SOFTWARE,
	ALERT_NETWORK_ABUSE,
	ALERT_KIND_COUNT,
};

/* Where records go; abusewatch_alerts_dropped_total counts, by sink, those that never got there. */
enum alert_sink {
	ALERT_SINK_EVENTS_LOG,
	ALERT_SINK_ALERTMANAGER,
	ALERT_SINK_WEBHOOK,
	ALERT_SINK_COUNT,
};

/*
 * Strings are borrowed for the duration of a call; NULL (or 0 for numbers
 * noted below) leaves a field out of the record.
 */
struct alert {
	enum alert_kind kind;
	bool firing;	   /* state: firing, else resolved */
	double time;	   /* wall clock, seconds since the epoch */
	double started_at; /* wall clock when it began to fire; 0: same as time */
	/*
	 * Monotonic seconds when it began to fire, as rules count time; 0:
	 * unknown. Not part of the record: alerts_publish() turns it into
	 * started_at.
	 */
	double since;
	const char *host;
	const char *tenant;
	const char *plan;
	const char *cgroup;
	/* overuse */
	const char *resource; /* NULL for other kinds */
	double value;
	double limit;
	double window_s;
	/* every kind: "plan"/"relative" for overuse; "name", "sha256", "port_scan", ... */
	const char *rule;
	const char *reason;
	/* unauthorized_software: never argv, environment or file contents */
	const char *exe;
	const char *sha256;
	const char *comm;
	int pid; /* 0: absent */
	/* What was done (software policy `action`): "alert", "kill", "freeze". */
	const char *action;
	const char *action_result; /* e.g. "killed", "frozen", "failed: ..." */
	/* network_abuse */
	int dst_port;		   /* 0: absent */
	unsigned int destinations; /* 0: absent */
};

/*
 * Where every rule (overuse, relative, network, software) hands its finished
 * alerts (alerts_publish): host, time and started_at are the receiver's.
 */
typedef void (*alert_fn)(struct alert *alert, void *ctx);

/* "overuse", "unauthorized_software", "network_abuse"; NULL if out of range. */
const char *alert_kind_name(enum alert_kind kind);
/* "events_log", "alertmanager", "webhook"; NULL if out of range. */
const char *alert_sink_name(enum alert_sink sink);
/* The kind for a name, or -1. */
int alert_kind_from_name(const char *name);
/* "AbusewatchOveruse", "AbusewatchUnauthorizedSoftware", "AbusewatchNetworkAbuse". */
const char *alert_alertname(enum alert_kind kind);

/*
 * The record of docs/alerts.md: time (RFC 3339 UTC, milliseconds), kind, state,
 * host, tenant, plan, cgroup, resource, value, limit, window_s, rule,
 * reason, exe, sha256, comm, pid, action, action_result, dst_port,
 * destinations; absent fields are
 * left out. NULL (errno set) on failure; the caller puts the object.
 */
struct json_object *alert_to_json(const struct alert *alert);

/*
 * Parses a record made by alert_to_json back (for the spool). String fields
 * of @alert point into @record, which must outlive it. 0 or -EINVAL.
 */
int alert_from_json(struct json_object *record, struct alert *alert);

/*
 * One element of an Alertmanager v2 POST body: labels alertname, tenant,
 * plan, resource (overuse) or rule (other kinds), instance (host) and
 * severity; annotations summary, description (and action when set); startsAt; endsAt =
 * @ends_at (wall clock seconds) when non-zero. Firing alerts pass a time
 * ahead of now, resolved ones their resolution time. NULL on failure.
 */
struct json_object *alert_to_alertmanager(const struct alert *alert, double ends_at);

/*
 * Identity of an alert across firing/resolved and re-sends: kind, tenant,
 * rule, resource and exe, and the port of a pool_port alert. Writes a NUL-terminated string; returns its
 * length, or -ENAMETOOLONG when @size is too small.
 */
int alert_fingerprint(const struct alert *alert, char *out, size_t size);

/* "2026-11-23T19:30:30.123Z" for @time (seconds since the epoch). */
void alert_format_time(double time, char *out, size_t size);

#endif
