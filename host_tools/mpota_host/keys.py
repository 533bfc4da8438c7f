"""Ed25519 key files: NAME.key (PKCS#8 PEM, optionally encrypted) and
NAME.pub (SubjectPublicKeyInfo PEM). Key ids come from the format module."""

import getpass
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mpota.bundle import format as F

from . import files
from .errors import CommandError


def key_id_hex(public_raw):
    return F.key_id(public_raw).hex()


def raw_public(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public_raw):
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def passphrase_from(env_name, ask, confirm=False):
    """The passphrase named by --passphrase-env, or asked on the terminal."""
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise CommandError("environment variable {} is not set".format(env_name))
        return value.encode()
    if ask:
        first = getpass.getpass("passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise CommandError("passphrases differ")
        return first.encode()
    return None


def write_keypair(name, passphrase, force):
    """Create NAME.key and NAME.pub; return (key path, pub path, public raw)."""
    key_path, pub_path = name + ".key", name + ".pub"
    for path in (key_path, pub_path):
        if os.path.exists(path) and not force:
            raise CommandError("{} exists (use --force to replace it)".format(path))
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    raw = raw_public(key.public_key())
    files.write(key_path, pem, 0o600)
    files.write(pub_path, public_pem(raw))
    return key_path, pub_path, raw




def load_private(path, passphrase_env=None):
    """An Ed25519PrivateKey from a PKCS#8 PEM file; asks for the passphrase
    on a terminal when the key is encrypted and none was given."""
    data = files.read(path)
    passphrase = passphrase_from(passphrase_env, False)
    try:
        try:
            key = serialization.load_pem_private_key(data, passphrase)
        except TypeError:
            # cryptography's TypeError: passphrase given to a plain key, or
            # none given to an encrypted one.
            if passphrase is None and not sys.stdin.isatty():
                raise CommandError("{} is encrypted: give --passphrase-env VAR".format(path))
            passphrase = None if passphrase else passphrase_from(None, True)
            key = serialization.load_pem_private_key(data, passphrase)
    except ValueError:
        raise CommandError("{}: not a PKCS#8 PEM private key, or wrong passphrase".format(path))
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandError("{}: not an Ed25519 key".format(path))
    return key


def load_public(path):
    """Raw 32-byte Ed25519 public key from a .pub (or a private .key) PEM."""
    data = files.read(path)
    if b"PRIVATE KEY" in data:
        return raw_public(load_private(path).public_key())
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise CommandError("{}: not a PEM public key".format(path))
    if not isinstance(key, Ed25519PublicKey):
        raise CommandError("{}: not an Ed25519 key".format(path))
    return raw_public(key)


