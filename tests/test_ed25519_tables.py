# SPDX-License-Identifier: MIT
"""The C module's constants are derived, not typed in: regenerating them from
their definitions must give the committed files byte for byte."""

import shutil
import subprocess
import sys
from pathlib import Path

MODULE = Path(__file__).resolve().parent.parent / "firmware" / "cmod" / "ed25519"


def test_committed_constant_tables_match_their_definitions(tmp_path):
    shutil.copy(MODULE / "gen_tables.py", tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "gen_tables.py")], check=True)
    for name in ("tables.c", "tables.h"):
        assert (tmp_path / name).read_bytes() == (MODULE / name).read_bytes(), name


def test_small_order_table_holds_exactly_the_points_of_order_dividing_8():
    sys.path.insert(0, str(MODULE))
    try:
        import gen_tables as g
    finally:
        sys.path.pop(0)
    ys = g.small_order_y_values()
    assert len(ys) == 5
    for y in ys:
        for sign in (0, 1):
            xx = (y * y - 1) * pow(g.D * y * y + 1, g.P - 2, g.P) % g.P
            if xx == 0 and sign:
                continue
            point = (g.recover_x(y, sign), y)
            assert g.mul(8, point) == (0, 1)
