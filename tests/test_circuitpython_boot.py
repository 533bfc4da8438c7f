# SPDX-License-Identifier: MIT
"""The boot hook on a board shaped like CircuitPython (build/unix-cpy): the
shipped firmware/circuitpython/code.py runs at every start and at every
soft reload; only a start after a reset counts a trial boot, a failing
trial is reverted after max_attempts starts, and a revert on a firmware
bank resets the board with microcontroller.reset()."""

import json
import shutil

import pytest

import targets
from agent import kit

CODE_PY = targets.ROOT / "firmware" / "circuitpython" / "code.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("cpy-boot")
    kit.root(d)
    kit.app_bundle(d, "v1", 1)
    kit.app_bundle(d, "v2", 2, healthy=False)  # never confirms
    return d


@pytest.fixture
def board(tmp_path, tree, monkeypatch, cpy):
    """CIRCUITPY: code.py, mpota.json; provisioned with v1, v2 installed."""
    b = tmp_path / "CIRCUITPY"
    b.mkdir()
    shutil.copy(CODE_PY, b / "code.py")
    (b / "mpota.json").write_text(json.dumps({
        "device_class": "esp32", "target": "app", "bank": "dir", "dir": "slots",
        "slot_size": 131072, "max_attempts": 3, "now": 1800000000}))
    monkeypatch.setenv("CPY_STANDIN_FLASH", str(b))
    _start(cpy, b, """
import mpota.device as D
from mpota.source.local import LocalSource
from mpota.update.install import Install
dev = D.use(D.load("mpota.json"))
provision(dev, {root!r}, {v1!r})
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
""".format(root=str(tree / "root"), v1=str(tree / "v1"), v2=str(tree / "v2")), "startup")
    return b


def _start(cpy, b, code, reason):
    import os

    os.environ["CPY_STANDIN_RUN_REASON"] = reason
    try:
        out = cpy.run("from agentkit import *\nimport os\nos.chdir({!r})\n".format(str(b)) + code,
                      path=[kit.f.FIRMWARE, kit.MP] + list(targets.CPY_PATH), timeout=300)
    finally:
        del os.environ["CPY_STANDIN_RUN_REASON"]
    return out


def _code_py(cpy, b, reason):
    """One run of code.py as the board runs it; its output and the state."""
    out = _start(cpy, b, "exec(open('code.py').read())\n", reason)
    state = kit.run(cpy, "import os\nos.chdir({!r})\nimport mpota.device as D\n"
                    "emit('state', state(D.load('mpota.json')))\n".format(str(b)),
                    extra_path=list(targets.CPY_PATH))["state"]
    return out, state


def test_soft_reloads_do_not_count_trial_boots_and_a_failing_trial_is_reverted(cpy, board):
    # A reload before the first reset: the old app runs, no trial starts.
    out, st = _code_py(cpy, board, "auto_reload")
    assert "app version 1" in out and st["trial"] == 1 and st["attempts"] == 0
    # Three starts after a reset run the trial; reloads between them
    # (a file saved, supervisor.reload()) run it again but count nothing.
    for n, reload in ((1, "auto_reload"), (2, "supervisor_reload"), (3, "reload_hotkey")):
        out, st = _code_py(cpy, board, "startup")
        assert "app version 2" in out and "(trial)" in out and st["attempts"] == n
        out, st = _code_py(cpy, board, reload)
        assert "app version 2" in out and st["attempts"] == n
    # The fourth start gives the trial up: v1 again, remembered as bad.
    out, st = _code_py(cpy, board, "startup")
    assert "app version 1" in out and st["trial"] == 255 and st["active_version"] == 1
    assert st["events"][-1][0] == 6  # revert


def test_revert_on_a_firmware_bank_resets_with_microcontroller_reset(cpy, tmp_path):
    # restart.reset() on CircuitPython: microcontroller.reset(), which
    # does not return (nothing after it runs).
    flash = tmp_path / "flash"
    flash.mkdir()
    import os

    os.environ["CPY_STANDIN_FLASH"] = str(flash)
    try:
        out = cpy.run("from mpota import restart\nprint('before')\nrestart.reset()\nprint('after')\n",
                      path=[kit.f.FIRMWARE] + list(targets.CPY_PATH))
    finally:
        del os.environ["CPY_STANDIN_FLASH"]
    assert out.split() == ["before"]
    assert (flash / "resets").read_text() == "reset\n"
