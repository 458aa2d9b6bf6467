// SPDX-License-Identifier: GPL-2.0
/* Random keys and the keyed hash for hash tables (see seed.h). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "seed.h"

void random_seed(void *out, size_t size)
{
	unsigned char *bytes = out;
	struct timespec ts;
	uint64_t mix;
	size_t i;

	if (getrandom(out, size, GRND_NONBLOCK) == (ssize_t)size)
		return;
	/* Early boot without entropy yet: worse, but collisions only cost time. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mix = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
	      (uint64_t)getpid() << 32;
	for (i = 0; i < size; i++) {
		mix = mix * 6364136223846793005ULL + 1442695040888963407ULL;
		bytes[i] = (unsigned char)(mix >> 56);
	}
}

void hash_key_random(struct hash_key *key)
{
	random_seed(key->words, sizeof(key->words));
}

static struct hash_key process_key;
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void draw_process_key(void)
{
	hash_key_random(&process_key);
}

const struct hash_key *hash_key_process(void)
{
	pthread_once(&process_key_once, draw_process_key);
	return &process_key;
}

/* SipHash-2-4 (Aumasson and Bernstein), fed a byte at a time. */

static uint64_t rotate_left(uint64_t x, int bits)
{
	return (x << bits) | (x >> (64 - bits));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotate_left(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotate_left(v[0], 32);
	v[2] += v[3];
	v[3] = rotate_left(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotate_left(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotate_left(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotate_left(v[2], 32);
}

/* One little-endian word of input, with the two compression rounds. */
static void sip_compress(uint64_t v[4], uint64_t word)
{
	v[3] ^= word;
	sip_round(v);
	sip_round(v);
	v[0] ^= word;
}

void hash_start(struct hash_state *state, const struct hash_key *key)
{
	state->v[0] = key->words[0] ^ 0x736f6d6570736575ULL;
	state->v[1] = key->words[1] ^ 0x646f72616e646f6dULL;
	state->v[2] = key->words[0] ^ 0x6c7967656e657261ULL;
	state->v[3] = key->words[1] ^ 0x7465646279746573ULL;
	state->tail = 0;
	state->length = 0;
}

void hash_add(struct hash_state *state, const void *data, size_t length)
{
	const unsigned char *bytes = data;
	size_t i;

	for (i = 0; i < length; i++) {
		state->tail |= (uint64_t)bytes[i] << (8 * (state->length & 7));
		if (!(++state->length & 7)) {
			sip_compress(state->v, state->tail);
			state->tail = 0;
		}
	}
}

uint64_t hash_finish(const struct hash_state *state)
{
	uint64_t v[4] = { state->v[0], state->v[1], state->v[2], state->v[3] };
	int i;

	/* The last word carries the length's low byte on top. */
	sip_compress(v, state->tail | state->length << 56);
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t hash_bytes(const struct hash_key *key, const void *data, size_t length)
{
	struct hash_state state;

	hash_start(&state, key);
	hash_add(&state, data, length);
	return hash_finish(&state);
}

uint64_t hash_string(const struct hash_key *key, const char *text)
{
	return hash_bytes(key, text, strlen(text));
}
