# SPDX-License-Identifier: MIT
# MicroPython's raw REPL, for the unix port (runs on it, not on CPython).
#
# The unix port's own REPL has no raw mode, so mpremote cannot drive it.
# This speaks the protocol of shared/runtime/pyexec.c on stdin/stdout,
# byte for byte as a board's firmware does: Ctrl-A enters the raw REPL
# ("raw REPL; CTRL-B to exit\r\n>"), code ends with Ctrl-D ("OK", output,
# 0x04, traceback, 0x04), raw-paste mode (Ctrl-E A Ctrl-A: "R\x01", a
# flow-control window, 0x01 per window consumed), Ctrl-D on an empty line
# and machine.soft_reset() reset softly ("MPY: soft reboot"). A soft reset
# ends this process with status 42; the harness (ptyboard.py) starts it
# again with "raw", as a board comes back in the mode it left. At every
# start boot.py in the current directory (the board's filesystem) runs,
# as firmware runs it.
#
# With RAWREPL_CIRCUITPY=1 (build/unix-cpy and the stand-ins of
# tests/circuitpython/lib on the path) it plays a CircuitPython board
# instead: sys.implementation.name is "circuitpython", sys.stdin has no
# .buffer (text only, as there); a start writes
# boot_out.txt, runs boot.py (where storage.remount may be called), then
# code.py, then the REPL; without the remount, writes from code fail with
# OSError(30) (storage._enforce). microcontroller.reset() ends the process
# with status 43, and the harness starts it again from the top; a soft
# reset (42) comes back in the raw REPL with the mount kept and neither
# boot.py nor code.py run again.
#
#   micropython rawrepl.py [raw]

import sys
from os import getenv as os_getenv

# Running a script puts its folder first on sys.path; a board has ''.
sys.path[0] = ""

SOFT_RESET = 42
HARD_RESET = 43
WINDOW = 128
BANNER = b"raw REPL; CTRL-B to exit\r\n"

inp = sys.stdin.buffer
out = sys.stdout.buffer
env = {"__name__": "__main__"}


def byte():
    b = inp.read(1)
    if not b:
        # The line is gone for good: power off.
        sys.exit(0)
    return b[0]


def execute(code):
    """Run code as pyexec does in the raw REPL; False on a soft reset."""
    resets = _resets()
    try:
        exec(code, env)
    except SystemExit:
        out.write(b"\x04")
        if _resets() != resets:
            sys.exit(HARD_RESET)  # microcontroller.reset()
        return False
    except BaseException as e:  # a board prints whatever the code raised
        out.write(b"\x04")
        sys.print_exception(e)
        out.write(b"\x04")
        return True
    out.write(b"\x04\x04")
    return True


def paste():
    out.write(b"R\x01" + bytes((WINDOW & 0xFF, WINDOW >> 8, 1)))
    code = bytearray()
    left = WINDOW
    while True:
        c = byte()
        if c in (3, 4):
            out.write(b"\x04")
            break
        code.append(c)
        left -= 1
        if not left:
            out.write(b"\x01")
            left = WINDOW
    return execute(bytes(code))


def raw():
    """The raw REPL; returns when the board resets softly."""
    out.write(BANNER)
    line = bytearray()
    out.write(b">")
    while True:
        c = byte()
        if c == 1:
            if len(line) == 2 and line[0] == 5:
                if line[1] != ord("A"):
                    out.write(b"R\x00")
                elif not paste():
                    return
                line = bytearray()
                out.write(b">")
                continue
            out.write(BANNER)
            line = bytearray()
            out.write(b">")
        elif c == 2:
            out.write(b"\r\n")
            friendly()
            return
        elif c == 3:
            line = bytearray()
        elif c == 4:
            out.write(b"OK")
            if not line:
                out.write(b"\r\n")
                return
            if not execute(bytes(line)):
                return
            line = bytearray()
            out.write(b">")
        else:
            line.append(c)


def friendly():
    """Only what a host needs of the friendly REPL: Ctrl-A to go raw,
    Ctrl-C for a fresh prompt, Ctrl-D to reset. Nothing is echoed."""
    out.write(b">>> ")
    while True:
        c = byte()
        if c == 1:
            raw()
            return
        if c == 3:
            out.write(b"\r\n>>> ")
        elif c == 4:
            return


def boot():
    try:
        f = open("boot.py")
    except OSError:
        return
    with f:
        code = f.read()
    try:
        exec(code, env)
    except BaseException as e:  # firmware reports a failing boot.py and goes on
        sys.print_exception(e)


def _resets():
    """How often microcontroller.reset() was called (the stand-in counts)."""
    try:
        with open((os_getenv("CPY_STANDIN_FLASH") or ".") + "/resets") as f:
            return f.read().count("\n")
    except OSError:
        return 0


class _Impl:
    name = "circuitpython"
    version = (9, 2, 1, "")
    _machine = "unix-cpy stand-in on a pty"
    _mpy = sys.implementation._mpy


class _TextStdin:
    """CircuitPython's sys.stdin: text only, no .buffer (its build leaves
    out MICROPY_PY_SYS_STDIO_BUFFER)."""

    def read(self, n=-1):
        return _real_sys.stdin.read(n)


class _Sys:
    implementation = _Impl()
    stdin = _TextStdin()

    def __getattr__(self, name):
        return getattr(_real_sys, name)


_real_sys = sys


def circuitpython(start):
    """Come up as a CircuitPython board: a start (not a soft reset) gives
    CIRCUITPY back to the computer, writes boot_out.txt, runs boot.py and
    code.py."""
    import os

    sys.modules["sys"] = _Sys()
    if start:
        try:
            os.remove("mount")
        except OSError:
            pass
        with open("boot_out.txt", "w") as f:
            f.write("Adafruit CircuitPython 9.2.1 on 2026-12-06; unix-cpy stand-in on a pty\n"
                    "Board ID:unix_cpy_standin\nUID:{}\n".format(os.getenv("CPY_STANDIN_UID") or "0"))
        os.putenv("CPY_STANDIN_IN_BOOT", "1")
        boot()
        os.unsetenv("CPY_STANDIN_IN_BOOT")
    import storage

    if not storage._writable():
        storage._enforce()
    if start:
        try:
            code = open("code.py").read()
        except OSError:
            return
        resets = _resets()
        try:
            exec(code, {"__name__": "__main__"})
        except SystemExit:
            if _resets() != resets:
                sys.exit(HARD_RESET)
        except BaseException as e:  # CircuitPython prints it and goes on to the REPL
            sys.print_exception(e)


if os_getenv("RAWREPL_CIRCUITPY") == "1":
    circuitpython(sys.argv[-1] != "raw")
else:
    boot()
if sys.argv[-1] == "raw":
    raw()
else:
    out.write(b"MicroPython on the unix port, raw REPL by rawrepl.py\r\n")
    friendly()
out.write(b"MPY: soft reboot\r\n")
sys.exit(SOFT_RESET)
