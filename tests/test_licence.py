# SPDX-License-Identifier: MIT
"""The licence travels with the code: every source file the project wrote
names it, and the third-party vectors keep their own notice."""

import pathlib
import subprocess
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
TAG = "SPDX-License-Identifier: MIT"
SOURCE_SUFFIXES = {".py", ".pyi", ".c", ".h", ".sh", ".mk", ".cmake"}


def _tracked():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [ROOT / f for f in out]


def test_every_source_file_carries_the_spdx_header():
    missing = [str(p.relative_to(ROOT)) for p in _tracked()
               if (p.suffix in SOURCE_SUFFIXES or p.name == "Makefile")
               and p.parent != ROOT / "tests" / "vectors" and p.exists()
               and TAG not in "".join(p.read_text().splitlines(True)[:3])]
    assert missing == []


def test_licence_file_and_package_metadata_say_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == {"text": "MIT"}


def test_third_party_vectors_keep_their_apache_notice():
    notice = (ROOT / "tests/vectors/NOTICE").read_text()
    for name in ("ed25519_wycheproof.json", "ed25519_speccheck_cases.json"):
        assert name in notice
    assert "Apache License" in (ROOT / "tests/vectors/LICENSE-Apache-2.0").read_text()
