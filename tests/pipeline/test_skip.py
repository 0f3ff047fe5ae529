"""pipeline.py --skip-unchanged: input signatures, the skip decision, and a run that starts nothing."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from flightpipe.core import changes, stages
from flightpipe.silver.plan import STATE_VERSION
from flightpipe.tools import pipeline
from tests.support.project import PYTHON, REPO

CLEANING = stages.stage("cleaning")
GOLD = stages.stage("gold")


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def where(tmp_path: Path) -> changes.Locations:
    """Locations under tmp_path, with one bronze file per table cleaning reads."""
    config = touch(tmp_path / "pipeline.yaml", "a: 1\n")
    for table in ("flights", "flights_batch", "weather", "airports", "airlines"):
        touch(tmp_path / "bronze" / table / "source_format=bts" / "part-0.parquet")
    return changes.Locations(
        bronze=str(tmp_path / "bronze"),
        silver=str(tmp_path / "warehouse" / "silver.db"),
        landing=str(tmp_path / "landing"),
        models=str(tmp_path / "models"),
        state=str(tmp_path / "var" / "state" / "inputs"),
        config_file=str(config),
        files={"ingest.bts_files": (str(tmp_path / "bts" / "*.csv"),)},
    )


def test_new_changed_or_removed_files_and_the_config_change_the_signature(where, tmp_path):
    first = changes.take(CLEANING, where, [])
    assert changes.take(CLEANING, where, []) == first
    extra = touch(tmp_path / "bronze" / "weather" / "source_format=bts" / "part-1.parquet")
    assert changes.take(CLEANING, where, []) != first
    extra.unlink()
    assert changes.take(CLEANING, where, []) == first
    part = tmp_path / "bronze" / "airports" / "source_format=bts" / "part-0.parquet"
    stat = part.stat()
    part.write_text("xy")
    os.utime(part, (stat.st_atime, stat.st_mtime))  # only the size differs
    assert changes.take(CLEANING, where, []) != first
    part.unlink()
    assert changes.take(CLEANING, where, []) != first
    touch(part)
    os.utime(part, (stat.st_atime, stat.st_mtime))
    assert changes.take(CLEANING, where, []) == first
    touch(Path(where.config_file), "a: 2\n")
    assert changes.take(CLEANING, where, []) != first
    assert changes.take(CLEANING, where, ["--start", "2013-01-01"]) != changes.take(CLEANING, where, [])


def test_run_logs_and_spark_bookkeeping_files_are_not_inputs(where, tmp_path):
    silver = tmp_path / "warehouse" / "silver.db"
    touch(silver / "flights" / "part-0.parquet")
    first = changes.take(GOLD, where, [])
    touch(silver / "pipeline_runs" / "part-0.parquet")
    touch(silver / "dq_results" / "part-0.parquet")
    touch(silver / "flights" / "_SUCCESS")
    touch(silver / "flights" / ".part-0.parquet.crc")
    assert changes.take(GOLD, where, []) == first
    touch(silver / "model_metrics" / "part-0.parquet")
    assert changes.take(GOLD, where, []) != first


def test_ingest_files_by_glob_and_the_weather_api(where, tmp_path):
    ingest = stages.stage("ingest")
    first = changes.take(ingest, where, [])
    touch(tmp_path / "bts" / "2013_01.csv")
    assert changes.take(ingest, where, []) != first
    api = changes.Locations(**{**where.__dict__, "api_enabled": True})
    decision = changes.decide(ingest, api, [])
    assert not decision.skip and decision.signature is None and "Open-Meteo" in decision.why


def test_an_unchanged_step_with_its_outputs_in_place_is_skipped(where, tmp_path):
    silver = tmp_path / "warehouse" / "silver.db"
    for table in ("flights", "flights_rejected", "weather_hourly", "airports", "airlines"):
        touch(silver / table / "part-0.parquet")
    assert not changes.decide(CLEANING, where, []).skip  # nothing saved yet
    changes.save(where, CLEANING, changes.take(CLEANING, where, []))
    decision = changes.decide(CLEANING, where, [])
    assert decision.skip and decision.since.endswith("UTC")
    assert not changes.decide(CLEANING, where, ["--start", "2013-01-01"]).skip
    (silver / "weather_hourly" / "part-0.parquet").unlink()
    assert not changes.decide(CLEANING, where, []).skip
    changes.forget(where, CLEANING)
    assert not Path(changes.state_path(where, "cleaning")).exists()


def test_the_decision_is_the_saved_signature_and_every_listed_output():
    saved = {"signature": "abc", "outputs": ["/a", "/b"]}
    assert changes.is_unchanged(saved, "abc", lambda p: True)
    assert not changes.is_unchanged(saved, "abd", lambda p: True)
    assert not changes.is_unchanged(saved, "abc", lambda p: p != "/b")
    assert not changes.is_unchanged(None, "abc", lambda p: True)
    assert not changes.is_unchanged(saved, None, lambda p: True)


def test_mariadb_starts_only_before_a_jdbc_step_that_runs(where, tmp_path, monkeypatch):
    started: list[str] = []

    def fake_run(stage, *_):
        started.append(stage.step)
        return {"stage": stage.step, "seconds": 1.0, "code": 0, "status": "ok"}

    monkeypatch.setattr(pipeline, "run_step", fake_run)
    steps = [stages.stage("mariadb"), CLEANING, GOLD]
    args = pipeline.parser().parse_args(["--skip-unchanged"])
    summary, failed = pipeline.run_steps(steps, args, where, None, {}, str(tmp_path / "var"))
    assert failed is None and started == ["cleaning", "mariadb", "gold"]
    assert [r["stage"] for r in summary] == ["mariadb", "cleaning", "gold"]
    started.clear()
    summary, failed = pipeline.run_steps(steps, args, where, None, {}, str(tmp_path / "var"))
    assert started == [] and failed is None
    assert [r["status"].split(" (")[0] for r in summary] == ["skipped"] * 3


def test_a_failed_step_drops_its_saved_signature(where, tmp_path, monkeypatch):
    changes.save(where, CLEANING, changes.take(CLEANING, where, []))
    monkeypatch.setattr(pipeline, "run_step", lambda stage, *_: {"stage": stage.step, "code": 3})
    args = pipeline.parser().parse_args([])
    _, failed = pipeline.run_steps([CLEANING], args, where, None, {}, str(tmp_path / "var"))
    assert failed == "cleaning"
    assert not Path(changes.state_path(where, "cleaning")).exists()


def test_the_dry_run_keeps_what_follows_a_step_that_would_run(where, tmp_path, capsys):
    args = pipeline.parser().parse_args(["--skip-unchanged"])
    steps = [stages.stage("mariadb"), stages.stage("ingest"), CLEANING, GOLD]
    for stage in steps[1:]:
        changes.save(where, stage, changes.take(stage, where, pipeline.signature_arguments(stage, args)))
    assert pipeline.dry_run_skips(steps, args, where) == []
    touch(tmp_path / "bts" / "2013_01.csv")  # ingest would land it: cleaning and gold wait for it
    assert pipeline.dry_run_skips(steps, args, where) == steps
    touch(tmp_path / "bronze" / "weather" / "source_format=bts" / "part-1.parquet")
    changes.save(where, steps[1], changes.take(steps[1], where, pipeline.step_arguments(steps[1], args)))
    capsys.readouterr()
    assert pipeline.dry_run_skips(steps, args, where) == [steps[0], CLEANING, GOLD]
    assert capsys.readouterr().out.startswith(
        "ingest --dry-run (nothing was written):\n  note     would skip"
    )


def fake_project(cfg, steps, args) -> None:
    """Small input and output folders for every step, and their signatures saved as an OK run would."""
    where = pipeline.locations(cfg)
    for stage in steps:
        for path in (*changes.outputs(stage, where), cfg.paths.landing, cfg.paths.models):
            touch(Path(path) / "part-0.parquet")
    for stage in steps:
        if stage.kind != "service":
            changes.save(where, stage, changes.take(stage, where, pipeline.signature_arguments(stage, args)))


def test_a_run_with_nothing_new_starts_no_stage(make_config, capsys):
    cfg, config = make_config({"ingest": {"openmeteo_api": {"enabled": False}}})
    options = ["--config", str(config), "--nightly", "--no-train", "--skip-unchanged"]
    args = pipeline.parser().parse_args(options)
    steps = pipeline.selected(args)
    fake_project(cfg, steps, args)

    assert pipeline.main([*options, "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert planned.count("would skip (nothing new since") == len(steps) - 1
    assert "mariadb --dry-run (nothing was written):\n  note     would skip (no later step" in planned

    began = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "flightpipe.tools.pipeline", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 15
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if "skipped (" in line}
    assert set(rows) >= {s.step for s in steps}
    for stage in steps:
        why = "no later step that uses it runs" if stage.kind == "service" else "nothing new since"
        assert f"skipped ({why}" in rows[stage.step]
    assert "nothing new: every step was skipped." in done.stdout
    assert not Path(cfg.paths.logs, "spark.log").exists()


def test_the_nightly_scoring_window_is_not_part_of_the_signature():
    night = pipeline.parser().parse_args(["--score-start", "2026-11-25", "--score-end", "2026-12-02"])
    next_night = pipeline.parser().parse_args(["--score-start", "2026-11-26", "--score-end", "2026-12-03"])
    score = stages.stage("ml-score")
    assert pipeline.signature_arguments(score, night) == pipeline.signature_arguments(score, next_night)
    assert pipeline.step_arguments(score, night) != pipeline.step_arguments(score, next_night)


def test_a_stale_source_ends_a_run_that_skipped_everything_with_exit_2(make_config, capsys):
    """Freshness is judged from the cleaning state, so a night with nothing new still reports it."""
    freshness = {"bts": {"warn_after": "", "error_after": "30d"}}
    cfg, config = make_config(
        {"ingest": {"openmeteo_api": {"enabled": False}}, "quality": {"freshness": freshness}}
    )
    options = ["--config", str(config), "--nightly", "--no-train", "--skip-unchanged"]
    args = pipeline.parser().parse_args(options)
    fake_project(cfg, pipeline.selected(args), args)
    state = Path(cfg.paths.var) / "cleaning" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(f'{{"version": {STATE_VERSION}, "newest": {{"bts": "2013-12-31"}}}}')

    assert pipeline.main(options) == 2
    out, err = capsys.readouterr()
    assert "nothing new: every step was skipped." in out
    assert "freshness failed bts: newest flight date landed 2013-12-31" in out
    assert err.startswith(
        "pipeline: error: source data is stale (bts: newest flight date landed 2013-12-31, "
    )
    assert "error after 30 days" in err and f"error_after in {config}" in err
