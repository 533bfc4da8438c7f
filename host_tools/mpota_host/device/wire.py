# SPDX-License-Identifier: MIT
"""The host's half of the serial wire protocol: answer a board's requests
for files with frames, and read the answer lines of mpota.bringup.
The layout is specified once, in firmware/mpota/source/serial.py (the
board's half) and docs/BRINGUP.md.
"""

import binascii
import json
import os
import re
import struct

from ..errors import BoardError

MAGIC = b"MF"
OK = 0
NOT_FOUND = 1
HOST_ERROR = 2
# A board never asks for more at once (its buffer is at most a flash page,
# a document at most 1610 bytes); link.FLUSH is sized from it.
MAX_PAYLOAD = 4096
PREFIX = "~~"

BUNDLE_NAME = re.compile(r"(manifest|table/[0-9a-f]{64}|chunks/[0-9a-f]{64}|roots/[0-9]{1,10}"
                         r"|keys/[0-9a-f]{16})\Z")


def frame(seq, status, payload=b""):
    head = MAGIC + bytes((status, seq)) + struct.pack("<I", len(payload))
    crc = binascii.crc32(payload, binascii.crc32(head))
    return head + bytes(payload) + struct.pack("<I", crc)


class FileServer:
    """Files under `root` for a board that asks for them by name; only
    names `permitted` accepts (a board cannot read outside the bundle).
    Counts what it sent: files opened per kind, payload bytes."""

    def __init__(self, root, permitted):
        self.root = root
        self.permitted = permitted
        self.f = None
        self.opened = {}
        self.sent = 0

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None

    def answer(self, kind, seq, args):
        if kind == "O":
            name, _, offset = args.rpartition(" ")
            return frame(seq, self._open(name, offset))
        if kind == "R":
            if self.f is None or not args.isdigit():
                return frame(seq, HOST_ERROR)
            try:
                data = self.f.read(min(int(args), MAX_PAYLOAD))
            except OSError:
                return frame(seq, HOST_ERROR)
            self.sent += len(data)
            return frame(seq, OK, data)
        raise BoardError("the board sent an unknown request: {}".format(kind), "protocol")

    def _open(self, name, offset):
        self.close()
        if not self.permitted(name) or not offset.isdigit():
            return NOT_FOUND
        try:
            self.f = open(os.path.join(self.root, *name.split("/")), "rb")
            if int(offset):
                self.f.seek(int(offset))
        except FileNotFoundError:
            return NOT_FOUND
        except OSError:
            self.close()
            return HOST_ERROR
        kind = name.split("/")[0]
        self.opened[kind] = self.opened.get(kind, 0) + 1
        return OK


def as_text(whole):
    """A frame for a board whose line carries text only (it asked with ~~o
    or ~~r): head, payload and tail, each in base64 on its own."""
    end = len(whole) - 4
    return b"".join(binascii.b2a_base64(part, newline=False) for part in (whole[:8], whole[8:end], whole[end:]))


class Answer:
    """How a call into mpota.bringup ended: result (the ~~D object) or
    failure (kind, reason from ~~E); other printed lines; a traceback."""

    def __init__(self):
        self.result = None
        self.failure = None
        self.lines = []
        self.error = ""


def converse(link, code, server=None, progress=None, timeout=60.0):
    """Run code on the board (a call through mpota.bringup.call), serving
    its file requests from server and passing ~~P lines to progress(done,
    total, how). timeout: the longest silence allowed."""
    link.start(code)
    ans = Answer()
    while True:
        line = link.line(timeout)
        if line is None:
            break
        if not line.startswith(PREFIX):
            ans.lines.append(line)
            continue
        kind, _, rest = line[len(PREFIX):].partition(" ")
        if kind in ("O", "R", "o", "r"):
            seq, _, args = rest.partition(" ")
            if server is None or not seq.isdigit():
                raise BoardError("the board asked for a file unexpectedly", "protocol")
            answer = server.answer(kind.upper(), int(seq) & 0xFF, args)
            link.write(answer if kind.isupper() else as_text(answer))
        elif kind == "P":
            done, total, how = (rest.split(" ") + ["", "", ""])[:3]
            if progress and done.isdigit() and total.isdigit():
                progress(int(done), int(total), how)
        elif kind == "D":
            ans.result = json.loads(rest)
            if isinstance(ans.result, dict) and ans.result.get("reset"):
                # The board resets now: nothing more comes in this call.
                return ans
        elif kind == "E":
            what, _, reason = rest.partition(" ")
            ans.failure = (what, reason)
        else:
            ans.lines.append(line)
    ans.error = link.finish(timeout)
    return ans
