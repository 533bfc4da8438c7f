# SPDX-License-Identifier: MIT
"""mpota: secure over-the-air updates for MicroPython and CircuitPython boards.

This is the on-device package. It also imports on CPython, where the host
tools reuse its verifier instead of keeping a second one.

The agent's entry points (docs/AGENT.md); each acts on the device that
mpota.device.use() chose, else on the one described by ./mpota.json:

  boot()      early in boot.py/main.py (code.py on CircuitPython): count
              a trial boot, revert after too many, put the chosen app on
              sys.path
  confirm()   from the application, after its own health check
  check()     fetch and verify what the source offers; change nothing
  install()   download, verify and write the offered image into the
              inactive slot, then mark it for a trial boot
  status()    the stored state (slots, counters, progress, audit log)

Every refusal is an mpota.Error with a short reason code in .reason
(AgentError, bundle.error.BundleError, source.SourceError,
flash.FlashError): `except mpota.Error as e` catches them all.
"""

try:
    import micropython
except ImportError:
    # CPython: each module says `from micropython import const`, as
    # MicroPython code does; stand in with const() alone (on a board the
    # compiler folds `_X = const(1)` away and const() is never called).
    import sys

    micropython = sys.modules["micropython"] = type(sys)("micropython")
    micropython.const = lambda x: x
del micropython

from .errors import Error  # noqa: E402,F401

__version__ = "0.1.0"
# Compared with a manifest's T_MIN_AGENT (docs/FORMAT.md).
AGENT_VERSION = 1


def _dev(device):
    from .device import current

    return device or current()


def boot(device=None):
    from . import restart, trial

    dev = _dev(device)
    if restart.soft_reload():
        # CircuitPython reloaded code.py: not a boot (restart.py).
        return restart.reenter(dev)
    res = trial.boot(dev)
    if res.reset:
        restart.reset()
    return res


def confirm(device=None):
    from . import trial

    return trial.confirm(_dev(device))


def check(device=None, source=None):
    from .update import offer

    return offer.check(_dev(device), source)


def install(device=None, source=None, progress=None):
    from .update.install import Install

    return Install(_dev(device), source, progress).run()


def status(device=None):
    return _dev(device).load()
