"""Training, saving, reloading and scoring on three real days of silver; every failure the stage names."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from flightpipe.core import runlog
from flightpipe.core.errors import PipelineError
from flightpipe.ml import features as ft
from flightpipe.ml import registry
from flightpipe.ml.evaluate import feature_weights, with_probability
from flightpipe.ml.split import class_weights, with_class_weight
from flightpipe.ml.train import tune_and_fit
from tests.support.ml import SMALL_ML, write_silver
from tests.support.project import PYTHON, REPO


def test_train_writes_metrics_models_and_latest_then_scores_idempotently(
    spark, silver_days, nyc_days, ml_stage, database
):
    cfg = silver_days
    summary = ml_stage(cfg)

    flights = nyc_days[0]
    train = flights.where(F.col("flight_date") <= date(2013, 1, 2))
    test = flights.where(F.col("flight_date") == date(2013, 1, 3))
    labelled = "is_delayed_15 IS NOT NULL"
    assert summary["rows_train"] == train.where(labelled).count()
    assert summary["rows_test"] == test.where(labelled).count()
    assert summary["excluded_cancelled"] == flights.where("is_cancelled").count()
    assert summary["excluded_diverted"] == flights.where("is_diverted").count()

    metrics = spark.table(f"{database}.model_metrics").collect()
    assert sorted(r["model_name"] for r in metrics) == ["gbt", "logistic_regression"]
    assert {r["run_id"] for r in metrics} == {runlog.current_run_id()}
    assert [r["is_best"] for r in metrics].count(True) == 1
    for r in metrics:
        assert 0.0 <= r["auc_roc"] <= 1.0 and 0.0 <= r["auc_pr"] <= 1.0 and r["log_loss"] > 0
        assert r["rows_test"] == summary["rows_test"] and r["rows_train"] == summary["rows_train"]
        assert r["train_start"] == date(2013, 1, 1) and r["test_end"] == date(2013, 1, 3)
        folder = Path(cfg.paths.models) / r["model_name"] / r["model_version"]
        saved = json.loads((folder / "metrics.json").read_text())
        assert saved["auc_roc"] == pytest.approx(r["auc_roc"])
        assert saved["rows_test"] == r["rows_test"]
        weights = json.loads((folder / "feature_weights.json").read_text())
        assert len(weights) == 20
        assert (folder / "model" / "metadata").is_dir()
    best = next(r for r in metrics if r["is_best"])
    assert best["auc_roc"] == max(r["auc_roc"] for r in metrics)
    latest = json.loads((Path(cfg.paths.models) / "latest.json").read_text())
    assert (latest["model_name"], latest["model_version"]) == (best["model_name"], best["model_version"])

    runs = spark.table(f"{database}.pipeline_runs").where("stage = 'ml'").collect()
    assert [(r["status"], r["rows_out"]) for r in runs] == [("ok", 2)]

    # Scoring: every flight scheduled in the range once, with the promoted version.
    ml_stage(cfg, (date(2013, 1, 2), date(2013, 1, 3)))
    expected = flights.where(F.col("flight_date").between(date(2013, 1, 2), date(2013, 1, 3))).count()
    preds = spark.table(f"{database}.delay_predictions")
    assert preds.count() == expected
    assert preds.select("model_version").distinct().collect()[0][0] == best["model_version"]
    assert preds.where("probability < 0 OR probability > 1 OR predicted_label NOT IN (0, 1)").count() == 0
    key = ["flight_date", "carrier", "flight_number", "origin", "sched_dep_utc"]
    assert preds.select(*key).distinct().count() == expected
    first = preds.select(*key, "probability").localCheckpoint()

    # Re-scoring an overlapping range replaces those days and keeps the others, never doubles.
    ml_stage(cfg, (date(2013, 1, 3), date(2013, 1, 3)))
    again = spark.table(f"{database}.delay_predictions")
    assert again.count() == expected
    assert_df_equality(
        again.select(*key, "probability"),
        first,
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_column_order=True,
    )
    runs = spark.table(f"{database}.pipeline_runs").groupBy("stage").count().collect()
    assert {(r["stage"], r["count"]) for r in runs} == {("ml", 1), ("ml-score", 2)}


def test_saved_model_reloads_and_predicts_the_same(spark, make_config, labelled_features, tmp_path):
    feats = labelled_features
    grid = {**SMALL_ML["ml"], "gbt": {**SMALL_ML["ml"]["gbt"], "max_depths": [2, 3]}}
    settings = make_config({"ml": grid})[0].ml
    train = feats.where(F.col("flight_date") <= date(2013, 1, 2))
    neg_w, pos_w, _, _ = class_weights(train)
    model, best = tune_and_fit("gbt", train.transform(with_class_weight(neg_w, pos_w)), settings)
    assert best["maxDepth"] in (2, 3)
    folder = tmp_path / "gbt" / "v1"
    registry.save_version(model, str(folder), {"auc_roc": 0.5}, feature_weights(model, train))
    reloaded = PipelineModel.load(str(folder / "model"))

    test = feats.where(F.col("flight_date") == date(2013, 1, 3))
    cols = [*ft.FLIGHT_KEY, "p_delayed", "predicted_label"]
    direct = test.transform(with_probability(model, 0.5)).select(*cols)
    again = test.transform(with_probability(reloaded, 0.5)).select(*cols)
    assert direct.count() == test.count() > 500
    assert_df_equality(direct, again, ignore_row_order=True, ignore_nullable=True)


def test_logistic_coefficients_name_one_hot_levels(spark, ml_cfg, labelled_features):
    train = labelled_features.where(F.col("flight_date") <= date(2013, 1, 2))
    neg_w, pos_w, neg, pos = class_weights(train)
    assert neg_w * neg == pytest.approx(pos_w * pos)  # both classes weigh the same in total
    model, _ = tune_and_fit(
        "logistic_regression", train.transform(with_class_weight(neg_w, pos_w)), ml_cfg.ml
    )
    weights = feature_weights(model, train)
    assert len(weights) == 20
    assert all(set(w) == {"feature", "coefficient"} for w in weights)
    names = [w["feature"] for w in weights]
    assert len(set(names)) == 20 and not any(n.startswith("slot_") for n in names)
    coefficients = sorted(abs(c) for c in model.stages[-1].coefficients.toArray())
    assert abs(weights[0]["coefficient"]) == pytest.approx(coefficients[-1], abs=1e-6)
    assert abs(weights[-1]["coefficient"]) == pytest.approx(coefficients[-20], abs=1e-6)


# --- failures ------------------------------------------------------------------------------------


def test_missing_silver_is_one_sentence(spark, ml_cfg, clean_silver, ml_stage, database):
    # The silver database is there (cleaning made it) but holds no flights table.
    spark.sql(f"CREATE DATABASE {database}")
    with pytest.raises(
        PipelineError, match=rf"^table {database}\.flights does not exist .* run cleaning\.py first\.$"
    ):
        ml_stage(ml_cfg)
    record = spark.table(f"{database}.pipeline_runs").where("stage = 'ml'").first()
    assert record["status"] == "failed" and "does not exist" in record["error"]


def test_empty_silver_flights(spark, ml_cfg, nyc_days, clean_silver, ml_stage, database):
    write_silver(spark, ml_cfg, nyc_days[0].limit(0), nyc_days[1])
    with pytest.raises(
        PipelineError, match=rf"^table {database}\.flights is empty; run ingest\.py and cleaning\.py"
    ):
        ml_stage(ml_cfg)


def test_training_period_without_rows(spark, make_config, nyc_days, clean_silver, ml_stage, database):
    cfg, _ = make_config({"ml": {**SMALL_ML["ml"], "train_start": "2012-06-01", "train_end": "2012-06-30"}})
    write_silver(spark, cfg, *nyc_days)
    with pytest.raises(
        PipelineError, match=r"^no flight with a known arrival in the training period 2012-06-01"
    ):
        ml_stage(cfg)
    assert not (Path(cfg.paths.models) / "latest.json").exists()
    assert not spark.catalog.tableExists(f"{database}.model_metrics")


def test_one_class_only(spark, ml_cfg, nyc_days, clean_silver, ml_stage):
    flights, weather = nyc_days
    on_time = flights.where("is_delayed_15 = false OR is_delayed_15 IS NULL")
    write_silver(spark, ml_cfg, on_time, weather)
    with pytest.raises(
        PipelineError, match=r"^every one of the \d+ training flights is on time, so no model"
    ):
        ml_stage(ml_cfg)


def test_test_period_with_one_class_only(spark, ml_cfg, nyc_days, clean_silver, ml_stage):
    flights, weather = nyc_days
    late_on_jan3 = (F.col("flight_date") == date(2013, 1, 3)) & F.col("is_delayed_15")
    write_silver(spark, ml_cfg, flights.where(~F.coalesce(late_on_jan3, F.lit(False))), weather)
    with pytest.raises(
        PipelineError, match=r"^the test period 2013-01-03\.\.2013-01-03 holds only on-time flights"
    ):
        ml_stage(ml_cfg)


def test_scoring_without_a_trained_model(spark, silver_days, ml_stage):
    with pytest.raises(PipelineError, match=r"^no trained model in .*; run ML\.py without --score first\.$"):
        ml_stage(silver_days, (date(2013, 1, 3), date(2013, 1, 3)))


def test_bad_periods_in_config(spark, make_config, clean_silver, ml_stage):
    cfg, _ = make_config({"ml": {**SMALL_ML["ml"], "test_start": "2013-01-02"}})
    with pytest.raises(PipelineError, match=r"train_start <= train_end < test_start <= test_end"):
        ml_stage(cfg)


def test_empty_grid_in_config(spark, make_config, clean_silver, ml_stage):
    cfg, _ = make_config({"ml": {**SMALL_ML["ml"], "gbt": {**SMALL_ML["ml"]["gbt"], "step_sizes": []}}})
    with pytest.raises(
        PipelineError, match=r"^config key 'ml\.gbt\.step_sizes' in .* must list at least one"
    ):
        ml_stage(cfg)


def test_cli_exits_non_zero_with_one_line(make_config, database):
    """ML.py through its own process: a missing silver is one line on stderr and exit code 1."""
    _, path = make_config(SMALL_ML)
    proc = subprocess.run(
        [PYTHON, str(REPO / "ML.py"), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ml: error:")]
    assert errors == [
        f"ml: error: table {database}.flights does not exist in the Hive metastore {path.parent.parent}/metastore_db; "
        "run cleaning.py first."
    ]
    assert "Traceback" not in proc.stderr


def test_cli_rejects_score_without_range(make_config):
    _, path = make_config(SMALL_ML)
    proc = subprocess.run(
        [PYTHON, str(REPO / "ML.py"), "--config", str(path), "--score"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--score needs --start and --end" in proc.stderr
