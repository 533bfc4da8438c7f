# SPDX-License-Identifier: MIT
"""Trust root documents on the host: create, rotate, sign, check.

A root lists root keys (they sign roots), update keys (they sign
manifests, rollout plans and revocation lists) and optionally control keys
(they sign rollout control documents, docs/ROLLOUT.md), each with a
threshold, and the time it was made. Acceptance is decided by the device's
own trust module; this file only builds documents and reports.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from mpota.bundle import format as F
from mpota.bundle import trust

from . import document as D
from .errors import CommandError


@dataclass
class RootParams:
    version: int
    root_keys: List[bytes]
    root_threshold: int
    update_keys: List[bytes]
    update_threshold: int
    expires: Optional[int] = None
    control_keys: List[bytes] = field(default_factory=list)
    control_threshold: int = 0
    issued: int = 0


def build(params):
    """The unsigned root document for params (no signatures yet)."""
    for name, keys, threshold in (("root", params.root_keys, params.root_threshold),
                                  ("update", params.update_keys, params.update_threshold)):
        if not 1 <= len(keys) <= F.MAX_KEYS:
            raise CommandError("need 1 to {} {} keys, got {}".format(F.MAX_KEYS, name, len(keys)))
        if len(set(keys)) != len(keys):
            raise CommandError("a {} key is listed twice".format(name))
        if not 1 <= threshold <= len(keys):
            raise CommandError("{} threshold {} is not between 1 and {}".format(name, threshold, len(keys)))
    if len(params.control_keys) > F.MAX_KEYS:
        raise CommandError("at most {} control keys, got {}".format(F.MAX_KEYS, len(params.control_keys)))
    if len(set(params.control_keys)) != len(params.control_keys):
        raise CommandError("a control key is listed twice")
    if params.control_keys and not 1 <= params.control_threshold <= len(params.control_keys):
        raise CommandError("control threshold {} is not between 1 and {}".format(
            params.control_threshold, len(params.control_keys)))
    if params.control_threshold and not params.control_keys:
        raise CommandError("a control threshold needs control keys (--control-key)")
    if params.version < 1:
        raise CommandError("root version starts at 1")
    fields = [D.uint(F.T_ROOT_VERSION, params.version, 4)]
    fields += [D.field(F.T_ROOT_KEY, k) for k in params.root_keys]
    fields.append(D.uint(F.T_ROOT_THRESHOLD, params.root_threshold, 1))
    fields += [D.field(F.T_UPDATE_KEY, k) for k in params.update_keys]
    fields.append(D.uint(F.T_UPDATE_THRESHOLD, params.update_threshold, 1))
    if params.expires is not None:
        fields.append(D.uint(F.T_ROOT_EXPIRES, params.expires, 8))
    if params.issued:
        fields.append(D.uint(F.T_ROOT_ISSUED, params.issued, 8))
    fields += [D.field(F.T_CONTROL_KEY, k) for k in params.control_keys]
    if params.control_keys:
        fields.append(D.uint(F.T_CONTROL_THRESHOLD, params.control_threshold, 1))
    signed = D.unsigned(F.DOC_ROOT, fields)
    doc = D.assemble(signed, [])
    F.root(doc, F.frame(doc, F.DOC_ROOT))
    return doc


def parse(doc):
    """The Root in doc, signatures not checked (for show and rotate)."""
    return F.root(doc, F.frame(doc, F.DOC_ROOT))


def params_of(root):
    return RootParams(root.version, list(root.root_keys), root.root_threshold,
                      list(root.update_keys), root.update_threshold, root.expires,
                      list(root.control_keys), root.control_threshold, root.issued)


def add_signatures(doc, signers):
    signed, sigs = D.split(doc, F.DOC_ROOT)
    return D.assemble(signed, D.sign(signed, sigs, signers))


def signature_ids(doc):
    return [kid for kid, _ in D.split(doc, F.DOC_ROOT)[1]]


def chain(first, later):
    """Load the provisioned root `first` and apply each rotation in `later`
    (documents, in order), as a device does; return the newest Root."""
    root = trust.load_root(first)
    for doc in later:
        root = trust.rotate(root, doc)
    return root
