"""The checked flights of a run, written once to a staging folder before anything is published.

Bronze is read, conformed, timed and checked in one pass whose output is written, split by
outcome, year and month, under ``<warehouse>/.staging/``. The summary and the data-quality
checks read the few columns they need from there; only when every check passed are the
quarantined rows given their source values (read back from bronze by file and row index) and
the staged month folders of the silver and quarantined rows moved into their tables (a rename,
no second write), and the staging folder is dropped either way. A run that stops on a check
leaves the tables as they were.

A staged file holds the columns of both tables and what the checks read (``STAGED_EXTRA``):
each table reads its own columns by name and never sees the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.contracts.quality import CheckResult
from flightpipe.contracts.silver import SILVER_FLIGHTS
from flightpipe.core import runlog, storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import union_all
from flightpipe.core.session import temporary_conf
from flightpipe.silver import checks, quality
from flightpipe.silver.conform import (
    BRONZE_ROW,
    bronze_rows,
    clean_flights,
    conform_source,
    filter_months,
    prune_stream,
    source_values,
    with_bucket,
)
from flightpipe.silver.inputs import FlightSource
from flightpipe.silver.plan import Month
from flightpipe.silver.summary import Summary, summarize
from flightpipe.silver.tables import NO_DATE_PARTITION, publish_partitions

# What the summary, the checks and the quarantine's source values read besides the columns of
# the two tables.
STAGED_EXTRA = ("_has_carrier", "_bronze_table", "_bronze_file", BRONZE_ROW)
# Up to this many quarantined rows, their (file, row) keys go to every task (at most tens of
# MB of file names and row numbers); above, Spark joins them to bronze by a shuffle.
BROADCAST_KEYS = 250_000
# Partition columns of the silver tables; a staged row without a flight date is in month 0.
PARTITIONS = ("year", "month")


def staging_path(warehouse: str) -> str:
    """A new staging folder of one run under the warehouse."""
    return storage.join(warehouse, ".staging", f"flights-{uuid.uuid4().hex[:12]}")


def to_staged(run_id: str, rejected_at: Any):
    """A transform giving checked rows the staging columns: the silver contract, the
    quarantine's own columns (``rules``, ``raw_values``, ``run_id``, ``rejected_at``), what the
    checks read, then the partitions."""

    def transform(df: DataFrame) -> DataFrame:
        quarantined = F.col("outcome") == quality.QUARANTINED
        silver = [
            F.col(f.name).cast(f.dataType).alias(f.name)
            for f in SILVER_FLIGHTS.fields
            if f.name not in PARTITIONS
        ]
        return df.select(
            *silver,
            # Every broken rule, warnings on silver rows included: the summary counts them all.
            F.col("rules_broken").alias("rules"),
            # Filled from bronze once the checks passed (fill_raw_values).
            F.lit(None).cast("string").alias("raw_values"),
            F.when(quarantined, F.lit(run_id)).alias("run_id"),
            F.when(quarantined, F.lit(rejected_at).cast("timestamp")).alias("rejected_at"),
            *STAGED_EXTRA,
            *[F.coalesce(F.col(c), F.lit(NO_DATE_PARTITION)).alias(c) for c in PARTITIONS],
            "outcome",
        )

    return transform


@dataclass(frozen=True)
class StagedFlights:
    """The staged rows of one run: read back by outcome, then discarded."""

    spark: SparkSession
    path: str
    schema: StructType
    quarantine: str | None = None  # the quarantined rows with their source values, once filled

    def _read(self) -> DataFrame:
        return self.spark.read.schema(self.schema).parquet(self.path)

    def rows(self) -> DataFrame:
        """Every staged row (with ``outcome``, and ``rules_broken`` as the checks name it)."""
        return self._read().withColumnRenamed("rules", "rules_broken")

    def rows_of(self, outcome: str) -> DataFrame:
        """The staged rows of ``outcome`` in their stored columns (without ``outcome``)."""
        return self._read().where(F.col("outcome") == outcome).drop("outcome")

    def month_folders(self, outcome: str) -> dict[Month, str]:
        """(year, month) -> the staged folder of that month's rows of ``outcome``."""
        root = storage.join(self.path, f"outcome={outcome}")
        if outcome == quality.QUARANTINED and self.quarantine is not None:
            root = self.quarantine
        found = {}
        for year_dir in storage.list_dirs(root):
            for month_dir in storage.list_dirs(year_dir):
                found[(_value(year_dir), _value(month_dir))] = month_dir
        return found

    def discard(self) -> None:
        storage.delete(self.path)
        if self.quarantine is not None:
            storage.delete(self.quarantine)


def _value(folder: str) -> int:
    """The value of a ``name=value`` partition folder."""
    return int(storage.name(folder).split("=", 1)[1])


def stage(df: DataFrame, path: str) -> StagedFlights:
    """Write the checked rows under ``path``, one folder per outcome, year and month."""
    staged = df.transform(to_staged(runlog.current_run_id(), runlog.utcnow()))
    staged.write.mode("overwrite").partitionBy("outcome", *PARTITIONS).parquet(path)
    return StagedFlights(df.sparkSession, path, staged.schema)


def check_flights(
    sources: list[FlightSource],
    months: set[Month] | None,
    airports: DataFrame,
    carriers: DataFrame | None,
    expect: checks.Expectations,
    landed: dict[str, int],
    sink: list[CheckResult],
    staging: str,
    partitions: int = 0,
) -> tuple[StagedFlights, Summary]:
    """The checked rows of ``months`` (all when None), staged under ``staging``, and their
    summary; the data-quality results go into ``sink``.

    ``landed`` maps the bronze slots read whole to the rows ingest landed in them;
    ``partitions`` sizes the unique-key window's shuffle (see
    :func:`flightpipe.silver.quality.month_cluster`). Stops with one sentence, nothing written to
    the tables, when a ``fail`` rule is broken or a ``fail`` check fails.
    """
    settings, actions = expect.settings, expect.actions
    pruned = [prune_stream(s, months) for s in sources]
    staged = union_all([conform_source(s).transform(with_bucket) for s in pruned]).transform(
        filter_months(months)
    )
    checked = clean_flights(staged, airports, settings, actions, partitions).transform(
        lambda df: checks.with_known_carrier(df, carriers)
    )
    # One pass over bronze: the checked rows are written once; the summary, the checks and the
    # table writes read back only the columns they need.
    written = stage(checked, staging)
    try:
        summary = summarize(written.rows())
        sink.extend(checks.flight_results(summary, expect, landed))
        quality.check_fail_rules(summary.rules, actions, expect.where, expect.config_file)
        checks.raise_failed(sink, expect.where, expect.config_file)
        quarantined = sum(m[quality.QUARANTINED] for m in summary.per_month.values())
        if quarantined:
            written = fill_raw_values(written, sources, quarantined)
    except BaseException:
        written.discard()
        raise
    return written, summary


def fill_raw_values(staged: StagedFlights, sources: list[FlightSource], quarantined: int) -> StagedFlights:
    """The staged quarantined rows with their ``raw_values``, read back from bronze by file and
    row index and written beside the staging folder (the staged copy of them has none).

    The checked pass reads only the bronze columns silver needs; carrying every source column
    of every row through it for the few quarantined ones was most of its work. Here only the
    files holding a quarantined row are read, and only those rows' columns are made JSON.
    """
    spark, keys = staged.spark, ["_bronze_file", BRONZE_ROW]
    stored = staged.rows_of(quality.QUARANTINED)
    rows = stored.drop("raw_values")
    files = sorted(r[0] for r in rows.select("_bronze_file").distinct().collect())
    wanted = rows.select(*keys)
    if quarantined <= BROADCAST_KEYS:
        # Spark sizes the staged folder, not its few quarantined rows: without the hint it
        # shuffles every bronze row (with all its columns) to join them.
        wanted = F.broadcast(wanted)
    values = union_all(
        [
            bronze_rows(s)
            .where(F.col("_bronze_file").isin(files))
            .join(wanted, keys, "left_semi")
            .transform(source_values)
            for s in sources
        ]
    )
    seen = Observation("raw_values")
    filled = (
        rows.join(values, keys, "left")
        .observe(seen, F.count_if(F.col("raw_values").isNull()).alias("missing"))
        .select(*stored.columns)
    )
    path = f"{staged.path}-quarantined"
    # Spark reads parquet column by column, and generates the code that tests a row's index
    # before it touches its other columns, only for plans of at most maxFields columns (100 by
    # default, fewer than a BTS row's): row by row, every column of every row would be decoded.
    widest = max(len(s.df.columns) for s in sources) + 8
    try:
        with temporary_conf(spark, "spark.sql.codegen.maxFields", str(max(widest, 100))):
            filled.write.mode("overwrite").partitionBy(*PARTITIONS).parquet(path)
    except BaseException:
        storage.delete(path)
        raise
    missing = int(seen.get["missing"] or 0)
    if missing:
        storage.delete(path)
        raise PipelineError(
            f"{missing} quarantined bronze row{'s' if missing > 1 else ''} could not be read back "
            "from their files under "
            f"{', '.join(sorted({s.path for s in sources}))} (changed while cleaning ran?); "
            "nothing was published: run cleaning.py again."
        )
    return replace(staged, quarantine=path)


def write_flights(spark: SparkSession, db: str, staged: StagedFlights, months: set[Month] | None) -> None:
    """Make the staged months the ``months`` partitions (all when None) of silver flights and
    the quarantine, then drop the staging folder."""
    try:
        for table, outcome in (
            (f"{db}.flights", quality.SILVER),
            (f"{db}.flights_rejected", quality.QUARANTINED),
        ):
            publish_partitions(spark, table, staged.month_folders(outcome), months)
    finally:
        staged.discard()
