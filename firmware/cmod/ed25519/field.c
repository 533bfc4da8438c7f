// SPDX-License-Identifier: MIT
// Field arithmetic modulo p = 2^255 - 19 (see field.h for the two layouts).
#include "field.h"

// Ports build with -Os. This file is where verification spends its time, and
// -O2 makes it about 1.7x faster for a few hundred bytes of code, so it asks
// for -O2 itself: one place that holds for every build system (make, cmake,
// native modules) instead of a flag in each.
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE_SIZE__)
#pragma GCC optimize("O2")
#endif

// Complete unrolling turns the index arithmetic of the multiply loops into
// constants; without it the loops cost several times more on a Cortex-M.
#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 10")
#else
#define UNROLL
#endif

// On 64-bit hosts the carries are inlined into their callers, so that the
// 128-bit columns stay in registers, and the limb loops are unrolled: X25519
// on x86-64 then takes about 0.6 of the time. The 32-bit build keeps its
// carries out of line, for code size.
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

#if ED25519_FIELD_64

// ---- Five limbs of 51 bits: h = h0 + h1 2^51 + h2 2^102 + h3 2^153 + h4 2^204.
// Carried limbs are below 2^51 + 2^15, so sums of two stay far from 2^64 and
// products of five terms (one side times 19) stay below 2^110.

typedef unsigned __int128 u128;
#define MASK51 ((((uint64_t)1) << 51) - 1)

static ALWAYS_INLINE void carry(fe h) {
    UNROLL
    for (int i = 0; i < 4; i++) {
        h[i + 1] += h[i] >> 51;
        h[i] &= MASK51;
    }
    uint64_t c = h[4] >> 51;
    h[4] &= MASK51;
    h[0] += 19 * c;             // 2^255 = 19 (mod p)
    h[1] += h[0] >> 51;
    h[0] &= MASK51;
}

static ALWAYS_INLINE void carry_wide(fe h, u128 t[5]) {
    UNROLL
    for (int i = 0; i < 4; i++) {
        t[i + 1] += t[i] >> 51;
        t[i] &= MASK51;
    }
    uint64_t c = (uint64_t)(t[4] >> 51);
    h[4] = (uint64_t)t[4] & MASK51;
    h[0] = (uint64_t)t[0] + 19 * c;
    h[1] = (uint64_t)t[1] + (h[0] >> 51);
    h[0] &= MASK51;
    h[2] = (uint64_t)t[2];
    h[3] = (uint64_t)t[3];
}

void fe_frombytes(fe h, const uint8_t s[32]) {
    uint64_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = 0;
        for (int b = 7; b >= 0; b--) {
            w[i] = (w[i] << 8) | s[8 * i + b];
        }
    }
    h[0] = w[0] & MASK51;
    h[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
    h[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
    h[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
    h[4] = (w[3] >> 12) & MASK51;
}

void fe_tobytes(uint8_t s[32], const fe f) {
    uint64_t h[5];
    fe_copy(h, f);
    // Carry until nothing leaves the top limb: then 0 <= h < 2^255. A
    // carried value needs at most three rounds; always three, so that the
    // time says nothing about the value (X25519's output is secret).
    uint64_t c;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++) {
            h[i + 1] += h[i] >> 51;
            h[i] &= MASK51;
        }
        c = h[4] >> 51;
        h[4] &= MASK51;
        h[0] += 19 * c;
    }
    // h >= p exactly when h + 19 reaches 2^255; then h - p = h + 19 - 2^255.
    c = (h[0] + 19) >> 51;
    for (int i = 1; i < 5; i++) {
        c = (h[i] + c) >> 51;
    }
    h[0] += 19 * c;
    for (int i = 0; i < 4; i++) {
        h[i + 1] += h[i] >> 51;
        h[i] &= MASK51;
    }
    h[4] &= MASK51;
    uint64_t acc = 0;
    int bits = 0, pos = 0;
    for (int i = 0; i < 5; i++) {
        // Up to 7 bits pending plus 51 new ones fit in 64.
        acc |= h[i] << bits;
        bits += 51;
        while (bits >= 8) {
            s[pos++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    s[pos] = (uint8_t)acc;
}

void fe_copy(fe h, const fe f) {
    for (int i = 0; i < 5; i++) {
        h[i] = f[i];
    }
}

void fe_one(fe h) {
    h[0] = 1;
    for (int i = 1; i < 5; i++) {
        h[i] = 0;
    }
}

void fe_add(fe h, const fe f, const fe g) {
    UNROLL
    for (int i = 0; i < 5; i++) {
        h[i] = f[i] + g[i];
    }
    carry(h);
}

void fe_sub(fe h, const fe f, const fe g) {
    // Add 2p first so that no limb goes below zero.
    h[0] = f[0] + ((MASK51 - 18) << 1) - g[0];
    UNROLL
    for (int i = 1; i < 5; i++) {
        h[i] = f[i] + (MASK51 << 1) - g[i];
    }
    carry(h);
}

void fe_mul(fe h, const fe f, const fe g) {
    uint64_t g19[5];
    u128 t[5];
    UNROLL
    for (int i = 0; i < 5; i++) {
        g19[i] = 19 * g[i];
    }
    UNROLL
    for (int k = 0; k < 5; k++) {
        u128 acc = 0;
        UNROLL
        for (int i = 0; i < 5; i++) {
            // Terms whose exponent reaches 2^255 wrap around times 19.
            int j = i <= k ? k - i : k - i + 5;
            acc += (u128)f[i] * (i > k ? g19[j] : g[j]);
        }
        t[k] = acc;
    }
    carry_wide(h, t);
}

// As fe_mul with g = f, each cross product taken once and doubled: 15
// multiplies instead of 25. Column k holds f_i f_j with i + j = k, and
// 19 times those with i + j = k + 5.
void fe_sq(fe h, const fe f) {
    uint64_t f2[5], f38[5];
    u128 t[5];
    for (int i = 0; i < 5; i++) {
        f2[i] = 2 * f[i];
        f38[i] = 38 * f[i];
    }
    t[0] = (u128)f[0] * f[0] + (u128)f38[1] * f[4] + (u128)f38[2] * f[3];
    t[1] = (u128)f2[0] * f[1] + (u128)f38[2] * f[4] + (u128)(19 * f[3]) * f[3];
    t[2] = (u128)f2[0] * f[2] + (u128)f[1] * f[1] + (u128)f38[3] * f[4];
    t[3] = (u128)f2[0] * f[3] + (u128)f2[1] * f[2] + (u128)(19 * f[4]) * f[4];
    t[4] = (u128)f2[0] * f[4] + (u128)f2[1] * f[3] + (u128)f[2] * f[2];
    carry_wide(h, t);
}

void fe_mul_small(fe h, const fe f, uint32_t n) {
    u128 t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = (u128)f[i] * n;
    }
    carry_wide(h, t);
}

#else

// ---- Ten limbs alternating 26 and 25 bits: limb i weighs 2^ceil(25.5 i).
// Limbs are signed. Carried limbs are within 2^25 + 2^17 (even) and
// 2^24 + 2^17 (odd) of zero, so the multiply below never leaves 63 bits:
// at worst ten terms of 2^27 * 38 * 2^25.
// Right shifts of negative values are arithmetic on every compiler mpota
// targets (GCC, Clang, for ARM, Xtensa, RISC-V, x86); C99 leaves it to them.

static int width(int i) {
    return 26 - (i & 1);
}

// The limb product. ARMv6-M (Cortex-M0, RP2040) has no 32x32->64 multiply,
// and libgcc's replacement branches on a carry, so its time would depend on
// X25519's secrets: there the product is built from 16-bit halves with four
// 32-bit multiplies and no branch. ED25519_MUL_HALVES selects this on any
// target, so that the host tests can check it too.
#if defined(__ARM_ARCH_6M__) && !defined(ED25519_MUL_HALVES)
#define ED25519_MUL_HALVES 1
#endif

#if defined(ED25519_MUL_HALVES)
// Out of line: 155 inlined copies would triple the code.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int64_t mul_wide(int32_t a, int32_t b) {
    int32_t a1 = a >> 16, b1 = b >> 16;
    uint32_t a0 = (uint32_t)a & 0xffff, b0 = (uint32_t)b & 0xffff;
    // a b = a1 b1 2^32 + (a1 b0 + a0 b1) 2^16 + a0 b0; each product fits 32 bits.
    int64_t mid = (int64_t)(a1 * (int32_t)b0) + (int32_t)a0 * b1;
    uint64_t r = ((uint64_t)(int64_t)(a1 * b1) << 32) + ((uint64_t)mid << 16) + a0 * b0;
    return (int64_t)r;
}
#else
static inline int64_t mul_wide(int32_t a, int32_t b) {
    return (int64_t)a * b;
}
#endif

// Rounding carries keep each limb within half its range, signed.
static void carry_wide(fe h, int64_t t[10]) {
    for (int i = 0; i < 10; i++) {
        int w = width(i);
        int64_t c = (t[i] + ((int64_t)1 << (w - 1))) >> w;
        t[i] -= c * ((int64_t)1 << w);
        if (i < 9) {
            t[i + 1] += c;
        } else {
            t[0] += 19 * c;     // 2^255 = 19 (mod p)
        }
    }
    int64_t c = (t[0] + ((int64_t)1 << 25)) >> 26;
    t[0] -= c * ((int64_t)1 << 26);
    t[1] += c;
    UNROLL
    for (int i = 0; i < 10; i++) {
        h[i] = (int32_t)t[i];
    }
}

static void carry(fe h) {
    UNROLL
    for (int i = 0; i < 10; i++) {
        int w = width(i);
        int32_t c = (h[i] + ((int32_t)1 << (w - 1))) >> w;
        h[i] -= c * ((int32_t)1 << w);
        if (i < 9) {
            h[i + 1] += c;
        } else {
            h[0] += 19 * c;
        }
    }
    int32_t c = (h[0] + ((int32_t)1 << 25)) >> 26;
    h[0] -= c * ((int32_t)1 << 26);
    h[1] += c;
}

void fe_frombytes(fe h, const uint8_t s[32]) {
    uint64_t acc = 0;
    int bits = 0, pos = 0;
    for (int i = 0; i < 10; i++) {
        int w = width(i);
        while (bits < w) {
            acc |= (uint64_t)s[pos++] << bits;
            bits += 8;
        }
        h[i] = (int32_t)(acc & ((1u << w) - 1));
        acc >>= w;
        bits -= w;
    }
    // Unsigned limbs may use their full width; carrying brings them into the
    // signed range that fe_mul relies on.
    carry(h);
}

void fe_tobytes(uint8_t s[32], const fe f) {
    int32_t h[10];
    fe_copy(h, f);
    // Floor carries until nothing leaves the top limb: then every limb is in
    // [0, 2^width) and 0 <= h < 2^255. At most three rounds; always three,
    // so that the time says nothing about the value (X25519's is secret).
    int32_t c;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 9; i++) {
            c = h[i] >> width(i);
            h[i] -= c * ((int32_t)1 << width(i));
            h[i + 1] += c;
        }
        c = h[9] >> 25;
        h[9] -= c * ((int32_t)1 << 25);
        h[0] += 19 * c;
    }
    // h >= p exactly when h + 19 reaches 2^255; then h - p = h + 19 - 2^255.
    c = (h[0] + 19) >> 26;
    for (int i = 1; i < 10; i++) {
        c = (h[i] + c) >> width(i);
    }
    h[0] += 19 * c;
    for (int i = 0; i < 9; i++) {
        int32_t k = h[i] >> width(i);
        h[i] -= k * ((int32_t)1 << width(i));
        h[i + 1] += k;
    }
    h[9] &= ((int32_t)1 << 25) - 1;
    uint64_t acc = 0;
    int bits = 0, pos = 0;
    for (int i = 0; i < 10; i++) {
        acc |= (uint64_t)(uint32_t)h[i] << bits;
        bits += width(i);
        while (bits >= 8) {
            s[pos++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    s[pos] = (uint8_t)acc;
}

void fe_copy(fe h, const fe f) {
    for (int i = 0; i < 10; i++) {
        h[i] = f[i];
    }
}

void fe_one(fe h) {
    h[0] = 1;
    for (int i = 1; i < 10; i++) {
        h[i] = 0;
    }
}

void fe_add(fe h, const fe f, const fe g) {
    UNROLL
    for (int i = 0; i < 10; i++) {
        h[i] = f[i] + g[i];
    }
    carry(h);
}

void fe_sub(fe h, const fe f, const fe g) {
    UNROLL
    for (int i = 0; i < 10; i++) {
        h[i] = f[i] - g[i];
    }
    carry(h);
}

// Limb products f_i g_j land on limb (i + j) mod 10. Their weight is twice
// that limb's when i and j are both odd (ceil(25.5 i) + ceil(25.5 j) =
// ceil(25.5 (i + j)) + 1), and 19 times when i + j >= 10 (2^255 = 19).
// Columns are summed one at a time so that one 64-bit accumulator suffices,
// which keeps a Cortex-M's few registers free for the operands.
void fe_mul(fe h, const fe f, const fe g) {
    int32_t f2[10], g19[10];
    int64_t t[10];
    UNROLL
    for (int i = 0; i < 10; i++) {
        f2[i] = 2 * f[i];
        g19[i] = 19 * g[i];
    }
    UNROLL
    for (int k = 0; k < 10; k++) {
        int64_t acc = 0;
        UNROLL
        for (int i = 0; i < 10; i++) {
            int j = i <= k ? k - i : k - i + 10;
            int32_t a = (i & j & 1) ? f2[i] : f[i];
            int32_t b = i > k ? g19[j] : g[j];
            acc += mul_wide(a, b);
        }
        t[k] = acc;
    }
    carry_wide(h, t);
}

// As fe_mul with g = f, but each cross product f_i f_j (i != j) is taken once
// and doubled: 55 multiplies instead of 100.
void fe_sq(fe h, const fe f) {
    int32_t f2[10], f19[10], f38[10];
    int64_t t[10];
    UNROLL
    for (int i = 0; i < 10; i++) {
        f2[i] = 2 * f[i];
        f19[i] = 19 * f[i];
        f38[i] = 38 * f[i];
    }
    UNROLL
    for (int k = 0; k < 10; k++) {
        int64_t acc = 0;
        UNROLL
        for (int i = 0; i < 10; i++) {
            int j = i <= k ? k - i : k - i + 10;
            if (i > j) {
                continue;
            }
            int odd_pair = i & j & 1;
            int32_t a = i != j ? f2[i] : f[i];
            int32_t b = i > k ? (odd_pair ? f38[j] : f19[j]) : (odd_pair ? f2[j] : f[j]);
            acc += mul_wide(a, b);
        }
        t[k] = acc;
    }
    carry_wide(h, t);
}

void fe_mul_small(fe h, const fe f, uint32_t n) {
    int64_t t[10];
    for (int i = 0; i < 10; i++) {
        t[i] = mul_wide(f[i], (int32_t)n);
    }
    carry_wide(h, t);
}

#endif

void fe_neg(fe h, const fe f) {
    fe zero = {0};
    fe_sub(h, zero, f);
}

int fe_isnegative(const fe f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

int fe_iszero(const fe f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    uint8_t any = 0;
    for (int i = 0; i < 32; i++) {
        any |= s[i];
    }
    return any == 0;
}

static void sq_times(fe h, const fe f, int n) {
    fe_sq(h, f);
    for (int i = 1; i < n; i++) {
        fe_sq(h, h);
    }
}

// z^(2^250 - 1) and z^11, the common start of both exponentiations.
static void pow_2_250_minus_1(fe z250, fe z11, const fe z) {
    fe z2, z9, a, b;
    fe_sq(z2, z);                       // z^2
    sq_times(a, z2, 2);                 // z^8
    fe_mul(z9, a, z);                   // z^9
    fe_mul(z11, z9, z2);                // z^11
    fe_sq(a, z11);                      // z^22
    fe_mul(a, a, z9);                   // z^(2^5 - 1)
    sq_times(b, a, 5);
    fe_mul(b, b, a);                    // z^(2^10 - 1)
    fe_copy(z2, b);                     // keep z^(2^10 - 1)
    sq_times(a, b, 10);
    fe_mul(a, a, b);                    // z^(2^20 - 1)
    sq_times(b, a, 20);
    fe_mul(b, b, a);                    // z^(2^40 - 1)
    sq_times(a, b, 10);
    fe_mul(a, a, z2);                   // z^(2^50 - 1)
    fe_copy(z2, a);                     // keep z^(2^50 - 1)
    sq_times(b, a, 50);
    fe_mul(b, b, a);                    // z^(2^100 - 1)
    sq_times(a, b, 100);
    fe_mul(a, a, b);                    // z^(2^200 - 1)
    sq_times(b, a, 50);
    fe_mul(z250, b, z2);                // z^(2^250 - 1)
}

void fe_invert(fe h, const fe z) {
    // p - 2 = (2^250 - 1) 2^5 + 11
    fe z250, z11;
    pow_2_250_minus_1(z250, z11, z);
    sq_times(z250, z250, 5);
    fe_mul(h, z250, z11);
}

void fe_pow22523(fe h, const fe z) {
    // (p - 5) / 8 = 2^252 - 3 = (2^250 - 1) 2^2 + 1
    fe z250, z11;
    pow_2_250_minus_1(z250, z11, z);
    sq_times(z250, z250, 2);
    fe_mul(h, z250, z);
}
