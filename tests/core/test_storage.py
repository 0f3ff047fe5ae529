"""The storage seam: plain paths on the local file system, URIs through Hadoop's FileSystem."""

from __future__ import annotations

import builtins
import os
import pathlib
import shutil

import pytest

from flightpipe.core import runlog, storage


@pytest.fixture()
def no_local_io(monkeypatch):
    """Make Python's own file functions fail: what still works went through Hadoop."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("local file I/O on a URI path")

    for module, names in (
        (os, ("listdir", "scandir", "makedirs", "mkdir", "replace", "rename", "remove", "unlink", "stat")),
        (shutil, ("rmtree", "move")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, refuse)
    for name in (
        "iterdir",
        "glob",
        "rglob",
        "mkdir",
        "exists",
        "is_dir",
        "is_file",
        "read_bytes",
        "write_bytes",
    ):
        monkeypatch.setattr(pathlib.Path, name, refuse)
    monkeypatch.setattr(builtins, "open", refuse)


@pytest.fixture()
def hadoop_calls(monkeypatch) -> list[str]:
    """The paths the seam handed to Hadoop's FileSystem, in order."""
    calls: list[str] = []
    real = storage._hadoop

    def spy(path: str):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(storage, "_hadoop", spy)
    return calls


def test_is_uri_tells_uris_from_local_paths():
    assert [storage.is_uri(p) for p in ("file:///tmp/x", "file:/tmp/x", "hdfs://nn:8020/d", "s3a://b/k")] == [
        True,
        True,
        True,
        True,
    ]
    assert [storage.is_uri(p) for p in ("/tmp/x", "bronze/flights", "C:/data", "a:b")] == [False] * 4


def test_uri_round_trip_goes_through_hadoop_only(spark, tmp_path, hadoop_calls, no_local_io):
    base = tmp_path.as_uri()  # file:///...
    state = storage.join(base, "silver", "state.json")

    storage.write_json(state, {"months": [1, 2]})
    storage.write_text(storage.join(base, "bronze", "_SUCCESS"), "")
    storage.write_text(storage.join(base, "bronze", "m=1", "part-0.parquet"), "abc")
    storage.write_text(storage.join(base, "bronze", "_spark_metadata", "0"), "hidden")

    assert storage.read_json(state) == {"months": [1, 2]}
    assert storage.read_json(storage.join(base, "nothing.json"), default={}) == {}
    assert storage.exists(state) and storage.is_dir(storage.join(base, "bronze"))
    files = storage.list_files(storage.join(base, "bronze"))
    assert [storage.name(f.path) for f in files] == ["part-0.parquet"]
    assert [f.size for f in files] == [3]
    assert storage.total_size(storage.join(base, "bronze")) == 3
    assert [storage.name(d) for d in storage.list_dirs(storage.join(base, "bronze"))] == [
        "_spark_metadata",
        "m=1",
    ]
    # A path the seam hands back (``file:/...``) goes back into the seam as a URI.
    moved = storage.join(base, "done", "part-0.parquet")
    storage.rename(files[0].path, moved)
    assert storage.read_text(moved) == "abc" and not storage.exists(files[0].path)
    kept = storage.join(base, "done", "part-1.parquet")
    storage.write_text(kept, "d")
    storage.delete_files([moved, storage.join(base, "done", "never-there.parquet")])
    assert [storage.name(f.path) for f in storage.list_files(storage.join(base, "done"))] == [
        "part-1.parquet"
    ]
    storage.delete(storage.join(base, "bronze"))
    assert not storage.exists(storage.join(base, "bronze"))
    assert len(hadoop_calls) > 10 and all(storage.is_uri(p) for p in hadoop_calls)


def test_run_records_under_a_uri_use_the_seam(spark, tmp_path, hadoop_calls, no_local_io):
    runs = runlog.runs_dir(storage.join(tmp_path.as_uri(), "var"))
    with runlog.StageRun(runs, "ingest", run_id="r1") as record:
        record.rows_in = 7
    pending = runlog.pending_records(runs)
    assert len(pending) == 1 and storage.read_json(pending[0])["rows_in"] == 7
    assert any(p.startswith(runs) for p in hadoop_calls)


def test_plain_paths_never_touch_hadoop(tmp_path, monkeypatch):
    def refuse(_path):
        raise AssertionError("Hadoop called for a local path")

    monkeypatch.setattr(storage, "_hadoop", refuse)
    base = str(tmp_path)
    storage.write_json(storage.join(base, "a", "b.json"), [1])
    assert storage.read_json(storage.join(base, "a", "b.json")) == [1]
    storage.write_text(storage.join(base, "a", "c.txt"), "abc")
    assert [(storage.name(f.path), f.size) for f in storage.list_files(base, ".txt")] == [("c.txt", 3)]
    storage.write_text(storage.join(base, "a", "d.txt"), "d")
    storage.delete_files([storage.join(base, "a", "c.txt"), storage.join(base, "a", "gone.txt")])
    assert [storage.name(f.path) for f in storage.list_files(base, ".txt")] == ["d.txt"]
    storage.delete(storage.join(base, "a"))
    assert not storage.exists(storage.join(base, "a"))
