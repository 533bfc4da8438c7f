# SPDX-License-Identifier: MIT
"""The host side of staged rollouts (docs/ROLLOUT.md): the offline-signed
rollout plans and revocation lists, the online control document, the
repository a static host serves, and its check as a device would make it.

  plan.py       build, cosign and describe rollout plans and canary shards
  control.py    the control document: state transitions, update() for the
                fleet service, load_signer()
  revoke.py     the append-only revocation list
  repo.py       paths and reads of a published repository
  publish.py    lay out a repository (roots, bundles, plans, canary shards)
  repocheck.py  `mpota verify REPO`: every file as a device would check it
  commands.py   the `mpota rollout / control / revoke / publish` commands

Every document written here is parsed back by the device's own parser
(mpota.bundle.rollout) before it is written.
"""
