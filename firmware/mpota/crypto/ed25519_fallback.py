# SPDX-License-Identifier: MIT
"""Pure-Python Ed25519 verification (RFC 8032, pure Ed25519), libsodium policy.

Used where the `ed25519` C module is absent (CircuitPython, stock firmware).
Runs on MicroPython (big integers) and CPython. Verification handles public
data only, so it need not run in constant time.

Policy, checked in this order (the verdicts of libsodium's
crypto_sign_verify_detached, on every input):
  1. S >= L is rejected (signature malleability).
  2. R whose encoding is small order is rejected.
  3. A that is non-canonical (y >= p) or whose encoding is small order is
     rejected.
  4. A must decompress to a curve point.
  5. k = SHA-512(R || A || M) mod L; accept iff encode([S]B - [k]A) equals
     the 32 bytes of R (cofactorless, so a non-canonical R never matches).
"""

from .sha512_source import sha512

from micropython import const


_P = const((1 << 255) - 19)
_L = const((1 << 252) + 27742317777372353535851937790883648493)
_D = const(0x52036CEE2B6FFE738CC740797779E89800700A4D4141D8AB75EB4DCA135978A3)
_D2 = const((2 * _D) % _P)
_SQRT_M1 = const(0x2B8324804FC1DF0B2B4D00993DFBD7A72F431806AD2FE478C4EE1B274A0EA0B0)
_BX = const(0x216936D3CD6E53FEC0A4E231FDD6DC5C692CC7609525A7B2C9562D608F25D51A)
_BY = const(0x6666666666666666666666666666666666666666666666666666666666666658)
_Y_MASK = const((1 << 255) - 1)

# y values (sign bit ignored) of the encodings libsodium treats as small
# order: 0, 1, the two order-8 points, p-1, and the non-canonical p and p+1.
_Y8 = const(0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826)
_SMALL_ORDER_Y = (0, 1, _Y8, _P - _Y8, _P - 1, _P, _P + 1)

# wNAF widths: -A gets 2^(5-2) = 8 odd multiples per verify; B's 2^(6-2) = 16
# odd multiples are computed once and kept.
_W_A = const(5)
_W_B = const(6)


def _sqn(x, n):
    # x^(2^n) mod p
    p = _P
    for _ in range(n):
        x = x * x % p
    return x


def _pow_2_250_m1(x):
    # x^(2^250 - 1) by an addition chain: e(k) = x^(2^k - 1),
    # e(a + b) = e(a)^(2^b) * e(b).
    p = _P
    e2 = x * x % p * x % p
    e4 = _sqn(e2, 2) * e2 % p
    e5 = e4 * e4 % p * x % p
    e10 = _sqn(e5, 5) * e5 % p
    e20 = _sqn(e10, 10) * e10 % p
    e40 = _sqn(e20, 20) * e20 % p
    e50 = _sqn(e40, 10) * e10 % p
    e100 = _sqn(e50, 50) * e50 % p
    e200 = _sqn(e100, 100) * e100 % p
    return _sqn(e200, 50) * e50 % p


# Exponentiations use addition chains rather than pow(x, e, p): some ports
# lack 3-argument pow, and where it exists (MicroPython's square-and-multiply,
# CPython's) it measured slower than these chains.


def _pow_p58(x):
    # x^((p - 5) / 8) = x^(2^252 - 3) = (x^(2^250 - 1))^4 * x
    return _sqn(_pow_2_250_m1(x), 2) * x % _P


def _inv(x):
    # x^(p - 2) = (x^(2^250 - 1))^(2^5) * x^11
    p = _P
    x2 = x * x % p
    x11 = _sqn(x2, 2) * x2 % p * x % p
    return _sqn(_pow_2_250_m1(x), 5) * x11 % p


def _decompress_x(y, sign):
    """x of the curve point with this y and sign bit (RFC 8032 5.1.3), or None."""
    p = _P
    yy = y * y % p
    u = (yy - 1) % p
    v = (_D * yy + 1) % p
    v3 = v * v % p * v % p
    x = u * v3 % p * _pow_p58(u * v3 % p * v3 % p * v % p) % p
    vxx = v * x % p * x % p
    if vxx != u:
        if vxx != p - u:
            return None
        x = x * _SQRT_M1 % p
    # x = 0 with the sign bit set only occurs for y = 1 or y = p-1, both
    # rejected as small order before this point.
    if (x & 1) != sign:
        x = p - x
    return x


def _cached(x, y, z, t):
    # (Y-X, Y+X, 2dT, 2Z): the form the addition formula reads.
    p = _P
    return ((y - x) % p, (y + x) % p, t * _D2 % p, 2 * z % p)


def _odd_multiples(x, y, w):
    """[P, 3P, 5P, ...] in cached form, 2^(w-2) entries, for affine P."""
    p = _P
    # 2P by the doubling formula, with Z = 1.
    a = x * x % p
    b = y * y % p
    h = a + b
    e = h - (x + y) * (x + y)
    g = a - b
    f = 2 + g
    x2 = e * f % p
    y2 = g * h % p
    z2 = f * g % p
    t2 = e * h % p
    c0, c1, c2, c3 = _cached(x2, y2, z2, t2)
    out = [_cached(x, y, 1, x * y % p)]
    X, Y, Z, T = x, y, 1, x * y % p
    for _ in range((1 << (w - 2)) - 1):
        A = (Y - X) * c0 % p
        B = (Y + X) * c1 % p
        C = T * c2 % p
        D = Z * c3 % p
        E = B - A
        F = D - C
        G = D + C
        H = B + A
        X = E * F % p
        Y = G * H % p
        Z = F * G % p
        T = E * H % p
        out.append(_cached(X, Y, Z, T))
    return out


_b_table = None


def _base_table():
    global _b_table
    if _b_table is None:
        _b_table = _odd_multiples(_BX, _BY, _W_B)
    return _b_table


def _wnaf(n, w):
    """Width-w NAF digits of n >= 0, least significant first, 256 entries."""
    out = [0] * 256
    full = 1 << w
    half = full >> 1
    mask = full - 1
    i = 0
    while n:
        if n & 1:
            d = n & mask
            if d >= half:
                d -= full
            n -= d
            out[i] = d
        n >>= 1
        i += 1
    return out


def _double_scalarmult(s, k, a_tbl):
    """[s]B + [k]P with a_tbl the odd multiples of P; returns (X, Y, Z)."""
    p = _P
    b_tbl = _base_table()
    ns = _wnaf(s, _W_B)
    nk = _wnaf(k, _W_A)
    i = 255
    while i >= 0 and not ns[i] and not nk[i]:
        i -= 1
    # Identity; T = E*H is kept as its two factors until an addition needs it.
    X, Y, Z, E, H = 0, 1, 1, 0, 1
    while i >= 0:
        # Doubling (RFC 8032 5.1.4).
        A = X * X % p
        B = Y * Y % p
        C = 2 * Z * Z % p
        H = A + B
        E = H - (X + Y) * (X + Y)
        G = A - B
        F = C + G
        X = E * F % p
        Y = G * H % p
        Z = F * G % p
        for d, tbl in ((ns[i], b_tbl), (nk[i], a_tbl)):
            if not d:
                continue
            if d > 0:
                c0, c1, c2, c3 = tbl[d >> 1]
            else:
                # -Q in cached form swaps Y-X and Y+X and negates 2dT.
                c1, c0, c2, c3 = tbl[(-d) >> 1]
                c2 = -c2
            T = E * H % p
            A = (Y - X) * c0 % p
            B = (Y + X) * c1 % p
            C = T * c2 % p
            D = Z * c3 % p
            E = B - A
            F = D - C
            G = D + C
            H = B + A
            X = E * F % p
            Y = G * H % p
            Z = F * G % p
        i -= 1
    return X, Y, Z


def verify(public_key, signature, message):
    """True iff signature is a valid Ed25519 signature of message by public_key.

    False for every bad signature, key or encoding; ValueError only for a key
    or signature of the wrong length.
    """
    if len(public_key) != 32:
        raise ValueError("public key length")
    if len(signature) != 64:
        raise ValueError("signature length")
    r_bytes = bytes(signature[:32])
    r_enc = int.from_bytes(r_bytes, "little")
    s = int.from_bytes(bytes(signature[32:]), "little")
    # Check that 0 <= S < L (prevents malleability).
    if s >= _L:
        return False
    if (r_enc & _Y_MASK) in _SMALL_ORDER_Y:
        return False
    a_enc = int.from_bytes(bytes(public_key), "little")
    a_y = a_enc & _Y_MASK
    if a_y >= _P or a_y in _SMALL_ORDER_Y:
        return False
    a_x = _decompress_x(a_y, a_enc >> 255)
    if a_x is None:
        return False
    h = sha512()
    h.update(r_bytes)
    h.update(public_key)
    h.update(message)
    k = int.from_bytes(h.digest(), "little") % _L
    # [S]B - [k]A = [S]B + [k](-A)
    X, Y, Z = _double_scalarmult(s, k, _odd_multiples(_P - a_x, a_y, _W_A))
    zi = _inv(Z)
    x = X * zi % _P
    y = Y * zi % _P
    return (y | ((x & 1) << 255)) == r_enc
