# SPDX-License-Identifier: MIT
"""What differs between a MicroPython and a CircuitPython board under
`mpota device`, as decisions that do no I/O (the callers do it):

  route()       how a command that writes reaches the board's files: its
                REPL, or the CIRCUITPY drive mounted on this computer
  reset_code()  the code that resets the board
  start_files() the files that start the agent at boot, in writing order
  same_drive()  whether a folder's boot_out.txt is the board's own

On CircuitPython the filesystem is the computer's over USB and read-only
to the code (a write is OSError 30, EROFS) until boot.py calls
storage.remount("/", readonly=False), which in turn makes the drive
read-only to the computer. So exactly one side can write at a time.
"""

from pathlib import Path

from ..errors import BoardError

CIRCUITPYTHON = "circuitpython"

READ_ONLY = ("the board's CIRCUITPY drive is read-only to its code (the computer has it): give "
             "--drive PATH (the drive, mounted here), or install the agent's boot.py and reset "
             "the board (mpota device install --drive PATH, then mpota device reboot)")

# The reset: the answer line first, so that the host knows how to wait.
# MicroPython: soft where the board's configuration asks for it (a flash
# in RAM) or the port has no hard reset (the unix port).
_MICROPYTHON_RESET = """import machine, time
_hard = {} and hasattr(machine, 'reset')
print('~~D {{"reset": "%s"}}' % ('hard' if _hard else 'soft'))
if _hard:
    time.sleep_ms(100)
    machine.reset()
machine.soft_reset()
"""
# CircuitPython has no machine and no time.sleep_ms; supervisor.reload()
# would only restart code.py, not the agent's boot step, and never runs
# boot.py again: a trial starts after a reset only.
_CIRCUITPYTHON_RESET = """import microcontroller, time
print('~~D {"reset": "hard"}')
time.sleep(0.1)
microcontroller.reset()
"""


def route(runtime, readonly, drive):
    """'repl' or 'drive' for a command that writes to the board.

    runtime: sys.implementation.name; readonly: storage.getmount("/")
    .readonly on CircuitPython (None where unknown: try the REPL); drive:
    the --drive folder or None. A board whose code may write is written
    through its REPL even with --drive (the drive is then read-only here).
    """
    if runtime != CIRCUITPYTHON:
        if drive is not None:
            raise BoardError("--drive is for CircuitPython boards; this one runs {}".format(runtime), "usage")
        return "repl"
    if not readonly:
        return "repl"
    if drive is None:
        raise BoardError(READ_ONLY, "read-only")
    return "drive"


def reset_code(runtime, hard):
    """The code the host runs on the board to reset it."""
    if runtime == CIRCUITPYTHON:
        return _CIRCUITPYTHON_RESET
    return _MICROPYTHON_RESET.format(bool(hard))


def start_files(runtime, micropython_files, circuitpython_dir):
    """[(name, text)] of the files that start the agent, in the order they
    are written. MicroPython: boot.py (the agent's boot step) and main.py
    (the app), micropython_files being those two texts. CircuitPython:
    code.py (the boot step, then the app) and last boot.py, whose remount
    takes the drive from the computer at the next reset; both are the
    shipped ones of firmware/circuitpython (circuitpython_dir)."""
    if runtime != CIRCUITPYTHON:
        boot, main = micropython_files
        return [("boot.py", boot), ("main.py", main)]
    folder = Path(circuitpython_dir)
    if not (folder / "code.py").is_file():
        raise BoardError("the CircuitPython code.py and boot.py are not here ({}): they come with "
                         "a source checkout of mpota (firmware/circuitpython)".format(folder), "host")
    return [(name, (folder / name).read_text()) for name in ("code.py", "boot.py")]


def same_drive(board_boot_out, drive_boot_out):
    """None if the drive is the board's, else why not. Each argument is
    a boot_out.txt's bytes (None: no such file). CircuitPython writes it
    at every start: its version, the board and the chip's UID, so the
    file read through the REPL and the one in the folder are equal only
    on the board's own drive (or on one copied from it)."""
    if drive_boot_out is None:
        return "it has no boot_out.txt, which every CIRCUITPY drive has"
    if board_boot_out is None:
        return "the board has no boot_out.txt to compare it with"
    if board_boot_out != drive_boot_out:
        return "its boot_out.txt is not the board's (another board, or another start)"
    return None
