# SPDX-License-Identifier: MIT
"""A client of the device report protocol (docs/FLEET.md, "Device
reports") for the tests, the load generator and the demo: it builds and
signs reports exactly as a device does. The device's own sender is the
agent's; this one is the host's."""

import http.client
import json
import os
from urllib.parse import urlsplit

from . import protocol as P


def body(version, events=(), sha="0" * 16, trial=0, reset="", dropped=0):
    """A report body: the running image and events [(n, kind, version,
    reason)] oldest first."""
    return json.dumps({
        "v": 1, "run": {"version": version, "sha": sha, "trial": trial, "reset": reset},
        "dropped": dropped,
        "events": [{"n": n, "k": k, "version": v, "reason": r, "t": 0} for n, k, v, r in events],
    }, separators=(",", ":")).encode()


def headers(device_id, secret, seq, data):
    return {"Content-Type": "application/json", "X-Mpota-Device": device_id,
            "X-Mpota-Seq": str(seq), "X-Mpota-Tag": P.tag(secret, device_id, seq, data).hex()}


class Device:
    """One simulated device's reporting side: its id, secret, the next
    sequence number and event number, and the events not yet acked."""

    def __init__(self, device_id, secret, version=1, seq=1, n=1):
        self.device_id = device_id
        self.secret = secret
        self.version = version
        self.trial = 0
        self.seq = seq
        self.n = n
        self.queue = []  # (n, kind, version, reason)

    @classmethod
    def from_file(cls, path, **kw):
        with open(path, "rb") as f:
            secret = f.read()
        return cls(os.path.basename(path)[:-len(".key")], secret, **kw)

    def log(self, kind, version, reason=""):
        self.queue.append((self.n, kind, version, reason))
        self.n += 1

    def next_report(self):
        """(seq, body bytes, headers) of the next report; the seq is used up."""
        data = body(self.version, self.queue[:P.MAX_EVENTS], trial=self.trial)
        seq = self.seq
        self.seq += 1
        return seq, data, headers(self.device_id, self.secret, seq, data)

    def acked(self, ack):
        self.queue = [e for e in self.queue if e[0] > ack]


class Sender:
    """Sends reports to the service over one kept-alive HTTP connection."""

    def __init__(self, base_url, timeout=10):
        u = urlsplit(base_url)
        self.host, self.port = u.hostname, u.port or 80
        self.timeout = timeout
        self.conn = None

    def post(self, data, hdrs):
        """(status, decoded JSON answer)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", P.PATH, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def send(self, dev):
        """Send dev's next report; on 200 drop what was acked. Returns status."""
        _, data, hdrs = dev.next_report()
        status, answer = self.post(data, hdrs)
        if status == 200:
            dev.acked(answer["ack"])
        return status

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
