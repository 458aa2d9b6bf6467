/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SHA-256, streamed: the executables' digests (exehash), the pins' stamp,
 * the spool's file names.
 *
 * OpenSSL's SHA-256 code (its assembly: SHA-NI, AVX2) without EVP. An EVP
 * digest fetches its implementation from a provider: the first one loads
 * the configuration and the default provider and builds its algorithm
 * tables, some 1.8 MiB of libcrypto resident for the life of the agent,
 * for one algorithm whose code is a few KiB. The digests are the same.
 */
#ifndef ABUSEWATCH_SHA256_H
#define ABUSEWATCH_SHA256_H

#include <stddef.h>

#define SHA256_BYTES 32

struct sha256;

/* A digest ready to be fed; NULL without memory. */
struct sha256 *sha256_new(void);
void sha256_free(struct sha256 *digest);

/* Starts over: what was fed before is dropped. */
void sha256_restart(struct sha256 *digest);
void sha256_feed(struct sha256 *digest, const void *data, size_t size);
/* The digest of what was fed since the start; @digest starts over after. */
void sha256_finish(struct sha256 *digest, unsigned char out[SHA256_BYTES]);

/* SHA-256 of @size bytes at @data, in one go. */
void sha256_of(const void *data, size_t size, unsigned char out[SHA256_BYTES]);

#endif /* ABUSEWATCH_SHA256_H */
