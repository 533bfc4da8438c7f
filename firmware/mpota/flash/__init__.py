# SPDX-License-Identifier: MIT
"""Flash as the agent sees it: one small interface for every chip.

A flash (or a window of one, see region.Region) has:

  size, sector_size, page_size, write_size    geometry in bytes; each a
                                              power of two except size
  erased                                      the value of an erased byte
  read(addr, buf)         fill buf with the bytes at addr
  program(addr, buf)      bits may only go from 1 to 0; addr and len(buf)
                          multiples of write_size; never across a page
  erase(addr)             erase the whole sector starting at addr
  program_pages(addr, buf)  whole pages from a page boundary: the same as
                          program() page after page (each page one
                          operation), in one call
  blank(addr, n)          True if the n bytes at addr are all erased,
                          False if not, None if the chip cannot tell
                          cheaply (read them)

Implementations: nor.NorFile (a file-backed model of a NOR chip, for the
unix port and the fault campaign), blockdev.BlockFlash (an esp32.Partition
or rp2.Flash, through the extended block device protocol), and
region.FileRegion (a plain file, where erasing is a no-op).
Misuse raises FlashError; a real device's I/O failure is an OSError. The
checks below are the NOR rules every model of a chip enforces.
"""


from ..errors import Error


class FlashError(Error):
    """A flash rule was broken: .reason is 'range', 'align' or 'not-erased'."""


def _pow2(n):
    return n > 0 and not n & (n - 1)


def check_geometry(size, sector_size, page_size, write_size):
    if not (_pow2(sector_size) and _pow2(page_size) and _pow2(write_size)):
        raise FlashError("align")
    if size % sector_size or sector_size % page_size or page_size % write_size:
        raise FlashError("align")


def check_range(size, addr, n):
    if addr < 0 or n < 0 or addr + n > size:
        raise FlashError("range")


def check_pages(flash, addr, n):
    """Whole pages from a page boundary (program_pages)."""
    check_range(flash.size, addr, n)
    if addr % flash.page_size or n % flash.page_size:
        raise FlashError("align")


def check_program(flash, addr, n):
    """Whole write units, inside one page."""
    check_range(flash.size, addr, n)
    w = flash.write_size
    if addr % w or n % w:
        raise FlashError("align")
    page = flash.page_size
    if n > page or addr // page != (addr + n - 1) // page:
        raise FlashError("align")


def check_erase(flash, addr):
    """The start of a sector."""
    check_range(flash.size, addr, flash.sector_size)
    if addr % flash.sector_size:
        raise FlashError("align")
