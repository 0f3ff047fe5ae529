"""The synthetic BTS generator: deterministic, exact, BTS-shaped, realistic, and accepted by
ingest and cleaning."""

from __future__ import annotations

import csv
import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from flightpipe.bronze.ingest import run_ingest
from flightpipe.contracts import sources as S
from flightpipe.core.cli import recorded
from flightpipe.core.settings import PACKAGE_ROOT
from flightpipe.silver.stage import clean
from flightpipe.tools.bench.peers import parse_result, write_reference
from flightpipe.tools.synth import flights as synthetic
from flightpipe.tools.synth import reference
from flightpipe.tools.synth.generate import generate, write_flights

YEAR = 2023


def data_lines(folder: Path) -> int:
    """Flight rows in every CSV of ``folder`` (header lines not counted)."""
    total = 0
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            total += sum(1 for _ in fh) - 1
    return total


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    """2,000 flights and two days of weather with seed 7, written twice; the flights alone once
    more with seed 8."""
    base = tmp_path_factory.mktemp("synth")
    runs = {name: generate(spark, 2_000, base / name, seed=7, year=YEAR, weather_days=2) for name in "ab"}
    write_flights(synthetic.flights(spark, 2_000, 8, YEAR), str(base / "c"), YEAR)
    return base, runs


def test_same_seed_same_files_other_seed_other_files(generated):
    base, _ = generated
    names = sorted(p.name for p in (base / "a" / "bts").iterdir())
    assert names == sorted(p.name for p in (base / "b" / "bts").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(base / "a" / "bts", base / "b" / "bts", names, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert len(match) == len(names)
    assert filecmp.cmp(
        base / "a" / "openmeteo" / "ATL_2023.json", base / "b" / "openmeteo" / "ATL_2023.json", shallow=False
    )
    assert not filecmp.cmp(base / "a" / "bts" / names[0], base / "c" / "bts" / names[0], shallow=False), (
        "another seed must give other flights"
    )


def test_exact_row_count_one_file_per_month(generated):
    base, runs = generated
    assert data_lines(base / "a" / "bts") == 2_000
    # 2,000 rows are 6 daily flights for 333 days and 2 for 2 more: every month has flights.
    expected = [reference.BTS_NAME.format(year=YEAR, month=m) for m in range(1, 13)]
    assert sorted(p.name for p in (base / "a" / "bts").iterdir()) == sorted(expected)
    assert runs["a"]["rows"] == 2_000


def test_bts_header_in_order(generated):
    base, _ = generated
    for path in sorted((base / "a" / "bts").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        assert header == list(S.BTS_COLUMNS)
    assert len(S.BTS_COLUMNS) == 109
    assert set(S.BTS_REQUIRED) <= set(S.BTS_COLUMNS)
    assert S.BTS_COLUMNS[:7] == (
        "Year",
        "Quarter",
        "Month",
        "DayofMonth",
        "DayOfWeek",
        "FlightDate",
        "Reporting_Airline",
    )
    assert S.BTS_COLUMNS[-1] == "Div5TailNum"


def test_rows_are_by_month_and_date(generated):
    base, _ = generated
    path = base / "a" / "bts" / "On_Time_Reporting_Carrier_On_Time_Performance_1987_present_2023_2.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["Month"] for r in rows} == {"2"}
    dates = [r["FlightDate"] for r in rows]
    assert dates == sorted(dates)
    assert dates[0] == "2023-02-01" and dates[-1] == "2023-02-28"


def test_weather_is_open_meteo_hourly_json(generated):
    base, runs = generated
    files = sorted((base / "a" / "openmeteo").glob("*.json"))
    assert len(files) == len(reference.load_airports()) == len(runs["a"]["openmeteo_files"])
    doc = json.loads((base / "a" / "openmeteo" / "ATL_2023.json").read_text(encoding="utf-8"))
    assert doc["utc_offset_seconds"] == 0
    assert doc["hourly_units"]["visibility"] == "m"
    hourly = doc["hourly"]
    assert hourly["time"][:2] == ["2023-01-01T00:00", "2023-01-01T01:00"]
    assert hourly["time"][-1] == "2023-01-02T23:00"
    assert {len(v) for v in hourly.values()} == {48}
    assert set(hourly) == set(reference.OPENMETEO_UNITS)


def test_shape_is_realistic(spark):
    """Rates on 60,000 rows: cancellations, diversions, delay tail, skewed airports, day peaks."""
    df = synthetic.flights(spark, 60_000, 11, YEAR).cache()
    num = {c: F.col(c).cast("double") for c in ("Cancelled", "Diverted", "DepDelay", "ArrDelay")}
    stats = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.avg(num["Cancelled"]).alias("cancelled"),
        F.avg(num["Diverted"]).alias("diverted"),
        F.percentile_approx(num["DepDelay"], [0.5, 0.9, 0.99], 10_000).alias("dep_q"),
        F.avg((num["ArrDelay"] >= 15).cast("double")).alias("arr_del15"),
        F.max(num["DepDelay"]).alias("dep_max"),
        F.countDistinct("Origin").alias("origins"),
        F.countDistinct("Reporting_Airline").alias("carriers"),
        # a cancelled flight has no departure; a diverted one no arrival
        F.sum(((num["Cancelled"] == 1) & F.col("DepTime").isNotNull()).cast("int")).alias("cancel_dep"),
        F.sum(((num["Diverted"] == 1) & F.col("ArrTime").isNotNull()).cast("int")).alias("divert_arr"),
    ).first()
    assert stats["rows"] == 60_000
    assert 0.013 <= stats["cancelled"] <= 0.021
    assert 0.0012 <= stats["diverted"] <= 0.0040
    median, p90, p99 = stats["dep_q"]
    assert -6 <= median <= 2, "most flights leave close to schedule"
    assert 15 <= p90 <= 60 and p99 >= 100 and stats["dep_max"] >= 300, "a long tail of delays"
    assert 0.12 <= stats["arr_del15"] <= 0.30
    assert stats["origins"] >= 60 and stats["carriers"] >= 12
    assert stats["cancel_dep"] == 0 and stats["divert_arr"] == 0

    per_origin = [r["n"] for r in df.groupBy("Origin").agg(F.count(F.lit(1)).alias("n")).collect()]
    per_origin.sort(reverse=True)
    assert per_origin[0] >= 5 * per_origin[len(per_origin) // 2], "traffic is skewed to hubs"

    hours = df.groupBy(F.substring("CRSDepTime", 1, 2).cast("int").alias("h")).count()
    by_hour = {r["h"]: r["count"] for r in hours.collect()}
    assert min(by_hour) >= 5 and max(by_hour) <= 23
    assert by_hour.get(8, 0) > 2 * by_hour.get(12, 0) and by_hour.get(17, 0) > 2 * by_hour.get(12, 0)
    df.unpersist()


def test_ingest_and_cleaning_accept_the_output(generated, spark, make_config, database, record):
    base, _ = generated
    out = base / "b"
    cfg, _ = make_config(
        {
            "ingest": {
                # Time zones then come from airportsdata alone, which knows every generated airport.
                "embedded": False,
                "bts_files": [str(out / "bts" / "*.csv")],
                "openmeteo_files": [str(out / "openmeteo" / "*.json")],
            }
        }
    )
    results = {(r.table, r.fmt): r for r in run_ingest(spark, cfg, record)}
    flights = results[("flights_batch", "bts")]
    assert (flights.files, flights.rows, flights.rejected) == (12, 2_000, 0)
    weather = results[("weather", "openmeteo")]
    assert (weather.rows, weather.rejected) == (len(reference.load_airports()) * 48, 0)

    result = recorded(spark, cfg, "cleaning", clean)
    assert result.bronze_rows == 2_000
    assert result.duplicates == 0
    assert result.balanced
    # Arrival clocks are computed in the destination's zone, so the time rules pass.
    assert result.quarantined <= 3, result.rule_counts
    silver = spark.table(f"{database}.flights")
    assert silver.count() == 2_000 - result.quarantined
    wx = spark.table(f"{database}.weather_hourly").where(F.col("source_format") == "openmeteo")
    assert wx.select("airport").distinct().count() == len(reference.load_airports())

    # The bench's DuckDB peer keeps, quarantines and aggregates the same rows as ours.
    write_reference(str(out))
    script = str(PACKAGE_ROOT / "bench" / "peers" / "duckdb_plain.py")
    done = {}
    for stage in ("ingest", "cleaning", "gold"):
        args = ["--stage", stage, "--input", str(out), "--out", str(base / "duckdb-peer")]
        run = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        done[stage] = parse_result(run.stdout)
    assert done["ingest"] == {"stage": "ingest", "bronze_rows": 2_000, "weather_rows": weather.rows}
    assert done["cleaning"] == {
        "stage": "cleaning",
        "bronze_rows": 2_000,
        "silver_rows": result.silver_rows,
        "quarantine_rows": result.quarantined,
        "duplicate_rows": 0,
    }
    assert done["gold"]["flights"] == result.silver_rows
    carriers = silver.select("carrier").distinct().count()
    assert done["gold"]["marts"]["delay_by_carrier"] == carriers
