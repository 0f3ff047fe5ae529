"""A profile of a step from its Spark event logs: jobs, tasks, spill, shuffle, GC, skew."""

from __future__ import annotations

import json
import statistics

from flightpipe.core import storage


def _event_files(path: str) -> list[str]:
    # Spark 4 writes rolling event logs: a folder eventlog_v2_<app>/ of events_<n>_<app> files.
    if storage.is_dir(path):
        found = storage.list_files(path, recursive=False)
        return [f.path for f in found if storage.name(f.path).startswith("events_")]
    return [path]


def profile_event_logs(paths: list[str]) -> dict:
    """Jobs, stages, tasks, spill, shuffle, GC and the most skewed stage of some event logs."""
    jobs = stages = tasks = 0
    spill_mem = spill_disk = shuffle_read = shuffle_write = gc_ms = run_ms = 0
    input_bytes = output_bytes = 0
    durations: dict[tuple[int, int], list[int]] = {}
    names: dict[tuple[int, int], str] = {}
    for path in [f for p in paths for f in _event_files(str(p))]:
        try:
            data = storage.read_bytes(path) or b""
        except OSError:
            continue
        for line in data.decode("utf-8", errors="replace").splitlines():
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
