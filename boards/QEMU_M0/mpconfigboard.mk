# SPDX-License-Identifier: MIT
# micro:bit machine (nRF51, Cortex-M0, armv6m: the RP2040's instruction set)
# with mpota's Ed25519 module and a `time` module. Used by the benchmark.
include $(TOP)/ports/qemu/boards/MICROBIT/mpconfigboard.mk
MPOTA_CLOCK = nrf51
include $(BOARD_DIR)/../qemu/board.mk
