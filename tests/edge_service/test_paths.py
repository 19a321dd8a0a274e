"""A file where a folder belongs is named as such, not as the OS's "File exists" or "Not a directory"."""

from __future__ import annotations

import pytest

from edge_service.errors import EdgeError
from edge_service.mqtt.outbox import Outbox, OutboxError
from edge_service.paths import file_in_the_way
from edge_service.sinks import JsonLinesSink


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    return path


def test_a_file_among_the_parents_is_named(a_file, tmp_path):
    assert file_in_the_way(a_file / "deeper" / "x.jsonl") == f"{a_file} is a file, not a folder"
    assert file_in_the_way(tmp_path / "fresh" / "x.jsonl") is None
    assert file_in_the_way(a_file) is None  # a file where a file is wanted
    assert file_in_the_way(a_file, folder=True) == f"{a_file} is a file, not a folder"


def test_an_outbox_folder_that_is_a_file_says_so(a_file):
    with pytest.raises(OutboxError, match=f"outbox {a_file}: {a_file} is a file, not a folder"):
        Outbox(a_file)


def test_a_results_file_under_a_file_says_so(a_file):
    with pytest.raises(EdgeError, match="notes.txt is a file, not a folder"):
        JsonLinesSink(a_file / "results.jsonl", "dev")
