"""The plans ``ingest.py --dry-run`` and ``streaming.py --dry-run`` print: inputs checked, nothing landed."""

from __future__ import annotations

from flightpipe.bronze import slots as bronze
from flightpipe.bronze.feed import StreamPaths, feed_format, processed_files
from flightpipe.bronze.ingest import plan
from flightpipe.bronze.landing import is_unchanged
from flightpipe.bronze.sources import SourceFile, check_header
from flightpipe.bronze.streaming import check_state
from flightpipe.contracts.layouts import FILE_LAYOUTS
from flightpipe.core import storage
from flightpipe.core.dryrun import CHECK, KEEP, NOTE, READ, REPLACE, WRITE, DryRun, needs_jvm
from flightpipe.core.settings import Settings


def _size(paths: list[str]) -> str:
    return f"{sum(storage.file_size(p) for p in paths) / 1e6:,.1f} MB"


def ingest_needs_jvm(cfg: Settings) -> bool:
    """True when an input or a data folder of ingest is a URI (reached through Spark's JVM)."""
    flights = [p for layout in FILE_LAYOUTS for p in getattr(cfg.ingest, layout.files_setting)]
    inputs = [*flights, *(w.path for w in cfg.ingest.openmeteo_files)]
    return needs_jvm(*inputs, cfg.paths.bronze, cfg.paths.cache)


def streaming_needs_jvm(cfg: Settings) -> bool:
    """True when a folder of the stream is a URI."""
    return needs_jvm(cfg.paths.landing, cfg.paths.bronze, cfg.paths.checkpoints)


def describe_ingest(cfg: Settings, flights: bool = False, force: bool = False) -> DryRun:
    """What ``ingest.py`` would land: every input checked (files, headers, JSON), no zip extracted."""
    ingest, paths, config_file = cfg.ingest, cfg.paths, cfg.config_file
    out = DryRun("ingest")
    slots = plan(ingest, paths.cache, flights, config_file, dry_run=True)
    manifest = bronze.read_manifest(paths.bronze)
    landed = False
    for slot in slots:
        target = bronze.slot_path(paths.bronze, slot.table, slot.fmt)
        files = [s.path for s in slot.sources]
        out.add(READ, f"{slot.fmt} {slot.table}", f"{len(files)} file(s), {_size(files)}, headers checked")
        if not force and is_unchanged(slot, manifest, paths.bronze):
            out.add(KEEP, target, "its files (by checksum) are those of the last run")
        else:
            landed = True
            why = "--force" if force else "new or changed input files"
            verb = REPLACE if storage.is_dir(target) else WRITE
            out.add(
                verb, target, f"{why} (rejected lines under {storage.join(paths.bronze, bronze.REJECTED)})"
            )
    api = ingest.openmeteo_api
    if api.enabled:
        out.add(
            NOTE,
            f"Open-Meteo API {api.base_url}",
            f"would fetch {', '.join(api.airports)} from {api.start_date} to {api.end_date} into {paths.cache} "
            "(not called by a dry run)",
        )
    if landed:
        out.add(WRITE, storage.join(paths.bronze, bronze.MANIFEST), "the checksums of the landed files")
    return out


def describe_streaming(cfg: Settings) -> DryRun:
    """What ``streaming.py --available-now`` would read: the landing files its checkpoint has not seen."""
    streaming, paths, config_file = cfg.streaming, cfg.paths, cfg.config_file
    out = DryRun("streaming")
    fmt = feed_format(streaming.format, config_file)
    stream = StreamPaths.of(paths, fmt)
    check_state(stream)
    landing = (
        [f.path for f in storage.list_files(stream.landing, ".csv")] if storage.is_dir(stream.landing) else []
    )
    seen = processed_files(stream.checkpoint)
    new = sorted(p for p in landing if storage.plain_path(p) not in seen)
    for path in new:
        check_header(SourceFile(path, path, fmt.name, ""), list(fmt.required))
    out.add(
        READ,
        stream.landing,
        f"{len(new)} new {fmt.name} file(s) of {len(landing)} ({len(landing) - len(new)} already read"
        f" per {stream.checkpoint}), headers checked",
    )
    if new:
        shown = ", ".join(storage.name(p) for p in new[:3]) + (" ..." if len(new) > 3 else "")
        out.add(NOTE, "first files", shown)
        out.add(
            WRITE, stream.sink, "appended, partitioned by flight_date (exactly once through the checkpoint)"
        )
        out.add(WRITE, stream.rejected, "malformed lines and lines without a flight date")
        out.add(WRITE, stream.checkpoint, "the files read and the micro-batches committed")
    else:
        out.add(KEEP, stream.sink, "no new file in the landing folder")
    out.add(CHECK, stream.checkpoint, "agrees with the sink's _spark_metadata log")
    return out
