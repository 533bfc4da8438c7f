"""The update flow: fetch, verify, write into the inactive slot.

  fetch    small signed documents (manifest, roots) and retry backoff
  pump     moves bytes from a reader into a region without allocating
  stream   a region as a stream for the decompressor
  install  the flow itself (docs/AGENT.md, "Install")
"""
