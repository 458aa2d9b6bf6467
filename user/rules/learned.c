// SPDX-License-Identifier: GPL-2.0
/*
 * The learned digests (see learned.h): a bounded table on lib/hashtable,
 * its use order the order of learning (entries are never touched), so the
 * oldest is the one evicted and the file lists them oldest first.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "hashtable.h"
#include "learned.h"
#include "log.h"
#include "seed.h"
#include "software.h"

/* A line: 64 + 1 + the four set names with commas + 1 + rule + newline. */
#define LINE_MAX_BYTES 160
#define FILE_MAX_BYTES ((size_t)LEARNED_MAX * LINE_MAX_BYTES * 2)

struct learned_node {
	struct hashtable_node node;
	struct learned_entry entry;
};

struct learned {
	struct hashtable table;
	char path[PATH_MAX];	/* "" in memory only */
	char dir[PATH_MAX];
};

static bool node_is(const struct hashtable_node *node, const void *sha256)
{
	return !memcmp(hashtable_entry(node, struct learned_node, node)->entry.sha256, sha256, 64);
}

static uint64_t digest_hash(const char *sha256)
{
	return hash_bytes(hash_key_process(), sha256, 64);
}

static bool valid_digest(const char *text, size_t length)
{
	size_t i;

	if (length != 64)
		return false;
	for (i = 0; i < length; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return true;
}

/* A rule name as the alerts spell them: lowercase letters, digits and '_'. */
static bool valid_rule(const char *text, size_t length)
{
	size_t i;

	if (!length || length >= LEARNED_RULE_MAX)
		return false;
	for (i = 0; i < length; i++)
		if (!((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= '0' && text[i] <= '9') ||
		      text[i] == '_'))
			return false;
	return true;
}

struct learned *learned_new(const char *state_dir)
{
	struct learned *learned = calloc(1, sizeof(*learned));

	if (!learned)
		return NULL;
	hashtable_init(&learned->table, node_is);
	hashtable_set_limit(&learned->table, LEARNED_MAX);
	if (state_dir && state_dir[0] &&
	    snprintf(learned->path, sizeof(learned->path), "%s/%s", state_dir, LEARNED_FILE) >=
		    (int)sizeof(learned->path)) {
		pr_warn("state_dir %s: path too long; learned digests are not kept across restarts",
			state_dir);
		learned->path[0] = '\0';
	}
	if (learned->path[0])
		snprintf(learned->dir, sizeof(learned->dir), "%s", state_dir);
	return learned;
}

static void free_node(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct learned_node, node));
}

void learned_free(struct learned *learned)
{
	if (!learned)
		return;
	hashtable_release(&learned->table, free_node);
	free(learned);
}

size_t learned_count(const struct learned *learned)
{
	return learned ? hashtable_count(&learned->table) : 0;
}

const struct learned_entry *learned_find(const struct learned *learned, const char *sha256)
{
	struct learned_node *found;

	if (!learned || !sha256 || strlen(sha256) != 64)
		return NULL;
	found = hashtable_entry(hashtable_find(&learned->table, digest_hash(sha256), sha256),
				struct learned_node, node);
	return found ? &found->entry : NULL;
}

/* Inserts a new entry, the oldest giving way at the limit. 0 or -ENOMEM. */
static int insert(struct learned *learned, const struct learned_entry *entry)
{
	struct learned_node *node;

	node = hashtable_entry(hashtable_evict(&learned->table, 1), struct learned_node, node);
	if (!node)
		node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->entry = *entry;
	if (hashtable_insert(&learned->table, &node->node, digest_hash(entry->sha256))) {
		free(node);
		return -ENOMEM;
	}
	return 0;
}

/* "miners,scanners" into SOFTWARE_SET_* bits; 0 when a name is unknown. */
static unsigned int parse_sets(const char *text, size_t length)
{
	char name[16];
	unsigned int sets = 0, bit;
	size_t start = 0, end;

	while (start < length) {
		for (end = start; end < length && text[end] != ','; end++)
			;
		if (end - start >= sizeof(name))
			return 0;
		memcpy(name, text + start, end - start);
		name[end - start] = '\0';
		bit = software_set_bit(name);
		if (!bit)
			return 0;
		sets |= bit;
		start = end + 1;
	}
	return sets;
}

/* One line (without its newline) into @entry; false when it is not one. */
static bool parse_line(const char *line, size_t length, struct learned_entry *entry)
{
	const char *space1, *space2;

	space1 = memchr(line, ' ', length);
	if (!space1 || !valid_digest(line, (size_t)(space1 - line)))
		return false;
	space2 = memchr(space1 + 1, ' ', length - (size_t)(space1 + 1 - line));
	if (!space2)
		return false;
	memset(entry, 0, sizeof(*entry));
	memcpy(entry->sha256, line, 64);
	entry->sets = parse_sets(space1 + 1, (size_t)(space2 - space1 - 1));
	if (!entry->sets)
		return false;
	length -= (size_t)(space2 + 1 - line);
	if (!valid_rule(space2 + 1, length))
		return false;
	memcpy(entry->rule, space2 + 1, length);
	return true;
}

static void clear(struct learned *learned)
{
	hashtable_release(&learned->table, free_node);
	hashtable_init(&learned->table, node_is);
	hashtable_set_limit(&learned->table, LEARNED_MAX);
}

int learned_parse(struct learned *learned, const char *text, size_t length, char *why,
		  size_t why_size)
{
	struct learned_entry entry;
	size_t offset = 0, line_length, line = 0;
	const char *newline;
	int err = 0;

	clear(learned);
	while (offset < length) {
		line++;
		newline = memchr(text + offset, '\n', length - offset);
		if (!newline) {
			/* Written whole with its last newline: a cut line is a torn file. */
			snprintf(why, why_size, "line %zu has no end", line);
			err = -EINVAL;
			break;
		}
		line_length = (size_t)(newline - (text + offset));
		if (line_length && text[offset] != '#') {
			if (line_length >= LINE_MAX_BYTES ||
			    !parse_line(text + offset, line_length, &entry)) {
				snprintf(why, why_size, "line %zu is not \"SHA256 SETS RULE\"", line);
				err = -EINVAL;
				break;
			}
			/* A digest twice: the first line stays. */
			if (!learned_find(learned, entry.sha256)) {
				err = insert(learned, &entry);
				if (err) {
					snprintf(why, why_size, "out of memory");
					break;
				}
			}
		}
		offset += line_length + 1;
	}
	if (err)
		clear(learned);
	return err;
}

static int append(char **text, size_t *length, size_t *size, const char *add, size_t add_length)
{
	char *grown;

	if (*length + add_length + 1 > *size) {
		*size = (*length + add_length + 1) * 2;
		grown = realloc(*text, *size);
		if (!grown)
			return -ENOMEM;
		*text = grown;
	}
	memcpy(*text + *length, add, add_length);
	*length += add_length;
	(*text)[*length] = '\0';
	return 0;
}

int learned_format(const struct learned *learned, char **text, size_t *length)
{
	static const char header[] = "# abusewatch: sha256 digests caught on this node: SHA256 SETS RULE\n";
	struct hashtable_node *node, *next;
	const struct learned_entry *entry;
	char line[LINE_MAX_BYTES];
	size_t size = 0, used;
	unsigned int bit;
	int err;

	*text = NULL;
	*length = 0;
	err = append(text, length, &size, header, sizeof(header) - 1);
	hashtable_for_each_safe(&learned->table, node, next)
	{
		if (err)
			break;
		entry = &hashtable_entry(node, struct learned_node, node)->entry;
		used = (size_t)snprintf(line, sizeof(line), "%s ", entry->sha256);
		for (bit = 1; bit && used < sizeof(line); bit <<= 1) {
			if (!(entry->sets & bit) || !software_set_name(bit))
				continue;
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s",
						 line[used - 1] == ' ' ? "" : ",",
						 software_set_name(bit));
		}
		if (used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s\n",
						 entry->rule);
		if (used >= sizeof(line)) {
			err = -EINVAL;
			break;
		}
		err = append(text, length, &size, line, used);
	}
	if (err) {
		free(*text);
		*text = NULL;
		*length = 0;
	}
	return err;
}

int learned_load(struct learned *learned)
{
	char why[128], *text = NULL;
	size_t length = 0;
	int err;

	if (!learned->path[0])
		return -ENOENT;
	err = files_read_all(learned->path, FILE_MAX_BYTES, &text, &length);
	if (err == -ENOENT)
		return err;
	if (!err)
		err = learned_parse(learned, text, length, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-err));
	free(text);
	if (err) {
		pr_warn("%s: %s: learned digests discarded, starting clean", learned->path, why);
		clear(learned);
		return -EINVAL;
	}
	pr_info("%s: %zu learned digests", learned->path, learned_count(learned));
	return 0;
}

static void save(const struct learned *learned)
{
	char *text;
	size_t length;
	int err;

	if (!learned->path[0])
		return;
	err = files_make_dirs(learned->dir, 0700);
	if (!err)
		err = learned_format(learned, &text, &length);
	if (!err) {
		err = files_replace_text(learned->path, 0600, text, length);
		free(text);
	}
	if (err)
		pr_warn("%s: cannot write: %s; learned digests kept in memory only", learned->path,
			strerror(-err));
}

int learned_add(struct learned *learned, const char *sha256, unsigned int sets,
		const char *rule)
{
	struct learned_node *found;
	struct learned_entry entry = { .sets = sets };
	int err;

	if (!learned || !sha256 || !valid_digest(sha256, strlen(sha256)) || !sets || !rule ||
	    !valid_rule(rule, strlen(rule)))
		return -EINVAL;
	found = hashtable_entry(hashtable_find(&learned->table, digest_hash(sha256), sha256),
				struct learned_node, node);
	if (found) {
		if ((found->entry.sets & sets) == sets)
			return 0;
		found->entry.sets |= sets;
	} else {
		memcpy(entry.sha256, sha256, 64);
		snprintf(entry.rule, sizeof(entry.rule), "%s", rule);
		err = insert(learned, &entry);
		if (err)
			return err;
	}
	save(learned);
	return 1;
}
