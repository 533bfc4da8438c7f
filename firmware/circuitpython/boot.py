# SPDX-License-Identifier: MIT
# boot.py for mpota on CircuitPython (docs/CIRCUITPYTHON.md). CircuitPython
# runs it once at each start, in a VM of its own, before code.py.
#
# It lets the code write to CIRCUITPY, where the agent keeps its state,
# its trust root and the slots: storage.remount() may be called only here.
# The computer then sees the drive read-only over USB.
#
# Back to editing over USB, either:
# - hold the board's button (board.BUTTON, the BOOT button on most
#   espressif boards) while it starts or resets: this start leaves the
#   drive to the computer (the agent then cannot save, and says so);
# - or from the REPL: import os, microcontroller;
#   os.rename("/boot.py", "/boot.off"); microcontroller.reset()
#   (rename it back the same way, from the REPL, to update again).
import storage


def _editing():
    try:
        import board
        import digitalio
    except ImportError:
        return False
    pin = getattr(board, "BUTTON", None)
    if pin is None:
        return False
    button = digitalio.DigitalInOut(pin)
    button.switch_to_input(pull=digitalio.Pull.UP)
    held = not button.value
    button.deinit()
    return held


if not _editing():
    storage.remount("/", readonly=False)
