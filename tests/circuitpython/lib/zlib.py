# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `zlib` (shared-bindings/zlib,
shared-module/zlib), on the unix port's inflater (`_host_deflate`).

Only what CircuitPython has: `decompress(data, wbits=0, bufsize=0)`,
positional arguments only; wbits < 0 raw deflate, 0..15 a zlib header,
>= 16 gzip. The result is a new bytearray (the whole output at once);
corrupt or truncated data is a ValueError. No decompressobj, no compress.
"""

import io

import _host_deflate as _d


def decompress(*args):
    if not 1 <= len(args) <= 3:
        raise TypeError("function takes 1 to 3 positional arguments")
    data = args[0]
    wbits = args[1] if len(args) > 1 else 0
    if not isinstance(wbits, int):
        raise TypeError("wbits")
    memoryview(data)  # a buffer, or TypeError
    if wbits < 0:
        # uzlib keeps the whole output as its window: any raw window.
        d = _d.DeflateIO(io.BytesIO(bytes(data)), _d.RAW, 15)
    elif wbits >= 16:
        d = _d.DeflateIO(io.BytesIO(bytes(data)), _d.GZIP)
    else:
        d = _d.DeflateIO(io.BytesIO(bytes(data)), _d.ZLIB)
    try:
        out = d.read()
    except (OSError, EOFError):
        raise ValueError(-3)  # TINF_DATA_ERROR: corrupt, or cut short
    if out is None:
        raise ValueError(-3)
    return bytearray(out)
