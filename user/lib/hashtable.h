/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hash table of every module: one implementation of lookup, growth,
 * iteration and least-recently-used order.
 *
 * Intrusive: an entry embeds a struct hashtable_node, so the table
 * allocates nothing per entry, an entry never moves, and its owner decides
 * where it lives (a fixed array allocated once, one allocation with its
 * strings). Chained, two entries a bucket at most on average, with a
 * bucket array that doubles as entries come;
 * keyed by a 64-bit hash the owner computes (seed.h: keyed, where tenants
 * choose the keys) and a match callback for keys whose hashes are equal.
 *
 * The entries are also kept in a list by use, oldest first: an insert and
 * hashtable_touch() make an entry the newest. The list is the iteration
 * order, and with a limit the table is an LRU cache: hashtable_evict()
 * hands back the oldest entry to make room.
 */
#ifndef ABUSEWATCH_HASHTABLE_H
#define ABUSEWATCH_HASHTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashtable_node {
	struct hashtable_node *chain;	/* the next entry in its bucket */
	struct hashtable_node *older;	/* the use list */
	struct hashtable_node *newer;
	uint64_t hash;
};

/* Whether the entry of @node has the key @key; only asked when the hashes are equal. */
typedef bool (*hashtable_match_fn)(const struct hashtable_node *node, const void *key);

/* Frees the entry of @node, which is out of the table already. */
typedef void (*hashtable_free_fn)(struct hashtable_node *node);

/* To embed; its fields belong to the functions below. */
struct hashtable {
	struct hashtable_node **buckets;
	size_t bucket_count;	/* 0 until the first insert, then a power of two */
	size_t count;
	size_t limit;		/* 0: none */
	hashtable_match_fn match;
	struct hashtable_node *oldest;
	struct hashtable_node *newest;
};

/* The entry of type @type whose member @member is @node; NULL for NULL. */
#define hashtable_entry(node, type, member)                                                        \
	({                                                                                         \
		const struct hashtable_node *node__ = (node);                                      \
		node__ ? (type *)((char *)node__ - offsetof(type, member)) : NULL;                 \
	})

/* An empty table; allocates nothing yet. */
void hashtable_init(struct hashtable *table, hashtable_match_fn match);

/*
 * Empties the table and frees its buckets. Each entry goes to @free_entry,
 * oldest first; NULL when their memory is freed otherwise (a fixed array).
 */
void hashtable_release(struct hashtable *table, hashtable_free_fn free_entry);

/*
 * Sizes the buckets for @entries entries now: inserts up to that count
 * then allocate nothing and cannot fail. 0 or -ENOMEM.
 */
int hashtable_reserve(struct hashtable *table, size_t entries);

/* Gives back bucket memory the entries no longer need (all of it when empty). */
void hashtable_shrink(struct hashtable *table);

/* The entry with @hash whose key matches @key, or NULL. */
struct hashtable_node *hashtable_find(const struct hashtable *table, uint64_t hash,
				      const void *key);

/*
 * Adds @node, whose key is not in the table, as the newest entry. Past the
 * reserved size the buckets grow, and if they cannot, chains get longer;
 * so only a table with no buckets yet can fail: 0 or -ENOMEM. The limit is
 * not checked here: hashtable_evict() first.
 */
int hashtable_insert(struct hashtable *table, struct hashtable_node *node, uint64_t hash);

/* Takes @node out; its memory is the owner's again. */
void hashtable_remove(struct hashtable *table, struct hashtable_node *node);

/* Makes @node the newest entry: it was just used. */
void hashtable_touch(struct hashtable *table, struct hashtable_node *node);

size_t hashtable_count(const struct hashtable *table);

/*
 * Iteration, oldest first: hashtable_oldest(), then hashtable_newer() until
 * NULL. The entry just returned may be removed once its successor is taken
 * (hashtable_for_each_safe); entries inserted or touched meanwhile come
 * again at the end.
 */
struct hashtable_node *hashtable_oldest(const struct hashtable *table);
struct hashtable_node *hashtable_newer(const struct hashtable_node *node);

#define hashtable_for_each_safe(table, node, next)                                                 \
	for ((node) = hashtable_oldest(table); (node) && ((next) = hashtable_newer(node), true);   \
	     (node) = (next))

/* At most @limit entries (0: no limit); hashtable_evict() keeps to it. */
void hashtable_set_limit(struct hashtable *table, size_t limit);

/*
 * Removes and returns the oldest entry when fewer than @room entries would
 * fit under the limit; else NULL (always NULL without a limit). Before an
 * insert: hashtable_evict(table, 1), and reuse or free what comes back.
 * After lowering the limit: until NULL with @room 0.
 */
struct hashtable_node *hashtable_evict(struct hashtable *table, size_t room);

#endif
