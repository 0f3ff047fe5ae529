"""Bronze to silver: conform every flight layout, check quality, write the Hive tables.

A run reads the bronze flights (the streaming sink ``bronze/flights`` and the batch
folders ``bronze/flights_batch/source_format=*``), conforms the rows of every flight layout to
one schema with UTC times, applies the rules of :mod:`flightpipe.silver.quality` and writes
``silver.flights`` (partitioned by year and month of the flight date) and
``silver.flights_rejected``. Weather, airports and airlines are rebuilt when their bronze
files change.

Incremental: the state file remembers each bronze flight file and the months it holds.
A run rebuilds only the months of new or removed files, each from all of that month's
bronze rows (so the duplicate rule holds across the two flight folders), and replaces
only those partitions. Nothing changed means nothing written. A change of the airports,
of the cleaning config or a missing silver table rebuilds everything, as
``--full-refresh`` does (see :mod:`flightpipe.silver.plan`).

Backfill (``--start``/``--end``, :mod:`flightpipe.silver.backfill`): the months the range touches are
rebuilt from all their bronze rows whatever changed; changes outside them stay pending.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from flightpipe.bronze.slots import read_manifest
from flightpipe.contracts.quality import CheckResult
from flightpipe.core import runlog
from flightpipe.core.frames import union_all
from flightpipe.core.sections import Cleaning, Quality
from flightpipe.core.session import temporary_confs
from flightpipe.core.splits import split_bytes
from flightpipe.silver import checks, quality, weather
from flightpipe.silver.conform import (
    conform_source,
    with_bucket,
)
from flightpipe.silver.freshness import freshness_results, merge_newest
from flightpipe.silver.inputs import (
    FlightSource,
    bronze_file_sizes,
    cleaning_partitions,
    flight_folders,
    months_of,
    read_flight_sources,
    source_identities,
)
from flightpipe.silver.plan import (
    STATE_VERSION,
    Month,
    RebuildPlan,
    config_fingerprint,
    files_to_scan,
    full_reasons,
    load_state,
    next_file_state,
    plan_rebuild,
    save_state,
)
from flightpipe.silver.reference import (
    build_airlines,
    build_airports,
    build_weather,
    reference_files,
    weather_files,
)
from flightpipe.silver.staging import check_flights, staging_path, write_flights
from flightpipe.silver.summary import CleaningResult
from flightpipe.silver.tables import ensure_tables, open_database, overwrite_table

log = logging.getLogger("flightpipe.silver")
# How the newest weather hour is kept in the state and shown by the freshness check.
HOUR_TEXT = "yyyy-MM-dd HH:mm:ss"


@dataclass(frozen=True)
class CleaningJob:
    """The values a cleaning run needs, taken from the config by :func:`clean`."""

    bronze: str
    warehouse: str
    database: str
    state_file: str
    cleaning: Cleaning
    min_partitions: int  # spark.shuffle_partitions
    config_file: str
    quality: Quality  # dataset checks and freshness thresholds


def expectations(job: CleaningJob, actions: dict[str, str]) -> checks.Expectations:
    """The expectations of ``job`` with the rule ``actions`` it resolved."""
    return checks.Expectations(
        quality_settings(job.cleaning),
        actions,
        dict(job.quality.checks),
        f"bronze flights under {job.bronze}",
        job.config_file,
    )


def quality_settings(cleaning: Cleaning) -> quality.QualitySettings:
    """The rule parameters of the ``cleaning`` config section."""
    return quality.QualitySettings(
        source_start_date=cleaning.source_start_date,
        source_end_date=cleaning.source_end_date,
        min_delay_minutes=float(cleaning.min_delay_minutes),
        max_delay_minutes=float(cleaning.max_delay_minutes),
    )


@dataclass
class PlannedRun:
    """What a run found before writing: the rule actions, bronze read, the state and the plan."""

    actions: dict[str, str]
    sources: list[FlightSource]
    state: dict
    files_now: set[str]
    fingerprint: str
    reference_files: list[str]
    weather_files: list[str]
    plan: RebuildPlan
    airports: tuple[DataFrame, int] | None  # built already when the run is a full rebuild

    def next_state(self, processed: dict[str, set[Month]], newest: dict[str, str]) -> dict:
        """The state after this run rebuilt its months, with ``processed`` file -> months read
        and the ``newest`` flight date / weather hour per source now landed."""
        old = {} if self.plan.full else self.state.get("files", {})
        return {
            "version": STATE_VERSION,
            "config": self.fingerprint,
            "reference_files": self.reference_files,
            "weather_files": self.weather_files,
            "files": next_file_state(old, self.files_now, self.plan.month_set, processed),
            "newest": newest,
        }


def plan_run(
    spark: SparkSession, job: CleaningJob, full_refresh: bool = False, tables_exist: bool | None = None
) -> PlannedRun:
    """Read the state and bronze, and plan the rebuild (nothing written).

    ``tables_exist=None`` opens (creates when missing) the silver database and asks the
    metastore; a dry run passes what it found without creating anything.
    """
    actions = quality.resolve_actions(dict(job.cleaning.rule_actions), job.config_file)
    folders = flight_folders(job.bronze)  # fails first when there is no flight input
    db = job.database
    state = load_state(job.state_file)
    ref_files, wx_files = reference_files(job.bronze), weather_files(job.bronze)
    fingerprint = config_fingerprint(job.cleaning)
    rebuild_all = full_reasons(state, fingerprint, ref_files, full_refresh)
    # The first metastore call boots Derby and Hive's client: seconds of one core's work,
    # done in a thread while the bronze files are read (and the airports merged, when the
    # run is a rebuild whatever the metastore holds).
    with ThreadPoolExecutor(max_workers=1) as pool:
        opened = pool.submit(open_database, spark, db, job.warehouse) if tables_exist is None else None
        sources = read_flight_sources(spark, job.bronze, folders)
        built = build_airports(spark, job.bronze) if rebuild_all and opened is not None else None
        if opened is not None:
            tables_exist = opened.result()

    staged_parts = [conform_source(s) for s in sources]
    ids = source_identities(sources)
    files_now = set(ids.values())
    # Only the files the state does not know are read for their months, and only when the
    # run is not a full rebuild anyway.
    to_scan = set() if rebuild_all or not tables_exist else files_to_scan(state, files_now)
    new_months = scan_months(staged_parts, ids, to_scan)
    plan = plan_rebuild(
        state,
        files_now,
        new_months,
        fingerprint,
        ref_files,
        wx_files,
        full_refresh=full_refresh,
        tables_exist=bool(tables_exist),
        silver_table=f"{db}.flights",
    )
    return PlannedRun(actions, sources, state, files_now, fingerprint, ref_files, wx_files, plan, built)


def run_cleaning(
    spark: SparkSession, job: CleaningJob, full_refresh: bool = False, sink: list[CheckResult] | None = None
) -> CleaningResult:
    """Bronze -> silver for the changed months (everything with ``full_refresh``).

    The data-quality results go into ``sink`` as they are known (so a run stopped by a check
    still reports them).
    """
    sink = [] if sink is None else sink
    planned = plan_run(spark, job, full_refresh)
    actions, sources, plan, db = planned.actions, planned.sources, planned.plan, job.database
    if plan.unchanged:
        log.info("bronze unchanged since the last run: %s left as it is", db)
        sink.extend(
            freshness_results(planned.state.get("newest", {}), job.quality.freshness, runlog.utcnow())
        )
        return CleaningResult(mode="unchanged", rule_actions=actions)

    full, months = plan.full, plan.month_set
    mode = "full" if full else "incremental"
    if full:
        log.info("full rebuild (%s)", "; ".join(plan.reasons))
    else:
        log.info("incremental: %d month(s) to rebuild", len(months or ()))
        for (y, m), why in plan.months.items():
            log.debug("  %04d-%02d: %s", y, m, "; ".join(why))

    # Reference data first: flights need the airports' time zones.
    airport_count = 0
    if full:
        airports, airport_count = planned.airports or build_airports(spark, job.bronze)
    else:
        airports = spark.table(f"{db}.airports")
    airlines = build_airlines(spark, job.bronze) if full else None
    carriers = airlines if full else _table_or_none(spark, f"{db}.airlines")

    partitions, confs = run_confs(spark, sources, job.min_partitions)
    result = CleaningResult(mode=mode, rule_actions=actions)
    processed: dict[str, set[Month]] = {}
    with temporary_confs(spark, confs):
        staged = None
        try:
            if full or months:
                landed = landed_rows(job.bronze) if full else {}
                staged, summary = check_flights(
                    sources,
                    months,
                    airports,
                    carriers,
                    expectations(job, actions),
                    landed,
                    sink,
                    staging_path(job.warehouse),
                    partitions,
                )
                result.add_summary(summary, months)
                processed = summary.file_months
            wx_df = (
                build_weather(spark, job.bronze, list(job.cleaning.weather_source_priority))
                if plan.weather_changed
                else None
            )

            # --- everything checked: write -------------------------------------------------------
            ensure_tables(spark, db)
            if full:
                result.reference = write_reference(spark, db, airports, airport_count, airlines)
            if staged is not None:
                write_flights(spark, db, staged, months)
            if plan.weather_changed:
                result.weather = write_weather(spark, wx_df, f"{db}.weather_hourly")
        except BaseException:
            if staged is not None:
                staged.discard()
            raise

    found = dict(summary.newest) if staged is not None else {}
    if result.weather.get("newest_hour"):
        found["weather"] = result.weather["newest_hour"]
    newest = merge_newest(planned.state.get("newest", {}), found, replace=full)
    if not plan.weather_changed and "weather" in planned.state.get("newest", {}):
        newest["weather"] = planned.state["newest"]["weather"]
    sink.extend(freshness_results(newest, job.quality.freshness, runlog.utcnow()))
    save_state(job.state_file, planned.next_state(processed, newest))
    return result


def run_confs(
    spark: SparkSession, sources: list[FlightSource], min_partitions: int
) -> tuple[int, dict[str, str]]:
    """The shuffle partitions of a run over ``sources`` and its :func:`write_confs`."""
    # The unique-key window sorts its partitions in memory: sized to the input, they stay
    # small at any scale (a fixed count fills the memory and spills on a large bronze).
    sizes = bronze_file_sizes(sources)
    partitions = cleaning_partitions(sum(map(sum, sizes)), min_partitions)
    split = split_bytes(sizes, spark.sparkContext.defaultParallelism)
    return partitions, write_confs(partitions, split)


def write_confs(partitions: int, split_bytes: int) -> dict[str, str]:
    """The runtime settings of a cleaning run's reads and writes."""
    return {
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.sql.files.maxPartitionBytes": str(split_bytes),
        # A task writes the (outcome, month) folders of its rows through open writers side by
        # side instead of sorting all its rows by them first. A task holds one calendar month
        # (quality.month_cluster), of every year the run rebuilds: ten years' outcomes fit.
        "spark.sql.maxConcurrentOutputFileWriters": "40",
    }


def _table_or_none(spark: SparkSession, table: str) -> DataFrame | None:
    return spark.table(table) if spark.catalog.tableExists(table) else None


def landed_rows(bronze: str) -> dict[str, int]:
    """Bronze slot (table/format) -> rows ingest landed in it, from the bronze manifest."""
    return {k: int(v.get("rows", 0)) for k, v in read_manifest(bronze).items() if isinstance(v, dict)}


def scan_months(staged: list[DataFrame], ids: dict[str, str], to_scan: set[str]) -> dict[str, set[Month]]:
    """File identity -> months of its rows, for the files ``to_scan`` only (none: no Spark job)."""
    if not to_scan:
        return {}
    scanned = union_all([p.transform(with_bucket) for p in staged])
    return months_of(scanned, {p for p, i in ids.items() if i in to_scan})


def write_reference(
    spark: SparkSession, db: str, airports: DataFrame, airport_count: int, airlines: DataFrame | None
) -> dict[str, int]:
    """Rewrite the airports (and airlines, when bronze has them); return their row counts."""
    overwrite_table(spark, airports, f"{db}.airports")
    written = {"airports": airport_count}
    if airlines is not None:
        counted = Observation("airlines")
        overwrite_table(spark, airlines.observe(counted, F.count(F.lit(1)).alias("rows")), f"{db}.airlines")
        written["airlines"] = int(counted.get["rows"])
    return written


def write_weather(spark: SparkSession, conformed: DataFrame | None, table: str) -> dict[str, int]:
    """Rebuild the weather table; return bronze rows, unplaceable rows, duplicates and silver rows."""
    if conformed is None:
        spark.sql(f"TRUNCATE TABLE {table}")
        return {"bronze_rows": 0, "unplaceable": 0, "duplicates": 0, "silver_rows": 0, "newest_hour": None}
    # Counted while the table is written (observed metrics), not in passes of their own.
    read, kept = Observation("weather_bronze"), Observation("weather_silver")
    unplaceable = F.col("airport").isNull() | (F.col("airport") == "") | F.col("hour_utc").isNull()
    silver = (
        conformed.observe(
            read, F.count(F.lit(1)).alias("rows"), F.sum(unplaceable.cast("long")).alias("unplaceable")
        )
        .transform(weather.filter_keyed)
        .transform(weather.dedup_airport_hours)
        # The newest hour as text in the session's zone (UTC): collected as a datetime, PySpark
        # would give it in the Python process's local time.
        .observe(
            kept, F.count(F.lit(1)).alias("rows"), F.date_format(F.max("hour_utc"), HOUR_TEXT).alias("newest")
        )
    )
    overwrite_table(spark, silver.transform(weather.to_silver_weather), table, files=1)
    bronze_rows, unplaced = int(read.get["rows"]), int(read.get["unplaceable"] or 0)
    out = int(kept.get["rows"])
    return {
        "bronze_rows": bronze_rows,
        "unplaceable": unplaced,
        "duplicates": bronze_rows - unplaced - out,
        "silver_rows": out,
        "newest_hour": kept.get["newest"],
    }
