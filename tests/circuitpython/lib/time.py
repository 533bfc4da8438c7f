# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `time`: monotonic(), monotonic_ns(),
sleep(), time(), localtime(), mktime() and nothing more: no ticks_ms,
ticks_add, ticks_diff or sleep_ms (MicroPython's), no gmtime.
The unix port's own module is reached as `utime` (extensible modules keep
a u-prefixed alias)."""

import utime as _t


def monotonic():
    return _t.ticks_ms() / 1000


def monotonic_ns():
    return _t.time_ns()


def sleep(seconds):
    _t.sleep(seconds)


def time():
    return int(_t.time())


def localtime(secs=None):
    return _t.localtime(secs) if secs is not None else _t.localtime()


def mktime(t):
    return _t.mktime(t)


class struct_time(tuple):
    pass
