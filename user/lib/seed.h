/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one hash of strings and bytes the agent's hash tables use, and the
 * random keys that seed it.
 *
 * Tenants choose many keys (executable sizes and times, destinations,
 * names): under a fixed hash they could choose keys that all land in one
 * bucket and turn every lookup into a scan. So the hash is SipHash-2-4, a
 * keyed hash made against exactly that, under a random key: per table where
 * tenants fill it, else the process's key.
 */
#ifndef ABUSEWATCH_SEED_H
#define ABUSEWATCH_SEED_H

#include <stddef.h>
#include <stdint.h>

/* Fills @out with @size random bytes; never blocks. */
void random_seed(void *out, size_t size);

struct hash_key {
	uint64_t words[2];
};

/* A fresh random key, for a table of its own. */
void hash_key_random(struct hash_key *key);

/* A random key drawn once per process, for tables without their own. */
const struct hash_key *hash_key_process(void);

/* A hash being fed: several pieces (a tenant, then a path) hash as one. */
struct hash_state {
	uint64_t v[4];
	uint64_t tail;		/* the bytes past the last whole word */
	uint64_t length;	/* bytes fed so far */
};

/* hash_finish(state) after hash_start and any hash_add calls. */
void hash_start(struct hash_state *state, const struct hash_key *key);
void hash_add(struct hash_state *state, const void *data, size_t length);
uint64_t hash_finish(const struct hash_state *state);

/* The hash of @length bytes at @data: one start, add and finish. */
uint64_t hash_bytes(const struct hash_key *key, const void *data, size_t length);

/* The hash of @text without its NUL. */
uint64_t hash_string(const struct hash_key *key, const char *text);

#endif
