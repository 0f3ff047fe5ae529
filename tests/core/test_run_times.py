"""Times cross between Python and Spark as UTC whatever the Python process's own time zone is.

The run records hold naive UTC datetimes; PySpark reads a naive datetime in the process's local
zone, and collects a timestamp into one. Each test runs in Paris time (UTC+1 in winter), where
either conversion is an hour off.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from pyspark.sql import functions as F

from flightpipe.contracts.ml import METRICS_TABLE
from flightpipe.contracts.quality import DATASET, PASS, CheckResult
from flightpipe.contracts.silver import SILVER_WEATHER_HOURLY
from flightpipe.core import runlog
from flightpipe.core.frames import records_frame
from flightpipe.gold.stage import data_quality
from flightpipe.ml.inputs import SilverStore
from flightpipe.ml.train import write_metrics
from flightpipe.silver.cleaning import write_weather
from flightpipe.silver.tables import ensure_tables, open_database

# 02:00 UTC on a winter night: 03:00 in Paris, and 01:00 UTC if read as Paris time.
STARTED = datetime(2026, 1, 15, 2, 0, 0, 123456)
ENDED = datetime(2026, 1, 15, 2, 4, 30)
MICROS = "yyyy-MM-dd HH:mm:ss.SSSSSS"


@pytest.fixture()
def paris(monkeypatch):
    """The Python process in Paris time for one test (the JVM keeps its own zone)."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def finished_run(runs: str) -> runlog.StageRun:
    run = runlog.StageRun(runs, "cleaning", run_id="r-utc", started_at=STARTED, ended_at=ENDED, status="ok")
    run.checks.append(CheckResult("unique_key", DATASET, "silver.flights", "warn", 10, 0, PASS))
    return run


def test_synced_run_times_are_the_records_utc_times(spark, cfg, database, paris):
    runs = runlog.runs_dir(cfg.paths.var)
    finished_run(runs).write()
    assert runlog.sync_to_hive(spark, runs, database, cfg.paths.warehouse) == 1
    runs_row = spark.table(f"{database}.pipeline_runs").select(
        F.date_format("started_at", MICROS).alias("started_at"),
        F.date_format("ended_at", MICROS).alias("ended_at"),
    )
    assert [tuple(r) for r in runs_row.collect()] == [
        ("2026-01-15 02:00:00.123456", "2026-01-15 02:04:30.000000")
    ]
    dq_row = spark.table(f"{database}.dq_results").select(F.date_format("started_at", MICROS))
    assert [r[0] for r in dq_row.collect()] == ["2026-01-15 02:00:00.123456"]


def test_gold_data_quality_rows_of_the_run_carry_its_utc_start(spark, cfg, paris):
    rows = data_quality(spark, finished_run(runlog.runs_dir(cfg.paths.var))).collect()
    assert [(r["check_name"], r["started_at"]) for r in rows] == [
        ("unique_key", "2026-01-15 02:00:00.123456")
    ]


def test_model_metrics_keep_the_utc_training_time(spark, cfg, database, paris):
    silver = SilverStore(database, cfg.paths.warehouse, cfg.paths.metastore_db)
    write_metrics(
        spark,
        silver,
        [{"model_name": "gbt", "model_version": "v1", "run_id": "r-utc", "trained_at": STARTED}],
    )
    got = spark.table(silver.table(METRICS_TABLE)).select(F.date_format("trained_at", MICROS)).collect()
    assert [r[0] for r in got] == ["2026-01-15 02:00:00.123456"]


def test_cleanings_newest_weather_hour_is_its_utc_hour(spark, cfg, database, paris):
    open_database(spark, database, cfg.paths.warehouse)
    ensure_tables(spark, database)
    hours = [STARTED.replace(hour=h, microsecond=0, tzinfo=timezone.utc) for h in (0, 1, 2)]
    values = [{"airport": "JFK", "hour_utc": h} for h in hours]
    conformed = records_frame(spark, values, SILVER_WEATHER_HOURLY).withColumns(
        {"_source_rank": F.lit(0), "_ingested_at": F.current_timestamp(), "_source_file": F.lit("f")}
    )
    written = write_weather(spark, conformed, f"{database}.weather_hourly")
    assert (written["silver_rows"], written["newest_hour"]) == (3, "2026-01-15 02:00:00")
