"""Which steps of a run have nothing new to read: input signatures, saved per step.

A step's signature covers the data files under what it reads (path, size, modification
time), the config file's bytes and the step's arguments. It is taken just before the step
starts and saved at ``<paths.var>/state/inputs/<step>.json`` when the step ends OK, with the
outputs that were then in place. ``pipeline.py --skip-unchanged`` leaves out a step whose
signature equals the saved one while those outputs are all still there. The run logs
(``silver.pipeline_runs``, ``silver.dq_results``) are not inputs: every stage writes them.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.stages import Stage

# Written by every stage, so never a reason to run one again.
LOGS = frozenset({"silver.pipeline_runs", "silver.dq_results"})

# One listed data file: (dataset, path relative to the dataset's folder, bytes, mtime).
Entry = tuple[str, str, int, float]


class UnlistableError(Exception):
    """An input that cannot be listed from the driver (always new, or behind a JVM-only URI)."""


@dataclass(frozen=True)
class Locations:
    """Where the logical datasets of the stage graph live, and where signatures are kept."""

    bronze: str
    silver: str  # the silver database's folder, <warehouse>/<database>.db
    landing: str
    models: str
    state: str  # <var>/state/inputs
    config_file: str
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ingest.* -> paths or globs
    api_enabled: bool = False

    @classmethod
    def of(cls, paths, silver_database: str, ingest, config_file: str) -> Locations:
        """The locations of a config's ``paths`` and ``ingest`` sections."""
        return cls(
            bronze=paths.bronze,
            silver=storage.join(paths.warehouse, f"{silver_database}.db"),
            landing=paths.landing,
            models=paths.models,
            state=storage.join(paths.var, "state", "inputs"),
            config_file=config_file,
            files={
                "ingest.bts_files": tuple(ingest.bts_files),
                "ingest.dataexpo_files": tuple(ingest.dataexpo_files),
                "ingest.openmeteo_files": tuple(w.path for w in ingest.openmeteo_files),
            },
            api_enabled=ingest.openmeteo_api.enabled,
        )


def resolve(dataset: str, where: Locations) -> tuple[str, ...]:
    """The folders, files or globs holding ``dataset``; () when nothing of it can change."""
    if dataset == "embedded":
        return ()  # package data: it changes with an upgrade, which changes nothing else
    if dataset == "openmeteo_api":
        if where.api_enabled:
            raise UnlistableError("the Open-Meteo API may always have new hours")
        return ()
    if dataset.startswith("ingest."):
        return where.files.get(dataset, ())
    if dataset == "landing.flights":
        return (where.landing,)
    if dataset == "models":
        return (where.models,)
    layer, _, table = dataset.partition(".")
    if layer == "bronze" and table:
        return (storage.join(where.bronze, table),)
    if layer == "silver" and table:
        return (storage.join(where.silver, table),)
    raise PipelineError(f"the dataset '{dataset}' of the stage graph has no known location.")


def _local(path: str) -> str:
    plain = storage.plain_path(path)
    if storage.is_uri(plain):
        # Listing hdfs:// or s3a:// needs a Spark session's JVM: the very start a skip avoids.
        raise UnlistableError(f"{path} is reached through Spark only")
    return plain


def _single(dataset: str, path: str) -> list[Entry]:
    # list_files leaves out hidden names as Spark does; a file named by the config is read anyway.
    listed = storage.list_files(storage.parent(path), recursive=False)
    info = next((f for f in listed if storage.name(f.path) == storage.name(path)), None)
    return [(dataset, path, storage.file_size(path), info.mtime if info else 0.0)]


def listing(dataset: str, path: str) -> list[Entry]:
    """The data files under one folder, file or glob of ``dataset`` ([] when nothing is there)."""
    local = _local(path)
    found: list[Entry] = []
    for match in storage.glob(local) if glob.has_magic(local) else [local]:
        if storage.is_dir(match):
            base = match.rstrip("/")
            found += [
                (dataset, f.path.removeprefix(base).lstrip("/"), f.size, f.mtime)
                for f in storage.list_files(match)
                if not f.path.endswith(".crc")
            ]
        elif storage.is_file(match):
            found += _single(dataset, match)
    return found


def signature(files: Iterable[Entry], config: bytes, arguments: Sequence[str]) -> str:
    """The hex digest of the sorted file entries, the config's bytes and the step's arguments."""
    payload = {
        "files": sorted([d, p, int(s), float(m)] for d, p, s, m in files),
        "config": hashlib.sha256(config).hexdigest(),
        "arguments": list(arguments),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def take(stage: Stage, where: Locations, arguments: Sequence[str]) -> str:
    """The signature of what ``stage`` would read now (raises :class:`UnlistableError`)."""
    files: list[Entry] = []
    for dataset in stage.reads:
        if dataset not in LOGS:
            for path in resolve(dataset, where):
                files += listing(dataset, path)
    return signature(files, storage.read_bytes(where.config_file) or b"", arguments)


def outputs(stage: Stage, where: Locations) -> list[str]:
    """The folders ``stage`` writes that a skip needs in place (not gold's marts nor the report)."""
    kept = [
        w
        for w in stage.writes
        if w not in LOGS and w != "reports" and w != "gold" and not w.startswith("gold.")
    ]
    return [_local(path) for w in kept for path in resolve(w, where)]


def has_data(path: str) -> bool:
    """True for a file, or a folder holding at least one data file."""
    return storage.is_file(path) or bool(storage.list_files(path))


def state_path(where: Locations, step: str) -> str:
    """Where the signature of ``step`` is saved."""
    return storage.join(where.state, f"{step}.json")


def is_unchanged(saved: object, current: str | None, present: Callable[[str], bool]) -> bool:
    """True when the saved state holds ``current`` and every output it lists is ``present``."""
    if not isinstance(saved, dict) or current is None or saved.get("signature") != current:
        return False
    return all(present(p) for p in saved.get("outputs", []))


@dataclass(frozen=True)
class Decision:
    """Whether a step may be left out, and the signature to save when it runs OK."""

    skip: bool
    signature: str | None
    since: str = ""  # when the matching signature was saved
    why: str = ""  # why no signature could be taken


def _since(saved_at: str) -> str:
    try:
        return f"{datetime.fromisoformat(saved_at):%Y-%m-%d %H:%M} UTC"
    except (TypeError, ValueError):
        return "the last run"


def decide(stage: Stage, where: Locations, arguments: Sequence[str]) -> Decision:
    """Take the signature of ``stage`` now and compare it with the saved one."""
    try:
        current = take(stage, where, arguments)
        saved = storage.read_json(state_path(where, stage.step))
        skip = is_unchanged(saved, current, has_data)
    except (UnlistableError, OSError, PipelineError) as exc:
        # No signature only means the step runs, as it would without --skip-unchanged.
        return Decision(False, None, why=str(exc))
    return Decision(skip, current, _since(saved.get("saved_at")) if skip else "")


def save(where: Locations, stage: Stage, current: str, now: datetime | None = None) -> None:
    """Record ``current`` as the signature of the run of ``stage`` that just ended OK."""
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    try:
        kept = [p for p in outputs(stage, where) if has_data(p)]
    except UnlistableError:
        return
    state = {"step": stage.step, "signature": current, "saved_at": when.isoformat(), "outputs": kept}
    storage.write_json(state_path(where, stage.step), state)


def forget(where: Locations, stage: Stage) -> None:
    """Drop the saved signature of a step that failed (its outputs may be half written)."""
    storage.delete(state_path(where, stage.step))
