# SPDX-License-Identifier: MIT
"""Every command has a complete --help, and usage errors fail cleanly."""

import pytest

from bundles import factory as f

COMMANDS = {
    (): ["keygen", "pubkey", "root", "sign", "cosign", "verify", "inspect", "serve", "device"],
    ("keygen",): ["NAME", "--passphrase-env", "--ask-passphrase", "--force"],
    ("pubkey",): ["-k", "--pin-env", "--pkcs11-module", "--output"],
    ("root",): ["init", "rotate", "sign", "show"],
    ("root", "init"): ["--root-key", "--root-threshold", "--update-key", "--update-threshold",
                       "--expires", "--output", "-k"],
    ("root", "rotate"): ["CURRENT_ROOT", "--root-key", "--update-key", "--no-expiry", "-k"],
    ("root", "sign"): ["ROOT", "-k", "--output"],
    ("root", "show"): ["ROOT", "--trust", "--json"],
    ("sign",): ["IMAGE", "-k", "--version", "--label", "--security-counter", "--device-class",
                "--product", "--hw-rev", "--target", "--sequence", "--expires",
                "--min-agent-version", "--chunk-size", "--compress", "--window-bits",
                "--root", "--force", "--progress", "--output", "--pin-env",
                "--pkcs11-module", "--passphrase-env"],
    ("cosign",): ["BUNDLE_DIR", "-k"],
    ("verify",): ["BUNDLE_DIR", "--trust", "--root", "--device-class", "--product", "--hw-rev",
                  "--target", "--at"],
    ("inspect",): ["BUNDLE_DIR", "--json"],
    ("serve",): ["DIR", "--host", "--port", "--http", "--state", "--name"],
    ("device",): ["install", "provision", "push", "status", "log", "confirm", "reboot"],
    ("device", "install"): ["--port", "--mount", "--json", "--mpy-cross", "--natmod", "--sources",
                            "--pure-python", "--drive"],
    ("device", "provision"): ["--root", "--device-class", "--product", "--hw-rev", "--target",
                              "--bank", "--ram-flash", "--slot-size", "--table-size",
                              "--chunk-area", "--sector", "--max-attempts", "--server", "--ca",
                              "--no-clock", "--force", "--port", "--json", "--drive"],
    ("device", "push"): ["BUNDLE_DIR", "--progress", "--port", "--mount", "--json", "--drive"],
    ("device", "status"): ["--port", "--mount", "--json"],
    ("device", "log"): ["--port", "--mount", "--json"],
    ("device", "confirm"): ["--port", "--mount", "--json", "--drive"],
    ("device", "reboot"): ["--port", "--mount", "--json"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=lambda c: " ".join(c) or "mpota")
def test_help_names_every_option(command):
    proc = f.cli(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    for word in COMMANDS[command]:
        assert word in proc.stdout, word


def test_missing_required_options_are_a_usage_error(tmp_path):
    proc = f.cli("sign", tmp_path / "img")
    assert proc.returncode == 2 and "required" in proc.stderr


def test_missing_input_file_is_one_line_on_stderr(tmp_path):
    proc = f.cli("verify", tmp_path / "nothing", "--trust", tmp_path / "absent.pub")
    assert proc.returncode == 1
    assert proc.stderr.startswith("mpota: cannot read ") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""
