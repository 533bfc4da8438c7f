# SPDX-License-Identifier: MIT
"""`mpota device` against the unix port on a pseudo-terminal: stock
MicroPython without the ed25519 C module (so install brings the x64 native
module), slots in directories of its filesystem, reached by real mpremote
through the pty's slave path as a board on USB is.

Each test gets a fresh board: a directory and a process, also the board
of mpota's pytest plugin (mpota_board), which sets it up."""


import pytest

from device_host import bundles as kit
from device_host.cli import device, ok_json
from device_host.ptyboard import UnixPtyBoard
from mpota_host.device import wire
from mpota_host.device.link import Link

PUSH = "import mpota.bringup as _b\n_b.call(_b.push)\n"


@pytest.fixture
def board(tmp_path, unix_stock_target):
    with UnixPtyBoard(tmp_path / "board", unix_stock_target.binary) as b:
        yield b


@pytest.fixture
def mpota_ports(board):
    """The boards of mpota's pytest plugin (docs/HOST_API.md): this one."""
    return [board.port]


@pytest.fixture
def ready(board, mpota_board, tmp_path):
    """The board with the agent installed and provisioned, through the
    host API (the CLI's own install and provision are tested above)."""
    mpota_board.install()
    mpota_board.provision(kit.root(tmp_path), kit.DEVICE_CLASS)
    return board


def test_bring_up_from_nothing_to_a_confirmed_update(board, tmp_path):
    info = ok_json(board, "install")
    # Stock firmware: the agent as .mpy, the native module for its architecture.
    assert info["kind"] == ".mpy" and info["natmod"] == "x64" and info["ed25519"] == "c"
    home = board.home
    assert (home / "lib" / "mpota" / "bringup.mpy").is_file()
    assert (home / "lib" / "ed25519.mpy").is_file() and (home / "boot.py").is_file()
    assert "mpota.bringup.run_app()" in (home / "main.py").read_text()
    assert (info["boot_py"], info["main_py"]) == ("written", "written")

    ok_json(board, "provision", "--root", kit.root(tmp_path), "--device-class", kit.DEVICE_CLASS)
    st = ok_json(board, "status")
    assert st["trial"] is None and st["active"]["version"] == 0 and st["root_version"] == 1

    v1 = kit.app(tmp_path, "v1", 1, 20000)
    chunks = len(kit.chunk_names(v1))
    rep = ok_json(board, "push", v1)
    assert (rep["outcome"], rep["version"], rep["chunks"]) == ("installed", 1, chunks)
    assert rep["fetched"] == rep["sent"]["files"]["chunks"] == chunks
    assert rep["heap"]["idle"] < rep["heap"]["peak"] <= rep["heap"]["size"]

    boot = ok_json(board, "reboot")
    assert boot["reset"] == "soft" and "mpota: boot: trial of version 1" in boot["boot"]
    assert boot["status"]["trial"]["attempts"] == 1
    # The app the trial unpacked is what the bundle carried.
    assert (home / "slots" / "0" / "app" / "main.py").read_text() == "print('app version 1')\n"

    assert ok_json(board, "confirm") == {"confirmed": True, "version": 1}
    st = ok_json(board, "status")
    assert st["trial"] is None and st["active"]["version"] == 1 and st["min_security_counter"] == 1
    events = [(e["event"], e["value"]) for e in ok_json(board, "log")]
    assert events == [("provisioned", 0), ("install", 1), ("installed", 1), ("trial-boot", 1),
                      ("counter-advanced", 1), ("confirm", 1)]


def test_text_output_names_the_trial_and_the_next_step(ready, tmp_path):
    proc = device(ready, "push", kit.app(tmp_path, "v1", 1, 5000))
    assert proc.returncode == 0 and proc.stdout.startswith("installed version 1 into slot 0")
    assert "next: mpota device reboot" in proc.stdout
    proc = device(ready, "reboot")
    assert proc.stdout.splitlines()[-1].startswith("running version 1 on trial (attempt 1 of 3)")
    proc = device(ready, "log")
    assert proc.returncode == 0 and " trial-boot version 1" in proc.stdout
    device(ready, "confirm")
    # The image the board already runs: nothing to write, and no slot named.
    proc = device(ready, "push", kit.app(tmp_path, "v1", 1, 5000))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("up-to-date: version 1 is the image the board runs; nothing written")


def test_push_cut_mid_frame_resumes_without_resending_verified_chunks(ready, tmp_path):
    bundle = kit.app(tmp_path, "v1", 1, 40000)
    names = kit.chunk_names(bundle)
    cut = 5  # the chunk whose transfer the cable pull interrupts
    server = wire.FileServer(str(bundle), lambda n: wire.BUNDLE_NAME.match(n) is not None)
    # A host that dies halfway through a frame: the second read of chunk 5
    # gets half its frame, then the port closes.
    link = Link(ready.port).open()
    link.start(PUSH)
    current, reads = None, 0
    while True:
        line = link.line(30)
        assert line is not None, "the push ended before the cut"
        if not line.startswith("~~O ") and not line.startswith("~~R "):
            continue
        kind, seq, args = line[2], int(line.split()[1]), line.split(" ", 2)[2]
        if kind == "O":
            current, reads = args.rsplit(" ", 1)[0], 0
        elif current == names[cut]:
            reads += 1
            if reads == 2:
                whole = server.answer(kind, seq, args)
                link.write(whole[:len(whole) // 2])
                break
        link.write(server.answer(kind, seq, args))
    link.close()
    server.close()

    st = ok_json(ready, "status")
    assert st["trial"] is None and st["download"] is not None
    rep = ok_json(ready, "push", bundle)
    assert rep["outcome"] == "installed"
    # Chunks 0-4 were verified in the slot before the cut: kept, not sent.
    assert rep["reused"] == cut
    assert rep["fetched"] == rep["sent"]["files"]["chunks"] == len(names) - cut
    assert ok_json(ready, "status")["trial"]["version"] == 1


def test_tampered_manifest_is_refused_by_the_board_with_its_reason(ready, tmp_path):
    bundle = kit.app(tmp_path, "v1", 1, 5000)
    doc = bytearray((bundle / "manifest").read_bytes())
    doc[-1] ^= 0x01  # the last byte of the signature
    (bundle / "manifest").write_bytes(bytes(doc))
    proc = device(ready, "push", bundle)
    assert proc.returncode == 1
    assert proc.stderr == "mpota: the board refused the bundle: bad-signature\n"
    last = ok_json(ready, "log")[-1]
    assert (last["event"], last["reason"]) == ("verify-failure", "bad-signature")
    assert ok_json(ready, "status")["trial"] is None


def test_bundle_for_another_device_class_is_refused_by_the_board(ready, tmp_path):
    bundle = kit.app(tmp_path, "other", 1, 5000, device_class="another-board")
    proc = device(ready, "push", bundle)
    assert proc.stderr == "mpota: the board refused the bundle: wrong-device-class\n"


def test_second_push_while_a_trial_is_pending_is_refused(ready, tmp_path):
    ok_json(ready, "push", kit.app(tmp_path, "v1", 1, 5000))
    proc = device(ready, "push", kit.app(tmp_path, "v2", 2, 5000))
    assert proc.returncode == 1 and proc.stderr.startswith("mpota: the board has a trial pending")


def test_provisioning_again_without_force_keeps_the_anti_rollback_state(ready, tmp_path):
    ok_json(ready, "push", kit.app(tmp_path, "v2", 2, 5000))
    ok_json(ready, "reboot")
    ok_json(ready, "confirm")
    proc = device(ready, "provision", "--root", kit.root(tmp_path), "--device-class", kit.DEVICE_CLASS)
    assert proc.returncode == 1 and "already provisioned" in proc.stderr
    assert ok_json(ready, "status")["min_security_counter"] == 2
    # With --force the board starts over (the counters with it).
    ok_json(ready, "provision", "--root", kit.root(tmp_path), "--device-class", kit.DEVICE_CLASS, "--force")
    st = ok_json(ready, "status")
    assert st["min_security_counter"] == 0 and st["active"]["version"] == 0


def test_reboot_into_a_trial_that_never_confirms_reverts_after_max_attempts(ready, tmp_path):
    ok_json(ready, "push", kit.app(tmp_path, "v1", 1, 5000))
    for attempt in (1, 2, 3):
        assert ok_json(ready, "reboot")["status"]["trial"]["attempts"] == attempt
    boot = ok_json(ready, "reboot")
    assert "mpota: boot: back to version 0" in boot["boot"] and boot["status"]["trial"] is None
    assert ok_json(ready, "log")[-1]["event"] == "revert"
