"""Install an update into the inactive slot (docs/AGENT.md, "Install").

manifest -> trust.verify_manifest with the device's facts -> chunk table
streamed into the scratch area and checked -> each chunk, unit by unit:
already in the slot (resume), same as the running slot's range (copied
locally: delta), or fetched, checked, inflated and checked again -> the
whole slot read back against the image hash -> trial boot marked.

trust.py decides; this module only moves bytes and records progress.
Nothing here holds more than one buffer of image data.
"""

import binascii

from .. import AGENT_VERSION
from ..bundle import format as F
from ..bundle import trust
from ..bundle.error import BundleError
from ..bundle.table import Entry, Expect, TableCheck, same
from ..errors import AgentError
from ..sha256 import sha256
from ..source import SourceError
from ..state import log as L
from ..state.fields import NONE
from . import fetch
from .pump import Pump, RegionReader

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# Image bytes between two progress records: the units after the last
# record are checked against the table on resume, so a record per unit
# would only wear the state sectors.
_SAVE_EVERY = const(65536)
# The decompressor's state besides its window (uzlib's trees and buffers).
_INFLATE_STATE = const(2048)
_OK = const(0)
_BLANK = const(1)
_DIRTY = const(2)


def _hex(digest):
    return binascii.hexlify(bytes(digest)).decode()


def _note(dev, st, event, reason, value):
    # Log a failure once: the same refusal at every check would fill the
    # ring and wear the flash.
    code = L.reason_code(reason)
    last = st.last()
    if last and last[0] == event and last[1] == code and last[2] == value:
        return
    dev.log(st, event, reason, value)
    dev.save(st)


def _manifest(dev, src, st, buf, persist):
    # The verified manifest the source offers, after any root rotation.
    def rotated(doc, root):
        dev.roots.save(doc)
        st.root_version = root.version
        dev.log(st, L.ROOT, value=root.version)
        dev.save(st)

    try:
        root = fetch.newest_root(dev, src, dev.root(), buf, rotated if persist else None)
        doc = fetch.read_doc(dev, src, "manifest", buf, "missing-manifest")
        return trust.verify_manifest(
            root, doc, now=dev.now(), agent_version=AGENT_VERSION,
            min_security_counter=st.min_counter, last_sequence=st.last_sequence,
            **dev.facts())
    except BundleError as e:
        if persist:
            _note(dev, st, L.VERIFY_FAIL, e.reason, 0)
        raise


def check(dev, src=None):
    """(manifest, 'update' or 'up-to-date') for what the source offers.
    Writes nothing; a refusal raises BundleError."""
    st = dev.load()
    m = _manifest(dev, src or dev.source(), st, bytearray(F.MAX_DOC + 1), False)
    return m, "up-to-date" if same(m.image_sha256, st.active_sha) else "update"


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
        self.reused = 0  # already in the slot from an interrupted install
        self.bytes = 0  # stored bytes downloaded


class Install:
    def __init__(self, dev, src=None, progress=None, slot=None):
        self.dev = dev
        self.src = src or dev.source()
        self.progress = progress
        self.force_slot = slot
        self.pump = Pump(dev.buffer, dev.pad)
        self.entry = Entry()
        self.report = Report()
        # Tests set (micropython.heap_lock, micropython.heap_unlock).
        self.hold = None
        self.reserved = None
        if dev.inflate_bits:
            self._room(True, dev.inflate_bits)

    def run(self):
        dev = self.dev
        st = self.st = dev.load()
        if st.trial != NONE:
            raise AgentError("trial-pending")
        m = self.m = _manifest(dev, self.src, st, bytearray(F.MAX_DOC + 1), True)
        rep = self.report
        rep.version, rep.label, rep.chunks = m.version, m.label, m.chunk_count()
        if same(m.image_sha256, st.active_sha):
            rep.outcome = "up-to-date"
            return rep
        if same(m.image_sha256[:8], st.bad_sha):
            self._refuse(AgentError("reverted"))
        i = self.force_slot if self.force_slot is not None else 1 - st.active
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
        if m.window_bits:
            self._room(True)
        else:
            self.reserved = None
        self._table()
        self._units()
        self._readback()
        dev.bank.prepare(i, m.image_size)
        st.trial = i
        st.attempts = 0
        st.trial_version, st.trial_size, st.trial_sha = m.version, m.image_size, m.image_sha256
        st.trial_counter, st.trial_sequence = m.security_counter, m.sequence
        st.clear_progress()
        dev.log(st, L.INSTALLED, value=m.version)
        dev.save(st)
        dev.bank.select(i)
        rep.outcome = "installed"
        return rep

    def _refuse(self, err):
        _note(self.dev, self.st, L.VERIFY_FAIL, err.reason, self.m.version)
        raise err

    # Chunk table -----------------------------------------------------------

    def _table(self):
        m, st, t = self.m, self.st, self.dev.table
        n = m.table_size()
        if st.p_table:
            # Stored by an earlier attempt: use it if it still checks out.
            check = TableCheck(m)
            self.pump.scan(t, 0, n, check)
            try:
                check.finish()
                return
            except BundleError:
                pass
        t.erase_range(0, n)
        check = TableCheck(m)
        try:
            self._download("table/" + _hex(m.table_sha256), n, check, t, 0,
                           "missing-table", "truncated-table", None)
            check.finish()
        except BundleError as e:
            self._refuse(e)
        st.p_table = 1
        self.dev.save(st)

    def _load(self, c):
        e = self.entry
        self.dev.table.read(c * F.ENTRY_SIZE, e.buf)
        e.load(self.m, c)
        return e

    # Units and chunks ------------------------------------------------------

    def _units(self):
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
        need = bytearray(per)
        since = 0
        self.report.reused += min(st.p_units * per, n)
        for u in range(st.p_units, units):
            c0 = u * per
            c1 = min(c0 + per, n)
            self._survey(u * unit, unit, c0, c1, need)
            for c in range(c0, c1):
                if need[c - c0]:
                    self._chunk(c)
                else:
                    self.report.reused += 1
                    self._tell(c, "reused")
            st.p_units = u + 1
            since += unit
            if since >= _SAVE_EVERY and u + 1 < units:
                self.dev.save(st)
                since = 0

    def _survey(self, start, unit, c0, c1, need):
        # Which chunks of the unit must be written; erase it if any range
        # holds bytes that are neither the chunk nor erased.
        dirty = False
        for c in range(c0, c1):
            e = self._load(c)
            h = sha256()
            self.pump.scan(self.slot, c * self.m.chunk_size, e.raw_len, h)
            d = h.digest()
            if same(d, e.raw_sha):
                need[c - c0] = 0
            else:
                need[c - c0] = 1
                blank = self.blank_full if e.raw_len == self.m.chunk_size else self.blank_last
                dirty = dirty or not same(d, blank)
        if dirty:
            self.slot.erase_range(start, min(unit, self.slot.size - start))
            for c in range(c0, c1):
                need[c - c0] = 1

    def _chunk(self, c):
        e = self._load(c)
        off = c * self.m.chunk_size
        n = e.raw_len
        h = sha256()
        self.pump.scan(self.running, off, n, h)
        if same(h.digest(), e.raw_sha):
            self._copy(c, e, off)
            return
        try:
            if e.codec == F.CODEC_NONE:
                check = Expect(e.stored_len, e.stored_sha, "truncated-chunk")
                self._download("chunks/" + _hex(e.stored_sha), e.stored_len, check,
                               self.slot, off, "missing-chunk", "truncated-chunk", self.hold)
                check.finish()
            else:
                self._deflated(c, e, off)
        except (BundleError, SourceError) as err:
            _note(self.dev, self.st, L.CHUNK_FAIL, err.reason, c)
            raise
        self.report.fetched += 1
        self.report.bytes += e.stored_len
        self.st.p_fetched += 1
        self._tell(c, "fetched")

    def _copy(self, c, e, off):
        # The running slot holds this chunk already: no download.
        check = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
        p = self.pump
        p.start(self.slot, off, e.raw_len, check)
        p.hold = self.hold
        p.run(RegionReader(self.running, off))
        check.finish()
        self.report.copied += 1
        self.st.p_copied += 1
        self._tell(c, "copied")

    def _deflated(self, c, e, off):
        from ..bundle import inflate
        from .stream import RegionStream

        area = self.dev.chunks
        stride = (self.m.chunk_size + area.sector_size - 1) // area.sector_size * area.sector_size
        places = area.size // stride
        if not places:
            raise AgentError("no-room")
        # Rotate through the scratch area to spread its erases.
        at = (c % places) * stride
        area.erase_range(at, e.stored_len)
        stored = Expect(e.stored_len, e.stored_sha, "truncated-chunk")
        self._download("chunks/" + _hex(e.stored_sha), e.stored_len, stored, area, at,
                       "missing-chunk", "truncated-chunk", self.hold)
        stored.finish()
        # Only bytes whose stored hash matched reach the decompressor.
        stream = RegionStream(area, at, e.stored_len)
        raw = Expect(e.raw_len, e.raw_sha, "truncated-chunk")
        p = self.pump
        p.start(self.slot, off, e.raw_len, raw)
        p.hold = self.hold
        self._room(False)
        try:
            rd = inflate.reader(stream, self.m.window_bits)
            if not p.run(rd, prime=True):
                raise BundleError("truncated-chunk")
            if p.extra(rd):
                raise BundleError("too-large")
        finally:
            rd = None
            self._room(True)
        raw.finish()

    def _room(self, keep, bits=None):
        # The decompressor allocates its window (2^window_bits bytes) and
        # state for every chunk. A block that size is reserved early and
        # handed over for each chunk, so that a heap fragmented meanwhile
        # still has the space. Best effort: without it the decompressor
        # may still find room.
        import gc

        size = (1 << (bits or self.m.window_bits)) + _INFLATE_STATE
        if keep and self.reserved is not None and len(self.reserved) >= size:
            return
        self.reserved = None
        gc.collect()
        if keep:
            try:
                self.reserved = bytearray(size)
            except MemoryError:
                pass

    def _download(self, name, n, check, region, addr, missing, short, hold):
        # Stream a file of n bytes into region at addr. A dropped transfer
        # is reopened at the first byte not yet received, as long as each
        # attempt gets further than the last or retries remain.
        p = self.pump
        p.start(region, addr, n, check)
        p.hold = hold
        failures = 0
        while True:
            before = p.done
            try:
                r = self.src.open(name, p.done)
            except SourceError as e:
                if e.reason == "not-found":
                    raise BundleError(missing)
                r = None
                err = e
            if r is not None:
                try:
                    if p.run(r):
                        if p.extra(r):
                            raise BundleError("too-large")
                        return
                    raise BundleError(short)
                except SourceError as e:
                    err = e
                finally:
                    r.close()
            if p.done > before:
                failures = 0
            failures += 1
            if failures > self.dev.retries:
                raise err
            fetch.backoff(self.dev, failures)

    def _readback(self):
        m = self.m
        check = Expect(m.image_size, m.image_sha256, "hash-mismatch")
        self.pump.scan(self.slot, 0, m.image_size, check)
        try:
            check.finish()
        except BundleError as e:
            # Check every unit again next time rather than trust progress.
            self.st.p_units = 0
            self._refuse(e)

    def _tell(self, c, how):
        if self.progress:
            self.progress(c + 1, self.m.chunk_count(), how)
