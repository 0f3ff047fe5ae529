"""The atomic swap: readers never see a missing or partial table, failures keep the old ones."""

from __future__ import annotations

import threading
import time
from datetime import date

import mysql.connector
import pytest

from flightpipe.contracts.silver import PIPELINE_RUNS, SILVER_WEATHER_HOURLY
from flightpipe.core.errors import PipelineError
from flightpipe.gold import marts, swap
from tests.support import gold_data
from tests.support.gold import query, tables


def fixture_marts(spark, flight_rows):
    """Every mart built from in-memory silver frames (no metastore needed)."""
    silver = marts.Silver(
        flights=spark.createDataFrame(flight_rows, gold_data.SCHEMAS["flights"]),
        weather=spark.createDataFrame(gold_data.WEATHER_ROWS, SILVER_WEATHER_HOURLY),
        airlines=spark.createDataFrame(gold_data.AIRLINE_ROWS, gold_data.SCHEMAS["airlines"]),
        airports=spark.createDataFrame(gold_data.AIRPORT_ROWS, gold_data.SCHEMAS["airports"]),
        model_metrics=spark.createDataFrame(gold_data.METRICS_ROWS, gold_data.METRICS_COLUMNS),
        pipeline_runs=spark.createDataFrame(gold_data.RUN_ROWS, PIPELINE_RUNS),
    )
    return [(spec, df.cache()) for spec, df in marts.build_marts(silver)]


# Two more flights: a Delta flight on a new day (new carrier, new day, new route).
EXTRA = [
    gold_data.flight(11, date(2013, 3, 1), "DL", "LGA", "ATL", 13, 8, 0, 20, 762, False, False),
    gold_data.flight(12, date(2013, 3, 1), "DL", "LGA", "ATL", 14, 9, 0, 0, 762, False, False),
]
WATCHED = {
    # table: (check query, value after load A, value after load B)
    "delay_by_carrier": ("SELECT COUNT(*), SUM(flights) FROM delay_by_carrier", (3, 10), (4, 12)),
    "daily_kpis": ("SELECT COUNT(*), SUM(flights) FROM daily_kpis", (3, 10), (4, 12)),
    "route_delays": ("SELECT COUNT(*), SUM(flights) FROM route_delays", (4, 10), (5, 12)),
}


@pytest.fixture(scope="module")
def loads(spark):
    """(load A, load B): the watched marts of the fixture, then of the fixture plus EXTRA."""
    first = [(s, df) for s, df in fixture_marts(spark, gold_data.FLIGHT_ROWS) if s.name in WATCHED]
    second = [(s, df) for s, df in fixture_marts(spark, gold_data.FLIGHT_ROWS + EXTRA) if s.name in WATCHED]
    yield first, second
    for _, df in first + second:
        df.unpersist()


def test_concurrent_reader_never_sees_a_missing_or_partial_table(loads, gold_cfg):
    cfg, _ = gold_cfg
    first, second = loads
    swap.load_tables(cfg.gold, first)

    seen: dict[str, list[tuple]] = {name: [] for name in WATCHED}
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        gold = cfg.gold
        conn = mysql.connector.connect(
            host=gold.host, port=gold.port, user=gold.user, password=gold.password, database=gold.database
        )
        conn.autocommit = True  # every SELECT sees the latest committed state
        cur = conn.cursor()
        deadline = time.monotonic() + 300  # bounded even if the load hangs
        while not stop.is_set() and time.monotonic() < deadline:
            for name, (sql, _, _) in WATCHED.items():
                try:
                    cur.execute(sql)
                    count, flights = cur.fetchone()
                    seen[name].append((int(count), int(flights)))
                except mysql.connector.Error as exc:
                    errors.append(f"{name}: {exc.msg}")
            time.sleep(0.005)  # leave the loader some CPU on a small machine
        conn.close()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.3)
    counts = swap.load_tables(cfg.gold, second).counts
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=30)

    assert errors == []
    for name, (_, before, after) in WATCHED.items():
        observed = set(seen[name])
        assert observed <= {before, after}, f"{name} was seen half-loaded: {observed}"
        assert seen[name][0] == before and seen[name][-1] == after
        assert len(seen[name]) > 20, "the reader did not poll during the load"
        assert counts[name] == after[0]
    assert tables(cfg) == set(WATCHED)


def test_failed_load_keeps_the_old_tables_and_drops_staging(loads, gold_cfg):
    cfg, _ = gold_cfg
    first, second = loads
    assert tables(cfg) == set()
    counts = swap.load_tables(cfg.gold, first).counts
    assert counts == {name: load_a[0] for name, (_, load_a, _) in WATCHED.items()}
    assert tables(cfg) == set(WATCHED)  # created the first time, no __stage left
    before = {name: query(cfg, f"SELECT * FROM `{name}`") for name in WATCHED}

    # A duplicate primary key in route_delays, staged after delay_by_carrier went fine.
    broken = list(second)
    routes_at = next(i for i, (spec, _) in enumerate(broken) if spec.name == "route_delays")
    spec, df = broken[routes_at]
    broken[routes_at] = (spec, df.unionByName(df.limit(1)))
    assert routes_at > 0

    with pytest.raises(PipelineError) as failure:
        swap.load_tables(cfg.gold, broken)
    message = str(failure.value)
    assert "route_delays" in message and "previous tables were kept" in message and "\n" not in message
    assert cfg.gold.password not in message

    after = {name: query(cfg, f"SELECT * FROM `{name}`") for name in WATCHED}
    assert after == before
    assert tables(cfg) == set(WATCHED)  # no __stage, no __old


def test_a_swap_of_a_mart_never_staged_refuses_and_drops_the_staged_ones(loads, gold_cfg):
    cfg, _ = gold_cfg
    first, second = loads
    swap.load_tables(cfg.gold, first)
    before = {name: query(cfg, f"SELECT * FROM `{name}`") for name in WATCHED}
    (spec, df), *_ = second
    with pytest.raises(PipelineError) as refused, swap.StagedLoad(cfg.gold) as load:
        load.stage(spec, df)
        assert f"{spec.name}__stage" in tables(cfg)
        load.swap([spec.name, "route_delays"])
    assert str(refused.value) == "route_delays not staged; the previous tables were kept."
    assert {name: query(cfg, f"SELECT * FROM `{name}`") for name in WATCHED} == before
    assert tables(cfg) == set(WATCHED)
