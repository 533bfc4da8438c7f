# SPDX-License-Identifier: MIT
"""A board on the host, as a Python object (docs/HOST_API.md).

    board = mpota_host.Board("/dev/ttyACM0")
    board.install()
    board.provision("root.bin", "sensor-v2")
    board.push("bundle-v2", progress=lambda done, total, how: ...)
    board.reboot().status.trial.version
    board.confirm()

Every method opens the port, talks to mpota.bringup on the board and
closes the port again, as one `mpota device` command does: the CLI's
`device` commands are this class with text around it. The board decides
everything about an update; the host only carries files.

Every failure raises BoardError: its message is the CLI's one line, its
`reason` a short code (the board's own reason, such as bad-signature or
trial-pending, or the host's, such as no-board or port-busy).
"""

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from mpota.bundle import trust
from mpota.bundle.error import BundleError

from . import files
from .device import board as B
from .device import drive as DR
from .device import install as I
from .device import runtime, wire
from .device.calls import FORGET_AGENT, bringup
from .device.link import Link, find_port
from .errors import BoardError, CommandError

PathLike = Union[str, "os.PathLike[str]"]
# progress(done, total, how): chunk `done` of `total` is in the slot;
# how: "fetched" (sent over the line), "copied" or "reused" (on the board).
ProgressFn = Callable[[int, int, str], None]

CA_FILE = "mpota-ca.der"
# The longest a board may stay silent during a push: erasing a slot's
# sector and hashing a chunk take well under this on a real board.
PUSH_SILENCE = 120.0


# What a board answers, as typed objects. Each keeps the board's answer
# as it came in `raw` (what `mpota device ... --json` prints).

def _raw() -> Any:
    return field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Identity:
    """What the board is. device_id is mpota.json's (None before a fleet
    provisioning); unique_id the chip's machine.unique_id() in hex, where
    the port has one (CircuitPython: microcontroller.cpu.uid). The fleet secret never leaves the board."""
    port: str
    machine: str
    platform: str
    implementation: str
    version: str
    mpy: Tuple[int, int]
    arch: str
    agent: Optional[str]
    frozen_agent: bool
    ed25519: Optional[str]
    device_id: Optional[str]
    device_class: Optional[str]
    unique_id: Optional[str]
    heap_free: int
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Installed:
    """What install did. installed is False where the agent is frozen into
    the firmware (nothing copied). CircuitPython: code_py instead of
    main_py; route "drive" where the files went onto the CIRCUITPY drive."""
    installed: bool
    agent: str
    kind: str = ""
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    ed25519: str = ""
    natmod: Optional[str] = None
    boot_py: str = ""
    main_py: str = ""
    code_py: str = ""
    route: str = "repl"
    notes: List[str] = field(default_factory=list)
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Provisioned:
    root_version: int
    bank: str
    config: Dict[str, Any]
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Heap:
    """The board's heap during a push, in bytes: its size, in use before
    the agent was loaded, and the most in use during the update."""
    size: int
    idle: int
    peak: int


@dataclass(frozen=True)
class PushReport:
    """outcome: 'installed' (a trial waits for a reboot) or 'up-to-date'.
    route 'drive': written into a CircuitPython board's CIRCUITPY drive by
    the agent run on this computer (no board heap then, nothing sent)."""
    outcome: str
    version: int
    label: str
    slot: Optional[int]
    chunks: int
    fetched: int
    copied: int
    reused: int
    bytes: int
    seconds: float
    sent_bytes: int
    sent_files: Dict[str, int]
    heap: Optional[Heap]
    route: str = "repl"
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Image:
    """The image a slot holds; sha256 in hex. source_rev and sbom_sha256:
    the build provenance its manifest signed (None: none, or an agent
    from before provenance)."""
    slot: int
    version: int
    size: int
    sha256: str
    source_rev: Optional[str] = None
    sbom_sha256: Optional[str] = None


@dataclass(frozen=True)
class Trial(Image):
    attempts: int = 0
    security_counter: int = 0
    sequence: int = 0


@dataclass(frozen=True)
class Download:
    """An install cut short, which the next push resumes."""
    slot: int
    image_sha256: str
    units: int
    table: int
    fetched: int
    copied: int


@dataclass(frozen=True)
class Status:
    agent: str
    device_class: str
    bank: str
    max_attempts: int
    active: Image
    trial: Optional[Trial]
    download: Optional[Download]
    min_security_counter: int
    last_sequence: int
    root_version: int
    # Recipient ids of the board's X25519 keys for encrypted bundles.
    decrypt_keys: Tuple[str, ...] = ()
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Event:
    """One entry of the board's audit log. time: Unix seconds, None where
    the board had no clock."""
    time: Optional[int]
    event: str
    what: str
    value: int
    reason: Optional[str]


@dataclass(frozen=True)
class Confirmation:
    confirmed: bool
    version: int
    raw: Dict[str, Any] = _raw()


@dataclass(frozen=True)
class Reboot:
    """reset: 'soft' or 'hard'; boot: the lines the board printed as it
    started again (boot.py's, the agent's boot step among them); status
    after it."""
    reset: str
    boot: List[str]
    status: Status
    raw: Dict[str, Any] = _raw()


def _pick(cls: Any, d: Dict[str, Any]) -> Any:
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in d.items() if k in names and k != "raw"})


def _status(st: Dict[str, Any]) -> Status:
    return Status(
        agent=st["agent"], device_class=st["device_class"], bank=st["bank"],
        max_attempts=st["max_attempts"], active=_pick(Image, st["active"]),
        trial=_pick(Trial, st["trial"]) if st.get("trial") else None,
        download=_pick(Download, st["download"]) if st.get("download") else None,
        min_security_counter=st["min_security_counter"], last_sequence=st["last_sequence"],
        root_version=st["root_version"], decrypt_keys=tuple(st.get("decrypt_keys") or ()), raw=st)


# Run on the board: what mpota.json says of the device, never its keys.
_IDENT = """
import json
_i = {'device_id': None, 'device_class': None, 'unique_id': None}
try:
    with open('mpota.json') as _f:
        _c = json.load(_f)
    _i['device_id'] = _c.get('device_id')
    _i['device_class'] = _c.get('device_class')
    del _c
except (OSError, ValueError):
    pass
try:
    import machine, binascii
    _i['unique_id'] = binascii.hexlify(machine.unique_id()).decode()
except (ImportError, AttributeError):
    try:
        import microcontroller, binascii
        _i['unique_id'] = binascii.hexlify(microcontroller.cpu.uid).decode()
    except (ImportError, AttributeError):
        pass
print(json.dumps(_i))
del _i
"""

# The board's heap for the push report: in use before the agent is
# imported, the whole heap, and a sampler push() calls after every chunk
# (after a collection: what stays live, not garbage not yet collected).
_HEAP = """gc.collect()
_idle = gc.mem_alloc()
_size = _idle + gc.mem_free()
def _heap():
    gc.collect()
    return gc.mem_alloc()
"""

_REFUSED_CONFIG = {"config": "the board refused this configuration (config): its flash, bank or "
                             "sizes do not fit the board; nothing was written"}


def _der(path: PathLike) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data = files.read(str(path))
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        raise BoardError("{} is not a certificate (PEM or DER)".format(path), "usage") from None
    return cert.public_bytes(serialization.Encoding.DER)


def board_config(device_class: str, *, product: str = "mpota", hw_rev: Optional[str] = None,
                 target: Optional[str] = None, bank: str = "dir", ram_flash: Optional[int] = None,
                 rp2_flash: Optional[int] = None, slot_size: int = 262144, table_size: int = 16384,
                 chunk_area: int = 8192, sector: int = 4096, max_attempts: int = 3,
                 server: Optional[str] = None, ca: Optional[PathLike] = None,
                 clock: bool = True, device_id: Optional[str] = None,
                 fleet: Optional[str] = None) -> Dict[str, Any]:
    """The mpota.json that provision writes (docs/BRINGUP.md): the
    arguments are those of `mpota device provision`. target defaults to
    what the bank holds: firmware on the ESP32's OTA partitions, else an
    app."""
    esp32 = bank == "esp32"
    if target is None:
        target = "firmware" if esp32 else "app"
    if esp32 and target == "app":
        # The bootloader boots only ESP app images from the OTA partitions.
        raise BoardError("--bank esp32 holds firmware images (sign micropython.bin): use "
                         "--target firmware, or --bank dir for an app", "usage")
    # The ESP32 bank keeps only its state files in "dir": the board's own
    # folder (boards/ESP32_GENERIC/mpota.json), which always exists.
    cfg: Dict[str, Any] = {"device_class": device_class, "product": product, "target": target,
                           "bank": bank, "slot_size": slot_size, "table_size": table_size,
                           "chunk_area": chunk_area, "max_attempts": max_attempts,
                           "dir": "." if esp32 else "slots"}
    if device_id is not None:
        if not _identifier(device_id):
            raise BoardError("--device-id {!r}: 1 to 32 printable ASCII characters, no "
                             "spaces".format(device_id), "usage")
        cfg["device_id"] = device_id
    if fleet:
        if not device_id:
            raise BoardError("--fleet needs --device-id (reports name the device)", "usage")
        cfg["fleet"] = fleet
    if hw_rev:
        cfg["hw_rev"] = hw_rev
    if ram_flash is not None and rp2_flash is not None:
        raise BoardError("--ram-flash and --rp2-flash are two different flashes: give one", "usage")
    if bank == "flash":
        cfg["flash"] = {"sector": sector, "page": 256, "write": 1}
        if ram_flash is not None:
            cfg["flash"]["ram"] = ram_flash
        elif rp2_flash is not None:
            cfg["flash"]["rp2"] = rp2_flash
        else:
            cfg["flash"]["file"] = "flash"
    elif ram_flash is not None:
        raise BoardError("--ram-flash needs --bank flash", "usage")
    elif rp2_flash is not None:
        raise BoardError("--rp2-flash needs --bank flash", "usage")
    if server:
        cfg["source"] = server
    if ca:
        if not server:
            raise BoardError("--ca needs --server", "usage")
        cfg["ca"] = CA_FILE
    if not clock:
        cfg["clock"] = False
    return cfg


def _identifier(text: str) -> bool:
    return 1 <= len(text) <= 32 and all(0x21 <= ord(c) <= 0x7E for c in text)


class Board:
    """The board on serial port `port` (None: the one USB board plugged
    in). mount: a host directory served as the board's filesystem, for a
    board without one (the emulated board). drive: a CircuitPython
    board's CIRCUITPY drive mounted here, written instead of the board's
    filesystem where its code may not write (device/runtime.py). Each call
    opens the port and closes it again; nothing is held between calls."""

    def __init__(self, port: Optional[str] = None, *, mount: Optional[PathLike] = None,
                 drive: Optional[PathLike] = None, push_silence: float = PUSH_SILENCE) -> None:
        self.port = port
        self.mount = str(mount) if mount is not None else None
        self.drive = str(drive) if drive is not None else None
        self.push_silence = push_silence

    def __repr__(self) -> str:
        return "Board({!r}{})".format(self.port, ", mount={!r}".format(self.mount) if self.mount else "")

    @contextlib.contextmanager
    def connect(self) -> Iterator[Link]:
        """The open link to the board (device/link.py), for what this class
        does not do; failures as BoardError."""
        try:
            with Link(self.port or find_port(), mount=self.mount) as link:
                yield link
        except BoardError:
            raise
        except CommandError as e:
            raise BoardError(str(e), "host") from None

    def _drive(self, link: Link) -> Optional[str]:
        """The CIRCUITPY folder to write, or None: write through the REPL
        (runtime.route; a read-only board without --drive is refused)."""
        name, readonly = B.runtime(link)
        if runtime.route(name, readonly, self.drive) == "repl":
            return None
        return str(DR.check(link, self.drive))

    # What the board is ----------------------------------------------------

    def identity(self) -> Identity:
        with self.connect() as link:
            b = B.probe(link)
            more = json.loads(link.exec(_IDENT)[-1])
        return Identity(port=link.port, machine=b.machine, platform=b.platform,
                        implementation=b.name, version=b.version, mpy=b.mpy, arch=b.arch,
                        agent=b.agent, frozen_agent=b.frozen_agent, ed25519=b.ed25519,
                        device_id=more["device_id"], device_class=more["device_class"],
                        unique_id=more["unique_id"], heap_free=b.facts["heap_free"],
                        raw=dict(b.facts, **more))

    def exec(self, code: str, timeout: float = 60.0) -> List[str]:
        """Run Python code on the board; return the lines it printed. A
        traceback raises BoardError (reason board-error)."""
        with self.connect() as link:
            return link.exec(code, timeout)

    # Bring-up -------------------------------------------------------------

    def install(self, *, mpy_cross: Optional[PathLike] = None, natmod: Optional[PathLike] = None,
                sources: bool = False, pure_python: bool = False) -> Installed:
        """Copy the agent onto the board (`mpota device install`): .mpy where
        mpy-cross writes the board's .mpy version, the native ed25519 module
        where its firmware lacks the C one, boot.py and main.py where absent."""
        with self.connect() as link:
            try:
                info = I.install(link, mpy_cross=os.fspath(mpy_cross) if mpy_cross else None,
                                 natmod=os.fspath(natmod) if natmod else None, sources=sources,
                                 pure_python=pure_python, drive=self.drive)
            except BoardError:
                raise
            except CommandError as e:
                # Not MicroPython, another .mpy version, no ed25519 for it.
                raise BoardError(str(e), "wrong-board" if str(e).startswith("wrong board") else "host") from None
        if not info["installed"]:
            return Installed(installed=False, agent=info["frozen"], raw=info)
        return Installed(raw=info, **{k: v for k, v in info.items()
                                      if k in Installed.__dataclass_fields__ and k != "raw"})

    def provision(self, root: Union[bytes, PathLike], device_class: str, *, force: bool = False,
                  identity: Optional[PathLike] = None, decrypt_keys: Sequence[PathLike] = (),
                  **config: Any) -> Provisioned:
        """Give the board its trust root (a document's bytes, or its file)
        and mpota.json (board_config's arguments: bank, slot_size, ...).
        A provisioned board is refused unless force, which starts it over
        (and forgets its anti-rollback counters). identity: the device's
        fleet secret (the file `mpota fleet enroll` wrote), copied to the
        board's `identity` file; it is never printed or returned.
        decrypt_keys: X25519 key files (mpota keygen --x25519: the board's
        own, its class's) for encrypted bundles, copied to the board's
        decrypt-N.key files; likewise never printed or returned."""
        from . import seal

        try:
            private = [seal.load_private(os.fspath(p)) for p in decrypt_keys]
        except CommandError as e:
            raise BoardError(str(e), "usage") from None
        secret = None
        if identity is not None:
            secret = files.read(os.fspath(identity), 64)
            if len(secret) != 32:
                raise BoardError("{} is not a device secret (32 bytes from mpota fleet "
                                 "enroll)".format(identity), "usage")
            if not config.get("device_id"):
                raise BoardError("--identity needs --device-id", "usage")
        what = "the root document" if isinstance(root, (bytes, bytearray)) else os.fspath(root)
        doc = bytes(root) if isinstance(root, (bytes, bytearray)) else files.read(os.fspath(root), 4096)
        try:
            trust.load_root(doc)
        except BundleError as e:
            raise BoardError("{} is not a root document: {}".format(what, e.reason), "usage") from None
        cfg = board_config(device_class, **config)
        if private:
            cfg["decrypt_keys"] = ["decrypt-{}.key".format(i) for i in range(len(private))]
        ca = _der(config["ca"]).hex() if config.get("ca") else None
        with self.connect() as link:
            if "ram" not in cfg.get("flash", {}) and B.probe(link).platform == "qemu":
                # Its machine.reset() ends the emulator, and only a RAM bank
                # gets the soft reset instead (the rule of bringup.reset_kind,
                # docs/BRINGUP.md).
                raise BoardError("the emulated board ends at a reset: provision it with "
                                 "--bank flash --ram-flash 0x20000000", "usage")
            call = "provision, {!r}, {!r}, {!r}, {!r}".format(json.dumps(cfg), doc.hex(), ca, bool(force))
            folder = self._drive(link)
            if folder is None:
                res = bringup(link, call, not_done=_REFUSED_CONFIG)
            else:
                res = DR.agent(folder, call, not_done=_REFUSED_CONFIG)
            if secret is not None:
                # Beside mpota.json, in a file of its own that status and
                # log never read; nothing of it comes back over the line.
                if folder is None:
                    link.write_file("identity", secret)
                else:
                    DR.write(folder, "identity", secret)
            for name, key in zip(cfg.get("decrypt_keys", ()), private):
                if folder is None:
                    link.write_file(name, key)
                else:
                    DR.write(folder, name, key)
        res.update({"config": cfg})
        return Provisioned(root_version=res["root_version"], bank=res["bank"], config=cfg, raw=res)

    # Updates --------------------------------------------------------------

    def push(self, bundle: PathLike, progress: Optional[ProgressFn] = None) -> PushReport:
        """Stream a bundle directory to the board, which checks every byte
        as over the air and installs it as a trial. After a cut (a pulled
        cable, an exception from progress) the next push resumes: chunks
        already verified in the slot are not sent again."""
        bundle = os.fspath(bundle)
        if not os.path.isdir(bundle):
            raise BoardError("{} does not exist or is not a directory".format(bundle), "usage")
        if not os.path.isfile(os.path.join(bundle, "manifest")):
            raise BoardError("{} is not a bundle directory (it has no manifest)".format(bundle), "usage")
        started = time.monotonic()
        with self.connect() as link:
            folder = self._drive(link)
            if folder is not None:
                return self._push_drive(folder, bundle, progress, started)
            server = wire.FileServer(bundle, lambda name: wire.BUNDLE_NAME.match(name) is not None)
            try:
                res = bringup(link, "push, _heap", server, progress, self.push_silence,
                              prelude=FORGET_AGENT + _HEAP)
            finally:
                server.close()
            idle, size = (int(n) for n in link.exec("print(_idle, _size)")[-1].split())
        res["seconds"] = round(time.monotonic() - started, 2)
        res["sent"] = {"bytes": server.sent, "files": server.opened}
        res["route"] = "repl"
        heap = res["heap"] = {"size": size, "idle": idle, "peak": res.pop("heap_peak")}
        return PushReport(
            outcome=res["outcome"], version=res["version"], label=res["label"], slot=res["slot"],
            chunks=res["chunks"], fetched=res["fetched"], copied=res["copied"],
            reused=res["reused"], bytes=res["bytes"], seconds=res["seconds"],
            sent_bytes=server.sent, sent_files=dict(server.opened), heap=Heap(**heap), raw=res)

    def _push_drive(self, folder: str, bundle: str, progress: Optional[ProgressFn],
                    started: float) -> PushReport:
        """push() into a CircuitPython board's drive, by the agent run here."""
        res = DR.push(folder, bundle, progress)
        res.pop("heap_peak", None)
        res.update(seconds=round(time.monotonic() - started, 2), heap=None, route="drive",
                   sent={"bytes": 0, "files": {}})
        return PushReport(
            outcome=res["outcome"], version=res["version"], label=res["label"], slot=res["slot"],
            chunks=res["chunks"], fetched=res["fetched"], copied=res["copied"],
            reused=res["reused"], bytes=res["bytes"], seconds=res["seconds"], sent_bytes=0,
            sent_files={}, heap=None, route="drive", raw=res)

    def reboot(self) -> Reboot:
        """Reset the board (softly where its bank allows, else fully;
        CircuitPython with microcontroller.reset()) and return what it
        printed as it started, and its status then."""
        with self.connect() as link:
            name = B.runtime(link)[0]
            kind = bringup(link, "reset_kind")["reset"]
            ans = wire.converse(link, runtime.reset_code(name, kind == "hard"))
            res = ans.result or {}
            if res.get("reset") == "soft":
                said = link.after_soft_reset()
                if self.mount:
                    # A board without a filesystem does not run boot.py; its
                    # filesystem is the mount, so the host runs it, as a board
                    # runs its own at start.
                    out = link.run("import os\ntry:\n os.stat('boot.py')\nexcept OSError:\n pass\n"
                                   "else:\n exec(open('boot.py').read())\n")
                    said = "\n".join(out.lines + ([out.error.strip()] if out.error else []))
            elif res.get("reset") == "hard":
                said = link.after_hard_reset()
            else:
                raise BoardError("the board did not reset: {}".format(
                    (ans.error or "no answer").strip().splitlines()[-1]), "no-reset")
            st = bringup(link, "status")
        raw = {"reset": res["reset"], "boot": said.splitlines(), "status": st}
        return Reboot(reset=res["reset"], boot=said.splitlines(), status=_status(st), raw=raw)

    def confirm(self) -> Confirmation:
        """Confirm the trial the board runs; confirmed is False where no
        trial was running."""
        with self.connect() as link:
            folder = self._drive(link)
            res = bringup(link, "confirm") if folder is None else DR.agent(folder, "confirm")
        return Confirmation(confirmed=res["confirmed"], version=res["version"], raw=res)

    def status(self) -> Status:
        with self.connect() as link:
            return _status(bringup(link, "status"))

    def log(self) -> List[Event]:
        """The board's audit log, oldest first."""
        with self.connect() as link:
            return [_pick(Event, e) for e in bringup(link, "log")]
