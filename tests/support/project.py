"""A project root of a test's own: the repository's config rewritten for local[2] and a temporary root."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO / "conf" / "pipeline.yaml"
PYTHON = sys.executable


def merge(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(root: Path, overrides: dict | None = None) -> Path:
    """Write ``root/conf/pipeline.yaml``: the project's config rooted at ``root``."""
    raw = yaml.safe_load(BASE_CONFIG.read_text())
    raw = merge(
        raw,
        {
            "project": {"root": str(root)},
            "spark": {
                "master": "local[2]",
                "shuffle_partitions": 2,
                "driver_memory": "2g",
                "log4j_config": str(REPO / "conf" / "log4j2.properties"),
                "jars": [str(REPO / "jars" / "mariadb-java-client.jar")],
                "extra_conf": {"spark.ui.enabled": "false"},
            },
        },
    )
    raw = merge(raw, overrides or {})
    path = root / "conf" / "pipeline.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
