"""Scoring a range of scheduled dates with the promoted model into the predictions table.

Idempotent: the days of the range are replaced (dynamic partition overwrite) and days of
the range that no longer hold a flight are dropped; the rest of the table stays as it is.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.ml import DELAY_PREDICTIONS, PREDICTIONS_TABLE
from flightpipe.core import runlog
from flightpipe.core.catalog import ensure_database
from flightpipe.core.errors import PipelineError
from flightpipe.core.session import temporary_conf
from flightpipe.ml import features as ft
from flightpipe.ml import registry
from flightpipe.ml.evaluate import with_probability
from flightpipe.ml.inputs import FLIGHTS, SilverStore, flights_between, load_silver

log = logging.getLogger("flightpipe.models")


def predictions(model: PipelineModel, info: dict[str, Any], threshold: float, run_id: str, scored_at: Any):
    """A transform from feature rows to the predictions contract, tagged with the model version."""

    def apply(feats: DataFrame) -> DataFrame:
        scored = feats.transform(with_probability(model, threshold))
        return scored.select(
            "carrier",
            "flight_number",
            "origin",
            "sched_dep_utc",
            F.col("p_delayed").alias("probability"),
            "predicted_label",
            F.lit(info["model_name"]).alias("model_name"),
            F.lit(info["model_version"]).alias("model_version"),
            F.lit(run_id).alias("run_id"),
            F.lit(scored_at).cast("timestamp").alias("scored_at"),
            "flight_date",
        )

    return apply


def _drop_stale_partitions(spark: SparkSession, table: str, start: date, end: date, kept: set[date]) -> None:
    for row in spark.sql(f"SHOW PARTITIONS {table}").collect():
        value = row[0].split("=", 1)[1]
        day = date.fromisoformat(value)
        if start <= day <= end and day not in kept:
            spark.sql(f"ALTER TABLE {table} DROP IF EXISTS PARTITION (flight_date = '{value}')")


def write_predictions(
    spark: SparkSession, staged: DataFrame, silver: SilverStore, start: date, end: date
) -> None:
    """Replace the days ``start``..``end`` of the predictions table with ``staged``."""
    table = silver.table(PREDICTIONS_TABLE)
    ensure_database(spark, silver.database, silver.warehouse)
    if not spark.catalog.tableExists(table):
        staged.limit(0).write.format("parquet").partitionBy("flight_date").saveAsTable(table)
    # Only the days being scored are replaced; the rest of the table stays as it is.
    with temporary_conf(spark, "spark.sql.sources.partitionOverwriteMode", "dynamic"):
        staged.select(*DELAY_PREDICTIONS.fieldNames()).write.mode("overwrite").insertInto(table)
    days = {r[0] for r in staged.select("flight_date").distinct().collect()}
    _drop_stale_partitions(spark, table, start, end, days)


def score_flights(
    spark: SparkSession,
    silver: SilverStore,
    models_path: str,
    start: date,
    end: date,
    cutoff_minutes: int,
    threshold: float,
    run: runlog.StageRun,
) -> dict[str, Any]:
    """Score every flight scheduled from ``start`` to ``end`` (replacing earlier scores of that range)."""
    if end < start:
        raise PipelineError(f"--start {start} is after --end {end}; give a range with start <= end.")
    model, info = registry.load_latest(models_path)
    flights, weather = load_silver(spark, silver)
    feats = ft.build_features(flights_between(flights, start, end), weather, cutoff_minutes)
    feats = feats.where(F.col("flight_date").between(start, end))
    out = feats.transform(predictions(model, info, threshold, runlog.current_run_id(), runlog.utcnow()))
    staged = out.localCheckpoint()
    n = staged.count()
    if n == 0:
        raise PipelineError(
            f"{silver.table(FLIGHTS)} has no flight scheduled from {start} to {end}; "
            "pick dates that cleaning.py has loaded."
        )
    write_predictions(spark, staged, silver, start, end)
    run.rows_in = n
    run.rows_out = n
    run.details = {
        "start": start,
        "end": end,
        "model_name": info["model_name"],
        "model_version": info["model_version"],
    }
    log.info(
        "scored %d flights from %s to %s with %s %s into %s",
        n,
        start,
        end,
        info["model_name"],
        info["model_version"],
        silver.table(PREDICTIONS_TABLE),
    )
    return {"rows": n, **run.details}
