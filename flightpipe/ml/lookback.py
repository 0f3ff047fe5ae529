"""The operational state at each flight's cutoff, read from *other* flights' observed events.

Every look-up here aggregates events (departures, arrivals, flights joining or leaving the
backlog) that happened strictly before the cutoff (scheduled departure minus
``cutoff_minutes``), so what a flight did itself, or anything after its cutoff, never reaches
its features. ``with_states`` joins them all to the flights; :mod:`flightpipe.ml.features`
declares each column with its timing.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

HOUR = 3600
DAY = 24 * HOUR
# How far back the previous departure of the same aircraft still says something about this one.
TAIL_HORIZON_S = 12 * HOUR
# Earlier flights count as waiting for at most this long (cancellations have no departure).
PENDING_CAP_S = 3 * HOUR
# The same scheduled flight's record: its arrivals over this many days before the cutoff (the
# carrier's recent operation of it moves with the season, which a training-period rate cannot).
FLIGHT_HISTORY_DAYS = 14
# Its latest arrival counts as "yesterday's" only within this long.
FLIGHT_PREV_HORIZON_S = 36 * HOUR
LATE_MINUTES = 15


def secs(col: str | Column) -> Column:
    """Seconds since the epoch of a timestamp column (the session runs in UTC)."""
    return F.unix_timestamp(F.col(col) if isinstance(col, str) else col)


def ratio(num: str, den: str) -> Column:
    """``num / den``, null when nothing was counted."""
    return F.when(F.col(den) > 0, F.col(num) / F.col(den))


def sums(name: str, value: str, hours: tuple[int, ...]) -> list[tuple[str, str, str, int]]:
    """Look-back sums of ``value`` over each of ``hours``, named ``<name><hours>``."""
    return [(f"{name}{h}", "sum", value, h * HOUR) for h in hours]


def lookback(
    flights: DataFrame, events: DataFrame, keys: list[str], aggs: list[tuple[str, str, str, int | None]]
) -> DataFrame:
    """Aggregate ``events`` (keys, ``_t`` seconds, values) over windows ending just before each cutoff.

    Returns one row per (keys, ``_cutoff_s``) of ``flights``. ``aggs`` are (output, 'sum' or
    'last', value column, window seconds or None for all earlier events). Events at the cutoff
    second or later are never seen.
    """
    values = sorted({a[2] for a in aggs})
    targets = (
        flights.select(*keys, F.col("_cutoff_s").alias("_t"))
        .where(reduce(lambda a, b: a & b, [F.col(k).isNotNull() for k in keys]))
        .distinct()
    )
    nothing = [F.lit(None).cast("double").alias(v) for v in values]
    rows = events.select(*keys, "_t", *values, F.lit(False).alias("_is_target")).unionByName(
        targets.select(*keys, "_t", *nothing, F.lit(True).alias("_is_target"))
    )
    order = Window.partitionBy(*keys).orderBy("_t")
    cols = []
    for name, fn, value, seconds in aggs:
        frame = order.rangeBetween(-seconds if seconds else Window.unboundedPreceding, -1)
        agg = F.sum(value) if fn == "sum" else F.last(value, ignorenulls=True)
        cols.append(agg.over(frame).alias(name))
    out = rows.select(*keys, "_t", "_is_target", *cols).where("_is_target")
    return out.drop("_is_target").withColumnRenamed("_t", "_cutoff_s")


def _events(flights: DataFrame, at: str, delay: str) -> DataFrame:
    """Flights with an ``at`` time and ``delay`` as events at that second: count, delay, 15+ late."""
    happened = flights.where(F.col(at).isNotNull() & F.col(delay).isNotNull())
    return happened.select(
        "*",
        secs(at).alias("_t"),
        F.lit(1.0).alias("_n"),
        F.col(delay).cast("double").alias("_delay"),
        F.when(F.col(delay) >= LATE_MINUTES, 1.0).otherwise(0.0).alias("_late"),
    )


def departures(flights: DataFrame) -> DataFrame:
    """Flights that left, as events at their departure second."""
    return _events(flights, "dep_utc", "dep_delay_min")


def arrivals(flights: DataFrame) -> DataFrame:
    """Flights that landed, as events at their arrival second."""
    return _events(flights, "arr_utc", "arr_delay_min")


def backlog(flights: DataFrame, key: str) -> DataFrame:
    """Events of flights joining (+1) and leaving (-1) the queue of those waiting to depart.

    A flight joins at its scheduled time and leaves when it departs, or after the cap (a
    cancellation); an early departure leaves at its scheduled time. ``_wait_s`` carries the
    scheduled second (signed) so the mean wait at a cutoff follows from two sums.
    """
    sched_s = secs("sched_dep_utc")
    cap_s = sched_s + PENDING_CAP_S
    leave_s = F.greatest(sched_s, F.least(F.coalesce(secs("dep_utc"), cap_s), cap_s))
    base = flights.where(F.col("sched_dep_utc").isNotNull())

    def side(t: Column, sign: float) -> DataFrame:
        return base.select(
            key,
            t.alias("_t"),
            F.lit(max(sign, 0.0)).alias("_sched"),
            F.lit(sign).alias("_wait_n"),
            (sched_s * sign).cast("double").alias("_wait_s"),
        )

    return side(sched_s, 1.0).unionByName(side(leave_s, -1.0))


def origin_state(flights: DataFrame) -> DataFrame:
    """Per (origin, cutoff): departures, delays and the backlog of waiting flights before the cutoff."""
    zero = F.lit(0.0)
    deps = departures(flights).select(
        "origin",
        "_t",
        "_n",
        "_delay",
        "_late",
        zero.alias("_sched"),
        zero.alias("_wait_n"),
        zero.alias("_wait_s"),
    )
    queue = backlog(flights, "origin").select(
        "*", zero.alias("_n"), zero.alias("_delay"), zero.alias("_late")
    )
    out = lookback(
        flights,
        deps.unionByName(queue),
        ["origin"],
        [
            *sums("_n", "_n", (1, 3, 6, 12)),
            *sums("_d", "_delay", (1, 3, 6, 12)),
            *sums("_l", "_late", (3,)),
            *sums("_s", "_sched", (3,)),
            ("_wn", "sum", "_wait_n", None),
            ("_ws", "sum", "_wait_s", None),
        ],
    )
    pending = F.greatest(F.coalesce("_wn", zero), zero)
    return out.select(
        "origin",
        "_cutoff_s",
        F.coalesce("_n1", zero).alias("origin_deps_1h"),
        ratio("_d1", "_n1").alias("origin_dep_delay_mean_1h"),
        F.coalesce("_n3", zero).alias("origin_deps_3h"),
        ratio("_d3", "_n3").alias("origin_dep_delay_mean_3h"),
        ratio("_l3", "_n3").alias("origin_dep_delayed_share_3h"),
        ratio("_d6", "_n6").alias("origin_dep_delay_mean_6h"),
        ratio("_d12", "_n12").alias("origin_dep_delay_mean_12h"),
        pending.alias("origin_pending"),
        F.when(F.col("_s3") > 0, F.least(pending / F.col("_s3"), F.lit(1.0))).alias(
            "origin_pending_share_3h"
        ),
        F.when(
            F.col("_wn") > 0, (F.col("_wn") * F.col("_cutoff_s") - F.col("_ws")) / F.col("_wn") / 60
        ).alias("origin_pending_wait_mean_min"),
    )


def carrier_state(flights: DataFrame) -> DataFrame:
    """Per (origin, carrier, cutoff): the carrier's mean departure delay there in the 3 h before."""
    events = departures(flights).select("origin", "carrier", "_t", "_n", "_delay")
    aggs = [("_cn", "sum", "_n", 3 * HOUR), ("_cd", "sum", "_delay", 3 * HOUR)]
    out = lookback(flights, events, ["origin", "carrier"], aggs)
    return out.select(
        "origin", "carrier", "_cutoff_s", ratio("_cd", "_cn").alias("carrier_origin_dep_delay_mean_3h")
    )


def network_state(flights: DataFrame) -> DataFrame:
    """Per cutoff: mean departure delay over every origin in the data in the 3 h before."""
    events = departures(flights).select(F.lit(1).alias("_all"), "_t", "_n", "_delay")
    aggs = [("_an", "sum", "_n", 3 * HOUR), ("_ad", "sum", "_delay", 3 * HOUR)]
    out = lookback(flights.withColumn("_all", F.lit(1)), events, ["_all"], aggs)
    return out.select("_cutoff_s", ratio("_ad", "_an").alias("network_dep_delay_mean_3h"))


def dest_state(flights: DataFrame) -> DataFrame:
    """Per (dest, cutoff): flights that landed there, left for it, or still wait to leave for it.

    Departures bound for one destination held back together (and a queue of them) are how a
    ground-delay programme or bad weather there shows before the flight's own cutoff.
    """
    zero = F.lit(0.0)
    landed = arrivals(flights).select(
        "dest",
        "_t",
        F.col("_n").alias("_xn"),
        F.col("_delay").alias("_xd"),
        zero.alias("_n"),
        zero.alias("_delay"),
    )
    left = departures(flights).select("dest", "_t", zero.alias("_xn"), zero.alias("_xd"), "_n", "_delay")
    events = landed.unionByName(left).select("*", zero.alias("_wait_n"))
    queue = backlog(flights, "dest").select(
        "dest", "_t", zero.alias("_xn"), zero.alias("_xd"), zero.alias("_n"), zero.alias("_delay"), "_wait_n"
    )
    aggs = [
        *sums("_xn", "_xn", (3,)),
        *sums("_xd", "_xd", (3,)),
        *sums("_n", "_n", (3, 6)),
        *sums("_d", "_delay", (3, 6)),
        ("_wn", "sum", "_wait_n", None),
    ]
    out = lookback(flights, events.unionByName(queue), ["dest"], aggs)
    return out.select(
        "dest",
        "_cutoff_s",
        F.coalesce("_xn3", zero).alias("dest_arrivals_3h"),
        ratio("_xd3", "_xn3").alias("dest_arr_delay_mean_3h"),
        ratio("_d3", "_n3").alias("dest_dep_delay_mean_3h"),
        ratio("_d6", "_n6").alias("dest_dep_delay_mean_6h"),
        F.greatest(F.coalesce("_wn", zero), zero).alias("dest_pending"),
    )


def tail_state(flights: DataFrame) -> DataFrame:
    """Per (aircraft, cutoff): delay of its last departure before the cutoff, within 12 h."""
    events = departures(flights).where(F.col("tail_number").isNotNull())
    events = events.select("tail_number", "_t", "_delay", F.col("_t").cast("double").alias("_at"))
    aggs = [("_pd", "last", "_delay", TAIL_HORIZON_S), ("_pt", "last", "_at", TAIL_HORIZON_S)]
    out = lookback(flights, events, ["tail_number"], aggs)
    return out.select(
        "tail_number",
        "_cutoff_s",
        F.col("_pd").alias("tail_prev_dep_delay_min"),
        F.when(F.col("_pt").isNotNull(), 1.0).otherwise(0.0).alias("has_tail_prev_dep"),
    )


def flight_history_state(flights: DataFrame) -> DataFrame:
    """Per (carrier, flight number, cutoff): how that scheduled flight arrived on the days before.

    Its share of arrivals 15+ minutes late and their count over the last 14 days, and the
    arrival delay of its latest landing within 36 h (usually yesterday's), all landed before
    the cutoff.
    """
    keys = ["carrier", "flight_number"]
    events = arrivals(flights).select(*keys, "_t", "_n", "_late", "_delay")
    window = FLIGHT_HISTORY_DAYS * DAY
    aggs = [
        ("_fn", "sum", "_n", window),
        ("_fl", "sum", "_late", window),
        ("_fd", "last", "_delay", FLIGHT_PREV_HORIZON_S),
    ]
    out = lookback(flights, events, keys, aggs)
    return out.select(
        *keys,
        "_cutoff_s",
        ratio("_fl", "_fn").alias("flight_late_share_14d"),
        F.coalesce("_fn", F.lit(0.0)).alias("flight_arrivals_14d"),
        F.col("_fd").alias("flight_prev_arr_delay_min"),
    )


# Look-ups of the operational state at each cutoff, with the keys they join on.
STATES = (
    (origin_state, ["origin"]),
    (carrier_state, ["origin", "carrier"]),
    (network_state, []),
    (dest_state, ["dest"]),
    (tail_state, ["tail_number"]),
    (flight_history_state, ["carrier", "flight_number"]),
)


def with_states(flights: DataFrame):
    """Join every operational look-up computed from ``flights`` (one plan each, never nested)."""

    def apply(df: DataFrame) -> DataFrame:
        for state, keys in STATES:
            df = df.join(state(flights), [*keys, "_cutoff_s"], "left")
        return df.withColumn("has_tail_prev_dep", F.coalesce("has_tail_prev_dep", F.lit(0.0)))

    return apply
