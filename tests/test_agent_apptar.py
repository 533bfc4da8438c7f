# SPDX-License-Identifier: MIT
"""The app archive unpacker (firmware/mpota/apptar.py) under MicroPython.

The archive was verified against the signed image hash before it is
unpacked, so these are defence in depth: even a signed archive must not
write outside the slot's directory or leave the install half done with a
bare OS error. Archives are built with CPython's tarfile, which writes
whatever names it is given.
"""

import io
import tarfile

import pytest

from agent import kit

R, D, SYM, LNK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def _tar(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(data) if kind == R else 0
            t.addfile(info, io.BytesIO(data) if kind == R else None)
    return out.getvalue()


_UNPACK = """
import os
from mpota import apptar
from mpota.flash.region import FileRegion
size = os.stat({archive!r})[6]
r = FileRegion({archive!r}, size)
emit("result", outcome(lambda: apptar.extract(r, size, {dest!r}) or "unpacked"))
"""


def _unpack(target, tmp_path, members):
    archive = tmp_path / "app.tar"
    archive.write_bytes(_tar(members))
    dest = tmp_path / "slot" / "app"
    r = kit.run(target, _UNPACK.format(archive=str(archive), dest=str(dest)))
    return r["result"], dest


def _outside(tmp_path):
    """Every file under tmp_path that is not the archive or under slot/app."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file() and p.name != "app.tar"
                  and not p.is_relative_to(tmp_path / "slot" / "app"))


def test_plain_archive_unpacks_files_and_directories(unix_target, tmp_path):
    result, dest = _unpack(unix_target, tmp_path, [
        ("main.py", R, b"print(1)\n", ""), ("lib", D, b"", ""), ("lib/util.py", R, b"X = 2\n", ""),
        ("deep/er/mod.py", R, b"Y = 3\n", "")])
    assert result == "unpacked"
    assert (dest / "main.py").read_bytes() == b"print(1)\n"
    assert (dest / "lib" / "util.py").read_bytes() == b"X = 2\n"
    assert (dest / "deep" / "er" / "mod.py").read_bytes() == b"Y = 3\n"


@pytest.mark.parametrize("name", [
    "../evil.py",
    "a/../../evil.py",
    "/tmp/evil.py",
    "./main.py",
    "p" * 120 + "/../../evil.py",  # the '..' lands in ustar's prefix field
    "lib\\..\\evil.py",
], ids=["dotdot", "dotdot-inside", "absolute", "dot", "dotdot-in-prefix", "backslash"])
def test_entry_named_outside_the_slot_is_refused_and_nothing_escapes(unix_target, tmp_path, name):
    result, _ = _unpack(unix_target, tmp_path, [(name, R, b"owned = True\n", "")])
    assert result == {"refused": "bad-app"}
    assert _outside(tmp_path) == []


@pytest.mark.parametrize("kind,link", [(SYM, "/etc"), (LNK, "../x")], ids=["symlink", "hardlink"])
def test_link_entry_is_refused(unix_target, tmp_path, kind, link):
    result, dest = _unpack(unix_target, tmp_path, [("lnk", kind, b"", link)])
    assert result == {"refused": "bad-app"}
    assert not (dest / "lnk").exists()


@pytest.mark.parametrize("members", [
    [("a", R, b"x", ""), ("a/b.py", R, b"y", "")],
    [("a", D, b"", ""), ("a", R, b"y", "")],
], ids=["file-then-dir", "dir-then-file"])
def test_name_used_as_file_and_directory_is_a_clean_refusal(unix_target, tmp_path, members):
    result, _ = _unpack(unix_target, tmp_path, members)
    assert result == {"refused": "bad-app"}


def test_entry_longer_than_the_archive_is_refused(unix_target, tmp_path):
    data = bytearray(_tar([("main.py", R, b"z" * 2000, "")]))
    archive = tmp_path / "app.tar"
    archive.write_bytes(bytes(data[:1024]))  # header and part of the body
    dest = tmp_path / "slot" / "app"
    r = kit.run(unix_target, _UNPACK.format(archive=str(archive), dest=str(dest)))
    assert r["result"] == {"refused": "bad-app"}


def test_header_with_a_bad_checksum_is_refused(unix_target, tmp_path):
    data = bytearray(_tar([("main.py", R, b"print(1)\n", "")]))
    data[0] ^= 0x01  # the name changes, the checksum does not
    archive = tmp_path / "app.tar"
    archive.write_bytes(bytes(data))
    r = kit.run(unix_target, _UNPACK.format(archive=str(archive), dest=str(tmp_path / "d")))
    assert r["result"] == {"refused": "bad-app"}
