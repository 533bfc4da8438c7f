# SPDX-License-Identifier: MIT
"""The pytest plugin of mpota (mpota_host/pytest_plugin.py), as a user's
test session sees it: run in pytester's sandbox with the plugin loaded
from the installed entry point, as `pip install mpota` gives it."""

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def session(pytester, monkeypatch):
    monkeypatch.delenv("MPOTA_PORT", raising=False)
    return pytester


def test_help_lists_the_options_of_the_installed_plugin(session):
    shown = session.runpytest("--help").stdout.str()
    for option in ("--mpota-port=PORT", "--mpota-mount=DIR", "--mpota-device-class=CLASS",
                   "--mpota-provision=K=V,..."):
        assert option in shown


def test_board_test_without_a_port_is_skipped_and_says_how_to_give_one(session):
    session.makepyfile("""
        def test_needs_a_board(mpota_board):
            raise AssertionError("ran without a board")

        def test_needs_a_fresh_one(mpota_fresh_board):
            raise AssertionError("ran without a board")

        def test_needs_none():
            pass
    """)
    res = session.runpytest("-rs")
    res.assert_outcomes(passed=1, skipped=2)
    skips = [ln for ln in res.stdout.lines if ln.startswith("SKIPPED")]
    assert len(skips) == 2 and all(ln.endswith(
        ": no mpota board: give --mpota-port PORT (or set MPOTA_PORT=PORT[,PORT...])") for ln in skips)


SHOW_PORTS = """
    def test_ports(mpota_boards, mpota_board):
        print("PORTS", [b.port for b in mpota_boards], "FIRST", mpota_board.port)
"""


def test_several_ports_from_repeated_and_comma_separated_options(session):
    session.makepyfile(SHOW_PORTS)
    res = session.runpytest("-s", "--mpota-port", "/dev/ttyACM0", "--mpota-port", "/dev/ttyACM1,/dev/ttyUSB0")
    res.assert_outcomes(passed=1)
    assert "PORTS ['/dev/ttyACM0', '/dev/ttyACM1', '/dev/ttyUSB0'] FIRST /dev/ttyACM0" in res.stdout.str()


def test_ports_from_the_environment_unless_given_as_options(session, monkeypatch):
    session.makepyfile(SHOW_PORTS)
    monkeypatch.setenv("MPOTA_PORT", "/dev/ttyACM3, /dev/ttyACM4")
    assert "PORTS ['/dev/ttyACM3', '/dev/ttyACM4'] FIRST /dev/ttyACM3" in session.runpytest("-s").stdout.str()
    res = session.runpytest("-s", "--mpota-port", "/dev/ttyACM9")
    assert "PORTS ['/dev/ttyACM9'] FIRST /dev/ttyACM9" in res.stdout.str()


def test_mount_and_provisioning_options_reach_the_boards(session):
    session.makepyfile("""
        def test_options(mpota_board, mpota_provision_options, mpota_device_class):
            print("MOUNT", mpota_board.mount, "CLASS", mpota_device_class)
            print("PROVISION", sorted(mpota_provision_options.items()))
    """)
    res = session.runpytest("-s", "--mpota-port", "/dev/ttyS9", "--mpota-mount", "/tmp/fs",
                            "--mpota-device-class", "bench-7",
                            "--mpota-provision", "bank=flash, ram_flash=0x20000000,slot_size=65536,clock=false")
    res.assert_outcomes(passed=1)
    assert "MOUNT /tmp/fs CLASS bench-7" in res.stdout.str()
    assert ("PROVISION [('bank', 'flash'), ('clock', False), ('ram_flash', 536870912), "
            "('slot_size', 65536)]") in res.stdout.str()


def test_malformed_provisioning_option_is_a_usage_error(session):
    session.makepyfile("def test_x(mpota_provision_options):\n    pass\n")
    res = session.runpytest("--mpota-port", "/dev/ttyS9", "--mpota-provision", "bank")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mpota-provision: 'bank' is not KEY=VALUE" in res.stderr.str()


def test_board_error_from_a_missing_port_carries_the_cli_reason(session):
    session.makepyfile("""
        import pytest
        from mpota_host import BoardError

        def test_status(mpota_board):
            with pytest.raises(BoardError) as e:
                mpota_board.status()
            assert e.value.reason == "no-board"
            assert str(e.value) == "no board at /nonexistent/ttyACM0"
    """)
    session.runpytest("--mpota-port", "/nonexistent/ttyACM0").assert_outcomes(passed=1)


def test_bundle_factory_signs_what_the_session_root_accepts_and_nothing_else(session):
    # No board needed: the device's own verifier judges the bundles.
    session.makepyfile("""
        from mpota.bundle import directory, trust
        from mpota.bundle.error import BundleError

        def test_bundles(mpota_bundle_factory, mpota_trust):
            root = trust.load_root(mpota_trust.root)
            v2 = mpota_bundle_factory(2, {"main.py": "print('two')", "lib/x.py": b"X = 1"})
            m = directory.verify(v2.path, root, device_class="mpota-test")
            assert (m.version, m.security_counter, v2.version) == (2, 2, 2)
            other = mpota_bundle_factory(3, device_class="another-class")
            try:
                directory.verify(other.path, root, device_class="mpota-test")
            except BundleError as e:
                assert e.reason == "wrong-device-class"
            else:
                raise AssertionError("a bundle for another class passed")
    """)
    session.runpytest().assert_outcomes(passed=1)


def test_plugin_loads_nothing_of_mpota_until_a_fixture_asks():
    # Every pytest session loads the plugin once mpota is installed.
    code = ("import sys, mpota_host.pytest_plugin\n"
            "print(sorted(m for m in sys.modules if m.startswith(('mpota.', 'mpremote', 'mpota_host.board'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
