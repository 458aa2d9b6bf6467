// SPDX-License-Identifier: GPL-2.0
/*
 * The digests seen run clean (see seen_clean.h): a bounded table on
 * lib/hashtable with its entries in one array reserved at the start, so
 * that noting one never allocates; its use order is the order they were
 * first seen, so the oldest is evicted and the file lists them oldest
 * first.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "seen_clean.h"

#define PREFIX_DIGITS 16
static const char header[] = "# abusewatch: sha256 digests seen run clean (first 64 bits)\n";
/* The header and a full table, twice over: anything larger is no file of ours. */
#define FILE_MAX_BYTES (2 * (sizeof(header) + (size_t)SEEN_CLEAN_MAX * (PREFIX_DIGITS + 1)))

struct clean_entry {
	struct hashtable_node node;
	uint64_t prefix;
};

struct seen_clean {
	struct hashtable table;
	struct clean_entry *entries;
	size_t used;
	char path[PATH_MAX];	/* "": in memory only */
	char dir[PATH_MAX];
	bool unsaved;		/* noted since the last write that worked */
	bool failing;		/* the last write failed: logged */
	double next_save;	/* monotonic */
};

static bool entry_is(const struct hashtable_node *node, const void *prefix)
{
	return hashtable_entry(node, struct clean_entry, node)->prefix == *(const uint64_t *)prefix;
}

static uint64_t prefix_hash(uint64_t prefix)
{
	return hash_bytes(hash_key_process(), &prefix, sizeof(prefix));
}

/* @length hex digits of @text as a number; false when one is not a lowercase hex digit. */
static bool parse_hex(const char *text, size_t length, uint64_t *value)
{
	size_t i;

	*value = 0;
	for (i = 0; i < length; i++) {
		char c = text[i];

		if (c >= '0' && c <= '9')
			*value = *value << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*value = *value << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	return true;
}

/* Empties the table, keeping its buckets reserved. */
static void clear(struct seen_clean *seen)
{
	struct hashtable_node *node, *next;

	hashtable_for_each_safe(&seen->table, node, next)
		hashtable_remove(&seen->table, node);
	seen->used = 0;
}

struct seen_clean *seen_clean_new(const char *state_dir)
{
	struct seen_clean *seen = calloc(1, sizeof(*seen));

	if (!seen)
		return NULL;
	hashtable_init(&seen->table, entry_is);
	hashtable_set_limit(&seen->table, SEEN_CLEAN_MAX);
	seen->entries = calloc(SEEN_CLEAN_MAX, sizeof(*seen->entries));
	if (!seen->entries || hashtable_reserve(&seen->table, SEEN_CLEAN_MAX)) {
		hashtable_release(&seen->table, NULL);
		free(seen->entries);
		free(seen);
		return NULL;
	}
	if (state_dir && state_dir[0] &&
	    snprintf(seen->path, sizeof(seen->path), "%s/%s", state_dir, SEEN_CLEAN_FILE) >=
		    (int)sizeof(seen->path)) {
		pr_warn("state_dir %s: path too long; the digests seen run clean are not kept "
			"across restarts",
			state_dir);
		seen->path[0] = '\0';
	}
	if (seen->path[0])
		snprintf(seen->dir, sizeof(seen->dir), "%s", state_dir);
	return seen;
}

void seen_clean_free(struct seen_clean *seen)
{
	if (!seen)
		return;
	seen_clean_tick(seen, 0, true);
	hashtable_release(&seen->table, NULL);
	free(seen->entries);
	free(seen);
}

size_t seen_clean_count(const struct seen_clean *seen)
{
	return seen ? hashtable_count(&seen->table) : 0;
}

/* The digest's first 64 bits; false when it does not start with 16 hex digits. */
static bool digest_prefix(const char *sha256, uint64_t *prefix)
{
	return sha256 && strnlen(sha256, PREFIX_DIGITS) == PREFIX_DIGITS &&
	       parse_hex(sha256, PREFIX_DIGITS, prefix);
}

bool seen_clean_has(const struct seen_clean *seen, const char *sha256)
{
	uint64_t prefix;

	return digest_prefix(sha256, &prefix) &&
	       hashtable_find(&seen->table, prefix_hash(prefix), &prefix);
}

/* Adds @prefix when it is not there, the oldest giving way; true when added. */
static bool add(struct seen_clean *seen, uint64_t prefix)
{
	uint64_t hash = prefix_hash(prefix);
	struct clean_entry *entry;

	if (hashtable_find(&seen->table, hash, &prefix))
		return false;
	entry = hashtable_entry(hashtable_evict(&seen->table, 1), struct clean_entry, node);
	if (!entry)
		entry = &seen->entries[seen->used++];
	entry->prefix = prefix;
	/* Reserved for every entry at the start: cannot fail. */
	hashtable_insert(&seen->table, &entry->node, hash);
	return true;
}

void seen_clean_note(struct seen_clean *seen, const char *sha256)
{
	uint64_t prefix;

	if (digest_prefix(sha256, &prefix) && add(seen, prefix))
		seen->unsaved = true;
}

int seen_clean_parse(struct seen_clean *seen, const char *text, size_t length, char *why,
		     size_t why_size)
{
	size_t offset = 0, line_length, line = 0;
	const char *newline;
	uint64_t prefix;

	clear(seen);
	while (offset < length) {
		line++;
		newline = memchr(text + offset, '\n', length - offset);
		if (!newline) {
			/* Written whole with its last newline: a cut line is a torn file. */
			snprintf(why, why_size, "line %zu has no end", line);
			clear(seen);
			return -EINVAL;
		}
		line_length = (size_t)(newline - (text + offset));
		if (line_length && text[offset] != '#') {
			if (line_length != PREFIX_DIGITS ||
			    !parse_hex(text + offset, line_length, &prefix)) {
				snprintf(why, why_size, "line %zu is not 16 hex digits", line);
				clear(seen);
				return -EINVAL;
			}
			add(seen, prefix);
		}
		offset += line_length + 1;
	}
	return 0;
}

int seen_clean_format(const struct seen_clean *seen, char **text, size_t *length)
{
	const struct hashtable_node *node;
	size_t size = sizeof(header) + hashtable_count(&seen->table) * (PREFIX_DIGITS + 1);
	size_t used = sizeof(header) - 1;

	*text = malloc(size);
	*length = 0;
	if (!*text)
		return -ENOMEM;
	memcpy(*text, header, used);
	(*text)[used] = '\0';
	for (node = hashtable_oldest(&seen->table); node; node = hashtable_newer(node))
		used += (size_t)snprintf(*text + used, size - used, "%016llx\n",
					 (unsigned long long)hashtable_entry(
					     node, struct clean_entry, node)->prefix);
	*length = used;
	return 0;
}

int seen_clean_load(struct seen_clean *seen)
{
	char why[128], *text = NULL;
	size_t length = 0;
	int err;

	if (!seen->path[0])
		return -ENOENT;
	err = files_read_all(seen->path, FILE_MAX_BYTES, &text, &length);
	if (err == -ENOENT)
		return err;
	if (!err)
		err = seen_clean_parse(seen, text, length, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-err));
	free(text);
	if (err) {
		pr_warn("%s: %s: the digests seen run clean are discarded, starting with none "
			"(a name or path may teach a digest seen before)",
			seen->path, why);
		clear(seen);
		return -EINVAL;
	}
	pr_info("%s: %zu digests seen run clean", seen->path, seen_clean_count(seen));
	return 0;
}

void seen_clean_tick(struct seen_clean *seen, double now, bool force)
{
	char *text = NULL;
	size_t length;
	int err;

	if (!seen->path[0] || !seen->unsaved || (!force && now < seen->next_save))
		return;
	seen->next_save = now + SEEN_CLEAN_SAVE_S;
	err = files_make_dirs(seen->dir, 0700) ?: seen_clean_format(seen, &text, &length);
	/* Digests name no tenant, but what ran here is the operator's: 0600. */
	if (!err)
		err = files_replace_text(seen->path, 0600, text, length);
	free(text);
	if (err && !seen->failing)
		pr_warn("%s: cannot write: %s; the digests seen run clean are kept in memory "
			"only until it works",
			seen->path, strerror(-err));
	else if (!err && seen->failing)
		pr_info("%s: written again", seen->path);
	seen->failing = err != 0;
	seen->unsaved = err != 0;
}
