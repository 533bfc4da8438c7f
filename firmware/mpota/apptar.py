# SPDX-License-Identifier: MIT
"""Unpack an app image (a ustar archive, docs/FORMAT.md "App image").

Reads the archive from a region (a slot) through one 512-byte buffer and
writes regular files and directories under a destination directory. The
image was verified before this runs; names are still checked, so nothing
is written outside the destination, and anything but files and
directories (links, devices) is refused.
"""

import os

from .errors import AgentError

from micropython import const


_BLOCK = const(512)
_SIZE = const(124)
_CHKSUM = const(148)
_TYPE = const(156)
_MAGIC = const(257)
_PREFIX = const(345)
_ENOSPC = const(28)


def _field(b, start, n):
    end = start
    while end < start + n and b[end]:
        end += 1
    return bytes(b[start:end])


def _octal(b, start, n):
    v = 0
    for i in range(start, start + n):
        c = b[i]
        if c in (0, 0x20):
            break
        if not 0x30 <= c <= 0x37:
            raise AgentError("bad-app")
        v = v * 8 + c - 0x30
    return v


def _checksum_ok(b):
    # The header sum with the checksum field counted as spaces.
    total = 0
    for i in range(_BLOCK):
        total += 0x20 if _CHKSUM <= i < _CHKSUM + 8 else b[i]
    return total == _octal(b, _CHKSUM, 8)


def _name(b):
    name = _field(b, 0, 100)
    prefix = _field(b, _PREFIX, 155)
    if prefix:
        name = prefix + b"/" + name
    for c in name:
        if c < 0x21 or c > 0x7E or c == 0x5C:
            raise AgentError("bad-app")
    parts = [p for p in name.decode().split("/") if p]
    if not parts or name[:1] == b"/" or ".." in parts or "." in parts:
        raise AgentError("bad-app")
    return "/".join(parts)


def extract(region, size, dest):
    """Unpack the archive in region[0:size] under dest."""
    try:
        _extract(region, size, dest)
    except OSError as e:
        # A full filesystem is the board's limit; any other refusal (a name
        # used both as a file and as a directory) is the archive's fault.
        raise AgentError("no-room" if e.errno == _ENOSPC else "bad-app")


def _extract(region, size, dest):
    _makedirs(dest)
    buf = bytearray(_BLOCK)
    pos = 0
    while pos + _BLOCK <= size:
        region.read(pos, buf)
        pos += _BLOCK
        if not any(buf):
            return
        if bytes(buf[_MAGIC:_MAGIC + 5]) != b"ustar" or not _checksum_ok(buf):
            raise AgentError("bad-app")
        kind = buf[_TYPE]
        n = _octal(buf, _SIZE, 12)
        path = dest + "/" + _name(buf)
        if kind == 0x35:  # '5' directory
            _makedirs(path)
            continue
        if kind not in (0x30, 0):  # '0' or NUL: regular file
            raise AgentError("bad-app")
        if pos + n > size:
            raise AgentError("bad-app")
        _makedirs(path[:path.rfind("/")])
        _copy(region, pos, n, path, buf)
        pos += (n + _BLOCK - 1) // _BLOCK * _BLOCK
    raise AgentError("bad-app")


def _copy(region, pos, n, path, buf):
    f = open(path, "wb")
    try:
        mv = memoryview(buf)
        while n:
            k = min(n, _BLOCK)
            part = mv if k == _BLOCK else mv[:k]
            region.read(pos, part)
            f.write(part)
            pos += k
            n -= k
    finally:
        f.close()


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _makedirs(path):
    if not path or _is_dir(path):
        return
    cut = path.rfind("/")
    if cut > 0:
        _makedirs(path[:cut])
    os.mkdir(path)


def remove(path):
    """Delete a file or a directory tree; nothing if it is not there."""
    if not _is_dir(path):
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for name in os.listdir(path):
        remove(path + "/" + name)
    os.rmdir(path)
