"""Data-quality results: one row per stage run and check, kept across runs.

A stage puts its :class:`CheckResult` values on its run record (``StageRun.checks``); the
record's JSON carries them into ``silver.dq_results`` with the record itself (so a failed run,
or the streaming stage that never opens the metastore, keeps its results too). Gold mirrors the
table into MariaDB as ``data_quality``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from flightpipe.core.frames import struct

# What was checked: a row rule of silver.quality, a check over a whole dataset, or the age of a source.
ROW_RULE, DATASET, FRESHNESS = "row_rule", "dataset", "freshness"
KINDS = (ROW_RULE, DATASET, FRESHNESS)
# pass: nothing broke it; warn: broken, rows kept (or a source past warn_after); dropped: the
# breaking rows went to quarantine; failed: the run stopped (or a source past error_after).
PASS, WARN, DROPPED, FAILED = "pass", "warn", "dropped", "failed"
STATUSES = (PASS, WARN, DROPPED, FAILED)
# Failing keys kept per check.
SAMPLE_KEYS = 5

SAMPLE_KEY = struct(
    ("flight_date", StringType()),  # yyyy-MM-dd, local at the origin
    ("carrier", StringType()),
    ("flight_number", IntegerType()),
    ("origin", StringType()),
    ("source_file", StringType()),
)

# Column order is the table's; checked_at is the record's started_at (one key with pipeline_runs).
DQ_RESULTS = struct(
    ("run_id", StringType()),
    ("stage", StringType()),
    ("started_at", TimestampType()),
    ("check_name", StringType()),
    ("kind", StringType()),
    ("dataset", StringType()),
    ("action", StringType()),
    ("rows_checked", LongType()),
    ("rows_failing", LongType()),
    ("failing_pct", DoubleType()),
    ("status", StringType()),
    ("observed", StringType()),
    ("message", StringType()),
    ("sample_keys", ArrayType(SAMPLE_KEY)),
)

DQ_COMMENTS = {
    "run_id": "pipeline run id, shared by the stages of one run (join to pipeline_runs)",
    "stage": "stage that ran the check",
    "started_at": "start of that stage run, UTC (join to pipeline_runs)",
    "check_name": "rule or check name",
    "kind": "row_rule, dataset or freshness",
    "dataset": "table or source checked",
    "action": "configured action: warn, drop or fail",
    "rows_checked": "rows the check looked at",
    "rows_failing": "rows that broke it",
    "failing_pct": "rows_failing / rows_checked * 100",
    "status": "pass, warn, dropped or failed",
    "observed": "the value measured (a share, a newest date, an age) as text",
    "message": "one sentence on what was found",
    "sample_keys": "up to 5 failing rows: flight date, carrier, flight number, origin, source file",
}

# The comments travel in the fields' metadata into the Hive table (DESCRIBE shows them).
DQ_RESULTS = StructType(
    [StructField(f.name, f.dataType, True, {"comment": DQ_COMMENTS[f.name]}) for f in DQ_RESULTS]
)


@dataclass
class CheckResult:
    """The outcome of one check in one stage run."""

    check_name: str
    kind: str
    dataset: str
    action: str
    rows_checked: int
    rows_failing: int
    status: str
    observed: str = ""
    message: str = ""
    sample_keys: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failing_pct(self) -> float | None:
        if not self.rows_checked:
            return None
        return round(100.0 * self.rows_failing / self.rows_checked, 4)

    def record(self) -> dict[str, Any]:
        """The JSON-ready form kept on the run record."""
        data = asdict(self)
        data["failing_pct"] = self.failing_pct
        data["sample_keys"] = [dict(k) for k in self.sample_keys[:SAMPLE_KEYS]]
        return data


def status_of(action: str, rows_failing: int) -> str:
    """The status of a check whose failing rows met ``action`` (warn | drop | fail)."""
    if not rows_failing:
        return PASS
    return {"warn": WARN, "drop": DROPPED, "fail": FAILED}[action]


def failed_dataset_check(results) -> CheckResult | None:
    """The first dataset check that failed with action fail (the one that stops a stage), or None."""
    return next((r for r in results if r.kind == DATASET and r.status == FAILED), None)
