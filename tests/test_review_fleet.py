# SPDX-License-Identifier: MIT
"""Found in the security review of the fleet service (issue 12): inputs
from devices and operators that reached a server error or a spreadsheet
formula. SQLite only: nothing here depends on the database."""

import csv
import io

import pytest
from starlette.testclient import TestClient

import fleetkit as K
from mpota_host.fleet import app as web
from mpota_host.fleet import client as C
from mpota_host.fleet import monitor
from mpota_host.fleet import protocol as P
from mpota_host.fleet import users


@pytest.fixture
def svc(tmp_path):
    eng = K.database("sqlite", tmp_path)
    K.cheap_passwords()
    users.add(eng, "alice", "correct horse battery")
    pub = K.Published(tmp_path)
    s = web.Service(eng, pub.path, str(pub.control_key), monitor_interval=0)
    s.devs = K.devices(eng, tmp_path, 2)
    s.pub = pub
    s.monitor_once()
    yield s
    eng.dispose()


@pytest.fixture
def http(svc):
    with TestClient(web.create_app(svc), raise_server_exceptions=False) as tc:
        yield tc


def test_deeply_nested_report_body_is_refused_as_malformed(svc, http):
    # A device with a good secret (or a bug) nests arrays past Python's
    # recursion limit: a 400 like any malformed body, not a server error.
    d = svc.devs["dev-00000"]
    data = b'{"v":1,"x":' + b"[" * 2000 + b"]" * 2000 + b"}"
    r = http.post(P.PATH, content=data, headers=C.headers(d.device_id, d.secret, 1, data))
    assert r.status_code == 400
    # The sequence number was not used up by the refused report.
    data = C.body(1)
    assert http.post(P.PATH, content=data,
                     headers=C.headers(d.device_id, d.secret, 1, data)).status_code == 200


def test_csv_export_does_not_hand_a_spreadsheet_a_formula_from_a_device(svc, http):
    d = svc.devs["dev-00000"]
    data = C.body(1, reset='=HYPERLINK("http://evil.example/","x")', sha="+cmd|'/C calc'!A")
    assert http.post(P.PATH, content=data,
                     headers=C.headers(d.device_id, d.secret, 1, data)).status_code == 200
    token = users.new_token(svc.eng, "alice")
    r = http.get("/devices.csv", headers={"Authorization": "Bearer " + token})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    row = next(x for x in rows if x["device_id"] == "dev-00000")
    for col in ("reset", "sha"):
        assert row[col][0] not in "=+-@\t\r", (col, row[col])
    assert row["reset"].endswith('=HYPERLINK("http://evil.example/","x")')


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_halt_rule_that_is_not_a_number_cannot_switch_the_rule_off(value):
    # NaN compares false with everything: "over NaN % failed" never halts.
    for rule in ("wave_fail_percent", "silent_hours"):
        with pytest.raises(ValueError):
            monitor.check_rules({rule: value})


@pytest.mark.parametrize("cap", ["50.5", "true", "Infinity", "NaN"])
def test_cap_that_is_not_whole_basis_points_is_refused_not_a_server_error(svc, http, cap):
    token = users.new_token(svc.eng, "alice")
    before = (svc.pub.repo.path / "control").read_bytes()
    r = http.post("/api/v1/rollouts/{}/action".format(svc.pub.sha),
                  content='{{"action": "cap", "cap_bp": {}}}'.format(cap),
                  headers={"Authorization": "Bearer " + token,
                           "Content-Type": "application/json"})
    assert r.status_code in (400, 409)
    assert (svc.pub.repo.path / "control").read_bytes() == before


def test_operator_inputs_past_the_parsers_limits_are_refused_not_a_server_error(svc, http):
    token = users.new_token(svc.eng, "alice")
    r = http.post("/api/v1/rollouts/{}/action".format(svc.pub.sha), content=b"[" * 100000,
                  headers={"Authorization": "Bearer " + token,
                           "Content-Type": "application/json"})
    assert r.status_code == 400
    from mpota_host.fleet.app import _cap
    from mpota_host.errors import CommandError

    for text in ("inf", "1e999", "nan", "x"):
        with pytest.raises(CommandError):
            _cap({"percent": text})


def test_enrolling_a_device_id_that_climbs_out_of_the_secrets_folder_is_refused(tmp_path):
    import pytest

    from mpota_host.errors import CommandError
    from mpota_host.fleet import enroll

    for bad in ("../evil", "a/b", "..", "x\\y"):
        ids = tmp_path / "ids.txt"
        ids.write_text("good-1\n{}\n".format(bad))
        with pytest.raises(CommandError) as e:
            enroll.read_ids(str(ids))
        assert "cannot name a file" in str(e.value)
    assert not (tmp_path / "evil.key").exists()
