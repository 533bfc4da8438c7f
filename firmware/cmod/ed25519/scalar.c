// SPDX-License-Identifier: MIT
// Scalar arithmetic for verification: all inputs are public, and the code
// favours plain loops over speed because it runs once per signature.
#include "scalar.h"
#include "tables.h"

int sc_is_canonical(const uint8_t s[32]) {
    for (int i = 31; i >= 0; i--) {
        if (s[i] != ED25519_L[0][i]) {
            return s[i] < ED25519_L[0][i];
        }
    }
    return 0;                   // s == L
}

// Eight 32-bit little-endian words.
static void load_words(uint32_t w[8], const uint8_t s[32]) {
    for (int i = 0; i < 8; i++) {
        w[i] = (uint32_t)s[4 * i] | (uint32_t)s[4 * i + 1] << 8
            | (uint32_t)s[4 * i + 2] << 16 | (uint32_t)s[4 * i + 3] << 24;
    }
}

static int at_least(const uint32_t a[8], const uint32_t b[8]) {
    for (int i = 7; i >= 0; i--) {
        if (a[i] != b[i]) {
            return a[i] > b[i];
        }
    }
    return 1;
}

static void subtract(uint32_t a[8], const uint32_t b[8]) {
    uint32_t borrow = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t d = (uint64_t)a[i] - b[i] - borrow;
        a[i] = (uint32_t)d;
        borrow = (uint32_t)(d >> 32) & 1;
    }
}

// Schoolbook long division, one bit at a time from the top: r stays below L,
// so 2r + 1 < 2^254 always fits in eight words. 512 steps of a few dozen
// instructions each: about 1% of a verification.
void sc_reduce64(uint8_t out[32], const uint8_t in[64]) {
    uint32_t l[8], r[8] = {0};
    load_words(l, ED25519_L[0]);
    for (int bit = 511; bit >= 0; bit--) {
        for (int i = 7; i > 0; i--) {
            r[i] = (r[i] << 1) | (r[i - 1] >> 31);
        }
        r[0] = (r[0] << 1) | ((in[bit >> 3] >> (bit & 7)) & 1);
        if (at_least(r, l)) {
            subtract(r, l);
        }
    }
    for (int i = 0; i < 32; i++) {
        out[i] = (uint8_t)(r[i >> 2] >> (8 * (i & 3)));
    }
}

static void add_small(uint32_t k[9], uint32_t v) {
    for (int j = 0; j < 9 && v != 0; j++) {
        uint64_t t = (uint64_t)k[j] + v;
        k[j] = (uint32_t)t;
        v = (uint32_t)(t >> 32);
    }
}

void sc_wnaf(int8_t naf[256], const uint8_t s[32], int w) {
    // k grows by at most 2^(w-1) before each halving, so a ninth word
    // absorbs any carry out of 256 bits.
    uint32_t k[9];
    load_words(k, s);
    k[8] = 0;
    const int32_t window = (int32_t)1 << w;
    for (int i = 0; i < 256; i++) {
        int32_t d = 0;
        if (k[0] & 1) {
            // d = k mods 2^w; afterwards k - d is divisible by 2^w, which
            // makes the next w - 1 digits zero.
            d = (int32_t)(k[0] & (uint32_t)(window - 1));
            if (d >= window / 2) {
                d -= window;
                add_small(k, (uint32_t)-d);
            } else {
                k[0] -= (uint32_t)d;    // clears low bits only: no borrow
            }
        }
        naf[i] = (int8_t)d;
        for (int j = 0; j < 8; j++) {
            k[j] = (k[j] >> 1) | (k[j + 1] << 31);
        }
        k[8] >>= 1;
    }
}
