# SPDX-License-Identifier: MIT
"""The release ledger (docs/LEDGER.md): every release command run with a
ledger appends a record signed by the key it used; `mpota audit` walks
the chain and finds an edit, a deletion, a reordering, a splice of two
ledgers, a forged record and a ledger cut short."""

import json
import threading

import pytest

from bundles import factory as f
from bundles.cliworld import World, ok, one_line_error, released
from mpota_host import auditcmd, ledger


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv(auditcmd.ENV, str(tmp_path / "ledger"))
    monkeypatch.setenv(auditcmd.WHO_ENV, "alice")
    w = released(tmp_path)
    w.ledger = tmp_path / "ledger"
    return w


def lines(w):
    return w.ledger.read_bytes().split(b"\n")[:-1]


def write(w, ls):
    w.ledger.write_bytes(b"".join(x + b"\n" for x in ls))


def audit(w, *extra):
    return w.mpota("audit", w.ledger, *extra)


def records(w):
    return json.loads(ok(audit(w, "--json")).stdout)["records"]


def test_every_release_command_appends_a_record_signed_by_its_key(world):
    w = world
    ok(w.mpota("cosign", w.b, "-k", w.key("u2")))
    ok(w.control("pause", "fw-2"))
    ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    ok(w.mpota("root", "rotate", w.root, "-o", w.d / "root2", "-k", w.key("root")))
    recs = records(w)
    assert [r["action"] for r in recs] == [
        "root-init", "sign", "rollout-create", "control-run", "cosign", "control-pause",
        "revoke", "root-rotate"]
    key_of = {r["action"]: r["signer"] for r in recs}
    kid = {name: f.Key("cli-rollout-w-" + name).id.hex() for name in ("root", "u1", "u2", "ctl")}
    assert key_of["root-init"] == kid["root"] and key_of["sign"] == kid["u1"]
    assert key_of["cosign"] == kid["u2"] and key_of["control-pause"] == kid["ctl"]
    assert all(r["who"] == "alice" for r in recs)
    # Every key of the records is one the root lists.
    out = ok(audit(w, "--trust", w.root)).stdout
    assert "8 records, chain and signatures good" in out


def test_published_documents_all_have_their_records(world):
    w = world
    assert json.loads(ok(audit(w, "--repo", w.repo, "--json")).stdout)["ok"]


def test_edited_record_is_found(world):
    w = world
    ls = lines(w)
    rec = json.loads(ls[1])
    rec["who"] = "mallory"
    ls[1] = ledger.canonical(rec)
    write(w, ls)
    assert "record 1: bad signature" in one_line_error(audit(w))


def test_record_rewritten_and_signed_by_another_key_breaks_the_chain(world):
    w = world
    ls = lines(w)
    rec = json.loads(ls[1])
    del rec["sig"]
    rec["subject"]["version"] = 99
    mallory = f.Key("mallory")
    rec["public"] = mallory.public.hex()
    rec["signer"] = mallory.id.hex()
    ls[1] = ledger.canonical(dict(rec, sig=mallory.sign(ledger.canonical(rec)).hex()))
    write(w, ls)
    assert "record 2: does not follow record 1" in one_line_error(audit(w))


def test_forged_record_at_the_end_is_refused_by_trust(world):
    w = world
    mallory = f.Key("mallory")
    ledger.append(str(w.ledger), 2e9, "alice", "sign", {"manifest": "0" * 64}, [], mallory)
    ok(audit(w))  # the chain alone holds: anyone with a key can append
    assert "record 4: signed by key" in one_line_error(audit(w, "--trust", w.root))


def test_deleted_record_is_found(world):
    w = world
    ls = lines(w)
    write(w, ls[:1] + ls[2:])
    assert "record 1: numbered 2" in one_line_error(audit(w))


def test_reordered_records_are_found(world):
    w = world
    ls = lines(w)
    write(w, [ls[0], ls[2], ls[1], ls[3]])
    assert "record 1: numbered 2" in one_line_error(audit(w))


def test_renumbered_after_deletion_still_breaks(world):
    # Deleting record 1 and renumbering the rest by hand: the chain and
    # the signatures both say so.
    w = world
    ls = lines(w)
    rec = json.loads(ls[2])
    rec["n"] = 1
    write(w, [ls[0], ledger.canonical(rec)] + ls[3:])
    assert "record 1: does not follow record 0" in one_line_error(audit(w))


def test_truncated_ledger_is_found_by_an_earlier_head_and_by_the_repository(world):
    w = world
    head = ok(audit(w)).stdout.split("head ")[-1].strip()
    write(w, lines(w)[:2])
    ok(audit(w))  # a shorter chain is a chain
    assert "no record hashes to" in one_line_error(audit(w, "--head", head))
    # The records are shown, then the published documents nobody recorded.
    proc = audit(w, "--repo", w.repo)
    assert proc.returncode == 1 and "2 records" in proc.stdout
    assert "with no ledger record" in proc.stderr and "plan" in proc.stderr


def test_spliced_ledgers_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv(auditcmd.ENV, str(tmp_path / "a" / "ledger"))
    a = released(tmp_path / "a")
    monkeypatch.setenv(auditcmd.ENV, str(tmp_path / "b" / "ledger"))
    b = released(tmp_path / "b")
    la = (tmp_path / "a" / "ledger").read_bytes().split(b"\n")[:-1]
    lb = (tmp_path / "b" / "ledger").read_bytes().split(b"\n")[:-1]
    spliced = tmp_path / "spliced"
    spliced.write_bytes(b"".join(x + b"\n" for x in la[:2] + lb[2:]))
    err = one_line_error(a.mpota("audit", spliced))
    assert "record 2: belongs to another ledger" in err


def test_cut_short_last_line_is_found_and_stops_the_next_release(world):
    w = world
    data = w.ledger.read_bytes()
    w.ledger.write_bytes(data[:-20])
    assert "cut short" in one_line_error(audit(w))
    img = w.d / "v3.bin"
    img.write_bytes(f.image(5000, seed=3))
    err = one_line_error(w.mpota("sign", img, "-k", w.key("u1"), "--version", 3,
                                 "--security-counter", 1, "--device-class", "esp32",
                                 "-o", w.d / "v3"))
    assert "cut short" in err
    assert not (w.d / "v3").exists()  # nothing signed, nothing written


def test_without_a_ledger_nothing_is_recorded(tmp_path, monkeypatch):
    monkeypatch.delenv(auditcmd.ENV, raising=False)
    released(tmp_path)
    assert not (tmp_path / "ledger").exists()


def test_appends_from_several_processes_at_once_keep_one_chain(tmp_path):
    path = str(tmp_path / "ledger")
    keys = [f.Key("writer-{}".format(i)) for i in range(4)]

    def writer(k):
        for j in range(10):
            ledger.append(path, 1.8e9, "w", "sign", {"manifest": "{:064x}".format(j)},
                          [k.id.hex()], k)

    threads = [threading.Thread(target=writer, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(path, "rb") as fh:
        got = ledger.check(fh.read().split(b"\n")[:-1])
    assert len(got) == 40
