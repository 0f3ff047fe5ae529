"""Scan splits: Spark's packing replayed, and the split that keeps both cores busy."""

import pytest
from pyspark.sql import functions as F

from flightpipe.core.session import temporary_confs
from flightpipe.core.splits import MAX_SPLIT_BYTES, MB, makespan, scan_tasks, split_bytes

# The bronze flights of the 10M-row bench: 29 BTS files, 24 of about 16 MB and five smaller.
BENCH_10M = [16 * MB + 100_000] * 24 + [
    13 * MB,
    10 * MB + 400_000,
    10 * MB + 200_000,
    10 * MB + 200_000,
    9 * MB,
]


def test_makespan_starts_each_task_on_the_first_free_core():
    # Core A: 5 then 2 (ends at 7); core B: 3 then 3 (ends at 6).
    assert makespan([5, 3, 3, 2], 2) == 7
    assert makespan([5, 3, 3, 2], 1) == 13
    assert makespan([], 2) == 0


def test_scan_tasks_cut_large_files_and_pack_the_pieces_largest_first():
    # Four 24 MB files, a 16 MB split: each file is cut into 16 + 8 MB; a 16 MB piece fills a
    # task, and two 8 MB pieces do not fit one (8 + 4 MB open cost + 8 > 16).
    assert scan_tasks([24 * MB] * 4, 16 * MB, 2) == [20 * MB] * 4 + [12 * MB] * 4
    # A 52 MB split: two whole files a task (24 + 4 + 24 <= 52); Spark caps any larger split at
    # the bytes per core, 4 x 28 MB / 2 = 56 MB, so 128 MB packs the same.
    assert scan_tasks([24 * MB] * 4, 52 * MB, 2) == [56 * MB] * 2
    assert scan_tasks([24 * MB] * 4, 128 * MB, 2) == [56 * MB] * 2
    # Empty files make no task (one core: the 18 MB of the scan do not lower the split).
    assert scan_tasks([0, 10 * MB], 16 * MB, 1) == [14 * MB]


def test_split_bytes_prefers_fewest_tasks_among_equal_ends():
    # 16 MB would make 8 tasks ending at 64 MB of work a core; 24-27 MB makes four 28 MB tasks
    # and 52 MB and up two 56 MB ones, both ending at 56: the fewest tasks win.
    assert split_bytes([[24 * MB] * 4], 2) == MAX_SPLIT_BYTES
    assert len(scan_tasks([24 * MB] * 4, MAX_SPLIT_BYTES, 2)) == 2


def test_split_bytes_keeps_the_largest_task_from_running_alone_at_the_end():
    ideal = sum(s + 4 * MB for s in BENCH_10M) / 2
    # The former choice, about four splits a core (70 MB): eight tasks of three 16 MB files,
    # then the five smallest files in one task, the largest, alone on a core.
    old = scan_tasks(BENCH_10M, 70 * MB, 2)
    assert len(old) == 9 and old[-1] == max(old)
    assert makespan(old, 2) > 1.12 * ideal
    # The chosen split: 14 tasks of two files, the three smallest last, within 4 % of a
    # perfect share (a 20 MB split, 29 single-file tasks, would end 1.5 % sooner).
    chosen = split_bytes([BENCH_10M], 2)
    tasks = scan_tasks(BENCH_10M, chosen, 2)
    assert len(tasks) == 14 and tasks[-1] < max(tasks)
    assert makespan(tasks, 2) <= 1.04 * ideal


@pytest.fixture(scope="module")
def six_files(spark, tmp_path_factory):
    """A folder of six parquet files of different sizes (random hex does not compress)."""
    folder = tmp_path_factory.mktemp("splits") / "files"
    for rows in (300, 900, 1500, 2600, 400, 1200):
        spark.range(rows).select(F.sha2(F.col("id").cast("string"), 256).alias("h")).coalesce(1).write.mode(
            "append"
        ).parquet(str(folder))
    sizes = [p.stat().st_size for p in folder.glob("part-*.parquet")]
    assert len(sizes) == 6
    return str(folder), sizes


@pytest.mark.parametrize("split_kb", [40, 64, 100, 250])
def test_scan_tasks_match_the_partitions_spark_makes(spark, six_files, split_kb):
    # A small open cost, so that splits of tens of kilobytes cut and pack these files as the
    # megabyte ones are cut and packed at scale.
    folder, sizes = six_files
    cores = spark.sparkContext.defaultParallelism
    confs = {
        "spark.sql.files.openCostInBytes": "8192",
        "spark.sql.files.maxPartitionBytes": str(split_kb * 1024),
    }
    with temporary_confs(spark, confs):
        partitions = spark.read.parquet(folder).rdd.getNumPartitions()
    assert partitions == len(scan_tasks(sizes, split_kb * 1024, cores, open_cost=8192))
