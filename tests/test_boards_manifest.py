"""The frozen manifests of ESP32_GENERIC, RPI_PICO and RPI_PICO_W, read by
MicroPython's own manifest tool (tools/manifestfile.py, freeze mode) as the
port's build reads them.

What a board freezes of the agent must be exactly the firmware/mpota tree
(a module left out would fail on import only on the device), and every
module must compile for the board's architecture as the build compiles it.
"""

import importlib.util
import subprocess

import pytest

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


def test_frozen_agent_is_exactly_the_source_tree(manifest):
    _, m = manifest
    frozen = {f.target_path for f in m.files if f.target_path.startswith("mpota/")}
    tree = {p.relative_to(AGENT.parent).as_posix() for p in AGENT.rglob("*.py")}
    assert frozen == tree
    for f in m.files:
        if f.target_path.startswith("mpota/"):
            assert ROOT.joinpath(f.full_path).resolve() == (AGENT.parent / f.target_path).resolve()


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
