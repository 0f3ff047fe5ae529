"""Run the whole pipeline, stage after stage, through spark-submit.

Usage:
    python scripts/pipeline.py [--config conf/pipeline.yaml] [--master URL] [--py-files ZIP]
                               [--replay-start DATE] [--replay-end DATE] [--select STAGE ...]
                               [--skip STAGE ...] [--nightly] [--no-train] [--dry-run]
                               [--start YYYY-MM-DD --end YYYY-MM-DD]

Used by ``make demo`` (the embedded data), ``make cluster-demo`` (the same stages on a
standalone cluster) and ``scripts/nightly.sh`` (cron, ``--nightly``). The steps and their
order are the stage graph (flightpipe.core.stages); ``--select cleaning+`` runs a stage and
what depends on it, ``--select +gold`` a stage and what it needs. Every stage shares one run id
(PIPELINE_RUN_ID); the run stops at the first failing stage, whose one-line error is
already on stderr, and ends with a table: stage, seconds, rows in/out/rejected, status.
``--start``/``--end`` make it a backfill: cleaning and gold rebuild only the whole months the
range touches. ``--dry-run`` prints each selected stage's plan instead, from one Spark session,
writing nothing.
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

from flightpipe.core import runlog, stages
from flightpipe.core.dates import add_range_arguments, parse_range
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import PACKAGE_ROOT, default_config_path, load_config
from flightpipe.core.stages import Stage
from flightpipe.core.submit import SubmitSettings, spark_submit_command

BACKFILL_STAGES = ("cleaning", "gold")  # the stages that take --start/--end


def run_args(stage: Stage, args: argparse.Namespace) -> list[str]:
    """The options of this run for one stage, after ``--config`` and the stage's own."""
    if stage.name == "ingest" and args.batch_flights:
        return ["--flights"]
    if stage.name == "replay":
        return ["--start", args.replay_start, "--end", args.replay_end]
    if stage.name == "ml-score":
        return ["--start", args.score_start, "--end", args.score_end]
    if stage.name in BACKFILL_STAGES and args.start is not None:
        return ["--start", args.start, "--end", args.end]
    return []


def stage_command(stage: Stage, args: argparse.Namespace, submit: SubmitSettings) -> list[str]:
    """The command line of one step."""
    script = str(PACKAGE_ROOT / stage.script)
    options = ["--config", args.config, *stage.args, *run_args(stage, args)]
    if stage.is_spark:
        return spark_submit_command(submit, script, options, master=args.master, py_files=args.py_files)
    if stage.kind == "service":
        return ["bash", script, *stage.args, "--config", args.config]
    return [sys.executable, script, *options]


def selected(args: argparse.Namespace) -> list[Stage]:
    """The steps of this run, in graph order."""
    skip = set(args.skip)
    if args.no_train:
        skip.add(stages.stage("ml").step)
    chosen = stages.select(args.select) if args.select else stages.order()
    for name in skip:
        stages.stage(name)  # an unknown name is one sentence, not a silent no-op
    chosen = [s for s in chosen if s.step not in skip and s.name not in skip]
    if args.nightly:
        # At night new files arrive on their own: no feed step drops any.
        chosen = [s for s in chosen if s.kind != "feed"]
    return chosen


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


def parser() -> argparse.ArgumentParser:
    """The pipeline's options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=default_config_path())
    p.add_argument("--master", help="Spark master URL (default: spark.master of the config)")
    p.add_argument("--py-files", help="zip of the flightpipe package for cluster executors")
    p.add_argument(
        "--no-batch-flights",
        dest="batch_flights",
        action="store_false",
        help="do not land the embedded flights as a historical batch (ingest.py --flights)",
    )
    p.add_argument("--replay-start", default="2013-12-01", help="first day the replay feed drops")
    p.add_argument("--replay-end", default="2013-12-31", help="last day the replay feed drops")
    p.add_argument("--score-start", default="2013-10-01", help="first flight date ML.py --score scores")
    p.add_argument("--score-end", default="2013-12-31", help="last flight date ML.py --score scores")
    p.add_argument(
        "--select",
        nargs="+",
        action="extend",
        default=[],
        metavar="STAGE",
        help="run only these stages: NAME, NAME+ (and what depends on it), +NAME (and what it needs)",
    )
    p.add_argument(
        "--skip", nargs="*", action="extend", default=[], help="stages to leave out (e.g. mariadb replay)"
    )
    p.add_argument("--nightly", action="store_true", help="the cron run: no feed step (replay)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the config and inputs, print each selected stage's plan, run and write nothing",
    )
    p.add_argument("--no-train", action="store_true", help="leave out the model training (ml-train)")
    add_range_arguments(p, "cleaning and gold rebuild only the months from --start to --end")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.config = str(Path(args.config).resolve())
    try:
        cfg = load_config(args.config)
        steps = selected(args)
        parse_range(args.start, args.end)  # a bad date fails before any stage runs
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        from flightpipe.tools.dryrun import dry_run

        try:
            return dry_run(cfg, steps, args)
        except PipelineError as exc:
            print(f"pipeline: error: {exc}", file=sys.stderr)
            return 1
    submit = SubmitSettings.of(cfg.spark, log_dir=cfg.paths.logs)

    run_id = os.environ.get("PIPELINE_RUN_ID") or (
        f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    )
    env = {**os.environ, "PIPELINE_RUN_ID": run_id}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    print(f"pipeline run {run_id}", flush=True)
    summary: list[dict] = []
    failed = False
    for stage in steps:
        print(f"\n== {stage.step}", flush=True)
        started = time.time()
        code = subprocess.call(stage_command(stage, args, submit), env=env, cwd=str(PACKAGE_ROOT))
        seconds = time.time() - started
        record = runlog.find_record(cfg.paths.var, stage.name, run_id, started) if stage.is_spark else {}
        row = {"stage": stage.step, "seconds": seconds, "status": "ok" if code == 0 else f"failed ({code})"}
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
  MariaDB      mariadb -h 127.0.0.1 -P $MARIADB_PORT -u $GOLD_DB_USER -p {cfg.gold.database}  (credentials in .env)
  silver       .venv/bin/pyspark, then spark.table("{cfg.catalog.silver_database}.flights")  (Hive metastore in {cfg.paths.metastore_db})
  logs         {cfg.paths.logs}/  (one per stage, Spark's own in spark.log)
  Spark UI     http://localhost:4040 while a stage runs"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
