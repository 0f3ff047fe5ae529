"""The Data Expo layout end to end in-process: files (plain and .bz2) -> bronze -> staged UTC rows."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.bronze.ingest import run_ingest
from flightpipe.contracts.layouts import DATAEXPO, FLIGHT_LAYOUTS
from flightpipe.core.runlog import StageRun, runs_dir
from flightpipe.core.settings import load_config
from flightpipe.silver.conform import bronze_rows, conform_source, source_values, with_time_zones
from flightpipe.silver.inputs import flight_folders, read_flight_sources
from flightpipe.silver.times import with_utc_times
from tests.support.dataexpo import line, write_dataexpo
from tests.support.project import write_config

WINTER = {"Year": 2008, "Month": 1, "DayofMonth": 15, "DayOfWeek": 2}
SUMMER = {"Year": 2008, "Month": 7, "DayofMonth": 10, "DayOfWeek": 4}
ON_TIME = {"Cancelled": 0, "Diverted": 0}
PLAIN = [
    # JFK -> BOS, departs 23:50 and lands 00:40 the next local day
    line(**WINTER, **ON_TIME, DepTime=2350, CRSDepTime=2345, ArrTime=40, CRSArrTime=35, UniqueCarrier="B6",
         FlightNum=1001, TailNum="N503JB", AirTime=38, ArrDelay=5, DepDelay=5, Origin="JFK", Dest="BOS",
         Distance=187, TaxiIn=4, TaxiOut=8),
    # ORD -> LAX, departs at 2400 (the midnight ending the 15th)
    line(**WINTER, **ON_TIME, DepTime=2400, CRSDepTime=2355, ArrTime=215, CRSArrTime=210, UniqueCarrier="AA",
         FlightNum=2002, TailNum="n3aaaa", AirTime=230, ArrDelay=5, DepDelay=5, Origin="ORD", Dest="LAX",
         Distance=1744),
    # cancelled: NA times and delays, a cancellation code, no tail number
    line(**WINTER, CRSDepTime=1000, CRSArrTime=1130, UniqueCarrier="UA", FlightNum=3003, Origin="JFK",
         Dest="ORD", Distance=740, Cancelled=1, CancellationCode="B", Diverted=0),
]  # fmt: skip
COMPRESSED = [
    # diverted: departed, no arrival
    line(**WINTER, DepTime=1005, CRSDepTime=1000, CRSArrTime=1130, UniqueCarrier="UA", FlightNum=3004,
         TailNum="N401UA", DepDelay=5, Origin="JFK", Dest="ORD", Distance=740, Cancelled=0, Diverted=1),
    # LAX (PDT, UTC-7) -> HNL (HST, UTC-10 all year)
    line(**SUMMER, **ON_TIME, DepTime=805, CRSDepTime=800, ArrTime=1050, CRSArrTime=1045, UniqueCarrier="HA",
         FlightNum=11, TailNum="N580HA", AirTime=320, ArrDelay=5, DepDelay=5, Origin="LAX", Dest="HNL",
         Distance=2556),
    # SJU (AST, UTC-4 all year) -> JFK (EDT, UTC-4 in July), early on both ends
    line(**SUMMER, **ON_TIME, DepTime=1358, CRSDepTime=1400, ArrTime=1750, CRSArrTime=1800, UniqueCarrier="AA",
         FlightNum=600, TailNum="N5CAAA", AirTime=210, ArrDelay=-10, DepDelay=-2, Origin="SJU", Dest="JFK",
         Distance=1598),
]  # fmt: skip
ZONES = [
    ("JFK", "America/New_York"),
    ("BOS", "America/New_York"),
    ("ORD", "America/Chicago"),
    ("LAX", "America/Los_Angeles"),
    ("HNL", "Pacific/Honolulu"),
    ("SJU", "America/Puerto_Rico"),
]


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    """The two files ingested into a bronze of their own: (config, ingest results)."""
    root = tmp_path_factory.mktemp("dataexpo")
    plain = write_dataexpo(root / "2008_part1.csv", PLAIN)
    compressed = write_dataexpo(root / "2008_part2.csv.bz2", COMPRESSED)
    overrides = {"ingest": {"embedded": False, "dataexpo_files": [str(plain), str(root / "*.bz2")]}}
    cfg = load_config(write_config(root, overrides), environ={})
    results = run_ingest(spark, cfg, StageRun(runs_dir(cfg.paths.var), "test"))
    return cfg, results, (plain, compressed)


def test_dataexpo_files_land_in_their_bronze_slot(spark, landed):
    cfg, results, files = landed
    assert [(r.table, r.fmt, r.files, r.rows, r.rejected) for r in results] == [
        ("flights_batch", "dataexpo", 2, 6, 0)
    ]
    bronze = spark.read.parquet(f"{cfg.paths.bronze}/flights_batch")
    per_file = {(r["source_format"], r["_source_file"]): r["count"] for r in
                bronze.groupBy("source_format", "_source_file").count().collect()}  # fmt: skip
    assert per_file == {("dataexpo", str(files[0])): 3, ("dataexpo", str(files[1])): 3}
    cancelled = bronze.where(F.col("Cancelled") == 1).first()
    assert (cancelled["DepTime"], cancelled["CancellationCode"], cancelled["TailNum"]) == (None, "B", None)


def test_dataexpo_rows_conform_to_utc_times_and_flags(spark, landed):
    cfg, _, files = landed
    [source] = read_flight_sources(spark, cfg.paths.bronze, flight_folders(cfg.paths.bronze))
    airports = spark.createDataFrame(ZONES, "airport string, tz_name string")
    # Each row's source values, read back by its file and row index as a quarantined row's are.
    values = bronze_rows(source).transform(source_values)
    got = (
        conform_source(source)
        .join(values, ["_bronze_file", "_bronze_row"])
        .transform(with_time_zones(airports))
        .transform(with_utc_times)
        .select(
            "flight_date", "carrier", "flight_number", "tail_number", "origin", "dest",
            "sched_dep_utc", "dep_utc", "sched_arr_utc", "arr_utc", "is_cancelled", "is_diverted",
            "source_format", F.regexp_extract("_source_file", r"[^/]+$", 0).alias("file"),
            F.get_json_object("raw_values", "$.CancellationCode").alias("raw_code"),
        )
    )  # fmt: skip
    jan, jul = date(2008, 1, 15), date(2008, 7, 10)
    plain, compressed = (f.name for f in files)
    expected = spark.createDataFrame(
        [
            (jan, "B6", 1001, "N503JB", "JFK", "BOS", ts("2008-01-16 04:45"), ts("2008-01-16 04:50"),
             ts("2008-01-16 05:35"), ts("2008-01-16 05:40"), False, False, "dataexpo", plain, None),
            (jan, "AA", 2002, "N3AAAA", "ORD", "LAX", ts("2008-01-16 05:55"), ts("2008-01-16 06:00"),
             ts("2008-01-16 10:10"), ts("2008-01-16 10:15"), False, False, "dataexpo", plain, None),
            (jan, "UA", 3003, None, "JFK", "ORD", ts("2008-01-15 15:00"), None,
             ts("2008-01-15 17:30"), None, True, False, "dataexpo", plain, "B"),
            (jan, "UA", 3004, "N401UA", "JFK", "ORD", ts("2008-01-15 15:00"), ts("2008-01-15 15:05"),
             ts("2008-01-15 17:30"), None, False, True, "dataexpo", compressed, None),
            (jul, "HA", 11, "N580HA", "LAX", "HNL", ts("2008-07-10 15:00"), ts("2008-07-10 15:05"),
             ts("2008-07-10 20:45"), ts("2008-07-10 20:50"), False, False, "dataexpo", compressed, None),
            (jul, "AA", 600, "N5CAAA", "SJU", "JFK", ts("2008-07-10 18:00"), ts("2008-07-10 17:58"),
             ts("2008-07-10 22:00"), ts("2008-07-10 21:50"), False, False, "dataexpo", compressed, None),
        ],
        "flight_date date, carrier string, flight_number int, tail_number string, origin string, "
        "dest string, sched_dep_utc timestamp, dep_utc timestamp, sched_arr_utc timestamp, "
        "arr_utc timestamp, is_cancelled boolean, is_diverted boolean, source_format string, "
        "file string, raw_code string",
    )  # fmt: skip
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_layout_must_map_every_staged_column():
    with pytest.raises(ValueError, match="layout broken maps"):
        dataclasses.replace(DATAEXPO, name="broken", staged={"flight_date": "Year"})
    assert len({layout.name for layout in FLIGHT_LAYOUTS}) == len(FLIGHT_LAYOUTS)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)
