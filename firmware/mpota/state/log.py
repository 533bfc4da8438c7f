# SPDX-License-Identifier: MIT
"""The audit log: what happened, as events in a bounded ring.

Each entry is 10 bytes (event u8, reason u8, value u32, time u32) and
lives inside the state record, so it is written with the same power-loss
safety. Reasons are stored as an index into REASONS (0: none).
"""

from micropython import const


ENTRIES = const(16)
ENTRY_SIZE = const(10)

# Event codes (docs/AGENT.md, "Audit log"); value is what the event is about.
INSTALL = const(1)  # install started, value: version
CHUNK_FAIL = const(2)  # a chunk could not be fetched or checked, value: chunk index
VERIFY_FAIL = const(3)  # a manifest, table or image was refused, value: version (0 if unknown)
TRIAL = const(4)  # trial boot, value: version
CONFIRM = const(5)  # the trial image was confirmed, value: version
REVERT = const(6)  # back to the previous image, value: version given up
COUNTER = const(7)  # stored minimum security counter raised, value: new counter
INSTALLED = const(8)  # image written and read back, trial pending, value: version
ROOT = const(9)  # trust root rotated, value: new root version
PROVISION = const(10)  # device provisioned, value: version

NAMES = ("", "install", "chunk-failure", "verify-failure", "trial-boot", "confirm",
         "revert", "counter-advanced", "installed", "root-rotated", "provisioned")
# What each event's value is.
VALUES = ("", "version", "chunk", "version", "version", "version", "version", "counter",
          "version", "root", "version")

# Reason codes from the bundle verifier, the sources and the agent.
REASONS = (
    "", "unknown-format", "wrong-document", "malformed", "unknown-field", "too-large",
    "bad-signature", "unknown-key", "below-threshold", "wrong-root-version",
    "root-expired", "expired", "wrong-product", "wrong-device-class", "wrong-hw-rev",
    "wrong-target", "agent-too-old", "rollback", "replay", "truncated-table",
    "truncated-chunk", "hash-mismatch", "unknown-codec", "bad-deflate",
    "missing-manifest", "missing-table", "missing-chunk", "missing-root",
    "not-found", "connect", "timeout", "tls", "http-status", "bad-response", "closed",
    "io", "trial-pending", "no-room", "reverted", "attempts", "bootloader",
    "unbootable",
    # Staged rollouts (docs/ROLLOUT.md).
    "revoked", "no-control-role", "control-replay", "control-expired",
    "revocation-replay", "missing-control", "missing-plan", "missing-canary",
    "missing-revocations",
    # The app unpacker (apptar.py).
    "bad-app",
    # A heap too small or too cut up for the update's buffers.
    "no-memory",
    # Encrypted bundles (docs/FORMAT.md, "Encryption").
    "unknown-cipher", "not-for-device", "bad-key-wrap",
)


def reason_code(reason):
    for i in range(len(REASONS)):
        if REASONS[i] == reason:
            return i
    return 255


def reason_name(code):
    return REASONS[code] if code < len(REASONS) else "other"


def event_name(code):
    return NAMES[code] if code < len(NAMES) else "event-{}".format(code)


def value_name(code):
    return VALUES[code] if code < len(VALUES) else "value"
