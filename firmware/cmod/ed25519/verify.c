// SPDX-License-Identifier: MIT
// The verification policy: the one place that decides whether a signature is
// accepted. Every check below matches libsodium's crypto_sign_verify_detached,
// so that a signature valid for mpota is valid for libsodium and vice versa.
#include "verify.h"
#include "point.h"
#include "scalar.h"
#include "sha512.h"
#include "tables.h"

// Whether the 32 bytes, top (sign) bit ignored, are the y of a point of order
// 1, 2, 4 or 8, canonical or not. Such a key or R makes the signature
// equation hold for many messages, so they are refused before any math.
static int has_small_order(const uint8_t s[32]) {
    for (int k = 0; k < 7; k++) {
        uint8_t diff = (uint8_t)((s[31] & 0x7f) ^ ED25519_SMALL_ORDER_Y[k][31]);
        for (int i = 0; i < 31; i++) {
            diff |= (uint8_t)(s[i] ^ ED25519_SMALL_ORDER_Y[k][i]);
        }
        if (diff == 0) {
            return 1;
        }
    }
    return 0;
}

// Whether y (top bit ignored) is below p = 2^255 - 19.
static int y_is_canonical(const uint8_t s[32]) {
    if ((s[31] & 0x7f) != 0x7f) {
        return 1;
    }
    for (int i = 30; i > 0; i--) {
        if (s[i] != 0xff) {
            return 1;
        }
    }
    return s[0] < 0xed;
}

// k = SHA-512(R || A || M) mod L. A function of its own so that the hash
// context is off the stack before the scalar multiplication needs it.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void challenge(uint8_t k[32], const uint8_t r[32], const uint8_t a[32],
    const uint8_t *message, size_t message_len) {
    sha512_ctx ctx;
    uint8_t digest[SHA512_DIGEST_SIZE];
    sha512_init(&ctx);
    sha512_update(&ctx, r, 32);
    sha512_update(&ctx, a, 32);
    sha512_update(&ctx, message, message_len);
    sha512_final(&ctx, digest);
    sc_reduce64(k, digest);
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int equation_holds(const uint8_t r[32], const uint8_t s[32], const uint8_t k[32], const uint8_t a[32]) {
    ge_p3 minus_a;
    ge_p2 check;
    uint8_t encoded[32];
    if (ge_decode(&minus_a, a) != 0) {
        return 0;
    }
    ge_neg(&minus_a);
    // Cofactorless: [S]B - [k]A must encode to exactly the bytes of R, so a
    // non-canonical R never matches.
    ge_double_scalarmult_vartime(&check, k, &minus_a, s);
    ge_encode(encoded, &check);
    uint8_t diff = 0;
    for (int i = 0; i < 32; i++) {
        diff |= (uint8_t)(encoded[i] ^ r[i]);
    }
    return diff == 0;
}

int ed25519_verify(const uint8_t signature[64], const uint8_t public_key[32],
    const uint8_t *message, size_t message_len) {
    const uint8_t *r = signature;
    const uint8_t *s = signature + 32;
    // Check that 0 <= S < L (prevents malleability: S + L would verify too).
    if (!sc_is_canonical(s)) {
        return 0;
    }
    if (has_small_order(r)) {
        return 0;
    }
    // A must be canonical and not of small order (a small-order key would
    // accept forged signatures for a share of all messages).
    if (!y_is_canonical(public_key) || has_small_order(public_key)) {
        return 0;
    }
    uint8_t k[32];
    challenge(k, r, public_key, message, message_len);
    return equation_holds(r, s, k, public_key);
}
