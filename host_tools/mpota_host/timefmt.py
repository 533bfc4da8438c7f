# SPDX-License-Identifier: MIT
"""Times on the command line: ISO 8601 (UTC unless a zone is given) or an
offset from now such as +30d, +12h, +90m."""

import datetime
import time

from .errors import CommandError

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Digits of an offset: 20 is past any time a manifest holds (2**64 s);
# int() of thousands of digits is refused by CPython, slowly.
_MAX_DIGITS = 20


def parse(text, now=None):
    """Unix seconds for `text`."""
    now = int(time.time()) if now is None else now
    digits = text[1:-1]
    if text.startswith("+") and text[-1:] in _UNITS and digits.isascii() and digits.isdigit():
        if len(digits) > _MAX_DIGITS:
            raise CommandError("bad time {}...: an offset has at most {} digits".format(
                text[:16], _MAX_DIGITS))
        return now + int(digits) * _UNITS[text[-1]]
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError("bad time {!r}: use e.g. 2027-01-31, 2027-01-31T12:00:00Z or +30d".format(text))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    seconds = int(when.timestamp())
    if seconds < 0:
        raise CommandError("time {!r} is before 1970".format(text))
    return seconds


def show(seconds):
    """ISO 8601 UTC text for Unix seconds (None: never)."""
    if seconds is None:
        return "never"
    try:
        when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "{} (Unix seconds)".format(seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
