"""The report's data-quality section, from plain data_quality rows (no Spark)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

from flightpipe.gold import report
from flightpipe.gold import report_quality as rq

KEY = {
    "flight_date": "2013-01-02",
    "carrier": "AA",
    "flight_number": 17,
    "origin": "JFK",
    "source_file": "a.csv",
}


def dq(run: int, check: str, failing: int = 0, status: str = "pass", kind: str = "row_rule", **kw) -> dict:
    row = {
        "run_id": f"r{run}",
        "stage": "cleaning",
        "started_at": f"2026-11-2{run} 10:00:00.000000",
        "check_name": check,
        "kind": kind,
        "dataset": "silver.flights",
        "action": "warn",
        "rows_checked": 1000,
        "rows_failing": failing,
        "failing_pct": Decimal(failing) / 10,
        "status": status,
        "observed": "",
        "message": f"{failing} rows broke {check}.",
        "sample_keys": "[]",
    }
    row.update(kw)
    return row


def fresh(run: int, source: str, status: str = "pass") -> dict:
    return dq(run, f"freshness_{source}", kind="freshness", dataset=source, rows_checked=0, status=status,
              observed="2013-12-31", failing_pct=None, message=f"{source} landed 2 days ago.")  # fmt: skip


def test_last_status_picks_each_checks_newest_run_worst_first():
    rows = [
        dq(3, "dep_time_valid", 40, "failed"),
        dq(1, "dep_time_valid", 0, "pass"),
        dq(2, "dep_time_valid", 5, "warn"),
        dq(1, "carrier_known", 3, "dropped"),
        dq(2, "carrier_known", 0, "pass"),
    ]
    latest = rq.last_status(rows)
    assert [(r["check_name"], r["run_id"], r["status"]) for r in latest] == [
        ("dep_time_valid", "r3", "failed"),
        ("carrier_known", "r2", "pass"),
    ]
    assert rq.runs(rows) == [(f"2026-11-2{i} 10:00:00.000000", "cleaning", f"r{i}") for i in (1, 2, 3)]


def test_trend_has_one_point_per_run_of_each_check_that_ever_failed():
    rows = [
        dq(2, "dep_time_valid", 5, "warn"),
        dq(1, "dep_time_valid", 0),
        dq(3, "dep_time_valid", 40, "failed"),
        dq(1, "carrier_known", 0),
        dq(3, "carrier_known", 0),
        dq(2, "late_rule", 2, "warn"),
        fresh(3, "bts", "failed"),
    ]
    series = rq.trend(rows)
    assert list(series) == ["dep_time_valid", "late_rule"]  # never failing and freshness left out
    assert series["dep_time_valid"] == [
        ("2026-11-21 10:00 cleaning", 0.0),
        ("2026-11-22 10:00 cleaning", 5.0),
        ("2026-11-23 10:00 cleaning", 40.0),
    ]
    assert series["late_rule"] == [("2026-11-22 10:00 cleaning", 2.0)]
    page = rq.section(rows)
    charts = re.findall(r'<svg data-chart="dq-trend-([^"]+)".*?</svg>', page)
    assert charts == ["dep_time_valid", "late_rule"]
    chart = page[page.index('data-chart="dq-trend-dep_time_valid"') :]
    assert chart[: chart.index("</svg>")].count("<circle") == 3


def test_failing_keys_come_from_each_checks_latest_run_and_json_text():
    old = dict(KEY, flight_number=1)
    rows = [
        dq(1, "dep_time_valid", 1, "warn", sample_keys=json.dumps([old])),
        dq(2, "dep_time_valid", 2, "warn", sample_keys=json.dumps([KEY, dict(KEY, origin="<LGA>")])),
        dq(2, "carrier_known", 0, sample_keys=None),
    ]
    keys = rq.samples(rq.last_status(rows))
    assert [(k["check_name"], k["flight_number"], k["origin"]) for k in keys] == [
        ("dep_time_valid", 17, "JFK"),
        ("dep_time_valid", 17, "<LGA>"),
    ]
    assert rq.sample_keys([KEY]) == [KEY] and rq.sample_keys("not json") == [] and rq.sample_keys("") == []
    page = rq.section(rows)
    assert "&lt;LGA&gt;" in page and "<LGA>" not in page and "a.csv" in page


def test_freshness_per_source_and_badges():
    rows = [
        fresh(1, "weather", "pass"),
        fresh(2, "weather", "warn"),
        fresh(2, "bts", "failed"),
        dq(2, "x", 0),
    ]
    sources = rq.freshness(rq.last_status(rows))
    assert [(r["dataset"], r["status"]) for r in sources] == [("bts", "failed"), ("weather", "warn")]
    page = rq.section(rows)
    assert '<span class="badge b-failed">failed</span>' in page
    assert '<span class="badge b-warn">warn</span>' in page
    assert "bts landed 2 days ago." in page and "2013-12-31" in page
    assert "No check had failing rows in the last 2 stage runs." in page
    assert "No failing keys in the latest run of any check." in page


def test_no_results_yet_is_said():
    page = rq.section([], "analytics")
    assert page.startswith('<section id="data-quality"><h2>Data quality</h2>')
    assert "No data-quality results yet: analytics.dq_results" in page and "<svg" not in page
    only_fresh = rq.section([fresh(1, "bts")])
    assert "No row or dataset check recorded yet." in only_fresh


def test_page_carries_the_section_and_stays_self_contained():
    page = report.render(
        report.ReportData("p", datetime(2026, 11, 25), quality=[dq(1, "dep_time_valid", 3, "warn")])
    )
    assert page.count('<section id="data-quality">') == 1 and ".b-warn{" in page
    assert "<script" not in page and "http" not in page and "<img" not in page
