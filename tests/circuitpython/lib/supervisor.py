# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `supervisor`: runtime.run_reason, reload(),
ticks_ms().

run_reason comes from CPY_STANDIN_RUN_REASON (startup, auto_reload,
supervisor_reload, reload_hotkey), as the board sets it for each VM run of
code.py. reload() ends the run (status 0) after noting it in
CPY_STANDIN_FLASH/reloads.
"""

import os
import sys
import utime as _t


class RunReason:
    STARTUP = "startup"
    AUTO_RELOAD = "auto_reload"
    SUPERVISOR_RELOAD = "supervisor_reload"
    REPL_RELOAD = "reload_hotkey"


class _Runtime:
    def __init__(self):
        self.run_reason = os.getenv("CPY_STANDIN_RUN_REASON") or RunReason.STARTUP
        self.autoreload = True
        self.usb_connected = True
        self.serial_connected = True


runtime = _Runtime()


def reload():
    with open((os.getenv("CPY_STANDIN_FLASH") or ".") + "/reloads", "a") as f:
        f.write("reload\n")
    sys.exit(0)


def ticks_ms():
    # A 29-bit millisecond count that wraps, as the board's.
    return _t.ticks_ms() & ((1 << 29) - 1)
