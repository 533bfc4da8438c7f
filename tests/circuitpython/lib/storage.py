# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `storage`: remount() as boot.py uses it.

On a board, remount("/", readonly=False) gives the code write access and
takes it from the computer over USB; it may be called only from boot.py
while the drive is visible over USB (else RuntimeError). Here boot.py is
whatever runs with CPY_STANDIN_IN_BOOT=1 in the environment, and the
setting is kept in CPY_STANDIN_FLASH/mount for code.py to find.
"""

import os

_DIR = os.getenv("CPY_STANDIN_FLASH") or "."


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
