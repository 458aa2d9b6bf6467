/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Delivery of alert records to the HTTP sinks: every Alertmanager peer
 * (API v2) and the webhook (Standard Webhooks HMAC-SHA256 signature). Each
 * target has a worker thread that does its network I/O, so the caller
 * never waits on it, and a target that hangs delays no other target.
 *
 * Nothing is lost while a sink is down: each target has its own queue,
 * written through to a spool file in state_dir before the first attempt
 * and removed from it once delivered; a restarted agent reloads its spool.
 * While state_dir cannot be written (full, read-only) records are kept in
 * memory and the spool file is written whole again once it can be.
 * https:// targets verify the server's certificate, against the system's
 * CAs or a configured CA file.
 * Failed attempts are retried with exponential backoff (1 s doubling to
 * 60 s). Alerts firing at an Alertmanager peer are re-sent every 30 s with
 * endsAt 2 minutes ahead (also kept in state_dir across restarts);
 * resolved ones are sent with endsAt set.
 */
#ifndef ABUSEWATCH_DELIVERY_H
#define ABUSEWATCH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

struct delivery_targets {
	const char *const *alertmanager; /* base URLs, e.g. http://127.0.0.1:9093 */
	size_t alertmanager_count;
	const char *alertmanager_ca_file; /* PEM CAs for https:// peers; NULL or "": the system's */
	const char *webhook_url; /* NULL or "": none */
	const char
	    *webhook_secret_file; /* "whsec_<base64>" or raw bytes; trailing newline ignored */
	const char *webhook_ca_file; /* as alertmanager_ca_file, for the webhook */
};

enum delivery_sink {
	DELIVERY_SINK_ALERTMANAGER,
	DELIVERY_SINK_WEBHOOK,
	DELIVERY_SINK_COUNT,
};

struct delivery;

/*
 * Creates @state_dir (and its spool) if needed, loads what earlier runs
 * left undelivered and starts the worker. NULL (errno set) on failure.
 */
struct delivery *delivery_new(const char *state_dir, const struct delivery_targets *targets);

/*
 * New targets (SIGHUP): a target with the same URL keeps its queue; a
 * removed target's undelivered records stay in its spool file, logged. A
 * webhook secret that cannot be read is an error: 0 or -errno, and then
 * nothing changed.
 */
int delivery_set_targets(struct delivery *delivery, const struct delivery_targets *targets);

/* Queues @alert for every target; never blocks on the network. 0 or -errno. */
int delivery_enqueue(struct delivery *delivery, const struct alert *alert);

/*
 * Records dropped since start because a target's queue was full (a long
 * outage: QUEUE_LIMIT records per target), by sink; each run of drops is
 * logged once.
 */
void delivery_dropped(struct delivery *delivery, uint64_t dropped[DELIVERY_SINK_COUNT]);

/* Records waiting (all targets together), for tests and logs. */
size_t delivery_pending(struct delivery *delivery);

/*
 * Stops the workers: one last attempt for what is queued, all targets at
 * once, bounded by @grace_s seconds; what is left stays in the spool.
 * NULL is fine.
 */
void delivery_free(struct delivery *delivery, double grace_s);

/*
 * Standard Webhooks signature of @body: "v1," + base64(HMAC-SHA256(key,
 * "@msg_id.@timestamp.@body")). 0 or -errno. Exposed for tests.
 */
int delivery_sign_webhook(const unsigned char *key, size_t key_length, const char *msg_id,
			  long long timestamp, const char *body, char *out, size_t size);

/* The key bytes of a secret file's text: base64-decoded after "whsec_", else as is. */
int delivery_parse_secret(const char *text, unsigned char *key, size_t size, size_t *length);

#endif
