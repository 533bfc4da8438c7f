# SPDX-License-Identifier: MIT
"""The one error type of the host tools."""


class CommandError(Exception):
    """A command failed; main() prints `mpota: <message>` and exits 1."""
