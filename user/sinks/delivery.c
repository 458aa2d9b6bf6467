// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of alert records to Alertmanager peers and the webhook: the
 * targets, their backoff, and the worker threads that drive the spool
 * (spool.c) and the sinks (alertmanager.c, webhook.c over http.c).
 *
 * Threads: one worker per target, so that a sink that hangs (up to the
 * request timeout, 5 s, at every attempt) delays only its own records,
 * never another sink's. A thread per target rather than libcurl's multi
 * interface in one worker: the sinks' requests stay the plain blocking
 * calls they are (alertmanager_send, webhook_send, one request at a time
 * in order, each answer deciding what is sent next), a target's state
 * stays its worker's alone without locking, and targets are few (the
 * Alertmanager peers and one webhook), so the threads cost little: a
 * stack each, mostly untouched, and a wake-up a minute when idle.
 *
 * Callers only append to a target's "incoming" list under the shared lock
 * and wake its worker; the lock guards nothing else but the target lists,
 * the counters and the flags below. A worker owns everything else of its
 * target: it moves incoming records into the queue after appending them to
 * the target's spool file (fsync'd before any attempt), does the target's
 * HTTP requests with the target's own HTTP client (a libcurl handle serves
 * one thread), backs off, re-sends firing alerts, and is the only one to
 * touch the target's spool files. A target removed by delivery_set_targets
 * is marked retiring and parked on the retired list: its worker ends the
 * request in flight, spools what it holds and exits, and the target is
 * freed only once that worker is joined, so a request in flight never sees
 * its target vanish. A new target for the URL of a retiring one waits for
 * that one's worker before reading the spool files it leaves.
 *
 * Workers block every signal but the faults (a crash still reports where
 * it happened): the main loop takes SIGTERM, SIGINT and SIGHUP through a
 * signalfd, which only works while no thread can take them instead.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "alertmanager.h"
#include "clock.h"
#include "delivery.h"
#include "files.h"
#include "http.h"
#include "log.h"
#include "spool.h"
#include "webhook.h"

#define RECORDS_PER_PASS 64 /* then the spool file is rewritten and new records taken in */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_FACTOR 60 /* 1 s doubling up to 60 s */
#define RESEND_INTERVAL_MS 30000
#define IDLE_WAKE_S 60.0
#define QUEUE_LIMIT 100000 /* per target, so a long outage cannot eat all memory */
#define SPOOL_RETRY_S 1.0  /* a spool file behind memory is written again at most this often */

enum target_type {
	TARGET_ALERTMANAGER,
	TARGET_WEBHOOK,
};

static const char *const target_type_names[] = {
    [TARGET_ALERTMANAGER] = "alertmanager",
    [TARGET_WEBHOOK] = "webhook",
};

struct target {
	enum target_type type;
	char *url;	   /* as configured, less trailing slashes: the target's identity */
	char *display_url; /* without user:password@, for the spool's file names */
	char *log_url;	   /* without user:password@, query or fragment: for logs */
	struct spool *spool;
	struct alertmanager *alertmanager; /* TARGET_ALERTMANAGER only */
	struct webhook *webhook;	   /* TARGET_WEBHOOK only */
	struct http_client *http;	   /* this target's worker's alone */
	struct delivery *delivery;
	pthread_t worker;
	bool worker_started; /* joined before the target is freed */
	pthread_cond_t wake;

	/* Under delivery->lock. */
	struct target *next_retired;
	struct spool_list incoming;
	size_t queued; /* what the worker holds (queue and in transit), for delivery_pending */
	bool overflowing;
	char *ca_file; /* NULL: the system's CAs */
	bool kicked;
	bool retiring;	      /* removed: spool what is held, then exit */
	bool abandoned;	      /* never published (delivery_set_targets failed): exit at once */
	bool finished;	      /* the worker is done with the target and about to return */
	unsigned long serial; /* creation order: who reads a URL's spool files first */

	/* The worker's alone (and delivery_new's before the workers start). */
	bool loaded; /* spool files read */
	struct spool_list queue;
	bool down;
	long backoff_ms;
	double next_attempt;	 /* monotonic seconds */
	double next_spool_retry; /* monotonic seconds, while the queue file is dirty */
};

struct delivery {
	char *spool_dir;
	long backoff_base_ms;
	long backoff_max_ms;
	double resend_interval_s;
	size_t queue_limit;

	pthread_mutex_t lock;
	/* Under lock. */
	bool running; /* new targets get their worker at once (after delivery_new's loading) */
	unsigned long serials;
	struct target **targets;
	size_t target_count;
	struct target *retired; /* removed targets, until their worker is joined */
	bool stopping;
	double deadline;			  /* monotonic, once stopping */
	uint64_t overflowed[DELIVERY_SINK_COUNT]; /* by target type: dropped on a full queue */
};

_Static_assert((int)TARGET_ALERTMANAGER == (int)DELIVERY_SINK_ALERTMANAGER &&
		   (int)TARGET_WEBHOOK == (int)DELIVERY_SINK_WEBHOOK,
	       "a target's type is its sink's index in delivery_dropped");

/* The positive number in environment variable @name, else @fallback. */
static long env_positive(const char *name, long fallback)
{
	const char *text = getenv(name);
	char *end;
	long value;

	if (!text || !*text)
		return fallback;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || value <= 0)
		return fallback;
	return value;
}

/* ---- targets ---- */

/* @url without "user:password@", which must not reach logs or file names. */
static char *strip_userinfo(const char *url)
{
	const char *authority, *end, *at;
	char *text = NULL;

	authority = strstr(url, "://");
	authority = authority ? authority + 3 : url;
	end = authority + strcspn(authority, "/?#");
	at = memrchr(authority, '@', end - authority);
	if (!at)
		return strdup(url);
	if (asprintf(&text, "%.*s%s", (int)(authority - url), url, at + 1) < 0)
		return NULL;
	return text;
}

/*
 * @display_url as logs show it: a query or fragment often carries a token
 * (?token=..., ?key=...), so it is shown as "?...". The spool's file names
 * keep using the display URL, as earlier versions did.
 */
static char *log_url_of(const char *display_url)
{
	size_t length = strcspn(display_url, "?#");
	char *text = NULL;

	if (!display_url[length])
		return strdup(display_url);
	if (asprintf(&text, "%.*s?...", (int)length, display_url) < 0)
		return NULL;
	return text;
}

/* The length of @url less its trailing slashes. */
static size_t url_length(const char *url)
{
	size_t length = strlen(url);

	while (length > 1 && url[length - 1] == '/')
		length--;
	return length;
}

/* Its worker must be joined (target_join) or never started. */
static void target_free(struct target *target)
{
	if (!target)
		return;
	pthread_cond_destroy(&target->wake);
	http_client_free(target->http);
	spool_list_clear(&target->incoming);
	spool_list_clear(&target->queue);
	alertmanager_free(target->alertmanager);
	webhook_free(target->webhook);
	spool_free(target->spool);
	free(target->url);
	free(target->display_url);
	free(target->log_url);
	free(target->ca_file);
	free(target);
}

static struct target *target_new(struct delivery *delivery, enum target_type type, const char *url)
{
	struct target *target = calloc(1, sizeof(*target));
	pthread_condattr_t attributes;
	int err;

	if (!target)
		goto fail;
	err = pthread_condattr_init(&attributes);
	if (err) {
		free(target);
		goto fail;
	}
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	err = pthread_cond_init(&target->wake, &attributes);
	pthread_condattr_destroy(&attributes);
	if (err) {
		free(target);
		goto fail;
	}
	target->delivery = delivery;
	target->type = type;
	target->backoff_ms = delivery->backoff_base_ms;
	target->url = strndup(url, url_length(url));
	if (!target->url)
		goto free_target;
	target->display_url = strip_userinfo(target->url);
	if (!target->display_url)
		goto free_target;
	target->log_url = log_url_of(target->display_url);
	if (!target->log_url)
		goto free_target;
	target->spool = spool_new(delivery->spool_dir, target_type_names[type], target->url,
				  target->display_url, target->log_url);
	if (!target->spool)
		goto free_target;
	if (type == TARGET_ALERTMANAGER)
		target->alertmanager = alertmanager_new(target->url, target->log_url, target->spool,
							delivery->resend_interval_s);
	else
		/* The webhook's own path may need its trailing slash. */
		target->webhook = webhook_new(url, target->log_url);
	if (!target->alertmanager && !target->webhook)
		goto free_target;
	target->http = http_client_new();
	if (!target->http)
		goto free_target;
	return target;

free_target:
	target_free(target);
fail:
	errno = ENOMEM;
	return NULL;
}

/* An active target of @type for @url (trailing slashes aside), or NULL. Under lock. */
static struct target *find_target(struct target **targets, size_t count, enum target_type type,
				  const char *url)
{
	size_t length = url_length(url), i;

	for (i = 0; i < count; i++)
		if (targets[i]->type == type && strlen(targets[i]->url) == length &&
		    strncmp(targets[i]->url, url, length) == 0)
			return targets[i];
	return NULL;
}

/* Loads what an earlier run left for @target, and counts it in delivery_pending. */
static void target_load(struct delivery *delivery, struct target *target)
{
	size_t skipped = 0;

	spool_load(target->spool, SPOOL_QUEUE, &target->queue, target->type == TARGET_WEBHOOK,
		   &skipped);
	if (target->type == TARGET_WEBHOOK)
		webhook_fill_ids(&target->queue, &skipped);
	else
		alertmanager_load(target->alertmanager, &skipped);
	if (target->queue.count)
		pr_info("%s %s: %zu undelivered record(s) from an earlier run",
			target_type_names[target->type], target->log_url, target->queue.count);
	pthread_mutex_lock(&delivery->lock);
	target->queued = target->queue.count;
	pthread_mutex_unlock(&delivery->lock);
	target->loaded = true;
}

/* ---- workers' lifetimes ---- */

static void *worker_main(void *data);

/*
 * The signals a worker blocks: all but those of a fault, which are meant
 * for the thread that faulted. SIGTERM, SIGINT and SIGHUP are the main
 * loop's, read from its signalfd.
 */
static void worker_signals(sigset_t *signals)
{
	sigfillset(signals);
	sigdelset(signals, SIGSEGV);
	sigdelset(signals, SIGBUS);
	sigdelset(signals, SIGFPE);
	sigdelset(signals, SIGILL);
	sigdelset(signals, SIGTRAP);
	sigdelset(signals, SIGSYS);
	sigdelset(signals, SIGABRT);
}

/*
 * Starts @target's worker. A thread starts with its creator's signal
 * mask, hence worker_signals set around pthread_create: the caller may be
 * a thread that has not blocked the loop's signals (the unit tests).
 */
static int target_start(struct target *target)
{
	sigset_t blocked, previous;
	int err;

	worker_signals(&blocked);
	err = -pthread_sigmask(SIG_SETMASK, &blocked, &previous);
	if (err)
		return err;
	err = -pthread_create(&target->worker, NULL, worker_main, target);
	pthread_sigmask(SIG_SETMASK, &previous, NULL);
	if (!err)
		target->worker_started = true;
	return err;
}

/* Takes the retired targets whose worker is done off the retired list. Under lock. */
static struct target *take_finished(struct delivery *delivery)
{
	struct target **link = &delivery->retired, *finished = NULL, *target;

	while ((target = *link)) {
		if (!target->finished) {
			link = &target->next_retired;
			continue;
		}
		*link = target->next_retired;
		target->next_retired = finished;
		finished = target;
	}
	return finished;
}

/* Joins @target's worker, if any. Without the lock, which the worker may wait for. */
static void target_join(struct target *target)
{
	if (target->worker_started)
		pthread_join(target->worker, NULL);
	target->worker_started = false;
}

/*
 * Joins the workers of a list of retired targets, then frees them: all
 * joined first, since a worker on its way out still walks the lists
 * (wake_twins). Without the lock.
 */
static void free_targets(struct target *list)
{
	struct target *target, *next;

	for (target = list; target; target = target->next_retired)
		target_join(target);
	for (target = list; target; target = next) {
		next = target->next_retired;
		target_free(target);
	}
}

/*
 * The new target set, under lock: kept targets are reused, new ones
 * created unloaded (with their worker once delivery_new has started them),
 * the rest retired. Nothing changes on failure.
 */
static int install_targets(struct delivery *delivery, const struct delivery_targets *config,
			   const unsigned char *key, size_t key_length, bool has_key)
{
	size_t wanted = config->alertmanager_count + 1, count = 0, i, j, left;
	struct target **targets, *target, *webhook_target = NULL;
	const char *url, *ca_file;
	char **ca_files;
	int err = 0;

	targets = calloc(wanted, sizeof(*targets));
	ca_files = calloc(wanted, sizeof(*ca_files));
	if (!targets || !ca_files) {
		err = -ENOMEM;
		goto free_arrays;
	}
	for (i = 0; i < wanted; i++) {
		enum target_type type =
		    i < config->alertmanager_count ? TARGET_ALERTMANAGER : TARGET_WEBHOOK;

		url = type == TARGET_ALERTMANAGER ? config->alertmanager[i] : config->webhook_url;
		ca_file = type == TARGET_ALERTMANAGER ? config->alertmanager_ca_file
						      : config->webhook_ca_file;
		if (!url || !*url || find_target(targets, count, type, url))
			continue;
		if (ca_file && *ca_file && !(ca_files[count] = strdup(ca_file))) {
			err = -ENOMEM;
			goto free_created;
		}
		target = find_target(delivery->targets, delivery->target_count, type, url);
		if (!target) {
			target = target_new(delivery, type, url);
			if (target) {
				target->serial = ++delivery->serials;
				/* It waits for the lock, held here until the set is installed. */
				err = delivery->running ? target_start(target) : 0;
				if (err) {
					target_free(target);
					target = NULL;
					errno = -err;
				}
			}
		}
		if (!target) {
			err = -errno;
			free(ca_files[count]);
			goto free_created;
		}
		if (type == TARGET_WEBHOOK)
			webhook_target = target;
		targets[count++] = target;
	}
	if (webhook_target)
		webhook_set_key(webhook_target->webhook, key, key_length, has_key);
	for (i = 0; i < count; i++) {
		free(targets[i]->ca_file);
		targets[i]->ca_file = ca_files[i];
	}
	for (i = 0; i < delivery->target_count; i++) {
		target = delivery->targets[i];
		for (j = 0; j < count && targets[j] != target; j++)
			;
		if (j < count)
			continue;
		left = target->queued + target->incoming.count;
		if (left)
			pr_warn("%s %s removed with %zu record(s) undelivered; they stay in %s",
				target_type_names[target->type], target->log_url, left,
				spool_path(target->spool, SPOOL_QUEUE));
		else
			pr_info("%s %s removed", target_type_names[target->type], target->log_url);
		/* Its worker ends what it is doing, spools what is left and exits. */
		target->retiring = true;
		target->next_retired = delivery->retired;
		delivery->retired = target;
		pthread_cond_signal(&target->wake);
	}
	free(delivery->targets);
	free(ca_files);
	delivery->targets = targets;
	delivery->target_count = count;
	return 0;

free_created:
	/* Only the targets made here: the others still belong to the current set. */
	for (i = 0; i < count; i++) {
		free(ca_files[i]);
		for (j = 0; j < delivery->target_count && delivery->targets[j] != targets[i]; j++)
			;
		if (j < delivery->target_count)
			continue;
		if (!targets[i]->worker_started) {
			target_free(targets[i]);
			continue;
		}
		/* Joined later, without the lock that its worker waits for. */
		targets[i]->abandoned = true;
		targets[i]->next_retired = delivery->retired;
		delivery->retired = targets[i];
	}
free_arrays:
	free(ca_files);
	free(targets);
	return err;
}

/*
 * A CA file that others could change would let them vouch for any server:
 * refused, as the configuration would refuse it (config.c). One that is
 * missing or unreadable fails every https:// attempt instead, logged, and
 * the records wait.
 */
static int check_ca_file(const char *sink, const char *path)
{
	char why[128];
	int err;

	if (!path || !*path)
		return 0;
	err = files_check_trusted(path, why, sizeof(why));
	if (err == -EPERM) {
		pr_err("%s ca_file %s is %s: refused (chown root and chmod go-w it)", sink, path,
		       why);
		return err;
	}
	return 0;
}

/* Reads the webhook secret, if any, then installs the targets. */
static int apply_targets(struct delivery *delivery, const struct delivery_targets *config)
{
	unsigned char key[WEBHOOK_KEY_MAX];
	struct target *finished;
	size_t key_length = 0;
	bool has_key = false;
	int err;

	err = check_ca_file("alertmanager",
			    config->alertmanager_count ? config->alertmanager_ca_file : NULL);
	if (!err && config->webhook_url && *config->webhook_url)
		err = check_ca_file("webhook", config->webhook_ca_file);
	if (err)
		return err;
	if (config->webhook_url && *config->webhook_url && config->webhook_secret_file &&
	    *config->webhook_secret_file) {
		/* webhook_read_secret logs why it failed, never what it read. */
		err =
		    webhook_read_secret(config->webhook_secret_file, key, sizeof(key), &key_length);
		if (err)
			return err;
		has_key = true;
	} else if (config->webhook_url && *config->webhook_url) {
		pr_warn("webhook has no secret_file: its requests are not signed");
	}
	pthread_mutex_lock(&delivery->lock);
	err = install_targets(delivery, config, key, key_length, has_key);
	finished = take_finished(delivery);
	pthread_mutex_unlock(&delivery->lock);
	OPENSSL_cleanse(key, sizeof(key));
	/* Their workers have returned: joining them does not wait. */
	free_targets(finished);
	return err;
}

/* ---- worker ---- */

/* Tracks up/down and backoff after an attempt; logs only the transitions. */
static void note_result(struct delivery *delivery, struct target *target, enum http_result result,
			const char *why)
{
	double now = clock_monotonic();

	if (result == HTTP_RETRY) {
		if (!target->down)
			pr_warn("%s %s is unreachable (%s); retrying with backoff up to %ld s",
				target_type_names[target->type], target->log_url, why,
				delivery->backoff_max_ms / 1000);
		target->down = true;
		target->next_attempt = now + target->backoff_ms / 1000.0;
		target->backoff_ms *= 2;
		if (target->backoff_ms > delivery->backoff_max_ms)
			target->backoff_ms = delivery->backoff_max_ms;
		return;
	}
	/* A refusal is an answer too: the peer is up. */
	if (target->down)
		pr_info("%s %s is reachable again (%s)", target_type_names[target->type],
			target->log_url, why);
	target->down = false;
	target->backoff_ms = delivery->backoff_base_ms;
	target->next_attempt = 0;
}

/* Gives the HTTP client @target's CA file, copied under the lock (a reload may change it). */
static int target_use_ca_file(struct delivery *delivery, struct target *target)
{
	int err;

	pthread_mutex_lock(&delivery->lock);
	err = http_client_set_ca_file(target->http, target->ca_file);
	pthread_mutex_unlock(&delivery->lock);
	return err;
}

/* One attempt at the head of the queue, by the target's sink. */
static enum http_result target_send(struct delivery *delivery, struct target *target, size_t *done,
				    char *why, size_t why_size)
{
	if (target->type == TARGET_ALERTMANAGER)
		return alertmanager_send(target->alertmanager, target->http, &target->queue, done,
					 why, why_size);
	return webhook_send(target->webhook, target->http, &target->queue, done, why, why_size);
}

/* When firing alerts are due for a re-send (monotonic); INFINITY if never. */
static double target_next_resend(const struct target *target)
{
	if (target->type == TARGET_ALERTMANAGER)
		return alertmanager_next_resend(target->alertmanager);
	return INFINITY;
}

/* Spools what callers queued for @target and moves it to the worker's queue. */
static void target_take_incoming(struct delivery *delivery, struct target *target)
{
	struct spool_list incoming;

	pthread_mutex_lock(&delivery->lock);
	incoming = target->incoming;
	target->incoming = (struct spool_list){0};
	/* Counted while in transit, so delivery_pending never misses them. */
	target->queued += incoming.count;
	pthread_mutex_unlock(&delivery->lock);
	if (!incoming.count)
		return;
	/*
	 * Delivered anyway when the spool fails: memory is better than
	 * nothing, and the file is written whole again once it can be
	 * (target_sync_spool).
	 */
	spool_append(target->spool, &incoming);
	spool_list_splice(&target->queue, &incoming);
	pthread_mutex_lock(&delivery->lock);
	target->queued = target->queue.count;
	pthread_mutex_unlock(&delivery->lock);
}

/*
 * One round of attempts for @target. Normally it waits out its backoff and
 * sends at most RECORDS_PER_PASS; the last pass (@deadline set) ignores the
 * backoff and sends what it can before @deadline.
 */
static void target_deliver(struct delivery *delivery, struct target *target, double deadline)
{
	size_t done = 0, budget = deadline ? SIZE_MAX : RECORDS_PER_PASS;
	enum http_result result = HTTP_OK;
	double now = clock_monotonic();
	char why[HTTP_WHY_SIZE];

	if (!deadline && now < target->next_attempt)
		return;
	if (target_use_ca_file(delivery, target)) {
		/* Out of memory: the system's CAs would not be the ones asked for. */
		note_result(delivery, target, HTTP_RETRY, "out of memory");
		return;
	}
	while (target->queue.count && done < budget) {
		if (deadline && clock_monotonic() >= deadline)
			break;
		result = target_send(delivery, target, &done, why, sizeof(why));
		note_result(delivery, target, result, why);
		if (result == HTTP_RETRY)
			break;
	}
	/* Only an Alertmanager target ever has firing alerts to re-send. */
	if (!deadline && result != HTTP_RETRY && !target->queue.count &&
	    now >= target_next_resend(target)) {
		result =
		    alertmanager_resend(target->alertmanager, target->http, now, why, sizeof(why));
		note_result(delivery, target, result, why);
		if (result == HTTP_DROP)
			pr_warn("alertmanager %s refused the re-sent firing alerts (%s)",
				target->log_url, why);
	}
	if (done) {
		spool_rewrite(target->spool, SPOOL_QUEUE, &target->queue);
		pthread_mutex_lock(&delivery->lock);
		target->queued = target->queue.count;
		pthread_mutex_unlock(&delivery->lock);
	}
	if (target->type == TARGET_ALERTMANAGER)
		alertmanager_save(target->alertmanager);
}

/*
 * A queue file behind memory (a write failed, or it was set aside as
 * corrupt) is written whole again, at most every SPOOL_RETRY_S while that
 * fails; @force: now (the last pass).
 */
static void target_sync_spool(struct target *target, bool force)
{
	double now = clock_monotonic();

	if (!spool_dirty(target->spool, SPOOL_QUEUE))
		return;
	if (!force && now < target->next_spool_retry)
		return;
	spool_rewrite(target->spool, SPOOL_QUEUE, &target->queue);
	target->next_spool_retry = now + SPOOL_RETRY_S;
}

/*
 * What @target holds goes to its spool before it is freed: the incoming
 * records appended, or, when the file is behind, everything written whole.
 */
static void target_spool_all(struct target *target)
{
	if (spool_dirty(target->spool, SPOOL_QUEUE)) {
		spool_list_splice(&target->queue, &target->incoming);
		spool_rewrite(target->spool, SPOOL_QUEUE, &target->queue);
	} else if (target->incoming.count) {
		spool_append(target->spool, &target->incoming);
	}
	if (target->type == TARGET_ALERTMANAGER)
		alertmanager_save(target->alertmanager);
}

/*
 * Whether a retired target for @target's type and URL, made before it,
 * still has a worker that may write their spool files: @target reads or
 * writes them only after. Under lock.
 */
static bool twin_busy(struct delivery *delivery, const struct target *target)
{
	const struct target *other;

	for (other = delivery->retired; other; other = other->next_retired)
		if (other->serial < target->serial && !other->finished && !other->abandoned &&
		    other->type == target->type && strcmp(other->url, target->url) == 0)
			return true;
	return false;
}

/* Wakes the workers waiting in twin_busy for @target. Under lock. */
static void wake_twins(struct delivery *delivery, const struct target *target)
{
	struct target *other;
	size_t i;

	for (i = 0; i < delivery->target_count; i++) {
		other = delivery->targets[i];
		if (other->type == target->type && strcmp(other->url, target->url) == 0)
			pthread_cond_signal(&other->wake);
	}
	for (other = delivery->retired; other; other = other->next_retired)
		if (other != target && other->type == target->type &&
		    strcmp(other->url, target->url) == 0)
			pthread_cond_signal(&other->wake);
}

/* When @target's worker has something to do next (monotonic). Under lock. */
static double next_wake(const struct target *target)
{
	double now = clock_monotonic(), wake = now + IDLE_WAKE_S, at;

	if (target->kicked || target->retiring || !target->loaded || target->incoming.count)
		return now;
	if (target->queue.count)
		at = target->next_attempt;
	else
		at = fmax(target->next_attempt, target_next_resend(target));
	wake = fmin(wake, at);
	/* Only this worker writes these; it holds the lock here. */
	if (spool_dirty(target->spool, SPOOL_QUEUE))
		wake = fmin(wake, target->next_spool_retry);
	return wake;
}

/* Sleeps until @wake unless woken. Under lock. */
static void wait_until(struct delivery *delivery, struct target *target, double wake)
{
	struct timespec until;

	until.tv_sec = (time_t)wake;
	until.tv_nsec = (long)((wake - (double)until.tv_sec) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!target->kicked && !target->retiring && !delivery->stopping &&
	       clock_monotonic() < wake)
		if (pthread_cond_timedwait(&target->wake, &delivery->lock, &until) == ETIMEDOUT)
			break;
}

/* One target's worker: its queue, spool, backoff and requests. */
static void *worker_main(void *data)
{
	struct target *target = data;
	struct delivery *delivery = target->delivery;
	bool last = false, retiring;
	double deadline;

	pthread_mutex_lock(&delivery->lock);
	while (!target->abandoned && twin_busy(delivery, target))
		pthread_cond_wait(&target->wake, &delivery->lock);
	while (!target->abandoned && !target->retiring && !last) {
		last = delivery->stopping;
		deadline = last ? fmax(delivery->deadline, 1e-9) : 0;
		target->kicked = false;
		pthread_mutex_unlock(&delivery->lock);

		if (!target->loaded)
			target_load(delivery, target);
		target_take_incoming(delivery, target);
		target_deliver(delivery, target, deadline);
		target_sync_spool(target, last);

		pthread_mutex_lock(&delivery->lock);
		if (!last)
			wait_until(delivery, target, next_wake(target));
	}
	retiring = target->retiring && !target->abandoned;
	pthread_mutex_unlock(&delivery->lock);

	/* Removed: no caller reaches it any more, and what it holds goes to its spool. */
	if (retiring)
		target_spool_all(target);

	pthread_mutex_lock(&delivery->lock);
	target->finished = true;
	wake_twins(delivery, target);
	pthread_mutex_unlock(&delivery->lock);
	return NULL;
}

/* ---- interface ---- */

struct delivery *delivery_new(const char *state_dir, const struct delivery_targets *targets)
{
	struct delivery *delivery;
	size_t i;
	int err;

	delivery = calloc(1, sizeof(*delivery));
	if (!delivery) {
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Test hooks, for the tests only: ABUSEWATCH_TEST_BACKOFF_MS sets the
	 * first retry delay (1000 ms otherwise; the cap stays 60 times it) and
	 * ABUSEWATCH_TEST_RESEND_MS the re-send interval of firing alerts
	 * (30000 ms otherwise), so that outages take milliseconds.
	 */
	delivery->backoff_base_ms = env_positive("ABUSEWATCH_TEST_BACKOFF_MS", BACKOFF_BASE_MS);
	delivery->backoff_max_ms = delivery->backoff_base_ms * BACKOFF_MAX_FACTOR;
	delivery->resend_interval_s =
	    env_positive("ABUSEWATCH_TEST_RESEND_MS", RESEND_INTERVAL_MS) / 1000.0;
	/* And ABUSEWATCH_TEST_QUEUE_LIMIT the records a target holds (QUEUE_LIMIT otherwise). */
	delivery->queue_limit = env_positive("ABUSEWATCH_TEST_QUEUE_LIMIT", QUEUE_LIMIT);
	err = spool_create_dir(state_dir, &delivery->spool_dir);
	if (err)
		goto free_delivery;
	err = -pthread_mutex_init(&delivery->lock, NULL);
	if (err)
		goto free_spool_dir;
	err = apply_targets(delivery, targets);
	if (err)
		goto destroy_mutex;
	/* Loaded before the workers start, so delivery_pending counts them right away. */
	for (i = 0; i < delivery->target_count; i++)
		target_load(delivery, delivery->targets[i]);
	pthread_mutex_lock(&delivery->lock);
	delivery->running = true;
	for (i = 0; i < delivery->target_count && !err; i++)
		err = target_start(delivery->targets[i]);
	if (err)
		/* Those started exit at once, once the lock is released. */
		for (i = 0; i < delivery->target_count; i++)
			delivery->targets[i]->abandoned = true;
	pthread_mutex_unlock(&delivery->lock);
	if (err)
		goto free_targets;
	return delivery;

free_targets:
	/* All joined before any is freed: a worker on its way out walks the list. */
	for (i = 0; i < delivery->target_count; i++)
		target_join(delivery->targets[i]);
	for (i = 0; i < delivery->target_count; i++)
		target_free(delivery->targets[i]);
	free(delivery->targets);
destroy_mutex:
	pthread_mutex_destroy(&delivery->lock);
free_spool_dir:
	free(delivery->spool_dir);
free_delivery:
	free(delivery);
	errno = -err;
	return NULL;
}

int delivery_set_targets(struct delivery *delivery, const struct delivery_targets *targets)
{
	if (!delivery || !targets)
		return -EINVAL;
	return apply_targets(delivery, targets);
}

int delivery_enqueue(struct delivery *delivery, const struct alert *alert)
{
	char webhook_id[SPOOL_WEBHOOK_ID_SIZE];
	struct spool_record *record;
	struct target *target;
	char *text;
	size_t i;
	int err;

	if (!delivery || !alert)
		return -EINVAL;
	err = spool_record_text(alert, &text);
	if (err)
		return err;
	err = webhook_new_id(webhook_id, sizeof(webhook_id));
	if (err)
		goto cleanup;

	/* Memory work only under the lock: no worker holds it across I/O. */
	pthread_mutex_lock(&delivery->lock);
	for (i = 0; i < delivery->target_count && !err; i++) {
		target = delivery->targets[i];
		if (target->queued + target->incoming.count >= delivery->queue_limit) {
			delivery->overflowed[target->type]++;
			if (!target->overflowing)
				pr_err("%s %s: %zu records waiting, dropping new ones (counted in "
				       "abusewatch_alerts_dropped_total; %llu so far)",
				       target_type_names[target->type], target->log_url,
				       delivery->queue_limit,
				       (unsigned long long)delivery->overflowed[target->type]);
			target->overflowing = true;
			continue;
		}
		if (target->overflowing)
			pr_info("%s %s: room in the queue again; %llu records dropped so far",
				target_type_names[target->type], target->log_url,
				(unsigned long long)delivery->overflowed[target->type]);
		target->overflowing = false;
		record = spool_record_new(text, alert->started_at,
					  target->type == TARGET_WEBHOOK ? webhook_id : NULL);
		if (!record) {
			err = -ENOMEM;
			break;
		}
		spool_list_push(&target->incoming, record);
		target->kicked = true;
		pthread_cond_signal(&target->wake);
	}
	pthread_mutex_unlock(&delivery->lock);
cleanup:
	free(text);
	return err;
}

void delivery_dropped(struct delivery *delivery, uint64_t dropped[DELIVERY_SINK_COUNT])
{
	pthread_mutex_lock(&delivery->lock);
	memcpy(dropped, delivery->overflowed, sizeof(delivery->overflowed));
	pthread_mutex_unlock(&delivery->lock);
}

size_t delivery_pending(struct delivery *delivery)
{
	size_t pending = 0, i;

	if (!delivery)
		return 0;
	pthread_mutex_lock(&delivery->lock);
	for (i = 0; i < delivery->target_count; i++)
		pending += delivery->targets[i]->queued + delivery->targets[i]->incoming.count;
	pthread_mutex_unlock(&delivery->lock);
	return pending;
}

void delivery_free(struct delivery *delivery, double grace_s)
{
	struct target *target;
	size_t i, left = 0;
	double deadline;

	if (!delivery)
		return;
	if (!(grace_s > 0))
		grace_s = 0;
	deadline = clock_monotonic() + grace_s;
	pthread_mutex_lock(&delivery->lock);
	delivery->stopping = true;
	delivery->deadline = deadline;
	/* Every worker makes its last pass at once, side by side, each bounded by @deadline. */
	for (i = 0; i < delivery->target_count; i++) {
		target = delivery->targets[i];
		/* A request under way ends by the deadline too. */
		http_client_set_deadline(target->http, deadline);
		pthread_cond_signal(&target->wake);
	}
	for (target = delivery->retired; target; target = target->next_retired) {
		http_client_set_deadline(target->http, deadline);
		pthread_cond_signal(&target->wake);
	}
	pthread_mutex_unlock(&delivery->lock);

	/*
	 * No other thread changes the lists now: only the caller could. All
	 * joined before any is freed: a worker on its way out walks them.
	 */
	for (i = 0; i < delivery->target_count; i++)
		target_join(delivery->targets[i]);
	free_targets(delivery->retired);
	/* The workers are gone: whatever came in during their last pass goes to the spool. */
	for (i = 0; i < delivery->target_count; i++) {
		target = delivery->targets[i];
		left += target->queue.count + target->incoming.count;
		target_spool_all(target);
		target_free(target);
	}
	if (left)
		pr_info("delivery stopped with %zu record(s) left in %s", left,
			delivery->spool_dir);
	free(delivery->targets);
	pthread_mutex_destroy(&delivery->lock);
	free(delivery->spool_dir);
	free(delivery);
}

/* Kept in the interface for the tests; the webhook sink does the work. */
int delivery_sign_webhook(const unsigned char *key, size_t key_length, const char *msg_id,
			  long long timestamp, const char *body, char *out, size_t size)
{
	return webhook_sign(key, key_length, msg_id, timestamp, body, out, size);
}

int delivery_parse_secret(const char *text, unsigned char *key, size_t size, size_t *length)
{
	return webhook_parse_secret(text, key, size, length);
}
