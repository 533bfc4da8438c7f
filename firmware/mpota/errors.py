# SPDX-License-Identifier: MIT
"""The agent's own refusals (the verifier's are bundle.error.BundleError,
the transports' source.SourceError)."""


class AgentError(Exception):
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
    """

    @property
    def reason(self):
        return self.args[0]
