# SPDX-License-Identifier: MIT
"""The release engineer's path through the real `mpota` command: keys,
sign, verify (exit 0 and one line, or exit 1 and the reason), inspect,
k-of-n co-signing, app images, progress."""

import io
import json
import tarfile

import pytest

from bundles import factory as f


@pytest.fixture
def work(tmp_path):
    # Key files as `mpota keygen` writes them (keygen has its own tests).
    for name in ("a", "b"):
        f.Key("cli-sv-" + name).write(tmp_path, name)
    (tmp_path / "fw.bin").write_bytes(f.image(2 * 1024 * 1024 + 5, seed=21))
    return tmp_path


def sign(work, *extra, out="bundle", keys=("a",)):
    args = ["sign", work / "fw.bin", "--version", 7, "--label", "1.4.2",
            "--security-counter", 3, "--device-class", "esp32-s3", "-o", work / out]
    for k in keys:
        args += ["-k", work / (k + ".key")]
    proc = f.cli(*args, *extra)
    assert proc.returncode == 0, proc.stderr
    return work / out


def test_sign_and_verify_a_multi_megabyte_image(work):
    bundle = sign(work, "--compress", "deflate", "--chunk-size", "16384", "--hw-rev", "B")
    proc = f.cli("verify", bundle, "--trust", work / "a.pub", "--device-class", "esp32-s3",
                 "--hw-rev", "B")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("OK ")
    for word in ("esp32-s3", "version 7 (1.4.2)", "security counter 3", "2097157 bytes", "129 chunks"):
        assert word in proc.stdout, word


@pytest.mark.parametrize("extra,reason", [
    (["--device-class", "rp2040"], "wrong-device-class"),
    (["--hw-rev", "C"], "wrong-hw-rev"),
    (["--product", "other"], "wrong-product"),
    (["--target", "app"], "wrong-target"),
    (["--at", "2031-01-01"], "expired"),
])
def test_verify_refuses_a_bundle_meant_for_another_device(work, extra, reason):
    bundle = sign(work, "--hw-rev", "B", "--expires", "2030-06-30T12:00:00Z")
    assert f.refusal(f.cli("verify", bundle, "--trust", work / "a.pub", *extra)) == reason


def test_verify_with_the_wrong_key_says_unknown_key(work):
    bundle = sign(work)
    assert f.refusal(f.cli("verify", bundle, "--trust", work / "b.pub")) == "unknown-key"


def test_verify_reports_a_corrupted_chunk(work):
    bundle = sign(work)
    chunk = f.chunk_files(bundle)[1]
    data = bytearray(chunk.read_bytes())
    data[0] ^= 0xFF
    chunk.write_bytes(bytes(data))
    assert f.refusal(f.cli("verify", bundle, "--trust", work / "a.pub")) == "hash-mismatch"
    chunk.write_bytes(bytes(data[:10]))
    assert f.refusal(f.cli("verify", bundle, "--trust", work / "a.pub")) == "truncated-chunk"


def test_two_of_two_signing_by_separate_parties(work):
    f.Key("cli-sv-root").write(work, "root-a")
    root = work / "root"
    proc = f.cli("root", "init", "-o", root, "--root-key", work / "root-a.pub", "--root-threshold", 1,
                 "--update-key", work / "a.pub", "--update-key", work / "b.pub",
                 "--update-threshold", 2, "-k", work / "root-a.key")
    assert proc.returncode == 0, proc.stderr
    bundle = sign(work, keys=("a",))
    assert f.refusal(f.cli("verify", bundle, "--trust", root)) == "below-threshold"
    proc = f.cli("cosign", bundle, "-k", work / "b.key")
    assert proc.returncode == 0 and "2 signatures" in proc.stdout
    ok = f.cli("verify", bundle, "--trust", root)
    assert ok.returncode == 0 and "signed by 2 of 2 update keys" in ok.stdout
    # Co-signing again with the same key replaces its signature, not adds one.
    assert "2 signatures" in f.cli("cosign", bundle, "-k", work / "b.key").stdout


def test_same_key_twice_on_the_command_line_is_refused(work):
    proc = f.cli("sign", work / "fw.bin", "--version", 1, "--security-counter", 1,
                 "--device-class", "x", "-o", work / "b", "-k", work / "a.key", "-k", work / "a.key")
    assert proc.returncode == 1 and "twice" in proc.stderr


def test_existing_bundle_is_replaced_only_with_force(work):
    bundle = sign(work)
    proc = f.cli("sign", work / "fw.bin", "--version", 8, "--security-counter", 3,
                 "--device-class", "esp32-s3", "-o", bundle, "-k", work / "a.key")
    assert proc.returncode == 1 and "--force" in proc.stderr
    sign(work, "--force", "--chunk-size", "65536")
    # No stale chunks of the old cut are left behind.
    assert len(f.chunk_files(bundle)) == 33
    assert f.cli("verify", bundle, "--trust", work / "a.pub").returncode == 0


@pytest.mark.parametrize("bad,message", [
    (["--chunk-size", "1000"], "power of two"),
    (["--chunk-size", "128"], "power of two"),
    (["--window-bits", "8"], "--window-bits"),
    (["--device-class", "has space"], "--device-class"),
    (["--security-counter", "-1"], "--security-counter must be 0 to 4294967295"),
    (["--expires", "next tuesday"], "bad time"),
])
def test_invalid_sign_options_are_refused_with_a_message(work, bad, message):
    opts = {"--version": "1", "--security-counter": "1", "--device-class": "esp32"}
    opts[bad[0]] = bad[1]
    args = ["sign", work / "fw.bin", "-o", work / "b", "-k", work / "a.key"]
    for option, value in opts.items():
        args += [option, value]
    proc = f.cli(*args)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not (work / "b" / "manifest").exists()


def test_inspect_shows_the_manifest_in_text_and_json(work):
    bundle = sign(work, "--compress", "deflate", "--hw-rev", "A", "--hw-rev", "B",
                  "--sequence", "99", "--expires", "2030-01-01", "--min-agent-version", "2")
    text = f.cli("inspect", bundle)
    assert text.returncode == 0
    for word in ("esp32-s3", "A, B", "7 (1.4.2)", "2030-01-01T00:00:00Z", "deflate", "verified          no"):
        assert word in text.stdout, word
    info = json.loads(f.cli("inspect", bundle, "--json").stdout)
    assert info["version"] == 7 and info["sequence"] == 99 and info["min_agent"] == 2
    assert info["hw_revs"] == ["A", "B"] and info["chunk_count"] == 513
    assert info["table"]["hash_ok"] and info["table"]["codecs"]["deflate"] > 0
    assert len(info["signatures"]) == 1


def test_inspect_flags_a_damaged_table(work):
    bundle = sign(work)
    t = f.table_file(bundle)
    t.write_bytes(t.read_bytes()[:-3])
    info = json.loads(f.cli("inspect", bundle, "--json").stdout)
    assert info["table"]["present"] and not info["table"]["hash_ok"]


def test_app_directory_is_signed_as_a_reproducible_tar(work):
    app = work / "app"
    (app / "lib").mkdir(parents=True)
    (app / "main.py").write_text("print('v2')\n")
    (app / "lib" / "util.py").write_text("X = 1\n")
    outs = []
    for n in ("app1", "app2"):
        proc = f.cli("sign", app, "--target", "app", "--version", 2, "--security-counter", 1,
                     "--device-class", "esp32", "-o", work / n, "-k", work / "a.key", "--sequence", 5,
                     "--issued", "2026-12-01")  # the signed issue time is the one input that moves
        assert proc.returncode == 0, proc.stderr
        outs.append((work / n / "manifest").read_bytes())
    assert outs[0] == outs[1]
    ok = f.cli("verify", work / "app1", "--trust", work / "a.pub", "--target", "app")
    assert ok.returncode == 0 and " app version 2" in ok.stdout
    (chunk,) = f.chunk_files(work / "app1")  # a small app is one chunk
    tar = tarfile.open(fileobj=io.BytesIO(chunk.read_bytes()))
    assert tar.getnames() == ["lib", "main.py", "lib/util.py"]
    assert tar.extractfile("main.py").read() == b"print('v2')\n"
    assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())


def test_directory_without_target_app_is_refused(work):
    proc = f.cli("sign", work, "--version", 1, "--security-counter", 1, "--device-class", "x",
                 "-o", work / "b", "-k", work / "a.key")
    assert proc.returncode == 1 and "--target app" in proc.stderr


def test_progress_is_shown_on_request(work):
    proc = f.cli("sign", work / "fw.bin", "--version", 1, "--security-counter", 1,
                 "--device-class", "x", "-o", work / "b", "-k", work / "a.key", "--progress")
    assert proc.returncode == 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("signing:")]
    assert lines[0].startswith("signing: 1/513") and lines[-1] == "signing: 513/513 chunks"
    assert 5 <= len(lines) <= 12
    quiet = f.cli("verify", work / "b", "--trust", work / "a.pub")
    assert quiet.stderr == ""


def test_refusal_keeps_its_code_first_and_says_what_it_means(work):
    bundle = sign(work)
    chunk = next((bundle / "chunks").iterdir())
    data = bytearray(chunk.read_bytes())
    data[0] ^= 1
    chunk.write_bytes(bytes(data))
    proc = f.cli("verify", bundle, "--trust", work / "a.pub")
    assert f.refusal(proc) == "hash-mismatch"
    assert "changed or corrupted after signing" in proc.stderr and proc.stderr.count("\n") == 1
    proc = f.cli("verify", bundle, "--trust", work / "b.pub")
    assert f.refusal(proc) == "unknown-key" and "does not list" in proc.stderr


def test_inspect_of_a_garbage_manifest_names_the_file(tmp_path):
    (tmp_path / "manifest").write_bytes(bytes(range(256)))
    proc = f.cli("inspect", tmp_path)
    assert f.refusal(proc) == "unknown-format"
    assert "{} is not a manifest".format(tmp_path / "manifest") in proc.stderr


def test_sign_and_verify_give_scripts_json(work):
    proc = f.cli("sign", work / "fw.bin", "--version", 7, "--label", "1.4.2", "--security-counter", 3,
                 "--sequence", 9, "--device-class", "esp32-s3", "-o", work / "bundle",
                 "-k", work / "a.key", "--json")
    assert proc.returncode == 0, proc.stderr
    wrote = json.loads(proc.stdout)
    assert (wrote["version"], wrote["label"], wrote["security_counter"], wrote["sequence"],
            wrote["image_size"], wrote["signatures"]) == (7, "1.4.2", 3, 9, 2 * 1024 * 1024 + 5, 1)

    proc = f.cli("verify", work / "bundle", "--trust", work / "a.pub", "--json")
    assert proc.returncode == 0, proc.stderr
    ok = json.loads(proc.stdout)
    assert ok["valid"] is True and ok["device_class"] == "esp32-s3" and ok["version"] == 7
    assert ok["chunks"] == wrote["chunks"] and len(ok["signers"]) == 1

    # A refusal: the verdict and its reason on stdout, exit 1, nothing on stderr.
    proc = f.cli("verify", work / "bundle", "--trust", work / "b.pub", "--json")
    assert (proc.returncode, proc.stderr) == (1, "")
    verdict = json.loads(proc.stdout)
    assert (verdict["valid"], verdict["reason"]) == (False, "unknown-key") and verdict["meaning"]
