# SPDX-License-Identifier: MIT
"""The host tools' file reads and writes, each failure one line for the user.

Writes go to `<path>.tmp` and are renamed over `path`, so a key, a root or a
manifest on disk is either the old one or the new one, never half of each.
"""

import os

from .errors import CommandError


def read(path, limit=-1):
    """The bytes of `path` (at most `limit`, so an oversized input is seen
    as one byte too long rather than read whole)."""
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(path, e.strerror))


def write(path, data, mode=0o644):
    """Replace `path` with `data`; `mode` applies when the file is created
    (0o600 for private keys)."""
    tmp = str(path) + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        discard(tmp)
        raise CommandError("cannot write {}: {}".format(path, e.strerror))


def discard(path):
    """Remove a file left by a failed write, if it is there."""
    try:
        os.remove(path)
    except OSError:
        pass
