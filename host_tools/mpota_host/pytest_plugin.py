# SPDX-License-Identifier: MIT
"""pytest fixtures for hardware-in-the-loop tests of mpota boards
(docs/HOST_API.md). Registered through the `pytest11` entry point, so
installing mpota is enough:

    pytest --mpota-port /dev/ttyACM0 [--mpota-port /dev/ttyACM1 ...]
    MPOTA_PORT=/dev/ttyACM0,/dev/ttyACM1 pytest

Fixtures: mpota_board (the first board), mpota_boards (all of them),
mpota_fresh_board (the first board, agent installed and provisioned
afresh with a root the session made), mpota_bundle_factory (signs app
bundles with that root's update key), mpota_trust (the keys and root).
A test that needs a board is skipped when no port is given.

Loaded in every pytest session once mpota is installed: it imports
nothing of mpota until a test asks for one of its fixtures.
"""

import os
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional

import pytest

if TYPE_CHECKING:
    from .board_api import Board
    from .signing import Bundle, Key

ENV = "MPOTA_PORT"
NO_BOARD = "no mpota board: give --mpota-port PORT (or set {}=PORT[,PORT...])".format(ENV)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mpota", "mpota boards for hardware-in-the-loop tests")
    group.addoption("--mpota-port", action="append", default=[], metavar="PORT",
                    help="serial port of a board under test; repeat (or separate with commas) "
                         "for several (default: ${})".format(ENV))
    group.addoption("--mpota-mount", metavar="DIR",
                    help="serve DIR as the boards' filesystem (mpremote mount), for boards without "
                         "one such as the emulated board")
    group.addoption("--mpota-device-class", default="mpota-test", metavar="CLASS",
                    help="device class mpota_fresh_board provisions and bundles are signed for "
                         "(default: mpota-test)")
    group.addoption("--mpota-provision", default="", metavar="K=V,...",
                    help="mpota_fresh_board's provisioning options, as Board.provision's keywords "
                         "(e.g. bank=flash,ram_flash=0x20000000,slot_size=65536)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mpota: the test drives mpota boards (docs/HOST_API.md)")
    # A malformed option stops the session before any test runs.
    provision_options(config.getoption("mpota_provision"))


def ports_from(options: Iterable[str], environ: Mapping[str, str]) -> List[str]:
    """The ports given as --mpota-port (each may list several, comma-
    separated), else in the environment's MPOTA_PORT."""
    given = [p.strip() for opt in options for p in opt.split(",") if p.strip()]
    if given:
        return given
    return [p.strip() for p in environ.get(ENV, "").split(",") if p.strip()]


def provision_options(text: str) -> Dict[str, Any]:
    """'bank=flash,ram_flash=0x20000000' -> {'bank': 'flash', 'ram_flash':
    0x20000000}: numbers as numbers (0x... too), true/false as booleans."""
    out: Dict[str, Any] = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError("--mpota-provision: {!r} is not KEY=VALUE".format(item))
        value = value.strip()
        try:
            out[key.strip()] = int(value, 0)
        except ValueError:
            out[key.strip()] = {"true": True, "false": False}.get(value.lower(), value)
    return out


@pytest.fixture(scope="session")
def mpota_ports(request: pytest.FixtureRequest) -> List[str]:
    """The boards' serial ports (override in a conftest.py to start boards
    of your own)."""
    return ports_from(request.config.getoption("mpota_port"), os.environ)


@pytest.fixture(scope="session")
def mpota_board_options(request: pytest.FixtureRequest) -> Dict[str, Any]:
    """Keywords for every Board: the mount given."""
    mount = request.config.getoption("mpota_mount")
    return {"mount": mount} if mount else {}


@pytest.fixture(scope="session")
def mpota_device_class(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("mpota_device_class")


@pytest.fixture(scope="session")
def mpota_provision_options(request: pytest.FixtureRequest) -> Dict[str, Any]:
    """Keywords for Board.provision in mpota_fresh_board."""
    return provision_options(request.config.getoption("mpota_provision"))


@pytest.fixture
def mpota_boards(mpota_ports: List[str], mpota_board_options: Dict[str, Any]) -> "List[Board]":
    """Every board given, as mpota_host.Board; skips the test without one."""
    from mpota_host import Board

    if not mpota_ports:
        pytest.skip(NO_BOARD)
    return [Board(port, **mpota_board_options) for port in mpota_ports]


@pytest.fixture
def mpota_board(mpota_boards: "List[Board]") -> "Board":
    """The first board given."""
    return mpota_boards[0]


class Trust:
    """The session's keys and trust root: root_key signs the root (a
    rotation too), update_key bundles; root is the document."""

    def __init__(self, root_key: "Key", update_key: "Key", root: bytes) -> None:
        self.root_key = root_key
        self.update_key = update_key
        self.root = root


@pytest.fixture(scope="session")
def mpota_trust() -> Trust:
    from mpota_host import signing

    root_key, update_key = signing.make_key("root"), signing.make_key("update")
    return Trust(root_key, update_key, signing.make_root([root_key], [update_key]))


class BundleFactory:
    """factory(version, files=None, **sign_bundle keywords) -> a signed
    app bundle (mpota_host.signing.Bundle) of the files given (name ->
    text or bytes; default a main.py printing 'app version N'), or of
    source= (an app directory or an image file)."""

    def __init__(self, where: Any, trust: Trust, device_class: str) -> None:
        self.where = where
        self.trust = trust
        self.device_class = device_class
        self.made = 0

    def __call__(self, version: int, files: Optional[Dict[str, Any]] = None, *, source: Any = None,
                 name: Optional[str] = None, **kw: Any) -> "Bundle":
        from mpota_host import signing

        self.made += 1
        name = name or "v{}-{}".format(version, self.made)
        if source is None:
            source = os.path.join(str(self.where), name + "-src")
            for path, data in (files or {"main.py": "print('app version {}')\n".format(version)}).items():
                full = os.path.join(source, *path.split("/"))
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(data.encode() if isinstance(data, str) else data)
        kw.setdefault("device_class", self.device_class)
        return signing.sign_bundle(source, os.path.join(str(self.where), name),
                                   [self.trust.update_key], version=version, **kw)


@pytest.fixture
def mpota_bundle_factory(tmp_path_factory: pytest.TempPathFactory, mpota_trust: Trust,
                         mpota_device_class: str) -> BundleFactory:
    return BundleFactory(tmp_path_factory.mktemp("mpota-bundles"), mpota_trust, mpota_device_class)


@pytest.fixture
def mpota_fresh_board(mpota_board: "Board", mpota_trust: Trust, mpota_device_class: str,
                      mpota_provision_options: Dict[str, Any]) -> "Board":
    """The first board with this mpota's agent (installed where it has
    none or another version) provisioned afresh: the session's root, no
    image, counters at zero."""
    import mpota

    if mpota_board.identity().agent != mpota.__version__:
        mpota_board.install()
    mpota_board.provision(mpota_trust.root, mpota_device_class, force=True, **mpota_provision_options)
    return mpota_board
