"""Local ``hhmm`` clock times to UTC timestamps through each airport's IANA time zone.

Flight sources give times as local ``hhmm`` integers (``2400`` is the midnight that ends
the day) and, at best, the local date of the scheduled departure. A local wall clock is
built as a timestamp in the UTC session (``date * 86400 + minutes * 60``) and turned into
an instant with ``to_utc_timestamp(wall, tz)``, which follows the zone's DST rules: a
time in the spring-forward gap moves forward by the gap (02:30 on 2013-03-10 in New York
is 03:30 EDT), a repeated time in the fall-back hour takes the earlier (daylight) offset.

The day of a time that carries no date is chosen from what the source does carry:
departure and arrival from their delay (the day that makes ``actual - scheduled`` equal
the delay), the scheduled arrival as the first one after the scheduled departure
(no scheduled flight lasts a day or more).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

MINUTES_PER_DAY = 1440


def is_valid_hhmm(hhmm: Column) -> Column:
    """True for a clock time 0000..2400 with minutes below 60; null stays null."""
    return (hhmm >= 0) & (hhmm <= 2400) & (hhmm % 100 < 60)


def hhmm_to_minutes(hhmm: Column) -> Column:
    """Minutes after local midnight (2400 -> 1440); null for a missing or invalid time."""
    return F.when(is_valid_hhmm(hhmm), F.floor(hhmm / 100).cast("int") * 60 + hhmm % 100)


def local_to_utc(local_date: Column, minutes: Column, tz_name: Column) -> Column:
    """The UTC instant of ``minutes`` after midnight of ``local_date`` in zone ``tz_name``."""
    return F.to_utc_timestamp(local_wall(local_date, minutes), tz_name)


def minutes_between(later: Column, earlier: Column) -> Column:
    """Whole minutes from ``earlier`` to ``later`` (negative when later is before)."""
    return ((F.unix_seconds(later) - F.unix_seconds(earlier)) / 60).cast("double")


def day_shift_from_delay(actual_min: Column, sched_min: Column, delay_min: Column) -> Column:
    """Days between the scheduled and actual local dates, from the delay.

    The actual clock time is ``delay`` minutes after the scheduled one, so the day shift is
    the whole number of days that reconciles the two clock readings with the delay. Without
    a delay the actual time is taken to fall within 6 h before to 18 h after the schedule.
    """
    diff = actual_min - sched_min
    from_delay = F.round((delay_min - diff) / MINUTES_PER_DAY).cast("int")
    guess = F.when(diff < -360, F.lit(1)).when(diff >= 1080, F.lit(-1)).otherwise(F.lit(0))
    return F.coalesce(from_delay, guess)


def local_wall(local_date: Column, minutes: Column) -> Column:
    """A local date and clock as a zone-less wall-clock timestamp (in the UTC session)."""
    return F.timestamp_seconds(F.unix_date(local_date).cast("long") * 86400 + minutes.cast("long") * 60)


def day_shift_after(local_date: Column, minutes: Column, anchor_utc: Column, tz_name: Column) -> Column:
    """Days to add to ``local_date`` so that its clock ``minutes`` falls in the day after ``anchor_utc``.

    Compared on the wall clock of ``tz_name`` (where a day is always 1440 minutes), so a
    DST change between the two days does not shift the result by a day.
    """
    gap = minutes_between(local_wall(local_date, minutes), F.from_utc_timestamp(anchor_utc, tz_name))
    return (-F.floor((gap - 1) / MINUTES_PER_DAY)).cast("int")


def with_utc_times(df: DataFrame) -> DataFrame:
    """Add sched/actual departure/arrival UTC timestamps and the weather key.

    Expects ``flight_date`` (local scheduled departure date at the origin), the ``*_hhmm``
    clock columns, ``dep_delay_min``, ``arr_delay_min``, ``is_cancelled``, ``is_diverted``,
    and the zones ``origin_tz`` / ``dest_tz`` (null for an unknown airport).
    """
    sched_dep_m = hhmm_to_minutes(F.col("sched_dep_hhmm"))
    dep_m = hhmm_to_minutes(F.col("dep_hhmm"))
    sched_arr_m = hhmm_to_minutes(F.col("sched_arr_hhmm"))
    arr_m = hhmm_to_minutes(F.col("arr_hhmm"))

    sched_dep_utc = local_to_utc(F.col("flight_date"), sched_dep_m, F.col("origin_tz"))
    dep_date = F.date_add(
        F.col("flight_date"), day_shift_from_delay(dep_m, sched_dep_m, F.col("dep_delay_min"))
    )
    dep_utc = local_to_utc(dep_date, dep_m, F.col("origin_tz"))

    sched_arr_date = F.date_add(
        F.col("flight_date"),
        day_shift_after(F.col("flight_date"), sched_arr_m, F.col("sched_dep_utc"), F.col("dest_tz")),
    )
    sched_arr_utc = local_to_utc(F.col("_sched_arr_date"), sched_arr_m, F.col("dest_tz"))

    arr_by_delay = F.date_add(
        F.col("_sched_arr_date"), day_shift_from_delay(arr_m, sched_arr_m, F.col("arr_delay_min"))
    )
    # Without an arrival delay (or scheduled arrival), the arrival is the first such clock time
    # after the departure.
    arr_by_dep = F.date_add(
        F.col("flight_date"),
        day_shift_after(
            F.col("flight_date"),
            arr_m,
            F.coalesce(F.col("dep_utc"), F.col("sched_dep_utc")),
            F.col("dest_tz"),
        ),
    )
    arr_date = F.coalesce(arr_by_delay, arr_by_dep)

    return (
        df.withColumn("sched_dep_utc", sched_dep_utc)
        .withColumn("dep_utc", F.when(~F.col("is_cancelled"), dep_utc))
        .withColumn("_sched_arr_date", sched_arr_date)
        .withColumn("sched_arr_utc", sched_arr_utc)
        .withColumn(
            "arr_utc",
            F.when(
                ~F.col("is_cancelled") & ~F.col("is_diverted"),
                local_to_utc(arr_date, arr_m, F.col("dest_tz")),
            ),
        )
        .withColumn("sched_dep_hour_utc", F.date_trunc("hour", F.col("sched_dep_utc")))
        .withColumn("sched_dep_local_hour", (F.floor(sched_dep_m / 60) % 24).cast("int"))
        .drop("_sched_arr_date")
    )
