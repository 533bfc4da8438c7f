# SPDX-License-Identifier: MIT
"""`mpota fleet ...`: serve, migrate, user add, token add, enroll. The
web and database libraries are imported by the handlers, so `mpota`
without the fleet extra still starts."""

import json
import os
import sys

from ..errors import CommandError

DESCRIPTION = """The fleet service (docs/FLEET.md): device identities, authenticated
reports, rollout monitoring with automatic halt, and a dashboard.

  mpota fleet user add admin              # password from stdin
  mpota fleet enroll ids.txt -o secrets/  # one secret per device, mode 0600
  mpota fleet serve --repo REPO --control-key control.key

State: SQLite (WAL) in --state (default ./fleet-state), or --db postgresql://...
shared by any number of service processes."""


def _db_options(c):
    c.add_argument("--state", default="fleet-state", metavar="DIR",
                   help="state directory of the default SQLite store (default ./fleet-state)")
    c.add_argument("--db", metavar="URL",
                   help="postgresql://user:pass@host:port/db instead of SQLite in --state")


def arguments(sub):
    p = sub.add_parser("fleet", help="the fleet service: enroll devices, take reports, watch rollouts",
                       description=DESCRIPTION,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    fs = p.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True)

    c = fs.add_parser("serve", help="run the service (migrates the database first)",
                      description="Run the fleet service: the device report API, the dashboard and "
                                  "the operator API, and the rollout monitor. Applies pending "
                                  "migrations first. Several processes may share one PostgreSQL.")
    _db_options(c)
    c.add_argument("--listen", default="127.0.0.1:8470", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:8470)")
    c.add_argument("--repo", metavar="REPO",
                   help="the published repository (control, plans/, bundles/) to monitor")
    c.add_argument("--control-key", metavar="KEY",
                   help="control key (file or pkcs11: URI) that signs halts and operator actions")
    _ledger_option(c)
    c.add_argument("--monitor-interval", type=float, default=10.0, metavar="S",
                   help="seconds between monitor passes (default 10; 0: no monitor in this process)")
    c.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    c.set_defaults(run=cmd_serve)

    c = fs.add_parser("monitor", help="run the rollout monitor alone (no web server)",
                      description="Count every rollout and halt those the rules say to, every "
                                  "--interval seconds (or --once), without serving HTTP: with "
                                  "several `serve --monitor-interval 0` processes on one "
                                  "PostgreSQL, one monitor process does the counting for all.")
    _db_options(c)
    c.add_argument("--repo", required=True, metavar="REPO", help="the published repository")
    c.add_argument("--control-key", metavar="KEY",
                   help="control key (file or pkcs11: URI) that signs halts")
    _ledger_option(c)
    c.add_argument("--interval", type=float, default=10.0, metavar="S",
                   help="seconds between passes (default 10)")
    c.add_argument("--once", action="store_true", help="one pass, then exit")
    c.set_defaults(run=cmd_monitor)

    c = fs.add_parser("migrate", help="apply pending schema migrations",
                      description="Bring the database schema to the newest migration.")
    _db_options(c)
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(run=cmd_migrate)

    c = fs.add_parser("user", help="add an operator",
                      description="Operators log in to the dashboard and the operator API.")
    us = c.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    a = us.add_parser("add", help="add an operator (password from stdin or --password-file)",
                      description="Add operator NAME. The password is read from --password-file "
                                  "or the first line of standard input; at least 8 characters.")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--password-file", metavar="FILE")
    _db_options(a)
    a.set_defaults(run=cmd_user_add)

    c = fs.add_parser("token", help="make an API token for an operator",
                      description="Print a new bearer token for the operator API (/api/v1/); only "
                                  "its SHA-256 is stored.")
    c.add_argument("name", metavar="NAME")
    _db_options(c)
    c.set_defaults(run=cmd_token)

    c = fs.add_parser("enroll", help="register devices and write their secrets (factory path)",
                      description="Register each device id of IDS_FILE (one a line) and write "
                                  "SECRETS_DIR/<id>.key, 32 random bytes, mode 0600, for the "
                                  "factory to put on the device as its `identity` file. Refuses "
                                  "ids enrolled already. Secrets are never printed.")
    c.add_argument("ids", metavar="IDS_FILE")
    c.add_argument("-o", "--output", required=True, metavar="SECRETS_DIR")
    c.add_argument("--class", dest="device_class", default="", metavar="C",
                   help="the devices' class (as in their plans)")
    c.add_argument("--hw-rev", default="", metavar="R", help="the devices' hardware revision")
    c.add_argument("--json", action="store_true", help="print JSON")
    _db_options(c)
    c.set_defaults(run=cmd_enroll)


def _engine(args):
    try:
        from . import db
    except ImportError as e:
        raise CommandError("the fleet service needs its libraries: pip install 'mpota[fleet]' "
                           "({})".format(e))
    eng = db.engine_for(db.url_for(args.db, args.state))
    try:
        db.migrate(eng)
    except Exception as e:  # a database that cannot be reached: one line, not a traceback
        from sqlalchemy.exc import SQLAlchemyError
        if isinstance(e, SQLAlchemyError):
            raise CommandError("database: {}".format(str(e).splitlines()[0]))
        raise
    return eng


def cmd_migrate(args):
    from . import db
    eng = db.engine_for(db.url_for(args.db, args.state))
    rev = db.migrate(eng)
    if args.json:
        print(json.dumps({"revision": rev}))
    else:
        print("database at migration {}".format(rev))


def cmd_user_add(args):
    from . import users
    if args.password_file:
        try:
            with open(args.password_file) as f:
                pw = f.readline().rstrip("\n")
        except OSError as e:
            raise CommandError("{}: {}".format(args.password_file, e.strerror))
    else:
        if sys.stdin.isatty():
            import getpass
            pw = getpass.getpass("password for {}: ".format(args.name))
        else:
            pw = sys.stdin.readline().rstrip("\n")
    users.add(_engine(args), args.name, pw)
    print("added operator {}".format(args.name))


def cmd_token(args):
    from . import users
    print(users.new_token(_engine(args), args.name))


def cmd_enroll(args):
    from . import enroll
    ids = enroll.read_ids(args.ids)
    n = enroll.enroll(_engine(args), ids, args.output, args.device_class, args.hw_rev)
    if args.json:
        print(json.dumps({"enrolled": n, "secrets": os.path.abspath(args.output)}))
    else:
        print("enrolled {} devices; secrets in {}/<id>.key".format(n, args.output))


def _ledger_option(c):
    c.add_argument("--ledger", metavar="FILE",
                   help="append a signed record of each control document it publishes to the "
                        "release ledger FILE (default $MPOTA_LEDGER; none: nothing recorded)")


def _ledger(args):
    from .. import auditcmd
    return args.ledger or os.environ.get(auditcmd.ENV) or None


def cmd_monitor(args):
    if not os.path.isdir(args.repo):
        raise CommandError("--repo {}: not a directory".format(args.repo))
    eng = _engine(args)
    import time
    from . import rollouts
    publisher = rollouts.Publisher(args.repo, args.control_key, _ledger(args))
    while True:
        started = time.monotonic()
        for sha, reason in rollouts.run_once(eng, args.repo, publisher):
            print("halted {}: {}".format(sha[:16], reason), flush=True)
        if args.once:
            return
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))


def _listen(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError("--listen {}: give HOST:PORT".format(text))
    return host.strip("[]"), int(port)


def cmd_serve(args):
    host, port = _listen(args.listen)
    if args.repo and not os.path.isdir(args.repo):
        raise CommandError("--repo {}: not a directory".format(args.repo))
    if args.control_key and not (args.control_key.startswith("pkcs11:")
                                 or os.path.isfile(args.control_key)):
        raise CommandError("--control-key {}: no such file".format(args.control_key))
    eng = _engine(args)
    import uvicorn
    from . import app as web
    svc = web.Service(eng, args.repo, args.control_key, args.monitor_interval, _ledger(args))
    application = web.create_app(svc)
    print("mpota fleet: serving on http://{}:{}/ ({})".format(
        host, port, "PostgreSQL" if eng.dialect.name == "postgresql" else
        "SQLite in " + os.path.abspath(args.state)), flush=True)
    uvicorn.run(application, host=host, port=port, log_level=args.log_level,
                access_log=False, lifespan="on")
