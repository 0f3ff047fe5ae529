"""The loader's rate: rows, seconds and rows/s of each JDBC write, logged, returned and recorded,
on a real MariaDB; and the bench's mart frame has the real mart's shape."""

from __future__ import annotations

import logging

import pytest

from flightpipe.contracts.gold import ROUTE_DELAYS
from flightpipe.core import runlog
from flightpipe.gold import marts, swap
from flightpipe.gold.load_report import LoadReport, TableLoad, covered_seconds
from flightpipe.tools.bench.jdbc_load import STAGE, mart_frame, run_load
from tests.support import gold_data
from tests.support.gold import query, tables


class Lines(logging.Handler):
    """The messages one logger emits (the project's loggers may not propagate to pytest's)."""

    def __init__(self, name: str):
        super().__init__(logging.INFO)
        self.logger, self.messages = logging.getLogger(name), []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> Lines:
        self.logger.addHandler(self)
        self.level_before = self.logger.level
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)


def test_loader_returns_and_logs_rows_seconds_and_rate_of_each_write(spark, gold_cfg):
    cfg, _ = gold_cfg
    frame = mart_frame(spark, 2_000, partitions=2).cache()
    try:
        with Lines("flightpipe.jdbc") as log:
            report = swap.load_tables(cfg.gold, [(ROUTE_DELAYS, frame)])
    finally:
        frame.unpersist()

    load = report.tables["route_delays"]
    assert report.counts == {"route_delays": 2_000}
    assert load.sent == 2_000 and load.seconds > 0 and load.index_seconds > 0
    assert load.rows_per_s == pytest.approx(2_000 / load.seconds)
    details = report.details()
    assert details["tables"]["route_delays"] == {
        "rows": 2_000,
        "seconds": round(load.seconds, 3),
        "rows_per_s": round(2_000 / load.seconds),
        "index_seconds": round(load.index_seconds, 3),
    }
    assert details["rows"] == 2_000 and details["rows_per_s"] == round(2_000 / load.seconds)
    assert details["load_seconds"] >= load.seconds + load.index_seconds
    # One line per mart, then the total.
    per_mart = [m for m in log.messages if m.startswith("staged ")]
    assert len(per_mart) == 1 and "route_delays" in per_mart[0]
    assert " 2000 rows, JDBC write " in per_mart[0] and f"{load.rows_per_s:.0f} rows/s" in per_mart[0]
    assert any(m.startswith("JDBC load of 1 tables: 2000 rows in ") for m in log.messages)

    # The secondary indexes are built after the rows are in, before the swap: the live table has them.
    ddl = query(cfg, "SHOW CREATE TABLE route_delays")[0][1]
    assert "PRIMARY KEY (`origin`,`dest`)" in ddl
    assert "KEY `ix_dest` (`dest`)" in ddl and "KEY `ix_flights` (`flights`)" in ddl
    assert tables(cfg) == {"route_delays"}
    assert query(cfg, "SELECT COUNT(*), COUNT(DISTINCT origin, dest), MIN(flights) FROM route_delays") == [
        (2_000, 2_000, 1)
    ]


def test_bench_step_records_the_loaders_rate(spark, gold_cfg, tmp_path):
    cfg, _ = gold_cfg
    record = runlog.StageRun(str(tmp_path / "runs"), STAGE)
    with record:
        assert run_load(spark, cfg, record, rows=1_500) == 0
    assert record.rows_in == record.rows_out == 1_500
    written = runlog.find_record(str(tmp_path), STAGE, record.run_id, since=0)
    assert '"rows": 1500' in written["details"] and '"rows_per_s": ' in written["details"]
    assert record.details["jdbc"]["tables"]["route_delays"]["rows"] == 1_500


def test_bench_frame_has_the_marts_columns_and_types(spark):
    facts = spark.createDataFrame(gold_data.FLIGHT_ROWS, gold_data.SCHEMAS["flights"])
    airports = spark.createDataFrame(gold_data.AIRPORT_ROWS, gold_data.SCHEMAS["airports"])
    assert mart_frame(spark, 10).dtypes == marts.route_delays(facts, airports).dtypes


def test_total_rate_counts_side_by_side_writes_once():
    # Two marts written at once: 10.0-12.0 s and 11.0-14.0 s on the monotonic clock. The load
    # took 4 s for 300 rows, not the 5 s the two writes add up to.
    report = LoadReport(
        {
            "a": TableLoad(100, 100, 2.0, 0.5, began=10.0),
            "b": TableLoad(200, 200, 3.0, 0.25, began=11.0),
        }
    )
    total = report.total
    assert (total.rows, total.sent, total.seconds, total.index_seconds) == (300, 300, 4.0, 0.75)
    assert total.rows_per_s == 75.0
    assert LoadReport().total.seconds == 0.0


def test_total_rate_leaves_out_the_time_between_writes():
    # Gold stages each mart as it is computed: writes at 10.0-11.0 s and 15.0-16.5 s, with
    # 4 s of mart computing between them, wrote 300 rows in 2.5 s.
    report = LoadReport(
        {
            "a": TableLoad(100, 100, 1.0, began=10.0),
            "b": TableLoad(200, 200, 1.5, began=15.0),
        }
    )
    assert report.total.seconds == 2.5
    assert report.total.rows_per_s == 120.0


def test_covered_seconds_counts_overlaps_once():
    assert covered_seconds([(3.0, 4.0), (0.0, 1.0), (0.5, 2.0)]) == 3.0
    assert covered_seconds([(0.0, 10.0), (2.0, 3.0)]) == 10.0
    assert covered_seconds([]) == 0.0
