# SPDX-License-Identifier: MIT
"""The one exception the bundle verifier raises for a refused input."""

from ..errors import Error


class BundleError(Error):
    """A bundle, root or chunk was refused.

    args[0] is a short reason code from docs/FORMAT.md ("bad-signature",
    "hash-mismatch", ...). Refusals are expected outcomes, so callers match
    on the code rather than on the message text.
    """

    @property
    def reason(self):
        return self.args[0]
