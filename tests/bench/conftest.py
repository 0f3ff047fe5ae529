"""Fixtures of the benchmark tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture()
def database(spark):
    """A fresh silver database name for one test (the metastore is shared); dropped after."""
    name = f"silver_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
