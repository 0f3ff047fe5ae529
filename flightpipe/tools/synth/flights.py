"""The synthetic flights: a daily schedule, each flight's outcome, the BTS columns."""

from __future__ import annotations

import calendar
import math

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from flightpipe.contracts.sources import BTS_COLUMNS
from flightpipe.tools.synth.draws import (
    bts_number,
    delay_group,
    hhmm,
    is_storm,
    local_wall,
    normal,
    plus_minutes,
    time_block,
    uniform,
    weighted,
)
from flightpipe.tools.synth.reference import load_airports, load_carriers


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
