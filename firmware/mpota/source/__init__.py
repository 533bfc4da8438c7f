# SPDX-License-Identifier: MIT
"""Where update files come from: one small interface for every transport.

A source is any object with:

  open(name, offset=0) -> reader
      name: a path inside the bundle: 'manifest', 'table/<hex>',
      'chunks/<hex>', 'roots/<N>'. offset > 0 asks for the file from that
      byte on (HTTP Range), so a broken download resumes mid-file.
  reader.readinto(buf) -> int
      fills a memoryview/bytearray and returns the number of bytes; 0 only
      at the end of the file; never more than len(buf). Readers should fill
      buf completely unless the file ends (MicroPython's stream readinto
      does): the agent asks for exact sizes, and a short read, though
      handled, costs it an allocation in its chunk loop.
  reader.close()

A missing file raises SourceError('not-found'); anything else the source
cannot deliver raises SourceError(reason). A source never decides trust:
the agent checks every byte against the signed manifest and table.

Implementations: local.LocalSource (a bundle directory on a filesystem),
http.HttpSource (HTTP/1.1 and HTTPS).
"""


from ..errors import Error


class SourceError(Error):
    """A transport failure, with a short reason code in .reason:
    'not-found', 'connect', 'timeout', 'tls', 'http-status', 'bad-response',
    'too-large', 'closed' (connection dropped mid-body), 'io'."""

    @property
    def reason(self):
        return self.args[0] if self.args else "io"
