"""Structured Streaming of new flight CSV files from the landing folder into bronze.

Two queries read the landing folder with the same explicit schema:

* ``flights`` keeps the lines that parse and writes them with Spark's parquet file sink to
  ``bronze/flights`` (partitioned by ``flight_date``). The sink's ``_spark_metadata`` log and
  the checkpoint make it exactly-once: a micro-batch cut short by a crash is run again on
  restart, and readers of ``bronze/flights`` only see files of committed micro-batches.
* ``flights_rejected`` keeps the lines that do not parse and writes them, with a reason, to
  ``bronze/_rejected/table=flights/source_format=<fmt>``, one file per micro-batch named after
  the micro-batch id. A re-run of a micro-batch finds its file and writes nothing, so this
  query is exactly-once too, and the folder holds no leftovers a reader could count twice.

Each query has its own checkpoint, so each catches up on its own after a crash. Nothing here
opens the Hive metastore: bronze is written by path.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from flightpipe.bronze import slots as bronze
from flightpipe.bronze.feed import (
    REJECTED_QUERY,
    TABLE,
    FeedFormat,
    StreamPaths,
    bronze_rows,
    feed_format,
    filter_malformed,
    filter_rejected,
    read_feed,
    with_batch_counts,
)
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.runlog import StageRun
from flightpipe.core.sections import Streaming
from flightpipe.core.settings import Settings

log = logging.getLogger("flightpipe.streaming")


def check_state(paths: StreamPaths) -> None:
    """Refuse to start when the checkpoint and the sink's log disagree.

    A file sink skips micro-batch ids its ``_spark_metadata`` already holds, so a fresh
    checkpoint over an old sink would silently drop data, and an old checkpoint over an
    emptied sink would never read the files again.
    """
    log_dir = storage.join(paths.sink, "_spark_metadata")
    has_log = storage.is_dir(log_dir) and not storage.is_empty(log_dir)
    commits = storage.join(paths.checkpoint, "commits")
    has_commits = any(
        f.path.rsplit("/", 1)[-1].isdigit() for f in storage.list_files(commits, recursive=False)
    )
    if has_log and not has_commits:
        raise PipelineError(
            f"{paths.sink} was written by a streaming query whose checkpoint {paths.checkpoint} "
            "is missing; restore the checkpoint, or delete both folders (and bronze/_rejected/"
            "table=flights, checkpoints/flights_rejected) to ingest the landing folder again."
        )
    if has_commits and not has_log:
        raise PipelineError(
            f"the checkpoint {paths.checkpoint} records files already ingested but {paths.sink} "
            "has no _spark_metadata log; delete the checkpoint folders flights and "
            "flights_rejected to ingest the landing folder again."
        )


@dataclass
class RejectedWriter:
    """foreachBatch body of the rejected query: one parquet file per micro-batch, idempotent."""

    folder: str
    rows: int = 0
    files: int = 0

    def target(self, batch_id: int) -> str:
        return storage.join(self.folder, f"part-batch-{batch_id:08d}.parquet")

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        target = self.target(batch_id)
        if storage.exists(target):
            # Written before a crash, but the micro-batch was not marked done: nothing to redo.
            return
        # An underscore folder is invisible to readers of bronze/_rejected.
        staging = storage.join(self.folder, f"_staging-batch-{batch_id:08d}")
        # repartition, not coalesce: coalesce(1) would parse the whole micro-batch in one task.
        df.repartition(1).write.mode("overwrite").parquet(staging)
        rows = df.sparkSession.read.parquet(staging).count()
        if rows:
            part = storage.list_files(staging, ".parquet", recursive=False)[0].path
            # One file, one rename: the micro-batch's rejected lines appear all at once.
            storage.rename(part, target)
            self.rows += rows
            self.files += 1
        storage.delete(staging)


@dataclass
class StreamTotals:
    """What the run did, from the progress reports of the bronze query."""

    batches: int = 0
    files: int = 0
    rows_in: int = 0
    rejected: int = 0
    seconds: float = 0.0
    logged: set[tuple[str, int]] = field(default_factory=set)

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.rejected

    def add(self, query: StreamingQuery) -> None:
        """Log one line per new micro-batch with data; skip the idle progress reports."""
        for progress in query.recentProgress:
            counts = progress.observedMetrics.get("batch_counts")
            # Idle reports carry the id of the next micro-batch: only count reports with data.
            if not progress.numInputRows or counts is None:
                continue
            key = (progress.runId, progress.batchId)
            if key in self.logged:
                continue
            self.logged.add(key)
            seconds = progress.durationMs.get("triggerExecution", 0) / 1000
            self.batches += 1
            self.files += counts["files"]
            self.rows_in += counts["rows"]
            self.rejected += counts["rejected"]
            self.seconds += seconds
            log.info(
                "batch %d: %d files, %s rows, %s rows/s, %d rejected",
                progress.batchId,
                counts["files"],
                f"{counts['rows']:,}",
                f"{counts['rows'] / seconds:,.0f}" if seconds else "-",
                counts["rejected"],
            )


@dataclass
class StreamOptions:
    """How the queries are triggered."""

    available_now: bool
    trigger_seconds: float
    max_files_per_trigger: int


def start_queries(
    spark: SparkSession,
    paths: StreamPaths,
    fmt: FeedFormat,
    streaming: Streaming,
    options: StreamOptions,
    batch_id: str,
    rejected: RejectedWriter,
) -> list[StreamingQuery]:
    """Start the bronze query and the rejected-lines query."""
    max_files = streaming.available_now_max_files if options.available_now else options.max_files_per_trigger

    def source() -> DataFrame:
        return read_feed(spark, paths.landing, fmt, max_files, streaming.max_file_age).transform(
            bronze_rows, fmt, batch_id
        )

    def triggered(writer):
        if options.available_now:
            return writer.trigger(availableNow=True)
        return writer.trigger(processingTime=f"{options.trigger_seconds} seconds")

    good = (
        source()
        .transform(with_batch_counts)
        .transform(filter_malformed)
        .writeStream.queryName(TABLE)
        .format("parquet")
        .option("path", paths.sink)
        .option("checkpointLocation", paths.checkpoint)
        .partitionBy("flight_date")
        .outputMode("append")
    )
    bad = (
        source()
        .transform(filter_rejected, fmt)
        .writeStream.queryName(REJECTED_QUERY)
        .foreachBatch(rejected)
        .option("checkpointLocation", paths.rejected_checkpoint)
    )
    return [triggered(good).start(), triggered(bad).start()]


class StopSignal:
    """SIGINT/SIGTERM ask the queries to stop once their current micro-batch is done."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        if not self.event.is_set():
            log.info("%s received: stopping after the current micro-batch", signal.Signals(signum).name)
        self.event.set()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _last_batch(query: StreamingQuery) -> tuple[str, int, str] | None:
    progress = query.lastProgress
    return (progress.runId, progress.batchId, progress.timestamp) if progress else None


def watch(
    queries: list[StreamingQuery], totals: StreamTotals, stop: threading.Event, poll: float = 0.25
) -> None:
    """Log progress until every query has ended; on a stop request end each after its micro-batch."""
    bronze_query = queries[0]
    # Per query, the last progress report seen when the stop was asked for.
    stop_marks: dict[str, tuple[bool, tuple | None]] = {}
    while True:
        totals.add(bronze_query)
        active = [q for q in queries if q.isActive]
        if not active:
            break
        if stop.is_set():
            for q in active:
                if q.id not in stop_marks:
                    stop_marks[q.id] = (q.status["isTriggerActive"], _last_batch(q))
                was_busy, mark = stop_marks[q.id]
                # Stop once the micro-batch running at the signal has reported (it is then
                # committed). A trigger that starts in between is interrupted; it is in the
                # offset log, so the next run does it again, exactly once.
                if not was_busy or _last_batch(q) != mark or not q.status["isTriggerActive"]:
                    q.stop()
        time.sleep(0.05 if stop.is_set() else poll)
    totals.add(bronze_query)
    for q in queries:
        exc = q.exception()
        if exc is not None:
            first = (str(exc).strip().splitlines() or ["unknown error"])[0]
            raise PipelineError(
                f"the streaming query '{q.name}' failed ({first[:300]}); the checkpoint is intact, "
                "fix the cause and run streaming.py again to resume."
            )


def run_streaming(
    spark: SparkSession,
    cfg: Settings,
    run: StageRun,
    options: StreamOptions,
    on_started: Callable[[list[StreamingQuery]], None] | None = None,
) -> StreamTotals:
    """Stream the landing folder into bronze until it is drained (available-now) or stopped."""
    fmt = feed_format(cfg.streaming.format, cfg.config_file)
    paths = StreamPaths.of(cfg.paths, fmt)
    check_state(paths)
    for folder in (paths.landing, paths.rejected):
        storage.makedirs(folder)
    batch_id = bronze.new_batch_id("streaming")
    totals = StreamTotals()
    rejected = RejectedWriter(paths.rejected)
    started = time.monotonic()
    with StopSignal() as stop:
        if options.available_now:
            log.info("reading every %s file in %s, then stopping", fmt.name, paths.landing)
        else:
            log.info(
                "watching %s for %s files every %s s (at most %d files per micro-batch); "
                "Ctrl-C or SIGTERM stops after the current micro-batch",
                paths.landing,
                fmt.name,
                f"{options.trigger_seconds:g}",
                options.max_files_per_trigger,
            )
        queries = start_queries(spark, paths, fmt, cfg.streaming, options, batch_id, rejected)
        if on_started:
            on_started(queries)
        try:
            watch(queries, totals, stop.event)
        finally:
            for q in queries:
                if q.isActive:
                    q.stop()
        run.rows_in, run.rows_out, run.rows_rejected = totals.rows_in, totals.rows_out, rejected.rows
        run.details = {
            "format": fmt.name,
            "files": totals.files,
            "micro_batches": totals.batches,
            "rejected_in_bronze_query": totals.rejected,
            "sink": paths.sink,
            "rejected_folder": paths.rejected,
            "batch_id": batch_id,
        }
    wall = time.monotonic() - started
    log.info(
        "%d files, %s rows in, %s to %s, %s rejected to %s; %d micro-batches in %.1f s (%s rows/s)",
        totals.files,
        f"{totals.rows_in:,}",
        f"{totals.rows_out:,}",
        paths.sink,
        f"{rejected.rows:,}",
        paths.rejected,
        totals.batches,
        wall,
        f"{totals.rows_in / wall:,.0f}" if wall else "-",
    )
    return totals
