// SPDX-License-Identifier: MIT
// Arithmetic modulo p = 2^255 - 19, for verification and for X25519. No
// function branches on its operands' values or uses them as an index, because
// X25519's are secret (tests/test_x25519.py checks it under valgrind).
//
// Two limb layouts share this interface. Where the compiler has a 128-bit
// integer (64-bit hosts), five 51-bit limbs; elsewhere (Cortex-M, Xtensa, ...)
// ten limbs of 26 and 25 bits whose products fit 32x32->64 multiplies.
// Define ED25519_FIELD_32 to force the 32-bit layout (tests do, on 64-bit hosts).
//
// Invariant: every `fe` that leaves a function of this file is carried, so any
// of them may be passed to any other function without further reduction.
#ifndef MPOTA_FIELD_H
#define MPOTA_FIELD_H

#include <stdint.h>

#if !defined(ED25519_FIELD_32) && defined(__SIZEOF_INT128__)
#define ED25519_FIELD_64 1
typedef uint64_t fe[5];
#else
#define ED25519_FIELD_64 0
typedef int32_t fe[10];
#endif

// Reads 255 bits, little-endian; the top bit of s[31] is ignored. The value
// may be >= p: callers that need canonical input check that first.
void fe_frombytes(fe h, const uint8_t s[32]);
// Writes the unique representative in [0, p).
void fe_tobytes(uint8_t s[32], const fe f);

void fe_copy(fe h, const fe f);
void fe_one(fe h);
void fe_add(fe h, const fe f, const fe g);
void fe_sub(fe h, const fe f, const fe g);
void fe_neg(fe h, const fe f);
void fe_mul(fe h, const fe f, const fe g);
void fe_sq(fe h, const fe f);
void fe_mul_small(fe h, const fe f, uint32_t n);  // n < 2^20
void fe_invert(fe h, const fe z);       // z^(p-2)
void fe_pow22523(fe h, const fe z);     // z^((p-5)/8), for square roots
int fe_isnegative(const fe f);          // lowest bit of the canonical encoding
int fe_iszero(const fe f);

#endif
