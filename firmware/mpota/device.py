# SPDX-License-Identifier: MIT
"""A device: its configuration and the flash, state, slots and source it
implies (docs/AGENT.md, "Configuration").

The configuration is a JSON object (a file, mpota.json by default):

  product, device_class, hw_rev   facts a manifest must fit (hw_rev optional)
  target            "app" or "firmware" (what the slots hold)
  bank              "flash" (two regions of a flash chip model on the unix
                    port, file "flash"), "dir" (two directories, "dir"),
                    "esp32" (the OTA partitions; state files under "dir")
                    "dualbank" (CircuitPython's OTA partitions, through
                    its dualbank module; state files under "dir")
  flash             {"file", "sector", "page", "write"}: the chip model;
                    {"ram": address, ...}: spare RAM as the chip (flash/ram.py);
                    {"rp2": start}: a raw region of an RP2040's flash, from
                    start bytes into its storage area (flash/rp2flash.py)
  slot_size         bytes per slot; table_size, chunk_area: scratch bytes
  source            a bundle directory, or an https:// (http://) URL
  ca, allow_http    the pinned CA file for https; plain http only if true
  max_attempts      trial boots before reverting (default 3)
  buffer            data buffer bytes (default 1024, a power of two)
  inflate_bits      deflate window reserved at the start of an install
                    (default 12: 4 KB; 0: none), see update.install
  retries, backoff_ms   transfer retries per file, first backoff
  clock             false on a board without a trusted clock: expiry is
                    then judged against the time floor alone (clock.py);
                    "now": a fixed clock reading (tests, demos)
  device_id         this device's stable id (staged rollouts, fleet reports)
  poll_min, poll_max  bounds on a rollout's poll hint, seconds
  decrypt_keys      files of this device's X25519 private keys (32 raw
                    bytes each: its own, its class's) for encrypted
                    bundles; never shown, only their public ids
"""

import time

from .errors import AgentError
from .state import RootStore, StateStore, fields
from .state import record

_UNIX_2000 = 946684800  # seconds from 1970 to 2000


def _round(n, unit):
    return (n + unit - 1) // unit * unit


class Device:
    def __init__(self, config, base="."):
        self.cfg = config
        self.base = base.rstrip("/") or "/"
        kind = config.get("bank", "flash")
        if kind == "esp32" and config.get("target", "app") == "app":
            # OTA partitions hold firmware: set_boot() refuses anything else.
            raise AgentError("config")
        if kind == "flash":
            parts = self._flash_layout()
        elif kind in ("dir", "esp32", "dualbank"):
            parts = self._dir_layout(kind)
        else:
            raise AgentError("config")
        # One assignment per attribute, whichever kind of bank it is.
        self.flash, self.bank, self.states, self.roots, self.table, self.chunks = parts
        self.max_attempts = config.get("max_attempts", 3)
        self.retries = config.get("retries", 3)
        self.backoff_ms = config.get("backoff_ms", 200)
        self.inflate_bits = config.get("inflate_bits", 12)
        # The default is at most a page; a larger buffer, if asked for,
        # is allowed (the pump programs page by page) and faster.
        size = config.get("buffer", 0)
        if not size:
            size = 1024
            for r in self.bank.regions + [self.table, self.chunks]:
                size = min(size, r.page_size)
        self.buffer = size
        self.pad = max(r.write_size for r in self.bank.regions + [self.chunks, self.table])
        if size & (size - 1) or self.pad > 256:
            raise AgentError("config")

    def path(self, p):
        return p if p.startswith("/") else self.base + "/" + p

    def _flash_layout(self):
        from .bundle import format as F
        from .flash.region import Region
        from .slots.flash import FlashBank
        from .state.record import FlashArea

        c = self.cfg
        geo = c.get("flash", {})
        sector = geo.get("sector", 4096)
        sizes = (
            _round(record.HEADER + fields.SIZE + 4, sector),
            _round(record.HEADER + F.MAX_DOC + 4, sector),
            _round(c.get("table_size", 16384), sector),
            _round(c.get("chunk_area", 8192), sector),
            _round(c["slot_size"], sector),
        )
        st, rt, tb, ch, sl = sizes
        total = 2 * st + 2 * rt + tb + ch + 2 * sl
        flash = self._chip(geo, total, sector)
        at = [0]

        def take(n):
            r = Region(flash, at[0], n)
            at[0] += n
            return r

        states = StateStore((FlashArea(take(st)), FlashArea(take(st))))
        roots = RootStore((FlashArea(take(rt)), FlashArea(take(rt))))
        table = take(tb)
        chunks = take(ch)
        return flash, FlashBank([take(sl), take(sl)]), states, roots, table, chunks

    def _chip(self, geo, total, sector):
        page, write = geo.get("page", 256), geo.get("write", 1)
        if "ram" in geo:
            # Spare RAM standing in for flash (flash/ram.py): the emulated board.
            from .flash.ram import RamFlash

            return RamFlash(geo["ram"], total, sector, page, write)
        if "rp2" in geo:
            # A raw region of an RP2040's flash (flash/rp2flash.py).
            from .flash import rp2flash

            return rp2flash.region(geo["rp2"], total, sector)
        from .flash.nor import NorFile

        return NorFile(self.path(geo.get("file", "flash")), total, sector, page, write)

    def _dir_layout(self, kind):
        from .flash.region import FileRegion
        from .state.record import FileArea

        c = self.cfg
        d = self.path(c.get("dir", "slots"))
        return (None, self._dir_bank(kind, d),
                StateStore((FileArea(d + "/state.0"), FileArea(d + "/state.1"))),
                RootStore((FileArea(d + "/root.0"), FileArea(d + "/root.1"))),
                FileRegion(d + "/table.bin", c.get("table_size", 16384)),
                FileRegion(d + "/chunk.bin", c.get("chunk_area", 8192)))

    def _dir_bank(self, kind, d):
        if kind == "esp32":
            from .slots.esp32 import PartitionBank

            return PartitionBank()
        if kind == "dualbank":
            # CircuitPython's OTA partitions (slots/dualbank.py).
            from .slots.dualbank import DualBank

            return DualBank(self.cfg["slot_size"], d)
        from .slots.appdir import DirBank

        return DirBank(d, self.cfg["slot_size"])

    # Facts and clock -----------------------------------------------------

    def facts(self):
        """What verify_manifest() compares, from the configuration."""
        from .bundle import format as F

        c = self.cfg
        target = F.TARGET_APP if c.get("target", "app") == "app" else F.TARGET_FIRMWARE
        return {"product": c.get("product", "mpota"), "device_class": c["device_class"],
                "hw_rev": c.get("hw_rev"), "target": target}

    def now(self):
        """Unix seconds, or None where the clock is not trusted."""
        c = self.cfg
        if "now" in c:
            return c["now"]
        if not c.get("clock", True):
            return None
        t = int(time.time())
        # Some MicroPython ports count from 2000; CircuitPython has no gmtime
        # and counts from 1970.
        gmtime = getattr(time, "gmtime", None)
        if gmtime is not None and gmtime(0)[0] == 2000:
            t += _UNIX_2000
        return t

    # Stored state ----------------------------------------------------------

    def load(self):
        st = self.states.load()
        if st is None:
            raise AgentError("not-provisioned")
        return st

    def save(self, st):
        self.states.save(st)

    def root(self):
        from .bundle import trust

        doc = self.roots.load()
        if doc is None:
            raise AgentError("not-provisioned")
        return trust.load_root(doc)

    def log(self, st, event, reason="", value=0):
        from .state import log

        st.add(event, log.reason_code(reason) if reason else 0, value, self.now() or 0)

    # Source ------------------------------------------------------------------

    def source(self, where=None):
        where = where or self.cfg.get("source")
        if not where:
            raise AgentError("config")
        if where.startswith("https://") or where.startswith("http://"):
            ca = None
            if self.cfg.get("ca"):
                with open(self.path(self.cfg["ca"]), "rb") as f:
                    ca = f.read()
            try:
                from .source.http import HttpSource

                return HttpSource(where, ca=ca, allow_http=self.cfg.get("allow_http", False))
            except ValueError:
                # No CA, a CA that does not parse, or a URL that does not.
                raise AgentError("config")
            except MemoryError:
                # Its code, and its TLS context of about 40 KB in one piece.
                raise AgentError("no-memory")
        from .source.local import LocalSource

        return LocalSource(self.path(where))

    def close(self):
        if self.flash is not None:
            self.flash.close()


def read_config(path="mpota.json"):
    """The configuration in the JSON file at path: AgentError
    ('not-provisioned') without the file, 'config' if it is not a JSON
    object."""
    import json

    try:
        f = open(path)
    except OSError:
        raise AgentError("not-provisioned")
    try:
        config = json.load(f)
    except ValueError:
        raise AgentError("config")
    finally:
        f.close()
    if not isinstance(config, dict):
        raise AgentError("config")
    return config


def load(path="mpota.json"):
    """The device described by the JSON file at path (read_config; relative
    paths in it are taken from the file's directory)."""
    cut = path.rfind("/")
    return Device(read_config(path), path[:cut] if cut > 0 else ("/" if cut == 0 else "."))


_current = []  # type: list


def use(dev):
    """Make dev the device mpota.boot(), confirm() and install() act on."""
    _current[:] = [dev]
    return dev


def current():
    if not _current:
        use(load())
    return _current[0]
