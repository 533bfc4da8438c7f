# SPDX-License-Identifier: MIT
"""A source fed by the host over the board's serial line: the REPL's own
stdin and stdout, while `mpota device push` (or install) drives the board
(docs/BRINGUP.md, "Wire protocol").

The board asks, one text line at a time on stdout, and the host answers
each request with one binary frame on stdin:

  ~~O <seq> <name> <offset>   open bundle file <name> from byte <offset>
  ~~R <seq> <n>               the next at most n bytes of the open file

  frame   offset 0   2  magic "MF"
                 2   1  status: 0 ok, 1 not found, 2 the host could not read it
                 3   1  <seq> of the request it answers (1 to 255, wrapping)
                 4   4  payload length L, u32 little-endian: 0 for an open,
                        at most n for a read, 0 only at the end of the file
                 8   L  payload
                 8+L 4  CRC-32 of bytes 0 .. 8+L, u32 little-endian

A board whose stdin carries text only (CircuitPython: no sys.stdin.buffer,
and no micropython.kbd_intr, so a 0x03 byte would be Ctrl-C) asks with
~~o and ~~r instead, and the host sends each frame as three base64 texts:
the 8-byte head, the payload, the 4-byte tail, each encoded on its own
(the board knows each part's length before it reads it). The frame inside
is the same.

The host is not trusted: the agent checks every byte it gets against the
signed manifest and chunk table, as with any source. The frame checks only
tell a frame from noise. A frame that does not check out means the line no
longer carries the host's answers (the cable was pulled and a new host
flushed the line to take it back, or another program opened the port), so
the reader raises LineLost, which the agent does not catch: the install
stops where it was and resumes from its state record on the next push.
"""

from ..crc32 import crc32
from . import SourceError

from micropython import const


_M = const(0x4D)  # "M"
_F = const(0x46)  # "F"
_HEAD = const(8)
_TAIL = const(4)
_OK = const(0)
_NOT_FOUND = const(1)


class LineLost(Exception):
    """The serial line stopped carrying frames from the host."""


def _u32(b, at):
    return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24


class _Reader:
    def __init__(self, src):
        self.src = src

    def readinto(self, buf):
        if not len(buf):
            raise ValueError("empty buffer")
        src = self.src
        src.ask("R", len(buf))
        status, n = src.frame(buf)
        if status != _OK:
            raise SourceError("io")
        return n

    def close(self):
        # The host drops the file when the board opens the next one.
        pass


class _Base64In:
    """The frames' bytes from a line that carries text: each readinto()
    reads one part of a frame in base64 and decodes it."""

    def __init__(self, stream):
        self.stream = stream

    def readinto(self, buf):
        import binascii

        n = len(buf)
        try:
            data = binascii.a2b_base64(self.stream.read((n + 2) // 3 * 4))
        except ValueError:
            raise LineLost()
        if len(data) == n:
            buf[:] = data
        return len(data)


def stdio():
    """A SerialSource on the board's own stdin and stdout: binary frames
    through sys.stdin.buffer where there is one, else base64 frames
    through sys.stdin (CircuitPython)."""
    import sys

    inp = getattr(sys.stdin, "buffer", None)
    if inp is None:
        return SerialSource(_Base64In(sys.stdin), sys.stdout, text=True)
    return SerialSource(inp, sys.stdout)


class SerialSource:
    def __init__(self, inp, out, text=False):
        """inp: the line from the host (sys.stdin.buffer), out: to it
        (sys.stdout); text: inp decodes base64 frames (_Base64In), and
        requests say so (~~o, ~~r)."""
        self.inp = inp
        self.out = out
        self.text = text
        self.head = bytearray(_HEAD)
        self.tail = bytearray(_TAIL)
        self.seq = 0
        self.reader = _Reader(self)

    def ask(self, kind, what):
        # Again before every frame: mpremote's mount turns Ctrl-C back on
        # after each file operation it serves.
        binary(True)
        self.seq = self.seq % 255 + 1
        self.out.write("~~{} {} {}\n".format(kind.lower() if self.text else kind, self.seq, what))

    def frame(self, buf):
        """Read the answer to the last request, its payload into buf;
        return (status, payload length)."""
        h = self.head
        if self.inp.readinto(h) != _HEAD or h[0] != _M or h[1] != _F or h[3] != self.seq:
            raise LineLost()
        n = _u32(h, 4)
        if n > (0 if buf is None else len(buf)):
            raise LineLost()
        crc = crc32(h)
        if n:
            view = buf if n == len(buf) else memoryview(buf)[:n]
            if self.inp.readinto(view) != n:
                raise LineLost()
            crc = crc32(view, crc)
        t = self.tail
        if self.inp.readinto(t) != _TAIL or crc & 0xFFFFFFFF != _u32(t, 0):
            raise LineLost()
        return h[2], n

    def open(self, name, offset=0):
        self.ask("O", "{} {}".format(name, offset))
        status, _ = self.frame(None)
        if status == _NOT_FOUND:
            raise SourceError("not-found")
        if status != _OK:
            raise SourceError("io")
        return self.reader

    def __repr__(self):
        return "SerialSource()"


def binary(on):
    """While on, a 0x03 byte on stdin is data, not Ctrl-C: frames carry
    any byte. Boards whose REPL cannot be interrupted lack kbd_intr."""
    try:
        import micropython
    except ImportError:
        return
    kbd_intr = getattr(micropython, "kbd_intr", None)
    if kbd_intr is not None:
        kbd_intr(-1 if on else 3)


def receive(names, dest, size=1024):
    """Copy files from the host into dest/<name>, each through the same
    requests as a bundle file (mpota device install). Their directories
    must exist. Return the bytes written."""
    src = stdio()
    buf = bytearray(size)
    total = 0
    try:
        for name in names:
            total += _copy(src.open(name, 0), dest + "/" + name, buf)
    finally:
        binary(False)
    return total


def _copy(r, path, buf):
    size = len(buf)
    total = 0
    with open(path, "wb") as f:
        while True:
            n = r.readinto(buf)
            if not n:
                return total
            f.write(buf if n == size else memoryview(buf)[:n])
            total += n
