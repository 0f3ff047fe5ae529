"""The bench's targets and checks: stage times, the 10M budget, scaling from small to large."""

from __future__ import annotations

from flightpipe.tools.bench import peers

# Targets on the reference 2-core machine, JVM start included (seconds).
EMBEDDED_TARGETS = {"streaming": 60, "cleaning": 45, "ml": 300, "gold": 60}
SYNTHETIC_TOTAL_TARGET = 600  # ingest + cleaning + gold at 10M rows
SYNTHETIC_TARGET_ROWS = 10_000_000
SCALING_TIME_MAX = 12.0  # 1M -> 10M: each stage at most 12x slower
SCALING_DRIVER_RSS_MAX = 1.5  # and the driver's peak memory at most 1.5x
# Ours over the peers of the same run (flightpipe.tools.bench.peers): at most these ratios.
PEER_TARGETS = {"spark": {"ingest": 1.0, "cleaning": 1.0, "gold": 1.0}, "duckdb": {"total": 3.0}}
PEER_NAMES = {"spark": "the plain PySpark script", "duckdb": "DuckDB"}
ML_TARGET_AUC_ROC = 0.75  # the best model on the October-December hold-out of the embedded year
JDBC_TARGET_ROWS_PER_S = 100_000  # gold's JDBC write of a mart, rows per second
JDBC_STEP = "jdbc-load"  # the step of the jdbc-<rows> case (flightpipe.tools.bench.cases.run_jdbc)


def verdicts(cases: list[dict]) -> list[dict]:
    """Every target and scaling check, with the measurement and pass/fail."""
    out = []
    by_case = {c["case"]: c for c in cases}
    emb = by_case.get("embedded")
    if emb:
        steps = {s["name"]: s for s in emb.get("steps", [])}
        for name, target in EMBEDDED_TARGETS.items():
            s = steps.get(name)
            ok = bool(s and s["exit_code"] == 0 and s["seconds"] <= target)
            out.append({"check": f"embedded {name} <= {target} s", "value": s and s["seconds"], "ok": ok})
        auc = emb.get("auc", {}).get("auc_roc")
        out.append(
            {
                "check": f"embedded ML best hold-out AUC-ROC >= {ML_TARGET_AUC_ROC}",
                "value": auc,
                "ok": auc is not None and auc >= ML_TARGET_AUC_ROC,
            }
        )
    big = by_case.get(f"synthetic-{SYNTHETIC_TARGET_ROWS}")
    if big:
        steps = [s for s in big.get("steps", []) if s["is_stage"]]
        total = round(sum(s["seconds"] for s in steps), 1)
        ok = len(steps) == 3 and all(s["exit_code"] == 0 for s in steps) and total <= SYNTHETIC_TOTAL_TARGET
        out.append(
            {"check": f"10M ingest + cleaning + gold <= {SYNTHETIC_TOTAL_TARGET} s", "value": total, "ok": ok}
        )
    for c in cases:
        out += peer_checks(c)
        out += jdbc_checks(c)
    sizes = sorted(int(c["case"].split("-")[1]) for c in cases if c["case"].startswith("synthetic-"))
    if len(sizes) >= 2:
        small, large = by_case[f"synthetic-{sizes[0]}"], by_case[f"synthetic-{sizes[-1]}"]
        factor = sizes[-1] / sizes[0]
        # 12x for a 10x size: the allowance scales with the size ratio.
        time_max, rss_max = SCALING_TIME_MAX * factor / 10, SCALING_DRIVER_RSS_MAX
        s_steps = {s["name"]: s for s in small.get("steps", []) if s["is_stage"]}
        for s in large.get("steps", []):
            base = s_steps.get(s["name"])
            if not s["is_stage"] or not base or not base["seconds"]:
                continue
            t = round(s["seconds"] / base["seconds"], 2)
            m = (
                round(s["peak_driver_rss_mb"] / base["peak_driver_rss_mb"], 2)
                if base["peak_driver_rss_mb"]
                else None
            )
            out.append(
                {
                    "check": f"scaling {s['name']} time x{factor:g} rows <= x{time_max:g}",
                    "value": t,
                    "ok": t <= time_max,
                }
            )
            out.append(
                {
                    "check": f"scaling {s['name']} driver RSS <= x{rss_max:g}",
                    "value": m,
                    "ok": m is not None and m <= rss_max,
                }
            )
    return out


def peer_checks(case: dict) -> list[dict]:
    """Same work as each peer, and our time over theirs within the targets."""
    if "peers" not in case:
        return []
    out = peers.agreement(case)
    ratios = peers.ratios(case)
    for peer, targets in PEER_TARGETS.items():
        for stage, target in targets.items():
            value = (ratios.get(peer) or {}).get(stage)
            what = "ingest + cleaning + gold" if stage == "total" else stage
            out.append(
                {
                    "check": f"{case['case']} {what}: ours / {PEER_NAMES[peer]} <= {target:g}x",
                    "value": value,
                    "ok": value is not None and value <= target,
                }
            )
    return out


def rows_label(rows: int) -> str:
    """1000000 -> 1M, 250000 -> 250k, 3000 -> 3k, 999 -> 999."""
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if rows >= size and rows % (size // 10) == 0:
            return f"{rows / size:g}{unit}"
    return str(rows)


def jdbc_write(case: dict) -> dict:
    """The loader's report from the jdbc-load step's run record ({} when it did not run)."""
    step = next((s for s in case.get("steps", []) if s["name"] == JDBC_STEP), None)
    return (((step or {}).get("record") or {}).get("details") or {}).get("jdbc") or {}


def jdbc_checks(case: dict) -> list[dict]:
    """The JDBC case's rate: rows/s of the loader's JDBC write, as its run record reports it."""
    if not case["case"].startswith("jdbc-"):
        return []
    steps = case.get("steps", [])
    rate = jdbc_write(case).get("rows_per_s")
    ok = bool(steps) and all(s["exit_code"] == 0 for s in steps)
    ok = ok and rate is not None and rate >= JDBC_TARGET_ROWS_PER_S
    label = rows_label(case["rows"])
    return [
        {
            "check": f"JDBC load of {label} mart rows >= {JDBC_TARGET_ROWS_PER_S} rows/s",
            "value": rate,
            "ok": ok,
        }
    ]


def quarantine(case: dict) -> dict:
    """Rows cleaning quarantined, from its run record."""
    step = next((s for s in case.get("steps", []) if s["name"] == "cleaning"), None)
    flights = ((step or {}).get("record", {}).get("details") or {}).get("flights") or {}
    if not flights.get("bronze_rows"):
        return {}
    rules = (step["record"].get("details") or {}).get("rules") or {}
    return {
        "bronze_rows": flights["bronze_rows"],
        "quarantined": flights.get("quarantined", 0),
        "duplicates": flights.get("duplicates", 0),
        "share_pct": round(100 * flights.get("quarantined", 0) / flights["bronze_rows"], 3),
        "rules": {k: v.get("rows") for k, v in rules.items() if isinstance(v, dict) and v.get("rows")},
    }
