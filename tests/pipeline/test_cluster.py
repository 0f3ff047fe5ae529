"""The same entry scripts on a real Spark standalone cluster (master + worker from PySpark)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flightpipe.core.net import free_port
from tests.support.embedded import flights_on
from tests.support.project import PYTHON, REPO, write_config

CLUSTER = REPO / "scripts" / "cluster.sh"
SAMPLE = REPO / "tests" / "data" / "EWR_2013-01-01_openmeteo.json"
SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")


@pytest.fixture()
def cluster(tmp_path):
    """A master and a worker on free ports, stopped after the test."""
    ports = {
        "SPARK_MASTER_PORT": str(free_port()),
        "SPARK_MASTER_WEBUI_PORT": str(free_port()),
        "SPARK_WORKER_WEBUI_PORT": str(free_port()),
        "SPARK_WORKER_MEMORY": "2g",
        "SPARK_WORKER_CORES": "2",
    }
    env = {**os.environ, **ports}
    started = subprocess.run(
        ["bash", str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=120
    )
    try:
        assert started.returncode == 0, started.stderr
        yield f"spark://127.0.0.1:{ports['SPARK_MASTER_PORT']}"
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop"], env=env, capture_output=True, timeout=120)
        status = subprocess.run(["bash", str(CLUSTER), "status"], env=env, capture_output=True, text=True)
        assert "running" not in status.stdout


def test_ingest_and_streaming_run_unchanged_on_a_standalone_cluster(cluster, tmp_path, spark):
    zip_path = tmp_path / "flightpipe.zip"
    made = subprocess.run(
        ["make", "-s", "-C", str(REPO), "dist/flightpipe.zip"], capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    zip_path.write_bytes((REPO / "dist" / "flightpipe.zip").read_bytes())

    root = tmp_path / "project"
    config = write_config(
        root, {"spark": {"master": cluster}, "ingest": {"embedded": False, "openmeteo_files": [str(SAMPLE)]}}
    )
    env = {**os.environ, "PYSPARK_PYTHON": PYTHON, "PYSPARK_DRIVER_PYTHON": PYTHON}
    submit = [SPARK_SUBMIT, "--master", cluster, "--py-files", str(zip_path)]

    ingest = subprocess.run(
        [*submit, str(REPO / "ingest.py"), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    replay = subprocess.run(
        [
            PYTHON,
            str(REPO / "scripts" / "replay.py"),
            "--config",
            str(config),
            "--start",
            "2013-02-01",
            "--end",
            "2013-02-02",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    streaming = subprocess.run(
        [*submit, str(REPO / "streaming.py"), "--config", str(config), "--available-now"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert streaming.returncode == 0, streaming.stderr[-2000:]

    # The application really ran on the cluster's executors: the worker kept their folders.
    work = REPO / "var" / "cluster" / "work"
    apps = [p for p in work.iterdir() if p.name.startswith("app-")] if work.is_dir() else []
    assert apps, "no application ran on the worker"

    weather = spark.read.parquet(str(root / "bronze" / "weather" / "source_format=openmeteo"))
    assert weather.count() == 48
    flights = spark.read.parquet(str(root / "bronze" / "flights"))
    expected = flights_on(["2013-02-01", "2013-02-02"])
    assert flights.count() == expected
