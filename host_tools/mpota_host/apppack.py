# SPDX-License-Identifier: MIT
"""Pack an application directory (Python/.mpy files) into the app image
format of docs/FORMAT.md: an uncompressed POSIX ustar archive, members in
sorted order with fixed metadata, so the same tree always gives the same
bytes (and the same chunks, which keeps delta updates small)."""

import io
import os
import tarfile

from .errors import CommandError


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
        for top, dirs, files in os.walk(directory):
            dirs.sort()
            rel_top = os.path.relpath(top, directory)
            for name in dirs + sorted(files):
                path = os.path.join(top, name)
                rel = name if rel_top == "." else rel_top + "/" + name
                if os.path.islink(path) or not (os.path.isfile(path) or os.path.isdir(path)):
                    raise CommandError("{}: only regular files and directories go in an app image".format(path))
                if not rel.isascii():
                    raise CommandError("{}: app file names must be ASCII".format(path))
                if os.path.isdir(path):
                    tar.addfile(_info(rel, 0, True))
                else:
                    with open(path, "rb") as f:
                        tar.addfile(_info(rel, os.path.getsize(path), False), f)
        end = tar.offset
    # Keep the two zero blocks that end the archive, drop tarfile's padding
    # to a 10 KB record: devices read blocks, not records.
    return out.getvalue()[:end + 2 * tarfile.BLOCKSIZE]
