# SPDX-License-Identifier: MIT
# The ed25519 module for make-based ports (unix, qemu, and any port built
# with USER_C_MODULES=<repo>/firmware/cmod).
ED25519_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(addprefix $(ED25519_MOD_DIR)/, \
	moded25519.c \
	sha512.c \
	field.c \
	scalar.c \
	point.c \
	verify.c \
	tables.c \
	x25519.c \
	)

CFLAGS_USERMOD += -I$(ED25519_MOD_DIR)
