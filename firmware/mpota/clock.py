# SPDX-License-Identifier: MIT
"""Time the agent does not take on faith (docs/ROLLOUT.md, "Time on a
device that may have no clock"; docs/SECURITY.md).

A board's clock may read 1970 or 2000 after a power cut. The state record
keeps a floor: the newest issue time of a document signed by an offline
key that the device accepted. A clock below the floor is unknown, and the
floor stands in for it, so a document that expired before the floor is
refused even on a board without a clock. Pure functions; the caller
stores what they return.
"""

from micropython import const

# When this agent was released (Unix seconds, 2026-12-01 UTC): no genuine
# clock reads earlier on a device running it. Raised at each release.
AGENT_TIME = const(1796083200)
_U32 = const(0xFFFFFFFF)


def floor(st, root=None):
    """The time floor: the stored one, the agent's release, the root's
    issue time."""
    f = max(AGENT_TIME, st.time_floor)
    if root is not None and root.issued:
        f = max(f, root.issued)
    return f


def judge(clock, floor_):
    """'now' for expiry: the clock if it is known and not below the floor,
    else the floor. clock is None on a board without a trusted clock."""
    if clock is None or clock < floor_:
        return floor_
    return clock


def control_now(clock, floor_, control_time):
    """'now' for control expiry and wave opening: control documents (an
    online key) raise control_time, never the floor."""
    return judge(clock, max(floor_, control_time))


def wave_now(clock, floor_, control_time):
    """'now' for opening waves. A known clock (not below the floor) is
    taken as it reads: a control issue time (an online key) may push it
    forward for expiry, where that fails closed, but never open a wave
    early. Only a board without a known clock goes by control_time."""
    if clock is not None and clock >= floor_:
        return clock
    return max(floor_, control_time)


def raised(current, issued):
    """The stored u32 time after accepting a document issued at `issued`."""
    if issued > current:
        return min(issued, _U32)
    return current
