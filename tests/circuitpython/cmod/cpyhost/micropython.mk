# SPDX-License-Identifier: MIT
# The unix port's socket, TLS, deflate and cryptolib modules, compiled once
# more under private names (_host_socket, _host_tls, _host_deflate,
# _host_cryptolib) for the CircuitPython stand-ins in tests/circuitpython/lib:
# the variant (../../unix-cpy) turns the public ones off, so the agent cannot
# import them, while `socketpool`, `ssl`, `zlib` and `aesio` run on the real
# thing.
#
# Each file includes the module's own source; only the registered name
# changes (makemoduledefs.py reads the registration after preprocessing,
# so it sees the renamed QSTR). One file per module: their static names
# overlap.
CPYHOST_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(CPYHOST_MOD_DIR)/host_socket.c
SRC_USERMOD_C += $(CPYHOST_MOD_DIR)/host_tls.c
SRC_USERMOD_C += $(CPYHOST_MOD_DIR)/host_deflate.c
SRC_USERMOD_C += $(CPYHOST_MOD_DIR)/host_cryptolib.c
