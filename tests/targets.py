# SPDX-License-Identifier: MIT
"""The MicroPython builds that tests run code on.

Every target takes MicroPython source, runs it in a fresh interpreter and
hands back what it printed. The unix builds run as a subprocess; the qemu
boards are emulated microcontrollers reached over a serial port with
mpremote, the same way as a board on USB.
"""

import abc
import ctypes
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

UNIX_BINARY = BUILD / "unix" / "micropython"
UNIX_STOCK_BINARY = BUILD / "unix-stock" / "micropython"
# Shaped like a CircuitPython board (tests/circuitpython/): run it with
# CPY_PATH first on the path, where the stand-ins of CircuitPython's
# modules are.
UNIX_CPY_BINARY = BUILD / "unix-cpy" / "micropython"
CPY_PATH = (ROOT / "tests" / "circuitpython" / "lib", BUILD / "circuitpython-lib")
QEMU_M3_ELF = BUILD / "qemu-m3" / "firmware.elf"
QEMU_M0_ELF = BUILD / "qemu-m0" / "firmware.elf"
QEMU_BOARD_MK = ROOT / "boards" / "qemu" / "board.mk"

# Frozen modules stay importable when MICROPYPATH replaces the default path;
# the user's ~/.micropython/lib is left out so results do not depend on it.
_UNIX_BASE_PATH = (".frozen",)

# Under `-icount shift=N` each instruction takes 2**N ns of guest time, so
# shift 0 makes one guest microsecond (time.ticks_us) exactly 1000 instructions.
ICOUNT_EXACT = 0

# mpremote's mount hook waits for stdin with select.poll. The qemu port has
# no `select` (its UART cannot be polled) but its stdin read blocks until a
# byte arrives, so a poller that always reports "ready" keeps the protocol
# intact; only the hook's own give-up timeout is lost (run() has one).
_SELECT_SHIM = """
import sys
class _AlwaysReady:
    POLLIN = 1
    class poll:
        def register(self, *args):
            pass
        def poll(self, *args):
            return ((None, 1),)
        ipoll = poll
sys.modules['select'] = _AlwaysReady
del _AlwaysReady, sys
"""

_PTY_RE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
_BOOT_TIMEOUT = 20.0
_SERIAL_READ_TIMEOUT = 1.0


class TargetError(Exception):
    """Code raised on the target, or the target could not run it.

    `output` holds what the code printed before it failed."""

    def __init__(self, message, output=""):
        super().__init__(message)
        self.output = output


class TargetMissing(TargetError):
    """The target's binary has not been built."""


def _require_built(binary):
    if not Path(binary).is_file():
        raise TargetMissing("{} is missing: run make test".format(binary))


class Target(abc.ABC):
    name = "target"

    @abc.abstractmethod
    def run(self, code, *, path=(), timeout=120.0):
        """Run MicroPython source on the target, return its stdout (str).

        Raise TargetError if it raised (traceback in the message)."""

    def __repr__(self):
        return "<{} {}>".format(type(self).__name__, self.name)


class UnixTarget(Target):
    """A unix-port binary; each run() is a new process fed the code on stdin."""

    def __init__(self, name, binary):
        self.name = name
        self.binary = Path(binary)

    def check(self):
        _require_built(self.binary)

    def run(self, code, *, path=(), timeout=120.0, heapsize=None):
        self.check()
        argv = [str(self.binary)]
        if heapsize is not None:
            argv += ["-X", "heapsize={}".format(heapsize)]
        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([str(p) for p in path] + list(_UNIX_BASE_PATH))
        with tempfile.TemporaryDirectory(prefix="mpota-run-") as cwd:
            try:
                proc = subprocess.run(
                    argv,
                    input=code.encode(),
                    capture_output=True,
                    cwd=cwd,
                    env=env,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired as exc:
                raise TargetError(
                    "{}: timed out after {} s".format(self.name, timeout),
                    _decode(exc.stdout or b""),
                ) from None
        out = _decode(proc.stdout)
        if proc.returncode != 0:
            raise TargetError(
                "{}: exit status {}\n{}".format(self.name, proc.returncode, _decode(proc.stderr)),
                out,
            )
        return out


class QemuBoard(Target):
    """An emulated microcontroller running one of our qemu board builds.

    start() boots qemu with the UART on a pseudo-terminal; run() soft-resets
    the board, then executes the code through mpremote's raw REPL, in
    raw-paste mode so that code of any length streams in with flow control.
    `path` is served by `mpremote mount`: the directories' contents appear
    under /remote on the board, which is then the current directory.
    """

    def __init__(self, name, elf, machine, *, extra_args=(), icount=None):
        self.name = name
        self.elf = Path(elf)
        self.machine = machine
        self.extra_args = tuple(extra_args)
        self.icount = icount
        self.boot_seconds = None
        self._proc = None
        self._transport = None
        self._log = bytearray()
        self._drain = None

    def command(self):
        argv = [
            "qemu-system-arm", "-machine", self.machine,
            "-nographic", "-monitor", "null", "-semihosting",
            "-serial", "pty", "-kernel", str(self.elf),
        ]
        if self.icount is not None:
            argv += ["-icount", "shift={}".format(self.icount)]
        return argv + list(self.extra_args)

    def check(self):
        _require_built(self.elf)

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def start(self):
        """Boot the board and wait until its REPL answers."""
        from mpremote.transport_serial import SerialTransport

        self.check()
        started = time.monotonic()
        self._log = bytearray()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_end_with_parent,
        )
        try:
            device = self._wait_for_pty(started + _BOOT_TIMEOUT)
            self._drain = threading.Thread(target=self._drain_output, daemon=True)
            self._drain.start()
            self._transport = SerialTransport(device, timeout=_SERIAL_READ_TIMEOUT)
            self._transport.enter_raw_repl(soft_reset=True, timeout_overall=_BOOT_TIMEOUT)
        except Exception:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def stop(self):
        """Close the serial port and end qemu. Safe to call at any time."""
        if self._transport is not None:
            try:
                self._transport.close()
            except OSError:
                # Setting the modem lines fails on a pty whose qemu is gone;
                # the port must still be closed, or its lock blocks the
                # next board that gets the same /dev/pts number.
                getattr(self._transport.serial, "orig_serial", self._transport.serial).close()
            self._transport = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None

    def restart(self):
        self.stop()
        return self.start()

    def qemu_log(self):
        """What qemu itself printed (not the board's UART)."""
        return self._log.decode(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _wait_for_pty(self, deadline):
        fd = self._proc.stdout.fileno()
        while time.monotonic() < deadline:
            found = _PTY_RE.search(self._log)
            if found:
                return found.group(1).decode()
            if self._proc.poll() is not None:
                break
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                self._log += chunk
        raise TargetError("{}: qemu did not offer a serial port:\n{}".format(self.name, self.qemu_log()))

    def _drain_output(self):
        # qemu would block once the pipe filled up; keep its messages instead.
        fd = self._proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self._log += chunk

    def run(self, code, *, path=(), timeout=120.0):
        from mpremote.transport import TransportError

        if not self.running:
            self.start()
        transport = self._transport
        served = _merge_paths(path) if path else None
        # While a directory is mounted mpremote reads without a time limit,
        # so a board that never answers is ended from outside.
        expired = threading.Event()

        def expire(proc=self._proc):
            expired.set()
            proc.kill()

        watchdog = threading.Timer(timeout + 1.0, expire)
        watchdog.start()
        try:
            transport.enter_raw_repl(soft_reset=True)
            if served is not None:
                transport.exec(_SELECT_SHIM)
                transport.mount_local(served, unsafe_links=True)
            transport.exec_raw_no_follow(code)
            out, err = self._follow(timeout)
            if transport.mounted:
                transport.umount_local()
                transport.serial.timeout = _SERIAL_READ_TIMEOUT
        except (TransportError, OSError, struct.error) as exc:
            # A board stuck in a loop does not answer Ctrl-C over this UART;
            # a fresh boot is the only way to get it back.
            watchdog.cancel()
            if expired.is_set():
                exc = "timed out after {} s".format(timeout)
            self.restart()
            raise TargetError("{}: {}".format(self.name, exc)) from None
        finally:
            watchdog.cancel()
            if served is not None:
                shutil.rmtree(served, ignore_errors=True)
        out = _decode(out)
        if err:
            raise TargetError("{}: {}".format(self.name, _decode(err)), out)
        return out

    def _follow(self, timeout):
        from mpremote.transport import TransportError

        deadline = time.monotonic() + timeout
        parts = []
        for what in ("output", "error output"):
            data = self._transport.read_until(
                1, b"\x04", timeout=None, timeout_overall=max(0.0, deadline - time.monotonic())
            )
            if not data.endswith(b"\x04"):
                raise TransportError("timed out after {} s waiting for the {}".format(timeout, what))
            parts.append(data[:-1])
        return parts[0], parts[1]


def _end_with_parent():
    # If the test process dies without stopping the board, the kernel ends
    # qemu too, so no emulator is left running.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _merge_paths(path):
    """One directory that shows the entries of `path` in search order.

    mpremote mounts a single directory, so the first entry holding a name
    wins, as with sys.path."""
    merged = tempfile.mkdtemp(prefix="mpota-mount-")
    for entry in path:
        entry = Path(entry).resolve()
        for child in sorted(entry.iterdir()):
            link = Path(merged) / child.name
            if not link.exists():
                link.symlink_to(child)
    return merged


def _decode(data):
    return data.decode(errors="replace").replace("\r\n", "\n")


def qemu_heap_bytes():
    """The GC heap our qemu boards are built with (boards/qemu/board.mk)."""
    found = re.search(r"^MICROPY_HEAP_SIZE \?= (\d+)$", QEMU_BOARD_MK.read_text(), re.M)
    if not found:
        raise TargetError("no MICROPY_HEAP_SIZE in {}".format(QEMU_BOARD_MK))
    return int(found.group(1))


def unix():
    return UnixTarget("unix", UNIX_BINARY)


def unix_stock():
    return UnixTarget("unix-stock", UNIX_STOCK_BINARY)


def unix_cpy():
    return UnixTarget("unix-cpy", UNIX_CPY_BINARY)


def qemu_m3(*, icount=None):
    """Cortex-M3 (armv7m) board on QEMU's mps2-an385 machine."""
    return QemuBoard("qemu-m3", QEMU_M3_ELF, "mps2-an385", icount=icount)


def qemu_m0(*, icount=None):
    """Cortex-M0 (armv6m, the RP2040's instruction set) on QEMU's microbit
    machine, with the flash and RAM enlarged as the port's own board does."""
    return QemuBoard(
        "qemu-m0",
        QEMU_M0_ELF,
        "microbit",
        extra_args=(
            "-global", "nrf51-soc.flash-size=1048576",
            "-global", "nrf51-soc.sram-size=262144",
        ),
        icount=icount,
    )
