"""The ML stage: check the ``ml`` config section, then train (default) or score a date range.

Only :func:`run_ml` reads the whole config; it hands the training and scoring code the values
they need (the silver database, the models folder, the periods, the ``ml`` section).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import SparkSession

from flightpipe.core import runlog
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Ml
from flightpipe.core.settings import Settings
from flightpipe.ml.inputs import SilverStore
from flightpipe.ml.score import score_flights
from flightpipe.ml.split import Periods
from flightpipe.ml.train import MODEL_NAMES, train_models

# The grids each model is tuned over: config key -> its values in the ``ml`` section.
_GRIDS = {
    "logistic_regression": {
        "ml.logistic.reg_params": lambda ml: ml.logistic.reg_params,
        "ml.logistic.elastic_net_params": lambda ml: ml.logistic.elastic_net_params,
    },
    "gbt": {
        "ml.gbt.max_depths": lambda ml: ml.gbt.max_depths,
        "ml.gbt.step_sizes": lambda ml: ml.gbt.step_sizes,
    },
}


def _date(ml: Ml, key: str, config_file: str) -> date:
    value = getattr(ml, key)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PipelineError(
            f"config key 'ml.{key}' in {config_file} must be a date YYYY-MM-DD, not {value!r}."
        ) from None


def periods(ml: Ml, config_file: str) -> Periods:
    """(train_start, train_end, test_start, test_end), checked: test strictly after train."""
    bounds = Periods(*(_date(ml, k, config_file) for k in Periods._fields))
    if not (bounds.train_start <= bounds.train_end < bounds.test_start <= bounds.test_end):
        raise PipelineError(
            f"the ml periods in {config_file} must satisfy train_start <= train_end < test_start <= "
            f"test_end; fix ml.train_* / ml.test_*."
        )
    return bounds


def model_names(ml: Ml, config_file: str) -> list[str]:
    """The models to train, as configured (at least one, each known)."""
    names = list(ml.models)
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown or not names:
        raise PipelineError(
            f"config key 'ml.models' in {config_file} must list some of {', '.join(MODEL_NAMES)}, "
            f"not {names!r}."
        )
    return names


def check_grids(ml: Ml, names: list[str], config_file: str) -> None:
    """Every grid of the models to train lists at least one value (the settings hold numbers)."""
    for name in names:
        for key, values in _GRIDS[name].items():
            if not values(ml):
                raise PipelineError(f"config key '{key}' in {config_file} must list at least one value.")


def stage_name(score_range: tuple[date, date] | None) -> str:
    """The run-log name of the stage: ``ml`` for training, ``ml-score`` for scoring."""
    return "ml" if score_range is None else "ml-score"


def run_ml(
    spark: SparkSession, cfg: Settings, record: runlog.StageRun, score_range: tuple[date, date] | None = None
) -> dict[str, Any]:
    """ML.py's one call: train (default) or score a date range, filling the run record."""
    silver = SilverStore(cfg.catalog.silver_database, cfg.paths.warehouse, cfg.paths.metastore_db)
    ml = cfg.ml
    if score_range is None:
        bounds = periods(ml, cfg.config_file)
        names = model_names(ml, cfg.config_file)
        check_grids(ml, names, cfg.config_file)
        return train_models(spark, silver, cfg.paths.models, bounds, names, ml, record)
    start, end = score_range
    return score_flights(
        spark, silver, cfg.paths.models, start, end, int(ml.cutoff_minutes), float(ml.threshold), record
    )
