"""Dry runs: the plan a stage prints instead of running, and the session it reads with.

A dry run checks what the real run checks first (config, input files, headers, servers) and
lists what it would read, write, replace or keep, without writing anything: no run record, no
stage log file, no table, no bronze or silver file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flightpipe.core import storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from flightpipe.core.settings import Settings

# What a plan line says about its object.
READ, WRITE, REPLACE, KEEP, CHECK, NOTE = "read", "write", "replace", "keep", "check", "note"


@dataclass
class DryRun:
    """The plan of one stage: one line per object read, written, replaced or kept."""

    stage: str
    lines: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, verb: str, what: str, detail: str = "") -> DryRun:
        self.lines.append((verb, what, detail))
        return self

    def writes(self) -> list[str]:
        """The objects this run would write or replace."""
        return [what for verb, what, _ in self.lines if verb in (WRITE, REPLACE)]

    def render(self) -> str:
        """The plan as the dry run prints it."""
        out = [f"{self.stage} --dry-run (nothing was written):"]
        for verb, what, detail in self.lines:
            out.append(f"  {verb:<8} {what}" + (f": {detail}" if detail else ""))
        if not self.lines:
            out.append("  nothing to do")
        return "\n".join(out)


def needs_jvm(*paths: str) -> bool:
    """True when a path is a URI: the storage seam reaches it through a Spark session's JVM."""
    return any(storage.is_uri(p) for p in paths)


def has_hive(spark: SparkSession) -> bool:
    """True when the session talks to a Hive metastore (a dry run without one reads no tables)."""
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


def table_exists(spark: SparkSession, table: str) -> bool:
    """True when the metastore has ``table`` (False without a metastore)."""
    return has_hive(spark) and spark.catalog.tableExists(table)


@contextlib.contextmanager
def dry_run_session(cfg: Settings, stage: str, hive: bool = True) -> Iterator[SparkSession]:
    """A session for a dry run: with Hive only when the metastore already exists.

    An embedded Derby metastore that does not exist yet would be created by the first
    catalog call, so the plan then reads without one (the silver tables do not exist).
    """
    from pyspark import SparkContext

    from flightpipe.core.session import build_session

    if hive and cfg.metastore.mode == "derby" and not storage.is_dir(cfg.paths.metastore_db):
        hive = False
    # No progress bar: it would interleave with the printed plan.
    quiet = {"spark.ui.showConsoleProgress": "false"}
    ours = SparkContext._active_spark_context is None  # a caller's session is left running
    spark = build_session(cfg, f"{stage}-dry-run", hive=hive, defaults=quiet, create_dirs=False)
    try:
        yield spark
    finally:
        if ours:
            spark.stop()
