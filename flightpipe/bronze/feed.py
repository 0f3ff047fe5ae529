"""The streaming feed: file layouts of the landing folder and the pure transforms of its lines.

A line that parses and has a flight date goes to ``bronze/flights``; any other line goes, with
its reason, to ``bronze/_rejected/table=flights``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.bronze import slots as bronze
from flightpipe.bronze.rejects import csv_reject_reason
from flightpipe.contracts import sources as S
from flightpipe.contracts.layouts import FLIGHT_LAYOUTS, FlightLayout
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Paths

TABLE = "flights"
REJECTED_QUERY = "flights_rejected"
REJECT_COLUMNS = ("source_file", "line", "reason", "_ingested_at", "_batch_id")


# The landing files' column layout: one declared flight layout (name, schema, null string,
# flight date and the reason a line without one is rejected).
FeedFormat = FlightLayout

FORMATS: dict[str, FeedFormat] = {layout.name: layout for layout in FLIGHT_LAYOUTS if layout.streams}


def feed_format(name: str, config_file: str) -> FeedFormat:
    """The feed format ``streaming.format`` names, or one sentence naming the allowed ones."""
    if name not in FORMATS:
        raise PipelineError(
            f"config key 'streaming.format' in {config_file} must be one of "
            f"{', '.join(FORMATS)}, not '{name}'."
        )
    return FORMATS[name]


@dataclass(frozen=True)
class StreamPaths:
    """Where the stream reads, writes and keeps its state."""

    landing: str
    sink: str
    rejected: str
    checkpoint: str
    rejected_checkpoint: str

    @classmethod
    def of(cls, paths: Paths, fmt: FeedFormat) -> StreamPaths:
        """The stream's folders under the configured ``paths``."""
        return cls(
            landing=paths.landing,
            sink=storage.join(paths.bronze, TABLE),
            rejected=bronze.rejected_path(paths.bronze, TABLE, fmt.name),
            checkpoint=storage.join(paths.checkpoints, TABLE),
            rejected_checkpoint=storage.join(paths.checkpoints, REJECTED_QUERY),
        )


# --- pure transforms --------------------------------------------------------------------


def with_flight_date(df: DataFrame, fmt: FeedFormat) -> DataFrame:
    """Add ``flight_date`` (date), the partition column of bronze/flights."""
    return df.withColumn("flight_date", fmt.flight_date())


def with_lineage(df: DataFrame, fmt: FeedFormat, batch_id: str) -> DataFrame:
    """Add ``source_format``, ``_ingested_at`` (the micro-batch time) and ``_batch_id``.

    ``_source_file`` is set by :func:`read_feed`, where the file metadata is at hand.
    """
    return df.withColumns(
        {
            "source_format": F.lit(fmt.name),
            # current_timestamp() is fixed per micro-batch in a streaming query.
            "_ingested_at": F.current_timestamp(),
            "_batch_id": F.lit(batch_id),
        }
    )


def is_malformed() -> Column:
    """True for a line the CSV parser could not read or that has no usable flight date."""
    return F.col(S.CORRUPT_COLUMN).isNotNull() | F.col("flight_date").isNull()


def filter_malformed(df: DataFrame) -> DataFrame:
    """The rows bronze/flights keeps: parsed lines with a flight date, without the corrupt column."""
    return df.filter(~is_malformed()).drop(S.CORRUPT_COLUMN)


def reject_reason(fmt: FeedFormat) -> Column:
    """Why a line was rejected: broken quoting, field count, or the first value of a wrong type."""
    line = F.col(S.CORRUPT_COLUMN)
    reason = csv_reject_reason(
        line,
        len(fmt.schema.fields),
        fmt.schema.fields,
        fmt.null_value,
        f"does not parse with the {fmt.name} schema",
    )
    return F.when(line.isNull(), F.lit(fmt.date_reason)).otherwise(reason)


def filter_rejected(df: DataFrame, fmt: FeedFormat) -> DataFrame:
    """The rejected lines: file, raw line, reason and lineage (the bronze/_rejected columns)."""
    raw_columns = [F.col(f.name) for f in fmt.schema.fields]
    # A line that parsed but has no flight date has no corrupt text: write the parsed values
    # back as CSV (numbers may differ in form from the file, e.g. 2.0 for 2).
    rebuilt = F.to_csv(
        F.struct(*raw_columns),
        {
            "nullValue": fmt.null_value,
            "timestampFormat": "yyyy-MM-dd'T'HH:mm:ssXXX",
            "dateFormat": "yyyy-MM-dd",
        },
    )
    return df.filter(is_malformed()).select(
        F.col("_source_file").alias("source_file"),
        F.coalesce(F.col(S.CORRUPT_COLUMN), rebuilt).alias("line"),
        reject_reason(fmt).alias("reason"),
        "_ingested_at",
        "_batch_id",
    )


def with_batch_counts(df: DataFrame) -> DataFrame:
    """Attach per-micro-batch counts (rows, rejected, files) to the query's progress reports."""
    return df.observe(
        "batch_counts",
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum(is_malformed().cast("long")), F.lit(0)).alias("rejected"),
        F.size(F.collect_set("_source_file")).alias("files"),
    )


# --- extract and load -------------------------------------------------------------------


def read_feed(
    spark: SparkSession, landing: str, fmt: FeedFormat, max_files: int, max_file_age: str
) -> DataFrame:
    """The landing folder as a stream of parsed lines, each with ``_source_file``."""
    raw = (
        spark.readStream.schema(S.with_corrupt_column(fmt.schema))
        .option("header", True)
        .option("nullValue", fmt.null_value)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", S.CORRUPT_COLUMN)
        .option("multiLine", False)
        .option("pathGlobFilter", "*.csv")
        .option("maxFilesPerTrigger", max_files)
        # Spark ignores files older than this relative to the newest one it has seen, and
        # forgets the names of files older than that: a long age means a late file is never
        # skipped and a rewritten file name is never read a second time.
        .option("maxFileAge", max_file_age)
        .csv(landing)
    )
    source_file = F.regexp_replace(F.col("_metadata.file_path"), r"^file:(//)?(?=/)", "")
    return raw.select("*", source_file.alias("_source_file"))


def bronze_rows(df: DataFrame, fmt: FeedFormat, batch_id: str) -> DataFrame:
    """Parsed lines with flight date and lineage, malformed ones still in (and flagged)."""
    return df.transform(with_flight_date, fmt).transform(with_lineage, fmt, batch_id)


def processed_files(checkpoint: str) -> set[str]:
    """Paths of the landing files the stream's checkpoint records as read."""
    log_dir = storage.join(checkpoint, "sources", "0")
    seen: set[str] = set()
    for info in storage.list_files(log_dir, recursive=False):
        text = storage.read_text(info.path) or ""
        # Each log file: a version line, then one JSON object per file read (.compact: all so far).
        for line in text.splitlines()[1:]:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "path" in entry:
                seen.add(storage.plain_path(entry["path"]))
    return seen
