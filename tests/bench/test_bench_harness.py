"""The benchmark harness's own logic: memory sampling, event-log profile, files per table, checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flightpipe.core.settings import load_config
from flightpipe.tools.bench import peers
from flightpipe.tools.bench.main import parse_sizes, parser
from flightpipe.tools.bench.profile import profile_event_logs
from flightpipe.tools.bench.runner import case_config
from flightpipe.tools.bench.sampler import MemorySampler
from flightpipe.tools.bench.tables import table_files
from flightpipe.tools.bench.verdicts import verdicts
from tests.support.project import write_config


def sampled(code: str, script: str):
    """The sampler's view of ``python -c code`` run to its end."""
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = MemorySampler(proc.pid, script)
    sampler.start()
    proc.wait()
    sampler.stop()
    return sampler


def test_sampler_sees_the_memory_of_the_whole_tree():
    # A parent that allocates ~60 MB and a child that allocates ~120 MB, both held for 1.5 s.
    child = "x = bytearray(120 * 1024 * 1024); import time; time.sleep(1.5)"
    parent = (
        "import subprocess, sys; x = bytearray(60 * 1024 * 1024); "
        f"subprocess.run([sys.executable, '-c', {child!r}])"
    )
    sampler = sampled(parent, "no-such-script")
    assert sampler.samples >= 3
    assert 60e6 <= sampler.peak_driver < 120e6, "the driver is the root process only"
    assert sampler.peak_total >= 180e6, "the total counts the child too"


def test_sampler_does_not_count_a_fork_before_its_exec():
    # The driver JVM forks to run shell commands: until the exec the child has the parent's
    # command line and shows the parent's pages, which are shared, not new memory.
    code = (
        "import os, time\n"
        "x = bytearray(150 * 1024 * 1024)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    time.sleep(1.5)\n    os._exit(0)\n"
        "os.waitpid(pid, 0)  # fork-marker\n"
    )
    sampler = sampled(code, "fork-marker")
    assert sampler.samples >= 3
    assert 150e6 <= sampler.peak_driver < 250e6
    assert sampler.peak_total < 250e6


def test_event_log_profile_sums_tasks_and_finds_skew(tmp_path):
    def task(stage: int, ms: int, spill: int = 0) -> dict:
        return {
            "Event": "SparkListenerTaskEnd",
            "Stage ID": stage,
            "Stage Attempt ID": 0,
            "Task Info": {"Launch Time": 1000, "Finish Time": 1000 + ms},
            "Task Metrics": {
                "Disk Bytes Spilled": spill,
                "Memory Bytes Spilled": 2 * spill,
                "JVM GC Time": 100,
                "Executor Run Time": ms,
                "Shuffle Read Metrics": {"Remote Bytes Read": 0, "Local Bytes Read": 1_000_000},
                "Shuffle Write Metrics": {"Shuffle Bytes Written": 2_000_000},
            },
        }

    events = [
        {"Event": "SparkListenerJobStart"},
        {
            "Event": "SparkListenerStageCompleted",
            "Stage Info": {"Stage ID": 3, "Stage Attempt ID": 0, "Stage Name": "save"},
        },
        *[task(3, 1000) for _ in range(4)],
        task(3, 9000, spill=5_000_000),
        *[task(4, 500) for _ in range(4)],
    ]
    # A rolling event log (Spark 4's default): a folder of events_<n>_<app> files.
    log = tmp_path / "eventlog_v2_local-1"
    log.mkdir()
    (log / "events_1_local-1").write_text("\n".join(json.dumps(e) for e in events[:4]) + "\nnot json\n")
    (log / "events_2_local-1").write_text("\n".join(json.dumps(e) for e in events[4:]) + "\n")
    p = profile_event_logs([log])
    assert (p["jobs"], p["stages"], p["tasks"]) == (1, 1, 9)
    assert p["spill_disk_mb"] == 5.0 and p["spill_memory_mb"] == 10.0
    assert p["shuffle_read_mb"] == 9.0 and p["shuffle_write_mb"] == 18.0
    assert p["gc_s"] == 0.9
    assert p["most_skewed_stage"] == {
        "stage": 3,
        "name": "save",
        "tasks": 5,
        "max_task_s": 9.0,
        "median_task_s": 1.0,
    }


def test_files_per_table_skips_metadata(tmp_path):
    bronze, warehouse = tmp_path / "bronze", tmp_path / "wh"
    for day in ("flight_date=2013-01-01", "flight_date=2013-01-02"):
        (bronze / "flights" / day).mkdir(parents=True)
        for i in range(3):
            (bronze / "flights" / day / f"part-{i}.parquet").write_bytes(b"x" * 1000)
    (bronze / "flights" / "_spark_metadata").mkdir()
    (bronze / "flights" / "_spark_metadata" / "0").write_text("log")
    (bronze / ".staging").mkdir()
    (warehouse / "silver.db" / "flights" / "year=2013" / "month=1").mkdir(parents=True)
    (warehouse / "silver.db" / "flights" / "year=2013" / "month=1" / "part-0.parquet").write_bytes(
        b"y" * 4000
    )
    (warehouse / "silver.db" / "flights" / "year=2013" / "month=1" / ".part-0.parquet.crc").write_bytes(b"c")
    found = table_files(bronze, warehouse)
    assert found["bronze.flights"] == {
        "files": 6,
        "mb": 0.0,
        "avg_file_mb": 0.0,
        "partitions": 2,
        "files_per_partition": 3.0,
    }
    assert found["silver.flights"]["files"] == 1
    assert set(found) == {"bronze.flights", "silver.flights"}


def test_checks_of_targets_and_scaling():
    def step(name: str, seconds: float, rss: float, stage: bool = True) -> dict:
        return {
            "name": name,
            "seconds": seconds,
            "peak_driver_rss_mb": rss,
            "is_stage": stage,
            "exit_code": 0,
        }

    cases = [
        {
            "case": "embedded",
            "steps": [
                step("streaming", 50, 900),
                step("cleaning", 46, 900),
                step("ml", 200, 900),
                step("gold", 30, 900),
            ],
            "auc": {"auc_roc": 0.71},
        },
        {
            "case": "synthetic-1000000",
            "steps": [
                step("generate", 10, 1, False),
                step("ingest", 20, 1000),
                step("cleaning", 30, 1000),
                step("gold", 10, 1000),
            ],
        },
        {
            "case": "synthetic-10000000",
            "steps": [step("ingest", 200, 1400), step("cleaning", 400, 1600), step("gold", 100, 1000)],
        },
    ]
    checks = {c["check"]: (c["value"], c["ok"]) for c in verdicts(cases)}
    assert checks["embedded streaming <= 60 s"] == (50, True)
    assert checks["embedded cleaning <= 45 s"] == (46, False)
    assert checks["embedded ML best hold-out AUC-ROC >= 0.75"] == (0.71, False)
    assert checks["10M ingest + cleaning + gold <= 600 s"] == (700, False)
    assert checks["scaling ingest time x10 rows <= x12"] == (10.0, True)
    assert checks["scaling cleaning time x10 rows <= x12"] == (13.33, False)
    assert checks["scaling cleaning driver RSS <= x1.5"] == (1.6, False)
    assert checks["scaling gold driver RSS <= x1.5"] == (1.0, True)


def test_peer_ratios_and_same_work(tmp_path):
    def step(name: str, seconds: float, record: dict | None = None) -> dict:
        return {"name": name, "seconds": seconds, "exit_code": 0, "is_stage": True, "record": record or {}}

    flights = {"bronze_rows": 1000, "silver_rows": 990, "quarantined": 7, "duplicates": 3}
    cleaned = {"stage": "cleaning", "bronze_rows": 1000, "silver_rows": 990}
    case = {
        "case": "synthetic-1000",
        "steps": [
            step("ingest", 30),
            step("cleaning", 45, {"details": {"flights": flights}}),
            step("gold", 20),
        ],
        "peers": [
            step("spark:ingest", 30),
            step("spark:cleaning", 30, {**cleaned, "quarantine_rows": 7, "duplicate_rows": 3}),
            step("spark:gold", 25, {"stage": "gold", "flights": 990}),
            step("duckdb:ingest", 10),
            step("duckdb:cleaning", 10, {**cleaned, "quarantine_rows": 8, "duplicate_rows": 2}),
            step("duckdb:gold", 5, {"stage": "gold", "flights": 990}),
        ],
    }
    assert peers.ratios(case) == {
        "spark": {"ingest": 1.0, "cleaning": 1.5, "gold": 0.8, "total": 1.12},
        "duckdb": {"ingest": 3.0, "cleaning": 4.5, "gold": 4.0, "total": 3.8},
    }
    checks = {c["check"]: (c["value"], c["ok"]) for c in verdicts([case])}
    assert checks["synthetic-1000 ingest: ours / the plain PySpark script <= 1x"] == (1.0, True)
    assert checks["synthetic-1000 cleaning: ours / the plain PySpark script <= 1x"] == (1.5, False)
    assert checks["synthetic-1000 gold: ours / the plain PySpark script <= 1x"] == (0.8, True)
    assert checks["synthetic-1000 ingest + cleaning + gold: ours / DuckDB <= 3x"] == (3.8, False)
    # The DuckDB peer moved a row from the duplicates to the quarantine: not the same work.
    assert checks["synthetic-1000 spark peer did the same work"][1] is True
    assert checks["synthetic-1000 duckdb peer did the same work"][1] is False
    log = tmp_path / "spark:gold.log"
    log.write_text('noise\nPEER_RESULT {"stage": "gold", "flights": 5}\nmore noise\n', encoding="utf-8")
    assert peers.peer_result(str(log)) == {"stage": "gold", "flights": 5}


def test_check_of_the_jdbc_load_rate():
    def case(rate, exit_code: int = 0) -> dict:
        details = {"jdbc": {"rows": 1_000_000, "seconds": 8.0, "rows_per_s": rate}} if rate else {}
        step = {
            "name": "jdbc-load",
            "exit_code": exit_code,
            "is_stage": False,
            "record": {"details": details},
        }
        return {"case": "jdbc-1000000", "rows": 1_000_000, "steps": [step]}

    name = "JDBC load of 1M mart rows >= 100000 rows/s"
    assert {c["check"]: (c["value"], c["ok"]) for c in verdicts([case(125_000)])} == {name: (125_000, True)}
    assert {c["check"]: (c["value"], c["ok"]) for c in verdicts([case(99_999)])} == {name: (99_999, False)}
    # A failed step or a missing record fails the check, whatever the number says.
    assert verdicts([case(125_000, exit_code=1)])[0]["ok"] is False
    assert verdicts([case(None)]) == [{"check": name, "value": None, "ok": False}]
    assert verdicts([{**case(150_000), "case": "jdbc-250000", "rows": 250_000}])[0]["check"] == (
        "JDBC load of 250k mart rows >= 100000 rows/s"
    )


def test_sizes_flag():
    assert parse_sizes("1000000,10000000") == [1_000_000, 10_000_000]
    assert parse_sizes("1M, 10M,500k") == [1_000_000, 10_000_000, 500_000]
    assert parse_sizes("") == []
    args = parser().parse_args(["--no-jdbc", "--jdbc-rows", "250k"])
    assert args.no_jdbc and parse_sizes(args.jdbc_rows) == [250_000]
    assert not parser().parse_args([]).no_jdbc


def test_case_config_is_rooted_in_the_bench_folder(tmp_path):
    base = write_config(tmp_path / "project")
    root = tmp_path / "bench" / "case"
    path = case_config(base, root, {"embedded": True, "bts_files": ["/data/*.csv"], "openmeteo_files": []})
    cfg = load_config(path)
    assert cfg.project.root == str(root)
    assert cfg.paths.bronze == str(root / "bronze")
    assert cfg.ingest.bts_files == ("/data/*.csv",)
    assert cfg.spark.extra_conf["spark.eventLog.enabled"] == "true"
    assert Path(cfg.spark.extra_conf["spark.eventLog.dir"]).is_dir()
    assert Path(cfg.spark.log4j_config).is_file(), "shared files stay in the project"
