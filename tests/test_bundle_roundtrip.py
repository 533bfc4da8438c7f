# SPDX-License-Identifier: MIT
"""Round trips: what the writer signs, the device verifier accepts, and the
chunks reassemble into exactly the image (checked independently of the
verifier, from docs/FORMAT.md)."""

import hashlib
import zlib

import pytest

from bundles import factory as f
from mpota.bundle import format as F

A, B = f.keys("rt-a", "rt-b")
ROOT = f.load_root(f.root_doc([A], 1, [A, B], 2))


def reassemble(path, m):
    """The image rebuilt from table and chunks without the device code."""
    table = f.table_file(path).read_bytes()
    assert len(table) == 72 * m.chunk_count()
    out = bytearray()
    codecs = set()
    for i in range(m.chunk_count()):
        e = table[72 * i:72 * (i + 1)]
        codec, stored_len = e[0], int.from_bytes(e[4:8], "big")
        stored = (path / "chunks" / e[8:40].hex()).read_bytes()
        assert len(stored) == stored_len and hashlib.sha256(stored).digest() == e[8:40]
        raw = zlib.decompress(stored, -m.window_bits) if codec == 1 else stored
        assert hashlib.sha256(raw).digest() == e[40:72]
        codecs.add(codec)
        out += raw
    return bytes(out), codecs


def manifest_of(path):
    doc = (path / "manifest").read_bytes()
    return F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))


SMALL = [0, 1, 255, 256, 257, 4095, 4096, 4097, 70001]


@pytest.mark.parametrize("compress", ["none", "deflate"])
@pytest.mark.parametrize("chunk_size", [256, 4096, 65536])
@pytest.mark.parametrize("size", SMALL)
def test_signed_bundle_verifies_and_reassembles_to_the_image(tmp_path, size, chunk_size, compress):
    data = f.image(size, seed=size)
    path = f.bundle(tmp_path / "b", data, [A, B], chunk_size=chunk_size, compress=compress)
    assert f.verdict(path, ROOT, device_class="esp32") == "ok"
    m = manifest_of(path)
    assert m.image_size == size and m.chunk_count() == -(-size // chunk_size)
    rebuilt, _ = reassemble(path, m)
    assert rebuilt == data


@pytest.mark.parametrize("compress,chunk_size", [("none", 1024), ("deflate", 1024), ("deflate", 65536),
                                                 ("none", 1048576)])
def test_multi_megabyte_image_round_trips(tmp_path, compress, chunk_size):
    data = f.image(3 * 1024 * 1024 + 123, seed=7)
    path = f.bundle(tmp_path / "b", data, [A, B], chunk_size=chunk_size, compress=compress,
                    window_bits=10)
    assert f.verdict(path, ROOT) == "ok"
    rebuilt, codecs = reassemble(path, manifest_of(path))
    assert rebuilt == data
    if compress == "deflate":
        # The test image is built so that both codecs occur.
        assert codecs == {F.CODEC_NONE, F.CODEC_DEFLATE}
    else:
        assert codecs <= {F.CODEC_NONE}


def test_identical_chunks_are_stored_once(tmp_path):
    data = b"\xA5" * 4096 * 8
    path = f.bundle(tmp_path / "b", data, [A, B], chunk_size=4096)
    assert len(f.chunk_files(path)) == 1
    assert f.verdict(path, ROOT) == "ok"


def test_deflate_makes_compressible_bundles_smaller(tmp_path):
    data = b"print('hello from mpota')\n" * 20000
    plain = f.bundle(tmp_path / "plain", data, [A, B], compress="none")
    packed = f.bundle(tmp_path / "packed", data, [A, B], compress="deflate")
    size = lambda p: sum(c.stat().st_size for c in f.chunk_files(p))  # noqa: E731
    assert size(packed) * 10 < size(plain)
    assert f.verdict(packed, ROOT) == "ok"


def test_every_window_size_inflates(tmp_path):
    data = f.image(40000, seed=3)
    for bits in range(F.MIN_WINDOW_BITS, F.MAX_WINDOW_BITS + 1):
        path = f.bundle(tmp_path / str(bits), data, [A, B], compress="deflate", window_bits=bits)
        assert manifest_of(path).window_bits == bits
        assert f.verdict(path, ROOT) == "ok", bits
