"""The config's sections and field types: frozen pydantic models, every key required.

:mod:`flightpipe.core.settings` assembles them into :class:`~flightpipe.core.settings.Settings`
and loads the YAML; a stage takes the sections (or the values) it needs from there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo


def _resolve(value: str, root: Path) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (root / path))


# --- field types ---------------------------------------------------------------------------


def _text(value: Any) -> Any:
    return "" if value is None else value


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("", "off"):
        return False
    if isinstance(value, str) and value.strip().lower() == "on":
        return True
    return value


def _items(value: Any) -> Any:
    return [] if value is None else value


def _data_path(value: str, info: ValidationInfo) -> str:
    if value == "":
        raise ValueError("must be a path")
    from flightpipe.core.storage import is_uri

    if is_uri(value) or not info.context:
        return value
    return _resolve(value, info.context["root"])


def _program_path(value: str, info: ValidationInfo) -> str:
    if value == "":
        raise ValueError("must be a path")
    return _resolve(value, info.context["install"]) if info.context else value


def _frozen_map(value: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]
DataPath = Annotated[str, BeforeValidator(_text), AfterValidator(_data_path)]
ProgramPath = Annotated[str, BeforeValidator(_text), AfterValidator(_program_path)]
DataPaths = Annotated[tuple[DataPath, ...], BeforeValidator(_items)]
ProgramPaths = Annotated[tuple[ProgramPath, ...], BeforeValidator(_items)]
Texts = Annotated[tuple[str, ...], BeforeValidator(_items)]
Floats = Annotated[tuple[float, ...], BeforeValidator(_items)]
Ints = Annotated[tuple[int, ...], BeforeValidator(_items)]
TextMap = Annotated[
    dict[str, str], BeforeValidator(lambda v: {} if v is None else v), AfterValidator(_frozen_map)
]


class Section(BaseModel):
    """A config section: frozen, every key required, no key it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class Project(Section):
    root: Text
    name: Text


class Spark(Section):
    master: Text
    app_name: Text
    shuffle_partitions: int
    driver_memory: Text
    off_heap_memory: Text
    log4j_config: ProgramPath
    jars: ProgramPaths
    extra_conf: TextMap


class Metastore(Section):
    mode: Text
    jdbc_url: Text
    jdbc_driver: Text
    user: Text
    password: Text


class Catalog(Section):
    silver_database: Annotated[str, AfterValidator(lambda v: _identifier(v))]


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"must be a database name of letters, digits and _, not {value!r}")
    return value.lower()


class Paths(Section):
    bronze: DataPath
    warehouse: DataPath
    metastore_db: DataPath
    landing: DataPath
    checkpoints: DataPath
    models: DataPath
    reports: DataPath
    var: DataPath
    logs: DataPath
    cache: DataPath


class WeatherFile(Section):
    """One Open-Meteo file; ``airport`` empty when the file name starts with the code."""

    path: DataPath
    airport: Annotated[str, BeforeValidator(lambda v: str(v or "").upper())] = ""


def _weather_files(value: Any) -> Any:
    value = _items(value)
    if isinstance(value, list):
        return [{"path": v} if isinstance(v, str) else v for v in value]
    return value


class OpenMeteoApi(Section):
    enabled: Flag
    base_url: Text
    airports: Texts
    start_date: Text
    end_date: Text
    hourly: Texts
    retries: int
    backoff_seconds: float
    timeout_seconds: float


# What ingest does with a file column its layout does not list (see flightpipe/bronze/drift.py).
SchemaDrift = Literal["fail", "add", "rescue"]


def _schema_drift(value: Any) -> Any:
    choices = get_args(SchemaDrift)
    word = value.strip().lower() if isinstance(value, str) else value
    if word not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
    return word


class Ingest(Section):
    embedded: Flag
    bts_files: DataPaths
    dataexpo_files: DataPaths
    openmeteo_files: Annotated[tuple[WeatherFile, ...], BeforeValidator(_weather_files)]
    openmeteo_api: OpenMeteoApi
    schema_drift: Annotated[SchemaDrift, BeforeValidator(_schema_drift)]
    arrow_csv: Flag


class Gold(Section):
    host: Text
    port: int
    database: Text
    user: Text
    password: Text
    batch_size: int
    connect_timeout_seconds: int
    report_top_routes: int


class MariaDB(Section):
    local: Flag
    server_binary: Text
    install_db_binary: Text
    data_dir: DataPath
    socket: DataPath
    pid_file: DataPath
    error_log: DataPath
    start_timeout_seconds: int
    extra_args: Texts


class Streaming(Section):
    format: Text
    trigger_seconds: float
    max_files_per_trigger: int
    available_now_max_files: int
    max_file_age: Text


class Cleaning(Section):
    source_start_date: Text
    source_end_date: Text
    min_delay_minutes: float
    max_delay_minutes: float
    rule_actions: TextMap
    weather_source_priority: Texts


# A dataset check's action: warn (report, go on) or fail (stop, nothing written).
CheckAction = Literal["warn", "fail"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> Any:
    """'36h', '2d', '90m' -> seconds; empty -> None (not checked)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    found = _DURATION.match(str(value))
    if not found:
        raise ValueError(f"must be a duration such as 90m, 36h or 2d (or empty), not {value!r}")
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


Duration = Annotated[float | None, BeforeValidator(_duration)]


class Freshness(Section):
    warn_after: Duration
    error_after: Duration


class FreshnessSources(Section):
    """Thresholds per source: batch flight files, the streaming landing, weather."""

    bts: Freshness
    streaming: Freshness
    weather: Freshness


class QualityChecks(Section):
    reconciliation: CheckAction
    referential_airports: CheckAction
    referential_carriers: CheckAction
    weather_coverage: CheckAction
    gold_totals: CheckAction


class Quality(Section):
    checks: QualityChecks
    min_weather_coverage: float
    freshness: FreshnessSources


class Lineage(Section):
    transport: Literal["file", "http", "off"]
    dir: DataPath
    url: Text
    namespace: Text


class Logistic(Section):
    max_iter: int
    reg_params: Floats
    elastic_net_params: Floats


class Gbt(Section):
    max_iter: int
    max_depths: Ints
    step_sizes: Floats
    max_bins: int
    subsampling_rate: float
    min_instances_per_node: int


class Ml(Section):
    train_start: Text
    train_end: Text
    test_start: Text
    test_end: Text
    models: Texts
    cutoff_minutes: int
    threshold: float
    seed: int
    train_ratio: float
    tuning_sample_fraction: float
    parallelism: int
    logistic: Logistic
    gbt: Gbt
