"""``scripts/pipeline.py --dry-run``: the plan of every selected stage, from one session, nothing written.

Each stage's plan describes the project as it is now. A stage whose input an earlier selected
stage would produce (cleaning before ingest has landed anything) is not a failure: its plan
says which step it waits for. Any other problem (a bad config, a missing input file, a
server that refuses the login) is printed as the stage's one sentence and fails the dry run.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import date

from flightpipe.core import net, stages
from flightpipe.core.dates import parse_range
from flightpipe.core.dryrun import NOTE, WRITE, DryRun, dry_run_session
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Settings
from flightpipe.core.stages import Stage


def describe_mariadb(cfg: Settings) -> DryRun:
    """What ``scripts/mariadb.sh start`` would do."""
    gold, out = cfg.gold, DryRun("mariadb")
    if not cfg.mariadb.local:
        return out.add(
            NOTE, f"{gold.host}:{gold.port}", "your own server (mariadb.local is false): nothing started"
        )
    if net.port_in_use(gold.port, gold.host):
        return out.add(NOTE, f"MariaDB {gold.host}:{gold.port}", "already running: left as it is")
    return out.add(WRITE, cfg.mariadb.data_dir, f"the local server started on {gold.host}:{gold.port}")


def plan_of(stage: Stage, spark, cfg: Settings, args: argparse.Namespace, selected: set[str]) -> DryRun:
    """One stage's plan (imports are lazy: a stage's modules load only when it is selected)."""
    if stage.name == "mariadb":
        return describe_mariadb(cfg)
    if stage.name == "ingest":
        from flightpipe.bronze.dryrun import describe_ingest

        return describe_ingest(cfg, flights=args.batch_flights)
    if stage.name == "replay":
        from flightpipe.tools.replay import describe

        return describe(
            cfg.paths.landing,
            cfg.paths.checkpoints,
            date.fromisoformat(args.replay_start),
            date.fromisoformat(args.replay_end),
            force=False,
        )
    if stage.name == "streaming":
        from flightpipe.bronze.dryrun import describe_streaming

        return describe_streaming(cfg)
    if stage.name == "cleaning":
        from flightpipe.silver.dryrun import describe_cleaning

        return describe_cleaning(spark, cfg, date_range=parse_range(args.start, args.end))
    if stage.name in ("ml", "ml-score"):
        from flightpipe.ml.dryrun import describe_ml

        scored = (date.fromisoformat(args.score_start), date.fromisoformat(args.score_end))
        return describe_ml(spark, cfg, scored if stage.name == "ml-score" else None)
    if stage.name == "gold":
        from flightpipe.gold.dryrun import describe_gold

        pending = "mariadb" if "mariadb" in selected and cfg.mariadb.local else ""
        return describe_gold(spark, cfg, server_pending=pending, date_range=parse_range(args.start, args.end))
    raise PipelineError(f"stage '{stage.name}' has no dry run.")


def dry_run(cfg: Settings, steps: list[Stage], args: argparse.Namespace) -> int:
    """Print the plan of each step; 1 when a step would fail for a reason of its own."""
    selected = {s.name for s in steps}
    failed = False
    needs_spark = any(s.is_spark for s in steps)
    context = dry_run_session(cfg, "pipeline", hive=True) if needs_spark else contextlib.nullcontext()
    with context as spark:
        for stage in steps:
            try:
                plan = plan_of(stage, spark, cfg, args, selected)
            except Exception as exc:
                if not isinstance(exc, PipelineError):
                    exc = PipelineError(f"unexpected failure ({str(exc).strip().splitlines()[0][:300]})")
                before = [s.step for s in stages.upstream(stage.name) if s.name in selected]
                if before:
                    plan = DryRun(stage.step).add(
                        NOTE, f"waits for {', '.join(before)}", f"as things are now, {exc}"
                    )
                else:
                    failed = True
                    plan = DryRun(stage.step).add("error", str(exc))
            print(plan.render() + "\n", flush=True)
    print("dry run: nothing was written." if not failed else "dry run: a stage above would fail.")
    return 1 if failed else 0
