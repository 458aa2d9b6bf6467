// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "files.h"
#include "json.h"
#include "log.h"
#include "spool.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define FILE_MODE 0640

struct spool {
	char *label;	 /* "<kind> <display URL>", the start of every log line */
	char *paths[2];	 /* by enum spool_file */
	bool unreadable; /* the queue file could not be read: never rewrite it */
	bool failing;	 /* a write failed: logged once until one succeeds */
};

/* ---- records ---- */

int spool_record_text(const struct alert *alert, char **text)
{
	struct json_object *object;

	object = alert_to_json(alert);
	if (!object)
		return errno ? -errno : -ENOMEM;
	*text = strdup(json_object_to_json_string_ext(object, JSON_FLAGS));
	json_object_put(object);
	return *text ? 0 : -ENOMEM;
}

struct spool_record *spool_record_new(const char *text, double started_at, const char *webhook_id)
{
	struct spool_record *record = calloc(1, sizeof(*record));

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

void spool_record_free(struct spool_record *record)
{
	if (!record)
		return;
	free(record->text);
	free(record->fingerprint);
	free(record);
}

void spool_list_push(struct spool_list *list, struct spool_record *record)
{
	record->next = NULL;
	if (list->tail)
		list->tail->next = record;
	else
		list->head = record;
	list->tail = record;
	list->count++;
}

struct spool_record *spool_list_pop(struct spool_list *list)
{
	struct spool_record *record = list->head;

	if (!record)
		return NULL;
	list->head = record->next;
	if (!list->head)
		list->tail = NULL;
	list->count--;
	record->next = NULL;
	return record;
}

void spool_list_splice(struct spool_list *to, struct spool_list *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	to->count += from->count;
	*from = (struct spool_list){0};
}

void spool_list_clear(struct spool_list *list)
{
	struct spool_record *record;

	while ((record = spool_list_pop(list)))
		spool_record_free(record);
}

struct spool_record *spool_list_take_fingerprint(struct spool_list *list, const char *fingerprint)
{
	struct spool_record *record, *previous = NULL;

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

/* ---- lines ---- */

/* An id from a spool file goes into a header: nothing that could break out of it. */
static bool valid_webhook_id(const char *id)
{
	size_t length = strlen(id);

	if (!length || length >= SPOOL_WEBHOOK_ID_SIZE)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
	       length;
}

/* The spool line for @record, newline included; NULL (errno set) on failure. */
static char *record_to_line(const struct spool_record *record)
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
		err = json_add_string(line, "webhook_id", record->webhook_id);
	if (!err && record->started_at)
		err = json_add_double(line, "started_at", record->started_at);
	if (!err)
		err = json_add(line, "record", body);
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
static struct spool_record *record_from_line(const char *line, bool with_webhook_id)
{
	struct json_object *object, *field, *body;
	char webhook_id[SPOOL_WEBHOOK_ID_SIZE] = "";
	struct spool_record *record = NULL;
	double started_at = 0;
	struct alert alert;

	object = json_tokener_parse(line);
	if (!object || !json_object_object_get_ex(object, "record", &body) ||
	    alert_from_json(body, &alert))
		goto put_object;
	/*
	 * A number, and finite: json-c reads NaN and Infinity too, and a record
	 * holding one could never be written again (JSON has no text for it),
	 * so that no rewrite of the whole spool would succeed.
	 */
	if (json_get_double(object, "started_at", &started_at))
		started_at = 0;
	if (with_webhook_id && json_object_object_get_ex(object, "webhook_id", &field) &&
	    json_object_is_type(field, json_type_string) &&
	    valid_webhook_id(json_object_get_string(field)))
		snprintf(webhook_id, sizeof(webhook_id), "%s", json_object_get_string(field));
	record = spool_record_new(json_object_to_json_string_ext(body, JSON_FLAGS), started_at,
				  webhook_id);
put_object:
	json_object_put(object);
	if (!record && !errno)
		errno = EINVAL;
	return record;
}

/* ---- files ---- */

int spool_create_dir(const char *state_dir, char **dir)
{
	int err;

	if (asprintf(dir, "%s/spool", state_dir) < 0) {
		*dir = NULL;
		return -ENOMEM;
	}
	err = files_make_dirs(*dir, 0750);
	if (err) {
		pr_err("cannot create %s: %s", *dir, strerror(-err));
		free(*dir);
		*dir = NULL;
	}
	return err;
}

/* "<kind>-<display URL made safe>-<8 hex digits of SHA-256(url)>", on the heap. */
static char *spool_file_name(const char *kind, const char *url, const char *display_url)
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
	if (asprintf(&name, "%s-%s-%02x%02x%02x%02x", kind, clean, digest[0], digest[1], digest[2],
		     digest[3]) < 0)
		return NULL;
	return name;
}

struct spool *spool_new(const char *dir, const char *kind, const char *url, const char *display_url)
{
	struct spool *spool = calloc(1, sizeof(*spool));
	char *name = NULL;

	if (!spool)
		goto fail;
	name = spool_file_name(kind, url, display_url);
	if (!name)
		goto free_spool;
	if (asprintf(&spool->label, "%s %s", kind, display_url) < 0)
		spool->label = NULL;
	if (asprintf(&spool->paths[SPOOL_QUEUE], "%s/%s.queue", dir, name) < 0)
		spool->paths[SPOOL_QUEUE] = NULL;
	if (asprintf(&spool->paths[SPOOL_FIRING], "%s/%s.firing", dir, name) < 0)
		spool->paths[SPOOL_FIRING] = NULL;
	if (!spool->label || !spool->paths[SPOOL_QUEUE] || !spool->paths[SPOOL_FIRING])
		goto free_spool;
	free(name);
	return spool;

free_spool:
	free(name);
	spool_free(spool);
fail:
	errno = ENOMEM;
	return NULL;
}

void spool_free(struct spool *spool)
{
	if (!spool)
		return;
	free(spool->label);
	free(spool->paths[SPOOL_QUEUE]);
	free(spool->paths[SPOOL_FIRING]);
	free(spool);
}

const char *spool_path(const struct spool *spool, enum spool_file file)
{
	return spool->paths[file];
}

static int write_records(int fd, void *ctx)
{
	const struct spool_list *list = ctx;
	const struct spool_record *record;
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

/* Logs the first of a run of failed writes; records are still delivered from memory. */
static void note_write_result(struct spool *spool, const char *path, int err)
{
	if (!err) {
		spool->failing = false;
		return;
	}
	if (!spool->failing)
		pr_err("%s: cannot write %s: %s; records are kept in memory only", spool->label,
		       path, strerror(-err));
	spool->failing = true;
}

int spool_append(struct spool *spool, const struct spool_list *list)
{
	const char *path = spool->paths[SPOOL_QUEUE];
	bool created = false;
	int fd, err;

	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, FILE_MODE);
		created = true;
	}
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = write_records(fd, (void *)list);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && created)
		err = files_sync_parent_dir(path);
cleanup:
	note_write_result(spool, path, err);
	return err;
}

/* Empties @path, if it exists, in place: there is nothing to keep half of. */
static int truncate_file(const char *path)
{
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int spool_rewrite(struct spool *spool, enum spool_file file, const struct spool_list *list)
{
	const char *path = spool->paths[file];
	int err;

	if (spool->unreadable)
		return 0;
	if (list->count)
		err = files_replace(path, FILE_MODE, write_records, (void *)list);
	else
		err = truncate_file(path);
	note_write_result(spool, path, err);
	return err;
}

/* Reads the records of @path into @list. 0 (also when there is no file) or -errno. */
static int read_records(const char *path, struct spool_list *list, bool with_webhook_id,
			size_t *skipped)
{
	struct spool_record *record;
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
		spool_list_push(list, record);
	}
	if (!err && ferror(file))
		err = -EIO;
	free(line);
	fclose(file);
	return err;
}

int spool_load(struct spool *spool, enum spool_file file, struct spool_list *list,
	       bool with_webhook_id, size_t *skipped)
{
	const char *path = spool->paths[file];
	int err;

	err = read_records(path, list, with_webhook_id, skipped);
	if (!err)
		return 0;
	if (file == SPOOL_QUEUE) {
		pr_err("%s: cannot read %s: %s; it is left as it is", spool->label, path,
		       strerror(-err));
		spool->unreadable = true;
	} else {
		/* Less serious: only re-sends of what fired before are missed. */
		pr_warn("%s: cannot read %s: %s", spool->label, path, strerror(-err));
	}
	return err;
}
