# SPDX-License-Identifier: MIT
"""mpota_host.Board, the host API (docs/HOST_API.md), against the unix
port on a pseudo-terminal (device_host/ptyboard.py: stock MicroPython,
reached by real mpremote through the pty's path as a board on USB),
through the project's own pytest plugin: mpota_ports is overridden here to
start the boards, and the plugin's fixtures do the rest."""

import hashlib
import json

import pytest

import mpota
from bundles import factory as f
from device_host.ptyboard import UnixPtyBoard
from mpota_host import Board, BoardError
from mpota_host.board_api import Confirmation, Event, Installed, Reboot, Status
from mpota_host.errors import CommandError


@pytest.fixture
def pty(tmp_path, unix_stock_target):
    with UnixPtyBoard(tmp_path / "board", unix_stock_target.binary) as b:
        yield b


@pytest.fixture
def mpota_ports(pty):
    return [pty.port]


def app(version, size):
    """An app's files: main.py saying its version, and `size` bytes that do
    not compress or repeat, so that every chunk is sent on its own."""
    return {"main.py": "print('app version {}')\n".format(version),
            "data.bin": hashlib.shake_256(b"app %d" % version).digest(size)}


def test_bring_up_to_a_confirmed_update_with_every_answer_an_object(
        mpota_board, mpota_trust, mpota_bundle_factory, mpota_device_class, pty):
    board = mpota_board
    before = board.identity()
    assert (before.implementation, before.arch, before.agent) == ("micropython", "x64", None)

    inst = board.install()
    assert isinstance(inst, Installed)
    assert (inst.installed, inst.kind, inst.natmod, inst.agent) == (True, ".mpy", "x64", mpota.__version__)
    prov = board.provision(mpota_trust.root, mpota_device_class)
    assert (prov.root_version, prov.bank, prov.config["device_class"]) == (1, "dir", mpota_device_class)
    ident = board.identity()
    assert (ident.agent, ident.device_class, ident.device_id) == (mpota.__version__, mpota_device_class, None)

    bundle = mpota_bundle_factory(1, app(1, 20000))
    seen = []
    rep = board.push(bundle, progress=lambda done, total, how: seen.append((done, total, how)))
    assert (rep.outcome, rep.version, rep.chunks) == ("installed", 1, bundle.chunks)
    # One call per chunk, in order, each sent over the line.
    assert seen == [(n, bundle.chunks, "fetched") for n in range(1, bundle.chunks + 1)]
    assert rep.fetched == rep.sent_files["chunks"] == bundle.chunks
    assert rep.heap.idle < rep.heap.peak <= rep.heap.size

    boot = board.reboot()
    assert isinstance(boot, Reboot) and isinstance(boot.status, Status)
    assert boot.reset == "soft" and "mpota: boot: trial of version 1" in boot.boot
    assert (boot.status.trial.version, boot.status.trial.attempts) == (1, 1)
    assert (pty.home / "slots" / "0" / "app" / "main.py").read_text() == "print('app version 1')\n"

    assert board.confirm() == Confirmation(confirmed=True, version=1)
    assert board.confirm() == Confirmation(confirmed=False, version=1)
    st = board.status()
    assert st.trial is None and st.download is None
    assert (st.active.version, st.min_security_counter, st.root_version) == (1, 1, 1)
    log = board.log()
    assert all(isinstance(e, Event) for e in log)
    assert [(e.event, e.value) for e in log] == [
        ("provisioned", 0), ("install", 1), ("installed", 1), ("trial-boot", 1),
        ("counter-advanced", 1), ("confirm", 1)]


class Pulled(Exception):
    """The cable, pulled from the progress callback."""


def test_cable_pulled_mid_push_resumes_without_resending_verified_chunks(
        mpota_fresh_board, mpota_bundle_factory):
    board = mpota_fresh_board
    bundle = mpota_bundle_factory(1, app(1, 40000))
    cut = 4

    def pull(done, total, how):
        if done == cut:
            raise Pulled()  # the port closes with the board waiting for chunk 4

    with pytest.raises(Pulled):
        board.push(bundle, progress=pull)
    st = board.status()
    assert st.trial is None and st.download is not None

    seen = []
    rep = board.push(bundle, progress=lambda done, total, how: seen.append(how))
    assert rep.outcome == "installed" and rep.reused == cut
    assert seen == ["reused"] * cut + ["fetched"] * (bundle.chunks - cut)
    assert rep.fetched == rep.sent_files["chunks"] == bundle.chunks - cut
    assert board.status().trial.version == 1


def test_tampered_bundle_is_refused_with_the_boards_reason_and_the_cli_message(
        mpota_fresh_board, mpota_bundle_factory):
    board = mpota_fresh_board
    bundle = mpota_bundle_factory(1, app(1, 5000))
    with open(bundle.path + "/manifest", "r+b") as f:
        doc = bytearray(f.read())
        doc[-1] ^= 0x01  # the last byte of the signature
        f.seek(0)
        f.write(doc)
    with pytest.raises(BoardError) as e:
        board.push(bundle)
    assert e.value.reason == "bad-signature"
    assert str(e.value) == "the board refused the bundle: bad-signature"
    assert isinstance(e.value, CommandError)  # what the CLI prints as `mpota: ...`
    last = board.log()[-1]
    assert (last.event, last.reason) == ("verify-failure", "bad-signature")
    assert board.status().trial is None

    board.push(mpota_bundle_factory(2, app(2, 5000)))
    with pytest.raises(BoardError) as e:
        board.push(mpota_bundle_factory(3, app(3, 5000)))
    assert e.value.reason == "trial-pending" and str(e.value).startswith("the board has a trial pending")


def test_failures_before_the_agent_carry_their_reason(mpota_board, mpota_bundle_factory, tmp_path):
    with pytest.raises(BoardError) as e:
        mpota_board.status()
    assert (e.value.reason, str(e.value)) == (
        "no-agent", "no mpota agent on the board: run mpota device install")
    with pytest.raises(BoardError) as e:
        # An armv7m native module cannot load on this x64 board.
        mpota_board.install(natmod=f.REPO / "build" / "natmod" / "armv7m" / "ed25519.mpy")
    assert e.value.reason == "wrong-board" and "no native ed25519.mpy for x64" in str(e.value)
    mpota_board.install()
    with pytest.raises(BoardError) as e:
        mpota_board.push(mpota_bundle_factory(1))
    assert e.value.reason == "not-provisioned"
    with pytest.raises(BoardError) as e:
        Board(str(tmp_path / "ttyACM9")).status()
    assert (e.value.reason, str(e.value)) == ("no-board", "no board at {}".format(tmp_path / "ttyACM9"))


def test_identity_names_the_device_but_never_shows_its_fleet_secret(mpota_board, pty):
    secret = bytes(range(32))
    (pty.home / "mpota.json").write_text(json.dumps({"device_id": "bench-07", "device_class": "x",
                                                     "fleet": "https://fleet.example"}))
    (pty.home / "identity").write_bytes(secret)
    ident = mpota_board.identity()
    assert (ident.device_id, ident.device_class) == ("bench-07", "x")
    shown = json.dumps(ident.raw) + repr(ident)
    assert secret.hex() not in shown and "identity" not in ident.raw


class TestSeveralBoards:
    @pytest.fixture
    def mpota_ports(self, tmp_path, unix_stock_target):
        with UnixPtyBoard(tmp_path / "a", unix_stock_target.binary) as a, \
                UnixPtyBoard(tmp_path / "b", unix_stock_target.binary) as b:
            yield [a.port, b.port]

    def test_each_board_given_is_its_own(self, mpota_boards, mpota_board, mpota_ports):
        assert [b.port for b in mpota_boards] == mpota_ports and mpota_board.port == mpota_ports[0]
        # Both answer, each on its own port.
        assert [b.identity().port for b in mpota_boards] == mpota_ports


def test_host_api_doc_shows_the_examples_as_the_tests_run_them():
    examples = f.REPO / "docs" / "examples"
    doc = (f.REPO / "docs" / "HOST_API.md").read_text()
    for name in ("bringup.py", "test_hil.py"):
        assert "```python\n" + (examples / name).read_text() + "```\n" in doc, name
