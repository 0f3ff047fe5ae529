"""Clear failures: one sentence on stderr, exit 1, no table touched, no password anywhere."""

from __future__ import annotations

import pytest

from flightpipe.core.cli import recorded
from flightpipe.core.errors import PipelineError
from flightpipe.gold.stage import run_gold as gold_stage
from tests.support.gold import gold_config, one_sentence, run_gold, tables

WRONG_PASSWORD = "Wrong'pw\"-7c1f"


def test_wrong_password_is_one_sentence_without_the_password(mariadb_server, tmp_path, database):
    # The password comes from the environment, as with .env, not from the YAML file.
    _, path = gold_config(mariadb_server, tmp_path, database, {"gold": {"password": "${GOLD_DB_PASSWORD:-}"}})
    done = run_gold(path, {"GOLD_DB_PASSWORD": WRONG_PASSWORD})
    assert done.returncode == 1
    line = one_sentence(done.stderr)
    assert f"MariaDB at 127.0.0.1:{mariadb_server.port} refused the login of user 'gold_test'" in line
    assert "GOLD_DB_PASSWORD" in line
    log = (tmp_path / "var" / "log" / "gold.log").read_text()
    for secret in (WRONG_PASSWORD, mariadb_server.password):
        assert secret not in done.stderr and secret not in done.stdout and secret not in log


def test_unreachable_server_is_one_sentence(mariadb_server, tmp_path, database, free_port):
    port = free_port  # nothing listens there
    _, path = gold_config(mariadb_server, tmp_path, database, {"gold": {"port": port}})
    done = run_gold(path)
    assert done.returncode == 1
    line = one_sentence(done.stderr)
    assert line == (
        f"gold: error: MariaDB at 127.0.0.1:{port} is not reachable; start it with 'scripts/mariadb.sh start' "
        "or set gold.host / gold.port (GOLD_DB_HOST, MARIADB_PORT) to a running server."
    )
    assert mariadb_server.password not in done.stderr


def test_missing_jdbc_jar_is_one_sentence(mariadb_server, tmp_path, database):
    jar = tmp_path / "jars" / "mariadb-java-client.jar"
    _, path = gold_config(mariadb_server, tmp_path, database, {"spark": {"jars": [str(jar)]}})
    done = run_gold(path)
    assert done.returncode == 1
    line = one_sentence(done.stderr)
    assert f"the JDBC driver jar {jar} is missing; run 'make setup'" in line


def test_missing_silver_table_fails_before_touching_gold(spark, gold_cfg, database):
    cfg, _ = gold_cfg  # this test's silver database was never created
    with pytest.raises(PipelineError) as failure:
        recorded(spark, cfg, "gold", gold_stage)
    assert str(failure.value) == (
        f"silver table {database}.flights does not exist in the metastore at {cfg.paths.metastore_db}; "
        "run cleaning.py first."
    )
    assert tables(cfg) == set()
