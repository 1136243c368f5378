"""The canonical importer reads files ahead on a thread, but never holds two big files the consumer has not
finished with, and hands read errors over in file order."""

from __future__ import annotations

import threading
import time

import pytest

from kam_metrics.load.importers import canonical


def _files(tmp_path, sizes: dict[str, int]):
    paths = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        paths.append(path)
    return paths


@pytest.fixture
def reads(monkeypatch):
    """The names read so far, in order; a file named bad* fails to read."""
    done: list[str] = []
    lock = threading.Lock()

    def read(path):
        if path.name.startswith("bad"):
            raise ValueError(f"{path.name}: unreadable")
        with lock:
            done.append(path.name)
        return path.name

    monkeypatch.setattr(canonical, "_read_text", read)
    monkeypatch.setattr(canonical, "BIG_FILE_BYTES", 100)
    return done


def _settle(reads: list[str], count: int) -> None:
    """Wait until `count` files are read (up to 10 s), then a little longer for any read that should not come."""
    deadline = time.monotonic() + 10
    while len(reads) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)


def test_small_files_and_the_next_big_one_are_read_ahead(tmp_path, reads):
    paths = _files(tmp_path, {"a.csv": 10, "b.csv": 500, "c.csv": 500, "d.csv": 10})
    ahead = canonical._ReadAhead(paths)
    try:
        _settle(reads, 2)
        assert reads == ["a.csv", "b.csv"]  # b is read while a (small) is pending; c waits for b
        assert ahead.take(0) == "a.csv"
        assert ahead.take(1) == "b.csv"
        _settle(reads, 2)
        assert reads == ["a.csv", "b.csv"]  # b is in use: c is not read beside it
        assert ahead.take(2) == "c.csv"  # asking for c means b is done
        _settle(reads, 3)
        assert reads == ["a.csv", "b.csv", "c.csv"]  # d waits while c (big) is in use
        assert ahead.take(3) == "d.csv"
    finally:
        ahead.close()


def test_a_read_error_is_raised_when_its_file_is_reached(tmp_path, reads):
    paths = _files(tmp_path, {"a.csv": 10, "bad.csv": 10, "c.csv": 10})
    ahead = canonical._ReadAhead(paths)
    try:
        assert ahead.take(0) == "a.csv"
        with pytest.raises(ValueError, match="bad.csv: unreadable"):
            ahead.take(1)
        assert "c.csv" not in reads  # nothing is read after a file that failed
    finally:
        ahead.close()
