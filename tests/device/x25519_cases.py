# SPDX-License-Identifier: MIT
# Runs a stream of X25519 cases on a target and prints one line per case.
#
# The test prepends two names before this text:
#   MODULE: the module whose x25519() to call ('ed25519', or the name a
#           native module was copied under on a board)
#   SOURCE: path of a case file, or bytes holding the cases (boards
#           without a filesystem)
# A case is: scalar length (1 byte), u length (1 byte), the scalar, then u.
# Prints 'x <hex>' per case: the 64 hex digits of the output, or 'V' for a
# ValueError. Any other exception escapes, so the test sees it.

_x25519 = __import__(MODULE).x25519


def _run(stream):
    # Buffers allocated once; the cases only pass through memoryviews.
    head = bytearray(2)
    kbuf = memoryview(bytearray(255))
    ubuf = memoryview(bytearray(255))
    while stream.readinto(head) == 2:
        k = kbuf[:head[0]]
        u = ubuf[:head[1]]
        if stream.readinto(k) != head[0] or stream.readinto(u) != head[1]:
            raise OSError("short case")
        try:
            out = _x25519(k, u)
        except ValueError:
            print("x V")
            continue
        print("x", out.hex())


if isinstance(SOURCE, str):
    with open(SOURCE, "rb") as _f:
        _run(_f)
else:
    import io

    _run(io.BytesIO(SOURCE))
