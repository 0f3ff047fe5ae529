"""Gold fixtures: a real MariaDB started by the project's script, silver fixture tables."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mysql.connector
import pytest

from flightpipe.core.catalog import ensure_database
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import load_config
from flightpipe.gold import server as mariadb
from tests.gold import gold_data
from tests.support.project import PYTHON, REPO, write_config

SCRIPT = REPO / "scripts" / "mariadb.sh"
SILVER_TABLES = ("flights", "weather_hourly", "airlines", "airports", "model_metrics", "pipeline_runs")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_script(action: str, config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """scripts/mariadb.sh <action> --config <config>, as a user runs it."""
    return subprocess.run(
        [str(SCRIPT), action, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHON": PYTHON, **(env or {})},
    )


@dataclass
class Server:
    """A running test server and the config overrides that point at it."""

    root: Path
    port: int
    user: str
    password: str
    config: Path

    def overrides(self, **gold) -> dict:
        var = self.root / "var"
        return {
            "gold": {
                "host": "127.0.0.1",
                "port": self.port,
                "database": "flights_gold",
                "user": self.user,
                "password": self.password,
                **gold,
            },
            "mariadb": {
                "local": True,
                "data_dir": str(var / "mariadb"),
                "socket": str(var / "run" / "mariadb.sock"),
                "pid_file": str(var / "run" / "mariadb.pid"),
                "error_log": str(var / "log" / "mariadbd.log"),
            },
        }


def start_server(root: Path, user: str = "gold_test") -> Server:
    """Start a server on a free port with its data under ``root``; fail (never skip) if impossible."""
    try:
        mariadb.find_binary("mariadbd")
        mariadb.find_binary("mariadb-install-db")
    except PipelineError as exc:
        pytest.fail(f"the gold tests need a real MariaDB: {exc}")
    # Quotes and a dollar sign: the password must survive SQL, YAML and JDBC untouched.
    password = f"Pw'{secrets.token_hex(8)}\"$x"
    port = free_port()
    server = Server(
        root=root, port=port, user=user, password=password, config=root / "conf" / "pipeline.yaml"
    )
    write_config(root, server.overrides())
    done = run_script("start", server.config)
    if done.returncode != 0:
        pytest.fail(f"scripts/mariadb.sh start failed: {done.stderr.strip()}")
    return server


def stop_server(server: Server) -> subprocess.CompletedProcess:
    """scripts/mariadb.sh stop; should the script fail, the server is still ended by its pid."""
    pid_file = server.root / "var" / "run" / "mariadb.pid"
    pid = int(pid_file.read_text()) if pid_file.is_file() else None
    done = run_script("stop", server.config)
    if pid is not None and mariadb.is_server_process(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while mariadb.is_server_process(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    return done


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory) -> Iterator[Server]:
    """One real MariaDB for the gold tests, started and stopped by scripts/mariadb.sh."""
    server = start_server(tmp_path_factory.mktemp("mdb"))
    yield server
    done = stop_server(server)
    assert done.returncode == 0, done.stderr


def admin(server: Server):
    """Admin connection (socket authentication as the OS user)."""
    return mysql.connector.connect(
        unix_socket=str(server.root / "var" / "run" / "mariadb.sock"), user=mariadb.os_user(), autocommit=True
    )


def query(cfg, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``sql`` run as the gold user."""
    gold = cfg.gold
    conn = mysql.connector.connect(
        host=gold.host, port=gold.port, user=gold.user, password=gold.password, database=gold.database
    )
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def tables(cfg) -> set[str]:
    return {r[0] for r in query(cfg, "SHOW TABLES")}


def empty_gold_database(server: Server) -> None:
    conn = admin(server)
    cur = conn.cursor()
    cur.execute("SHOW TABLES FROM flights_gold")
    for (name,) in cur.fetchall():
        cur.execute(f"DROP TABLE flights_gold.`{name}`")
    conn.close()


def gold_config(server: Server, root: Path, overrides: dict | None = None):
    """(config, yaml path) rooted at ``root`` and pointing at the test server."""
    merged = server.overrides()
    for key, value in (overrides or {}).items():
        merged[key] = {**merged.get(key, {}), **value}
    path = write_config(root, merged)
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_ROOT"}
    return load_config(path, environ=env), path


@pytest.fixture()
def gold_cfg(mariadb_server, tmp_path):
    """(config, yaml path) pointing at the test server, with an empty gold database."""
    empty_gold_database(mariadb_server)
    return gold_config(mariadb_server, tmp_path)


@pytest.fixture()
def silver(spark, gold_cfg):
    """The fixture silver tables in the shared metastore (model_metrics included); dropped after."""
    cfg, _ = gold_cfg
    ensure_database(spark, "silver", cfg.paths.warehouse)
    write_silver(spark)
    yield cfg
    drop_silver(spark)


def write_silver(spark, flights=None, with_metrics: bool = True) -> None:
    """(Re)write the silver fixture tables; ``flights`` replaces the flight rows."""
    from flightpipe.contracts.silver import SILVER_WEATHER_HOURLY

    frames = {
        "flights": spark.createDataFrame(flights or gold_data.FLIGHT_ROWS, gold_data.SCHEMAS["flights"]),
        "weather_hourly": spark.createDataFrame(gold_data.WEATHER_ROWS, SILVER_WEATHER_HOURLY),
        "airlines": spark.createDataFrame(gold_data.AIRLINE_ROWS, gold_data.SCHEMAS["airlines"]),
        "airports": spark.createDataFrame(gold_data.AIRPORT_ROWS, gold_data.SCHEMAS["airports"]),
        "pipeline_runs": spark.createDataFrame(gold_data.RUN_ROWS, gold_data.SCHEMAS["pipeline_runs"]),
    }
    if with_metrics:
        frames["model_metrics"] = spark.createDataFrame(gold_data.METRICS_ROWS, gold_data.METRICS_COLUMNS)
    else:
        spark.sql("DROP TABLE IF EXISTS silver.model_metrics")
    for name, df in frames.items():
        df.write.mode("overwrite").format("parquet").saveAsTable(f"silver.{name}")


def drop_silver(spark) -> None:
    for name in SILVER_TABLES:
        spark.sql(f"DROP TABLE IF EXISTS silver.{name}")


def run_gold(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``.venv/bin/python gold.py --config <yaml>`` from another directory, as cron would."""
    return subprocess.run(
        [PYTHON, str(REPO / "gold.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
        env={**os.environ, **(env or {})},
    )


def one_sentence(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("gold: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr
    return lines[0]
