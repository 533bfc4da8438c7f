# SPDX-License-Identifier: MIT
"""A bundle directory on a filesystem as a source (an SD card, a host
directory on the unix port, a mount from the host with mpremote)."""

from . import SourceError


def _safe(name):
    # Names come from the agent, but a source still never leaves its
    # directory: no absolute paths, no '..', no empty parts.
    if not name or name[0] == "/":
        return False
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return False
    return True


class _Reader:
    def __init__(self, f):
        self.f = f

    def readinto(self, buf):
        try:
            return self.f.readinto(buf) or 0
        except OSError:
            raise SourceError("io")

    def close(self):
        self.f.close()


class LocalSource:
    def __init__(self, path):
        self.path = path.rstrip("/") or "/"

    def open(self, name, offset=0):
        if not _safe(name) or offset < 0:
            raise SourceError("not-found")
        try:
            f = open(self.path + "/" + name, "rb")
        except OSError:
            raise SourceError("not-found")
        try:
            if offset:
                f.seek(offset)
        except OSError:
            f.close()
            raise SourceError("io")
        return _Reader(f)

    def __repr__(self):
        return "LocalSource({})".format(self.path)
