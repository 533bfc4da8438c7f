# SPDX-License-Identifier: MIT
"""The host tools' file reads and writes, each failure one line for the user.

Writes go to `<path>.tmp` and are renamed over `path`, so a key, a root or a
manifest on disk is either the old one or the new one, never half of each.
"""

import os
import stat

from .errors import CommandError


def read(path, limit=-1):
    """The bytes of `path` (at most `limit`, so an oversized input is seen
    as one byte too long rather than read whole). Only a regular file: a
    FIFO would wait for a writer, a device may never end."""
    try:
        with open_regular(path) as f:
            return f.read(limit)
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(path, e.strerror))


def open_regular(path):
    """`path` opened for reading in binary, if it is a regular file (after
    symlinks); CommandError naming what it is otherwise. The open does not
    wait (O_NONBLOCK), so a FIFO is refused rather than waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(path, e.strerror))
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise CommandError("cannot read {}: {}".format(path, e.strerror))
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise CommandError("cannot read {}: {}".format(path, kind(mode)))
    return os.fdopen(fd, "rb")


def kind(mode):
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    return "not a regular file"


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
