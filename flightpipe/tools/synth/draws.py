"""Deterministic random draws (hashes of seed, purpose and keys) and time and number helpers."""

from __future__ import annotations

import bisect
import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.tools.synth.reference import BUCKETS, STORM_BLOCK_HOURS, STORM_SHARE


def uniform(seed: int, purpose: str, *keys: Column) -> Column:
    """A uniform draw in (0, 1) fixed by the seed, the purpose and the keys."""
    bits = F.xxhash64(F.lit(seed), F.lit(purpose), *keys).bitwiseAND(F.lit((1 << 53) - 1))
    return (bits.cast("double") + 0.5) / float(1 << 53)


def normal(seed: int, purpose: str, *keys: Column) -> Column:
    """A standard normal draw (Box-Muller over two hashed uniforms)."""
    u1, u2 = uniform(seed, purpose + ".1", *keys), uniform(seed, purpose + ".2", *keys)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * math.pi * u2)


def is_storm(seed: int, airport_idx: Column, epoch_hour: Column) -> Column:
    """Whether the airport has a storm in that UTC hour (shared by flights and weather)."""
    block = F.floor(epoch_hour / STORM_BLOCK_HOURS)
    return uniform(seed, "storm", airport_idx, block) < STORM_SHARE


def bucket_table(spark: SparkSession, weights: list[float], name: str) -> DataFrame:
    """``BUCKETS`` rows (bucket, index): a uniform bucket maps to an index with its weight."""
    total = sum(weights)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    rows = [
        (b, min(bisect.bisect_left(cumulative, (b + 0.5) / BUCKETS), len(weights) - 1))
        for b in range(BUCKETS)
    ]
    return spark.createDataFrame(rows, f"bucket int, {name} int")


def weighted(spark: SparkSession, df: DataFrame, u: Column, weights: list[float], name: str) -> DataFrame:
    """Add column ``name``: an index drawn with ``weights`` by the uniform ``u``."""
    table = F.broadcast(bucket_table(spark, weights, name).withColumnRenamed("bucket", f"_{name}_b"))
    keyed = df.withColumn(f"_{name}_b", F.least(F.floor(u * BUCKETS).cast("int"), F.lit(BUCKETS - 1)))
    return keyed.join(table, f"_{name}_b").drop(f"_{name}_b")


# --- time helpers ----------------------------------------------------------------------------
def local_wall(date: Column, minutes: Column) -> Column:
    """A local date and clock as a zone-less timestamp (the session is UTC)."""
    return F.timestamp_seconds(F.unix_date(date).cast("long") * 86400 + minutes.cast("long") * 60)


def plus_minutes(ts: Column, minutes: Column) -> Column:
    return F.timestamp_seconds(F.unix_seconds(ts) + minutes.cast("long") * 60)


def hhmm(utc: Column, tz: Column) -> Column:
    """The local clock (``hhmm``, 4 digits as BTS writes it) of a UTC instant in zone ``tz``."""
    return F.date_format(F.from_utc_timestamp(utc, tz), "HHmm")


def time_block(hhmm_text: Column) -> Column:
    """BTS hourly block of a clock time: 0001-0559, then 0600-0659 ... 2300-2359."""
    hour = F.substring(hhmm_text, 1, 2).cast("int")
    return F.when(hour < 6, F.lit("0001-0559")).otherwise(F.format_string("%02d00-%02d59", hour, hour))


def bts_number(c: Column) -> Column:
    """A number as BTS writes it (two decimals); null stays an empty field."""
    return c.cast("decimal(10,2)").cast("string")


def delay_group(delay: Column) -> Column:
    return F.greatest(F.lit(-2), F.least(F.lit(12), F.floor(delay / 15))).cast("int")
