# SPDX-License-Identifier: MIT
# Judges a stream of manifest documents with the firmware's trust module
# and prints one verdict per document, for comparison with CPython.
#
# The test prepends ROOT (path of a root document) and DOCS (path of a
# file of documents, each preceded by its length as 2 bytes big-endian).
# Prints "verdicts" and one word per document: "ok" or the reason code.
# Anything but a BundleError escapes, so the test sees a crash.

from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.error import BundleError

_buf = bytearray(F.MAX_DOC + 8)
_root = trust.load_root(directory.read_doc(ROOT, _buf, "missing-root"))
_head = bytearray(2)
_out = []
with open(DOCS, "rb") as _f:
    while _f.readinto(_head) == 2:
        _n = (_head[0] << 8) | _head[1]
        _doc = memoryview(_buf)[:_n]
        if _f.readinto(_doc) != _n:
            raise OSError("short document")
        try:
            trust.verify_manifest(_root, _doc)
            _out.append("ok")
        except BundleError as _e:
            _out.append(_e.reason)
print("verdicts", " ".join(_out))
