"""Load and validate conf/pipeline.yaml into frozen, typed settings.

The YAML is read once into :class:`Settings`; every key is declared with its type in
:mod:`flightpipe.core.sections`, and a key the file lacks or a key the models do not know stops
the run with one sentence naming the key and the file. ``${VAR}`` and ``${VAR:-default}`` are
read from the environment, then from ``.env`` at the project root. Data paths resolve against
``project.root``; program files (the log4j config, jars) against the installation, so a data root
elsewhere (``PIPELINE_ROOT``) still finds the project's own files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ValidationError,
)

from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import (
    Catalog,
    Cleaning,
    Gold,
    Ingest,
    Lineage,
    MariaDB,
    Metastore,
    Ml,
    Paths,
    Project,
    Quality,
    Section,
    Spark,
    Streaming,
    _resolve,
)

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
