"""Gold test helpers: a real MariaDB started by the project's script, silver fixture tables
in a test's own Hive database, and runs of gold.py as a user starts it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import mysql.connector
import pytest

from flightpipe.core.errors import PipelineError
from flightpipe.core.net import free_port
from flightpipe.core.settings import load_config
from flightpipe.gold import server as mariadb
from tests.support import gold_data
from tests.support.project import PYTHON, REPO, merge, write_config

SCRIPT = REPO / "scripts" / "mariadb.sh"


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


def gold_config(server: Server, root: Path, database: str, overrides: dict | None = None):
    """(config, yaml path) rooted at ``root``, reading silver from ``database``, loading the test server."""
    merged = merge(server.overrides(), {"catalog": {"silver_database": database}})
    path = write_config(root, merge(merged, overrides or {}))
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_ROOT"}
    return load_config(path, environ=env), path


def write_silver(spark, database: str, flights=None, with_metrics: bool = True) -> None:
    """(Re)write the silver fixture tables of ``database``; ``flights`` replaces the flight rows."""
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
        spark.sql(f"DROP TABLE IF EXISTS {database}.model_metrics")
    for name, df in frames.items():
        df.write.mode("overwrite").format("parquet").saveAsTable(f"{database}.{name}")


def drop_silver(spark, database: str) -> None:
    """Drop the fixture tables and their database."""
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


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
