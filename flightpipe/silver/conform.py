"""Pure conform transformations: bronze flight rows of every layout to the silver columns.

Rows of each declared flight layout (contracts/layouts.py) are staged to one set of columns
(local hhmm times, flags, lineage and the raw source row), bucketed by month, given their airports' time zones, UTC
times and quality outcome (staging.py gives them the columns of both silver flight tables).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightpipe.contracts.layouts import CODE_COLUMNS, DEFAULT, FLIGHT_LAYOUTS, STAGED, FlightLayout
from flightpipe.contracts.silver import SILVER_FLIGHTS
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import union_all
from flightpipe.silver import quality
from flightpipe.silver.inputs import STREAM_TABLE, FlightSource
from flightpipe.silver.plan import NO_DATE, Month
from flightpipe.silver.times import with_utc_times


def clean_code(c: Column) -> Column:
    """A trimmed upper-case code; null when blank."""
    trimmed = F.upper(F.trim(c))
    return F.when(trimmed != "", trimmed)


def lineage() -> list[Column]:
    """The bronze lineage columns every staged row carries."""
    return [
        F.col("_source_file").cast("string"),
        F.col("_ingested_at").cast("timestamp"),
        F.col("_batch_id").cast("string"),
        F.col("_bronze_file"),
        F.col("_bronze_table"),
    ]


def conform_layout(layout: FlightLayout):
    """A transform staging bronze rows of ``layout`` through its declared mapping.

    A typed column of the layout that the rows lack (an older download) reads as null; the
    raw struct holds the layout's columns the rows have, under their source names.
    """

    def transform(df: DataFrame) -> DataFrame:
        raw = F.struct(*[F.col(n) for n in layout.schema.fieldNames() if n in df.columns])
        missing = {n: F.lit(None).cast(t) for n, t in layout.types.items() if n not in df.columns}
        staged = []
        for name, dtype in STAGED:
            value = layout.column(name).cast(dtype)
            staged.append((clean_code(value) if name in CODE_COLUMNS else value).alias(name))
        return df.withColumns(missing).select(
            *staged,
            F.lit(layout.name).alias("source_format"),
            *lineage(),
            raw.alias(layout.raw_column),
        )

    return transform


def with_bronze_file(table: str):
    """A transform adding the bronze file and folder each row was read from."""

    def transform(df: DataFrame) -> DataFrame:
        # Spark's URI of the file, as it is: made a plain path on the driver, per file, not per row.
        return df.withColumn("_bronze_file", F.col("_metadata.file_path")).withColumn(
            "_bronze_table", F.lit(table)
        )

    return transform


def conform_source(source: FlightSource) -> DataFrame:
    """All rows of one bronze folder in the staged columns (every layout whose columns it has)."""
    df = source.df.transform(with_bronze_file(source.table))
    # A row without a source_format (an early streaming sink) is of the default layout.
    fmt = F.lit(DEFAULT.name)
    if "source_format" in df.columns:
        fmt = F.coalesce(F.col("source_format"), fmt)
    parts = [
        df.where(fmt == layout.name).transform(conform_layout(layout))
        for layout in FLIGHT_LAYOUTS
        if set(layout.required) <= set(df.columns)
    ]
    if not parts:
        names = " nor ".join(layout.name for layout in FLIGHT_LAYOUTS)
        raise PipelineError(
            f"bronze folder {source.path} has the flight columns of neither {names}; "
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
    staged: DataFrame,
    airports: DataFrame,
    settings: quality.QualitySettings,
    actions: dict[str, str],
    partitions: int = 0,
) -> DataFrame:
    """Staged bronze rows -> rows with UTC times, flags, ``rules_broken`` and ``outcome``
    (``partitions``: about how many the unique-key window's shuffle gets; 0: Spark's own)."""
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
                partitions=partitions,
            )
        )
    )
