"""The quarantine's raw values: read back from bronze by file and row index after the checked pass."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from flightpipe.contracts.sources import NYC_FLIGHTS
from flightpipe.core.cli import translate
from flightpipe.core.errors import PipelineError
from flightpipe.silver import quality
from flightpipe.silver.conform import bronze_rows, source_values
from flightpipe.silver.inputs import flight_folders, read_flight_sources
from flightpipe.silver.staging import StagedFlights, fill_raw_values
from tests.support.bronze import flight_rows, with_lineage

FIRST, SECOND = flight_rows({date(2013, 1, 1)})[:3], flight_rows({date(2013, 1, 2)})[:2]


def source_dict(row: tuple) -> dict:
    """A NYC_FLIGHTS row as to_json writes it: null fields left out, time_hour in ISO 8601 (UTC)."""
    return {
        f.name: v.strftime("%Y-%m-%dT%H:%M:%S.000Z") if isinstance(v, datetime) else v
        for f, v in zip(NYC_FLIGHTS.fields, row, strict=True)
        if v is not None
    }


def write_bronze(spark, root):
    """A bronze slot of two files, FIRST then SECOND, each written in its rows' order, read;
    with the URI of each file by its source file (a.csv, b.csv)."""
    folder = root / "flights_batch" / "source_format=nycflights13"
    for rows, name in ((FIRST, "a.csv"), (SECOND, "b.csv")):
        df = with_lineage(spark.createDataFrame(rows, NYC_FLIGHTS), name, datetime(2026, 1, 1), "b1")
        df.coalesce(1).write.mode("append").parquet(str(folder))
    [source] = read_flight_sources(spark, str(root), flight_folders(str(root)))
    uris = {r["_source_file"]: r["_bronze_file"] for r in bronze_rows(source).select("_source_file", "_bronze_file").distinct().collect()}  # fmt: skip
    return source, uris


@pytest.fixture(scope="module")
def bronze(spark, tmp_path_factory):
    return write_bronze(spark, tmp_path_factory.mktemp("raw_values") / "bronze")


def test_source_values_are_each_rows_own_columns(bronze):
    source, uris = bronze
    got = {
        (r["_bronze_file"], r["_bronze_row"]): json.loads(r["raw_values"])
        for r in bronze_rows(source).transform(source_values).collect()
    }
    expected = {(uris["a.csv"], i): source_dict(row) for i, row in enumerate(FIRST)}
    expected |= {(uris["b.csv"], i): source_dict(row) for i, row in enumerate(SECOND)}
    assert got == expected


def stage(spark, tmp_path, rows: list[tuple]) -> StagedFlights:
    """Staged rows (flight, bronze file, row, outcome) in the staging layout, raw_values empty."""
    df = spark.createDataFrame(rows, "flight int, _bronze_file string, _bronze_row long, outcome string")
    df = df.select(
        "flight",
        F.lit(None).cast("string").alias("raw_values"),
        "_bronze_file",
        "_bronze_row",
        F.lit(2013).alias("year"),
        F.lit(1).alias("month"),
        "outcome",
    )
    path = str(tmp_path / "staging")
    df.write.partitionBy("outcome", "year", "month").parquet(path)
    return StagedFlights(spark, path, df.schema)


def test_quarantined_rows_get_their_source_values_back(spark, bronze, tmp_path):
    source, uris = bronze
    staged = stage(
        spark,
        tmp_path,
        [
            (SECOND[1][10], uris["b.csv"], 1, quality.QUARANTINED),
            (FIRST[0][10], uris["a.csv"], 0, quality.QUARANTINED),
            (FIRST[2][10], uris["a.csv"], 2, quality.SILVER),
        ],
    )
    filled = fill_raw_values(staged, [source], quarantined=2)
    [folder] = filled.month_folders(quality.QUARANTINED).values()
    assert folder.startswith(filled.quarantine)
    got = {r["flight"]: json.loads(r["raw_values"]) for r in spark.read.parquet(filled.quarantine).collect()}
    assert got == {SECOND[1][10]: source_dict(SECOND[1]), FIRST[0][10]: source_dict(FIRST[0])}
    # The silver rows stay where they were staged, without source values.
    assert [tuple(r) for r in spark.read.parquet(staged.path).where("outcome = 'silver'").select("flight", "raw_values").collect()] == [(FIRST[2][10], None)]  # fmt: skip
    filled.discard()
    assert not (tmp_path / "staging").exists()
    assert not (tmp_path / "staging-quarantined").exists()


def test_a_row_no_longer_in_bronze_stops_the_run_with_one_sentence(spark, bronze, tmp_path):
    source, uris = bronze
    # Row 7 of a three-row file: the file was rewritten between the checked pass and this read.
    staged = stage(spark, tmp_path, [(1, uris["a.csv"], 7, quality.QUARANTINED), (2, uris["a.csv"], 1, quality.QUARANTINED)])  # fmt: skip
    with pytest.raises(
        PipelineError, match=r"^1 quarantined bronze row could not be read back .* run cleaning.py again"
    ):
        fill_raw_values(staged, [source], quarantined=2)
    assert not (tmp_path / "staging-quarantined").exists()


def test_a_bronze_file_deleted_meanwhile_is_named_in_one_sentence(spark, tmp_path):
    source, uris = write_bronze(spark, tmp_path / "bronze")
    staged = stage(spark, tmp_path, [(1, uris["b.csv"], 0, quality.QUARANTINED)])
    Path(urlparse(uris["b.csv"]).path).unlink()
    with pytest.raises(Exception) as failed:
        fill_raw_values(staged, [source], quarantined=1)
    name = uris["b.csv"].rsplit("/", 1)[1]
    sentence = translate(failed.value, None)
    assert (
        sentence is not None
        and sentence.startswith("the file ")
        and sentence.endswith(f"{name} was moved or deleted while the stage read it; run the stage again.")
    )
    assert not (tmp_path / "staging-quarantined").exists()
