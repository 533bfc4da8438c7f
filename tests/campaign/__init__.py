# SPDX-License-Identifier: MIT
"""The fault and attack campaign (issue 5; docs/CAMPAIGN.md).

Four families, each a module with run(full, jobs) -> result.Family:

  powercut  power cut before every flash operation and state write of an
            update cycle, on several flash geometries and slot banks
  network   a server that misbehaves on purpose (mpota serve --fault and
            the raw server of tests/net/)
  attacks   the TUF/Uptane threat list, one named case each
  fuzz      the manifest and root parsers on CPython (hypothesis) and a
            mutation loop under the MicroPython unix build

`make campaign` runs all of them at full size through run.py, which prints
one table; the tests/test_campaign_*.py files run a bounded sample of
each inside `make test`.
"""
