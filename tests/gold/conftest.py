"""Gold fixtures: one real MariaDB for the level, configs reading a test's own silver database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.gold import Server, empty_gold_database, gold_config, start_server, stop_server


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory) -> Iterator[Server]:
    """One real MariaDB for the gold tests, started and stopped by scripts/mariadb.sh."""
    server = start_server(tmp_path_factory.mktemp("mdb"))
    yield server
    done = stop_server(server)
    assert done.returncode == 0, done.stderr


@pytest.fixture()
def gold_cfg(mariadb_server, tmp_path, database):
    """(config, yaml path) pointing at the test server and this test's silver database,
    with an empty gold database."""
    empty_gold_database(mariadb_server)
    return gold_config(mariadb_server, tmp_path, database)


@pytest.fixture(scope="module")
def module_database() -> str:
    """A Hive database of a test module's own, for module-scoped runs (``database`` is per test)."""
    return f"t_{uuid.uuid4().hex[:10]}"
