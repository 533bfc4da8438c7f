# SPDX-License-Identifier: MIT
"""Build provenance for `mpota sign` (docs/FORMAT.md, "Provenance"): what
the options give, else what git and the environment tell, signed into
the manifest with the release."""

import getpass
import hashlib
import os
import socket
import subprocess

from . import files
from .errors import CommandError

# CI systems' own variables, first found wins (a build id names the run).
_BUILD_IDS = ("MPOTA_BUILD_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "BUILD_NUMBER")
_BUILDERS = (("GITHUB_ACTIONS", "github-actions"), ("GITLAB_CI", "gitlab-ci"),
             ("JENKINS_URL", "jenkins"), ("BUILDKITE", "buildkite"))
MAX_SBOM = 64 * 1024 * 1024


def git_revision(where):
    """The commit checked out where `where` lives, with +dirty if tracked
    files differ from it; "" outside a git work tree or without git."""
    d = where if os.path.isdir(where) else os.path.dirname(os.path.abspath(where))
    try:
        rev = subprocess.run(["git", "-C", d, "rev-parse", "--verify", "HEAD"],
                             capture_output=True, text=True, timeout=30)
        if rev.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", d, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return rev.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def build_id(env):
    for name in _BUILD_IDS:
        if env.get(name):
            return env[name]
    return ""


def builder(env):
    if env.get("MPOTA_BUILDER"):
        return env["MPOTA_BUILDER"]
    for name, who in _BUILDERS:
        if env.get(name):
            return who
    return user_at_host()


def user_at_host():
    """The login name @ this machine's name (uid<N> without a login)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "uid{}".format(os.getuid())
    return "{}@{}".format(user, socket.gethostname())


def sbom_digest(path):
    """SHA-256 of the SBOM file, as bytes."""
    return hashlib.sha256(files.read(path, MAX_SBOM)).digest()


def gather(args, image, issued, env=None):
    """{source_rev, build_id, builder, build_time, sbom_sha256} for
    writer.Params: options first, then git and the environment;
    --no-provenance leaves all five out."""
    env = os.environ if env is None else env
    if args.no_provenance:
        given = [o for o in ("source_rev", "build_id", "builder", "build_time", "sbom")
                 if getattr(args, o) is not None]
        if given:
            raise CommandError("--no-provenance and --{} contradict each other".format(
                given[0].replace("_", "-")))
        return {}
    return {"source_rev": git_revision(image) if args.source_rev is None else args.source_rev,
            "build_id": build_id(env) if args.build_id is None else args.build_id,
            "builder": builder(env) if args.builder is None else args.builder,
            "build_time": issued if args.build_time is None else args.build_time,
            "sbom_sha256": None if args.sbom is None else sbom_digest(args.sbom)}


def add_options(c):
    c.add_argument("--source-rev", metavar="REV",
                   help="source revision built (default: the git commit of IMAGE's directory, "
                        "+dirty if tracked files changed; none outside git)")
    c.add_argument("--build-id", metavar="ID",
                   help="the build's id (default: $MPOTA_BUILD_ID, $GITHUB_RUN_ID, $CI_PIPELINE_ID, "
                        "$BUILD_ID or $BUILD_NUMBER; none if unset)")
    c.add_argument("--builder", metavar="NAME",
                   help="who or what built it (default: $MPOTA_BUILDER, the CI system, else user@host)")
    c.add_argument("--build-time", metavar="TIME",
                   help="when it was built: ISO 8601 (UTC) or Unix seconds (default: the issue time)")
    c.add_argument("--sbom", metavar="FILE",
                   help="software bill of materials: its SHA-256 is signed into the manifest")
    c.add_argument("--no-provenance", action="store_true",
                   help="sign no provenance fields (for byte-identical bundles across machines)")
