// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "clock.h"
#include "delivery.h"
#include "events_log.h"
#include "log.h"

/* How long a stopping agent waits for the HTTP sinks; the spool keeps the rest. */
#define SHUTDOWN_GRACE_S 2.0

struct alerts {
	char host[256];
	char *events_log_path;
	uint64_t rotate_bytes;
	unsigned int keep;
	struct events_log *log;
	bool log_failed;	     /* log an unwritable events log once */
	uint64_t events_log_dropped; /* by logs closed since start (a changed path) */
	struct delivery *delivery;
	uint64_t totals[ALERT_KIND_COUNT];
};

static void set_host(struct alerts *alerts, const struct config *config)
{
	if (config->agent.hostname && config->agent.hostname[0])
		snprintf(alerts->host, sizeof(alerts->host), "%s", config->agent.hostname);
	else if (gethostname(alerts->host, sizeof(alerts->host) - 1))
		snprintf(alerts->host, sizeof(alerts->host), "unknown");
}

static void fill_targets(const struct config *config, struct delivery_targets *targets)
{
	targets->alertmanager = (const char *const *)config->alerts.alertmanager;
	targets->alertmanager_count = config->alerts.alertmanager_count;
	targets->alertmanager_ca_file = config->alerts.alertmanager_ca_file;
	targets->webhook_url = config->alerts.webhook_url;
	targets->webhook_secret_file = config->alerts.webhook_secret_file;
	targets->webhook_ca_file = config->alerts.webhook_ca_file;
}

/* (Re)opens the events log when its settings changed or it failed to open before. */
static void open_events_log(struct alerts *alerts, const struct config *config)
{
	const struct agent_config *agent = &config->agent;

	if (alerts->log && alerts->events_log_path &&
	    !strcmp(alerts->events_log_path, agent->events_log) &&
	    alerts->rotate_bytes == agent->events_log_rotate_bytes &&
	    alerts->keep == agent->events_log_keep)
		return;
	alerts->events_log_dropped += events_log_dropped(alerts->log);
	events_log_close(alerts->log);
	alerts->log = NULL;
	free(alerts->events_log_path);
	alerts->events_log_path = strdup(agent->events_log);
	alerts->rotate_bytes = agent->events_log_rotate_bytes;
	alerts->keep = agent->events_log_keep;
	if (!alerts->events_log_path || !alerts->events_log_path[0])
		return;
	alerts->log = events_log_open(alerts->events_log_path, alerts->rotate_bytes, alerts->keep);
	if (!alerts->log && !alerts->log_failed)
		pr_err("cannot open the events log %s: %s (retrying each interval)",
		       alerts->events_log_path, strerror(errno));
	alerts->log_failed = !alerts->log;
}

struct alerts *alerts_new(const struct config *config)
{
	struct alerts *alerts = calloc(1, sizeof(*alerts));
	struct delivery_targets targets;

	if (!alerts)
		return NULL;
	set_host(alerts, config);
	open_events_log(alerts, config);
	fill_targets(config, &targets);
	alerts->delivery = delivery_new(config->agent.state_dir, &targets);
	if (!alerts->delivery)
		pr_err("cannot start alert delivery (state_dir %s): %s; alerts go to the events "
		       "log only",
		       config->agent.state_dir, strerror(errno));
	return alerts;
}

int alerts_reconfigure(struct alerts *alerts, const struct config *config)
{
	struct delivery_targets targets;
	int err = 0;

	fill_targets(config, &targets);
	if (alerts->delivery)
		err = delivery_set_targets(alerts->delivery, &targets);
	else
		alerts->delivery = delivery_new(config->agent.state_dir, &targets);
	if (err)
		return err;
	set_host(alerts, config);
	open_events_log(alerts, config);
	return 0;
}

const char *alerts_host(const struct alerts *alerts)
{
	return alerts->host;
}

void alerts_emit(struct alerts *alerts, struct alert *alert)
{
	struct json_object *record;
	int err;

	alert->host = alerts->host;
	if (alert->firing && alert->kind < ALERT_KIND_COUNT)
		alerts->totals[alert->kind]++;
	if (alerts->delivery) {
		err = delivery_enqueue(alerts->delivery, alert);
		if (err)
			pr_err("cannot queue an alert for delivery: %s", strerror(-err));
	}
	if (!alerts->log)
		return;
	record = alert_to_json(alert);
	if (!record) {
		pr_err("cannot encode an alert record: %s", strerror(errno));
		return;
	}
	err = events_log_append(alerts->log, record);
	if (err)
		pr_err("cannot add to the events log: %s", strerror(-err));
	json_object_put(record);
}

void alerts_publish(struct alert *alert, void *ctx)
{
	struct alerts *alerts = ctx;
	double now_wall = clock_wall();

	if (!alert->time)
		alert->time = now_wall;
	if (alert->since && !alert->started_at)
		alert->started_at = now_wall - (clock_monotonic() - alert->since);
	alerts_emit(alerts, alert);
	if (alert->kind != ALERT_OVERUSE)
		alerts_flush(alerts);
}

void alerts_flush(struct alerts *alerts)
{
	int err;

	if (!alerts->log && alerts->events_log_path && alerts->events_log_path[0]) {
		/* Opening failed earlier (directory not writable yet, say): try again. */
		alerts->log =
		    events_log_open(alerts->events_log_path, alerts->rotate_bytes, alerts->keep);
		if (alerts->log && alerts->log_failed)
			pr_info("events log %s open", alerts->events_log_path);
		alerts->log_failed = !alerts->log;
	}
	if (!alerts->log)
		return;
	err = events_log_flush(alerts->log);
	if (err)
		pr_debug("events log flush: %s", strerror(-err));
}

void alerts_totals(const struct alerts *alerts, uint64_t totals[ALERT_KIND_COUNT],
		   uint64_t dropped[ALERT_SINK_COUNT])
{
	uint64_t delivery_dropped_now[DELIVERY_SINK_COUNT] = {0};

	memcpy(totals, alerts->totals, sizeof(alerts->totals));
	if (alerts->delivery)
		delivery_dropped(alerts->delivery, delivery_dropped_now);
	dropped[ALERT_SINK_EVENTS_LOG] =
	    alerts->events_log_dropped + events_log_dropped(alerts->log);
	dropped[ALERT_SINK_ALERTMANAGER] = delivery_dropped_now[DELIVERY_SINK_ALERTMANAGER];
	dropped[ALERT_SINK_WEBHOOK] = delivery_dropped_now[DELIVERY_SINK_WEBHOOK];
}

void alerts_free(struct alerts *alerts)
{
	if (!alerts)
		return;
	events_log_close(alerts->log);
	delivery_free(alerts->delivery, SHUTDOWN_GRACE_S);
	free(alerts->events_log_path);
	free(alerts);
}
