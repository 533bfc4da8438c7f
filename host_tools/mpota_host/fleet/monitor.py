# SPDX-License-Identifier: MIT
"""When to halt a rollout: a pure function of the rollout's figures and
the halt rules (docs/FLEET.md, "Halt rules"), tested as a table. The
figures are counted in rollouts.py; acting on the answer is done there."""

import math

# The defaults, and why, are in docs/FLEET.md.
DEFAULT_RULES = {
    "security_halt": True,      # any security refusal halts at once
    "canary_failures": 2,       # failures in the canary wave that halt
    "wave_min_ran": 50,         # a wave's failure share is judged from this many devices on
    "wave_fail_percent": 1.0,   # ... and halts above this share
    "silent_hours": 24,         # started, no outcome after max(2 x poll, this): a failure
}

RULE_TYPES = {"security_halt": bool, "canary_failures": int, "wave_min_ran": int,
              "wave_fail_percent": float, "silent_hours": float}


def check_rules(rules):
    """The rules with every value of the right type and range, or ValueError."""
    out = dict(DEFAULT_RULES)
    for k, v in rules.items():
        if k not in RULE_TYPES:
            raise ValueError("unknown rule {}".format(k))
        t = RULE_TYPES[k]
        if t is bool:
            if not isinstance(v, bool):
                raise ValueError("{}: true or false".format(k))
        else:
            v = t(v)
            # NaN compares false with everything: it would switch a rule off.
            if not math.isfinite(v) or v < 0 or (k == "canary_failures" and v < 1):
                raise ValueError("{}: out of range".format(k))
        out[k] = v
    return out


def silent_after(rules, poll_s):
    """Seconds after which a started device with no outcome is silent."""
    return max(2 * poll_s, rules["silent_hours"] * 3600)


def decide(figures, rules):
    """A reason to halt (text) or None.

    figures: {"security": {reason: devices}, "waves": [{"name", "canary",
    "ran", "failures"}, ...]}, where ran counts the wave's devices with an
    outcome (confirmed, rolled back, refused or silent) and failures those
    rolled back, refused or silent."""
    if rules["security_halt"]:
        hits = sorted((r, n) for r, n in figures.get("security", {}).items() if n > 0)
        if hits:
            return "security refusal: " + ", ".join(
                "{} on {} device{}".format(r, n, "" if n == 1 else "s") for r, n in hits)
    for w in figures.get("waves", ()):
        if w["canary"] and w["failures"] >= rules["canary_failures"]:
            return "{} failures in the canary wave ({}; limit {})".format(
                w["failures"], w["name"], rules["canary_failures"])
        if w["ran"] >= max(1, rules["wave_min_ran"]) and \
                w["failures"] * 100.0 > rules["wave_fail_percent"] * w["ran"]:
            return "{} of {} devices failed in wave {} (over {}%)".format(
                w["failures"], w["ran"], w["name"], _num(rules["wave_fail_percent"]))
    return None


def _num(x):
    return ("%g" % x)
