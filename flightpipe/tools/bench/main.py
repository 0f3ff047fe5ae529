"""The bench's command line: options, the cases in order, the checks, the results file."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import PACKAGE_ROOT, default_config_path, load_config
from flightpipe.tools.bench.cases import CaseOptions, run_embedded, run_jdbc, run_synthetic
from flightpipe.tools.bench.results import git_commit, machine, print_report, save
from flightpipe.tools.bench.verdicts import quarantine, verdicts

DESCRIPTION = "Benchmark the pipeline's stages on the embedded year and on synthetic BTS data."


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        mult = 1
        if part[-1].lower() in "km":
            mult = 1_000 if part[-1].lower() == "k" else 1_000_000
            part = part[:-1]
        try:
            sizes.append(int(float(part) * mult))
        except ValueError:
            raise SystemExit(
                f"bench: error: --sizes takes row counts like 1000000,10000000 (or 1M,10M), not {text!r}."
            ) from None
    return sizes


def parser() -> argparse.ArgumentParser:
    """The bench's options."""
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("--config", default=default_config_path(), help="the project config to root in var/bench")
    p.add_argument("--sizes", default="", help="synthetic BTS sizes, e.g. 1000000,10000000 (or 1M,10M)")
    p.add_argument("--skip-embedded", action="store_true", help="run only the synthetic sizes")
    p.add_argument("--seed", type=int, default=42, help="seed of the synthetic data")
    p.add_argument("--year", type=int, default=2023, help="year of the synthetic data")
    p.add_argument("--regenerate", action="store_true", help="rewrite synthetic input even if present")
    p.add_argument(
        "--no-weather",
        action="store_true",
        help="synthetic cases ingest the BTS files only (the Open-Meteo files are still written)",
    )
    p.add_argument(
        "--no-peers",
        action="store_true",
        help="synthetic cases skip the peers (the plain PySpark and the DuckDB scripts on the same files)",
    )
    p.add_argument(
        "--no-jdbc",
        action="store_true",
        help="skip the jdbc case (a mart of --jdbc-rows rows loaded by gold's JDBC loader)",
    )
    p.add_argument("--jdbc-rows", default="1M", help="rows of the jdbc case's mart (default 1M)")
    p.add_argument("--replay-start", default="2013-01-01")
    p.add_argument("--replay-end", default="2013-12-31")
    p.add_argument(
        "--driver-memory",
        default="config",
        help="spark-submit --driver-memory: 'config' (spark.driver_memory of the config, the default), "
        "'none' (spark-submit's own default) or a size such as 6g",
    )
    p.add_argument("--results", default=str(PACKAGE_ROOT / "bench" / "results.json"))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table, append to the results file; 1 when a step failed."""
    args = parser().parse_args(argv)
    base = str(Path(args.config).resolve())
    try:
        cfg = load_config(base)
    except PipelineError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    sizes = parse_sizes(args.sizes)
    jdbc_rows = parse_sizes(args.jdbc_rows)
    if len(jdbc_rows) != 1 or jdbc_rows[0] <= 0:
        print(
            f"bench: error: --jdbc-rows takes one row count like 1M, not {args.jdbc_rows!r}.", file=sys.stderr
        )
        return 1
    if args.driver_memory == "config":
        args.driver_memory = cfg.spark.driver_memory
    elif args.driver_memory == "none":
        args.driver_memory = None
    bench_root = storage.join(cfg.paths.var, "bench")
    run_id = f"bench-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    run = {
        "run_id": run_id,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_commit(),
        "spark_master": cfg.spark.master,
        "driver_memory": args.driver_memory or "spark-submit default",
        "cases": [],
    }
    print(
        f"bench {run_id}: {run['machine']['cores']} cores, {run['machine']['memory_gb']} GB, "
        f"load {run['machine']['load_at_start']}, driver memory {run['driver_memory']}"
    )
    opts = CaseOptions(
        driver_memory=args.driver_memory,
        seed=args.seed,
        year=args.year,
        regenerate=args.regenerate,
        no_weather=args.no_weather,
        replay_start=args.replay_start,
        replay_end=args.replay_end,
        peers=not args.no_peers,
    )
    if not args.skip_embedded:
        run["cases"].append(run_embedded(base, bench_root, run_id, opts))
    for rows in sizes:
        run["cases"].append(run_synthetic(base, bench_root, run_id, rows, opts))
    if not args.no_jdbc:
        run["cases"].append(run_jdbc(base, bench_root, run_id, jdbc_rows[0], opts))
    for case in run["cases"]:
        case["quarantine"] = quarantine(case)
    run["checks"] = verdicts(run["cases"])
    run["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save(args.results, run)
    print_report(run["cases"], run["checks"])
    print(f"\nresults appended to {args.results}; stage logs under {bench_root}/<case>/bench-logs/")
    failed = any(s["exit_code"] != 0 for c in run["cases"] for s in c.get("steps", []))
    return 1 if failed else 0
