# SPDX-License-Identifier: MIT
"""The frozen manifests of ESP32_GENERIC, RPI_PICO and RPI_PICO_W, read by
MicroPython's own manifest tool (tools/manifestfile.py, freeze mode) as the
port's build reads them.

A board freezes the parts of the agent it uses (firmware/manifest.py).
A module left out would fail on import only on the device, so: the parts
together are exactly the firmware/mpota tree; every module a board freezes
finds what it imports among them, except imports that only a configuration
the board does not use reaches; what the board's configuration needs is
frozen; and the plain Pico's subset, alone on the path, runs a whole
update. Every module must compile for the board's architecture as the
build compiles it.
"""

import ast
import importlib.util
import json
import shutil
import subprocess

import pytest

from agent import kit
from targets import BUILD, ROOT

MPY_DIR = BUILD / "micropython"
MPY_CROSS = BUILD / "mpy-cross" / "mpy-cross"
AGENT = ROOT / "firmware" / "mpota"

# Board: (port, mpy-cross architecture the port freezes with, the manifest
# stock firmware for the board is built with).
BOARDS = {
    "ESP32_GENERIC": ("esp32", "xtensawin", "boards/manifest.py"),
    "RPI_PICO": ("rp2", "armv6m", "boards/manifest.py"),
    "RPI_PICO_W": ("rp2", "armv6m", "boards/RPI_PICO_W/manifest.py"),
}


def _manifestfile():
    spec = importlib.util.spec_from_file_location(
        "mpota_manifestfile", MPY_DIR / "tools" / "manifestfile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Manifest:
    """The port's ManifestFile, except that require() only records the
    package: Debian's MicroPython source carries a trimmed micropython-lib,
    and those packages are the port's, not ours."""

    def __init__(self, board, path=None):
        mf = _manifestfile()
        port = BOARDS[board][0]
        outer = self
        self.required = []

        class Recording(mf.ManifestFile):
            def require(self, name, *args, **kwargs):
                outer.required.append(name)

        self.m = Recording(mf.MODE_FREEZE, {
            "MPY_DIR": str(MPY_DIR),
            "MPY_LIB_DIR": str(MPY_DIR / "lib" / "micropython-lib"),
            "PORT_DIR": str(MPY_DIR / "ports" / port),
            "BOARD_DIR": str(ROOT / "boards" / board),
        })
        self.m.execute(str(path or ROOT / "boards" / board / "manifest.py"))
        self.files = self.m.files()


@pytest.fixture(scope="module", params=sorted(BOARDS))
def manifest(request):
    return request.param, _Manifest(request.param)


def test_every_frozen_file_exists(manifest):
    _, m = manifest
    assert m.files
    missing = [f.full_path for f in m.files if not ROOT.joinpath(f.full_path).is_file()]
    assert not missing


# Imports a board may leave unfrozen: each is reached only through a
# configuration that needs its part (mpota.device picks the flash, the
# bank and the source by configuration; mpota.crypto the fallback only
# without the C module, which every board's firmware has).
OPTIONAL = {
    "mpota.flash.nor": "devtools", "mpota.flash.ram": "devtools",
    "mpota.flash.rp2flash": "rp2", "mpota.slots.esp32": "esp32",
    "mpota.slots.appdir": "appdir", "mpota.source.http": "network",
    "mpota.update.runs": "network",  # imported only for a source that takes ranges
    "mpota.crypto.ed25519_fallback": "fallback", "mpota.crypto.sha512_source": "fallback",
    # Reached only on CircuitPython (bank "dualbank", socketpool, zlib).
    "mpota.slots.dualbank": "circuitpython", "mpota.source.poolconn": "circuitpython",
    "mpota.bundle.oneshot": "circuitpython",
    # Imported only for an encrypted bundle (a board without them refuses
    # it as unknown-cipher).
    "mpota.update.sealed": "encryption", "mpota.crypto.aes": "encryption",
    "mpota.crypto.hkdf": "encryption", "mpota.crypto.x25519": "encryption",
}
# What each board's own configuration reaches: its bank, its source, and
# bring-up over serial.
NEEDS = {
    "ESP32_GENERIC": {"mpota.slots.esp32", "mpota.source.http", "mpota.bringup"},
    "RPI_PICO": {"mpota.bringup", "mpota.flash.rp2flash"},
    "RPI_PICO_W": {"mpota.bringup", "mpota.flash.rp2flash", "mpota.source.http"},
}
BANK_MODULE = {"dir": "mpota.slots.appdir", "esp32": "mpota.slots.esp32"}


def _agent(files):
    return {f.target_path for f in files if f.target_path.startswith("mpota/")}


def _module(path):
    name = path[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def _tree():
    return {p.relative_to(AGENT.parent).as_posix() for p in AGENT.rglob("*.py")}


def _imports(path):
    """The agent modules a source file imports, anywhere in it."""
    name = _module(path)
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    modules = {_module(p) for p in _tree()}
    out = set()
    for node in ast.walk(ast.parse((AGENT.parent / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = base + ("." + node.module if node.module else "")
            for alias in node.names:
                sub = target + "." + alias.name
                out.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("mpota"))
    return out


def test_the_parts_together_are_exactly_the_agents_source_tree(tmp_path):
    every = tmp_path / "every.py"
    every.write_text('include({!r}, serial=True, network=True, appdir=True, esp32=True, '
                     'rp2=True, fallback=True, devtools=True, circuitpython=True, encryption=True)\n'.format(str(ROOT / "firmware" / "manifest.py")))
    assert _agent(_Manifest("RPI_PICO", every).files) == _tree()
    core = tmp_path / "core.py"
    core.write_text('include({!r}, serial=False, network=False, appdir=False, encryption=False)\n'.format(
        str(ROOT / "firmware" / "manifest.py")))
    left_out = {_module(p) for p in _tree() - _agent(_Manifest("RPI_PICO", core).files)}
    # No optional module is in the core: every part can be left out.
    assert set(OPTIONAL) <= left_out


def test_a_board_freezes_what_its_frozen_modules_import(manifest):
    board, m = manifest
    frozen = {_module(p) for p in _agent(m.files)}
    missing = sorted("{} imports {}".format(_module(p), i) for p in _agent(m.files)
                     for i in _imports(p) if i not in frozen and i not in OPTIONAL)
    assert not missing


def test_a_board_freezes_what_its_configuration_needs(manifest):
    board, m = manifest
    frozen = {_module(p) for p in _agent(m.files)}
    needs = set(NEEDS[board])
    config = ROOT / "boards" / board / "mpota.json"
    if config.is_file():
        needs.add(BANK_MODULE[json.loads(config.read_text())["bank"]])
    assert needs <= frozen
    # Nothing only the unix port, the emulator or the host tools use.
    assert not frozen & {"mpota.sim", "mpota.flash.nor", "mpota.flash.ram", "mpota.bundle.directory"}


def test_the_plain_picos_subset_alone_runs_a_whole_update(unix_target, tmp_path):
    # The frozen files of RPI_PICO as the only agent on the path, with the
    # board's own mpota.json (bank "dir"): provision, update, trial boot,
    # the app run from main.py, confirm, and the bring-up status.
    subset = tmp_path / "subset"
    for f in _Manifest("RPI_PICO").files:
        if f.target_path.startswith("mpota/"):
            (subset / f.target_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f.full_path, subset / f.target_path)
    board = tmp_path / "board"
    board.mkdir()
    cfg = json.loads((ROOT / "boards" / "RPI_PICO" / "mpota.json").read_text())
    cfg.update({"device_class": "board", "slot_size": 131072, "backoff_ms": 0})
    (board / "mpota.json").write_text(json.dumps(cfg))
    root = kit.root(tmp_path)
    v1 = kit.app_bundle(tmp_path, "v1", 1, device_class="board")
    v2 = kit.app_bundle(tmp_path, "v2", 2, device_class="board")
    out = unix_target.run("""
import os, sys
os.chdir({board!r})
from mpota import bringup, device, provision, trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
with open({root!r}, "rb") as f:
    root = f.read()
dev = device.use(device.load())
provision.provision(dev, root, LocalSource({v1!r}))
Install(dev, LocalSource({v2!r})).run()
bringup.boot()
bringup.run_app()
print("modules", sorted(m for m in sys.modules if m.startswith("mpota")))
print("status", dev.load().active_version, dev.load().min_counter)
""".format(board=str(board), root=str(root), v1=str(v1), v2=str(v2)), path=[subset])
    assert "mpota: boot: trial of version 2" in out and "app version 2" in out
    assert "status 2 2" in out  # the app's health check confirmed it
    assert "mpota.sim" not in out and "mpota.flash.nor" not in out


def test_board_freezes_everything_stock_firmware_does(manifest):
    # Including the port's manifest rather than replacing it keeps, among
    # others, _boot.py, which mounts the filesystem the app slots live on.
    board, m = manifest
    port, _, stock_manifest = BOARDS[board]
    stock = _Manifest(board, MPY_DIR / "ports" / port / stock_manifest)
    ours = {f.target_path for f in m.files}
    assert {f.target_path for f in stock.files} <= ours
    assert "_boot.py" in ours
    assert set(stock.required) <= set(m.required)


def test_every_agent_module_compiles_for_the_boards_architecture(manifest, tmp_path):
    board, m = manifest
    if not MPY_CROSS.is_file():
        pytest.fail("{} is missing: run make test".format(MPY_CROSS), pytrace=False)
    march = BOARDS[board][1]
    failed = []
    for f in m.files:
        if f.target_path.startswith("mpota/"):
            run = subprocess.run(
                [str(MPY_CROSS), "-march=" + march, "-s", f.target_path,
                 "-o", str(tmp_path / "out.mpy"), f.full_path],
                capture_output=True, text=True)
            if run.returncode != 0:
                failed.append("{}: {}".format(f.target_path, run.stderr.strip()))
    assert not failed, "\n".join(failed)
