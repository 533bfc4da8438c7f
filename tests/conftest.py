# SPDX-License-Identifier: MIT
"""Session-wide targets: the MicroPython builds the tests run code on.

A missing build is a failure, never a skip: the message says to run
`make test`, which builds everything first.
"""

import pytest
from hypothesis import HealthCheck, settings

import targets

# No wall-clock limit in any test: hypothesis's per-example deadline and its
# too-slow health check time the machine, not the code, and fail on a busy
# one. Work is bounded by counts where it matters (tests/campaign/fuzz.py).
settings.register_profile("mpota", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mpota")


def _built(target):
    try:
        target.check()
    except targets.TargetMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return target


@pytest.fixture(scope="session")
def unix_target():
    return _built(targets.unix())


@pytest.fixture(scope="session")
def cpy():
    """The unix build shaped like a CircuitPython board (tests/circuitpython)."""
    return _built(targets.unix_cpy())


@pytest.fixture(scope="session")
def unix_stock_target():
    return _built(targets.unix_stock())


@pytest.fixture(scope="session")
def qemu_m3():
    """The Cortex-M3 board, booted once for the session and always stopped."""
    board = _built(targets.qemu_m3())
    board.start()
    try:
        yield board
    finally:
        board.stop()


@pytest.fixture(scope="session")
def qemu_m0():
    """The Cortex-M0 board (the RP2040's instruction set), booted once."""
    board = _built(targets.qemu_m0())
    board.start()
    try:
        yield board
    finally:
        board.stop()
