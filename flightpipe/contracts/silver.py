"""Silver table contracts (Hive database ``catalog.silver_database``, ``silver`` by default).

Column order is part of the contract: partition columns come last.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from flightpipe.core.frames import struct

# One row per scheduled flight; partitioned by year and month (the last two columns).
SILVER_FLIGHTS = struct(
    ("flight_date", DateType()),  # scheduled departure date, local at the origin
    ("carrier", StringType()),
    ("flight_number", IntegerType()),
    ("tail_number", StringType()),
    ("origin", StringType()),
    ("dest", StringType()),
    ("sched_dep_utc", TimestampType()),
    ("dep_utc", TimestampType()),  # null when cancelled
    ("sched_arr_utc", TimestampType()),
    ("arr_utc", TimestampType()),  # null when cancelled or diverted
    ("sched_dep_hour_utc", TimestampType()),  # sched_dep_utc truncated to the hour: key to weather
    ("sched_dep_local_hour", IntegerType()),  # 0-23, local at the origin
    ("dep_delay_min", DoubleType()),
    ("arr_delay_min", DoubleType()),
    ("air_time_min", DoubleType()),
    ("distance_mi", DoubleType()),
    ("is_cancelled", BooleanType()),
    ("is_diverted", BooleanType()),
    ("is_delayed_15", BooleanType()),  # arr_delay_min >= 15; null without an arrival delay
    ("source_format", StringType()),  # a flight layout name: nycflights13 | bts | dataexpo
    ("_source_file", StringType()),
    ("_ingested_at", TimestampType()),
    ("_batch_id", StringType()),
    ("year", IntegerType()),
    ("month", IntegerType()),
)

# One row per airport and UTC hour, metric units.
SILVER_WEATHER_HOURLY = struct(
    ("airport", StringType()),
    ("hour_utc", TimestampType()),
    ("temp_c", DoubleType()),
    ("dewpoint_c", DoubleType()),
    ("humidity_pct", DoubleType()),
    ("wind_dir_deg", DoubleType()),
    ("wind_speed_kmh", DoubleType()),
    ("wind_gust_kmh", DoubleType()),
    ("precip_mm", DoubleType()),
    ("pressure_hpa", DoubleType()),
    ("visibility_km", DoubleType()),
    ("source_format", StringType()),  # nycflights13 | openmeteo
    ("_source_file", StringType()),
    ("_ingested_at", TimestampType()),
)

SILVER_AIRPORTS = struct(
    ("airport", StringType()),  # IATA/FAA code
    ("name", StringType()),
    ("lat", DoubleType()),
    ("lon", DoubleType()),
    ("alt_ft", IntegerType()),
    ("tz_name", StringType()),  # IANA time zone
)

SILVER_AIRLINES = struct(("carrier", StringType()), ("name", StringType()))

# One row per pipeline stage run; every stage writes one (streaming through var/runs).
PIPELINE_RUNS = struct(
    ("run_id", StringType()),
    ("stage", StringType()),
    ("started_at", TimestampType()),
    ("ended_at", TimestampType()),
    ("status", StringType()),  # ok | failed
    ("rows_in", LongType()),
    ("rows_out", LongType()),
    ("rows_rejected", LongType()),
    ("error", StringType()),
    ("details", StringType()),  # JSON: per-table or per-rule counts
)
