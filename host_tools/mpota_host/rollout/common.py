# SPDX-License-Identifier: MIT
"""Small helpers shared by the rollout commands: shares in basis points,
identifiers, hashes and times as people type and read them."""

import hashlib
import time
from decimal import Decimal, InvalidOperation

from mpota.bundle import format as F

from .. import timefmt
from ..errors import CommandError


def sha256(data):
    return hashlib.sha256(bytes(data)).digest()


def now():
    return int(time.time())


def basis_points(text, option):
    """'5', '0.5', '12.25%' -> basis points (0..10000); at most two decimals."""
    raw = text[:-1] if text.endswith("%") else text
    try:
        value = Decimal(raw) * 100
        if not value.is_finite():
            raise InvalidOperation  # inf, nan: no number of basis points
    except InvalidOperation:
        raise CommandError("{} {!r}: a percentage such as 5, 0.5 or 12.25".format(option, text))
    if value != value.to_integral_value():
        raise CommandError("{} {!r}: at most two decimals (basis points)".format(option, text))
    bp = int(value)
    if not 0 <= bp <= F.BASIS:
        raise CommandError("{} {!r}: 0 to 100 %".format(option, text))
    return bp


def percent(bp):
    """Basis points as a percentage for people: 500 -> '5', 50 -> '0.5'."""
    whole, part = divmod(bp, 100)
    return str(whole) if not part else "{}.{:02d}".format(whole, part).rstrip("0")


def when(text, base=None):
    """Unix seconds for a time option: ISO 8601, +30d, or 'now'."""
    if text == "now":
        return now() if base is None else base
    return timefmt.parse(text, base)


def identifier(value, option, limit=F.MAX_IDENT):
    if not 1 <= len(value) <= limit or not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise CommandError("{} {!r}: 1 to {} printable ASCII characters, no spaces".format(
            option, value, limit))
    return value


def state_name(state):
    return {F.STATE_RUN: "run", F.STATE_PAUSE: "pause", F.STATE_HALT: "halt"}.get(state, "?")
