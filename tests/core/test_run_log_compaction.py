"""The run-log tables are rewritten as one file once a sync leaves them with too many."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from chispa import assert_df_equality

from flightpipe.contracts.quality import DATASET, PASS, CheckResult
from flightpipe.core import runlog, storage

START = datetime(2026, 3, 2, 1, 0, 0)


def record(runs: str, i: int) -> runlog.StageRun:
    started = START + timedelta(days=i)
    run = runlog.StageRun(
        runs,
        "cleaning",
        run_id=f"r{i}",
        started_at=started,
        ended_at=started + timedelta(minutes=3),
        status="ok",
    )
    run.checks.append(CheckResult("unique_key", DATASET, "silver.flights", "warn", 10 + i, 0, PASS))
    return run


def data_files(spark, table: str) -> list[Path]:
    location = Path(storage.plain_path(spark.table(table).inputFiles()[0])).parent
    return sorted(p for p in location.iterdir() if p.name.endswith(".parquet"))


def test_each_sync_past_the_limit_merges_the_table_into_one_file_keeping_every_row(spark, cfg, database):
    runs = runlog.runs_dir(cfg.paths.var)
    counts = []
    for i in range(5):
        record(runs, i).write()
        assert runlog.sync_to_hive(spark, runs, database, cfg.paths.warehouse, max_files=3) == 1
        counts.append(
            (
                len(data_files(spark, f"{database}.pipeline_runs")),
                len(data_files(spark, f"{database}.dq_results")),
            )
        )

    # One file per sync; the fourth makes four, over the limit of three: merged into one.
    assert counts == [(1, 1), (2, 2), (3, 3), (1, 1), (2, 2)]
    runs_rows = spark.table(f"{database}.pipeline_runs").select("run_id", "stage", "status")
    expected = spark.createDataFrame(
        [(f"r{i}", "cleaning", "ok") for i in range(5)], "run_id string, stage string, status string"
    )
    assert_df_equality(runs_rows, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    dq_rows = spark.table(f"{database}.dq_results").select("run_id", "check_name", "rows_checked")
    expected_dq = spark.createDataFrame(
        [(f"r{i}", "unique_key", 10 + i) for i in range(5)],
        "run_id string, check_name string, rows_checked bigint",
    )
    assert_df_equality(
        dq_rows, expected_dq, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )
    location = data_files(spark, f"{database}.pipeline_runs")[0].parent
    assert not (location / "_compacting").exists()


def sync_two_runs(spark, cfg, database) -> None:
    """Two stage runs, each synced on its own: two files in each run-log table."""
    runs = runlog.runs_dir(cfg.paths.var)
    for i in range(2):
        record(runs, i).write()
        runlog.sync_to_hive(spark, runs, database, cfg.paths.warehouse)


def test_rows_a_crash_left_twice_are_kept_once(spark, cfg, database):
    sync_two_runs(spark, cfg, database)
    table = f"{database}.pipeline_runs"
    # A compaction that stopped after moving its file in and before deleting the old ones.
    first = data_files(spark, table)[0]
    shutil.copy(first, first.with_name("part-99999-left-by-a-crash.snappy.parquet"))
    spark.catalog.refreshTable(table)
    assert spark.table(table).count() == 3

    assert runlog.compact(spark, table, max_files=2) == 3

    assert len(data_files(spark, table)) == 1
    assert sorted(r.run_id for r in spark.table(table).collect()) == ["r0", "r1"]


def test_a_table_within_the_limit_is_left_as_it_is(spark, cfg, database):
    sync_two_runs(spark, cfg, database)
    table = f"{database}.dq_results"
    before = data_files(spark, table)

    assert runlog.compact(spark, table, max_files=2) == 0
    assert data_files(spark, table) == before


def test_a_table_under_a_folder_with_a_space_and_a_percent_sign_is_merged_in_place(
    spark, cfg, database, tmp_path
):
    # Spark lists the table's files as percent-encoded URIs ("my%20runs%25"): taken literally,
    # the merged file went to another folder and the old files were not found.
    folder = tmp_path / "my runs %x"
    spark.sql(f"CREATE DATABASE {database} LOCATION '{folder / 'silver.db'}'")
    sync_two_runs(spark, cfg, database)
    table = f"{database}.pipeline_runs"

    assert runlog.compact(spark, table, max_files=1) == 2

    assert [p.parent for p in data_files(spark, table)] == [folder / "silver.db" / "pipeline_runs"]
    assert sorted(r.run_id for r in spark.table(table).collect()) == ["r0", "r1"]
    assert not (tmp_path / "my%20runs%20%25x").exists()


def test_a_merge_that_did_not_read_every_row_deletes_nothing(spark, cfg, database, monkeypatch):
    sync_two_runs(spark, cfg, database)
    table = f"{database}.pipeline_runs"
    before = data_files(spark, table)
    # File names the filter does not match, as a Spark spelling them otherwise would give.
    monkeypatch.setattr(runlog.storage, "uri_spellings", lambda uri: [f"{uri}-spelt-otherwise"])

    assert runlog.compact(spark, table, max_files=1) == 0

    assert data_files(spark, table) == before
    assert sorted(r.run_id for r in spark.table(table).collect()) == ["r0", "r1"]
    assert not (before[0].parent / "_compacting").exists()
