"""Hive metastore helpers shared by the stages that write silver."""

from __future__ import annotations

from pyspark.sql import SparkSession

from flightpipe.core import storage


def ensure_database(spark: SparkSession, database: str, warehouse: str) -> None:
    """Create ``database`` under the ``warehouse`` folder when it does not exist.

    The location is explicit so that a database always lives under paths.warehouse,
    whatever warehouse the session was started with.
    """
    location = storage.as_uri(storage.join(warehouse, f"{database}.db"))
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database} LOCATION '{location}'")
