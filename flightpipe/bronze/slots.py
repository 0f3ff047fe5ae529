"""Bronze storage: atomic replacement of one table slot, rejected lines, the manifest.

A slot is one source format of one table (``bronze/<table>/source_format=<fmt>``). A slot
is written to a staging folder and swapped in with renames, so a reader sees the old
complete slot or the new complete one; a failed write leaves the old slot as it was.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts import sources as S

REJECTED = "_rejected"
MANIFEST = "_manifest.json"


def slot_path(bronze: str, table: str, fmt: str) -> Path:
    """Folder of one source format of a bronze table."""
    return Path(bronze) / table / f"source_format={fmt}"


def rejected_path(bronze: str, table: str, fmt: str) -> Path:
    """Folder of the rejected lines of one slot."""
    return Path(bronze) / REJECTED / f"table={table}" / f"source_format={fmt}"


def with_lineage(df: DataFrame, source_file: str | F.Column, ingested_at, batch_id: str) -> DataFrame:
    """Add ``_source_file``, ``_ingested_at`` and ``_batch_id``."""
    src = F.lit(source_file) if isinstance(source_file, str) else source_file
    return df.select(
        "*",
        src.alias("_source_file"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
    )


def with_reject_reason(df: DataFrame, expected_fields: int) -> DataFrame:
    """Rejected lines: the raw line and why it did not parse."""
    # Split on commas outside double quotes to count fields the way a CSV parser would.
    fields = F.size(F.split(F.col(S.CORRUPT_COLUMN), r',(?=(?:[^"]*"[^"]*")*[^"]*$)'))
    quotes = F.length(F.col(S.CORRUPT_COLUMN)) - F.length(F.regexp_replace(S.CORRUPT_COLUMN, '"', ""))
    reason = (
        F.when(quotes % 2 == 1, F.lit("unbalanced double quote"))
        .when(
            fields != expected_fields,
            F.format_string(f"has %d fields, expected {expected_fields}", fields),
        )
        .otherwise(F.lit("a value does not match its column type"))
    )
    return df.select(F.col(S.CORRUPT_COLUMN).alias("line"), reason.alias("reason"), "*")


class SlotWriter:
    """Stage slots of one ingest batch, then swap them all in (or throw them all away)."""

    def __init__(self, spark: SparkSession, bronze: str, batch_id: str):
        self.spark = spark
        self.bronze = Path(bronze)
        self.batch_id = batch_id
        self.staging = self.bronze / ".staging" / batch_id
        self._staged: list[tuple[Path, Path | None]] = []

    def stage(self, df: DataFrame, target: Path, files: int = 0) -> tuple[int, Path]:
        """Write ``df`` under staging for ``target`` (in ``files`` files, 0 = one per input split)."""
        staged = self.staging / target.relative_to(self.bronze)
        (df.coalesce(files) if files else df).write.mode("overwrite").parquet(str(staged))
        rows = self.spark.read.parquet(str(staged)).count()
        self._staged.append((target, staged))
        return rows, staged

    def stage_removal(self, target: Path) -> None:
        """Mark ``target`` to be removed at commit (a slot with nothing to hold)."""
        self._staged = [(t, s) for t, s in self._staged if t != target]
        self._staged.append((target, None))

    def commit(self) -> None:
        """Swap every staged slot in; each swap is two renames on one file system."""
        trash = self.bronze / ".trash" / self.batch_id
        for target, staged in self._staged:
            old = trash / target.relative_to(self.bronze)
            if target.exists():
                old.parent.mkdir(parents=True, exist_ok=True)
                target.rename(old)
            if staged is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.rename(target)
        shutil.rmtree(trash, ignore_errors=True)
        for target, staged in self._staged:
            # Drop folders a removal left empty (table=... of _rejected).
            parent = target.parent
            if staged is None and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        self.discard()

    def discard(self) -> None:
        """Drop whatever was staged and not committed."""
        shutil.rmtree(self.staging, ignore_errors=True)
        parent = self.staging.parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def new_batch_id(prefix: str) -> str:
    """A batch id: the stage, the UTC time and a short random suffix."""
    from datetime import datetime, timezone

    return f"{prefix}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def read_manifest(bronze: str) -> dict:
    """The manifest: for each slot, the files (and checksums) it was built from."""
    path = Path(bronze) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        # A damaged manifest only costs a rebuild of every slot.
        return {}


def write_manifest(bronze: str, manifest: dict) -> None:
    """Write the manifest atomically."""
    path = Path(bronze) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
