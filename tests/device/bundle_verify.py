# SPDX-License-Identifier: MIT
# Verifies bundle directories with the firmware's own verifier
# (mpota.bundle) and prints one verdict per case, so a test can compare
# them with `mpota verify` on CPython.
#
# The test prepends one name before this text:
#   CASES: list of (name, bundle_dir, trust, policy)
#     trust:  path of a root document, or "key:" + hex of one update key
#     policy: dict of trust.verify_manifest() facts (now, device_class, ...)
# Prints "verdict <name> <ok|reason>" per case. Any exception other than
# BundleError escapes, so the test sees it as a crash.

import binascii

from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.error import BundleError

_buf = bytearray(F.MAX_DOC + 1)


def _verdict(path, spec, policy):
    try:
        if spec.startswith("key:"):
            root = trust.key_root(binascii.unhexlify(spec[4:]))
        else:
            root = trust.load_root(directory.read_doc(spec, _buf, "missing-root"))
        root = directory.newest_root(path, root, _buf)
        directory.verify(path, root, **policy)
    except BundleError as e:
        return e.reason
    return "ok"


for _name, _path, _spec, _policy in CASES:
    print("verdict", _name, _verdict(_path, _spec, _policy))
