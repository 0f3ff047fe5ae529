"""Backfill by date range: rebuild the whole months a range touches from all their bronze rows.

Other months stay as they are even when their bronze files changed: the state records as
processed only what the backfill rebuilt, so the next run without a range still picks them up
(see :func:`flightpipe.silver.plan.plan_backfill`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import SparkSession

from flightpipe.contracts.quality import CheckResult
from flightpipe.core.dates import DateRange, month_label
from flightpipe.core.errors import PipelineError
from flightpipe.core.session import temporary_confs
from flightpipe.silver import quality
from flightpipe.silver.cleaning import (
    CleaningJob,
    expectations,
    run_confs,
    scan_months,
)
from flightpipe.silver.conform import conform_source
from flightpipe.silver.inputs import (
    FlightSource,
    flight_folders,
    read_flight_sources,
    source_identities,
)
from flightpipe.silver.plan import (
    BackfillPlan,
    Month,
    backfill_file_state,
    config_fingerprint,
    files_to_scan,
    load_state,
    plan_backfill,
    save_state,
)
from flightpipe.silver.reference import reference_files
from flightpipe.silver.staging import check_flights, staging_path, write_flights
from flightpipe.silver.summary import CleaningResult
from flightpipe.silver.tables import ensure_tables

log = logging.getLogger("flightpipe.silver")


@dataclass
class PlannedBackfill:
    """What a backfill found before writing."""

    actions: dict[str, str]
    sources: list[FlightSource]
    state: dict
    files_now: set[str]
    new_months: dict[str, set[Month]]
    plan: BackfillPlan


def plan_backfill_run(spark: SparkSession, job: CleaningJob, date_range: DateRange) -> PlannedBackfill:
    """Read the state and bronze, and plan the backfill of ``date_range`` (nothing written)."""
    actions = quality.resolve_actions(dict(job.cleaning.rule_actions), job.config_file)
    folders = flight_folders(job.bronze)
    db = job.database
    state = load_state(job.state_file)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Only asked, not created: a refused backfill leaves the metastore as it was.
        opened = pool.submit(spark.catalog.tableExists, f"{db}.flights")
        sources = read_flight_sources(spark, job.bronze, folders)
        tables_exist = opened.result()
    if not tables_exist or not state:
        # Months of a table that was never built cannot be replaced one by one.
        raise PipelineError(
            f"a backfill replaces months of {db}.flights, which no normal run has built yet; "
            "run cleaning.py without --start/--end first."
        )
    ids = source_identities(sources)
    files_now = set(ids.values())
    new_months = scan_months([conform_source(s) for s in sources], ids, files_to_scan(state, files_now))
    plan = plan_backfill(
        state,
        files_now,
        new_months,
        set(date_range.months),
        config_fingerprint(job.cleaning),
        reference_files(job.bronze),
    )
    return PlannedBackfill(actions, sources, state, files_now, new_months, plan)


def run_backfill(
    spark: SparkSession, job: CleaningJob, date_range: DateRange, sink: list[CheckResult] | None = None
) -> CleaningResult:
    """Rebuild the months ``date_range`` touches from all their bronze rows; nothing else.

    Bronze changes outside the range stay pending: the state records as processed only what
    this run rebuilt, and keeps the config and reference fingerprints of the last normal run.
    """
    planned = plan_backfill_run(spark, job, date_range)
    actions, sources, state, plan = planned.actions, planned.sources, planned.state, planned.plan
    files_now, new_months = planned.files_now, planned.new_months
    db, months = job.database, set(date_range.months)
    log.info("backfill %s", date_range.describe())
    if plan.pending:
        log.info(
            "bronze changed outside the range too: %s stay pending for the next run without a range",
            ", ".join(month_label(m) for m in plan.pending),
        )
    if plan.pending_full:
        why = "; ".join(plan.pending_full)
        log.info("%s: the backfill applies them to its months, the next normal run to all of them", why)

    result = CleaningResult(mode="backfill", rule_actions=actions)
    partitions, confs = run_confs(spark, sources, job.min_partitions)
    with temporary_confs(spark, confs):
        carriers = spark.table(f"{db}.airlines") if spark.catalog.tableExists(f"{db}.airlines") else None
        staged, summary = check_flights(
            sources,
            months,
            spark.table(f"{db}.airports"),
            carriers,
            expectations(job, actions),
            {},
            [] if sink is None else sink,
            staging_path(job.warehouse),
            partitions,
        )
        if not summary.per_month:
            staged.discard()
            raise PipelineError(
                f"bronze holds no flight from {date_range.first_day} to {date_range.last_day}; "
                "nothing was written (check --start/--end)."
            )
        result.add_summary(summary, months)
        try:
            ensure_tables(spark, db)
        except BaseException:
            staged.discard()
            raise
        write_flights(spark, db, staged, months)
    files = backfill_file_state(state.get("files", {}), files_now, months, summary.file_months, new_months)
    save_state(job.state_file, {**state, "files": files})
    return result
