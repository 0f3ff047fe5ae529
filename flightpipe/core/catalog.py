"""Hive metastore helpers shared by the stages that write silver."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from flightpipe.core.settings import Section


def ensure_database(spark: SparkSession, cfg: Section, name: str = "silver") -> None:
    """Create the database in the configured warehouse folder when it does not exist.

    The location is explicit so that a database always lives under paths.warehouse,
    whatever warehouse the session was started with.
    """
    location = Path(cfg.paths.warehouse) / f"{name}.db"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {name} LOCATION '{location.as_uri()}'")
