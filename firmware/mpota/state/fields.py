# SPDX-License-Identifier: MIT
"""The device state record: boot state, anti-rollback floors, download
progress and the audit log, at fixed offsets (docs/AGENT.md, "State").

Big-endian; offsets are into the record's payload:

  0    u8 active slot, u8 trial slot (0xFF: none), u8 attempts,
       u8 flags (bit 0: the trial was selected again, see trial.boot)
  4    u32 minimum security counter, u32 last accepted sequence,
       u32 trust root version
  16   active image: u32 version, u32 size, 32 bytes SHA-256
  56   trial image: u32 version, u32 size, u32 security counter,
       u32 sequence, 32 bytes SHA-256
  104  8 bytes: start of the SHA-256 of the last image that was reverted
  112  download: 32 bytes image SHA-256 (zero: none), u8 slot,
       u8 table stored, u16 zero, u32 units done, u32 chunks fetched,
       u32 chunks copied locally
  160  log: u8 next entry, u8 entries used, u16 zero, then ENTRIES entries
  324  (added with staged rollouts; a shorter record from an older agent
       loads with these at zero) u32 time floor, u32 control time,
       u32 control version, u32 revocation list version
  340  u8 next halted plan, u8 halted plans used, u16 zero, then 8 bytes
       of the SHA-256 of each of the last HALTED halted plans
  408  reports: u32 events ever logged, u32 events the fleet acknowledged,
       u32 last report sequence number
  420  (added with build provenance; a shorter record loads with these
       empty) active image: 64 bytes source revision (ASCII, zero-padded),
       32 bytes SBOM SHA-256 (zero: none); trial image: the same
"""

import struct

from . import log

from micropython import const


NONE = const(0xFF)
_BOOT = const(0)
_ACTIVE = const(16)
_TRIAL = const(56)
_BAD = const(104)
_PROGRESS = const(112)
_LOG = const(160)
_ENTRIES = const(164)
# The record of agents before staged rollouts ended here.
SIZE_V1 = _ENTRIES + log.ENTRIES * log.ENTRY_SIZE
HALTED = const(8)
_ROLLOUT = SIZE_V1
_HALTED = SIZE_V1 + 16
_REPORTS = _HALTED + 4 + HALTED * 8
# The record of agents before build provenance ended here.
SIZE_V2 = _REPORTS + 12
_PROVENANCE = SIZE_V2
REV_SIZE = const(64)
SIZE = _PROVENANCE + 2 * (REV_SIZE + 32)
_ZERO32 = b"\0" * 32
_NO_REV = b"\0" * REV_SIZE


class State:
    def __init__(self):
        self.active = 0
        self.trial = NONE
        self.attempts = 0
        self.flags = 0
        self.min_counter = 0
        self.last_sequence = 0
        self.root_version = 0
        self.active_version = 0
        self.active_size = 0
        self.active_sha = _ZERO32
        self.trial_version = 0
        self.trial_size = 0
        self.trial_counter = 0
        self.trial_sequence = 0
        self.trial_sha = _ZERO32
        # Build provenance (format T_SOURCE_REV, T_SBOM_SHA256), kept so
        # that the status names what runs; zeros: not signed.
        self.active_rev = _NO_REV
        self.active_sbom = _ZERO32
        self.trial_rev = _NO_REV
        self.trial_sbom = _ZERO32
        self.bad_sha = b"\0" * 8
        self.clear_progress()
        self.log_next = 0
        self.log_used = 0
        self.entries = bytearray(log.ENTRIES * log.ENTRY_SIZE)
        self.time_floor = 0
        self.control_time = 0
        self.control_version = 0
        self.revoked_version = 0
        self.halted_next = 0
        self.halted_used = 0
        self.halted = bytearray(HALTED * 8)
        self.events_total = 0
        self.events_acked = 0
        self.report_seq = 0

    def clear_progress(self):
        self.p_sha = _ZERO32
        self.p_slot = NONE
        self.p_table = 0
        self.p_units = 0
        self.p_fetched = 0
        self.p_copied = 0

    def add(self, event, reason=0, value=0, when=0):
        """Append an event to the ring (the oldest goes when it is full)."""
        struct.pack_into(">BBII", self.entries, self.log_next * log.ENTRY_SIZE,
                         event, reason, value & 0xFFFFFFFF, when & 0xFFFFFFFF)
        self.log_next = (self.log_next + 1) % log.ENTRIES
        if self.log_used < log.ENTRIES:
            self.log_used += 1
        self.events_total = (self.events_total + 1) & 0xFFFFFFFF

    def is_halted(self, plan_sha):
        """True if a control document halted this plan here before."""
        key = bytes(plan_sha[:8])
        for i in range(self.halted_used):
            if self.halted[i * 8:i * 8 + 8] == key:
                return True
        return False

    def add_halted(self, plan_sha):
        """Remember a halted plan for good (the last HALTED of them)."""
        if self.is_halted(plan_sha):
            return False
        i = self.halted_next
        self.halted[i * 8:i * 8 + 8] = bytes(plan_sha[:8])
        self.halted_next = (i + 1) % HALTED
        if self.halted_used < HALTED:
            self.halted_used += 1
        return True

    def last(self):
        """The newest entry as (event, reason, value, time), or None."""
        if not self.log_used:
            return None
        i = (self.log_next - 1) % log.ENTRIES
        return struct.unpack_from(">BBII", self.entries, i * log.ENTRY_SIZE)

    def events(self):
        """Entries oldest first, as (event, reason, value, time)."""
        first = (self.log_next - self.log_used) % log.ENTRIES
        for k in range(self.log_used):
            i = (first + k) % log.ENTRIES
            yield struct.unpack_from(">BBII", self.entries, i * log.ENTRY_SIZE)

    def encode(self, b):
        p = struct.pack_into
        p(">BBBBIII", b, _BOOT, self.active, self.trial, self.attempts, self.flags,
          self.min_counter, self.last_sequence, self.root_version)
        p(">II32s", b, _ACTIVE, self.active_version, self.active_size, self.active_sha)
        p(">IIII32s", b, _TRIAL, self.trial_version, self.trial_size, self.trial_counter,
          self.trial_sequence, self.trial_sha)
        p(">8s", b, _BAD, self.bad_sha)
        p(">32sBBHIII", b, _PROGRESS, self.p_sha, self.p_slot, self.p_table, 0,
          self.p_units, self.p_fetched, self.p_copied)
        p(">BBH", b, _LOG, self.log_next, self.log_used, 0)
        b[_ENTRIES:SIZE_V1] = self.entries
        p(">IIII", b, _ROLLOUT, self.time_floor, self.control_time, self.control_version,
          self.revoked_version)
        p(">BBH", b, _HALTED, self.halted_next, self.halted_used, 0)
        b[_HALTED + 4:_REPORTS] = self.halted
        p(">III", b, _REPORTS, self.events_total, self.events_acked, self.report_seq)
        p(">64s32s64s32s", b, _PROVENANCE, self.active_rev, self.active_sbom, self.trial_rev,
          self.trial_sbom)
        return SIZE

    def decode(self, b, n=SIZE):
        """Fill from a payload of n bytes (SIZE_V1 from an older agent)."""
        u = struct.unpack_from
        (self.active, self.trial, self.attempts, self.flags, self.min_counter,
         self.last_sequence, self.root_version) = u(">BBBBIII", b, _BOOT)
        self.active_version, self.active_size, self.active_sha = u(">II32s", b, _ACTIVE)
        (self.trial_version, self.trial_size, self.trial_counter, self.trial_sequence,
         self.trial_sha) = u(">IIII32s", b, _TRIAL)
        (self.bad_sha,) = u(">8s", b, _BAD)
        (self.p_sha, self.p_slot, self.p_table, _, self.p_units, self.p_fetched,
         self.p_copied) = u(">32sBBHIII", b, _PROGRESS)
        self.log_next, self.log_used, _ = u(">BBH", b, _LOG)
        self.log_next %= log.ENTRIES
        self.log_used = min(self.log_used, log.ENTRIES)
        self.entries[:] = b[_ENTRIES:SIZE_V1]
        if n >= SIZE_V2:
            (self.time_floor, self.control_time, self.control_version,
             self.revoked_version) = u(">IIII", b, _ROLLOUT)
            self.halted_next, self.halted_used, _ = u(">BBH", b, _HALTED)
            self.halted_next %= HALTED
            self.halted_used = min(self.halted_used, HALTED)
            self.halted[:] = b[_HALTED + 4:_REPORTS]
            self.events_total, self.events_acked, self.report_seq = u(">III", b, _REPORTS)
        else:
            self.events_total = self.events_acked = self.log_used
        if n >= SIZE:
            (self.active_rev, self.active_sbom, self.trial_rev,
             self.trial_sbom) = u(">64s32s64s32s", b, _PROVENANCE)
        return self


def rev_bytes(text):
    """A manifest's source revision as the record keeps it."""
    b = text.encode()
    return b + bytes(REV_SIZE - len(b))


def rev_text(b):
    """The source revision kept in the record ("" if none)."""
    n = 0
    while n < len(b) and b[n]:
        n += 1
    return bytes(b[:n]).decode()
