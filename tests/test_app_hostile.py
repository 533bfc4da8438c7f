# SPDX-License-Identifier: MIT
"""App images that hurt the unpacker or that no device can install.

Device side (MicroPython unix port): a deep archive once recursed once per
directory level, so a 127-level image ran out of stack (a Cortex-M3 at 48)
with an uncaught RuntimeError, no audit entry and the download left
pending; now trees are made and removed in loops, member paths deeper
than apptar.MAX_DEPTH are refused as 'bad-app', and the refusal reaches
the audit log under its own name.

Host side: `mpota sign --target app` applies the device's own member rules
(mpota.apptar) to a directory and to a given tar alike, so it never signs
a release that every device refuses after downloading it."""

import io
import os
import tarfile

import pytest

from agent import kit
from bundles import factory as f
from mpota import apptar

R, D, SYM = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE


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


def _deep(levels):
    """A file `levels` levels deep (the file itself is one level)."""
    return "/".join(["d"] * (levels - 1) + ["m.py"])


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
    return r.get("result"), dest


@pytest.mark.parametrize("levels", [apptar.MAX_DEPTH + 1, 48, 127])
def test_archive_deeper_than_the_limit_is_refused_as_bad_app_not_a_stack_overflow(
        unix_target, tmp_path, levels):
    result, _ = _unpack(unix_target, tmp_path, [(_deep(levels), R, b"x = 1\n", "")])
    assert result == {"refused": "bad-app"}


def test_archive_at_the_depth_limit_unpacks(unix_target, tmp_path):
    name = _deep(apptar.MAX_DEPTH)
    result, dest = _unpack(unix_target, tmp_path, [(name, R, b"x = 1\n", "")])
    assert result == "unpacked"
    assert (dest / name).read_bytes() == b"x = 1\n"


def test_tree_500_levels_deep_is_removed_without_recursion(unix_target, tmp_path):
    # Deeper than the unix port's own recursion limit (about 400 levels of
    # the old recursive remove; a board's is far lower).
    top = tmp_path / "t"
    deepest = top.joinpath(*["a"] * 500)
    deepest.mkdir(parents=True)
    (deepest / "f.py").write_bytes(b"x")
    (top / "a" / "g.py").write_bytes(b"y")
    r = kit.run(unix_target, "from mpota import apptar\n"
                "emit('result', outcome(lambda: apptar.remove({!r}) or 'removed'))\n".format(str(top)))
    assert r.get("result") == "removed", r
    assert not top.exists()


def test_destination_500_levels_deep_is_made_without_recursion(unix_target, tmp_path):
    dest = tmp_path.joinpath(*["s"] * 500)
    archive = tmp_path / "app.tar"
    archive.write_bytes(_tar([("main.py", R, b"print(1)\n", "")]))
    r = kit.run(unix_target, _UNPACK.format(archive=str(archive), dest=str(dest)))
    assert r.get("result") == "unpacked", r
    assert (dest / "main.py").read_bytes() == b"print(1)\n"


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    d = tmp_path_factory.mktemp("deep-app")
    deep = _tar([(_deep(127), R, b"print('deep')\n", "")])
    return {"dir": d, "root": kit.root(d),
            "v1": kit.app_bundle(d, "v1", 1, device_class="sim"),
            "v2": kit.app_bundle(d, "v2", 2, device_class="sim"),
            "deep": kit.bundle(d, "deep", deep, version=2, security_counter=2, sequence=2,
                               target="app", device_class="sim")}


def test_install_of_a_127_level_app_is_refused_and_logged_as_bad_app(tmp_path, releases):
    r = releases
    dev = tmp_path / "dev"
    p = kit.sim(dev, "provision", "--root", r["root"], "--bundle", r["v1"],
                "--device-class", "sim", "--bank", "dir", "--backoff-ms", "0")
    assert p.returncode == 0, p.stdout + p.stderr
    for _ in range(2):  # the same answer the next time, not a crash
        p = kit.sim(dev, "install", "--source", r["deep"])
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stdout + p.stderr
        assert p.stderr.strip().splitlines()[-1] == "sim: not done: bad-app"
    log = kit.sim(dev, "log").stdout.splitlines()
    assert log[-1].split()[1] == "verify-failure" and log[-1].endswith("bad-app"), log
    assert "trial: none" in kit.sim(dev, "status").stdout


_RUNTIME_ERROR = """
from mpota.source.local import LocalSource
from mpota.update.install import Install
from mpota.state import log as L
dev = device({base!r}, bank="dir", target="app", device_class="sim", slot_size=131072)
provision(dev, {root!r}, {v1!r})
def prepare(i, size):
    # A board's unpacker out of stack: what MicroPython raises then.
    raise RuntimeError("maximum recursion depth exceeded")
dev.bank.prepare = prepare
emit("install", outcome(lambda: Install(dev, LocalSource({v2!r})).run()))
st = dev.load()
emit("last", list(st.last()[:3]))
emit("bad_app", [L.VERIFY_FAIL, L.reason_code("bad-app"), 2])
from mpota.state.fields import NONE
emit("no_trial", st.trial == NONE)
"""


def test_runtime_error_while_unpacking_is_a_logged_refusal_not_an_escape(
        unix_target, tmp_path, releases):
    r = kit.run(unix_target, _RUNTIME_ERROR.format(
        base=str(tmp_path / "dev"), root=str(releases["root"]), v1=str(releases["v1"]),
        v2=str(releases["v2"])))
    assert r.get("install") == {"refused": "bad-app"}, r
    assert r["last"] == r["bad_app"] and r["bad_app"][1] != 255
    assert r["no_trial"] is True


# The host: mpota sign --target app


def _sign(tmp_path, image, *extra):
    (key,) = f.keys("app-hostile")
    k, _ = key.write(tmp_path)
    return f.cli("sign", image, "--target", "app", "-k", k, "--version", 1,
                 "--security-counter", 1, "--device-class", "c", "-o", tmp_path / "out", *extra)


def _refused(proc, *words):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("mpota: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)


@pytest.mark.parametrize("name, why", [
    ("my config.py", "space"),
    ("back\\slash.py", "backslash"),
    ("bell\x07.py", "control"),
    ("caf\u00e9.py", "non-ASCII"),
    ("n" * 101 + ".py", "too long"),
    ("/".join(["p" * 60] * 5) + "/m.py", "too long"),
    (_deep(apptar.MAX_DEPTH + 1), "levels deep"),
], ids=["space", "backslash", "control-char", "non-ascii", "name-over-100", "path-over-256",
        "too-deep"])
def test_app_directory_the_device_would_refuse_is_not_signed(tmp_path, name, why):
    app = tmp_path / "app"
    (app / name).parent.mkdir(parents=True, exist_ok=True)
    (app / name).write_bytes(b"x = 1\n")
    _refused(_sign(tmp_path, app), why)
    assert not (tmp_path / "out").exists()


def test_app_directory_with_a_symlink_is_not_signed(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_bytes(b"x = 1\n")
    (app / "lnk.py").symlink_to(app / "main.py")
    _refused(_sign(tmp_path, app), "regular files")


def test_app_directory_far_deeper_than_the_limit_stops_at_the_first_level_too_many(tmp_path):
    app = tmp_path / "app"
    deepest = app.joinpath(*["d"] * 300)
    deepest.mkdir(parents=True)
    (deepest / "m.py").write_bytes(b"x = 1\n")
    _refused(_sign(tmp_path, app), "levels deep")


@pytest.mark.parametrize("members, why", [
    ([("lnk", SYM, b"", "/etc/passwd")], "not a regular file or directory"),
    ([("../evil.py", R, b"x", "")], "'..'"),
    ([("lib/../../evil.py", R, b"x", "")], "'..'"),
    ([("/abs.py", R, b"x", "")], "absolute"),
    ([("my config.py", R, b"x", "")], "space"),
    ([(_deep(apptar.MAX_DEPTH + 1), R, b"x", "")], "levels deep"),
    ([("a", R, b"x", ""), ("a/b.py", R, b"y", "")], "is a file"),
    ([("a", D, b"", ""), ("a", R, b"y", "")], "both a file and a directory"),
], ids=["symlink", "dotdot", "dotdot-inside", "absolute", "space", "too-deep",
        "file-then-dir", "dir-then-file"])
def test_app_tar_the_device_would_refuse_is_not_signed(tmp_path, members, why):
    image = tmp_path / "app.tar"
    image.write_bytes(_tar(members))
    _refused(_sign(tmp_path, image), why)
    assert not (tmp_path / "out").exists()


def test_app_tar_cut_short_is_not_signed(tmp_path):
    image = tmp_path / "app.tar"
    image.write_bytes(_tar([("main.py", R, b"z" * 2000, "")])[:1024])
    _refused(_sign(tmp_path, image), "ustar")


def test_app_directory_and_tar_the_device_accepts_are_signed(tmp_path):
    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    (app / "main.py").write_bytes(b"print(1)\n")
    (app / _deep(apptar.MAX_DEPTH)).parent.mkdir(parents=True)
    (app / _deep(apptar.MAX_DEPTH)).write_bytes(b"x = 1\n")
    p = _sign(tmp_path, app)
    assert p.returncode == 0, p.stderr
    image = tmp_path / "ok.tar"
    image.write_bytes(_tar([("lib/", D, b"", ""), ("lib/util.py", R, b"x", ""), ("main.py", R, b"y", "")]))
    p = _sign(tmp_path, image, "--force")
    assert p.returncode == 0, p.stderr
    assert os.path.isfile(tmp_path / "out" / "manifest")


_ON_BOARD = """
import os
from mpota import apptar
from mpota.errors import AgentError
from mpota.flash.region import FileRegion
def attempt(fn):
    try:
        fn()
        return "done"
    except AgentError as e:
        return e.reason
def unpack(name, dest):
    size = os.stat(name)[6]
    apptar.extract(FileRegion(name, size), size, dest)
print("RESULT at-limit", attempt(lambda: unpack("limit.tar", "out/app")))
print("RESULT too-deep", attempt(lambda: unpack("deep.tar", "out/deep")))
print("RESULT remove", attempt(lambda: apptar.remove("old/t")))
"""


def test_deep_trees_are_made_and_removed_within_a_cortex_m3_stack(qemu_m3, tmp_path):
    # The emulated Cortex-M3 (10 KB C stack) ran out of stack 48 levels
    # deep in the recursive unpacker; its filesystem here is the host's,
    # through mpremote's mount.
    work = tmp_path / "w"
    (work / "out").mkdir(parents=True)
    (work / "limit.tar").write_bytes(_tar([(_deep(apptar.MAX_DEPTH), R, b"x = 1\n", "")]))
    (work / "deep.tar").write_bytes(_tar([(_deep(48), R, b"x = 1\n", "")]))
    deepest = (work / "old" / "t").joinpath(*["a"] * 60)
    deepest.mkdir(parents=True)
    (deepest / "f.py").write_bytes(b"x")
    out = qemu_m3.run(_ON_BOARD, path=[f.FIRMWARE, work], timeout=300)
    results = dict(line.split()[1:3] for line in out.splitlines() if line.startswith("RESULT "))
    assert results == {"at-limit": "done", "too-deep": "bad-app", "remove": "done"}, out
    assert (work / "out" / "app" / _deep(apptar.MAX_DEPTH)).read_bytes() == b"x = 1\n"
    assert not (work / "old" / "t").exists()
