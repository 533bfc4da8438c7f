# SPDX-License-Identifier: MIT
"""What every `mpota device` command does with the board: open its port,
call into mpota.bringup there, turn the answer into a result or the
one-line error, print it."""

import json

from ..errors import BoardError
from . import wire
from .link import Link, find_port

# What the board's refusals mean, for the one-line error.
_NOT_DONE = {
    "not-provisioned": "the board is not provisioned: run mpota device provision",
    "trial-pending": "the board has a trial pending: confirm it (mpota device confirm) "
                     "or reboot it until it reverts",
    "provisioned": "the board is already provisioned: --force starts it over "
                   "(and forgets its anti-rollback counters)",
    "reverted": "the board refused the bundle: reverted (this image failed its trial there)",
    "no-room": "the board refused the bundle: no-room (image or table larger than its slots)",
    "config": "the board's mpota.json is incomplete or invalid: provision it again",
}


def connect(args):
    return Link(args.port or find_port(), mount=args.mount)


def bringup(link, call, server=None, progress=None, timeout=60.0, prelude="", not_done=None):
    """Call mpota.bringup.call(mpota.bringup.<call>) on the board, `call`
    being "name" or "name, args" (after `prelude`); return its result or
    raise the one-line error for how it failed (`not_done`: the caller's
    own texts for some of the agent's reasons)."""
    code = "{}import mpota.bringup as _b\n_b.call(_b.{})\n".format(prelude, call)
    return interpret(wire.converse(link, code, server, progress, timeout), not_done)


def interpret(ans, not_done=None, who="the board"):
    """The result of a call into mpota.bringup (a wire.Answer), or the
    one-line error for how it failed (`who` ran it)."""
    if ans.error:
        # The agent itself missing (not a module it imports, such as
        # adafruit_hashlib on CircuitPython: that one is named below).
        if "ImportError" in ans.error and "module named 'mpota" in ans.error:
            raise BoardError("no mpota agent on the board: run mpota device install", "no-agent")
        raise BoardError("the board failed: {}".format(ans.error.strip().splitlines()[-1]), "board-error")
    if ans.failure:
        kind, reason = ans.failure
        if kind == "refused":
            raise BoardError("{} refused the bundle: {}".format(who, reason), reason)
        if kind == "transfer":
            raise BoardError("transfer failed: {}".format(reason), reason)
        if kind == "lost":
            raise BoardError("the serial line was lost during the transfer", "lost")
        text = (not_done or {}).get(reason) or _NOT_DONE.get(reason)
        raise BoardError(text or "the board did not do it: {}".format(reason), reason)
    if ans.result is None:
        raise BoardError("the board gave no answer", "no-answer")
    return ans.result


def show(args, obj, text):
    if args.json:
        print(json.dumps(obj, indent=2))
    else:
        print(text)


# A board keeps imported modules until it resets: drop the agent's, so
# that the next import reads the files just written (and a push measures
# the heap from before the agent is loaded).
FORGET_AGENT = ("import sys, gc\nfor _k in [k for k in sys.modules if k == 'mpota' or k.startswith('mpota.')]:\n"
                 " del sys.modules[_k]\nglobals().pop('mpota', None)\n")


def forget_agent(link):
    link.exec(FORGET_AGENT)
