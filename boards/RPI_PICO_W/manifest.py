# SPDX-License-Identifier: MIT
# Stock RPI_PICO_W's frozen modules (networking, Bluetooth), plus the parts
# of the mpota agent this board uses (firmware/manifest.py): the core,
# bring-up over serial, updates over the network, app directories and a
# raw flash region.
include("$(PORT_DIR)/boards/RPI_PICO_W/manifest.py")
include("../../firmware/manifest.py", rp2=True)
