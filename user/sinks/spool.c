// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "files.h"
#include "json.h"
#include "log.h"
#include "sha256.h"
#include "spool.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Tenants' names and what they ran: for root alone, in a directory of its own. */
#define FILE_MODE 0600
#define DIR_MODE 0700

struct spool {
	char *label;	       /* "<kind> <log URL>", the start of every log line */
	char *paths[2];	       /* by enum spool_file */
	bool unreadable;       /* the queue file could not be read: never rewrite it */
	bool failing;	       /* a write failed: logged once until one succeeds */
	bool dirty[2];	       /* by enum spool_file: the file is behind what is in memory */
	char *legacy_paths[2]; /* by enum spool_file: the names of earlier versions, or NULL */
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
	/* state_dir too, if it is not there: 0700, as the unit's StateDirectoryMode. */
	err = files_make_dirs(*dir, DIR_MODE);
	if (err) {
		pr_err("cannot create %s: %s", *dir, strerror(-err));
		free(*dir);
		*dir = NULL;
	}
	return err;
}

/*
 * "<kind>-<the first @length bytes of the display URL made safe>-<8 hex
 * digits of SHA-256(url)>", on the heap.
 */
static char *spool_file_name(const char *kind, const char *url, const char *display_url,
			     size_t length)
{
	unsigned char digest[SHA256_BYTES];
	char clean[81], *name = NULL;
	size_t i;
	char c;

	sha256_of(url, strlen(url), digest);
	for (i = 0; i < sizeof(clean) - 1 && i < length && display_url[i]; i++) {
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

static const char *const suffixes[] = {
    [SPOOL_QUEUE] = "queue",
    [SPOOL_FIRING] = "firing",
};

struct spool *spool_new(const char *dir, const char *kind, const char *url, const char *display_url,
			const char *log_url)
{
	/* A query or fragment may hold a token: not in a file name, which logs show. */
	size_t length = strcspn(display_url, "?#");
	struct spool *spool = calloc(1, sizeof(*spool));
	char *name = NULL, *legacy = NULL;
	int file;

	if (!spool)
		goto fail;
	name = spool_file_name(kind, url, display_url, length);
	if (!name)
		goto free_spool;
	/* Versions before 0.2 kept the query in the name: such files are renamed at load. */
	if (display_url[length]) {
		legacy = spool_file_name(kind, url, display_url, SIZE_MAX);
		if (!legacy)
			goto free_spool;
	}
	if (asprintf(&spool->label, "%s %s", kind, log_url) < 0)
		spool->label = NULL;
	if (!spool->label)
		goto free_spool;
	for (file = SPOOL_QUEUE; file <= SPOOL_FIRING; file++) {
		if (asprintf(&spool->paths[file], "%s/%s.%s", dir, name, suffixes[file]) < 0) {
			spool->paths[file] = NULL;
			goto free_spool;
		}
		if (legacy && asprintf(&spool->legacy_paths[file], "%s/%s.%s", dir, legacy,
				       suffixes[file]) < 0) {
			spool->legacy_paths[file] = NULL;
			goto free_spool;
		}
	}
	free(legacy);
	free(name);
	return spool;

free_spool:
	free(legacy);
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
	free(spool->legacy_paths[SPOOL_QUEUE]);
	free(spool->legacy_paths[SPOOL_FIRING]);
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

/*
 * Logs the first of a run of failed writes, and its end; records are still
 * delivered from memory meanwhile, and the file is written whole again
 * (spool_rewrite) once it can be.
 */
static void note_write_result(struct spool *spool, enum spool_file file, int err)
{
	const char *path = spool->paths[file];

	spool->dirty[file] = err != 0;
	if (!err) {
		if (spool->failing)
			pr_info("%s: %s written again", spool->label, path);
		spool->failing = false;
		return;
	}
	if (!spool->failing)
		pr_err("%s: cannot write %s: %s; records are kept in memory and written once it "
		       "can be",
		       spool->label, path, strerror(-err));
	spool->failing = true;
}

bool spool_dirty(const struct spool *spool, enum spool_file file)
{
	return spool->dirty[file];
}

int spool_append(struct spool *spool, const struct spool_list *list)
{
	const char *path = spool->paths[SPOOL_QUEUE];
	bool created = false;
	int fd, err;

	/* Appending to a file that misses earlier records would not mend it. */
	if (spool->dirty[SPOOL_QUEUE])
		return -EAGAIN;

	fd = files_open_append(path, FILE_MODE, &created);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	err = write_records(fd, (void *)list);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && created)
		err = files_sync_parent_dir(path);
cleanup:
	note_write_result(spool, SPOOL_QUEUE, err);
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
	note_write_result(spool, file, err);
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

/* Far more than the records of a full queue: a file larger is not copied aside. */
#define CORRUPT_COPY_MAX (1024u << 20)

struct text_copy {
	const char *text;
	size_t length;
};

static int write_copy(int fd, void *ctx)
{
	const struct text_copy *copy = ctx;

	return files_write_all(fd, copy->text, copy->length);
}

/*
 * A file with lines that are not records (cut short by a crash, or
 * damaged) is copied to PATH.corrupt for a person to look at; PATH itself
 * stays until what could be read replaces it whole, so a crash in between
 * loses nothing either. A copy, not a second name: PATH is emptied in
 * place once its queue is.
 */
static void set_aside(struct spool *spool, enum spool_file file, size_t skipped, size_t kept)
{
	const char *path = spool->paths[file];
	struct text_copy copy;
	char *aside = NULL, *text = NULL;
	int err;

	spool->dirty[file] = true;
	err = files_read_all(path, CORRUPT_COPY_MAX, &text, &copy.length);
	if (!err && asprintf(&aside, "%s.corrupt", path) < 0) {
		aside = NULL;
		err = -ENOMEM;
	}
	copy.text = text;
	if (!err)
		err = files_replace(aside, FILE_MODE, write_copy, &copy);
	if (err)
		pr_warn("%s: %s: %zu line(s) are not records and are skipped, %zu kept (no copy "
			"kept: %s)",
			spool->label, path, skipped, kept, strerror(-err));
	else
		pr_warn(
		    "%s: %s: %zu line(s) are not records and are skipped, %zu kept; the file as "
		    "it was is kept as %s",
		    spool->label, path, skipped, kept, aside);
	free(text);
	free(aside);
}

int spool_load(struct spool *spool, enum spool_file file, struct spool_list *list,
	       bool with_webhook_id, size_t *skipped)
{
	const char *path = spool->paths[file], *legacy = spool->legacy_paths[file];
	size_t skipped_here = 0, before = list->count;
	int err;

	if (legacy && access(path, F_OK) && !access(legacy, F_OK)) {
		if (rename(legacy, path))
			pr_warn("%s: cannot rename %s to %s: %s", spool->label, legacy, path,
				strerror(errno));
		else
			files_sync_parent_dir(path);
	}
	err = read_records(path, list, with_webhook_id, &skipped_here);
	*skipped += skipped_here;
	if (!err && skipped_here)
		set_aside(spool, file, skipped_here, list->count - before);
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
