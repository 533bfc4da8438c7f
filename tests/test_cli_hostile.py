# SPDX-License-Identifier: MIT
"""The host CLI given hostile files: a bundle folder whose manifest is a
FIFO or a directory, a chunk table that is /dev/zero or that an unsigned
manifest claims is 300 MB, keys of an unknown algorithm or with a
misleading comment, a time of 5000 digits. Each is one line on stderr
(or a bounded answer), never a hang, a traceback or a read of what no
signature vouches for."""

import base64
import json
import os

import pytest

from bundles import factory as f
from mpota.bundle import format as F
from mpota_host import document as D
from mpota_host import writer


@pytest.fixture
def bundle(tmp_path):
    (key,) = f.keys("hostile-cli")
    key.write(tmp_path)
    path = f.bundle(tmp_path / "b", f.image(3000), [key], chunk_size=1024)
    return path


def _one_line_error(proc, *words):
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("mpota: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)


def _fifo_instead_of(path):
    path.unlink()
    os.mkfifo(path)


def test_fifo_as_manifest_is_refused_by_inspect_not_waited_on(bundle):
    _fifo_instead_of(bundle / "manifest")
    _one_line_error(f.cli("inspect", bundle), "FIFO")


def test_fifo_as_manifest_is_refused_by_verify_not_waited_on(bundle, tmp_path):
    _fifo_instead_of(bundle / "manifest")
    _one_line_error(f.cli("verify", bundle, "--trust", tmp_path / "hostile-cli.pub"), "FIFO")


def test_fifo_as_trust_is_refused_not_waited_on(bundle, tmp_path):
    os.mkfifo(tmp_path / "trust.pub")
    _one_line_error(f.cli("verify", bundle, "--trust", tmp_path / "trust.pub"), "FIFO")


def test_fifo_as_a_chunk_is_refused_by_verify_not_waited_on(bundle, tmp_path):
    _fifo_instead_of(f.chunk_files(bundle)[0])
    _one_line_error(f.cli("verify", bundle, "--trust", tmp_path / "hostile-cli.pub"), "FIFO")


def test_directory_where_the_manifest_should_be_is_named_as_one(bundle, tmp_path):
    (bundle / "manifest").unlink()
    (bundle / "manifest").mkdir()
    for args in (("inspect", bundle), ("verify", bundle, "--trust", tmp_path / "hostile-cli.pub")):
        _one_line_error(f.cli(*args), "manifest", "a directory")


def _claim_a_gigabyte(bundle):
    """Replace the manifest by an unsigned one claiming a 1 GiB image in
    256-byte chunks: a 302 MB chunk table. Returns the table's path."""
    params = f.params(chunk_size=256)
    table_sha = bytes(range(32))
    fields = writer.manifest_fields(params, F.MAX_IMAGE_SIZE, bytes(32), table_sha)
    (bundle / "manifest").write_bytes(D.assemble(D.unsigned(F.DOC_MANIFEST, fields), []))
    for t in (bundle / "table").iterdir():
        t.unlink()
    return bundle / "table" / table_sha.hex()


def test_table_that_is_dev_zero_under_a_gigabyte_claim_is_not_read(bundle):
    _claim_a_gigabyte(bundle).symlink_to("/dev/zero")
    _one_line_error(f.cli("inspect", bundle), "device")


def test_unsigned_claim_of_a_300_mb_table_is_not_followed(bundle):
    table = _claim_a_gigabyte(bundle)
    with open(table, "wb") as t:
        t.truncate((F.MAX_IMAGE_SIZE + 255) // 256 * F.ENTRY_SIZE)  # sparse
    proc = f.cli("inspect", bundle, "--json")
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)["table"]
    assert t["present"] and not t["read"], t
    text = f.cli("inspect", bundle).stdout
    assert "not read" in text


def _pem(label, der):
    return ("-----BEGIN {}-----\n".format(label).encode() + base64.encodebytes(der)
            + "-----END {}-----\n".format(label).encode())


def _tlv(tag, value):
    n = len(value)
    size = bytes([n]) if n < 128 else bytes([0x81, n])
    return bytes([tag]) + size + value


_UNKNOWN_ALG = _tlv(0x30, _tlv(6, bytes([0x2A, 3, 4])))  # AlgorithmIdentifier 1.2.3.4


@pytest.mark.parametrize("kind, command", [
    ("private", "verify"), ("private", "sign"), ("private", "pubkey"), ("public", "verify")])
def test_key_of_an_unknown_algorithm_is_a_one_line_error(bundle, tmp_path, kind, command):
    if kind == "private":
        der = _tlv(0x30, _tlv(2, b"\0") + _UNKNOWN_ALG + _tlv(4, _tlv(4, b"\1" * 32)))
        pem = _pem("PRIVATE KEY", der)
    else:
        pem = _pem("PUBLIC KEY", _tlv(0x30, _UNKNOWN_ALG + _tlv(3, b"\0" + b"\1" * 32)))
    key = tmp_path / "odd.pem"
    key.write_bytes(pem)
    (tmp_path / "img").write_bytes(b"x" * 100)
    args = {"verify": ("verify", bundle, "--trust", key),
            "sign": ("sign", tmp_path / "img", "-k", key, "--version", 1, "--security-counter", 1,
                     "--device-class", "c", "-o", tmp_path / "out"),
            "pubkey": ("pubkey", "-k", key)}[command]
    _one_line_error(f.cli(*args), "algorithm")


def test_plain_key_with_a_comment_naming_encryption_is_not_called_encrypted(tmp_path):
    (key,) = f.keys("commented")
    path, _ = key.write(tmp_path)
    path.write_bytes(b"note: not an ENCRYPTED PRIVATE KEY\n" + path.read_bytes())
    proc = f.cli("pubkey", "-k", path)
    assert proc.returncode == 0, proc.stderr
    assert "PUBLIC KEY" in proc.stdout


@pytest.mark.parametrize("option", ["--expires", "--at"])
def test_time_of_5000_digits_is_a_one_line_error(bundle, tmp_path, option):
    when = "+" + "9" * 5000 + "d"
    if option == "--expires":
        (tmp_path / "img").write_bytes(b"x" * 100)
        args = ("sign", tmp_path / "img", "-k", tmp_path / "hostile-cli.key", "--version", 1,
                "--security-counter", 1, "--device-class", "c", "-o", tmp_path / "out",
                "--expires", when)
    else:
        args = ("verify", bundle, "--trust", tmp_path / "hostile-cli.pub", "--at", when)
    _one_line_error(f.cli(*args), "time")
