// SPDX-License-Identifier: MIT
// Scalars modulo L = 2^252 + 27742317777372353535851937790883648493, stored as
// 32 bytes little-endian.
#ifndef MPOTA_SCALAR_H
#define MPOTA_SCALAR_H

#include <stdint.h>

// 1 if s < L, the only encoding of S that RFC 8032 accepts.
int sc_is_canonical(const uint8_t s[32]);
// out = in mod L, for a 64-byte little-endian number (a SHA-512 digest).
void sc_reduce64(uint8_t out[32], const uint8_t in[64]);
// Width-w non-adjacent form of s < 2^253, least significant digit first:
// every nonzero digit is odd with |d| < 2^(w-1), and of any w consecutive
// digits at most one is nonzero. 2 <= w <= 7.
void sc_wnaf(int8_t naf[256], const uint8_t s[32], int w);

#endif
