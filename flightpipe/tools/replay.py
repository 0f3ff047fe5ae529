"""The replay feed: the embedded 2013 flights dropped in the landing folder, one CSV file per day.

See scripts/replay.py for the usage and why days already landed are skipped.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from flightpipe.bronze.feed import TABLE, processed_files
from flightpipe.core import storage
from flightpipe.core.dryrun import KEEP, READ, WRITE, DryRun
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.errors import PipelineError

log = logging.getLogger("flightpipe.replay")

FIRST, LAST = date(2013, 1, 1), date(2013, 12, 31)


def file_name(day: date) -> str:
    return f"flights_{day.isoformat()}.csv"


def write_days(source: Path, tmp: Path, days: set[date]) -> dict[date, int]:
    """Write the rows of ``days`` to ``tmp/<file name>``, streaming the zip row by row."""
    counts: dict[date, int] = {}
    current: date | None = None
    handle = writer = None
    with zipfile.ZipFile(source) as archive, archive.open("flights.csv") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(reader)
        try:
            for row in reader:
                day = date(int(row[0]), int(row[1]), int(row[2]))
                if day not in days:
                    continue
                if day != current:
                    if handle:
                        handle.close()
                    path = tmp / file_name(day)
                    # The zip groups rows by day; append covers a day seen again later.
                    is_new = day not in counts
                    handle = open(path, "w" if is_new else "a", encoding="utf-8", newline="")  # noqa: SIM115
                    writer = csv.writer(handle, lineterminator="\n")
                    if is_new:
                        writer.writerow(header)
                        counts[day] = 0
                    current = day
                writer.writerow(row)
                counts[day] += 1
        finally:
            if handle:
                handle.close()
    return counts


def check_range(start: date, end: date) -> None:
    """The range must lie within the embedded flights."""
    if not FIRST <= start <= end <= LAST:
        raise PipelineError(
            f"--start {start} and --end {end} must be dates in {FIRST}..{LAST} (the embedded "
            "flights), with start <= end."
        )


def days_to_write(landing: Path, checkpoints: str, start: date, end: date, force: bool) -> tuple[set, set]:
    """(the days of the range, those skipped as already landed or already streamed)."""
    wanted = {start + timedelta(days=i) for i in range((end - start).days + 1)}
    if force:
        return wanted, set()
    done = {Path(p).name for p in processed_files(storage.join(checkpoints, TABLE))}
    present = {p.name for p in landing.iterdir()} if landing.is_dir() else set()
    return wanted, {d for d in wanted if file_name(d) in done or file_name(d) in present}


def describe(landing_dir: str, checkpoints: str, start: date, end: date, force: bool) -> DryRun:
    """What a replay of [start, end] would drop in the landing folder."""
    check_range(start, end)
    wanted, skipped = days_to_write(Path(landing_dir), checkpoints, start, end, force)
    out = DryRun("replay").add(
        READ, str(embedded_data_dir() / "flights.csv.zip"), f"the days {start} to {end}"
    )
    if wanted - skipped:
        out.add(WRITE, landing_dir, f"{len(wanted - skipped)} daily files flights_YYYY-MM-DD.csv")
    if skipped:
        out.add(KEEP, landing_dir, f"{len(skipped)} days already landed or streamed")
    return out


def replay(
    landing_dir: str, checkpoints: str, start: date, end: date, rate: float, force: bool
) -> dict[date, int]:
    """Write each day of [start, end] to ``landing_dir``; return the rows per written day.

    Days the streaming query (its checkpoint under ``checkpoints``) already took are skipped.
    """
    check_range(start, end)
    landing = Path(landing_dir)
    # Same file system as the landing folder (so the rename is atomic), but not inside it.
    tmp = landing.parent / f".replay-tmp-{os.getpid()}"
    landing.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    wanted, skipped = days_to_write(landing, checkpoints, start, end, force)
    try:
        counts = write_days(embedded_data_dir() / "flights.csv.zip", tmp, wanted - skipped)
        for i, day in enumerate(sorted(counts)):
            if i:
                # At a rate, or 2 ms apart: the stream orders files by time, in milliseconds.
                time.sleep(1 / rate if rate > 0 else 0.002)
            staged = tmp / file_name(day)
            # Modification time = publication time: the stream takes files in that order.
            os.utime(staged)
            os.replace(staged, landing / file_name(day))
            if rate > 0:
                log.info("%s: %s rows", file_name(day), f"{counts[day]:,}")
    finally:
        for leftover in tmp.glob("*"):
            leftover.unlink()
        tmp.rmdir()
    log.info(
        "wrote %d daily files (%s rows) to %s; skipped %d days already landed",
        len(counts),
        f"{sum(counts.values()):,}",
        landing,
        len(skipped),
    )
    return counts
