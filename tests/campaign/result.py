# SPDX-License-Identifier: MIT
"""What a family reports: cases tried, passed, failed, the failures in
words, and figures worth writing down (docs/CAMPAIGN.md)."""


class Family:
    def __init__(self, name):
        self.name = name
        self.tried = 0
        self.failed = 0
        self.failures = []  # "case: what went wrong"
        self.figures = {}  # name -> value, printed under the table
        self.seconds = 0.0

    @property
    def passed(self):
        return self.tried - self.failed

    def add(self, case, problems=()):
        """One case; problems: what was wrong with it (none: it passed)."""
        self.tried += 1
        if problems:
            self.failed += 1
            self.failures.append("{}: {}".format(case, "; ".join(str(p) for p in problems)))

    def merge(self, tried, failed, failures):
        """Cases counted elsewhere (a device-side loop)."""
        self.tried += tried
        self.failed += failed
        self.failures += failures


def table(families):
    """The one table of `make campaign`, then the failure details."""
    rows = [("family", "tried", "passed", "failed", "seconds")]
    for f in families:
        rows.append((f.name, str(f.tried), str(f.passed), str(f.failed), "{:.0f}".format(f.seconds)))
    rows.append(("total", str(sum(f.tried for f in families)),
                 str(sum(f.passed for f in families)), str(sum(f.failed for f in families)),
                 "{:.0f}".format(sum(f.seconds for f in families))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
        if k == 0 or k == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    for f in families:
        for name, value in f.figures.items():
            lines.append("{} {}: {}".format(f.name, name, value))
    for f in families:
        if f.failures:
            lines.append("")
            lines.append("{} failures:".format(f.name))
            lines += ["  " + x for x in f.failures]
    return "\n".join(lines)
