# SPDX-License-Identifier: MIT
"""Make keys, roots and bundles for tests.

Bundles are written in-process by the real host writer (fast, no process
per case); the CLI tests run `mpota` as a real subprocess through cli().
Keys are derived from their names, so a failing case is reproducible.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.error import BundleError
from mpota_host import document as D
from mpota_host import roots, writer

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
MPOTA = REPO / "build" / "venv" / "bin" / "mpota"


class Key:
    """An Ed25519 key usable as a host signer (`.public`, `.sign`)."""

    def __init__(self, name):
        seed = hashlib.sha256(b"mpota test key " + name.encode()).digest()
        self.private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.describe = name
        self.name = name
        self.id = F.key_id(self.public)

    def sign(self, message):
        return self.private.sign(bytes(message))

    def write(self, where, stem=None):
        """Write <where>/<stem>.key and .pub (stem: the key's name) as
        `mpota keygen` would; return both paths."""
        key = Path(where) / ((stem or self.name) + ".key")
        pub = Path(where) / ((stem or self.name) + ".pub")
        key.write_bytes(self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        pub.write_bytes(self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return key, pub


def keys(*names):
    return [Key(n) for n in names]


def root_doc(root_keys, root_threshold, update_keys, update_threshold,
             version=1, expires=None, signers=None):
    """A root document signed by `signers` (default: its own root keys)."""
    doc = roots.build(roots.RootParams(
        version, [k.public for k in root_keys], root_threshold,
        [k.public for k in update_keys], update_threshold, expires))
    return roots.add_signatures(doc, root_keys if signers is None else signers)


def params(**kw):
    base = dict(device_class="esp32", version=1, security_counter=1, sequence=1)
    base.update(kw)
    return writer.Params(**base)


def _noise(seed, block, n):
    blocks = (hashlib.sha512(b"%d-%d-%d" % (seed, block, i)).digest() for i in range((n + 63) // 64))
    return b"".join(blocks)[:n]


def image(size, seed=0):
    """Alternating pseudo-random and repetitive runs, short ones first (a
    few hundred bytes) then long ones (over 100 KB): at every chunk size
    some chunks compress and some do not, so a deflate bundle holds both
    codecs. Deterministic in (size, seed)."""
    out = bytearray()
    block = 0
    while len(out) < size:
        run = 700 if block < 12 else 150000
        if block % 2:
            line = b"mpota %d %d " % (seed, block)
            out += line * (run // len(line))
        else:
            out += _noise(seed, block, run)
        block += 1
    return bytes(out[:size])


def bundle(path, data, signers, **kw):
    """Write a bundle of `data` into directory `path`; return path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = path.parent / (path.name + ".img")
    img.write_bytes(data)
    writer.write_bundle(str(img), str(path), params(**kw), signers, force=True)
    return path


def resign(path, signers, sigs=None):
    """Replace the manifest's signatures: by `signers`, or exactly `sigs`."""
    doc = (Path(path) / "manifest").read_bytes()
    signed, _ = D.split(doc, F.DOC_MANIFEST)
    if sigs is None:
        sigs = D.sign(signed, [], signers)
    (Path(path) / "manifest").write_bytes(D.assemble(signed, sigs))


def resign_body(path, signed, signers):
    """Store an arbitrary signed part (e.g. a crafted body), signed."""
    sigs = [(k.id, k.sign(signed)) for k in signers]
    (Path(path) / "manifest").write_bytes(D.assemble(signed, sigs))


def verdict(path, root, **policy):
    """'ok' or the reason code, from the device's own verifier."""
    try:
        root = directory.newest_root(str(path), root)
        directory.verify(str(path), root, **policy)
    except BundleError as e:
        return e.reason
    return "ok"


def load_root(doc):
    return trust.load_root(doc)


def copy(src, dst):
    shutil.copytree(src, dst)
    return Path(dst)


def fields(doc):
    """(tag, offset, length) of every field, read independently of the
    device parser (docs/FORMAT.md, "Fields")."""
    end = 8 + int.from_bytes(doc[6:8], "big")
    pos, out = 8, []
    while pos < end:
        tag, n = doc[pos], doc[pos + 1]
        out.append((tag, pos + 2, n))
        pos += 2 + n
    return out


def chunk_files(path):
    return sorted((Path(path) / "chunks").iterdir())


def table_file(path):
    (t,) = list((Path(path) / "table").iterdir())
    return t


def cli(*args, env=None, cwd=None, stdin=None):
    """Run the real `mpota` command; return the CompletedProcess (text)."""
    cmd = [str(MPOTA)] if MPOTA.exists() else [sys.executable, "-m", "mpota_host.cli"]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, input=stdin, timeout=300)


def refusal(proc):
    """The reason code of a refused `mpota verify` (stderr's last word)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("mpota: refused: "), line
    return line[len("mpota: refused: "):].split(" ", 1)[0]
