# SPDX-License-Identifier: MIT
"""Reports taken in batches (group commit, docs/FLEET.md "Ingest"): a
batch must judge each report exactly as if it had come alone, so a
forged, replayed or broken report next to honest ones neither fails them
nor rides through with them. On SQLite and on PostgreSQL."""

import asyncio

import pytest
from sqlalchemy import func, select

import fleetkit as K
from mpota_host.fleet import db as D
from mpota_host.fleet import intake, queries, reports
from mpota_host.fleet import models as M
from mpota_host.fleet import protocol as P


@pytest.fixture(params=K.BACKENDS)
def eng(request, tmp_path):
    e = K.database(request.param, tmp_path)
    yield e
    e.dispose()


def item(dev, *events):
    """The next report of dev as (device id, seq, tag hex, body)."""
    for e in events:
        dev.log(*e)
    _, data, h = dev.next_report()
    return h["X-Mpota-Device"], h["X-Mpota-Seq"], h["X-Mpota-Tag"], data


def count(eng, table):
    with eng.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def status(result):
    return result.status if isinstance(result, reports.Refused) else "ack {}".format(result)


def test_a_batch_judges_each_report_as_if_it_came_alone(eng, tmp_path):
    devs = list(K.devices(eng, tmp_path, 5).values())
    honest = item(devs[0], ("install", 2))
    # Forgery: devs[1]'s report with one bit of the tag changed.
    did, seq, tag, body = item(devs[1], ("confirmed", 9))
    forged = (did, seq, "{:02x}".format(int(tag[:2], 16) ^ 1) + tag[2:], body)
    # A device nobody enrolled, tagged with a secret of its own.
    ghost = ("ghost-1", "1", P.tag(bytes(32), "ghost-1", 1, body).hex(), body)
    # Replay inside the batch: the same report twice.
    once = item(devs[2], ("boot", 1))
    # Two reports of one device in one batch, in order.
    first = item(devs[3], ("install", 2))
    second = item(devs[3], ("installed", 2))
    # Signed by its device, but not a report.
    broken = (devs[4].device_id, "1", P.tag(devs[4].secret, devs[4].device_id, 1, b"{").hex(), b"{")
    too_large = (devs[4].device_id, "2", "00" * 32, b" " * (P.MAX_BODY + 1))
    got = reports.ingest_many(eng, [honest, forged, ghost, once, once, first, second, broken,
                                    too_large])
    # (Event numbers start at 1: the ack is the highest stored.)
    assert [status(r) for r in got] == ["ack 1", 401, 401, "ack 1", 409, "ack 1", "ack 2",
                                        400, 413]
    # Stored: the honest reports only, each once.
    assert count(eng, M.reports) == 4
    assert sorted(e["kind"] for d in ("dev-00000", "dev-00001", "dev-00002", "dev-00003")
                  for e in queries.device(eng, d)["events"]) == \
        ["boot", "install", "install", "installed"]
    assert queries.device(eng, "dev-00003")["last_kind"] == "installed"
    # The refused ones used up nothing: devs[4]'s seq 1 is still free.
    devs[4].seq = 1
    assert status(reports.ingest_many(eng, [item(devs[4], ("boot", 1))])[0]) == "ack 1"


def test_events_already_stored_are_skipped_in_a_batch_too(eng, tmp_path):
    d = K.devices(eng, tmp_path, 1)["dev-00000"]
    lost = item(d, ("install", 2), ("installed", 2))
    assert reports.ingest_many(eng, [lost]) == [2]
    # The answer was lost; the same events come again with one more.
    again = item(d, ("trial", 2))
    assert reports.ingest_many(eng, [again]) == [3]
    assert count(eng, M.events) == 3


def test_reports_arriving_together_are_written_as_one_batch(eng, tmp_path, monkeypatch):
    devs = list(K.devices(eng, tmp_path, 40).values())
    batches = []
    real = reports.ingest_many

    def counted(e, items, now=None):
        batches.append(len(items))
        return real(e, items, now)

    monkeypatch.setattr(reports, "ingest_many", counted)
    take = intake.Intake(eng)

    async def all_at_once():
        return await asyncio.gather(*(take.take(*item(d, ("install", 2), ("installed", 2)))
                                      for d in devs))

    assert asyncio.run(all_at_once()) == [2] * 40
    assert batches == [40]
    assert count(eng, M.events) == 80


def test_a_report_the_database_fails_fails_no_other(eng, tmp_path, monkeypatch):
    # Fault at the edge: the database refuses whatever batch holds one
    # device's report. Its neighbours are written alone and answered.
    devs = list(K.devices(eng, tmp_path, 6).values())
    real = reports.ingest_many

    def refusing(e, items, now=None):
        if any(i[0] == "dev-00003" for i in items):
            raise RuntimeError("the database refused the transaction")
        return real(e, items, now)

    monkeypatch.setattr(reports, "ingest_many", refusing)
    take = intake.Intake(eng)

    async def all_at_once():
        return await asyncio.gather(*(take.take(*item(d, ("boot", 1))) for d in devs),
                                    return_exceptions=True)

    got = asyncio.run(all_at_once())
    assert [type(r).__name__ for r in got] == ["int"] * 3 + ["RuntimeError"] + ["int"] * 2
    assert count(eng, M.events) == 5


def test_refusals_come_back_as_refusals_from_the_intake(eng, tmp_path):
    d = K.devices(eng, tmp_path, 1)["dev-00000"]
    sent = item(d, ("boot", 1))
    take = intake.Intake(eng)
    assert asyncio.run(take.take(*sent)) == 1
    with pytest.raises(reports.Refused) as e:
        asyncio.run(take.take(*sent))
    assert e.value.status == 409


def test_batches_of_two_processes_never_deadlock(tmp_path):
    # Two service processes, each batching reports of the same devices
    # in opposite orders: claims lock rows in one order (by row id) in
    # every process, so they wait in line instead of in a circle, which
    # PostgreSQL would break by failing one batch (a deadlock).
    import threading
    eng = K.database("postgresql", tmp_path)
    other = D.engine_for(str(eng.url.render_as_string(hide_password=False)))
    devs = list(K.devices(eng, tmp_path, 8).values())
    errors, taken = [], []
    for _ in range(15):
        first = [item(d, ("boot", 1)) for d in devs]
        second = [item(d, ("boot", 1)) for d in devs]
        start = threading.Barrier(2)

        def run(e, items):
            start.wait()
            try:
                taken.extend(r for r in reports.ingest_many(e, items) if isinstance(r, int))
            except Exception as exc:  # a deadlock fails the whole batch
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(eng, first)),
                   threading.Thread(target=run, args=(other, second[::-1]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    other.dispose()
    eng.dispose()
    assert errors == []
    assert len(taken) >= 15 * 8
