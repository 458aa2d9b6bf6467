// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "idmap.h"
#include "seed.h"

/* Slots are empty (value NULL, not deleted), used, or deleted (tombstone). */
struct slot {
	uint64_t id;
	void *value;
	int deleted;
};

struct idmap {
	struct slot *slots;
	size_t capacity;	/* a power of two */
	size_t used;		/* live entries */
	size_t occupied;	/* live entries and tombstones */
};

static size_t slot_index(uint64_t id, size_t capacity)
{
	/* Cgroup ids are dense small integers: mix before masking. */
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return id & (capacity - 1);
}

struct idmap *idmap_new(void)
{
	struct idmap *map = calloc(1, sizeof(*map));

	if (!map)
		return NULL;
	map->capacity = 64;
	map->slots = calloc(map->capacity, sizeof(*map->slots));
	if (!map->slots) {
		free(map);
		return NULL;
	}
	return map;
}

void idmap_free(struct idmap *map)
{
	if (!map)
		return;
	free(map->slots);
	free(map);
}

static struct slot *find_slot(const struct idmap *map, uint64_t id)
{
	size_t i = slot_index(id, map->capacity);

	for (;;) {
		struct slot *slot = &map->slots[i];

		if (!slot->value && !slot->deleted)
			return NULL;
		if (slot->value && slot->id == id)
			return slot;
		i = (i + 1) & (map->capacity - 1);
	}
}

static int grow(struct idmap *map)
{
	size_t capacity = map->used * 4 > map->capacity ? map->capacity * 2 : map->capacity;
	struct slot *old = map->slots;
	size_t old_capacity = map->capacity, i;

	map->slots = calloc(capacity, sizeof(*map->slots));
	if (!map->slots) {
		map->slots = old;
		return -ENOMEM;
	}
	map->capacity = capacity;
	map->used = 0;
	map->occupied = 0;
	for (i = 0; i < old_capacity; i++)
		if (old[i].value)
			idmap_put(map, old[i].id, old[i].value);
	free(old);
	return 0;
}

int idmap_put(struct idmap *map, uint64_t id, void *value)
{
	struct slot *slot = find_slot(map, id);
	size_t i;
	int err;

	if (slot) {
		slot->value = value;
		return 0;
	}
	/* Keep at least a quarter free so probes stay short and terminate. */
	if ((map->occupied + 1) * 4 > map->capacity * 3) {
		err = grow(map);
		if (err)
			return err;
	}
	i = slot_index(id, map->capacity);
	while (map->slots[i].value)
		i = (i + 1) & (map->capacity - 1);
	if (!map->slots[i].deleted)
		map->occupied++;
	map->slots[i].id = id;
	map->slots[i].value = value;
	map->slots[i].deleted = 0;
	map->used++;
	return 0;
}

void *idmap_get(const struct idmap *map, uint64_t id)
{
	struct slot *slot = find_slot(map, id);

	return slot ? slot->value : NULL;
}

void *idmap_remove(struct idmap *map, uint64_t id)
{
	struct slot *slot = find_slot(map, id);
	void *value;

	if (!slot)
		return NULL;
	value = slot->value;
	slot->value = NULL;
	slot->deleted = 1;
	map->used--;
	return value;
}

void *idmap_next(const struct idmap *map, size_t *cursor, uint64_t *id)
{
	while (*cursor < map->capacity) {
		struct slot *slot = &map->slots[(*cursor)++];

		if (slot->value) {
			if (id)
				*id = slot->id;
			return slot->value;
		}
	}
	return NULL;
}

uint64_t idmap_hash_string(const char *text)
{
	return hash_string(hash_key_process(), text);
}
