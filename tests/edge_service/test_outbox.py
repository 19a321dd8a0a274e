"""The outbox: durable, ordered, bounded with a stated policy, clear about a full or unwritable disk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from edge_service.mqtt.outbox import Outbox, OutboxError


def test_messages_come_back_in_order_and_go_on_ack(tmp_path):
    box = Outbox(tmp_path)
    ids = [box.put(f"t/{i}", b"x" * 10, "result", f"id{i}") for i in range(5)]
    assert [m.msg_id for m in box.pending()] == [f"id{i}" for i in range(5)]
    box.ack(ids[1])
    assert [m.msg_id for m in box.pending()] == ["id0", "id2", "id3", "id4"]
    assert [m.msg_id for m in box.pending(after_rowid=ids[2], limit=1)] == ["id3"]


def test_what_was_written_survives_reopening(tmp_path):
    box = Outbox(tmp_path)
    box.put("t", b"payload", "result", "a")
    box.close()
    again = Outbox(tmp_path)
    assert [(m.msg_id, m.payload) for m in again.pending()] == [("a", b"payload")]
    assert again.stats()["messages"] == 1


def test_when_full_layer_images_go_first_then_the_oldest_results(tmp_path):
    box = Outbox(tmp_path, max_messages=4)
    box.put("r", b"r1", "result", "r1")
    box.put("l", b"l1", "layer", "l1")
    box.put("r", b"r2", "result", "r2")
    box.put("l", b"l2", "layer", "l2")
    box.put("r", b"r3", "result", "r3")   # drops l1
    box.put("r", b"r4", "result", "r4")   # drops l2
    assert [m.msg_id for m in box.pending()] == ["r1", "r2", "r3", "r4"]
    box.put("r", b"r5", "result", "r5")   # no layers left: drops r1
    assert [m.msg_id for m in box.pending()] == ["r2", "r3", "r4", "r5"]
    stats = box.stats()
    assert stats["dropped_layers"] == 2 and stats["dropped_results"] == 1
    box.close()
    assert Outbox(tmp_path, max_messages=4).stats()["dropped_layers"] == 2  # counters persist


def test_byte_bound(tmp_path):
    box = Outbox(tmp_path, max_bytes=1000)
    for i in range(10):
        box.put("r", b"x" * 200, "result", str(i))
    assert box.stats()["bytes"] <= 1000 and [m.msg_id for m in box.pending()][-1] == "9"
    with pytest.raises(OutboxError, match="larger than the outbox bound"):
        box.put("r", b"x" * 5000, "result", "huge")


def test_purge(tmp_path):
    box = Outbox(tmp_path)
    for i in range(3):
        box.put("r", b"x", "result", str(i))
    assert box.purge() == 3 and box.pending() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_directory_is_a_clear_error_at_start(tmp_path):
    tmp_path.chmod(0o500)
    with pytest.raises(OutboxError, match="not writable"):
        Outbox(tmp_path / "box")


def test_a_directory_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "box").write_text("I am a file")
    with pytest.raises(OutboxError, match="outbox"):
        Outbox(tmp_path / "box")


def test_a_full_disk_is_a_clear_error_while_running(tmp_path):
    """A real full disk: the file-size limit makes every write past 300 KiB fail with EFBIG."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from edge_service.mqtt.outbox import Outbox, OutboxError
        box = Outbox({str(tmp_path)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300 * 1024, 300 * 1024))
        stored = 0
        try:
            for i in range(10_000):
                box.put("r", b"x" * 1000, "result", str(i))
                stored += 1
        except OutboxError as exc:
            print("stored", stored, "then:", exc)
            sys.exit(0)
        sys.exit("never filled")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"cannot store a message: the disk (is full|refused the write \(it is full or failing\))",
                     out.stdout), out.stdout
    stored = int(out.stdout.split()[1])
    assert 0 < stored < 10_000
    assert len(Outbox(tmp_path).pending(limit=100_000)) == stored  # nothing already written was lost


def test_a_group_commit_hands_back_the_row_ids_it_stored_and_forgets_acks_in_the_same_transaction(tmp_path):
    box = Outbox(tmp_path)
    first = box.commit_group([("t", b"a%d" % i, "result", f"a{i}") for i in range(5)], [])
    second = box.commit_group([("t", b"b%d" % i, "layer", f"b{i}") for i in range(7)], [first[1].rowid, first[3].rowid])
    expected = [(m.rowid, m.msg_id, m.payload) for m in first + second if m.msg_id not in ("a1", "a3")]
    assert [(m.rowid, m.msg_id, m.payload) for m in box.pending(limit=100)] == expected
    assert (box.bytes, box.count) == box._totals()
    box.forget([m.rowid for m in second])
    assert [m.msg_id for m in box.pending()] == ["a0", "a2", "a4"] and box.count == 3


def test_a_group_that_does_not_fit_follows_the_drop_policy_message_by_message(tmp_path):
    box = Outbox(tmp_path, max_messages=4)
    box.commit_group([("t", b"x", "layer", "L")] + [("t", b"x", "result", f"r{i}") for i in range(5)], [])
    assert [m.msg_id for m in box.pending()] == ["r1", "r2", "r3", "r4"]
    assert box.stats()["dropped_layers"] == 1 and box.stats()["dropped_results"] == 1


def test_the_writer_groups_messages_and_delays_acks_to_ride_on_the_next_commit(tmp_path):
    from edge_service.mqtt.writer import OutboxWriter
    box = Outbox(tmp_path)
    committed = []
    writer = OutboxWriter(box, committed.extend, group_seconds=0.2)
    try:
        writer.submit("t", b"x", "result", "first")  # after a quiet spell: committed at once
        assert writer.flush(5) and [m.msg_id for m in committed] == ["first"]
        for i in range(20):
            writer.submit("t", b"x", "result", f"m{i}")
        writer.ack([committed[0].rowid])
        assert writer.flush(5)
        assert writer.commits == 2 and [m.msg_id for m in committed[1:]] == [f"m{i}" for i in range(20)]
        assert box.count == 20  # the ack went in the same commit as the twenty
    finally:
        writer.close()


def test_purge_without_a_terminal_asks_for_yes_and_deletes_nothing(tmp_path):
    box = Outbox(tmp_path / "box")
    box.put("t", b"x", "result", "a")
    box.close()
    purge = subprocess.run([sys.executable, "-m", "unseen.cli", "outbox", "purge", "--outbox-dir", str(tmp_path / "box")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert purge.returncode == 2 and "add --yes" in purge.stderr, purge.stderr
    assert Outbox.existing(tmp_path / "box").count == 1
