"""reports/index.html as a browser draws it: headless Chromium renders the page, the test reads
the rendered DOM (every section, every chart's bars and points) and keeps a screenshot in
var/report/index.png for people to look at."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flightpipe.gold import report
from tests.support.project import REPO

SCREENSHOT = REPO / "var" / "report" / "index.png"
FACTORS = ("precipitation", "visibility", "wind")
SOURCES = (("bts", "pass"), ("streaming", "warn"), ("weather", "failed"))


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        pytest.fail("Chromium is not installed: run `make setup` (it installs Debian's chromium).")
    return found


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run on ``page``, offline and with a profile of the test's own."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class Charts(HTMLParser):
    """Section ids, and per ``data-chart`` svg its bars (rect), dots (circle) and line points."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.charts: dict[str, Counter] = {}
        self.current: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "svg":
            self.current = a.get("data-chart", "")
            assert self.current not in self.charts, f"two charts named {self.current}"
            self.charts[self.current] = Counter()
        elif self.current is not None and tag in ("rect", "circle"):
            self.charts[self.current][tag] += 1
        elif self.current is not None and tag == "polyline":
            self.charts[self.current]["points"] += len(a["points"].split())

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None


def dq(run: int, stage: str, check: str, failing: int, status: str, keys=(), **kw) -> dict:
    row = {
        "run_id": f"run-{run}",
        "stage": stage,
        "started_at": f"2026-11-2{run} 0{run}:00:00.000000",
        "check_name": check,
        "kind": "row_rule",
        "dataset": f"silver.{stage}",
        "action": "warn",
        "rows_checked": 20_000,
        "rows_failing": failing,
        "failing_pct": Decimal(failing) / 200,
        "status": status,
        "observed": "",
        "message": f"{failing:,} of 20,000 rows broke {check}.",
        "sample_keys": json.dumps(list(keys)),
    }
    row.update(kw)
    return row


def quality_rows() -> list[dict]:
    def key(n: int) -> dict:
        return {"flight_date": "2013-03-0" + str(n), "carrier": "AA", "flight_number": 100 + n,
                "origin": "JFK", "source_file": "On_Time_2013_3.csv"}  # fmt: skip

    rows = []
    for run, failing, status in ((1, 0, "pass"), (2, 120, "warn"), (3, 480, "failed")):
        keys = [key(n) for n in range(1, min(failing, 5) + 1)]
        rows.append(dq(run, "cleaning", "arr_delay_in_range", failing, status, keys, action="fail"))
        rows.append(dq(run, "cleaning", "carrier_known", 0, "pass"))
    # Runs only in the streaming stage (runs 2 and 3), dropping its failing rows.
    for run, failing in ((2, 7), (3, 3)):
        rows.append(dq(run, "streaming", "event_time_parsed", failing, "dropped", [key(9)], action="drop"))
    for source, status in SOURCES:
        rows.append(
            dq(
                3,
                "cleaning",
                f"freshness_{source}",
                0,
                status,
                kind="freshness",
                dataset=source,
                rows_checked=0,
                failing_pct=None,
                observed="2013-12-31",
                message=f"{source}: newest data is 3 days old (warn after 2, error after 5).",
            )
        )
    return rows


def report_data() -> report.ReportData:
    return report.ReportData(
        project="projet_spark",
        generated_at=datetime(2026, 11, 25, 21, 0, 0),
        carriers=[
            {"carrier": c, "carrier_name": n, "flights": f, "delay_rate": Decimal(r)}
            for c, n, f, r in (
                ("AA", "American", 1200, "0.2"),
                ("B6", "JetBlue", 800, "0.25"),
                ("DL", "Delta", 900, "0.15"),
            )
        ],
        hours=[{"sched_dep_local_hour": h, "delay_rate": Decimal(h) / 50} for h in range(5, 11)],
        weather=[
            {"factor": f, "bucket": b, "bucket_order": i, "flights": 10, "delay_rate": Decimal("0.1") * i}
            for f, buckets in zip(
                FACTORS, (("dry", "wet", "unknown"), ("clear", "fog"), ("calm",)), strict=True
            )
            for i, b in enumerate(buckets, start=1)
        ],
        routes=[
            {"origin": o, "dest": d, "flights": f, "delay_rate": Decimal("0.3")}
            for o, d, f in (("JFK", "LAX", 500), ("LGA", "ORD", 400))
        ],
        daily=[
            {
                "flight_date": date(2013, 1, d),
                "flights": 900,
                "delay_rate": None if d == 3 else Decimal(d) / 20,
            }
            for d in range(1, 6)
        ],
        models=[
            {"model": "gbt", "model_version": "v2", "is_latest": True, "auc_roc": 0.74, "f1": 0.42},
            {"model": "gbt", "model_version": "v1", "is_latest": False, "auc_roc": 0.70, "f1": 0.40},
        ],
        runs=[
            {
                "stage": "cleaning",
                "status": "ok",
                "started_at": "2026-11-23 03:00:00.000000",
                "run_id": "run-3",
            },
            {
                "stage": "streaming",
                "status": "ok",
                "started_at": "2026-11-23 03:00:00.000000",
                "run_id": "run-3",
            },
        ],
        quality=quality_rows(),
    )


def test_rendered_page_shows_every_section_and_chart(tmp_path):
    data = report_data()
    page = tmp_path / "index.html"
    page.write_text(report.render(data), encoding="utf-8")

    dom = browse(page, tmp_path / "profile", "--dump-dom").stdout
    parsed = Charts()
    parsed.feed(dom)
    expected_sections = ["freshness", "data-quality", *(f"chart-{key}" for key in report.CHART_TITLES)]
    assert parsed.sections == expected_sections

    per_factor = Counter(r["factor"] for r in data.weather)
    latest_models = [r for r in data.models if r["is_latest"]]
    expected = {
        "carrier": {"rect": len(data.carriers)},
        "hour": {"rect": len(data.hours)},
        **{f"weather-{f}": {"rect": per_factor[f]} for f in FACTORS},
        "routes": {"rect": len(data.routes)},
        "daily": {"points": sum(r["delay_rate"] is not None for r in data.daily)},
        "model": {"rect": len(latest_models) * len(report.MODEL_METRICS)},
        # One dot and one line point per run of each check that ever had failing rows.
        "dq-trend-arr_delay_in_range": {"circle": 3, "points": 3},
        "dq-trend-event_time_parsed": {"circle": 2, "points": 2},
    }
    assert {name: dict(counts) for name, counts in parsed.charts.items()} == expected

    section = dom[dom.index('<section id="data-quality">') :]
    assert section.count('class="badge b-failed"') == 2  # arr_delay_in_range and weather freshness
    assert "On_Time_2013_3.csv" in section and ">105<" in section  # sample keys of the last run
    assert all(f"{source}: newest data is 3 days old" in section for source, _ in SOURCES)
    assert "<script" not in dom and "http" not in dom

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    browse(page, tmp_path / "profile", f"--screenshot={SCREENSHOT}", "--window-size=1280,3000")
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
