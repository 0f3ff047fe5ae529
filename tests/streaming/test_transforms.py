"""The pure transforms of the stream, on tiny frames parsed by Spark's own CSV reader."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.bronze.feed import (
    FORMATS,
    filter_malformed,
    filter_rejected,
    with_flight_date,
    with_lineage,
)
from flightpipe.contracts import sources as S
from tests.support.streaming import (
    BROKEN_QUOTE,
    CANCELLED,
    GOOD,
    HEADER,
    NO_DATE,
    TEXT_IN_NUMBER,
    TOO_FEW,
    TOO_MANY,
)

NYC = FORMATS["nycflights13"]
BTS = FORMATS["bts"]


def parse(spark, lines, fmt=NYC, header=HEADER):
    """Lines parsed exactly as the stream parses landing files, with a file name."""
    rdd = spark.sparkContext.parallelize([header, *lines], 1)
    return (
        spark.read.schema(S.with_corrupt_column(fmt.schema))
        .option("header", True)
        .option("nullValue", fmt.null_value)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", S.CORRUPT_COLUMN)
        .csv(rdd)
        .withColumn("_source_file", F.lit("/landing/f.csv"))
    )


def test_with_flight_date_builds_the_date_and_nulls_impossible_ones(spark):
    df = parse(spark, [GOOD, NO_DATE, "NA,1,5,517,515,2,830,819,11,UA,1,N1,EWR,IAH,1,1,5,15,NA"])
    got = df.transform(with_flight_date, NYC).select("month", "flight_date")
    expected = spark.createDataFrame(
        [(1, dt.date(2013, 1, 5)), (13, None), (1, None)], "month int, flight_date date"
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_with_flight_date_takes_flightdate_in_bts(spark):
    # A line of the full BTS download layout (109 columns and the trailing comma).
    header = ",".join(f'"{c}"' for c in S.BTS_COLUMNS) + ","
    values = {"Year": "2024", "Month": "3", "DayofMonth": "9", "FlightDate": "2024-03-09",
              "Reporting_Airline": '"AA"', "Flight_Number_Reporting_Airline": "100", "Origin": '"JFK"',
              "OriginCityName": '"New York, NY"', "Dest": '"LAX"', "CRSDepTime": '"0900"',
              "DepTime": '"0905"', "DepDelay": "5.00", "Cancelled": "0.00", "Diverted": "0.00",
              "Distance": "2475.00"}  # fmt: skip
    line = ",".join(values.get(c, "") for c in S.BTS_COLUMNS) + ","
    got = parse(spark, [line], BTS, header).transform(with_flight_date, BTS)
    assert got.select("flight_date", S.CORRUPT_COLUMN).collect() == [(dt.date(2024, 3, 9), None)]


def test_filter_malformed_keeps_parsed_rows_with_a_date(spark):
    df = parse(spark, [GOOD, CANCELLED, TEXT_IN_NUMBER, TOO_FEW, NO_DATE]).transform(with_flight_date, NYC)
    got = df.transform(filter_malformed)
    assert S.CORRUPT_COLUMN not in got.columns
    expected = spark.createDataFrame(
        [("UA", 1545, 517, dt.date(2013, 1, 5)), ("B6", 507, None, dt.date(2013, 1, 5))],
        "carrier string, flight int, dep_time int, flight_date date",
    )
    assert_df_equality(
        got.select("carrier", "flight", "dep_time", "flight_date"),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_filter_rejected_gives_the_raw_line_and_a_reason(spark):
    lines = [GOOD, TEXT_IN_NUMBER, TOO_FEW, TOO_MANY, BROKEN_QUOTE, NO_DATE, CANCELLED]
    df = (
        parse(spark, lines)
        .transform(with_flight_date, NYC)
        .transform(with_lineage, NYC, "streaming-test")
        .transform(filter_rejected, NYC)
    )
    assert df.columns == ["source_file", "line", "reason", "_ingested_at", "_batch_id"]
    expected = spark.createDataFrame(
        [
            ("/landing/f.csv", TEXT_IN_NUMBER, "dep_time is not an integer: 'abc'", "streaming-test"),
            ("/landing/f.csv", TOO_FEW, "has 18 fields, expected 19", "streaming-test"),
            ("/landing/f.csv", TOO_MANY, "has 20 fields, expected 19", "streaming-test"),
            ("/landing/f.csv", BROKEN_QUOTE, "broken quoting: unbalanced double quote", "streaming-test"),
            (
                "/landing/f.csv",
                # Parsed fine, so the line is written back from its values.
                "2013,13,5,517,515,2.0,830,819,11.0,UA,1545,N14228,EWR,IAH,227.0,1400.0,5,15,2013-01-05T10:00:00Z",
                "year, month and day are not a valid date",
                "streaming-test",
            ),
        ],
        "source_file string, line string, reason string, _batch_id string",
    )
    assert_df_equality(df.drop("_ingested_at"), expected, ignore_row_order=True, ignore_nullable=True)
    assert df.filter(F.col("_ingested_at").isNull()).count() == 0


def test_lineage_columns(spark):
    df = parse(spark, [GOOD]).transform(with_flight_date, NYC).transform(with_lineage, NYC, "b-1")
    row = df.select("source_format", "_source_file", "_batch_id").first()
    assert tuple(row) == ("nycflights13", "/landing/f.csv", "b-1")
    assert dict(df.dtypes)["_ingested_at"] == "timestamp"
