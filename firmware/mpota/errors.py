# SPDX-License-Identifier: MIT
"""The one base of every refusal that carries a reason code, and the
agent's own refusals (the verifier's are bundle.error.BundleError, the
transports' source.SourceError, a broken flash rule's flash.FlashError)."""


class Error(Exception):
    """Anything the agent refuses, with a short reason code in .reason, so
    that an application writes one `except mpota.Error as e` and reads
    e.reason (docs/AGENT.md, "Reason codes")."""

    @property
    def reason(self):
        return self.args[0]


class AgentError(Error):
    """An update the agent will not do now, with a reason code in .reason:

    'not-provisioned'  the device has no state or trust root yet
    'trial-pending'    an installed image awaits confirm() or its revert
    'no-room'          the image, table or a chunk exceeds its area, or
                       the filesystem is too full to unpack an app
    'reverted'         this image failed its trial here before
    'bad-app'          an app image that is not a plain ustar archive
                       of files and directories inside its slot
    'config'           the device configuration is incomplete or invalid
    'unbootable'       the bootloader refused to select the installed slot
                       (ESP32: not a valid app image for this chip)
    'no-memory'        the heap had no room for what the update needs (the
                       TLS context wants about 40 KB in one piece)
    """
