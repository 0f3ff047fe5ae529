"""The checked flights of a run, written once to a staging folder before anything is published.

Bronze is read, conformed, timed and checked in one pass whose output is written, split by
outcome, under ``<warehouse>/.staging/``. The summary and the data-quality checks read the few
columns they need from there; only when every check passed are the silver and quarantine
tables written from the staged rows, and the staging folder is dropped either way. A run that
stops on a check leaves the tables as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.contracts.layouts import FLIGHT_LAYOUTS
from flightpipe.contracts.quality import CheckResult
from flightpipe.contracts.silver import SILVER_FLIGHTS
from flightpipe.core import runlog, storage
from flightpipe.core.frames import union_all
from flightpipe.silver import checks, quality
from flightpipe.silver.conform import (
    clean_flights,
    conform_source,
    filter_months,
    prune_stream,
    to_rejected,
    to_silver_flights,
    with_bucket,
)
from flightpipe.silver.inputs import FlightSource
from flightpipe.silver.plan import Month
from flightpipe.silver.summary import Summary, summarize
from flightpipe.silver.tables import overwrite_partitions

# What the summary, the checks and the quarantine read besides the silver columns.
STAGED_EXTRA = (
    "rules_broken",
    "raw_values",
    "_has_carrier",
    "_bronze_table",
    "_bronze_file",
)


def staging_path(warehouse: str) -> str:
    """A new staging folder of one run under the warehouse."""
    return storage.join(warehouse, ".staging", f"flights-{uuid.uuid4().hex[:12]}")


def with_raw_values(df: DataFrame) -> DataFrame:
    """``raw_values``: the source row of each layout as JSON (only quarantined rows keep one)."""
    raw = [F.to_json(F.col(lay.raw_column)) for lay in FLIGHT_LAYOUTS if lay.raw_column in df.columns]
    value = F.coalesce(*raw) if raw else F.lit(None).cast("string")
    return df.withColumn("raw_values", value).drop(*[lay.raw_column for lay in FLIGHT_LAYOUTS])


def to_staged(df: DataFrame) -> DataFrame:
    """Checked rows in the staging columns: the silver contract, then what the checks read."""
    silver = [F.col(f.name).cast(f.dataType).alias(f.name) for f in SILVER_FLIGHTS.fields]
    return df.transform(with_raw_values).select(*silver, *STAGED_EXTRA, "outcome")


@dataclass(frozen=True)
class StagedFlights:
    """The staged rows of one run: read back by outcome, then discarded."""

    spark: SparkSession
    path: str
    schema: StructType

    def rows(self) -> DataFrame:
        """Every staged row (with ``outcome``)."""
        return self.spark.read.schema(self.schema).parquet(self.path)

    def outcome(self, name: str) -> DataFrame:
        """The staged rows of one outcome."""
        return self.rows().where(F.col("outcome") == name)

    def discard(self) -> None:
        storage.delete(self.path)


def stage(df: DataFrame, path: str) -> StagedFlights:
    """Write the checked rows under ``path``, one folder per outcome."""
    staged = df.transform(to_staged)
    staged.write.mode("overwrite").partitionBy("outcome").parquet(path)
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
) -> tuple[StagedFlights, Summary]:
    """The checked rows of ``months`` (all when None), staged under ``staging``, and their
    summary; the data-quality results go into ``sink``.

    ``landed`` maps the bronze slots read whole to the rows ingest landed in them. Stops with
    one sentence, nothing written to the tables, when a ``fail`` rule is broken or a ``fail``
    check fails.
    """
    settings, actions = expect.settings, expect.actions
    pruned = [prune_stream(s, months) for s in sources]
    staged = union_all([conform_source(s).transform(with_bucket) for s in pruned]).transform(
        filter_months(months)
    )
    checked = clean_flights(staged, airports, settings, actions).transform(
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
    except BaseException:
        written.discard()
        raise
    return written, summary


def write_flights(
    spark: SparkSession,
    db: str,
    staged: StagedFlights,
    per_month: dict[Month, dict[str, int]],
    months: set[Month] | None,
) -> None:
    """Replace the ``months`` partitions (all when None) of silver flights and the quarantine
    with the staged rows, then drop the staging folder."""
    run_id, now = runlog.current_run_id(), runlog.utcnow()
    outcomes = {
        f"{db}.flights": (quality.SILVER, to_silver_flights),
        f"{db}.flights_rejected": (quality.QUARANTINED, to_rejected(run_id, now)),
    }
    try:
        for table, (outcome, shape) in outcomes.items():
            present = {m for m, v in per_month.items() if v[outcome] > 0}
            overwrite_partitions(spark, staged.outcome(outcome).transform(shape), table, months, present)
    finally:
        staged.discard()
