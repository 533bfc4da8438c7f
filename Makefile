# SPDX-License-Identifier: MIT
# mpota: `make demo` and `make test` are the two commands; each sets up what
# it needs first. Everything built lands in build/ (git-ignored).
#
#   make setup        Debian packages, MicroPython's and mbedtls's source,
#                     build/venv, build/circuitpython-lib, mpy-cross
#   make unix         build/unix/micropython, with our C module
#   make unix-stock   build/unix-stock/micropython, without it
#   make unix-cpy     build/unix-cpy/micropython, shaped like a CircuitPython
#                     board (tests/circuitpython/, docs/CIRCUITPYTHON.md)
#   make qemu         build/qemu-m3/firmware.elf (Cortex-M3, mps2-an385)
#   make qemu-m0      build/qemu-m0/firmware.elf (Cortex-M0, microbit)
#   make natmod [ARCH=x64|armv6m|armv7m|armv7emsp]
#                     build/natmod/<arch>/ed25519.mpy (all four without ARCH)
#   make test         all of the above, then the test suite
#   make bench-crypto all of the above, then the verifier's speed and size
#   make bench-heap   the smallest heap a whole update needs (docs/AGENT.md)
#   make bench-transport
#                     the HTTPS source's heap and speed (docs/TRANSPORT.md)
#   make bench-transfer
#                     an update against the speed of its link: nginx over
#                     TLS, shaped links, instructions on the Cortex-M3
#   make sanitize     the ed25519 C core under ASan and UBSan against
#                     libsodium, hashlib and Python's integers (tests/sanitize/)
#   make clean        remove the builds (keeps the venv and MicroPython's source)

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(ROOT)/build
MPY_DIR := $(BUILD)/micropython
VENV := $(BUILD)/venv
PYTHON := $(VENV)/bin/python
MPY_CROSS := $(BUILD)/mpy-cross/mpy-cross
CPY_LIB := $(BUILD)/circuitpython-lib
CMOD := $(ROOT)/firmware/cmod

VENV_STAMP := $(VENV)/.mpota-installed
CPY_STAMP := $(CPY_LIB)/.mpota-installed

CPY_PACKAGES := adafruit-circuitpython-hashlib

NATMOD_ARCHS := x64 armv6m armv7m armv7emsp
# Set on the command line to build one; an ARCH in the environment is ignored.
ARCH := $(NATMOD_ARCHS)

UNIX_VARS := VARIANT=standard PROG=micropython \
	MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
	FROZEN_MANIFEST=$(ROOT)/boards/unix/manifest.py MICROPY_MPYCROSS=$(MPY_CROSS)
QEMU_VARS := USER_C_MODULES=$(CMOD) MICROPY_MPYCROSS=$(MPY_CROSS) MPOTA_MBEDTLS_DIR=$(BUILD)/mbedtls
QEMU_TRACK := $(wildcard $(ROOT)/boards/qemu/*.mk $(ROOT)/boards/qemu/*.h)

# The sub-builds run their own make with their own -j.
BUILD_PORT := MAKEFLAGS= $(ROOT)/scripts/build-port.sh

.PHONY: all setup system unix unix-stock unix-cpy qemu qemu-m0 natmod builds test demo \
	bench-crypto bench-heap bench-transport bench-transfer clean distclean

all: builds

setup: system $(VENV_STAMP) $(CPY_STAMP) $(MPY_CROSS)

# Quick when done: the script checks its packages and returns.
system:
	@$(ROOT)/scripts/setup-system.sh

$(VENV_STAMP): $(ROOT)/pyproject.toml | system
	@echo "setup: python venv in build/venv"
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@$(PYTHON) -m pip install -q --disable-pip-version-check -e '$(ROOT)[dev]' >$(VENV).log 2>&1 \
		|| { tail -n 30 $(VENV).log; echo "setup: pip install failed (log: $(VENV).log)"; exit 1; }
	@touch $@

# Pure-Python CircuitPython libraries for the tests of the CircuitPython
# path; --no-deps keeps out Blinka, whose CPython shims would shadow
# MicroPython modules on MICROPYPATH.
$(CPY_STAMP): $(VENV_STAMP)
	@echo "setup: $(CPY_PACKAGES) in build/circuitpython-lib"
	@rm -rf $(CPY_LIB)
	@$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps --no-compile \
		--target $(CPY_LIB) $(CPY_PACKAGES) >$(CPY_LIB).log 2>&1 \
		|| { tail -n 30 $(CPY_LIB).log; echo "setup: pip install failed (log: $(CPY_LIB).log)"; exit 1; }
	@touch $@

# Needed to freeze Python code into the firmware.
$(MPY_CROSS): | system
	@echo "build: mpy-cross"
	@MAKEFLAGS= $(MAKE) -j$$(nproc) -C $(MPY_DIR)/mpy-cross BUILD=$(BUILD)/mpy-cross >$(BUILD)/mpy-cross.log 2>&1 \
		|| { tail -n 30 $(BUILD)/mpy-cross.log; echo "build: mpy-cross FAILED"; exit 1; }

unix: setup
	@$(BUILD_PORT) unix unix $(BUILD)/unix $(BUILD)/unix/micropython \
		$(UNIX_VARS) USER_C_MODULES=$(CMOD)

unix-stock: setup
	@$(BUILD_PORT) unix-stock unix $(BUILD)/unix-stock $(BUILD)/unix-stock/micropython \
		$(UNIX_VARS)

# No deflate, hashlib, socket, tls or machine; the stand-ins' real network,
# TLS and inflater under private names (tests/circuitpython/cmod).
CPY_TEST := $(ROOT)/tests/circuitpython
unix-cpy: setup
	@TRACK="$(wildcard $(CPY_TEST)/unix-cpy/* $(CPY_TEST)/cmod/cpyhost/*)" \
		$(BUILD_PORT) unix-cpy unix $(BUILD)/unix-cpy $(BUILD)/unix-cpy/micropython \
		VARIANT_DIR=$(CPY_TEST)/unix-cpy PROG=micropython \
		MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
		USER_C_MODULES=$(CPY_TEST)/cmod MICROPY_MPYCROSS=$(MPY_CROSS)

qemu: setup
	@TRACK="$(QEMU_TRACK) $(ROOT)/boards/QEMU_M3/mpconfigboard.mk" \
		$(BUILD_PORT) qemu-m3 qemu $(BUILD)/qemu-m3 $(BUILD)/qemu-m3/firmware.elf \
		BOARD=QEMU_M3 BOARD_DIR=$(ROOT)/boards/QEMU_M3 $(QEMU_VARS)

qemu-m0: setup
	@TRACK="$(QEMU_TRACK) $(ROOT)/boards/QEMU_M0/mpconfigboard.mk" \
		$(BUILD_PORT) qemu-m0 qemu $(BUILD)/qemu-m0 $(BUILD)/qemu-m0/firmware.elf \
		BOARD=QEMU_M0 BOARD_DIR=$(ROOT)/boards/QEMU_M0 $(QEMU_VARS)

natmod: setup
	@for arch in $(ARCH); do \
		case $$arch in \
			x64) cc=gcc;; \
			armv6m|armv7m|armv7emsp) cc=arm-none-eabi-gcc;; \
			xtensawin) cc=xtensa-esp32-elf-gcc;; \
			*) echo "natmod: unknown ARCH $$arch: one of $(NATMOD_ARCHS), or xtensawin with Espressif's toolchain"; exit 2;; \
		esac; \
		command -v $$cc >/dev/null || { echo "natmod: ARCH=$$arch needs $$cc on PATH (Espressif's toolchain for xtensawin: docs/ED25519.md)"; exit 3; }; \
		out=$(BUILD)/natmod/$$arch; log=$$out.log; mkdir -p $$out; \
		before=$$(stat -c %.9Y $$out/ed25519.mpy 2>/dev/null || echo none); \
		MAKEFLAGS= $(MAKE) -C $(CMOD)/ed25519/natmod ARCH=$$arch PYTHON=$(PYTHON) \
			MPY_DIR=$(MPY_DIR) OUT=$$out >$$log 2>&1 \
			|| { tail -n 30 $$log; echo "build: natmod $$arch FAILED (log: $$log)"; exit 1; }; \
		if [ "$$before" = "$$(stat -c %.9Y $$out/ed25519.mpy)" ]; then \
			echo "build: natmod $$arch up to date"; \
		else \
			echo "build: natmod $$arch -> build/natmod/$$arch/ed25519.mpy"; \
		fi; \
	done

builds: unix unix-stock unix-cpy qemu qemu-m0 natmod

test: builds
	@echo "test: pytest tests/"
	@cd $(ROOT) && $(PYTHON) -m pytest -q tests/

demo: unix
	@$(PYTHON) $(ROOT)/scripts/demo.py

# A benchmark, not a test: prints figures, written by tests/bench_crypto.py.
bench-crypto: builds
	@cd $(ROOT) && $(PYTHON) tests/bench_crypto.py

# Benchmarks of the agent on the unix port (figures for docs/AGENT.md and
# docs/TRANSPORT.md). bench-heap also builds build/unix-agent, a unix port
# with the agent frozen in.
bench-heap: unix
	@cd $(ROOT) && $(PYTHON) tests/agent/heap_min.py --build

bench-transport: unix
	@cd $(ROOT) && $(PYTHON) tests/bench_transport.py

# Figures, not tests: ratios within one run (docs/TRANSPORT.md, "Speed").
bench-transfer: unix qemu
	@cd $(ROOT) && $(PYTHON) tests/bench_transfer.py

# Both limb layouts (the 32-bit one also with the M0's products), the
# vectors, 4,000 random and mutated signatures and 20,000 field-element
# pairs (about a minute and a half; CASES= and FIELD= change the counts).
# tests/test_ed25519_sanitize.py runs a small sample in make test.
.PHONY: sanitize
CASES :=
FIELD :=
sanitize: $(VENV_STAMP)
	@cd $(ROOT) && $(PYTHON) tests/sanitize/run.py $(if $(CASES),--cases $(CASES)) $(if $(FIELD),--field $(FIELD))

clean:
	rm -rf $(BUILD)/unix $(BUILD)/unix-stock $(BUILD)/unix-cpy $(BUILD)/qemu-m3 $(BUILD)/qemu-m0 \
		$(BUILD)/natmod $(BUILD)/mpy-cross $(BUILD)/*.log $(BUILD)/*.config \
		$(BUILD)/stubs $(BUILD)/mip $(BUILD)/firmware $(BUILD)/unix-agent

distclean:
	rm -rf $(BUILD)

# --- Boards, the mip package, typing (docs/BOARDS.md) ----------------------
#
#   make firmware BOARD=ESP32_GENERIC|RPI_PICO|RPI_PICO_W|QEMU_M3|QEMU_M0|unix
#                     builds where the board's SDK is present, else says in
#                     one line what is missing (exit 3); ESP32 and RP2 take
#                     MPY_DIR=<MicroPython checkout with submodules>,
#                     and CMAKE_ARGS=... MAKE_ARGS=... for their own build
#                     (pico-sdk 2.x without picotool: -DPICO_NO_PICOTOOL=1)
#   make mip [MIP_BASE=<address build/mip is served from>]
#                     build/mip: the agent as a mip package, ed25519 per arch
#   make stubs        build/stubs/<set>: the board stubs of the typing test

# Set on the command line; a BOARD in the environment is ignored. So are
# CMAKE_ARGS and MAKE_ARGS, the extra options for the board's own build
# (scripts/firmware.sh says where each goes).
BOARD :=
CMAKE_ARGS :=
MAKE_ARGS :=
STUBS := $(BUILD)/stubs
STUB_SETS := $(patsubst $(ROOT)/typing/requirements-%.txt,%,$(wildcard $(ROOT)/typing/requirements-*.txt))

.PHONY: firmware mip stubs

# MAKEFLAGS is cleared so that the board's make does not take our command
# line (CMAKE_ARGS would replace its own).
firmware:
	@MAKEFLAGS= MPY_DIR=$(MPY_DIR) CMAKE_ARGS='$(CMAKE_ARGS)' MAKE_ARGS='$(MAKE_ARGS)' \
		$(ROOT)/scripts/firmware.sh "$(BOARD)"

mip: setup natmod
	@$(PYTHON) $(ROOT)/scripts/mip_package.py $(if $(MIP_BASE),--base $(MIP_BASE)) $(BUILD)/mip

stubs: $(foreach s,$(STUB_SETS),$(STUBS)/$(s)/.mpota-installed)

# One folder per set: the sets define the same modules differently. Exact
# pins and --no-deps, so every run checks against the same stubs.
$(STUBS)/%/.mpota-installed: $(ROOT)/typing/requirements-%.txt | $(VENV_STAMP)
	@echo "setup: $* stubs in build/stubs/$*"
	@rm -rf $(STUBS)/$* && mkdir -p $(STUBS)
	@$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps --no-compile \
		--target $(STUBS)/$* -r $< >$(STUBS)/$*.log 2>&1 \
		|| { tail -n 30 $(STUBS)/$*.log; echo "setup: pip install failed (log: $(STUBS)/$*.log)"; exit 1; }
	@touch $@

# More prerequisites of `make test` (make adds them to its rule above).
test: stubs

# --- The fault and attack campaign (docs/CAMPAIGN.md) -----------------------
#
#   make campaign     every family at full size: power cuts before every
#                     flash operation and state write, network faults,
#                     the attack list, fuzzing; prints one table and exits
#                     1 if any case failed. atheris (optional) is tried
#                     into build/atheris; without it the fuzz family runs
#                     hypothesis and the MicroPython loop only.

ATHERIS := $(BUILD)/atheris

.PHONY: campaign

campaign: unix
	@test -d $(ATHERIS)/atheris || $(PYTHON) -m pip install -q --disable-pip-version-check \
		--no-deps --target $(ATHERIS) atheris >$(ATHERIS).log 2>&1 \
		|| { rm -rf $(ATHERIS); echo "campaign: atheris did not install (log: $(ATHERIS).log); fuzzing without it"; }
	@cd $(ROOT) && $(PYTHON) tests/campaign/run.py

# --- The fleet service (docs/FLEET.md) --------------------------------------
#
#   make bench-fleet  ingest rate on SQLite and PostgreSQL, dashboard p95
#                     with 100,000 devices and 1,000,000 reports, memory
#   make demo-fleet   50 simulated devices, a staged rollout watched and
#                     halted by `mpota fleet serve`; screenshot in
#                     build/demo-fleet/

.PHONY: bench-fleet demo-fleet

bench-fleet: setup
	@cd $(ROOT) && $(PYTHON) tests/bench_fleet.py

demo-fleet: unix
	@cd $(ROOT) && $(PYTHON) scripts/demo_fleet.py
