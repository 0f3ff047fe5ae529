"""Landing slots in bronze: parse, split good rows from rejected lines, stage, count.

Clean input is parsed once: rejected lines are counted while the good rows are written, and
parsed again only when there are some.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from flightpipe.bronze import arrow_csv
from flightpipe.bronze import slots as bronze
from flightpipe.bronze.drift import RESCUED
from flightpipe.bronze.sources import path_lookup
from flightpipe.contracts import sources as S
from flightpipe.core import storage

if TYPE_CHECKING:
    from flightpipe.bronze.ingest import Slot

log = logging.getLogger("flightpipe.ingest")


@dataclass
class SlotResult:
    """What one slot got: rows landed, lines rejected, seconds, skipped or not (a landed
    slot's fields of :class:`Landed` under the same names)."""

    table: str
    fmt: str
    files: int
    rows: int
    rejected: int
    seconds: float
    skipped: bool = False
    batch_id: str = ""
    reasons: dict[str, int] = field(default_factory=dict)
    reader: str = ""  # "arrow" or "spark"; "" when skipped
    why_spark: str = ""  # why Spark read files Arrow may land


@dataclass
class Landed:
    """What landing one slot staged: rows, rejected lines and their reasons, and who read it."""

    rows: int
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    reader: str = "spark"
    why_spark: str = ""


def is_unchanged(slot: Slot, manifest: dict, bronze_path: str) -> bool:
    """True when the slot's files (by checksum) are those of the last run and its folder is there."""
    known = manifest.get(slot.key)
    target = bronze.slot_path(bronze_path, slot.table, slot.fmt)
    return bool(known) and known["files"] == slot.fingerprint() and storage.is_dir(target)


def split_parsed(df: DataFrame, slot: Slot, ingested_at, batch_id: str) -> tuple[DataFrame, DataFrame]:
    """Good rows (with lineage) and rejected lines (with reasons) of one parsed slot."""
    source_file = path_lookup("_read_path", slot.sources, uris=df.inputFiles())
    if S.CORRUPT_COLUMN in df.columns:
        good = df.filter(F.col(S.CORRUPT_COLUMN).isNull()).drop(S.CORRUPT_COLUMN)
        bad = (
            df.filter(F.col(S.CORRUPT_COLUMN).isNotNull())
            .transform(lambda d: bronze.with_reject_reason(d, slot.expected_fields))
            .select(source_file.alias("source_file"), "line", "reason")
            .transform(lambda d: bronze.with_lineage(d, "", ingested_at, batch_id))
            .drop("_source_file")
        )
    else:
        good, bad = df, None
    good = good.transform(lambda d: bronze.with_lineage(d, source_file, ingested_at, batch_id)).drop(
        "_read_path"
    )
    return good, bad


def arrow_may_land(slot: Slot, bronze_path: str) -> bool:
    """True when Arrow may land the slot: flight files of a layout it reads, no drifting file,
    a local bronze (the files themselves are read where they are)."""
    if slot.layout is None or slot.drift or storage.is_uri(bronze_path):
        return False
    return arrow_csv.reads_types(slot.layout.types.values())


def land_with_arrow(
    writer: bronze.SlotWriter, slot: Slot, target: str, ingested_at, stop: threading.Event | None = None
) -> tuple[int | None, str]:
    """Stage the slot's rows landed by Arrow: their count, or None (nothing staged) and why
    Spark must land it."""
    assert slot.layout is not None
    null_columns = [RESCUED] if slot.drift_policy == "rescue" else []
    try:
        schema = arrow_csv.read_schema(slot.sources, slot.layout.header_schema)
        rows = writer.stage_files(
            target,
            lambda staged: arrow_csv.land_files(
                slot.sources,
                schema,
                slot.layout.null_value,
                staged,
                ingested_at,
                writer.batch_id,
                null_columns,
                stop=stop,
            ),
        )
    except arrow_csv.ArrowMismatchError as why:
        log.info("%s: landed by Spark, not Arrow (%s)", slot.key, why)
        return None, str(why)
    return rows, ""


def land_slot(
    spark: SparkSession,
    writer: bronze.SlotWriter,
    slot: Slot,
    bronze_path: str,
    ingested_at,
    arrow: bool = False,
    stop: threading.Event | None = None,
) -> Landed:
    """Stage one slot's good rows and rejected lines; return what was landed.

    With ``arrow``, flight files Arrow reads as Spark does are landed by Arrow (no line of
    theirs is rejected: a line Spark would reject sends the slot to Spark); ``stop`` set by
    another slot's failure ends Arrow's landing early.
    """
    target = bronze.slot_path(bronze_path, slot.table, slot.fmt)
    reject_target = bronze.rejected_path(bronze_path, slot.table, slot.fmt)
    why_spark = ""
    if arrow and arrow_may_land(slot, bronze_path):
        rows, why_spark = land_with_arrow(writer, slot, target, ingested_at, stop)
        if rows is not None:
            writer.stage_removal(reject_target)
            return Landed(rows, reader="arrow")
    parsed = slot.reader(spark, slot.sources)
    # Rejected lines are counted while the good rows are written, so clean input is parsed
    # once; only input with bad lines is parsed a second time, to pick those lines out.
    is_bad = F.col(S.CORRUPT_COLUMN).isNotNull() if S.CORRUPT_COLUMN in parsed.columns else F.lit(False)
    seen = Observation(f"parsed {slot.key}")
    observed = parsed.observe(seen, F.sum(is_bad.cast("long")).alias("bad"))
    good, _ = split_parsed(observed, slot, ingested_at, writer.batch_id)
    rows, _ = writer.stage(good, target, 1 if slot.small else 0)
    if not seen.get["bad"]:
        writer.stage_removal(reject_target)
        return Landed(rows, why_spark=why_spark)
    # Caching the filtered parse keeps every column in the scan: Spark refuses a raw CSV
    # query that reads the corrupt-record column alone.
    bad_lines = slot.reader(spark, slot.sources).filter(is_bad).persist()
    try:
        _, bad = split_parsed(bad_lines, slot, ingested_at, writer.batch_id)
        rejected, staged = writer.stage(bad, reject_target, 1)
    finally:
        bad_lines.unpersist()
    counts = spark.read.parquet(staged).groupBy("reason").count().collect()
    return Landed(rows, rejected, {r["reason"]: r["count"] for r in counts}, why_spark=why_spark)


def land_slots(
    spark: SparkSession,
    writer: bronze.SlotWriter,
    slots: list[Slot],
    manifest: dict,
    bronze_path: str,
    ingested_at,
    force: bool,
    arrow: bool = False,
) -> list[SlotResult]:
    """Stage every slot that changed (all with ``force``), side by side in threads; one result
    per slot, in order. ``arrow``: see :func:`land_slot`."""

    stop = threading.Event()

    def land(slot: Slot) -> SlotResult:
        started = time.monotonic()
        known = manifest.get(slot.key)
        if not force and is_unchanged(slot, manifest, bronze_path):
            return SlotResult(
                slot.table,
                slot.fmt,
                len(slot.sources),
                known["rows"],
                known["rejected"],
                time.monotonic() - started,
                skipped=True,
                batch_id=known["batch_id"],
            )
        landed = land_slot(spark, writer, slot, bronze_path, ingested_at, arrow, stop)
        return SlotResult(
            slot.table,
            slot.fmt,
            len(slot.sources),
            seconds=time.monotonic() - started,
            batch_id=writer.batch_id,
            **asdict(landed),
        )

    # Every slot side by side, the flight files first: the other slots are planned once the
    # flights' job runs (planned together, all six slots' planning on a cold JVM delayed it
    # by seconds), so their planning and commits run on the driver while the flights' tasks
    # hold the cores, and their few tasks fill the flights' last wave (one after the other,
    # they added 12 s to a 10M-row ingest).
    # Slots Arrow lands hold no core of Spark's: the others need not wait for them.
    first = [
        s
        for s in slots
        if not (s.small or s.table == "weather" or (arrow and arrow_may_land(s, bronze_path)))
    ]
    rest = [s for s in slots if s not in first]
    with ThreadPoolExecutor(max_workers=min(len(slots), 6) or 1) as pool:
        landing = {id(s): pool.submit(land, s) for s in first}
        wait_for_a_job(spark, list(landing.values()))
        landing.update({id(s): pool.submit(land, s) for s in rest})
        try:
            for future in as_completed(landing.values()):
                future.result()
        except BaseException:
            # The first failure stops the other slots' jobs and Arrow's pieces: its sentence
            # is not held back until the flight files are written.
            stop.set()
            spark.sparkContext.cancelAllJobs()
            raise
    return [landing[id(s)].result() for s in slots]


def wait_for_a_job(spark: SparkSession, futures: list[Future], timeout: float = 60.0) -> None:
    """Return once Spark runs a job or every future is done (or after ``timeout`` seconds)."""
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + timeout
    while futures and time.monotonic() < deadline:
        if tracker.getActiveJobsIds() or all(f.done() for f in futures):
            return
        time.sleep(0.05)


def log_summary(results: list[SlotResult], bronze_path: str) -> None:
    """One line per slot, then the totals."""
    log.info(
        "%-14s %-13s %5s %10s %9s %8s %-6s %s",
        "table",
        "format",
        "files",
        "rows",
        "rejected",
        "seconds",
        "reader",
        "",
    )
    for r in results:
        note = "unchanged, kept" if r.skipped else ""
        if r.reasons:
            note = "; ".join(f"{n} {reason}" for reason, n in sorted(r.reasons.items()))
        log.info(
            "%-14s %-13s %5d %10d %9d %8.1f %-6s %s",
            r.table,
            r.fmt,
            r.files,
            r.rows,
            r.rejected,
            r.seconds,
            r.reader or "-",
            note,
        )
    landed = sum(r.rows for r in results if not r.skipped)
    rejected = sum(r.rejected for r in results if not r.skipped)
    log.info("landed %d rows (%d rejected) in %s", landed, rejected, bronze_path)
