"""What every entry point shares: arguments, logging, one-sentence failures, and the stage lifecycle.

:func:`run_stage` owns a Spark stage from start to end: config, logging, session, run record,
run-log sync, ``spark.stop()`` and the exit code. An entry script is its docstring, its
arguments and one call of it.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightpipe.core.errors import PipelineError
from flightpipe.core.session import DERBY_LOCKED
from flightpipe.core.settings import Settings, default_config_path, load_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from flightpipe.core.dryrun import DryRun
    from flightpipe.core.runlog import StageRun

log = logging.getLogger("flightpipe")


def base_parser(description: str, dry_run: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the options every script takes (and ``--dry-run`` when it has one)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        default=default_config_path(),
        help="pipeline config (default: conf/pipeline.yaml of the project)",
    )
    if dry_run:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the config and every input, print what the run would read and write, write nothing",
        )
    return parser


def setup_logging(stage: str, log_dir: str | None) -> Path | None:
    """Summary lines to stderr; everything, stack traces included, to var/log/<stage>.log."""
    root = logging.getLogger("flightpipe")
    root.setLevel(logging.DEBUG)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO)
    console.setFormatter(logging.Formatter(f"[{stage}] %(message)s"))
    root.addHandler(console)
    if not log_dir:
        return None
    path = Path(log_dir) / f"{stage}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    # py4j logs every gateway call at DEBUG/INFO; keep it out of the user's log.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return path


_KNOWN_JAVA_FAILURES = (
    (
        "Another instance of Derby may have already booted the database",
        DERBY_LOCKED,
    ),
    (
        "Failed to create database 'metastore_db'",
        "the Hive metastore {metastore} could not be opened; check that no other Spark "
        "process holds it and that the folder is writable.",
    ),
    (
        "java.lang.OutOfMemoryError",
        "Spark ran out of memory; raise spark.driver_memory in {config}.",
    ),
    (
        # A file listed when the stage planned its read and gone when a task opened it.
        "FAILED_READ_FILE.FILE_NOT_EXIST",
        "the file {file} was moved or deleted while the stage read it; run the stage again.",
    ),
)


def translate(exc: BaseException, cfg: Settings | None) -> str | None:
    """A plain sentence for a known Java-side failure, else None."""
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        text += f"\n{cause}"
        cause = cause.__cause__ or cause.__context__
    for needle, sentence in _KNOWN_JAVA_FAILURES:
        if needle in text:
            file = re.search(r"while reading file (\S+?)\.?\s", text)
            return sentence.format(
                metastore=cfg.paths.metastore_db if cfg else "metastore_db",
                config=cfg.config_file if cfg else "the config",
                file=file.group(1) if file else "a Spark input file",
            )
    return None


def say_error(text: str) -> None:
    """One sentence on the user's stderr, also under spark-submit.

    spark-submit merges the Python driver's stderr into its own stdout (PythonRunner's
    redirectErrorStream), so there the sentence goes through the JVM's System.err instead.
    """
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        try:
            from pyspark import SparkContext
            from pyspark.java_gateway import launch_gateway

            # launch_gateway connects to spark-submit's JVM here; it starts nothing.
            gateway = SparkContext._gateway or launch_gateway()
            sys.stdout.flush()
            gateway.jvm.java.lang.System.err.println(text)
            return
        except Exception:  # no JVM to talk to: plain stderr, however it is wired
            pass
    print(text, file=sys.stderr)


def run(
    stage: str, config_path: str, body: Callable[[Settings], int | None], *, log_to_file: bool = True
) -> int:
    """Load the config, set up logging, run ``body(cfg)``; return the exit code.

    A PipelineError prints its sentence; any other failure prints one line and
    leaves its stack trace in the stage's log file.
    """
    setup_logging(stage, None)
    cfg: Settings | None = None
    log_file: Path | None = None
    try:
        cfg = load_config(config_path)
        log_file = setup_logging(stage, cfg.paths.logs if log_to_file else None)
        code = body(cfg)
        return int(code or 0)
    except PipelineError as exc:
        log.debug("failed", exc_info=True)
        say_error(f"{stage}: error: {exc}")
        return 1
    except KeyboardInterrupt:
        say_error(f"{stage}: interrupted.")
        return 130
    except Exception as exc:
        sentence = translate(exc, cfg)
        log.debug("failed: %s", traceback.format_exc())
        where = f"; the details are in {log_file}" if log_file else ""
        if sentence:
            say_error(f"{stage}: error: {sentence}")
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            say_error(f"{stage}: error: unexpected failure ({first[:300]}){where}.")
        return 1


StageBody = Callable[["SparkSession", Settings, "StageRun"], "int | None"]


class InBackground:
    """Work that needs no JVM (reading and checksumming inputs), started in a thread before the
    session is built (``before_session=job.start``) and awaited in the body with :meth:`result`,
    which raises the work's error there, inside the stage's run record."""

    def __init__(self, work: Callable[[Settings], Any]):
        self._work = work
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def start(self, cfg: Settings) -> None:
        def run_work() -> None:
            try:
                self._value = self._work(cfg)
            except BaseException as exc:
                self._error = exc
            finally:
                self._done.set()

        # A daemon: a session that fails to start does not wait for the work to finish.
        threading.Thread(target=run_work, name="flightpipe-background", daemon=True).start()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


def run_stage(
    stage: str,
    config_path: str,
    body: StageBody,
    *,
    hive: bool = True,
    app: str | None = None,
    before_session: Callable[[Settings], None] | None = None,
    session_defaults: Mapping[str, str] | None = None,
) -> int:
    """Run one pipeline stage and return its exit code.

    ``body(spark, cfg, record)`` does the stage's work and fills ``record`` (rows in, out,
    rejected, details). ``before_session`` runs checks that need no JVM (a typo fails in a
    second). With ``hive``, run records waiting in ``var/runs`` are copied into the silver
    database after the body (its own record and those of the stages before it), and before
    it too when the stage reads the run log. ``session_defaults`` are Spark settings the
    config may override.
    """

    def lifecycle(cfg: Settings) -> int:
        from flightpipe.core.session import build_session

        if before_session is not None:
            before_session(cfg)
        spark = build_session(cfg, app or stage, hive=hive, defaults=session_defaults)
        try:
            return int(recorded(spark, cfg, stage, body, hive=hive) or 0)
        finally:
            spark.stop()

    return run(stage, config_path, lifecycle)


def recorded(
    spark: SparkSession, cfg: Settings, stage: str, body: Callable[..., Any], hive: bool = True
) -> Any:
    """``body(spark, cfg, record)`` inside the stage's run record; returns what the body returns.

    With ``hive``, pending run records are copied into the silver database after the body (its
    own record, failed or not) and, for a stage that reads ``silver.pipeline_runs`` (gold),
    before it too, so it sees the earlier stages of the run. The others skip that copy: its
    two Hive appends cost a few seconds of every stage's start.
    OpenLineage events mark the record's opening (START) and its end (COMPLETE or FAIL).
    """
    from flightpipe.core import lineage, runlog, stages

    runs = runlog.runs_dir(cfg.paths.var)
    database, warehouse = cfg.catalog.silver_database, cfg.paths.warehouse
    naming = lineage.Naming(cfg.paths, database, cfg.gold, cfg.ingest)
    record = runlog.StageRun(runs, stage)
    try:
        with record:
            lineage.publish(cfg.lineage, naming, record)
            if hive and stages.reads_run_log(stage):
                runlog.sync_to_hive(spark, runs, database, warehouse)
            out = body(spark, cfg, record)
    except BaseException:
        lineage.publish(cfg.lineage, naming, record)
        # The failed run is recorded in a database that exists; a stage that failed before its
        # database was made leaves nothing in the catalog (its record waits in var/runs), and a
        # sync that fails now must not hide the first error.
        if hive:
            try:
                if spark.catalog.databaseExists(database):
                    runlog.sync_to_hive(spark, runs, database, warehouse)
            except Exception:
                log.warning("could not copy the run records into %s.pipeline_runs", database, exc_info=True)
        raise
    lineage.publish(cfg.lineage, naming, record)
    if hive:
        runlog.sync_to_hive(spark, runs, database, warehouse)
    return out


Describe = Callable[["SparkSession | None", Settings], "DryRun"]


def dry_run(
    stage: str,
    config_path: str,
    describe: Describe,
    *,
    spark: bool | Callable[[Settings], bool] = True,
    hive: bool = True,
) -> int:
    """Print what ``stage`` would do, from ``describe(spark, cfg)``; write nothing.

    No run record and no stage log file. ``spark`` says whether the plan needs a session (to
    read bronze or the metastore), or decides it from the config (URIs need Spark's JVM).
    """
    from flightpipe.core.dryrun import CHECK, dry_run_session

    def body(cfg: Settings) -> int:
        if not (spark(cfg) if callable(spark) else spark):
            plan = describe(None, cfg)
        else:
            with dry_run_session(cfg, stage, hive=hive) as session:
                plan = describe(session, cfg)
        plan.lines.insert(0, (CHECK, cfg.config_file, "valid"))
        print(plan.render(), flush=True)
        return 0

    return run(stage, config_path, body, log_to_file=False)
