# SPDX-License-Identifier: MIT
"""Signing from scripts and tests, without the CLI (docs/HOST_API.md):
keys, a trust root, a signed bundle from an app directory or an image.
Thin functions over keys.py, roots.py, apppack.py and writer.py, the code
`mpota keygen`, `mpota root init` and `mpota sign` run; failures raise
CommandError with the CLI's messages.

    update = make_key()
    root = make_root([make_key()], [update])
    sign_bundle("app/", "bundle-v2", [update], device_class="sensor", version=2)
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpota.bundle import format as F

from . import apppack, files, keys, roots, writer
from .errors import CommandError
from .signer import open_signer

PathLike = Union[str, "os.PathLike[str]"]


class Key:
    """An Ed25519 key in memory, usable wherever a signer is (`.public`,
    the raw 32-byte public key; `.sign(message)`)."""

    def __init__(self, private: Ed25519PrivateKey, describe: str = "key") -> None:
        self._private = private
        self.public: bytes = keys.raw_public(private.public_key())
        self.describe = describe

    @property
    def key_id(self) -> str:
        """The key id (hex) that documents name it by."""
        return keys.key_id_hex(self.public)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(bytes(message))

    def save(self, stem: PathLike, passphrase: Optional[bytes] = None) -> Tuple[str, str]:
        """Write STEM.key (PKCS#8 PEM, encrypted with passphrase if given)
        and STEM.pub, as `mpota keygen` does; return both paths."""
        stem = str(stem)
        encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                      else serialization.NoEncryption())
        files.write(stem + ".key", self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption), 0o600)
        files.write(stem + ".pub", keys.public_pem(self.public))
        return stem + ".key", stem + ".pub"

    def __repr__(self) -> str:
        return "Key({}, id {})".format(self.describe, self.key_id[:16])


def make_key(name: str = "key", seed: Optional[bytes] = None) -> Key:
    """A new random key; or, with seed (any bytes), the same key every
    time for that seed (reproducible tests)."""
    if seed is None:
        return Key(Ed25519PrivateKey.generate(), name)
    return Key(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"mpota key " + seed).digest()), name)


def load_key(path: PathLike, passphrase_env: Optional[str] = None) -> Key:
    """The key in a NAME.key file (`mpota keygen`); an encrypted one takes
    its passphrase from the environment variable passphrase_env."""
    return Key(keys.load_private(str(path), passphrase_env), str(path))


Signer = Any  # a Key, an object with .public and .sign, or a key file's path


def _signers(given: Sequence[Signer]) -> List[Any]:
    # A Key, any object with .public and .sign (a PKCS#11 signer), or
    # the path of a key file or a pkcs11: URI.
    return [s if hasattr(s, "sign") else open_signer(str(s)) for s in given]


def make_root(root_keys: Sequence[Key], update_keys: Sequence[Key], *, version: int = 1,
              root_threshold: int = 1, update_threshold: int = 1, expires: Optional[int] = None,
              control_keys: Sequence[Key] = (), control_threshold: int = 0, issued: int = 0,
              signers: Optional[Sequence[Signer]] = None) -> bytes:
    """A trust root document, signed by `signers` (default: its root keys;
    a rotation is signed by the old root's keys too). expires, issued:
    Unix seconds."""
    doc = roots.build(roots.RootParams(
        version, [k.public for k in root_keys], root_threshold,
        [k.public for k in update_keys], update_threshold, expires,
        [k.public for k in control_keys], control_threshold, issued))
    return roots.add_signatures(doc, _signers(root_keys if signers is None else signers))


@dataclass(frozen=True)
class Bundle:
    """A bundle directory as written: path, and what its manifest says."""
    path: str
    version: int
    security_counter: int
    sequence: int
    label: str
    image_size: int
    chunks: int
    manifest: bytes = field(repr=False)

    def __fspath__(self) -> str:
        return self.path


def sign_bundle(source: PathLike, out: PathLike, signers: Sequence[Signer], *, device_class: str,
                version: int, security_counter: Optional[int] = None,
                sequence: Optional[int] = None, target: Optional[str] = None,
                product: str = "mpota", hw_revs: Sequence[str] = (), label: str = "",
                expires: Optional[int] = None, min_agent: int = 0, chunk_size: int = 4096,
                compress: str = "none", window_bits: int = 12, issued: Optional[int] = None,
                roots: Sequence[bytes] = (), force: bool = False,
                progress: Optional[Callable[[int, int], None]] = None) -> Bundle:
    """Sign `source` into the bundle directory `out`, as `mpota sign` does.
    source: an app's directory (packed as the app image) or an image file.
    target: 'app' or 'firmware' (default: app for a directory, else
    firmware). security_counter and sequence default to version. roots:
    root documents to publish in the bundle. force replaces a bundle in out.
    """
    source, out = str(source), str(out)
    is_dir = os.path.isdir(source)
    target = target or ("app" if is_dir else "firmware")
    params = writer.Params(
        device_class=device_class, version=version,
        security_counter=version if security_counter is None else security_counter,
        sequence=version if sequence is None else sequence, product=product,
        hw_revs=list(hw_revs), target=target, label=label, expires=expires, min_agent=min_agent,
        chunk_size=chunk_size, compress=compress, window_bits=window_bits, issued=issued)
    writer.check(params)
    if is_dir and target != "app":
        raise CommandError("{} is a directory: app images need --target app".format(source))
    if not is_dir:
        writer.check_image(source, target)
        if target == "app":
            apppack.check_file(source)
    with tempfile.TemporaryDirectory(prefix="mpota-sign-") as tmp:
        image = source
        if is_dir:
            image = os.path.join(tmp, "app.tar")
            files.write(image, apppack.pack(source))
        doc = writer.write_bundle(image, out, params, _signers(signers), force=force,
                                  roots=list(roots), progress=progress)
    m = F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
    return Bundle(path=out, version=m.version, security_counter=m.security_counter,
                  sequence=m.sequence, label=m.label, image_size=m.image_size,
                  chunks=m.chunk_count(), manifest=bytes(doc))
