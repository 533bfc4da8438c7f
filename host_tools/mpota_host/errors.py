# SPDX-License-Identifier: MIT
"""The one error type of the host tools."""


class CommandError(Exception):
    """A command failed; main() prints `mpota: <message>` and exits 1."""


class BoardError(CommandError):
    """A board operation failed (mpota_host.Board, `mpota device`). The
    message is the CLI's one line; `reason` a short code a script can test:
    the board's own reason (bad-signature, not-provisioned, trial-pending,
    ...) or one of the host's (no-board, port-busy, no-repl, lost, ...)."""

    def __init__(self, message, reason="host"):
        super().__init__(message)
        self.message = message
        self.reason = reason
