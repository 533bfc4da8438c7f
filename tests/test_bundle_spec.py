# SPDX-License-Identifier: MIT
"""docs/FORMAT.md is enough to write a compatible signer: the worked example
is built here byte by byte from the page (not from the writer), and both
the device reader and `mpota sign` must agree with it exactly."""

import hashlib
import re

from bundles import factory as f
from mpota.bundle import trust

KEY = f.Key("spec-example")
SPEC = (f.REPO / "docs" / "FORMAT.md").read_text()


def u32(v):
    return v.to_bytes(4, "big")


def tlv(tag, value):
    return bytes((tag, len(value))) + value


ISSUED = 1796083200  # T_ISSUED of the worked example: 2026-12-01T00:00:00Z


def independent_bundle(image, chunk_size):
    """(manifest bytes, {file name: bytes}) following docs/FORMAT.md."""
    files = {}
    table = b""
    for off in range(0, len(image), chunk_size):
        raw = image[off:off + chunk_size]
        sha = hashlib.sha256(raw).digest()
        files["chunks/" + sha.hex()] = raw
        table += bytes((0, 0, 0, 0)) + u32(len(raw)) + sha + sha
    table_sha = hashlib.sha256(table).digest()
    files["table/" + table_sha.hex()] = table
    body = (tlv(0x01, b"mpota") + tlv(0x02, b"esp32") + tlv(0x04, b"\x01")
            + tlv(0x05, u32(2)) + tlv(0x06, b"v2") + tlv(0x07, u32(1)) + tlv(0x08, u32(7))
            + tlv(0x0B, u32(len(image))) + tlv(0x0C, hashlib.sha256(image).digest())
            + tlv(0x0D, u32(chunk_size)) + tlv(0x0E, table_sha)
            + tlv(0x81, ISSUED.to_bytes(8, "big")))
    signed = b"MPOT" + bytes((1, 1)) + len(body).to_bytes(2, "big") + body
    key_id = hashlib.sha256(KEY.public).digest()[:8]
    manifest = signed + b"\x01" + key_id + KEY.sign(signed)
    return manifest, files


IMAGE = bytes(i * 7 % 251 for i in range(5000))


def test_worked_example_header_matches_the_page():
    manifest, _ = independent_bundle(IMAGE, 4096)
    body_len = int.from_bytes(manifest[6:8], "big")
    assert re.search(r"4d504f54 01 01 {:04x}\s+magic, version 1, manifest, B = {}".format(
        body_len, body_len), SPEC)
    assert "signature over the {} bytes above".format(8 + body_len) in SPEC
    assert len(manifest) == 8 + body_len + 1 + 72


def test_independently_written_bundle_is_accepted_by_the_device_reader(tmp_path):
    manifest, files = independent_bundle(IMAGE, 4096)
    (tmp_path / "chunks").mkdir()
    (tmp_path / "table").mkdir()
    (tmp_path / "manifest").write_bytes(manifest)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    root = trust.key_root(KEY.public)
    assert f.verdict(tmp_path, root, device_class="esp32", now=0) == "ok"


def test_mpota_sign_writes_the_same_bytes_as_the_spec(tmp_path):
    manifest, files = independent_bundle(IMAGE, 4096)
    key, _ = KEY.write(tmp_path)
    (tmp_path / "image").write_bytes(IMAGE)
    proc = f.cli("sign", tmp_path / "image", "-k", key, "--version", 2, "--label", "v2",
                 "--security-counter", 1, "--sequence", 7, "--device-class", "esp32",
                 "--issued", ISSUED, "--no-provenance", "-o", tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "manifest").read_bytes() == manifest
    written = {str(p.relative_to(tmp_path / "b")): p.read_bytes()
               for p in (tmp_path / "b").rglob("*") if p.is_file() and p.name != "manifest"}
    # And the optional stream file: the stored chunks in table order (here
    # stored as is, so the image itself).
    table = next(n for n in files if n.startswith("table/"))
    files["stream/" + table[len("table/"):]] = IMAGE
    assert written == files


def test_every_reason_code_the_verifier_can_raise_is_documented():
    src = "".join(p.read_text() for p in (f.FIRMWARE / "mpota" / "bundle").glob("*.py"))
    raised = set(re.findall(r'BundleError\("([a-z-]+)"\)', src))
    raised |= set(re.findall(r'"(missing-[a-z]+|truncated-[a-z]+)"', src))
    table = SPEC[SPEC.index("## Reason codes"):]
    documented = set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", table))
    assert raised and raised <= documented, raised - documented
