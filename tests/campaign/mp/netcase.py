# SPDX-License-Identifier: MIT
# Network faults, device side: run under build/unix/micropython (with a
# bounded -X heapsize) with firmware/, tests/agent/mp and this directory
# on MICROPYPATH.
#
# case(spec) provisions a device with v1 from its bundle directory, then
# runs the install of what the server offers spec["runs"] times, each with
# a new HttpSource (the CA pinned, short timeouts). After each run it
# emits what happened and what the flash holds: the outcome or the
# refusal, the requests the agent made (the source's open() calls: what
# the harness bounds), the milliseconds (a figure only), the state, and
# the SHA-256 of both slots.

import gc

from agentkit import emit, provision, slot_sha
from mpota.bundle.error import BundleError
from mpota.device import Device
from mpota.errors import AgentError
from mpota.source import SourceError
from mpota.source.http import HttpSource
from mpota.source.netconn import ticks_diff, ticks_ms
from mpota.update.install import Install


class _Counted:
    """The source, with its open() calls (one request each) counted."""

    def __init__(self, src):
        self.src = src
        self.opens = 0

    def open(self, name, offset=0):
        self.opens += 1
        return self.src.open(name, offset)

    def close(self):
        self.src.close()


def case(spec):
    import os

    try:
        os.mkdir(spec["base"])
    except OSError:
        pass
    dev = Device(spec["config"], spec["base"])
    provision(dev, spec["root"], spec["old"])
    with open(spec["ca"], "rb") as f:
        ca = f.read()
    runs = []
    for _ in range(spec["runs"]):
        # The last run's source goes first: a device holds one, and each
        # TLS context takes 40 KB in one block (Debian's mbed TLS).
        src = None
        gc.collect()
        out = {}
        t = ticks_ms()
        counted = None
        try:
            src = HttpSource(spec["url"], ca=ca, **spec["http"])
            counted = _Counted(src)
            rep = Install(dev, counted).run()
            out["outcome"] = rep.outcome
            out["fetched"] = rep.fetched
            out["bytes"] = rep.bytes
            src.close()
        except (BundleError, AgentError, SourceError) as e:
            out["refused"] = e.reason
        except MemoryError:
            out["refused"] = "MemoryError"
        out["ms"] = ticks_diff(ticks_ms(), t)
        out["opens"] = counted.opens if counted is not None else 0
        st = dev.load()
        out["active"] = st.active
        out["trial"] = st.trial
        out["min_counter"] = st.min_counter
        out["slot0"] = slot_sha(dev, 0, spec["old_size"])
        out["slot1"] = slot_sha(dev, 1, spec["new_size"])
        runs.append(out)
    emit("runs", runs)
