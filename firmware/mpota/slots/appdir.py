# SPDX-License-Identifier: MIT
"""Application bundles in two directories, for any board with a filesystem.

Slot i is the directory <base>/<i>: `image` holds the app image (the ustar
archive, written chunk by chunk like flash), `app/` its unpacked files.
The state record is the pointer that says which directory is active, so
switching is one power-loss-safe record write. boot() puts the chosen
`app/` first on sys.path; main.py (or code.py on CircuitPython) then
imports the application from there.
"""

import sys

from .. import apptar
from ..flash.region import FileRegion


class DirBank:
    bootloader = False

    def __init__(self, base, slot_size, sector_size=4096):
        self.base = base.rstrip("/")
        self.slot_size = slot_size
        _mkdir(self.base)
        self.regions = []
        for i in range(2):
            _mkdir(self.dir(i))
            self.regions.append(FileRegion(self.dir(i) + "/image", slot_size, sector_size))

    def dir(self, i):
        return "{}/{}".format(self.base, i)

    def app(self, i):
        return self.dir(i) + "/app"

    def running(self):
        return None

    def next(self):
        return None

    def prepare(self, i, size):
        # Unpack again from scratch: a cut during an earlier unpack may
        # have left part of a tree behind.
        apptar.remove(self.app(i))
        apptar.extract(self.regions[i], size, self.app(i))

    def select(self, i):
        pass

    def enter(self, i):
        for j in range(2):
            while self.app(j) in sys.path:
                sys.path.remove(self.app(j))
        sys.path.insert(0, self.app(i))

    def commit(self, i):
        pass


def _mkdir(path):
    import os

    try:
        os.mkdir(path)
    except OSError:
        pass
