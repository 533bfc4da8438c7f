# SPDX-License-Identifier: MIT
"""Firmware slots on CircuitPython's espressif boards (ESP32-S2/S3 with 8 MB
of flash or more): the two OTA app partitions, through the `dualbank`
module. docs/CIRCUITPYTHON.md says what this means for a trial.

`dualbank` offers two calls and nothing else:
  flash(buffer, *, offset=0)  write the partition that is not running; the
                              first call of a session erases it whole, and
                              must carry the image header (> 288 bytes)
  switch()                    boot the partition that is not running at
                              the next reset, after ESP-IDF validated the
                              image in flash (segments, checksum, SHA-256)
So, compared with MicroPython's esp32 bank:
- nothing can be read back: the install's read-back check becomes the
  SHA-256 of the bytes as written, in order (written()), and switch()
  then has ESP-IDF read the image back from flash and check it;
- an update cannot resume after a reset or a soft reload (each ends the
  session, and the next flash() erases the partition again): `resumable`
  is False and every install starts at byte 0;
- no delta: the running partition cannot be read either;
- nobody can ask which partition runs: running() is None, and the state
  record says which image runs. The boot partition only changes by
  switch(), which always points at the partition not running, so
  select() is right whenever its slot is not the running one, which is
  how trial.boot() and Install call it;
- CircuitPython builds ESP-IDF without bootloader rollback: the agent's
  count of trial boots (in code.py) is what reverts, by switch() and a
  reset. commit() has nothing to tell.
"""

from ..errors import AgentError
from ..flash import check_range
from ..sha256 import sha256

from micropython import const

_SECTOR = const(4096)
# The first flash() call must carry the image header, its first segment's
# header and the app description: 24 + 8 + 256 bytes, and more.
_HEAD = const(512)


class _Partition:
    """The partition being written, as a write-only region: reads see
    erased bytes, program() goes through dualbank.flash() in order."""

    def __init__(self, bank, size):
        self.bank = bank
        self.size = size
        self.sector_size = _SECTOR
        self.page_size = _SECTOR
        self.write_size = 1
        self.erased = 0xFF

    def read(self, addr, buf):
        check_range(self.size, addr, len(buf))
        for i in range(len(buf)):
            buf[i] = 0xFF

    def program(self, addr, buf):
        check_range(self.size, addr, len(buf))
        self.bank._write(addr, buf)

    def erase(self, addr):
        check_range(self.size, addr, self.sector_size)

    def erase_range(self, addr, n):
        check_range(self.size, addr, n)

    def written(self, n):
        """SHA-256 of the first n bytes as written (erased where none
        were); the install's read-back check."""
        return self.bank._digest(n)


class DualBank:
    bootloader = True
    resumable = False
    flashed = False  # dualbank.flash() was called in this session

    def __init__(self, slot_size, state_dir=None, module=None):
        if module is None:
            import dualbank as module
        self.dualbank = module
        if state_dir:
            # The state, root, table and scratch files live there.
            import os

            try:
                os.mkdir(state_dir)
            except OSError:
                pass
        self.regions = [_Partition(self, slot_size), _Partition(self, slot_size)]
        self._begin()

    def _begin(self):
        self._head = bytearray(b"\xff" * _HEAD)
        self._in_head = 0  # bytes of the head gathered
        self._pos = 0  # bytes hashed (and, past the head, flashed)
        self._h = sha256()

    def running(self):
        return None

    def next(self):
        return None

    def _write(self, addr, buf):
        if addr == 0:
            if DualBank.flashed:
                # This session wrote the partition already, and dualbank
                # can write offset 0 only once per session: a new install
                # needs a reset first.
                raise AgentError("io")
            self._begin()
        n = len(buf)
        if addr < self._pos or addr < self._in_head:
            raise AgentError("io")  # dualbank writes in order, once
        if addr < _HEAD and not self._pos:
            take = min(n, _HEAD - addr)
            self._head[addr:addr + take] = buf[:take]
            self._in_head = addr + take
            if self._in_head < _HEAD:
                return
            self._flush_head()
            if take == n:
                return
            buf = memoryview(buf)[take:]
            addr += take
            n -= take
        elif self._in_head:
            self._in_head = _HEAD  # the rest of the head stays erased
            self._flush_head()
        self._gap(addr)
        self._flash(buf, addr)
        self._h.update(buf)
        self._pos = addr + n

    def _flush_head(self):
        head = memoryview(self._head)[:self._in_head]
        self._flash(head, 0)
        self._h.update(head)
        self._pos = self._in_head
        self._in_head = 0

    def _gap(self, addr):
        # Bytes never written (chunks of erased bytes, which the install
        # skips) are erased in the partition already: hash them as such.
        ff = b"\xff" * 64
        while self._pos < addr:
            k = min(64, addr - self._pos)
            self._h.update(ff[:k])
            self._pos += k

    def _flash(self, buf, addr):
        DualBank.flashed = True
        try:
            self.dualbank.flash(buf, offset=addr)
        except RuntimeError:
            # "Firmware is duplicate" (the same version string as the
            # running firmware), "Firmware is too big", "Update failed".
            raise AgentError("unbootable")

    def _digest(self, n):
        if self._in_head:
            self._in_head = min(n, _HEAD)
            self._flush_head()
        self._gap(n)
        d = self._h.digest()
        self._begin()
        return d

    def prepare(self, i, size):
        pass

    def select(self, i):
        try:
            self.dualbank.switch()
        except RuntimeError:
            # ESP-IDF found no valid image there ("Firmware is invalid").
            raise AgentError("unbootable")

    def enter(self, i):
        pass

    def commit(self, i):
        pass
