// SPDX-License-Identifier: GPL-2.0
/* SHA-256 through OpenSSL's low-level interface (see sha256.h). */

/*
 * Deprecated since OpenSSL 3.0 in favour of EVP, but kept in 3.x: it is
 * what spares the agent the providers (sha256.h). Should it go, a portable
 * SHA-256 here would do, at a few times the CPU of an executable's digest.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdlib.h>

#include "sha256.h"

struct sha256 {
	SHA256_CTX context;
};

_Static_assert(SHA256_BYTES == SHA256_DIGEST_LENGTH, "SHA-256 is 32 bytes");

struct sha256 *sha256_new(void)
{
	struct sha256 *digest = malloc(sizeof(*digest));

	if (digest)
		sha256_restart(digest);
	return digest;
}

void sha256_free(struct sha256 *digest)
{
	free(digest);
}

/* The low-level calls cannot fail on a context of ours: their 1 is not checked. */
void sha256_restart(struct sha256 *digest)
{
	SHA256_Init(&digest->context);
}

void sha256_feed(struct sha256 *digest, const void *data, size_t size)
{
	SHA256_Update(&digest->context, data, size);
}

void sha256_finish(struct sha256 *digest, unsigned char out[SHA256_BYTES])
{
	SHA256_Final(out, &digest->context);
	SHA256_Init(&digest->context);
}

void sha256_of(const void *data, size_t size, unsigned char out[SHA256_BYTES])
{
	SHA256_CTX context;

	SHA256_Init(&context);
	SHA256_Update(&context, data, size);
	SHA256_Final(out, &context);
}
