// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of alert records to Alertmanager peers and the webhook.
 *
 * Threads: callers only append to a target's "incoming" list under the lock
 * and wake the worker. The worker owns everything else: it moves incoming
 * records into the target's queue after appending them to the spool file
 * (fsync'd before any attempt), does every HTTP request with libcurl, and is
 * the only one to touch spool files or free targets. A target removed by
 * delivery_set_targets is parked on the retired list for the worker to
 * flush and free, so a request in flight never sees it vanish.
 *
 * Spool files, in state_dir/spool, one JSON object a line:
 *   <name>.queue   records waiting for the target, oldest first:
 *                  {"webhook_id":"msg_...","started_at":...,"record":{...}}
 *                  (webhook_id for the webhook only, started_at when known)
 *   <name>.firing  an Alertmanager target's firing alerts, same line format
 * <name> is "alertmanager-" or "webhook-", the URL with every character but
 * [A-Za-z0-9.-] made '_' (user:password@ left out), "-" and the first 8 hex
 * digits of the SHA-256 of the whole URL: stable across runs, one per URL.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "delivery.h"
#include "files.h"
#include "log.h"

#define ALERTMANAGER_PATH "/api/v2/alerts"
#define ALERTMANAGER_BATCH 64
#define WEBHOOK_PER_PASS 64 /* so one busy target does not starve the others */
#define CONNECT_TIMEOUT_MS 2000
#define REQUEST_TIMEOUT_MS 5000
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_FACTOR 60 /* 1 s doubling up to 60 s */
#define RESEND_INTERVAL_MS 30000
#define FIRING_AHEAD_S 120.0 /* endsAt of a firing alert: outlives a few missed re-sends */
#define IDLE_WAKE_S 60.0
#define QUEUE_LIMIT 100000 /* per target, so a long outage cannot eat all memory */
#define KEY_MAX 1024
#define SECRET_FILE_MAX 4096
#define WEBHOOK_ID_SIZE 40 /* "msg_" + 32 hex digits + NUL */
#define SIGNATURE_SIZE 48  /* "v1," + 44 base64 characters + NUL */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum target_type {
	TARGET_ALERTMANAGER,
	TARGET_WEBHOOK,
};

static const char *const target_type_names[] = {
    [TARGET_ALERTMANAGER] = "alertmanager",
    [TARGET_WEBHOOK] = "webhook",
};

enum send_result {
	SEND_OK,
	SEND_DROP, /* refused for good (4xx): retrying cannot help */
	SEND_RETRY,
};

struct record {
	struct record *next;
	char *text;			  /* the record as alert_to_json made it */
	double started_at;		  /* not part of the record, but startsAt needs it */
	char webhook_id[WEBHOOK_ID_SIZE]; /* "" but for the webhook */
	char *fingerprint;		  /* set while in a firing set */
};

struct record_list {
	struct record *head;
	struct record *tail;
	size_t count;
};

struct target {
	enum target_type type;
	char *url;	   /* as configured, less trailing slashes */
	char *display_url; /* without user:password@, for logs */
	char *post_url;	   /* webhook: the URL exactly as configured */
	char *queue_path;
	char *firing_path;
	struct target *next_retired;

	/* Under delivery->lock. */
	struct record_list incoming;
	size_t queued; /* what the worker holds (queue and in transit), for delivery_pending */
	bool overflowing;
	unsigned char key[KEY_MAX];
	size_t key_length;
	bool has_key;

	/* The worker's alone (and delivery_new's before the worker starts). */
	bool loaded;	       /* spool files read; written before the target is published */
	bool spool_unreadable; /* then never rewrite it: that would lose what is there */
	bool spool_failing;    /* logged once until an operation succeeds */
	struct record_list queue;
	struct record_list firing;
	bool down;
	long backoff_ms;
	double next_attempt; /* monotonic seconds */
	double next_resend;
	size_t single_left; /* send one at a time to isolate a refused record */
	unsigned long long dropped;
};

struct delivery {
	char *spool_dir;
	long backoff_base_ms;
	long backoff_max_ms;
	double resend_interval_s;
	CURL *curl;
	pthread_t worker;
	bool worker_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock. */
	struct target **targets;
	size_t target_count;
	struct target *retired;
	bool kicked;
	bool stopping;
	double deadline; /* monotonic, once stopping */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double clock_seconds(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static double monotonic_now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

static double wall_now(void)
{
	return clock_seconds(CLOCK_REALTIME);
}

/* Not fmin/fmax: libm is not among the agent's libraries. */
static double min_double(double a, double b)
{
	return a < b ? a : b;
}

static double max_double(double a, double b)
{
	return a > b ? a : b;
}

static long env_milliseconds(const char *name, long fallback)
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

/* ---- records ---- */

static void record_free(struct record *record)
{
	if (!record)
		return;
	free(record->text);
	free(record->fingerprint);
	free(record);
}

static struct record *record_new(const char *text, double started_at, const char *webhook_id)
{
	struct record *record = calloc(1, sizeof(*record));

	if (!record)
		return NULL;
	record->text = strdup(text);
	if (!record->text) {
		free(record);
		errno = ENOMEM;
		return NULL;
	}
	record->started_at = started_at;
	if (webhook_id)
		snprintf(record->webhook_id, sizeof(record->webhook_id), "%s", webhook_id);
	return record;
}

static void list_push(struct record_list *list, struct record *record)
{
	record->next = NULL;
	if (list->tail)
		list->tail->next = record;
	else
		list->head = record;
	list->tail = record;
	list->count++;
}

static struct record *list_pop(struct record_list *list)
{
	struct record *record = list->head;

	if (!record)
		return NULL;
	list->head = record->next;
	if (!list->head)
		list->tail = NULL;
	list->count--;
	record->next = NULL;
	return record;
}

/* Moves all of @from to the end of @to. */
static void list_splice(struct record_list *to, struct record_list *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	to->count += from->count;
	*from = (struct record_list){0};
}

static void list_clear(struct record_list *list)
{
	struct record *record;

	while ((record = list_pop(list)))
		record_free(record);
}

/* Takes the firing entry with @fingerprint out of @list; NULL if none. */
static struct record *list_take_fingerprint(struct record_list *list, const char *fingerprint)
{
	struct record *record, *previous = NULL;

	for (record = list->head; record; previous = record, record = record->next) {
		if (strcmp(record->fingerprint, fingerprint) != 0)
			continue;
		if (previous)
			previous->next = record->next;
		else
			list->head = record->next;
		if (list->tail == record)
			list->tail = previous;
		list->count--;
		record->next = NULL;
		return record;
	}
	return NULL;
}

/* "msg_" and 128 random bits: unique without coordination, kept across retries. */
static int new_webhook_id(char *out, size_t size)
{
	unsigned char bytes[16];
	size_t i;

	if (size < WEBHOOK_ID_SIZE || RAND_bytes(bytes, sizeof(bytes)) != 1)
		return -EIO;
	memcpy(out, "msg_", 4);
	for (i = 0; i < sizeof(bytes); i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", bytes[i]);
	return 0;
}

/* An id from a spool file goes into a header: nothing that could break out of it. */
static bool valid_webhook_id(const char *id)
{
	size_t length = strlen(id);

	if (!length || length >= WEBHOOK_ID_SIZE)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
	       length;
}

/*
 * The parsed record and its alert (strings point into *@object, which the
 * caller puts). 0 or -errno.
 */
static int record_parse(const struct record *record, struct json_object **object,
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
static char *record_fingerprint(const struct record *record, bool *firing)
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

/* The spool line for @record, newline included; NULL (errno set) on failure. */
static char *record_to_line(const struct record *record)
{
	struct json_object *line, *body;
	char *text = NULL;
	int err = 0;

	line = json_object_new_object();
	body = json_tokener_parse(record->text);
	if (!line || !body) {
		json_object_put(body);
		json_object_put(line);
		errno = ENOMEM;
		return NULL;
	}
	if (record->webhook_id[0])
		err = json_object_object_add(line, "webhook_id",
					     json_object_new_string(record->webhook_id));
	if (!err && record->started_at)
		err = json_object_object_add(line, "started_at",
					     json_object_new_double(record->started_at));
	if (!err)
		err = json_object_object_add(line, "record", body);
	else
		json_object_put(body);
	if (!err && asprintf(&text, "%s\n", json_object_to_json_string_ext(line, JSON_FLAGS)) < 0)
		err = -1;
	json_object_put(line);
	if (err) {
		errno = ENOMEM;
		return NULL;
	}
	return text;
}

/* A spool line back into a record; NULL (errno set) when it is not one of ours. */
static struct record *record_from_line(const char *line, bool with_webhook_id)
{
	struct json_object *object, *field, *body;
	char webhook_id[WEBHOOK_ID_SIZE] = "";
	struct record *record = NULL;
	double started_at = 0;
	struct alert alert;

	object = json_tokener_parse(line);
	if (!object || !json_object_object_get_ex(object, "record", &body) ||
	    alert_from_json(body, &alert))
		goto put_object;
	if (json_object_object_get_ex(object, "started_at", &field))
		started_at = json_object_get_double(field);
	if (with_webhook_id) {
		/* A valid id is kept; a line without one gets a new one. */
		if (json_object_object_get_ex(object, "webhook_id", &field) &&
		    json_object_is_type(field, json_type_string) &&
		    valid_webhook_id(json_object_get_string(field)))
			snprintf(webhook_id, sizeof(webhook_id), "%s",
				 json_object_get_string(field));
		else if (new_webhook_id(webhook_id, sizeof(webhook_id)))
			goto put_object;
	}
	record = record_new(json_object_to_json_string_ext(body, JSON_FLAGS), started_at,
			    with_webhook_id ? webhook_id : NULL);
put_object:
	json_object_put(object);
	if (!record && !errno)
		errno = EINVAL;
	return record;
}

/* ---- files ---- */

static int write_records(int fd, void *ctx)
{
	const struct record_list *list = ctx;
	const struct record *record;
	char *line;
	int err = 0;

	for (record = list->head; record && !err; record = record->next) {
		line = record_to_line(record);
		if (!line)
			return -ENOMEM;
		err = files_write_all(fd, line, strlen(line));
		free(line);
	}
	return err;
}

static void note_spool_result(struct target *target, const char *path, int err)
{
	if (!err) {
		target->spool_failing = false;
		return;
	}
	if (!target->spool_failing)
		pr_err("%s %s: cannot write %s: %s; records are kept in memory only",
		       target_type_names[target->type], target->display_url, path, strerror(-err));
	target->spool_failing = true;
}

/* Appends @list to the target's queue file and syncs it. */
static int spool_append(struct target *target, const struct record_list *list)
{
	bool created = false;
	int fd, err;

	fd = open(target->queue_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(target->queue_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		created = true;
	}
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = write_records(fd, (void *)list);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && created)
		err = files_sync_parent_dir(target->queue_path);
out:
	note_spool_result(target, target->queue_path, err);
	return err;
}

/*
 * Replaces @path by @list: a temporary file renamed over it, so a crash
 * leaves the old or the new content, never half of one. An empty list
 * truncates the file instead.
 */
static int spool_rewrite(struct target *target, const char *path, const struct record_list *list)
{
	int fd, err = 0;

	if (target->spool_unreadable)
		return 0;
	if (!list->count) {
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0) {
			err = errno == ENOENT ? 0 : -errno;
			goto out;
		}
		if (fsync(fd))
			err = -errno;
		close(fd);
		goto out;
	}
	err = files_replace(path, 0640, write_records, (void *)list);
out:
	note_spool_result(target, path, err);
	return err;
}

/* Reads the records of @path into @list. 0 (also when there is no file) or -errno. */
static int spool_read(const char *path, struct record_list *list, bool with_webhook_id,
		      size_t *skipped)
{
	struct record *record;
	size_t capacity = 0;
	char *line = NULL;
	ssize_t length;
	FILE *file;
	int err = 0;

	file = fopen(path, "re");
	if (!file)
		return errno == ENOENT ? 0 : -errno;
	while ((length = getline(&line, &capacity, file)) >= 0) {
		if (length <= 1)
			continue;
		errno = 0;
		record = record_from_line(line, with_webhook_id);
		if (!record) {
			if (errno == ENOMEM) {
				err = -ENOMEM;
				break;
			}
			/* A line cut short by a crash during an append. */
			(*skipped)++;
			continue;
		}
		list_push(list, record);
	}
	if (!err && ferror(file))
		err = -EIO;
	free(line);
	fclose(file);
	return err;
}

/* Loads what an earlier run left for @target. */
static void target_load(struct delivery *delivery, struct target *target)
{
	struct record_list firing = {0};
	struct record *record, *older;
	size_t skipped = 0;
	bool fires;
	int err;

	err = spool_read(target->queue_path, &target->queue, target->type == TARGET_WEBHOOK,
			 &skipped);
	if (err) {
		pr_err("%s %s: cannot read %s: %s; it is left as it is",
		       target_type_names[target->type], target->display_url, target->queue_path,
		       strerror(-err));
		target->spool_unreadable = true;
	}
	if (target->type == TARGET_ALERTMANAGER) {
		err = spool_read(target->firing_path, &firing, false, &skipped);
		if (err)
			pr_warn("%s %s: cannot read %s: %s", target_type_names[target->type],
				target->display_url, target->firing_path, strerror(-err));
		while ((record = list_pop(&firing))) {
			record->fingerprint = record_fingerprint(record, &fires);
			if (!record->fingerprint || !fires) {
				record_free(record);
				continue;
			}
			older = list_take_fingerprint(&target->firing, record->fingerprint);
			record_free(older);
			list_push(&target->firing, record);
		}
	}
	/* Firing alerts from before a restart are renewed at once; otherwise a cycle from now. */
	target->next_resend =
	    target->firing.count ? 0 : monotonic_now() + delivery->resend_interval_s;
	if (skipped)
		pr_warn("%s %s: skipped %zu unreadable spool line(s)",
			target_type_names[target->type], target->display_url, skipped);
	if (target->queue.count)
		pr_info("%s %s: %zu undelivered record(s) from an earlier run",
			target_type_names[target->type], target->display_url, target->queue.count);
	pthread_mutex_lock(&delivery->lock);
	target->queued = target->queue.count;
	pthread_mutex_unlock(&delivery->lock);
	target->loaded = true;
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

static char *target_file_name(enum target_type type, const char *url, const char *display_url)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length;
	char clean[81], *name = NULL;
	size_t i;
	char c;

	if (!EVP_Digest(url, strlen(url), digest, &digest_length, EVP_sha256(), NULL))
		return NULL;
	for (i = 0; i < sizeof(clean) - 1 && display_url[i]; i++) {
		c = display_url[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-')
			clean[i] = c;
		else
			clean[i] = '_';
	}
	clean[i] = '\0';
	if (asprintf(&name, "%s-%s-%02x%02x%02x%02x", target_type_names[type], clean, digest[0],
		     digest[1], digest[2], digest[3]) < 0)
		return NULL;
	return name;
}

static void target_free(struct target *target)
{
	if (!target)
		return;
	list_clear(&target->incoming);
	list_clear(&target->queue);
	list_clear(&target->firing);
	OPENSSL_cleanse(target->key, sizeof(target->key));
	free(target->url);
	free(target->display_url);
	free(target->post_url);
	free(target->queue_path);
	free(target->firing_path);
	free(target);
}

static struct target *target_new(struct delivery *delivery, enum target_type type, const char *url)
{
	struct target *target;
	size_t length = strlen(url);
	char *name = NULL;
	int err = -ENOMEM;

	while (length > 1 && url[length - 1] == '/')
		length--;
	target = calloc(1, sizeof(*target));
	if (!target)
		goto fail;
	target->type = type;
	target->backoff_ms = delivery->backoff_base_ms;
	target->url = strndup(url, length);
	if (!target->url)
		goto free_target;
	target->display_url = strip_userinfo(target->url);
	if (!target->display_url)
		goto free_target;
	if (type == TARGET_ALERTMANAGER) {
		if (asprintf(&target->post_url, "%s%s", target->url, ALERTMANAGER_PATH) < 0) {
			target->post_url = NULL;
			goto free_target;
		}
	} else {
		/* The webhook's own path may need its trailing slash. */
		target->post_url = strdup(url);
		if (!target->post_url)
			goto free_target;
	}
	name = target_file_name(type, target->url, target->display_url);
	if (!name)
		goto free_target;
	if (asprintf(&target->queue_path, "%s/%s.queue", delivery->spool_dir, name) < 0) {
		target->queue_path = NULL;
		goto free_target;
	}
	if (asprintf(&target->firing_path, "%s/%s.firing", delivery->spool_dir, name) < 0) {
		target->firing_path = NULL;
		goto free_target;
	}
	free(name);
	return target;

free_target:
	free(name);
	target_free(target);
fail:
	errno = -err;
	return NULL;
}

/* An active target of @type for @url (trailing slashes aside), or NULL. Under lock. */
static struct target *find_target(struct target **targets, size_t count, enum target_type type,
				  const char *url)
{
	size_t length = strlen(url), i;

	while (length > 1 && url[length - 1] == '/')
		length--;
	for (i = 0; i < count; i++)
		if (targets[i]->type == type && strlen(targets[i]->url) == length &&
		    strncmp(targets[i]->url, url, length) == 0)
			return targets[i];
	return NULL;
}

static int read_secret_file(const char *path, unsigned char *key, size_t size, size_t *length)
{
	char text[SECRET_FILE_MAX + 1];
	ssize_t got;
	size_t used = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (used < sizeof(text) - 1) {
		got = read(fd, text + used, sizeof(text) - 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto close_file;
		}
		if (!got)
			break;
		used += got;
	}
	text[used] = '\0';
	if (used == sizeof(text) - 1 || strlen(text) != used)
		err = -EINVAL; /* too long for a key file, or binary */
	else
		err = delivery_parse_secret(text, key, size, length);
close_file:
	OPENSSL_cleanse(text, sizeof(text));
	close(fd);
	return err;
}

/*
 * The new target set, under lock: kept targets are reused, new ones
 * created unloaded, the rest retired. Nothing changes on failure.
 */
static int install_targets(struct delivery *delivery, const struct delivery_targets *config,
			   const unsigned char *key, size_t key_length, bool has_key)
{
	size_t wanted = config->alertmanager_count + 1, count = 0, i, j, left;
	struct target **targets, *target, *webhook = NULL;
	const char *url;
	int err = 0;

	targets = calloc(wanted, sizeof(*targets));
	if (!targets)
		return -ENOMEM;
	for (i = 0; i < wanted; i++) {
		enum target_type type =
		    i < config->alertmanager_count ? TARGET_ALERTMANAGER : TARGET_WEBHOOK;

		url = type == TARGET_ALERTMANAGER ? config->alertmanager[i] : config->webhook_url;
		if (!url || !*url || find_target(targets, count, type, url))
			continue;
		target = find_target(delivery->targets, delivery->target_count, type, url);
		if (!target)
			target = target_new(delivery, type, url);
		if (!target) {
			err = -errno;
			goto free_created;
		}
		if (type == TARGET_WEBHOOK)
			webhook = target;
		targets[count++] = target;
	}
	if (webhook) {
		memcpy(webhook->key, key, key_length);
		webhook->key_length = key_length;
		webhook->has_key = has_key;
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
				target_type_names[target->type], target->display_url, left,
				target->queue_path);
		else
			pr_info("%s %s removed", target_type_names[target->type],
				target->display_url);
		target->next_retired = delivery->retired;
		delivery->retired = target;
	}
	free(delivery->targets);
	delivery->targets = targets;
	delivery->target_count = count;
	delivery->kicked = true;
	pthread_cond_signal(&delivery->wake);
	return 0;

free_created:
	/* Only the targets made here: the others still belong to the current set. */
	for (i = 0; i < count; i++) {
		for (j = 0; j < delivery->target_count && delivery->targets[j] != targets[i]; j++)
			;
		if (j == delivery->target_count)
			target_free(targets[i]);
	}
	free(targets);
	return err;
}

/* Reads the webhook secret, if any, then installs the targets. */
static int apply_targets(struct delivery *delivery, const struct delivery_targets *config)
{
	unsigned char key[KEY_MAX];
	size_t key_length = 0;
	bool has_key = false;
	int err;

	if (config->webhook_url && *config->webhook_url && config->webhook_secret_file &&
	    *config->webhook_secret_file) {
		err = read_secret_file(config->webhook_secret_file, key, sizeof(key), &key_length);
		if (err) {
			pr_err("webhook secret %s: %s", config->webhook_secret_file,
			       strerror(-err));
			return err;
		}
		has_key = true;
	} else if (config->webhook_url && *config->webhook_url) {
		pr_warn("webhook has no secret_file: its requests are not signed");
	}
	pthread_mutex_lock(&delivery->lock);
	err = install_targets(delivery, config, key, key_length, has_key);
	pthread_mutex_unlock(&delivery->lock);
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}

/* ---- HTTP ---- */

static size_t discard_body(char *data, size_t size, size_t count, void *user)
{
	return size * count;
}

/* Lets delivery_free cut a request short once its grace is over. */
static int transfer_progress(void *user, curl_off_t download_total, curl_off_t downloaded,
			     curl_off_t upload_total, curl_off_t uploaded)
{
	struct delivery *delivery = user;
	bool abort_transfer;

	pthread_mutex_lock(&delivery->lock);
	abort_transfer = delivery->stopping && monotonic_now() >= delivery->deadline;
	pthread_mutex_unlock(&delivery->lock);
	return abort_transfer;
}

/*
 * POSTs @body. Once delivery_free has set a deadline, the timeouts shrink to
 * fit in it. @why says what went wrong, for the logs.
 */
static enum send_result http_post(struct delivery *delivery, const char *url,
				  struct curl_slist *headers, const char *body, char *why,
				  size_t why_size)
{
	char error[CURL_ERROR_SIZE] = "";
	long connect_ms = CONNECT_TIMEOUT_MS, total_ms = REQUEST_TIMEOUT_MS, status = 0;
	CURL *curl = delivery->curl;
	double remaining_ms, deadline = 0;
	CURLcode result;

	pthread_mutex_lock(&delivery->lock);
	if (delivery->stopping)
		deadline = delivery->deadline;
	pthread_mutex_unlock(&delivery->lock);
	if (deadline) {
		remaining_ms = (deadline - monotonic_now()) * 1000;
		if (remaining_ms < 1) {
			snprintf(why, why_size, "shutting down");
			return SEND_RETRY;
		}
		/* 0 would mean no limit to libcurl, hence at least 1 ms. */
		if (remaining_ms < total_ms)
			total_ms = remaining_ms;
		if (total_ms < connect_ms)
			connect_ms = total_ms;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, transfer_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, delivery);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	result = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	if (result != CURLE_OK) {
		snprintf(why, why_size, "%s", error[0] ? error : curl_easy_strerror(result));
		return SEND_RETRY;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, why_size, "HTTP %ld", status);
	if (status >= 200 && status < 300)
		return SEND_OK;
	/* 408 and 429 ask for a later retry; other 4xx will never take this body. */
	if (status >= 400 && status < 500 && status != 408 && status != 429)
		return SEND_DROP;
	return SEND_RETRY;
}

static struct curl_slist *json_headers(void)
{
	struct curl_slist *headers, *next;

	headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!headers)
		return NULL;
	/* No "Expect: 100-continue" round trip before larger bodies. */
	next = curl_slist_append(headers, "Expect:");
	if (!next) {
		curl_slist_free_all(headers);
		return NULL;
	}
	return next;
}

static struct curl_slist *add_header(struct curl_slist *headers, const char *name,
				     const char *value)
{
	struct curl_slist *next;
	char *line = NULL;

	if (!headers || asprintf(&line, "%s: %s", name, value) < 0) {
		curl_slist_free_all(headers);
		return NULL;
	}
	next = curl_slist_append(headers, line);
	free(line);
	if (!next)
		curl_slist_free_all(headers);
	return next;
}

/* Tracks up/down and backoff after an attempt; logs only the transitions. */
static void note_result(struct delivery *delivery, struct target *target, enum send_result result,
			const char *why)
{
	double now = monotonic_now();

	if (result == SEND_RETRY) {
		if (!target->down)
			pr_warn("%s %s is unreachable (%s); retrying with backoff up to %ld s",
				target_type_names[target->type], target->display_url, why,
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
			target->display_url, why);
	target->down = false;
	target->backoff_ms = delivery->backoff_base_ms;
	target->next_attempt = 0;
}

/* ---- Alertmanager ---- */

/* Appends the Alertmanager element of @record to @array. */
static int add_alertmanager_element(struct json_object *array, const struct record *record,
				    double now)
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

static enum send_result alertmanager_post(struct delivery *delivery, struct target *target,
					  struct json_object *array, char *why, size_t why_size)
{
	struct curl_slist *headers = json_headers();
	enum send_result result;

	if (!headers) {
		snprintf(why, why_size, "out of memory");
		return SEND_RETRY;
	}
	result = http_post(delivery, target->post_url, headers,
			   json_object_to_json_string_ext(array, JSON_FLAGS), why, why_size);
	curl_slist_free_all(headers);
	return result;
}

/*
 * What a delivered (or refused) record means for the firing set: a firing
 * one replaces its predecessor (the set takes @record over), a resolved one
 * removes it. Returns whether the set changed.
 */
static bool update_firing(struct target *target, struct record *record, bool delivered)
{
	struct record *older;
	bool firing;
	char *fingerprint;

	fingerprint = record_fingerprint(record, &firing);
	if (!fingerprint || (firing && !delivered)) {
		free(fingerprint);
		record_free(record);
		return false;
	}
	older = list_take_fingerprint(&target->firing, fingerprint);
	record_free(older);
	if (!firing) {
		free(fingerprint);
		record_free(record);
		return older != NULL;
	}
	record->fingerprint = fingerprint;
	list_push(&target->firing, record);
	return true;
}

/* One POST of the queue's head; counts what it took off the queue in *@done. */
static enum send_result alertmanager_send_queue(struct delivery *delivery, struct target *target,
						size_t *done, bool *firing_changed, char *why,
						size_t why_size)
{
	size_t batch = target->single_left ? 1 : ALERTMANAGER_BATCH, count = 0, i;
	struct json_object *array = json_object_new_array();
	enum send_result result = SEND_RETRY;
	struct record *record;
	double now = wall_now();

	snprintf(why, why_size, "out of memory");
	if (!array)
		return SEND_RETRY;
	for (record = target->queue.head; record && count < batch; record = record->next) {
		if (add_alertmanager_element(array, record, now))
			goto put_array;
		count++;
	}
	result = alertmanager_post(delivery, target, array, why, why_size);
	if (result == SEND_DROP && count > 1) {
		/* One bad record must not take its batch down with it. */
		target->single_left = count;
		result = SEND_OK;
		goto put_array;
	}
	if (result == SEND_RETRY)
		goto put_array;
	if (result == SEND_DROP) {
		target->dropped++;
		pr_err("alertmanager %s refused a record (%s); dropped it, %llu so far",
		       target->display_url, why, target->dropped);
	}
	for (i = 0; i < count; i++) {
		record = list_pop(&target->queue);
		*firing_changed |= update_firing(target, record, result == SEND_OK);
		if (target->single_left)
			target->single_left--;
	}
	*done += count;
put_array:
	json_object_put(array);
	return result;
}

/* Re-sends every firing alert with a fresh endsAt, so Alertmanager keeps them. */
static enum send_result alertmanager_resend(struct delivery *delivery, struct target *target,
					    char *why, size_t why_size)
{
	enum send_result result = SEND_OK;
	struct record *record = target->firing.head;
	struct json_object *array;
	double now = wall_now();
	size_t count;

	while (record && result == SEND_OK) {
		array = json_object_new_array();
		if (!array) {
			snprintf(why, why_size, "out of memory");
			return SEND_RETRY;
		}
		for (count = 0; record && count < ALERTMANAGER_BATCH; record = record->next) {
			if (add_alertmanager_element(array, record, now))
				continue;
			count++;
		}
		result = alertmanager_post(delivery, target, array, why, why_size);
		json_object_put(array);
	}
	return result;
}

/* ---- webhook ---- */

static enum send_result webhook_send(struct delivery *delivery, struct target *target,
				     const struct record *record, char *why, size_t why_size)
{
	char signature[SIGNATURE_SIZE], timestamp_text[24];
	struct curl_slist *headers;
	unsigned char key[KEY_MAX];
	enum send_result result;
	long long timestamp;
	size_t key_length;
	bool has_key;

	/* delivery_set_targets may change the key of a kept webhook meanwhile. */
	pthread_mutex_lock(&delivery->lock);
	memcpy(key, target->key, target->key_length);
	key_length = target->key_length;
	has_key = target->has_key;
	pthread_mutex_unlock(&delivery->lock);

	timestamp = time(NULL);
	snprintf(timestamp_text, sizeof(timestamp_text), "%lld", timestamp);
	headers = json_headers();
	headers = add_header(headers, "webhook-id", record->webhook_id);
	headers = add_header(headers, "webhook-timestamp", timestamp_text);
	if (has_key) {
		if (delivery_sign_webhook(key, key_length, record->webhook_id, timestamp,
					  record->text, signature, sizeof(signature))) {
			curl_slist_free_all(headers);
			headers = NULL;
		} else {
			headers = add_header(headers, "webhook-signature", signature);
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (!headers) {
		snprintf(why, why_size, "out of memory");
		return SEND_RETRY;
	}
	result = http_post(delivery, target->post_url, headers, record->text, why, why_size);
	curl_slist_free_all(headers);
	return result;
}

static enum send_result webhook_send_queue(struct delivery *delivery, struct target *target,
					   size_t *done, char *why, size_t why_size)
{
	enum send_result result;

	result = webhook_send(delivery, target, target->queue.head, why, why_size);
	if (result == SEND_RETRY)
		return result;
	if (result == SEND_DROP) {
		target->dropped++;
		pr_err("webhook %s refused record %s (%s); dropped it, %llu so far",
		       target->display_url, target->queue.head->webhook_id, why, target->dropped);
	}
	record_free(list_pop(&target->queue));
	(*done)++;
	return result;
}

/* ---- worker ---- */

/* Spools what callers queued for @target and moves it to the worker's queue. */
static void target_take_incoming(struct delivery *delivery, struct target *target)
{
	struct record_list incoming;

	pthread_mutex_lock(&delivery->lock);
	incoming = target->incoming;
	target->incoming = (struct record_list){0};
	/* Counted while in transit, so delivery_pending never misses them. */
	target->queued += incoming.count;
	pthread_mutex_unlock(&delivery->lock);
	if (!incoming.count)
		return;
	/* Delivered anyway when the spool fails: memory is better than nothing. */
	spool_append(target, &incoming);
	list_splice(&target->queue, &incoming);
	pthread_mutex_lock(&delivery->lock);
	target->queued = target->queue.count;
	pthread_mutex_unlock(&delivery->lock);
}

/*
 * One round of attempts for @target. Normally it waits out its backoff and
 * sends at most a batch; the last pass (@deadline set) ignores the backoff
 * and sends what it can before @deadline.
 */
static void target_deliver(struct delivery *delivery, struct target *target, double deadline)
{
	size_t done = 0, budget;
	enum send_result result = SEND_OK;
	bool firing_changed = false;
	double now = monotonic_now();
	char why[CURL_ERROR_SIZE + 32];

	if (!deadline && now < target->next_attempt)
		return;
	if (deadline)
		budget = SIZE_MAX;
	else
		budget =
		    target->type == TARGET_ALERTMANAGER ? ALERTMANAGER_BATCH : WEBHOOK_PER_PASS;
	while (target->queue.count && done < budget) {
		if (deadline && monotonic_now() >= deadline)
			break;
		if (target->type == TARGET_ALERTMANAGER)
			result = alertmanager_send_queue(delivery, target, &done, &firing_changed,
							 why, sizeof(why));
		else
			result = webhook_send_queue(delivery, target, &done, why, sizeof(why));
		note_result(delivery, target, result, why);
		if (result == SEND_RETRY)
			break;
	}
	if (!deadline && result != SEND_RETRY && !target->queue.count && target->firing.count &&
	    now >= target->next_resend) {
		result = alertmanager_resend(delivery, target, why, sizeof(why));
		note_result(delivery, target, result, why);
		if (result == SEND_DROP)
			pr_warn("alertmanager %s refused the re-sent firing alerts (%s)",
				target->display_url, why);
		if (result != SEND_RETRY)
			target->next_resend = now + delivery->resend_interval_s;
	}
	if (done) {
		spool_rewrite(target, target->queue_path, &target->queue);
		pthread_mutex_lock(&delivery->lock);
		target->queued = target->queue.count;
		pthread_mutex_unlock(&delivery->lock);
	}
	if (firing_changed)
		spool_rewrite(target, target->firing_path, &target->firing);
}

/* Spools what retired targets still hold, then frees them. */
static void flush_retired(struct delivery *delivery, struct target *retired)
{
	struct target *next;

	for (; retired; retired = next) {
		next = retired->next_retired;
		if (retired->incoming.count)
			spool_append(retired, &retired->incoming);
		target_free(retired);
	}
}

/* When the worker has something to do next (monotonic). Under lock. */
static double next_wake(struct delivery *delivery)
{
	double now = monotonic_now(), wake = now + IDLE_WAKE_S, at;
	struct target *target;
	size_t i;

	if (delivery->kicked || delivery->retired)
		return now;
	for (i = 0; i < delivery->target_count; i++) {
		target = delivery->targets[i];
		if (!target->loaded || target->incoming.count)
			return now;
		if (target->queue.count)
			at = target->next_attempt;
		else if (target->firing.count)
			at = max_double(target->next_attempt, target->next_resend);
		else
			continue;
		wake = min_double(wake, at);
	}
	return wake;
}

/* Sleeps until @wake unless woken. Under lock. */
static void wait_until(struct delivery *delivery, double wake)
{
	struct timespec until;

	until.tv_sec = (time_t)wake;
	until.tv_nsec = (long)((wake - (double)until.tv_sec) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!delivery->kicked && !delivery->stopping && monotonic_now() < wake)
		if (pthread_cond_timedwait(&delivery->wake, &delivery->lock, &until) == ETIMEDOUT)
			break;
}

static void *worker_main(void *data)
{
	struct delivery *delivery = data;
	struct target **snapshot = NULL, **bigger, *retired;
	size_t count = 0, capacity = 0, i;
	double deadline;
	bool last;

	pthread_mutex_lock(&delivery->lock);
	for (;;) {
		last = delivery->stopping;
		deadline = last ? max_double(delivery->deadline, 1e-9) : 0;
		delivery->kicked = false;
		retired = delivery->retired;
		delivery->retired = NULL;
		/* Targets are freed only here, so a snapshot stays valid without the lock. */
		if (delivery->target_count > capacity) {
			bigger = realloc(snapshot, delivery->target_count * sizeof(*snapshot));
			if (bigger) {
				snapshot = bigger;
				capacity = delivery->target_count;
			}
		}
		count = delivery->target_count < capacity ? delivery->target_count : capacity;
		memcpy(snapshot, delivery->targets, count * sizeof(*snapshot));
		pthread_mutex_unlock(&delivery->lock);

		/* Retired first: a new target for the same URL reads what they leave. */
		flush_retired(delivery, retired);
		for (i = 0; i < count; i++) {
			if (!snapshot[i]->loaded)
				target_load(delivery, snapshot[i]);
			target_take_incoming(delivery, snapshot[i]);
		}
		for (i = 0; i < count; i++)
			target_deliver(delivery, snapshot[i], deadline);

		pthread_mutex_lock(&delivery->lock);
		if (last)
			break;
		wait_until(delivery, next_wake(delivery));
	}
	pthread_mutex_unlock(&delivery->lock);
	free(snapshot);
	return NULL;
}

/* ---- interface ---- */

struct delivery *delivery_new(const char *state_dir, const struct delivery_targets *targets)
{
	struct delivery *delivery;
	pthread_condattr_t attributes;
	size_t i;
	int err;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		pr_err("cannot initialize libcurl: %s", curl_easy_strerror(curl_init_result));
		errno = EIO;
		return NULL;
	}
	delivery = calloc(1, sizeof(*delivery));
	if (!delivery) {
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Test hooks: the unit tests shorten the backoff (and with it its 60x
	 * cap) and the re-send interval so that outages take milliseconds.
	 */
	delivery->backoff_base_ms = env_milliseconds("ABUSEWATCH_TEST_BACKOFF_MS", BACKOFF_BASE_MS);
	delivery->backoff_max_ms = delivery->backoff_base_ms * BACKOFF_MAX_FACTOR;
	delivery->resend_interval_s =
	    env_milliseconds("ABUSEWATCH_TEST_RESEND_MS", RESEND_INTERVAL_MS) / 1000.0;
	if (asprintf(&delivery->spool_dir, "%s/spool", state_dir) < 0) {
		delivery->spool_dir = NULL;
		err = -ENOMEM;
		goto free_delivery;
	}
	/* Mode 0750: the spool holds tenants' data. */
	err = files_make_dirs(delivery->spool_dir, 0750);
	if (err) {
		pr_err("cannot create %s: %s", delivery->spool_dir, strerror(-err));
		goto free_spool_dir;
	}
	delivery->curl = curl_easy_init();
	if (!delivery->curl) {
		err = -ENOMEM;
		goto free_spool_dir;
	}
	err = -pthread_condattr_init(&attributes);
	if (err)
		goto cleanup_curl;
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	err = -pthread_cond_init(&delivery->wake, &attributes);
	pthread_condattr_destroy(&attributes);
	if (err)
		goto cleanup_curl;
	err = -pthread_mutex_init(&delivery->lock, NULL);
	if (err)
		goto destroy_cond;
	err = apply_targets(delivery, targets);
	if (err)
		goto destroy_mutex;
	/* Loaded before the worker starts, so delivery_pending counts them right away. */
	for (i = 0; i < delivery->target_count; i++)
		target_load(delivery, delivery->targets[i]);
	err = -pthread_create(&delivery->worker, NULL, worker_main, delivery);
	if (err)
		goto free_targets;
	delivery->worker_started = true;
	return delivery;

free_targets:
	for (i = 0; i < delivery->target_count; i++)
		target_free(delivery->targets[i]);
	free(delivery->targets);
destroy_mutex:
	pthread_mutex_destroy(&delivery->lock);
destroy_cond:
	pthread_cond_destroy(&delivery->wake);
cleanup_curl:
	curl_easy_cleanup(delivery->curl);
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
	char webhook_id[WEBHOOK_ID_SIZE];
	struct json_object *object;
	struct target *target;
	struct record *record;
	char *text;
	size_t i;
	int err;

	if (!delivery || !alert)
		return -EINVAL;
	object = alert_to_json(alert);
	if (!object)
		return errno ? -errno : -ENOMEM;
	text = strdup(json_object_to_json_string_ext(object, JSON_FLAGS));
	json_object_put(object);
	if (!text)
		return -ENOMEM;
	err = new_webhook_id(webhook_id, sizeof(webhook_id));
	if (err)
		goto free_text;

	/* Memory work only under the lock: the worker never holds it across I/O. */
	pthread_mutex_lock(&delivery->lock);
	for (i = 0; i < delivery->target_count && !err; i++) {
		target = delivery->targets[i];
		if (target->queued + target->incoming.count >= QUEUE_LIMIT) {
			if (!target->overflowing)
				pr_err("%s %s: %d records waiting, dropping new ones",
				       target_type_names[target->type], target->display_url,
				       QUEUE_LIMIT);
			target->overflowing = true;
			continue;
		}
		target->overflowing = false;
		record = record_new(text, alert->started_at,
				    target->type == TARGET_WEBHOOK ? webhook_id : NULL);
		if (!record) {
			err = -ENOMEM;
			break;
		}
		list_push(&target->incoming, record);
	}
	delivery->kicked = true;
	pthread_cond_signal(&delivery->wake);
	pthread_mutex_unlock(&delivery->lock);
free_text:
	free(text);
	return err;
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

	if (!delivery)
		return;
	if (!(grace_s > 0))
		grace_s = 0;
	pthread_mutex_lock(&delivery->lock);
	delivery->stopping = true;
	delivery->deadline = monotonic_now() + grace_s;
	pthread_cond_signal(&delivery->wake);
	pthread_mutex_unlock(&delivery->lock);
	if (delivery->worker_started)
		pthread_join(delivery->worker, NULL);

	/* The worker is gone: whatever came in during its last pass goes to the spool. */
	flush_retired(delivery, delivery->retired);
	for (i = 0; i < delivery->target_count; i++) {
		target = delivery->targets[i];
		if (target->incoming.count)
			spool_append(target, &target->incoming);
		left += target->queue.count + target->incoming.count;
		target_free(target);
	}
	if (left)
		pr_info("delivery stopped with %zu record(s) left in %s", left,
			delivery->spool_dir);
	free(delivery->targets);
	pthread_mutex_destroy(&delivery->lock);
	pthread_cond_destroy(&delivery->wake);
	curl_easy_cleanup(delivery->curl);
	free(delivery->spool_dir);
	free(delivery);
}

int delivery_sign_webhook(const unsigned char *key, size_t key_length, const char *msg_id,
			  long long timestamp, const char *body, char *out, size_t size)
{
	static const unsigned char no_key[1];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_length = 0;
	char *message = NULL;
	int length;

	if (!msg_id || !body || !out)
		return -EINVAL;
	if (size < SIGNATURE_SIZE)
		return -ENOSPC;
	length = asprintf(&message, "%s.%lld.%s", msg_id, timestamp, body);
	if (length < 0)
		return -ENOMEM;
	if (!HMAC(EVP_sha256(), key_length ? key : no_key, key_length,
		  (const unsigned char *)message, length, mac, &mac_length)) {
		free(message);
		return -EIO;
	}
	free(message);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, mac_length);
	return 0;
}

int delivery_parse_secret(const char *text, unsigned char *key, size_t size, size_t *length)
{
	size_t text_length, encoded_length, padded_length, padding = 0;
	unsigned char *decoded = NULL;
	char *padded = NULL;
	int decoded_length, err = 0;

	if (!text || !key || !length)
		return -EINVAL;
	text_length = strlen(text);
	if (text_length && text[text_length - 1] == '\n') {
		text_length--;
		if (text_length && text[text_length - 1] == '\r')
			text_length--;
	}
	if (text_length < 6 || strncmp(text, "whsec_", 6) != 0) {
		if (!text_length)
			return -EINVAL;
		if (text_length > size)
			return -ENOSPC;
		memcpy(key, text, text_length);
		*length = text_length;
		return 0;
	}
	text += 6;
	encoded_length = text_length - 6;
	/* Padding is optional in some generators; EVP_DecodeBlock wants whole quads. */
	padded_length = (encoded_length + 3) / 4 * 4;
	if (!encoded_length || encoded_length % 4 == 1)
		return -EINVAL;
	padded = malloc(padded_length + 1);
	decoded = malloc(padded_length / 4 * 3 + 1);
	if (!padded || !decoded) {
		err = -ENOMEM;
		goto free_buffers;
	}
	memcpy(padded, text, encoded_length);
	memset(padded + encoded_length, '=', padded_length - encoded_length);
	padded[padded_length] = '\0';
	decoded_length = EVP_DecodeBlock(decoded, (unsigned char *)padded, padded_length);
	if (decoded_length < 0) {
		err = -EINVAL;
		goto free_buffers;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (padding < 2 && padded[padded_length - 1 - padding] == '=')
		padding++;
	decoded_length -= padding;
	if (decoded_length <= 0) {
		err = -EINVAL;
		goto free_buffers;
	}
	if ((size_t)decoded_length > size) {
		err = -ENOSPC;
		goto free_buffers;
	}
	memcpy(key, decoded, decoded_length);
	*length = decoded_length;
free_buffers:
	if (decoded)
		OPENSSL_cleanse(decoded, padded_length / 4 * 3 + 1);
	free(decoded);
	free(padded);
	return err;
}
