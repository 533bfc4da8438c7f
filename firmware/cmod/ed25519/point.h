// SPDX-License-Identifier: MIT
// Points of the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032),
// in the coordinate systems of Hisil, Wong, Carter and Dawson, "Twisted
// Edwards curves revisited" (2008), with a = -1.
#ifndef MPOTA_POINT_H
#define MPOTA_POINT_H

#include "field.h"

// Projective: x = X/Z, y = Y/Z. Enough for doubling and encoding.
typedef struct {
    fe X, Y, Z;
} ge_p2;

// Extended: also T = XY/Z, which additions need.
typedef struct {
    fe X, Y, Z, T;
} ge_p3;

// Negates x: -(x, y) = (-x, y).
void ge_neg(ge_p3 *p);

// Decodes a 32-byte encoding (RFC 8032 section 5.1.3). Returns 0, or -1 when
// no point has that y. The caller checks first that y is canonical.
int ge_decode(ge_p3 *p, const uint8_t s[32]);
void ge_encode(uint8_t s[32], const ge_p2 *p);

// r = [a]A + [b]B with B the base point; a, b < 2^253. Variable time.
void ge_double_scalarmult_vartime(ge_p2 *r, const uint8_t a[32], const ge_p3 *A, const uint8_t b[32]);

#endif
