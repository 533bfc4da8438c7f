# SPDX-License-Identifier: MIT
"""mpota host tools: keys, signing, the trust root and the `mpota` CLI,
and for scripts and tests a board as a Python object (Board, BoardError:
docs/HOST_API.md) and signing without the CLI (mpota_host.signing).

Bundle checks are not written here: the CLI imports the firmware package's
own verifier (`mpota.bundle`), so host and device give the same verdicts.
"""

from typing import TYPE_CHECKING, Any

from .errors import BoardError

if TYPE_CHECKING:
    from .board_api import Board

__all__ = ["Board", "BoardError"]


def __getattr__(name: str) -> Any:
    # Board is imported on first use: the pytest plugin (pytest_plugin.py)
    # is loaded in every pytest session and must cost it nothing.
    if name == "Board":
        from .board_api import Board

        return Board
    raise AttributeError("module 'mpota_host' has no attribute {!r}".format(name))
