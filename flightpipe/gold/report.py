"""reports/index.html: one self-contained page (inline SVG charts, inline CSS, no scripts).

:func:`render` turns plain Python rows into HTML and is pure, :func:`write_report` writes the
page through the storage seam; :func:`flightpipe.gold.report_data.collect_data` gathers the rows.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flightpipe.core import storage

log = logging.getLogger("flightpipe.report")

Row = dict[str, Any]

CHART_TITLES = {
    "carrier": "Delay rate by carrier",
    "hour": "Delay rate by scheduled hour of day",
    "weather": "Delay rate by weather at departure",
    "routes": "Busiest routes",
    "daily": "Daily delay rate",
    "model": "Model hold-out metrics",
}
FRESHNESS_TITLE = "Data freshness"
MODEL_METRICS = ("auc_roc", "auc_pr", "accuracy", "precision", "recall", "f1")

_BAR = "#3b6ea5"
_BAR_ALT = "#d9822b"
_FONT = "font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif"


@dataclass
class ReportData:
    """What the page shows, as plain rows (dicts) of the marts."""

    project: str
    generated_at: datetime
    carriers: list[Row] = field(default_factory=list)
    hours: list[Row] = field(default_factory=list)
    weather: list[Row] = field(default_factory=list)
    routes: list[Row] = field(default_factory=list)
    daily: list[Row] = field(default_factory=list)
    models: list[Row] = field(default_factory=list)
    runs: list[Row] = field(default_factory=list)
    quality: list[Row] = field(default_factory=list)
    has_model_metrics: bool = True
    silver_database: str = "silver"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, (Decimal, int, float)) else None


def _pct(value: Any) -> str:
    v = _num(value)
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _svg(width: int, height: int, font_px: int, chart: str) -> str:
    """The opening tag of a chart; ``data-chart`` names it for readers of the page's DOM."""
    return (
        f'<svg data-chart="{_esc(chart)}" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'style="{_FONT};font-size:{font_px}px">'
    )


def hbar_chart(
    rows: list[tuple[str, float | None, str]], fmt=_pct, width: int = 760, chart: str = "hbar"
) -> str:
    """Horizontal bars: (label, value, note shown after the value)."""
    if not rows:
        return '<p class="empty">No data.</p>'
    bar_h, gap, label_w, value_w = 20, 6, 240, 210
    top = max((v or 0) for _, v, _ in rows) or 1
    span = width - label_w - value_w
    height = len(rows) * (bar_h + gap) + gap
    parts = [_svg(width, height, 12, chart)]
    for i, (label, value, note) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = 0 if value is None else max(1, span * value / top)
        text = fmt(value) + (f"  {note}" if note else "")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_BAR}">'
            f"<title>{_esc(label)}: {_esc(text)}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{_esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def vbar_chart(
    rows: list[tuple[str, float | None]], fmt=_pct, width: int = 760, height: int = 260, chart: str = "vbar"
) -> str:
    """Vertical bars with one label per bar (hours of the day)."""
    if not rows:
        return '<p class="empty">No data.</p>'
    left, bottom, top_pad = 50, 30, 20
    top = max((v or 0) for _, v in rows) or 1
    slot = (width - left - 10) / len(rows)
    plot_h = height - bottom - top_pad
    parts = [_svg(width, height, 11, chart)]
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_esc(fmt(top * frac))}</text>'
        )
    for i, (label, value) in enumerate(rows):
        h = 0 if value is None else plot_h * value / top
        x = left + i * slot
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{top_pad + plot_h - h:.1f}" width="{slot - 4:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{_esc(label)}: {_esc(fmt(value))}</title></rect>'
            f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
            f"{_esc(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: list[tuple[str, float | None]],
    fmt=_pct,
    width: int = 760,
    height: int = 220,
    chart: str = "line",
    marks: bool = False,
) -> str:
    """One line over ordered points (days); the first and last labels are printed.

    ``marks`` draws a dot per point, with its label and value as a tooltip (for short series,
    where a lone point would otherwise be invisible).
    """
    values = [(label, v) for label, v in points if v is not None]
    if not values:
        return '<p class="empty">No data.</p>'
    left, bottom, top_pad = 50, 24, 12
    top = max(v for _, v in values) or 1
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    step = plot_w / max(1, len(values) - 1)
    xy = [(left + i * step, top_pad + plot_h * (1 - v / top)) for i, (_, v) in enumerate(values)]
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    parts = [_svg(width, height, 11, chart)]
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_esc(fmt(top * frac))}</text>'
        )
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{_BAR}" stroke-width="1.5"/>')
    if marks:
        for (x, y), (label, v) in zip(xy, values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{_BAR}">'
                f"<title>{_esc(label)}: {_esc(fmt(v))}</title></circle>"
            )
    parts.append(f'<text x="{left}" y="{height - 6}">{_esc(values[0][0])}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 6}" text-anchor="end">{_esc(values[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bar_chart(
    groups: list[tuple[str, list[tuple[str, float | None]]]], width: int = 760, chart: str = "grouped"
) -> str:
    """Metric bars (0-1) per model: one row of bars per model, one bar per metric."""
    if not groups:
        return '<p class="empty">No data.</p>'
    rows: list[tuple[str, float | None, str]] = []
    for model, metrics in groups:
        for name, value in metrics:
            rows.append((f"{model} · {name}", value, ""))
    return hbar_chart(rows, fmt=lambda v: "n/a" if v is None else f"{v:.3f}", width=width, chart=chart)


def _table(rows: list[Row], columns: list[tuple[str, str]], markup: dict[str, Any] | None = None) -> str:
    """A table of ``rows``; ``markup`` maps a column key to a function giving the cell's HTML."""
    markup = markup or {}

    def td(key: str, value: Any) -> str:
        return f"<td>{markup[key](value) if key in markup else _esc(_cell(value))}</td>"

    head = "".join(f"<th>{_esc(title)}</th>" for _, title in columns)
    body = "".join("<tr>" + "".join(td(key, r.get(key)) for key, _ in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def _section(key: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{_esc(note)}</p>' if note else ""
    return f'<section id="chart-{key}"><h2>{_esc(CHART_TITLES[key])}</h2>{note_html}{body}</section>'


def render(data: ReportData) -> str:
    """The whole page as one string."""
    # Imported here: the section draws with this module's helpers, so it imports this module.
    from flightpipe.gold import report_quality

    denominator = "Delay rate = flights arriving 15+ minutes late / flights with a recorded arrival delay."
    carriers = sorted(data.carriers, key=lambda r: -(_num(r.get("delay_rate")) or 0))
    carrier_chart = hbar_chart(
        [
            (f"{r['carrier_name']} ({r['carrier']})", _num(r["delay_rate"]), f"of {r['flights']:,} flights")
            for r in carriers
        ],
        chart="carrier",
    )
    hours = sorted(data.hours, key=lambda r: r["sched_dep_local_hour"])
    hour_chart = vbar_chart(
        [(str(r["sched_dep_local_hour"]), _num(r["delay_rate"])) for r in hours], chart="hour"
    )
    weather_parts = []
    for factor in ("precipitation", "visibility", "wind"):
        rows = sorted((r for r in data.weather if r["factor"] == factor), key=lambda r: r["bucket_order"])
        bars = [(r["bucket"], _num(r["delay_rate"]), f"of {r['flights']:,} flights") for r in rows]
        weather_parts.append(
            f"<h3>{_esc(factor.capitalize())}</h3>{hbar_chart(bars, chart=f'weather-{factor}')}"
        )
    routes = data.routes
    route_chart = hbar_chart(
        [
            (f"{r['origin']} → {r['dest']}", float(r["flights"]), f"flights, {_pct(r['delay_rate'])} delayed")
            for r in routes
        ],
        fmt=lambda v: f"{v:,.0f}",
        chart="routes",
    )
    daily = sorted(data.daily, key=lambda r: r["flight_date"])
    daily_chart = line_chart([(str(r["flight_date"]), _num(r["delay_rate"])) for r in daily], chart="daily")

    latest = [r for r in data.models if r.get("is_latest")]
    if latest:
        groups = [(r["model"], [(m, _num(r.get(m))) for m in MODEL_METRICS]) for r in latest]
        model_body = grouped_bar_chart(groups, chart="model") + _table(
            latest,
            [
                ("model", "model"),
                ("model_version", "version"),
                ("trained_at", "trained at (UTC)"),
                *[(m, m) for m in MODEL_METRICS],
                ("log_loss", "log loss"),
                ("threshold", "threshold"),
                ("test_rows", "hold-out rows"),
            ],
        )
        model_note = "Latest run of each model, measured on the hold-out period only."
    else:
        model_body = '<p class="empty">No model metrics to show.</p>'
        model_note = (
            f"{data.silver_database}.model_metrics does not exist yet: run ML.py, then gold.py."
            if not data.has_model_metrics
            else f"{data.silver_database}.model_metrics holds no rows."
        )

    last_runs: dict[str, Row] = {}
    for r in sorted(data.runs, key=lambda r: str(r.get("started_at"))):
        last_runs[r["stage"]] = r
    first_day = daily[0]["flight_date"] if daily else None
    last_day = daily[-1]["flight_date"] if daily else None
    runs_table = (
        _table(
            list(last_runs.values()),
            [
                ("stage", "stage"),
                ("status", "status"),
                ("started_at", "last run started (UTC)"),
                ("ended_at", "ended (UTC)"),
                ("rows_in", "rows in"),
                ("rows_out", "rows out"),
                ("rows_rejected", "rows rejected"),
                ("run_id", "run id"),
            ],
        )
        if last_runs
        else '<p class="empty">No stage run recorded in silver.pipeline_runs yet.</p>'
    )
    freshness = (
        f"<p>Report generated {data.generated_at:%Y-%m-%d %H:%M:%S} UTC. "
        f"Flights from {_esc(first_day or 'n/a')} to {_esc(last_day or 'n/a')} "
        f"({sum(r['flights'] for r in daily):,} scheduled flights).</p>" + runs_table
    )
    sections = [
        f'<section id="freshness"><h2>{FRESHNESS_TITLE}</h2>{freshness}</section>',
        # Next to the runs: whether the data can be trusted comes before what it shows.
        report_quality.section(data.quality, data.silver_database),
        _section("carrier", carrier_chart, denominator),
        _section("hour", hour_chart, "Scheduled departure hour, local time at the origin. " + denominator),
        _section(
            "weather",
            "".join(weather_parts),
            "Origin weather in the scheduled departure hour; 'unknown' = no weather record. " + denominator,
        ),
        _section("routes", route_chart, f"The {len(routes)} routes with the most scheduled flights."),
        _section("daily", daily_chart, denominator),
        _section("model", model_body, model_note),
    ]
    style = (
        f"body{{{_FONT};margin:2em auto;max-width:820px;color:#222}}"
        "h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
        "h3{font-size:1em;margin:1em 0 .2em}.note{color:#555;font-size:.9em}"
        "table{border-collapse:collapse;font-size:.85em;margin-top:.5em}"
        "td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}.empty{color:#a33}"
        + report_quality.STYLE
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(data.project)} — flight delays</title><style>{style}</style></head><body>"
        f"<h1>{_esc(data.project)} — flight delays</h1>" + "".join(sections) + "</body></html>\n"
    )


def write_report(reports_dir: str, data: ReportData) -> str:
    """Write ``reports_dir/index.html`` atomically and return its path."""
    path = storage.join(reports_dir, "index.html")
    storage.write_text(path, render(data))
    return path
