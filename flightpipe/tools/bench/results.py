"""The bench's output: the machine and commit it ran on, the printed table, bench/results.json."""

from __future__ import annotations

import os
import platform
import subprocess

from flightpipe.core import storage
from flightpipe.core.settings import PACKAGE_ROOT
from flightpipe.tools.bench.verdicts import jdbc_write, quarantine


def machine() -> dict:
    """Cores, memory, platform and load of this machine."""
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> dict:
    """The commit the bench ran, and whether the tree had changes."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def print_report(cases: list[dict], checks: list[dict]) -> None:
    """The table of every step, the quarantine, files per table and the checks."""
    head = (
        f"{'case':<18} {'step':<15} {'seconds':>8} {'target':>7} {'rows/s':>10} "
        f"{'driver MB':>10} {'total MB':>9} {'load':>5} {'spill MB':>9}  status"
    )
    print("\n" + head)
    print("-" * len(head))
    for c in cases:
        for s in [*c.get("steps", []), *c.get("peers", [])]:
            target = "" if s["target_s"] is None else f"{s['target_s']:g}"
            spill = s.get("profile", {}).get("spill_disk_mb", "")
            status = "ok" if s["exit_code"] == 0 else "FAILED"
            if s["target_s"] is not None and s["exit_code"] == 0 and s["seconds"] > s["target_s"]:
                status = "SLOW"
            print(
                f"{c['case']:<18} {s['name']:<15} {s['seconds']:>8.1f} {target:>7} {s['rows_per_s']:>10.0f} "
                f"{s['peak_driver_rss_mb']:>10.0f} {s['peak_total_rss_mb']:>9.0f} "
                f"{max(s['load_before'], s['load_after']):>5.1f} {spill!s:>9}  {status}"
            )
        if c.get("auc"):
            print(f"{c['case']:<18} best AUC-ROC {c['auc']['auc_roc']} ({c['auc']['file']})")
        for peer, per in (c.get("ratios") or {}).items():
            text = ", ".join(f"{k} {v:g}x" for k, v in per.items())
            print(f"{c['case']:<18} ours / {peer}: {text}")
        write = jdbc_write(c)
        if write:
            print(
                f"{c['case']:<18} JDBC write {write['rows']} rows in {write['seconds']} s: "
                f"{write['rows_per_s']} rows/s; indexes after it {write['index_seconds']} s, "
                f"whole load {write['load_seconds']} s"
            )
        q = quarantine(c)
        if q:
            print(
                f"{c['case']:<18} cleaning quarantined {q['quarantined']} of {q['bronze_rows']} rows "
                f"({q['share_pct']} %), duplicates {q['duplicates']}; rules: {q['rules']}"
            )
    print("\nfiles per table (small-files check):")
    for c in cases:
        for table, t in c.get("tables", {}).items():
            print(
                f"  {c['case']:<18} {table:<34} {t['files']:>6} files {t['mb']:>9.1f} MB "
                f"avg {t['avg_file_mb']:>7.2f} MB  {t['partitions']:>4} partitions"
            )
    if checks:
        print("\nchecks:")
        for v in checks:
            print(f"  [{'pass' if v['ok'] else 'FAIL'}] {v['check']}: {v['value']}")


def save(results_file: str, run: dict, keep: int = 20) -> None:
    """Append ``run`` to the results file, keeping the last ``keep`` runs."""
    previous = storage.read_json(results_file, {})
    history = previous.get("runs", []) if isinstance(previous, dict) else []
    history = [*history, run][-keep:]
    storage.write_json(results_file, {"latest": run, "runs": history})
