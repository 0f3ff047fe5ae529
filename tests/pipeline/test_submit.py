"""The one spark-submit command builder: everything from the config, nothing hard-coded."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flightpipe.core.errors import PipelineError
from flightpipe.core.session import JIT_OPTIONS
from flightpipe.core.settings import PACKAGE_ROOT
from flightpipe.core.stages import stage
from flightpipe.core.submit import SubmitSettings, spark_submit_command
from flightpipe.tools.pipeline import parser, selected, stage_command


def option(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd else None


def test_jars_driver_memory_and_log4j_come_from_the_config(make_config, tmp_path):
    jar = tmp_path / "jdbc" / "driver.jar"
    jar.parent.mkdir()
    jar.write_bytes(b"PK")
    cfg, _ = make_config({"spark": {"driver_memory": "3g", "jars": [str(jar), "jars/absent.jar"]}})
    settings = SubmitSettings.of(cfg.spark, log_dir=cfg.paths.logs)
    cmd = spark_submit_command(settings, "cleaning.py", ["--config", "c.yaml"], spark_submit="spark-submit")
    assert cmd[0] == "spark-submit"
    assert cmd[-3:] == ["cleaning.py", "--config", "c.yaml"]
    assert option(cmd, "--driver-memory") == "3g"
    assert option(cmd, "--master") == cfg.spark.master
    # Only the jars that are there: a missing one would stop the JVM.
    assert option(cmd, "--driver-class-path") == str(jar)
    java = option(cmd, "--driver-java-options").split()
    assert java == [
        f"-Dlog4j2.configurationFile=file:{cfg.spark.log4j_config}",
        f"-Dpipeline.log.dir={cfg.paths.logs}",
        f"-Dderby.stream.error.file={cfg.paths.logs}/derby.log",
        *JIT_OPTIONS,
    ]
    assert "--py-files" not in cmd


def test_master_and_py_files_of_a_cluster_run():
    settings = SubmitSettings(driver_memory="2g", master="local[*]")
    cmd = spark_submit_command(
        settings, "ingest.py", master="spark://127.0.0.1:7077", py_files="dist/flightpipe.zip"
    )
    assert cmd[0] == str(Path(sys.executable).parent / "spark-submit")
    assert option(cmd, "--master") == "spark://127.0.0.1:7077"
    assert option(cmd, "--py-files") == "dist/flightpipe.zip"
    assert "--driver-class-path" not in cmd
    assert cmd[-1] == "ingest.py"


def test_no_driver_memory_leaves_spark_submit_its_default():
    cmd = spark_submit_command(SubmitSettings(driver_memory=None), "gold.py")
    assert "--driver-memory" not in cmd


def test_no_jar_path_is_written_in_the_builder(tmp_path):
    settings = SubmitSettings(driver_memory="1g", jars=(str(tmp_path / "none.jar"),))
    cmd = spark_submit_command(settings, "gold.py")
    assert not any("mariadb-java-client" in part for part in cmd)
    assert not any(part.endswith(".jar") for part in cmd)


def pipeline_args(*argv: str) -> argparse.Namespace:
    args = parser().parse_args(["--config", "/c.yaml", *argv])
    return args


def test_the_pipeline_builds_each_step_from_the_graph():
    args = pipeline_args("--score-start", "2013-12-01", "--score-end", "2013-12-02")
    settings = SubmitSettings(driver_memory="4g", master="local[*]")
    ingest = stage_command(stage("ingest"), args, settings)
    assert ingest[-4:] == [ingest[-4], "--config", "/c.yaml", "--flights"]
    assert ingest[-4].endswith("/ingest.py")
    score = stage_command(stage("ml-score"), args, settings)
    assert score[-7:] == ["--config", "/c.yaml", "--score", "--start", "2013-12-01", "--end", "2013-12-02"]
    replay = stage_command(stage("replay"), args, settings)
    assert replay[0] == sys.executable and replay[1].endswith("/scripts/replay.py")
    assert replay[2:] == ["--config", "/c.yaml", "--start", "2013-12-01", "--end", "2013-12-31"]
    mariadb = stage_command(stage("mariadb"), args, settings)
    assert mariadb[0] == "bash" and mariadb[1].endswith("/scripts/mariadb.sh")
    assert mariadb[2:] == ["start", "--config", "/c.yaml"]


def test_nightly_leaves_out_the_feed_and_no_train_the_training():
    steps = [s.step for s in selected(pipeline_args("--nightly", "--no-train"))]
    assert steps == ["mariadb", "ingest", "streaming", "cleaning", "ml-score", "gold"]
    steps = [s.step for s in selected(pipeline_args("--skip", "mariadb", "replay"))]
    assert steps == ["ingest", "streaming", "cleaning", "ml-train", "ml-score", "gold"]


def test_select_picks_from_the_graph_and_skip_still_applies():
    steps = [s.step for s in selected(pipeline_args("--select", "cleaning+"))]
    assert steps == ["cleaning", "ml-train", "ml-score", "gold"]
    steps = [s.step for s in selected(pipeline_args("--select", "+cleaning", "--skip", "replay"))]
    assert steps == ["ingest", "streaming", "cleaning"]
    steps = [s.step for s in selected(pipeline_args("--select", "+gold", "--nightly", "--no-train"))]
    assert steps == ["mariadb", "ingest", "streaming", "cleaning", "gold"]


def test_an_unknown_skip_is_one_sentence():
    with pytest.raises(PipelineError, match=r"^there is no stage 'mariadbb'"):
        selected(pipeline_args("--skip", "mariadbb"))


def test_under_spark_submit_the_error_sentence_is_on_stderr_not_stdout(tmp_path):
    # spark-submit merges the Python driver's stderr into its stdout; the sentence must not follow.
    missing = tmp_path / "nowhere.yaml"
    cmd = spark_submit_command(SubmitSettings(driver_memory=None), str(PACKAGE_ROOT / "cleaning.py"))
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    run = subprocess.run(
        [*cmd, "--config", str(missing)], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 1
    sentence = f"cleaning: error: config file {missing} does not exist; pass --config PATH."
    assert run.stderr.strip().splitlines()[-1] == sentence
    assert "error" not in run.stdout
