# SPDX-License-Identifier: MIT
# Stock RPI_PICO's frozen modules, plus the parts of the mpota agent this
# board uses (firmware/manifest.py): the core, bring-up over serial, app
# directories and a raw flash region; a plain Pico has no network.
include("$(PORT_DIR)/boards/manifest.py")
include("../../firmware/manifest.py", network=False, rp2=True)
