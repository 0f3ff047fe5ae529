"""The ablation report: its variants, a run on the small fixture, its table."""

from __future__ import annotations

from datetime import date

from flightpipe.ml import ablation
from flightpipe.ml import features as ft
from flightpipe.ml.ablation import Variant
from flightpipe.ml.split import Periods, class_weights, period_rows, with_class_weight

PERIODS = Periods(date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3), date(2013, 1, 3))


def test_variants_one_group_or_one_setting_at_a_time(cfg):
    todo = ablation.variants(["gbt", "logistic_regression"], cfg.ml)
    names = [(v.model, v.name, v.kind) for v in todo]
    for model in ("gbt", "logistic_regression"):
        assert (model, ablation.FULL, "full") in names
        assert {n for m, n, k in names if m == model and k == "group"} == {f"without {g}" for g in ft.GROUPS}
        assert (model, "no class weights", "setting") in names
    gbt_settings = [v for v in todo if v.model == "gbt" and v.settings]
    assert [v.name for v in gbt_settings] == [
        "maxDepth 6 (not 5)",
        "maxIter 25 (not 40)",
        "stepSize 0.2 (not 0.1)",
        "minInstancesPerNode 1 (not 50)",
        "previous settings (maxDepth 5, maxIter 25, stepSize 0.2, minInstancesPerNode 1)",
    ]
    before = ablation.variant_settings(cfg.ml, gbt_settings[-1]).gbt
    assert (before.max_depths, before.max_iter, before.step_sizes, before.min_instances_per_node) == (
        (5,),
        25,
        (0.2,),
        1,
    )
    assert [v.name for v in todo if v.model == "logistic_regression" and v.settings] == [
        "regParam 0.0 (not 0.01)"
    ]
    # Every group of the declared features is one the report removes.
    assert {f.group for f in ft.FEATURES} == set(ft.GROUPS)


def test_ablation_runs_on_the_small_fixture(ml_cfg, labelled_features):
    train, test = period_rows(labelled_features, PERIODS)
    train = train.transform(with_class_weight(*class_weights(train)[:2]))
    todo = [
        Variant("logistic_regression"),
        Variant("logistic_regression", "without weather", drop_group="weather", class_weights=False),
    ]
    rows = ablation.run_ablation(train, test, ml_cfg.ml, todo)

    assert [(r["variant"], r["kind"]) for r in rows] == [
        (ablation.FULL, "full"),
        ("without weather", "group"),
    ]
    full = rows[0]["auc_roc"]
    assert rows[0]["delta_vs_full"] == 0.0
    assert rows[1]["delta_vs_full"] == rows[1]["auc_roc"] - full
    assert all(0.0 <= r["auc_roc"] <= 1.0 for r in rows)
    weather = sum(f.group == "weather" for f in ft.FEATURES)
    assert [r["features"] for r in rows] == [len(ft.FEATURES), len(ft.FEATURES) - weather]
    assert rows[0]["params"] == {"elasticNetParam": 0.0, "regParam": 0.01}

    table = ablation.markdown_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith(f"| logistic_regression | {ablation.FULL} | {full:.4f} |  |")
    assert f"| {rows[1]['delta_vs_full']:+.4f} |" in table[3]
