# SPDX-License-Identifier: MIT
# Device-side fixtures for the agent tests, run under build/unix/micropython
# with firmware/ and this directory on MICROPYPATH.
#
# Fakes live only at the edges: FlakySource wraps the real LocalSource and
# drops the connection at a chosen byte; the flash is the NOR model.

import json

from mpota import device as D
from mpota.source import SourceError
from mpota.source.local import LocalSource


def config(base, **kw):
    cfg = {"device_class": "esp32", "target": "firmware", "bank": "flash",
           "slot_size": 65536, "table_size": 8192, "chunk_area": 8192,
           "flash": {"file": "flash", "sector": 4096, "page": 256, "write": 1},
           "dir": "slots", "max_attempts": 3, "backoff_ms": 0, "retries": 3,
           "now": 1800000000}
    for k in kw:
        if k in ("sector", "page", "write"):
            cfg["flash"][k] = kw[k]
        else:
            cfg[k] = kw[k]
    return cfg


def device(base, **kw):
    import os

    try:
        os.mkdir(base)
    except OSError:
        pass
    return D.use(D.Device(config(base, **kw), base))


def slot_sha(dev, i, n):
    """SHA-256 (hex) of the first n bytes of slot i."""
    import hashlib

    h = hashlib.sha256()
    b = bytearray(1024)
    r = dev.bank.regions[i]
    for a in range(0, n, 1024):
        v = memoryview(b)[:min(1024, n - a)]
        r.read(a, v)
        h.update(v)
    return "".join("{:02x}".format(x) for x in h.digest())


def root_doc(path):
    with open(path, "rb") as f:
        return f.read()


def provision(dev, root_path, bundle):
    from mpota.provision import provision as run

    return run(dev, root_doc(root_path), LocalSource(bundle))


class FlakySource:
    """A LocalSource that counts what it serves and, if asked, breaks.

    fail_at: after this many bytes of files under `fail_under` (over all
    opens), the reader ends the transfer with SourceError('closed'); then
    again after each `then` more bytes (default fail_at; 0: at once), for
    `times` failures in all, then it behaves. opens: (name, offset) list.
    """

    def __init__(self, path, fail_at=None, times=1, fail_under="chunks/", then=None):
        self.inner = LocalSource(path)
        self.fail_at = fail_at
        self.every = fail_at if then is None else then
        self.times = times
        self.under = fail_under
        self.served = 0
        self.opens = []
        self.bytes = {}

    def open(self, name, offset=0):
        self.opens.append((name, offset))
        return _Reader(self, self.inner.open(name, offset), name)

    def chunk_opens(self):
        return [o for o in self.opens if o[0].startswith("chunks/")]


class _Reader:
    def __init__(self, src, r, name):
        self.src = src
        self.r = r
        self.name = name
        self.watch = name.startswith(src.under)

    def readinto(self, buf):
        s = self.src
        if self.watch and s.fail_at is not None and s.times > 0:
            room = s.fail_at - s.served
            if room <= 0:
                s.times -= 1
                s.fail_at = None if s.times <= 0 else s.served + s.every
                raise SourceError("closed")
            if room < len(buf):
                buf = memoryview(buf)[:room]
        n = self.r.readinto(buf)
        if self.watch:
            s.served += n
        s.bytes[self.name] = s.bytes.get(self.name, 0) + n
        return n

    def close(self):
        self.r.close()


def report(rep):
    return {"outcome": rep.outcome, "version": rep.version, "fetched": rep.fetched,
            "copied": rep.copied, "reused": rep.reused, "bytes": rep.bytes,
            "chunks": rep.chunks, "slot": rep.slot}


def state(dev):
    st = dev.load()
    return {"active": st.active, "trial": st.trial, "attempts": st.attempts,
            "min_counter": st.min_counter, "last_sequence": st.last_sequence,
            "active_version": st.active_version, "trial_version": st.trial_version,
            "root_version": st.root_version, "p_slot": st.p_slot, "p_units": st.p_units,
            "events": [list(e[:3]) for e in st.events()]}


def emit(name, value):
    print("RESULT", name, json.dumps(value))


def attempt(fn):
    """Run fn() on a flash: "ok", the FlashError's reason, or "power-cut"."""
    from mpota.flash import FlashError
    from mpota.flash.nor import PowerCut

    try:
        fn()
        return "ok"
    except FlashError as e:
        return e.reason
    except PowerCut:
        return "power-cut"


def outcome(fn):
    """Run fn(); its value, or the refusal's reason code."""
    from mpota.bundle.error import BundleError
    from mpota.errors import AgentError

    try:
        return fn()
    except (BundleError, AgentError, SourceError) as e:
        return {"refused": e.reason}
