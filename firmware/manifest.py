# SPDX-License-Identifier: MIT
# The mpota agent for a firmware's frozen manifest, by part, so that a board
# freezes only what it uses (docs/BOARDS.md, "What a board freezes"):
#
#   include("<this folder>/manifest.py", network=False, rp2=True)
#
# The core is always in: the verifier, the state store, the install, trial
# boots, a bundle directory as a source, flash regions. Each option adds a
# part; the defaults suit a board with a filesystem, a network and the
# ed25519 C module in its firmware.

options.defaults(serial=True, network=True, appdir=True, esp32=False, rp2=False,
                 fallback=False, devtools=False, rollout=True, circuitpython=False,
                 encryption=True)

CORE = (
    "__init__.py", "errors.py", "crc32.py", "sha256.py", "clock.py", "device.py", "provision.py", "trial.py",
    "restart.py",
    "bundle/__init__.py", "bundle/error.py", "bundle/format.py", "bundle/table.py",
    "bundle/trust.py", "bundle/inflate.py",
    "crypto/__init__.py",
    "state/__init__.py", "state/fields.py", "state/log.py", "state/record.py",
    "update/__init__.py", "update/offer.py", "update/fetch.py", "update/stream.py",
    "update/pump.py", "update/transfer.py", "update/staged.py", "update/plan.py",
    "update/install.py",
    "source/__init__.py", "source/local.py",
    "flash/__init__.py", "flash/region.py",
    "slots/__init__.py", "slots/flash.py",
)

PARTS = {
    # `mpota device` over USB serial: what the host calls, the serial source.
    "serial": ("bringup.py", "source/serial.py"),
    # Updates over HTTP(S), and status reports to the server.
    "network": ("source/http.py", "source/httpbody.py", "source/httpparse.py",
                "source/netconn.py", "source/url.py", "report.py", "fleetreport.py",
                "update/runs.py"),
    # Application bundles in two directories of the filesystem (bank "dir").
    "appdir": ("slots/appdir.py", "apptar.py"),
    # The ESP32's OTA partitions (bank "esp32").
    "esp32": ("slots/esp32.py", "flash/blockdev.py"),
    # A raw region of an RP2040's flash (bank "flash", {"rp2": START}).
    "rp2": ("flash/rp2flash.py", "flash/blockdev.py"),
    # Ed25519 and SHA-512 in Python, for a firmware without the C module.
    "fallback": ("crypto/ed25519_fallback.py", "crypto/sha512_source.py"),
    # CircuitPython (docs/CIRCUITPYTHON.md): the network through socketpool,
    # the dualbank firmware slots, deflate through zlib.decompress. Its
    # boards take the agent as files; this part is for completeness.
    "circuitpython": ("source/poolconn.py", "slots/dualbank.py", "bundle/oneshot.py"),
    # Encrypted bundles (docs/FORMAT.md, "Encryption"): the key unwrap and
    # the chunk cipher. Without it a board refuses them as unknown-cipher.
    "encryption": ("update/sealed.py", "crypto/aes.py", "crypto/hkdf.py", "crypto/x25519.py"),
    # Staged rollouts from a static repository (docs/ROLLOUT.md).
    "rollout": ("bundle/rollout.py", "rollout/__init__.py", "rollout/cohort.py",
                "rollout/poll.py"),
    # The simulated device, the flash models and the directory verifier:
    # for the unix port, the emulated board and the host tools.
    "devtools": ("sim.py", "flash/nor.py", "flash/ram.py", "bundle/directory.py"),
}

files = list(CORE)
for part, names in PARTS.items():
    if getattr(options, part):
        files += [n for n in names if n not in files]
package("mpota", files=files, base_path=".")
