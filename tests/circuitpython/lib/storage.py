# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `storage`: remount() as boot.py uses it,
getmount("/").readonly.

On a board, remount("/", readonly=False) gives the code write access and
takes it from the computer over USB; it may be called only from boot.py
while the drive is visible over USB (else RuntimeError). Here boot.py is
whatever runs with CPY_STANDIN_IN_BOOT=1 in the environment, and the
setting is kept in CPY_STANDIN_FLASH/mount for code.py to find.

Without the remount, CircuitPython's FAT refuses every write from code
with OSError(30) (EROFS: verify_fs_writable() in extmod/vfs_fat.c, for
open in a writing mode, mkdir, remove, rmdir, rename). _enforce() does
the same here for the process that plays the board (the pty board of
tests/device_host), by wrapping open() and putting a guarded `os` in
sys.modules; the other tests write freely, as before.
"""

import os

_DIR = os.getenv("CPY_STANDIN_FLASH") or "."
_EROFS = 30
# The stand-ins' own bookkeeping (resets, reloads, the mount setting, nvm)
# is not on CIRCUITPY on a board: never refused.
_OWN = ("mount", "resets", "reloads", "nvm")


def remount(mount_path, readonly=False, *, disable_concurrent_write_protection=False):
    if mount_path != "/":
        raise OSError(19)  # ENODEV
    if os.getenv("CPY_STANDIN_IN_BOOT") != "1":
        raise RuntimeError("Cannot remount '/' when visible via USB.")
    with open(_DIR + "/mount", "w") as f:
        f.write("ro" if readonly else "rw")


def _writable():
    """For the tests: whether code.py may write (boot.py remounted)."""
    try:
        with open(_DIR + "/mount") as f:
            return f.read() == "rw"
    except OSError:
        return False


class _Mount:
    def __init__(self, readonly):
        self.readonly = readonly


def getmount(mount_path):
    """The filesystem at mount_path; only "/" (CIRCUITPY) here. Its
    readonly is True while the code may not write (no remount)."""
    if mount_path != "/":
        raise OSError(22)  # EINVAL
    return _Mount(not _writable())


def _own(path):
    name = str(path).rstrip("/").split("/")[-1]
    return name in _OWN


def _enforce():
    """Refuse writes from code with OSError(30), as CircuitPython does
    while CIRCUITPY is the computer's (no remount at this start)."""
    import builtins
    import sys

    real_open = builtins.open

    def open(path, mode="r", *args, **kw):
        if any(c in mode for c in "wax+") and not _own(path):
            raise OSError(_EROFS)
        return real_open(path, mode, *args, **kw)

    def refuse(*args):
        raise OSError(_EROFS)

    class _Os:
        mkdir = remove = rmdir = rename = unlink = staticmethod(refuse)

        def __getattr__(self, name):
            return getattr(os, name)

    builtins.open = open
    sys.modules["os"] = _Os()
