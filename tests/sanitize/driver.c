// SPDX-License-Identifier: MIT
// The ed25519 module's C core (verify, point, scalar, field, sha512, tables)
// driven from stdin, for tests/sanitize/run.py, which builds it with
// AddressSanitizer and UBSan and compares every answer with libsodium
// (PyNaCl), hashlib and Python's integers.
//
//   driver verify   input: cases as crypto_cases.encode_cases writes them
//                   (key length, signature length: 1 byte each; message
//                   length: 2 bytes little-endian; then the three).
//                   output per case: one verdict byte ('1', '0', or 'V' for a
//                   key or signature of the wrong length, which the binding
//                   refuses before the core is called), then the SHA-512 of
//                   the message, hashed in pieces of (case number % 131) + 1
//                   bytes and finished twice (final leaves the context as
//                   it was).
//   driver field    input: pairs of 32-byte encodings a, b (the top bit is
//                   ignored, values up to 2^255 - 1).
//                   output per pair: a+b, a-b, a*b, a^2, 1/a, a^((p-5)/8), -a
//                   as 32-byte canonical encodings, then isnegative(a) and
//                   iszero(a), one byte each.
//
// Test code: it may allocate (the core does not).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "sha512.h"
#include "verify.h"

static unsigned char *read_all(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *more = realloc(buf, cap *= 2);
            if (!more) {
                free(buf);
            }
            buf = more;
        }
    }
    *len = n;
    return buf;
}

static int run_verify(const unsigned char *in, size_t len) {
    size_t pos = 0, index = 0;
    while (pos < len) {
        if (len - pos < 4) {
            return 2;
        }
        size_t pk_len = in[pos], sig_len = in[pos + 1];
        size_t msg_len = in[pos + 2] | (size_t)in[pos + 3] << 8;
        pos += 4;
        if (len - pos < pk_len + sig_len + msg_len) {
            return 2;
        }
        const unsigned char *pk = in + pos, *sig = pk + pk_len, *msg = sig + sig_len;
        pos += pk_len + sig_len + msg_len;

        // Copies of exactly the sizes the prototypes name, so that ASan sees
        // any read past them.
        unsigned char *m = malloc(msg_len ? msg_len : 1);
        memcpy(m, msg, msg_len);
        char verdict = 'V';
        if (pk_len == 32 && sig_len == 64) {
            unsigned char *k = malloc(32), *s = malloc(64);
            memcpy(k, pk, 32);
            memcpy(s, sig, 64);
            verdict = ed25519_verify(s, k, m, msg_len) ? '1' : '0';
            free(k);
            free(s);
        }
        sha512_ctx ctx;
        unsigned char digest[SHA512_DIGEST_SIZE], again[SHA512_DIGEST_SIZE];
        size_t piece = index % 131 + 1;
        sha512_init(&ctx);
        for (size_t at = 0; at < msg_len; at += piece) {
            sha512_update(&ctx, m + at, msg_len - at < piece ? msg_len - at : piece);
        }
        sha512_final(&ctx, digest);
        sha512_final(&ctx, again);
        free(m);
        if (memcmp(digest, again, sizeof digest) != 0) {
            return 3;
        }
        fputc(verdict, stdout);
        fwrite(digest, 1, sizeof digest, stdout);
        index++;
    }
    return 0;
}

static void put(const fe f) {
    unsigned char s[32];
    fe_tobytes(s, f);
    fwrite(s, 1, 32, stdout);
}

static int run_field(const unsigned char *in, size_t len) {
    if (len % 64) {
        return 2;
    }
    for (size_t pos = 0; pos < len; pos += 64) {
        fe a, b, r;
        fe_frombytes(a, in + pos);
        fe_frombytes(b, in + pos + 32);
        fe_add(r, a, b);
        put(r);
        fe_sub(r, a, b);
        put(r);
        fe_mul(r, a, b);
        put(r);
        fe_sq(r, a);
        put(r);
        fe_invert(r, a);
        put(r);
        fe_pow22523(r, a);
        put(r);
        fe_neg(r, a);
        put(r);
        fputc(fe_isnegative(a), stdout);
        fputc(fe_iszero(a), stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "verify") && strcmp(argv[1], "field"))) {
        fprintf(stderr, "usage: driver verify|field < input > output\n");
        return 2;
    }
    size_t len;
    unsigned char *in = read_all(&len);
    if (!in) {
        fprintf(stderr, "driver: out of memory\n");
        return 2;
    }
    int rc = strcmp(argv[1], "verify") == 0 ? run_verify(in, len) : run_field(in, len);
    free(in);
    if (rc) {
        fprintf(stderr, "driver: %s\n", rc == 2 ? "malformed input" : "sha512_final changed its context");
    }
    return rc;
}
