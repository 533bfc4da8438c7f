# SPDX-License-Identifier: MIT
# MPS2 AN385 (Cortex-M3, armv7m) with mpota's Ed25519 module and a `time`
# module. Run with: qemu-system-arm -machine mps2-an385 -kernel firmware.elf
include $(TOP)/ports/qemu/boards/MPS2_AN385/mpconfigboard.mk
MPOTA_CLOCK = mps2
include $(BOARD_DIR)/../qemu/board.mk
