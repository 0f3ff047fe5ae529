"""Model features built from silver flights and hourly weather, the same way for training and scoring.

Every feature is declared once in ``FEATURES`` with the silver columns it reads and *when* that
information exists. Nothing may read the flight's own departure or arrival outcome: the operational
signals read other flights' outcomes, and only those observable at the flight's cutoff
(scheduled departure minus ``cutoff_minutes``): departures and arrivals that happened before it,
and the earlier flights still waiting at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# What a flight turns out to do. A feature may read these only from other flights, and only
# for events before the cutoff (timing "before_cutoff").
OUTCOME_COLUMNS = frozenset(
    {
        "dep_utc",
        "dep_delay_min",
        "arr_utc",
        "arr_delay_min",
        "air_time_min",
        "is_cancelled",
        "is_diverted",
        "is_delayed_15",
    }
)
LABEL_SOURCE = "is_delayed_15"
LABEL = "label"
FLIGHT_KEY = ("flight_date", "carrier", "flight_number", "origin", "sched_dep_utc")

# Timings: "schedule" (known when the flight is published), "weather" (observations at the
# origin up to the scheduled departure hour), "before_cutoff" (other flights' events that
# happened before this flight's cutoff).
TIMINGS = ("schedule", "weather", "before_cutoff")


@dataclass(frozen=True)
class Feature:
    """One model input: its column, kind (numeric or categorical), the silver columns it reads, when known."""

    name: str
    kind: str
    sources: tuple[str, ...]
    timing: str


def _f(name: str, sources: str, timing: str, kind: str = "numeric") -> Feature:
    return Feature(name, kind, tuple(sources.split()), timing)


_WX = "airport hour_utc"
_DEP = "origin dep_utc dep_delay_min"
FEATURES: tuple[Feature, ...] = (
    # calendar and route
    _f("carrier", "carrier", "schedule", "categorical"),
    _f("origin", "origin", "schedule", "categorical"),
    _f("dest", "dest", "schedule", "categorical"),
    _f("month", "flight_date", "schedule"),
    _f("day_of_week", "flight_date", "schedule"),
    _f("sched_dep_local_hour", "sched_dep_local_hour", "schedule"),
    _f("distance_mi", "distance_mi", "schedule"),
    # congestion: the published schedule at the origin
    _f("origin_sched_deps_hour", "origin sched_dep_hour_utc", "schedule"),
    _f("origin_sched_deps_day", "origin flight_date", "schedule"),
    # weather at the origin at the scheduled departure hour and the three hours before
    _f("temp_c", f"{_WX} temp_c", "weather"),
    _f("dewpoint_c", f"{_WX} dewpoint_c", "weather"),
    _f("humidity_pct", f"{_WX} humidity_pct", "weather"),
    _f("wind_speed_kmh", f"{_WX} wind_speed_kmh", "weather"),
    _f("wind_gust_kmh", f"{_WX} wind_gust_kmh wind_speed_kmh", "weather"),
    _f("precip_mm", f"{_WX} precip_mm", "weather"),
    _f("pressure_hpa", f"{_WX} pressure_hpa", "weather"),
    _f("visibility_km", f"{_WX} visibility_km", "weather"),
    _f("precip_mm_4h", f"{_WX} precip_mm", "weather"),
    _f("visibility_km_min_4h", f"{_WX} visibility_km", "weather"),
    _f("wind_speed_kmh_max_4h", f"{_WX} wind_speed_kmh", "weather"),
    _f("pressure_change_3h", f"{_WX} pressure_hpa", "weather"),
    # operational state at the cutoff, from other flights' observed events
    _f("origin_deps_1h", _DEP, "before_cutoff"),
    _f("origin_dep_delay_mean_1h", _DEP, "before_cutoff"),
    _f("origin_deps_3h", _DEP, "before_cutoff"),
    _f("origin_dep_delay_mean_3h", _DEP, "before_cutoff"),
    _f("origin_dep_delayed_share_3h", _DEP, "before_cutoff"),
    _f("origin_dep_delay_mean_6h", _DEP, "before_cutoff"),
    _f("origin_pending", "origin sched_dep_utc dep_utc", "before_cutoff"),
    _f("origin_pending_share_3h", "origin sched_dep_utc dep_utc", "before_cutoff"),
    _f("origin_pending_wait_mean_min", "origin sched_dep_utc dep_utc", "before_cutoff"),
    _f("carrier_origin_dep_delay_mean_3h", f"carrier {_DEP}", "before_cutoff"),
    _f("network_dep_delay_mean_3h", "dep_utc dep_delay_min", "before_cutoff"),
    _f("dest_arr_delay_mean_3h", "dest arr_utc arr_delay_min", "before_cutoff"),
    _f("dest_arrivals_3h", "dest arr_utc arr_delay_min", "before_cutoff"),
    _f("tail_prev_dep_delay_min", "tail_number dep_utc dep_delay_min", "before_cutoff"),
    _f("has_tail_prev_dep", "tail_number dep_utc", "before_cutoff"),
)
CATEGORICAL = tuple(f.name for f in FEATURES if f.kind == "categorical")
NUMERIC = tuple(f.name for f in FEATURES if f.kind == "numeric")

_HOUR = 3600
# How far back the previous departure of the same aircraft still says something about this one.
_TAIL_HORIZON_S = 12 * _HOUR
# Earlier flights count as waiting for at most this long (cancellations have no departure).
_PENDING_CAP_S = 3 * _HOUR


def _secs(col: str | Column) -> Column:
    return F.unix_timestamp(F.col(col) if isinstance(col, str) else col)


def _ratio(num: str, den: str) -> Column:
    return F.when(F.col(den) > 0, F.col(num) / F.col(den))


def with_calendar(df: DataFrame) -> DataFrame:
    """Month and day of week of the scheduled (local) departure date."""
    return df.withColumn("month", F.month("flight_date")).withColumn(
        "day_of_week", F.dayofweek("flight_date")
    )


def with_congestion(df: DataFrame) -> DataFrame:
    """Scheduled departures at the origin in the same UTC hour and on the same day (cancelled ones too)."""
    hour = Window.partitionBy("origin", "sched_dep_hour_utc")
    day = Window.partitionBy("origin", "flight_date")
    return df.withColumn("origin_sched_deps_hour", F.count(F.lit(1)).over(hour)).withColumn(
        "origin_sched_deps_day", F.count(F.lit(1)).over(day)
    )


def hourly_weather_features(weather: DataFrame) -> DataFrame:
    """One row per airport and hour: observations plus the four-hour look-back aggregates."""
    hourly = weather.groupBy("airport", "hour_utc").agg(
        F.avg("temp_c").alias("temp_c"),
        F.avg("dewpoint_c").alias("dewpoint_c"),
        F.avg("humidity_pct").alias("humidity_pct"),
        F.avg("wind_speed_kmh").alias("wind_speed_kmh"),
        # No gust reported means no gust: the sustained wind is the best estimate.
        F.avg(F.coalesce("wind_gust_kmh", "wind_speed_kmh")).alias("wind_gust_kmh"),
        F.avg("precip_mm").alias("precip_mm"),
        F.avg("pressure_hpa").alias("pressure_hpa"),
        F.avg("visibility_km").alias("visibility_km"),
    )
    by_time = Window.partitionBy("airport").orderBy(_secs("hour_utc"))
    back = by_time.rangeBetween(-3 * _HOUR, 0)
    three_ago = by_time.rangeBetween(-3 * _HOUR, -3 * _HOUR)
    return hourly.select(
        "*",
        F.sum("precip_mm").over(back).alias("precip_mm_4h"),
        F.min("visibility_km").over(back).alias("visibility_km_min_4h"),
        F.max("wind_speed_kmh").over(back).alias("wind_speed_kmh_max_4h"),
        (F.col("pressure_hpa") - F.first("pressure_hpa").over(three_ago)).alias("pressure_change_3h"),
    )


def with_weather(weather: DataFrame):
    """Join the origin's weather at the scheduled departure hour."""
    wx = hourly_weather_features(weather).withColumnRenamed("airport", "origin")
    wx = wx.withColumnRenamed("hour_utc", "sched_dep_hour_utc")

    def apply(df: DataFrame) -> DataFrame:
        return df.join(wx, ["origin", "sched_dep_hour_utc"], "left")

    return apply


def _lookback(
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


def _departures(flights: DataFrame) -> DataFrame:
    departed = flights.where(F.col("dep_utc").isNotNull() & F.col("dep_delay_min").isNotNull())
    return departed.select(
        "*",
        _secs("dep_utc").alias("_t"),
        F.lit(1.0).alias("_n"),
        F.col("dep_delay_min").cast("double").alias("_delay"),
        F.when(F.col("dep_delay_min") >= 15, 1.0).otherwise(0.0).alias("_late"),
    )


def origin_state(flights: DataFrame) -> DataFrame:
    """Per (origin, cutoff): departures, delays and the backlog of waiting flights before the cutoff."""
    zero = F.lit(0.0)
    deps = _departures(flights).select(
        "origin",
        "_t",
        "_n",
        "_delay",
        "_late",
        zero.alias("_sched"),
        zero.alias("_wait_n"),
        zero.alias("_wait_s"),
    )
    sched_s = _secs("sched_dep_utc")
    # A flight joins the backlog at its scheduled time and leaves it when it departs, or after
    # the cap (a cancellation); an early departure leaves at its scheduled time.
    cap_s = sched_s + _PENDING_CAP_S
    leave_s = F.greatest(sched_s, F.least(F.coalesce(_secs("dep_utc"), cap_s), cap_s))
    base = flights.where(F.col("sched_dep_utc").isNotNull())

    def backlog(t: Column, sign: float) -> DataFrame:
        return base.select(
            "origin",
            t.alias("_t"),
            zero.alias("_n"),
            zero.alias("_delay"),
            zero.alias("_late"),
            F.lit(max(sign, 0.0)).alias("_sched"),
            F.lit(sign).alias("_wait_n"),
            (sched_s * sign).cast("double").alias("_wait_s"),
        )

    events = deps.unionByName(backlog(sched_s, 1.0)).unionByName(backlog(leave_s, -1.0))
    h = _HOUR
    out = _lookback(
        flights,
        events,
        ["origin"],
        [
            ("_n1", "sum", "_n", h),
            ("_d1", "sum", "_delay", h),
            ("_n3", "sum", "_n", 3 * h),
            ("_d3", "sum", "_delay", 3 * h),
            ("_l3", "sum", "_late", 3 * h),
            ("_n6", "sum", "_n", 6 * h),
            ("_d6", "sum", "_delay", 6 * h),
            ("_s3", "sum", "_sched", 3 * h),
            ("_wn", "sum", "_wait_n", None),
            ("_ws", "sum", "_wait_s", None),
        ],
    )
    pending = F.greatest(F.coalesce("_wn", zero), zero)
    return out.select(
        "origin",
        "_cutoff_s",
        F.coalesce("_n1", zero).alias("origin_deps_1h"),
        _ratio("_d1", "_n1").alias("origin_dep_delay_mean_1h"),
        F.coalesce("_n3", zero).alias("origin_deps_3h"),
        _ratio("_d3", "_n3").alias("origin_dep_delay_mean_3h"),
        _ratio("_l3", "_n3").alias("origin_dep_delayed_share_3h"),
        _ratio("_d6", "_n6").alias("origin_dep_delay_mean_6h"),
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
    events = _departures(flights).select("origin", "carrier", "_t", "_n", "_delay")
    aggs = [("_cn", "sum", "_n", 3 * _HOUR), ("_cd", "sum", "_delay", 3 * _HOUR)]
    out = _lookback(flights, events, ["origin", "carrier"], aggs)
    return out.select(
        "origin", "carrier", "_cutoff_s", _ratio("_cd", "_cn").alias("carrier_origin_dep_delay_mean_3h")
    )


def network_state(flights: DataFrame) -> DataFrame:
    """Per cutoff: mean departure delay over every origin in the data in the 3 h before."""
    events = _departures(flights).select(F.lit(1).alias("_all"), "_t", "_n", "_delay")
    aggs = [("_an", "sum", "_n", 3 * _HOUR), ("_ad", "sum", "_delay", 3 * _HOUR)]
    out = _lookback(flights.withColumn("_all", F.lit(1)), events, ["_all"], aggs)
    return out.select("_cutoff_s", _ratio("_ad", "_an").alias("network_dep_delay_mean_3h"))


def dest_state(flights: DataFrame) -> DataFrame:
    """Per (dest, cutoff): arrival delays of flights that landed there in the 3 h before."""
    arrived = flights.where(F.col("arr_utc").isNotNull() & F.col("arr_delay_min").isNotNull())
    events = arrived.select(
        "dest",
        _secs("arr_utc").alias("_t"),
        F.lit(1.0).alias("_n"),
        F.col("arr_delay_min").cast("double").alias("_d"),
    )
    out = _lookback(
        flights, events, ["dest"], [("_xn", "sum", "_n", 3 * _HOUR), ("_xd", "sum", "_d", 3 * _HOUR)]
    )
    return out.select(
        "dest",
        "_cutoff_s",
        F.coalesce("_xn", F.lit(0.0)).alias("dest_arrivals_3h"),
        _ratio("_xd", "_xn").alias("dest_arr_delay_mean_3h"),
    )


def tail_state(flights: DataFrame) -> DataFrame:
    """Per (aircraft, cutoff): delay of its last departure before the cutoff, within 12 h."""
    events = _departures(flights).where(F.col("tail_number").isNotNull())
    events = events.select("tail_number", "_t", "_delay", F.col("_t").cast("double").alias("_at"))
    aggs = [("_pd", "last", "_delay", _TAIL_HORIZON_S), ("_pt", "last", "_at", _TAIL_HORIZON_S)]
    out = _lookback(flights, events, ["tail_number"], aggs)
    return out.select(
        "tail_number",
        "_cutoff_s",
        F.col("_pd").alias("tail_prev_dep_delay_min"),
        F.when(F.col("_pt").isNotNull(), 1.0).otherwise(0.0).alias("has_tail_prev_dep"),
    )


# Look-ups of the operational state at each cutoff, with the keys they join on.
_STATES = (
    (origin_state, ["origin"]),
    (carrier_state, ["origin", "carrier"]),
    (network_state, []),
    (dest_state, ["dest"]),
    (tail_state, ["tail_number"]),
)


def with_states(flights: DataFrame):
    """Join every operational look-up computed from ``flights`` (one plan each, never nested)."""

    def apply(df: DataFrame) -> DataFrame:
        for state, keys in _STATES:
            df = df.join(state(flights), [*keys, "_cutoff_s"], "left")
        return df.withColumn("has_tail_prev_dep", F.coalesce("has_tail_prev_dep", F.lit(0.0)))

    return apply


def with_label(df: DataFrame) -> DataFrame:
    """label = 1.0 when the flight arrived 15+ minutes late; null when cancelled or diverted."""
    return df.withColumn(LABEL, F.col(LABEL_SOURCE).cast("double"))


def build_features(flights: DataFrame, weather: DataFrame, cutoff_minutes: int = 60) -> DataFrame:
    """Silver flights (+ hourly weather) -> one row per flight: key, every feature, label, flags.

    Pass every flight around the period of interest (cancelled ones and a day before it
    included): the operational features of a flight are read from the flights before it.
    """
    base = flights.withColumn("_cutoff_s", _secs("sched_dep_utc") - cutoff_minutes * 60)
    out = (
        base.transform(with_calendar)
        .transform(with_congestion)
        .transform(with_weather(weather))
        .transform(with_states(base))
        .transform(with_label)
    )
    numeric = [F.col(n).cast("double").alias(n) for n in NUMERIC]
    extra = [c for c in CATEGORICAL if c not in FLIGHT_KEY]
    return out.select(*FLIGHT_KEY, *extra, "is_cancelled", "is_diverted", LABEL, *numeric)
