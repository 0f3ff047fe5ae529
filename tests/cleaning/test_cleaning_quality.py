"""Each quality rule on tiny frames, the duplicate rule, and the configurable actions."""

from __future__ import annotations

import zlib
from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.core.errors import PipelineError
from flightpipe.silver import quality
from flightpipe.silver.conform import with_delay_flag, with_time_zones
from flightpipe.silver.times import with_utc_times

STAGED = (
    "id string, flight_date date, carrier string, flight_number int, origin string, dest string, "
    "sched_dep_hhmm int, dep_hhmm int, sched_arr_hhmm int, arr_hhmm int, dep_delay_min double, "
    "arr_delay_min double, air_time_min double, is_cancelled boolean, is_diverted boolean, "
    "_ingested_at timestamp, _source_file string, _batch_id string"
)
GOOD = {
    "flight_date": date(2013, 1, 1),
    "carrier": "UA",
    "flight_number": 1545,
    "origin": "EWR",
    "dest": "IAH",
    "sched_dep_hhmm": 515,
    "dep_hhmm": 517,
    "sched_arr_hhmm": 819,
    "arr_hhmm": 830,
    "dep_delay_min": 2.0,
    "arr_delay_min": 11.0,
    "air_time_min": 227.0,
    "is_cancelled": False,
    "is_diverted": False,
    "_ingested_at": datetime(2026, 1, 1),
    "_source_file": "a.csv",
    "_batch_id": "b1",
}
SETTINGS = quality.QualitySettings("2013-01-01", "2013-12-31", -120.0, 1800.0)
DEFAULT_ACTIONS = quality.resolve_actions({}, "test")


def row(id_: str, **changes):
    values = {**GOOD, "flight_number": zlib.crc32(id_.encode()) % 100000, **changes}
    return (id_, *[values[c.split()[0]] for c in STAGED.split(", ")[1:]])


def airports(spark):
    return spark.createDataFrame(
        [("EWR", "America/New_York"), ("IAH", "America/Chicago"), ("NOTZ", None)],
        "airport string, tz_name string",
    )


def check(spark, rows, actions=DEFAULT_ACTIONS, partitions=0):
    staged = spark.createDataFrame(rows, STAGED)
    return (
        staged.transform(with_time_zones(airports(spark)))
        .transform(with_utc_times)
        .transform(with_delay_flag)
        .transform(
            lambda df: quality.with_quality_outcome(df, SETTINGS, actions, F.lit(0), partitions=partitions)
        )
    )


def outcomes(spark, rows, actions=DEFAULT_ACTIONS, partitions=0):
    return check(spark, rows, actions, partitions).select("id", "rules_broken", "outcome")


def expect(spark, triples):
    return spark.createDataFrame(triples, "id string, rules_broken array<string>, outcome string")


def test_each_rule(spark):
    rows = [
        row("good"),
        row("cancelled", dep_hhmm=None, arr_hhmm=None, dep_delay_min=None, arr_delay_min=None, air_time_min=None, is_cancelled=True),
        row("diverted", arr_delay_min=None, air_time_min=None, is_diverted=True),
        row("no_carrier", carrier=None),
        row("blank_dest", dest=" "),
        row("no_sched_dep", sched_dep_hhmm=None),
        row("unknown_dest", dest="XXX"),
        row("dest_without_zone", dest="NOTZ"),
        row("too_early", flight_date=date(2012, 12, 31)),
        row("bad_arr_clock", arr_hhmm=1261),
        row("no_sched_arr", sched_arr_hhmm=None),
        row("delay_too_big", dep_delay_min=2000.0),
        row("delay_too_early", arr_delay_min=-200.0),
        row("air_time_too_long", air_time_min=400.0),
        row("no_departure", dep_hhmm=None, dep_delay_min=None),
        row("no_arrival", arr_hhmm=None),
    ]  # fmt: skip
    expected = expect(
        spark,
        [
            ("good", [], "silver"),
            ("cancelled", [], "silver"),
            ("diverted", [], "silver"),
            ("no_carrier", ["required_keys"], "quarantined"),
            ("blank_dest", ["required_keys", "known_airports", "arrival_after_departure"], "quarantined"),
            ("no_sched_dep", ["required_keys"], "quarantined"),
            ("unknown_dest", ["known_airports", "arrival_after_departure"], "quarantined"),
            ("dest_without_zone", ["known_airports", "arrival_after_departure"], "quarantined"),
            ("too_early", ["date_in_range"], "quarantined"),
            ("bad_arr_clock", ["valid_clock_times", "arrival_after_departure"], "quarantined"),
            ("no_sched_arr", ["valid_clock_times"], "quarantined"),
            ("delay_too_big", ["plausible_delays", "arrival_after_departure"], "quarantined"),
            ("delay_too_early", ["plausible_delays"], "quarantined"),
            ("air_time_too_long", ["arrival_after_departure"], "quarantined"),
            ("no_departure", ["arrival_after_departure"], "quarantined"),
            ("no_arrival", ["arrival_after_departure"], "quarantined"),
        ],
    )
    assert_df_equality(outcomes(spark, rows), expected, ignore_row_order=True, ignore_nullable=True)


def test_delayed_15_flag(spark):
    rows = [row("late", arr_delay_min=15.0, arr_hhmm=834), row("on_time", arr_delay_min=14.0, arr_hhmm=833)]
    rows.append(row("diverted", arr_delay_min=None, is_diverted=True))
    out = check(spark, rows).select("id", "is_delayed_15")
    expected = spark.createDataFrame(
        [("late", True), ("on_time", False), ("diverted", None)], "id string, is_delayed_15 boolean"
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("partitions", [0, 36])
def test_duplicates_keep_latest_valid_copy(spark, partitions):
    key = {"flight_number": 7, "flight_date": date(2013, 1, 1)}
    rows = [
        row("old", **key, _ingested_at=datetime(2026, 1, 1)),
        row("newer", **key, _ingested_at=datetime(2026, 1, 2)),
        # the newest copy breaks a drop rule: quarantined, the newest valid copy is kept
        row("newest_bad", **key, _ingested_at=datetime(2026, 1, 3), arr_delay_min=-500.0),
        # same instant as "newer", earlier source file: a duplicate
        row("tie", **key, _ingested_at=datetime(2026, 1, 2), _source_file="0.csv"),
        # another origin is another flight
        row(
            "other_origin",
            **key,
            origin="IAH",
            dest="EWR",
            air_time_min=None,
            _ingested_at=datetime(2026, 1, 1),
        ),
        # no flight number: quarantined, never a duplicate
        row("no_key_1", flight_number=None),
        row("no_key_2", flight_number=None),
    ]
    expected = expect(
        spark,
        [
            ("old", ["unique_key"], "duplicate"),
            ("newer", [], "silver"),
            ("newest_bad", ["plausible_delays"], "quarantined"),
            ("tie", ["unique_key"], "duplicate"),
            ("other_origin", [], "silver"),
            ("no_key_1", ["required_keys"], "quarantined"),
            ("no_key_2", ["required_keys"], "quarantined"),
        ],
    )
    assert_df_equality(
        outcomes(spark, rows, partitions=partitions), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_month_cluster_gives_each_month_partitions_of_its_own(spark):
    # The window's shuffle then hands each write task one month: one file per task and month.
    rows = [
        row(f"{m}-{d}-{n}", flight_date=date(2013, m, d))
        for m in (1, 2, 12)
        for d in (1, 15, 28)
        for n in range(4)
    ]
    rows.append(row("no_date", flight_date=None))
    ranked = check(spark, rows, partitions=24).withColumn("partition", F.spark_partition_id())
    placed = ranked.select(F.month("flight_date").alias("month"), "partition").distinct().collect()
    by_month: dict = {}
    for r in placed:
        by_month.setdefault(r.month, set()).add(r.partition)
    assert by_month[None] == {0}
    for month in (1, 2, 12):
        assert by_month[month] <= {2 * (month - 1), 2 * (month - 1) + 1}
    assert ranked.rdd.getNumPartitions() == 24
    assert ranked.where(F.col("outcome") == "silver").count() == 36
    assert "_cluster" not in ranked.columns


def test_actions_from_config(spark):
    key = {"flight_number": 7}
    rows = [
        row("late", arr_delay_min=-500.0),
        row("a", **key),
        row("b", **key, _ingested_at=datetime(2027, 1, 1)),
    ]
    actions = quality.resolve_actions({"plausible_delays": "warn", "unique_key": "warn"}, "test")
    expected = expect(
        spark,
        [
            ("late", ["plausible_delays"], "silver"),
            ("a", ["unique_key"], "silver"),
            ("b", [], "silver"),
        ],
    )
    assert_df_equality(outcomes(spark, rows, actions), expected, ignore_row_order=True, ignore_nullable=True)


def test_bronze_row_is_kept_on_quarantined_rows_only(spark):
    key = {"flight_number": 7}
    rows = [
        row("good"),
        row("bad", carrier=None),
        row("warned", arr_delay_min=-500.0),
        row("copy", **key),
        row("kept", **key, _ingested_at=datetime(2027, 1, 1)),
    ]
    actions = quality.resolve_actions({"plausible_delays": "warn"}, "test")
    # A row index per row: the length of its id ("bad" is row 3).
    staged = spark.createDataFrame(rows, STAGED).withColumn("_bronze_row", F.length("id").cast("long"))
    out = (
        staged.transform(with_time_zones(airports(spark)))
        .transform(with_utc_times)
        .transform(with_delay_flag)
        .transform(lambda df: quality.with_quality_outcome(df, SETTINGS, actions, F.lit(0), ("_bronze_row",)))
        .select("id", "outcome", "_bronze_row")
    )
    expected = spark.createDataFrame(
        [
            ("good", "silver", None),
            ("bad", "quarantined", 3),
            ("warned", "silver", None),
            ("copy", "duplicate", None),
            ("kept", "silver", None),
        ],
        "id string, outcome string, _bronze_row long",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_fail_action_raises_one_sentence():
    actions = quality.resolve_actions({"known_airports": "FAIL"}, "conf.yaml")
    quality.check_fail_rules({"known_airports": 0}, actions, "bronze", "conf.yaml")  # nothing broken
    with pytest.raises(
        PipelineError, match=r"quality rule 'known_airports' \(action fail\) is broken by 3 rows"
    ):
        quality.check_fail_rules({"known_airports": 3}, actions, "bronze", "conf.yaml")


def test_unknown_rule_or_action_is_refused():
    with pytest.raises(PipelineError, match="unknown rule 'no_such_rule'"):
        quality.resolve_actions({"no_such_rule": "drop"}, "conf.yaml")
    with pytest.raises(PipelineError, match="use one of warn, drop, fail"):
        quality.resolve_actions({"unique_key": "ignore"}, "conf.yaml")
