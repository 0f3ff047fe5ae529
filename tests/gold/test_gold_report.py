"""The HTML report: self-contained, every chart named, labels escaped, honest when ML is missing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flightpipe.gold import report, report_data


def data(**kw) -> report.ReportData:
    base = dict(
        project="projet_spark",
        generated_at=datetime(2026, 11, 25, 21, 0, 0),
        carriers=[
            {
                "carrier": "AA",
                "carrier_name": "American <Airlines>",
                "flights": 1200,
                "delay_rate": Decimal("0.2"),
            },
            {
                "carrier": "B6",
                "carrier_name": "JetBlue Airways",
                "flights": 800,
                "delay_rate": Decimal("0.25"),
            },
        ],
        hours=[{"sched_dep_local_hour": h, "delay_rate": Decimal(h) / 100} for h in range(24)],
        weather=[
            {"factor": f, "bucket": b, "bucket_order": i, "flights": 10, "delay_rate": Decimal("0.1") * i}
            for f in ("precipitation", "visibility", "wind")
            for i, b in enumerate(("low", "high", "unknown"), start=1)
        ],
        routes=[{"origin": "JFK", "dest": "LAX", "flights": 500, "delay_rate": Decimal("0.3")}],
        daily=[
            {"flight_date": date(2013, 1, 1), "flights": 900, "delay_rate": Decimal("0.2")},
            {"flight_date": date(2013, 1, 2), "flights": 1100, "delay_rate": None},
        ],
        models=[
            {"model": "gbt", "model_version": "v2", "is_latest": True, "auc_roc": 0.74, "f1": 0.42},
            {"model": "gbt", "model_version": "v1", "is_latest": False, "auc_roc": 0.70, "f1": 0.40},
        ],
        runs=[
            {"stage": "cleaning", "status": "ok", "started_at": "2026-11-25 10:00:00.000000", "run_id": "r9"},
        ],
    )
    base.update(kw)
    return report.ReportData(**base)


def test_page_names_every_chart_and_needs_nothing_from_outside():
    page = report.render(data())
    for key, title in report.CHART_TITLES.items():
        assert f'<section id="chart-{key}"><h2>{title}</h2>' in page
    assert f"<h2>{report.FRESHNESS_TITLE}</h2>" in page
    assert page.count("<svg") == 8  # carrier, hour, 3 weather factors, routes, daily, model
    assert "<script" not in page and "http" not in page and "<link" not in page and "<img" not in page
    assert "American &lt;Airlines&gt; (AA)" in page and "<Airlines>" not in page
    assert "25.0%  of 800 flights" in page  # B6 first: sorted by delay rate
    assert page.index("JetBlue") < page.index("American")
    assert "Report generated 2026-11-25 21:00:00 UTC. Flights from 2013-01-01 to 2013-01-02 (2,000" in page
    assert "gbt · auc_roc" in page and "0.740" in page and "0.700" not in page  # latest run only


def test_missing_model_metrics_is_said_not_hidden():
    page = report.render(data(models=[], has_model_metrics=False))
    assert "silver.model_metrics does not exist yet: run ML.py, then gold.py." in page
    page = report.render(data(models=[], has_model_metrics=True))
    assert "silver.model_metrics holds no rows." in page
    page = report.render(data(models=[], has_model_metrics=False, silver_database="analytics"))
    assert "analytics.model_metrics does not exist yet" in page


def test_empty_marts_render_without_errors():
    page = report.render(data(carriers=[], hours=[], weather=[], routes=[], daily=[], models=[], runs=[]))
    assert page.count("No data.") == 7
    assert "Flights from n/a to n/a (0 scheduled flights)" in page


def test_busiest_routes_are_cut_by_flights_then_origin_and_destination():
    rows = [
        {"origin": "LGA", "dest": "ORD", "flights": 5},
        {"origin": "JFK", "dest": "MIA", "flights": 9},
        {"origin": "EWR", "dest": "ORD", "flights": 5},
        {"origin": "JFK", "dest": "LAX", "flights": None},
    ]
    top = report_data.busiest_routes(rows, 3)
    assert [(r["origin"], r["dest"]) for r in top] == [("JFK", "MIA"), ("EWR", "ORD"), ("LGA", "ORD")]
    assert report_data.busiest_routes(rows, 10)[-1]["dest"] == "LAX"
    assert report_data.busiest_routes([], 3) == []


def test_each_stage_keeps_its_newest_run_only():
    runs = [
        {"stage": "ingest", "started_at": "2026-12-01 02:00:00.000000", "status": "ok"},
        {"stage": "ingest", "started_at": "2026-12-02 02:00:00.000000", "status": "failed"},
        {"stage": "gold", "started_at": "2026-12-01 03:00:00.500000", "status": "ok"},
        {"stage": "gold", "started_at": "2026-12-01 03:00:00.400000", "status": "failed"},
    ]
    newest = {r["stage"]: r["status"] for r in report_data.newest_per_stage(runs)}
    assert newest == {"ingest": "failed", "gold": "ok"}
    assert report_data.newest_per_stage([]) == []


def test_the_page_data_comes_from_the_collected_marts_without_a_session():
    collected = {
        "delay_by_carrier": data().carriers,
        "delay_by_hour": data().hours,
        "weather_impact": data().weather,
        "route_delays": [
            {"origin": "JFK", "dest": "MIA", "flights": 2, "delay_rate": Decimal("0.5")},
            {"origin": "EWR", "dest": "ORD", "flights": 7, "delay_rate": Decimal("0.1")},
        ],
        "daily_kpis": [{"flight_date": date(2013, 1, 1), "flights": 3, "delay_rate": None, "carriers": 2}],
        "model_performance": [],
        "pipeline_runs": [],
        "data_quality": [],
    }
    got = report_data.collect_data("projet", 1, collected, False, "silver")
    assert got.carriers == collected["delay_by_carrier"] and got.weather == collected["weather_impact"]
    assert [r["dest"] for r in got.routes] == ["ORD"]
    assert got.daily == [{"flight_date": date(2013, 1, 1), "flights": 3, "delay_rate": None}]
    assert got.quality == [] and got.runs == [] and got.has_model_metrics is False
    page = report.render(got)
    assert "EWR → ORD" in page and "JFK → MIA" not in page


def test_recent_checks_keep_the_newest_runs_oldest_first():
    # 32 ingest runs a day apart, two checks each, handed over newest first; plus a cleaning
    # run at the same second as the newest ingest run.
    def check(run: int, stage: str, name: str) -> dict:
        started = (
            f"2026-11-{run:02d} 21:00:00.000000" if run <= 30 else f"2026-12-{run - 30:02d} 21:00:00.000000"
        )
        return {"run_id": f"r{run:02d}", "stage": stage, "started_at": started, "check_name": name}

    rows = [check(run, "ingest", name) for run in range(32, 0, -1) for name in ("b_check", "a_check")]
    rows.append(check(32, "cleaning", "z_check"))
    got = report_data.recent_checks(rows)
    # 30 runs: the cleaning run and the 29 newest ingest runs (runs 4 to 32); run 32's
    # cleaning and ingest runs share a second and are ordered by stage.
    assert len(got) == 29 * 2 + 1
    assert [(r["run_id"], r["check_name"]) for r in got[:2]] == [("r04", "a_check"), ("r04", "b_check")]
    assert [(r["run_id"], r["stage"], r["check_name"]) for r in got[-3:]] == [
        ("r32", "cleaning", "z_check"),
        ("r32", "ingest", "a_check"),
        ("r32", "ingest", "b_check"),
    ]
    assert report_data.recent_checks([]) == []
