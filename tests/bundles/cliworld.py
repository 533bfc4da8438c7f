# SPDX-License-Identifier: MIT
"""A staged rollout made with the real `mpota` command, for the
tests/test_rollout_cli_*.py tests: keys, a root with a control role, a
signed bundle, a plan with a canary list, a published repository."""

import contextlib
import hashlib
import io
import json
import subprocess
from pathlib import Path

from bundles import factory as f
from mpota_host import cli

KEYS = ("root", "u1", "u2", "ctl", "ctl2")


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc):
    """The message of a failed command: exit 1, one line on stderr,
    `mpota: ` first, nothing on stdout."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("mpota: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""
    return proc.stderr[len("mpota: "):].strip()


def run(*args):
    """`mpota ARGS` in this process (the same main() as the command, without
    a Python start-up per call); a CompletedProcess as f.cli returns."""
    out, err = io.StringIO(), io.StringIO()
    argv = [str(a) for a in args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:  # argparse: usage errors and --help
            code = e.code
    return subprocess.CompletedProcess(["mpota"] + argv, code, out.getvalue(), err.getvalue())


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class World:
    """Files under `d`: <name>.key/.pub for KEYS, root1 (root key, u1 and
    u2 with threshold 1, ctl with threshold 1), fw.bin, bundle/, plan."""

    def __init__(self, d, tag="w"):
        self.d = Path(d)
        self.d.mkdir(parents=True, exist_ok=True)
        for name in KEYS:
            f.Key("cli-rollout-{}-{}".format(tag, name)).write(self.d, name)
        self.root = self.d / "root1"
        self.repo = self.d / "repo"
        ok(self.mpota("root", "init", "-o", self.root, "--root-key", self.pub("root"),
                      "--root-threshold", 1, "--update-key", self.pub("u1"), "--update-key",
                      self.pub("u2"), "--update-threshold", 1, "--control-key", self.pub("ctl"),
                      "--control-threshold", 1, "-k", self.key("root")))

    def key(self, name):
        return self.d / (name + ".key")

    def pub(self, name):
        return self.d / (name + ".pub")

    def mpota(self, *args):
        return run(*args)

    def bundle(self, name="bundle", version=2, size=20000, seed=1, device_class="esp32", *extra):
        img = self.d / (name + ".bin")
        img.write_bytes(f.image(size, seed=seed))
        ok(self.mpota("sign", img, "-k", self.key("u1"), "--version", version,
                      "--security-counter", 1, "--device-class", device_class,
                      "-o", self.d / name, *extra))
        return self.d / name

    def plan(self, bundle, plan_id="fw-2", out="plan", waves=("1@now", "50@+1d", "100@+2d"),
             max_percent="100", canary=None, *extra):
        args = ["rollout", "create", bundle, "--id", plan_id, "--max-percent", max_percent,
                "-k", self.key("u1"), "-o", self.d / out]
        for w in waves:
            args += ["--wave", w]
        if canary is not None:
            (self.d / (out + ".canary")).write_text("".join(c + "\n" for c in canary))
            args += ["--canary-file", self.d / (out + ".canary")]
        ok(self.mpota(*args, *extra))
        return self.d / out

    def publish(self, *extra):
        return ok(self.mpota("publish", self.repo, "--root", self.root, *extra))

    def control(self, action, *args, key="ctl"):
        return self.mpota("control", action, *args, "--repo", self.repo, "-k", self.key(key))

    def verify(self, *extra):
        return self.mpota("verify", self.repo, "--trust", self.root, *extra)

    def verify_json(self, *extra):
        return json.loads(self.verify("--json", *extra).stdout)

    def published(self):
        """{relative path: bytes} of every file in the repository."""
        return {p.relative_to(self.repo).as_posix(): p.read_bytes()
                for p in sorted(self.repo.rglob("*")) if p.is_file()}


def released(tmp_path, canary=("dev-a", "dev-b", "dev-c")):
    """A World with bundle and plan published and the plan running."""
    w = World(tmp_path)
    w.b = w.bundle()
    w.p = w.plan(w.b, canary=canary)
    w.publish("--bundle", w.b, "--plan", w.p)
    ok(w.control("run", "fw-2"))
    return w
