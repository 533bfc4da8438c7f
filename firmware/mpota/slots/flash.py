# SPDX-License-Identifier: MIT
"""Two regions of one flash; the agent's state record says which runs.

Nothing starts code from these regions by itself: on the unix port the
simulated device unpacks the app image at each boot (mpota.sim); on an
RP2040 whose layout reserves a raw region, boot code reads the image from
the slot that boot() returns.
"""


class FlashBank:
    bootloader = False

    def __init__(self, regions):
        self.regions = regions

    def running(self):
        return None

    def next(self):
        return None

    def prepare(self, i, size):
        pass

    def select(self, i):
        pass

    def enter(self, i):
        pass

    def commit(self, i):
        pass
