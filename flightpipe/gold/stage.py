"""The gold stage: read silver, build the marts, load them into MariaDB in one swap, write the report.

:func:`read_silver` is the extract, :class:`flightpipe.gold.swap.StagedLoad` the load,
:func:`run_gold` the stage function the lifecycle calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql.types import StructType

from flightpipe.contracts.gold import DATA_QUALITY, FACT_COLUMNS, REQUIRED_SILVER, TableSpec
from flightpipe.contracts.quality import DQ_RESULTS
from flightpipe.contracts.silver import PIPELINE_RUNS as RUNS_SCHEMA
from flightpipe.core import runlog
from flightpipe.core.dates import DateRange
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import records_frame, side_by_side
from flightpipe.core.settings import Settings
from flightpipe.gold import checks, jdbc, ranges, report, report_data, swap
from flightpipe.gold.marts import Silver, mart_builders
from flightpipe.gold.marts import data_quality as data_quality_mart
from flightpipe.silver.freshness import freshness_results
from flightpipe.silver.plan import load_state, state_path
from flightpipe.silver.summary import log_checks

log = logging.getLogger("flightpipe.gold")


def _table(spark: SparkSession, table: str) -> DataFrame | None:
    """``table`` from the metastore, or None when it (or its database) does not exist. One
    lookup, which reading the table needs anyway: listing the database first cost gold a
    second of its start."""
    try:
        return spark.table(table)
    except AnalysisException as exc:
        if exc.getCondition() in ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND"):
            return None
        raise


def _required_table(
    spark: SparkSession, database: str, name: str, columns: tuple[str, ...], metastore: str
) -> DataFrame:
    table = f"{database}.{name}"
    df = _table(spark, table)
    if df is None:
        raise PipelineError(
            f"silver table {table} does not exist in the metastore at {metastore}; run cleaning.py first."
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PipelineError(
            f"silver table {table} lacks the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; run cleaning.py again to rebuild it."
        )
    return df


def _optional_table(spark: SparkSession, table: str) -> DataFrame | None:
    # tableExists first: a failed lookup costs about a second (the metastore's exception).
    return spark.table(table) if spark.catalog.tableExists(table) else None


def read_silver(spark: SparkSession, database: str, metastore: str) -> Silver:
    """The silver tables, checked for existence and for the columns the marts use."""
    tables = {
        name: _required_table(spark, database, name, columns, metastore)
        for name, columns in REQUIRED_SILVER.items()
    }
    metrics_table = f"{database}.model_metrics"
    metrics = _optional_table(spark, metrics_table)
    has_metrics = metrics is not None
    if metrics is None:
        log.info("%s does not exist (ML.py has not run): model_performance will be empty", metrics_table)
        metrics = spark.createDataFrame([], StructType([]))
    runs = _optional_table(spark, f"{database}.pipeline_runs")
    if runs is None:
        runs = spark.createDataFrame([], RUNS_SCHEMA)
    dq = _optional_table(spark, f"{database}.dq_results")
    return Silver(
        flights=tables["flights"],
        weather=tables["weather_hourly"],
        airlines=tables["airlines"],
        airports=tables["airports"],
        model_metrics=metrics,
        pipeline_runs=runs,
        has_model_metrics=has_metrics,
        dq_results=dq,
    )


def check_gold_target(cfg: Settings) -> None:
    """The stage's pre-session check (``before_session``): driver jar, server and login."""
    jdbc.check_target(cfg.gold, cfg.spark.jars, cfg.config_file)


def range_refresh(
    gold_database: str, names: list[str], existing: set[str], date_range: DateRange
) -> dict[str, str]:
    """Log how each mart is loaded by a range run; return mart -> SQL of the rows it replaces."""
    log.info("range %s", date_range.describe())
    keep = {}
    for item in ranges.refresh_plan(names, existing, date_range, gold_database):
        log.info("%-24s %s", item.mart, item.why)
        if item.predicate is not None:
            keep[item.mart] = item.predicate
    return keep


def run_gold(
    spark: SparkSession, cfg: Settings, stage: runlog.StageRun, date_range: DateRange | None = None
) -> int:
    """The gold stage: silver -> marts -> MariaDB (atomic swap) -> reports/index.html.

    With ``date_range``, the marts by date get only the rows of its whole months replaced.
    """
    gold, database = cfg.gold, cfg.catalog.silver_database
    check_gold_target(cfg)
    silver = read_silver(spark, database, cfg.paths.metastore_db)
    # No cache of silver.flights: each mart reads its few parquet columns itself, which costs
    # less than encoding all the fact columns into Spark's in-memory cache first (26 of gold's
    # 75 CPU-s at 10M rows). Silver's totals get one scan of their own beside the marts'.
    silver.flights = silver.flights.select(*FACT_COLUMNS)
    totals = checks.totals_frame(silver.flights)
    coverage = Observation("weather_coverage")
    # A weather hour given twice stops the load at gold_totals; one that only warns would load
    # the doubled flights, so then the hours are deduplicated first.
    dedupe = cfg.quality.checks.gold_totals != "fail"
    builders = mart_builders(silver, coverage, dedupe)
    keep: dict[str, str] = {}
    if date_range is not None:
        names = [spec.name for spec, _ in builders]
        keep = range_refresh(gold.database, names, jdbc.existing_tables(gold), date_range)
    persisted: list[DataFrame] = []
    past = None if silver.dq_results is None else data_quality_mart(silver.dq_results)
    try:
        with swap.StagedLoad(gold, keep) as load:
            # Silver's totals and each mart side by side, one job each: every mart is built,
            # materialised, measured and staged in its own thread, so the first scans start
            # while the other marts' plans are still made (3.8 s of driver work at 10M rows).
            silver_row, past_quality, *measures = side_by_side(
                [
                    totals.first,
                    # data_quality's rows of past runs, from silver.dq_results: this run's
                    # own are known after its checks.
                    past.collect if past is not None else list,
                    *(
                        partial(build_and_stage, load, spec, build, keep.get(spec.name), persisted)
                        for spec, build in builders
                    ),
                ]
            )
            silver_totals = silver_row.asDict()
            stage.rows_in = int(silver_totals["flights"])
            log.info("%s.flights: %d flights", database, stage.rows_in)
            stage.checks.extend(gold_checks(cfg, silver_totals, coverage.get, measures))
            log_checks(stage.checks)
            checks.raise_failed(stage.checks, gold.database, cfg.config_file)
            # data_quality is collected once: counted, staged and shown in the report from the
            # driver (its rows hold no timestamp, started_at is text, so they go back unchanged).
            own = data_quality(spark, stage)
            quality_rows = [*past_quality, *own.collect()]
            load.stage(DATA_QUALITY, spark.createDataFrame(quality_rows, own.schema), len(quality_rows))
            loaded = load.swap([*(spec.name for spec, _ in builders), DATA_QUALITY.name])
        counts = loaded.counts
        stage.rows_out = sum(counts.values())
        stage.details = {
            "tables": counts,
            # Rows sent, seconds and rows/s of each mart's JDBC write, and in total.
            "jdbc": loaded.details(),
            "model_metrics_found": silver.has_model_metrics,
        }
        if date_range is not None:
            stage.details["range"] = {**date_range.details(), "replaced_rows_of": sorted(keep)}
        log.info(
            "loaded %d tables (%d rows) into %s at %s:%s",
            len(counts),
            stage.rows_out,
            gold.database,
            gold.host,
            gold.port,
        )
        if not silver.has_model_metrics:
            log.info("model_performance is empty: %s.model_metrics does not exist yet (run ML.py)", database)
        # The report reads the marts' rows their checks collected, the whole marts also in a range run.
        data = report_data.collect_data(
            cfg.project.name,
            gold.report_top_routes,
            {
                **{spec.name: m.collected for (spec, _), m in zip(builders, measures, strict=True)},
                DATA_QUALITY.name: [r.asDict() for r in quality_rows],
            },
            silver.has_model_metrics,
            database,
        )
        log.info("report: %s", report.write_report(cfg.paths.reports, data))
    finally:
        for df in persisted:
            df.unpersist()
    return 0


def build_and_stage(
    load: swap.StagedLoad,
    spec: TableSpec,
    build: Callable[[], DataFrame],
    replaced: str | None,
    persisted: list[DataFrame],
) -> checks.MartMeasure:
    """Build one mart, persist it (into ``persisted``, unpersisted by the caller) and
    :func:`measure_and_stage` it."""
    df = build().persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(df)
    return measure_and_stage(load, spec, df, replaced)


def measure_and_stage(
    load: swap.StagedLoad, spec: TableSpec, df: DataFrame, replaced: str | None
) -> checks.MartMeasure:
    """Materialise and measure one persisted mart, then stage it while the other marts are
    still computed (a failed check drops the staging tables: MariaDB keeps the previous ones).
    ``replaced``: the SQL of the rows a range run replaces; only those are sent, and counted
    while staged."""
    measure = checks.measure_mart(spec.name, df)
    if replaced is None:
        load.stage(spec, df, measure.rows)
    else:
        load.stage(spec, df.where(replaced))
    return measure


def gold_checks(
    cfg: Settings, silver_totals: dict, coverage: dict, measures: list[checks.MartMeasure]
) -> list:
    """The checks before the swap (marts against silver, weather coverage) and source freshness."""
    actions = cfg.quality.checks
    totals = {k: int(v or 0) for k, v in silver_totals.items()}
    newest = load_state(state_path(cfg.paths.var)).get("newest", {})
    return [
        checks.totals_result(totals, checks.mart_totals(measures), actions.gold_totals),
        checks.coverage_result(
            int(coverage["flights"] or 0),
            int(coverage["with_weather"] or 0),
            cfg.quality.min_weather_coverage,
            actions.weather_coverage,
        ),
        *freshness_results(newest, cfg.quality.freshness, runlog.utcnow()),
    ]


def data_quality(spark: SparkSession, stage: runlog.StageRun) -> DataFrame:
    """The data_quality mart rows of this run's own checks (not synced into silver yet)."""
    record = stage.record()
    own = [
        {**c, "started_at": stage.started_at, "run_id": record["run_id"], "stage": record["stage"]}
        for c in record["checks"]
    ]
    return data_quality_mart(records_frame(spark, own, DQ_RESULTS))
