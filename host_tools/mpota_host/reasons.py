# SPDX-License-Identifier: MIT
"""What each refusal reason code of docs/FORMAT.md means, for people.

The code stays first in every message (scripts match on it); the words
after it say what was wrong and, where there is one, what to do.
"""

_WORDS = {
    "unknown-format": "not an mpota document, or a format version this tool does not read",
    "wrong-document": "a root document where a manifest belongs, or the reverse",
    "malformed": "a field is out of order, of the wrong length or out of range",
    "unknown-field": "it holds a field this version does not know",
    "too-large": "a document, count or image is over its limit, or a file is longer than declared",
    "bad-signature": "a signature by a listed key does not verify: the signed bytes were changed",
    "unknown-key": "signed only by keys the trust root does not list: another root's, or revoked ones",
    "below-threshold": "too few valid signatures for the root's threshold: add more with mpota cosign "
                       "to a manifest, mpota root sign to a root",
    "wrong-root-version": "a root rotation must raise the version by exactly one",
    "root-expired": "the trust root has expired",
    "expired": "the manifest has expired: sign the release again",
    "wrong-product": "made for another product",
    "wrong-device-class": "made for another device class",
    "wrong-hw-rev": "does not list this hardware revision",
    "wrong-target": "made for the other target, firmware or app",
    "agent-too-old": "needs a newer agent",
    "rollback": "its security counter is below the device's",
    "replay": "its sequence number is below the last one accepted",
    "truncated-table": "the chunk table is shorter than the manifest says",
    "truncated-chunk": "a chunk is shorter than the table says",
    "hash-mismatch": "the chunk table, a chunk or the image does not match its signed SHA-256: "
                     "changed or corrupted after signing",
    "unknown-codec": "a chunk uses a compression this reader does not have",
    "bad-deflate": "a deflated chunk does not decode",
    "missing-manifest": "there is no manifest: is this a bundle directory?",
    "missing-table": "the chunk table file is missing from table/",
    "missing-chunk": "a chunk file is missing from chunks/",
    "missing-root": "a root rotation the bundle needs is missing from roots/",
    # Staged rollouts (docs/ROLLOUT.md).
    "no-control-role": "the trust root names no control keys: devices follow no rollout",
    "control-replay": "the control document is older than one already accepted",
    "control-expired": "the control document has expired: sign a new one (mpota control renew)",
    "revocation-replay": "the revocation list is older than one already accepted",
    "missing-revocations": "the revocation list is missing, and a device has accepted one before",
    "revoked": "the image is on the revocation list",
    "halted": "the plan was halted, which is final: release with a new plan",
    "no-memory": "the board's heap had no room for the update (the TLS context wants about 40 KB "
                 "in one piece): update early after a reset, or give the agent a smaller buffer",
    "unknown-cipher": "the bundle is encrypted with a cipher this agent or board does not have",
    "not-for-device": "the bundle is encrypted for other devices: sign it again with this device's "
                      "or its class's key in --encrypt-for",
    "bad-key-wrap": "the bundle's key file for this device does not unwrap to the signed content key: "
                    "the keys/ file is damaged or replaced; publish the bundle again",
    # Found only by `mpota verify REPO` and `mpota publish`.
    "missing-control": "the repository has plans but no control document: nothing rolls out",
    "missing-plan": "the control document names a plan that plans/ does not hold",
    "missing-canary": "a plan's canary shard is missing from canary/",
    "revocation-shrunk": "the revocation list lost an entry of an older one: it is append-only",
}


def meaning(reason):
    """What a reason code means, in words ('' if none here)."""
    return _WORDS.get(reason, "")


def explain(reason):
    """`reason (what it means)`, or the bare code if it has no words here."""
    words = meaning(reason)
    return "{} ({})".format(reason, words) if words else reason


def refused(reason, where=None):
    """The message for a refusal: `refused: reason (what it means), where`."""
    return "refused: {}{}".format(explain(reason), ", " + where if where else "")
