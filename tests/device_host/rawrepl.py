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
#   micropython rawrepl.py [raw]

import sys

# Running a script puts its folder first on sys.path; a board has ''.
sys.path[0] = ""

SOFT_RESET = 42
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
    try:
        exec(code, env)
    except SystemExit:
        out.write(b"\x04")
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


boot()
if sys.argv[-1] == "raw":
    raw()
else:
    out.write(b"MicroPython on the unix port, raw REPL by rawrepl.py\r\n")
    friendly()
out.write(b"MPY: soft reboot\r\n")
sys.exit(SOFT_RESET)
