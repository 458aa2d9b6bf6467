// SPDX-License-Identifier: GPL-2.0
/* One hash table for every module (see hashtable.h). */
#include <errno.h>
#include <stdlib.h>

#include "hashtable.h"

#define MIN_BUCKETS 8
/*
 * Entries a bucket at most, on average. Two, not one: the bucket arrays
 * of the per-tenant tables are half the size (64 KiB less each at 10,000
 * tenants), and a lookup walks some 1.5 entries rather than 1.2, each
 * rejected at its hash without the match callback.
 */
#define MAX_LOAD 2

void hashtable_init(struct hashtable *table, hashtable_match_fn match)
{
	*table = (struct hashtable){ .match = match };
}

void hashtable_release(struct hashtable *table, hashtable_free_fn free_entry)
{
	struct hashtable_node *node, *next;

	for (node = table->oldest; free_entry && node; node = next) {
		next = node->newer;
		free_entry(node);
	}
	free(table->buckets);
	hashtable_init(table, table->match);
}

static size_t buckets_for(size_t entries)
{
	size_t count = MIN_BUCKETS;

	/* MAX_LOAD entries a bucket at most: chains stay short. */
	while (count * MAX_LOAD < entries)
		count *= 2;
	return count;
}

/* Rechains every entry, found through the use list, into @bucket_count new buckets. */
static int resize(struct hashtable *table, size_t bucket_count)
{
	struct hashtable_node **buckets = calloc(bucket_count, sizeof(*buckets));
	struct hashtable_node *node, **bucket;

	if (!buckets)
		return -ENOMEM;
	for (node = table->oldest; node; node = node->newer) {
		bucket = &buckets[node->hash & (bucket_count - 1)];
		node->chain = *bucket;
		*bucket = node;
	}
	free(table->buckets);
	table->buckets = buckets;
	table->bucket_count = bucket_count;
	return 0;
}

int hashtable_reserve(struct hashtable *table, size_t entries)
{
	if (table->bucket_count * MAX_LOAD >= entries && table->bucket_count)
		return 0;
	return resize(table, buckets_for(entries));
}

void hashtable_shrink(struct hashtable *table)
{
	size_t wanted = buckets_for(table->count);

	if (!table->count) {
		free(table->buckets);
		table->buckets = NULL;
		table->bucket_count = 0;
	} else if (wanted < table->bucket_count) {
		/* Failing to shrink leaves the table as it was: still right, only larger. */
		resize(table, wanted);
	}
}

struct hashtable_node *hashtable_find(const struct hashtable *table, uint64_t hash,
				      const void *key)
{
	struct hashtable_node *node;

	if (!table->bucket_count)
		return NULL;
	for (node = table->buckets[hash & (table->bucket_count - 1)]; node; node = node->chain)
		if (node->hash == hash && table->match(node, key))
			return node;
	return NULL;
}

static void list_unlink(struct hashtable *table, struct hashtable_node *node)
{
	if (node->older)
		node->older->newer = node->newer;
	else
		table->oldest = node->newer;
	if (node->newer)
		node->newer->older = node->older;
	else
		table->newest = node->older;
}

static void list_append(struct hashtable *table, struct hashtable_node *node)
{
	node->older = table->newest;
	node->newer = NULL;
	if (table->newest)
		table->newest->newer = node;
	else
		table->oldest = node;
	table->newest = node;
}

int hashtable_insert(struct hashtable *table, struct hashtable_node *node, uint64_t hash)
{
	struct hashtable_node **bucket;

	if (table->count >= table->bucket_count * MAX_LOAD &&
	    resize(table, buckets_for(table->count + 1)) && !table->bucket_count)
		return -ENOMEM;
	node->hash = hash;
	bucket = &table->buckets[hash & (table->bucket_count - 1)];
	node->chain = *bucket;
	*bucket = node;
	list_append(table, node);
	table->count++;
	return 0;
}

void hashtable_remove(struct hashtable *table, struct hashtable_node *node)
{
	struct hashtable_node **link = &table->buckets[node->hash & (table->bucket_count - 1)];

	while (*link != node)
		link = &(*link)->chain;
	*link = node->chain;
	list_unlink(table, node);
	table->count--;
}

void hashtable_touch(struct hashtable *table, struct hashtable_node *node)
{
	if (table->newest == node)
		return;
	list_unlink(table, node);
	list_append(table, node);
}

size_t hashtable_count(const struct hashtable *table)
{
	return table->count;
}

struct hashtable_node *hashtable_oldest(const struct hashtable *table)
{
	return table->oldest;
}

struct hashtable_node *hashtable_newer(const struct hashtable_node *node)
{
	return node->newer;
}

void hashtable_set_limit(struct hashtable *table, size_t limit)
{
	table->limit = limit;
}

struct hashtable_node *hashtable_evict(struct hashtable *table, size_t room)
{
	struct hashtable_node *oldest = table->oldest;

	if (!table->limit || !oldest || table->count + room <= table->limit)
		return NULL;
	hashtable_remove(table, oldest);
	return oldest;
}
