"""The one spark-submit command line of an entry script, from the config's spark settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flightpipe.core.session import java_options


@dataclass(frozen=True)
class SubmitSettings:
    """What spark-submit must know before the driver JVM starts."""

    driver_memory: str | None
    master: str | None = None
    jars: tuple[str, ...] = ()
    log4j_config: str | None = None
    log_dir: str | None = None

    @classmethod
    def of(cls, spark, log_dir: str | None = None) -> SubmitSettings:
        """The settings of the config's ``spark`` section (``cfg.spark``)."""
        return cls(
            driver_memory=spark.driver_memory,
            master=spark.master,
            jars=tuple(spark.jars),
            log4j_config=spark.log4j_config,
            log_dir=log_dir,
        )


def spark_submit_binary() -> str:
    """The spark-submit of the Python running this (the project's venv)."""
    return str(Path(sys.executable).parent / "spark-submit")


def spark_submit_command(
    settings: SubmitSettings,
    script: str,
    extra_args: Sequence[str] = (),
    master: str | None = None,
    py_files: str | None = None,
    spark_submit: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> list[str]:
    """``spark-submit [options] script extra_args...``.

    ``master`` overrides the config's ``spark.master``; ``py_files`` is the zip of the package
    for cluster executors; ``conf`` is given as ``--conf key=value`` (a script that reads no
    config).
    """
    cmd = [spark_submit or spark_submit_binary()]
    if settings.driver_memory:
        # The driver JVM starts before the session reads the config: its heap is set here.
        cmd += ["--driver-memory", settings.driver_memory]
    if master or settings.master:
        cmd += ["--master", master or settings.master]
    if py_files:
        cmd += ["--py-files", py_files]
    jars = [j for j in settings.jars if Path(j).is_file()]
    if jars:
        # The JDBC driver must be on the driver's class path from the JVM's start.
        cmd += ["--driver-class-path", os.pathsep.join(jars)]
    # Given on the command line, these options replace spark-defaults' extraJavaOptions.
    cmd += ["--driver-java-options", java_options(settings.log4j_config, settings.log_dir)]
    for key, value in (conf or {}).items():
        cmd += ["--conf", f"{key}={value}"]
    return [*cmd, script, *extra_args]
