"""What each feature group and learner setting adds: the hold-out AUC-ROC with one thing changed.

Every variant trains on the same training rows and is measured on the same hold-out as
``ML.py``: the full model as configured, then the same model without one feature group, with
one learner setting changed (``SETTING_CHANGES``), with the settings it had before
(``PREVIOUS_SETTINGS``) and without class weights. Each variant
fits the first value of every grid of the ``ml`` section directly (no tuning), so the
differences come from the change alone. ``scripts/ml_report.py`` runs it on silver and writes
``reports/ml_ablation.json`` and ``.md``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.core import runlog, storage
from flightpipe.core.sections import Ml
from flightpipe.core.settings import Settings
from flightpipe.ml import features as ft
from flightpipe.ml.evaluate import evaluate, with_probability
from flightpipe.ml.inputs import SilverStore
from flightpipe.ml.split import WEIGHT, split_features
from flightpipe.ml.stage import model_names, periods
from flightpipe.ml.train import tune_and_fit

log = logging.getLogger("flightpipe.models")

FULL = "full model"


@dataclass(frozen=True)
class Variant:
    """One training run of the report: a model, the group left out or the settings changed."""

    model: str
    name: str = FULL
    drop_group: str | None = None
    # Overrides of the ml section's logistic / gbt keys (grids as one-value tuples).
    settings: dict[str, Any] = field(default_factory=dict)
    class_weights: bool = True

    @property
    def kind(self) -> str:
        """``full``, ``group`` or ``setting``."""
        if self.drop_group:
            return "group"
        return "setting" if self.settings or not self.class_weights else "full"


# The learner settings this report varies, one at a time: (name, key of the ml section, the
# other value tried). A setting already at that value in the config is skipped.
SETTING_CHANGES: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "gbt": (
        ("maxDepth", "max_depths", (6,)),
        ("maxIter", "max_iter", 25),
        ("stepSize", "step_sizes", (0.2,)),
        ("minInstancesPerNode", "min_instances_per_node", 1),
    ),
    "logistic_regression": (("regParam", "reg_params", (0.0,)),),
}
# The settings of the 0.738 GBT, before this report: measured together on today's features.
PREVIOUS_SETTINGS: dict[str, dict[str, Any]] = {
    "gbt": {"max_depths": (5,), "max_iter": 25, "step_sizes": (0.2,), "min_instances_per_node": 1},
}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) else value


def setting_variants(model: str, ml: Ml) -> list[Variant]:
    """One variant per setting of ``SETTING_CHANGES`` that differs from the config, then the previous ones."""
    section = getattr(ml, "logistic" if model == "logistic_regression" else "gbt")
    out = [
        Variant(model, f"{name} {_first(other)} (not {_first(getattr(section, key))})", settings={key: other})
        for name, key, other in SETTING_CHANGES.get(model, ())
        if _first(getattr(section, key)) != _first(other)
    ]
    previous = PREVIOUS_SETTINGS.get(model, {})
    if any(_first(getattr(section, k)) != _first(v) for k, v in previous.items()):
        names = {key: name for name, key, _ in SETTING_CHANGES[model]}
        text = ", ".join(f"{names.get(k, k)} {_first(v)}" for k, v in previous.items())
        out.append(Variant(model, f"previous settings ({text})", settings=dict(previous)))
    return out


def variants(models: list[str], ml: Ml, groups: tuple[str, ...] = ft.GROUPS) -> list[Variant]:
    """For each model: the full one, one per feature group left out, one per learner setting."""
    out: list[Variant] = []
    for model in models:
        out.append(Variant(model))
        out.extend(Variant(model, f"without {g}", drop_group=g) for g in groups)
        out.extend(setting_variants(model, ml))
        out.append(Variant(model, "no class weights", class_weights=False))
    return out


def first_values(ml: Ml) -> Ml:
    """``ml`` with every grid cut to its first value: one setting, fitted without tuning."""
    logistic = ml.logistic.model_copy(
        update={
            "reg_params": ml.logistic.reg_params[:1],
            "elastic_net_params": ml.logistic.elastic_net_params[:1],
        }
    )
    gbt = ml.gbt.model_copy(update={"max_depths": ml.gbt.max_depths[:1], "step_sizes": ml.gbt.step_sizes[:1]})
    return ml.model_copy(update={"logistic": logistic, "gbt": gbt})


def variant_settings(ml: Ml, variant: Variant) -> Ml:
    """The ``ml`` section a variant trains with: first grid values, then its overrides."""
    ml = first_values(ml)
    if not variant.settings:
        return ml
    section = "logistic" if variant.model == "logistic_regression" else "gbt"
    changed = getattr(ml, section).model_copy(update=variant.settings)
    return ml.model_copy(update={section: changed})


def variant_features(variant: Variant) -> tuple[ft.Feature, ...]:
    """The features a variant reads: all but its dropped group."""
    return tuple(f for f in ft.FEATURES if f.group != variant.drop_group)


def with_unit_weights(df: DataFrame) -> DataFrame:
    """Every training row weighs the same (the class balance as it is)."""
    return df.withColumn(WEIGHT, F.lit(1.0))


def run_variant(train: DataFrame, test: DataFrame, ml: Ml, variant: Variant) -> dict[str, Any]:
    """Train one variant on ``train`` (class-weighted rows), measure it on ``test``."""
    rows = train if variant.class_weights else train.transform(with_unit_weights)
    started = time.monotonic()
    model, params = tune_and_fit(
        variant.model, rows, variant_settings(ml, variant), variant_features(variant)
    )
    seconds = time.monotonic() - started
    metrics = evaluate(test.transform(with_probability(model, float(ml.threshold))), float(ml.threshold))
    log.info(
        "%s, %s: hold-out AUC-ROC %.4f (%.0fs)", variant.model, variant.name, metrics["auc_roc"], seconds
    )
    return {
        "model": variant.model,
        "variant": variant.name,
        "kind": variant.kind,
        "auc_roc": metrics["auc_roc"],
        "auc_pr": metrics["auc_pr"],
        "fit_seconds": round(seconds, 1),
        "params": {k: v for k, v in sorted(params.items())},
        "features": len(variant_features(variant)),
    }


def run_ablation(train: DataFrame, test: DataFrame, ml: Ml, todo: list[Variant]) -> list[dict[str, Any]]:
    """Every variant of ``todo`` trained and measured, with its AUC-ROC delta against its full model."""
    return with_deltas([run_variant(train, test, ml, v) for v in todo])


def with_deltas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows plus ``delta_vs_full``: AUC-ROC minus that of the same model's full variant (None without one)."""
    full = {r["model"]: r["auc_roc"] for r in rows if r["kind"] == "full"}
    return [
        {**r, "delta_vs_full": r["auc_roc"] - full[r["model"]] if r["model"] in full else None} for r in rows
    ]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: model, variant, hold-out AUC-ROC, delta vs full, AUC-PR, fit seconds."""
    lines = [
        "| model | variant | AUC-ROC | Δ vs full | AUC-PR | fit s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        delta = "" if r["kind"] == "full" or r["delta_vs_full"] is None else f"{r['delta_vs_full']:+.4f}"
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['auc_roc']:.4f} | {delta} | {r['auc_pr']:.4f} | "
            f"{r['fit_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def report_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The report page: what was measured, then the table."""
    return (
        "# ML: what each feature group and learner setting adds\n\n"
        f"Trained on {meta['train_start']}..{meta['train_end']} ({meta['rows_train']} labelled flights), "
        f"measured on the hold-out {meta['test_start']}..{meta['test_end']} ({meta['rows_test']} flights); "
        f"{meta['generated_at']}. Each row changes one thing against its model's full variant "
        "(first value of every grid, no tuning).\n\n" + markdown_table(rows)
    )


def ablation_report(
    spark: SparkSession, cfg: Settings, models: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run every variant on silver with the config's periods; write ml_ablation.json and .md to the reports folder."""
    ml = cfg.ml
    bounds = periods(ml, cfg.config_file)
    names = models or model_names(ml, cfg.config_file)
    silver = SilverStore(cfg.catalog.silver_database, cfg.paths.warehouse, cfg.paths.metastore_db)
    split = split_features(spark, silver, bounds, ml)
    try:
        rows = run_ablation(split.train, split.test, ml, variants(names, ml))
    finally:
        split.release()
    meta = {
        **{k: v.isoformat() for k, v in bounds._asdict().items()},
        "rows_train": split.counts_train["labelled"],
        "rows_test": split.counts_test["labelled"],
        "generated_at": runlog.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
    }
    storage.makedirs(cfg.paths.reports)
    storage.write_json(storage.join(cfg.paths.reports, "ml_ablation.json"), {**meta, "rows": rows})
    storage.write_text(storage.join(cfg.paths.reports, "ml_ablation.md"), report_markdown(rows, meta))
    return rows
