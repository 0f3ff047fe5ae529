"""ML fixtures: a few real days of silver flights and weather, small model settings.

Every test reads and writes its own database (the ``database`` fixture of tests/conftest.py,
the config's ``catalog.silver_database``), never the shared ``silver``.
"""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F

from flightpipe.core.cli import recorded
from flightpipe.ml import features as ft
from flightpipe.ml.stage import run_ml, stage_name
from tests.support.ml import SMALL_ML, build_silver, write_silver


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


@pytest.fixture(scope="session")
def labelled_features(nyc_days):
    """The fixture days' features of every flight with a label, cached (built once per run)."""
    flights, weather = nyc_days
    feats = ft.build_features(flights, weather).where(F.col(ft.LABEL).isNotNull()).cache()
    feats.count()
    yield feats
    feats.unpersist()


@pytest.fixture()
def clean_silver(spark, database):
    """Drop the test's database with every table the ML stage wrote, after the test."""
    yield
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


@pytest.fixture()
def ml_cfg(make_config):
    """Config rooted at the test's folder, with the small ML settings."""
    return make_config(SMALL_ML)[0]


@pytest.fixture()
def silver_days(spark, ml_cfg, nyc_days, clean_silver):
    """The test database's flights and weather_hourly holding the three fixture days."""
    write_silver(spark, ml_cfg, *nyc_days)
    return ml_cfg
