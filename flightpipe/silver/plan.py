"""Incremental cleaning: the state of the last run and the plan of what to rebuild.

The state file remembers each bronze flight file (by identity: path, size, mtime) and the
months its rows fall in, the reference and weather files, and a fingerprint of the cleaning
config. :func:`plan_rebuild` compares it with what bronze holds now: pure, no Spark, no I/O.
A backfill (:func:`plan_backfill`) rebuilds the months of a date range whatever changed, and
:func:`backfill_file_state` records only what it rebuilt, so the rest stays pending.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flightpipe.core import storage
from flightpipe.core.dates import DateRange, Month, parse_range
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Cleaning

STATE_VERSION = 1

NO_DATE: Month = (0, 0)  # the month of rows without a usable flight date

FULL_REFRESH = "--full-refresh"
NO_STATE = "no previous state"
CONFIG_CHANGED = "the cleaning config changed"
REFERENCE_CHANGED = "bronze airports or airlines changed"


def month_of(year: Any, month: Any) -> Month:
    """The (year, month) of a row; (0, 0) when it has no usable date."""
    return (int(year), int(month)) if year is not None and month is not None else NO_DATE


# --- state ---------------------------------------------------------------------------------
def state_path(var: str) -> str:
    """Where the cleaning state lives under the ``paths.var`` folder."""
    return storage.join(var, "cleaning", "state.json")


def load_state(path: str) -> dict[str, Any]:
    """The last run's state; {} when missing, unreadable or of another version."""
    state = storage.read_json(path, default={})
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else {}


def save_state(path: str, state: dict[str, Any]) -> None:
    storage.write_json(path, state)


def config_fingerprint(cleaning: Cleaning) -> str:
    """Changes when a cleaning setting changes (the rules then apply to every month)."""
    values = {
        name: dict(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v
        for name, v in ((n, getattr(cleaning, n)) for n in type(cleaning).model_fields)
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- file identity -------------------------------------------------------------------------
def norm_path(path: str) -> str:
    """A file URI or path as a plain local path (the state's key)."""
    return storage.plain_path(path)


def identity(info: storage.FileInfo) -> str:
    """``path|size|mtime``: Spark writers never rewrite a file in place, but be safe."""
    return f"{norm_path(info.path)}|{info.size}|{int(info.mtime)}"


def path_of(file_identity: str) -> str:
    """The path part of a file identity."""
    parts = file_identity.rsplit("|", 2)
    return parts[0] if len(parts) == 3 else file_identity


def file_infos(paths: Iterable[str]) -> dict[str, storage.FileInfo]:
    """Plain path -> its FileInfo, listing each folder once; a file not found is left out."""
    wanted = {norm_path(p) for p in paths}
    found: dict[str, storage.FileInfo] = {}
    for folder in sorted({storage.parent(p) for p in wanted}):
        for info in storage.list_files(folder, recursive=False):
            key = norm_path(info.path)
            if key in wanted:
                found[key] = info
    return found


def file_identities(paths: Iterable[str]) -> dict[str, str]:
    """Plain path -> identity of each file in ``paths`` (the bare path when it is not found)."""
    plain = {norm_path(p) for p in paths}
    infos = file_infos(plain)
    return {p: identity(infos[p]) if p in infos else p for p in plain}


def slot_files(folder: str) -> list[str]:
    """Sorted identities of the parquet files of a bronze slot ([] when it does not exist)."""
    return sorted(identity(f) for f in storage.list_files(folder, ".parquet"))


# --- the plan ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RebuildPlan:
    """What a run rebuilds: everything (``full``) or the ``months`` of changed bronze files."""

    full: bool
    reasons: tuple[str, ...] = ()  # why everything is rebuilt
    months: Mapping[Month, tuple[str, ...]] = field(default_factory=dict)  # month -> why
    # Paths of the bronze files since the last run (a changed one: same path, other size or mtime).
    new_files: frozenset[str] = frozenset()
    changed_files: frozenset[str] = frozenset()
    removed_files: frozenset[str] = frozenset()
    weather_changed: bool = False

    @property
    def month_set(self) -> set[Month] | None:
        """The months to rebuild; None for all of them."""
        return None if self.full else set(self.months)

    @property
    def unchanged(self) -> bool:
        return not self.full and not self.months and not self.weather_changed


def full_reasons(
    previous: Mapping[str, Any], fingerprint: str, reference_files: list[str], full_refresh: bool
) -> list[str]:
    """Why everything must be rebuilt, from the state alone ([] when an increment may do)."""
    reasons = []
    if full_refresh:
        reasons.append(FULL_REFRESH)
    if not previous:
        reasons.append(NO_STATE)
    elif previous.get("config") != fingerprint:
        reasons.append(CONFIG_CHANGED)
    if previous and previous.get("reference_files") != reference_files:
        reasons.append(REFERENCE_CHANGED)
    return reasons


def files_to_scan(previous: Mapping[str, Any], files_now: set[str]) -> set[str]:
    """Identities of the bronze files the state does not know: their months must be read."""
    return files_now - set(previous.get("files", {}))


def plan_rebuild(
    previous: Mapping[str, Any],
    files_now: set[str],
    new_file_months: Mapping[str, set[Month]],
    fingerprint: str,
    reference_files: list[str],
    weather_files: list[str],
    full_refresh: bool = False,
    tables_exist: bool = True,
    silver_table: str = "the silver flights table",
) -> RebuildPlan:
    """The rebuild of a run, from the previous state and the bronze files now.

    ``files_now`` are file identities; ``new_file_months`` the months of the rows of each
    file the state does not know (a file without rows may be left out). The months of a
    removed file come from the state.
    """
    reasons = full_reasons(previous, fingerprint, reference_files, full_refresh)
    if not tables_exist:
        reasons.append(f"{silver_table} does not exist")
    if reasons:
        return RebuildPlan(full=True, reasons=tuple(reasons), weather_changed=True)
    return replace(
        changed_months(previous.get("files", {}), files_now, new_file_months),
        weather_changed=previous.get("weather_files") != weather_files,
    )


def changed_months(
    old_files: Mapping[str, list[list[int]]], files_now: set[str], new_file_months: Mapping[str, set[Month]]
) -> RebuildPlan:
    """The months of the new, changed and removed bronze files, and why (an incremental plan)."""
    new = files_now - set(old_files)
    removed = set(old_files) - files_now
    changed_paths = {path_of(f) for f in new} & {path_of(f) for f in removed}
    why: dict[Month, set[str]] = {}

    def label(kind: str, f: str) -> str:
        return f"{'changed' if path_of(f) in changed_paths else kind} file {path_of(f)}"

    for f in removed:
        for m in old_files[f]:
            why.setdefault((int(m[0]), int(m[1])), set()).add(label("removed", f))
    for f in new:
        for m in new_file_months.get(f, set()):
            why.setdefault(m, set()).add(label("new", f))
    return RebuildPlan(
        full=False,
        months={m: tuple(sorted(r)) for m, r in sorted(why.items())},
        new_files=frozenset({path_of(f) for f in new} - changed_paths),
        changed_files=frozenset(changed_paths),
        removed_files=frozenset({path_of(f) for f in removed} - changed_paths),
    )


def next_file_state(
    old: Mapping[str, list[list[int]]],
    files_now: set[str],
    months: set[Month] | None,
    processed: Mapping[str, set[Month]],
) -> dict[str, list[list[int]]]:
    """Bronze file -> the months of its rows, after a run that rebuilt ``months`` (None: all).

    A file without rows is kept with no months, so it is not new next time.
    """
    state = {}
    for f in files_now | set(processed):
        kept = {tuple(m) for m in old.get(f, [])} if f in files_now else set()
        if months is not None:
            kept -= months
        state[f] = sorted(list(m) for m in kept | processed.get(f, set()))
    return state


# --- backfill ------------------------------------------------------------------------------
def backfill_range(start: str | None, end: str | None, full_refresh: bool) -> DateRange | None:
    """The ``--start``/``--end`` of cleaning.py, checked (one sentence when wrong)."""
    date_range = parse_range(start, end)
    if date_range is not None and full_refresh:
        raise PipelineError(
            "--full-refresh rebuilds every month and takes no --start/--end; give one or the other."
        )
    return date_range


@dataclass(frozen=True)
class BackfillPlan:
    """A backfill rebuilds ``months`` whatever changed; the rest waits for the next normal run."""

    months: frozenset[Month]
    # Changed bronze months outside the range, and why: the next normal run rebuilds them.
    pending: Mapping[Month, tuple[str, ...]] = field(default_factory=dict)
    # Why the next normal run rebuilds everything (a changed config or airports), if it does.
    pending_full: tuple[str, ...] = ()


def plan_backfill(
    previous: Mapping[str, Any],
    files_now: set[str],
    new_file_months: Mapping[str, set[Month]],
    months: set[Month],
    fingerprint: str,
    reference_files: list[str],
) -> BackfillPlan:
    """What a backfill of ``months`` leaves pending, from the state of a previous normal run."""
    changes = changed_months(previous.get("files", {}), files_now, new_file_months)
    return BackfillPlan(
        months=frozenset(months),
        pending={m: why for m, why in changes.months.items() if m not in months},
        pending_full=tuple(full_reasons(previous, fingerprint, reference_files, False)),
    )


def backfill_file_state(
    old: Mapping[str, list[list[int]]],
    files_now: set[str],
    months: set[Month],
    processed: Mapping[str, set[Month]],
    new_file_months: Mapping[str, set[Month]],
) -> dict[str, list[list[int]]]:
    """The state's files after a backfill of ``months``: only what it rebuilt counts as processed.

    A known file gets its in-range months from this run; a new file is recorded only when all
    its rows lie in the range (else it stays new, so its other months are rebuilt next time);
    a removed file is forgotten only when all its months were rebuilt.
    """
    state: dict[str, list[list[int]]] = {}
    for f, held_months in old.items():
        held = {(int(m[0]), int(m[1])) for m in held_months}
        if f in files_now:
            state[f] = sorted(list(m) for m in (held - months) | processed.get(f, set()))
        elif not held <= months:
            state[f] = [list(m) for m in held_months]
    for f in files_now - set(old):
        if new_file_months.get(f, set()) <= months:
            state[f] = sorted(list(m) for m in processed.get(f, set()))
    return state
