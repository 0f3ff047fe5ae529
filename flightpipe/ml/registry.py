"""Saved model versions: ``models/<name>/<version>/`` folders and the ``latest.json`` pointer.

Every file goes through :mod:`flightpipe.core.storage`, so the models folder may be a local
path or a URI; the MLlib model itself is written and read by Spark.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pyspark.ml import PipelineModel

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError

LATEST_FILE = "latest.json"


def new_version() -> str:
    """A sortable version name: the UTC time of training."""
    return datetime.now(timezone.utc).strftime("v%Y%m%dT%H%M%S%fZ")


def version_folder(models_path: str, name: str, version: str) -> str:
    """``models/<name>/<version>``."""
    return storage.join(models_path, name, version)


def save_version(model: PipelineModel, folder: str, metrics: dict, weights: list) -> None:
    """models/<name>/<version>/: the MLlib model, metrics.json and feature_weights.json."""
    folder = str(folder)
    storage.makedirs(folder)
    model.write().overwrite().save(storage.join(folder, "model"))
    storage.write_json(storage.join(folder, "metrics.json"), metrics)
    storage.write_json(storage.join(folder, "feature_weights.json"), weights)


def promote(models_path: str, name: str, version: str, metrics: dict) -> None:
    """Point models/latest.json at this version (written last, atomically)."""
    storage.write_json(
        storage.join(models_path, LATEST_FILE),
        {"model_name": name, "model_version": version, "path": f"{name}/{version}/model", "metrics": metrics},
    )


def latest_pointer(models_path: str) -> tuple[dict[str, Any], str]:
    """The ``latest.json`` record and the model folder it points at, both checked."""
    pointer = storage.join(models_path, LATEST_FILE)
    text = storage.read_text(pointer)
    if text is None:
        raise PipelineError(
            f"no trained model in {models_path} (no {LATEST_FILE}); run ML.py without --score first."
        )
    try:
        info = json.loads(text)
        path = storage.join(models_path, info["path"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise PipelineError(
            f"{pointer} is damaged (not the JSON record ML.py writes); run ML.py to train again."
        ) from None
    if not storage.is_dir(path):
        raise PipelineError(f"{pointer} points at {path}, which does not exist; run ML.py to train again.")
    return info, path


def load_latest(models_path: str) -> tuple[PipelineModel, dict[str, Any]]:
    """The promoted model and its pointer record; a plain error when none was trained yet."""
    info, path = latest_pointer(models_path)
    return PipelineModel.load(path), info
