"""Pure conform transformations: bronze flight rows of every layout to the silver columns.

Rows of each declared flight layout (contracts/layouts.py) are staged to one set of columns
(local hhmm times, flags, lineage and where each row was read), bucketed by month, given their
airports' time zones, UTC times and quality outcome (staging.py gives them the columns of both
silver flight tables).
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

# Where a staged row was read: its index in its bronze file (``_bronze_file``).
BRONZE_ROW = "_bronze_row"


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

    A typed column of the layout that the rows lack (an older download) reads as null. The
    source columns themselves are not carried: a quarantined row keeps its bronze row index
    (``_bronze_row``, when the rows have one), and its source values are read back by it.
    """

    def transform(df: DataFrame) -> DataFrame:
        missing = {n: F.lit(None).cast(t) for n, t in layout.types.items() if n not in df.columns}
        staged = []
        for name, dtype in STAGED:
            value = layout.column(name).cast(dtype)
            staged.append((clean_code(value) if name in CODE_COLUMNS else value).alias(name))
        return df.withColumns(missing).select(
            *staged,
            F.lit(layout.name).alias("source_format"),
            *lineage(),
            *([F.col(BRONZE_ROW)] if BRONZE_ROW in df.columns else []),
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


def with_bronze_row(df: DataFrame) -> DataFrame:
    """``_bronze_row``: the row's index in its bronze parquet file (``_bronze_file``)."""
    return df.withColumn(BRONZE_ROW, F.col("_metadata.row_index"))


def layout_rows(df: DataFrame) -> list[tuple[FlightLayout, DataFrame]]:
    """The rows of ``df`` of each flight layout whose columns it has."""
    # A row without a source_format (an early streaming sink) is of the default layout.
    fmt = F.lit(DEFAULT.name)
    if "source_format" in df.columns:
        fmt = F.coalesce(F.col("source_format"), fmt)
    return [
        (layout, df.where(fmt == layout.name))
        for layout in FLIGHT_LAYOUTS
        if set(layout.required) <= set(df.columns)
    ]


def bronze_rows(source: FlightSource) -> DataFrame:
    """The rows of one bronze folder with their file, folder and row index."""
    return source.df.transform(with_bronze_file(source.table)).transform(with_bronze_row)


def conform_source(source: FlightSource) -> DataFrame:
    """All rows of one bronze folder in the staged columns (every layout whose columns it has)."""
    parts = [rows.transform(conform_layout(layout)) for layout, rows in layout_rows(bronze_rows(source))]
    if not parts:
        names = " nor ".join(layout.name for layout in FLIGHT_LAYOUTS)
        raise PipelineError(
            f"bronze folder {source.path} has the flight columns of neither {names}; "
            "re-land it with ingest.py or streaming.py."
        )
    return union_all(parts)


def source_values(df: DataFrame) -> DataFrame:
    """``_bronze_file``, ``_bronze_row`` and ``raw_values`` of bronze rows: the source columns of
    the row's layout (those the rows have, under their source names) as JSON."""
    return union_all(
        [
            rows.select(
                "_bronze_file",
                BRONZE_ROW,
                F.to_json(F.struct(*[F.col(n) for n in layout.schema.fieldNames() if n in df.columns])).alias(
                    "raw_values"
                ),
            )
            for layout, rows in layout_rows(df)
        ]
    )


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
                quarantine_only=(BRONZE_ROW,) if BRONZE_ROW in df.columns else (),
                partitions=partitions,
            )
        )
    )
