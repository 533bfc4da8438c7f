# SPDX-License-Identifier: MIT
"""Encrypted bundles on the host (docs/FORMAT.md, "Encryption"): X25519
key files, and the Sealer that encrypts each stored chunk and wraps the
content secret for every recipient.

X25519 and AES come from the `cryptography` package; the key derivations
are the device's own functions (mpota.update.sealed), so signer and device
cannot drift apart (tests/test_encrypted_bundles.py checks them against
cryptography's HKDF as well).
"""

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpota.bundle import format as F
from mpota.update import sealed

from . import files
from .errors import CommandError
from .keys import pair_paths, pem_label


def recipient_id(public_raw):
    return F.key_id(public_raw).hex()


def write_pair(name, force, raw=False):
    """NAME.key (PKCS#8 PEM, or with raw the 32 bytes a device's
    decrypt_keys file holds; mode 0600) and NAME.pub (SubjectPublicKeyInfo
    PEM). Returns (key path, pub path, public raw)."""
    key_path, pub_path = pair_paths(name, force)
    key = X25519PrivateKey.generate()
    if raw:
        data = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
    else:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    public = key.public_key()
    files.write(key_path, data, 0o600)
    files.write(pub_path, public.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path, _raw_public(public)


def _raw_public(public):
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public(path):
    """The raw X25519 public key in `path` (.pub PEM, or 32 raw bytes)."""
    data = files.read(path, 4096)
    if len(data) == 32 and pem_label(data) is None:
        return bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise CommandError("{} is not an X25519 public key (mpota keygen --x25519 makes one)".format(path)) from None
    if not isinstance(key, X25519PublicKey):
        raise CommandError("{} is not an X25519 public key: an encryption key comes from "
                           "mpota keygen --x25519, not from a signing key".format(path))
    return _raw_public(key)


def load_private(path):
    """The raw X25519 private key in `path` (.key PEM, or 32 raw bytes)."""
    data = files.read(path, 4096)
    if len(data) == 32 and pem_label(data) is None:
        return bytes(data)
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError):
        raise CommandError("{} is not an X25519 private key (mpota keygen --x25519 makes one)".format(path)) from None
    if not isinstance(key, X25519PrivateKey):
        raise CommandError("{} is not an X25519 private key".format(path))
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def public_of(private_raw):
    return _raw_public(X25519PrivateKey.from_private_bytes(private_raw).public_key())


class Sealer:
    """One bundle's content secret: encrypts its chunks and wraps the
    secret for each recipient (raw X25519 public keys)."""

    def __init__(self, recipients):
        ids = [recipient_id(r) for r in recipients]
        if len(set(ids)) != len(ids):
            raise CommandError("--encrypt-for names the same key twice")
        self.recipients = list(recipients)
        self.secret = os.urandom(F.SECRET_SIZE)
        key, iv_key, self.check = sealed.content_keys(self.secret)
        self._key = key
        self._ivs = Cipher(algorithms.AES(iv_key), modes.ECB()).encryptor()

    def field(self):
        """The value of T_ENCRYPTION."""
        return bytes((F.SUITE_X25519_AES128,)) + self.check

    def chunk(self, stored, raw_sha):
        """The encrypted form of a chunk's stored bytes."""
        iv = self._ivs.update(raw_sha[:F.AES_BLOCK])
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return enc.update(stored + bytes(-len(stored) % F.AES_BLOCK)) + enc.finalize()

    def wraps(self):
        """{keys/<recipient id>: its file's 64 bytes}."""
        out = {}
        for public in self.recipients:
            eph = X25519PrivateKey.generate()
            try:
                shared = eph.exchange(X25519PublicKey.from_public_bytes(public))
            except ValueError:
                raise CommandError("recipient {} is not a usable X25519 public key "
                                   "(a small-order point)".format(recipient_id(public))) from None
            eph_pub = _raw_public(eph.public_key())
            pad = sealed.wrap_pad(shared, eph_pub, public)
            out[sealed.key_name(public)] = eph_pub + bytes(a ^ b for a, b in zip(self.secret, pad))
        return out


def device_cipher(bundle, private_raw, m):
    """The chunk cipher a device holding private_raw gets for the bundle in
    directory `bundle` (manifest m), or CommandError saying why not."""
    from mpota.bundle.error import BundleError

    public = public_of(private_raw)
    path = os.path.join(bundle, *sealed.key_name(public).split("/"))
    if not os.path.exists(path):
        raise CommandError("the bundle is not encrypted for key {} (no {})".format(
            recipient_id(public), os.path.relpath(path, bundle)))
    try:
        return sealed.unwrap(private_raw, public, files.read(path, F.WRAP_SIZE + 1), m.key_check)
    except BundleError as e:
        raise CommandError("{}: {}".format(path, e.reason)) from None
