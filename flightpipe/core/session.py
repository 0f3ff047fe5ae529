"""The one SparkSession builder every script uses."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from pyspark import SparkContext
from pyspark.sql import SparkSession

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Settings


def check_java() -> None:
    """Fail with one sentence when no Java 17+ is found."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        return  # under spark-submit: its JVM is running already
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise PipelineError(
            "Java 17 or newer is required but no 'java' was found; run 'make setup' "
            "or install Debian's default-jdk-headless."
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PipelineError(f"{java} could not be run ({exc}); install default-jdk-headless.") from exc
    text = out.stderr + out.stdout
    for token in text.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and token[0].isdigit():
            if int(head) < 17:
                raise PipelineError(
                    f"Spark 4 needs Java 17 or newer but {java} is Java {head}; "
                    "install default-jdk-headless or set JAVA_HOME."
                )
            return


# HotSpot never JIT-compiles a method above 8,000 bytes of bytecode, and the whole-stage
# code Spark generates for the wide cleaning and feature projections is larger than that:
# left to the interpreter it runs 1.5-2x slower. The driver JVM (the executors too, in
# local mode) is started with this flag; where it was not (a spark-submit outside the
# project's venv), Spark is told to split such plans instead (see tune_codegen).
JIT_OPTION = "-XX:-DontCompileHugeMethods"
HOTSPOT_METHOD_LIMIT = "8000"
# C2, HotSpot's optimising compiler, takes a method once it ran about 5,000 times (or looped
# 40,000 times). A stage runs thousands of Spark, Hive, Janino and serialisation methods
# that often and little more, and on two cores C2's thread then took 50-66 CPU-s of a 62 s
# cleaning of the embedded year (-XX:+CITime) and 90 of a 10M-row one. Ten times those
# thresholds leave the lukewarm code to C1 while the per-row loops still reach C2 within
# their first second: embedded cleaning 108-127 -> 79-109 CPU-s, 10M 550 -> 499 CPU-s.
JIT_THRESHOLDS = (
    "-XX:Tier4InvocationThreshold=50000",
    "-XX:Tier4MinInvocationThreshold=6000",
    "-XX:Tier4CompileThreshold=150000",
    "-XX:Tier4BackEdgeThreshold=400000",
)
JIT_OPTIONS = (JIT_OPTION, *JIT_THRESHOLDS)


def java_options(log4j_config: str | None, log_dir: str | None) -> str:
    """Java options of the driver JVM: the project's log4j file and log folder, and the JIT flags."""
    options = []
    if log4j_config:
        options.append(f"-Dlog4j2.configurationFile=file:{log4j_config}")
    if log_dir:
        options += [f"-Dpipeline.log.dir={log_dir}", f"-Dderby.stream.error.file={log_dir}/derby.log"]
    return " ".join([*options, *JIT_OPTIONS])


DERBY_LOCKED = (
    "the Hive metastore {metastore} is locked by another Spark process (embedded Derby admits one "
    "at a time); wait for it to finish or switch metastore.mode to 'external'."
)


def check_derby_free(cfg: Settings) -> None:
    """Fail at once when another process has the embedded Derby metastore open.

    A booted Derby holds a POSIX lock on ``dbex.lck``; without this check Hive retries the
    boot for about a minute before giving up.
    """
    if cfg.metastore.mode != "derby" or SparkContext._active_spark_context is not None:
        # Closing a descriptor drops every POSIX lock this process holds on the file, so the
        # probe must never run once this process's own JVM may hold the lock.
        return
    lock = Path(cfg.paths.metastore_db) / "dbex.lck"
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return  # no metastore yet, or one nobody has open
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise PipelineError(DERBY_LOCKED.format(metastore=cfg.paths.metastore_db)) from None
    finally:
        os.close(fd)


def metastore_conf(cfg: Settings) -> dict[str, str]:
    """Hive metastore settings: embedded Derby by default, or an external database."""
    meta = cfg.metastore
    if meta.mode == "derby":
        db = cfg.paths.metastore_db
        return {"spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={db};create=true"}
    if meta.mode == "external":
        return {
            "spark.hadoop.javax.jdo.option.ConnectionURL": meta.jdbc_url,
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": meta.jdbc_driver,
            "spark.hadoop.javax.jdo.option.ConnectionUserName": meta.user,
            "spark.hadoop.javax.jdo.option.ConnectionPassword": meta.password,
            # First use of an empty metastore database creates Hive's tables. Without
            # foreign keys: on MariaDB, DataNucleus adds them with ALTER TABLE while its own
            # open transaction holds a metadata lock on the referenced table, and waits forever.
            "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
            "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
            "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
    raise PipelineError(
        f"config key 'metastore.mode' in {cfg.config_file} must be 'derby' or 'external', not '{meta.mode}'."
    )


def off_heap_conf(cfg: Settings) -> dict[str, str]:
    """Spark's off-heap execution memory from ``spark.off_heap_memory`` (``0``: none)."""
    size = cfg.spark.off_heap_memory.strip().lower()
    parsed = re.fullmatch(r"(\d+)[kmgt]?", size)
    if parsed is None:
        raise PipelineError(
            f"config key 'spark.off_heap_memory' in {cfg.config_file} must be a size such as "
            f"1g or 512m, or 0 for none, not '{cfg.spark.off_heap_memory}'."
        )
    if int(parsed.group(1)) == 0:
        return {"spark.memory.offHeap.enabled": "false"}
    return {"spark.memory.offHeap.enabled": "true", "spark.memory.offHeap.size": size}


def session_conf(
    cfg: Settings, app: str, hive: bool = True, defaults: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every Spark setting the pipeline sets, as one flat map; ``spark.extra_conf`` wins over
    the stage's ``defaults``."""
    java_opts = java_options(cfg.spark.log4j_config, cfg.paths.logs)
    jars = [j for j in cfg.spark.jars if Path(j).is_file()]
    conf = {
        "spark.master": cfg.spark.master,
        "spark.app.name": f"{cfg.spark.app_name}-{app}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(cfg.spark.shuffle_partitions),
        "spark.sql.warehouse.dir": cfg.paths.warehouse,
        "spark.driver.memory": cfg.spark.driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.ui.showConsoleProgress": "true",
        "spark.sql.adaptive.enabled": "true",
    }
    conf.update(off_heap_conf(cfg))
    if jars:
        conf["spark.jars"] = ",".join(jars)
        conf["spark.driver.extraClassPath"] = os.pathsep.join(jars)
    if hive:
        conf["spark.sql.catalogImplementation"] = "hive"
        conf.update(metastore_conf(cfg))
    conf.update(defaults or {})
    conf.update(cfg.spark.extra_conf)
    return conf


def build_session(
    cfg: Settings,
    app: str,
    hive: bool = True,
    defaults: Mapping[str, str] | None = None,
    create_dirs: bool = True,
) -> SparkSession:
    """Build (or reuse) the session: master from config, UTC, Hive metastore at the project root.

    ``create_dirs=False`` (dry runs) leaves a missing warehouse folder missing.
    """
    check_java()
    if hive:
        check_derby_free(cfg)
    for folder in (cfg.paths.logs, cfg.paths.warehouse) if create_dirs else (cfg.paths.logs,):
        storage.makedirs(folder)
    builder = SparkSession.builder
    for key, value in session_conf(cfg, app, hive, defaults).items():
        builder = builder.config(key, value)
    if hive:
        builder = builder.enableHiveSupport()
    spark = builder.getOrCreate()
    _quiet_logs(spark, cfg)
    tune_codegen(spark)
    return spark


def tune_codegen(spark: SparkSession) -> None:
    """Keep generated code JIT-compiled when the driver JVM lacks :data:`JIT_OPTION`."""
    jvm = spark.sparkContext._jvm
    args = jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    if JIT_OPTION not in list(args):
        spark.conf.set("spark.sql.codegen.hugeMethodLimit", HOTSPOT_METHOD_LIMIT)


def _quiet_logs(spark: SparkSession, cfg: Settings) -> None:
    # Under spark-submit the driver JVM starts before our java options can apply,
    # so point log4j (and Derby's log) at our settings once the JVM is up.
    jvm = spark.sparkContext._jvm
    system = jvm.java.lang.System
    if system.getProperty("pipeline.log.dir") is None:
        system.setProperty("pipeline.log.dir", cfg.paths.logs)
        system.setProperty("derby.stream.error.file", f"{cfg.paths.logs}/derby.log")
        uri = jvm.java.io.File(cfg.spark.log4j_config).toURI()
        jvm.org.apache.logging.log4j.core.config.Configurator.reconfigure(uri)


@contextlib.contextmanager
def temporary_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """The runtime setting ``key`` set to ``value`` inside the block, restored after it."""
    before = spark.conf.get(key)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.set(key, before)


@contextlib.contextmanager
def temporary_confs(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Each runtime setting of ``settings`` set inside the block, all restored after it."""
    with contextlib.ExitStack() as stack:
        for key, value in settings.items():
            stack.enter_context(temporary_conf(spark, key, value))
        yield
