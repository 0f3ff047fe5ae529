"""Load and validate conf/pipeline.yaml into frozen, typed settings.

The YAML is read once into :class:`Settings`; every key is declared below with its type, a
key the file lacks or a key the models do not know stops the run with one sentence naming
the key and the file. ``${VAR}`` and ``${VAR:-default}`` are read from the environment, then
from ``.env`` at the project root. Data paths resolve against ``project.root``; program
files (the log4j config, jars) against the installation, so a data root elsewhere
(``PIPELINE_ROOT``) still finds the project's own files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

import yaml
from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
)

from flightpipe.core.errors import PipelineError

# The installation: where the package, conf/ and jars/ live (program files).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` pairs of a .env file (python-dotenv rules: quotes, ``export``, comments)."""
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def interpolate(text: str, env: Mapping[str, str], where: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in ``text``."""

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value not in (None, ""):
            return value
        if default is not None:
            return default
        raise PipelineError(
            f"{where} uses ${{{name}}} but {name} is not set in the environment "
            f"nor in .env; set it or give a default with ${{{name}:-value}}."
        )

    return _VAR.sub(repl, text)


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


class Settings(Section):
    """The whole config, as loaded from ``config_file``."""

    project: Project
    spark: Spark
    metastore: Metastore
    catalog: Catalog
    paths: Paths
    ingest: Ingest
    gold: Gold
    mariadb: MariaDB
    streaming: Streaming
    cleaning: Cleaning
    quality: Quality
    lineage: Lineage
    ml: Ml
    config_file: str = ""
    install_root: str = str(PACKAGE_ROOT)


# --- loading -------------------------------------------------------------------------------


def _interpolate_all(value: Any, env: Mapping[str, str], key: str, file: str) -> Any:
    if isinstance(value, str):
        return interpolate(value, env, f"config key '{key}' in {file}")
    if isinstance(value, dict):
        return {k: _interpolate_all(v, env, f"{key}.{k}" if key else str(k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_all(v, env, key, file) for v in value]
    return value


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        model = field.annotation
        args = getattr(model, "__args__", ())
        if args and not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _sentence(err: dict[str, Any], file: str) -> str:
    loc = err["loc"]
    key = ".".join(str(p) for p in loc if not isinstance(p, int))
    entry = next((p for p in loc if isinstance(p, int)), None)
    where = f" (entry {entry + 1})" if entry is not None else ""
    kind, given = err["type"], err.get("input")
    if kind == "missing":
        return f"config key '{key}' is missing from {file}."
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = ", ".join(sorted(parent.model_fields)) if parent else ""
        return f"config key '{key}' in {file} is not a known key (mistyped?); known keys here: {known}."
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"config key '{key}' in {file} must be a section (a map of keys)."
    if kind.startswith(("int_", "float_")):
        return f"config key '{key}' in {file} must be a number{where}, not {given!r}."
    if kind.startswith("bool_"):
        return f"config key '{key}' in {file} must be true or false, not {given!r}."
    if kind in ("list_type", "tuple_type"):
        return f"config key '{key}' in {file} must be a list."
    if kind == "string_type":
        return f"config key '{key}' in {file} must be a string, not {given!r}."
    message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"config key '{key}' in {file}{where} {message}."


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Read, interpolate and validate the YAML config at ``path``."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise PipelineError(f"config file {file} does not exist; pass --config PATH.")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PipelineError(f"config file {file} is not valid YAML{where}.") from exc
    if not isinstance(raw, dict):
        raise PipelineError(f"config file {file} must hold a map of sections.")

    env = dict(read_dotenv(PACKAGE_ROOT / ".env"))
    env.update(os.environ if environ is None else environ)
    project = raw.get("project") if isinstance(raw.get("project"), dict) else {}
    root_value = interpolate(str(project.get("root") or ""), env, f"config key 'project.root' in {file}")
    root = Path(_resolve(root_value, PACKAGE_ROOT)) if root_value else PACKAGE_ROOT
    if root != PACKAGE_ROOT:
        # A data root of its own may carry its own .env.
        env = {**read_dotenv(root / ".env"), **env}

    data = _interpolate_all(raw, env, "", str(file))
    for reserved in ("config_file", "install_root"):
        if reserved in data:
            raise PipelineError(f"config key '{reserved}' in {file} is not a known key (mistyped?).")
    if isinstance(data.get("project"), dict):
        data["project"] = {**data["project"], "root": str(root)}
    data["config_file"] = str(file)
    try:
        return Settings.model_validate(data, context={"root": root, "install": PACKAGE_ROOT})
    except ValidationError as exc:
        raise PipelineError(_sentence(exc.errors()[0], str(file))) from None


def default_config_path() -> str:
    """The config used when ``--config`` is not given."""
    return os.environ.get("PIPELINE_CONFIG") or str(PACKAGE_ROOT / "conf" / "pipeline.yaml")
