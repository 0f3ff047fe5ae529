"""Run the whole pipeline, stage after stage, through spark-submit.

Usage:
    python scripts/pipeline.py [--config conf/pipeline.yaml] [--master URL] [--py-files ZIP]
                               [--replay-start DATE] [--replay-end DATE] [--select STAGE ...]
                               [--skip STAGE ...] [--nightly] [--no-train] [--dry-run]
                               [--start YYYY-MM-DD --end YYYY-MM-DD] [--skip-unchanged]

Used by ``make demo`` (the embedded data), ``make cluster-demo`` (the same stages on a
standalone cluster) and ``scripts/nightly.sh`` (cron, ``--nightly``). The steps and their
order are the stage graph (flightpipe.core.stages); ``--select cleaning+`` runs a stage and
what depends on it, ``--select +gold`` a stage and what it needs. Every stage shares one run id
(PIPELINE_RUN_ID); the run stops at the first failing stage, whose one-line error is
already on stderr, and ends with a table: stage, seconds, rows in/out/rejected, status.
``--start``/``--end`` make it a backfill: cleaning and gold rebuild only the whole months the
range touches. ``--dry-run`` prints each selected stage's plan instead, from one Spark session,
writing nothing. ``--skip-unchanged`` leaves out a step whose inputs, config and arguments are
those of its last OK run while its outputs are still there (flightpipe.core.changes), and
starts the MariaDB service only for a JDBC step that runs.
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

from flightpipe.core import changes, runlog, stages
from flightpipe.core.dates import add_range_arguments, parse_range
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import PACKAGE_ROOT, default_config_path, load_config
from flightpipe.core.stages import Stage
from flightpipe.core.submit import SubmitSettings, spark_submit_command

BACKFILL_STAGES = ("cleaning", "gold")  # the stages that take --start/--end
NO_JDBC = "no later step that uses it runs"  # why --skip-unchanged left a service out


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


def step_arguments(stage: Stage, args: argparse.Namespace) -> list[str]:
    """The step's own options and those of this run."""
    return [*stage.args, *run_args(stage, args)]


def signature_arguments(stage: Stage, args: argparse.Namespace) -> list[str]:
    """The options that are part of a step's input signature.

    The nightly scoring window moves with the date; with silver and the model unchanged the
    flights it covers are scored already, so the window is left out.
    """
    return list(stage.args) if stage.name == "ml-score" else step_arguments(stage, args)


def stage_command(stage: Stage, args: argparse.Namespace, submit: SubmitSettings) -> list[str]:
    """The command line of one step."""
    script = str(PACKAGE_ROOT / stage.script)
    options = ["--config", args.config, *step_arguments(stage, args)]
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


def locations(cfg) -> changes.Locations:
    """Where the stage graph's datasets and the saved input signatures of this config live."""
    return changes.Locations.of(cfg.paths, cfg.catalog.silver_database, cfg.ingest, cfg.config_file)


def skipped_row(stage: Stage, why: str) -> dict:
    """The summary row of a step that was not started."""
    return {"stage": stage.step, "seconds": 0.0, "status": f"skipped ({why})"}


def run_step(stage: Stage, args: argparse.Namespace, submit: SubmitSettings, env: dict, var: str) -> dict:
    """Run one step; its summary row (``code`` is the exit code)."""
    print(f"\n== {stage.step}", flush=True)
    started = time.time()
    code = subprocess.call(stage_command(stage, args, submit), env=env, cwd=str(PACKAGE_ROOT))
    seconds = time.time() - started
    record = runlog.find_record(var, stage.name, env["PIPELINE_RUN_ID"], started) if stage.is_spark else {}
    row = {"stage": stage.step, "seconds": seconds, "code": code}
    row["status"] = "ok" if code == 0 else f"failed ({code})"
    row.update({k: record.get(k) for k in ("rows_in", "rows_out", "rows_rejected")})
    return row


def _keep_state(action, *values) -> None:
    # The run itself went as it went: a state file that cannot be written only costs a skip.
    try:
        action(*values)
    except OSError as exc:
        print(f"pipeline: warning: could not keep the input signature ({exc})", file=sys.stderr)


def run_steps(
    steps: list[Stage],
    args: argparse.Namespace,
    where: changes.Locations,
    submit: SubmitSettings,
    env: dict,
    var: str,
) -> tuple[list[dict], str | None]:
    """Run the steps in order: the summary rows, and the step that failed (None when none did).

    Each step's input signature is taken just before it would start, after the steps before it
    ran, and saved when it ends OK. With ``--skip-unchanged`` a step whose signature is the saved
    one is not started, and a service waits for the first JDBC step that runs.
    """
    summary: list[dict] = []
    waiting: list[tuple[Stage, dict]] = []
    for stage in steps:
        if args.skip_unchanged and stage.kind == "service":
            row = skipped_row(stage, NO_JDBC)
            summary.append(row)
            waiting.append((stage, row))
            continue
        decision = (
            None
            if stage.kind == "service"
            else changes.decide(stage, where, signature_arguments(stage, args))
        )
        if args.skip_unchanged and decision is not None:
            if decision.skip:
                print(f"\n== {stage.step}: skipped (nothing new since {decision.since})", flush=True)
                summary.append(skipped_row(stage, f"nothing new since {decision.since}"))
                continue
            if decision.why:
                print(f"\n{stage.step} runs: its inputs cannot be compared ({decision.why}).", flush=True)
        if stage.uses_jdbc:
            for service, row in waiting:
                row.update(run_step(service, args, submit, env, var))
                if row["code"] != 0:
                    return summary, service.step
            waiting = []
        row = run_step(stage, args, submit, env, var)
        summary.append(row)
        if row["code"] != 0:
            if decision is not None:
                _keep_state(changes.forget, where, stage)
            return summary, stage.step
        if decision is not None and decision.signature:
            _keep_state(changes.save, where, stage, decision.signature)
    return summary, None


def dry_run_skips(steps: list[Stage], args: argparse.Namespace, where: changes.Locations) -> list[Stage]:
    """Print the steps ``--skip-unchanged`` would leave out, as things are now; the other steps.

    A step after one that would run is kept: what that one lands decides.
    """
    from flightpipe.core.dryrun import NOTE, DryRun

    why: dict[str, str] = {}
    ran: set[str] = set()
    for stage in steps:
        if stage.kind == "service":
            continue
        decision = None
        if not ran & {s.name for s in stages.upstream(stage.name)}:
            decision = changes.decide(stage, where, signature_arguments(stage, args))
        if decision is not None and decision.skip:
            why[stage.name] = f"nothing new since {decision.since}"
        else:
            ran.add(stage.name)
    for i, stage in enumerate(steps):
        if stage.kind == "service" and not any(s.uses_jdbc and s.name in ran for s in steps[i + 1 :]):
            why[stage.name] = NO_JDBC
    for stage in steps:
        if stage.name in why:
            print(DryRun(stage.step).add(NOTE, f"would skip ({why[stage.name]})").render() + "\n", flush=True)
    return [s for s in steps if s.name not in why]


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
    p.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="leave out a step whose inputs, config and arguments are those of its last OK run "
        "(and its outputs still there); start MariaDB only for a JDBC step that runs",
    )
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
            if args.skip_unchanged:
                steps = dry_run_skips(steps, args, locations(cfg))
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
    summary, failed = run_steps(steps, args, locations(cfg), submit, env, cfg.paths.var)
    print_table(summary)
    if failed:
        print(f"\nthe pipeline stopped at '{failed}'; its log is in {cfg.paths.logs}/.")
        return 1
    if summary and all(r["status"].startswith("skipped") for r in summary):
        print("\nnothing new: every step was skipped.")
    print(
        f"""
Where to look next:
  report       {cfg.paths.reports}/index.html
  MariaDB      mariadb -h 127.0.0.1 -P $MARIADB_PORT -u $GOLD_DB_USER -p {cfg.gold.database}  (credentials in .env)
  silver       .venv/bin/pyspark, then spark.table("{cfg.catalog.silver_database}.flights")  (Hive metastore in {cfg.paths.metastore_db})
  logs         {cfg.paths.logs}/  (one per stage, Spark's own in spark.log)
  Spark UI     http://localhost:4040 while a stage runs"""
    )
    return freshness_code(cfg)


def freshness_code(cfg) -> int:
    """2 with one sentence when a source is past its error_after (judged from the cleaning
    state, so a run whose stages were all skipped judges it too), else 0."""
    from flightpipe.core.runlog import utcnow
    from flightpipe.silver.freshness import freshness_results, stale_sentence
    from flightpipe.silver.plan import load_state, state_path

    newest = load_state(state_path(cfg.paths.var)).get("newest", {})
    results = freshness_results(newest, cfg.quality.freshness, utcnow())
    for r in results:
        if r.status != "pass":
            print(f"freshness {r.status:<6} {r.message}", flush=True)
    sentence = stale_sentence(results, cfg.config_file)
    if sentence:
        print(f"pipeline: error: {sentence}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
