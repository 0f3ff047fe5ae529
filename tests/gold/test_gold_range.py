"""gold --start/--end against the real MariaDB: the marts by date get only the rows of the
range's months replaced, every other mart is reloaded whole.

The ten-flight fixture is loaded whole, then silver gains a Delta flight on 2013-01-03 and one
on 2013-02-02 (LGA-ATL, dep 0, arr +20); a refresh of 2013-02-02 (widened to February) must show
the February one only in the marts by date, and both in the others.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D  # noqa: N817 - the rows below read better

from flightpipe.contracts.gold import ALL_TABLES
from flightpipe.core.catalog import ensure_database
from flightpipe.core.cli import recorded
from flightpipe.core.dates import DateRange
from flightpipe.gold import ranges
from flightpipe.gold.dryrun import describe_gold
from flightpipe.gold.stage import run_gold
from tests.support import gold_data
from tests.support.gold import drop_silver, query, write_silver

FEBRUARY = DateRange(date(2013, 2, 2), date(2013, 2, 2))
EXTRA = [
    gold_data.flight(11, date(2013, 1, 3), "DL", "LGA", "ATL", 13, 8, 0, 20, 762, False, False),
    gold_data.flight(12, date(2013, 2, 2), "DL", "LGA", "ATL", 13, 8, 0, 20, 762, False, False),
]
BY_MONTH = "SELECT * FROM delay_by_airport_month WHERE month = %s ORDER BY airport"
BY_DAY = "SELECT * FROM daily_kpis WHERE MONTH(flight_date) = %s ORDER BY flight_date"
TOTALS = "SELECT COUNT(*), SUM(flights) FROM `{}`"


def refresh_february(spark, cfg) -> dict:
    """The details of a gold run over February on the fixture plus EXTRA."""
    write_silver(spark, cfg.catalog.silver_database, flights=gold_data.FLIGHT_ROWS + EXTRA)
    # The dry run first: it says how each mart would be loaded and changes nothing.
    before = query(cfg, TOTALS.format("daily_kpis"))
    plan = {what: detail for _, what, detail in describe_gold(spark, cfg, date_range=FEBRUARY).lines}
    assert plan["gold.daily_kpis"].startswith("replaces the rows of 2013-02 only; ")
    assert plan["gold.delay_by_carrier"].startswith("reloads whole: its rows are not by date; ")
    assert query(cfg, TOTALS.format("daily_kpis")) == before
    details = {}

    def body(s, c, record):
        out = run_gold(s, c, record, date_range=FEBRUARY)
        details.update(record.details)
        return out

    assert recorded(spark, cfg, "gold", body) == 0
    return details


def test_marts_by_date_replace_the_rows_of_the_range_months_only(spark, gold_cfg, database):
    cfg, _ = gold_cfg
    ensure_database(spark, database, cfg.paths.warehouse)
    try:
        write_silver(spark, database)
        assert recorded(spark, cfg, "gold", run_gold) == 0
        january = {"month": query(cfg, BY_MONTH, (1,)), "days": query(cfg, BY_DAY, (1,))}
        details = refresh_february(spark, cfg)
    finally:
        drop_silver(spark, database)

    # Out of range: January exactly as before (the new 2013-01-03 flight is not in).
    assert query(cfg, BY_MONTH, (1,)) == january["month"]
    assert query(cfg, BY_DAY, (1,)) == january["days"]
    assert [r[0] for r in january["days"]] == [date(2013, 1, 1), date(2013, 1, 2)]
    # In range: February rebuilt. LGA gains flight 12: flights 7, 8, 12; arr -10, 120, 20 -> 2
    # delayed of 3, avg 43.33; dep -3, 100, 0 -> 32.33. JFK (flights 9, 10) as before.
    assert query(cfg, BY_MONTH, (2,)) == [
        (
            "JFK",
            "John F Kennedy Intl",
            2013,
            2,
            2,
            1,
            0,
            1,
            0,
            D("0.0000"),
            D("0.5000"),
            D("2.00"),
            D("10.00"),
        ),
        ("LGA", "La Guardia", 2013, 2, 3, 0, 0, 3, 2, D("0.6667"), D("0.0000"), D("32.33"), D("43.33")),
    ]
    assert query(cfg, BY_DAY, (2,)) == [
        gold_data.DAILY_KPIS[2],
        (date(2013, 2, 2), 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("0.00"), D("20.00"), 1, 1),
    ]
    assert details["range"] == {
        "start": "2013-02-02",
        "end": "2013-02-02",
        "months": ["2013-02"],
        "replaced_rows_of": ["daily_kpis", "delay_by_airport_month"],
    }
    assert details["tables"]["daily_kpis"] == 4 and details["tables"]["delay_by_airport_month"] == 4
    # Only the range's rows travel over JDBC; the rest were copied from the live table.
    assert details["jdbc"]["tables"]["daily_kpis"]["rows"] == 2
    assert details["jdbc"]["tables"]["delay_by_airport_month"]["rows"] == 2

    # Every other mart reloaded whole: both new flights count (carriers AA, B6, ZZ + DL;
    # routes + LGA-ATL; 12 flights).
    assert query(cfg, TOTALS.format("delay_by_carrier")) == [(4, D(12))]
    assert query(cfg, TOTALS.format("route_delays")) == [(5, D(12))]
    assert query(cfg, "SELECT flights FROM route_delays WHERE dest = 'ATL'") == [(2,)]
    assert {r[0] for r in query(cfg, "SHOW TABLES")} == {spec.name for spec in ALL_TABLES}  # no __stage


def test_refresh_plan_per_mart():
    names = ["delay_by_carrier", "delay_by_airport_month", "daily_kpis"]
    plan = ranges.refresh_plan(
        names, {"delay_by_carrier", "delay_by_airport_month"}, FEBRUARY, "flights_gold"
    )
    assert [(p.mart, p.predicate, p.why) for p in plan] == [
        ("delay_by_carrier", None, "reloads whole: its rows are not by date"),
        (
            "delay_by_airport_month",
            "(`year` * 100 + `month`) BETWEEN 201302 AND 201302",
            "replaces the rows of 2013-02 only",
        ),
        ("daily_kpis", None, "loads whole: flights_gold.daily_kpis does not exist yet"),
    ]
    across = DateRange(date(2012, 12, 30), date(2013, 2, 1))
    assert ranges.range_predicate("daily_kpis", across) == (
        "`flight_date` BETWEEN DATE'2012-12-01' AND DATE'2013-02-28'"
    )
    assert ranges.range_predicate("delay_by_airport_month", across) == (
        "(`year` * 100 + `month`) BETWEEN 201212 AND 201302"
    )
