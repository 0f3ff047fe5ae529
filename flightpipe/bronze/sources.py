"""Source files: where the embedded data lives, file checks, and raw CSV/JSON readers."""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType, MapType, StringType, StructField, StructType

from flightpipe.contracts import sources as S
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError


@dataclass(frozen=True)
class SourceFile:
    """One input file: ``path`` as the user named it, ``readable`` the plain file Spark reads."""

    path: str
    readable: str
    fmt: str
    checksum: str
    airport: str = ""


def sha256(path: str) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expand(patterns: list[str], what: str) -> list[str]:
    """Expand paths and globs; a pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        matches = storage.glob(pattern) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if storage.is_file(m)]
        if not matches:
            raise PipelineError(
                f"{what} file {pattern} does not exist; fix the path in the config or remove the entry."
            )
        files.extend(matches)
    return files


def local_input(path: str, cache_dir: str) -> str:
    """A local file for an input named by URI (copied into the cache once), else the path itself.

    Inputs are checksummed and their lines checked in Python, so they are read from local disk.
    """
    return storage.fetch(path, str(Path(cache_dir) / "fetched"))


def readable_copy(path: str, checksum: str, cache_dir: str) -> str:
    """A plain-text path Spark can read: zip and gzip files are extracted to the cache once."""
    if path.endswith(".zip"):
        stem = storage.name(path).rsplit(".", 1)[0]
        target = storage.join(cache_dir, "extracted", f"{checksum[:16]}-{stem}")
        if not storage.is_file(target):
            try:
                with zipfile.ZipFile(path) as archive:
                    members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
                    if len(members) != 1:
                        raise PipelineError(
                            f"zip file {path} holds {len(members)} CSV files, expected exactly one."
                        )
                    storage.makedirs(storage.parent(target))
                    tmp = f"{target}.part"
                    # Streamed in chunks: the seam has no streaming write, and a BTS extract
                    # is too big to hold in memory.
                    with archive.open(members[0]) as src, open(tmp, "wb") as dst:
                        for chunk in iter(lambda: src.read(1 << 20), b""):
                            dst.write(chunk)
                    storage.rename(tmp, target)
            except zipfile.BadZipFile as exc:
                raise PipelineError(f"file {path} is not a valid zip archive; download it again.") from exc
        return target
    # Spark reads .gz and .bz2 CSV natively (.bz2 is even split between tasks).
    return path


def _first_line(path: str) -> str:
    if path.endswith(".zip"):
        # A zip not extracted yet (a dry run): its one CSV member is read in place.
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise PipelineError(f"zip file {path} holds {len(members)} CSV files, expected exactly one.")
            with archive.open(members[0]) as raw:
                return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").readline()
    opener = gzip.open if path.endswith(".gz") else bz2.open if path.endswith(".bz2") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return fh.readline()


def read_header(path: str) -> list[str]:
    """The first line of a CSV file (plain, .gz, .bz2 or a one-CSV .zip), split on commas (quotes removed)."""
    try:
        line = _first_line(path)
    except zipfile.BadZipFile as exc:
        raise PipelineError(f"file {path} is not a valid zip archive; download it again.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(f"file {path} could not be read as CSV text ({exc}).") from exc
    if not line.strip():
        raise PipelineError(f"file {path} is empty; expected a CSV header line.")
    import csv

    return next(csv.reader([line.rstrip("\r\n")]))


def check_header(source: SourceFile, required: list[str]) -> list[str]:
    """Return the header of ``source``; fail when a required column is missing."""
    header = read_header(source.readable)
    missing = [c for c in required if c not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise PipelineError(
            f"file {source.path} lacks the required column(s) {shown} in its header; "
            f"is it a {source.fmt} file?"
        )
    return header


def check_openmeteo_json(path: str) -> dict:
    """Validate an Open-Meteo hourly archive file; return its top-level fields (no arrays)."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise PipelineError(
            f"file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "download it again."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(f"file {path} could not be read ({exc}).") from exc
    hourly = doc.get("hourly") if isinstance(doc, dict) else None
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise PipelineError(
            f"file {path} is not an Open-Meteo hourly archive response (no hourly.time array)."
        )
    lengths = {k: len(v) for k, v in hourly.items() if isinstance(v, list)}
    if len(set(lengths.values())) > 1:
        raise PipelineError(f"file {path} has hourly arrays of different lengths {lengths}.")
    return {k: v for k, v in doc.items() if k != "hourly"}


# --- Spark readers ----------------------------------------------------------------------


def read_csv(spark: SparkSession, paths: list[str], schema: StructType, null_value: str) -> DataFrame:
    """Read CSV files with an explicit schema; unparsable lines land in CORRUPT_COLUMN."""
    return (
        spark.read.schema(S.with_corrupt_column(schema))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("nullValue", null_value)
        .option("columnNameOfCorruptRecord", S.CORRUPT_COLUMN)
        .option("multiLine", False)
        .csv(paths)
        .withColumn("_read_path", F.col("_metadata.file_path"))
    )


def local_path(uri_column: str) -> Column:
    """The local path of Spark's ``file:`` URI (``_metadata.file_path``), percent-decoded."""
    return F.url_decode(F.regexp_replace(F.col(uri_column), r"^file:(//)?", ""))


def _uri_path(uri: str) -> str:
    """The plain local path of a ``file:`` URI as Spark lists it."""
    return unquote(re.sub(r"^file:(//)?", "", uri))


def path_lookup(
    column: str, sources: list[SourceFile], attribute: str = "path", uris: list[str] | None = None
) -> Column:
    """Map Spark's file URI back to an attribute of its source (by default the path the
    user gave: the zip, not its extract).

    ``uris`` are the file URIs the reader lists (``DataFrame.inputFiles()``): each row is then
    matched on the URI exactly as Spark spells it, one map lookup; a row whose URI is not among
    them falls back to decoding its URI (a regex and a percent-decode per row).
    """
    by_path = {str(Path(s.readable).resolve()): getattr(s, attribute) for s in sources}
    pairs = []
    for path, value in by_path.items():
        pairs += [F.lit(path), F.lit(value)]
    decoded = F.create_map(*pairs)[local_path(column)]
    exact = []
    for uri in uris or ():
        value = by_path.get(str(Path(_uri_path(uri)).resolve()))
        if value is not None:
            exact += [x for spelling in storage.uri_spellings(uri) for x in (F.lit(spelling), F.lit(value))]
    return F.coalesce(F.create_map(*exact)[F.col(column)], decoded) if exact else decoded


OPENMETEO_VARIABLES = (
    "temperature_2m",
    "dew_point_2m",
    "relative_humidity_2m",
    "precipitation",
    "pressure_msl",
    "wind_speed_10m",
    "wind_direction_10m",
    "wind_gusts_10m",
    "visibility",
)

OPENMETEO_RAW = StructType(
    [
        StructField("latitude", DoubleType()),
        StructField("longitude", DoubleType()),
        StructField("elevation", DoubleType()),
        StructField("timezone", StringType()),
        StructField("utc_offset_seconds", DoubleType()),
        StructField("hourly_units", MapType(StringType(), StringType())),
        # Typed arrays: reading numbers as text makes Spark copy each one from the file.
        StructField(
            "hourly",
            StructType(
                [StructField("time", ArrayType(StringType()))]
                + [StructField(v, ArrayType(DoubleType())) for v in OPENMETEO_VARIABLES]
            ),
        ),
    ]
)


def read_openmeteo(spark: SparkSession, sources: list[SourceFile]) -> DataFrame:
    """One row per hour from Open-Meteo archive files, variables under their own names."""
    raw = (
        spark.read.schema(OPENMETEO_RAW)
        .option("multiLine", True)
        .option("mode", "FAILFAST")
        .json([s.readable for s in sources])
        .withColumn("_read_path", F.col("_metadata.file_path"))
    )
    # The airport is looked up once per file, before the hours are exploded.
    files = raw.withColumn("airport", path_lookup("_read_path", sources, "airport", raw.inputFiles()))
    hours = files.select("*", F.posexplode(F.col("hourly.time")).alias("_pos", "time"))
    return hours.select(
        "airport",
        "latitude",
        "longitude",
        "elevation",
        "timezone",
        F.col("utc_offset_seconds").cast("int").alias("utc_offset_seconds"),
        F.to_json("hourly_units").alias("hourly_units"),
        "time",
        *[F.col(f"hourly.{v}")[F.col("_pos")].alias(v) for v in OPENMETEO_VARIABLES],
        "_read_path",
    )
