# SPDX-License-Identifier: MIT
"""The agent's files as a board gets them: every module of the on-device
package compiled with mpy-cross where its .mpy version is the board's
(else the .py sources), and the native ed25519 module for the board's
architecture where the firmware lacks the C module."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import mpota

from ..errors import CommandError
from . import board as B

PACKAGE = Path(mpota.__file__).resolve().parent
# A source checkout keeps its builds next to the package: firmware/mpota
# -> build/ (make setup builds mpy-cross, make natmod the native modules).
_BUILD = PACKAGE.parent.parent / "build"
# Enough to copy everything else: the board pulls the rest through
# mpota.source.serial.receive().
FIRST = ("mpota/__init__", "mpota/errors", "mpota/crc32", "mpota/source/__init__", "mpota/source/serial")


def find_mpy_cross(given=None):
    """mpy-cross: the one given, the checkout's build, or the one on PATH."""
    if given:
        if not os.access(given, os.X_OK):
            raise CommandError("{} is not an executable mpy-cross".format(given))
        return given
    built = _BUILD / "mpy-cross" / "mpy-cross"
    if os.access(built, os.X_OK):
        return str(built)
    return shutil.which("mpy-cross")


def mpy_cross_version(path):
    """(version, sub-version) of the .mpy files it writes."""
    run = subprocess.run([path, "--version"], capture_output=True, text=True)
    found = re.search(r"mpy v(\d+)\.(\d+)", run.stdout + run.stderr)
    if run.returncode != 0 or not found:
        raise CommandError("{} --version did not say which .mpy it writes".format(path))
    return int(found.group(1)), int(found.group(2))


def modules():
    """Module paths relative to the package's parent, without suffix."""
    return sorted(p.relative_to(PACKAGE.parent).with_suffix("").as_posix()
                  for p in PACKAGE.rglob("*.py"))


def stage(out, mpy_cross=None):
    """Write the agent into out/ (.mpy with mpy_cross, else .py); return
    the file names, the first-stage ones first."""
    names = []
    order = list(FIRST) + [m for m in modules() if m not in FIRST]
    for mod in order:
        src = PACKAGE.parent / (mod + ".py")
        dest = Path(out) / (mod + (".mpy" if mpy_cross else ".py"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if mpy_cross:
            # -s keeps the module's path in tracebacks on the board.
            run = subprocess.run([mpy_cross, "-s", mod + ".py", "-o", str(dest), str(src)],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise CommandError("mpy-cross {}: {}".format(mod, run.stderr.strip()))
        else:
            shutil.copyfile(src, dest)
        names.append(dest.relative_to(out).as_posix())
    return names


def find_natmod(arch, mpy, given=None):
    """The native ed25519.mpy that loads on a board of `arch` reading .mpy
    version `mpy` (version, sub-version): the file or folder given, or one
    of the checkout's build/natmod/<arch>/; for Thumb the newest core the
    board runs. (path, arch) or None."""
    roots = [Path(given)] if given else sorted((_BUILD / "natmod").glob("*"))
    best = None
    for root in roots:
        path = root / "ed25519.mpy" if root.is_dir() else root
        if not path.is_file():
            continue
        try:
            version, sub, native = B.mpy_header(path.read_bytes()[:4])
        except CommandError:
            continue
        if (version, sub) != tuple(mpy) or not B.native_loads_on(native, arch):
            continue
        rank = B.ARCHS.index(native) if native in B.ARCHS else -1
        if best is None or rank > best[0]:
            best = (rank, path, native)
    return (best[1], best[2]) if best else None
