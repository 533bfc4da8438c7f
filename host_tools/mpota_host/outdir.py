# SPDX-License-Identifier: MIT
"""Where a bundle is written: in a hidden sibling of the output directory,
renamed into place only once complete. A refusal, a full disk, a signing
failure or Ctrl-C therefore leaves whatever was at the output path as it
was, and no half-written bundle or temporary directory behind.

Replacing (--force) is allowed only for a directory that holds a bundle and
nothing else, so a mistyped -o never deletes files that are not a bundle.
The one exception is the state directory `mpota serve DIR` keeps in the
bundle it serves (its development CA, which devices pin): it moves into the
new bundle, so re-signing a served bundle keeps the server's certificates.
"""

import contextlib
import os
import shutil
import tempfile

from .errors import CommandError

BUNDLE_PARTS = ("manifest", "table", "chunks", "roots", "stream", "keys")
# mpota serve's default state directory: kept, not replaced.
SERVE_STATE = ".mpota-serve"


def check(out, force):
    """Refuse an output path that must not be written or replaced (nothing
    is written here)."""
    if os.path.islink(out):
        raise CommandError("{} is a symbolic link: give the directory itself".format(out))
    if os.path.lexists(out) and not os.path.isdir(out):
        raise CommandError("{} exists and is not a directory".format(out))
    if not os.path.isdir(out):
        ancestor = os.path.dirname(os.path.abspath(out))
        while not os.path.lexists(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not os.path.isdir(ancestor):
            raise CommandError("cannot write {}: {} is not a directory".format(out, ancestor))
        return
    try:
        names = os.listdir(out)
    except OSError as e:
        raise CommandError("cannot read {}: {}".format(out, e.strerror))
    if not names:
        return
    if not os.path.isfile(os.path.join(out, "manifest")):
        raise CommandError("{} is not empty and holds no bundle".format(out))
    if not force:
        raise CommandError("{} holds a bundle (use --force to replace it)".format(out))
    others = sorted(n for n in names if n not in BUNDLE_PARTS
                    and not (n == SERVE_STATE and _real_dir(os.path.join(out, n))))
    if others:
        raise CommandError("{} holds files that are not part of a bundle ({}): move them away "
                           "before replacing it".format(out, ", ".join(others)))


def leftovers(out):
    """What an interrupted sign (a kill, a power cut) left beside `out`:
    [(path, what it holds)], for the user to look at; never deleted here,
    since another sign may be running."""
    parent = os.path.dirname(os.path.abspath(out)) or "."
    base = "." + os.path.basename(os.path.abspath(out))
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    found = []
    for n in names:
        path = os.path.join(parent, n)
        if n.startswith(base + ".tmp-"):
            what = "a bundle that was being written"
            if os.path.isdir(os.path.join(path, SERVE_STATE)):
                what += ", with the {} of mpota serve: move that back first".format(SERVE_STATE)
            found.append((path, what))
        elif n.startswith(base + ".old-"):
            found.append((path, "the bundle it replaced, in bundle/"))
    return found


@contextlib.contextmanager
def staged(out, force):
    """Yield an empty directory to write the bundle into; when the block
    ends without an exception, the directory replaces `out`. Any OSError
    becomes one line naming `out`."""
    check(out, force)
    target = os.path.abspath(out)
    made = []
    try:
        made = _make_parents(os.path.dirname(target))
        tmp = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".tmp-",
                               dir=os.path.dirname(target))
        try:
            yield tmp
            _servable(tmp)
            _swap(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as e:
        _unmake(made)
        raise CommandError("cannot write {}: {}".format(out, e.strerror)) from None
    except BaseException:
        _unmake(made)
        raise


def _make_parents(path):
    """Create the missing directories of `path`; return them, outermost first."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    missing.reverse()
    for p in missing:
        os.mkdir(p)
    return missing


def _unmake(made):
    for p in reversed(made):
        try:
            os.rmdir(p)
        except OSError:
            pass


def _real_dir(path):
    return os.path.isdir(path) and not os.path.islink(path)


def _servable(top):
    # A web server running as another user must be able to read the bundle,
    # whatever the umask (mkdtemp makes 0700 and the writer does not care).
    os.chmod(top, 0o755)
    for where, dirs, names in os.walk(top):
        for d in dirs:
            os.chmod(os.path.join(where, d), 0o755)
        for n in names:
            os.chmod(os.path.join(where, n), 0o644)


def _swap(tmp, target):
    """Rename `tmp` to `target`, bringing mpota serve's state directory
    over from the bundle it replaces."""
    kept = os.path.join(target, SERVE_STATE)
    carried = _real_dir(kept)
    if carried:
        # Into the new bundle first, so it is complete when it appears.
        os.rename(kept, os.path.join(tmp, SERVE_STATE))
    try:
        _replace(tmp, target)
    except BaseException:
        # Back before anything deletes tmp (an error or Ctrl-C alike).
        if carried:
            os.rename(os.path.join(tmp, SERVE_STATE), kept)
        raise


def _replace(tmp, target):
    """Rename `tmp` to `target`; an existing bundle there is moved aside
    first and deleted only once the new one is in place."""
    if not os.path.isdir(target) or not os.listdir(target):
        os.rename(tmp, target)  # replaces an empty directory
        return
    aside = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".old-",
                             dir=os.path.dirname(target))
    old = os.path.join(aside, "bundle")
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old, target)
        os.rmdir(aside)
        raise
    shutil.rmtree(aside, ignore_errors=True)
