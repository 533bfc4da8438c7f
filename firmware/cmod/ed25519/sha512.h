// SPDX-License-Identifier: MIT
// SHA-512 (FIPS 180-4), streaming. No heap, no global state: the caller owns
// the context, so the same code serves the built-in and the native module.
#ifndef MPOTA_SHA512_H
#define MPOTA_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define SHA512_BLOCK_SIZE 128
#define SHA512_DIGEST_SIZE 64

typedef struct {
    uint64_t state[8];
    uint64_t total_bytes;               // messages below 2^61 bytes are plenty here
    uint8_t block[SHA512_BLOCK_SIZE];
    size_t block_used;
} sha512_ctx;

void sha512_init(sha512_ctx *ctx);
void sha512_update(sha512_ctx *ctx, const uint8_t *data, size_t len);
// Writes the digest. `ctx` is left unchanged, so more data may still be
// added and digest() asked again, as hashlib allows.
void sha512_final(const sha512_ctx *ctx, uint8_t digest[SHA512_DIGEST_SIZE]);

#endif
