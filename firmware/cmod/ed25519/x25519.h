// SPDX-License-Identifier: MIT
// X25519, the Diffie-Hellman function of RFC 7748 (section 5), on the field
// arithmetic of field.c. Constant time in the scalar and in u.
#ifndef MPOTA_X25519_H
#define MPOTA_X25519_H

#include <stddef.h>
#include <stdint.h>

// out = X25519(scalar, u): the scalar is clamped and the top bit of u is
// ignored, as RFC 7748 says. A u of small order (on the curve or its twist)
// gives 32 zero bytes, where libsodium returns an error: a caller that needs
// contributory behaviour checks for them. out is written last, so it may
// be the storage of either input.
void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t u[32]);

// Zeroes `size` bytes in a way the compiler may not remove as a dead store.
void x25519_wipe(void *buf, size_t size);

#endif
