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

# cryptolib (AES, ECB and CBC) backed by mbedtls, as in stock rp2 and esp32
# firmware. Debian's micropython source has no lib/mbedtls: the Makefile
# passes MPOTA_MBEDTLS_DIR, Debian's mbedtls source unpacked by
# scripts/fetch-mbedtls.sh, of which we build only the AES files, with
# mbedtls_config_aes.h. MICROPY_SSL_MBEDTLS is set for modcryptolib.c alone:
# elsewhere it would switch hashlib to mbedtls and want its SHA code too.
# No `tls` module (it needs all of mbedtls), as before.
MPOTA_MBEDTLS_DIR ?= $(abspath $(MPOTA_QEMU_DIR)/../../build/mbedtls)
ifeq ($(wildcard $(MPOTA_MBEDTLS_DIR)/library/aes.c),)
$(error no mbedtls source in $(MPOTA_MBEDTLS_DIR): run scripts/setup-system.sh)
endif
MICROPY_PY_SSL = 0
MPOTA_MBEDTLS_SRC_C := $(addprefix $(MPOTA_MBEDTLS_DIR)/library/,aes.c platform_util.c)
MPOTA_MBEDTLS_CFLAGS := -I$(MPOTA_MBEDTLS_DIR)/include \
	-DMBEDTLS_CONFIG_FILE='"mbedtls_config_aes.h"'
SRC_THIRDPARTY_C += $(MPOTA_MBEDTLS_SRC_C)
$(addprefix $(BUILD)/,$(MPOTA_MBEDTLS_SRC_C:.c=.o)): CFLAGS += $(MPOTA_MBEDTLS_CFLAGS)
$(BUILD)/extmod/modcryptolib.o: CFLAGS += $(MPOTA_MBEDTLS_CFLAGS) -DMICROPY_SSL_MBEDTLS=1
