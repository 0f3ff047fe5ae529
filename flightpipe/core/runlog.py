"""The run log: one record per stage run, shared run id across one pipeline run.

Every stage writes its record as a JSON file under ``var/runs/`` (streaming never opens
the metastore, so files are the common ground); stages with Hive copy the pending
records into ``silver.pipeline_runs`` with :func:`sync_to_hive`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError

log = logging.getLogger("flightpipe.runlog")

_PROCESS_RUN_ID = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def current_run_id() -> str:
    """PIPELINE_RUN_ID when a driver (make demo, nightly) shares one, else one per process."""
    return os.environ.get("PIPELINE_RUN_ID") or _PROCESS_RUN_ID


def utcnow() -> datetime:
    """Now, in UTC, without a time zone (frames.records_frame hands such values to Spark as UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class StageRun:
    """Context manager that times a stage and records its outcome."""

    runs: str  # the run-record folder, see runs_dir()
    stage: str
    run_id: str = field(default_factory=current_run_id)
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None
    status: str = "running"
    error: str | None = None
    # Data-quality results (flightpipe.contracts.quality.CheckResult), copied into dq_results.
    checks: list[Any] = field(default_factory=list)

    def __enter__(self) -> StageRun:
        self.started_at = utcnow()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.ended_at = utcnow()
        if exc is None:
            self.status = "ok"
        else:
            self.status = "failed"
            self.error = (
                str(exc) if isinstance(exc, PipelineError) else f"unexpected failure: {type(exc).__name__}"
            )
        try:
            self.write()
        except OSError:
            log.warning("could not write the run record of %s", self.stage, exc_info=True)
        return False

    @property
    def seconds(self) -> float:
        end = self.ended_at or utcnow()
        return (end - self.started_at).total_seconds()

    def record(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (the silver.pipeline_runs columns)."""
        checks = [c.record() for c in self.checks]
        data = asdict(self)
        data.pop("runs")
        data["checks"] = checks
        data["started_at"] = self.started_at.isoformat(sep=" ")
        data["ended_at"] = self.ended_at.isoformat(sep=" ") if self.ended_at else None
        data["details"] = json.dumps(self.details, sort_keys=True, default=str)
        return data

    def write(self) -> str:
        """Write the record into the runs folder (atomically)."""
        path = storage.join(self.runs, f"{self.started_at:%Y%m%dT%H%M%S%f}-{self.stage}-{self.run_id}.json")
        storage.write_json(path, self.record())
        return path


def runs_dir(var: str) -> str:
    """The folder of run records under ``paths.var``."""
    return storage.join(var, "runs")


def pending_records(runs: str) -> list[str]:
    """Record files not yet copied into the silver database's pipeline_runs."""
    return [f.path for f in storage.list_files(runs, ".json", recursive=False)]


def find_record(var: str, stage: str, run_id: str, since: float) -> dict[str, Any]:
    """The newest record of ``stage`` in run ``run_id`` written at or after ``since`` (epoch
    seconds), pending or already synced; {} when there is none or it cannot be read."""
    runs = runs_dir(str(var))
    found = []
    for folder in (runs, storage.join(runs, "synced")):
        found += [
            f
            for f in storage.list_files(folder, f"-{stage}-{run_id}.json", recursive=False)
            if f.mtime >= since - 1
        ]
    if not found:
        return {}
    return storage.read_json(max(found, key=lambda f: f.mtime).path, default={})


RUN_KEY = ["run_id", "stage", "started_at"]
RUNS_COMMENT = "One row per pipeline stage run"
DQ_COMMENT = (
    "Data-quality results, append-only: one row per stage run and check (row rule, dataset, freshness)"
)


def check_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The dq_results rows of one run record (its checks, keyed by the record's run)."""
    return [{**c, **{k: record.get(k) for k in RUN_KEY}} for c in record.get("checks") or []]


def _append(spark, rows: list[dict[str, Any]], schema, table: str, key: list[str], comment: str) -> None:
    """Append the rows not yet in ``table`` (by ``key``); create it on first use."""
    from flightpipe.core.frames import records_frame

    names = schema.fieldNames()
    df = records_frame(spark, rows, schema)
    if spark.catalog.tableExists(table):
        existing = spark.table(table).select(*key).distinct()
        df = df.join(existing, key, "left_anti")
        # One file per sync: a few rows, not one file per task.
        df.select(*names).coalesce(1).write.insertInto(table)
    else:
        df.coalesce(1).write.format("parquet").saveAsTable(table)
        spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('comment' = '{comment}')")


# Each sync appends one small file to each run-log table (about 1,800 a year at five stages a
# night), and every reader opens them all: the sync's anti-join, gold's pipeline_runs and
# data_quality marts. A read of 1,800 such files took 2-3 s against 0.4-0.5 s for one.
RUN_LOG_MAX_FILES = 64
_COMPACTING = "_compacting"  # beside the table's files; Spark's readers skip "_" names


def compact(spark, table: str, max_files: int = RUN_LOG_MAX_FILES) -> int:
    """Rewrite ``table`` (unpartitioned) as one file once it holds more than ``max_files``;
    return how many files were merged (0 when it was left as it is).

    The merged file is written aside, moved in, and only then are the files it was read from
    deleted: a crash in between leaves rows twice, never none, and the next compaction
    keeps each distinct row once.
    """
    from pyspark.sql import functions as F

    current = spark.table(table)
    files = current.inputFiles()
    if len(files) <= max_files:
        return 0
    paths = [storage.listed_path(f) for f in files]
    location = storage.parent(paths[0])
    aside = storage.join(location, _COMPACTING)
    storage.delete(aside)
    # The files listed only: one appended meanwhile is neither merged nor deleted. (Reading
    # them by name instead took 5.7 s for 1,800 files, a status call each; this 0.5 s.)
    listed = [spelling for f in files for spelling in storage.uri_spellings(f)]
    is_listed = F.col("_metadata.file_path").isin(listed)
    # The old files are only deleted when every row they hold is read into the merged one (a
    # file whose name the filter missed would otherwise be deleted unread): both counted in one pass.
    read, held = current.select(F.count_if(is_listed), F.count(F.lit(1))).first()
    if read != held:
        log.warning(
            "%s left as it is: %d of its %d rows read from the %d files listed", table, read, held, len(files)
        )
        return 0
    current.where(is_listed).distinct().coalesce(1).write.parquet(aside)
    for part in storage.list_files(aside, ".parquet", recursive=False):
        storage.rename(part.path, storage.join(location, storage.name(part.path)))
    storage.delete_files(paths)
    storage.delete(aside)
    spark.catalog.refreshTable(table)
    log.info("compacted %s: %d files into one", table, len(files))
    return len(files)


def sync_to_hive(spark, runs: str, database: str, warehouse: str, max_files: int = RUN_LOG_MAX_FILES) -> int:
    """Append pending run records to ``<database>.pipeline_runs`` and their checks to
    ``<database>.dq_results``, compacting either table past ``max_files`` files; return how
    many records."""
    from flightpipe.contracts.quality import DQ_RESULTS
    from flightpipe.contracts.silver import PIPELINE_RUNS
    from flightpipe.core.catalog import ensure_database
    from flightpipe.core.frames import side_by_side

    files = pending_records(runs)
    if not files:
        return 0
    rows = [storage.read_json(p, default=None) for p in files]
    rows = [r for r in rows if isinstance(r, dict)]
    for row in rows:
        for key in ("started_at", "ended_at"):
            row[key] = datetime.fromisoformat(row[key]) if row.get(key) else None
    ensure_database(spark, database, warehouse)
    tables = [(rows, PIPELINE_RUNS, f"{database}.pipeline_runs", RUN_KEY, RUNS_COMMENT)]
    checks = [c for r in rows for c in check_rows(r)]
    if checks:
        tables.append((checks, DQ_RESULTS, f"{database}.dq_results", [*RUN_KEY, "check_name"], DQ_COMMENT))

    def sync(rows, schema, table, key, comment) -> None:
        _append(spark, rows, schema, table, key, comment)
        compact(spark, table, max_files)

    # Both tables at once: each sync is a few short jobs and metastore calls, and the cores one
    # leaves idle run the other's (one after the other, 3.2 s of a 10M cleaning's end).
    side_by_side([partial(sync, *t) for t in tables])
    done = storage.join(runs, "synced")
    for p in files:
        storage.rename(p, storage.join(done, storage.name(p)))
    return len(rows)
