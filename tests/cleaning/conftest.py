"""Fixtures of the cleaning tests: a silver database of its own per test."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture()
def database(spark):
    """A fresh database name (the metastore is shared by the whole test session); dropped after."""
    name = f"silver_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
