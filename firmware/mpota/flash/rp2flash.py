# SPDX-License-Identifier: MIT
"""A raw region of an RP2040's (or RP2350's) flash, for the agent's slots
and state (bank "flash" with {"rp2": START} in the configuration).

rp2.Flash(start=, len=) counts from the start of the board's storage area,
the part of the flash after the firmware that the port gives to its
filesystem; the stock _boot.py mounts the whole area. A board that reserves
a region for the agent mounts its filesystem on rp2.Flash(start=0, len=FS)
instead (docs/BOARDS.md), and START is FS or beyond. The flash driver
erases 4 KB sectors and programs whole 256-byte pages.
"""

from ..errors import AgentError
from .blockdev import BlockFlash

from micropython import const


_PAGE = const(256)


def region(start, size, sector):
    """The flash from START for SIZE bytes; AgentError('config') if the
    board has no such region or its sectors are not `sector` bytes."""
    import rp2

    try:
        bdev = rp2.Flash(start=start, len=size)
    except ValueError:
        # Not sector-aligned, or past the end of the storage area.
        raise AgentError("config")
    flash = BlockFlash(bdev, write_size=_PAGE)
    if flash.sector_size != sector or flash.size != size:
        raise AgentError("config")
    return flash
