# SPDX-License-Identifier: MIT
"""`mpota sign` never damages what is already at the output path: every
input is checked before anything is written, the bundle is built beside the
output and swapped in only when complete, and each refusal is one line that
names the option or file at fault."""

import os
import subprocess
import tarfile

import pytest

from bundles import factory as f
from mpota_host import devca

U32 = "0 to 4294967295"
BASE = ("--version", 7, "--security-counter", 3, "--device-class", "esp32")


@pytest.fixture
def work(tmp_path):
    for i in range(9):
        f.Key("cli-safety-{}".format(i)).write(tmp_path, "k{}".format(i))
    (tmp_path / "fw.bin").write_bytes(f.image(10000, seed=5))
    assert sign(tmp_path, "-o", "good").returncode == 0
    return tmp_path


def sign(work, *extra, image="fw.bin", keys=("k0",), base=BASE):
    """Run `mpota sign` in `work` (relative names, so messages are exact)."""
    args = ["sign", image, *base]
    for k in keys:
        args += ["-k", k + ".key"]
    return f.cli(*args, *extra, cwd=work)


def snapshot(top):
    """Every file and directory under `top`, with the files' bytes."""
    out = {}
    for where, dirs, names in os.walk(top):
        for d in dirs:
            out[os.path.relpath(os.path.join(where, d), top)] = None
        for n in names:
            path = os.path.join(where, n)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, top)] = fh.read()
    return out


def refused(proc, message):
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "mpota: " + message + "\n")


def leftovers(parent):
    return [n for n in os.listdir(parent) if ".tmp" in n or ".old-" in n]


def verifies(work, bundle="good"):
    return f.cli("verify", bundle, "--trust", "k0.pub", cwd=work).returncode == 0


@pytest.mark.parametrize("option,value,message", [
    ("--version", "-3", "--version must be " + U32),
    ("--version", str(2**32), "--version must be " + U32),
    ("--security-counter", "-1", "--security-counter must be " + U32),
    ("--sequence", str(2**32), "--sequence must be " + U32),
    ("--min-agent-version", "-1", "--min-agent-version must be " + U32),
    ("--expires", "+99999999999999999d", "--expires (Unix seconds) must be 0 to 18446744073709551615"),
    ("--hw-rev", "has space", "--hw-rev 'has space': 1 to 16 printable ASCII characters, no spaces"),
])
def test_sign_with_an_out_of_range_value_leaves_the_existing_bundle_intact(work, option, value, message):
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force", option, value), message)
    assert snapshot(work / "good") == before and verifies(work)
    assert leftovers(work) == []


def test_sign_with_more_keys_than_a_manifest_holds_leaves_the_existing_bundle_intact(work):
    before = snapshot(work / "good")
    proc = sign(work, "-o", "good", "--force", keys=["k{}".format(i) for i in range(9)])
    refused(proc, "at most 8 signing keys (-k)")
    assert snapshot(work / "good") == before


def test_sign_with_a_root_file_that_is_not_a_root_leaves_the_existing_bundle_intact(work):
    (work / "garbage.bin").write_bytes(os.urandom(300))
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force", "--root", "garbage.bin"),
            "garbage.bin is not a root document: unknown-format")
    assert snapshot(work / "good") == before


def test_sign_with_two_roots_of_one_version_leaves_the_existing_bundle_intact(work):
    r = f.Key("cli-safety-root")
    for name in ("r1a", "r1b"):
        (work / name).write_bytes(f.root_doc([r], 1, [f.Key("cli-safety-0")], 1, version=1))
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force", "--root", "r1a", "--root", "r1b"),
            "two --root documents have version 1")
    assert snapshot(work / "good") == before and leftovers(work) == []


def test_sign_with_a_past_expiry_leaves_the_existing_bundle_intact(work):
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force", "--expires", "2020-01-01"),
            "--expires 2020-01-01 is in the past")
    assert snapshot(work / "good") == before


def test_the_same_hw_rev_twice_is_named_as_a_repeat(work):
    refused(sign(work, "-o", "new", "--hw-rev", "a", "--hw-rev", "b", "--hw-rev", "a"),
            "--hw-rev a given twice")
    assert not (work / "new").exists()


@pytest.mark.parametrize("image, message", [
    ("empty.bin", "empty.bin is empty: nothing to sign"),
    # Not read at all: only regular files are (a device may never end).
    ("/dev/null", "cannot read /dev/null: a device, not a regular file"),
])
def test_an_empty_image_is_refused_rather_than_signed_as_a_zero_chunk_release(work, image, message):
    (work / "empty.bin").write_bytes(b"")
    refused(sign(work, "-o", "new", image=image), message)
    assert not (work / "new").exists()


def test_app_target_with_a_file_that_is_not_a_tar_is_refused(work):
    refused(sign(work, "-o", "new", "--target", "app"),
            "fw.bin is not a tar archive of the app (give the app's directory)")
    assert not (work / "new").exists()
    # A real ustar archive given as a file is still accepted.
    (work / "main.py").write_text("print('hi')\n")
    with tarfile.open(work / "app.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(work / "main.py", arcname="main.py")
    assert sign(work, "-o", "app", "--target", "app", image="app.tar").returncode == 0


def test_output_that_is_a_regular_file_is_refused_and_left_alone(work):
    (work / "f").write_bytes(b"not a bundle")
    refused(sign(work, "-o", "f", "--force"), "f exists and is not a directory")
    assert (work / "f").read_bytes() == b"not a bundle"


def test_output_under_a_regular_file_is_one_line_not_a_traceback(work):
    (work / "f").write_bytes(b"x")
    refused(sign(work, "-o", "f/sub"), "cannot write f/sub: {} is not a directory".format(work / "f"))


def test_output_in_an_unwritable_place_is_one_line_not_a_traceback(work):
    proc = sign(work, "-o", "/proc/mpota-sign-safety/b")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("mpota: cannot write /proc/mpota-sign-safety/b: ")
    assert not os.path.exists("/proc/mpota-sign-safety")


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_non_empty_directory_without_a_bundle_is_never_written_or_deleted(work, force):
    (work / "docs").mkdir()
    (work / "docs" / "notes.txt").write_text("mine")
    refused(sign(work, "-o", "docs", *force), "docs is not empty and holds no bundle")
    assert snapshot(work / "docs") == {"notes.txt": b"mine"}


def test_a_bundle_directory_holding_other_files_is_not_replaced(work):
    (work / "good" / "README").write_text("release notes")
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force"),
            "good holds files that are not part of a bundle (README): move them away before replacing it")
    assert snapshot(work / "good") == before


def test_re_signing_a_served_bundle_keeps_the_ca_its_devices_pin(work):
    # `mpota serve good` keeps its development CA in good/.mpota-serve;
    # losing it on --force would strand every device that pinned it.
    devca.ensure(str(work / "good" / ".mpota-serve"))
    state = snapshot(work / "good" / ".mpota-serve")
    modes = {rel: os.stat(work / "good" / ".mpota-serve" / rel).st_mode for rel in state}
    proc = sign(work, "-o", "good", "--force", "--version", 8)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote good: 10000 bytes in 3 chunks, version 8,")
    assert verifies(work) and leftovers(work) == []
    assert snapshot(work / "good" / ".mpota-serve") == state
    # The CA's private key stays private: only the bundle is made servable.
    assert {rel: os.stat(work / "good" / ".mpota-serve" / rel).st_mode for rel in state} == modes
    assert os.stat(work / "good" / ".mpota-serve" / "ca.key").st_mode & 0o077 == 0


def test_a_serve_state_name_that_is_not_a_directory_blocks_replacing(work):
    (work / "elsewhere").mkdir()
    os.symlink(work / "elsewhere", work / "good" / ".mpota-serve")
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good", "--force"),
            "good holds files that are not part of a bundle (.mpota-serve): move them away "
            "before replacing it")
    assert snapshot(work / "good") == before


def test_a_symlinked_output_is_not_turned_into_a_directory(work):
    os.symlink("good", work / "current")
    refused(sign(work, "-o", "current", "--force"), "current is a symbolic link: give the directory itself")
    assert os.readlink(work / "current") == "good"


def test_an_existing_bundle_without_force_is_named_and_kept(work):
    before = snapshot(work / "good")
    refused(sign(work, "-o", "good"), "good holds a bundle (use --force to replace it)")
    assert snapshot(work / "good") == before


def test_replacing_a_bundle_leaves_no_temporary_or_old_directories(work):
    proc = sign(work, "-o", "good", "--force", "--version", 8)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote good: 10000 bytes in 3 chunks, version 8,")
    assert verifies(work) and leftovers(work) == []
    # Into an empty directory and into a new one under new parents.
    (work / "empty").mkdir()
    assert sign(work, "-o", "empty").returncode == 0 and verifies(work, "empty")
    assert sign(work, "-o", "new/deep/b").returncode == 0 and verifies(work, "new/deep/b")


def test_bundle_files_are_servable_by_another_user_even_under_a_private_umask(work):
    old = os.umask(0o077)
    try:
        assert sign(work, "-o", "fresh").returncode == 0
        assert sign(work, "-o", "good", "--force", "--compress", "deflate").returncode == 0
    finally:
        os.umask(old)
    for bundle in ("fresh", "good"):
        top = work / bundle
        assert os.stat(top).st_mode & 0o777 == 0o755
        for rel, data in snapshot(top).items():
            mode = os.stat(top / rel).st_mode & 0o777
            assert mode == (0o755 if data is None else 0o644), (bundle, rel, oct(mode))


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KB tmpfs, or a skip where tmpfs cannot be mounted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here: " + mounted.stderr.decode().strip())
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_sign_running_out_of_disk_mid_write_leaves_the_existing_bundle_intact(work, small_disk):
    assert sign(work, "-o", small_disk / "good").returncode == 0
    before = snapshot(small_disk / "good")
    (work / "big.bin").write_bytes(os.urandom(200000))
    refused(sign(work, "-o", small_disk / "good", "--force", image="big.bin"),
            "cannot write {}: No space left on device".format(small_disk / "good"))
    assert snapshot(small_disk / "good") == before
    assert os.listdir(small_disk) == ["good"]
    assert f.cli("verify", small_disk / "good", "--trust", "k0.pub", cwd=work).returncode == 0


def test_help_of_sign_states_ranges_defaults_and_what_force_does():
    proc = f.cli("sign", "--help")
    text = " ".join(proc.stdout.split())
    assert text.count(U32) == 4
    assert "(default: never)" in text
    assert "repeat for several" in text.split("--root ROOT", 1)[1]
    force = text.split("--force", 2)[2]
    assert "deleted once the new one is complete" in force and "never replaced" in force
    assert ".mpota-serve/) moves into the new one" in force


def test_what_an_interrupted_sign_left_behind_is_pointed_out_not_deleted(work):
    # A kill -9 mid-sign leaves its staging directory (and, in the instant
    # of the swap, the old bundle moved aside): the next sign names them.
    (work / ".good.tmp-abc123").mkdir()
    (work / ".good.old-def456" / "bundle").mkdir(parents=True)
    proc = sign(work, "-o", "good", "--force", "--version", 8)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "mpota: note: {} is left from an interrupted sign (the bundle it replaced, in "
        "bundle/); delete it when no sign is running".format(work / ".good.old-def456"),
        "mpota: note: {} is left from an interrupted sign (a bundle that was being "
        "written); delete it when no sign is running".format(work / ".good.tmp-abc123")]
    # Named the same whatever the spelling of -o.
    proc = sign(work, "-o", "good/", "--force", "--version", 9)
    assert proc.returncode == 0 and str(work / ".good.tmp-abc123") in proc.stderr
    assert (work / ".good.tmp-abc123").is_dir() and (work / ".good.old-def456").is_dir()
    assert verifies(work)


def test_ctrl_c_in_the_swap_puts_the_serve_state_back_before_anything_is_deleted(
        tmp_path, monkeypatch):
    from mpota_host import outdir

    target, tmp = tmp_path / "good", tmp_path / ".good.tmp-x"
    (target / outdir.SERVE_STATE).mkdir(parents=True)
    (target / outdir.SERVE_STATE / "ca.key").write_text("secret")
    tmp.mkdir()

    def interrupted(tmp, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(outdir, "_replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outdir._swap(str(tmp), str(target))
    assert (target / outdir.SERVE_STATE / "ca.key").read_text() == "secret"
    assert os.listdir(tmp) == []
