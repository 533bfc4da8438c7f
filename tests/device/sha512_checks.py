# SPDX-License-Identifier: MIT
# SHA-512 checks run on a target; the host compares the digests with
# CPython's hashlib.
#
# The test prepends:
#   MODULE: 'ed25519' (the C module) or 'mpota.crypto'
#   KATS: list of bytes to hash at once
#   LENGTHS: message lengths to hash split at every point
#   A_COUNT: how many 'a' to hash in 1000-byte pieces (FIPS: one million)
# Prints lines:
#   kat <hex digest>
#   split <length> <hex digest at once> <split points whose digest differed>
#   million <A_COUNT> <hex digest>
#   misuse <repr of a non-buffer that update() or the constructor accepted>

if MODULE == "mpota.crypto":
    import mpota.crypto as _mod
else:
    import ed25519 as _mod
sha512 = _mod.sha512


def hx(data):
    return "".join("{:02x}".format(b) for b in data)


def message(n):
    # The same bytes the host builds.
    return bytes([(i * 7 + 3) & 255 for i in range(n)])


for text in KATS:
    print("kat", hx(sha512(text).digest()))

for n in LENGTHS:
    m = message(n)
    whole = sha512(m).digest()
    bad = []
    for i in range(n + 1):
        # Both ways in: data given to the constructor, and update() only.
        if i & 1:
            h = sha512()
            h.update(m[:i])
        else:
            h = sha512(m[:i])
        h.update(m[i:])
        if h.digest() != whole:
            bad.append(str(i))
    print("split", n, hx(whole), ",".join(bad))

h = sha512()
chunk = b"a" * 1000
for _ in range(A_COUNT // 1000):
    h.update(chunk)
print("million", A_COUNT, hx(h.digest()))

for thing in (123, None, 1.5, [1, 2]):
    try:
        sha512().update(thing)
    except TypeError:
        pass
    else:
        print("misuse", repr(thing))
    try:
        sha512(thing)
    except TypeError:
        pass
    else:
        print("misuse", repr(thing))
