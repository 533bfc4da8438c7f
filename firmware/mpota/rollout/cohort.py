# SPDX-License-Identifier: MIT
"""Cohorts and the install decision of a staged rollout (docs/ROLLOUT.md,
"Cohorts" and "What a device does at each poll"). Pure functions: no I/O,
no clock; the host's fleet service imports the same bucket math."""

from ..bundle import format as F
from ..sha256 import sha256

# Verdicts of decide(): what the device does with one plan now.
INSTALL = "install"
WAIT = "wait"  # a later wave, or the same wave once the cap rises, takes it
NOT_SELECTED = "not-selected"  # no wave of this plan will take it
PAUSED = "paused"
HALTED = "halted"


def _digest(plan_id, device_id):
    h = sha256()
    h.update(plan_id.encode() if isinstance(plan_id, str) else plan_id)
    h.update(b"\0")
    h.update(device_id.encode() if isinstance(device_id, str) else device_id)
    return h.digest()


def bucket(plan_id, device_id):
    """The device's place in the plan's fleet, 0 .. BASIS - 1: the device
    is in at a share of S basis points when bucket < S."""
    h = _digest(plan_id, device_id)
    return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) % F.BASIS


def shard(plan_id, device_id, count):
    """Which of the plan's `count` canary shards would list this device."""
    return _digest(plan_id, device_id)[4] % count


def selected(plan, device_class, hw_rev):
    """True if the plan's selector takes a device with these facts."""
    if plan.device_class != device_class:
        return False
    return not plan.hw_revs or hw_rev in plan.hw_revs


def open_share(plan, now):
    """(share of the last wave open at now, opening time of the next wave
    or None). Before the first wave opens the share is -1."""
    share = -1
    for bp, at in plan.waves:
        if at > now:
            return share, at
        share = bp
    return share, None


def decide(plan, state, cap_bp, bucket_, canary, now):
    """The verdict for one plan, given its control state and cap, the
    device's bucket, whether a canary shard lists it (True, False, or None
    when the plan has no canary list) and the control clock `now`."""
    if state == F.STATE_HALT:
        return HALTED
    if state != F.STATE_RUN:
        return PAUSED
    share, next_at = open_share(plan, now)
    if share < 0:
        return WAIT
    allowed = min(share, plan.max_bp, cap_bp)
    if bucket_ < allowed or (canary and cap_bp > 0):
        return INSTALL
    # A later wave, or a cap raised up to the plan's ceiling, could still
    # take this device; past the ceiling nothing will.
    if bucket_ < plan.max_bp:
        return WAIT
    return NOT_SELECTED
