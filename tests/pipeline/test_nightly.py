"""scripts/nightly.sh: one run at a time, logs per run, cron's minimal environment."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.project import REPO, write_config

NIGHTLY = REPO / "scripts" / "nightly.sh"
CRON_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh"}
ALL_STAGES = ["mariadb", "ingest", "streaming", "cleaning", "ml-score", "gold"]


def test_a_second_nightly_run_exits_at_once_while_one_holds_the_lock(tmp_path):
    root = tmp_path / "project"
    config = write_config(root)
    lock = root / "var" / "nightly.lock"
    lock.parent.mkdir(parents=True)
    # A first run (a process holding the same flock) is in progress.
    holder = subprocess.Popen(["flock", str(lock), "sleep", "60"], start_new_session=True)
    try:
        for _ in range(50):
            if subprocess.run(["flock", "-n", str(lock), "true"]).returncode != 0:
                break
            time.sleep(0.1)
        started = time.monotonic()
        second = subprocess.run(
            [str(NIGHTLY), "--config", str(config)],
            cwd=tmp_path,
            env=CRON_ENV,
            capture_output=True,
            text=True,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    finally:
        os.killpg(holder.pid, 9)
        holder.wait()
    assert second.returncode == 75
    assert (
        second.stderr.strip() == f"nightly: another nightly run is still going (lock {lock}); this one exits."
    )
    assert elapsed < 10
    assert not (root / "var" / "log" / "nightly").exists() or not any(
        (root / "var" / "log" / "nightly").iterdir()
    )


def test_nightly_runs_from_cron_and_keeps_a_log_per_run(tmp_path):
    """From another directory with cron's PATH: the run log is written and old logs pruned."""
    root = tmp_path / "project"
    config = write_config(root)
    log_dir = root / "var" / "log" / "nightly"
    log_dir.mkdir(parents=True)
    old = log_dir / "20000101T000000Z.log"
    old.write_text("an old run\n")
    long_ago = time.time() - 40 * 86400
    os.utime(old, (long_ago, long_ago))
    # Every stage skipped: the run exercises the lock, environment, logging and pruning only.
    done = subprocess.run(
        [str(NIGHTLY), "--config", str(config), "--skip", *ALL_STAGES],
        cwd=tmp_path,
        env={**CRON_ENV, "NIGHTLY_LOG_DAYS": "30"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not old.exists()
    [log] = list(log_dir.glob("*.log"))
    text = Path(log).read_text()
    assert text.startswith("pipeline run ")
    assert "stage" in text and "seconds" in text


def test_a_bad_config_stops_nightly_with_one_sentence(tmp_path):
    done = subprocess.run(
        [str(NIGHTLY), "--config", str(tmp_path / "missing.yaml")],
        cwd=tmp_path,
        env=CRON_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"nightly: config file {tmp_path / 'missing.yaml'} does not exist; pass --config PATH."
    )
