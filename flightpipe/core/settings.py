"""Load and validate conf/pipeline.yaml.

Every key is declared in ``SPEC`` with its type; a key the file lacks or a key the
spec does not know stops the run with one sentence naming the key and the file.
``${VAR}`` and ``${VAR:-default}`` are read from the environment, then from
``.env`` at the project root. Relative paths resolve against the project root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from flightpipe.core.errors import PipelineError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]

# Types: "str", "int", "float", "bool", "path" (resolved against the root),
# "paths" (list of paths or globs), "strs" (list of strings), "dict" (free map),
# "sources" (list of {path, airport?} maps). A nested dict is a section.
SPEC: dict[str, Any] = {
    "project": {"root": "str", "name": "str"},
    "spark": {
        "master": "str",
        "app_name": "str",
        "shuffle_partitions": "int",
        "driver_memory": "str",
        "off_heap_memory": "str",
        "log4j_config": "path",
        "jars": "paths",
        "extra_conf": "dict",
    },
    "metastore": {
        "mode": "str",
        "jdbc_url": "str",
        "jdbc_driver": "str",
        "user": "str",
        "password": "str",
    },
    "catalog": {"silver_database": "str"},
    "paths": {
        "bronze": "path",
        "warehouse": "path",
        "metastore_db": "path",
        "landing": "path",
        "checkpoints": "path",
        "models": "path",
        "reports": "path",
        "var": "path",
        "logs": "path",
        "cache": "path",
    },
    "ingest": {
        "embedded": "bool",
        "bts_files": "paths",
        "openmeteo_files": "sources",
        "openmeteo_api": {
            "enabled": "bool",
            "base_url": "str",
            "airports": "strs",
            "start_date": "str",
            "end_date": "str",
            "hourly": "strs",
            "retries": "int",
            "backoff_seconds": "float",
            "timeout_seconds": "float",
        },
    },
    "gold": {
        "host": "str",
        "port": "int",
        "database": "str",
        "user": "str",
        "password": "str",
        "batch_size": "int",
        "connect_timeout_seconds": "int",
        "report_top_routes": "int",
    },
    "mariadb": {
        "local": "bool",
        "server_binary": "str",
        "install_db_binary": "str",
        "data_dir": "path",
        "socket": "path",
        "pid_file": "path",
        "error_log": "path",
        "start_timeout_seconds": "int",
        "extra_args": "strs",
    },
    "streaming": {
        "format": "str",
        "trigger_seconds": "float",
        "max_files_per_trigger": "int",
        "available_now_max_files": "int",
        "max_file_age": "str",
    },
    "cleaning": {
        "source_start_date": "str",
        "source_end_date": "str",
        "min_delay_minutes": "float",
        "max_delay_minutes": "float",
        "rule_actions": "dict",
        "weather_source_priority": "strs",
    },
    "ml": {
        "train_start": "str",
        "train_end": "str",
        "test_start": "str",
        "test_end": "str",
        "models": "strs",
        "cutoff_minutes": "int",
        "threshold": "float",
        "seed": "int",
        "train_ratio": "float",
        "tuning_sample_fraction": "float",
        "parallelism": "int",
        "logistic": {"max_iter": "int", "reg_params": "strs", "elastic_net_params": "strs"},
        "gbt": {
            "max_iter": "int",
            "max_depths": "strs",
            "step_sizes": "strs",
            "max_bins": "int",
            "subsampling_rate": "float",
        },
    },
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Section(dict):
    """A config section: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def interpolate(text: str, env: dict[str, str], where: str) -> str:
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


def _check(spec: Any, value: Any, key: str, root: Path, env: dict[str, str], file: str) -> Any:
    def fail(what: str) -> PipelineError:
        return PipelineError(f"config key '{key}' in {file} {what}.")

    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise fail("must be a section (a map of keys)")
        unknown = sorted(set(value) - set(spec))
        if unknown:
            bad = f"{key}.{unknown[0]}" if key else unknown[0]
            raise PipelineError(
                f"config key '{bad}' in {file} is not a known key (mistyped?); "
                f"known keys here: {', '.join(sorted(spec))}."
            )
        out = Section()
        for name, sub in spec.items():
            child = f"{key}.{name}" if key else name
            if name not in value:
                raise PipelineError(f"config key '{child}' is missing from {file}.")
            out[name] = _check(sub, value[name], child, root, env, file)
        return out

    if isinstance(value, str):
        value = interpolate(value, env, f"config key '{key}' in {file}")
    if spec == "str":
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise fail("must be a string")
        return str(value)
    if spec in ("int", "float"):
        try:
            return int(value) if spec == "int" else float(value)
        except (TypeError, ValueError):
            raise fail(f"must be a number, not {value!r}") from None
    if spec == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1", "on"):
            return True
        if str(value).lower() in ("false", "no", "0", "off", ""):
            return False
        raise fail(f"must be true or false, not {value!r}")
    if spec == "path":
        if value in (None, ""):
            raise fail("must be a path")
        return _resolve(str(value), root)
    if spec in ("paths", "strs"):
        if value is None:
            return []
        if not isinstance(value, list):
            raise fail("must be a list")
        items = [interpolate(str(v), env, f"config key '{key}' in {file}") for v in value]
        return [_resolve(v, root) for v in items] if spec == "paths" else items
    if spec == "sources":
        if value is None:
            return []
        if not isinstance(value, list):
            raise fail("must be a list of {path, airport} entries")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                item = {"path": item}
            if not isinstance(item, dict) or "path" not in item:
                raise fail(f"entry {i + 1} must have a 'path'")
            extra = set(item) - {"path", "airport"}
            if extra:
                raise fail(f"entry {i + 1} has unknown key '{sorted(extra)[0]}'")
            path = interpolate(str(item["path"]), env, f"config key '{key}' in {file}")
            airport = str(item.get("airport") or "").upper()
            out.append(Section(path=_resolve(path, root), airport=airport))
        return out
    if spec == "dict":
        if value is None:
            return Section()
        if not isinstance(value, dict):
            raise fail("must be a map")
        return Section(
            {str(k): interpolate(str(v), env, f"config key '{key}.{k}' in {file}") for k, v in value.items()}
        )
    raise AssertionError(f"unknown spec type {spec!r}")


def load_config(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> Section:
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
        # A project root of its own may carry its own .env.
        env = {**read_dotenv(root / ".env"), **env}

    cfg = _check(SPEC, raw, "", root, env, str(file))
    cfg["project"]["root"] = str(root)
    cfg["config_file"] = str(file)
    return cfg


def default_config_path() -> str:
    """The config used when ``--config`` is not given."""
    return os.environ.get("PIPELINE_CONFIG") or str(PACKAGE_ROOT / "conf" / "pipeline.yaml")
