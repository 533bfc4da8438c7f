"""The ESP32's two OTA app partitions, through esp32.Partition.

The ESP-IDF bootloader starts the partition named in otadata; set_boot()
changes it. With the bootloader's rollback enabled, an image that has not
called mark_app_valid_cancel_rollback() before the next reset is given
up by the bootloader itself; boot() notices (the running partition is not
the trial one) and records the revert. Without it, boot()'s own attempt
count reverts by set_boot() on the previous partition and a reset.
"""

from ..flash.blockdev import BlockFlash
from ..flash.region import Region


class PartitionBank:
    bootloader = True

    def __init__(self, esp32=None):
        if esp32 is None:
            import esp32
        self.esp32 = esp32
        P = esp32.Partition
        found = {}
        for p in P.find(P.TYPE_APP):
            label = p.info()[4]
            if label in ("ota_0", "ota_1"):
                found[label] = p
        if len(found) != 2:
            raise OSError("no ota_0 and ota_1 partitions")
        self.parts = [found["ota_0"], found["ota_1"]]
        self.regions = []
        for p in self.parts:
            f = BlockFlash(p)
            self.regions.append(Region(f, 0, f.size))

    def running(self):
        label = self.esp32.Partition(self.esp32.Partition.RUNNING).info()[4]
        return 1 if label == "ota_1" else 0

    def prepare(self, i, size):
        pass

    def select(self, i):
        self.parts[i].set_boot()

    def enter(self, i):
        pass

    def commit(self, i):
        try:
            self.esp32.Partition.mark_app_valid_cancel_rollback()
        except OSError:
            # A build whose bootloader has rollback off has nothing to
            # cancel; boot()'s own count still protects the trial.
            pass
