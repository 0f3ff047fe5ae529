"""The silver tables the ML stage reads, and where it writes its own beside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.core.errors import PipelineError
from flightpipe.ml.features import CONTEXT_DAYS

# Tables of the silver database the ML stage reads.
FLIGHTS, WEATHER = "flights", "weather_hourly"


@dataclass(frozen=True)
class SilverStore:
    """The silver database, the warehouse folder it lives in and the metastore (named in errors)."""

    database: str
    warehouse: str
    metastore_db: str

    def table(self, name: str) -> str:
        """``database.name``."""
        return f"{self.database}.{name}"


def load_silver(spark: SparkSession, silver: SilverStore) -> tuple[DataFrame, DataFrame]:
    """Silver flights and weather_hourly, failing plainly when either is missing or empty."""
    flights_table, weather_table = silver.table(FLIGHTS), silver.table(WEATHER)
    for table in (flights_table, weather_table):
        if not spark.catalog.tableExists(table):
            raise PipelineError(
                f"table {table} does not exist in the Hive metastore {silver.metastore_db}; "
                "run cleaning.py first."
            )
    flights = spark.table(flights_table)
    if flights.isEmpty():
        raise PipelineError(f"table {flights_table} is empty; run ingest.py and cleaning.py to fill it.")
    return flights, spark.table(weather_table)


def flights_between(flights: DataFrame, start: date, end: date) -> DataFrame:
    """Flights scheduled from ``start`` to ``end`` plus the context days before (pruned by partition)."""
    first = start - timedelta(days=CONTEXT_DAYS)
    months = F.col("year") * 100 + F.col("month")
    return flights.where(
        months.between(first.year * 100 + first.month, end.year * 100 + end.month)
        & F.col("flight_date").between(first, end)
    )
