# SPDX-License-Identifier: MIT
# Copy a directory tree on the unix port (a device's files, to restore it
# between cases).

import os

from mpota import apptar


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0


def copy_tree(src, dst):
    """Make dst an exact copy of src (dst is removed first)."""
    apptar.remove(dst)
    os.mkdir(dst)
    buf = bytearray(4096)
    for name in os.listdir(src):
        s = src + "/" + name
        d = dst + "/" + name
        if _is_dir(s):
            copy_tree(s, d)
            continue
        with open(s, "rb") as fi, open(d, "wb") as fo:
            while True:
                n = fi.readinto(buf)
                if not n:
                    break
                fo.write(memoryview(buf)[:n])
