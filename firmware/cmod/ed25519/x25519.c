// SPDX-License-Identifier: MIT
// X25519 (RFC 7748, section 5): the Montgomery ladder on u-coordinates.
//
// Both inputs may be secret (the scalar always is), so nothing here
// branches on them or uses them as an index: the ladder runs all 255 steps,
// swaps with a mask, and inverts once with a fixed exponent.
// tests/test_x25519_constant_time.py checks this under valgrind, with the
// scalar and u marked undefined (tests/ctgrind/x25519_ct.c).
#include "x25519.h"
#include "field.h"

// (A - 2) / 4 for A = 486662, the curve's Montgomery coefficient.
#define A24 121665

// The ladder's state: a named struct so that it can be wiped in one go.
typedef struct {
    fe x1, x2, z2, x3, z3;
    fe a, aa, b, bb, e, c, d, da, cb;
    uint8_t k[32];
} ladder_t;

void x25519_wipe(void *buf, size_t size) {
    volatile uint8_t *p = (volatile uint8_t *)buf;
    while (size--) {
        *p++ = 0;
    }
}

// Swaps f and g when swap is 1, leaves them when it is 0, with the same
// instructions and memory accesses in both cases.
static void fe_cswap(fe f, fe g, uint32_t swap) {
#if ED25519_FIELD_64
    uint64_t mask = 0 - (uint64_t)swap;
    uint64_t x;
#else
    int32_t mask = (int32_t)(0 - swap);
    int32_t x;
#endif
    for (unsigned i = 0; i < sizeof(fe) / sizeof(f[0]); i++) {
        x = mask & (f[i] ^ g[i]);
        f[i] ^= x;
        g[i] ^= x;
    }
}

static void fe_zero(fe h) {
    for (unsigned i = 0; i < sizeof(fe) / sizeof(h[0]); i++) {
        h[i] = 0;
    }
}

static void ladder_step(ladder_t *s) {
    // One differential addition and one doubling, sharing A and B.
    fe_add(s->a, s->x2, s->z2);
    fe_sq(s->aa, s->a);
    fe_sub(s->b, s->x2, s->z2);
    fe_sq(s->bb, s->b);
    fe_sub(s->e, s->aa, s->bb);
    fe_add(s->c, s->x3, s->z3);
    fe_sub(s->d, s->x3, s->z3);
    fe_mul(s->da, s->d, s->a);
    fe_mul(s->cb, s->c, s->b);
    fe_add(s->x3, s->da, s->cb);
    fe_sq(s->x3, s->x3);
    fe_sub(s->z3, s->da, s->cb);
    fe_sq(s->z3, s->z3);
    fe_mul(s->z3, s->z3, s->x1);
    fe_mul(s->x2, s->aa, s->bb);
    fe_mul_small(s->z2, s->e, A24);
    fe_add(s->z2, s->z2, s->aa);
    fe_mul(s->z2, s->z2, s->e);
}

void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t u[32]) {
    ladder_t s;
    for (int i = 0; i < 32; i++) {
        s.k[i] = scalar[i];
    }
    // Clamp: a multiple of the cofactor 8 (so small-order components vanish)
    // with bit 254 set (so the ladder's length says nothing about the scalar).
    s.k[0] &= 248;
    s.k[31] &= 127;
    s.k[31] |= 64;
    // fe_frombytes ignores the top bit of u, as section 5 asks; values from p
    // to 2^255 - 1 are taken mod p by the arithmetic.
    fe_frombytes(s.x1, u);
    fe_one(s.x2);
    fe_zero(s.z2);
    fe_copy(s.x3, s.x1);
    fe_one(s.z3);
    uint32_t swap = 0;
    for (int t = 254; t >= 0; t--) {
        uint32_t bit = (s.k[t >> 3] >> (t & 7)) & 1;
        // Swap only when this bit differs from the last: one swap per step.
        swap ^= bit;
        fe_cswap(s.x2, s.x3, swap);
        fe_cswap(s.z2, s.z3, swap);
        swap = bit;
        ladder_step(&s);
    }
    fe_cswap(s.x2, s.x3, swap);
    fe_cswap(s.z2, s.z3, swap);
    // x2 / z2 with z2^(p-2): a fixed chain, and 0 for z2 = 0 (small-order u),
    // which makes the output all zero.
    fe_invert(s.z2, s.z2);
    fe_mul(s.x2, s.x2, s.z2);
    fe_tobytes(out, s.x2);
    x25519_wipe(&s, sizeof(s));
}
