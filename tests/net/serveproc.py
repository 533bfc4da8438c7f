# SPDX-License-Identifier: MIT
"""`mpota serve` as a real process, started on 127.0.0.1 with a free port."""

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"^serving .* at (\S+)$")
_CA = re.compile(r"^CA to pin on devices: (\S+) \(PEM: (\S+)\)$")
_START_SECONDS = 30


class Serve:
    """Run `mpota serve DIR --port 0 ARGS...`; url, ca_der, ca_pem come
    from what it prints. stop() sends a signal and returns the exit code."""

    def __init__(self, directory, *args, quiet=True):
        self.argv = [sys.executable, "-m", "mpota_host.cli", "serve", str(directory),
                     "--host", "127.0.0.1", "--port", "0", *args]
        if quiet:
            self.argv.append("--quiet")
        self.proc = None
        self.url = self.ca_der = self.ca_pem = None
        self.out = []
        self.err = []
        self._lines = queue.Queue()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=ROOT)
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False), daemon=True).start()
        while self.url is None or (self.ca_der is None and "--http" not in self.argv):
            try:
                line = self._lines.get(timeout=_START_SECONDS)
            except queue.Empty:
                self.stop()
                raise RuntimeError("mpota serve did not start: {}".format("".join(self.err)))
            if line is None:
                raise RuntimeError("mpota serve exited: {}".format("".join(self.err)))
            m = _URL.match(line)
            if m:
                self.url = m.group(1)
            m = _CA.match(line)
            if m:
                self.ca_der, self.ca_pem = m.group(1), m.group(2)
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))
        return self

    def _pump(self, stream, sink, announce):
        for line in stream:
            sink.append(line)
            if announce:
                self._lines.put(line.rstrip("\n"))
        if announce:
            self._lines.put(None)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("mpota serve ignored signal {}".format(sig))
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
