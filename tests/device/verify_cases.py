# SPDX-License-Identifier: MIT
# Verifies a stream of Ed25519 cases on a target and prints the verdicts.
#
# The test prepends two names before this text:
#   MODULE: the module whose verify() to call: 'ed25519' (the C module,
#           built in or a native .mpy), 'mpota.crypto' (picks the C module
#           or the fallback) or 'mpota.crypto.ed25519_fallback'.
#   SOURCE: path of a case file, or bytes holding the cases (boards
#           without a filesystem)
#   MAX_MESSAGE: length of the longest message, to size the buffer
# A case is: key length (1 byte), signature length (1 byte), message
# length (2 bytes, little-endian), then the key, signature and message.
# Prints 'impl <IMPLEMENTATION> <SHA512_SOURCE>' for mpota.crypto, then one
# line with a character per case: '1' accepted, '0' rejected, 'V' ValueError.
# Any other exception escapes, so the test sees it.

_mod = __import__(MODULE)
for _part in MODULE.split(".")[1:]:
    _mod = getattr(_mod, _part)
if hasattr(_mod, "IMPLEMENTATION"):
    print("impl", _mod.IMPLEMENTATION, _mod.SHA512_SOURCE)


def _run(stream, verify):
    # Buffers allocated once; the cases only pass through memoryviews.
    head = bytearray(4)
    keybuf = memoryview(bytearray(255))
    sigbuf = memoryview(bytearray(255))
    msgbuf = memoryview(bytearray(MAX_MESSAGE))
    out = []
    while stream.readinto(head) == 4:
        klen = head[0]
        slen = head[1]
        mlen = head[2] | (head[3] << 8)
        key = keybuf[:klen]
        sig = sigbuf[:slen]
        msg = msgbuf[:mlen]
        if stream.readinto(key) != klen or stream.readinto(sig) != slen:
            raise OSError("short case")
        if mlen and stream.readinto(msg) != mlen:
            raise OSError("short case")
        try:
            ok = verify(key, sig, msg)
        except ValueError:
            out.append("V")
            continue
        if ok is True:
            out.append("1")
        elif ok is False:
            out.append("0")
        else:
            raise TypeError("verify returned {!r}".format(ok))
    return "".join(out)


if isinstance(SOURCE, str):
    with open(SOURCE, "rb") as _f:
        _verdicts = _run(_f, _mod.verify)
else:
    import io

    _verdicts = _run(io.BytesIO(SOURCE), _mod.verify)
print("verdicts", _verdicts)
