"""The bench's JDBC load step: a mart of a million rows loaded by gold's own loader.

:func:`mart_frame` builds ``rows`` distinct routes with the columns, Spark types and value
ranges of ``route_delays`` (the widest mart with two secondary indexes) from ``spark.range``
and column expressions, nothing collected to the driver. :func:`run_load` materialises it
(gold's marts are persisted and counted before their load too, so the write reads cached
rows) and hands it to :func:`flightpipe.gold.swap.load_tables`: staging table, Spark's JDBC
writer, row-count check and the ``RENAME TABLE`` swap, exactly as gold.py does. The run
record's details hold the loader's report (rows, seconds and rows/s of the JDBC write).
"""

from __future__ import annotations

import math

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.gold import ROUTE_DELAYS
from flightpipe.core.errors import PipelineError
from flightpipe.core.runlog import StageRun
from flightpipe.core.settings import Settings
from flightpipe.gold import swap
from flightpipe.tools.synth.draws import uniform

STAGE = "jdbc_load"
ROWS = 1_000_000
SPEC = ROUTE_DELAYS
SEED = 42


def _draw(purpose: str) -> Column:
    """A uniform draw in (0, 1) per row, the same at any parallelism."""
    return uniform(SEED, purpose, F.col("id"))


def _code(n: Column) -> Column:
    """A 3-character airport-like code of a number below 36^3 (base 36, upper case)."""
    return F.lpad(F.conv(n.cast("string"), 10, 36), 3, "0")


def _stride(rows: int) -> int:
    """A step coprime to ``rows``, near ``rows`` over the golden ratio: ``id * step mod rows``
    visits every number below ``rows`` once, each far from the one before."""
    step = max(1, round(rows * 0.6180339887))
    while math.gcd(step, rows) != 1:
        step += 1
    return step


def mart_frame(spark: SparkSession, rows: int = ROWS, partitions: int | None = None) -> DataFrame:
    """``rows`` rows shaped and typed like ``route_delays``, one per (origin, dest) pair, in no
    particular key order."""
    # A square grid of airports: route -> (route div width, route mod width) never repeats.
    width = max(1, math.isqrt(max(rows - 1, 0)) + 1)
    if width > 36**3:
        raise PipelineError(f"{rows} routes need more than 36^3 airports per side; use at most {36**6} rows.")
    df = spark.range(0, rows, numPartitions=partitions or spark.sparkContext.defaultParallelism)
    # A real mart leaves its groupBy in hash order, not in key order (what the loader must cope
    # with): rows take the routes in a scrambled order, without a shuffle.
    df = df.withColumn("route", F.pmod(F.col("id") * F.lit(_stride(rows)), F.lit(rows)))
    df = df.withColumns(
        {
            "origin": _code(F.floor(F.col("route") / width)),
            "dest": _code(F.col("route") % width),
            "flights": (1 + F.floor(F.pow(_draw("flights"), 3) * 6000)).cast("long"),
        }
    )
    df = df.withColumns(
        {
            # About 1.6 % cancelled and 0.2 % diverted, as in the synthetic flights.
            "cancelled": F.floor(F.col("flights") * 0.032 * _draw("cancelled")).cast("long"),
            "diverted": F.floor(F.col("flights") * 0.004 * _draw("diverted")).cast("long"),
        }
    )
    df = df.withColumn("flights_with_arr_delay", F.col("flights") - F.col("cancelled") - F.col("diverted"))
    df = df.withColumn(
        "delayed_15", F.floor(F.col("flights_with_arr_delay") * 0.4 * _draw("delayed")).cast("long")
    )
    with_arr = F.col("flights_with_arr_delay") > 0
    out = df.select(
        "origin",
        "dest",
        # Real airport names run 20-40 characters.
        F.concat(F.lit("Airport "), F.col("origin"), F.lit(" International")).alias("origin_name"),
        F.concat(F.lit("Airport "), F.col("dest"), F.lit(" Regional")).alias("dest_name"),
        (100 + _draw("distance") * 4800).cast("decimal(8,1)").alias("distance_mi"),
        "flights",
        "cancelled",
        "diverted",
        "flights_with_arr_delay",
        "delayed_15",
        F.when(with_arr, F.col("delayed_15") / F.col("flights_with_arr_delay"))
        .cast("decimal(5,4)")
        .alias("delay_rate"),
        (F.col("cancelled") / F.col("flights")).cast("decimal(5,4)").alias("cancel_rate"),
        (_draw("dep") * 40 - 5).cast("decimal(8,2)").alias("avg_dep_delay_min"),
        F.when(with_arr, _draw("arr") * 45 - 10).cast("decimal(8,2)").alias("avg_arr_delay_min"),
    )
    return out.select(*SPEC.column_names)


def run_load(spark: SparkSession, cfg: Settings, record: StageRun, rows: int = ROWS) -> int:
    """Build the frame, load it with gold's loader, put the loader's report in ``record``."""
    frame = mart_frame(spark, rows).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # Materialised before the load, like gold's marts: the write then measures the load only.
        counted = int(frame.count())
        record.rows_in = counted
        report = swap.load_tables(cfg.gold, [(SPEC, frame)], [counted])
    finally:
        frame.unpersist()
    record.rows_out = report.counts[SPEC.name]
    # The loader logged the rate (one line per mart and the total); the bench reads it here.
    record.details = {"table": SPEC.name, "jdbc": report.details()}
    return 0
