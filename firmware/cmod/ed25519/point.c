// SPDX-License-Identifier: MIT
// Point arithmetic for verification: variable time (every input is public).
#include "point.h"
#include "scalar.h"
#include "tables.h"

// Window widths of the non-adjacent forms. A's odd multiples are computed per
// signature on the stack (4 points); B's come from a constant table (8 points).
#define A_WIDTH 4
#define A_POINTS (1 << (A_WIDTH - 2))
#define B_WIDTH 5
#define B_POINTS (1 << (B_WIDTH - 2))

// The sum or double before its last four multiplies: the point is
// (E F : G H : F G : E H) in extended coordinates.
typedef struct {
    fe E, F, G, H;
} ge_completed;

// A summand prepared for additions: (Y + X, Y - X, Z, 2d T).
typedef struct {
    fe YplusX, YminusX, Z, T2d;
} ge_cached;

// An affine summand (Z = 1): (y + x, y - x, 2d x y).
typedef struct {
    fe yplusx, yminusx, xy2d;
} ge_niels;

static void completed_to_p2(ge_p2 *r, const ge_completed *c) {
    fe_mul(r->X, c->E, c->F);
    fe_mul(r->Y, c->G, c->H);
    fe_mul(r->Z, c->F, c->G);
}

static void completed_to_p3(ge_p3 *r, const ge_completed *c) {
    fe_mul(r->X, c->E, c->F);
    fe_mul(r->Y, c->G, c->H);
    fe_mul(r->Z, c->F, c->G);
    fe_mul(r->T, c->E, c->H);
}

static void p3_to_cached(ge_cached *r, const ge_p3 *p) {
    fe d2;
    fe_frombytes(d2, ED25519_D2[0]);
    fe_add(r->YplusX, p->Y, p->X);
    fe_sub(r->YminusX, p->Y, p->X);
    fe_copy(r->Z, p->Z);
    fe_mul(r->T2d, p->T, d2);
}

// dbl-2008-hwcd with a = -1, with all four outputs negated (which leaves the
// point unchanged, as each coordinate is a product of two of them):
// E = A + B - (X + Y)^2, F = 2 Z^2 + A - B, G = A - B, H = A + B.
static void p2_dbl(ge_completed *r, const ge_p2 *p) {
    fe a, b, c, xy;
    fe_sq(a, p->X);
    fe_sq(b, p->Y);
    fe_sq(c, p->Z);
    fe_add(c, c, c);
    fe_add(xy, p->X, p->Y);
    fe_sq(xy, xy);
    fe_add(r->H, a, b);
    fe_sub(r->G, a, b);
    fe_sub(r->E, r->H, xy);
    fe_add(r->F, c, r->G);
}

// The end of add-2008-hwcd-3 (a = -1, k = 2d), shared by both summand forms:
// from A = (Y1 - X1)(Y2 - X2), B = (Y1 + X1)(Y2 + X2), C = T1 2d T2 and
// D = 2 Z1 Z2, the sum is E = B - A, F = D - C, G = D + C, H = B + A.
// Subtracting Q is adding -Q = (-x, y): Y + X and Y - X trade places (the
// callers pick them) and C changes sign, which swaps F and G.
static void add_finish(ge_completed *r, const fe a, const fe b, const fe c, const fe d, int subtract) {
    fe_sub(r->E, b, a);
    fe_add(r->H, b, a);
    fe_sub(subtract ? r->G : r->F, d, c);
    fe_add(subtract ? r->F : r->G, d, c);
}

// p + q, or p - q when `subtract`.
static void add_cached(ge_completed *r, const ge_p3 *p, const ge_cached *q, int subtract) {
    fe a, b, c, d;
    fe_sub(a, p->Y, p->X);
    fe_mul(a, a, subtract ? q->YplusX : q->YminusX);
    fe_add(b, p->Y, p->X);
    fe_mul(b, b, subtract ? q->YminusX : q->YplusX);
    fe_mul(c, p->T, q->T2d);
    fe_mul(d, p->Z, q->Z);
    fe_add(d, d, d);
    add_finish(r, a, b, c, d, subtract);
}

// The same with an affine summand: Z2 = 1 saves a multiply.
static void add_niels(ge_completed *r, const ge_p3 *p, const ge_niels *q, int subtract) {
    fe a, b, c, d;
    fe_sub(a, p->Y, p->X);
    fe_mul(a, a, subtract ? q->yplusx : q->yminusx);
    fe_add(b, p->Y, p->X);
    fe_mul(b, b, subtract ? q->yminusx : q->yplusx);
    fe_mul(c, p->T, q->xy2d);
    fe_add(d, p->Z, p->Z);
    add_finish(r, a, b, c, d, subtract);
}

static void load_b_multiple(ge_niels *q, int index) {
    fe_frombytes(q->yplusx, ED25519_B_ODD_MULTIPLES[index][0]);
    fe_frombytes(q->yminusx, ED25519_B_ODD_MULTIPLES[index][1]);
    fe_frombytes(q->xy2d, ED25519_B_ODD_MULTIPLES[index][2]);
}

void ge_neg(ge_p3 *p) {
    fe_neg(p->X, p->X);
    fe_neg(p->T, p->T);
}

int ge_decode(ge_p3 *p, const uint8_t s[32]) {
    // x^2 = u / v with u = y^2 - 1, v = d y^2 + 1. The candidate root is
    // x = u v^3 (u v^7)^((p-5)/8); if v x^2 = -u instead of u, then x sqrt(-1)
    // is the root; if neither, y is not on the curve.
    fe u, v, v3, t, vxx;
    fe_frombytes(p->Y, s);
    fe_one(p->Z);
    fe_sq(u, p->Y);
    fe_frombytes(t, ED25519_D[0]);
    fe_mul(v, u, t);
    fe_sub(u, u, p->Z);
    fe_add(v, v, p->Z);

    fe_sq(v3, v);
    fe_mul(v3, v3, v);                  // v^3
    fe_sq(t, v3);
    fe_mul(t, t, v);
    fe_mul(t, t, u);                    // u v^7
    fe_pow22523(t, t);
    fe_mul(t, t, v3);
    fe_mul(p->X, t, u);                 // u v^3 (u v^7)^((p-5)/8)

    fe_sq(vxx, p->X);
    fe_mul(vxx, vxx, v);
    fe_sub(t, vxx, u);
    if (!fe_iszero(t)) {
        fe_add(t, vxx, u);
        if (!fe_iszero(t)) {
            return -1;
        }
        fe_frombytes(t, ED25519_SQRT_M1[0]);
        fe_mul(p->X, p->X, t);
    }
    // The top bit of the encoding chooses between x and -x.
    if (fe_isnegative(p->X) != (s[31] >> 7)) {
        fe_neg(p->X, p->X);
    }
    fe_mul(p->T, p->X, p->Y);
    return 0;
}

void ge_encode(uint8_t s[32], const ge_p2 *p) {
    fe zinv, x, y;
    fe_invert(zinv, p->Z);
    fe_mul(x, p->X, zinv);
    fe_mul(y, p->Y, zinv);
    fe_tobytes(s, y);
    s[31] ^= (uint8_t)(fe_isnegative(x) << 7);
}

// a_odd[i] = (2i + 1) A. In a frame of its own, so its temporaries are gone
// before the main loop's stack is needed.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void odd_multiples(ge_cached a_odd[A_POINTS], const ge_p3 *A) {
    ge_completed t;
    ge_p3 a2, u;
    ge_p2 a_p2;
    p3_to_cached(&a_odd[0], A);
    fe_copy(a_p2.X, A->X);
    fe_copy(a_p2.Y, A->Y);
    fe_copy(a_p2.Z, A->Z);
    p2_dbl(&t, &a_p2);
    completed_to_p3(&a2, &t);
    for (int i = 1; i < A_POINTS; i++) {
        add_cached(&t, &a2, &a_odd[i - 1], 0);
        completed_to_p3(&u, &t);
        p3_to_cached(&a_odd[i], &u);
    }
}

// The shared chain of doublings, adding the odd multiples each NAF digit
// names. Its frame (the two NAFs, about 1 KB in all) is only made once
// odd_multiples() has returned, so the two never sit on the stack together.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void naf_chain(ge_p2 *r, const uint8_t a[32], const ge_cached a_odd[A_POINTS], const uint8_t b[32]) {
    int8_t a_naf[256], b_naf[256];
    ge_completed t;
    ge_p3 u;
    ge_niels q;

    sc_wnaf(a_naf, a, A_WIDTH);
    sc_wnaf(b_naf, b, B_WIDTH);

    // The identity (0 : 1 : 1).
    fe_one(r->Y);
    fe_one(r->Z);
    fe_sub(r->X, r->Y, r->Z);

    int i = 255;
    while (i >= 0 && a_naf[i] == 0 && b_naf[i] == 0) {
        i--;
    }
    for (; i >= 0; i--) {
        p2_dbl(&t, r);
        int da = a_naf[i], db = b_naf[i];
        if (da != 0) {
            completed_to_p3(&u, &t);
            add_cached(&t, &u, &a_odd[(da < 0 ? -da : da) / 2], da < 0);
        }
        if (db != 0) {
            completed_to_p3(&u, &t);
            load_b_multiple(&q, (db < 0 ? -db : db) / 2);
            add_niels(&t, &u, &q, db < 0);
        }
        completed_to_p2(r, &t);
    }
}

// Straus' method with both scalars in non-adjacent form: one shared chain of
// about 253 doublings, plus an addition for each nonzero digit (about 1 in
// A_WIDTH + 1 digits of a, 1 in B_WIDTH + 1 of b).
void ge_double_scalarmult_vartime(ge_p2 *r, const uint8_t a[32], const ge_p3 *A, const uint8_t b[32]) {
    ge_cached a_odd[A_POINTS];          // A, 3A, 5A, 7A
    odd_multiples(a_odd, A);
    naf_chain(r, a, a_odd, b);
}
