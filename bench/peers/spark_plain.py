"""A plain one-file PySpark peer of flightpipe's ingest, cleaning and gold stages.

The bench times it next to our stages on the same synthetic BTS files. It does the same
work (typed bronze, UTC times, the quality rules, the unique-key window, the six marts)
with no run state, no metastore and no staging: plain files in, plain files out. It does
not import flightpipe: its semantics are copied on purpose, so the peer owes nothing to ours.

Usage:
    spark-submit --jars jars/mariadb-java-client.jar bench/peers/spark_plain.py \\
        --stage {ingest,cleaning,gold} --input DIR --out DIR [--no-weather] [--master local[*]] \\
        [--db-host H --db-port P --db-name D --db-user U]   (password: env PEER_DB_PASSWORD)

DIR of --input holds bts/*.csv, openmeteo/<IATA>_<year>.json, airports.csv, airlines.csv.
Outputs (local paths): OUT/bronze/{flights,weather}, OUT/silver/{flights,flights_rejected,
weather_hourly}, OUT/gold/<mart>. Each stage prints one line: PEER_RESULT {json}.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import re
import shutil
import sys
import uuid
from datetime import datetime, timezone
from functools import reduce

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F

CORRUPT = "_corrupt_record"
# Our bronze contract (contracts/sources.py): these BTS columns typed, every other one a string.
BTS_TYPES = {
    name: dtype
    for dtype, names in {
        "date": "FlightDate",
        "int": "Flight_Number_Reporting_Airline CRSDepTime DepTime CRSArrTime ArrTime Year Month DayofMonth",
        "double": "DepDelay ArrDelay Cancelled Diverted Distance AirTime CRSElapsedTime ActualElapsedTime",
    }.items()
    for name in names.split()
}
BTS_REQUIRED = (
    "FlightDate", "Reporting_Airline", "Flight_Number_Reporting_Airline", "Origin", "Dest", "CRSDepTime",
    "DepTime", "DepDelay", "CRSArrTime", "ArrTime", "ArrDelay", "Cancelled", "Diverted", "Distance",
)  # fmt: skip
OM_VARIABLES = (
    "temperature_2m", "dew_point_2m", "relative_humidity_2m", "precipitation", "pressure_msl",
    "wind_speed_10m", "wind_direction_10m", "wind_gusts_10m", "visibility",
)  # fmt: skip
# Typed arrays: numbers read as text make Spark's JSON parser copy each one from the file.
OM_SCHEMA = (
    "latitude double, longitude double, elevation double, timezone string, utc_offset_seconds double, "
    "hourly_units map<string,string>, hourly struct<time: array<string>, "
    + ", ".join(f"{v}: array<double>" for v in OM_VARIABLES)
    + ">"
)
# Staged column -> (BTS column, type); the codes are then trimmed and upper-cased.
STAGED = {
    "flight_date": ("FlightDate", "date"), "carrier": ("Reporting_Airline", "string"),
    "flight_number": ("Flight_Number_Reporting_Airline", "int"), "tail_number": ("Tail_Number", "string"),
    "origin": ("Origin", "string"), "dest": ("Dest", "string"), "sched_dep_hhmm": ("CRSDepTime", "int"),
    "dep_hhmm": ("DepTime", "int"), "sched_arr_hhmm": ("CRSArrTime", "int"), "arr_hhmm": ("ArrTime", "int"),
    "dep_delay_min": ("DepDelay", "double"), "arr_delay_min": ("ArrDelay", "double"),
    "air_time_min": ("AirTime", "double"), "distance_mi": ("Distance", "double"),
}  # fmt: skip
CODES = ("carrier", "tail_number", "origin", "dest")
# cleaning's defaults in conf/pipeline.yaml; every rule's action is drop.
START_DATE, MIN_DELAY, MAX_DELAY = "1987-10-01", -120.0, 1800.0
NATURAL_KEY = ("flight_date", "carrier", "flight_number", "origin")
SILVER_COLUMNS = (
    "flight_date", "carrier", "flight_number", "tail_number", "origin", "dest", "sched_dep_utc", "dep_utc",
    "sched_arr_utc", "arr_utc", "sched_dep_hour_utc", "sched_dep_local_hour", "dep_delay_min",
    "arr_delay_min", "air_time_min", "distance_mi", "is_cancelled", "is_diverted", "is_delayed_15",
    "source_format", "_source_file", "_ingested_at", "_batch_id",
)  # fmt: skip
FACT_COLUMNS = (
    "flight_date", "carrier", "origin", "dest", "sched_dep_hour_utc", "sched_dep_local_hour",
    "dep_delay_min", "arr_delay_min", "distance_mi", "is_cancelled", "is_diverted", "is_delayed_15",
)  # fmt: skip
LINEAGE = ("_source_file", "_ingested_at", "_batch_id")
METRICS = (
    "flights", "cancelled", "diverted", "flights_with_arr_delay", "delayed_15", "delay_rate", "cancel_rate",
    "avg_dep_delay_min", "avg_arr_delay_min",
)  # fmt: skip


class PeerError(Exception):
    """Bad input or a failed step, said in one sentence."""


def say(text: str) -> None:
    """One line on the real stderr: spark-submit merges the Python process's stderr into stdout."""
    from pyspark import SparkContext

    try:
        gateway = SparkContext._gateway
        if gateway is None and "PYSPARK_GATEWAY_PORT" in os.environ:
            from pyspark.java_gateway import launch_gateway

            gateway = launch_gateway()  # connects to spark-submit's JVM, starts nothing
        if gateway is not None:
            gateway.jvm.java.lang.System.err.println(text)
            return
    except Exception:  # no JVM to talk to: plain stderr, however it is wired
        pass
    print(text, file=sys.stderr)


def first_line(exc: BaseException) -> str:
    """The message of a failure in one line: a Java error's root cause, else the first line."""
    cause = getattr(exc, "java_exception", None)
    try:
        while cause is not None and cause.getCause() is not None:
            cause = cause.getCause()
        text = str(cause.toString()) if cause is not None else str(exc)
    except Exception:  # the JVM is gone
        text = str(exc)
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def path(*parts: str) -> str:
    return os.path.join(*parts)


def replace_dir(staged: str | None, target: str) -> None:
    """Put ``staged`` in the place of ``target`` (or just remove ``target``)."""
    shutil.rmtree(target, ignore_errors=True)
    if staged is not None and os.path.isdir(staged):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(staged, target)


def read_header(file: str) -> list[str]:
    with open(file, encoding="utf-8-sig", newline="") as fh:
        line = fh.readline()
    if not line.strip():
        raise PeerError(f"file {file} is empty; expected a CSV header line.")
    return next(csv.reader([line.rstrip("\r\n")]))


def header_schema(header: list[str]) -> str:
    # BTS lines end with a comma: the empty last field is kept as _trailing, like ours.
    names = [n.strip() or ("_trailing" if i == len(header) - 1 else f"_col{i}") for i, n in enumerate(header)]
    return ", ".join(f"`{n}` {BTS_TYPES.get(n, 'string')}" for n in [*names, CORRUPT])


# --- ingest ---------------------------------------------------------------------------------


def read_bts(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every BTS file typed by its header (files grouped by header, united by name)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        header = read_header(f)
        missing = [c for c in BTS_REQUIRED if c not in header]
        if missing:
            raise PeerError(
                f"file {f} lacks the required column(s) {', '.join(missing[:5])}; is it a BTS file?"
            )
        groups.setdefault(tuple(header), []).append(f)
    frames = [
        spark.read.schema(header_schema(list(h)))
        .options(header=True, mode="PERMISSIVE", nullValue="", columnNameOfCorruptRecord=CORRUPT)
        .csv(group)
        .withColumn("_source_file", F.col("_metadata.file_path"))
        for h, group in groups.items()
    ]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def read_openmeteo(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per airport and hour; the airport is the file name's IATA prefix."""
    for f in files:
        if not re.match(r"[A-Za-z]{3}(?:[_\-. ]|$)", os.path.basename(f)):
            raise PeerError(f"Open-Meteo file {f} has no airport: name it like EWR_2013.json.")
    per_file = (
        spark.read.schema(OM_SCHEMA)
        .option("multiLine", True)
        .option("mode", "FAILFAST")
        .json(files)
        .withColumn("_source_file", F.col("_metadata.file_path"))
        # Once per file, before the explode.
        .withColumn("airport", F.upper(F.regexp_extract("_metadata.file_name", r"^([A-Za-z]{3})", 1)))
    )
    hours = per_file.select("*", F.posexplode("hourly.time").alias("_pos", "time"))
    return hours.select(
        "airport", "latitude", "longitude", "elevation", "timezone",
        F.col("utc_offset_seconds").cast("int").alias("utc_offset_seconds"),
        F.to_json("hourly_units").alias("hourly_units"),
        "time",
        *[F.try_element_at(F.col(f"hourly.{v}"), F.col("_pos") + 1).alias(v) for v in OM_VARIABLES],
        "_source_file",
    )  # fmt: skip


def run_ingest(spark: SparkSession, args: argparse.Namespace) -> dict:
    files = sorted(glob.glob(path(args.input, "bts", "*.csv")))
    if not files:
        raise PeerError(f"no BTS files (*.csv) in {path(args.input, 'bts')}.")
    bronze = path(args.out, "bronze")
    lineage = {
        # A string cast in the UTC session: a Python datetime literal would go through the local zone.
        "_ingested_at": F.lit(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S.%f}").cast("timestamp"),
        "_batch_id": F.lit(f"peer-{uuid.uuid4().hex[:8]}"),
    }
    parsed = read_bts(spark, files)
    bad = F.col(CORRUPT).isNotNull()
    # Counted during the write: clean input is parsed once.
    seen = Observation("bts")
    good = parsed.observe(seen, F.count(F.lit(1)).alias("rows"), F.sum(bad.cast("long")).alias("bad"))
    good.where(~bad).drop(CORRUPT).withColumns(lineage).write.mode("overwrite").parquet(
        path(bronze, "flights")
    )
    rejected = int(seen.get["bad"] or 0)
    rejected_dir = path(bronze, "_rejected", "flights")
    if rejected:
        # Only bad input is parsed twice; Spark refuses a query of the corrupt column alone.
        parsed.where(bad).withColumns(lineage).write.mode("overwrite").parquet(rejected_dir)
        say(f"{rejected} BTS lines could not be parsed: kept in {rejected_dir}")
    else:
        replace_dir(None, rejected_dir)

    weather_rows = 0
    wx_files = [] if args.no_weather else sorted(glob.glob(path(args.input, "openmeteo", "*.json")))
    if wx_files:
        counted = Observation("weather")
        wx = read_openmeteo(spark, wx_files).withColumns(lineage)
        wx.observe(counted, F.count(F.lit(1)).alias("rows")).write.mode("overwrite").parquet(
            path(bronze, "weather")
        )
        weather_rows = int(counted.get["rows"])
    else:
        replace_dir(None, path(bronze, "weather"))
    bronze_rows = int(seen.get["rows"]) - rejected
    return {"stage": "ingest", "bronze_rows": bronze_rows, "weather_rows": weather_rows}


# --- cleaning -------------------------------------------------------------------------------


def reference_table(spark: SparkSession, file: str, key: str, value: str) -> DataFrame:
    """(code, name) from a small CSV: the first row per trimmed upper-case ``key`` with a ``value``."""
    if not os.path.isfile(file):
        raise PeerError(f"reference file {file} does not exist.")
    found: dict[str, str] = {}
    with open(file, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code, text = (row.get(key) or "").strip().upper(), (row.get(value) or "").strip()
            if code and code not in found and text not in ("", "NA", "\\N"):
                found[code] = text
    rows = json.dumps([{"code": c, "name": n} for c, n in found.items()])
    # Parsed in the JVM: createDataFrame of a list would start Python workers to read it.
    return spark.sql(
        "SELECT inline(from_json(:rows, 'array<struct<code:string,name:string>>'))", args={"rows": rows}
    )


def clean_code(c: Column) -> Column:
    trimmed = F.upper(F.trim(c))
    return F.when(trimmed != "", trimmed)


def conform(df: DataFrame) -> DataFrame:
    """BTS bronze rows to the staged columns (contracts/layouts.py), plus the raw row."""

    def col(name: str, dtype: str) -> Column:
        # A typed column an older download lacks reads as null.
        return F.col(name).cast(dtype) if name in df.columns else F.lit(None).cast(dtype)

    def flag(name: str) -> Column:
        return F.coalesce(col(name, "double") == 1.0, F.lit(False))

    staged = [(clean_code(col(*s)) if n in CODES else col(*s)).alias(n) for n, s in STAGED.items()]
    return df.select(
        *staged,
        flag("Cancelled").alias("is_cancelled"),
        (~flag("Cancelled") & flag("Diverted")).alias("is_diverted"),
        F.lit("bts").alias("source_format"),
        *LINEAGE,
        F.struct(*[F.col(f"`{c}`") for c in df.columns if c not in LINEAGE]).alias("_raw"),
    )


def valid_hhmm(c: Column) -> Column:
    return (c >= 0) & (c <= 2400) & (c % 100 < 60)


def hhmm_minutes(c: Column) -> Column:
    return F.when(valid_hhmm(c), F.floor(c / 100).cast("int") * 60 + c % 100)


def wall(day: Column, minutes: Column) -> Column:
    # A local wall clock as a zone-less timestamp of the UTC session.
    return F.timestamp_seconds(F.unix_date(day).cast("long") * 86400 + minutes.cast("long") * 60)


def between_min(later: Column, earlier: Column) -> Column:
    return ((F.unix_seconds(later) - F.unix_seconds(earlier)) / 60).cast("double")


def shift_from_delay(actual: Column, sched: Column, delay: Column) -> Column:
    diff = actual - sched
    guess = F.when(diff < -360, F.lit(1)).when(diff >= 1080, F.lit(-1)).otherwise(F.lit(0))
    return F.coalesce(F.round((delay - diff) / 1440).cast("int"), guess)


def shift_after(day: Column, minutes: Column, anchor_utc: Column, tz: Column) -> Column:
    # Compared on the zone's wall clock, where every day has 1440 minutes.
    gap = between_min(wall(day, minutes), F.from_utc_timestamp(anchor_utc, tz))
    return (-F.floor((gap - 1) / 1440)).cast("int")


def with_utc_times(df: DataFrame) -> DataFrame:
    """Our four UTC times (silver/times.py): days chosen from delays and schedules."""
    d, otz, dtz = F.col("flight_date"), F.col("origin_tz"), F.col("dest_tz")
    sdep, dep = hhmm_minutes(F.col("sched_dep_hhmm")), hhmm_minutes(F.col("dep_hhmm"))
    sarr, arr = hhmm_minutes(F.col("sched_arr_hhmm")), hhmm_minutes(F.col("arr_hhmm"))
    dep_day = F.date_add(d, shift_from_delay(dep, sdep, F.col("dep_delay_min")))
    sarr_day = F.date_add(d, shift_after(d, sarr, F.col("sched_dep_utc"), dtz))
    arr_by_delay = F.date_add(F.col("_sarr_day"), shift_from_delay(arr, sarr, F.col("arr_delay_min")))
    anchor = F.coalesce(F.col("dep_utc"), F.col("sched_dep_utc"))
    arr_day = F.coalesce(arr_by_delay, F.date_add(d, shift_after(d, arr, anchor, dtz)))
    flown = ~F.col("is_cancelled") & ~F.col("is_diverted")
    return (
        df.withColumn("sched_dep_utc", F.to_utc_timestamp(wall(d, sdep), otz))
        .withColumn("dep_utc", F.when(~F.col("is_cancelled"), F.to_utc_timestamp(wall(dep_day, dep), otz)))
        .withColumn("_sarr_day", sarr_day)
        .withColumn("sched_arr_utc", F.to_utc_timestamp(wall(F.col("_sarr_day"), sarr), dtz))
        .withColumn("arr_utc", F.when(flown, F.to_utc_timestamp(wall(arr_day, arr), dtz)))
        .withColumn("sched_dep_hour_utc", F.date_trunc("hour", F.col("sched_dep_utc")))
        .withColumn("sched_dep_local_hour", (F.floor(sdep / 60) % 24).cast("int"))
        .drop("_sarr_day")
    )


def broken_rules() -> Column:
    """The names of the row rules a row breaks (silver/quality.py; null counts as broken)."""
    c = F.col
    text_ok = [F.coalesce(F.length(F.trim(c(n))) > 0, F.lit(False)) for n in ("carrier", "origin", "dest")]
    keys = (
        c("flight_date").isNotNull() & c("flight_number").isNotNull() & text_ok[0] & text_ok[1] & text_ok[2]
    )
    keys = keys & F.coalesce(valid_hhmm(c("sched_dep_hhmm")), F.lit(False))
    optional = [c(n).isNull() | F.coalesce(valid_hhmm(c(n)), F.lit(False)) for n in ("dep_hhmm", "arr_hhmm")]
    clocks = F.coalesce(valid_hhmm(c("sched_arr_hhmm")), F.lit(False)) & optional[0] & optional[1]
    delays = [c(n).isNull() | c(n).between(MIN_DELAY, MAX_DELAY) for n in ("dep_delay_min", "arr_delay_min")]
    elapsed = between_min(c("arr_utc"), c("dep_utc"))
    completed = c("dep_utc").isNotNull() & c("arr_utc").isNotNull() & (elapsed > 0)
    completed = completed & (c("air_time_min").isNull() | (c("air_time_min") <= elapsed))
    flown = ~c("is_cancelled") & ~c("is_diverted")
    rules = {
        "required_keys": keys,
        "known_airports": c("origin_tz").isNotNull() & c("dest_tz").isNotNull(),
        "date_in_range": c("flight_date").between(F.lit(START_DATE).cast("date"), F.current_date()),
        "valid_clock_times": clocks,
        "plausible_delays": delays[0] & delays[1],
        "arrival_after_departure": F.when(flown, completed).otherwise(
            c("is_cancelled") | c("dep_utc").isNotNull()
        ),
    }
    flags = [F.when(~F.coalesce(ok, F.lit(False)), F.lit(name)) for name, ok in rules.items()]
    return F.filter(F.array(*flags), lambda x: x.isNotNull())


def scaled(v: str, factors: dict[str, float], divisor: float = 1.0) -> Column:
    """``v`` times the factor of its unit, else divided by ``divisor`` (silver/weather.py)."""
    factor = F.create_map(*[F.lit(x) for kv in factors.items() for x in kv])[F.col("_u")[v]]
    return F.when(factor.isNotNull(), F.col(v) * factor).otherwise(F.col(v) / divisor)


def clean_weather(spark: SparkSession, bronze: str, target: str) -> None:
    """Open-Meteo bronze to metric hourly rows, one per airport and UTC hour."""
    if not os.path.isdir(bronze):
        replace_dir(None, target)
        return
    # The units parsed once per row, not once per variable.
    units = F.transform_values(
        F.from_json("hourly_units", "map<string,string>"), lambda _, u: F.lower(F.trim(u))
    )
    df = spark.read.parquet(bronze).withColumn("_u", units)

    def temp(v: str) -> Column:
        return F.when(F.col("_u")[v].contains("f"), (F.col(v) - 32.0) * 5.0 / 9.0).otherwise(F.col(v))

    speed = {"mph": 1.609344, "m/s": 3.6} | dict.fromkeys(("kn", "knots"), 1.852)
    length = dict.fromkeys(("ft", "feet"), 0.0003048) | dict.fromkeys(("mi", "mile", "miles"), 1.609344)
    length["km"] = 1.0
    local = F.try_to_timestamp(F.col("time"), F.lit("yyyy-MM-dd'T'HH:mm"))
    utc = F.timestamp_seconds(F.unix_seconds(local) - F.col("utc_offset_seconds").cast("long"))
    rows = df.select(
        F.upper(F.trim("airport")).alias("airport"),
        F.date_trunc("hour", utc).alias("hour_utc"),
        temp("temperature_2m").alias("temp_c"),
        temp("dew_point_2m").alias("dewpoint_c"),
        F.col("relative_humidity_2m").alias("humidity_pct"),
        F.col("wind_direction_10m").alias("wind_dir_deg"),
        scaled("wind_speed_10m", speed).alias("wind_speed_kmh"),
        scaled("wind_gusts_10m", speed).alias("wind_gust_kmh"),
        scaled("precipitation", dict.fromkeys(("inch", "in"), 25.4) | {"cm": 10.0}).alias("precip_mm"),
        F.col("pressure_msl").alias("pressure_hpa"),
        scaled("visibility", length, 1000.0).alias("visibility_km"),  # metres unless told otherwise
        F.lit("openmeteo").alias("source_format"),
        "_source_file",
        "_ingested_at",
    ).where(F.col("airport").isNotNull() & (F.col("airport") != "") & F.col("hour_utc").isNotNull())
    latest = Window.partitionBy("airport", "hour_utc").orderBy(
        F.col("_ingested_at").desc_nulls_last(), F.col("_source_file").desc_nulls_last()
    )
    rows.withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n").write.mode(
        "overwrite"
    ).parquet(target)


def run_cleaning(spark: SparkSession, args: argparse.Namespace) -> dict:
    bronze, silver = path(args.out, "bronze", "flights"), path(args.out, "silver")
    if not os.path.isdir(bronze):
        raise PeerError(f"no bronze flights in {bronze}; run --stage ingest first.")
    zones = reference_table(spark, path(args.input, "airports.csv"), "faa", "tzone")
    origin = F.broadcast(zones.withColumnsRenamed({"code": "_o", "name": "origin_tz"}))
    dest = F.broadcast(zones.withColumnsRenamed({"code": "_d", "name": "dest_tz"}))
    staged = conform(spark.read.parquet(bronze))
    timed = (
        staged.join(origin, staged["origin"] == origin["_o"], "left")
        .join(dest, staged["dest"] == dest["_d"], "left")
        .drop("_o", "_d")
        .transform(with_utc_times)
        .withColumn("is_delayed_15", F.col("arr_delay_min") >= 15)
        .withColumn("_broken", broken_rules())
    )
    valid = F.size("_broken") == 0
    # Silver and quarantine leave in one write, split by this partition column; the raw
    # row is kept (as JSON) on quarantined rows only, before the shuffle.
    shaped = timed.select(
        *SILVER_COLUMNS,
        F.when(~valid, F.col("_broken")).alias("rules"),
        F.when(~valid, F.to_json("_raw")).alias("raw_values"),
        F.year("flight_date").alias("year"),
        F.month("flight_date").alias("month"),
        F.when(valid, F.lit("silver")).otherwise(F.lit("quarantined")).alias("outcome"),
    )
    # The unique-key window partitioned by (outcome, year, month) + the key ranks valid rows as
    # ours does (valid rows sort first there) and shares the write's shuffle and sort.
    copies = Window.partitionBy("outcome", "year", "month", *NATURAL_KEY).orderBy(
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc_nulls_last(),
        F.col("_batch_id").desc_nulls_last(),
    )
    key_present = reduce(lambda a, b: a & b, [F.col(k).isNotNull() for k in NATURAL_KEY])
    ranked = shaped.repartition("outcome", "year", "month").withColumn(
        "_dup", (F.col("outcome") == "silver") & key_present & (F.row_number().over(copies) > 1)
    )
    seen = Observation("outcomes")
    observed = ranked.observe(
        seen,
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("outcome") == "quarantined").alias("quarantined"),
        F.count_if(F.col("_dup")).alias("duplicates"),
    )
    staging = path(silver, ".staging-flights")
    observed.where(~F.col("_dup")).drop("_dup").write.mode("overwrite").partitionBy(
        "outcome", "year", "month"
    ).parquet(staging)
    replace_dir(path(staging, "outcome=silver"), path(silver, "flights"))
    replace_dir(path(staging, "outcome=quarantined"), path(silver, "flights_rejected"))
    shutil.rmtree(staging, ignore_errors=True)
    clean_weather(spark, path(args.out, "bronze", "weather"), path(silver, "weather_hourly"))
    rows, quarantined, dups = (int(seen.get[k] or 0) for k in ("rows", "quarantined", "duplicates"))
    return {
        "stage": "cleaning",
        "bronze_rows": rows,
        "silver_rows": rows - quarantined - dups,
        "quarantine_rows": quarantined,
        "duplicate_rows": dups,
    }


# --- gold -----------------------------------------------------------------------------------


def delay_aggs(p90: bool = False) -> list[Column]:
    aggs = [
        F.count(F.lit(1)).alias("flights"),
        F.count_if(F.col("is_cancelled")).alias("cancelled"),
        F.count_if(F.col("is_diverted")).alias("diverted"),
        F.count("arr_delay_min").alias("flights_with_arr_delay"),
        F.count_if(F.col("is_delayed_15")).alias("delayed_15"),
        F.avg("dep_delay_min").alias("avg_dep_delay_min"),
        F.avg("arr_delay_min").alias("avg_arr_delay_min"),
    ]
    return aggs + ([F.percentile("arr_delay_min", 0.9).alias("p90_arr_delay_min")] if p90 else [])


def with_rates(df: DataFrame) -> DataFrame:
    def ratio(num: str, den: str) -> Column:
        return F.when(F.col(den) > 0, F.col(num) / F.col(den)).cast("decimal(5,4)")

    out = df.withColumns(
        {
            "delay_rate": ratio("delayed_15", "flights_with_arr_delay"),
            "cancel_rate": ratio("cancelled", "flights"),
            "avg_dep_delay_min": F.col("avg_dep_delay_min").cast("decimal(8,2)"),
            "avg_arr_delay_min": F.col("avg_arr_delay_min").cast("decimal(8,2)"),
        }
    )
    if "p90_arr_delay_min" in df.columns:
        out = out.withColumn("p90_arr_delay_min", F.col("p90_arr_delay_min").cast("decimal(8,2)"))
    return out


def bucket(factor: str, value: Column, edges: tuple, top: str, zero_first: bool) -> Column:
    label, order = F.when(value.isNull(), F.lit("unknown")), F.when(value.isNull(), F.lit(99))
    for i, (bound, name) in enumerate(edges):
        test = value <= bound if (i == 0 and zero_first) else value < bound
        label, order = label.when(test, F.lit(name)), order.when(test, F.lit(i + 1))
    return F.struct(
        F.lit(factor).alias("factor"),
        label.otherwise(F.lit(top)).alias("bucket"),
        order.otherwise(F.lit(len(edges) + 1)).alias("bucket_order"),
    )


def mart(facts: DataFrame, keys: list[str], p90: bool = False, *extra: Column) -> DataFrame:
    return facts.groupBy(*keys).agg(*delay_aggs(p90), *extra).transform(with_rates)


def named(df: DataFrame, names: DataFrame, code: str, label: str) -> DataFrame:
    """``label`` from a (code, name) table; the code itself when unknown."""
    ref = F.broadcast(names.withColumnsRenamed({"code": code, "name": label}))
    return df.join(ref, code, "left").withColumn(label, F.coalesce(label, code))


BUCKETS = {
    "precipitation": ("precip_mm", ((0.0, "none (0 mm)"), (2.5, "light (< 2.5 mm)"),
                      (7.6, "moderate (2.5-7.6 mm)")), "heavy (>= 7.6 mm)", True),
    "visibility": ("visibility_km", ((1.0, "fog (< 1 km)"), (5.0, "poor (1-5 km)"),
                   (10.0, "moderate (5-10 km)")), "good (>= 10 km)", False),
    "wind": ("wind_speed_kmh", ((10.0, "calm (< 10 km/h)"), (20.0, "light (10-20 km/h)"),
             (40.0, "breezy (20-40 km/h)")), "strong (>= 40 km/h)", False),
}  # fmt: skip


def build_marts(facts: DataFrame, weather: DataFrame, airports: DataFrame, airlines: DataFrame) -> dict:
    """The six marts of gold/marts.py, same grain and columns."""
    p90 = "p90_arr_delay_min"
    month = {"airport": F.col("origin"), "year": F.year("flight_date"), "month": F.month("flight_date")}
    hourly = weather.select(
        F.col("airport").alias("origin"),
        F.col("hour_utc").alias("sched_dep_hour_utc"),
        *(c for c, *_ in BUCKETS.values()),
    )
    buckets = F.array(*[bucket(f, F.col(c), *rest) for f, (c, *rest) in BUCKETS.items()])
    by_bucket = facts.join(hourly, ["origin", "sched_dep_hour_utc"], "left").select(
        F.explode(buckets).alias("b"), *FACT_COLUMNS
    )
    distance = F.avg("distance_mi").cast("decimal(8,1)").alias("distance_mi")
    routes = named(mart(facts, ["origin", "dest"], False, distance), airports, "origin", "origin_name")
    kpis = [
        F.count_distinct("carrier").cast("int").alias("carriers"),
        F.count_distinct("origin", "dest").cast("int").alias("routes"),
    ]
    return {
        "delay_by_carrier": named(mart(facts, ["carrier"], True), airlines, "carrier", "carrier_name").select(
            "carrier", "carrier_name", *METRICS, p90
        ),
        "delay_by_airport_month": named(
            mart(facts.withColumns(month), ["airport", "year", "month"]), airports, "airport", "airport_name"
        ).select("airport", "airport_name", "year", "month", *METRICS),
        "delay_by_hour": mart(facts, ["sched_dep_local_hour"], True).select(
            "sched_dep_local_hour", *METRICS, p90
        ),
        "weather_impact": mart(by_bucket.select("b.*", *FACT_COLUMNS), ["factor", "bucket", "bucket_order"])
        .withColumn("bucket_order", F.col("bucket_order").cast("int"))
        .select("factor", "bucket", "bucket_order", *METRICS),
        "route_delays": named(routes, airports, "dest", "dest_name").select(
            "origin", "dest", "origin_name", "dest_name", "distance_mi", *METRICS
        ),
        "daily_kpis": mart(facts, ["flight_date"], False, *kpis).select(
            "flight_date", *METRICS, "carriers", "routes"
        ),
    }


def load_db(spark: SparkSession, args: argparse.Namespace, gold: str, marts: list[str]) -> None:
    url = f"jdbc:mysql://{args.db_host}:{args.db_port}/{args.db_name}?permitMysqlScheme&rewriteBatchedStatements=true"
    for name in marts:
        try:
            # From the written parquet: the mart is not computed a second time.
            (
                spark.read.parquet(path(gold, name)).coalesce(1).write.format("jdbc").mode("overwrite")
                .option("url", url).option("driver", "org.mariadb.jdbc.Driver")
                .option("dbtable", f"peer_spark_{name}").option("user", args.db_user)
                .option("password", os.environ.get("PEER_DB_PASSWORD", "")).option("batchsize", 10000)
                .option("createTableOptions", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
                .save()
            )  # fmt: skip
        except Exception as exc:
            where = f"{args.db_host}:{args.db_port}"
            raise PeerError(f"loading peer_spark_{name} into {where} failed ({first_line(exc)}).") from None


def run_gold(spark: SparkSession, args: argparse.Namespace) -> dict:
    silver, gold = path(args.out, "silver"), path(args.out, "gold")
    if not os.path.isdir(path(silver, "flights")):
        raise PeerError(f"no silver flights in {path(silver, 'flights')}; run --stage cleaning first.")
    facts = spark.read.parquet(path(silver, "flights")).select(*FACT_COLUMNS)
    wx_dir = path(silver, "weather_hourly")
    no_weather = spark.range(0).select(
        *[F.lit(None).cast(t).alias(c) for c, t in (("airport", "string"), ("hour_utc", "timestamp"))],
        *[F.lit(None).cast("double").alias(c) for c, *_ in BUCKETS.values()],
    )
    weather = spark.read.parquet(wx_dir) if os.path.isdir(wx_dir) else no_weather
    airports, airlines = (
        reference_table(spark, path(args.input, f), key, "name")
        for f, key in (("airports.csv", "faa"), ("airlines.csv", "carrier"))
    )
    rows: dict[str, int] = {}
    flights = 0
    for name, df in build_marts(facts, weather, airports, airlines).items():
        counted = Observation(name)
        df.observe(counted, F.count(F.lit(1)).alias("rows"), F.sum("flights").alias("flights")).write.mode(
            "overwrite"
        ).parquet(path(gold, name))
        rows[name] = int(counted.get["rows"])
        if name == "delay_by_carrier":
            flights = int(counted.get["flights"] or 0)
    if args.db_host:
        load_db(spark, args, gold, list(rows))
    return {"stage": "gold", "marts": rows, "flights": flights}


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", required=True, choices=("ingest", "cleaning", "gold"))
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-weather", action="store_true")
    p.add_argument("--master", default="local[*]")
    p.add_argument("--db-host")
    p.add_argument("--db-port", type=int, default=3306)
    p.add_argument("--db-name")
    p.add_argument("--db-user")
    args = p.parse_args(argv)
    if args.db_host and not (args.db_name and args.db_user):
        p.error("--db-host needs --db-name and --db-user")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.isdir(args.input):
        say(f"input folder {args.input} does not exist.")
        return 1
    spark = (
        SparkSession.builder.master(args.master)
        .appName(f"peer-spark-{args.stage}")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    stages = {"ingest": run_ingest, "cleaning": run_cleaning, "gold": run_gold}
    try:
        result = stages[args.stage](spark, args)
    except PeerError as exc:
        say(str(exc))
        return 1
    except Exception as exc:  # Spark's own failures (a malformed file, a full disk)
        say(f"{args.stage} failed: {first_line(exc)}")
        return 1
    finally:
        spark.stop()
    print("PEER_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
