"""Ingest then cleaning with every data path a ``file://`` URI: all data access goes through
Hadoop's FileSystem, as it would for hdfs:// or s3a:// on a cluster."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from flightpipe.bronze.ingest import run_ingest
from flightpipe.core.cli import recorded
from flightpipe.core.runlog import StageRun, runs_dir
from flightpipe.silver.stage import clean
from tests.support.bts import BTS_BAD, BTS_GOOD, write_bts

URI_PATHS = ("bronze", "warehouse", "landing", "checkpoints", "models", "reports", "var")


def test_ingest_then_cleaning_with_file_uris(spark, make_config, tmp_path, database, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    src = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD + BTS_BAD)
    paths = {key: (data / key).as_uri() for key in URI_PATHS}
    cfg, _ = make_config(
        {
            "paths": paths,
            "ingest": {"embedded": True, "bts_files": [src.as_uri()]},
        }
    )
    assert cfg.paths.bronze == paths["bronze"]
    # A URI mistaken for a local path would land in a folder named "file:" here.
    monkeypatch.chdir(tmp_path)

    ingest_record = StageRun(runs_dir(cfg.paths.var), "ingest")
    landed = {(r.table, r.fmt): (r.rows, r.rejected) for r in run_ingest(spark, cfg, ingest_record)}
    assert landed[("flights_batch", "bts")] == (len(BTS_GOOD), len(BTS_BAD))

    result = recorded(spark, cfg, "cleaning", lambda s, c, r: clean(s, c, r))
    assert (result.bronze_rows, result.balanced) == (len(BTS_GOOD), True)

    flights = spark.table(f"{database}.flights")
    assert flights.count() + result.quarantined + result.duplicates == len(BTS_GOOD)
    assert flights.select(
        F.min("flight_date").cast("string"), F.max("flight_date").cast("string")
    ).first() == (
        "2023-01-05",
        "2023-01-06",
    )
    location = spark.sql(f"DESCRIBE DATABASE EXTENDED {database}").where("info_name = 'Location'").first()[1]
    assert location.startswith("file:") and str(data / "warehouse") in location
    assert spark.table(f"{database}.pipeline_runs").where("stage = 'cleaning' AND status = 'ok'").count() == 1

    assert list((data / "bronze" / "flights_batch").rglob("*.parquet"))
    assert list((data / "var" / "runs" / "synced").glob("*-cleaning-*.json"))
    assert not [p for p in Path(tmp_path).rglob("file:*")]
