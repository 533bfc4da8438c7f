# SPDX-License-Identifier: MIT
"""A board on a serial port: the one module that touches mpremote.

mpremote's transport classes are not a stable API, so everything of theirs
that `mpota device` uses is here: opening the port (exclusively), entering
the raw REPL, starting code in raw-paste mode, `mpremote mount`, and the
serial object underneath. Output is read here one byte at a time, never
ahead, so mpremote's own reads (it looks for the next prompt) always find
what they expect.

Every failure becomes a BoardError (a CommandError) with one line a person
can act on and a reason code a script can test.
"""

import contextlib
import errno
import fcntl
import io
import os
import select
import time

from ..errors import BoardError, CommandError

# The raw REPL's banner; a soft reset ends with it too.
_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_SOFT_REBOOT = "soft reboot"
# A healthy board answers Ctrl-A at once; one stuck reading a frame of a
# push whose host went away needs the flush below first.
_QUICK = 1.0
_PATIENT = 6.0
# Enough 0x03 bytes to complete any frame a board can be waiting for
# (8-byte header, at most 4096 bytes of payload, 4-byte CRC). The frame
# then fails its check and the board gives the line back (LineLost);
# the rest are Ctrl-C, which the raw REPL ignores.
FLUSH = b"\x03" * 4200
_READ_TIMEOUT = 1.0
_WRITE_TIMEOUT = 10.0

# A mount whose host is gone (a connection that ended without unmounting,
# a cable pulled) would hang the board at its next file access, including
# the filesystem look-up of `import os`: drop it without importing, through
# the `os` mpremote's mount hook left in the REPL's globals.
_DROP_MOUNT = """
try:
    if os.getcwd().startswith('/remote'):
        os.chdir('/')
    os.umount('/remote')
except (NameError, OSError):
    pass
"""

# mpremote's mount hook polls stdin with `select`; a port without it (the
# qemu port: its UART cannot be polled, but reading blocks until a byte
# comes) gets a poller that always says "ready".
_SELECT_SHIM = """
import sys
try:
    import select
except ImportError:
    class _Ready:
        POLLIN = 1
        class poll:
            def register(self, *a):
                pass
            def poll(self, *a):
                return ((None, 1),)
            ipoll = poll
    sys.modules['select'] = _Ready
"""


def find_port():
    """The one USB serial port plugged in; else a CommandError saying why."""
    from serial.tools import list_ports

    ports = sorted(p.device for p in list_ports.comports() if p.vid is not None)
    if not ports:
        raise BoardError("no board found: plug one in, or name its port with --port", "no-board")
    if len(ports) > 1:
        raise BoardError("several boards found ({}): choose one with --port".format(", ".join(ports)),
                         "several-boards")
    return ports[0]


def _why_not_open(port):
    """Why a port would not open, as a BoardError."""
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        return BoardError("no board at {}".format(port), "no-board")
    except PermissionError:
        return BoardError("no permission to open {} (on Linux: add yourself to the dialout group)".format(port),
                          "port-permission")
    except OSError as e:
        return BoardError("cannot open {}: {}".format(port, e.strerror), "port-error")
    try:
        if not os.isatty(fd):
            return BoardError("{} is not a serial port".format(port), "not-serial")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return BoardError("port {} is busy: another program (a terminal, mpremote, an IDE) has it "
                              "open".format(port), "port-busy")
        return BoardError("cannot lock {}: {}".format(port, e.strerror), "port-error")
    finally:
        os.close(fd)
    return BoardError("cannot open {} as a serial port".format(port), "port-error")


class BoardOutput:
    """What code run on the board printed: stdout lines and the traceback."""

    def __init__(self, lines, error):
        self.lines = lines
        self.error = error


class Link:
    """The board at `port` in its raw REPL (mount: a host directory to
    serve as its filesystem). Use as a context manager, or open()/close()."""

    def __init__(self, port, mount=None):
        self.port = port
        self.mount = mount
        self.t = None

    # Opening and closing ----------------------------------------------------

    def open(self):
        if not os.path.exists(self.port):
            raise BoardError("no board at {}".format(self.port), "no-board")
        self._connect()
        opened = False
        try:
            self._enter()
            self.exec(_DROP_MOUNT)
            if self.mount:
                self._mount()
            opened = True
        finally:
            if not opened:
                self.close()
        return self

    def _connect(self):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        try:
            with _quiet():
                self.t = SerialTransport(self.port, timeout=_READ_TIMEOUT)
        except TransportError:
            raise _why_not_open(self.port) from None
        # A board that stops reading must not hang the host in a write.
        self.t.serial.write_timeout = _WRITE_TIMEOUT

    def close(self):
        if self.t is not None and self.t.mounted:
            try:
                self.exec(_DROP_MOUNT, timeout=5.0)
            except CommandError:
                pass  # a board gone quiet: the next connection drops it
            self._unmounted()
        t, self.t = self.t, None
        if t is None:
            return
        try:
            t.close()
        except OSError:
            # A pty whose other end is gone refuses the modem lines; the
            # port must still be released.
            getattr(t.serial, "orig_serial", t.serial).close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _enter(self):
        from mpremote.transport import TransportError
        from serial import SerialException

        t = self.t
        for patience in (_QUICK, _PATIENT):
            try:
                with _quiet():
                    t.enter_raw_repl(soft_reset=False, timeout_overall=patience)
                return
            except TransportError:
                # Maybe a board still reading a frame of an interrupted
                # push: complete it with noise so that it gives up.
                try:
                    t.serial.write(FLUSH)
                except SerialException:
                    break
            except SerialException:
                break
        raise BoardError("no MicroPython REPL answers on {}: is it a MicroPython board, "
                         "and is its program not blocking the REPL?".format(self.port), "no-repl")

    def _mount(self):
        """Serve self.mount as the board's filesystem (mpremote mount, at
        /remote, also the current directory), with /remote/lib on sys.path
        as /lib is on a board's."""
        from mpremote.transport import TransportError

        self.exec(_SELECT_SHIM)
        try:
            with _quiet():
                self.t.mount_local(self.mount, unsafe_links=False)
        except TransportError as e:
            raise BoardError("cannot mount {} on the board: {}".format(self.mount, _last(e)), "mount") from None
        self.exec("import sys\nif '/remote/lib' not in sys.path:\n sys.path.append('/remote/lib')")

    def _unmounted(self):
        # After a reset the board has forgotten the mount; so must mpremote.
        t = self.t
        if t.mounted:
            t.mounted = False
            t.serial = t.serial.orig_serial

    # Running code -------------------------------------------------------------

    def start(self, code):
        """Start code on the board; read its output with line()."""
        from mpremote.transport import TransportError
        from serial import SerialException

        try:
            self.t.exec_raw_no_follow(code)
        except TransportError as e:
            raise BoardError("the board did not take the command: {}".format(_last(e)), "lost") from None
        except SerialException:
            raise BoardError("the board stopped reading on {}".format(self.port), "lost") from None

    def write(self, data):
        from serial import SerialException

        try:
            self.t.serial.write(data)
        except SerialException:
            raise BoardError("the board stopped reading on {}".format(self.port), "lost") from None

    def byte(self, deadline):
        from serial import SerialException

        s = self.t.serial
        try:
            while not s.inWaiting():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BoardError("the board stopped answering on {}".format(self.port), "silent")
                select.select([s.fd], [], [], min(left, 0.05))
            return s.read(1)
        except (SerialException, OSError):
            raise BoardError("lost the board on {}".format(self.port), "lost") from None

    def line(self, timeout):
        """The next line the running code prints (without its line end),
        or None once it has finished printing."""
        deadline = time.monotonic() + timeout
        out = bytearray()
        while True:
            c = self.byte(deadline)
            if c == b"\x04":
                return out.decode(errors="replace") if out else None
            if c == b"\n":
                return out.rstrip(b"\r").decode(errors="replace")
            out += c

    def until(self, ending, timeout):
        """Everything up to and including `ending`."""
        deadline = time.monotonic() + timeout
        out = bytearray()
        while not out.endswith(ending):
            out += self.byte(deadline)
        return bytes(out)

    def finish(self, timeout=30.0):
        """After line() returned None: the traceback, if the code raised."""
        return self.until(b"\x04", timeout)[:-1].decode(errors="replace").replace("\r\n", "\n")

    def run(self, code, timeout=60.0):
        """Run code, return a BoardOutput (lines, traceback or '')."""
        self.start(code)
        lines = []
        while True:
            ln = self.line(timeout)
            if ln is None:
                break
            lines.append(ln)
        return BoardOutput(lines, self.finish(timeout))

    def exec(self, code, timeout=60.0):
        """Run code that must not fail; return its stdout lines."""
        out = self.run(code, timeout)
        if out.error:
            raise BoardError("the board failed: {}".format(_last(out.error)), "board-error")
        return out.lines

    def write_file(self, path, data, piece=1024):
        """Write a small file on the board through the REPL itself (larger
        ones go through mpota.source.serial.receive)."""
        self.exec("_f = open({!r}, 'wb')".format(path))
        for i in range(0, len(data), piece):
            self.exec("_f.write({!r})".format(bytes(data[i:i + piece])))
        self.exec("_f.close()\ndel _f")

    # Resets ---------------------------------------------------------------------

    def after_soft_reset(self, timeout=30.0):
        """The running code is resetting the board softly: wait for the raw
        REPL, return what the board printed after its reset message (boot.py's
        output), and mount again."""
        self._unmounted()
        text = self.until(_BANNER, timeout)[:-len(_BANNER)].decode(errors="replace")
        text = text.split(_SOFT_REBOOT, 1)[-1]
        if self.mount:
            self._mount()
        return text.replace("\r\n", "\n").strip()

    def after_hard_reset(self, timeout=30.0):
        """The board resets fully: its USB port may vanish for a while.
        Open it again once it is back and in the raw REPL."""
        self.close()
        time.sleep(1.0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.open()
                return ""
            except CommandError:
                if time.monotonic() > deadline:
                    raise BoardError("the board did not come back on {} after its reset".format(self.port),
                                     "no-return") from None
                time.sleep(0.5)


@contextlib.contextmanager
def _quiet():
    # mpremote prints what it read when it gives up; the CommandError says it.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _last(e):
    """The last non-empty line of an error or traceback."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"
