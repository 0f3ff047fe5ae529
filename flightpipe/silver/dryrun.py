"""The plan ``cleaning.py --dry-run`` prints: the months a run would rebuild and why, nothing written."""

from __future__ import annotations

from pyspark.sql import SparkSession

from flightpipe.core import storage
from flightpipe.core.dates import DateRange, month_label
from flightpipe.core.dryrun import KEEP, NOTE, READ, REPLACE, WRITE, DryRun, table_exists
from flightpipe.core.settings import Settings
from flightpipe.silver.backfill import plan_backfill_run
from flightpipe.silver.cleaning import CleaningJob, plan_run
from flightpipe.silver.plan import NO_DATE
from flightpipe.silver.stage import job_of


def _months(months) -> str:
    shown = [month_label(m) if m != NO_DATE else "no date" for m in sorted(months)]
    return ", ".join(shown[:12]) + (f" ... ({len(shown)} months)" if len(shown) > 12 else "")


def describe_backfill(spark: SparkSession, job: CleaningJob, date_range: DateRange) -> DryRun:
    """What ``cleaning.py --start --end`` would rebuild."""
    db, out = job.database, DryRun("cleaning")
    planned = plan_backfill_run(spark, job, date_range)
    months = _months(planned.plan.months)
    out.add(READ, f"bronze flights under {job.bronze}", f"all rows of {months}")
    for table in ("flights", "flights_rejected"):
        out.add(REPLACE, f"{db}.{table}", f"the partitions of {months}")
    out.add(NOTE, "range", date_range.describe())
    if planned.plan.pending:
        out.add(
            KEEP,
            "changed bronze months outside the range",
            f"{_months(planned.plan.pending)}: left for the next run",
        )
    for why in planned.plan.pending_full:
        out.add(NOTE, why, "the next run without a range rebuilds every month")
    out.add(WRITE, job.state_file, "the months this backfill took")
    return out


def describe_cleaning(
    spark: SparkSession, cfg: Settings, full_refresh: bool = False, date_range: DateRange | None = None
) -> DryRun:
    """What ``cleaning.py`` would rebuild, from the state file, bronze and the metastore as they are."""
    job: CleaningJob = job_of(cfg)
    if date_range is not None:
        return describe_backfill(spark, job, date_range)
    db = job.database
    out = DryRun("cleaning")
    planned = plan_run(spark, job, full_refresh, tables_exist=table_exists(spark, f"{db}.flights"))
    files = sum(len(s.files) for s in planned.sources)
    size = sum(storage.total_size(s.path, ".parquet") for s in planned.sources)
    out.add(READ, f"bronze flights under {job.bronze}", f"{files} parquet files, {size / 1e6:,.1f} MB")
    plan = planned.plan
    if plan.unchanged:
        return out.add(KEEP, f"{db}.*", "bronze unchanged since the last run")
    if plan.full:
        why = "; ".join(plan.reasons)
        for table in ("flights", "flights_rejected", "airports", "airlines"):
            out.add(
                REPLACE if table_exists(spark, f"{db}.{table}") else WRITE,
                f"{db}.{table}",
                f"all of it ({why})",
            )
    else:
        for table in ("flights", "flights_rejected"):
            out.add(REPLACE, f"{db}.{table}", f"the partitions of {_months(plan.months)}")
        for month, why in plan.months.items():
            out.add("because", month_label(month), "; ".join(why))
    if plan.weather_changed:
        out.add(REPLACE, f"{db}.weather_hourly", "bronze weather changed")
    out.add(WRITE, job.state_file, "the bronze files and months this run took")
    return out
