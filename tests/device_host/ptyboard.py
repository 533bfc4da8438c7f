# SPDX-License-Identifier: MIT
"""Boards for the `mpota device` tests, each on a serial port that mpremote
opens by path, as it opens a board on USB.

UnixPtyBoard: the unix port on a pseudo-terminal. micropython runs
rawrepl.py (the raw REPL the unix port lacks) with the pty's master side as
its stdin and stdout, in `home`, its filesystem; `port` is the slave side.
The harness keeps a slave descriptor open, so the board's side never sees
the line hang up when mpremote closes it, as a board on USB does not.
With circuitpython=True (binary build/unix-cpy) it is a CircuitPython
board: the stand-ins of tests/circuitpython/lib on its path, `home` its
CIRCUITPY drive (read-only to code until boot.py remounts it), and
microcontroller.reset() a full start again (boot.py, code.py).

QemuPort: the emulated Cortex-M3 board with its UART on a pty, and nothing
attached to it: the code under test opens `port` itself.
"""

import ctypes
import os
import re
import select
import signal
import subprocess
import threading
import time
import tty
from pathlib import Path

import targets

RAWREPL = Path(__file__).resolve().parent / "rawrepl.py"
SOFT_RESET = 42
HARD_RESET = 43


def _end_with_parent():
    # If the test process dies without stopping a board, the kernel ends
    # the board's process too.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class UnixPtyBoard:
    def __init__(self, home, binary=targets.UNIX_STOCK_BINARY, circuitpython=False,
                 cpy_path=targets.CPY_PATH):
        self.home = Path(home)
        self.binary = Path(binary)
        self.circuitpython = circuitpython
        self.cpy_path = cpy_path
        self.port = None
        self.resets = 0
        self.hard_resets = 0
        self._proc = None
        self._stop = threading.Event()
        self._thread = None
        self._fds = ()

    def start(self):
        targets.UnixTarget("unix", self.binary).check()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "lib").mkdir(exist_ok=True)
        master, slave = os.openpty()
        tty.setraw(slave)
        self._fds = (master, slave)
        self.port = os.ttyname(slave)
        self._spawn(raw=False)
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()
        return self

    def _spawn(self, raw):
        env = dict(os.environ)
        # As on a board: '' (the current directory), frozen modules, lib.
        env["MICROPYPATH"] = ":.frozen:" + str(self.home / "lib")
        if self.circuitpython:
            # The board's own modules (stand-ins) and the library bundle's.
            env["MICROPYPATH"] += "".join(":" + str(p) for p in self.cpy_path)
            env.update(RAWREPL_CIRCUITPY="1", CPY_STANDIN_FLASH=str(self.home),
                       CPY_STANDIN_UID="{:012X}".format(self.home.stat().st_ino))
        argv = [str(self.binary), str(RAWREPL)] + (["raw"] if raw else [])
        master = self._fds[0]
        self._proc = subprocess.Popen(argv, stdin=master, stdout=master,
                                      stderr=subprocess.DEVNULL, cwd=self.home, env=env,
                                      preexec_fn=_end_with_parent)

    def _supervise(self):
        # A soft reset ends the process with SOFT_RESET: start it again in
        # the raw REPL, as a board comes back to the mode it left. A hard
        # one (HARD_RESET) starts it from the top.
        while not self._stop.is_set():
            rc = self._proc.wait()
            if rc not in (SOFT_RESET, HARD_RESET) or self._stop.is_set():
                return
            self.resets += 1
            self.hard_resets += rc == HARD_RESET
            self._spawn(raw=rc == SOFT_RESET)

    def stop(self):
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in self._fds:
            os.close(fd)
        self._fds = ()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class QemuPort:
    """The Cortex-M3 board, its UART on a pty that nobody holds open."""

    _PTY = re.compile(rb"char device redirected to (/dev/pts/\d+)")

    def __init__(self):
        self.board = targets.qemu_m3()
        self.port = None
        self._proc = None
        self._hold = None

    def start(self, timeout=20.0):
        self.board.check()
        self._hold = None
        self._proc = subprocess.Popen(self.board.command(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      preexec_fn=_end_with_parent)
        seen = b""
        deadline = time.monotonic() + timeout
        fd = self._proc.stdout.fileno()
        while time.monotonic() < deadline and self._proc.poll() is None:
            found = self._PTY.search(seen)
            if found:
                self.port = found.group(1).decode()
                # qemu looks once a second for someone holding the pty and
                # holds the UART back until then; holding it open from here
                # keeps the line up between connections, as a USB port is.
                self._hold = os.open(self.port, os.O_RDWR | os.O_NOCTTY)
                tty.setraw(self._hold)
                threading.Thread(target=self._drain, daemon=True).start()
                return self
            if select.select([fd], [], [], 0.1)[0]:
                seen += os.read(fd, 4096)
        self.stop()
        raise targets.TargetError("qemu did not offer a serial port: {}".format(seen.decode(errors="replace")))

    def _drain(self):
        # Keep qemu from blocking on a full pipe.
        try:
            while os.read(self._proc.stdout.fileno(), 4096):
                pass
        except (OSError, ValueError):
            pass

    def stop(self):
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
        self._proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
