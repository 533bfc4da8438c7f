# SPDX-License-Identifier: MIT
"""What a board is: MicroPython, CircuitPython or neither, which .mpy it
loads, which native architecture, whether it has the ed25519 C module or
the agent already, and (CircuitPython) whether its code may write."""

import json

from ..errors import CommandError

# MicroPython's native architectures, by their number in the .mpy header
# (py/persistentcode.h).
ARCHS = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
         "armv7emdp", "xtensa", "xtensawin", "rv32imc")
# Thumb code runs on every later Thumb core of the family.
_THUMB = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")

# Run on the board before anything is installed: only built-in modules.
_PROBE = """
import sys, gc, json, os
i = sys.implementation
f = {'name': i.name, 'version': list(i.version[:3]), 'mpy': getattr(i, '_mpy', 0),
     'machine': getattr(i, '_machine', ''), 'platform': sys.platform, 'path': list(sys.path)}
try:
    import ed25519
    f['ed25519'] = getattr(ed25519, '__file__', 'built-in') if hasattr(ed25519, 'verify') else None
except ImportError:
    f['ed25519'] = None
try:
    import mpota
    f['agent'] = mpota.__version__
    f['agent_file'] = getattr(mpota, '__file__', '')
    try:
        os.stat(f['agent_file'])
        f['agent_on_fs'] = True
    except OSError:
        f['agent_on_fs'] = False
except ImportError:
    f['agent'] = None
if i.name == 'circuitpython':
    # Whether the code may write CIRCUITPY (boot.py remounted it).
    try:
        import storage
        f['readonly'] = storage.getmount('/').readonly
    except (ImportError, AttributeError, OSError):
        f['readonly'] = None
gc.collect()
f['heap_free'] = gc.mem_free()
f['heap_used'] = gc.mem_alloc()
print(json.dumps(f))
"""


def mpy_header(data):
    """(version, sub-version, arch name) from the first bytes of a .mpy."""
    if len(data) < 4 or data[0:1] != b"M":
        raise CommandError("not a .mpy file")
    feat = data[2]
    arch = feat >> 2
    return data[1], feat & 3, ARCHS[arch] if arch < len(ARCHS) else "arch-{}".format(arch)


def native_loads_on(native, board):
    """Whether a native module built for arch `native` loads on a board
    of arch `board` (MPY_FEATURE_ARCH_TEST)."""
    if native in _THUMB and board in _THUMB:
        return _THUMB.index(native) <= _THUMB.index(board)
    return native == board


class Board:
    def __init__(self, facts):
        self.facts = facts
        self.name = facts["name"]
        self.version = ".".join(str(v) for v in facts["version"])
        mpy = facts["mpy"]
        self.mpy = (mpy & 0xFF, (mpy >> 8) & 3)
        arch = mpy >> 10
        self.arch = ARCHS[arch] if arch < len(ARCHS) else "arch-{}".format(arch)
        self.machine = facts["machine"]
        self.platform = facts["platform"]
        self.path = facts["path"]
        self.ed25519 = facts["ed25519"]
        self.agent = facts["agent"]
        self.agent_file = facts.get("agent_file", "")

    @property
    def c_module(self):
        """The firmware has ed25519 built in (not a .mpy in the filesystem)."""
        return self.ed25519 == "built-in"

    @property
    def frozen_agent(self):
        """The agent is frozen into the firmware. Before MicroPython 1.25 a
        frozen module's __file__ starts with ".frozen/"; from 1.25 on it is
        the bare "mpota/__init__.py", which the filesystem does not hold
        (a package in the current directory has that __file__ too, but
        its file is there)."""
        if self.agent is None or not self.agent_file:
            return False
        return self.agent_file.startswith(".frozen") or not self.facts.get("agent_on_fs", True)

    def describe(self):
        return "{} ({} {}, {}{})".format(self.machine or self.platform, self.name, self.version,
                                         self.platform, ", " + self.arch if self.arch else "")

    def lib(self):
        """Where installed packages go: the board's lib directory on sys.path."""
        for p in self.path:
            if p == "lib" or p.endswith("/lib"):
                return p
        raise CommandError("the board has no lib directory on sys.path ({})".format(
            ", ".join(repr(p) for p in self.path)))

    @property
    def circuitpython(self):
        return self.name == "circuitpython"

    @property
    def readonly(self):
        """CircuitPython: the code may not write CIRCUITPY (None: unknown)."""
        return self.facts.get("readonly")

    def check_micropython(self):
        """A runtime `mpota device` drives: MicroPython that loads .mpy v6,
        or CircuitPython (which gets .py sources)."""
        if self.circuitpython:
            return
        if self.name != "micropython":
            raise CommandError("wrong board: it runs {} {}; mpota device needs MicroPython or "
                               "CircuitPython".format(self.name, self.version))
        if self.mpy[0] != 6:
            raise CommandError("wrong board: MicroPython {} loads .mpy v{}; the agent needs a "
                               "MicroPython that loads v6 (1.19 or later)".format(self.version, self.mpy[0]))


# Run on the board before a command that writes or resets: the runtime
# and, on CircuitPython, whether its code may write CIRCUITPY. It leaves
# nothing behind (a push measures the heap after it).
_RUNTIME = """
import sys
_r = [sys.implementation.name, None]
if _r[0] == 'circuitpython':
    try:
        import storage
        _r[1] = storage.getmount('/').readonly
    except (ImportError, AttributeError, OSError):
        pass
print(repr(_r[0]), repr(_r[1]))
del _r
"""


def runtime(link):
    """(sys.implementation.name, CIRCUITPY read-only to code or None)."""
    name, readonly = link.exec(_RUNTIME)[-1].split(" ")
    return name.strip("'\""), {"True": True, "False": False}.get(readonly)


def probe(link):
    lines = link.exec(_PROBE)
    for line in reversed(lines):
        if line.startswith("{"):
            return Board(json.loads(line))
    raise CommandError("the board did not describe itself: is it running MicroPython?")
