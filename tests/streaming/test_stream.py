"""The stream in this process (available-now): malformed lines, counts, a second run."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import functions as F

from flightpipe.bronze.streaming import StreamOptions, run_streaming
from tests.support.streaming import (
    BROKEN_QUOTE,
    CANCELLED,
    GOOD,
    HEADER,
    NO_DATE,
    TEXT_IN_NUMBER,
    TOO_FEW,
    TOO_MANY,
    counts_per_day,
    run_replay,
    source_rows,
)

AVAILABLE_NOW = StreamOptions(available_now=True, trigger_seconds=1, max_files_per_trigger=1)


def data_files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*.parquet")}


def test_malformed_lines_are_rejected_with_reasons_and_a_second_run_adds_nothing(spark, make_config, record):
    cfg, config_path = make_config({"streaming": {"available_now_max_files": 1}})
    landing = Path(cfg.paths.landing)
    assert run_replay(config_path, "--start", "2013-01-05", "--end", "2013-01-05").returncode == 0
    good_lines = [GOOD, CANCELLED, GOOD.replace(",1545,", ",1546,")]
    bad_lines = [TEXT_IN_NUMBER, TOO_FEW, TOO_MANY, BROKEN_QUOTE, NO_DATE]
    bad_file = landing / "flights_bad.csv"
    bad_file.write_text("\n".join([HEADER, *good_lines[:2], *bad_lines, good_lines[2]]) + "\n")

    with record:  # as the stage lifecycle runs it: the record is written when the body ends
        totals = run_streaming(spark, cfg, record, AVAILABLE_NOW)

    expected_day = counts_per_day(source_rows({date(2013, 1, 5)}))[date(2013, 1, 5)]
    sink = Path(cfg.paths.bronze) / "flights"
    flights = spark.read.parquet(str(sink))
    # One file per micro-batch: two micro-batches, every line counted once.
    assert (totals.batches, totals.files, totals.rows_in, totals.rejected) == (2, 2, expected_day + 8, 5)
    from_bad = flights.filter(F.col("_source_file") == str(bad_file))
    assert_df_equality(
        from_bad.select("carrier", "flight", "dep_time", "flight_date", "source_format"),
        spark.createDataFrame(
            [
                ("UA", 1545, 517, date(2013, 1, 5), "nycflights13"),
                ("B6", 507, None, date(2013, 1, 5), "nycflights13"),
                ("UA", 1546, 517, date(2013, 1, 5), "nycflights13"),
            ],
            "carrier string, flight int, dep_time int, flight_date date, source_format string",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert flights.filter(F.col("_source_file").endswith("flights_2013-01-05.csv")).count() == expected_day

    rejected = spark.read.parquet(f"{cfg.paths.bronze}/_rejected")
    assert_df_equality(
        rejected.select("table", "source_format", "source_file", "reason"),
        spark.createDataFrame(
            [
                ("flights", "nycflights13", str(bad_file), reason)
                for reason in (
                    "dep_time is not an integer: 'abc'",
                    "has 18 fields, expected 19",
                    "has 20 fields, expected 19",
                    "broken quoting: unbalanced double quote",
                    "year, month and day are not a valid date",
                )
            ],
            "table string, source_format string, source_file string, reason string",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert set(bad_lines[:4]) <= {r.line for r in rejected.collect()}
    # Every data line of the file is in bronze or rejected, once.
    assert from_bad.count() + rejected.count() == len(good_lines) + len(bad_lines)

    written = json.loads(next((Path(cfg.paths.var) / "runs").glob("*-test-*.json")).read_text())
    assert (written["rows_in"], written["rows_out"], written["rows_rejected"], written["status"]) == (
        expected_day + 8,
        expected_day + 3,
        5,
        "ok",
    )

    before = data_files(Path(cfg.paths.bronze))
    again = run_streaming(spark, cfg, record, AVAILABLE_NOW)
    assert (again.batches, again.rows_in) == (0, 0)
    assert data_files(Path(cfg.paths.bronze)) == before
    assert spark.read.parquet(str(sink)).count() == expected_day + 3
    assert spark.read.parquet(f"{cfg.paths.bronze}/_rejected").count() == 5
