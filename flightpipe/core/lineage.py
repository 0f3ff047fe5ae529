"""OpenLineage run events of every stage run: START, then COMPLETE or FAIL.

:func:`run_event` builds an event from the run record and the stage's declared reads and
writes (:data:`flightpipe.core.stages.GRAPH`); :func:`emit` sends it with the client's own
transports: one JSON file per event under ``lineage.dir``, or an HTTP POST to
``lineage.url`` (Marquez). :func:`publish` does both and never fails the stage.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
)
from openlineage.client.generated.base import RunFacet

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.stages import Stage, stage

if TYPE_CHECKING:
    from flightpipe.core.runlog import StageRun
    from flightpipe.core.sections import Gold, Ingest, Lineage, Paths

log = logging.getLogger("flightpipe.lineage")

InputStatistics = input_statistics_input_dataset.InputStatisticsInputDatasetFacet
OutputStatistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet

# Fixed, so one run record always gets the same OpenLineage run id.
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "projet_spark/flightpipe/lineage")
PIPELINE_JOB = "pipeline"
STATES = {"running": RunState.START, "ok": RunState.COMPLETE, "failed": RunState.FAIL}

# The dataset each stage's rows_in / rows_out / rows_rejected count (None: they span several
# datasets). Ingest's and gold's per-table counts come from the record's details.
COUNTED: dict[str, tuple[str | None, str | None, str | None]] = {
    "ingest": (None, None, "bronze._rejected"),
    "streaming": ("landing.flights", "bronze.flights", "bronze._rejected"),
    "cleaning": (None, "silver.flights", "silver.flights_rejected"),
    "ml": ("silver.flights", "silver.model_metrics", None),
    "ml-score": ("silver.flights", "silver.delay_predictions", None),
    "gold": ("silver.flights", None, None),
}

# A stage that never ends on its own (streaming without --available-now) is still one run here.
PROCESSING = {"streaming": "STREAMING"}

# Marquez down must cost a stage seconds, not minutes: few retries, short timeout.
HTTP_RETRY = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.5}
HTTP_TIMEOUT_SECONDS = 5.0


@attr.define
class FlightpipeRunFacet(RunFacet):
    """Our own run record's identity and totals, next to OpenLineage's UUID run id."""

    runId: str  # noqa: N815
    stage: str
    status: str
    rowsIn: int  # noqa: N815
    rowsOut: int  # noqa: N815
    rowsRejected: int  # noqa: N815


@dataclass(frozen=True)
class Naming:
    """What turns a logical dataset name (``silver.flights``) into an OpenLineage dataset."""

    paths: Paths
    silver_database: str
    gold: Gold
    ingest: Ingest
    hive_namespace: str = "hive"


def file_dataset(path: str) -> tuple[str, str]:
    """(namespace, name) of a file or folder: ``file`` + absolute path, or scheme://authority + path."""
    if not storage.is_uri(path) or path.startswith("file:"):
        return "file", storage.plain_path(path)
    parts = urlsplit(path)
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


def datasets(logical: str, naming: Naming) -> list[tuple[str, str]]:
    """The (namespace, name) pairs a name of the stage graph stands for; [] for none configured."""
    head, _, rest = logical.partition(".")
    if head == "bronze" and rest:
        return [file_dataset(storage.join(naming.paths.bronze, rest))]
    if head == "silver" and rest:
        return [(naming.hive_namespace, f"{naming.silver_database}.{rest}")]
    if head == "gold":
        table = f"{naming.gold.database}.{rest}" if rest else naming.gold.database
        return [(f"mysql://{naming.gold.host}:{naming.gold.port}", table)]
    if logical == "landing.flights":
        return [file_dataset(naming.paths.landing)]
    if logical in ("models", "reports"):
        return [file_dataset(getattr(naming.paths, logical))]
    if head == "ingest" and rest:
        files = getattr(naming.ingest, rest, ())
        return [file_dataset(getattr(f, "path", f)) for f in files]
    if logical == "embedded":
        from flightpipe.core.embedded import embedded_data_dir

        return [file_dataset(str(embedded_data_dir()))] if naming.ingest.embedded else []
    if logical == "openmeteo_api" and naming.ingest.openmeteo_api.enabled:
        parts = urlsplit(naming.ingest.openmeteo_api.base_url)
        return [(f"{parts.scheme}://{parts.netloc}", parts.path or "/")]
    log.debug("no dataset configured for %s", logical)
    return []


def row_counts(record: StageRun) -> tuple[dict[str, int], dict[str, int]]:
    """Rows read per input and written per output, by logical name, where the record tells them."""
    counted_in, counted_out, counted_rejected = COUNTED.get(record.stage, (None, None, None))
    read = {counted_in: record.rows_in} if counted_in else {}
    written = {counted_out: record.rows_out} if counted_out else {}
    if counted_rejected:
        written[counted_rejected] = record.rows_rejected
    details = record.details or {}
    for mart, rows in (details.get("tables") or {}).items():
        written[f"gold.{mart}"] = int(rows)
    if record.stage == "ingest":
        # Ingest's details: one entry per bronze slot, "<table>/<format>" -> rows, rejected, skipped.
        for key, slot in details.items():
            if isinstance(slot, dict) and "/" in key and not slot.get("skipped"):
                table = f"bronze.{key.split('/', 1)[0]}"
                written[table] = written.get(table, 0) + int(slot.get("rows") or 0)
    return read, written


def run_uuid(run_id: str, stage_name: str, started_at: datetime) -> str:
    """The OpenLineage run id (a UUID) of one stage run, always the same for the same record."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{run_id}/{stage_name}/{started_at.isoformat()}"))


def pipeline_uuid(run_id: str) -> str:
    """The OpenLineage run id of the pipeline run every stage of ``run_id`` belongs to."""
    return str(uuid.uuid5(UUID_NAMESPACE, run_id))


def _time(moment: datetime) -> str:
    # Run records hold UTC without a time zone.
    return moment.isoformat(timespec="milliseconds") + "Z"


def _counted(names: tuple[str, ...], naming: Naming, rows: dict[str, int]) -> list[tuple[str, str, Any]]:
    """(namespace, name, rows or None) of every dataset the logical names stand for."""
    return [(ns, name, rows.get(one)) for one in names for ns, name in datasets(one, naming)]


def _statistics(key: str, facet: type, rows: int | None) -> dict[str, Any]:
    return {} if rows is None else {key: facet(rowCount=rows)}


def run_event(record: StageRun, step: Stage, naming: Naming, namespace: str) -> RunEvent:
    """The event of ``record``'s current state: START while running, COMPLETE when ok, else FAIL."""
    state = STATES.get(record.status, RunState.FAIL)
    read, written = row_counts(record) if state is RunState.COMPLETE else ({}, {})
    facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=pipeline_uuid(record.run_id)),
            job=parent_run.Job(namespace=namespace, name=PIPELINE_JOB),
        ),
        "flightpipe": FlightpipeRunFacet(
            record.run_id, record.stage, record.status, record.rows_in, record.rows_out, record.rows_rejected
        ),
    }
    if state is RunState.FAIL:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=record.error or "failed", programmingLanguage="PYTHON"
        )
    inputs = [
        InputDataset(namespace=ns, name=name, inputFacets=_statistics("inputStatistics", InputStatistics, n))
        for ns, name, n in _counted(step.reads, naming, read)
    ]
    outputs = [
        OutputDataset(
            namespace=ns, name=name, outputFacets=_statistics("outputStatistics", OutputStatistics, n)
        )
        for ns, name, n in _counted(step.writes, naming, written)
    ]
    job_type = job_type_job.JobTypeJobFacet(
        processingType=PROCESSING.get(record.stage, "BATCH"), integration="SPARK", jobType="JOB"
    )
    return RunEvent(
        eventType=state,
        eventTime=_time(record.ended_at or record.started_at),
        run=Run(runId=run_uuid(record.run_id, record.stage, record.started_at), facets=facets),
        job=Job(namespace=namespace, name=record.stage, facets={"jobType": job_type}),
        inputs=inputs,
        outputs=outputs,
    )


def emit(settings: Lineage, event: RunEvent) -> None:
    """Send ``event`` by ``settings.transport``: file, http or off. Raises on failure."""
    # The transports are used directly, not through OpenLineageClient, which would also read
    # openlineage.yml and OPENLINEAGE_* variables: conf/pipeline.yaml is the one config.
    if settings.transport == "off":
        return
    if settings.transport == "http":
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        transport = HttpTransport(
            HttpConfig(url=settings.url, timeout=HTTP_TIMEOUT_SECONDS, retry=HTTP_RETRY)
        )
    else:
        from openlineage.client.transport.file import FileConfig, FileTransport

        folder = storage.plain_path(settings.dir)
        storage.makedirs(folder)
        # debug_mode names each file after its job and state (event-<time>-cleaning-COMPLETE.json)
        # and indents the JSON; without it the names carry the time only.
        transport = FileTransport(FileConfig(log_file_path=storage.join(folder, "event"), debug_mode=True))
    try:
        transport.emit(event)
    finally:
        transport.close()


def publish(settings: Lineage, naming: Naming, record: StageRun) -> None:
    """Emit the event of ``record``'s state; a failure is a warning, never the stage's failure."""
    if settings.transport == "off":
        return
    try:
        try:
            step = stage(record.stage)
        except PipelineError:
            step = Stage(record.stage, script="")
        emit(settings, run_event(record, step, naming, settings.namespace))
    except Exception as exc:
        state = STATES.get(record.status, RunState.FAIL).value
        log.warning("could not emit the OpenLineage %s event of %s: %s", state, record.stage, exc)
        log.debug("lineage event failed", exc_info=True)
