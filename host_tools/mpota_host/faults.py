# SPDX-License-Identifier: MIT
"""Ways for `mpota serve --fault` to misbehave on purpose.

Each mode breaks one promise of a file answer, so that tests (and a
person trying a board) can watch the device's transport fail cleanly and
its resume complete. N is a byte count unless said otherwise.
"""

import threading
import time

from .errors import CommandError

_BLOCK = 16 * 1024
_ENDLESS_LENGTH = 0x3FFFFFFF  # the largest length a device accepts

MODES = {
    "drop": "close the connection after N bytes of the body",
    "stall": "stop sending after N bytes of the body, keeping the connection open",
    "slow": "send the body at N bytes per second",
    "long": "declare N bytes more than the body, send the body, close",
    "short": "declare N bytes less than the body, send all of it",
    "corrupt": "flip the bits of the byte at file offset N",
    "ignore-range": "answer a Range request with the whole file (200)",
    "endless": "declare the largest length and send zeros until the client leaves",
}
_NEEDS_N = ("drop", "stall", "slow", "long", "short", "corrupt")
_STALL_LIMIT = 600  # seconds; the server's stop also ends a stall


class Fault:
    def __init__(self, mode, n, on, times):
        self.mode = mode
        self.n = n
        self.on = on
        self.left = times  # 0: every matching answer
        self.lock = threading.Lock()

    @staticmethod
    def summary():
        return "; ".join("{}{}: {}".format(m, ":N" if m in _NEEDS_N else "", d) for m, d in MODES.items())

    @classmethod
    def parse(cls, spec, on="", times=0):
        mode, _, arg = spec.partition(":")
        if mode not in MODES:
            raise CommandError("unknown fault {!r}; known: {}".format(mode, ", ".join(MODES)))
        if (mode in _NEEDS_N) != bool(arg):
            raise CommandError("fault {} {}".format(mode, "needs :N" if mode in _NEEDS_N else "takes no :N"))
        if arg and not arg.isdigit():
            raise CommandError("fault {}: N must be a whole number".format(mode))
        n = int(arg) if arg else 0
        if mode == "slow" and n == 0:
            raise CommandError("fault slow: N must be at least 1 byte per second")
        if times < 0:
            raise CommandError("--fault-times must be 0 or more")
        return cls(mode, n, on, times)

    def __str__(self):
        text = self.mode + (":{}".format(self.n) if self.mode in _NEEDS_N else "")
        if self.on:
            text += " on paths containing {!r}".format(self.on)
        if self.left:
            text += ", {} times".format(self.left)
        return text

    def applies(self, path):
        """Whether this answer misbehaves; counts it if so."""
        if self.on not in path:
            return False
        with self.lock:
            if self.left < 0:
                return False
            if self.left > 0:
                self.left -= 1
                if self.left == 0:
                    self.left = -1  # used up
            return True

    def declared(self, length):
        """The Content-Length to announce for a body of `length` bytes."""
        if self.mode == "long":
            return length + self.n
        if self.mode == "short":
            return max(0, length - self.n)
        if self.mode == "endless":
            return _ENDLESS_LENGTH
        return length

    def send(self, handler, f, start, end):
        """Write the body of file f[start:end] the faulty way. Returns True
        when the connection must close afterwards."""
        out = handler.wfile
        stopping = handler.server.stopping
        try:
            if self.mode == "endless":
                zeros = bytes(_BLOCK)
                while not stopping.is_set():
                    out.write(zeros)
                return True
            if self.mode == "slow":
                return self._slow(out, f, end - start, stopping)
            cut = end - start
            if self.mode in ("drop", "stall"):
                cut = min(self.n, cut)
            _copy(out, f, start, cut, self.n if self.mode == "corrupt" else -1)
            out.flush()
            if self.mode == "stall":
                stopping.wait(_STALL_LIMIT)
            return self.mode in ("drop", "stall", "long", "short")
        except OSError:
            return True  # the client left; nothing more to do

    def _slow(self, out, f, count, stopping):
        rate = self.n
        while count and not stopping.is_set():
            block = f.read(min(rate, count))
            if not block:
                break
            out.write(block)
            out.flush()
            count -= len(block)
            if count:
                time.sleep(1)
        return bool(count)


def _copy(out, f, start, count, flip_at):
    pos = start
    while count:
        block = f.read(min(_BLOCK, count))
        if not block:
            return
        if pos <= flip_at < pos + len(block):
            block = bytearray(block)
            block[flip_at - pos] ^= 0xFF
        out.write(block)
        pos += len(block)
        count -= len(block)
