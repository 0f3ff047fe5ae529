"""Dry runs that need no Spark: ingest, streaming and the replay plan their work and write nothing."""

from __future__ import annotations

import json
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest

from flightpipe.bronze import slots as bronze
from flightpipe.bronze.dryrun import describe_ingest, describe_streaming
from flightpipe.bronze.ingest import plan
from flightpipe.core.errors import PipelineError
from flightpipe.tools.replay import describe as describe_replay
from tests.support.bts import BTS_GOOD, BTS_HEADER, write_bts
from tests.support.project import PYTHON, REPO


def files_under(root: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_ingest_dry_run_checks_a_zipped_file_in_place_and_writes_nothing(make_config, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    csv_file = write_bts(inputs / "On_Time_2023_1.csv", BTS_GOOD)
    with zipfile.ZipFile(inputs / "On_Time_2023_1.zip", "w") as archive:
        archive.write(csv_file, "On_Time_2023_1.csv")
    csv_file.unlink()
    cfg, _ = make_config({"ingest": {"bts_files": [str(inputs / "*.zip")]}})
    before = files_under(tmp_path)

    planned = describe_ingest(cfg, flights=True)

    assert files_under(tmp_path) == before  # no zip extracted into the cache, no bronze folder
    written = [what for verb, what, _ in planned.lines if verb == "write"]
    slot = bronze.slot_path(cfg.paths.bronze, "flights_batch", "bts")
    assert slot in written and bronze.slot_path(cfg.paths.bronze, "flights_batch", "nycflights13") in written
    assert len(written) == 7  # four reference tables, two flight slots, the manifest


def test_ingest_dry_run_says_a_landed_slot_is_kept(make_config, tmp_path):
    cfg, _ = make_config(
        {"ingest": {"embedded": False, "bts_files": [str(write_bts(tmp_path / "a.csv", BTS_GOOD))]}}
    )
    (slot,) = plan(cfg.ingest, cfg.paths.cache, False, cfg.config_file)
    Path(bronze.slot_path(cfg.paths.bronze, "flights_batch", "bts")).mkdir(parents=True)
    bronze.write_manifest(cfg.paths.bronze, {slot.key: {"files": slot.fingerprint()}})
    assert [verb for verb, _, _ in describe_ingest(cfg).lines] == ["read", "keep"]
    assert [verb for verb, _, _ in describe_ingest(cfg, force=True).lines] == ["read", "replace", "write"]


def test_ingest_dry_run_stops_on_a_bad_header_as_the_run_would(make_config, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(BTS_HEADER.replace('"Origin",', "") + "\n")
    cfg, _ = make_config({"ingest": {"embedded": False, "bts_files": [str(bad)]}})
    with pytest.raises(PipelineError, match=r"bad.csv lacks the required column\(s\) Origin"):
        describe_ingest(cfg)


def test_streaming_dry_run_counts_the_files_its_checkpoint_has_not_read(make_config):
    cfg, _ = make_config()
    landing = Path(cfg.paths.landing)
    landing.mkdir(parents=True)
    header = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,"
    header += "flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour\n"
    for day in ("01", "02", "03"):
        (landing / f"flights_2013-01-{day}.csv").write_text(header)
    # The stream's source log: a version line, then the files of each micro-batch.
    log = Path(cfg.paths.checkpoints) / "flights" / "sources" / "0"
    log.mkdir(parents=True)
    read = {"path": (landing / "flights_2013-01-01.csv").as_uri(), "timestamp": 1, "batchId": 0}
    (log / "0").write_text("v1\n" + json.dumps(read) + "\n")

    planned = describe_streaming(cfg)

    assert planned.lines[0][2].startswith("2 new nycflights13 file(s) of 3 (1 already read")
    assert ("note", "first files", "flights_2013-01-02.csv, flights_2013-01-03.csv") in planned.lines
    (landing / "flights_2013-01-04.csv").write_text("year,month\n")
    with pytest.raises(PipelineError, match=r"flights_2013-01-04\.csv lacks the required column"):
        describe_streaming(cfg)


def test_replay_dry_run_lists_the_days_it_would_drop(make_config):
    cfg, _ = make_config()
    landing = Path(cfg.paths.landing)
    landing.mkdir(parents=True)
    (landing / "flights_2013-01-02.csv").write_text("")
    planned = describe_replay(
        cfg.paths.landing, cfg.paths.checkpoints, date(2013, 1, 1), date(2013, 1, 3), False
    )
    assert planned.lines[1:] == [
        ("write", cfg.paths.landing, "2 daily files flights_YYYY-MM-DD.csv"),
        ("keep", cfg.paths.landing, "1 days already landed or streamed"),
    ]
    assert sorted(p.name for p in landing.iterdir()) == ["flights_2013-01-02.csv"]


def test_the_scripts_list_dry_run_in_their_help():
    for script in (
        "ingest.py",
        "streaming.py",
        "cleaning.py",
        "ML.py",
        "gold.py",
        "scripts/replay.py",
        "scripts/pipeline.py",
    ):
        done = subprocess.run(
            [PYTHON, str(REPO / script), "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "--dry-run" in done.stdout, script
