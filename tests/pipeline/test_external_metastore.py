"""metastore.mode external: a MariaDB-backed Hive metastore lets several Spark jobs run at once."""

from __future__ import annotations

import os
import subprocess

import mysql.connector

from flightpipe.gold import server as mariadb
from tests.support.gold import run_script, start_server
from tests.support.project import PYTHON, REPO, write_config

PROBE = REPO / "tests" / "pipeline" / "metastore_probe.py"


def _probe(config, table: str, hold: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [PYTHON, str(PROBE), str(config), table, str(hold)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_jobs_share_an_external_metastore_at_once(tmp_path):
    server = start_server(tmp_path / "mdb", user="gold_meta")
    try:
        admin = mysql.connector.connect(
            unix_socket=str(server.root / "var" / "run" / "mariadb.sock"),
            user=mariadb.os_user(),
            autocommit=True,
        )
        cur = admin.cursor()
        # Hive's metastore schema needs latin1: its long VARCHAR keys exceed utf8mb4 limits.
        cur.execute("CREATE DATABASE hive_metastore CHARACTER SET latin1 COLLATE latin1_bin")
        for host in ("localhost", "127.0.0.1"):
            cur.execute(f"CREATE USER 'hive'@'{host}' IDENTIFIED BY 'hive-pw'")
            cur.execute(f"GRANT ALL ON hive_metastore.* TO 'hive'@'{host}'")
        admin.close()

        root = tmp_path / "project"
        url = f"jdbc:mysql://127.0.0.1:{server.port}/hive_metastore?permitMysqlScheme&useMysqlMetadata=true"
        config = write_config(
            root, {"metastore": {"mode": "external", "jdbc_url": url, "user": "hive", "password": "hive-pw"}}
        )
        # The first job creates Hive's schema in the empty database.
        first = _probe(config, "first", 0)
        _out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err[-3000:]
        # Two jobs at once: with embedded Derby the second would fail on the metastore lock.
        jobs = [_probe(config, "left", 4), _probe(config, "right", 4)]
        outputs = [job.communicate(timeout=600) for job in jobs]
        for job, (_out, err) in zip(jobs, outputs, strict=True):
            assert job.returncode == 0, err[-3000:]
        seen = [line for out, _ in outputs for line in out.splitlines() if line.startswith("tables:")]
        assert len(seen) == 2
        assert all({"first"} <= set(line.split(": ")[1].split(",")) for line in seen)
        assert not (root / "metastore_db").exists()

        conn = mysql.connector.connect(
            host="127.0.0.1", port=server.port, user="hive", password="hive-pw", database="hive_metastore"
        )
        cur = conn.cursor()
        cur.execute("SELECT TBL_NAME FROM TBLS ORDER BY TBL_NAME")
        assert [r[0] for r in cur.fetchall()] == ["first", "left", "right"]
        conn.close()
    finally:
        run_script("stop", server.config)
