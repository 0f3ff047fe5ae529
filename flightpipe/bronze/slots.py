"""Bronze storage: atomic replacement of one table slot, rejected lines, the manifest.

A slot is one source format of one table (``bronze/<table>/source_format=<fmt>``). A slot
is written to a staging folder and swapped in with renames, so a reader sees the old
complete slot or the new complete one; a failed write leaves the old slot as it was.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from flightpipe.bronze.rejects import csv_reject_reason
from flightpipe.contracts import sources as S
from flightpipe.core import storage

REJECTED = "_rejected"
MANIFEST = "_manifest.json"


def slot_path(bronze: str, table: str, fmt: str) -> str:
    """Folder of one source format of a bronze table."""
    return storage.join(bronze, table, f"source_format={fmt}")


def rejected_path(bronze: str, table: str, fmt: str) -> str:
    """Folder of the rejected lines of one slot."""
    return storage.join(bronze, REJECTED, f"table={table}", f"source_format={fmt}")


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
    reason = csv_reject_reason(F.col(S.CORRUPT_COLUMN), expected_fields)
    return df.select(F.col(S.CORRUPT_COLUMN).alias("line"), reason.alias("reason"), "*")


class SlotWriter:
    """Stage slots of one ingest batch, then swap them all in (or throw them all away)."""

    def __init__(self, spark: SparkSession, bronze: str, batch_id: str):
        self.spark = spark
        self.bronze = str(bronze)
        self.batch_id = batch_id
        self.staging = storage.join(self.bronze, ".staging", batch_id)
        self._staged: list[tuple[str, str | None]] = []
        # Slots are staged from several threads at once (landing.land_slots).
        self._lock = threading.Lock()

    def _relative(self, target: str) -> str:
        return target[len(self.bronze) :].strip("/")

    def stage(self, df: DataFrame, target: str, files: int = 0) -> tuple[int, str]:
        """Write ``df`` under staging for ``target`` (in ``files`` files, 0 = one per input split)."""
        staged = storage.join(self.staging, self._relative(target))
        # Counted while written: no second job over the staged files.
        written = Observation(f"staged {self._relative(target)}")
        df = df.observe(written, F.count(F.lit(1)).alias("rows"))
        (df.coalesce(files) if files else df).write.mode("overwrite").parquet(staged)
        rows = int(written.get["rows"])
        with self._lock:
            self._staged.append((target, staged))
        return rows, staged

    def stage_files(self, target: str, write: Callable[[str], int]) -> int:
        """Stage ``target`` from files ``write`` puts in the folder it is given; its rows.

        A failed ``write`` leaves nothing staged for ``target``.
        """
        staged = storage.join(self.staging, self._relative(target))
        storage.delete(staged)
        try:
            rows = write(staged)
        except BaseException:
            storage.delete(staged)
            raise
        with self._lock:
            self._staged.append((target, staged))
        return rows

    def stage_removal(self, target: str) -> None:
        """Mark ``target`` to be removed at commit (a slot with nothing to hold)."""
        with self._lock:
            self._staged = [(t, s) for t, s in self._staged if t != target]
            self._staged.append((target, None))

    def commit(self) -> None:
        """Swap every staged slot in; each swap is two renames on one file system."""
        trash = storage.join(self.bronze, ".trash", self.batch_id)
        for target, staged in self._staged:
            if storage.exists(target):
                storage.rename(target, storage.join(trash, self._relative(target)))
            if staged is not None:
                storage.rename(staged, target)
        storage.delete(trash)
        for target, staged in self._staged:
            # Drop folders a removal left empty (table=... of _rejected).
            folder = storage.parent(target)
            if staged is None and storage.is_dir(folder) and storage.is_empty(folder):
                storage.delete(folder)
        self.discard()

    def discard(self) -> None:
        """Drop whatever was staged and not committed."""
        storage.delete(self.staging)
        folder = storage.parent(self.staging)
        if storage.is_dir(folder) and storage.is_empty(folder):
            storage.delete(folder)


def new_batch_id(prefix: str) -> str:
    """A batch id: the stage, the UTC time and a short random suffix."""
    from datetime import datetime, timezone

    return f"{prefix}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def read_manifest(bronze: str) -> dict:
    """The manifest: for each slot, the files (and checksums) it was built from."""
    # A damaged manifest only costs a rebuild of every slot.
    manifest = storage.read_json(storage.join(bronze, MANIFEST), default={})
    return manifest if isinstance(manifest, dict) else {}


def write_manifest(bronze: str, manifest: dict) -> None:
    """Write the manifest atomically."""
    storage.write_json(storage.join(bronze, MANIFEST), manifest)
