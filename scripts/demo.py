"""Shows the ed25519 C module at work in MicroPython (run by `make demo`).

The host signs a message with libsodium (PyNaCl); build/unix/micropython,
which has our module built in, checks the signature, then a copy with one
bit flipped, then the signature against a different key.
"""

import subprocess
import sys
from pathlib import Path

import nacl.signing

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = ROOT / "build" / "unix" / "micropython"

DEVICE_CODE = """
import ed25519, time
pk = bytes.fromhex('{pk}')
other = bytes.fromhex('{other}')
sig = bytes.fromhex('{sig}')
msg = {msg!r}
bad = bytearray(sig)
bad[5] ^= 0x10
t0 = time.ticks_us()
ok = ed25519.verify(pk, sig, msg)
t1 = time.ticks_us()
print('  genuine signature         ->', ok, '({{}} us)'.format(time.ticks_diff(t1, t0)))
print('  one bit flipped           ->', ed25519.verify(pk, bad, msg))
print('  checked against other key ->', ed25519.verify(other, sig, msg))
print('  sha512(msg)[:16]          ->', ed25519.sha512(msg).digest()[:16].hex())
"""


def main():
    if not MICROPYTHON.is_file():
        print("demo: {} is missing: run make unix".format(MICROPYTHON), file=sys.stderr)
        return 1
    key = nacl.signing.SigningKey.generate()
    other = nacl.signing.SigningKey.generate()
    msg = b"firmware image 1.2.3 for board rp2-pico"
    sig = key.sign(msg).signature
    code = DEVICE_CODE.format(
        pk=key.verify_key.encode().hex(),
        other=other.verify_key.encode().hex(),
        sig=sig.hex(),
        msg=msg,
    )
    print("demo: the host signed {!r} with a fresh Ed25519 key (libsodium).".format(msg.decode()))
    print("demo: MicroPython ({}) checks it:".format(MICROPYTHON.relative_to(ROOT)))
    result = subprocess.run([str(MICROPYTHON)], input=code.encode(), capture_output=True)
    sys.stdout.write(result.stdout.decode())
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
