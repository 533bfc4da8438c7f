# SPDX-License-Identifier: MIT
"""Fetch a small signed document (the manifest, a root) from a source into
a fixed buffer, resuming after a dropped connection, and apply root
rotations published with a bundle."""

from ..bundle import format as F
from ..bundle import trust
from ..bundle.error import BundleError
from ..source import SourceError


def backoff(dev, failures):
    """Wait before retry number `failures` (1, 2, ...): doubling, with
    jitter so that many devices do not retry in step."""
    ms = dev.backoff_ms << (failures - 1)
    if not ms:
        return
    import random
    import time

    ms += random.getrandbits(8) * ms // 1024
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def read_doc(dev, src, name, buf, missing):
    """Read `name` into buf (MAX_DOC + 1 bytes); return a view of it."""
    view = memoryview(buf)
    n = 0
    failures = 0
    while True:
        try:
            r = src.open(name, n)
        except SourceError as e:
            if e.reason == "not-found":
                raise BundleError(missing)
            failures += 1
            if failures > dev.retries:
                raise
            backoff(dev, failures)
            continue
        try:
            while n < len(buf):
                got = r.readinto(view[n:])
                if not got:
                    break
                n += got
            break
        except SourceError:
            failures += 1
            if failures > dev.retries:
                raise
            backoff(dev, failures)
        finally:
            r.close()
    if n > F.MAX_DOC:
        raise BundleError("too-large")
    return view[:n]


def newest_root(dev, src, root, buf, on_rotate=None):
    """Apply roots/<N+1>, <N+2>, ... from the source while they exist;
    on_rotate(doc, root) is called after each accepted one."""
    for _ in range(F.MAX_ROTATIONS):
        if root.version < 1:
            break
        try:
            doc = read_doc(dev, src, "roots/{}".format(root.version + 1), buf, "missing-root")
        except BundleError as e:
            if e.reason == "missing-root":
                break
            raise
        root = trust.rotate(root, doc)
        if on_rotate:
            on_rotate(doc, root)
    return root
