"""Gold marts: the pure ``DataFrame -> DataFrame`` builders, silver frames in, mart frames out.

The tables they produce, and the shared metric definitions, are in
:mod:`flightpipe.contracts.gold`; reading silver and loading MariaDB is :mod:`flightpipe.gold.stage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Observation, Window
from pyspark.sql import functions as F

from flightpipe.contracts.gold import (
    DAILY_KPIS,
    DATA_QUALITY,
    DELAY_BY_AIRPORT_MONTH,
    DELAY_BY_CARRIER,
    DELAY_BY_HOUR,
    FACT_COLUMNS,
    MODEL_PERFORMANCE,
    PIPELINE_RUNS,
    ROUTE_DELAYS,
    WEATHER_IMPACT,
    TableSpec,
)

RATE = "decimal(5,4)"
MINUTES = "decimal(8,2)"
DATETIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
DATETIME6_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"

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
    """The silver.flights columns the marts use."""
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


def weather_impact(
    facts: DataFrame, weather: DataFrame, coverage: Observation | None = None, dedupe_hours: bool = False
) -> DataFrame:
    # Grain: one row per weather factor and bucket. Each flight is counted once per factor,
    # with the origin's weather in its scheduled departure hour (UTC). ``coverage`` observes
    # the flights with and without a weather row (gold's weather check) on the aggregated
    # buckets: an observation on the joined rows themselves is evaluated row by row outside
    # the generated code, a third of the join's CPU at 10M flights.
    # silver.weather_hourly holds one row per airport and UTC hour (cleaning rebuilds it
    # deduplicated), so the hours are joined as they are: deduplicating them again cost gold a
    # shuffle of their 900k rows and about 5 s of its 48 at 10M flights. An hour given twice
    # would count its flights twice in each factor, which gold_totals stops before the swap;
    # ``dedupe_hours`` is for a gold_totals that only warns.
    hourly = weather.select(
        F.col("airport").alias("origin"),
        F.col("hour_utc").alias("sched_dep_hour_utc"),
        "precip_mm",
        "visibility_km",
        "wind_speed_kmh",
        F.lit(1).alias("_weather_hour"),
    )
    if dedupe_hours:
        hourly = hourly.dropDuplicates(["origin", "sched_dep_hour_utc"])
    buckets = F.array(
        _bucket("precipitation", F.col("precip_mm"), PRECIP_BUCKETS, PRECIP_TOP, True),
        _bucket("visibility", F.col("visibility_km"), VISIBILITY_BUCKETS, VISIBILITY_TOP, False),
        _bucket("wind", F.col("wind_speed_kmh"), WIND_BUCKETS, WIND_TOP, False),
    )
    by_bucket = (
        facts.join(hourly, ["origin", "sched_dep_hour_utc"], "left")
        .withColumn("b", F.explode(buckets))
        .select("b.*", "_weather_hour", *FACT_COLUMNS)
        .groupBy("factor", "bucket", "bucket_order")
        .agg(*_delay_aggs(), F.count("_weather_hour").alias("_with_weather"))
    )
    if coverage is not None:
        from flightpipe.gold.checks import coverage_columns

        by_bucket = by_bucket.observe(coverage, *coverage_columns())
    return (
        by_bucket.transform(with_rates)
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


def data_quality(results: DataFrame) -> DataFrame:
    # Grain: one row per stage run and check. MariaDB has no arrays: the failing keys are JSON.
    key = ["run_id", "stage", "started_at", "check_name"]
    return (
        results.where(
            F.col("run_id").isNotNull() & F.col("stage").isNotNull() & F.col("started_at").isNotNull()
        )
        .where(F.col("check_name").isNotNull())
        .dropDuplicates(key)
        .withColumns(
            {
                "started_at": F.date_format("started_at", DATETIME6_FORMAT),
                "failing_pct": F.col("failing_pct").cast("decimal(9,4)"),
                "status": F.coalesce("status", F.lit("unknown")),
                "kind": F.coalesce("kind", F.lit("unknown")),
                "observed": F.substring("observed", 1, 255),
                "sample_keys": F.when(F.size("sample_keys") > 0, F.to_json("sample_keys")),
            }
        )
        .select(*DATA_QUALITY.column_names)
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
    dq_results: DataFrame | None = None


def mart_builders(
    silver: Silver, coverage: Observation | None = None, dedupe_weather_hours: bool = False
) -> list[tuple[TableSpec, Callable[[], DataFrame]]]:
    """Every mart, in load order, as a function making its frame (``coverage`` and
    ``dedupe_weather_hours``: see :func:`weather_impact`)."""
    facts = silver.flights.transform(flight_facts)
    return [
        (DELAY_BY_CARRIER, partial(delay_by_carrier, facts, silver.airlines)),
        (DELAY_BY_AIRPORT_MONTH, partial(delay_by_airport_month, facts, silver.airports)),
        (DELAY_BY_HOUR, partial(delay_by_hour, facts)),
        (WEATHER_IMPACT, partial(weather_impact, facts, silver.weather, coverage, dedupe_weather_hours)),
        (ROUTE_DELAYS, partial(route_delays, facts, silver.airports)),
        (DAILY_KPIS, partial(daily_kpis, facts)),
        (MODEL_PERFORMANCE, partial(model_performance, silver.model_metrics)),
        (PIPELINE_RUNS, partial(pipeline_runs, silver.pipeline_runs)),
    ]


def build_marts(
    silver: Silver, coverage: Observation | None = None, dedupe_weather_hours: bool = False
) -> list[tuple[TableSpec, DataFrame]]:
    """Every mart from silver.flights, in load order (see :func:`mart_builders`)."""
    return [(spec, build()) for spec, build in mart_builders(silver, coverage, dedupe_weather_hours)]
