"""What the report shows, from rows gold already holds on the driver.

Every mart reaches the report as the rows its check collected (a few thousand at most), and
data_quality as the rows collected once for its load: ranking the routes, picking each stage's
newest run and the recent checks here cost microseconds, where a Spark query each had its code
generated and compiled (1.5 s of gold's end at 10M rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flightpipe.gold.report import ReportData, Row

# The data-quality section covers this many of the newest stage runs that recorded checks.
QUALITY_RUNS = 30
DAILY_COLUMNS = ("flight_date", "flights", "delay_rate")


def busiest_routes(routes: list[Row], top: int) -> list[Row]:
    """The ``top`` routes with the most flights (ties by origin, then destination)."""
    return sorted(routes, key=lambda r: (-(r["flights"] or 0), r["origin"], r["dest"]))[:top]


def newest_per_stage(runs: list[Row]) -> list[Row]:
    """Each stage's newest run (the mart's ``started_at`` is timestamp text, which sorts)."""
    newest: dict[Any, Row] = {}
    for r in runs:
        held = newest.get(r["stage"])
        if held is None or str(r["started_at"]) > str(held["started_at"]):
            newest[r["stage"]] = r
    return list(newest.values())


def recent_checks(quality: list[Row]) -> list[Row]:
    """The data_quality rows of the last ``QUALITY_RUNS`` stage runs, oldest first (the mart's
    ``started_at`` is fixed-width timestamp text, which sorts)."""
    runs = sorted({(r["run_id"], r["stage"], r["started_at"]) for r in quality}, key=lambda k: (k[1], k[0]))
    newest = set(sorted(runs, key=lambda k: k[2], reverse=True)[:QUALITY_RUNS])
    return sorted(
        (r for r in quality if (r["run_id"], r["stage"], r["started_at"]) in newest),
        key=lambda r: (r["started_at"], r["stage"], r["check_name"], r["run_id"]),
    )


def collect_data(
    project: str,
    top_routes: int,
    marts: Mapping[str, list[Row]],
    has_model_metrics: bool,
    silver_database: str,
) -> ReportData:
    """The page's rows: ``marts`` maps each mart to its collected rows."""
    return ReportData(
        project=project,
        generated_at=datetime.now(timezone.utc).replace(tzinfo=None),
        carriers=list(marts["delay_by_carrier"]),
        hours=list(marts["delay_by_hour"]),
        weather=list(marts["weather_impact"]),
        routes=busiest_routes(marts["route_delays"], top_routes),
        daily=[{k: r[k] for k in DAILY_COLUMNS} for r in marts["daily_kpis"]],
        models=list(marts["model_performance"]),
        runs=newest_per_stage(marts["pipeline_runs"]),
        quality=recent_checks(marts["data_quality"]),
        has_model_metrics=has_model_metrics,
        silver_database=silver_database,
    )
