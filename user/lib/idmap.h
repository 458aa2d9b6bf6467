/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A map from 64-bit ids (cgroup ids, name hashes) to pointers, for the
 * modules that want no entry type of their own: a thin layer over
 * hashtable.h that allocates the entries. The map owns no values.
 */
#ifndef ABUSEWATCH_IDMAP_H
#define ABUSEWATCH_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;

struct idmap *idmap_new(void);
/* Frees the map, not the values. */
void idmap_free(struct idmap *map);
/* Sets @id to @value (not NULL), replacing any old value. 0 or -ENOMEM. */
int idmap_put(struct idmap *map, uint64_t id, void *value);
void *idmap_get(const struct idmap *map, uint64_t id);
/* Removes @id; returns its value or NULL. */
void *idmap_remove(struct idmap *map, uint64_t id);

/*
 * Iteration: start with *cursor = 0; returns the next value and its id, or
 * NULL at the end. Removing the entry just returned is allowed.
 */
void *idmap_next(const struct idmap *map, size_t *cursor, uint64_t *id);

/*
 * The hash idmap gives an id, for a module that keeps entries keyed by
 * cgroup id in a hashtable.h table of its own (the node in the entry, one
 * allocation fewer each).
 */
uint64_t idmap_hash(uint64_t id);

#endif
