"""gold end to end on the silver fixture: the real MariaDB tables, their DDL, the report,
and a second run."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from flightpipe.contracts.gold import ALL_TABLES
from flightpipe.core import runlog
from flightpipe.core.catalog import ensure_database
from flightpipe.core.cli import recorded
from flightpipe.core.errors import PipelineError
from flightpipe.gold import report
from flightpipe.gold.stage import run_gold
from tests.support import gold_data
from tests.support.gold import drop_silver, empty_gold_database, gold_config, query, tables, write_silver

ORDER_BY = {spec.name: ", ".join(f"`{k}`" for k in spec.primary_key) for spec in ALL_TABLES}


def snapshot(cfg) -> dict[str, list[tuple]]:
    """Every gold table's rows in primary-key order."""
    return {name: query(cfg, f"SELECT * FROM `{name}` ORDER BY {order}") for name, order in ORDER_BY.items()}


def create_tables(cfg) -> dict[str, str]:
    return {name: query(cfg, f"SHOW CREATE TABLE `{name}`")[0][1] for name in ORDER_BY}


@pytest.fixture(scope="module")
def first_run(spark, mariadb_server, tmp_path_factory, module_database):
    """gold run once on the fixture in the module's own silver database: (config, tables right after it)."""
    empty_gold_database(mariadb_server)
    cfg, _ = gold_config(mariadb_server, tmp_path_factory.mktemp("gold-run"), module_database)
    ensure_database(spark, module_database, cfg.paths.warehouse)
    write_silver(spark, module_database)
    assert recorded(spark, cfg, "gold", run_gold) == 0
    yield cfg, snapshot(cfg), create_tables(cfg)
    drop_silver(spark, module_database)


def _normalise(rows: list[tuple]) -> list[tuple]:
    # MariaDB returns BOOLEAN as 0/1 and DECIMAL as Decimal; compare in those terms.
    return sorted(tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows)


@pytest.mark.parametrize("table", list(gold_data.EXPECTED))
def test_every_mart_holds_the_hand_computed_rows(first_run, table):
    _, rows, _ = first_run
    expected = gold_data.EXPECTED[table]
    got = rows[table]
    # DATETIME columns come back as datetime; the fixture states them as text.
    got = [tuple(str(v) if isinstance(v, datetime) else v for v in r) for r in got]
    if table == "pipeline_runs":
        got = [(*r[:2], _micro(r[2]), _micro(r[3]), *r[4:]) for r in got]
    assert _normalise(got) == _normalise(expected)


def _micro(text: str | None) -> str | None:
    # str(datetime) drops ".000000"; the fixture always spells the microseconds.
    if text is None or "." in text:
        return text
    return text + ".000000"


def test_flights_count_every_scheduled_flight_and_factors_add_up(first_run):
    _, rows, _ = first_run
    assert sum(r[2] for r in rows["delay_by_carrier"]) == len(gold_data.FLIGHT_ROWS)
    for factor in ("precipitation", "visibility", "wind"):
        assert sum(r[3] for r in rows["weather_impact"] if r[0] == factor) == len(gold_data.FLIGHT_ROWS)


def test_run_record_keeps_rows_seconds_and_rate_of_each_jdbc_write(first_run):
    cfg, rows, _ = first_run
    record = runlog.find_record(cfg.paths.var, "gold", runlog.current_run_id(), since=0)
    details = json.loads(record["details"])
    writes = details["jdbc"]
    assert set(writes["tables"]) == set(details["tables"]) == set(rows)
    for name, write in writes["tables"].items():
        assert write["rows"] == details["tables"][name] and write["seconds"] > 0
        # seconds are rounded to the millisecond in the record, the rate is not.
        assert write["rows_per_s"] == pytest.approx(write["rows"] / write["seconds"], rel=0.1, abs=1)
    assert writes["rows"] == sum(details["tables"].values())
    # The marts are written side by side: writes that overlap count their common seconds once.
    each = [w["seconds"] for w in writes["tables"].values()]
    assert max(each) - 0.01 <= writes["seconds"] <= sum(each) + 0.01


def test_tables_are_typed_keyed_indexed_and_commented(first_run):
    cfg, _, ddl = first_run
    assert tables(cfg) == set(ORDER_BY), "staging or old tables were left behind"
    for spec in ALL_TABLES:
        text = ddl[spec.name]
        assert "PRIMARY KEY (" + ",".join(f"`{k}`" for k in spec.primary_key) + ")" in text
        for cols in spec.indexes:
            assert re.search(r"KEY `ix_[a-z_]+` \(" + ",".join(f"`{c}`" for c in cols) + r"\)", text), (
                spec.name
            )
        assert "grain:" in spec.comment
        assert [(spec.comment,)] == query(
            cfg,
            "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND table_name = %s",
            (spec.name,),
        )
        columns = query(
            cfg,
            "SELECT column_name, column_comment FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            (spec.name,),
        )
        assert columns == [(c.name, c.comment) for c in spec.columns]
    key_types = query(
        cfg,
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.key_column_usage k ON k.table_schema = c.table_schema "
        "AND k.table_name = c.table_name AND k.column_name = c.column_name "
        "WHERE c.table_schema = DATABASE()",
    )
    assert key_types and all(
        t in ("varchar", "date", "datetime", "smallint", "tinyint") for _, _, t in key_types
    )
    rate_type = query(
        cfg,
        "SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = 'delay_by_carrier' AND column_name = 'delay_rate'",
    )
    assert rate_type == [("decimal(5,4)",)]


def test_report_is_written_self_contained_and_names_every_chart(first_run):
    cfg, _, _ = first_run
    page = (Path(cfg.paths.reports) / "index.html").read_text(encoding="utf-8")
    for title in (*report.CHART_TITLES.values(), report.FRESHNESS_TITLE):
        assert f">{title}</h2>" in page
    # carrier, hour, 3 weather factors, routes, daily, model; the trend of weather_coverage (1 failing row)
    assert page.count("<svg") == 9
    assert page.count('data-chart="dq-trend') == 1 and 'id="data-quality"' in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "American Airlines Inc. (AA)" in page and "JFK → MIA" in page
    assert "Flights from 2013-01-01 to 2013-02-01 (10 scheduled flights)" in page
    assert "gbt · auc_roc" in page and "logreg · f1" in page
    assert "cleaning" in page and "silver.flights has one class only." not in page  # last runs only


def test_second_run_leaves_identical_tables(first_run, spark):
    cfg, before, ddl_before = first_run
    assert recorded(spark, cfg, "gold", run_gold) == 0
    after = snapshot(cfg)
    for name in ORDER_BY:
        if name not in ("pipeline_runs", "data_quality"):
            assert after[name] == before[name], name
    # data_quality is a history: the first run's five checks (synced into silver.dq_results) are
    # kept as they were, the second run's five are added.
    assert set(before["data_quality"]) < set(after["data_quality"])
    assert len(after["data_quality"]) == 2 * len(before["data_quality"]) == 10
    assert create_tables(cfg) == ddl_before
    assert tables(cfg) == set(ORDER_BY)
    # pipeline_runs gained exactly the first gold run (its record is synced by the next run).
    new = [r for r in after["pipeline_runs"] if r not in before["pipeline_runs"]]
    assert len(new) == 1
    run_id, stage, _, _, seconds, status, rows_in, rows_out, rows_rejected, error, _ = new[0]
    assert (stage, status, rows_in, rows_out, rows_rejected, error) == ("gold", "ok", 10, 43, 0, None)
    assert isinstance(seconds, Decimal) and seconds > 0 and run_id


def test_data_quality_holds_gold_checks_before_the_swap(first_run):
    """Hand counts: 10 flights, 2 cancelled, 4 delayed 15+ (flights 2, 4, 5, 8); 9 have a weather
    row at their origin and hour (not flight 8, LGA 2013-02-01 23:00 UTC); no cleaning state yet."""
    _, rows, _ = first_run
    got = {r[3]: r[4:] for r in rows["data_quality"] if r[1] == "gold"}
    assert set(got) == {
        "gold_totals",
        "weather_coverage",
        "freshness_bts",
        "freshness_streaming",
        "freshness_weather",
    }
    kind, dataset, action, checked, failing, pct, status, observed, message, keys = got["gold_totals"]
    assert (kind, action, checked, failing, status, keys) == ("dataset", "fail", 10, 0, "pass", None)
    assert message == (
        "flights, cancelled and delayed_15 of 8 mart sums (weather_impact: per factor) agree with silver.flights"
    )
    kind, dataset, action, checked, failing, pct, status, observed, message, _ = got["weather_coverage"]
    assert (dataset, action, checked, failing, float(pct), status, observed) == (
        "silver.weather_hourly",
        "warn",
        10,
        1,
        10.0,
        "pass",
        "0.9000",
    )
    assert message.startswith("9 of 10 silver flights (90.0%) have a weather row")
    assert got["freshness_bts"][6:9] == ("pass", "", "nothing landed from bts yet")


def test_a_failing_check_before_the_swap_keeps_the_old_tables(first_run, spark, mariadb_server, tmp_path):
    """weather_coverage with action fail and a 95% minimum: 9 of 10 flights have weather, so the
    load stops before the swap, MariaDB keeps every table and the failure is in silver.dq_results."""
    cfg, _, _ = first_run
    strict, _ = gold_config(
        mariadb_server,
        tmp_path,
        cfg.catalog.silver_database,
        {"quality": {"checks": {"weather_coverage": "fail"}, "min_weather_coverage": 0.95}},
    )
    # The same var folder: the refused run's record is synced into the same silver database.
    before = snapshot(cfg)
    with pytest.raises(PipelineError) as refused:
        recorded(spark, strict, "gold", run_gold)
    assert str(refused.value).startswith(
        "gold check 'weather_coverage' (action fail) failed: 9 of 10 silver flights (90.0%) have a weather row"
    )
    assert "keeps its previous tables" in str(refused.value)
    assert snapshot(cfg) == before
    assert tables(cfg) == set(ORDER_BY)
    failed = spark.table(f"{cfg.catalog.silver_database}.dq_results").where(
        "stage = 'gold' AND check_name = 'weather_coverage' AND status = 'failed'"
    )
    assert [(r["action"], r["rows_checked"], r["rows_failing"]) for r in failed.collect()] == [
        ("fail", 10, 1)
    ]
