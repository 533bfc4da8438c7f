# SPDX-License-Identifier: MIT
"""Unpack an app image (a ustar archive, docs/FORMAT.md "App image").

Reads the archive from a region (a slot) through one 512-byte buffer and
writes regular files and directories under a destination directory. The
image was verified before this runs; names are still checked, so nothing
is written outside the destination, and anything but files and
directories (links, devices) is refused. `mpota sign --target app` checks
members with the same problem() before it signs, so a release every
device refuses is never made.

No recursion anywhere: a directory tree is made and removed level by level
in a loop, so a deep archive costs no stack (a board's C stack overflows
at a few dozen Python calls deep), and member paths deeper than MAX_DEPTH
are refused.
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
MAX_DEPTH = const(16)  # levels in a member path: lib/a/b.py is 3
# Levels remove() descends below its path: far more than any tree the
# unpacker makes, so it only ends a walk that would not (a link looping).
_MAX_REMOVE = const(1000)


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


def member_path(b):
    """The path of the member whose ustar header is in b, as stored."""
    name = _field(b, 0, 100)
    prefix = _field(b, _PREFIX, 155)
    if prefix:
        name = prefix + b"/" + name
    return name


def problem(b):
    """Why the member whose ustar header is in b cannot be unpacked, as a
    short text, or None. The one rule, for the device and for mpota sign."""
    kind = b[_TYPE]
    if kind not in (0x30, 0, 0x35):  # '0' or NUL: a file; '5': a directory
        return "not a regular file or directory"
    if kind == 0x35 and _octal(b, _SIZE, 12):
        return "a directory with data"
    return name_problem(member_path(b))


def name_problem(name):
    """Why a member path (bytes) is refused, or None: only printable ASCII
    without space or backslash, relative, no '.' or '..' segment, at most
    MAX_DEPTH levels. Empty segments (a directory's trailing '/') are
    ignored."""
    for c in name:
        if c < 0x21 or c > 0x7E or c == 0x5C:
            return "a space, backslash, control or non-ASCII character"
    if name[:1] == b"/":
        return "an absolute path"
    depth = 0
    for part in name.split(b"/"):
        if part == b"." or part == b"..":
            return "a '.' or '..' segment"
        if part:
            depth += 1
    if not depth:
        return "an empty name"
    if depth > MAX_DEPTH:
        return "more than {} levels deep".format(MAX_DEPTH)
    return None


def members(region, size, buf):
    """Walk the archive in region[0:size]: for each member, its header is
    read into buf and (data offset, data size) yielded. A broken archive
    (bad magic or checksum, data past the end, no end blocks) raises
    AgentError('bad-app'). The caller judges each member with problem()."""
    pos = 0
    while pos + _BLOCK <= size:
        region.read(pos, buf)
        pos += _BLOCK
        if not any(buf):
            return
        if bytes(buf[_MAGIC:_MAGIC + 5]) != b"ustar" or not _checksum_ok(buf):
            raise AgentError("bad-app")
        n = _octal(buf, _SIZE, 12)
        if pos + n > size:
            raise AgentError("bad-app")
        yield pos, n
        pos += (n + _BLOCK - 1) // _BLOCK * _BLOCK
    raise AgentError("bad-app")


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
    for pos, n in members(region, size, buf):
        if problem(buf) is not None:
            raise AgentError("bad-app")
        path = dest + "/" + "/".join([p for p in member_path(buf).decode().split("/") if p])
        if buf[_TYPE] == 0x35:
            _makedirs(path)
            continue
        _makedirs(path[:path.rfind("/")])
        _copy(region, pos, n, path, buf)


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
    # Up to the deepest level that exists, then down making each one.
    cut = len(path)
    while cut > 0 and not _is_dir(path[:cut]):
        cut = path.rfind("/", 0, cut)
    if cut < 0:
        cut = 0
    while cut < len(path):
        nxt = path.find("/", cut + 1)
        if nxt < 0:
            nxt = len(path)
        os.mkdir(path[:nxt])
        cut = nxt


def remove(path):
    """Delete a file or a directory tree; nothing if it is not there.
    Level by level: down to a directory without subdirectories, empty and
    remove it, back to its parent. AgentError('bad-app') if the tree goes
    deeper than _MAX_REMOVE levels or will not go."""
    if not _is_dir(path):
        _unlink(path)
        return
    cur = path
    depth = 0
    try:
        while True:
            sub = None
            for name in os.listdir(cur):
                p = cur + "/" + name
                if _is_dir(p):
                    sub = p
                    break
                _unlink(p)
            if sub is not None:
                depth += 1
                if depth > _MAX_REMOVE:
                    raise AgentError("bad-app")
                cur = sub
                continue
            os.rmdir(cur)
            if depth == 0:
                return
            cur = cur[:cur.rfind("/")]
            depth -= 1
    except OSError:
        raise AgentError("bad-app")


def _unlink(path):
    try:
        os.remove(path)
    except OSError:
        pass
