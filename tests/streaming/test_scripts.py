"""streaming.py and scripts/replay.py as the user runs them: real processes, real signals."""

from __future__ import annotations

import os
import signal
import time
from datetime import date, timedelta
from pathlib import Path

from tests.support.project import PYTHON, REPO
from tests.support.streaming import (
    committed_batches,
    counts_per_day,
    natural_keys,
    planned_batches,
    run_replay,
    run_streaming,
    source_rows,
    start_streaming,
)


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def bronze_keys(spark, sink: Path):
    rows = (
        spark.read.parquet(str(sink))
        .select("flight_date", "carrier", "flight", "origin", "sched_dep_time")
        .collect()
    )
    from collections import Counter

    return Counter(tuple(r) for r in rows)


def wait_for(condition, timeout: float, what: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"streaming.py exited with {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_replay_then_available_now_lands_every_row_of_each_day(spark, make_config):
    cfg, config_path = make_config()
    replayed = run_replay(config_path, "--start", "2013-03-01", "--end", "2013-03-03")
    assert replayed.returncode == 0, replayed.stderr
    landing = Path(cfg.paths.landing)
    names = sorted(p.name for p in landing.iterdir())
    assert names == ["flights_2013-03-01.csv", "flights_2013-03-02.csv", "flights_2013-03-03.csv"]
    # Nothing left behind in the temporary folder next to the landing folder.
    assert sorted(p.name for p in landing.parent.iterdir()) == ["flights"]

    done = run_streaming(config_path, "--available-now")
    assert done.returncode == 0, done.stderr
    expected = counts_per_day(source_rows(days(date(2013, 3, 1), date(2013, 3, 3))))
    sink = Path(cfg.paths.bronze) / "flights"
    got = {
        r.flight_date: r["count"]
        for r in spark.read.parquet(str(sink)).groupBy("flight_date").count().collect()
    }
    assert got == expected
    total = sum(expected.values())
    assert f"batch 0: 3 files, {total:,} rows" in done.stderr
    assert f"3 files, {total:,} rows in, {total:,} to {sink}" in done.stderr
    assert (sink / "_spark_metadata" / "0").is_file()
    # Streaming never opens the Hive metastore.
    assert not Path(cfg.paths.metastore_db).exists()

    # Replaying the same days writes nothing: the stream would ignore a rewritten name.
    before = {p.name: p.stat().st_mtime_ns for p in landing.iterdir()}
    again = run_replay(config_path, "--start", "2013-03-01", "--end", "2013-03-04")
    assert again.returncode == 0, again.stderr
    assert "wrote 1 daily files" in again.stderr and "skipped 3 days" in again.stderr
    after = {p.name: p.stat().st_mtime_ns for p in landing.iterdir()}
    assert {k: after[k] for k in before} == before


def test_sigkill_mid_feed_then_restart_lands_every_row_exactly_once(spark, stream_config, tmp_path):
    cfg, config_path = stream_config()
    checkpoint = Path(cfg.paths.checkpoints) / "flights"
    sink = Path(cfg.paths.bronze) / "flights"
    first, last = date(2013, 7, 1), date(2013, 7, 6)
    assert run_replay(config_path, "--start", "2013-07-01", "--end", "2013-07-02").returncode == 0

    proc = start_streaming(config_path, log=tmp_path / "stream.log")
    feed = None
    try:
        wait_for(lambda: 0 in committed_batches(checkpoint), 240, "the first micro-batch", proc)
        # The rest of the feed arrives while the query runs.
        feed = __import__("subprocess").Popen(
            [*run_replay_command(config_path), "--start", "2013-07-03", "--end", "2013-07-06", "--rate", "1"],
        )
        # Kill while a micro-batch is planned but not committed: the worst moment.
        wait_for(
            lambda: bool(planned_batches(checkpoint) - committed_batches(checkpoint) - {0}),
            120,
            "a micro-batch in progress",
            proc,
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        in_flight = planned_batches(checkpoint) - committed_batches(checkpoint)
        assert in_flight, "the kill was meant to interrupt a micro-batch"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        if feed is not None:
            feed.wait(60)
    assert feed.returncode == 0

    restarted = run_streaming(config_path, "--available-now")
    assert restarted.returncode == 0, restarted.stderr
    expected = natural_keys(source_rows(days(first, last)))
    got = bronze_keys(spark, sink)
    assert sum(got.values()) == sum(expected.values())
    assert got == expected
    assert spark.read.parquet(str(sink)).select("_source_file").distinct().count() == 6
    # No line was rejected, and no rejected-lines file was left by the killed micro-batch.
    assert not list((Path(cfg.paths.bronze) / "_rejected").rglob("*.parquet"))


def run_replay_command(config_path: Path) -> list[str]:
    return [PYTHON, str(REPO / "scripts" / "replay.py"), "--config", str(config_path)]


def test_sigterm_stops_after_the_current_micro_batch_with_exit_code_0(spark, stream_config, tmp_path):
    # A trigger every 6 s leaves a wide gap after the first micro-batch, so the signal lands
    # between two micro-batches however fast this machine runs them.
    cfg, config_path = stream_config(trigger_seconds=6)
    checkpoint = Path(cfg.paths.checkpoints) / "flights"
    first, last = date(2013, 9, 1), date(2013, 9, 5)
    assert run_replay(config_path, "--start", str(first), "--end", str(last)).returncode == 0
    log = tmp_path / "stream.log"
    proc = start_streaming(config_path, log=log)
    try:
        wait_for(lambda: 0 in committed_batches(checkpoint), 240, "the first micro-batch", proc)
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    output = log.read_text()
    assert code == 0, output
    assert "SIGTERM received: stopping after the current micro-batch" in output
    assert "micro-batches in" in output
    committed = committed_batches(checkpoint)
    # One file per micro-batch: it stopped well before the fifth (after the first, or after the
    # one running when a loaded machine delivered the signal late).
    assert committed in ({0}, {0, 1}, {0, 1, 2}), committed
    landed = spark.read.parquet(str(Path(cfg.paths.bronze) / "flights"))
    expected = counts_per_day(source_rows(days(first, last)))
    got = {r.flight_date: r["count"] for r in landed.groupBy("flight_date").count().collect()}
    # Each committed micro-batch is one whole day; nothing of an interrupted one is visible.
    assert len(got) == len(committed)
    assert got == {d: expected[d] for d in got}
