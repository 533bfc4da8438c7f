# SPDX-License-Identifier: MIT
"""`mpota device provision` on the unix port (a pty board, as in
test_device_unix.py): a configuration the board refuses leaves nothing
behind, and --rp2-flash gives the agent an RP2040's raw flash region.

The board's `rp2` module is the stand-in of the raw region tests
(tests/agent/rp2stub/rp2.py: rp2.Flash with the RP2040 driver's rules on
the NOR flash model), its chip a 1 MiB storage area in a file outside the
board's filesystem."""

import json
import shutil

import pytest

from bundles import factory as f
from device_host import bundles as kit
from device_host.cli import device, ok_json
from device_host.ptyboard import UnixPtyBoard
from mpota_host import Board

RP2_STUB = f.REPO / "tests" / "agent" / "rp2stub" / "rp2.py"
STORAGE = 1 << 20


@pytest.fixture
def board(tmp_path, unix_stock_target):
    with UnixPtyBoard(tmp_path / "board", unix_stock_target.binary) as b:
        lib = b.home / "lib"
        shutil.copyfile(RP2_STUB, lib / "_rp2model.py")
        (lib / "rp2.py").write_text(
            "import _rp2model\nfrom _rp2model import Flash\n"
            "if not _rp2model._CHIP:\n"
            "    _rp2model.configure({!r}, {})\n".format(str(tmp_path / "rp2-flash"), STORAGE))
        Board(b.port).install()
        yield b


def files(home):
    return sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))


def provision(board, tmp_path, *args):
    return device(board, "provision", "--root", kit.root(tmp_path), "--device-class",
                  kit.DEVICE_CLASS, "--slot-size", "131072", *args)


def test_refused_configuration_leaves_nothing_on_the_board(board, tmp_path):
    before = files(board.home)
    for bad in (["--bank", "flash", "--rp2-flash", "1000"],        # not sector-aligned
                ["--bank", "flash", "--rp2-flash", str(STORAGE)],  # past the storage area
                ["--bank", "flash", "--sector", "3000"]):          # not a power of two
        proc = provision(board, tmp_path, *bad)
        assert proc.returncode == 1
        assert proc.stderr == ("mpota: the board refused this configuration (config): its flash, "
                               "bank or sizes do not fit the board; nothing was written\n")
        assert files(board.home) == before
    proc = device(board, "status")
    assert proc.stderr == "mpota: the board is not provisioned: run mpota device provision\n"


def test_raw_rp2_region_from_the_provision_option_takes_an_update(board, tmp_path):
    res = ok_json(board, "provision", "--root", kit.root(tmp_path), "--device-class",
                  kit.DEVICE_CLASS, "--slot-size", "131072", "--bank", "flash",
                  "--rp2-flash", "0x10000")
    assert res["config"]["flash"] == {"sector": 4096, "page": 256, "write": 1, "rp2": 65536}
    assert json.loads((board.home / "mpota.json").read_text())["flash"]["rp2"] == 65536
    rep = ok_json(board, "push", kit.app(tmp_path, "v1", 1, 20000))
    assert (rep["outcome"], rep["slot"]) == ("installed", 0)
    st = ok_json(board, "status")
    assert st["bank"] == "flash" and st["trial"]["version"] == 1
    # The agent's state and slots are in the raw region, not in files.
    assert not (board.home / "flash").exists() and not (board.home / "slots").exists()


def test_rp2_flash_needs_the_flash_bank_and_excludes_ram_flash(tmp_path):
    for args, said in ((["--rp2-flash", "65536"], "--rp2-flash needs --bank flash"),
                       (["--bank", "flash", "--rp2-flash", "65536", "--ram-flash", "0x20000000"],
                        "--ram-flash and --rp2-flash are two different flashes: give one")):
        proc = f.cli("device", "provision", "--root", str(kit.root(tmp_path)), "--device-class", "x",
                     "--port", str(tmp_path / "no-board"), *args)
        assert proc.returncode == 1 and proc.stderr == "mpota: {}\n".format(said)


def test_fleet_identity_goes_to_its_own_file_and_is_never_shown(board, tmp_path):
    secret_file = tmp_path / "board-9.key"
    secret = bytes(range(7, 39))
    secret_file.write_bytes(secret)
    proc = device(board, "provision", "--root", str(kit.root(tmp_path)), "--device-class",
                  kit.DEVICE_CLASS, "--slot-size", "131072", "--device-id", "board-9",
                  "--fleet", "https://fleet.example:8470", "--identity", str(secret_file),
                  "--json")
    assert proc.returncode == 0, proc.stderr
    assert (board.home / "identity").read_bytes() == secret
    cfg = json.loads((board.home / "mpota.json").read_text())
    assert (cfg["device_id"], cfg["fleet"]) == ("board-9", "https://fleet.example:8470")
    shown = proc.stdout + device(board, "status", "--json").stdout + device(board, "log").stdout
    for form in (secret.hex(), repr(secret)[2:-1]):
        assert form not in shown and form not in json.dumps(cfg)


@pytest.mark.parametrize("args,said", [
    (["--bank", "esp32", "--target", "app"],
     "--bank esp32 holds firmware images (sign micropython.bin): use --target firmware, or "
     "--bank dir for an app"),
    (["--device-id", "two words"], "--device-id 'two words': 1 to 32 printable ASCII "
                                   "characters, no spaces"),
    (["--fleet", "https://f"], "--fleet needs --device-id (reports name the device)"),
])
def test_configurations_no_board_could_use_are_refused_before_the_board_is_asked(
        tmp_path, args, said):
    proc = f.cli("device", "provision", "--root", str(kit.root(tmp_path)), "--device-class", "x",
                 "--port", str(tmp_path / "no-board"), *args)
    assert proc.returncode == 1 and proc.stderr == "mpota: {}\n".format(said)


def test_esp32_bank_defaults_to_firmware_in_the_boards_own_folder():
    from mpota_host.board_api import board_config

    cfg = board_config("esp32", bank="esp32")
    assert (cfg["target"], cfg["dir"]) == ("firmware", ".")
    assert board_config("esp32")["target"] == "app"


def test_decrypt_keys_go_to_their_own_files_are_shown_by_id_only_and_decrypt_a_push(board, tmp_path):
    from mpota_host import seal

    own, cls = tmp_path / "board", tmp_path / "class"
    pub = seal.write_pair(str(own), False)[1]
    seal.write_pair(str(cls), False, raw=True)
    proc = device(board, "provision", "--root", str(kit.root(tmp_path)), "--device-class",
                  kit.DEVICE_CLASS, "--slot-size", "131072", "--decrypt-key", str(own) + ".key",
                  "--decrypt-key", str(cls) + ".key", "--json")
    assert proc.returncode == 0, proc.stderr
    keys = [seal.load_private(str(p) + ".key") for p in (own, cls)]
    assert [(board.home / "decrypt-{}.key".format(i)).read_bytes() for i in (0, 1)] == keys
    ids = [seal.recipient_id(seal.public_of(k)) for k in keys]
    assert ok_json(board, "status")["decrypt_keys"] == ids
    assert "decrypt keys: {}".format(" ".join(ids)) in device(board, "status").stdout
    rep = ok_json(board, "push", kit.app(tmp_path, "v1", 1, 20000, encrypt_for=[seal.load_public(pub)]))
    assert rep["outcome"] == "installed"
    shown = proc.stdout + device(board, "status", "--json").stdout + device(board, "log").stdout
    for k in keys:
        assert k.hex() not in shown and repr(k)[2:-1] not in shown


def test_a_signing_key_is_refused_as_a_decrypt_key_before_the_board_is_asked(tmp_path):
    key, _ = f.keys("prov-signer")[0].write(tmp_path)
    proc = f.cli("device", "provision", "--root", str(kit.root(tmp_path)), "--device-class", "x",
                 "--port", str(tmp_path / "no-board"), "--decrypt-key", str(key))
    assert proc.returncode == 1 and "is not an X25519 private key" in proc.stderr
