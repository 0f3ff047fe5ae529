"""The synthetic Open-Meteo hourly archive documents, one per airport."""

from __future__ import annotations

import calendar
import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.tools.synth.draws import is_storm, uniform
from flightpipe.tools.synth.reference import OPENMETEO_UNITS, load_airports


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
