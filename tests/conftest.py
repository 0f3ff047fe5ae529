"""Shared fixtures: one local[2] SparkSession with Hive for the whole run, and
per-test project roots with their own config."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from flightpipe.core import net
from flightpipe.core.settings import Settings, load_config
from tests.support.project import merge, write_config

# The scripts the tests start with spark-submit live seconds on a few days of data: HotSpot's
# C2 compiler, whose code pays off over minutes, would take one of the two cores most of that
# time. Their JVMs stop at C1 (the flag changes no result); the session below, which lives the
# whole run, keeps both compilers.
SUBPROCESS_JIT = "-XX:TieredStopAtLevel=1"


def pytest_configure(config) -> None:
    os.environ.setdefault("SPARK_SUBMIT_OPTS", SUBPROCESS_JIT)


# make test runs two pytest-xdist workers, each taking a whole file when it is free, in
# collection order (--no-loadscope-reorder). The longest files go first so neither worker is
# left alone with one at the end: the end-to-end run alone is a quarter of the suite.
LONGEST_FIRST = (
    "pipeline/test_end_to_end.py",
    "ml/test_ml_train.py",
    "gold/test_gold_load.py",
    "streaming/test_scripts.py",
    "cleaning/test_cleaning_integration.py",
    "pipeline/test_cluster.py",
    "bench/test_synth.py",
    "ml/test_ml_ablation.py",
    "cleaning/test_cleaning_backfill.py",
    "pipeline/test_external_metastore.py",
    "test_ingest.py",
    "gold/test_gold_range.py",
    "cleaning/test_cleaning_cli.py",
    "ml/test_ml_features.py",
)
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(TESTS).as_posix(), len(rank)))


@pytest.fixture()
def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    return net.free_port()


@pytest.fixture()
def database(request) -> str:
    """A Hive database name of this test's own, so no test writes the shared ``silver``."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def make_config(tmp_path: Path, database: str):
    """Factory: ``make_config(overrides)`` -> (loaded config, path of the yaml file).

    The config's silver database is this test's own (``database``).
    """

    def factory(overrides: dict | None = None, root: Path | None = None) -> tuple[Settings, Path]:
        overrides = merge({"catalog": {"silver_database": database}}, overrides or {})
        path = write_config(root or tmp_path, overrides)
        return load_config(path, environ={k: v for k, v in os.environ.items() if k != "PIPELINE_ROOT"}), path

    return factory


@pytest.fixture()
def cfg(make_config) -> Settings:
    """The default config, rooted at this test's temporary folder."""
    return make_config()[0]


@pytest.fixture()
def record(cfg: Settings):
    """A stage run record in this test's run folder, as the stage lifecycle hands it over."""
    from flightpipe.core.runlog import StageRun, runs_dir

    return StageRun(runs_dir(cfg.paths.var), "test")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One SparkSession (local[2], Hive, few shuffle partitions, no UI) for every test."""
    from flightpipe.core.session import build_session

    root = tmp_path_factory.mktemp("spark-session")
    session_cfg = load_config(write_config(root), environ={})
    # pyspark starts this JVM through spark-submit, which would read the subprocesses' option.
    with pytest.MonkeyPatch.context() as env:
        if os.environ.get("SPARK_SUBMIT_OPTS") == SUBPROCESS_JIT:
            env.delenv("SPARK_SUBMIT_OPTS")
        session = build_session(session_cfg, "tests")
    yield session
    session.stop()
