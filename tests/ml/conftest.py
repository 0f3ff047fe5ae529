"""ML fixtures: a few real days of silver-shaped flights and weather, small model settings."""

from __future__ import annotations

from datetime import date

import pytest
from ml_silver_fixture import SMALL_ML, build_silver, write_silver

from flightpipe.core.cli import recorded
from flightpipe.ml.models import run_ml, stage_name

ML_TABLES = (
    "silver.flights",
    "silver.weather_hourly",
    "silver.model_metrics",
    "silver.delay_predictions",
    "silver.pipeline_runs",
)


@pytest.fixture()
def database() -> str:
    """The ML tests read and write ``silver`` of the test session's own metastore; clean_silver
    drops its tables before and after each test."""
    return "silver"


@pytest.fixture()
def ml_stage(spark):
    """ML.py's work in its run record: ``ml_stage(cfg)`` trains, ``ml_stage(cfg, (start, end))`` scores."""

    def run(cfg, score_range=None):
        return recorded(spark, cfg, stage_name(score_range), lambda s, c, r: run_ml(s, c, r, score_range))

    return run


@pytest.fixture(scope="session")
def nyc_days(spark, tmp_path_factory):
    """Silver flights and weather for 1-3 January 2013 (about 2,700 flights), cached."""
    cache = tmp_path_factory.mktemp("nyc-cache")
    flights, weather = build_silver(spark, cache, date(2013, 1, 1), date(2013, 1, 3))
    flights, weather = flights.cache(), weather.cache()
    flights.count()
    weather.count()
    yield flights, weather
    flights.unpersist()
    weather.unpersist()


def drop_ml_tables(spark) -> None:
    for table in ML_TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture()
def clean_silver(spark):
    """Drop every table the ML tests write, before and after the test (the metastore is shared)."""
    drop_ml_tables(spark)
    yield
    drop_ml_tables(spark)


@pytest.fixture()
def ml_cfg(make_config):
    """Config rooted at the test's folder, with the small ML settings."""
    return make_config(SMALL_ML)[0]


@pytest.fixture()
def silver_days(spark, ml_cfg, nyc_days, clean_silver):
    """silver.flights and silver.weather_hourly holding the three fixture days."""
    write_silver(spark, ml_cfg, *nyc_days)
    return ml_cfg
