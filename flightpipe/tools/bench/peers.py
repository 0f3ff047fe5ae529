"""The peers of a synthetic case: a plain PySpark script and a DuckDB script doing the same work.

Both read the case's own input files (``bench/peers/``), one process per stage like ours, and
are timed and sampled by the same runner; their ``PEER_RESULT`` lines say what they wrote, so
the bench can check they did the same work before it prints the ratios.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict

from flightpipe.core import stages, storage
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.settings import PACKAGE_ROOT
from flightpipe.core.submit import spark_submit_command
from flightpipe.tools.bench.runner import Runner, event_log_conf

PEERS = ("spark", "duckdb")
PEER_STAGES = ("ingest", "cleaning", "gold")
RESULT_PREFIX = "PEER_RESULT "
PASSWORD_ENV = "PEER_DB_PASSWORD"


def write_reference(data: str) -> None:
    """airports.csv and airlines.csv beside the case's input: the reference both peers join."""
    source = embedded_data_dir()
    for name in ("airports.csv", "airlines.csv"):
        # The bench folder is always local (the runner's subprocesses write into it).
        shutil.copyfile(source / name, storage.join(data, name))


def peer_command(r: Runner, peer: str, stage: str, data: str, out: str, no_weather: bool) -> list[str]:
    """The command line of one peer stage."""
    gold = r.cfg.gold
    args = ["--stage", stage, "--input", data, "--out", out]
    if no_weather:
        args.append("--no-weather")
    if stage == "gold":
        args += ["--db-host", gold.host, "--db-port", str(gold.port), "--db-name", gold.database]
        args += ["--db-user", gold.user]
    script = str(PACKAGE_ROOT / "bench" / "peers" / f"{peer}_plain.py")
    if peer == "duckdb":
        return [sys.executable, script, *args]
    # The case's event log, which ours gets through its config, so both are profiled alike.
    events = event_log_conf(storage.join(r.cfg.paths.var, "eventlog"))
    return spark_submit_command(r.submit, script, args, conf=events)


def peer_result(log_path: str) -> dict:
    """The last PEER_RESULT line of a peer's log."""
    return parse_result((storage.read_bytes(log_path) or b"").decode(errors="replace"))


def parse_result(output: str) -> dict:
    """The last PEER_RESULT line of a peer's output, parsed ({} when there is none)."""
    found: dict = {}
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            try:
                found = json.loads(line[len(RESULT_PREFIX) :])
            except json.JSONDecodeError:
                found = {}
    return found


def run_peers(r: Runner, data: str, rows: int, no_weather: bool) -> list[dict]:
    """Both peers' stages on the case's input (the case's MariaDB up for their gold)."""
    write_reference(data)
    service = next(s for s in stages.upstream("gold") if s.kind == "service")
    r.env = {**r.env, PASSWORD_ENV: r.cfg.gold.password}
    first = len(r.steps)
    started = r.service(service, "start") == 0
    try:
        for peer in PEERS:
            out = storage.join(r.root, "peers", peer)
            for stage in PEER_STAGES:
                name = f"{peer}:{stage}"
                cmd = peer_command(r, peer, stage, data, out, no_weather)
                step = r.run(name, cmd, rows, "", None, True)
                step.record = peer_result(storage.join(r.logs, f"{name}.log"))
                if step.exit_code != 0:
                    break
    finally:
        if started:
            r.service(service, "stop")
    return [asdict(s) for s in r.steps[first:]]


def ours(case: dict) -> dict[str, dict]:
    """Our stage steps of a case, by stage name."""
    return {s["name"]: s for s in case.get("steps", []) if s["name"] in PEER_STAGES}


def ratios(case: dict) -> dict:
    """Per stage and in total: our seconds over each peer's (only when every step ran)."""
    mine = ours(case)
    peers = {s["name"]: s for s in case.get("peers", [])}
    out: dict = {}
    for peer in PEERS:
        theirs = {st: peers.get(f"{peer}:{st}") for st in PEER_STAGES}
        steps = [*(mine.get(st) for st in PEER_STAGES), *theirs.values()]
        if any(s is None or s["exit_code"] != 0 or not s["seconds"] for s in steps):
            continue
        per = {st: round(mine[st]["seconds"] / theirs[st]["seconds"], 2) for st in PEER_STAGES}
        total_ours = sum(mine[st]["seconds"] for st in PEER_STAGES)
        total_theirs = sum(theirs[st]["seconds"] for st in PEER_STAGES)
        per["total"] = round(total_ours / total_theirs, 2)
        out[peer] = per
    return out


def agreement(case: dict) -> list[dict]:
    """Did each peer keep, quarantine and aggregate the same rows as ours?"""
    cleaning = ours(case).get("cleaning") or {}
    flights = ((cleaning.get("record") or {}).get("details") or {}).get("flights") or {}
    if not flights.get("bronze_rows"):
        return []
    expected = {
        "bronze_rows": flights["bronze_rows"],
        "silver_rows": flights.get("silver_rows"),
        "quarantine_rows": flights.get("quarantined", 0),
        "duplicate_rows": flights.get("duplicates", 0),
    }
    peers = {s["name"]: s for s in case.get("peers", [])}
    out = []
    for peer in PEERS:
        done = (peers.get(f"{peer}:cleaning") or {}).get("record") or {}
        gold = (peers.get(f"{peer}:gold") or {}).get("record") or {}
        got = {k: done.get(k) for k in expected}
        got_flights = gold.get("flights")
        ok = got == expected and got_flights == expected["silver_rows"]
        value = {"ours": expected, peer: got, "gold_flights": got_flights}
        out.append({"check": f"{case['case']} {peer} peer did the same work", "value": value, "ok": ok})
    return out
