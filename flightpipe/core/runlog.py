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
from pathlib import Path
from typing import Any

from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Section

log = logging.getLogger("flightpipe.runlog")

_PROCESS_RUN_ID = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def current_run_id() -> str:
    """PIPELINE_RUN_ID when a driver (make demo, nightly) shares one, else one per process."""
    return os.environ.get("PIPELINE_RUN_ID") or _PROCESS_RUN_ID


def utcnow() -> datetime:
    """Now, in UTC, without a time zone (Spark's session time zone is UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class StageRun:
    """Context manager that times a stage and records its outcome."""

    cfg: Section
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
        data = asdict(self)
        data.pop("cfg")
        data["started_at"] = self.started_at.isoformat(sep=" ")
        data["ended_at"] = self.ended_at.isoformat(sep=" ") if self.ended_at else None
        data["details"] = json.dumps(self.details, sort_keys=True, default=str)
        return data

    def write(self) -> Path:
        """Write the record to var/runs/ (atomically: temp file, then rename)."""
        folder = Path(self.cfg.paths.var) / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.started_at:%Y%m%dT%H%M%S%f}-{self.stage}-{self.run_id}.json"
        tmp = folder / f".{name}.tmp"
        tmp.write_text(json.dumps(self.record(), indent=1), encoding="utf-8")
        final = folder / name
        tmp.replace(final)
        return final


def pending_records(cfg: Section) -> list[Path]:
    """Record files not yet copied into silver.pipeline_runs."""
    folder = Path(cfg.paths.var) / "runs"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def find_record(var: str | Path, stage: str, run_id: str, since: float) -> dict[str, Any]:
    """The newest record of ``stage`` in run ``run_id`` written at or after ``since`` (epoch
    seconds), pending or already synced; {} when there is none or it cannot be read."""
    found = []
    for folder in (Path(var) / "runs", Path(var) / "runs" / "synced"):
        if folder.is_dir():
            found += [p for p in folder.glob(f"*-{stage}-{run_id}.json") if p.stat().st_mtime >= since - 1]
    if not found:
        return {}
    try:
        return json.loads(max(found, key=lambda p: p.stat().st_mtime).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def sync_to_hive(spark, cfg: Section, database: str = "silver") -> int:
    """Append pending run records to ``<database>.pipeline_runs``; return how many."""
    from flightpipe.contracts.silver import PIPELINE_RUNS
    from flightpipe.core.catalog import ensure_database

    files = pending_records(cfg)
    if not files:
        return 0
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    for row in rows:
        for key in ("started_at", "ended_at"):
            row[key] = datetime.fromisoformat(row[key]) if row[key] else None
    names = PIPELINE_RUNS.fieldNames()
    df = spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], PIPELINE_RUNS)
    table = f"{database}.pipeline_runs"
    if spark.catalog.tableExists(table):
        existing = spark.table(table).select("run_id", "stage", "started_at")
        df = df.join(existing, ["run_id", "stage", "started_at"], "left_anti")
        df.select(*names).write.insertInto(table)
    else:
        ensure_database(spark, cfg, database)
        df.write.format("parquet").saveAsTable(table)
        spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('comment' = 'One row per pipeline stage run')")
    done = Path(cfg.paths.var) / "runs" / "synced"
    done.mkdir(parents=True, exist_ok=True)
    for p in files:
        p.replace(done / p.name)
    return len(rows)
