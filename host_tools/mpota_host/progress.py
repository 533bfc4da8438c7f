# SPDX-License-Identifier: MIT
"""Progress of long operations on stderr: a redrawn line on a terminal,
otherwise (with --progress) one line per tenth."""

import sys


class Progress:
    def __init__(self, label, enabled=None, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = self.tty if enabled is None else enabled
        self.label = label
        self.shown = -1

    def __call__(self, done, total):
        if not self.enabled:
            return
        tenth = done * 10 // total if total else 10
        if self.tty:
            self.stream.write("\r{}: {}/{} chunks ({}%)".format(
                self.label, done, total, done * 100 // total if total else 100))
            if done == total:
                self.stream.write("\n")
        elif tenth != self.shown:
            self.shown = tenth
            self.stream.write("{}: {}/{} chunks\n".format(self.label, done, total))
        self.stream.flush()
