// SPDX-License-Identifier: MIT
// SHA-512 following FIPS 180-4 section 6.4. The message schedule is kept as a
// 16-word ring instead of 80 words so the stack stays small on a microcontroller.
#include <string.h>

#include "sha512.h"
#include "tables.h"

static uint64_t rotr(uint64_t x, unsigned n) {
    return (x >> n) | (x << (64 - n));
}

static uint64_t load_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void compress(uint64_t state[8], const uint8_t block[SHA512_BLOCK_SIZE]) {
    uint64_t w[16];
    uint64_t v[8];
    for (int i = 0; i < 16; i++) {
        w[i] = load_be64(block + 8 * i);
    }
    memcpy(v, state, sizeof(v));
    for (int t = 0; t < 80; t++) {
        if (t >= 16) {
            // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], in place in the ring.
            uint64_t w2 = w[(t - 2) & 15];
            uint64_t w15 = w[(t - 15) & 15];
            uint64_t s0 = rotr(w15, 1) ^ rotr(w15, 8) ^ (w15 >> 7);
            uint64_t s1 = rotr(w2, 19) ^ rotr(w2, 61) ^ (w2 >> 6);
            w[t & 15] += s1 + w[(t - 7) & 15] + s0;
        }
        uint64_t a = v[0], e = v[4];
        uint64_t sum1 = rotr(e, 14) ^ rotr(e, 18) ^ rotr(e, 41);
        uint64_t ch = (e & v[5]) ^ (~e & v[6]);
        uint64_t t1 = v[7] + sum1 + ch + SHA512_K[t] + w[t & 15];
        uint64_t sum0 = rotr(a, 28) ^ rotr(a, 34) ^ rotr(a, 39);
        uint64_t maj = (a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]);
        for (int i = 7; i > 0; i--) {
            v[i] = v[i - 1];
        }
        v[4] += t1;
        v[0] = t1 + sum0 + maj;
    }
    for (int i = 0; i < 8; i++) {
        state[i] += v[i];
    }
}

void sha512_init(sha512_ctx *ctx) {
    memcpy(ctx->state, SHA512_IV, sizeof(ctx->state));
    ctx->total_bytes = 0;
    ctx->block_used = 0;
}

void sha512_update(sha512_ctx *ctx, const uint8_t *data, size_t len) {
    ctx->total_bytes += len;
    while (len > 0) {
        size_t take = SHA512_BLOCK_SIZE - ctx->block_used;
        if (take > len) {
            take = len;
        }
        memcpy(ctx->block + ctx->block_used, data, take);
        ctx->block_used += take;
        data += take;
        len -= take;
        if (ctx->block_used == SHA512_BLOCK_SIZE) {
            compress(ctx->state, ctx->block);
            ctx->block_used = 0;
        }
    }
}

void sha512_final(const sha512_ctx *ctx, uint8_t digest[SHA512_DIGEST_SIZE]) {
    uint64_t state[8];
    uint8_t block[SHA512_BLOCK_SIZE];
    memcpy(state, ctx->state, sizeof(state));
    memcpy(block, ctx->block, ctx->block_used);
    // Padding: a 1 bit, zeros, then the message length in bits as a 128-bit
    // big-endian number (whose top 64 bits are zero for any length we accept).
    size_t used = ctx->block_used;
    block[used++] = 0x80;
    if (used > SHA512_BLOCK_SIZE - 16) {
        memset(block + used, 0, SHA512_BLOCK_SIZE - used);
        compress(state, block);
        used = 0;
    }
    memset(block + used, 0, SHA512_BLOCK_SIZE - 8 - used);
    store_be64(block + SHA512_BLOCK_SIZE - 8, ctx->total_bytes << 3);
    compress(state, block);
    for (int i = 0; i < 8; i++) {
        store_be64(digest + 8 * i, state[i]);
    }
}
