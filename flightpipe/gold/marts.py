"""Gold marts: silver tables in, small typed tables for BI tools out.

Shared definitions, used by every flight mart:
- ``flights`` counts every scheduled flight, cancelled and diverted ones included.
- ``flights_with_arr_delay`` counts flights with a recorded arrival delay (neither
  cancelled nor diverted); it is the denominator of ``delay_rate`` and the population of
  the arrival-delay averages and percentiles.
- ``delay_rate`` = ``delayed_15 / flights_with_arr_delay``; ``cancel_rate`` =
  ``cancelled / flights``. Rates are fractions (0-1) with 4 decimals, delays minutes with 2.
- Departure airport, hour and date are the scheduled ones, local at the origin
  (``flight_date``, ``sched_dep_local_hour`` of silver.flights).

The builders are pure ``DataFrame -> DataFrame`` functions; :func:`read_silver` and
:func:`run` are the only ones touching storage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.core import runlog
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Settings
from flightpipe.gold import jdbc, report
from flightpipe.gold.jdbc import Column, TableSpec

log = logging.getLogger("flightpipe.marts")

RATE = "decimal(5,4)"
MINUTES = "decimal(8,2)"
DATETIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
DATETIME6_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"
FACT_COLUMNS = (
    "flight_date",
    "carrier",
    "origin",
    "dest",
    "sched_dep_hour_utc",
    "sched_dep_local_hour",
    "dep_delay_min",
    "arr_delay_min",
    "distance_mi",
    "is_cancelled",
    "is_diverted",
    "is_delayed_15",
)

# --- table definitions ------------------------------------------------------------------

_DENOMINATOR = "delay_rate = delayed_15 / flights_with_arr_delay (flights neither cancelled nor diverted)"

METRIC_COLUMNS = (
    Column("flights", "BIGINT NOT NULL", "Scheduled flights, cancelled and diverted ones included"),
    Column("cancelled", "BIGINT NOT NULL", "Cancelled flights"),
    Column("diverted", "BIGINT NOT NULL", "Diverted flights"),
    Column(
        "flights_with_arr_delay",
        "BIGINT NOT NULL",
        "Flights with a recorded arrival delay (neither cancelled nor diverted); delay_rate denominator",
    ),
    Column("delayed_15", "BIGINT NOT NULL", "Flights that arrived 15 minutes late or more"),
    Column(
        "delay_rate", "DECIMAL(5,4) NULL", "delayed_15 / flights_with_arr_delay, 0-1; NULL when that is 0"
    ),
    Column("cancel_rate", "DECIMAL(5,4) NULL", "cancelled / flights, 0-1"),
    Column(
        "avg_dep_delay_min",
        "DECIMAL(8,2) NULL",
        "Mean departure delay in minutes over flights with a recorded departure delay",
    ),
    Column(
        "avg_arr_delay_min",
        "DECIMAL(8,2) NULL",
        "Mean arrival delay in minutes (early = negative) over flights with a recorded arrival delay",
    ),
)
P90_COLUMN = Column(
    "p90_arr_delay_min",
    "DECIMAL(8,2) NULL",
    "90th percentile of the arrival delay in minutes (exact, linear interpolation) over "
    "flights with a recorded arrival delay",
)

DELAY_BY_CARRIER = TableSpec(
    name="delay_by_carrier",
    comment=f"Delays per airline; grain: one row per carrier. {_DENOMINATOR}",
    columns=(
        Column("carrier", "VARCHAR(8) NOT NULL", "Airline code (IATA)"),
        Column("carrier_name", "VARCHAR(100) NOT NULL", "Airline name (the code when unknown)"),
        *METRIC_COLUMNS,
        P90_COLUMN,
    ),
    primary_key=("carrier",),
)

DELAY_BY_AIRPORT_MONTH = TableSpec(
    name="delay_by_airport_month",
    comment=(
        "Delays per departure airport and month; grain: one row per origin airport and "
        f"calendar month of the scheduled local departure date. {_DENOMINATOR}"
    ),
    columns=(
        Column("airport", "VARCHAR(8) NOT NULL", "Departure (origin) airport code"),
        Column("airport_name", "VARCHAR(150) NOT NULL", "Airport name (the code when unknown)"),
        Column("year", "SMALLINT NOT NULL", "Year of the scheduled local departure date"),
        Column("month", "TINYINT NOT NULL", "Month (1-12) of the scheduled local departure date"),
        *METRIC_COLUMNS,
    ),
    primary_key=("airport", "year", "month"),
    indexes=(("year", "month"),),
)

DELAY_BY_HOUR = TableSpec(
    name="delay_by_hour",
    comment=(
        "Delays by hour of day; grain: one row per scheduled departure hour, local time at "
        f"the origin (0-23). {_DENOMINATOR}"
    ),
    columns=(
        Column("sched_dep_local_hour", "TINYINT NOT NULL", "Scheduled departure hour, local at the origin"),
        *METRIC_COLUMNS,
        P90_COLUMN,
    ),
    primary_key=("sched_dep_local_hour",),
)

WEATHER_IMPACT = TableSpec(
    name="weather_impact",
    comment=(
        "Delays by weather at the origin in the scheduled departure hour; grain: one row per "
        "weather factor (precipitation, visibility, wind) and bucket; each factor's buckets "
        f"add up to every flight ('unknown' = no weather record). {_DENOMINATOR}"
    ),
    columns=(
        Column("factor", "VARCHAR(16) NOT NULL", "precipitation, visibility or wind"),
        Column("bucket", "VARCHAR(32) NOT NULL", "Bucket label, with its unit"),
        Column("bucket_order", "TINYINT NOT NULL", "Sort order of the buckets within a factor"),
        *METRIC_COLUMNS,
    ),
    primary_key=("factor", "bucket"),
)

ROUTE_DELAYS = TableSpec(
    name="route_delays",
    comment=f"Delays per route; grain: one row per origin-destination airport pair. {_DENOMINATOR}",
    columns=(
        Column("origin", "VARCHAR(8) NOT NULL", "Departure airport code"),
        Column("dest", "VARCHAR(8) NOT NULL", "Arrival airport code"),
        Column("origin_name", "VARCHAR(150) NOT NULL", "Departure airport name (the code when unknown)"),
        Column("dest_name", "VARCHAR(150) NOT NULL", "Arrival airport name (the code when unknown)"),
        Column("distance_mi", "DECIMAL(8,1) NULL", "Mean scheduled distance in statute miles"),
        *METRIC_COLUMNS,
    ),
    primary_key=("origin", "dest"),
    indexes=(("dest",), ("flights",)),
)

DAILY_KPIS = TableSpec(
    name="daily_kpis",
    comment=f"Daily totals; grain: one row per scheduled local departure date. {_DENOMINATOR}",
    columns=(
        Column("flight_date", "DATE NOT NULL", "Scheduled departure date, local at the origin"),
        *METRIC_COLUMNS,
        Column("carriers", "INT NOT NULL", "Airlines flying that day"),
        Column("routes", "INT NOT NULL", "Origin-destination pairs flown that day"),
    ),
    primary_key=("flight_date",),
)

MODEL_PERFORMANCE = TableSpec(
    name="model_performance",
    comment=(
        "Hold-out metrics of the delay models (from silver.model_metrics); grain: one row per "
        "training run and model"
    ),
    columns=(
        Column("run_id", "VARCHAR(64) NOT NULL", "Pipeline run that trained the model"),
        Column("model", "VARCHAR(64) NOT NULL", "Model family"),
        Column("model_version", "VARCHAR(64) NULL", "Saved model version"),
        Column("trained_at", "DATETIME NULL", "Training time, UTC"),
        Column("auc_roc", "DOUBLE NULL", "Area under the ROC curve on the hold-out period"),
        Column("auc_pr", "DOUBLE NULL", "Area under the precision-recall curve on the hold-out period"),
        Column("log_loss", "DOUBLE NULL", "Log loss on the hold-out period"),
        Column("accuracy", "DOUBLE NULL", "Accuracy at the threshold"),
        Column("precision", "DOUBLE NULL", "Precision at the threshold"),
        Column("recall", "DOUBLE NULL", "Recall at the threshold"),
        Column("f1", "DOUBLE NULL", "F1 score at the threshold"),
        Column("threshold", "DOUBLE NULL", "Probability threshold for the delayed label"),
        Column("train_rows", "BIGINT NULL", "Training rows"),
        Column("test_rows", "BIGINT NULL", "Hold-out rows"),
        Column("is_latest", "BOOLEAN NOT NULL", "1 for the latest run of this model"),
    ),
    primary_key=("run_id", "model"),
    indexes=(("model", "trained_at"),),
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    comment="Run log of the pipeline stages (copy of silver.pipeline_runs); grain: one row per stage run",
    columns=(
        Column("run_id", "VARCHAR(64) NOT NULL", "Pipeline run id, shared by the stages of one run"),
        Column("stage", "VARCHAR(32) NOT NULL", "ingest, streaming, cleaning, ml or gold"),
        Column("started_at", "DATETIME(6) NOT NULL", "Start, UTC"),
        Column("ended_at", "DATETIME(6) NULL", "End, UTC"),
        Column("seconds", "DECIMAL(10,1) NULL", "Duration in seconds"),
        Column("status", "VARCHAR(16) NOT NULL", "ok or failed"),
        Column("rows_in", "BIGINT NULL", "Rows read"),
        Column("rows_out", "BIGINT NULL", "Rows written"),
        Column("rows_rejected", "BIGINT NULL", "Rows sent to quarantine"),
        Column("error", "TEXT NULL", "The failure sentence of a failed run"),
        Column("details", "MEDIUMTEXT NULL", "Per-table or per-rule counts, JSON"),
    ),
    primary_key=("run_id", "stage", "started_at"),
    indexes=(("stage", "started_at"),),
)

ALL_TABLES = (
    DELAY_BY_CARRIER,
    DELAY_BY_AIRPORT_MONTH,
    DELAY_BY_HOUR,
    WEATHER_IMPACT,
    ROUTE_DELAYS,
    DAILY_KPIS,
    MODEL_PERFORMANCE,
    PIPELINE_RUNS,
)

# --- shared metric expressions --------------------------------------------------------


def _delay_aggs(with_p90: bool = False) -> list[SparkColumn]:
    aggs = [
        F.count(F.lit(1)).alias("flights"),
        F.count_if(F.col("is_cancelled")).alias("cancelled"),
        F.count_if(F.col("is_diverted")).alias("diverted"),
        F.count("arr_delay_min").alias("flights_with_arr_delay"),
        F.count_if(F.col("is_delayed_15")).alias("delayed_15"),
        F.avg("dep_delay_min").alias("avg_dep_delay_min"),
        F.avg("arr_delay_min").alias("avg_arr_delay_min"),
    ]
    if with_p90:
        aggs.append(F.percentile("arr_delay_min", 0.9).alias("p90_arr_delay_min"))
    return aggs


def _ratio(num: str, den: str) -> SparkColumn:
    return F.when(F.col(den) > 0, F.col(num) / F.col(den)).cast(RATE)


def with_rates(df: DataFrame) -> DataFrame:
    """Rates and rounded delays from the raw aggregates of :func:`_delay_aggs`."""
    out = df.withColumns(
        {
            # Denominator: flights with a recorded arrival delay, not all scheduled flights.
            "delay_rate": _ratio("delayed_15", "flights_with_arr_delay"),
            # Denominator: every scheduled flight.
            "cancel_rate": _ratio("cancelled", "flights"),
            "avg_dep_delay_min": F.col("avg_dep_delay_min").cast(MINUTES),
            "avg_arr_delay_min": F.col("avg_arr_delay_min").cast(MINUTES),
        }
    )
    if "p90_arr_delay_min" in df.columns:
        out = out.withColumn("p90_arr_delay_min", F.col("p90_arr_delay_min").cast(MINUTES))
    return out


def _names(ref: DataFrame, key: str, code: str, name: str) -> DataFrame:
    return ref.select(F.col(key).alias(code), F.col("name").alias(name)).dropDuplicates([code])


# --- builders -------------------------------------------------------------------------


def flight_facts(flights: DataFrame) -> DataFrame:
    """The silver.flights columns the marts use (the one scan every mart shares)."""
    return flights.select(*FACT_COLUMNS)


def delay_by_carrier(facts: DataFrame, airlines: DataFrame) -> DataFrame:
    # Grain: one row per carrier.
    names = _names(airlines, "carrier", "carrier", "carrier_name")
    return (
        facts.groupBy("carrier")
        .agg(*_delay_aggs(with_p90=True))
        .transform(with_rates)
        .join(F.broadcast(names), "carrier", "left")
        .withColumn("carrier_name", F.coalesce("carrier_name", "carrier"))
        .select(*DELAY_BY_CARRIER.column_names)
    )


def delay_by_airport_month(facts: DataFrame, airports: DataFrame) -> DataFrame:
    # Grain: one row per origin airport and calendar month of the scheduled local date.
    names = _names(airports, "airport", "airport", "airport_name")
    return (
        facts.withColumns(
            {"airport": F.col("origin"), "year": F.year("flight_date"), "month": F.month("flight_date")}
        )
        .groupBy("airport", "year", "month")
        .agg(*_delay_aggs())
        .transform(with_rates)
        .join(F.broadcast(names), "airport", "left")
        .withColumn("airport_name", F.coalesce("airport_name", "airport"))
        .select(*DELAY_BY_AIRPORT_MONTH.column_names)
    )


def delay_by_hour(facts: DataFrame) -> DataFrame:
    # Grain: one row per scheduled departure hour, local at the origin.
    return (
        facts.groupBy("sched_dep_local_hour")
        .agg(*_delay_aggs(with_p90=True))
        .transform(with_rates)
        .select(*DELAY_BY_HOUR.column_names)
    )


# Bucket edges: precipitation per hour after the usual light/moderate/heavy rain rates;
# visibility after fog (< 1 km) and mist/haze; wind after the Beaufort scale's breezes.
PRECIP_BUCKETS = ((0.0, "none (0 mm)"), (2.5, "light (< 2.5 mm)"), (7.6, "moderate (2.5-7.6 mm)"))
PRECIP_TOP = "heavy (>= 7.6 mm)"
VISIBILITY_BUCKETS = ((1.0, "fog (< 1 km)"), (5.0, "poor (1-5 km)"), (10.0, "moderate (5-10 km)"))
VISIBILITY_TOP = "good (>= 10 km)"
WIND_BUCKETS = ((10.0, "calm (< 10 km/h)"), (20.0, "light (10-20 km/h)"), (40.0, "breezy (20-40 km/h)"))
WIND_TOP = "strong (>= 40 km/h)"
UNKNOWN_BUCKET = "unknown"
UNKNOWN_ORDER = 99


def _bucket(factor: str, value: SparkColumn, edges, top: str, zero_bucket: bool) -> SparkColumn:
    """struct(factor, bucket, bucket_order): the first bucket whose upper bound the value is below."""
    label = F.when(value.isNull(), F.lit(UNKNOWN_BUCKET))
    order = F.when(value.isNull(), F.lit(UNKNOWN_ORDER))
    for i, (bound, name) in enumerate(edges):
        # Precipitation's first bucket is "exactly zero", so its test is <= rather than <.
        test = value <= bound if (i == 0 and zero_bucket) else value < bound
        label = label.when(test, F.lit(name))
        order = order.when(test, F.lit(i + 1))
    return F.struct(
        F.lit(factor).alias("factor"),
        label.otherwise(F.lit(top)).alias("bucket"),
        order.otherwise(F.lit(len(edges) + 1)).alias("bucket_order"),
    )


def weather_impact(facts: DataFrame, weather: DataFrame) -> DataFrame:
    # Grain: one row per weather factor and bucket. Each flight is counted once per factor,
    # with the origin's weather in its scheduled departure hour (UTC).
    hourly = weather.select(
        F.col("airport").alias("origin"),
        F.col("hour_utc").alias("sched_dep_hour_utc"),
        "precip_mm",
        "visibility_km",
        "wind_speed_kmh",
    ).dropDuplicates(["origin", "sched_dep_hour_utc"])
    buckets = F.array(
        _bucket("precipitation", F.col("precip_mm"), PRECIP_BUCKETS, PRECIP_TOP, True),
        _bucket("visibility", F.col("visibility_km"), VISIBILITY_BUCKETS, VISIBILITY_TOP, False),
        _bucket("wind", F.col("wind_speed_kmh"), WIND_BUCKETS, WIND_TOP, False),
    )
    return (
        facts.join(hourly, ["origin", "sched_dep_hour_utc"], "left")
        .withColumn("b", F.explode(buckets))
        .select("b.*", *FACT_COLUMNS)
        .groupBy("factor", "bucket", "bucket_order")
        .agg(*_delay_aggs())
        .transform(with_rates)
        .withColumn("bucket_order", F.col("bucket_order").cast("int"))
        .select(*WEATHER_IMPACT.column_names)
    )


def route_delays(facts: DataFrame, airports: DataFrame) -> DataFrame:
    # Grain: one row per origin-destination pair.
    origin_names = _names(airports, "airport", "origin", "origin_name")
    dest_names = _names(airports, "airport", "dest", "dest_name")
    return (
        facts.groupBy("origin", "dest")
        .agg(*_delay_aggs(), F.avg("distance_mi").cast("decimal(8,1)").alias("distance_mi"))
        .transform(with_rates)
        .join(F.broadcast(origin_names), "origin", "left")
        .join(F.broadcast(dest_names), "dest", "left")
        .withColumns(
            {
                "origin_name": F.coalesce("origin_name", "origin"),
                "dest_name": F.coalesce("dest_name", "dest"),
            }
        )
        .select(*ROUTE_DELAYS.column_names)
    )


def daily_kpis(facts: DataFrame) -> DataFrame:
    # Grain: one row per scheduled local departure date.
    return (
        facts.groupBy("flight_date")
        .agg(
            *_delay_aggs(),
            F.count_distinct("carrier").cast("int").alias("carriers"),
            F.count_distinct("origin", "dest").cast("int").alias("routes"),
        )
        .transform(with_rates)
        .select(*DAILY_KPIS.column_names)
    )


# silver.model_metrics is written by the ML stage; columns are picked by name (any case),
# with the usual alternative spellings, and a missing one becomes NULL.
METRIC_SOURCES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id",),
    "model": ("model", "model_name"),
    "model_version": ("model_version", "version"),
    "trained_at": ("trained_at", "created_at", "evaluated_at"),
    "auc_roc": ("auc_roc", "areaunderroc", "auc"),
    "auc_pr": ("auc_pr", "areaunderpr"),
    "log_loss": ("log_loss", "logloss"),
    "accuracy": ("accuracy",),
    "precision": ("precision",),
    "recall": ("recall",),
    "f1": ("f1", "f1_score"),
    "threshold": ("threshold",),
    "train_rows": ("train_rows", "rows_train", "n_train", "training_rows"),
    "test_rows": ("test_rows", "rows_test", "n_test", "holdout_rows", "test_count"),
}
_METRIC_TYPES = {"run_id": "string", "model": "string", "model_version": "string"}
_METRIC_TYPES.update({k: "bigint" for k in ("train_rows", "test_rows")})


def _pick(df: DataFrame, target: str) -> SparkColumn:
    present = {c.lower(): c for c in df.columns}
    for name in METRIC_SOURCES[target]:
        if name in present:
            col = F.col(f"`{present[name]}`")
            if target == "trained_at":
                dtype = df.schema[present[name]].dataType.typeName()
                return col if dtype.startswith("timestamp") else F.try_to_timestamp(col.cast("string"))
            return col.cast(_METRIC_TYPES.get(target, "double"))
    if target == "trained_at":
        return F.lit(None).cast("timestamp")
    return F.lit(None).cast(_METRIC_TYPES.get(target, "double"))


def model_performance(metrics: DataFrame) -> DataFrame:
    # Grain: one row per training run and model; rows without a run id or model name
    # cannot be told apart and are left out.
    picked = metrics.select(*[_pick(metrics, t).alias(t) for t in METRIC_SOURCES])
    picked = picked.where(F.col("run_id").isNotNull() & F.col("model").isNotNull())
    newest_first = [F.col("trained_at").desc_nulls_last(), F.col("run_id").desc()]
    return (
        picked.withColumn(
            "_n", F.row_number().over(Window.partitionBy("run_id", "model").orderBy(*newest_first))
        )
        .where("_n = 1")
        .withColumn("is_latest", F.row_number().over(Window.partitionBy("model").orderBy(*newest_first)) == 1)
        .withColumn("trained_at", F.date_format("trained_at", DATETIME_FORMAT))
        .select(*MODEL_PERFORMANCE.column_names)
    )


def pipeline_runs(runs: DataFrame) -> DataFrame:
    # Grain: one row per stage run (run_id, stage, started_at).
    seconds = F.unix_micros("ended_at") - F.unix_micros("started_at")
    return (
        runs.where(F.col("run_id").isNotNull() & F.col("stage").isNotNull() & F.col("started_at").isNotNull())
        .dropDuplicates(["run_id", "stage", "started_at"])
        .withColumns(
            {
                "seconds": (seconds / 1_000_000).cast("decimal(10,1)"),
                "status": F.coalesce("status", F.lit("unknown")),
                "started_at": F.date_format("started_at", DATETIME6_FORMAT),
                "ended_at": F.date_format("ended_at", DATETIME6_FORMAT),
            }
        )
        .select(*PIPELINE_RUNS.column_names)
    )


@dataclass
class Silver:
    """The silver tables gold reads; model_metrics and pipeline_runs may be empty."""

    flights: DataFrame
    weather: DataFrame
    airlines: DataFrame
    airports: DataFrame
    model_metrics: DataFrame
    pipeline_runs: DataFrame
    has_model_metrics: bool = True


def build_marts(silver: Silver) -> list[tuple[TableSpec, DataFrame]]:
    """Every mart from one cached scan of silver.flights, in load order."""
    facts = silver.flights.transform(flight_facts)
    return [
        (DELAY_BY_CARRIER, delay_by_carrier(facts, silver.airlines)),
        (DELAY_BY_AIRPORT_MONTH, delay_by_airport_month(facts, silver.airports)),
        (DELAY_BY_HOUR, delay_by_hour(facts)),
        (WEATHER_IMPACT, weather_impact(facts, silver.weather)),
        (ROUTE_DELAYS, route_delays(facts, silver.airports)),
        (DAILY_KPIS, daily_kpis(facts)),
        (MODEL_PERFORMANCE, model_performance(silver.model_metrics)),
        (PIPELINE_RUNS, pipeline_runs(silver.pipeline_runs)),
    ]


# --- extract and the stage ------------------------------------------------------------

REQUIRED = {
    "flights": FACT_COLUMNS,
    "weather_hourly": ("airport", "hour_utc", "precip_mm", "visibility_km", "wind_speed_kmh"),
    "airlines": ("carrier", "name"),
    "airports": ("airport", "name"),
}


def read_silver(spark: SparkSession, database: str, metastore: str) -> Silver:
    """The silver tables, checked for existence and for the columns the marts use."""
    tables: dict[str, DataFrame] = {}
    for name, columns in REQUIRED.items():
        table = f"{database}.{name}"
        if not spark.catalog.tableExists(table):
            raise PipelineError(
                f"silver table {table} does not exist in the metastore at {metastore}; run cleaning.py first."
            )
        df = spark.table(table)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise PipelineError(
                f"silver table {table} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}; run cleaning.py again to rebuild it."
            )
        tables[name] = df
    metrics_table = f"{database}.model_metrics"
    has_metrics = spark.catalog.tableExists(metrics_table)
    if has_metrics:
        metrics = spark.table(metrics_table)
    else:
        log.info("%s does not exist (ML.py has not run): model_performance will be empty", metrics_table)
        metrics = spark.createDataFrame([], StructType([]))
    runs_table = f"{database}.pipeline_runs"
    if spark.catalog.tableExists(runs_table):
        runs = spark.table(runs_table)
    else:
        from flightpipe.contracts.silver import PIPELINE_RUNS as RUNS_SCHEMA

        runs = spark.createDataFrame([], RUNS_SCHEMA)
    return Silver(
        flights=tables["flights"],
        weather=tables["weather_hourly"],
        airlines=tables["airlines"],
        airports=tables["airports"],
        model_metrics=metrics,
        pipeline_runs=runs,
        has_model_metrics=has_metrics,
    )


def run_gold(spark: SparkSession, cfg: Settings, stage: runlog.StageRun) -> int:
    """The gold stage: silver -> marts -> MariaDB (atomic swap) -> reports/index.html."""
    jdbc.check_target(cfg)
    silver = read_silver(spark, cfg.catalog.silver_database, cfg.paths.metastore_db)
    silver.flights = silver.flights.select(*FACT_COLUMNS).persist(StorageLevel.MEMORY_AND_DISK)
    built = [(spec, df.persist(StorageLevel.MEMORY_AND_DISK)) for spec, df in build_marts(silver)]
    try:
        # One job scans silver.flights once and materialises every mart.
        stage.rows_in, *expected = jdbc.count_rows([silver.flights, *(df for _, df in built)])
        log.info("silver.flights: %d flights", stage.rows_in)
        counts = jdbc.load_tables(cfg, built, expected)
        stage.rows_out = sum(counts.values())
        stage.details = {"tables": counts, "model_metrics_found": silver.has_model_metrics}
        log.info(
            "loaded %d tables (%d rows) into %s at %s:%s",
            len(counts),
            stage.rows_out,
            cfg.gold.database,
            cfg.gold.host,
            cfg.gold.port,
        )
        if not silver.has_model_metrics:
            log.info("model_performance is empty: silver.model_metrics does not exist yet (run ML.py)")
        path = report.write_report(cfg, {spec.name: df for spec, df in built}, silver.has_model_metrics)
        log.info("report: %s", path)
    finally:
        for _, df in built:
            df.unpersist()
        silver.flights.unpersist()
    return 0
