# SPDX-License-Identifier: MIT
"""The trust root and signed app bundles of the `mpota device` tests."""

import hashlib
from pathlib import Path

from bundles import factory as f
from mpota_host import apppack

DEVICE_CLASS = "bringup-board"
CHUNK = 4096
ROOT_KEY, UPDATE_KEY = f.keys("device-root", "device-update")


def root(tmp):
    path = Path(tmp) / "root.bin"
    if not path.exists():
        path.write_bytes(f.root_doc([ROOT_KEY], 1, [UPDATE_KEY], 1))
    return path


def app(tmp, name, version, size, device_class=DEVICE_CLASS, **kw):
    """A signed app bundle: main.py saying its version, and `size` bytes of
    data that does not compress or repeat, so every chunk is its own file.
    The image (the app archive) is kept next to it as <name>.img."""
    src = Path(tmp) / (name + "-src")
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.py").write_text("print('app version {}')\n".format(version))
    (src / "data.bin").write_bytes(hashlib.shake_256(b"%s %d" % (name.encode(), version)).digest(size))
    return f.bundle(Path(tmp) / name, apppack.pack(str(src)), [UPDATE_KEY], version=version,
                    security_counter=version, sequence=version, target="app",
                    device_class=device_class, chunk_size=CHUNK, **kw)


def chunk_names(bundle):
    """The bundle's chunk files in image order (stored uncompressed, so a
    chunk's name is the SHA-256 of its bytes)."""
    image = Path(str(bundle) + ".img").read_bytes()
    return ["chunks/" + hashlib.sha256(image[i:i + CHUNK]).hexdigest()
            for i in range(0, len(image), CHUNK)]
