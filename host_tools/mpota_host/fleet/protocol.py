# SPDX-License-Identifier: MIT
"""The device report protocol v1 (docs/FLEET.md, "Device reports"): the
names, limits and tag both sides compute. The service (reports.py) and the
host's client of the protocol (client.py) share this module."""

import hashlib
import hmac

PATH = "/api/device/v1/report"
H_DEVICE = "x-mpota-device"
H_SEQ = "x-mpota-seq"
H_TAG = "x-mpota-tag"
DOMAIN = b"mpota-report-v1\n"

SECRET_SIZE = 32
MAX_BODY = 4096
MAX_EVENTS = 16
MAX_ID = 32
MAX_U32 = 0xFFFFFFFF

KINDS = ("install", "installed", "trial", "confirmed", "rolled-back", "refused",
         "chunk-failed", "root-rotated", "provisioned", "boot")

# Refusals that halt a rollout at once: something is attacking the fleet
# or the repository is broken in a way that no wave should see.
SECURITY_REASONS = frozenset((
    "bad-signature", "unknown-key", "below-threshold", "rollback", "replay", "expired",
    "root-expired", "hash-mismatch", "revoked"))
# Refusals of the control channel itself (a control document not renewed
# in time, or one older than the device holds; a device clock far ahead):
# shown on the dashboard, never a reason to halt, since a halt is one more
# control document and is final (review: one stale document would halt
# every running rollout for good).
CONTROL_REASONS = frozenset(("control-expired", "control-replay", "no-control-role",
                             "missing-control", "missing-revocations", "revocation-replay"))


def valid_id(text):
    return 1 <= len(text) <= MAX_ID and all(0x21 <= ord(c) <= 0x7E for c in text)


def tag(secret, device_id, seq, body):
    """HMAC-SHA256 over the domain, the device id, the sequence number in
    decimal and the body, newline-separated; 32 bytes."""
    msg = b"".join((DOMAIN, device_id.encode("ascii"), b"\n", str(seq).encode("ascii"), b"\n",
                    body))
    return hmac.new(secret, msg, hashlib.sha256).digest()
