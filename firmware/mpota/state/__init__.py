# SPDX-License-Identifier: MIT
"""State that survives power loss (docs/AGENT.md, "State").

  record  the two-copy record store (flash sectors or files)
  fields  the device state record: boot state, counters, progress, log
  log     audit log event and reason codes

StateStore is what the agent uses: load() gives a State, save(state)
writes it as one power-loss-safe record. RootStore keeps the current
trust root document the same way.
"""

from ..bundle import format as F
from . import fields, record

from micropython import const


_KIND_STATE = const(1)
_KIND_ROOT = const(2)


class StateStore:
    def __init__(self, areas):
        self.store = record.Store(areas, _KIND_STATE, record.HEADER + fields.SIZE + 4)

    def load(self):
        """The newest saved State, or None on a device never provisioned."""
        n = self.store.load()
        if n < fields.SIZE_V1:
            return None
        # A record an older agent wrote is shorter: its new fields start at 0.
        return fields.State().decode(self.store.payload, n)

    def save(self, state):
        self.store.save(state.encode(self.store.payload))


class RootStore:
    def __init__(self, areas):
        self.store = record.Store(areas, _KIND_ROOT, record.HEADER + F.MAX_DOC + 4)

    def load(self):
        """A view of the stored root document, or None."""
        n = self.store.load()
        if n < 0:
            return None
        return self.store.payload[:n]

    def save(self, doc):
        n = len(doc)
        self.store.payload[:n] = doc
        self.store.save(n)
