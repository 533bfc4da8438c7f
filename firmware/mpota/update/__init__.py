# SPDX-License-Identifier: MIT
"""The update flow: fetch, verify, write into the inactive slot.

  fetch     small signed documents (manifest, roots) and retry backoff
  offer     the manifest the source offers, verified with the device's facts
  pump      moves bytes from a reader into a region without allocating
  transfer  one file or chunk into a region: resumed downloads, local
            copies
  staged    a deflated chunk staged in scratch, checked, inflated
  plan      which chunks of the next units to fetch, copy or keep
  runs      each run of chunks to fetch in one request over the bundle's
            stream file (sources that take ranges: HTTP)
  stream    a region as a stream for the decompressor
  install   the flow itself (docs/AGENT.md, "Install")
"""
