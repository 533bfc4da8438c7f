# SPDX-License-Identifier: MIT
"""The update flow: fetch, verify, write into the inactive slot.

  fetch     small signed documents (manifest, roots) and retry backoff
  offer     the manifest the source offers, verified with the device's facts
  pump      moves bytes from a reader into a region without allocating
  transfer  one file or chunk into a region: resumed downloads, local
            copies, deflated chunks staged and inflated
  runs      which chunks to fetch, and runs of them in one request over
            the bundle's stream file
  stream    a region as a stream for the decompressor
  install   the flow itself (docs/AGENT.md, "Install")
"""
