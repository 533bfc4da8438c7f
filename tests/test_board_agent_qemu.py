# SPDX-License-Identifier: MIT
"""The agent on the emulated Cortex-M3 board (192 KB heap), over the
board's serial pty as a board on USB: brought up by the host API's
bring-up script (docs/examples/bringup.py), then driven by the real
`mpota device`, and last by the host API's example hardware-in-the-loop
tests through mpota's pytest plugin (docs/HOST_API.md).

The board has no filesystem, so `--mount` serves a host directory as one
(mpremote mount): the agent's .mpy files, mpota.json and boot.py live
there. Its flash is RAM the firmware does not use (0x20000000, the second
RAM bank of mps2-an385; mpota/flash/ram.py), which keeps the state and the
slots over the soft resets that `mpota device reboot` does. Everything
else is the agent's own code on the board: manifest verification, the
state store, the install from a serial-fed source into a slot, trial boot
and confirm.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

import targets
from bundles import factory as f
from device_host import bundles as kit
from device_host.ptyboard import QemuPort

RAM_FLASH = "0x20000000"
EXAMPLES = f.REPO / "docs" / "examples"


class Board:
    def __init__(self, port, fs):
        self.port = port
        self.fs = fs

    def argv(self, *args):
        return [str(f.MPOTA), "device", *map(str, args), "--port", self.port, "--mount", str(self.fs)]

    def run(self, *args):
        return f.cli("device", *args, "--port", self.port, "--mount", self.fs)

    def json(self, *args):
        proc = self.run(*args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("qemu-device")


@pytest.fixture(scope="module")
def board(work):
    """The board, booted once for the module and brought up by the
    bring-up script of docs/HOST_API.md as written (agent installed,
    provisioned with slots of 64 KB in RAM flash, a first app confirmed),
    with the keys of these tests."""
    fs = work / "fs"
    fs.mkdir()
    keys = work / "bringup-work"
    keys.mkdir()
    kit.ROOT_KEY.write(keys, "root")
    kit.UPDATE_KEY.write(keys, "update")
    app = work / "first-app"
    app.mkdir()
    (app / "main.py").write_text("print('first app')\n")
    with QemuPort() as q:
        proc = subprocess.run([sys.executable, str(EXAMPLES / "bringup.py"), q.port, str(app),
                               "--device-class", kit.DEVICE_CLASS, "--mount", str(fs),
                               "--ram-flash", RAM_FLASH], capture_output=True, text=True, cwd=work,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout.splitlines()
        assert "  chunk 1 of 1: fetched" in out and "mpota: boot: trial of version 1" in out
        assert out[-1] == "confirmed: the board runs version 1"
        # The agent as .mpy; the firmware's C module, so no native one.
        assert (fs / "lib" / "mpota" / "bringup.mpy").is_file() and not (fs / "lib" / "ed25519.mpy").exists()
        yield Board(q.port, fs)


@pytest.fixture
def idle(board):
    """The board with no trial pending, whatever the test before left."""
    if board.json("status")["trial"] is not None:
        board.json("reboot")  # confirm() keeps only a trial that has booted
        board.json("confirm")
    return board


def test_agent_updates_the_emulated_board_over_its_serial_line(idle, work, capsys):
    b = idle
    before = b.json("status")
    version = before["active"]["version"] + 1
    bundle = kit.app(work, "v{}".format(version), version, 16000)
    rep = b.json("push", bundle)
    assert rep["outcome"] == "installed" and rep["version"] == version
    assert rep["fetched"] == rep["sent"]["files"]["chunks"] == len(kit.chunk_names(bundle))
    heap = rep["heap"]
    # The GC heap less its own allocation table.
    assert 0.95 * targets.qemu_heap_bytes() < heap["size"] <= targets.qemu_heap_bytes()
    assert heap["idle"] < heap["peak"] < heap["size"]
    with capsys.disabled():
        print("\nqemu-m3 (Cortex-M3, {} B heap): update over serial, {} B image in {} chunks, "
              "agent as .mpy over mount: peak heap in use {} B ({} B before the agent loaded), "
              "{} s".format(heap["size"], rep["sent"]["bytes"], rep["chunks"], heap["peak"],
                            heap["idle"], rep["seconds"]))

    boot = b.json("reboot")
    assert boot["reset"] == "soft"
    assert "mpota: boot: trial of version {}".format(version) in boot["boot"]
    assert boot["status"]["trial"]["attempts"] == 1
    assert b.json("confirm") == {"confirmed": True, "version": version}
    st = b.json("status")
    assert st["trial"] is None and st["active"]["version"] == version
    assert st["min_security_counter"] == version
    events = [(e["event"], e["value"]) for e in b.json("log")][-5:]
    assert events == [("install", version), ("installed", version), ("trial-boot", version),
                      ("counter-advanced", version), ("confirm", version)]


def test_push_killed_mid_transfer_resumes_with_verified_chunks_kept(idle, work):
    b = idle
    version = b.json("status")["active"]["version"] + 1
    bundle = kit.app(work, "v{}".format(version), version, 36000)
    names = kit.chunk_names(bundle)
    cut = 4
    # Chunk 4's file becomes a FIFO: the host blocks opening it, with
    # chunks 0-3 written and verified on the board. Then it is killed.
    chunk = bundle / names[cut]
    real = chunk.read_bytes()
    chunk.unlink()
    os.mkfifo(chunk)
    host = subprocess.Popen(b.argv("push", bundle), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        fd = os.open(chunk, os.O_WRONLY)  # returns once the host opened it
        host.send_signal(signal.SIGKILL)
        host.wait(timeout=10)
        os.close(fd)
    finally:
        if host.poll() is None:
            host.kill()
        host.communicate()
    chunk.unlink()
    chunk.write_bytes(real)

    st = b.json("status")
    assert st["trial"] is None and st["download"]["slot"] is not None
    rep = b.json("push", bundle)
    assert rep["outcome"] == "installed"
    assert rep["reused"] == cut
    assert rep["fetched"] == rep["sent"]["files"]["chunks"] == len(names) - cut
    assert b.json("status")["trial"]["version"] == version


def test_tampered_chunk_is_refused_by_the_board_and_logged(idle, work):
    b = idle
    version = b.json("status")["active"]["version"] + 1
    bundle = kit.app(work, "bad{}".format(version), version, 12000)
    name = kit.chunk_names(bundle)[1]
    data = bytearray((bundle / name).read_bytes())
    data[100] ^= 0x40
    (bundle / name).write_bytes(bytes(data))
    proc = b.run("push", bundle)
    assert proc.returncode == 1
    assert proc.stderr == "mpota: the board refused the bundle: hash-mismatch\n"
    last = b.json("log")[-1]
    assert (last["event"], last["value"], last["reason"]) == ("chunk-failure", 1, "hash-mismatch")
    assert b.json("status")["trial"] is None


def test_a_bank_the_emulator_cannot_reboot_into_is_refused_at_provision(board, work):
    # Its machine.reset() ends qemu: only the RAM bank reboots softly. The
    # board keeps what it was provisioned with.
    proc = board.run("provision", "--root", kit.root(work), "--device-class", kit.DEVICE_CLASS,
                     "--force")
    assert (proc.returncode, proc.stderr) == (
        1, "mpota: the emulated board ends at a reset: provision it with "
           "--bank flash --ram-flash 0x20000000\n")
    assert board.json("status")["bank"] == "flash"


def test_encrypted_bundle_installs_on_the_emulated_board_with_its_own_key(board, work):
    # The board provisioned again with an X25519 key of its own: the push
    # of a bundle encrypted for it installs (the firmware's C module for
    # X25519, its cryptolib for AES), one for another key is refused
    # before anything is written, and status never shows the key.
    from mpota_host import seal

    key, other = work / "qemu-board", work / "qemu-other"
    for k in (key, other):
        seal.write_pair(str(k), True)
    proc = board.run("provision", "--root", kit.root(work), "--device-class", kit.DEVICE_CLASS,
                     "--bank", "flash", "--ram-flash", RAM_FLASH, "--slot-size", "65536",
                     "--decrypt-key", str(key) + ".key", "--force")
    assert proc.returncode == 0, proc.stderr
    me = seal.load_public(str(key) + ".pub")
    sealed = kit.app(work, "sealed1", 1, 16000, encrypt_for=[me], compress="deflate")
    refused = kit.app(work, "sealed-other", 1, 16000, encrypt_for=[seal.load_public(str(other) + ".pub")])
    proc = board.run("push", refused)
    assert (proc.returncode, proc.stderr) == (1, "mpota: the board refused the bundle: not-for-device\n")
    assert board.json("status")["download"] is None
    rep = board.json("push", sealed)
    assert rep["outcome"] == "installed" and rep["fetched"] == len(kit.chunk_names(sealed))
    boot = board.json("reboot")
    assert "mpota: boot: trial of version 1" in boot["boot"]
    assert board.json("confirm") == {"confirmed": True, "version": 1}
    st = board.json("status")
    assert st["decrypt_keys"] == [seal.recipient_id(me)]
    assert seal.load_private(str(key) + ".key").hex() not in json.dumps(st)


def test_hil_example_passes_on_the_emulated_board_through_the_plugin(board, tmp_path):
    # docs/examples/test_hil.py as a user runs it, with mpota's pytest
    # plugin; its fresh board is provisioned with the plugin's own root,
    # so this runs last in the module.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(EXAMPLES / "test_hil.py"),
                           "--mpota-port", board.port, "--mpota-mount", str(board.fs),
                           "--mpota-provision", "bank=flash,ram_flash={},slot_size=65536".format(RAM_FLASH)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("1 passed")
