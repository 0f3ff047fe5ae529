"""Checks that need no Spark: the format, the state of checkpoint and sink, the replay's range."""

from __future__ import annotations

import pytest

from flightpipe.bronze.feed import FORMATS, StreamPaths, feed_format
from flightpipe.bronze.streaming import check_state
from flightpipe.core.errors import PipelineError
from tests.support.streaming import run_replay


def test_an_unknown_feed_format_is_named_in_one_sentence(make_config):
    cfg, _ = make_config({"streaming": {"format": "parquet"}})
    with pytest.raises(
        PipelineError, match=r"'streaming.format' in .* must be one of nycflights13, bts, not 'parquet'"
    ):
        feed_format(cfg.streaming.format, cfg.config_file)


def test_a_sink_log_without_its_checkpoint_is_refused(cfg, tmp_path):
    paths = StreamPaths.of(cfg.paths, FORMATS["nycflights13"])
    check_state(paths)  # nothing yet: fine
    log = tmp_path / "bronze" / "flights" / "_spark_metadata"
    log.mkdir(parents=True)
    (log / "0").write_text("v1\n")
    with pytest.raises(PipelineError, match=r"checkpoint .* is missing"):
        check_state(paths)


def test_a_checkpoint_without_its_sink_log_is_refused(cfg, tmp_path):
    paths = StreamPaths.of(cfg.paths, FORMATS["nycflights13"])
    commits = tmp_path / "checkpoints" / "flights" / "commits"
    commits.mkdir(parents=True)
    (commits / "0").write_text("v1\n{}\n")
    with pytest.raises(PipelineError, match="has no _spark_metadata log"):
        check_state(paths)


def test_replay_refuses_dates_outside_the_embedded_year(make_config):
    _, path = make_config()
    done = run_replay(path, "--start", "2012-12-31", "--end", "2013-01-02")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "replay: error: --start 2012-12-31 and --end 2013-01-02 must be dates in 2013-01-01..2013-12-31 "
        "(the embedded flights), with start <= end."
    ]
