"""Scan splits: the ``spark.sql.files.maxPartitionBytes`` that keeps every core busy to the end.

Spark cuts the files of a scan at the split size, sorts the pieces by size and packs them
next-fit into tasks, each file counting ``spark.sql.files.openCostInBytes`` on top of its
bytes (``FilePartition.getFilePartitions``); its scheduler then starts the tasks in that
order, each on the first free core. With a few large files the packing can leave the
largest task for last: at 10M rows a 70 MB split made eight tasks of three 16 MB files and
a ninth of the five smallest, the largest, run on one core while the other waited (35 s of
a 182 s stage). :func:`split_bytes` replays the packing and the schedule for each candidate
split and keeps the one that ends soonest.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

MB = 1024 * 1024
MIN_SPLIT_BYTES = 16 * MB
MAX_SPLIT_BYTES = 128 * MB  # Spark's default
SPLIT_STEP = MB
OPEN_COST_BYTES = 4 * MB  # spark.sql.files.openCostInBytes, Spark's default
# A split whose tasks end within 2 % of the best is as good: the one with fewer tasks wins
# (fewer files opened twice, fewer shuffle files).
TOLERANCE = 1.02


def scan_tasks(sizes: Sequence[int], split: int, cores: int, open_cost: int = OPEN_COST_BYTES) -> list[int]:
    """Weighted bytes (data and open cost) of each task Spark makes of one scan over files of
    ``sizes`` with ``maxPartitionBytes`` ``split`` and ``cores`` as its default parallelism,
    in the order Spark runs them."""
    total = sum(s + open_cost for s in sizes)
    # Spark never cuts below the scan's bytes per core, nor above the configured split.
    cut = min(split, max(open_cost, total // max(1, cores)))
    pieces = sorted((min(cut, s - offset) for s in sizes for offset in range(0, s, cut)), reverse=True)
    tasks: list[int] = []
    current, files = 0, 0
    for piece in pieces:
        if files and current + piece > cut:
            tasks.append(current)
            current, files = 0, 0
        current += piece + open_cost
        files += 1
    if files:
        tasks.append(current)
    return tasks


def makespan(tasks: Sequence[int], cores: int) -> int:
    """When the last of ``tasks`` ends, started in order, each on the first free of ``cores``."""
    free = [0] * max(1, cores)
    for task in tasks:
        heapq.heapreplace(free, free[0] + task)
    return max(free)


def split_bytes(scans: Sequence[Sequence[int]], cores: int) -> int:
    """``maxPartitionBytes`` between 16 and 128 MB for a stage reading ``scans`` (the file
    sizes of each scan, run one after the other) on ``cores``: the split whose tasks end
    soonest, the largest of those with the fewest tasks among near ties."""
    scored = []
    for split in range(MIN_SPLIT_BYTES, MAX_SPLIT_BYTES + 1, SPLIT_STEP):
        tasks = [t for sizes in scans for t in scan_tasks(sizes, split, cores)]
        scored.append((makespan(tasks, cores), len(tasks), split))
    best = min(end for end, _, _ in scored)
    near = [s for s in scored if s[0] <= best * TOLERANCE]
    return min(near, key=lambda s: (s[1], -s[2]))[2]
