# SPDX-License-Identifier: MIT
"""The fleet service's web application (Starlette). Two APIs kept apart:
/api/device/v1/ for devices (one route, shape fixed by the protocol) and
the operator side (dashboard pages, /api/v1/ JSON, CSV). Handlers are
thin: the logic is in reports.py, rollouts.py and queries.py."""

import asyncio
import csv
import hmac
import io
import json
import logging
import os
import re
import threading
import time
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import (JSONResponse, PlainTextResponse, RedirectResponse,
                                 StreamingResponse)
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..errors import CommandError
from . import charts, csrf, db as D, intake, protocol as P, queries, reports, rollouts
from . import users

log = logging.getLogger("mpota.fleet")
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web", "templates")
SESSION_COOKIE = "mpota_session"
PAGE = 50


def _when(t):
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _pct(bp):
    return "-" if bp is None else "{:g}%".format(bp / 100.0)


class Service:
    """What every handler needs: the engine, the repository, the publisher."""

    def __init__(self, eng, repo=None, control_key=None, monitor_interval=10.0, ledger=None):
        self.eng = eng
        self.intake = intake.Intake(eng)
        self.repo = repo
        self.publisher = rollouts.Publisher(repo, control_key, ledger) if repo else None
        self.monitor_interval = monitor_interval
        self._stop = threading.Event()
        self._thread = None

    def monitor_once(self):
        if self.repo:
            return rollouts.run_once(self.eng, self.repo, self.publisher)
        return []

    def start(self):
        if self.repo and self.monitor_interval > 0:
            self._thread = threading.Thread(target=self._loop, name="fleet-monitor", daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self):
        while not self._stop.is_set():
            try:
                for sha, reason in self.monitor_once():
                    log.warning("halted %s: %s", sha[:16], reason)
            except Exception:  # the monitor must outlive a bad pass; the next one retries
                log.exception("monitor pass failed")
            self._stop.wait(self.monitor_interval)


# Authentication ------------------------------------------------------------

def _user(request):
    svc = request.app.state.svc
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return users.user_for_token(svc.eng, auth[7:].strip())
    return request.session.get("user")


def page(fn):
    """A dashboard page: logged-in operators only, else the login page."""
    async def wrapped(request):
        user = _user(request)
        if user is None:
            if request.method != "GET":
                return PlainTextResponse("login required", status_code=401)
            return RedirectResponse("/login?next=" + request.url.path, status_code=303)
        request.state.user = user
        return await fn(request)
    return wrapped


def api(fn):
    """A JSON API route: a session or a bearer token, else 401."""
    async def wrapped(request):
        user = await run_in_threadpool(_user, request)
        if user is None:
            return JSONResponse({"error": "login required"}, status_code=401)
        request.state.user = user
        return await fn(request)
    return wrapped


def render(request, name, **ctx):
    ctx.update(user=getattr(request.state, "user", None), csrf=request.state.csrftoken,
               when=_when, pct=_pct)
    return request.app.state.templates.TemplateResponse(request, name, ctx)


# The device API: one route, its shape fixed by the protocol ------------------

async def device_report(request):
    svc = request.app.state.svc
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > P.MAX_BODY):
        return JSONResponse({"error": "too large"}, status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > P.MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
    h = request.headers
    try:
        ack = await svc.intake.take(h.get(P.H_DEVICE), h.get(P.H_SEQ), h.get(P.H_TAG), body)
    except reports.Refused as e:
        return JSONResponse({"error": e.reason}, status_code=e.status)
    return JSONResponse({"ack": ack})


# Login ---------------------------------------------------------------------

def _safe_next(target):
    return target if target and re.fullmatch(r"/(?!/)[A-Za-z0-9/_.%-]*", target) else "/"


async def login(request):
    svc = request.app.state.svc
    if request.method == "GET":
        return render(request, "login.html", error=None, next=_safe_next(request.query_params.get("next")))
    form = await request.form()
    # No session cookie yet, so the middleware does not check this form:
    # the same double-submit check here (login CSRF).
    sent, have = str(form.get(csrf.FIELD, "")), request.cookies.get(csrf.FIELD, "")
    if not sent or not hmac.compare_digest(sent.encode(), have.encode()):
        return PlainTextResponse("CSRF token verification failed", status_code=403)
    name = str(form.get("name", ""))
    user = await run_in_threadpool(users.check_password, svc.eng, name, str(form.get("password", "")))
    if user is None:
        await run_in_threadpool(_audit, svc, name or "?", "login-failed", None, "bad name or password")
        return render(request, "login.html", error="Wrong name or password.",
                      next=_safe_next(form.get("next")))
    request.session.clear()
    request.session["user"] = user
    await run_in_threadpool(_audit, svc, user, "login", None, "")
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


async def logout(request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _audit(svc, actor, action, plan, detail):
    with svc.eng.begin() as conn:
        rollouts.audit(conn, actor, action, plan, detail)


# Pages ---------------------------------------------------------------------

def _overview(svc):
    # What the last monitor pass (in this process or another) counted and
    # drew, unless it is over 5 minutes old: then, or with no monitor
    # running anywhere, counted now.
    snap = queries.stored_overview(svc.eng, max(300.0, 3 * svc.monitor_interval))
    if snap is None:
        o = queries.overview(svc.eng)
        snap = {"o": o, "versions_svg": charts.versions(o["versions"]),
                "trend_svg": charts.trend(o["trend"]), "at": time.time()}
    return snap


@page
async def overview(request):
    snap = await run_in_threadpool(_overview, request.app.state.svc)
    return render(request, "overview.html", o=snap["o"], versions_svg=snap["versions_svg"],
                  trend_svg=snap["trend_svg"], counted=snap["at"])


def _rollout_page(svc, sha):
    fig = rollouts.snapshot(svc.eng, sha)
    if fig is None:
        return None
    return fig, queries.rollbacks(svc.eng, fig["version"]), queries.audit(svc.eng, 50, sha)


@page
async def rollout(request):
    svc = request.app.state.svc
    got = await run_in_threadpool(_rollout_page, svc, request.path_params["sha"])
    if got is None:
        return render(request, "error.html", message="No such rollout.", status_code=404)
    fig, rbs, trail = got
    return render(request, "rollout.html", f=fig, chart=charts.waves(fig), rollbacks=rbs,
                  trail=trail, message=request.query_params.get("msg"))


def _cap(form):
    text = str(form.get("percent", "")).strip().rstrip("%")
    try:
        return int(round(float(text) * 100))
    except (ValueError, OverflowError):
        raise CommandError("cap: give a percentage")


@page
async def rollout_action(request):
    svc = request.app.state.svc
    sha = request.path_params["sha"]
    form = await request.form()
    action = str(form.get("action", ""))
    try:
        cap = _cap(form) if action == "cap" else None
        if svc.publisher is None:
            raise CommandError("the service was started without --repo")
        await run_in_threadpool(rollouts.act, svc.eng, svc.publisher, sha, action,
                                request.state.user, cap)
        msg = "{}: done".format(action)
    except CommandError as e:
        msg = "{} refused: {}".format(action, e)
    return RedirectResponse("/rollouts/{}?msg={}".format(sha, _q(msg)), status_code=303)


def _q(text):
    from urllib.parse import quote
    return quote(text, safe="")


@page
async def rules_form(request):
    svc = request.app.state.svc
    form = await request.form()
    sha = form.get("plan") or None
    rules = {}
    for k, t in rollouts.monitor.RULE_TYPES.items():
        if t is bool:
            rules[k] = form.get(k) == "on"
        elif form.get(k, "") != "":
            rules[k] = str(form.get(k))
    try:
        await run_in_threadpool(rollouts.set_rules, svc.eng, request.state.user, rules, sha)
        msg = "rules saved"
    except (ValueError, CommandError) as e:
        msg = "rules refused: {}".format(e)
    return RedirectResponse("/rollouts/{}?msg={}".format(sha, _q(msg)) if sha else "/audit",
                            status_code=303)


def _version_arg(text):
    return int(text) if text and text.isdigit() else None


@page
async def devices(request):
    svc = request.app.state.svc
    q = request.query_params.get("q", "")[:32]
    version = _version_arg(request.query_params.get("version"))
    pg = max(0, _version_arg(request.query_params.get("page")) or 0)
    rows, more = await run_in_threadpool(queries.devices, svc.eng, q, version, pg * PAGE, PAGE)
    return render(request, "devices.html", rows=rows, more=more, q=q, version=version, page=pg)


# Columns whose text a device reports: a cell a spreadsheet would run as a
# formula (=, +, -, @, tab, CR first) gets a ' in front.
_REPORTED = ("sha", "last_reason", "reset")


def _cell(col, v):
    if v is None:
        return ""
    if col in _REPORTED and isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


CSV_COLUMNS = ("device_id", "device_class", "hw_rev", "version", "sha", "trial", "last_seen",
               "last_kind", "last_reason", "reset", "dropped", "reports", "enrolled")


def _csv_rows(svc):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for d in queries.iter_devices(svc.eng):
        buf.seek(0)
        buf.truncate()
        w.writerow([_cell(c, d[c]) for c in CSV_COLUMNS])
        yield buf.getvalue()


async def devices_csv(request):
    if await run_in_threadpool(_user, request) is None:
        return PlainTextResponse("login required", status_code=401)
    svc = request.app.state.svc
    return StreamingResponse(_csv_rows(svc), media_type="text/csv",
                             headers={"content-disposition": "attachment; filename=devices.csv"})


@page
async def device(request):
    svc = request.app.state.svc
    info = await run_in_threadpool(queries.device, svc.eng, request.path_params["device_id"])
    if info is None:
        return render(request, "error.html", message="No such device.", status_code=404)
    return render(request, "device.html", d=info)


@page
async def audit_page(request):
    svc = request.app.state.svc
    trail = await run_in_threadpool(queries.audit, svc.eng, 500)
    with svc.eng.connect() as conn:
        rules = json.loads(D.get_setting(conn, "rules", "{}"))
    return render(request, "audit.html", trail=trail,
                  rules=rollouts.monitor.check_rules(rules))


# The operator JSON API -----------------------------------------------------

@api
async def api_overview(request):
    return JSONResponse(await run_in_threadpool(queries.overview, request.app.state.svc.eng))


@api
async def api_rollouts(request):
    return JSONResponse(await run_in_threadpool(queries.rollouts, request.app.state.svc.eng))


@api
async def api_rollout(request):
    # ?live=1 counts now instead of reading the last monitor pass's figures.
    count = rollouts.figures if request.query_params.get("live") else rollouts.snapshot
    fig = await run_in_threadpool(count, request.app.state.svc.eng, request.path_params["sha"])
    if fig is None:
        return JSONResponse({"error": "no such rollout"}, status_code=404)
    return JSONResponse(fig)


@api
async def api_rollout_action(request):
    svc = request.app.state.svc
    try:
        body = await request.json()
        action = body["action"]
        cap = body.get("cap_bp")
        if svc.publisher is None:
            raise CommandError("the service was started without --repo")
        await run_in_threadpool(rollouts.act, svc.eng, svc.publisher, request.path_params["sha"],
                                action, request.state.user, cap)
    except (ValueError, KeyError, TypeError, RecursionError):
        return JSONResponse({"error": "give {\"action\": ..., \"cap_bp\": ...}"}, status_code=400)
    except CommandError as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    return JSONResponse({"ok": True})


@api
async def api_devices(request):
    svc = request.app.state.svc
    p = request.query_params
    pg = max(0, _version_arg(p.get("page")) or 0)
    rows, more = await run_in_threadpool(queries.devices, svc.eng, p.get("q", "")[:32],
                                         _version_arg(p.get("version")), pg * PAGE, PAGE)
    return JSONResponse({"devices": rows, "more": more})


@api
async def api_device(request):
    info = await run_in_threadpool(queries.device, request.app.state.svc.eng,
                                   request.path_params["device_id"])
    if info is None:
        return JSONResponse({"error": "no such device"}, status_code=404)
    return JSONResponse(info)


@api
async def api_audit(request):
    return JSONResponse(await run_in_threadpool(queries.audit, request.app.state.svc.eng, 500))


async def healthz(request):
    return PlainTextResponse("ok")


def create_app(svc):
    with svc.eng.connect() as conn:
        key = D.get_setting(conn, "session_key")
    if key is None:
        raise CommandError("the database has no session key: run `mpota fleet migrate`")

    @asynccontextmanager
    async def lifespan(app):
        svc.start()
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, svc.stop)

    routes = [
        Route("/healthz", healthz),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/rollouts/{sha:str}", rollout),
        Route("/rollouts/{sha:str}/action", rollout_action, methods=["POST"]),
        Route("/rules", rules_form, methods=["POST"]),
        Route("/devices", devices),
        Route("/devices.csv", devices_csv),
        Route("/devices/{device_id:str}", device),
        Route("/audit", audit_page),
        Route("/api/v1/overview", api_overview),
        Route("/api/v1/rollouts", api_rollouts),
        Route("/api/v1/rollouts/{sha:str}", api_rollout),
        Route("/api/v1/rollouts/{sha:str}/action", api_rollout_action, methods=["POST"]),
        Route("/api/v1/devices", api_devices),
        Route("/api/v1/devices/{device_id:str}", api_device),
        Route("/api/v1/audit", api_audit),
    ]
    middleware = [
        # CSRF first: a forged form never reaches a handler. Checked on every
        # unsafe request that carries the session cookie (a bearer-token
        # script carries none); the login form checks its own.
        Middleware(csrf.FormCSRFMiddleware, secret=key, sensitive_cookies={SESSION_COOKIE}),
        Middleware(SessionMiddleware, secret_key=key, session_cookie=SESSION_COOKIE,
                   max_age=12 * 3600, same_site="lax"),
    ]
    operator = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    operator.state.svc = svc
    operator.state.templates = Jinja2Templates(directory=TEMPLATES)
    # The device API is an application of its own: no session, no CSRF
    # cookie, nothing of the operator side on the path every report takes.
    device_api = Starlette(routes=[Route(P.PATH, device_report, methods=["POST"])])
    device_api.state.svc = svc
    return Split(device_api, operator)


class Split:
    """Requests under /api/device/ go to the device application, all
    others (and the lifespan) to the operator application."""

    def __init__(self, device, operator):
        self.device = device
        self.operator = operator

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/api/device/"):
            await self.device(scope, receive, send)
        else:
            await self.operator(scope, receive, send)
