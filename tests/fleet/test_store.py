"""The store on a real SQLite file and a real PostgreSQL: one schema, idempotent, batched, with a report."""

from __future__ import annotations

import json
import time

import pytest


from fleet import report
from fleet.errors import StoreError, StoreUnavailable
from fleet.records import Image, Malformed, Result, Status, parse
from fleet.store import open_store

pytest.importorskip("nats", reason="the receiving side's extra is not installed (pip install 'unseen[fleet]')")


def result(device: str, seq: int, rid: str | None = None, t: float = 0.0) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_700_000_000 + (t or seq))) + ".000+00:00"
    return json.dumps({"id": rid or f"{device}-{seq}", "device": device, "seq": seq, "time": stamp,
                       "top": [{"label": "7", "score": 0.75}], "latency_ms": {"total": 4.5},
                       "layers": {"conv1": {"mean": 0.1}}, "backend": "numpy", "model_sha256": "ab" * 32}).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "results.sqlite")
    return request.getfixturevalue("pg_url")


def test_parsing_survives_any_payload():
    assert isinstance(parse("unseen/cam/result", result("cam", 3), "unseen"), Result)
    for junk in (b"", b"\xff\xfe", b"[1]", b'{"id": "x"}', b'{"id": "../x", "seq": 1, "time": "2026-01-01"}',
                 b'{"id": "a", "seq": -1, "time": "2026-01-01"}', b'{"id": "a", "seq": 1, "time": "never"}',
                 b'{"id": "a", "seq": true, "time": "2026-01-01"}'):
        assert isinstance(parse("unseen/cam/result", junk, "unseen"), Malformed), junk
    assert isinstance(parse("unseen/cam/status", b'{"state": "running", "time": 5}', "unseen"), Status)
    assert parse("unseen/cam/status", b'{"state": "offline"}', "unseen").time is None  # a will
    assert isinstance(parse("unseen/cam/layers/conv1", b"GIF89a", "unseen"), Malformed)
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 10
    with_id = parse("unseen/cam/layers/conv1", png, "unseen", "r1:conv1")
    assert isinstance(with_id, Image) and with_id.id == "r1:conv1" and with_id.result_id == "r1"
    # MQTT 3.1.1 has no user property: the bytes are the key, so a redelivery has the same id.
    assert parse("unseen/cam/layers/conv1", png, "unseen").id == parse("unseen/cam/layers/conv1", png, "unseen").id
    assert parse("unseen/cam/cmd/set", b"{}", "unseen") is None
    assert parse("other/cam/result", result("cam", 1), "unseen") is None


def test_writes_are_idempotent_on_the_result_id(db, tmp_path):
    store = open_store(db, tmp_path / "images")
    batch = [parse("unseen/cam/result", result("cam", i), "unseen") for i in range(1, 11)]
    batch += [parse("unseen/cam/result", result("cam", 3), "unseen"), parse("unseen/cam/result", b"??", "unseen"),
              parse("unseen/cam/layers/conv1", b"\x89PNG\r\n\x1a\nabc", "unseen", "cam-1:conv1")]
    first = store.write(batch)
    assert (first.stored, first.duplicates, first.malformed, first.images) == (10, 1, 1, 1)
    again = store.write(batch)  # the whole batch redelivered
    assert (again.stored, again.duplicates, again.images) == (0, 11, 0)
    assert store.query("SELECT COUNT(*) FROM results")[0][0] == 10
    row = store.query("SELECT device, seq, top_label, top_score, total_ms, backend FROM results WHERE id = 'cam-3'")
    assert row == [("cam", 3, "7", 0.75, 4.5, "numpy")]
    path = store.query("SELECT path FROM layer_images")[0][0]
    assert (tmp_path / "images" / path).read_bytes().startswith(b"\x89PNG")
    assert store.query("SELECT results, duplicates, malformed, images FROM devices") == [(10, 12, 2, 1)]
    store.close()


def test_report_finds_gaps_restarts_and_duplicates(db, tmp_path):
    store = open_store(db)
    seqs = [1, 2, 3, 5, 6, 9, 10]            # 4, 7 and 8 lost
    rows = [parse("unseen/a/result", result("a", s), "unseen") for s in seqs]
    # The device restarted: its seq starts again, and 1-2 of the new run never arrived.
    rows += [parse("unseen/a/result", result("a", s, f"a-run2-{s}", 100 + s), "unseen") for s in (3, 4)]
    rows += [parse("unseen/b/result", result("b", s), "unseen") for s in range(1, 6)]
    rows.append(parse("unseen/b/result", result("b", 2), "unseen"))
    store.write(rows)
    by_device = {r.device: r for r in report.build(store)}
    a, b = by_device["a"], by_device["b"]
    assert (a.stored, a.missing, a.restarts, a.gaps) == (9, 5, 1, [(4, 4), (7, 8), (1, 2)])
    assert (b.stored, b.missing, b.duplicates) == (5, 0, 1)
    text = report.as_text(list(by_device.values()))
    assert "2 devices, 14 results stored, 5 missing, 1 duplicates dropped" in text
    store.close()


def test_status_keeps_the_newest_and_stopped_statuses_mark_a_device_offline(db):
    store = open_store(db)
    now = time.time()
    status = lambda t, state="running": parse("unseen/cam/status", json.dumps({"state": state, "time": t}).encode(),
                                              "unseen")
    store.write([status(now - 20), status(now - 10)])
    store.write([status(now - 20)])  # an old one again (a retained copy, a redelivery): no effect
    assert store.query("SELECT state, status_time, status_interval FROM devices") == [("online", now - 10, 10.0)]
    assert store.query("SELECT COUNT(*) FROM statuses")[0][0] == 2
    assert store.mark_offline(time.time(), 60) == []
    stale = store.mark_offline(time.time() + 45, 30)  # 45 s on: past 30 s and past 3 intervals of 10 s
    assert [d for d, _ in stale] == ["cam"]
    assert store.query("SELECT state, state_reason FROM devices")[0][0] == "offline"
    store.write([status(now)])
    assert store.query("SELECT state FROM devices") == [("online",)]
    store.write([parse("unseen/cam/status", b'{"state": "offline", "device": "cam"}', "unseen")])
    assert store.query("SELECT state, state_reason FROM devices") == [("offline", "last will: the broker lost "
                                                                       "its connection")]
    store.close()


def test_a_full_sqlite_database_is_unavailable_not_fatal(tmp_path):
    store = open_store(str(tmp_path / "small.sqlite"), max_mb=0.25)
    with pytest.raises(StoreUnavailable, match="full"):
        for start in range(0, 5000, 100):
            store.write([parse("unseen/cam/result", result("cam", i), "unseen") for i in range(start, start + 100)])
    stored = store.query("SELECT COUNT(*) FROM results")[0][0]
    assert stored % 100 == 0 and stored > 0  # whole batches or nothing
    store.close()


def test_a_bad_database_is_one_clear_error(tmp_path):
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        open_store(str(tmp_path / "junk.sqlite"))
    with pytest.raises(StoreError, match="does not exist"):
        open_store(str(tmp_path / "no" / "such" / "r.sqlite"))
    with pytest.raises(StoreUnavailable, match="127.0.0.1"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize("args, message", [
    (["collect", "--db", "/no/such/folder/r.sqlite", "--timeout", "1"], "the folder /no/such/folder does not exist"),
    (["collect", "--db", "/no/such/r.sqlite", "report"], "no database at /no/such/r.sqlite"),
    (["collect", "--nats", "nats://127.0.0.1:1", "--share", "g"], "--share is for MQTT 5"),
    (["collect", "--db", "postgresql://u@127.0.0.1:1/x", "--layers"], "needs --images-dir"),
])
def test_collect_mistakes_are_one_line(args, message):
    from click.testing import CliRunner
    from unseen.cli import main
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_a_database_url_of_another_kind_is_refused_in_words():
    with pytest.raises(StoreError, match="only a SQLite file path or a postgresql:// URL"):
        open_store("mysql://user@host/db")


def test_a_collector_whose_database_never_comes_gives_up_at_its_timeout():
    import subprocess
    import sys
    from fleet.broker import free_port
    pytest.importorskip("psycopg")
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/fleet"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "unseen.cli", "collect", "--db", url, "--mqtt-port", str(free_port()),
                          "--timeout", "1"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert f"the database did not become available in 1 s: {url}" in run.stderr
    assert time.monotonic() - started < 30  # it waited for the database, then stopped; not forever
