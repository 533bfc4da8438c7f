# SPDX-License-Identifier: MIT
"""Attacks on the fleet service through its HTTP interface, on SQLite and
PostgreSQL: each test is named after the attack it proves harmless."""

import base64
import logging
import re
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

import fleetkit as K
from mpota_host.fleet import app as web
from mpota_host.fleet import client as C
from mpota_host.fleet import protocol as P
from mpota_host.fleet import users

PASSWORD = "correct horse battery"


@pytest.fixture(params=K.BACKENDS)
def svc(request, tmp_path):
    eng = K.database(request.param, tmp_path)
    K.cheap_passwords()
    users.add(eng, "alice", PASSWORD)
    pub = K.Published(tmp_path)
    s = web.Service(eng, pub.path, str(pub.control_key), monitor_interval=0)
    s.devs = K.devices(eng, tmp_path, 3)
    s.pub = pub
    s.monitor_once()
    yield s
    eng.dispose()


@pytest.fixture
def http(svc):
    with TestClient(web.create_app(svc)) as tc:
        yield tc


def post(http, data, hdrs):
    return http.post(P.PATH, content=data, headers=hdrs)


def login(http, password=PASSWORD):
    page = http.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    r = http.post("/login", data={"name": "alice", "password": password, "csrftoken": token,
                                  "next": "/"}, follow_redirects=False)
    return r, token


def test_report_with_a_good_tag_is_taken(svc, http):
    d = svc.devs["dev-00000"]
    d.log("boot", 1)
    _, data, h = d.next_report()
    r = post(http, data, h)
    assert (r.status_code, r.json()) == (200, {"ack": 1})
    # The device API is kept apart: no session or CSRF cookie is handed out.
    assert "set-cookie" not in r.headers


def test_forged_tag_is_refused(svc, http):
    d = svc.devs["dev-00000"]
    _, data, h = d.next_report()
    h["X-Mpota-Tag"] = C.headers(d.device_id, b"\x01" * 32, int(h["X-Mpota-Seq"]),
                                 data)["X-Mpota-Tag"]
    assert post(http, data, h).status_code == 401


def test_body_changed_after_signing_is_refused(svc, http):
    d = svc.devs["dev-00000"]
    _, data, h = d.next_report()
    assert post(http, data.replace(b'"version":1', b'"version":9'), h).status_code == 401


def test_tag_made_with_another_devices_secret_is_refused(svc, http):
    a, b = svc.devs["dev-00000"], svc.devs["dev-00001"]
    data = C.body(1)
    h = C.headers(b.device_id, a.secret, 1, data)
    assert post(http, data, h).status_code == 401


def test_unknown_device_is_refused(svc, http):
    data = C.body(1)
    assert post(http, data, C.headers("intruder-1", bytes(32), 1, data)).status_code == 401
    # A secret of zeros is no key to the unknown-device path either.
    assert post(http, data, C.headers("intruder-1", b"\x00" * 32, 2, data)).status_code == 401


def test_replayed_seq_is_refused(svc, http):
    d = svc.devs["dev-00000"]
    d.log("install", 2)
    _, data, h = d.next_report()
    assert post(http, data, h).status_code == 200
    assert post(http, data, h).status_code == 409
    # An older seq, properly signed, is refused as well.
    d.seq = 0
    _, data, h = d.next_report()
    assert post(http, data, h).status_code == 409


def test_oversized_body_is_refused(svc, http):
    d = svc.devs["dev-00000"]
    data = C.body(1, reset="x" * 10)[:-1] + b',"pad":"' + b"a" * P.MAX_BODY + b'"}'
    h = C.headers(d.device_id, d.secret, 5, data)
    assert post(http, data, h).status_code == 413

    def chunks():  # no Content-Length: the stream is cut at the limit
        for _ in range(8):
            yield b"a" * 1024
    assert http.post(P.PATH, content=chunks(), headers=h).status_code == 413


def test_malformed_headers_are_refused(svc, http):
    d = svc.devs["dev-00000"]
    for header, value in (("X-Mpota-Seq", "-1"), ("X-Mpota-Seq", "01"), ("X-Mpota-Seq", "1e3"),
                          ("X-Mpota-Seq", "4294967296"), ("X-Mpota-Tag", "zz" * 32),
                          ("X-Mpota-Tag", "ab"), ("X-Mpota-Device", "a b"),
                          ("X-Mpota-Device", "x" * 33)):
        _, data, h = d.next_report()
        h[header] = value
        assert post(http, data, h).status_code == 400, (header, value)
    for header in ("X-Mpota-Seq", "X-Mpota-Tag", "X-Mpota-Device"):
        _, data, h = d.next_report()
        del h[header]
        assert post(http, data, h).status_code == 400, header


def test_well_signed_malformed_body_is_refused_and_not_stored(svc, http):
    d = svc.devs["dev-00000"]
    for data in (b"[]", b'{"v":2}', b'{"v":1,"run":{"version":-1,"sha":"","trial":0,"reset":""}}',
                 C.body(1, events=[(1, "exploded", 1, "")])):
        assert post(http, data, C.headers(d.device_id, d.secret, 7, data)).status_code == 400
    assert http.get("/api/v1/devices/dev-00000").status_code == 401  # (no login here)


def test_secret_never_in_api_output_or_logs(svc, http, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    d = svc.devs["dev-00000"]
    d.log("install", 2)
    _, data, h = d.next_report()
    post(http, data, h)
    login(http)
    token = users.new_token(svc.eng, "alice")
    seen = []
    for path in ("/", "/devices", "/devices/dev-00000", "/devices.csv", "/audit",
                 "/rollouts/" + svc.pub.sha, "/api/v1/overview", "/api/v1/devices",
                 "/api/v1/devices/dev-00000", "/api/v1/rollouts", "/api/v1/audit",
                 "/api/v1/rollouts/" + svc.pub.sha):
        r = http.get(path)
        assert r.status_code == 200, path
        seen.append(r.text)
        seen.append(str(r.headers))
    r = http.get("/api/v1/devices/dev-00000", headers={"Authorization": "Bearer " + token})
    seen.append(r.text)
    # The CLI's output too.
    ids = tmp_path / "more.txt"
    ids.write_text("cli-1\n")
    got = subprocess.run([sys.executable, "-m", "mpota_host.cli", "fleet", "enroll", str(ids),
                          "-o", str(tmp_path / "cli-secrets"), "--json"]
                         + (["--db", str(svc.eng.url.render_as_string(hide_password=False))
                             .replace("+psycopg", "")] if svc.eng.dialect.name == "postgresql"
                            else ["--state", str(tmp_path / "fleet-state")]),
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    cli_secret = (tmp_path / "cli-secrets" / "cli-1.key").read_bytes()
    seen += [got.stdout, got.stderr, caplog.text]
    everything = "\n".join(seen)
    assert "dev-00000" in everything
    for secret in (d.secret, cli_secret):
        for form in (secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(),
                     base64.urlsafe_b64encode(secret).decode().rstrip("=")):
            assert form not in everything


def test_anonymous_write_is_refused(svc, http):
    sha = svc.pub.sha
    page = http.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    for path, form in (("/rollouts/{}/action".format(sha), {"action": "halt"}),
                       ("/rules", {"canary_failures": "9"})):
        r = http.post(path, data=dict(form, csrftoken=token), follow_redirects=False)
        assert r.status_code == 401
    r = http.post("/api/v1/rollouts/{}/action".format(sha), json={"action": "halt"})
    assert r.status_code == 401
    r = http.post("/api/v1/rollouts/{}/action".format(sha), json={"action": "halt"},
                  headers={"Authorization": "Bearer mpf_not-a-token"})
    assert r.status_code == 401
    assert svc.monitor_once() == [] and http.get("/api/v1/rollouts").status_code == 401
    from mpota_host.fleet import rollouts
    assert rollouts.figures(svc.eng, sha)["state"] == "run"


def test_csrf_missing_is_refused(svc, http):
    r, token = login(http)
    assert r.status_code == 303
    sha = svc.pub.sha
    for form in ({"action": "pause"}, {"action": "pause", "csrftoken": "forged"},
                 {"action": "pause", "csrftoken": token[:-2] + "xx"}):
        r = http.post("/rollouts/{}/action".format(sha), data=form, follow_redirects=False)
        assert r.status_code == 403
    from mpota_host.fleet import rollouts
    assert rollouts.figures(svc.eng, sha)["state"] == "run"
    # With the token the same press works.
    r = http.post("/rollouts/{}/action".format(sha), data={"action": "pause", "csrftoken": token},
                  follow_redirects=False)
    assert r.status_code == 303
    assert rollouts.figures(svc.eng, sha)["state"] == "pause"


def test_login_form_without_csrf_token_is_refused(svc, http):
    http.get("/login")
    r = http.post("/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert http.get("/api/v1/overview").status_code == 401


def test_wrong_password_does_not_log_in(svc, http):
    r, _ = login(http, password="guess-guess")
    assert r.status_code == 200 and "Wrong name or password" in r.text
    assert http.get("/api/v1/overview").status_code == 401


def test_open_redirect_after_login_is_refused(svc, http):
    page = http.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    r = http.post("/login", data={"name": "alice", "password": PASSWORD, "csrftoken": token,
                                  "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_logout_ends_the_session_in_the_browser(svc, http):
    # The session lives in the signed cookie (docs/FLEET.md, "Not done": a
    # copy of it stays valid until it expires).
    r, token = login(http)
    assert http.get("/api/v1/overview").status_code == 200
    http.post("/logout", data={"csrftoken": token}, follow_redirects=False)
    assert http.get("/api/v1/overview").status_code == 401


def test_csv_export_lists_every_device_for_a_token_holder(svc, http):
    token = users.new_token(svc.eng, "alice")
    r = http.get("/devices.csv")
    assert r.status_code == 401
    r = http.get("/devices.csv", headers={"Authorization": "Bearer " + token})
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("device_id,") and "secret" not in lines[0]
    assert sorted(x.split(",")[0] for x in lines[1:]) == sorted(svc.devs)
