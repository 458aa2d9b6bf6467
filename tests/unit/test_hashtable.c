// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/hashtable.c and the keyed hash of user/lib/seed.c:
 * insert, find and remove, growth, iteration that removes, use order,
 * eviction under a limit, colliding hashes, and the idmap layer on top.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hashtable.h"
#include "idmap.h"
#include "seed.h"

struct item {
	struct hashtable_node node;
	int key;
};

static bool item_has_key(const struct hashtable_node *node, const void *key)
{
	return hashtable_entry(node, struct item, node)->key == *(const int *)key;
}

/* Sequential keys, hashed apart. */
static uint64_t spread(int key)
{
	return hash_bytes(hash_key_process(), &key, sizeof(key));
}

static struct item *find(const struct hashtable *table, int key, uint64_t hash)
{
	return hashtable_entry(hashtable_find(table, hash, &key), struct item, node);
}

/* Items keyed 0 to @count - 1, inserted in that order. */
static void insert_items(struct hashtable *table, struct item *items, int count)
{
	int i;

	for (i = 0; i < count; i++) {
		items[i].key = i;
		assert_int_equal(hashtable_insert(table, &items[i].node, spread(i)), 0);
	}
}

/* The keys in iteration order, oldest first, into @keys; returns how many. */
static size_t keys_in_order(const struct hashtable *table, int *keys, size_t size)
{
	struct hashtable_node *node;
	size_t count = 0;

	for (node = hashtable_oldest(table); node && count < size; node = hashtable_newer(node))
		keys[count++] = hashtable_entry(node, struct item, node)->key;
	return count;
}

static void test_insert_find_remove(void **state)
{
	struct item items[3] = { { .key = 1 }, { .key = 2 }, { .key = 3 } };
	struct hashtable table;
	int i;

	hashtable_init(&table, item_has_key);
	assert_null(find(&table, 1, spread(1)));
	assert_null(hashtable_oldest(&table));
	for (i = 0; i < 3; i++)
		assert_int_equal(hashtable_insert(&table, &items[i].node, spread(items[i].key)), 0);
	assert_int_equal(hashtable_count(&table), 3);
	for (i = 0; i < 3; i++)
		assert_ptr_equal(find(&table, items[i].key, spread(items[i].key)), &items[i]);
	assert_null(find(&table, 4, spread(4)));
	/* The right hash with another key is not a match. */
	assert_null(find(&table, 4, spread(1)));

	hashtable_remove(&table, &items[1].node);
	assert_int_equal(hashtable_count(&table), 2);
	assert_null(find(&table, 2, spread(2)));
	assert_ptr_equal(find(&table, 1, spread(1)), &items[0]);
	assert_ptr_equal(find(&table, 3, spread(3)), &items[2]);
	/* Back in again. */
	assert_int_equal(hashtable_insert(&table, &items[1].node, spread(2)), 0);
	assert_ptr_equal(find(&table, 2, spread(2)), &items[1]);
	hashtable_release(&table, NULL);
	assert_int_equal(hashtable_count(&table), 0);
	assert_null(find(&table, 1, spread(1)));
}

static void test_growth(void **state)
{
	const int count = 10000;
	struct item *items = calloc(count, sizeof(*items));
	struct hashtable table;
	int i;

	assert_non_null(items);
	hashtable_init(&table, item_has_key);
	insert_items(&table, items, count);
	assert_int_equal(hashtable_count(&table), count);
	/* Chains stay short: the buckets grew with the entries. */
	assert_true(2 * table.bucket_count >= (size_t)count);
	for (i = 0; i < count; i++)
		assert_ptr_equal(find(&table, i, spread(i)), &items[i]);
	for (i = 0; i < count; i += 2)
		hashtable_remove(&table, &items[i].node);
	hashtable_shrink(&table);
	assert_true(table.bucket_count < (size_t)count);
	for (i = 0; i < count; i++)
		assert_ptr_equal(find(&table, i, spread(i)), i % 2 ? &items[i] : NULL);
	for (i = 1; i < count; i += 2)
		hashtable_remove(&table, &items[i].node);
	hashtable_shrink(&table);
	assert_int_equal(table.bucket_count, 0);
	/* Empty and without buckets, it still takes entries. */
	assert_int_equal(hashtable_insert(&table, &items[0].node, spread(0)), 0);
	assert_ptr_equal(find(&table, 0, spread(0)), &items[0]);
	hashtable_release(&table, NULL);
	free(items);
}

static void test_reserve(void **state)
{
	struct hashtable table;

	hashtable_init(&table, item_has_key);
	assert_int_equal(hashtable_reserve(&table, 1000), 0);
	assert_true(2 * table.bucket_count >= 1000);
	/* Never smaller by a reservation. */
	assert_int_equal(hashtable_reserve(&table, 10), 0);
	assert_true(2 * table.bucket_count >= 1000);
	hashtable_release(&table, NULL);
}

static void test_iteration_removes(void **state)
{
	struct item items[10];
	struct hashtable_node *node, *next;
	struct hashtable table;
	int keys[10], i;

	hashtable_init(&table, item_has_key);
	insert_items(&table, items, 10);
	/* Insertion order, and every odd key removed as it is seen. */
	i = 0;
	hashtable_for_each_safe(&table, node, next) {
		struct item *item = hashtable_entry(node, struct item, node);

		assert_int_equal(item->key, i++);
		if (item->key % 2)
			hashtable_remove(&table, node);
	}
	assert_int_equal(i, 10);
	assert_int_equal(keys_in_order(&table, keys, 10), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(keys[i], 2 * i);
	/* All of them. */
	hashtable_for_each_safe(&table, node, next)
		hashtable_remove(&table, node);
	assert_int_equal(hashtable_count(&table), 0);
	assert_null(hashtable_oldest(&table));
	hashtable_release(&table, NULL);
}

static void test_use_order(void **state)
{
	struct item items[4];
	struct hashtable table;
	int keys[4];

	hashtable_init(&table, item_has_key);
	insert_items(&table, items, 4);
	hashtable_touch(&table, &items[1].node);
	hashtable_touch(&table, &items[0].node);
	/* The newest touched again changes nothing. */
	hashtable_touch(&table, &items[0].node);
	assert_int_equal(keys_in_order(&table, keys, 4), 4);
	assert_int_equal(keys[0], 2);
	assert_int_equal(keys[1], 3);
	assert_int_equal(keys[2], 1);
	assert_int_equal(keys[3], 0);
	hashtable_remove(&table, &items[2].node);
	assert_ptr_equal(hashtable_oldest(&table), &items[3].node);
	hashtable_release(&table, NULL);
}

static void test_evict(void **state)
{
	struct item items[6];
	struct hashtable_node *evicted;
	struct hashtable table;
	int keys[6], i;

	hashtable_init(&table, item_has_key);
	/* No limit: nothing is ever evicted. */
	assert_null(hashtable_evict(&table, 1));
	hashtable_set_limit(&table, 3);
	for (i = 0; i < 3; i++) {
		items[i].key = i;
		assert_null(hashtable_evict(&table, 1));
		assert_int_equal(hashtable_insert(&table, &items[i].node, spread(i)), 0);
	}
	/* Full: the least recently used gives way, not the oldest inserted. */
	hashtable_touch(&table, &items[0].node);
	evicted = hashtable_evict(&table, 1);
	assert_ptr_equal(evicted, &items[1].node);
	assert_null(find(&table, 1, spread(1)));
	assert_int_equal(hashtable_count(&table), 2);
	items[3].key = 3;
	assert_int_equal(hashtable_insert(&table, &items[3].node, spread(3)), 0);
	assert_int_equal(keys_in_order(&table, keys, 6), 3);
	assert_int_equal(keys[0], 2);
	assert_int_equal(keys[1], 0);
	assert_int_equal(keys[2], 3);
	/* A lower limit: evicting until NULL keeps the newest. */
	hashtable_set_limit(&table, 1);
	assert_ptr_equal(hashtable_evict(&table, 0), &items[2].node);
	assert_ptr_equal(hashtable_evict(&table, 0), &items[0].node);
	assert_null(hashtable_evict(&table, 0));
	assert_int_equal(hashtable_count(&table), 1);
	assert_ptr_equal(find(&table, 3, spread(3)), &items[3]);
	hashtable_release(&table, NULL);
}

static void test_collisions(void **state)
{
	struct item items[50];
	struct hashtable_node *node, *next;
	struct hashtable table;
	int i;

	/* Every key under one hash: the match callback alone tells them apart. */
	hashtable_init(&table, item_has_key);
	for (i = 0; i < 50; i++) {
		items[i].key = i;
		assert_int_equal(hashtable_insert(&table, &items[i].node, 42), 0);
	}
	for (i = 0; i < 50; i++)
		assert_ptr_equal(find(&table, i, 42), &items[i]);
	/* Removing from the middle of a chain keeps the rest of it. */
	for (i = 10; i < 40; i++)
		hashtable_remove(&table, &items[i].node);
	for (i = 0; i < 50; i++)
		assert_ptr_equal(find(&table, i, 42), i < 10 || i >= 40 ? &items[i] : NULL);
	hashtable_for_each_safe(&table, node, next)
		hashtable_remove(&table, node);
	hashtable_release(&table, NULL);
}

static int freed;

static void free_item(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct item, node));
	freed++;
}

static void test_release_frees(void **state)
{
	struct hashtable table;
	struct item *item;
	int i;

	hashtable_init(&table, item_has_key);
	for (i = 0; i < 20; i++) {
		item = calloc(1, sizeof(*item));
		assert_non_null(item);
		item->key = i;
		assert_int_equal(hashtable_insert(&table, &item->node, spread(i)), 0);
	}
	freed = 0;
	hashtable_release(&table, free_item);
	assert_int_equal(freed, 20);
	assert_int_equal(hashtable_count(&table), 0);
	assert_null(hashtable_oldest(&table));
	/* Released, it is an empty table still. */
	assert_null(find(&table, 3, spread(3)));
	hashtable_release(&table, free_item);
	assert_int_equal(freed, 20);
}

static void test_keyed_hash(void **state)
{
	/* SipHash-2-4's reference vector: key 00..0f, message 00..0e. */
	struct hash_key key = { { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL } };
	unsigned char message[15];
	struct hash_state hash;
	struct hash_key other;
	size_t i;

	for (i = 0; i < sizeof(message); i++)
		message[i] = (unsigned char)i;
	assert_true(hash_bytes(&key, message, sizeof(message)) == 0xa129ca6149be45e5ULL);
	/* Fed in pieces, the same. */
	hash_start(&hash, &key);
	hash_add(&hash, message, 3);
	hash_add(&hash, message + 3, 0);
	hash_add(&hash, message + 3, 12);
	assert_true(hash_finish(&hash) == 0xa129ca6149be45e5ULL);
	assert_true(hash_string(&key, "abc") == hash_bytes(&key, "abc", 3));
	/* Another key, another hash. */
	hash_key_random(&other);
	assert_true(hash_bytes(&other, message, sizeof(message)) != 0xa129ca6149be45e5ULL);
	assert_ptr_equal(hash_key_process(), hash_key_process());
}

static void test_idmap(void **state)
{
	struct idmap *map = idmap_new();
	int values[100], seen = 0;
	size_t cursor = 0;
	uint64_t id;
	void *value;
	int i;

	assert_non_null(map);
	for (i = 0; i < 100; i++)
		assert_int_equal(idmap_put(map, i, &values[i]), 0);
	assert_ptr_equal(idmap_get(map, 7), &values[7]);
	assert_int_equal(idmap_put(map, 7, &values[8]), 0);
	assert_ptr_equal(idmap_get(map, 7), &values[8]);
	assert_ptr_equal(idmap_remove(map, 7), &values[8]);
	assert_null(idmap_get(map, 7));
	assert_null(idmap_remove(map, 7));
	/* Removing what was just returned, all the way through. */
	while ((value = idmap_next(map, &cursor, &id))) {
		assert_ptr_equal(value, &values[id]);
		assert_ptr_equal(idmap_remove(map, id), value);
		seen++;
	}
	assert_int_equal(seen, 99);
	assert_null(idmap_next(map, &cursor, &id));
	cursor = 0;
	assert_null(idmap_next(map, &cursor, NULL));
	idmap_free(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_insert_find_remove),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_reserve),
	    cmocka_unit_test(test_iteration_removes),
	    cmocka_unit_test(test_use_order),
	    cmocka_unit_test(test_evict),
	    cmocka_unit_test(test_collisions),
	    cmocka_unit_test(test_release_frees),
	    cmocka_unit_test(test_keyed_hash),
	    cmocka_unit_test(test_idmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
