"""Model features built from silver flights and hourly weather, the same way for training and scoring.

Every feature is declared once in ``FEATURES`` with the silver columns it reads, *when* that
information exists and the group it belongs to (the ablation report removes one group at a
time). Nothing may read the flight's own departure or arrival outcome, nor anything observed
after the flight's cutoff (scheduled departure minus ``cutoff_minutes``): the weather is the
last observation at or before the cutoff, and the operational signals
(:mod:`flightpipe.ml.lookback`) read other flights' departures and arrivals that happened
before it, and the earlier flights still waiting at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from flightpipe.ml.lookback import FLIGHT_HISTORY_DAYS, HOUR, PENDING_CAP_S, secs, with_states

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
# Days of flights before the period of interest the look-backs read (the longest is the
# scheduled flight's 14-day record); the ML stage loads them as context.
CONTEXT_DAYS = FLIGHT_HISTORY_DAYS

# Timings: "schedule" (known when the flight and its aircraft rotation are published),
# "weather" (observations at the origin up to the cutoff), "before_cutoff" (other flights'
# events that happened before this flight's cutoff).
TIMINGS = ("schedule", "weather", "before_cutoff")
# Groups, for the ablation report: what the models lose without each.
GROUPS = ("calendar_route", "congestion", "weather", "operational", "aircraft", "flight_history")


@dataclass(frozen=True)
class Feature:
    """One model input: column, kind (numeric or categorical), silver columns read, when known, group."""

    name: str
    kind: str
    sources: tuple[str, ...]
    timing: str
    group: str


def _group(group: str, *specs: tuple[str, str, str] | tuple[str, str, str, str]) -> tuple[Feature, ...]:
    """Features of one group from (name, sources, timing[, kind]) tuples; kind defaults to numeric."""
    return tuple(
        Feature(s[0], s[3] if len(s) > 3 else "numeric", tuple(s[1].split()), s[2], group) for s in specs
    )


_WX = "airport hour_utc"
_DEP = "origin dep_utc dep_delay_min"
_TAIL = "tail_number sched_dep_utc"
FEATURES: tuple[Feature, ...] = (
    # Calendar and route. No month: with a time split the test months never occur in training,
    # and the trees then score October-December as if they were September (0.005 AUC lost).
    *_group(
        "calendar_route",
        ("carrier", "carrier", "schedule", "categorical"),
        ("origin", "origin", "schedule", "categorical"),
        ("dest", "dest", "schedule", "categorical"),
        ("day_of_week", "flight_date", "schedule"),
        ("sched_dep_local_hour", "sched_dep_local_hour", "schedule"),
        ("distance_mi", "distance_mi", "schedule"),
    ),
    # The published schedule at the origin.
    *_group(
        "congestion",
        ("origin_sched_deps_hour", "origin sched_dep_hour_utc", "schedule"),
        ("origin_sched_deps_day", "origin flight_date", "schedule"),
    ),
    # Weather at the origin: the last hourly observation at or before the cutoff, and the
    # hours before it.
    *_group(
        "weather",
        ("temp_c", f"{_WX} temp_c", "weather"),
        ("dewpoint_c", f"{_WX} dewpoint_c", "weather"),
        ("humidity_pct", f"{_WX} humidity_pct", "weather"),
        ("wind_speed_kmh", f"{_WX} wind_speed_kmh", "weather"),
        ("wind_gust_kmh", f"{_WX} wind_gust_kmh wind_speed_kmh", "weather"),
        ("precip_mm", f"{_WX} precip_mm", "weather"),
        ("pressure_hpa", f"{_WX} pressure_hpa", "weather"),
        ("visibility_km", f"{_WX} visibility_km", "weather"),
        ("precip_mm_4h", f"{_WX} precip_mm", "weather"),
        ("visibility_km_min_4h", f"{_WX} visibility_km", "weather"),
        ("wind_speed_kmh_max_4h", f"{_WX} wind_speed_kmh", "weather"),
        ("pressure_change_3h", f"{_WX} pressure_hpa", "weather"),
    ),
    # Operational state at the cutoff, from other flights' observed events.
    *_group(
        "operational",
        ("origin_deps_1h", _DEP, "before_cutoff"),
        ("origin_dep_delay_mean_1h", _DEP, "before_cutoff"),
        ("origin_deps_3h", _DEP, "before_cutoff"),
        ("origin_dep_delay_mean_3h", _DEP, "before_cutoff"),
        ("origin_dep_delayed_share_3h", _DEP, "before_cutoff"),
        ("origin_dep_delay_mean_6h", _DEP, "before_cutoff"),
        ("origin_dep_delay_mean_12h", _DEP, "before_cutoff"),
        ("origin_pending", "origin sched_dep_utc dep_utc", "before_cutoff"),
        ("origin_pending_share_3h", "origin sched_dep_utc dep_utc", "before_cutoff"),
        ("origin_pending_wait_mean_min", "origin sched_dep_utc dep_utc", "before_cutoff"),
        ("carrier_origin_dep_delay_mean_3h", f"carrier {_DEP}", "before_cutoff"),
        ("network_dep_delay_mean_3h", "dep_utc dep_delay_min", "before_cutoff"),
        ("dest_arr_delay_mean_3h", "dest arr_utc arr_delay_min", "before_cutoff"),
        ("dest_arrivals_3h", "dest arr_utc arr_delay_min", "before_cutoff"),
        ("dest_dep_delay_mean_3h", "dest dep_utc dep_delay_min", "before_cutoff"),
        ("dest_dep_delay_mean_6h", "dest dep_utc dep_delay_min", "before_cutoff"),
        ("dest_pending", "dest sched_dep_utc dep_utc", "before_cutoff"),
    ),
    # The aircraft: its rotation (published with the schedule) and how its previous leg went,
    # as far as it was known at the cutoff.
    *_group(
        "aircraft",
        ("tail_prev_dep_delay_min", "tail_number dep_utc dep_delay_min", "before_cutoff"),
        ("has_tail_prev_dep", "tail_number dep_utc", "before_cutoff"),
        ("tail_leg_of_day", f"{_TAIL} flight_date", "schedule"),
        ("tail_prev_sched_gap_min", _TAIL, "schedule"),
        ("tail_prev_sched_arr_gap_min", f"{_TAIL} sched_arr_utc", "schedule"),
        ("tail_prev_leg_delay_min", f"{_TAIL} dep_utc dep_delay_min", "before_cutoff"),
        ("tail_prev_leg_pending", f"{_TAIL} dep_utc", "before_cutoff"),
        ("tail_prev_arr_delay_min", f"{_TAIL} arr_utc arr_delay_min", "before_cutoff"),
    ),
    # The same scheduled flight (carrier and number) on the days before, landed before the cutoff.
    *_group(
        "flight_history",
        ("flight_late_share_14d", "carrier flight_number arr_utc arr_delay_min", "before_cutoff"),
        ("flight_arrivals_14d", "carrier flight_number arr_utc arr_delay_min", "before_cutoff"),
        ("flight_prev_arr_delay_min", "carrier flight_number arr_utc arr_delay_min", "before_cutoff"),
    ),
)
CATEGORICAL = tuple(f.name for f in FEATURES if f.kind == "categorical")
NUMERIC = tuple(f.name for f in FEATURES if f.kind == "numeric")


def with_calendar(df: DataFrame) -> DataFrame:
    """Day of week of the scheduled (local) departure date."""
    return df.withColumn("day_of_week", F.dayofweek("flight_date"))


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
    by_time = Window.partitionBy("airport").orderBy(secs("hour_utc"))
    back = by_time.rangeBetween(-3 * HOUR, 0)
    three_ago = by_time.rangeBetween(-3 * HOUR, -3 * HOUR)
    return hourly.select(
        "*",
        F.sum("precip_mm").over(back).alias("precip_mm_4h"),
        F.min("visibility_km").over(back).alias("visibility_km_min_4h"),
        F.max("wind_speed_kmh").over(back).alias("wind_speed_kmh_max_4h"),
        (F.col("pressure_hpa") - F.first("pressure_hpa").over(three_ago)).alias("pressure_change_3h"),
    )


def with_weather(weather: DataFrame):
    """Join the origin's weather of the last full hour at or before the cutoff.

    An observation stamped at the scheduled departure hour may be made after the cutoff, so the
    hour is taken from the cutoff, never from the departure.
    """
    wx = hourly_weather_features(weather)
    wx = wx.select(F.col("airport").alias("origin"), secs("hour_utc").alias("_wx_s"), *wx.columns[2:])

    def apply(df: DataFrame) -> DataFrame:
        hour = (F.floor(F.col("_cutoff_s") / HOUR) * HOUR).alias("_wx_s")
        return df.select("*", hour).join(wx, ["origin", "_wx_s"], "left").drop("_wx_s")

    return apply


def with_previous_leg(df: DataFrame) -> DataFrame:
    """The same aircraft's previous scheduled departure, and what was known of it at the cutoff.

    From the rotation (schedule): this flight's leg number of the day, and the minutes since the
    previous leg's scheduled departure and scheduled arrival. At the cutoff: the previous leg's
    departure delay when it had left, or else the minutes it had been waiting (a lower bound,
    ``tail_prev_leg_pending`` = 1; up to the backlog cap, after which it counts as cancelled),
    and its arrival delay when it had landed. Needs ``_cutoff_s``; rows without a tail number
    get nulls (and ``tail_prev_leg_pending`` 0).
    """
    order = ["sched_dep_utc", "carrier", "flight_number"]
    leg = Window.partitionBy("tail_number").orderBy(*order)
    day = Window.partitionBy("tail_number", "flight_date").orderBy(*order)
    cutoff, sched = F.col("_cutoff_s"), secs("sched_dep_utc")
    prev_sched, prev_sched_arr = F.lag(sched).over(leg), F.lag(secs("sched_arr_utc")).over(leg)
    prev_dep, prev_delay = F.lag(secs("dep_utc")).over(leg), F.lag("dep_delay_min").over(leg)
    prev_arr, prev_arr_delay = F.lag(secs("arr_utc")).over(leg), F.lag("arr_delay_min").over(leg)
    left = prev_dep < cutoff
    waiting = F.coalesce(~left, F.lit(True)) & (prev_sched < cutoff) & (prev_sched >= cutoff - PENDING_CAP_S)
    has_tail = F.col("tail_number").isNotNull()

    def known(value):
        return F.when(has_tail, value)

    return df.select(
        "*",
        known(F.row_number().over(day)).alias("tail_leg_of_day"),
        known((sched - prev_sched) / 60).alias("tail_prev_sched_gap_min"),
        known((sched - prev_sched_arr) / 60).alias("tail_prev_sched_arr_gap_min"),
        known(F.when(left, prev_delay).when(waiting, (cutoff - prev_sched) / 60)).alias(
            "tail_prev_leg_delay_min"
        ),
        F.when(has_tail & waiting, 1.0).otherwise(0.0).alias("tail_prev_leg_pending"),
        known(F.when(prev_arr < cutoff, prev_arr_delay)).alias("tail_prev_arr_delay_min"),
    )


def with_label(df: DataFrame) -> DataFrame:
    """label = 1.0 when the flight arrived 15+ minutes late; null when cancelled or diverted."""
    return df.withColumn(LABEL, F.col(LABEL_SOURCE).cast("double"))


def build_features(flights: DataFrame, weather: DataFrame, cutoff_minutes: int = 60) -> DataFrame:
    """Silver flights (+ hourly weather) -> one row per flight: key, every feature, label, flags.

    Pass every flight around the period of interest (cancelled ones and the ``CONTEXT_DAYS``
    before it included): the operational features of a flight are read from the flights
    before it.
    """
    base = flights.withColumn("_cutoff_s", secs("sched_dep_utc") - cutoff_minutes * 60)
    out = (
        base.transform(with_calendar)
        .transform(with_congestion)
        .transform(with_previous_leg)
        .transform(with_weather(weather))
        .transform(with_states(base))
        .transform(with_label)
    )
    numeric = [F.col(n).cast("double").alias(n) for n in NUMERIC]
    extra = [c for c in CATEGORICAL if c not in FLIGHT_KEY]
    return out.select(*FLIGHT_KEY, *extra, "is_cancelled", "is_diverted", LABEL, *numeric)
