// SPDX-License-Identifier: MIT
// Ed25519 signature verification (RFC 8032, pure Ed25519: no context, no
// prehash) with libsodium's acceptance policy; see docs/ED25519.md.
#ifndef MPOTA_VERIFY_H
#define MPOTA_VERIFY_H

#include <stddef.h>
#include <stdint.h>

// 1 when `signature` is a valid signature of `message` by `public_key`,
// 0 for anything else. Never fails otherwise; uses under 3 KB of stack (docs/ED25519.md).
int ed25519_verify(const uint8_t signature[64], const uint8_t public_key[32],
    const uint8_t *message, size_t message_len);

#endif
