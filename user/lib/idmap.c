// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "hashtable.h"
#include "idmap.h"

/* A cursor past the last entry; 0 is one before the first. */
#define CURSOR_END SIZE_MAX

_Static_assert(sizeof(size_t) >= sizeof(uintptr_t), "a cursor holds an entry's address");

struct idmap_entry {
	struct hashtable_node node;
	uint64_t id;
	void *value;
};

struct idmap {
	struct hashtable table;
};

static bool entry_has_id(const struct hashtable_node *node, const void *id)
{
	return hashtable_entry(node, struct idmap_entry, node)->id == *(const uint64_t *)id;
}

/*
 * Cgroup ids are dense small integers the kernel hands out, not chosen by
 * tenants: a cheap bijective mix (splitmix64's finalizer) spreads them over
 * the low bits, where a keyed hash of each id cost more than the lookup.
 */
uint64_t idmap_hash(uint64_t id)
{
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	return id ^ (id >> 31);
}

static struct idmap_entry *find_entry(const struct idmap *map, uint64_t id)
{
	return hashtable_entry(hashtable_find(&map->table, idmap_hash(id), &id), struct idmap_entry,
			       node);
}

struct idmap *idmap_new(void)
{
	struct idmap *map = calloc(1, sizeof(*map));

	if (map)
		hashtable_init(&map->table, entry_has_id);
	return map;
}

static void free_entry(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct idmap_entry, node));
}

void idmap_free(struct idmap *map)
{
	if (!map)
		return;
	hashtable_release(&map->table, free_entry);
	free(map);
}

int idmap_put(struct idmap *map, uint64_t id, void *value)
{
	struct idmap_entry *entry = find_entry(map, id);

	if (entry) {
		entry->value = value;
		return 0;
	}
	entry = malloc(sizeof(*entry));
	if (!entry)
		return -ENOMEM;
	entry->id = id;
	entry->value = value;
	if (hashtable_insert(&map->table, &entry->node, idmap_hash(id))) {
		free(entry);
		return -ENOMEM;
	}
	return 0;
}

void *idmap_get(const struct idmap *map, uint64_t id)
{
	struct idmap_entry *entry = find_entry(map, id);

	return entry ? entry->value : NULL;
}

void *idmap_remove(struct idmap *map, uint64_t id)
{
	struct idmap_entry *entry = find_entry(map, id);
	void *value;

	if (!entry)
		return NULL;
	value = entry->value;
	hashtable_remove(&map->table, &entry->node);
	free(entry);
	return value;
}

void *idmap_next(const struct idmap *map, size_t *cursor, uint64_t *id)
{
	struct hashtable_node *node, *next;
	struct idmap_entry *entry;

	if (*cursor == CURSOR_END)
		return NULL;
	if (*cursor)
		node = (struct hashtable_node *)(uintptr_t)*cursor;
	else
		node = hashtable_oldest(&map->table);
	if (!node) {
		*cursor = CURSOR_END;
		return NULL;
	}
	/* The successor is taken now: the caller may remove (and so free) this entry. */
	next = hashtable_newer(node);
	*cursor = next ? (size_t)(uintptr_t)next : CURSOR_END;
	entry = hashtable_entry(node, struct idmap_entry, node);
	if (id)
		*id = entry->id;
	return entry->value;
}
