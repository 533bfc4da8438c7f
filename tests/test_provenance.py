# SPDX-License-Identifier: MIT
"""Build provenance signed into the manifest (docs/FORMAT.md,
"Provenance"): what `mpota sign` fills from its options, git and the
environment; what `mpota inspect` shows; that the device reads the
fields and refuses malformed ones, and that an agent from before them
skips them."""

import json
import subprocess

import pytest

from agent import kit
from bundles import factory as f
from bundles.cliworld import one_line_error, run

from mpota.bundle import format as F

KEY = f.Key("provenance")


def sign(tmp_path, *extra, image=None):
    key, _ = KEY.write(tmp_path)
    if image is None:
        image = tmp_path / "fw.bin"
        image.write_bytes(f.image(9000, seed=4))
    out = tmp_path / "b"
    proc = run("sign", image, "-k", key, "--version", 2, "--security-counter", 1,
               "--device-class", "esp32", "-o", out, "--force", *extra)
    return proc, out


def inspect(out):
    return json.loads(run("inspect", out, "--json").stdout)["provenance"]


def test_given_provenance_is_signed_and_shown(tmp_path):
    (tmp_path / "sbom.spdx.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    proc, out = sign(tmp_path, "--source-rev", "0123abcd", "--build-id", "run-77", "--builder",
                     "ci runner 3", "--build-time", "2026-12-01T00:00:00Z", "--sbom",
                     tmp_path / "sbom.spdx.json")
    assert proc.returncode == 0, proc.stderr
    import hashlib
    assert inspect(out) == {
        "source_rev": "0123abcd", "build_id": "run-77", "builder": "ci runner 3",
        "build_time": 1796083200,
        "sbom_sha256": hashlib.sha256(b'{"spdxVersion": "SPDX-2.3"}').hexdigest()}
    text = run("inspect", out).stdout
    assert "source revision   0123abcd" in text and "run-77 by ci runner 3" in text
    # Signed: the device's verifier accepts the bundle as a whole.
    assert f.verdict(out, f.trust.key_root(KEY.public), device_class="esp32") == "ok"


def test_defaults_come_from_git_and_the_environment(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git + ["init", "-q"], check=True)
    (src / "main.c").write_text("int main;\n")
    subprocess.run(git + ["add", "main.c"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    image = src / "fw.bin"
    image.write_bytes(f.image(5000, seed=1))
    for name in ("MPOTA_BUILD_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "BUILD_NUMBER",
                 "MPOTA_BUILDER", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_RUN_ID", "9912")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796000000")
    proc, out = sign(tmp_path, image=image)
    assert proc.returncode == 0, proc.stderr
    p = inspect(out)
    assert (p["source_rev"], p["build_id"], p["builder"], p["build_time"]) == \
        (commit, "9912", "github-actions", 1796000000)
    # A tracked file changed since the commit: the revision says so.
    (src / "main.c").write_text("int main = 1;\n")
    proc, out = sign(tmp_path, image=image)
    assert inspect(out)["source_rev"] == commit + "+dirty"


def test_no_provenance_signs_none_and_refuses_a_contradiction(tmp_path):
    proc, out = sign(tmp_path, "--no-provenance")
    assert proc.returncode == 0, proc.stderr
    assert set(inspect(out).values()) == {None}
    assert "provenance        none signed" in run("inspect", out).stdout
    (tmp_path / "sbom").write_text("x")
    proc, _ = sign(tmp_path, "--no-provenance", "--sbom", tmp_path / "sbom")
    assert "--no-provenance and --sbom contradict each other" in one_line_error(proc)


@pytest.mark.parametrize("option, value", [
    ("--source-rev", "has space"), ("--source-rev", "x" * 65), ("--build-id", "tab\there"),
    ("--builder", "caf\u00e9"), ("--build-time", "yesterday-ish")])
def test_provenance_the_format_cannot_hold_is_refused_before_signing(tmp_path, option, value):
    proc, out = sign(tmp_path, option, value)
    assert option.split("-")[-1] in one_line_error(proc)
    assert not out.exists()


def _manifest_with(tmp_path, **fields):
    from mpota_host import writer
    from mpota_host import document as D
    params = writer.Params(device_class="esp32", version=2, security_counter=1, sequence=1,
                           **fields)
    signed = D.unsigned(F.DOC_MANIFEST, writer.manifest_fields(params, 0, bytes(32), bytes(32)))
    return D.assemble(signed, D.sign(signed, [], [KEY]))


def test_an_agent_from_before_provenance_skips_the_fields(tmp_path):
    doc = _manifest_with(tmp_path, source_rev="abc", build_id="7", builder="b", build_time=5,
                         sbom_sha256=bytes(range(32)))
    signed = F.frame(doc, F.DOC_MANIFEST)
    # The manifest rows an agent had before the provenance tags.
    older = F._MANIFEST_SPEC[:-5 * F._ROW]
    tags = [t for t, _, _ in F.walk(doc, signed, older)]
    assert F.T_SOURCE_REV not in tags and F.T_VERSION in tags
    m = F.manifest(doc, signed)
    assert (m.source_rev, m.build_id, m.builder, m.build_time, m.sbom_sha256) == \
        ("abc", "7", "b", 5, bytes(range(32)))


def test_the_device_reads_provenance_and_refuses_it_malformed(unix_target, tmp_path):
    good = _manifest_with(tmp_path, source_rev="abc+dirty", builder="ci 1", build_time=9)
    # A space in the source revision (an identifier): malformed. Built by
    # hand, as mpota sign refuses to write it.
    bad = good.replace(b"abc+dirty", b"abc dirty")
    (tmp_path / "good").write_bytes(good)
    (tmp_path / "bad").write_bytes(bad)
    r = kit.run(unix_target, """
from mpota.bundle import format as F
from mpota.bundle.error import BundleError
for name in ("good", "bad"):
    doc = open({d!r} + "/" + name, "rb").read()
    try:
        m = F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
        emit(name, [m.source_rev, m.builder, m.build_time, m.build_id])
    except BundleError as e:
        emit(name, e.reason)
""".replace("{d!r}", repr(str(tmp_path))))
    assert r["good"] == ["abc+dirty", "ci 1", 9, ""]
    assert r["bad"] == "malformed"


def test_the_device_status_names_the_build_of_what_runs(tmp_path):
    # Provisioned without provenance, updated to an image with it: the
    # trial shows its build, and the active image does once confirmed;
    # an image without provenance shows none (nothing is carried over).
    root = kit.root(tmp_path)
    v1 = kit.app_bundle(tmp_path, "v1", 1, device_class="sim")
    v2 = kit.app_bundle(tmp_path, "v2", 2, device_class="sim", source_rev="cafe1234",
                        sbom_sha256=bytes(range(32)))
    dev = tmp_path / "dev"

    def sim(*args):
        proc = kit.sim(dev, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    sim("provision", "--root", root, "--bundle", v1, "--device-class", "sim", "--backoff-ms", "0")
    assert "built from" not in sim("status")
    sim("install", "--source", v2)
    sbom = bytes(range(32)).hex()
    assert "trial built from: source cafe1234 sbom " + sbom in sim("status")
    sim("reboot")
    sim("confirm")
    assert "active built from: source cafe1234 sbom " + sbom in sim("status")
