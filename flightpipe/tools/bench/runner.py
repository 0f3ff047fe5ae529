"""One bench case: its config rooted in a bench folder, and the timed, sampled run of its steps.

Steps are the stages of the graph (flightpipe.core.stages), run with the command lines of
the pipeline runner (flightpipe.tools.pipeline), so a bench stage runs as in production.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from flightpipe.core import runlog, storage
from flightpipe.core.net import free_port
from flightpipe.core.settings import PACKAGE_ROOT, load_config
from flightpipe.core.stages import Stage
from flightpipe.core.submit import SubmitSettings, spark_submit_command
from flightpipe.tools import pipeline
from flightpipe.tools.bench.profile import profile_event_logs
from flightpipe.tools.bench.sampler import MemorySampler


@dataclass
class Step:
    """One timed step of a case."""

    name: str
    seconds: float = 0.0
    rows: int = 0
    rows_per_s: float = 0.0
    peak_driver_rss_mb: float = 0.0
    peak_total_rss_mb: float = 0.0
    target_s: float | None = None
    is_stage: bool = True
    exit_code: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    record: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    error: str = ""


def event_log_conf(events: str) -> dict[str, str]:
    """Spark's event log on, uncompressed, into ``events``: what the profile reads."""
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events,
        "spark.eventLog.compress": "false",
    }


def case_config(base_file: str | os.PathLike[str], root: str | os.PathLike[str], ingest: dict) -> str:
    """The project's config rooted at ``root`` with the case's inputs, and Spark event logs on."""
    base = load_config(base_file)
    raw = yaml.safe_load(Path(base_file).read_text(encoding="utf-8"))
    root = str(root)
    raw["project"]["root"] = root
    spark = raw["spark"]
    # Shared files stay where the project keeps them (a relative path would resolve in the bench root).
    spark["log4j_config"] = base.spark.log4j_config
    spark["jars"] = list(base.spark.jars)
    events = storage.join(root, "var", "eventlog")
    storage.makedirs(events)
    spark["extra_conf"] = {**dict(base.spark.extra_conf), **event_log_conf(events)}
    raw["ingest"].update(ingest)
    raw["ingest"]["openmeteo_api"]["enabled"] = False
    # A server of its own on a free port, so a running demo server is never touched.
    raw["gold"]["port"] = free_port()
    raw["mariadb"]["local"] = True
    path = storage.join(root, "conf", "pipeline.yaml")
    storage.write_text(
        path,
        "# Written by scripts/bench.py: the project's config rooted in this bench folder.\n"
        + yaml.safe_dump(raw, sort_keys=False),
    )
    return path


def _entries(folder: str) -> set[str]:
    """Files and folders right under ``folder`` (event logs are either)."""
    files = {f.path for f in storage.list_files(folder, recursive=False)}
    return files | set(storage.list_dirs(folder))


class Runner:
    """Runs steps of one case and keeps their measurements."""

    def __init__(
        self,
        config: str,
        root: str,
        run_id: str,
        driver_memory: str | None,
        replay: tuple[str, str] = ("2013-01-01", "2013-12-31"),
    ):
        self.config, self.root, self.run_id = str(config), str(root), run_id
        self.cfg = load_config(self.config)
        submit = SubmitSettings.of(self.cfg.spark, log_dir=self.cfg.paths.logs)
        self.submit = dataclasses.replace(submit, driver_memory=driver_memory)
        # The pipeline runner's options for this case: ingest lands no embedded flights
        # (the embedded case replays them, the synthetic one reads BTS files).
        self.options = pipeline.parser().parse_args(
            [
                "--config",
                self.config,
                "--no-batch-flights",
                "--replay-start",
                replay[0],
                "--replay-end",
                replay[1],
            ]
        )
        self.steps: list[Step] = []
        self.logs = storage.join(self.root, "bench-logs")
        storage.makedirs(self.logs)
        self.env = {
            **os.environ,
            "PIPELINE_RUN_ID": run_id,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }

    def command(self, stage: Stage) -> list[str]:
        """The stage's command line, as the pipeline runs it."""
        return pipeline.stage_command(stage, self.options, self.submit)

    def spark_script(self, script: str, *args: str) -> list[str]:
        """spark-submit of a project script outside the graph (the synthetic generator)."""
        return spark_submit_command(self.submit, str(PACKAGE_ROOT / script), ["--config", self.config, *args])

    def service(self, stage: Stage, action: str) -> int:
        """``start`` or ``stop`` a service stage (the case's MariaDB), output in bench-logs."""
        cmd = self.command(dataclasses.replace(stage, args=(action,)))
        # A subprocess writes to a real local file: the bench folder is always local.
        with open(storage.join(self.logs, f"{stage.name}-{action}.log"), "w", encoding="utf-8") as log:
            return subprocess.call(
                cmd, cwd=str(PACKAGE_ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def run(
        self,
        name: str,
        cmd: list[str],
        rows: int,
        script: str = "",
        target: float | None = None,
        is_stage: bool = True,
        record_stage: str = "",
    ) -> Step:
        step = Step(name, rows=rows, target_s=target, is_stage=is_stage)
        events = storage.join(self.cfg.paths.var, "eventlog")
        before = _entries(events)
        step.load_before = round(os.getloadavg()[0], 2)
        print(f"  {name:<10} ...", end="", flush=True)
        log_path = storage.join(self.logs, f"{name}.log")
        started = time.monotonic()
        wall_start = time.time()
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                cmd, cwd=str(PACKAGE_ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
            sampler = MemorySampler(proc.pid, script)
            sampler.start()
            step.exit_code = proc.wait()
            sampler.stop()
        step.seconds = round(time.monotonic() - started, 1)
        step.load_after = round(os.getloadavg()[0], 2)
        step.peak_driver_rss_mb = round(sampler.peak_driver / 1e6, 1)
        step.peak_total_rss_mb = round(sampler.peak_total / 1e6, 1)
        step.rows_per_s = round(rows / step.seconds, 1) if rows and step.seconds else 0.0
        new = _entries(events) - before
        if new:
            step.profile = profile_event_logs(sorted(new))
        if record_stage:
            step.record = read_record(self.cfg.paths.var, record_stage, self.run_id, wall_start)
        if step.exit_code != 0:
            step.error = last_error_line(log_path)
        status = "ok" if step.exit_code == 0 else f"FAILED ({step.exit_code}): {step.error}"
        print(f" {step.seconds:8.1f} s  {status}", flush=True)
        self.steps.append(step)
        return step


def last_error_line(log_path: str) -> str:
    data = storage.read_bytes(log_path) or b""
    lines = [x.strip() for x in data.decode(errors="replace").splitlines() if x.strip()]
    errors = [x for x in lines if ": error: " in x]
    return (errors or lines or [""])[-1][:300]


def read_record(var: str, stage: str, run_id: str, since: float) -> dict:
    """The run record the stage wrote (rows in, out, rejected, details)."""
    record = runlog.find_record(var, stage, run_id, since)
    keep = ("rows_in", "rows_out", "rows_rejected", "status", "details")
    out = {k: record.get(k) for k in keep if k in record}
    if isinstance(out.get("details"), str):
        with contextlib.suppress(json.JSONDecodeError):
            out["details"] = json.loads(out["details"])
    return out
