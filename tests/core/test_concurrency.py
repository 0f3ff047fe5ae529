"""Work run beside other work: Spark actions side by side, and a stage's background preparation."""

import threading

import pytest

from flightpipe.core.cli import InBackground
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import side_by_side


def test_side_by_side_returns_each_result_in_order_and_runs_them_at_once(spark):
    first = spark.range(10).where("id % 2 = 0")
    second = spark.range(7)
    both_running = threading.Barrier(2, timeout=30)

    def count_when_both_run(df):
        # Deadlocks (and times out) unless the two actions run at the same time.
        both_running.wait()
        return df.count()

    assert side_by_side([lambda: count_when_both_run(first), lambda: count_when_both_run(second)]) == [5, 7]
    assert side_by_side([]) == []


def test_side_by_side_raises_an_action_failure():
    def failing():
        raise PipelineError("no such table")

    with pytest.raises(PipelineError, match="no such table"):
        side_by_side([lambda: 1, failing])


def test_in_background_hands_its_result_to_the_body():
    started = threading.Event()
    release = threading.Event()

    def work(cfg):
        started.set()
        release.wait(30)
        return f"planned {cfg}"

    job = InBackground(work)
    job.start("cfg")
    # The caller goes on (the session starts) while the work runs.
    assert started.wait(30)
    release.set()
    assert job.result() == "planned cfg"


def test_in_background_raises_the_work_error_where_the_result_is_used():
    def work(cfg):
        raise PipelineError(f"file {cfg} is empty")

    job = InBackground(work)
    job.start("a.csv")
    with pytest.raises(PipelineError, match=r"file a\.csv is empty"):
        job.result()
