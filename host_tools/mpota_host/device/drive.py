# SPDX-License-Identifier: MIT
"""A CircuitPython board's CIRCUITPY drive, mounted on this computer: the
way `mpota device` writes while the board's code may not (runtime.py).

Files are copied into the folder, and what the agent on the board would
have written (provision, push, confirm) is written by the agent's own
code (firmware/mpota, which runs on CPython too) in a process whose
current directory is the drive: the same checks with the board's root
and state, read from the drive. The board does not check a bundle pushed
this way itself; whoever can write the drive can replace code.py as well,
so this trusts the computer with nothing more than the drive already does.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BoardError
from . import agent as A
from . import runtime, wire
from .calls import interpret

# Run on the board: its boot_out.txt in hex (None where it has none).
_BOOT_OUT = """
import binascii
try:
    with open('boot_out.txt', 'rb') as _f:
        print(binascii.hexlify(_f.read()).decode())
except OSError:
    print('none')
"""


def check(link, path):
    """The drive at `path`, once it is shown to be the board's on `link`."""
    drive = Path(path)
    if not drive.is_dir():
        raise BoardError("--drive {} is not a folder (the CIRCUITPY drive, mounted)".format(path), "usage")
    try:
        mine = (drive / "boot_out.txt").read_bytes()
    except OSError:
        mine = None
    said = link.exec(_BOOT_OUT)[-1]
    theirs = None if said == "none" else bytes.fromhex(said)
    why = runtime.same_drive(theirs, mine)
    if why:
        raise BoardError("--drive {} is not this board's CIRCUITPY drive: {}".format(path, why), "wrong-drive")
    return drive


def _sync(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write(drive, name, data):
    """Write drive/name (bytes) and have it reach the device."""
    dest = Path(drive) / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    _sync(dest)


def install(drive, tmp, names):
    """Copy the staged agent (tmp/<name>) into the drive's lib/, over any
    older agent there."""
    lib = Path(drive) / "lib"
    shutil.rmtree(lib / "mpota", ignore_errors=True)
    for name in names:
        write(drive, "lib/" + name, (Path(tmp) / name).read_bytes())


def start_file(drive, name, text):
    """Give the drive `name` with the agent's `text` unless it has that file:
    'written', 'present' (it mentions mpota) or 'other'."""
    path = Path(drive) / name
    try:
        old = path.read_text(errors="replace")
    except FileNotFoundError:
        write(drive, name, text.encode())
        return "written"
    return "present" if "mpota" in old else "other"


# The agent's call, run here in the drive: mpota.bringup.call as on the
# board, a push from the bundle folder instead of the serial line.
_CALL = """import sys
sys.path.insert(0, {package!r})
import mpota.bringup as _b
{prelude}_b.call(_b.{call})
"""
_LOCAL = "from mpota.source.local import LocalSource\n"


def agent(drive, call, progress=None, prelude="", not_done=None):
    """Run mpota.bringup.<call> with the drive as the current directory;
    its result, or the one-line error (calls.interpret)."""
    code = _CALL.format(package=str(A.PACKAGE.parent), prelude=prelude, call=call)
    ans = wire.Answer()
    with tempfile.TemporaryFile("w+") as err:
        with subprocess.Popen([sys.executable, "-c", code], cwd=str(drive), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=err, text=True) as proc:
            _read(proc, ans, progress)
        # What the agent wrote must reach the drive before the board reads it.
        os.sync()
        err.seek(0)
        ans.error = err.read() if proc.returncode else ""
    return interpret(ans, not_done, who="the agent (run here, on the drive)")


def _read(proc, ans, progress):
    """The agent's answer lines into ans (a wire.Answer)."""
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("~~P "):
            done, total, how = (line[4:].split(" ") + ["", "", ""])[:3]
            if progress and done.isdigit() and total.isdigit():
                progress(int(done), int(total), how)
        elif line.startswith("~~D "):
            ans.result = json.loads(line[4:])
        elif line.startswith("~~E "):
            what, _, reason = line[4:].partition(" ")
            ans.failure = (what, reason)
        else:
            ans.lines.append(line)


def push(drive, bundle, progress=None):
    """Install the bundle folder into the drive's slots, as a push would."""
    return agent(drive, "push, None, LocalSource({!r})".format(os.path.abspath(bundle)), progress,
                 prelude=_LOCAL)
