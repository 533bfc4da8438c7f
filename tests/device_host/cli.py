# SPDX-License-Identifier: MIT
"""`mpota device` as the tests run it: the real CLI against a board's port."""

import json

from bundles import factory as f


def device(board, *args):
    """`mpota device ARGS --port PORT` (a CompletedProcess)."""
    return f.cli("device", *args, "--port", board.port)


def ok_json(board, *args):
    """The command's --json answer; it must succeed."""
    proc = device(board, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
