"""Flash as the agent sees it: one small interface for every chip.

A flash (or a window of one, see region.Region) has:

  size, sector_size, page_size, write_size    geometry in bytes; each a
                                              power of two except size
  erased                                      the value of an erased byte
  read(addr, buf)         fill buf with the bytes at addr
  program(addr, buf)      bits may only go from 1 to 0; addr and len(buf)
                          multiples of write_size; never across a page
  erase(addr)             erase the whole sector starting at addr

Implementations: nor.NorFile (a file-backed model of a NOR chip, for the
unix port and the fault campaign), blockdev.BlockFlash (an esp32.Partition
or rp2.Flash, through the extended block device protocol), and
region.FileRegion (a plain file, where erasing is a no-op).
Misuse raises FlashError; a real device's I/O failure is an OSError.
"""


class FlashError(Exception):
    """A flash rule was broken: .reason is 'range', 'align' or 'not-erased'."""

    @property
    def reason(self):
        return self.args[0]
