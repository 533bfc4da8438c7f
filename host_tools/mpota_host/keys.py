# SPDX-License-Identifier: MIT
"""Ed25519 key files: NAME.key (PKCS#8 PEM, optionally encrypted) and
NAME.pub (SubjectPublicKeyInfo PEM). Key ids come from the format module."""

import getpass
import os

from cryptography.exceptions import UnsupportedAlgorithm
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
    """The passphrase named by --passphrase-env, else (if ask) one asked on
    the terminal; never empty (an empty one would leave a key in clear)."""
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise CommandError("environment variable {} is not set".format(env_name))
        if not value:
            raise CommandError("environment variable {} is empty: a passphrase cannot be".format(env_name))
        return value.encode()
    if not ask:
        return None
    if not _terminal():
        raise CommandError("no terminal to ask for the passphrase: give --passphrase-env VAR")
    try:
        first = getpass.getpass("passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise CommandError("passphrases differ")
    except EOFError:
        raise CommandError("no terminal to ask for the passphrase: give --passphrase-env VAR") from None
    if not first:
        raise CommandError("a passphrase cannot be empty")
    return first.encode()


def _terminal():
    # getpass asks on /dev/tty; without one it would read stdin, echoed.
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
        return True
    except OSError:
        return False


def pair_paths(name, force):
    """NAME.key and NAME.pub, refused if either is a directory or (unless
    force) exists."""
    key_path, pub_path = name + ".key", name + ".pub"
    for path in (key_path, pub_path):
        if os.path.isdir(path):
            raise CommandError("{} is a directory".format(path))
        if os.path.exists(path) and not force:
            raise CommandError("{} exists (use --force to replace it)".format(path))
    return key_path, pub_path


def write_keypair(name, passphrase, force):
    """Create NAME.key and NAME.pub; return (key path, pub path, public raw)."""
    key_path, pub_path = pair_paths(name, force)
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    raw = raw_public(key.public_key())
    files.write(key_path, pem, 0o600)
    try:
        files.write(pub_path, public_pem(raw))
    except CommandError as e:
        raise CommandError("{}; {} is written: mpota pubkey -k {} -o {} makes the .pub".format(
            e, key_path, key_path, pub_path))
    return key_path, pub_path, raw


def pem_label(data):
    """The label of the first PEM block in data ("PRIVATE KEY", "ENCRYPTED
    PRIVATE KEY", "PUBLIC KEY", ...), from its BEGIN line; None if none.
    Text elsewhere in the file (a comment, a note) says nothing."""
    for line in data.splitlines():
        line = line.strip()
        if line.startswith(b"-----BEGIN ") and line.endswith(b"-----") and len(line) > 16:
            return line[11:-5].decode("ascii", "replace")
    return None


def load_private(path, passphrase_env=None):
    """An Ed25519PrivateKey from a PKCS#8 PEM file; an encrypted one takes
    the passphrase from $passphrase_env, else asks on the terminal."""
    data = files.read(path)
    label = pem_label(data) or ""
    if label.endswith("PUBLIC KEY"):
        raise CommandError("{} is a public key: give the private key (NAME.key)".format(path))
    encrypted = label == "ENCRYPTED PRIVATE KEY"
    if encrypted and not passphrase_env and not _terminal():
        raise CommandError("{} is encrypted: give --passphrase-env VAR".format(path))
    passphrase = passphrase_from(passphrase_env, True) if encrypted else None
    try:
        key = serialization.load_pem_private_key(data, passphrase)
    except ValueError:
        if encrypted:
            raise CommandError("{}: wrong passphrase{}".format(
                path, " (from ${})".format(passphrase_env) if passphrase_env else "")) from None
        raise CommandError("{}: not a PKCS#8 PEM private key".format(path)) from None
    except TypeError:
        # Encrypted in a form without the PKCS#8 "ENCRYPTED" marker.
        raise CommandError("{}: an encrypted key mpota does not read; export it as "
                           "PKCS#8 (openssl pkcs8 -topk8)".format(path)) from None
    except UnsupportedAlgorithm:
        raise CommandError("{}: a key of an algorithm mpota does not read: give an "
                           "Ed25519 key".format(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandError("{}: not an Ed25519 key".format(path))
    return key


def load_public(path, passphrase_env=None):
    """Raw 32-byte Ed25519 public key from a .pub (or a private .key) PEM."""
    data = files.read(path)
    if (pem_label(data) or "").endswith("PRIVATE KEY"):
        return raw_public(load_private(path, passphrase_env).public_key())
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise CommandError("{}: not a PEM public key".format(path)) from None
    except UnsupportedAlgorithm:
        raise CommandError("{}: a key of an algorithm mpota does not read: give an "
                           "Ed25519 key".format(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise CommandError("{}: not an Ed25519 key".format(path))
    return raw_public(key)


