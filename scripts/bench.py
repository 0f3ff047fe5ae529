"""Benchmark the pipeline's stages on the embedded year and on synthetic BTS data.

Usage:
    .venv/bin/python scripts/bench.py [--config conf/pipeline.yaml] [--sizes 1000000,10000000]
                                      [--skip-embedded] [--seed 42] [--year 2023]

Every stage runs as in production: ``spark-submit <script>.py --config <yaml>``, with a config
that is the project's own rooted in a bench folder of its own (``<paths.var>/bench/<case>/``),
so the benchmark never touches the demo's bronze, silver or MariaDB. Cases:

- ``embedded``: ingest (reference data and weather), replay of the 365 daily files of 2013
  (scripts/replay.py), streaming.py --available-now, cleaning.py, ML.py, gold.py.
- ``synthetic-<N>`` for each size of --sizes: scripts/synth_bts.py writes N BTS flights and
  their Open-Meteo weather (timed, not a stage), then ingest, cleaning and gold.

For every step: wall seconds, flight rows per second, the peak resident memory of the driver
(the driver JVM plus the Python process running the script) and of the whole process tree
(plus Python workers), sampled from /proc every 0.2 s; the machine load; a profile from the
Spark event log (jobs, tasks, spill, shuffle, GC, the most skewed stage); files per bronze and
silver table. The table is printed and the run is appended to bench/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from flightpipe.core import runlog  # noqa: E402
from flightpipe.core.errors import PipelineError  # noqa: E402
from flightpipe.core.settings import default_config_path, load_config  # noqa: E402

EMBEDDED_FLIGHTS = 336_776
# Targets on the reference 2-core machine, JVM start included (seconds).
EMBEDDED_TARGETS = {"streaming": 60, "cleaning": 45, "ml": 300, "gold": 60}
SYNTHETIC_TOTAL_TARGET = 600  # ingest + cleaning + gold at 10M rows
SYNTHETIC_TARGET_ROWS = 10_000_000
SCALING_TIME_MAX = 12.0  # 1M -> 10M: each stage at most 12x slower
SCALING_DRIVER_RSS_MAX = 1.5  # and the driver's peak memory at most 1.5x
SAMPLE_SECONDS = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- process-tree memory sampling ----------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree: the driver (root JVM + the Python running ``script``) and all."""

    def __init__(self, pid: int, script: str):
        super().__init__(daemon=True)
        self.pid, self.script = pid, script
        self.peak_driver = 0
        self.peak_total = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        children = _children_map()
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        total = driver = 0
        root = _cmdline(self.pid)
        for pid in tree:
            command = _cmdline(pid)
            if pid != self.pid and command == root:
                # The JVM forks to run a shell command (Hadoop's local file system does): until
                # the exec, the child shows the JVM's own pages. Counting it doubled the driver.
                continue
            rss = _rss(pid)
            total += rss
            # The spark-submit process becomes the driver JVM (exec); the Python process
            # running the entry script is its child. Python workers (pyspark.daemon) are not.
            program = command.split(" ", 1)[0]
            if pid == self.pid or (self.script and self.script in command and "python" in program):
                driver += rss
        self.peak_total = max(self.peak_total, total)
        self.peak_driver = max(self.peak_driver, driver)
        self.samples += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


# --- Spark event log profile ---------------------------------------------------------------------------
def profile_event_logs(paths: list[Path]) -> dict:
    """Jobs, stages, tasks, spill, shuffle, GC and the most skewed stage of some event logs."""
    jobs = stages = tasks = 0
    spill_mem = spill_disk = shuffle_read = shuffle_write = gc_ms = run_ms = 0
    input_bytes = output_bytes = 0
    durations: dict[tuple[int, int], list[int]] = {}
    names: dict[tuple[int, int], str] = {}
    # Spark 4 writes rolling event logs: a folder eventlog_v2_<app>/ of events_<n>_<app> files.
    files = [f for p in paths for f in (sorted(p.glob("events_*")) if p.is_dir() else [p])]
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = ev.get("Event")
            if kind == "SparkListenerJobStart":
                jobs += 1
            elif kind == "SparkListenerStageCompleted":
                stages += 1
                info = ev.get("Stage Info", {})
                names[(info.get("Stage ID"), info.get("Stage Attempt ID"))] = info.get("Stage Name", "")
            elif kind == "SparkListenerTaskEnd":
                tasks += 1
                m = ev.get("Task Metrics") or {}
                info = ev.get("Task Info") or {}
                spill_mem += m.get("Memory Bytes Spilled", 0)
                spill_disk += m.get("Disk Bytes Spilled", 0)
                gc_ms += m.get("JVM GC Time", 0)
                run_ms += m.get("Executor Run Time", 0)
                sr = m.get("Shuffle Read Metrics") or {}
                shuffle_read += sr.get("Remote Bytes Read", 0) + sr.get("Local Bytes Read", 0)
                shuffle_write += (m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
                input_bytes += (m.get("Input Metrics") or {}).get("Bytes Read", 0)
                output_bytes += (m.get("Output Metrics") or {}).get("Bytes Written", 0)
                key = (ev.get("Stage ID"), ev.get("Stage Attempt ID"))
                durations.setdefault(key, []).append(info.get("Finish Time", 0) - info.get("Launch Time", 0))
    skew = {}
    worst = 0.0
    for key, ds in durations.items():
        if len(ds) < 4:
            continue
        median = statistics.median(ds)
        ratio = max(ds) / median if median > 0 else 0.0
        if ratio > worst and max(ds) > 2000:
            worst = ratio
            skew = {
                "stage": key[0],
                "name": names.get(key, "")[:80],
                "tasks": len(ds),
                "max_task_s": round(max(ds) / 1000, 1),
                "median_task_s": round(median / 1000, 1),
            }
    mb = 1 / 1e6
    return {
        "jobs": jobs,
        "stages": stages,
        "tasks": tasks,
        "input_mb": round(input_bytes * mb, 1),
        "output_mb": round(output_bytes * mb, 1),
        "shuffle_read_mb": round(shuffle_read * mb, 1),
        "shuffle_write_mb": round(shuffle_write * mb, 1),
        "spill_memory_mb": round(spill_mem * mb, 1),
        "spill_disk_mb": round(spill_disk * mb, 1),
        "gc_s": round(gc_ms / 1000, 1),
        "task_run_s": round(run_ms / 1000, 1),
        "most_skewed_stage": skew,
    }


# --- files per table ---------------------------------------------------------------------------------
def _data_files(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        # Hidden and metadata folders (.staging, _spark_metadata, _temporary) hold no table data.
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        out += [Path(dirpath) / f for f in filenames if not f.startswith((".", "_"))]
    return out


def table_files(bronze: Path, warehouse: Path) -> dict:
    """Data files, total and average size, and partitions, of every bronze and silver table."""
    found: dict[str, dict] = {}
    tables = [("bronze", p) for p in sorted(bronze.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    tables = [(layer, p) for layer, p in tables if p.name != "_rejected"]
    if (bronze / "_rejected").is_dir():
        tables.append(("bronze", bronze / "_rejected"))
    for db in sorted(warehouse.glob("*.db")) if warehouse.is_dir() else []:
        tables += [(db.stem, p) for p in sorted(db.iterdir()) if p.is_dir()]
    for layer, folder in tables:
        files = _data_files(folder)
        size = sum(f.stat().st_size for f in files)
        leaf_dirs = {f.parent for f in files}
        found[f"{layer}.{folder.name}"] = {
            "files": len(files),
            "mb": round(size / 1e6, 1),
            "avg_file_mb": round(size / 1e6 / len(files), 2) if files else 0.0,
            "partitions": len(leaf_dirs),
            "files_per_partition": round(len(files) / len(leaf_dirs), 1) if leaf_dirs else 0.0,
        }
    return found


# --- cases ------------------------------------------------------------------------------------------------
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_config(base_file: Path, root: Path, ingest: dict) -> Path:
    """The project's config rooted at ``root`` with the case's inputs, and Spark event logs on."""
    base = load_config(base_file)
    raw = yaml.safe_load(base_file.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["project"]["root"] = str(root)
    spark = raw["spark"]
    # Shared files stay where the project keeps them (a relative path would resolve in the bench root).
    spark["log4j_config"] = base.spark.log4j_config
    spark["jars"] = list(base.spark.jars)
    events = root / "var" / "eventlog"
    events.mkdir(parents=True, exist_ok=True)
    spark["extra_conf"] = {
        **dict(base.spark.extra_conf),
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": str(events),
        "spark.eventLog.compress": "false",
    }
    raw["ingest"].update(ingest)
    raw["ingest"]["openmeteo_api"]["enabled"] = False
    # A server of its own on a free port, so a running demo server is never touched.
    raw["gold"]["port"] = free_port()
    raw["mariadb"]["local"] = True
    path = root / "conf" / "pipeline.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by scripts/bench.py: the project's config rooted in this bench folder.\n"
        + yaml.safe_dump(raw, sort_keys=False),
        encoding="utf-8",
    )
    return path


class Runner:
    """Runs steps of one case and keeps their measurements."""

    def __init__(self, config: Path, root: Path, run_id: str, driver_memory: str | None):
        self.config, self.root, self.run_id = config, root, run_id
        self.cfg = load_config(config)
        self.driver_memory = driver_memory
        self.steps: list[Step] = []
        self.logs = root / "bench-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        python = str(ROOT / ".venv" / "bin" / "python")
        python = python if Path(python).exists() else sys.executable
        self.python = python
        self.env = {
            **os.environ,
            "PIPELINE_RUN_ID": run_id,
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
        }

    def submit(self, script: str, *args: str) -> list[str]:
        cmd = [str(Path(self.python).parent / "spark-submit")]
        if self.driver_memory:
            cmd += ["--driver-memory", self.driver_memory]
        # spark-submit starts the driver JVM before the session sets spark.driver.extraClassPath,
        # so the JDBC driver jar must be on the launch command line (gold fails without it).
        jars = [j for j in self.cfg.spark.jars if Path(j).is_file()]
        if jars:
            cmd += ["--driver-class-path", os.pathsep.join(jars)]
        return [*cmd, str(ROOT / script), "--config", str(self.config), *args]

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
        events = Path(self.cfg.paths.var) / "eventlog"
        before = set(events.glob("*")) if events.is_dir() else set()
        step.load_before = round(os.getloadavg()[0], 2)
        print(f"  {name:<10} ...", end="", flush=True)
        log_path = self.logs / f"{name}.log"
        started = time.monotonic()
        wall_start = time.time()
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(cmd, cwd=str(ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT)
            sampler = MemorySampler(proc.pid, script)
            sampler.start()
            step.exit_code = proc.wait()
            sampler.stop()
        step.seconds = round(time.monotonic() - started, 1)
        step.load_after = round(os.getloadavg()[0], 2)
        step.peak_driver_rss_mb = round(sampler.peak_driver / 1e6, 1)
        step.peak_total_rss_mb = round(sampler.peak_total / 1e6, 1)
        step.rows_per_s = round(rows / step.seconds, 1) if rows and step.seconds else 0.0
        after = set(events.glob("*")) if events.is_dir() else set()
        if after - before:
            step.profile = profile_event_logs(sorted(after - before))
        if record_stage:
            step.record = read_record(Path(self.cfg.paths.var), record_stage, self.run_id, wall_start)
        if step.exit_code != 0:
            step.error = last_error_line(log_path)
        status = "ok" if step.exit_code == 0 else f"FAILED ({step.exit_code}): {step.error}"
        print(f" {step.seconds:8.1f} s  {status}", flush=True)
        self.steps.append(step)
        return step


def last_error_line(log_path: Path) -> str:
    lines = [x.strip() for x in log_path.read_text(errors="replace").splitlines() if x.strip()]
    errors = [x for x in lines if ": error: " in x]
    return (errors or lines or [""])[-1][:300]


def read_record(var: Path, stage: str, run_id: str, since: float) -> dict:
    """The run record the stage wrote (rows in, out, rejected, details)."""
    record = runlog.find_record(var, stage, run_id, since)
    keep = ("rows_in", "rows_out", "rows_rejected", "status", "details")
    out = {k: record.get(k) for k in keep if k in record}
    if isinstance(out.get("details"), str):
        with contextlib.suppress(json.JSONDecodeError):
            out["details"] = json.loads(out["details"])
    return out


def best_auc(models: Path, since: float) -> dict:
    """The best hold-out AUC-ROC found in the metrics.json files written since ``since``."""
    best: dict = {}

    def walk(obj, where: str, path: Path) -> None:
        nonlocal best
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}.{k}" if where else str(k), path)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{where}[{i}]", path)
        elif (
            isinstance(obj, (int, float))
            and "auc" in where.lower()
            and "pr" not in where.lower().split(".")[-1]
            and 0 <= obj <= 1
            and obj > best.get("auc_roc", -1)
        ):
            best = {"auc_roc": round(float(obj), 4), "key": where, "file": str(path)}

    for path in models.rglob("metrics.json") if models.is_dir() else []:
        if path.stat().st_mtime < since - 1:
            continue
        try:
            walk(json.loads(path.read_text()), "", path)
        except (OSError, json.JSONDecodeError):
            continue
    return best


def mariadb(runner: Runner, action: str) -> int:
    cmd = ["bash", str(ROOT / "scripts" / "mariadb.sh"), action, "--config", str(runner.config)]
    with open(runner.logs / f"mariadb-{action}.log", "w", encoding="utf-8") as log:
        return subprocess.call(cmd, cwd=str(ROOT), env=runner.env, stdout=log, stderr=subprocess.STDOUT)


def fresh_root(root: Path, keep: set[str] = frozenset()) -> None:
    """Empty a bench folder, keeping the named entries (generated input)."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_embedded(base: Path, bench_root: Path, run_id: str, args: argparse.Namespace) -> dict:
    root = bench_root / "embedded"
    fresh_root(root)
    config = case_config(base, root, {"embedded": True, "bts_files": [], "openmeteo_files": []})
    r = Runner(config, root, run_id, args.driver_memory)
    print(f"\n== embedded (2013, {EMBEDDED_FLIGHTS} flights) in {root}")
    result: dict = {"case": "embedded", "rows": EMBEDDED_FLIGHTS, "root": str(root)}
    started = time.time()
    try:
        steps = [
            ("ingest", r.submit("ingest.py"), "ingest.py", None, True, "ingest"),
            (
                "replay",
                [
                    r.python,
                    str(ROOT / "scripts" / "replay.py"),
                    *("--config", str(config), "--start", args.replay_start, "--end", args.replay_end),
                ],
                "replay.py",
                None,
                False,
                "",
            ),
            ("streaming", r.submit("streaming.py", "--available-now"), "streaming.py", 60, True, "streaming"),
            ("cleaning", r.submit("cleaning.py"), "cleaning.py", 45, True, "cleaning"),
            ("ml", r.submit("ML.py"), "ML.py", 300, True, "ml"),
        ]
        for name, cmd, script, target, is_stage, record in steps:
            if r.run(name, cmd, EMBEDDED_FLIGHTS, script, target, is_stage, record).exit_code != 0:
                break
        else:
            if mariadb(r, "start") != 0:
                r.steps.append(Step("gold", exit_code=1, error="scripts/mariadb.sh start failed"))
            else:
                r.run("gold", r.submit("gold.py"), EMBEDDED_FLIGHTS, "gold.py", 60, True, "gold")
        result["auc"] = best_auc(Path(r.cfg.paths.models), started)
    finally:
        mariadb(r, "stop")
    result["steps"] = [asdict(s) for s in r.steps]
    result["tables"] = table_files(Path(r.cfg.paths.bronze), Path(r.cfg.paths.warehouse))
    return result


def run_synthetic(base: Path, bench_root: Path, run_id: str, rows: int, args: argparse.Namespace) -> dict:
    root = bench_root / f"synthetic-{rows}"
    data = root / "input"
    marker = data / "synth.json"
    wanted = {"rows": rows, "seed": args.seed, "year": args.year}
    reuse = False
    if marker.is_file() and not args.regenerate:
        try:
            reuse = {k: json.loads(marker.read_text()).get(k) for k in wanted} == wanted
        except (OSError, json.JSONDecodeError):
            reuse = False
    fresh_root(root, keep={"input"} if reuse else set())
    ingest = {
        "embedded": True,  # the reference data: airports (time zones) and airlines
        "bts_files": [str(data / "bts" / "*.csv")],
        "openmeteo_files": [] if args.no_weather else [str(data / "openmeteo" / "*.json")],
    }
    config = case_config(base, root, ingest)
    r = Runner(config, root, run_id, args.driver_memory)
    print(f"\n== synthetic {rows} BTS rows (seed {args.seed}, {args.year}) in {root}")
    result: dict = {
        "case": f"synthetic-{rows}",
        "rows": rows,
        "root": str(root),
        "weather_ingested": not args.no_weather,
    }
    if reuse:
        result["generate"] = json.loads(marker.read_text())
        print(f"  generate   reused {data} (written in {result['generate'].get('seconds')} s)")
    else:
        cmd = r.submit(
            "scripts/synth_bts.py",
            *("--rows", str(rows), "--out", str(data), "--seed", str(args.seed), "--year", str(args.year)),
        )
        step = r.run("generate", cmd, rows, "synth_bts.py", None, False)
        if step.exit_code != 0:
            result["steps"] = [asdict(s) for s in r.steps]
            return result
        result["generate"] = {**wanted, "seconds": step.seconds, "bytes": _bytes(data)}
        marker.write_text(json.dumps(result["generate"]))
    try:
        for name, script, target in (("ingest", "ingest.py", None), ("cleaning", "cleaning.py", None)):
            if r.run(name, r.submit(script), rows, script, target, True, name).exit_code != 0:
                break
        else:
            if mariadb(r, "start") != 0:
                r.steps.append(Step("gold", exit_code=1, error="scripts/mariadb.sh start failed"))
            else:
                r.run("gold", r.submit("gold.py"), rows, "gold.py", None, True, "gold")
    finally:
        mariadb(r, "stop")
    result["steps"] = [asdict(s) for s in r.steps]
    result["tables"] = table_files(Path(r.cfg.paths.bronze), Path(r.cfg.paths.warehouse))
    return result


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --- verdicts and output --------------------------------------------------------------------------------
def verdicts(cases: list[dict]) -> list[dict]:
    """Every target and scaling check, with the measurement and pass/fail."""
    out = []
    by_case = {c["case"]: c for c in cases}
    emb = by_case.get("embedded")
    if emb:
        steps = {s["name"]: s for s in emb.get("steps", [])}
        for name, target in EMBEDDED_TARGETS.items():
            s = steps.get(name)
            ok = bool(s and s["exit_code"] == 0 and s["seconds"] <= target)
            out.append({"check": f"embedded {name} <= {target} s", "value": s and s["seconds"], "ok": ok})
        auc = emb.get("auc", {}).get("auc_roc")
        out.append({"check": "embedded ML best hold-out AUC-ROC", "value": auc, "ok": auc is not None})
    big = by_case.get(f"synthetic-{SYNTHETIC_TARGET_ROWS}")
    if big:
        steps = [s for s in big.get("steps", []) if s["is_stage"]]
        total = round(sum(s["seconds"] for s in steps), 1)
        ok = len(steps) == 3 and all(s["exit_code"] == 0 for s in steps) and total <= SYNTHETIC_TOTAL_TARGET
        out.append(
            {"check": f"10M ingest + cleaning + gold <= {SYNTHETIC_TOTAL_TARGET} s", "value": total, "ok": ok}
        )
    sizes = sorted(int(c["case"].split("-")[1]) for c in cases if c["case"].startswith("synthetic-"))
    if len(sizes) >= 2:
        small, large = by_case[f"synthetic-{sizes[0]}"], by_case[f"synthetic-{sizes[-1]}"]
        factor = sizes[-1] / sizes[0]
        # 12x for a 10x size: the allowance scales with the size ratio.
        time_max, rss_max = SCALING_TIME_MAX * factor / 10, SCALING_DRIVER_RSS_MAX
        s_steps = {s["name"]: s for s in small.get("steps", []) if s["is_stage"]}
        for s in large.get("steps", []):
            base = s_steps.get(s["name"])
            if not s["is_stage"] or not base or not base["seconds"]:
                continue
            t = round(s["seconds"] / base["seconds"], 2)
            m = (
                round(s["peak_driver_rss_mb"] / base["peak_driver_rss_mb"], 2)
                if base["peak_driver_rss_mb"]
                else None
            )
            out.append(
                {
                    "check": f"scaling {s['name']} time x{factor:g} rows <= x{time_max:g}",
                    "value": t,
                    "ok": t <= time_max,
                }
            )
            out.append(
                {
                    "check": f"scaling {s['name']} driver RSS <= x{rss_max:g}",
                    "value": m,
                    "ok": m is not None and m <= rss_max,
                }
            )
    return out


def quarantine(case: dict) -> dict:
    """Rows cleaning quarantined, from its run record."""
    step = next((s for s in case.get("steps", []) if s["name"] == "cleaning"), None)
    flights = ((step or {}).get("record", {}).get("details") or {}).get("flights") or {}
    if not flights.get("bronze_rows"):
        return {}
    rules = (step["record"].get("details") or {}).get("rules") or {}
    return {
        "bronze_rows": flights["bronze_rows"],
        "quarantined": flights.get("quarantined", 0),
        "duplicates": flights.get("duplicates", 0),
        "share_pct": round(100 * flights.get("quarantined", 0) / flights["bronze_rows"], 3),
        "rules": {k: v.get("rows") for k, v in rules.items() if isinstance(v, dict) and v.get("rows")},
    }


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def print_report(cases: list[dict], checks: list[dict]) -> None:
    head = (
        f"{'case':<18} {'step':<10} {'seconds':>8} {'target':>7} {'rows/s':>10} "
        f"{'driver MB':>10} {'total MB':>9} {'load':>5} {'spill MB':>9}  status"
    )
    print("\n" + head)
    print("-" * len(head))
    for c in cases:
        for s in c.get("steps", []):
            target = "" if s["target_s"] is None else f"{s['target_s']:g}"
            spill = s.get("profile", {}).get("spill_disk_mb", "")
            status = "ok" if s["exit_code"] == 0 else "FAILED"
            if s["target_s"] is not None and s["exit_code"] == 0 and s["seconds"] > s["target_s"]:
                status = "SLOW"
            print(
                f"{c['case']:<18} {s['name']:<10} {s['seconds']:>8.1f} {target:>7} {s['rows_per_s']:>10.0f} "
                f"{s['peak_driver_rss_mb']:>10.0f} {s['peak_total_rss_mb']:>9.0f} "
                f"{max(s['load_before'], s['load_after']):>5.1f} {spill!s:>9}  {status}"
            )
        if c.get("auc"):
            print(f"{c['case']:<18} best AUC-ROC {c['auc']['auc_roc']} ({c['auc']['file']})")
        q = quarantine(c)
        if q:
            print(
                f"{c['case']:<18} cleaning quarantined {q['quarantined']} of {q['bronze_rows']} rows "
                f"({q['share_pct']} %), duplicates {q['duplicates']}; rules: {q['rules']}"
            )
    print("\nfiles per table (small-files check):")
    for c in cases:
        for table, t in c.get("tables", {}).items():
            print(
                f"  {c['case']:<18} {table:<34} {t['files']:>6} files {t['mb']:>9.1f} MB "
                f"avg {t['avg_file_mb']:>7.2f} MB  {t['partitions']:>4} partitions"
            )
    if checks:
        print("\nchecks:")
        for v in checks:
            print(f"  [{'pass' if v['ok'] else 'FAIL'}] {v['check']}: {v['value']}")


def save(results_file: Path, run: dict, keep: int = 20) -> None:
    history: list = []
    if results_file.is_file():
        try:
            history = json.loads(results_file.read_text()).get("runs", [])
        except (OSError, json.JSONDecodeError, AttributeError):
            history = []
    history = [*history, run][-keep:]
    results_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = results_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"latest": run, "runs": history}, indent=1), encoding="utf-8")
    tmp.replace(results_file)


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        mult = 1
        if part[-1].lower() in "km":
            mult = 1_000 if part[-1].lower() == "k" else 1_000_000
            part = part[:-1]
        try:
            sizes.append(int(float(part) * mult))
        except ValueError:
            raise SystemExit(
                f"bench: error: --sizes takes row counts like 1000000,10000000 (or 1M,10M), not {text!r}."
            ) from None
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default=default_config_path(), help="the project config to root in var/bench"
    )
    parser.add_argument("--sizes", default="", help="synthetic BTS sizes, e.g. 1000000,10000000 (or 1M,10M)")
    parser.add_argument("--skip-embedded", action="store_true", help="run only the synthetic sizes")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic data")
    parser.add_argument("--year", type=int, default=2023, help="year of the synthetic data")
    parser.add_argument("--regenerate", action="store_true", help="rewrite synthetic input even if present")
    parser.add_argument(
        "--no-weather",
        action="store_true",
        help="synthetic cases ingest the BTS files only (the Open-Meteo files are still written)",
    )
    parser.add_argument("--replay-start", default="2013-01-01")
    parser.add_argument("--replay-end", default="2013-12-31")
    parser.add_argument(
        "--driver-memory",
        default="config",
        help="spark-submit --driver-memory: 'config' (spark.driver_memory of the config, the default), "
        "'none' (spark-submit's own default) or a size such as 6g",
    )
    parser.add_argument("--results", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)
    base = Path(args.config).resolve()
    try:
        cfg = load_config(base)
    except PipelineError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    sizes = parse_sizes(args.sizes)
    if args.driver_memory == "config":
        args.driver_memory = cfg.spark.driver_memory
    elif args.driver_memory == "none":
        args.driver_memory = None
    bench_root = Path(cfg.paths.var) / "bench"
    run_id = f"bench-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    run = {
        "run_id": run_id,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_commit(),
        "spark_master": cfg.spark.master,
        "driver_memory": args.driver_memory or "spark-submit default",
        "cases": [],
    }
    print(
        f"bench {run_id}: {run['machine']['cores']} cores, {run['machine']['memory_gb']} GB, "
        f"load {run['machine']['load_at_start']}, driver memory {run['driver_memory']}"
    )
    if not args.skip_embedded:
        run["cases"].append(run_embedded(base, bench_root, run_id, args))
    for rows in sizes:
        run["cases"].append(run_synthetic(base, bench_root, run_id, rows, args))
    for case in run["cases"]:
        case["quarantine"] = quarantine(case)
    run["checks"] = verdicts(run["cases"])
    run["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save(Path(args.results), run)
    print_report(run["cases"], run["checks"])
    print(f"\nresults appended to {args.results}; stage logs under {bench_root}/<case>/bench-logs/")
    failed = any(s["exit_code"] != 0 for c in run["cases"] for s in c.get("steps", []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
