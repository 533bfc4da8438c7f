# SPDX-License-Identifier: MIT
"""One verifier, two runtimes: a corpus of valid and tampered bundles gets
the same verdict from `mpota verify` (CPython, a real subprocess) and from
the same firmware code under build/unix/micropython. Each case also has
the verdict the spec predicts, so agreement on a wrong answer fails too.

Also measures the RAM the device keeps for update metadata."""

import datetime
import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from bundles import factory as f
from mpota.bundle import format as F
from mpota_host import document as D
from mpota_host import writer

DEVICE = f.REPO / "tests" / "device"
R, A, B, C, X = f.keys("rt2-r", "rt2-a", "rt2-b", "rt2-c", "rt2-x")
NOW = 1_800_000_000


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _signed_len(path):
    doc = (path / "manifest").read_bytes()
    return 8 + int.from_bytes(doc[6:8], "big")


def _resign_fields(path, extra):
    # Add fields to a copy's manifest and sign it again with A and B.
    doc = (path / "manifest").read_bytes()
    signed = bytearray(doc[:_signed_len(path)])
    signed += extra
    signed[6:8] = (len(signed) - 8).to_bytes(2, "big")
    f.resign_body(path, bytes(signed), [A, B])


def _bad_deflate(path):
    # A signed bundle whose one deflate chunk is consistent with its hashes
    # but is not a deflate stream.
    garbage = bytes(range(7, 255, 3)) * 4
    raw = b"\0" * 1024
    sha = hashlib.sha256(garbage).digest()
    (path / "chunks").mkdir(parents=True)
    (path / "table").mkdir()
    (path / "chunks" / sha.hex()).write_bytes(garbage)
    table = writer.entry(F.CODEC_DEFLATE, garbage, sha, hashlib.sha256(raw).digest())
    (path / "table" / hashlib.sha256(table).hexdigest()).write_bytes(table)
    fields = writer.manifest_fields(f.params(compress="deflate", chunk_size=1024), 1024,
                                    hashlib.sha256(raw).digest(), hashlib.sha256(table).digest())
    signed = D.unsigned(F.DOC_MANIFEST, fields)
    f.resign_body(path, signed, [A, B])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """[(name, bundle dir, trust file, policy dict, expected verdict)]."""
    base = tmp_path_factory.mktemp("corpus")
    root1 = base / "root1"
    root1.write_bytes(f.root_doc([R], 1, [A, B, C], 2))
    _, a_pub = A.write(base)
    good = f.bundle(base / "good", f.image(30000, seed=1), [A, B], chunk_size=1024,
                    compress="deflate", expires=NOW + 10, hw_revs=["r1"])
    other = f.bundle(base / "other", f.image(30000, seed=2), [A, B], chunk_size=1024)
    cases = [("valid-deflate", good, root1, {}, "ok"),
             ("valid-device-facts", good, root1, {"device_class": "esp32", "now": NOW}, "ok")]

    def variant(name, expected, change, policy=None, trust=root1, source=good):
        path = f.copy(source, base / name)
        change(path)
        cases.append((name, path, trust, policy or {}, expected))

    cases.append(("valid-plain", f.bundle(base / "plain", f.image(9000, seed=3), [A, C],
                                          chunk_size=256), root1, {}, "ok"))
    cases.append(("valid-empty", f.bundle(base / "empty", b"", [B, C]), root1, {}, "ok"))
    cases.append(("valid-one-key-pub", f.bundle(base / "onekey", b"abc" * 999, [A]),
                  a_pub, {}, "ok"))
    cases.append(("one-key-below-root-threshold", base / "onekey", root1, {}, "below-threshold"))

    chunk = lambda p: [c for c in f.chunk_files(p) if c.stat().st_size == 1024][0]  # noqa: E731
    variant("flip-field", "bad-signature", lambda p: _flip(p / "manifest", 20))
    variant("flip-magic", "unknown-format", lambda p: _flip(p / "manifest", 0))
    variant("flip-version", "unknown-format", lambda p: _flip(p / "manifest", 4))
    variant("flip-doc-type", "wrong-document", lambda p: _flip(p / "manifest", 5))
    variant("flip-signature", "bad-signature", lambda p: _flip(p / "manifest", _signed_len(p) + 30))
    variant("flip-key-id", "below-threshold", lambda p: _flip(p / "manifest", _signed_len(p) + 1))
    variant("extra-byte", "malformed",
            lambda p: (p / "manifest").write_bytes((p / "manifest").read_bytes() + b"\0"))
    variant("random-manifest", "unknown-format",
            lambda p: (p / "manifest").write_bytes(hashlib.sha512(b"r").digest() * 3))
    variant("oversized-manifest", "too-large",
            lambda p: (p / "manifest").write_bytes(b"MPOT" + b"\0" * 5000))
    variant("unknown-key", "unknown-key", lambda p: f.resign(p, [X]))
    variant("below-threshold", "below-threshold", lambda p: f.resign(p, [A]))
    variant("revoked-key", "below-threshold", lambda p: (
        f.resign(p, [A, C]),
        (p / "roots").mkdir(),
        (p / "roots" / "2").write_bytes(f.root_doc([R], 1, [A, B], 2, version=2))))
    variant("forged-rotation", "unknown-key", lambda p: (
        (p / "roots").mkdir(),
        (p / "roots" / "2").write_bytes(f.root_doc([X], 1, [X], 1, version=2))))
    variant("rotated-valid", "ok", lambda p: (
        f.resign(p, [X]),
        (p / "roots").mkdir(),
        (p / "roots" / "2").write_bytes(f.root_doc([R], 1, [X], 1, version=2))))
    variant("wrong-device-class", "wrong-device-class", lambda p: None, {"device_class": "rp2040"})
    variant("wrong-hw-rev", "wrong-hw-rev", lambda p: None, {"hw_rev": "r9"})
    variant("expired", "expired", lambda p: None, {"now": NOW + 10})
    variant("unknown-field", "unknown-field", lambda p: _resign_fields(p, b"\x7f\x00"))
    variant("optional-field", "ok", lambda p: _resign_fields(p, b"\x90\x03abc"))
    variant("bad-field-order", "malformed", lambda p: _resign_fields(p, b"\x01\x01z"))
    variant("flip-chunk", "hash-mismatch", lambda p: _flip(chunk(p), 100))
    variant("truncate-chunk", "truncated-chunk",
            lambda p: chunk(p).write_bytes(chunk(p).read_bytes()[:-5]))
    variant("extend-chunk", "too-large", lambda p: chunk(p).write_bytes(chunk(p).read_bytes() + b"!"))
    variant("drop-chunk", "missing-chunk", lambda p: f.chunk_files(p)[0].unlink())
    variant("foreign-chunk", "hash-mismatch", lambda p: shutil.copyfile(chunk(other), chunk(p)))
    variant("reorder-table", "hash-mismatch", lambda p: f.table_file(p).write_bytes(
        f.table_file(p).read_bytes()[72:144] + f.table_file(p).read_bytes()[:72]
        + f.table_file(p).read_bytes()[144:]))
    variant("truncate-table", "truncated-table",
            lambda p: f.table_file(p).write_bytes(f.table_file(p).read_bytes()[:-1]))
    variant("extend-table", "too-large",
            lambda p: f.table_file(p).write_bytes(f.table_file(p).read_bytes() + b"\0"))
    variant("drop-table", "missing-table", lambda p: f.table_file(p).unlink())
    variant("drop-manifest", "missing-manifest", lambda p: (p / "manifest").unlink())
    bad = base / "bad-deflate"
    _bad_deflate(bad)
    cases.append(("bad-deflate", bad, root1, {}, "bad-deflate"))
    return cases


def _cli_args(path, trust, policy):
    args = ["verify", path, "--trust", trust]
    for key, opt in (("device_class", "--device-class"), ("hw_rev", "--hw-rev")):
        if key in policy:
            args += [opt, policy[key]]
    when = policy.get("now", NOW)
    args += ["--at", datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()]
    return args


def _cli_verdict(case):
    _, path, trust, policy, _ = case
    proc = f.cli(*_cli_args(path, trust, policy))
    if proc.returncode == 0:
        assert proc.stdout.startswith("OK ") and proc.stdout.count("\n") == 1, proc.stdout
        return "ok"
    return f.refusal(proc)


def _device_cases(corpus):
    out = []
    for name, path, trust, policy, _ in corpus:
        spec = str(trust)
        if str(trust).endswith(".pub"):
            spec = "key:" + A.public.hex()
        pol = dict(policy)
        pol.setdefault("now", NOW)
        out.append((name, str(path), spec, pol))
    return out


@pytest.fixture(scope="module")
def cli_verdicts(corpus):
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip([c[0] for c in corpus], pool.map(_cli_verdict, corpus)))


def _device_verdicts(target, corpus, path):
    code = "CASES = {!r}\n".format(_device_cases(corpus)) + (DEVICE / "bundle_verify.py").read_text()
    out = target.run(code, path=path, timeout=300)
    device = {}
    for line in out.splitlines():
        word, name, verdict = line.split()
        assert word == "verdict"
        device[name] = verdict
    return device


def _compare(corpus, cli, device):
    expected = {c[0]: c[4] for c in corpus}
    rows = ["{:<28} expected {:<18} cpython {:<18} micropython {}".format(
        n, expected[n], cli.get(n), device.get(n)) for n in expected]
    assert cli == device == expected, "\n".join(rows)
    # The corpus exercises both outcomes and many distinct reasons.
    assert "ok" in expected.values() and len(set(expected.values())) >= 15


def test_cpython_cli_and_micropython_give_the_same_verdicts(corpus, cli_verdicts, unix_target):
    device = _device_verdicts(unix_target, corpus, [f.FIRMWARE])
    _compare(corpus, cli_verdicts, device)


def test_pure_python_fallback_on_stock_micropython_gives_the_same_verdicts(
        corpus, cli_verdicts, unix_stock_target):
    # Stock firmware: no ed25519 C module and no hashlib.sha512, so this is
    # the CircuitPython path (fallback Ed25519 over adafruit_hashlib).
    lib = f.REPO / "build" / "circuitpython-lib"
    impl = unix_stock_target.run("from mpota import crypto\nprint(crypto.IMPLEMENTATION, crypto.SHA512_SOURCE)",
                                 path=[f.FIRMWARE, lib])
    assert impl.split() == ["python", "adafruit_hashlib"]
    device = _device_verdicts(unix_stock_target, corpus, [f.FIRMWARE, lib])
    _compare(corpus, cli_verdicts, device)


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory):
    """root and b/: 16 MB of one repeated chunk, 4096 table entries."""
    d = tmp_path_factory.mktemp("big")
    (d / "root").write_bytes(f.root_doc([R], 1, [A, B, C], 2))
    img = tmp_path_factory.mktemp("img") / "img"
    with open(img, "wb") as fh:
        fh.truncate(16 * 1024 * 1024)
    writer.write_bundle(str(img), str(d / "b"), f.params(chunk_size=4096), [A, B, C])
    return d


def _memory(target, root, bundle, path):
    code = "ROOT = {!r}\nBUNDLE = {!r}\n".format(root, bundle) \
        + (DEVICE / "bundle_memory.py").read_text()
    out = target.run(code, path=path, timeout=300)
    figures = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    assert figures["chunks"] == 4096
    print("metadata RAM on {}: manifest phase {manifest} B, table phase {table} B, "
          "signature check transient {transient} B".format(target.name, **figures))
    assert 0 < figures["manifest"] < 4096
    assert 0 < figures["table"] < 4096
    return figures


def test_update_metadata_stays_under_4_kb_for_a_16_mb_image(big_bundle, unix_target):
    _memory(unix_target, str(big_bundle / "root"), str(big_bundle / "b"), [f.FIRMWARE])


def test_update_metadata_on_a_32_bit_board_is_smaller_still(big_bundle, unix_target, qemu_m3):
    # The Cortex-M3 board reads the bundle through mpremote's mount
    # (/remote is its current directory).
    board = _memory(qemu_m3, "root", "b", [f.FIRMWARE, big_bundle])
    unix = _memory(unix_target, str(big_bundle / "root"), str(big_bundle / "b"), [f.FIRMWARE])
    assert board["manifest"] < unix["manifest"] and board["table"] < unix["table"]
