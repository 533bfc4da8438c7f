# SPDX-License-Identifier: MIT
"""Pack an application directory (Python/.mpy files) into the app image
format of docs/FORMAT.md: an uncompressed POSIX ustar archive, members in
sorted order with fixed metadata, so the same tree always gives the same
bytes (and the same chunks, which keeps delta updates small).

Directories and given tar files alike are held to the device's own member
rules (mpota.apptar.problem: the unpacker's code, not a copy of it), so
`mpota sign` never makes a release that every device would refuse after
downloading it."""

import io
import os
import tarfile

from mpota import apptar
from mpota.errors import AgentError

from . import files
from .errors import CommandError

_TYPEFLAG = 156  # ustar header: the member's type, b"5" for a directory


def _info(name, size, is_dir):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = 0 if is_dir else size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(directory):
    """The app image bytes of `directory`."""
    if not os.path.isdir(directory):
        raise CommandError("{} is not a directory".format(directory))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for top, dirs, names in os.walk(directory):
            dirs.sort()
            rel_top = os.path.relpath(top, directory)
            for name in dirs + sorted(names):
                path = os.path.join(top, name)
                rel = name if rel_top == "." else rel_top + "/" + name
                if os.path.islink(path) or not (os.path.isfile(path) or os.path.isdir(path)):
                    raise CommandError("{}: only regular files and directories go in an app image".format(path))
                # Checked as each name is met, so a too-deep tree stops at
                # the first level too many, before the walk goes further.
                why = apptar.name_problem(rel.encode("utf-8", "surrogateescape"))
                if why is not None:
                    raise CommandError("{}: {}: devices refuse it in an app image".format(path, why))
                try:
                    if os.path.isdir(path):
                        tar.addfile(_info(rel, 0, True))
                    else:
                        with open(path, "rb") as f:
                            tar.addfile(_info(rel, os.path.getsize(path), False), f)
                except ValueError:
                    raise CommandError("{}: path too long for an app image (ustar: at most 100 "
                                       "characters after a '/', 256 in all)".format(path)) from None
        end = tar.offset
    # Keep the two zero blocks that end the archive, drop tarfile's padding
    # to a 10 KB record: devices read blocks, not records.
    data = out.getvalue()[:end + 2 * tarfile.BLOCKSIZE]
    check(_Bytes(data), len(data), directory)
    return data


def check_file(path):
    """Refuse a given app archive that a device would not unpack."""
    with files.open_regular(path) as f:
        check(_File(f), os.fstat(f.fileno()).st_size, path)


def check(region, size, what):
    """Walk the archive with the device's own walker and judge every
    member with the device's own rules; also refuse a name used both as a
    file and as a directory (the device fails on it while unpacking)."""
    buf = bytearray(tarfile.BLOCKSIZE)
    kinds = {}
    try:
        for _, _ in apptar.members(region, size, buf):
            name = apptar.member_path(buf).decode("ascii", "replace")
            why = apptar.problem(buf)
            if why is None:
                why = _clash(kinds, name, buf[_TYPEFLAG] == ord("5"))
            if why is not None:
                raise CommandError("{}: member {!r}: {}: devices refuse it in an app image".format(
                    what, name[:120], why))
    except AgentError:
        raise CommandError("{} is not a whole ustar archive (a bad header or checksum, data past "
                           "its end, or no end blocks)".format(what)) from None


def _clash(kinds, name, is_dir):
    parts = [p for p in name.split("/") if p]
    for i in range(1, len(parts)):
        above = "/".join(parts[:i])
        if kinds.get(above) == "file":
            return "below {}, which is a file".format(above)
        kinds[above] = "dir"
    path = "/".join(parts)
    kind = "dir" if is_dir else "file"
    if kinds.get(path, kind) != kind:
        return "both a file and a directory"
    kinds[path] = kind
    return None


class _Bytes:
    """A region (read(offset, buf)) over bytes."""

    def __init__(self, data):
        self.data = data

    def read(self, offset, buf):
        buf[:] = self.data[offset:offset + len(buf)]


class _File:
    """A region over an open file."""

    def __init__(self, f):
        self.f = f

    def read(self, offset, buf):
        self.f.seek(offset)
        n = self.f.readinto(buf)
        if n < len(buf):
            buf[n:] = bytes(len(buf) - n)
