# SPDX-License-Identifier: MIT
"""`make demo` is the README's first command: it must tell its whole story."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_updates_over_tls_rolls_back_a_failed_trial_and_refuses_a_replay():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    summary = proc.stdout.split("== Summary", 1)[1]
    assert "running v2, confirmed" in summary
    assert "rolled back to v2" in summary
    assert "refused: rollback" in summary
    # Progress is shown while chunks download, and the server was stopped.
    assert "chunks (fetched)" in proc.stdout
    assert "== Stop the server" in proc.stdout
    log = proc.stdout.split("== The device's audit log", 1)[1]
    for event in ("trial-boot version 2", "confirm version 2", "revert version 3", "counter-advanced counter 2"):
        assert event in log, event
