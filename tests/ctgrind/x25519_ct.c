// SPDX-License-Identifier: MIT
// X25519 under valgrind's memcheck with its inputs marked secret.
//
// Reads cases of 64 bytes (scalar, then u) on stdin. Before each call the
// 64 bytes are marked undefined (VALGRIND_MAKE_MEM_UNDEFINED): memcheck then
// reports every conditional branch and every memory address that depends on
// them, which is exactly what a timing attack reads. The output is marked
// defined again before it is written, so that writing it reports nothing.
// Run by tests/test_x25519_constant_time.py; outside valgrind the requests
// cost nothing and the program just computes.
#include <stdio.h>
#include <valgrind/memcheck.h>

#include "x25519.h"

int main(void) {
    uint8_t in[64], out[32];
    while (fread(in, 1, sizeof(in), stdin) == sizeof(in)) {
        VALGRIND_MAKE_MEM_UNDEFINED(in, sizeof(in));
        x25519(out, in, in + 32);
        VALGRIND_MAKE_MEM_DEFINED(out, sizeof(out));
        fwrite(out, 1, sizeof(out), stdout);
    }
    return 0;
}
