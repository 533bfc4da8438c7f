# SPDX-License-Identifier: MIT
"""Slots: two places for an image, one running, one to install into.

Every kind of slot pair (a "bank") has the same interface:

  regions[i]        the flash region (or file) holding slot i's image bytes
  bootloader        True if a bootloader chooses the slot at reset (ESP32);
                    False if the agent's state record does (boot() reads it)
  running()         the slot the bootloader started, or None
  next()            the slot the bootloader would update next, or None
                    (then the agent's state decides: the other one)
  prepare(i, size)  the image in slot i was read back and its hash checked:
                    make it startable (an app bundle is unpacked here)
  select(i)         start slot i at the next reset (bootloader banks)
  enter(i)          in boot(): make slot i's code the code that runs
  commit(i)         in confirm(): tell the bootloader slot i is good

Banks: flash.FlashBank (two regions of a flash: the unix model, a raw
RP2040 region), appdir.DirBank (two directories on a filesystem, for
MicroPython and CircuitPython apps), esp32.PartitionBank (the two OTA
partitions, through esp32.Partition).
"""
