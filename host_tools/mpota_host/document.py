# SPDX-License-Identifier: MIT
"""Build, split and (re)sign signed documents (docs/FORMAT.md, "Signed
document"). Field and framing constants come from the device's format
module; every document written is parsed back by the device parser."""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpota.bundle import format as F

from .errors import CommandError


def field(tag, value):
    if len(value) > 255:
        raise CommandError("field 0x{:02x} is too long".format(tag))
    return bytes((tag, len(value))) + bytes(value)


def uint(tag, value, size):
    if not 0 <= value < 1 << (8 * size):
        raise CommandError("value {} does not fit {} bytes".format(value, size))
    return field(tag, value.to_bytes(size, "big"))


def text(tag, value):
    return field(tag, value.encode("ascii", "replace"))


def unsigned(doc_type, fields):
    """The signed part: header and fields, as stored and as signed."""
    body = b"".join(fields)
    if len(body) > F.MAX_BODY:
        raise CommandError("document body is {} bytes, limit {}".format(len(body), F.MAX_BODY))
    return (F.MAGIC.to_bytes(4, "big") + bytes((F.FORMAT_VERSION, doc_type))
            + len(body).to_bytes(2, "big") + body)


def split(doc, doc_type):
    """(signed part, [(key id, signature), ...]) of a framed document."""
    signed = F.frame(doc, doc_type)
    sigs = []
    for i in range(doc[signed]):
        pos = signed + 1 + i * F.SIG_ENTRY_SIZE
        sigs.append((bytes(doc[pos:pos + F.KEY_ID_SIZE]),
                     bytes(doc[pos + F.KEY_ID_SIZE:pos + F.SIG_ENTRY_SIZE])))
    return bytes(doc[:signed]), sigs


def assemble(signed, sigs):
    if len(sigs) > F.MAX_SIGS:
        raise CommandError("{} signatures, the format allows {}".format(len(sigs), F.MAX_SIGS))
    return signed + bytes((len(sigs),)) + b"".join(kid + sig for kid, sig in sigs)


def sign(signed, sigs, signers):
    """Add each signer's signature over `signed`, replacing an older one
    by the same key; return the new signature list."""
    sigs = list(sigs)
    for s in signers:
        kid = F.key_id(s.public)
        sig = bytes(s.sign(signed))
        try:
            # A token or key file that signs with another key than it
            # claims must not produce a bundle that fails on every device.
            Ed25519PublicKey.from_public_bytes(s.public).verify(sig, signed)
        except InvalidSignature:
            raise CommandError("signature by {} does not verify".format(s.describe))
        sigs = [(k, v) for k, v in sigs if k != kid] + [(kid, sig)]
    return sigs
