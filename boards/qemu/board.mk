# SPDX-License-Identifier: MIT
# Shared part of our qemu boards, included by each board's mpconfigboard.mk
# after it has set MPOTA_CLOCK (the SoC whose counter backs `time`).

MPOTA_QEMU_DIR := $(abspath $(BOARD_DIR)/../qemu)

SRC_C += $(MPOTA_QEMU_DIR)/modtime.c $(MPOTA_QEMU_DIR)/clock_$(MPOTA_CLOCK).c
CFLAGS += -I$(MPOTA_QEMU_DIR) -DMP_CONFIGFILE='"mpconfigboard.h"'
# Same epoch as the rp2 port, for time.time().
CFLAGS += -DMICROPY_EPOCH_IS_1970=1

# About what an RP2040 running MicroPython has free for the GC heap.
MICROPY_HEAP_SIZE ?= 196608

# The port's default manifest needs micropython-lib's unittest, which
# Debian's trimmed tree does not carry.
FROZEN_MANIFEST ?= $(MPOTA_QEMU_DIR)/manifest.py
