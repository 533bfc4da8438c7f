# SPDX-License-Identifier: MIT
# code.py for mpota on CircuitPython (docs/CIRCUITPYTHON.md): the boot hook,
# then the application. CircuitPython runs it at each start and again at
# each soft reload; mpota.boot() counts a trial only after a reset.
import microcontroller
import mpota

try:
    res = mpota.boot()  # after too many failed trials: back, then a reset
    print("mpota: running version {}{}".format(res.version, " (trial)" if res.trial else ""))
except OSError as e:
    # CIRCUITPY left to the computer at this start (boot.py): the agent
    # cannot write its state, so nothing is counted.
    print("mpota: not started:", repr(e))
    res = None

try:
    # The application: with bank "dir" its folder is first on sys.path,
    # so this imports the main.py of the image boot() chose. Its health
    # check calls mpota.confirm().
    import main  # noqa: F401
except Exception as e:  # noqa: BLE001 (any failure of the app's own code)
    print("mpota: the application failed:", repr(e))
    if res is not None and res.trial:
        # CircuitPython would wait for a key after the error: reset, so a
        # trial that fails is counted and, in the end, reverted.
        import time

        time.sleep(5)
        microcontroller.reset()
    raise
