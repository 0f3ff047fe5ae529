"""Fixtures of the benchmark tests: the synthetic generator, imported from scripts/."""

from __future__ import annotations

import importlib.util
import sys
import uuid

import pytest

from tests.support.project import REPO


def load_script(name: str):
    """Import scripts/<name>.py as a module (registered, so its dataclasses resolve)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synth():
    """The scripts/synth_bts.py module."""
    return load_script("synth_bts")


@pytest.fixture(scope="session")
def bench():
    """The scripts/bench.py module."""
    return load_script("bench")


@pytest.fixture()
def database(spark):
    """A fresh silver database name for one test (the metastore is shared); dropped after."""
    name = f"silver_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
