# SPDX-License-Identifier: MIT
"""Authenticated reports to the fleet service (docs/FLEET.md, "Device
reports"; protocol v1).

The queue is the audit log the state record already keeps in flash: every
event has a number (state.events_total counts them), and the events the
service has not acknowledged are sent, oldest first, at the next report.
A full ring drops the oldest and the report says how many. Each report is
tagged with HMAC-SHA256 under the device's own secret (the `identity`
file, 32 bytes, never printed) over a sequence number that only goes up.
Reporting is best effort and separate from installing: nothing here can
stop or delay an install, and it talks only to the fleet service, never
to the static host the updates come from.
"""

import json

from .errors import AgentError
from .sha256 import sha256
from .source import SourceError
from .state import log as L
from .state.fields import NONE

from micropython import const

_SECRET = const(32)
_BLOCK = const(64)
_MAX_EVENTS = const(16)
PATH = "/api/device/v1/report"

# Audit-log events as report kinds (REPORT_PROTOCOL v1); None: not sent.
_KINDS = ("", "install", "chunk-failed", "refused", "trial", "confirmed", "rolled-back",
          None, "installed", "root-rotated", "provisioned")


def hmac_sha256(key, parts):
    """HMAC-SHA256 (RFC 2104) of the concatenated parts, key <= 64 bytes."""
    pad = bytearray(_BLOCK)
    pad[:len(key)] = key
    inner = sha256()
    inner.update(bytes(b ^ 0x36 for b in pad))
    for p in parts:
        inner.update(p)
    outer = sha256()
    outer.update(bytes(b ^ 0x5C for b in pad))
    outer.update(inner.digest())
    return outer.digest()


def secret(dev):
    """The device's report secret, or None where it has none."""
    try:
        with open(dev.path(dev.cfg.get("identity", "identity")), "rb") as f:
            key = f.read(_SECRET + 1)
    except OSError:
        return None
    if len(key) != _SECRET:
        raise AgentError("config")
    return key


def _hex(b):
    return "".join("{:02x}".format(x) for x in b)


def body(st, reset=""):
    """The JSON body of a report of every event not yet acknowledged."""
    pending = (st.events_total - st.events_acked) & 0xFFFFFFFF
    have = min(pending, st.log_used)
    events = []  # type: list
    skip = st.log_used - have
    n = st.events_total - have
    for event, reason, value, t in st.events():
        if skip:
            skip -= 1
            continue
        n += 1
        kind = _KINDS[event] if event < len(_KINDS) else None
        if kind is None or len(events) >= _MAX_EVENTS:
            continue
        events.append({"n": n, "k": kind, "version": value,
                       "reason": L.reason_name(reason) if reason else "", "t": t})
    return json.dumps({
        "v": 1,
        "run": {"version": st.active_version, "sha": _hex(st.active_sha[:8]),
                "trial": 0 if st.trial == NONE else st.trial_version, "reset": reset},
        "dropped": pending - have,
        "events": events,
    }).encode()


def send(dev, reset="", source=None):
    """Send one report; return the number of events the service now holds
    (its ack), or None if the device has no fleet, no secret, or the
    report did not get through."""
    url = dev.cfg.get("fleet")
    key = secret(dev)
    device_id = dev.cfg.get("device_id")
    if not url or key is None or not device_id:
        return None
    st = dev.load()
    # Stored before it is used, so a power cut can never send a number twice.
    st.report_seq = (st.report_seq + 1) & 0xFFFFFFFF
    dev.save(st)
    data = body(st, reset)
    seq = str(st.report_seq)
    tag = hmac_sha256(key, (b"mpota-report-v1\n", device_id.encode(), b"\n", seq.encode(),
                            b"\n", data))
    headers = "X-Mpota-Device: {}\r\nX-Mpota-Seq: {}\r\nX-Mpota-Tag: {}\r\n".format(
        device_id, seq, _hex(tag))
    try:
        src = source or _source(dev, url)
        reply = bytearray(64)
        status, n = src.post(PATH, data, headers, reply)
        if hasattr(src, "close"):
            src.close()
    except (SourceError, OSError, ValueError):
        return None
    if status != 200 or not n:
        return None
    try:
        ack = json.loads(bytes(reply[:n]))["ack"]
    except (ValueError, KeyError, TypeError):
        return None
    st = dev.load()
    if isinstance(ack, int) and st.events_acked < ack <= st.events_total:
        st.events_acked = ack
        dev.save(st)
    return ack


def _source(dev, url):
    from .source.http import HttpSource

    ca = None
    name = dev.cfg.get("fleet_ca", dev.cfg.get("ca"))
    if name:
        with open(dev.path(name), "rb") as f:
            ca = f.read()
    # Short deadlines and one attempt: a report never holds the device up.
    return HttpSource(url, ca=ca, allow_http=dev.cfg.get("allow_http", False),
                      connect_timeout=5, read_timeout=5, retries=0)
