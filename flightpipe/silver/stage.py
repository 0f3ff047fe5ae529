"""The cleaning stage: the config unpacked into a job, a normal run or a backfill, the run record."""

from __future__ import annotations

from pyspark.sql import SparkSession

from flightpipe.core.dates import DateRange
from flightpipe.core.errors import PipelineError
from flightpipe.core.runlog import StageRun
from flightpipe.core.settings import Settings
from flightpipe.silver.backfill import run_backfill
from flightpipe.silver.cleaning import CleaningJob, run_cleaning
from flightpipe.silver.plan import state_path
from flightpipe.silver.summary import CleaningResult, log_checks, log_summary


def job_of(cfg: Settings) -> CleaningJob:
    """The values of the config a cleaning run needs."""
    return CleaningJob(
        bronze=cfg.paths.bronze,
        warehouse=cfg.paths.warehouse,
        database=cfg.catalog.silver_database,
        state_file=state_path(cfg.paths.var),
        cleaning=cfg.cleaning,
        min_partitions=cfg.spark.shuffle_partitions,
        config_file=cfg.config_file,
        quality=cfg.quality,
    )


def clean(
    spark: SparkSession,
    cfg: Settings,
    record: StageRun,
    full_refresh: bool = False,
    date_range: DateRange | None = None,
) -> CleaningResult:
    """The cleaning stage: bronze -> silver (the months of ``date_range`` only, when given),
    the summary, the counts in the run record."""
    job = job_of(cfg)
    if date_range is None:
        result = run_cleaning(spark, job, full_refresh=full_refresh, sink=record.checks)
    else:
        result = run_backfill(spark, job, date_range, sink=record.checks)
    record.rows_in = result.bronze_rows
    record.rows_out = result.silver_rows
    record.rows_rejected = result.quarantined
    record.details = result.details()
    if date_range is not None:
        record.details["range"] = date_range.details()
    log_summary(result, job.database)
    log_checks(record.checks)
    if result.mode != "unchanged" and not result.balanced:
        raise PipelineError(
            f"cleaning lost rows: bronze {result.bronze_rows} != silver {result.silver_rows} + "
            f"quarantined {result.quarantined} + duplicates {result.duplicates}; see {cfg.paths.logs}."
        )
    return result
