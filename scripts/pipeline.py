"""Run the whole pipeline, stage after stage, through spark-submit.

Usage:
    python scripts/pipeline.py [--config conf/pipeline.yaml] [--master URL] [--py-files ZIP]
                               [--replay-start DATE] [--replay-end DATE] [--skip STAGE ...]

Used by ``make demo`` (the embedded data), ``make cluster-demo`` (the same stages on a
standalone cluster) and ``scripts/nightly.sh`` (cron). Every stage shares one run id
(PIPELINE_RUN_ID); the run stops at the first failing stage, whose one-line error is
already on stderr, and ends with a table: stage, seconds, rows in/out/rejected, status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flightpipe.core import runlog  # noqa: E402
from flightpipe.core.errors import PipelineError  # noqa: E402
from flightpipe.core.settings import default_config_path, load_config  # noqa: E402


def stages(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(name, run-record stage name, command) for every step, in order."""
    cfg = ["--config", args.config]
    steps = [
        ("mariadb", "", ["bash", str(ROOT / "scripts" / "mariadb.sh"), "start", *cfg]),
        ("ingest", "ingest", ["@submit", "ingest.py", *cfg, *(["--flights"] if args.batch_flights else [])]),
        (
            "replay",
            "",
            [
                sys.executable,
                str(ROOT / "scripts" / "replay.py"),
                *cfg,
                "--start",
                args.replay_start,
                "--end",
                args.replay_end,
            ],
        ),
        ("streaming", "streaming", ["@submit", "streaming.py", *cfg, "--available-now"]),
        ("cleaning", "cleaning", ["@submit", "cleaning.py", *cfg]),
        ("ml-train", "ml", ["@submit", "ML.py", *cfg]),
        (
            "ml-score",
            "ml-score",
            ["@submit", "ML.py", *cfg, "--score", "--start", args.score_start, "--end", args.score_end],
        ),
        ("gold", "gold", ["@submit", "gold.py", *cfg]),
    ]
    return [s for s in steps if s[0] not in args.skip]


def submit_command(script: str, args: argparse.Namespace) -> list[str]:
    """spark-submit of one entry script, with the cluster options when given."""
    # Under spark-submit the driver JVM starts before the session reads the config.
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--driver-memory", args.driver_memory]
    if args.master:
        cmd += ["--master", args.master]
    if args.py_files:
        cmd += ["--py-files", args.py_files]
    jdbc_jar = ROOT / "jars" / "mariadb-java-client.jar"
    if jdbc_jar.is_file():
        # The driver JVM is already running when the session reads spark.jars: the JDBC
        # driver must be on its class path from the start.
        cmd += ["--driver-class-path", str(jdbc_jar)]
    return [*cmd, str(ROOT / script)]


def print_table(rows: list[dict]) -> None:
    """The end-of-run summary table."""
    head = f"{'stage':<10} {'seconds':>8} {'rows in':>10} {'rows out':>10} {'rejected':>9}  status"
    print("\n" + head, flush=True)
    print("-" * len(head))
    for r in rows:
        counts = ["" if r.get(k) is None else str(r[k]) for k in ("rows_in", "rows_out", "rows_rejected")]
        print(
            f"{r['stage']:<10} {r['seconds']:>8.1f} {counts[0]:>10} {counts[1]:>10} "
            f"{counts[2]:>9}  {r['status']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=default_config_path())
    parser.add_argument("--master", help="Spark master URL (default: spark.master of the config)")
    parser.add_argument("--py-files", help="zip of the flightpipe package for cluster executors")
    parser.add_argument(
        "--no-batch-flights",
        dest="batch_flights",
        action="store_false",
        help="do not land the embedded flights as a historical batch (ingest.py --flights)",
    )
    parser.add_argument("--replay-start", default="2013-12-01", help="first day the replay feed drops")
    parser.add_argument("--replay-end", default="2013-12-31", help="last day the replay feed drops")
    parser.add_argument("--score-start", default="2013-10-01", help="first flight date ML.py --score scores")
    parser.add_argument("--score-end", default="2013-12-31", help="last flight date ML.py --score scores")
    parser.add_argument(
        "--skip", nargs="*", action="extend", default=[], help="stages to leave out (e.g. mariadb replay)"
    )
    args = parser.parse_args(argv)
    args.config = str(Path(args.config).resolve())
    try:
        cfg = load_config(args.config)
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return 1
    args.driver_memory = cfg.spark.driver_memory

    run_id = os.environ.get("PIPELINE_RUN_ID") or (
        f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    )
    env = {**os.environ, "PIPELINE_RUN_ID": run_id}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    print(f"pipeline run {run_id}", flush=True)
    summary: list[dict] = []
    failed = False
    for name, record_stage, cmd in stages(args):
        if cmd[0] == "@submit":
            cmd = submit_command(cmd[1], args) + cmd[2:]
        print(f"\n== {name}", flush=True)
        started = time.time()
        code = subprocess.call(cmd, env=env, cwd=str(ROOT))
        seconds = time.time() - started
        record = runlog.find_record(cfg.paths.var, record_stage, run_id, started) if record_stage else {}
        row = {"stage": name, "seconds": seconds, "status": "ok" if code == 0 else f"failed ({code})"}
        row.update({k: record.get(k) for k in ("rows_in", "rows_out", "rows_rejected")})
        summary.append(row)
        if code != 0:
            failed = True
            break
    print_table(summary)
    if failed:
        print(f"\nthe pipeline stopped at '{summary[-1]['stage']}'; its log is in {cfg.paths.logs}/.")
        return 1
    print(
        f"""
Where to look next:
  report       {cfg.paths.reports}/index.html
  MariaDB      mariadb -h 127.0.0.1 -P $MARIADB_PORT -u $GOLD_DB_USER -p flights_gold  (credentials in .env)
  silver       .venv/bin/pyspark, then spark.table("silver.flights")  (Hive metastore in {cfg.paths.metastore_db})
  logs         {cfg.paths.logs}/  (one per stage, Spark's own in spark.log)
  Spark UI     http://localhost:4040 while a stage runs"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
