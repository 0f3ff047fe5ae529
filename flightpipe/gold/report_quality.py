"""The data-quality section of the report, from plain rows of the gold ``data_quality`` mart.

Pure: rows in, HTML out. The page around it, and the chart and table helpers it draws with,
are :mod:`flightpipe.gold.report`'s.
"""

from __future__ import annotations

import json
from typing import Any

from flightpipe.contracts.quality import FAILED, FRESHNESS, STATUSES
from flightpipe.gold.report import Row, _esc, _num, _table, line_chart

QUALITY_TITLE = "Data quality"
SECTION_ID = "data-quality"
# Worst first, so what needs a look tops the table.
_SEVERITY = {status: i for i, status in enumerate(reversed(STATUSES))}
STYLE = (
    ".badge{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:600}"
    ".b-pass{background:#2f7d32}.b-warn{background:#b7791f}.b-dropped{background:#c05621}"
    ".b-failed{background:#b42318}.b-unknown{background:#777}.num{display:block;text-align:right}"
    ".nowrap,.badge{white-space:nowrap}"
    "h4{font-size:.9em;margin:.8em 0 0}"
)
KEY_COLUMNS = (
    ("check_name", "check"),
    ("flight_date", "flight date"),
    ("carrier", "carrier"),
    ("flight_number", "flight number"),
    ("origin", "origin"),
    ("source_file", "source file"),
)


def _when(row: Row) -> str:
    # started_at is 'yyyy-MM-dd HH:mm:ss.SSSSSS' text: its order is the time order.
    return str(row.get("started_at") or "")


def runs(rows: list[Row]) -> list[tuple[str, str, str]]:
    """The distinct stage runs (started_at, stage, run_id) of ``rows``, oldest first."""
    return sorted({(_when(r), str(r.get("stage") or ""), str(r.get("run_id") or "")) for r in rows})


def last_status(rows: list[Row]) -> list[Row]:
    """Each check's newest result (newest started_at per check_name), worst status first."""
    newest: dict[str, Row] = {}
    for r in sorted(rows, key=_when):
        newest[r["check_name"]] = r
    return sorted(newest.values(), key=lambda r: (_SEVERITY.get(r.get("status"), -1), r["check_name"]))


def trend(rows: list[Row]) -> dict[str, list[tuple[str, float]]]:
    """Failing rows per run of every check (freshness aside) that had any: check -> [(run, rows)]."""
    series: dict[str, list[tuple[str, float]]] = {}
    for r in sorted(rows, key=lambda r: (_when(r), r.get("stage") or "")):
        if r.get("kind") != FRESHNESS:
            label = f"{_when(r)[:16]} {r.get('stage') or ''}".strip()
            series.setdefault(r["check_name"], []).append((label, _num(r.get("rows_failing")) or 0.0))
    return {name: points for name, points in sorted(series.items()) if any(v for _, v in points)}


def sample_keys(value: Any) -> list[Row]:
    """The failing keys of one result: the mart keeps them as JSON text, a list is taken as is."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return []
    return [dict(k) for k in value or [] if isinstance(k, dict)]


def samples(latest: list[Row]) -> list[Row]:
    """The failing keys of each check's newest result, one row per key with its check."""
    return [
        {**key, "check_name": r["check_name"]}
        for r in latest
        if r.get("kind") != FRESHNESS
        for key in sample_keys(r.get("sample_keys"))
    ]


def freshness(latest: list[Row]) -> list[Row]:
    """The newest freshness result of each source, by source."""
    return sorted((r for r in latest if r.get("kind") == FRESHNESS), key=lambda r: str(r.get("dataset")))


def badge(status: Any) -> str:
    known = status if status in STATUSES else "unknown"
    return f'<span class="badge b-{known}">{_esc(status)}</span>'


def _count(value: Any) -> str:
    v = _num(value)
    if v is None:
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _share(value: Any) -> str:
    v = _num(value)
    return "" if v is None else f"{v:.2f}%"


def _moment(value: Any) -> str:
    # To the minute, on one line: the table has no room for microseconds.
    return f'<span class="nowrap">{_esc(str(value or "")[:16])}</span>'


def _number(fmt):
    return lambda value: f'<span class="num">{_esc(fmt(value))}</span>'


def _trend_charts(series: dict[str, list[tuple[str, float]]], n_runs: int) -> str:
    if not series:
        return f'<p class="empty">No check had failing rows in the last {n_runs} stage runs.</p>'
    return "".join(
        f"<h4>{_esc(name)}</h4>"
        + line_chart(points, fmt=_count, height=130, chart=f"dq-trend-{name}", marks=True)
        for name, points in series.items()
    )


def section(rows: list[Row], silver_database: str = "silver") -> str:
    """``<section id="data-quality">``: last status, failing-rows trend, failing keys, freshness."""
    head = f'<section id="{SECTION_ID}"><h2>{QUALITY_TITLE}</h2>'
    if not rows:
        return (
            head + f'<p class="empty">No data-quality results yet: {_esc(silver_database)}.dq_results is '
            "filled by the next bronze, silver or streaming run.</p></section>"
        )
    stage_runs = runs(rows)
    latest = last_status(rows)
    checks = [r for r in latest if r.get("kind") != FRESHNESS]
    failing = sum(1 for r in checks if r.get("status") == FAILED)
    intro = (
        f'<p class="note">The checks of the last {len(stage_runs)} stage runs '
        f"({_esc(stage_runs[0][0][:19])} to {_esc(stage_runs[-1][0][:19])} UTC); "
        f"{len(checks)} checks, {failing} failed in their latest run.</p>"
    )
    status_table = (
        _table(
            checks,
            [
                ("check_name", "check"),
                ("status", "status"),
                ("dataset", "dataset"),
                ("started_at", "last run (UTC)"),
                ("rows_failing", "failing rows"),
                ("failing_pct", "failing %"),
                ("message", "message"),
            ],
            markup={
                "status": badge,
                "started_at": _moment,
                "rows_failing": _number(_count),
                "failing_pct": _number(_share),
            },
        )
        if checks
        else '<p class="empty">No row or dataset check recorded yet.</p>'
    )
    keys = samples(latest)
    keys_table = (
        _table(keys, list(KEY_COLUMNS))
        if keys
        else '<p class="empty">No failing keys in the latest run of any check.</p>'
    )
    sources = freshness(latest)
    fresh_table = (
        _table(
            sources,
            [
                ("dataset", "source"),
                ("observed", "newest landed"),
                ("status", "status"),
                ("started_at", "checked at (UTC)"),
                ("message", "message"),
            ],
            markup={"status": badge, "started_at": _moment},
        )
        if sources
        else '<p class="empty">No source freshness check recorded yet.</p>'
    )
    return (
        head
        + intro
        + "<h3>Latest status of each check</h3>"
        + status_table
        + "<h3>Failing rows per run</h3>"
        + '<p class="note">One chart per check that had failing rows; one dot per run of the check.</p>'
        + _trend_charts(trend(rows), len(stage_runs))
        + "<h3>Sample failing keys</h3>"
        + '<p class="note">Up to 5 failing rows of each check, from its latest run.</p>'
        + keys_table
        + "<h3>Freshness per source</h3>"
        + fresh_table
        + "</section>"
    )
