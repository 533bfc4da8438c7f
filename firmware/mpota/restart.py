# SPDX-License-Identifier: MIT
"""How a board starts again, where MicroPython and CircuitPython differ
(docs/CIRCUITPYTHON.md, "Boot").

CircuitPython runs code.py again at every soft reload (a file saved over
USB, supervisor.reload(), Ctrl-D): the VM restarts, the board does not.
Only a start after a reset (run_reason STARTUP) counts as a trial boot;
after a reload, boot() enters the image that ran before and counts
nothing, and a trial installed but not yet started waits for the next
reset. A board resets with machine.reset() on MicroPython and
microcontroller.reset() on CircuitPython.
"""

from .state.fields import NONE


def soft_reload():
    """True if this run of the code is a CircuitPython soft reload."""
    try:
        # By name: only CircuitPython has it (and its stubs).
        supervisor = __import__("supervisor")
    except ImportError:
        return False
    return supervisor.runtime.run_reason != supervisor.RunReason.STARTUP


def reenter(dev):
    """boot() after a soft reload: the image that ran before, nothing
    counted or written."""
    from .trial import Boot

    st = dev.load()
    if st.trial != NONE and st.attempts:
        res = Boot(st.trial, st.trial_version, st.trial_size, trial=True)
    else:
        res = Boot(st.active, st.active_version, st.active_size)
    dev.bank.enter(res.slot)
    return res


def reset():
    """Reset the board; does not return."""
    try:
        machine = __import__("machine")
    except ImportError:
        __import__("microcontroller").reset()  # CircuitPython
    else:
        machine.reset()
