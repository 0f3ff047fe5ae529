"""The bench cases: the embedded year, synthetic BTS data of a given size, and the JDBC load.

Each case runs its stages in the order of the stage graph; a service a stage needs (the
case's own MariaDB) is started right before that stage and stopped at the end of the case.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flightpipe.core import stages, storage
from flightpipe.core.stages import Stage
from flightpipe.tools.bench import peers
from flightpipe.tools.bench.runner import Runner, Step, case_config
from flightpipe.tools.bench.tables import table_files
from flightpipe.tools.bench.verdicts import EMBEDDED_TARGETS, JDBC_STEP

EMBEDDED_FLIGHTS = 336_776
EMBEDDED_STAGES = ("ingest", "replay", "streaming", "cleaning", "ml", "gold")
SYNTHETIC_STAGES = ("ingest", "cleaning", "gold")


@dataclass(frozen=True)
class CaseOptions:
    """The bench's options that shape a case."""

    driver_memory: str | None
    seed: int = 42
    year: int = 2023
    regenerate: bool = False
    no_weather: bool = False
    replay_start: str = "2013-01-01"
    replay_end: str = "2013-12-31"
    peers: bool = True


def run_stages(r: Runner, names: tuple[str, ...], rows: int, targets: dict[str, float]) -> None:
    """Run the named stages in graph order; stop at the first failure."""
    started: list[Stage] = []
    try:
        for stage in stages.order():
            if stage.name not in names:
                continue
            for need in stages.upstream(stage.name):
                if need.kind == "service" and need not in started:
                    if r.service(need, "start") != 0:
                        r.steps.append(Step(stage.name, exit_code=1, error=f"{need.script} start failed"))
                        return
                    started.append(need)
            script = Path(stage.script).name
            record = stage.name if stage.is_spark else ""
            target = targets.get(stage.name)
            step = r.run(stage.name, r.command(stage), rows, script, target, stage.is_spark, record)
            if step.exit_code != 0:
                return
    finally:
        for service in started:
            r.service(service, "stop")


def fresh_root(root: str, keep: frozenset[str] = frozenset()) -> None:
    """Empty a bench folder, keeping the named entries (generated input)."""
    storage.makedirs(root)
    entries = [f.path for f in storage.list_files(root, recursive=False)] + storage.list_dirs(root)
    for entry in entries:
        if storage.name(entry) not in keep:
            storage.delete(entry)


def best_auc(models: str, since: float) -> dict:
    """The best hold-out AUC-ROC found in the metrics.json files written since ``since``."""
    best: dict = {}

    def walk(obj, where: str, path: str) -> None:
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
            best = {"auc_roc": round(float(obj), 4), "key": where, "file": path}

    for info in storage.list_files(models, "metrics.json"):
        if storage.name(info.path) != "metrics.json" or info.mtime < since - 1:
            continue
        metrics = storage.read_json(info.path)
        if metrics is not None:
            walk(metrics, "", info.path)
    return best


def run_embedded(base: str, bench_root: str, run_id: str, opts: CaseOptions) -> dict:
    root = storage.join(bench_root, "embedded")
    fresh_root(root)
    config = case_config(base, root, {"embedded": True, "bts_files": [], "openmeteo_files": []})
    r = Runner(config, root, run_id, opts.driver_memory, (opts.replay_start, opts.replay_end))
    print(f"\n== embedded (2013, {EMBEDDED_FLIGHTS} flights) in {root}")
    result: dict = {"case": "embedded", "rows": EMBEDDED_FLIGHTS, "root": root}
    started = time.time()
    run_stages(r, EMBEDDED_STAGES, EMBEDDED_FLIGHTS, EMBEDDED_TARGETS)
    result["auc"] = best_auc(r.cfg.paths.models, started)
    result["steps"] = [asdict(s) for s in r.steps]
    result["tables"] = table_files(r.cfg.paths.bronze, r.cfg.paths.warehouse)
    return result


def run_synthetic(base: str, bench_root: str, run_id: str, rows: int, opts: CaseOptions) -> dict:
    root = storage.join(bench_root, f"synthetic-{rows}")
    data = storage.join(root, "input")
    marker = storage.join(data, "synth.json")
    wanted = {"rows": rows, "seed": opts.seed, "year": opts.year}
    previous = storage.read_json(marker) if not opts.regenerate else None
    reuse = isinstance(previous, dict) and {k: previous.get(k) for k in wanted} == wanted
    fresh_root(root, keep=frozenset({"input"}) if reuse else frozenset())
    ingest = {
        "embedded": True,  # the reference data: airports (time zones) and airlines
        "bts_files": [storage.join(data, "bts", "*.csv")],
        "openmeteo_files": [] if opts.no_weather else [storage.join(data, "openmeteo", "*.json")],
    }
    config = case_config(base, root, ingest)
    r = Runner(config, root, run_id, opts.driver_memory)
    print(f"\n== synthetic {rows} BTS rows (seed {opts.seed}, {opts.year}) in {root}")
    result: dict = {
        "case": f"synthetic-{rows}",
        "rows": rows,
        "root": root,
        "weather_ingested": not opts.no_weather,
    }
    if reuse:
        result["generate"] = previous
        print(f"  generate   reused {data} (written in {previous.get('seconds')} s)")
    else:
        args = ("--rows", str(rows), "--out", data, "--seed", str(opts.seed), "--year", str(opts.year))
        cmd = r.spark_script("scripts/synth_bts.py", *args)
        step = r.run("generate", cmd, rows, "synth_bts.py", None, False)
        if step.exit_code != 0:
            result["steps"] = [asdict(s) for s in r.steps]
            return result
        result["generate"] = {**wanted, "seconds": step.seconds, "bytes": storage.total_size(data)}
        storage.write_json(marker, result["generate"], indent=None)
    run_stages(r, SYNTHETIC_STAGES, rows, {})
    result["steps"] = [asdict(s) for s in r.steps]
    result["tables"] = table_files(r.cfg.paths.bronze, r.cfg.paths.warehouse)
    if opts.peers and all(s.exit_code == 0 for s in r.steps):
        print(f"  peers on the same files: {', '.join(peers.PEERS)}")
        result["peers"] = peers.run_peers(r, data, rows, opts.no_weather)
        result["ratios"] = peers.ratios(result)
    return result


def run_jdbc(base: str, bench_root: str, run_id: str, rows: int, opts: CaseOptions) -> dict:
    """A mart of ``rows`` rows loaded by gold's loader (scripts/jdbc_load.py) into the case's MariaDB."""
    root = storage.join(bench_root, f"jdbc-{rows}")
    fresh_root(root)
    config = case_config(base, root, {"embedded": False, "bts_files": [], "openmeteo_files": []})
    r = Runner(config, root, run_id, opts.driver_memory)
    print(f"\n== JDBC load of a {rows}-row mart (route_delays' shape) in {root}")
    result: dict = {"case": f"jdbc-{rows}", "rows": rows, "root": root}
    # The server the gold stage needs, started by the same script as for gold.
    service = next(s for s in stages.upstream("gold") if s.kind == "service")
    if r.service(service, "start") != 0:
        r.steps.append(Step(JDBC_STEP, exit_code=1, error=f"{service.script} start failed"))
    else:
        try:
            cmd = r.spark_script("scripts/jdbc_load.py", "--rows", str(rows))
            r.run(JDBC_STEP, cmd, rows, "jdbc_load.py", None, False, record_stage="jdbc_load")
        finally:
            r.service(service, "stop")
    result["steps"] = [asdict(s) for s in r.steps]
    return result
