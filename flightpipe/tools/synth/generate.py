"""Writing the synthetic BTS and Open-Meteo files under one output folder."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.tools.synth.flights import flights
from flightpipe.tools.synth.reference import BTS_NAME
from flightpipe.tools.synth.weather import weather

log = logging.getLogger("flightpipe.synth")


def _fresh(folder: str) -> None:
    storage.delete(folder)
    storage.makedirs(folder)


def write_flights(df: DataFrame, out: str, year: int) -> list[str]:
    """Write one CSV per month (each partition is one month) under the BTS file names."""
    staging = storage.join(out, ".staging-bts")
    storage.delete(staging)
    df.write.option("header", True).option("nullValue", "").csv(storage.as_uri(staging))
    target = storage.join(out, "bts")
    _fresh(target)
    files = []
    # Partition i holds month i + 1; a month without flights (tiny --rows) writes no file.
    for part in storage.list_files(staging, ".csv", recursive=False):
        if not storage.name(part.path).startswith("part-"):
            continue
        month = int(storage.name(part.path).split("-")[1]) + 1
        dest = storage.join(target, BTS_NAME.format(year=year, month=month))
        storage.rename(part.path, dest)
        files.append(dest)
    storage.delete(staging)
    return files


def write_weather(df: DataFrame, out: str, year: int) -> list[str]:
    """Write one JSON document per airport as ``<code>_<year>.json``."""
    staging = storage.join(out, ".staging-openmeteo")
    storage.delete(staging)
    df.write.partitionBy("code").text(storage.as_uri(staging))
    target = storage.join(out, "openmeteo")
    _fresh(target)
    files = []
    for folder in storage.list_dirs(staging):
        if not storage.name(folder).startswith("code="):
            continue
        parts = [
            f
            for f in storage.list_files(folder, recursive=False)
            if storage.name(f.path).startswith("part-") and f.size > 0
        ]
        if len(parts) != 1:
            raise PipelineError(f"expected one weather file in {folder}, found {len(parts)}; run again.")
        dest = storage.join(target, f"{storage.name(folder).removeprefix('code=')}_{year}.json")
        storage.rename(parts[0].path, dest)
        files.append(dest)
    storage.delete(staging)
    return files


def generate(
    spark: SparkSession,
    rows: int,
    out: str,
    seed: int = 42,
    year: int = 2023,
    weather_days: int | None = None,
) -> dict:
    """Write the flights and the weather under ``out``; return what was written.

    ``weather_days`` shortens the weather to the first days of the year (tests)."""
    if rows < 1:
        raise PipelineError(f"--rows must be at least 1, not {rows}.")
    out = str(out)
    storage.makedirs(out)
    started = time.monotonic()
    bts_files = write_flights(flights(spark, rows, seed, year), out, year)
    flights_s = time.monotonic() - started
    wx_files = write_weather(weather(spark, seed, year, weather_days), out, year)
    summary = {
        "rows": rows,
        "seed": seed,
        "year": year,
        "bts_files": bts_files,
        "openmeteo_files": wx_files,
        "bts_bytes": storage.total_size(storage.join(out, "bts")),
        "flights_seconds": round(flights_s, 1),
        "weather_seconds": round(time.monotonic() - started - flights_s, 1),
    }
    log.info(
        "wrote %d flights in %d BTS files (%.0f MB, %.1f s) and %d Open-Meteo files (%.1f s) under %s",
        rows,
        len(bts_files),
        summary["bts_bytes"] / 1e6,
        summary["flights_seconds"],
        len(wx_files),
        summary["weather_seconds"],
        out,
    )
    return summary
