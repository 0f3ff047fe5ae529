"""Schema drift of BTS files: unknown columns fail, are added or are rescued into JSON."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from flightpipe.bronze.drift import RESCUED, check_drift, unknown_columns, with_rescued
from flightpipe.bronze.ingest import run_ingest
from flightpipe.contracts.silver import SILVER_FLIGHTS
from flightpipe.contracts.sources import BTS_COLUMNS, BTS_REQUIRED
from flightpipe.core.errors import PipelineError
from flightpipe.silver.stage import clean
from tests.support import bronze as bf
from tests.support.bts import BTS_GOOD, BTS_HEADER, write_bts_layout

REQUIRED = list(BTS_REQUIRED)
COLUMNS = [c for c in next(csv.reader([BTS_HEADER])) if c]
EXTRA = {"Gate": ["C71", "", "B24", "D5"]}  # one value per line of BTS_GOOD; "" reads as null


def drifting_layout() -> list[str]:
    """The sample's columns with Origin and Dest swapped, then a column BTS does not list."""
    columns = list(COLUMNS)
    i, j = columns.index("Origin"), columns.index("Dest")
    columns[i], columns[j] = columns[j], columns[i]
    return [*columns, "Gate"]


def ingest(spark, make_config, record, files: list[Path], policy: str):
    cfg, _ = make_config(
        {"ingest": {"embedded": False, "bts_files": [str(f) for f in files], "schema_drift": policy}}
    )
    return cfg, run_ingest(spark, cfg, record)


def bts_bronze(spark, cfg):
    return spark.read.parquet(f"{cfg.paths.bronze}/flights_batch/source_format=bts")


def by_airline(df, *columns: str) -> dict[str, tuple]:
    return {r["Reporting_Airline"]: tuple(r[c] for c in columns) for r in df.collect()}


# --- pure ------------------------------------------------------------------------------------


def test_unknown_columns_keep_header_order_and_ignore_the_trailing_field():
    header = ["Year", "Gate", "FlightDate", "Boarding Time", "_trailing"]
    assert unknown_columns(header, BTS_COLUMNS) == ["Gate", "Boarding Time"]
    assert unknown_columns([*BTS_COLUMNS, "_trailing"], BTS_COLUMNS) == []
    assert unknown_columns(["a", "b"], ["b"]) == ["a"]


def test_check_drift_fails_adds_or_rescues_by_policy():
    header = [*REQUIRED, "Tail_Number", "Gate", "_trailing"]
    for policy in ("add", "rescue"):
        assert check_drift("f.csv", header, BTS_COLUMNS, REQUIRED, policy) == ["Gate"]
    assert check_drift("f.csv", [*REQUIRED, "_trailing"], BTS_COLUMNS, REQUIRED, "fail") == []
    with pytest.raises(PipelineError) as failed:
        check_drift("data/On_Time_2024_1.csv", header, BTS_COLUMNS, REQUIRED, "fail")
    assert str(failed.value) == (
        "file data/On_Time_2024_1.csv has column(s) Gate that its layout does not list; set "
        "ingest.schema_drift to add or rescue to land them, or fix the file."
    )
    # A missing optional column is no drift; a missing required one stops every policy.
    assert check_drift("f.csv", REQUIRED, BTS_COLUMNS, REQUIRED, "fail") == []
    with pytest.raises(
        PipelineError, match=r"^file f.csv lacks the required column\(s\) Origin in its header"
    ):
        check_drift("f.csv", [c for c in REQUIRED if c != "Origin"], BTS_COLUMNS, REQUIRED, "add")


def test_with_rescued_packs_unknown_values_as_json_and_is_always_there(spark):
    df = spark.createDataFrame(
        [("UA", "C71", "1"), ("AA", None, "2"), ("B6", None, None)],
        "k string, `gate.no` string, extra string",
    )
    rescued = df.transform(with_rescued(["gate.no", "extra"]))
    assert rescued.columns == ["k", RESCUED]
    got = {r["k"]: r[RESCUED] for r in rescued.collect()}
    assert got == {"UA": '{"gate.no":"C71","extra":"1"}', "AA": '{"extra":"2"}', "B6": None}
    unchanged = df.transform(with_rescued([]))
    assert unchanged.columns == [*df.columns, RESCUED]
    assert unchanged.where(F.col(RESCUED).isNotNull()).count() == 0


def test_schema_drift_setting_takes_three_words(make_config):
    cfg, _ = make_config({"ingest": {"schema_drift": " Add "}})
    assert cfg.ingest.schema_drift == "add"
    with pytest.raises(PipelineError) as bad:
        make_config({"ingest": {"schema_drift": "ignore"}})
    assert str(bad.value).startswith("config key 'ingest.schema_drift' in ")
    assert str(bad.value).endswith("pipeline.yaml must be one of fail, add, rescue, not 'ignore'.")


# --- ingest ------------------------------------------------------------------------------------


def test_fail_stops_before_bronze_is_written(spark, make_config, record, tmp_path):
    src = write_bts_layout(tmp_path / "On_Time_2023_1.csv", drifting_layout(), BTS_GOOD, EXTRA)
    with pytest.raises(PipelineError) as failed:
        ingest(spark, make_config, record, [src], "fail")
    assert str(failed.value) == (
        f"file {src} has column(s) Gate that its layout does not list; set "
        "ingest.schema_drift to add or rescue to land them, or fix the file."
    )
    assert not (tmp_path / "bronze").exists()


def test_add_lands_the_new_column_and_reads_swapped_columns_by_name(spark, make_config, record, tmp_path):
    src = write_bts_layout(tmp_path / "On_Time_2023_1.csv", drifting_layout(), BTS_GOOD, EXTRA)
    cfg, [result] = ingest(spark, make_config, record, [src], "add")
    assert (result.rows, result.rejected) == (4, 0)
    rows = bts_bronze(spark, cfg)
    assert RESCUED not in rows.columns
    assert by_airline(rows, "Origin", "Dest", "Gate", "DepDelay") == {
        "UA": ("EWR", "IAH", "C71", 2.0),
        "AA": ("JFK", "MIA", None, 5.0),
        "B6": ("JFK", "BQN", "B24", None),
        "DL": ("LGA", "ATL", "D5", -6.0),
    }
    assert record.details["flights_batch/bts"]["drift"] == {"policy": "add", "files": {str(src): ["Gate"]}}


def test_rescue_keeps_bronze_columns_fixed_and_silver_unchanged(
    spark, make_config, record, tmp_path, database
):
    # The drifting file holds UA, AA and B6; a second file without Tail_Number holds DL.
    gates = {"Gate": EXTRA["Gate"][:3]}
    drifting = write_bts_layout(tmp_path / "On_Time_2023_1.csv", drifting_layout(), BTS_GOOD[:3], gates)
    no_tail = write_bts_layout(
        tmp_path / "On_Time_2023_2.csv", [c for c in COLUMNS if c != "Tail_Number"], BTS_GOOD[3:]
    )
    cfg, [result] = ingest(spark, make_config, record, [drifting, no_tail], "rescue")
    assert (result.rows, result.rejected) == (4, 0)
    rows = bts_bronze(spark, cfg)
    assert "Gate" not in rows.columns
    assert set(COLUMNS) | {RESCUED, "_trailing"} <= set(rows.columns)
    got = by_airline(rows, RESCUED, "Origin", "Dest", "Tail_Number")
    assert got == {
        "UA": ('{"Gate":"C71"}', "EWR", "IAH", "N14228"),
        "AA": (None, "JFK", "MIA", "N619AA"),
        "B6": ('{"Gate":"B24"}', "JFK", "BQN", "N516JB"),
        "DL": (None, "LGA", "ATL", None),
    }
    assert json.loads(got["UA"][0]) == {"Gate": "C71"}
    assert record.details["flights_batch/bts"]["drift"] == {
        "policy": "rescue",
        "files": {str(drifting): ["Gate"]},
    }

    # Cleaning reads the BTS columns it knows: the rescued JSON stays in bronze.
    bf.write_reference(spark, Path(cfg.paths.bronze), datetime(2026, 1, 1))
    try:
        cleaned = clean(spark, cfg, record)
        assert cleaned.bronze_rows == 4
        # The same four flights as from files without drift: none lost, none quarantined.
        assert (cleaned.silver_rows, cleaned.quarantined, cleaned.duplicates) == (4, 0, 0)
        flights = spark.table(f"{database}.flights")
        assert flights.columns == SILVER_FLIGHTS.fieldNames()
        tails = {r["carrier"]: r["tail_number"] for r in flights.collect()}
        assert tails == {"UA": "N14228", "AA": "N619AA", "B6": "N516JB", "DL": None}
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
