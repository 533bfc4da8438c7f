# SPDX-License-Identifier: MIT
"""Install an update into the inactive slot (docs/AGENT.md, "Install").

manifest -> trust.verify_manifest with the device's facts (offer.py) ->
chunk table streamed into the scratch area and checked -> each chunk,
unit by unit: already in the slot (resume), same as the running slot's
range (copied locally: delta), or fetched, checked, inflated and checked
again (transfer.py) -> the whole slot read back against the image hash ->
slot selected for the next reset (bank.select) -> trial boot recorded.

trust.py decides; this module only orders the work and records progress.
Nothing here holds more than one buffer of image data.

Select, then record: a bootloader may refuse the slot (ESP32's set_boot()
checks the app image), and a refusal must leave nothing to undo. A power
cut between the two leaves the slot selected and no trial recorded; at
the next reset the bootloader starts the new image, whose boot() finds
no trial and the running slot not the active one, selects the active
slot again and asks for a reset (the same path as a revert cut short),
and the update is tried again from its recorded progress. A cut before
select() changes nothing the bootloader reads; a cut inside it (ESP-IDF
erases then writes the otadata entry it is not using) leaves the old
entry in charge.
"""

import binascii

from ..bundle import format as F
from ..bundle.error import BundleError
from ..bundle.table import Entry, Expect, TableCheck, same
from ..errors import AgentError
from ..sha256 import sha256
from ..source import SourceError
from ..state import log as L
from ..state.fields import NONE, rev_bytes
from . import offer
from .transfer import Transfer

from micropython import const


# Image bytes between two progress records: the units after the last
# record are checked against the table on resume, so a record per unit
# would only wear the state sectors.
_SAVE_EVERY = const(1048576)


def _hex(digest):
    return binascii.hexlify(bytes(digest)).decode()


def _sync(region):
    # A file region writes without flushing each time (flash/region.py).
    sync = getattr(region, "sync", None)
    if sync:
        sync()


class Report:
    """What an install did: outcome 'installed' or 'up-to-date', and how
    each chunk got into the slot."""

    def __init__(self):
        self.outcome = None
        self.version = 0
        self.label = ""
        self.slot = NONE
        self.chunks = 0
        self.fetched = 0  # downloaded
        self.copied = 0  # same as the running slot's range: copied locally
        self.reused = 0  # already in the slot (an interrupted install, an old image)
        self.bytes = 0  # stored bytes downloaded


class Install:
    def __init__(self, dev, src=None, progress=None, slot=None):
        self.dev = dev
        self.progress = progress
        self.force_slot = slot
        try:
            # The data buffer and the source's (an HTTPS source's TLS
            # context) are the largest pieces: see run().
            self.t = Transfer(dev, src or dev.source())
        except MemoryError:
            raise AgentError("no-memory")
        self.pump = self.t.pump
        self.entry = Entry()
        self.report = Report()
        self.stream = None  # runs.Stream, for a source that takes ranges

    @property
    def hold(self):
        return self.t.hold

    @hold.setter
    def hold(self, value):
        # Tests set (micropython.heap_lock, micropython.heap_unlock) to
        # prove the chunk loop allocates nothing.
        self.t.hold = value

    def run(self):
        try:
            return self._run()
        except MemoryError:
            # A heap too small or too cut up (the TLS context wants about
            # 40 KB in one piece): a refusal with its code like any other.
            # What was written stays, and the next install resumes there,
            # as after a power cut.
            raise AgentError("no-memory")

    def _run(self):
        dev = self.dev
        st = self.st = dev.load()
        if st.trial != NONE:
            raise AgentError("trial-pending")
        m = self.m = offer.manifest(dev, self.t.src, st, True)
        rep = self.report
        rep.version, rep.label, rep.chunks = m.version, m.label, m.chunk_count()
        if same(m.image_sha256, st.active_sha):
            rep.outcome = "up-to-date"
            return rep
        if same(m.image_sha256[:8], st.bad_sha):
            self._refuse(AgentError("reverted"))
        if m.suite:
            # The content key, from the device's own key: a bundle for
            # other devices is refused here, before anything is written.
            from .sealed import open_cipher

            try:
                self.t.cipher = open_cipher(dev, self.t.src, m)
            except BundleError as e:
                self._refuse(e)
        i = self.force_slot
        if i is None:
            i = dev.bank.next()
        if i is None:
            i = 1 - st.active
        rep.slot = i
        self.slot = dev.bank.regions[i]
        self.running = dev.bank.regions[1 - i]
        if m.image_size > self.slot.size or m.table_size() > dev.table.size:
            self._refuse(AgentError("no-room"))
        if not (same(st.p_sha, m.image_sha256) and st.p_slot == i):
            st.clear_progress()
            st.p_sha = m.image_sha256
            st.p_slot = i
            dev.log(st, L.INSTALL, value=m.version)
            dev.save(st)
        if not getattr(dev.bank, "resumable", True):
            # CircuitPython's dualbank erases the partition again in each
            # session: what an earlier one wrote is gone.
            st.p_units = 0
        if m.window_bits:
            self.t.room(True, m.window_bits)
        else:
            self.t.reserved = None
        self._table()
        self._units()
        self._readback()
        try:
            dev.bank.prepare(i, m.image_size)
        except AgentError as e:
            self._refuse(e)  # an app archive the board cannot unpack
        except RuntimeError:
            # A limit of the board met while unpacking (MicroPython's
            # recursion depth): refused and logged, never an escape.
            self._refuse(AgentError("bad-app"))
        try:
            # Before the trial is recorded: an image the bootloader
            # refuses (ESP32: not an app for this chip) leaves the
            # running slot selected and no trial (module docstring).
            dev.bank.select(i)
        except AgentError as e:
            self._refuse(e)
        st.trial = i
        st.attempts = 0
        st.flags = 0
        st.trial_version, st.trial_size, st.trial_sha = m.version, m.image_size, m.image_sha256
        st.trial_counter, st.trial_sequence = m.security_counter, m.sequence
        st.trial_rev = rev_bytes(m.source_rev)
        st.trial_sbom = m.sbom_sha256 or bytes(32)
        st.clear_progress()
        dev.log(st, L.INSTALLED, value=m.version)
        dev.save(st)
        rep.outcome = "installed"
        return rep

    def _refuse(self, err):
        offer.note(self.dev, self.st, L.VERIFY_FAIL, err.reason, self.m.version)
        raise err

    def _table(self):
        m, st, t = self.m, self.st, self.dev.table
        n = m.table_size()
        if st.p_table:
            # Stored by an earlier attempt: use it if it still checks out.
            check = TableCheck(m)
            self.pump.scan(t, 0, n, check)
            try:
                self._streams(check.finish())
                return
            except BundleError:
                pass
        t.erase_range(0, n)
        check = TableCheck(m)
        try:
            self.t.download("table/" + _hex(m.table_sha256), n, check, t, 0,
                            "missing-table", "truncated-table")
            self._streams(check.finish())
        except BundleError as e:
            self._refuse(e)
        _sync(t)
        st.p_table = 1
        self.dev.save(st)

    def _streams(self, total):
        # total: the stored bytes of every chunk, the stream file's size.
        src = self.t.src
        if getattr(src, "ranges", False):
            from . import runs

            self.stream = runs.Stream(src, runs.name(_hex(self.m.table_sha256)), total, self.pump)

    def _load(self, c):
        e = self.entry
        self.dev.table.read(c * F.ENTRY_SIZE, e.buf)
        e.load(self.m, c)
        return e

    def _units(self):
        try:
            self._loop()
        finally:
            if self.stream:
                self.stream.close()

    def _loop(self):
        m, st = self.m, self.st
        cs = m.chunk_size
        n = m.chunk_count()
        # An erase unit: chunks sharing a sector are erased (and so
        # written) together.
        unit = max(cs, self.slot.sector_size)
        per = unit // cs
        units = (m.image_size + unit - 1) // unit
        self.blank_full = self.pump.erased_digest(cs)
        self.blank_last = self.pump.erased_digest(m.chunk_len(n - 1)) if n else None
        # Imported here, not with this module: a board making its TLS
        # context after importing the agent has that much more room.
        from .plan import COPY, REUSE, Plan

        plan = self.plan = Plan(self, per)
        since = 0
        self.report.reused += min(st.p_units * per, n)
        for u in range(st.p_units, units):
            if u >= plan.u1:
                # Which chunks of the next units are in the slot already,
                # in the running slot, or to fetch (runs.py).
                plan.window(u, units, n)
            start = u * unit
            if plan.dirty[u - plan.u0]:
                # A range holds bytes that are neither its chunk nor
                # erased: the unit is erased and written whole.
                self.slot.erase_range(start, min(unit, self.slot.size - start))
            for c in range(u * per, min(u * per + per, n)):
                k = plan.kind[c - plan.c0]
                if k == REUSE:
                    self.report.reused += 1
                    self._tell(c, "reused")
                else:
                    self._chunk(c, k == COPY)
            st.p_units = u + 1
            since += unit
            if since >= _SAVE_EVERY and u + 1 < units:
                _sync(self.slot)  # what the record says is done, is
                self.dev.save(st)
                since = 0

    def _chunk(self, c, local):
        e = self._load(c)
        off = c * self.m.chunk_size
        if local:
            # The running slot holds this chunk already: no download.
            self.t.copy(self.running, self.slot, off, e)
            self.report.copied += 1
            self.st.p_copied += 1
            self._tell(c, "copied")
            return
        name = "chunks/" + _hex(e.stored_sha)
        run = self.stream
        if run:
            run.chunk(run.offset(c), run.run_end(c))
        try:
            if e.codec == F.CODEC_NONE and self.t.cipher is None:
                self.t.plain(name, self.slot, off, e, run)
            else:
                self.t.staged(name, self.slot, off, e, c, self.m, run)
        except (BundleError, SourceError) as err:
            offer.note(self.dev, self.st, L.CHUNK_FAIL, err.reason, c)
            raise
        self.report.fetched += 1
        self.report.bytes += e.stored_len
        self.st.p_fetched += 1
        self._tell(c, "fetched")

    def _readback(self):
        _sync(self.slot)
        m = self.m
        check = Expect(m.image_size, m.image_sha256, "hash-mismatch")
        written = getattr(self.slot, "written", None)
        try:
            if written is None:
                self.pump.scan(self.slot, 0, m.image_size, check)
                check.finish()
            elif not same(written(m.image_size), m.image_sha256):
                # A slot that cannot be read (CircuitPython's dualbank):
                # the SHA-256 of the bytes as they were written, in order.
                raise BundleError("hash-mismatch")
        except BundleError as e:
            # Check every unit again next time rather than trust progress,
            # stored even when the refusal was logged before and is not.
            cleared = self.st.p_units
            self.st.p_units = 0
            if not offer.note(self.dev, self.st, L.VERIFY_FAIL, e.reason, self.m.version) and cleared:
                self.dev.save(self.st)
            raise e

    def _tell(self, c, how):
        if self.progress:
            self.progress(c + 1, self.m.chunk_count(), how)
